/*
 * systemd's readiness notification (host/daemon/service_notify.c): the
 * address forms of $NOTIFY_SOCKET, a datagram to a path and to an abstract
 * socket, and the real ballastd under a stand-in for systemd: READY=1 comes
 * once the control socket answers, STOPPING=1 on SIGTERM, and
 * $NOTIFY_SOCKET is not passed on.
 */
#include "cunit_main.h"
#include "service_notify.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

static char *tmpdir;

static int setup(void)
{
    tmpdir = g_dir_make_tmp("ballast-notify-XXXXXX", NULL);
    return tmpdir ? 0 : 1;
}

static int teardown(void)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    g_free(tmpdir);
    return rc == 0 ? 0 : 1;
}

static void test_address(void)
{
    struct sockaddr_un sa;
    socklen_t len;
    size_t base = offsetof(struct sockaddr_un, sun_path);
    CU_ASSERT_EQUAL(service_notify_address("/run/systemd/notify", &sa, &len), 0);
    CU_ASSERT_STRING_EQUAL(sa.sun_path, "/run/systemd/notify");
    CU_ASSERT_EQUAL(len, base + strlen("/run/systemd/notify") + 1);
    /* Abstract: "@name" is a NUL then the name, and the length has no NUL after it. */
    CU_ASSERT_EQUAL(service_notify_address("@sd-notify", &sa, &len), 0);
    CU_ASSERT_EQUAL(sa.sun_path[0], '\0');
    CU_ASSERT_EQUAL(memcmp(sa.sun_path + 1, "sd-notify", 9), 0);
    CU_ASSERT_EQUAL(len, base + 10);
    CU_ASSERT_EQUAL(service_notify_address("", &sa, &len), -EINVAL);
    CU_ASSERT_EQUAL(service_notify_address("@", &sa, &len), -EINVAL);
    CU_ASSERT_EQUAL(service_notify_address("run/notify", &sa, &len), -EINVAL);
    CU_ASSERT_EQUAL(service_notify_address(NULL, &sa, &len), -EINVAL);
    char path[sizeof(sa.sun_path) + 1];
    memset(path, 'a', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(sa.sun_path) - 1] = '\0'; /* 107 bytes and its NUL: fits */
    CU_ASSERT_EQUAL(service_notify_address(path, &sa, &len), 0);
    path[sizeof(sa.sun_path) - 1] = 'a';
    path[sizeof(sa.sun_path)] = '\0'; /* 108: no room for the NUL */
    CU_ASSERT_EQUAL(service_notify_address(path, &sa, &len), -ENAMETOOLONG);
    path[0] = '@'; /* abstract names need no NUL: 108 fit */
    CU_ASSERT_EQUAL(service_notify_address(path, &sa, &len), 0);
}

/* A datagram socket bound at name (a path, or "@name"); its fd. */
static int listen_notify(const char *name)
{
    struct sockaddr_un sa;
    socklen_t len;
    if (service_notify_address(name, &sa, &len) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The next datagram within timeout_ms, as a string ("" on timeout). */
static void recv_state(int fd, int timeout_ms, char *buf, size_t buf_len)
{
    buf[0] = '\0';
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return;
    ssize_t n = recv(fd, buf, buf_len - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
}

static void send_and_receive(const char *name)
{
    int fd = listen_notify(name);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    g_setenv(SERVICE_NOTIFY_ENV, name, TRUE);
    struct service_notify n;
    CU_ASSERT_EQUAL(service_notify_init(&n), 0);
    CU_ASSERT_TRUE(n.enabled);
    CU_ASSERT_PTR_NULL(g_getenv(SERVICE_NOTIFY_ENV)); /* children do not inherit it */
    CU_ASSERT_EQUAL(service_notify_send(&n, "READY=1"), 0);
    char buf[64];
    recv_state(fd, 1000, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "READY=1");
    close(fd);
}

static void test_path_socket(void)
{
    g_autofree char *path = g_build_filename(tmpdir, "notify", NULL);
    send_and_receive(path);
}

static void test_abstract_socket(void)
{
    g_autofree char *name = g_strdup_printf("@ballast-test-notify-%d", (int)getpid());
    send_and_receive(name);
}

static void test_unset_and_bad(void)
{
    struct service_notify n;
    g_unsetenv(SERVICE_NOTIFY_ENV);
    CU_ASSERT_EQUAL(service_notify_init(&n), 0);
    CU_ASSERT_FALSE(n.enabled);
    CU_ASSERT_EQUAL(service_notify_send(&n, "READY=1"), 0); /* nothing to tell */
    g_setenv(SERVICE_NOTIFY_ENV, "relative/notify", TRUE);
    CU_ASSERT_EQUAL(service_notify_init(&n), -EINVAL);
    CU_ASSERT_FALSE(n.enabled);
    g_autofree char *gone = g_build_filename(tmpdir, "nobody-listens", NULL);
    g_setenv(SERVICE_NOTIFY_ENV, gone, TRUE);
    CU_ASSERT_EQUAL(service_notify_init(&n), 0);
    CU_ASSERT_EQUAL(service_notify_send(&n, "READY=1"), -ENOENT);
}

/* Whether the control socket at path accepts a connection now. */
static bool control_answers(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Starts build/bin/ballastd on an empty fleet with NOTIFY_SOCKET=notify. */
static GPid start_ballastd(const char *notify, const char *ctl)
{
    g_autofree char *fleet = g_build_filename(tmpdir, "fleet", NULL);
    g_autofree char *conf = g_build_filename(tmpdir, "conf", NULL);
    g_autofree char *conf_file = g_build_filename(conf, "ballastd.conf", NULL);
    g_mkdir(fleet, 0700);
    g_mkdir(conf, 0700);
    g_file_set_contents(conf_file, "[ballastd]\nksm_mode = observe\n", -1, NULL);
    char *argv[] = {BALLAST_BIN_DIR "/ballastd",
                    "--fleet",
                    fleet,
                    "--socket",
                    (char *)ctl,
                    "--config-dir",
                    conf,
                    NULL};
    g_auto(GStrv) env = g_environ_setenv(g_get_environ(), SERVICE_NOTIFY_ENV, notify, TRUE);
    GPid pid = 0;
    g_autoptr(GError) error = NULL;
    if (!g_spawn_async(NULL, argv, env, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                       NULL, NULL, &pid, &error))
        fprintf(stderr, "\ncannot start ballastd: %s\n", error->message);
    return pid;
}

static void test_ballastd(void)
{
    g_autofree char *notify = g_build_filename(tmpdir, "systemd-notify", NULL);
    g_autofree char *ctl = g_build_filename(tmpdir, "ctl.sock", NULL);
    int fd = listen_notify(notify);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    GPid pid = start_ballastd(notify, ctl);
    CU_ASSERT_TRUE_FATAL(pid > 0);
    char buf[64];
    recv_state(fd, 10000, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "READY=1");
    /* Ready means ballastctl can connect: the socket is bound and listening. */
    CU_ASSERT_TRUE(control_answers(ctl));
    recv_state(fd, 200, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, ""); /* once, not per tick */
    kill(pid, SIGTERM);
    recv_state(fd, 10000, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "STOPPING=1");
    int status = -1;
    waitpid(pid, &status, 0);
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_spawn_close_pid(pid);
    struct stat st;
    CU_ASSERT_EQUAL(stat(ctl, &st), -1); /* removed on the way out */
    close(fd);
}

static CU_TestInfo notify_tests[] = {
    {"NOTIFY_SOCKET address forms", test_address},
    {"datagram to a path", test_path_socket},
    {"datagram to an abstract name", test_abstract_socket},
    {"unset, bad and unheard", test_unset_and_bad},
    {"ballastd: READY=1 once the control socket answers, STOPPING=1", test_ballastd},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"service_notify", setup, teardown, NULL, NULL, notify_tests},
    CU_SUITE_INFO_NULL,
};
