/*
 * A libvirt domain's virtio-mem device: its figures as libvirt gives them
 * (lv_vmem.c: boot memory from the XML, the device's sizes, the size-change
 * event, the balloon figure) and the device driven on the main loop
 * (lv_vmem_drive.c: a target split, the device followed, a removal), on the
 * live fixture as libvirt 9.0 prints it and inline variants. No libvirt
 * call is made: what would be queued for the worker is recorded.
 */
#include "cunit_main.h"
#include "lv_vmem.h"
#include "lv_vmem_drive.h"

#include <errno.h>
#include <string.h>

#define MIB (1024ull * 1024ull)

static char *fixture(const char *name)
{
    g_autofree char *path = g_build_filename(LV_FIXTURES, name, NULL);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        CU_FAIL_FATAL("fixture missing");
    return text;
}

static void parse_or_fail(const char *xml, struct lv_domain_info *info)
{
    g_autoptr(GError) err = NULL;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(xml, -1, info, &err), 0);
}

/* A domain of `memory` MiB with cells, a dimm and a virtio-mem device as
 * given (NULL leaves one out). */
static char *domain_xml(unsigned memory_mib, const char *cells, const char *dimm_mib,
                        const char *vmem_target)
{
    GString *x = g_string_new("<domain type='kvm'>");
    g_string_append_printf(x, "<memory unit='MiB'>%u</memory>", memory_mib);
    if (cells)
        g_string_append_printf(x, "<cpu><numa>%s</numa></cpu>", cells);
    g_string_append(x, "<devices><memballoon model='virtio' autodeflate='on'/>");
    if (dimm_mib)
        g_string_append_printf(x,
                               "<memory model='dimm'><target><size unit='MiB'>%s</size>"
                               "<node>0</node></target></memory>",
                               dimm_mib);
    if (vmem_target)
        g_string_append_printf(x, "<memory model='virtio-mem'><target>%s</target>%s</memory>",
                               vmem_target, "<alias name='virtiomem0'/>");
    g_string_append(x, "</devices></domain>");
    return g_string_free(x, FALSE);
}

#define VMEM_LIVE                                                                                  \
    "<size unit='MiB'>256</size><node>0</node><block unit='KiB'>2048</block>"                      \
    "<requested unit='MiB'>64</requested><current unit='MiB'>32</current>"

/* Boot memory is the NUMA cells' sum, and agrees with <memory> less the
 * memory devices' sizes on the live fixture (libvirt's own arithmetic). */
static void test_boot_fixture(void)
{
    g_autofree char *xml = fixture("virtio-mem-live.xml");
    struct lv_domain_info info;
    parse_or_fail(xml, &info);
    uint64_t boot = lv_vmem_boot_bytes(&info);
    CU_ASSERT_NOT_EQUAL(boot, 0);
    CU_ASSERT_EQUAL(boot, info.numa_memory_bytes);
    CU_ASSERT_EQUAL(info.memory_devices_bytes, info.vmem.size_bytes); /* one device */
    CU_ASSERT_EQUAL(boot, info.memory_bytes - info.memory_devices_bytes);
    lv_domain_info_clear(&info);
}

static void test_boot_variants(void)
{
    struct lv_domain_info info;
    /* Two cells add up; a dimm beside the device does not change them. */
    g_autofree char *two = domain_xml(
        512, "<cell id='0' memory='64' unit='MiB'/><cell id='1' memory='65536'/>", "64", VMEM_LIVE);
    parse_or_fail(two, &info);
    CU_ASSERT_EQUAL(lv_vmem_boot_bytes(&info), 128 * MIB);        /* 64 MiB + 65536 KiB */
    CU_ASSERT_EQUAL(info.memory_devices_bytes, (64 + 256) * MIB); /* every model counted */
    lv_domain_info_clear(&info);

    /* No cell: <memory> less every memory device's size. */
    g_autofree char *nocell = domain_xml(512, NULL, "64", VMEM_LIVE);
    parse_or_fail(nocell, &info);
    CU_ASSERT_EQUAL(lv_vmem_boot_bytes(&info), (512 - 64 - 256) * MIB);
    lv_domain_info_clear(&info);

    /* A cell that cannot be read is no guess: the device sizes decide. */
    g_autofree char *badcell =
        domain_xml(512, "<cell id='0' memory='64' unit='parsec'/>", NULL, VMEM_LIVE);
    parse_or_fail(badcell, &info);
    CU_ASSERT_TRUE(info.numa_invalid);
    CU_ASSERT_EQUAL(lv_vmem_boot_bytes(&info), (512 - 256) * MIB);
    lv_domain_info_clear(&info);

    /* Cells that leave no room for the device within <memory>: unknown. */
    g_autofree char *over =
        domain_xml(300, "<cell id='0' memory='128' unit='MiB'/>", NULL, VMEM_LIVE);
    parse_or_fail(over, &info);
    CU_ASSERT_EQUAL(lv_vmem_boot_bytes(&info), 0);
    lv_domain_info_clear(&info);

    /* Devices as large as <memory>, no cell: unknown, not zero-sized boot. */
    g_autofree char *full = domain_xml(256, NULL, NULL, VMEM_LIVE);
    parse_or_fail(full, &info);
    CU_ASSERT_EQUAL(lv_vmem_boot_bytes(&info), 0);
    lv_domain_info_clear(&info);
}

static void test_figures(void)
{
    struct lv_domain_info info;
    struct actuator_vmem fig;
    const char *why = NULL;
    g_autofree char *ok =
        domain_xml(512, "<cell id='0' memory='128' unit='MiB'/>", NULL, VMEM_LIVE);
    parse_or_fail(ok, &info);
    CU_ASSERT_EQUAL(lv_vmem_figures(&info, &fig, &why), 0);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_TRUE(fig.present);
    CU_ASSERT_EQUAL(fig.max_bytes, info.vmem.size_bytes);
    CU_ASSERT_EQUAL(fig.block_bytes, info.vmem.block_bytes);
    CU_ASSERT_EQUAL(fig.plugged_bytes, info.vmem.current_bytes); /* <current>, not <requested> */
    CU_ASSERT_EQUAL(fig.requested_bytes, info.vmem.requested_bytes);
    CU_ASSERT_NOT_EQUAL(fig.plugged_bytes, fig.requested_bytes); /* the case tells them apart */
    CU_ASSERT_TRUE(actuator_vmem_valid(&fig));
    lv_domain_info_clear(&info);

    static const struct {
        const char *target; /* NULL: no device */
        bool alias;
        const char *why;
    } cases[] = {
        {NULL, true, "no virtio-mem device"},
        {"<size unit='MiB'>256</size><requested unit='MiB'>64</requested>", true, "no <block>"},
        {"<size unit='MiB'>256</size><block unit='KiB'>2048</block>"
         "<requested unit='MiB'>64</requested>",
         true, "no <current>"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *x = domain_xml(512, NULL, NULL, cases[i].target);
        parse_or_fail(x, &info);
        why = NULL;
        CU_ASSERT_EQUAL(lv_vmem_figures(&info, &fig, &why), -EINVAL);
        CU_ASSERT_PTR_NOT_NULL_FATAL(why);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, cases[i].why));
        CU_ASSERT_FALSE(fig.present);
        lv_domain_info_clear(&info);
    }
    /* Live figures without an alias: events could not be matched. */
    const char *noalias = "<domain><devices><memory model='virtio-mem'><target>" VMEM_LIVE
                          "</target></memory></devices></domain>";
    parse_or_fail(noalias, &info);
    CU_ASSERT_EQUAL(lv_vmem_figures(&info, &fig, &why), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "alias"));
    lv_domain_info_clear(&info);
}

static void test_size_event(void)
{
    uint64_t size = 7;
    const uint64_t block = 2 * MIB, max = 256 * MIB;
    CU_ASSERT_TRUE(lv_vmem_size_event("virtiomem0", block, max, "virtiomem0", 32768, &size));
    CU_ASSERT_EQUAL(size, 32768ull * 1024); /* KiB to bytes */
    CU_ASSERT_TRUE(lv_vmem_size_event("virtiomem0", block, max, "virtiomem0", 0, &size));
    CU_ASSERT_EQUAL(size, 0); /* all unplugged is a size */
    CU_ASSERT_TRUE(lv_vmem_size_event("virtiomem0", block, max, "virtiomem0", max / 1024, &size));
    CU_ASSERT_EQUAL(size, max);
    size = 7;
    CU_ASSERT_FALSE(lv_vmem_size_event("virtiomem0", block, max, "virtiomem1", 32768, &size));
    CU_ASSERT_FALSE(lv_vmem_size_event(NULL, block, max, "virtiomem0", 32768, &size));
    CU_ASSERT_FALSE(lv_vmem_size_event("virtiomem0", block, max, NULL, 32768, &size));
    CU_ASSERT_FALSE(lv_vmem_size_event("virtiomem0", block, max, "virtiomem0", max / 1024 + 2048,
                                       &size)); /* over its max */
    CU_ASSERT_FALSE(
        lv_vmem_size_event("virtiomem0", block, max, "virtiomem0", 1024, &size)); /* half a block */
    CU_ASSERT_FALSE(lv_vmem_size_event("virtiomem0", block, max, "virtiomem0", ~0ull,
                                       &size)); /* would overflow in bytes */
    CU_ASSERT_EQUAL(size, 7);                   /* untouched when refused */
}

static void test_balloon_figure(void)
{
    bool corrected = true;
    const uint64_t boot = 128 * MIB, plugged = 64 * MIB;
    /* QEMU's actual as it is: within boot memory. */
    CU_ASSERT_EQUAL(lv_vmem_balloon_qemu_bytes(100 * MIB, boot, plugged, &corrected), 100 * MIB);
    CU_ASSERT_FALSE(corrected);
    CU_ASSERT_EQUAL(lv_vmem_balloon_qemu_bytes(boot, boot, plugged, &corrected), boot);
    CU_ASSERT_FALSE(corrected);
    /* Over boot: the device was counted in, and is taken off. */
    CU_ASSERT_EQUAL(lv_vmem_balloon_qemu_bytes(boot + plugged - 8 * MIB, boot, plugged, &corrected),
                    boot - 8 * MIB);
    CU_ASSERT_TRUE(corrected);
    /* Even then never over boot, nor below zero. */
    CU_ASSERT_EQUAL(lv_vmem_balloon_qemu_bytes(boot + 2 * plugged, boot, plugged, &corrected),
                    boot);
    CU_ASSERT_EQUAL(lv_vmem_balloon_qemu_bytes(boot + MIB, boot, 512 * MIB, &corrected), 0);
    /* Boot unknown: nothing to hold it against. */
    CU_ASSERT_EQUAL(lv_vmem_balloon_qemu_bytes(boot + plugged, 0, plugged, &corrected),
                    boot + plugged);
    CU_ASSERT_FALSE(corrected);
}

/* --- the drive on the main loop ------------------------------------------------------------ */

struct sent {
    unsigned n;
    struct vmem_drive_cmd last;
};

static void record_send(void *ctx, const struct vmem_drive_cmd *cmd)
{
    struct sent *s = ctx;
    s->n++;
    s->last = *cmd;
}

static const struct lv_vmem_drive_ops record_ops = {.send = record_send};

/* peak_hold_ms 0: a one-block net, so a shrink unplugs (vmem_drive.h). */
static void drive_fixture(struct lv_vmem_drive *v, struct sent *s, struct lv_domain_info *info,
                          uint64_t peak_hold_ms)
{
    g_autofree char *xml = fixture("virtio-mem-live.xml");
    parse_or_fail(xml, info);
    memset(s, 0, sizeof(*s));
    lv_vmem_drive_init(v, "t", peak_hold_ms, &record_ops, s);
    lv_vmem_drive_xml(v, info);
}

/* The fixture's device is driven: the manager sees boot + max, a target is
 * split into a request within the device and a boot-relative balloon value. */
static void test_drive_target(void)
{
    struct lv_vmem_drive v;
    struct sent s;
    struct lv_domain_info info;
    drive_fixture(&v, &s, &info, 0);
    CU_ASSERT_TRUE_FATAL(lv_vmem_drive_active(&v));
    uint64_t boot = lv_vmem_boot_bytes(&info);
    CU_ASSERT_EQUAL(v.d.boot_bytes, boot);
    CU_ASSERT_TRUE(v.d.deflate_on_oom); /* autodeflate='on' */
    CU_ASSERT_TRUE(v.d.has_balloon);
    lv_vmem_drive_balloon(&v, boot);
    struct vmsource_balloon b = {.nominal_bytes = (int64_t)info.memory_bytes, .actual_bytes = -1};
    lv_vmem_drive_fill(&v, &b);
    CU_ASSERT_EQUAL(b.nominal_bytes, (int64_t)(boot + info.vmem.size_bytes));
    CU_ASSERT_EQUAL(b.actual_bytes, (int64_t)(boot + info.vmem.current_bytes));
    CU_ASSERT_EQUAL(b.vmem_size_bytes, (int64_t)info.vmem.current_bytes);

    /* Shrink to boot + 16 MiB: the device is asked for less, in whole blocks
     * within its size, and the balloon value never exceeds boot memory. */
    struct vmem_drive_cmd cmd;
    uint64_t target = boot + 16 * MIB;
    uint64_t value = lv_vmem_drive_plan(&v, target, &cmd);
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_TRUE(cmd.vmem_requested_bytes < info.vmem.current_bytes);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes % info.vmem.block_bytes, 0);
    CU_ASSERT_TRUE(value > 0 && value <= boot);
    /* What the worker would send passes lv_xml's gate. */
    g_autofree char *upd = lv_vmem_update_xml(&info.vmem, cmd.vmem_requested_bytes, NULL);
    CU_ASSERT_PTR_NOT_NULL(upd);
    CU_ASSERT_EQUAL(s.n, 0); /* the manager's set is the source's to queue, not a replan */
    lv_vmem_drive_clear(&v);
    lv_domain_info_clear(&info);
}

/* With the default net (deflate-on-OOM, the recent peak kept plugged) the
 * first shrink keeps what the guest booted with plugged and ballooned:
 * virtio-mem guests under libvirt get the fleet's burst safety. */
static void test_drive_net(void)
{
    struct lv_vmem_drive v;
    struct sent s;
    struct lv_domain_info info;
    drive_fixture(&v, &s, &info, VMEM_DRIVE_PEAK_MS);
    uint64_t boot = v.d.boot_bytes;
    lv_vmem_drive_balloon(&v, boot);
    struct vmem_drive_cmd cmd;
    uint64_t target = boot + 16 * MIB;
    uint64_t value = lv_vmem_drive_plan(&v, target, &cmd);
    CU_ASSERT_FALSE(cmd.send_vmem && cmd.vmem_requested_bytes < info.vmem.current_bytes);
    CU_ASSERT_TRUE(value < boot); /* the net is in the balloon */
    CU_ASSERT_TRUE(value + info.vmem.current_bytes <= target + info.vmem.block_bytes);
    lv_vmem_drive_clear(&v);
    lv_domain_info_clear(&info);
}

/* The device reaches the request (a size-change event): the target in force
 * is planned again and a step is sent; another device's event is ignored. */
static void test_drive_follows(void)
{
    struct lv_vmem_drive v;
    struct sent s;
    struct lv_domain_info info;
    drive_fixture(&v, &s, &info, 0);
    uint64_t boot = v.d.boot_bytes;
    lv_vmem_drive_balloon(&v, boot);
    struct vmem_drive_cmd cmd;
    uint64_t target = boot + 16 * MIB;
    uint64_t value = lv_vmem_drive_plan(&v, target, &cmd);
    unsigned long long req_kib = cmd.vmem_requested_bytes / 1024;
    CU_ASSERT_FALSE(lv_vmem_drive_size_change(&v, "virtiomem9", req_kib));
    CU_ASSERT_EQUAL(v.d.dev.plugged_bytes, info.vmem.current_bytes);
    CU_ASSERT_TRUE(lv_vmem_drive_size_change(&v, info.vmem.alias, req_kib));
    CU_ASSERT_EQUAL(v.d.dev.plugged_bytes, cmd.vmem_requested_bytes);
    /* The balloon reached its value (libvirt's BALLOON_CHANGE): the manager
     * sees its shrink arrived, the plan's block step not counted. */
    lv_vmem_drive_balloon(&v, value);
    struct vmsource_balloon b = {.actual_bytes = -1};
    lv_vmem_drive_fill(&v, &b);
    CU_ASSERT_EQUAL(b.actual_bytes, (int64_t)target);
    CU_ASSERT_EQUAL(b.vmem_size_bytes, (int64_t)cmd.vmem_requested_bytes);
    CU_ASSERT_STRING_EQUAL(b.vmem_state, "converged");
    lv_vmem_drive_clear(&v);
    lv_domain_info_clear(&info);
}

/* The device leaves the domain: the balloon alone, said by the plan, and a
 * re-read is no longer due; a device that cannot be driven is not. */
static void test_drive_removed_and_unusable(void)
{
    struct lv_vmem_drive v;
    struct sent s;
    struct lv_domain_info info;
    drive_fixture(&v, &s, &info, 0);
    uint64_t boot = v.d.boot_bytes;
    lv_vmem_drive_balloon(&v, boot);
    struct vmem_drive_cmd cmd;
    lv_vmem_drive_plan(&v, boot + 16 * MIB, &cmd);
    CU_ASSERT_TRUE(lv_vmem_drive_read_due(&v));  /* a device: its XML is read */
    CU_ASSERT_FALSE(lv_vmem_drive_read_due(&v)); /* and not again at once */

    struct lv_domain_info gone;
    g_autofree char *x = domain_xml(512, "<cell id='0' memory='128' unit='MiB'/>", NULL, NULL);
    parse_or_fail(x, &gone);
    unsigned before = s.n;
    lv_vmem_drive_xml(&v, &gone);
    CU_ASSERT_EQUAL(s.n, before + 1); /* the target in force, on the balloon alone */
    CU_ASSERT_FALSE(s.last.send_vmem);
    CU_ASSERT_TRUE(s.last.send_balloon && s.last.balloon_qmp_bytes <= boot);
    CU_ASSERT_EQUAL(v.d.last.actuator, ACTUATOR_BALLOON);
    CU_ASSERT_STRING_EQUAL(vmem_watch_state_name(v.d.watch.state), "removed");
    CU_ASSERT_FALSE(v.has_device);
    CU_ASSERT_FALSE(lv_vmem_drive_read_due(&v));
    lv_vmem_drive_xml(&v, &gone); /* seen gone again: nothing more sent */
    CU_ASSERT_EQUAL(s.n, before + 1);
    lv_domain_info_clear(&gone);
    lv_vmem_drive_clear(&v);

    /* A device in an inactive form (no <current>): the balloon's figures stay. */
    g_autofree char *inactive =
        domain_xml(512, "<cell id='0' memory='128' unit='MiB'/>", NULL,
                   "<size unit='MiB'>256</size><block unit='KiB'>2048</block><requested "
                   "unit='MiB'>64</requested>");
    struct lv_domain_info in2;
    parse_or_fail(inactive, &in2);
    lv_vmem_drive_init(&v, "t", VMEM_DRIVE_PEAK_MS, &record_ops, &s);
    lv_vmem_drive_xml(&v, &in2);
    CU_ASSERT_FALSE(lv_vmem_drive_active(&v));
    struct vmsource_balloon b = {.nominal_bytes = 512 * MIB, .actual_bytes = 100 * MIB};
    lv_vmem_drive_fill(&v, &b);
    CU_ASSERT_EQUAL(b.nominal_bytes, 512 * MIB);
    CU_ASSERT_EQUAL(b.actual_bytes, 100 * MIB);
    CU_ASSERT_EQUAL(b.vmem_max_bytes, 0);
    lv_vmem_drive_clear(&v);
    lv_domain_info_clear(&in2);
    lv_domain_info_clear(&info);
}

static CU_TestInfo figures_tests[] = {
    {"boot memory on the live fixture", test_boot_fixture},
    {"boot memory: cells, devices, unknown", test_boot_variants},
    {"the device's figures from the live XML", test_figures},
    {"MEMORY_DEVICE_SIZE_CHANGE", test_size_event},
    {"the balloon figure is QEMU's", test_balloon_figure},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo drive_tests[] = {
    {"a target split", test_drive_target},
    {"the deflate-on-OOM net", test_drive_net},
    {"the device followed", test_drive_follows},
    {"removed, and not driven", test_drive_removed_and_unusable},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"lv_vmem", NULL, NULL, NULL, NULL, figures_tests},
    {"lv_vmem_drive", NULL, NULL, NULL, NULL, drive_tests},
    CU_SUITE_INFO_NULL,
};
