/*
 * ballastctl's commands (host/ctl/ctl_argv.c): each good form into its
 * request, each mistake into its own message; and where the socket is
 * (ctl_socket_path: --socket, $BALLAST_SOCKET, the default).
 */
#include "cunit_main.h"
#include "ctl_argv.h"

#include <stdlib.h>
#include <string.h>

/* Parses the words of line; returns the message (NULL when it parsed). */
static char *parse(const char *line, struct ctl_request *req)
{
    g_auto(GStrv) argv = g_strsplit(line, " ", -1);
    int argc = line[0] ? (int)g_strv_length(argv) : 0;
    char *message = NULL;
    int rc = ctl_argv_parse(argc, argv, req, &message);
    CU_ASSERT_EQUAL(rc == 0, message == NULL);
    return message;
}

static void test_good(void)
{
    struct ctl_request r;
    CU_ASSERT_PTR_NULL(parse("status", &r));
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_STATUS);
    CU_ASSERT_FALSE(r.top);
    CU_ASSERT_PTR_NULL(parse("top", &r)); /* status, again and again */
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_STATUS);
    CU_ASSERT_TRUE(r.top);
    CU_ASSERT_PTR_NULL(parse("ping", &r));
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_PING);
    CU_ASSERT_PTR_NULL(parse("explain web", &r));
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_EXPLAIN);
    CU_ASSERT_STRING_EQUAL(r.vm, "web");
    CU_ASSERT_PTR_NULL(parse("set-policy web min_memory=1.5G", &r));
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_SET_POLICY);
    CU_ASSERT_STRING_EQUAL(r.vm, "web");
    CU_ASSERT_STRING_EQUAL(r.key, "min_memory");
    CU_ASSERT_STRING_EQUAL(r.value, "1.5G");
    CU_ASSERT_PTR_NULL(parse("set-policy web mode=", &r)); /* empty value: ballastd judges */
    CU_ASSERT_STRING_EQUAL(r.value, "");
    CU_ASSERT_PTR_NULL(parse("dry-run on", &r));
    CU_ASSERT_TRUE(r.enabled);
    CU_ASSERT_PTR_NULL(parse("dry-run off", &r));
    CU_ASSERT_FALSE(r.enabled);
    CU_ASSERT_PTR_NULL(parse("notify d1 release", &r));
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_NOTIFY);
    CU_ASSERT_EQUAL(r.event, CTL_NOTIFY_RELEASE);
    CU_ASSERT_STRING_EQUAL(r.vm, "d1");
}

static void expect(const char *line, const char *message)
{
    struct ctl_request r;
    g_autofree char *got = parse(line, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    if (strcmp(got, message) != 0)
        fprintf(stderr, "\n'%s': got '%s', want '%s'\n", line, got, message);
    CU_ASSERT_STRING_EQUAL(got, message);
}

#define NAMES "(status, top, explain, metrics, set-policy, resume, dry-run, ping or notify)"

static void test_mistakes(void)
{
    expect("", "no command given " NAMES);
    expect("frobnicate", "unknown command 'frobnicate' " NAMES);
    expect("STATUS", "unknown command 'STATUS' " NAMES);
    expect("status now", "status: unexpected argument 'now'");
    expect("top cost", "top: unexpected argument 'cost'");
    expect("ping me", "ping: unexpected argument 'me'");
    expect("metrics now", "metrics: unexpected argument 'now'");
    expect("explain", "explain: expected VM");
    expect("explain a b", "explain: unexpected argument 'b'");
    expect("set-policy web", "set-policy: expected VM KEY=VALUE");
    expect("set-policy web shares", "set-policy: expected KEY=VALUE, not 'shares'");
    expect("set-policy web =4", "set-policy: expected KEY=VALUE, not '=4'");
    expect("set-policy web shares=1 x", "set-policy: unexpected argument 'x'");
    expect("dry-run", "dry-run: expected on|off");
    expect("dry-run maybe", "dry-run: expected on or off, not 'maybe'");
    expect("notify d1", "notify: expected DOMAIN EVENT");
    expect("notify d1 boot",
           "notify: unknown event 'boot' (expected prepare, started, stopped or release)");
}

/* Names and values ballastd could not hold are refused, never truncated. */
static void test_lengths(void)
{
    struct ctl_request r;
    g_autofree char *long_name = g_strnfill(CTL_VM_NAME_MAX, 'v');
    g_autofree char *ok_name = g_strnfill(CTL_VM_NAME_MAX - 1, 'v');
    g_autofree char *line = g_strdup_printf("explain %s", long_name);
    expect(line, "explain: a VM name is 1..63 bytes, not 64");
    g_free(line);
    line = g_strdup_printf("notify %s started", long_name);
    expect(line, "notify: a VM name is 1..63 bytes, not 64");
    g_free(line);
    line = g_strdup_printf("explain %s", ok_name);
    CU_ASSERT_PTR_NULL(parse(line, &r));
    g_autofree char *key = g_strnfill(CTL_KEY_MAX, 'k');
    g_free(line);
    line = g_strdup_printf("set-policy web %s=1", key);
    expect(line, "set-policy: key of 64 bytes: no key is longer than 63");
    g_autofree char *value = g_strnfill(CTL_VALUE_MAX, '1');
    g_free(line);
    line = g_strdup_printf("set-policy web shares=%s", value);
    expect(line, "set-policy: value of 256 bytes: at most 255");
}

static void test_socket_path(void)
{
    g_unsetenv(CTL_SOCKET_ENV);
    CU_ASSERT_STRING_EQUAL(ctl_socket_path(NULL), "/run/ballast/ballastd.sock");
    CU_ASSERT_STRING_EQUAL(ctl_socket_path("/tmp/x.sock"), "/tmp/x.sock");
    g_setenv(CTL_SOCKET_ENV, "", TRUE);
    CU_ASSERT_STRING_EQUAL(ctl_socket_path(NULL), CTL_DEFAULT_SOCKET);
    g_setenv(CTL_SOCKET_ENV, "/tmp/env.sock", TRUE);
    CU_ASSERT_STRING_EQUAL(ctl_socket_path(NULL), "/tmp/env.sock");
    CU_ASSERT_STRING_EQUAL(ctl_socket_path("/tmp/x.sock"), "/tmp/x.sock");
    g_unsetenv(CTL_SOCKET_ENV);
    /* The read-only socket beside it: .sock becomes .ro.sock, else .ro.sock is added. */
    g_autofree char *ro = ctl_ro_socket_path(CTL_DEFAULT_SOCKET);
    CU_ASSERT_STRING_EQUAL(ro, "/run/ballast/ballastd.ro.sock");
    g_autofree char *bare = ctl_ro_socket_path("/tmp/ctl");
    CU_ASSERT_STRING_EQUAL(bare, "/tmp/ctl.ro.sock");
    g_autofree char *dot = ctl_ro_socket_path("/tmp/.sock");
    CU_ASSERT_STRING_EQUAL(dot, "/tmp/.ro.sock");
    g_autofree char *only = ctl_ro_socket_path(".sock");
    CU_ASSERT_STRING_EQUAL(only, ".sock.ro.sock"); /* no name left to keep: appended */
}

/* Which commands need the read-write socket. */
static void test_writes(void)
{
    static const struct {
        const char *line;
        bool write;
    } cases[] = {
        {"status", false},
        {"explain vm0", false},
        {"metrics", false},
        {"ping", false},
        {"set-policy vm0 shares=2", true},
        {"dry-run on", true},
        {"notify d1 started", true},
        {"resume vm0", true}, /* hands a held VM back: a change, root only */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct ctl_request r;
        g_autofree char *msg = parse(cases[i].line, &r);
        CU_ASSERT_PTR_NULL_FATAL(msg);
        CU_ASSERT_EQUAL(ctl_cmd_is_write(r.cmd), cases[i].write);
    }
    CU_ASSERT_TRUE(ctl_cmd_is_write((enum ctl_cmd)99)); /* unknown: never a read */
}

static CU_TestInfo argv_tests[] = {
    {"good commands", test_good},
    {"writes need the read-write socket", test_writes},
    {"a message for each mistake", test_mistakes},
    {"names and values too long", test_lengths},
    {"socket: option, environment, default", test_socket_path},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"ctl_argv", NULL, NULL, NULL, NULL, argv_tests},
    CU_SUITE_INFO_NULL,
};
