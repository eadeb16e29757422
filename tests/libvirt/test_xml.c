/*
 * Domain XML inspection (lv_xml.c) and QEMU pid matching (lv_pid.c) on
 * fixture XML: a live q35 domain and a live microvm domain as libvirt 9.0
 * prints them (tests/libvirt/fixtures/), and hostile or odd variants inline.
 */
#include "cunit_main.h"
#include "lv_pid.h"
#include "lv_xml.h"

#include <errno.h>
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
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"libvirt xml", NULL, NULL, NULL, NULL, xml_tests},
    CU_SUITE_INFO_NULL,
};
