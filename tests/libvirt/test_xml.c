/*
 * Domain XML inspection (lv_xml.c) and QEMU pid matching (lv_pid.c) on
 * fixture XML: a live q35 domain and a live microvm domain as libvirt 9.0
 * prints them (tests/libvirt/fixtures/), and hostile or odd variants inline.
 */
#include "cunit_main.h"
#include "lv_pid.h"
#include "lv_xml.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static char *fixture(const char *name)
{
    g_autofree char *path = g_build_filename(LV_FIXTURES, name, NULL);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        CU_FAIL_FATAL("fixture missing");
    return text;
}

static void test_q35_live(void)
{
    g_autofree char *xml = fixture("q35-live.xml");
    struct lv_domain_info info;
    g_autoptr(GError) err = NULL;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(xml, -1, &info, &err), 0);
    CU_ASSERT_STRING_EQUAL(info.name, "ballast-q35");
    CU_ASSERT_STRING_EQUAL(info.uuid, "3d1f3a4e-55a2-4b8e-9d7e-1f0b0c6d2a11");
    CU_ASSERT_STRING_EQUAL(info.domain_type, "qemu");
    CU_ASSERT_STRING_EQUAL(info.machine, "pc-q35-7.2");
    CU_ASSERT_FALSE(lv_machine_is_microvm(info.machine));
    CU_ASSERT_EQUAL(info.memory_bytes, 160ULL << 20);
    CU_ASSERT_EQUAL(info.current_memory_bytes, 100ULL << 20);
    CU_ASSERT_TRUE(info.has_balloon);
    CU_ASSERT_STRING_EQUAL(info.balloon_model, "virtio");
    CU_ASSERT_EQUAL(info.stats_period_s, 1);
    CU_ASSERT_TRUE(info.free_page_reporting);
    CU_ASSERT_FALSE(info.autodeflate);
    CU_ASSERT_FALSE(info.balloon_virtio_mmio);
    CU_ASSERT_TRUE(info.has_agent_channel);
    /* The guest-agent channel before ours must not be taken for it. */
    CU_ASSERT_STRING_EQUAL(info.agent_socket_path, "/var/lib/ballast/ballast-q35.agent.sock");
    CU_ASSERT_STRING_EQUAL(info.agent_source_mode, "bind");
    CU_ASSERT_TRUE(info.has_policy);
    CU_ASSERT_EQUAL(info.policy_keys->len, 3);
    CU_ASSERT_STRING_EQUAL(info.policy_keys->pdata[0], "min_memory");
    CU_ASSERT_STRING_EQUAL(info.policy_values->pdata[0], "64M");
    CU_ASSERT_STRING_EQUAL(info.policy_keys->pdata[2], "mode");
    CU_ASSERT_STRING_EQUAL(info.policy_values->pdata[2], "observe");
    CU_ASSERT_EQUAL(info.policy_errors->len, 0);
    lv_domain_info_clear(&info);
}

static void test_microvm_live(void)
{
    g_autofree char *xml = fixture("microvm-live.xml");
    struct lv_domain_info info;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(xml, -1, &info, NULL), 0);
    CU_ASSERT_STRING_EQUAL(info.machine, "microvm");
    CU_ASSERT_TRUE(lv_machine_is_microvm(info.machine));
    CU_ASSERT_TRUE(info.has_balloon);
    CU_ASSERT_TRUE(info.balloon_virtio_mmio);
    CU_ASSERT_TRUE(info.has_agent_channel);
    CU_ASSERT_PTR_NOT_NULL(info.agent_socket_path);
    CU_ASSERT_FALSE(info.has_policy); /* another application's metadata only */
    CU_ASSERT_EQUAL(info.memory_bytes, 160ULL << 20);
    lv_domain_info_clear(&info);
}

static void parse_ok(const char *xml, struct lv_domain_info *info)
{
    g_autoptr(GError) err = NULL;
    int rc = lv_domain_info_parse(xml, -1, info, &err);
    if (rc != 0)
        fprintf(stderr, "unexpected parse error: %s\n", err ? err->message : "?");
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

static void test_balloon_models(void)
{
    struct lv_domain_info info;
    parse_ok("<domain><devices><memballoon model='none'/></devices></domain>", &info);
    CU_ASSERT_FALSE(info.has_balloon);
    CU_ASSERT_STRING_EQUAL(info.balloon_model, "none");
    lv_domain_info_clear(&info);
    parse_ok("<domain><devices/></domain>", &info);
    CU_ASSERT_FALSE(info.has_balloon);
    CU_ASSERT_PTR_NULL(info.balloon_model);
    lv_domain_info_clear(&info);
    parse_ok("<domain><devices><memballoon model='virtio-non-transitional' autodeflate='on'>"
             "<stats period='10'/></memballoon></devices></domain>",
             &info);
    CU_ASSERT_TRUE(info.has_balloon);
    CU_ASSERT_TRUE(info.autodeflate);
    CU_ASSERT_EQUAL(info.stats_period_s, 10);
    lv_domain_info_clear(&info);
    /* A memballoon somewhere else (inside metadata) is not the device. */
    parse_ok("<domain><metadata><x:memballoon xmlns:x='urn:x' model='virtio'/></metadata>"
             "</domain>",
             &info);
    CU_ASSERT_FALSE(info.has_balloon);
    lv_domain_info_clear(&info);
}

static void test_channels(void)
{
    struct lv_domain_info info;
    /* Right name on a pty channel, or a unix channel with another name: no agent. */
    parse_ok("<domain><devices>"
             "<channel type='pty'><target type='virtio' name='org.ballast.agent.0'/></channel>"
             "<channel type='unix'><source mode='bind' path='/a'/>"
             "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
             "</devices></domain>",
             &info);
    CU_ASSERT_FALSE(info.has_agent_channel);
    CU_ASSERT_PTR_NULL(info.agent_socket_path);
    lv_domain_info_clear(&info);
    /* No source path yet (libvirt fills one at start), mode defaulting to bind. */
    parse_ok("<domain><devices><channel type='unix'>"
             "<target type='virtio' name='org.ballast.agent.0'/></channel></devices></domain>",
             &info);
    CU_ASSERT_TRUE(info.has_agent_channel);
    CU_ASSERT_PTR_NULL(info.agent_socket_path);
    CU_ASSERT_STRING_EQUAL(info.agent_source_mode, "bind");
    lv_domain_info_clear(&info);
    parse_ok("<domain><devices><channel type='unix'><source mode='connect' path='/b'/>"
             "<target type='virtio' name='org.ballast.agent.0'/></channel></devices></domain>",
             &info);
    CU_ASSERT_STRING_EQUAL(info.agent_source_mode, "connect");
    CU_ASSERT_STRING_EQUAL(info.agent_socket_path, "/b");
    lv_domain_info_clear(&info);
}

static void test_policy_namespaces(void)
{
    struct lv_domain_info info;
    /* Default namespace instead of a prefix. */
    parse_ok("<domain><metadata><policy xmlns='https://ballast.dev/xmlns/policy/1'>"
             "<shares>5</shares></policy></metadata></domain>",
             &info);
    CU_ASSERT_TRUE(info.has_policy);
    CU_ASSERT_EQUAL(info.policy_keys->len, 1);
    lv_domain_info_clear(&info);
    /* Right local name, wrong namespace: someone else's policy. */
    parse_ok("<domain><metadata><b:policy xmlns:b='https://example.org/other'>"
             "<shares>5</shares></b:policy></metadata></domain>",
             &info);
    CU_ASSERT_FALSE(info.has_policy);
    lv_domain_info_clear(&info);
    /* Namespace declared on <metadata>, element prefixed below it. */
    parse_ok("<domain><metadata xmlns:q='https://ballast.dev/xmlns/policy/1'>"
             "<q:policy><q:mode>fixed</q:mode></q:policy></metadata></domain>",
             &info);
    CU_ASSERT_TRUE(info.has_policy);
    CU_ASSERT_STRING_EQUAL(info.policy_keys->pdata[0], "mode");
    lv_domain_info_clear(&info);
    /* Outside <metadata> it is not a policy. */
    parse_ok("<domain><devices><b:policy xmlns:b='https://ballast.dev/xmlns/policy/1'>"
             "<shares>5</shares></b:policy></devices></domain>",
             &info);
    CU_ASSERT_FALSE(info.has_policy);
    lv_domain_info_clear(&info);
}

static void test_policy_structure_errors(void)
{
    struct lv_domain_info info;
    parse_ok("<domain><metadata><b:policy xmlns:b='https://ballast.dev/xmlns/policy/1'>"
             "<b:shares>5</b:shares><b:shares>6</b:shares>"
             "<b:mode><x>managed</x></b:mode></b:policy></metadata></domain>",
             &info);
    CU_ASSERT_TRUE(info.has_policy);
    CU_ASSERT_EQUAL(info.policy_keys->len, 1);
    CU_ASSERT_EQUAL(info.policy_errors->len, 2); /* duplicate, nested */
    lv_domain_info_clear(&info);

    /* A value longer than the cap is refused, not kept. */
    GString *s = g_string_new("<domain><metadata><b:policy "
                              "xmlns:b='https://ballast.dev/xmlns/policy/1'><b:mode>");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(s, 'x');
    g_string_append(s, "</b:mode></b:policy></metadata></domain>");
    parse_ok(s->str, &info);
    CU_ASSERT_EQUAL(info.policy_keys->len, 0);
    CU_ASSERT_EQUAL(info.policy_errors->len, 1);
    lv_domain_info_clear(&info);
    g_string_free(s, TRUE);
}

static void test_metadata_reply(void)
{
    /* What virDomainGetMetadata(ELEMENT) returns: the element alone. */
    struct lv_domain_info info;
    CU_ASSERT_EQUAL_FATAL(
        lv_policy_xml_parse("<ballast:policy xmlns:ballast=\"https://ballast.dev/xmlns/policy/1\">"
                            "\n  <ballast:max_memory>50%</ballast:max_memory>\n"
                            "</ballast:policy>",
                            -1, &info, NULL),
        0);
    CU_ASSERT_TRUE(info.has_policy);
    CU_ASSERT_STRING_EQUAL(info.policy_values->pdata[0], "50%");
    lv_domain_info_clear(&info);
    /* As libvirt really returns it: namespace stripped. */
    CU_ASSERT_EQUAL_FATAL(
        lv_policy_xml_parse("<policy>\n  <shares>77</shares>\n</policy>\n", -1, &info, NULL), 0);
    CU_ASSERT_TRUE(info.has_policy);
    CU_ASSERT_EQUAL(info.policy_keys->len, 1);
    CU_ASSERT_STRING_EQUAL(info.policy_values->pdata[0], "77");
    CU_ASSERT_EQUAL(info.policy_errors->len, 0);
    lv_domain_info_clear(&info);
    /* Something else stored under our namespace: a policy error, not silence. */
    CU_ASSERT_EQUAL_FATAL(
        lv_policy_xml_parse("<settings><shares>1</shares></settings>", -1, &info, NULL), 0);
    CU_ASSERT_TRUE(info.has_policy);
    CU_ASSERT_EQUAL(info.policy_errors->len, 1);
    lv_domain_info_clear(&info);
}

static void test_rejects(void)
{
    const char *bad[] = {
        "",
        "<domain>",
        "<domain></dom>",
        "<notdomain/>",
        "<domain><memory unit='parsecs'>1</memory></domain>",
        "<domain><memory>-5</memory></domain>",
        "<domain><memory unit='EiB'>1000</memory></domain>",
        "<domain>&bogus;</domain>",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct lv_domain_info info;
        g_autoptr(GError) err = NULL;
        CU_ASSERT_EQUAL(lv_domain_info_parse(bad[i], -1, &info, &err), -EINVAL);
        CU_ASSERT_PTR_NOT_NULL(err);
        CU_ASSERT_PTR_NULL(info.name); /* cleared on error */
    }
}

static void test_memory_units(void)
{
    uint64_t b = 0;
    CU_ASSERT_EQUAL(lv_memory_to_bytes("1", NULL, &b), 0);
    CU_ASSERT_EQUAL(b, 1024);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("160", "MiB", &b), 0);
    CU_ASSERT_EQUAL(b, 160ULL << 20);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("2", "G", &b), 0);
    CU_ASSERT_EQUAL(b, 2ULL << 30);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("1", "KB", &b), 0);
    CU_ASSERT_EQUAL(b, 1000);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("3", "mb", &b), 0);
    CU_ASSERT_EQUAL(b, 3000000);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("512", "bytes", &b), 0);
    CU_ASSERT_EQUAL(b, 512);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("1", "kib", &b), 0);
    CU_ASSERT_EQUAL(b, 1024);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("1", "KiBB", &b), -EINVAL);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("1", "", &b), -EINVAL);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("x", "KiB", &b), -EINVAL);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("+1", "KiB", &b), -EINVAL);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("17179869184", "GiB", &b), -ERANGE);
    CU_ASSERT_EQUAL(lv_memory_to_bytes("99999999999999999999999", "b", &b), -ERANGE);
}

static void test_cmdline(void)
{
    static const char a[] = "/usr/bin/qemu-system-x86_64\0-name\0guest=web,debug-threads=on\0-S";
    CU_ASSERT_TRUE(lv_cmdline_is_guest(a, sizeof(a), "web"));
    CU_ASSERT_FALSE(lv_cmdline_is_guest(a, sizeof(a), "we"));
    CU_ASSERT_FALSE(lv_cmdline_is_guest(a, sizeof(a), "web2"));
    static const char b[] = "qemu\0-name\0guest=a,,b,debug-threads=on";
    CU_ASSERT_TRUE(lv_cmdline_is_guest(b, sizeof(b), "a,b"));
    CU_ASSERT_FALSE(lv_cmdline_is_guest(b, sizeof(b), "a"));
    static const char c[] = "qemu\0-name\0vm0\0-m\0128";
    CU_ASSERT_TRUE(lv_cmdline_is_guest(c, sizeof(c), "vm0"));
    /* "-name" as the value of another option's argument is still only a word. */
    static const char d[] = "bash\0-c\0echo -name guest=web";
    CU_ASSERT_FALSE(lv_cmdline_is_guest(d, sizeof(d), "web"));
    /* Truncated: the last argument has no NUL. */
    static const char e[] = {'q', 0, '-', 'n', 'a', 'm', 'e', 0, 'w', 'e', 'b'};
    CU_ASSERT_FALSE(lv_cmdline_is_guest(e, sizeof(e), "web"));
    CU_ASSERT_FALSE(lv_cmdline_is_guest(a, sizeof(a), ""));
}

/* A document of a declaration (or comments) alone parses in GMarkup; it is
 * neither a domain nor a metadata element (found by fuzz.libvirt.xml). */
static void test_no_root(void)
{
    const char *texts[] = {"<?xml version='1.0'?>", "<!-- nothing -->", "<?x?><!--y-->"};
    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++) {
        struct lv_domain_info info;
        GError *error = NULL;
        CU_ASSERT_EQUAL(lv_domain_info_parse(texts[i], -1, &info, &error), -EINVAL);
        CU_ASSERT_PTR_NOT_NULL(error);
        g_clear_error(&error);
        CU_ASSERT_EQUAL(lv_policy_xml_parse(texts[i], -1, &info, &error), -EINVAL);
        CU_ASSERT_PTR_NOT_NULL(error);
        CU_ASSERT_FALSE(info.has_policy);
        g_clear_error(&error);
    }
}

/* A live domain with a virtio-mem device beside the balloon, in the form
 * libvirt 9.0 prints (formatdomain "Memory devices": <current> and <alias>
 * only in the live XML). */
static void test_vmem_live(void)
{
    g_autofree char *xml = fixture("virtio-mem-live.xml");
    struct lv_domain_info info;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(xml, -1, &info, NULL), 0);
    CU_ASSERT_TRUE(info.has_balloon); /* the balloon is still read */
    CU_ASSERT_TRUE(info.autodeflate);
    const struct lv_vmem_info *v = &info.vmem;
    CU_ASSERT_TRUE(v->present);
    CU_ASSERT_EQUAL(v->count, 1);
    CU_ASSERT_STRING_EQUAL(v->alias, "virtiomem0");
    CU_ASSERT_EQUAL(v->node, 0);
    CU_ASSERT_EQUAL(v->size_bytes, 384ULL << 20);
    CU_ASSERT_EQUAL(v->block_bytes, 2ULL << 20);
    CU_ASSERT_EQUAL(v->requested_bytes, 128ULL << 20);
    CU_ASSERT_TRUE(v->has_current);
    CU_ASSERT_EQUAL(v->current_bytes, 128ULL << 20);
    CU_ASSERT_PTR_NULL(v->error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v->update_template);

    /* The update asks for 64 MiB and keeps the rest of the element as it
     * came: libvirt matches the device on it. */
    g_autoptr(GError) err = NULL;
    g_autofree char *upd = lv_vmem_update_xml(v, 64ULL << 20, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(upd);
    CU_ASSERT_PTR_NOT_NULL(strstr(upd, "<requested unit='KiB'>65536</requested>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(upd, "<alias name='virtiomem0'>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(upd, "slot='0x02'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(upd, "<size unit='KiB'>393216</size>"));
    CU_ASSERT_PTR_NULL(strstr(upd, "131072</requested>"));
    CU_ASSERT_PTR_NULL(strchr(upd, '\x01'));
    CU_ASSERT_TRUE(g_str_has_prefix(upd, "<memory model='virtio-mem'>"));
    CU_ASSERT_TRUE(g_str_has_suffix(upd, "</memory>"));

    /* Read back inside a domain it is the same device, 64 MiB requested. */
    g_autofree char *wrapped = g_strdup_printf("<domain><devices>%s</devices></domain>", upd);
    struct lv_domain_info back;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(wrapped, -1, &back, NULL), 0);
    CU_ASSERT_TRUE(back.vmem.present);
    CU_ASSERT_PTR_NULL(back.vmem.error);
    CU_ASSERT_STRING_EQUAL(back.vmem.alias, "virtiomem0");
    CU_ASSERT_EQUAL(back.vmem.size_bytes, v->size_bytes);
    CU_ASSERT_EQUAL(back.vmem.block_bytes, v->block_bytes);
    CU_ASSERT_EQUAL(back.vmem.requested_bytes, 64ULL << 20);
    lv_domain_info_clear(&back);

    /* The last gate before libvirt: over the size, not whole blocks. */
    const uint64_t bad[] = {(384ULL << 20) + (2ULL << 20), 3ULL << 20, (2ULL << 20) + 512};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) e = NULL;
        char *x = lv_vmem_update_xml(v, bad[i], &e);
        CU_ASSERT_PTR_NULL(x);
        CU_ASSERT_PTR_NOT_NULL(e);
        g_free(x);
    }
    /* Zero and the whole device are fine. */
    g_autofree char *zero = lv_vmem_update_xml(v, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(zero, "<requested unit='KiB'>0</requested>"));
    g_autofree char *full = lv_vmem_update_xml(v, 384ULL << 20, NULL);
    CU_ASSERT_PTR_NOT_NULL(full);
    lv_domain_info_clear(&info);
}

/* Devices ballastd must not drive: each leaves the domain parsed (its
 * balloon is still managed) with the reason in vmem.error and no template. */
static void test_vmem_unusable(void)
{
    static const struct {
        const char *target;
        const char *why; /* a word of the reason */
    } cases[] = {
        {"<size unit='MiB'>384</size><requested unit='MiB'>0</requested>", "<block>"},
        {"<block unit='KiB'>2048</block><requested>0</requested>", "<size>"},
        {"<size unit='MiB'>384</size><block unit='KiB'>2048</block>", "no <requested>"},
        {"<size unit='MiB'>384</size><block unit='KiB'>2048</block><requested>0</requested>"
         "<requested>0</requested>",
         "more than one"},
        {"<size unit='MiB'>384</size><block unit='KiB'>2048</block>"
         "<requested unit='MiB'>512</requested>",
         "over its size"},
        {"<size unit='MiB'>384</size><block unit='KiB'>2048</block><requested>0</requested>"
         "<current unit='GiB'>1</current>",
         "over its size"},
        {"<size unit='parsecs'>384</size><block unit='KiB'>2048</block><requested>0</requested>",
         "parsecs"},
        {"<size unit='MiB'>385</size><block unit='MiB'>2</block><requested>0</requested>",
         "whole number"},
        {"<size unit='MiB'>384</size><block unit='KiB'>2048</block><requested>0</requested>"
         "<node>-1</node>",
         "NUMA node"},
        {"<size unit='MiB'>384</size><block unit='KiB'>2048</block><requested>4<x/>8</requested>",
         "a number alone"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *xml = g_strdup_printf(
            "<domain><devices><memballoon model='virtio'/>"
            "<memory model='virtio-mem'><target>%s</target></memory></devices></domain>",
            cases[i].target);
        struct lv_domain_info info;
        CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(xml, -1, &info, NULL), 0);
        CU_ASSERT_TRUE(info.has_balloon);
        CU_ASSERT_TRUE(info.vmem.present);
        CU_ASSERT_PTR_NOT_NULL_FATAL(info.vmem.error);
        if (!strstr(info.vmem.error, cases[i].why))
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, info.vmem.error, cases[i].why);
        CU_ASSERT_PTR_NOT_NULL(strstr(info.vmem.error, cases[i].why));
        CU_ASSERT_PTR_NULL(info.vmem.update_template);
        g_autoptr(GError) err = NULL;
        CU_ASSERT_PTR_NULL(lv_vmem_update_xml(&info.vmem, 0, &err));
        CU_ASSERT_PTR_NOT_NULL(err);
        lv_domain_info_clear(&info);
    }

    /* An element too large to keep (a 9000-byte alias). */
    g_autofree char *longname = g_strnfill(9000, 'a');
    g_autofree char *xml = g_strdup_printf(
        "<domain><devices><memory model='virtio-mem'><target><size unit='MiB'>64</size>"
        "<block unit='KiB'>2048</block><requested>0</requested></target>"
        "<alias name='%s'/></memory></devices></domain>",
        longname);
    struct lv_domain_info info;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(xml, -1, &info, NULL), 0);
    CU_ASSERT_PTR_NOT_NULL(info.vmem.error);
    CU_ASSERT_PTR_NULL(info.vmem.update_template);
    lv_domain_info_clear(&info);
}

/* Other memory models are not ours; of two virtio-mem devices the first is
 * driven and both are counted; values that need escaping come back escaped. */
static void test_vmem_models_and_escaping(void)
{
    const char *xml =
        "<domain><devices>"
        "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>"
        "<memory model='virtio-mem'><target><size unit='MiB'>64</size><block unit='MiB'>2</block>"
        "<requested unit='MiB'>8</requested></target><alias name='ua-a&amp;b&apos;c'/></memory>"
        "<memory model='virtio-mem'><target><size unit='MiB'>32</size><block unit='MiB'>4</block>"
        "<requested>0</requested></target><alias name='virtiomem1'/></memory>"
        "</devices></domain>";
    struct lv_domain_info info;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(xml, -1, &info, NULL), 0);
    CU_ASSERT_TRUE(info.vmem.present);
    CU_ASSERT_EQUAL(info.vmem.count, 2);
    CU_ASSERT_STRING_EQUAL(info.vmem.alias, "ua-a&b'c");
    CU_ASSERT_EQUAL(info.vmem.size_bytes, 64ULL << 20);
    CU_ASSERT_EQUAL(info.vmem.requested_bytes, 8ULL << 20);
    CU_ASSERT_FALSE(info.vmem.has_current);
    g_autofree char *upd = lv_vmem_update_xml(&info.vmem, 4ULL << 20, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(upd);
    g_autofree char *wrapped = g_strdup_printf("<domain><devices>%s</devices></domain>", upd);
    struct lv_domain_info back;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(wrapped, -1, &back, NULL), 0);
    CU_ASSERT_STRING_EQUAL(back.vmem.alias, "ua-a&b'c");
    CU_ASSERT_EQUAL(back.vmem.requested_bytes, 4ULL << 20);
    lv_domain_info_clear(&back);
    lv_domain_info_clear(&info);

    /* No virtio-mem device: nothing present, nothing to send. */
    g_autofree char *q35 = fixture("q35-live.xml");
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse(q35, -1, &info, NULL), 0);
    CU_ASSERT_FALSE(info.vmem.present);
    CU_ASSERT_EQUAL(info.vmem.count, 0);
    CU_ASSERT_PTR_NULL(lv_vmem_update_xml(&info.vmem, 0, NULL));
    lv_domain_info_clear(&info);
}

static CU_TestInfo xml_tests[] = {
    {"q35 live XML", test_q35_live},
    {"no root element", test_no_root},
    {"microvm live XML", test_microvm_live},
    {"balloon models", test_balloon_models},
    {"agent channels", test_channels},
    {"policy namespaces", test_policy_namespaces},
    {"policy structure errors", test_policy_structure_errors},
    {"metadata reply", test_metadata_reply},
    {"rejects malformed", test_rejects},
    {"memory units", test_memory_units},
    {"qemu cmdline", test_cmdline},
    {"virtio-mem live XML and its update", test_vmem_live},
    {"virtio-mem devices that cannot be driven", test_vmem_unusable},
    {"virtio-mem: other models, two devices, escaping", test_vmem_models_and_escaping},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"libvirt xml", NULL, NULL, NULL, NULL, xml_tests},
    CU_SUITE_INFO_NULL,
};
