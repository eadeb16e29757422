/* fleet_options_parse: what `ballast-fleet start|stop|status|path` accepts and refuses. */
#include "cunit_main.h"
#include "fleet_options.h"

#include <errno.h>
#include <string.h>

/* Parses a NULL-terminated argument list; returns rc, keeps the message. */
static int parse(struct fleet_options *o, char **msg, const char *const *args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    GError *err = NULL;
    int rc = fleet_options_parse(argc, (char *const *)args, o, &err);
    *msg = err ? g_strdup(err->message) : NULL;
    if (err)
        g_error_free(err);
    CU_ASSERT_EQUAL(rc != 0, *msg != NULL); /* an error always says why */
    return rc;
}

#define ARGS(...) ((const char *const[]){"ballast-fleet", __VA_ARGS__, NULL})

static void test_start_defaults(void)
{
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL(
        parse(&o, &msg, ARGS("start", "--count", "3", "--memory", "128M", "--state", "/tmp/s")), 0);
    CU_ASSERT_EQUAL(o.command, FLEET_CMD_START);
    CU_ASSERT_EQUAL(o.count, 3);
    CU_ASSERT_EQUAL(o.memory_bytes, 128ULL << 20);
    CU_ASSERT_STRING_EQUAL(o.state_dir, "/tmp/s");
    CU_ASSERT_EQUAL(o.cpus, 1);
    CU_ASSERT_EQUAL(o.accel, FLEET_ACCEL_AUTO);
    CU_ASSERT_EQUAL(o.tb_size_mib, FLEET_DEFAULT_TB_SIZE_MIB);
    CU_ASSERT_EQUAL(o.disk_mib, 0); /* no scratch disk */
    CU_ASSERT_STRING_EQUAL(o.name_prefix, "vm");
    CU_ASSERT_TRUE(o.deflate_on_oom);      /* the OOM safety net is on by default */
    CU_ASSERT_TRUE(o.free_page_reporting); /* freed guest memory goes back to the host */
    CU_ASSERT_FALSE(o.thp);
    CU_ASSERT_FALSE(o.kaslr); /* nokaslr: like guests' kernels merge under KSM */
    CU_ASSERT_FALSE(o.wait);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o.no_merge);
    CU_ASSERT_PTR_NULL(o.no_merge[0]);
    CU_ASSERT_PTR_NULL(o.workload);
    CU_ASSERT_PTR_NULL(o.append);
    CU_ASSERT_PTR_NULL(o.image_dir);
    CU_ASSERT_PTR_NULL(o.qemu);
    CU_ASSERT_EQUAL(o.tsc_khz, 0);
    CU_ASSERT_EQUAL(o.timeout_s, FLEET_DEFAULT_WAIT_S);
    /* The balloon, booting with all of --memory. */
    CU_ASSERT_EQUAL(o.actuator, FLEET_ACTUATOR_BALLOON);
    CU_ASSERT_EQUAL(o.boot_memory_bytes, 128ULL << 20);
    CU_ASSERT_EQUAL(o.max_memory_bytes, 128ULL << 20);
    fleet_options_clear(&o);
}

static void test_start_all_options(void)
{
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL_FATAL(
        parse(&o, &msg,
              ARGS("start", "--count=4", "--memory", "1G", "--state", "d", "--cpus", "2", "--accel",
                   "tcg", "--tb-size", "64", "--disk", "80", "--deflate-on-oom",
                   "--no-free-page-reporting", "--thp", "--kaslr", "--no-merge", "g1,g3",
                   "--no-merge", "g0", "--image", "/img", "--qemu", "/q", "--name-prefix", "g",
                   "--workload", "anon:64M", "--append", "loglevel=3 quiet", "--tsc-khz", "2600000",
                   "--wait", "--timeout", "30")),
        0);
    CU_ASSERT_EQUAL(o.count, 4);
    CU_ASSERT_EQUAL(o.memory_bytes, 1ULL << 30);
    CU_ASSERT_EQUAL(o.cpus, 2);
    CU_ASSERT_EQUAL(o.accel, FLEET_ACCEL_TCG);
    CU_ASSERT_EQUAL(o.tb_size_mib, 64);
    CU_ASSERT_EQUAL(o.disk_mib, 80);
    CU_ASSERT_TRUE(o.deflate_on_oom);
    CU_ASSERT_FALSE(o.free_page_reporting);
    CU_ASSERT_TRUE(o.thp);
    CU_ASSERT_TRUE(o.kaslr);
    CU_ASSERT_EQUAL(g_strv_length(o.no_merge), 3);
    CU_ASSERT_STRING_EQUAL(o.no_merge[0], "g1");
    CU_ASSERT_STRING_EQUAL(o.no_merge[1], "g3");
    CU_ASSERT_STRING_EQUAL(o.no_merge[2], "g0");
    CU_ASSERT_STRING_EQUAL(o.image_dir, "/img");
    CU_ASSERT_STRING_EQUAL(o.qemu, "/q");
    CU_ASSERT_STRING_EQUAL(o.name_prefix, "g");
    CU_ASSERT_STRING_EQUAL(o.workload, "anon:64M");
    CU_ASSERT_STRING_EQUAL(o.append, "loglevel=3 quiet");
    CU_ASSERT_EQUAL(o.tsc_khz, 2600000);
    CU_ASSERT_TRUE(o.wait);
    CU_ASSERT_EQUAL(o.timeout_s, 30);
    fleet_options_clear(&o);
}

static void test_bare_memory_is_mib(void)
{
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL(
        parse(&o, &msg, ARGS("start", "--count", "1", "--memory", "96", "--state", "d")), 0);
    CU_ASSERT_EQUAL(o.memory_bytes, 96ULL << 20);
    fleet_options_clear(&o);
}

/* deflate-on-oom is on unless turned off; the old flag still parses. */
static void test_deflate_on_oom(void)
{
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL(parse(&o, &msg,
                          ARGS("start", "--count", "1", "--memory", "96", "--state", "d",
                               "--no-deflate-on-oom")),
                    0);
    CU_ASSERT_FALSE(o.deflate_on_oom);
    fleet_options_clear(&o);
    CU_ASSERT_EQUAL(
        parse(&o, &msg,
              ARGS("start", "--count", "1", "--memory", "96", "--state", "d", "--deflate-on-oom")),
        0);
    CU_ASSERT_TRUE(o.deflate_on_oom);
    fleet_options_clear(&o);
}

/* Free page reporting is on unless turned off, and only for start; turning
 * it off leaves deflate-on-oom alone. */
static void test_free_page_reporting(void)
{
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL(parse(&o, &msg,
                          ARGS("start", "--count", "1", "--memory", "96", "--state", "d",
                               "--no-free-page-reporting")),
                    0);
    CU_ASSERT_FALSE(o.free_page_reporting);
    CU_ASSERT_TRUE(o.deflate_on_oom);
    fleet_options_clear(&o);
    CU_ASSERT_EQUAL(parse(&o, &msg,
                          ARGS("start", "--count", "1", "--memory", "96", "--state", "d",
                               "--no-free-page-reporting", "--no-deflate-on-oom")),
                    0);
    CU_ASSERT_FALSE(o.free_page_reporting);
    CU_ASSERT_FALSE(o.deflate_on_oom);
    fleet_options_clear(&o);
}

/* --actuator virtio-mem|both: boot 128M and max = --memory unless given. */
static void test_actuator(void)
{
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL(parse(&o, &msg,
                          ARGS("start", "--count", "1", "--memory", "256M", "--state", "d",
                               "--actuator", "virtio-mem")),
                    0);
    CU_ASSERT_EQUAL(o.actuator, FLEET_ACTUATOR_VIRTIO_MEM);
    CU_ASSERT_EQUAL(o.boot_memory_bytes, FLEET_VMEM_DEFAULT_BOOT_BYTES);
    CU_ASSERT_EQUAL(o.memory_bytes, 256ULL << 20);
    CU_ASSERT_EQUAL(o.max_memory_bytes, 256ULL << 20);
    fleet_options_clear(&o);
    CU_ASSERT_EQUAL(
        parse(&o, &msg,
              ARGS("start", "--count", "1", "--memory", "256M", "--state", "d", "--actuator=both",
                   "--boot-memory", "96", "--max-memory", "1G", "--no-free-page-reporting")),
        0);
    CU_ASSERT_EQUAL(o.actuator, FLEET_ACTUATOR_BOTH);
    CU_ASSERT_EQUAL(o.boot_memory_bytes, 96ULL << 20);
    CU_ASSERT_EQUAL(o.max_memory_bytes, 1ULL << 30);
    CU_ASSERT_FALSE(o.free_page_reporting); /* both keeps the balloon and its options */
    fleet_options_clear(&o);
    CU_ASSERT_EQUAL(parse(&o, &msg,
                          ARGS("start", "--count", "1", "--memory", "256M", "--state", "d",
                               "--actuator", "balloon")),
                    0);
    CU_ASSERT_EQUAL(o.actuator, FLEET_ACTUATOR_BALLOON);
    fleet_options_clear(&o);
}

/* Each case must fail and its message must name the problem. */
static void expect_reject(const char *const *args, const char *needle)
{
    struct fleet_options o;
    char *msg = NULL;
    int rc = parse(&o, &msg, args);
    CU_ASSERT_EQUAL(rc, -EINVAL);
    if (msg && !strstr(msg, needle)) {
        fprintf(stderr, "\n  message '%s' lacks '%s'\n", msg, needle);
        CU_FAIL("message does not say why");
    }
    CU_ASSERT_PTR_NULL(o.state_dir); /* nothing half-filled survives a failure */
    g_free(msg);
    fleet_options_clear(&o);
}

/* --disk MIB: 0 is no disk (the default, spelt out), 1..65536 a disk of that
 * many MiB, with either actuator; anything else is refused naming --disk. */
static void test_disk(void)
{
    static const struct {
        const char *value;
        unsigned want;
    } ok[] = {{"0", 0}, {"1", 1}, {"64", 64}, {"65536", FLEET_MAX_DISK_MIB}};
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        struct fleet_options o;
        char *msg;
        CU_ASSERT_EQUAL(parse(&o, &msg,
                              ARGS("start", "--count", "1", "--memory", "96", "--state", "d",
                                   "--disk", ok[i].value)),
                        0);
        CU_ASSERT_EQUAL(o.disk_mib, ok[i].want);
        fleet_options_clear(&o);
    }
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL(parse(&o, &msg,
                          ARGS("start", "--count", "1", "--memory", "256M", "--state", "d",
                               "--actuator", "virtio-mem", "--disk=32")),
                    0);
    CU_ASSERT_EQUAL(o.disk_mib, 32);
    fleet_options_clear(&o);

    expect_reject(ARGS("start", "--count", "1", "--memory", "96", "--state", "d", "--disk", "-1"),
                  "--disk -1 is out of range 1..65536");
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "96", "--state", "d", "--disk", "65537"),
        "--disk 65537 is out of range 1..65536");
    expect_reject(ARGS("start", "--count", "1", "--memory", "96", "--state", "d", "--disk", "64M"),
                  "--disk");
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "96", "--state", "d", "--disk", "99999999999"),
        "--disk");
    expect_reject(ARGS("start", "--count", "1", "--memory", "96", "--state", "d", "--disk"),
                  "--disk");
    /* start's only. */
    expect_reject(ARGS("stop", "--state", "d", "--disk", "64"), "--disk");
}

/* --no-free-page-reporting belongs to start only. */
static void test_free_page_reporting_rejects(void)
{
    expect_reject(ARGS("stop", "--state", "d", "--no-free-page-reporting"),
                  "no-free-page-reporting");
}

static void test_rejects_start(void)
{
    expect_reject(ARGS("start"), "--count");
    expect_reject(ARGS("start", "--memory", "128M", "--state", "d"), "--count");
    expect_reject(ARGS("start", "--count", "0", "--memory", "128M", "--state", "d"), "--count");
    expect_reject(ARGS("start", "--count", "-2", "--memory", "128M", "--state", "d"), "--count");
    expect_reject(ARGS("start", "--count", "1025", "--memory", "128M", "--state", "d"), "1025");
    expect_reject(ARGS("start", "--count", "x", "--memory", "128M", "--state", "d"), "count");
    expect_reject(ARGS("start", "--count", "1", "--state", "d"), "--memory");
    expect_reject(ARGS("start", "--count", "1", "--memory", "64M", "--state", "d"), "80 MiB");
    expect_reject(ARGS("start", "--count", "1", "--memory", "79", "--state", "d"), "too small");
    expect_reject(ARGS("start", "--count", "1", "--memory", "12Q", "--state", "d"), "not a size");
    expect_reject(ARGS("start", "--count", "1", "--memory", "128.5M", "--state", "d"), "MiB");
    expect_reject(ARGS("start", "--count", "1", "--memory", "128M"), "--state");
    expect_reject(ARGS("start", "--count", "1", "--memory", "128M", "--state", ""), "--state");
    expect_reject(ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--cpus", "0"),
                  "--cpus");
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--accel", "hvf"), "hvf");
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--tb-size", "0"),
        "--tb-size");
    expect_reject(
        ARGS("start", "--count", "2", "--memory", "128M", "--state", "d", "--no-merge", "vm2"),
        "vm2");
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--name-prefix", "9x"),
        "--name-prefix");
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--name-prefix", "a/b"),
        "--name-prefix");
    expect_reject(ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--workload",
                       "two words"),
                  "--workload");
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--tsc-khz", "fast"),
        "--tsc-khz");
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--timeout", "0"),
        "--timeout");
    expect_reject(ARGS("start", "--count", "1", "--memory", "128M", "--state", "d",
                       "--deflate-on-oom", "--no-deflate-on-oom"),
                  "contradict");
    expect_reject(ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--bogus"),
                  "--bogus");
    expect_reject(ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "extra"),
                  "extra");
}

#define VMEM(...)                                                                                  \
    ARGS("start", "--count", "1", "--state", "d", "--actuator", "virtio-mem", __VA_ARGS__)

static void test_rejects_actuator(void)
{
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "256M", "--state", "d", "--actuator", "dimm"),
        "--actuator 'dimm' is not one of balloon, virtio-mem, both");
    /* Sizes of virtio-mem without it. */
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "256M", "--state", "d", "--boot-memory", "128M"),
        "--boot-memory needs --actuator virtio-mem");
    expect_reject(ARGS("start", "--count", "1", "--memory", "256M", "--state", "d", "--actuator",
                       "balloon", "--max-memory", "1G"),
                  "--max-memory needs --actuator virtio-mem");
    /* Balloon options without a balloon. */
    expect_reject(VMEM("--memory", "256M", "--no-free-page-reporting"),
                  "--no-free-page-reporting is a balloon option");
    expect_reject(VMEM("--memory", "256M", "--no-deflate-on-oom"),
                  "--no-deflate-on-oom is a balloon option");
    expect_reject(VMEM("--memory", "256M", "--deflate-on-oom"), "--deflate-on-oom is a balloon");
    /* Sizes that do not parse. */
    expect_reject(VMEM("--memory", "256M", "--boot-memory", "lots"), "--boot-memory 'lots'");
    expect_reject(VMEM("--memory", "256M", "--max-memory", "1.5T7"), "--max-memory '1.5T7'");
    expect_reject(VMEM("--memory", "256M", "--boot-memory", "128.5M"), "whole number of MiB");
    /* boot <= memory <= max, 2 MiB blocks, a boot the kernel survives. */
    expect_reject(VMEM("--memory", "256M", "--boot-memory", "512M"), "more than --memory");
    expect_reject(VMEM("--memory", "256M", "--max-memory", "200M"), "more than --max-memory");
    expect_reject(VMEM("--memory", "255M"), "--memory 255 MiB is not a multiple");
    expect_reject(VMEM("--memory", "256M", "--boot-memory", "129M"), "not a multiple");
    expect_reject(VMEM("--memory", "256M", "--max-memory", "513M"), "not a multiple");
    expect_reject(VMEM("--memory", "256M", "--boot-memory", "64M"), "too small");
    /* The default boot (128M) with --memory 128M and no --max-memory: nothing to plug. */
    expect_reject(VMEM("--memory", "128M"), "nothing to plug");
    /* --memory under the default boot size. */
    expect_reject(VMEM("--memory", "96M"), "--boot-memory 128 MiB is more than --memory 96 MiB");
    expect_reject(VMEM("--memory", "256M", "--max-memory", "2T"), "more than");
}

static void test_long_append_rejected(void)
{
    char *big = g_strnfill(FLEET_MAX_CMDLINE_LEN, 'x');
    expect_reject(
        ARGS("start", "--count", "1", "--memory", "128M", "--state", "d", "--append", big),
        "too long");
    g_free(big);
}

static void test_commands(void)
{
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL(parse(&o, &msg, ARGS("stop", "--state", "d")), 0);
    CU_ASSERT_EQUAL(o.command, FLEET_CMD_STOP);
    CU_ASSERT_EQUAL(o.timeout_s, FLEET_DEFAULT_STOP_S);
    fleet_options_clear(&o);
    CU_ASSERT_EQUAL(parse(&o, &msg, ARGS("stop", "--state", "d", "--timeout", "3")), 0);
    CU_ASSERT_EQUAL(o.timeout_s, 3);
    fleet_options_clear(&o);
    CU_ASSERT_EQUAL(parse(&o, &msg, ARGS("status", "--state", "d", "--json")), 0);
    CU_ASSERT_EQUAL(o.command, FLEET_CMD_STATUS);
    CU_ASSERT_TRUE(o.json);
    fleet_options_clear(&o);

    expect_reject(ARGS("launch", "--state", "d"), "unknown command");
    expect_reject(ARGS("stop"), "--state");
    /* Options of another command are unknown here. */
    expect_reject(ARGS("stop", "--state", "d", "--count", "2"), "--count");
    expect_reject(ARGS("status", "--state", "d", "--memory", "1G"), "--memory");
    struct fleet_options none;
    char *m2;
    const char *const only_prog[] = {"ballast-fleet", NULL};
    CU_ASSERT_EQUAL(parse(&none, &m2, only_prog), -EINVAL);
    g_free(m2);
    fleet_options_clear(&none);
}

static void test_path(void)
{
    struct fleet_options o;
    char *msg;
    CU_ASSERT_EQUAL(parse(&o, &msg, ARGS("path", "--state", "d", "vm0", "qmp")), 0);
    CU_ASSERT_EQUAL(o.command, FLEET_CMD_PATH);
    CU_ASSERT_STRING_EQUAL(o.state_dir, "d");
    CU_ASSERT_STRING_EQUAL(o.guest_name, "vm0");
    CU_ASSERT_EQUAL(o.file, FLEET_FILE_QMP);
    fleet_options_clear(&o);
    CU_ASSERT_EQUAL(parse(&o, &msg, ARGS("path", "vm1", "qemu-log", "--state", "/s")), 0);
    CU_ASSERT_STRING_EQUAL(o.guest_name, "vm1");
    CU_ASSERT_EQUAL(o.file, FLEET_FILE_QEMU_LOG);
    fleet_options_clear(&o);
    CU_ASSERT_EQUAL(parse(&o, &msg, ARGS("path", "--state", "/s", "vm0", "disk")), 0);
    CU_ASSERT_EQUAL(o.file, FLEET_FILE_DISK);
    fleet_options_clear(&o);
    /* The fleet's own files take no NAME. */
    CU_ASSERT_EQUAL(parse(&o, &msg, ARGS("path", "--state", "/s", "state")), 0);
    CU_ASSERT_PTR_NULL(o.guest_name);
    CU_ASSERT_EQUAL(o.file, FLEET_FILE_STATE);
    fleet_options_clear(&o);
    /* Without --state: the bare file name, for globs over every guest. */
    CU_ASSERT_EQUAL(parse(&o, &msg, ARGS("path", "console")), 0);
    CU_ASSERT_PTR_NULL(o.state_dir);
    CU_ASSERT_EQUAL(o.file, FLEET_FILE_CONSOLE);
    fleet_options_clear(&o);

    expect_reject(ARGS("path", "--state", "/s"), "which FILE");
    expect_reject(ARGS("path", "--state", "/s", "vm0", "sock"), "unknown FILE 'sock'");
    expect_reject(ARGS("path", "--state", "/s", "vm0", "qmp.sock"), "qmp, qmp-admin, agent");
    expect_reject(ARGS("path", "--state", "/s", "qmp"), "NAME");
    expect_reject(ARGS("path", "--state", "/s", "vm0", "lock"), "no NAME");
    expect_reject(ARGS("path", "--state", "/s", "..", "pid"), "'..' is not a guest name");
    expect_reject(ARGS("path", "--state", "/s", "a/b", "pid"), "not a guest name");
    expect_reject(ARGS("path", "--state", "/s", "vm0", "pid", "x"), "unexpected argument 'x'");
    expect_reject(ARGS("path", "vm0", "pid"), "--state");
    expect_reject(ARGS("path", "dir"), "--state");
    expect_reject(ARGS("path", "--state", "", "vm0", "pid"), "--state");
    expect_reject(ARGS("path", "--state", "/s", "vm0", "pid", "--json"), "--json");
}

static void test_accel_names(void)
{
    enum fleet_accel a;
    CU_ASSERT_EQUAL(fleet_accel_from_name("kvm", &a), 0);
    CU_ASSERT_EQUAL(a, FLEET_ACCEL_KVM);
    CU_ASSERT_EQUAL(fleet_accel_from_name("tcg", &a), 0);
    CU_ASSERT_EQUAL(a, FLEET_ACCEL_TCG);
    CU_ASSERT_EQUAL(fleet_accel_from_name("auto", &a), 0);
    CU_ASSERT_EQUAL(a, FLEET_ACCEL_AUTO);
    CU_ASSERT_EQUAL(fleet_accel_from_name("KVM", &a), -EINVAL);
    CU_ASSERT_EQUAL(fleet_accel_from_name(NULL, &a), -EINVAL);
    CU_ASSERT_STRING_EQUAL(fleet_accel_name(FLEET_ACCEL_TCG), "tcg");
}

static void test_prefix(void)
{
    CU_ASSERT_TRUE(fleet_prefix_valid("vm"));
    CU_ASSERT_TRUE(fleet_prefix_valid("web-a_1"));
    CU_ASSERT_FALSE(fleet_prefix_valid(""));
    CU_ASSERT_FALSE(fleet_prefix_valid(NULL));
    CU_ASSERT_FALSE(fleet_prefix_valid("-vm"));
    CU_ASSERT_FALSE(fleet_prefix_valid("vm.1"));
    CU_ASSERT_FALSE(fleet_prefix_valid("a b"));
    char *long_prefix = g_strnfill(FLEET_MAX_PREFIX_LEN + 1, 'a');
    CU_ASSERT_FALSE(fleet_prefix_valid(long_prefix));
    long_prefix[FLEET_MAX_PREFIX_LEN] = '\0';
    CU_ASSERT_TRUE(fleet_prefix_valid(long_prefix));
    g_free(long_prefix);
}

static CU_TestInfo options_tests[] = {
    {"start defaults", test_start_defaults},
    {"start with every option", test_start_all_options},
    {"bare --memory is MiB", test_bare_memory_is_mib},
    {"deflate-on-oom on by default, --no-deflate-on-oom", test_deflate_on_oom},
    {"free page reporting on by default, --no-free-page-reporting", test_free_page_reporting},
    {"--no-free-page-reporting refusals", test_free_page_reporting_rejects},
    {"start rejects bad input", test_rejects_start},
    {"--disk", test_disk},
    {"--actuator, --boot-memory, --max-memory", test_actuator},
    {"--actuator refusals", test_rejects_actuator},
    {"over-long command line", test_long_append_rejected},
    {"stop and status", test_commands},
    {"path", test_path},
    {"accel names", test_accel_names},
    {"name prefix", test_prefix},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet options", NULL, NULL, NULL, NULL, options_tests},
    CU_SUITE_INFO_NULL,
};
