/*
 * The fleet VM source on temporary state directories: what one scan accepts,
 * and that guests appearing and disappearing are noticed by the watcher.
 */
#include "cunit_main.h"
#include "vmsource_fleet.h"
#include "fleet_layout.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

static char *tmpdir;

static int setup(void)
{
    tmpdir = g_dir_make_tmp("ballast-fleet-XXXXXX", NULL);
    return tmpdir ? 0 : 1;
}

static void rm_rf(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    if (d) {
        const char *e;
        while ((e = g_dir_read_name(d))) {
            char *p = g_build_filename(path, e, NULL);
            rm_rf(p);
            g_free(p);
        }
        g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static int teardown(void)
{
    rm_rf(tmpdir);
    g_free(tmpdir);
    return 0;
}

/* A real unix socket file (bound, not listening: only its type matters to the scan). */
static void make_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}

static char *make_guest(const char *dir, const char *name, bool with_socket)
{
    char *gdir = g_build_filename(dir, name, NULL);
    g_mkdir(gdir, 0700);
    if (with_socket) {
        char *sock = g_build_filename(gdir, FLEET_QMP_SOCKET, NULL);
        make_socket(sock);
        g_free(sock);
    }
    return gdir;
}

static void write_pid(const char *gdir, const char *text)
{
    char *p = g_build_filename(gdir, FLEET_PID_FILE, NULL);
    g_file_set_contents(p, text, -1, NULL);
    g_free(p);
}

/* A pid that certainly names no process: a child that has been reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

static bool live_dead_and_booting(const char *name, void *ctx)
{
    (*(unsigned *)ctx)++;
    return strcmp(name, "dead") == 0 || strcmp(name, "booting") == 0;
}

static void test_scan(void)
{
    char *dir = g_build_filename(tmpdir, "scan", NULL);
    g_mkdir(dir, 0700);
    g_free(make_guest(dir, "vm1", true));
    g_free(make_guest(dir, "vm0", true));
    g_free(make_guest(dir, "booting", false)); /* no qmp.sock yet */
    g_free(make_guest(dir, ".hidden", true));
    g_free(make_guest(dir, "bad name", true));
    /* qmp.sock that is a regular file is not a QEMU. */
    char *fake = make_guest(dir, "fake", false);
    char *p = g_build_filename(fake, FLEET_QMP_SOCKET, NULL);
    g_file_set_contents(p, "x", 1, NULL);
    g_free(p);
    g_free(fake);
    /* A live pid keeps a guest; a dead pid removes it; a garbage pid file is no evidence. */
    char *live = make_guest(dir, "live", true);
    char buf[32];
    snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    write_pid(live, buf);
    g_free(live);
    char *dead = make_guest(dir, "dead", true);
    snprintf(buf, sizeof(buf), "%d\n", (int)dead_pid());
    write_pid(dead, buf);
    g_free(dead);
    char *garbled = make_guest(dir, "garbled", true);
    write_pid(garbled, "12ab");
    g_free(garbled);
    /* A plain file at top level is ignored. */
    p = g_build_filename(dir, "ballastd.log", NULL);
    g_file_set_contents(p, "", 0, NULL);
    g_free(p);

    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    CU_ASSERT_EQUAL(fleet_scan(dir, names, NULL, NULL), 0);
    const char *want[] = {"garbled", "live", "vm0", "vm1"}; /* sorted */
    CU_ASSERT_EQUAL_FATAL(names->len, G_N_ELEMENTS(want));
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        CU_ASSERT_STRING_EQUAL(names->pdata[i], want[i]);
    g_ptr_array_unref(names);

    /* Names the caller knows to be alive are kept unchecked: "dead" (stale
     * pid) and "booting" (no socket) stay; the predicate is asked only about
     * valid names (the 6 guests above, "fake" and the ballastd.log file). */
    names = g_ptr_array_new_with_free_func(g_free);
    unsigned asked = 0;
    CU_ASSERT_EQUAL(fleet_scan(dir, names, live_dead_and_booting, &asked), 0);
    const char *want_live[] = {"booting", "dead", "garbled", "live", "vm0", "vm1"};
    CU_ASSERT_EQUAL(asked, 8);
    CU_ASSERT_EQUAL_FATAL(names->len, G_N_ELEMENTS(want_live));
    for (size_t i = 0; i < G_N_ELEMENTS(want_live); i++)
        CU_ASSERT_STRING_EQUAL(names->pdata[i], want_live[i]);
    g_ptr_array_unref(names);

    names = g_ptr_array_new_with_free_func(g_free);
    char *missing = g_build_filename(tmpdir, "nope", NULL);
    CU_ASSERT_EQUAL(fleet_scan(missing, names, NULL, NULL), -ENOENT);
    CU_ASSERT_EQUAL(names->len, 0);
    g_free(missing);
    g_ptr_array_unref(names);
    g_free(dir);
}

/* --- watching ----------------------------------------------------------------------------- */

struct watch_log {
    GPtrArray *present; /* names currently added */
    int added, removed;
};

static void *ev_added(void *ctx, struct vmsource_vm *vm, const char *name)
{
    struct watch_log *w = ctx;
    w->added++;
    char *copy = g_strdup(name);
    g_ptr_array_add(w->present, copy);
    return copy;
}

static void ev_removed(void *ctx, void *cookie)
{
    struct watch_log *w = ctx;
    w->removed++;
    g_ptr_array_remove(w->present, cookie);
}

static void ev_backend(void *ctx, void *cookie, bool up)
{
}

static void ev_balloon(void *ctx, void *cookie, const struct vmsource_balloon *b)
{
}

static void ev_set_done(void *ctx, void *cookie, uint64_t target_bytes, const char *error)
{
}

static const struct vmsource_events events = {ev_added, ev_removed, ev_backend, ev_balloon,
                                              ev_set_done};

static gboolean on_timeout(gpointer data)
{
    *(bool *)data = true;
    return G_SOURCE_REMOVE;
}

/* Runs the main loop until cond holds or timeout_ms passes; returns the elapsed ms. */
static gint64 spin_until(bool (*cond)(struct watch_log *), struct watch_log *w, guint timeout_ms)
{
    bool expired = false;
    gint64 start = g_get_monotonic_time();
    guint id = g_timeout_add(timeout_ms, on_timeout, &expired);
    while (!cond(w) && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(id);
    return (g_get_monotonic_time() - start) / 1000;
}

static bool has_two(struct watch_log *w)
{
    return w->present->len == 2;
}

static bool has_none(struct watch_log *w)
{
    return w->present->len == 0;
}

static void test_watch(void)
{
    char *dir = g_build_filename(tmpdir, "watch", NULL);
    g_mkdir(dir, 0700);
    g_free(make_guest(dir, "vm0", true));

    struct watch_log w = {.present = g_ptr_array_new_with_free_func(g_free)};
    /* A slow rescan of 60 s: anything seen within the test came from inotify. */
    struct vmsource *src = vmsource_fleet_new(dir, 60000, &events, &w);
    GError *error = NULL;
    CU_ASSERT_EQUAL_FATAL(src->ops->start(src, &error), 0);
    CU_ASSERT_EQUAL(w.present->len, 1); /* the first scan runs inside start */

    /* The directory first, the socket a moment later, as QEMU does. */
    char *gdir = make_guest(dir, "vm1", false);
    spin_until(has_two, &w, 300);
    CU_ASSERT_EQUAL(w.present->len, 1);
    char *sock = g_build_filename(gdir, FLEET_QMP_SOCKET, NULL);
    make_socket(sock);
    gint64 ms = spin_until(has_two, &w, 3000);
    CU_ASSERT_EQUAL(w.present->len, 2);
    CU_ASSERT_TRUE(ms < 3000);

    /* The guest's QEMU dies: its pid file names a dead process. */
    char buf[32];
    snprintf(buf, sizeof(buf), "%d", (int)dead_pid());
    write_pid(gdir, buf);
    src->ops->rescan(src); /* the QMP hangup does this in ballastd */
    CU_ASSERT_EQUAL(w.present->len, 1);
    CU_ASSERT_EQUAL(w.removed, 1);

    /* A whole guest directory removed by `fleet stop` disappears without a rescan call. */
    char *g0 = g_build_filename(dir, "vm0", NULL);
    rm_rf(g0);
    spin_until(has_none, &w, 3000);
    CU_ASSERT_EQUAL(w.present->len, 0);
    CU_ASSERT_EQUAL(w.added, 2);
    CU_ASSERT_EQUAL(w.removed, 2);

    src->ops->free(src);
    g_ptr_array_unref(w.present);
    g_free(g0);
    g_free(sock);
    g_free(gdir);
    g_free(dir);
}

static CU_TestInfo fleet_tests[] = {
    {"scan accepts only live guests", test_scan},
    {"watch: appear, die, vanish", test_watch},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet_source", setup, teardown, NULL, NULL, fleet_tests},
    CU_SUITE_INFO_NULL,
};
