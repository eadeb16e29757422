/*
 * The fleet state directory's layout: every file's path, the guest name
 * rules, and the limits: a socket path one byte over the unix limit, a
 * buffer one byte short, a path over PATH_MAX.
 */
#include "cunit_main.h"
#include "fleet_layout.h"

#include <errno.h>
#include <string.h>

static void test_paths(void)
{
    static const struct {
        const char *name;
        enum fleet_file f;
        const char *want;
    } cases[] = {
        {"vm3", FLEET_FILE_GUEST_DIR, "/s/vm3"},
        {"vm3", FLEET_FILE_QMP, "/s/vm3/qmp.sock"},
        {"vm3", FLEET_FILE_QMP_ADMIN, "/s/vm3/qmp-admin.sock"},
        {"vm3", FLEET_FILE_AGENT, "/s/vm3/agent.sock"},
        {"vm3", FLEET_FILE_PID, "/s/vm3/pid"},
        {"vm3", FLEET_FILE_CONSOLE, "/s/vm3/console.log"},
        {"vm3", FLEET_FILE_QEMU_LOG, "/s/vm3/qemu.log"},
        {"vm3", FLEET_FILE_DISK, "/s/vm3/disk.raw"},
        {NULL, FLEET_FILE_STATE, "/s/fleet.json"},
        {NULL, FLEET_FILE_LOCK, "/s/.lock"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[64];
        CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), "/s", cases[i].name, cases[i].f), 0);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
        CU_ASSERT_EQUAL(fleet_layout_path_len("/s", cases[i].name, cases[i].f),
                        strlen(cases[i].want));
    }
    /* A relative directory stays relative: scripts get back what they gave. */
    char buf[64];
    CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), "state", "vm0", FLEET_FILE_PID), 0);
    CU_ASSERT_STRING_EQUAL(buf, "state/vm0/pid");
}

static void test_bad_arguments(void)
{
    char buf[64] = "untouched";
    CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), "/s", NULL, FLEET_FILE_QMP), -EINVAL);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), "/s", "vm0", FLEET_FILE_STATE), -EINVAL);
    CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), "", "vm0", FLEET_FILE_QMP), -EINVAL);
    CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), NULL, "vm0", FLEET_FILE_QMP), -EINVAL);
    CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), "/s", "vm0", FLEET_FILE_COUNT), -EINVAL);
    /* A name is one path component: no way out of DIR. */
    const char *bad[] = {"..", "../x", "a/b", ".vm", "a b", "", "vm\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), "/s", bad[i], FLEET_FILE_PID), -EINVAL);
}

static void test_names(void)
{
    CU_ASSERT_TRUE(fleet_layout_name_valid("vm0"));
    CU_ASSERT_TRUE(fleet_layout_name_valid("web-1.prod_a"));
    CU_ASSERT_FALSE(fleet_layout_name_valid(NULL));
    CU_ASSERT_FALSE(fleet_layout_name_valid(""));
    CU_ASSERT_FALSE(fleet_layout_name_valid(".vm"));
    CU_ASSERT_FALSE(fleet_layout_name_valid("a/b"));
    CU_ASSERT_FALSE(fleet_layout_name_valid("a b"));
    char name[FLEET_LAYOUT_NAME_MAX + 2];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    CU_ASSERT_FALSE(fleet_layout_name_valid(name)); /* 64 */
    name[FLEET_LAYOUT_NAME_MAX] = '\0';
    CU_ASSERT_TRUE(fleet_layout_name_valid(name)); /* 63 */
}

/* A directory of n bytes: "/ddd...". */
static void make_dir(char *dir, size_t n)
{
    memset(dir, 'd', n);
    dir[0] = '/';
    dir[n] = '\0';
}

static void test_socket_limit(void)
{
    /* "/ddd/vm0/qmp-admin.sock", the longest socket: dir + 19 bytes. 88 + 19 = 107 fits exactly. */
    char dir[200], buf[FLEET_LAYOUT_SOCKET_BUF];
    make_dir(dir, 88);
    CU_ASSERT_EQUAL(fleet_layout_path(buf, sizeof(buf), dir, "vm0", FLEET_FILE_QMP_ADMIN), 0);
    CU_ASSERT_EQUAL(strlen(buf), FLEET_LAYOUT_SOCKET_MAX);
    size_t longest = 0;
    CU_ASSERT_EQUAL(fleet_layout_guest_fits(dir, "vm0", &longest), 0);
    CU_ASSERT_EQUAL(longest, FLEET_LAYOUT_SOCKET_MAX);

    /* One byte more: the socket is refused whatever the buffer, the log is not. */
    make_dir(dir, 89);
    char big[512];
    CU_ASSERT_EQUAL(fleet_layout_path(big, sizeof(big), dir, "vm0", FLEET_FILE_QMP_ADMIN),
                    -ENAMETOOLONG);
    CU_ASSERT_STRING_EQUAL(big, "");
    CU_ASSERT_EQUAL(fleet_layout_path(big, sizeof(big), dir, "vm0", FLEET_FILE_QMP), 0);
    CU_ASSERT_EQUAL(fleet_layout_path(big, sizeof(big), dir, "vm0", FLEET_FILE_CONSOLE), 0);
    CU_ASSERT_EQUAL(fleet_layout_guest_fits(dir, "vm0", &longest), -ENAMETOOLONG);
    CU_ASSERT_EQUAL(longest, FLEET_LAYOUT_SOCKET_MAX + 1);
    CU_ASSERT_EQUAL(fleet_layout_guest_fits(dir, "../vm0", NULL), -EINVAL);
}

static void test_buffer_limit(void)
{
    /* "/s/vm0/pid" is 10 bytes: 11 with the NUL fit, 10 do not. */
    char buf[11];
    CU_ASSERT_EQUAL(fleet_layout_path(buf, 11, "/s", "vm0", FLEET_FILE_PID), 0);
    CU_ASSERT_STRING_EQUAL(buf, "/s/vm0/pid");
    CU_ASSERT_EQUAL(fleet_layout_path(buf, 10, "/s", "vm0", FLEET_FILE_PID), -ENAMETOOLONG);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(fleet_layout_path(NULL, 0, "/s", "vm0", FLEET_FILE_PID), -ENAMETOOLONG);

    /* Past PATH_MAX a log path is refused too, even into a buffer that would hold it. */
    static char dir[FLEET_LAYOUT_PATH_MAX + 1], big[2 * FLEET_LAYOUT_PATH_MAX];
    make_dir(dir, FLEET_LAYOUT_PATH_MAX - 1 - strlen("/vm0/console.log"));
    CU_ASSERT_EQUAL(fleet_layout_path(big, sizeof(big), dir, "vm0", FLEET_FILE_CONSOLE), 0);
    CU_ASSERT_EQUAL(strlen(big), FLEET_LAYOUT_PATH_MAX - 1);
    make_dir(dir, FLEET_LAYOUT_PATH_MAX - strlen("/vm0/console.log"));
    CU_ASSERT_EQUAL(fleet_layout_path(big, sizeof(big), dir, "vm0", FLEET_FILE_CONSOLE),
                    -ENAMETOOLONG);
}

static void test_keys(void)
{
    enum fleet_file f;
    for (unsigned i = 0; i < FLEET_FILE_COUNT; i++) {
        const struct fleet_file_info *info = fleet_layout_file((enum fleet_file)i);
        CU_ASSERT_PTR_NOT_NULL_FATAL(info);
        CU_ASSERT_EQUAL(fleet_layout_file_from_key(info->key, &f), 0);
        CU_ASSERT_EQUAL(f, i);
    }
    CU_ASSERT_EQUAL(fleet_layout_file_from_key("qmp.sock", &f), -EINVAL);
    CU_ASSERT_EQUAL(fleet_layout_file_from_key(NULL, &f), -EINVAL);
    CU_ASSERT_PTR_NULL(fleet_layout_file(FLEET_FILE_COUNT));
    CU_ASSERT_TRUE(fleet_layout_file(FLEET_FILE_QMP)->socket);
    CU_ASSERT_FALSE(fleet_layout_file(FLEET_FILE_PID)->socket);
}

static void test_is_guest_file(void)
{
    CU_ASSERT_TRUE(fleet_layout_is_guest_file("/s/vm1/pid", "/s", FLEET_FILE_PID));
    CU_ASSERT_FALSE(fleet_layout_is_guest_file("/s/vm1/pid", "/s", FLEET_FILE_QMP));
    CU_ASSERT_FALSE(fleet_layout_is_guest_file("/s/vm1/pid", "/s/vm1", FLEET_FILE_PID));
    CU_ASSERT_FALSE(fleet_layout_is_guest_file("/s/vm1/pid", "/", FLEET_FILE_PID));
    CU_ASSERT_FALSE(fleet_layout_is_guest_file("/s2/vm0/pid", "/s", FLEET_FILE_PID));
    CU_ASSERT_FALSE(fleet_layout_is_guest_file("/s//pid", "/s", FLEET_FILE_PID));
    CU_ASSERT_FALSE(fleet_layout_is_guest_file("/s/a/b/pid", "/s", FLEET_FILE_PID));
    CU_ASSERT_FALSE(fleet_layout_is_guest_file("/s/vm1/pid", "", FLEET_FILE_PID));
    CU_ASSERT_FALSE(fleet_layout_is_guest_file("/s/vm1", "/s", FLEET_FILE_GUEST_DIR));
}

static CU_TestInfo layout_tests[] = {
    {"paths", test_paths},
    {"bad arguments", test_bad_arguments},
    {"names", test_names},
    {"socket limit", test_socket_limit},
    {"buffer limit", test_buffer_limit},
    {"keys", test_keys},
    {"is guest file", test_is_guest_file},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet layout", NULL, NULL, NULL, NULL, layout_tests},
    CU_SUITE_INFO_NULL,
};
