/*
 * ballastd's two socket ends on real unix sockets: the control server
 * (request lines, hostile clients, socket mode, stale sockets) and the agent
 * connection (handshake, reports, a guest that sends garbage, answers to
 * nothing, an ERROR of INT32_MIN, and more lines than its budget).
 */
#include "agent_conn.h"
#include "control.h"
#include "ctlserver.h"
#include "cunit_main.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

static char *tmpdir;
static struct fd_group *agents; /* the agents' group, as ballastd has one */
static GPtrArray *logged;       /* MESSAGE of every record */

static GLogWriterOutput capture(GLogLevelFlags level, const GLogField *fields, gsize n,
                                gpointer data)
{
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            g_ptr_array_add(logged, g_strdup(fields[i].value));
    return G_LOG_WRITER_HANDLED;
}

/* How many records so far contain `text`. */
static guint logged_count(const char *text)
{
    guint n = 0;
    for (guint i = 0; i < logged->len; i++)
        n += strstr(logged->pdata[i], text) != NULL;
    return n;
}

static int setup(void)
{
    tmpdir = g_dir_make_tmp("ballast-sock-XXXXXX", NULL);
    agents = fd_group_new();
    logged = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(capture, NULL, NULL);
    return tmpdir && agents ? 0 : 1;
}

static int teardown(void)
{
    GDir *d = g_dir_open(tmpdir, 0, NULL);
    const char *e;
    while (d && (e = g_dir_read_name(d))) {
        char *p = g_build_filename(tmpdir, e, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(tmpdir);
    g_free(tmpdir);
    fd_group_free(agents);
    g_ptr_array_unref(logged);
    return 0;
}

static int connect_to(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* --- control server ----------------------------------------------------------------------- */

/* The peer of the last request the handler saw (its socket path copied). */
static struct ctl_peer last_peer;
static char last_socket[256];

static char *handler(void *ctx, const struct ctl_peer *peer, const char *line, size_t len)
{
    (*(int *)ctx)++;
    last_peer = *peer;
    g_strlcpy(last_socket, peer->socket ? peer->socket : "", sizeof(last_socket));
    struct ctl_request req;
    const char *code;
    char *msg = NULL;
    if (ctl_request_parse(line, len, &req, &code, &msg) < 0) {
        char *r = ctl_reply_error(code, msg);
        g_free(msg);
        return r;
    }
    struct json_writer w;
    ctl_reply_begin(&w, g_string_new(NULL), req.cmd);
    json_writer_null(&w);
    return ctl_reply_end(&w);
}

struct client_job {
    char *path;
    GString *request;
    GString *reply;
    bool eof;
    bool expect_eof; /* wait for the server to hang up after the replies */
    int want_lines;
    gint done;
};

/* Runs in a thread: write the request, read until want_lines lines or EOF. */
static gpointer client_thread(gpointer data)
{
    struct client_job *j = data;
    int fd = connect_to(j->path);
    if (fd >= 0) {
        struct timeval tv = {.tv_sec = 5};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        /* The server may close before it read everything (too-long): ignore EPIPE. */
        for (size_t off = 0; off < j->request->len;) {
            ssize_t n = send(fd, j->request->str + off, j->request->len - off, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        char buf[4096];
        int lines = 0;
        while (lines < j->want_lines) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0) {
                j->eof = n == 0 || errno == ECONNRESET;
                break;
            }
            g_string_append_len(j->reply, buf, n);
            for (ssize_t i = 0; i < n; i++)
                lines += buf[i] == '\n';
        }
        if (lines >= j->want_lines && j->expect_eof) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            /* Closed with our unread bytes in its buffer: a reset, also a hang-up. */
            j->eof = n == 0 || (n < 0 && errno == ECONNRESET);
        }
        close(fd);
    }
    g_atomic_int_set(&j->done, 1);
    return NULL;
}

static void run_client(struct client_job *j)
{
    GThread *t = g_thread_new("client", client_thread, j);
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!g_atomic_int_get(&j->done) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, FALSE) ? 0 : g_usleep(1000);
    g_thread_join(t);
}

static void test_ctl_requests(void)
{
    char *path = g_build_filename(tmpdir, "ctl.sock", NULL);
    int calls = 0;
    GError *error = NULL;
    struct ctlserver *srv = ctlserver_new(path, handler, &calls, &error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_TRUE(S_ISSOCK(st.st_mode));
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

    /* Three requests in one write, one of them garbage, one unknown; blank lines ignored. */
    struct client_job j = {.path = path,
                           .request = g_string_new("{\"cmd\":\"ping\"}\n\n{oops\r\n"
                                                   "{\"cmd\":\"nope\"}\n"),
                           .reply = g_string_new(NULL),
                           .want_lines = 3};
    run_client(&j);
    gchar **lines = g_strsplit(j.reply->str, "\n", -1);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(lines), 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[0], "\"ok\":true"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[1], CTL_ERR_BAD_REQUEST));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], CTL_ERR_UNKNOWN_COMMAND));
    CU_ASSERT_EQUAL(calls, 3);
    g_strfreev(lines);

    /* A line that never ends: answered too-long, then the server hangs up. */
    struct client_job big = {.path = path,
                             .request = g_string_new(NULL),
                             .reply = g_string_new(NULL),
                             .want_lines = 1,
                             .expect_eof = true};
    for (int i = 0; i < CTL_MAX_LINE_BYTES + 4096; i++)
        g_string_append_c(big.request, 'x');
    run_client(&big);
    CU_ASSERT_PTR_NOT_NULL(strstr(big.reply->str, CTL_ERR_TOO_LONG));
    CU_ASSERT_TRUE(big.eof);
    CU_ASSERT_EQUAL(calls, 3); /* the handler never saw it */
    struct ctlserver_stats stats;
    ctlserver_get_stats(srv, &stats);
    CU_ASSERT_EQUAL(stats.too_long, 1);
    CU_ASSERT_EQUAL(stats.refused_peer, 0);

    /* The server still serves after both. */
    struct client_job again = {.path = path,
                               .request = g_string_new("{\"cmd\":\"status\"}\n"),
                               .reply = g_string_new(NULL),
                               .want_lines = 1};
    run_client(&again);
    CU_ASSERT_PTR_NOT_NULL(strstr(again.reply->str, "\"ok\":true"));

    /* A second daemon on the same socket is refused while the first lives. */
    struct ctlserver *dup = ctlserver_new(path, handler, &calls, &error);
    CU_ASSERT_PTR_NULL(dup);
    CU_ASSERT_TRUE(g_error_matches(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE));
    g_clear_error(&error);

    ctlserver_free(srv);
    CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0); /* removed on exit */
    g_string_free(j.request, TRUE);
    g_string_free(j.reply, TRUE);
    g_string_free(big.request, TRUE);
    g_string_free(big.reply, TRUE);
    g_string_free(again.request, TRUE);
    g_string_free(again.reply, TRUE);
    g_free(path);
}

static void test_ctl_stale(void)
{
    char *path = g_build_filename(tmpdir, "stale.sock", NULL);
    /* A socket file nobody listens on: what a killed ballastd leaves. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    int calls = 0;
    GError *error = NULL;
    struct ctlserver *srv = ctlserver_new(path, handler, &calls, &error);
    CU_ASSERT_PTR_NOT_NULL(srv);
    ctlserver_free(srv);

    /* A regular file is never removed. */
    g_file_set_contents(path, "keep", 4, NULL);
    srv = ctlserver_new(path, handler, &calls, &error);
    CU_ASSERT_PTR_NULL(srv);
    g_clear_error(&error);
    CU_ASSERT_EQUAL(access(path, F_OK), 0);
    g_unlink(path);
    g_free(path);
}

/* Runs the main context for ms; returns how many iterations dispatched something. */
static unsigned spin_for(int ms)
{
    unsigned dispatched = 0;
    gint64 end = g_get_monotonic_time() + ms * 1000LL;
    while (g_get_monotonic_time() < end) {
        if (g_main_context_iteration(NULL, FALSE))
            dispatched++;
        else
            g_usleep(1000);
    }
    return dispatched;
}

/*
 * Out of file descriptors (EMFILE): the server stops watching its socket
 * for CTLSERVER_ACCEPT_PAUSE_MS instead of being woken at once, forever,
 * by the connection waiting in the backlog; it says so once, and accepts
 * the waiting clients when descriptors are free again.
 */
static void test_ctl_emfile(void)
{
    CU_ASSERT_TRUE(ctlserver_accept_pauses(EMFILE));
    CU_ASSERT_TRUE(ctlserver_accept_pauses(ENFILE));
    CU_ASSERT_TRUE(ctlserver_accept_pauses(ENOBUFS));
    CU_ASSERT_TRUE(ctlserver_accept_pauses(ENOMEM));
    CU_ASSERT_FALSE(ctlserver_accept_pauses(EAGAIN));
    CU_ASSERT_FALSE(ctlserver_accept_pauses(ECONNABORTED));
    CU_ASSERT_FALSE(ctlserver_accept_pauses(EINTR));

    g_autofree char *path = g_build_filename(tmpdir, "emfile.sock", NULL);
    int calls = 0;
    struct ctlserver *srv = ctlserver_new(path, handler, &calls, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    /* The clients' sockets are made while there are descriptors; they
     * connect once there are none (connect needs none). */
    int cl[4];
    for (int i = 0; i < 4; i++)
        cl[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct rlimit old;
    CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest_free = fcntl(0, F_DUPFD_CLOEXEC, 0);
    CU_ASSERT_FATAL(lowest_free > 0);
    close(lowest_free);
    struct rlimit none = {.rlim_cur = (rlim_t)lowest_free, .rlim_max = old.rlim_max};
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &none), 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(connect(cl[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
    guint warned = logged_count("control: cannot accept a connection");

    /* 300 ms without descriptors: one pause, not a busy loop. */
    unsigned dispatched = spin_for(300);
    struct ctlserver_stats st;
    ctlserver_get_stats(srv, &st);
    CU_ASSERT_TRUE(dispatched <= 3);
    CU_ASSERT_EQUAL(st.accept_pauses, 1);
    CU_ASSERT_EQUAL(st.accepted, 0);
    CU_ASSERT_EQUAL(logged_count("control: cannot accept a connection") - warned, 1);

    /* Still none after the pause: paused again, said no more. */
    spin_for(CTLSERVER_ACCEPT_PAUSE_MS + 200);
    ctlserver_get_stats(srv, &st);
    CU_ASSERT_TRUE(st.accept_pauses >= 2);
    CU_ASSERT_EQUAL(logged_count("control: cannot accept a connection") - warned, 1);

    /* Descriptors again: the waiting clients are accepted, and that is said. */
    CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &old), 0);
    spin_for(CTLSERVER_ACCEPT_PAUSE_MS + 300);
    ctlserver_get_stats(srv, &st);
    CU_ASSERT_EQUAL(st.accepted, 4);
    CU_ASSERT_EQUAL(logged_count("control: accepting connections again"), 1);
    for (int i = 0; i < 4; i++)
        close(cl[i]);
    spin_for(50);
    ctlserver_free(srv);
}

/* The read-only socket: mode 0666 (no group), every request marked
 * read_only with the caller's uid and pid and the read-write socket's path;
 * the read-write socket marks them not read_only. */
static void test_ctl_read_only(void)
{
    char *rw = g_build_filename(tmpdir, "rw.sock", NULL);
    g_autofree char *ro = ctl_ro_socket_path(rw);
    CU_ASSERT_TRUE(g_str_has_suffix(ro, "/rw.ro.sock"));
    int calls = 0;
    GError *error = NULL;
    struct ctlserver *srv = ctlserver_new(rw, handler, &calls, &error);
    struct ctlserver *rsrv = ctlserver_new_ro(ro, rw, (gid_t)-1, handler, &calls, &error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rsrv);
    struct stat st;
    CU_ASSERT_EQUAL(stat(ro, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0666);
    CU_ASSERT_EQUAL(stat(rw, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

    struct client_job j = {.path = (char *)ro,
                           .request = g_string_new("{\"cmd\":\"status\"}\n"),
                           .reply = g_string_new(NULL),
                           .want_lines = 1};
    run_client(&j);
    CU_ASSERT_EQUAL(calls, 1);
    CU_ASSERT_TRUE(last_peer.read_only);
    CU_ASSERT_EQUAL(last_peer.uid, geteuid());
    CU_ASSERT_EQUAL(last_peer.pid, getpid()); /* the client is a thread of this process */
    CU_ASSERT_STRING_EQUAL(last_socket, rw);

    struct client_job k = {.path = rw,
                           .request = g_string_new("{\"cmd\":\"status\"}\n"),
                           .reply = g_string_new(NULL),
                           .want_lines = 1};
    run_client(&k);
    CU_ASSERT_EQUAL(calls, 2);
    CU_ASSERT_FALSE(last_peer.read_only);
    CU_ASSERT_STRING_EQUAL(last_socket, rw);

    /* With a group: mode 0660 and the socket's group is it (our own group: no privilege needed). */
    ctlserver_free(rsrv);
    CU_ASSERT_NOT_EQUAL(access(ro, F_OK), 0);
    rsrv = ctlserver_new_ro(ro, rw, getegid(), handler, &calls, &error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rsrv);
    CU_ASSERT_EQUAL(stat(ro, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0660);
    CU_ASSERT_EQUAL(st.st_gid, getegid());
    ctlserver_free(rsrv);
    ctlserver_free(srv);
    for (struct client_job *c = &j; c; c = c == &j ? &k : NULL) {
        g_string_free(c->request, TRUE);
        g_string_free(c->reply, TRUE);
    }
    g_free(rw);
}

/* --- agent connection --------------------------------------------------------------------- */

struct agent_log {
    int reports, pressures, ups, downs;
    uint64_t last_available;
    uint32_t last_valid_mask;
    uint64_t last_shmem, last_vmalloc;
};

static void ag_report(void *ctx, const struct proto_report *r, bool pressure, uint32_t triggers)
{
    struct agent_log *l = ctx;
    if (pressure)
        l->pressures++;
    else
        l->reports++;
    l->last_available = r->mem_available_bytes;
    l->last_valid_mask = r->valid_mask;
    l->last_shmem = r->shmem_bytes;
    l->last_vmalloc = r->vmalloc_used_bytes;
}

static void ag_state(void *ctx, bool up)
{
    struct agent_log *l = ctx;
    if (up)
        l->ups++;
    else
        l->downs++;
}

static const struct agent_events ag_events = {ag_report, ag_state};

static void send_frame(int fd, struct proto_frame *f)
{
    uint8_t buf[PROTO_MAX_FRAME_BYTES];
    int n = proto_encode(f, buf, sizeof(buf));
    CU_ASSERT_TRUE_FATAL(n > 0);
    CU_ASSERT_EQUAL(send(fd, buf, (size_t)n, MSG_NOSIGNAL), n);
}

static void pump(guint ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    while (g_get_monotonic_time() < end)
        g_main_context_iteration(NULL, FALSE) ? 0 : g_usleep(1000);
}

/* A listening "QEMU chardev" and an agent_conn connected to it; returns the accepted fd. */
static int open_pair(const char *name, int *lfd, struct agent_conn *a, struct agent_log *log)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    *lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    CU_ASSERT_EQUAL(bind(*lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    CU_ASSERT_EQUAL(listen(*lfd, 4), 0);
    struct proto_config cfg = {.report_interval_ms = 1000};
    CU_ASSERT_EQUAL(agent_conn_init(a, agents, "test", path, &cfg, &ag_events, log), 0);
    agent_conn_start(a);
    CU_ASSERT_EQUAL(a->state, AGENT_CONNECTED);
    int fd = accept(*lfd, NULL, NULL);
    CU_ASSERT_TRUE(fd >= 0);
    g_free(path);
    return fd;
}

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1;
}

/* An agent's HELLO offering protocol versions min..max (a v1 frame). */
static void hello_versions(int fd, uint16_t min, uint16_t max)
{
    struct proto_frame f = {.type = PROTO_HELLO};
    f.u.hello.agent_version = 0x000100;
    f.u.hello.page_size_bytes = 4096;
    f.u.hello.capabilities = PROTO_CAP_ALL;
    f.u.hello.proto_version_min = min;
    f.u.hello.proto_version_max = max;
    send_frame(fd, &f);
}

/* An agent from before protocol v2: it speaks v1 only. */
static void hello(int fd)
{
    hello_versions(fd, 1, 1);
}

static void test_agent_handshake(void)
{
    struct agent_conn a;
    struct agent_log log = {0};
    int lfd;
    int fd = open_pair("agent0.sock", &lfd, &a, &log);
    hello(fd);
    pump(50);
    CU_ASSERT_EQUAL(a.state, AGENT_READY);
    CU_ASSERT_EQUAL(log.ups, 1);
    /* WELCOME then CONFIG come back. */
    CU_ASSERT_TRUE_FATAL(readable(fd, 1000));
    uint8_t buf[2 * PROTO_MAX_FRAME_BYTES];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    struct proto_frame f;
    size_t used;
    CU_ASSERT_EQUAL_FATAL(proto_decode(buf, (size_t)n, &f, &used), 0);
    CU_ASSERT_EQUAL(f.type, PROTO_WELCOME);
    CU_ASSERT_EQUAL(f.u.welcome.proto_version, 1);
    CU_ASSERT_EQUAL(f.version, 1); /* an old agent gets v1 frames only */
    CU_ASSERT_EQUAL(proto_decode(buf + used, (size_t)n - used, &f, &used), 0);
    CU_ASSERT_EQUAL(f.type, PROTO_CONFIG);
    CU_ASSERT_EQUAL(f.version, 1);
    CU_ASSERT_EQUAL(f.u.config.report_interval_ms, 1000);
    CU_ASSERT_EQUAL(a.proto_version, 1);

    struct proto_frame r = {.type = PROTO_REPORT};
    r.u.report.valid_mask = PROTO_R_BIT(PROTO_R_MEM_AVAILABLE);
    r.u.report.mem_available_bytes = 42 << 20;
    send_frame(fd, &r);
    struct proto_frame p = {.type = PROTO_PRESSURE};
    p.u.pressure.triggers = PROTO_TRIGGER_SOME;
    send_frame(fd, &p);
    pump(50);
    CU_ASSERT_EQUAL(log.reports, 1);
    CU_ASSERT_EQUAL(log.pressures, 1);
    CU_ASSERT_EQUAL(a.frames, 3);
    CU_ASSERT_EQUAL(a.rejects, 0);
    CU_ASSERT_EQUAL(agent_conn_send_reclaim(&a, 1 << 20), 0);
    CU_ASSERT_TRUE(readable(fd, 1000));
    n = recv(fd, buf, sizeof(buf), 0);
    CU_ASSERT_EQUAL(proto_decode(buf, (size_t)n, &f, &used), 0);
    CU_ASSERT_EQUAL(f.type, PROTO_RECLAIM);
    CU_ASSERT_EQUAL(f.version, 1);
    CU_ASSERT_EQUAL(f.u.reclaim.request_bytes, 1 << 20);

    /* Now the guest turns hostile: garbage gets it disconnected and counted. */
    const char junk[] = "GET / HTTP/1.0\r\n\r\n";
    CU_ASSERT_EQUAL(send(fd, junk, sizeof(junk) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(junk) - 1);
    pump(50);
    CU_ASSERT_EQUAL(a.state, AGENT_DOWN);
    CU_ASSERT_EQUAL(a.rejects, 1);
    CU_ASSERT_EQUAL(log.downs, 1);
    CU_ASSERT_TRUE(a.retry_id != 0);                             /* it will try again ... */
    CU_ASSERT_TRUE(a.backoff_ms >= AGENT_REJECT_BACKOFF_MIN_MS); /* ... but not soon */
    CU_ASSERT_TRUE(readable(fd, 1000));
    CU_ASSERT_EQUAL(recv(fd, buf, sizeof(buf), 0), 0); /* we hung up */
    agent_conn_stop(&a);
    CU_ASSERT_EQUAL(a.retry_id, 0);
    close(fd);
    close(lfd);
}

/* Decodes the frames waiting on fd into out[] (up to max); returns how many. */
static int read_frames(int fd, struct proto_frame *out, int max)
{
    uint8_t buf[4 * PROTO_MAX_FRAME_BYTES];
    if (!readable(fd, 1000))
        return 0;
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    int got = 0;
    size_t off = 0, used;
    while (n > 0 && got < max && off < (size_t)n &&
           proto_decode(buf + off, (size_t)n - off, &out[got], &used) == 0) {
        got++;
        off += used;
    }
    return got;
}

/*
 * A v2 agent (HELLO 1..2): WELCOME, itself a v1 frame, chooses 2 and every
 * frame after it is v2; v2 reports bring the split, a v1 report (sent before
 * the agent saw the WELCOME) is still a good report, without it. The agent
 * restarts behind the same port as an older one (HELLO 1..1): back to v1.
 */
static void test_agent_versions(void)
{
    struct agent_conn a;
    struct agent_log log = {0};
    int lfd;
    int fd = open_pair("agent2.sock", &lfd, &a, &log);
    hello_versions(fd, 1, 2);
    struct proto_frame r1 = {.type = PROTO_REPORT}; /* sent before it read WELCOME */
    r1.u.report.valid_mask = PROTO_R_BIT(PROTO_R_MEM_AVAILABLE);
    r1.u.report.mem_available_bytes = 1 << 20;
    send_frame(fd, &r1);
    pump(50);
    CU_ASSERT_EQUAL_FATAL(a.state, AGENT_READY);
    CU_ASSERT_EQUAL(a.proto_version, 2);
    CU_ASSERT_EQUAL(log.reports, 1);
    struct proto_frame f[4];
    CU_ASSERT_EQUAL_FATAL(read_frames(fd, f, 4), 2);
    CU_ASSERT_EQUAL(f[0].type, PROTO_WELCOME);
    CU_ASSERT_EQUAL(f[0].version, 1);
    CU_ASSERT_EQUAL(f[0].u.welcome.proto_version, 2);
    CU_ASSERT_EQUAL(f[1].type, PROTO_CONFIG);
    CU_ASSERT_EQUAL(f[1].version, 2);

    struct proto_frame r = {.type = PROTO_REPORT, .version = 2};
    r.u.report.valid_mask = PROTO_R_BIT(PROTO_R_MEM_AVAILABLE) | PROTO_R_BIT(PROTO_R_SHMEM) |
                            PROTO_R_BIT(PROTO_R_VMALLOC_USED);
    r.u.report.mem_available_bytes = 2 << 20;
    r.u.report.shmem_bytes = 3 << 20;
    r.u.report.vmalloc_used_bytes = 7 << 20;
    send_frame(fd, &r);
    pump(50);
    CU_ASSERT_EQUAL(log.reports, 2);
    CU_ASSERT_EQUAL(log.last_shmem, 3 << 20);
    CU_ASSERT_EQUAL(log.last_vmalloc, 7 << 20);
    CU_ASSERT_EQUAL(log.last_valid_mask, r.u.report.valid_mask);
    struct proto_frame p = {.type = PROTO_PRESSURE, .version = 2};
    p.u.pressure.report = r.u.report;
    p.u.pressure.report.shmem_bytes = 4 << 20;
    p.u.pressure.triggers = PROTO_TRIGGER_SOME;
    send_frame(fd, &p);
    send_frame(fd, &r1); /* a v1 report again: fine, and without the split */
    pump(50);
    CU_ASSERT_EQUAL(log.pressures, 1);
    CU_ASSERT_EQUAL(log.reports, 3);
    CU_ASSERT_EQUAL(log.last_shmem, 0);
    CU_ASSERT_EQUAL(log.last_valid_mask, PROTO_R_BIT(PROTO_R_MEM_AVAILABLE));
    CU_ASSERT_EQUAL(a.rejects, 0);
    CU_ASSERT_EQUAL(agent_conn_send_reclaim(&a, 1 << 20), 0);
    CU_ASSERT_EQUAL_FATAL(read_frames(fd, f, 4), 1);
    CU_ASSERT_EQUAL(f[0].type, PROTO_RECLAIM);
    CU_ASSERT_EQUAL(f[0].version, 2);

    /* The guest's agent restarts as an older build behind the same port. */
    hello(fd);
    pump(50);
    CU_ASSERT_EQUAL(a.proto_version, 1);
    CU_ASSERT_EQUAL_FATAL(read_frames(fd, f, 4), 2);
    CU_ASSERT_EQUAL(f[0].u.welcome.proto_version, 1);
    CU_ASSERT_EQUAL(f[1].type, PROTO_CONFIG);
    CU_ASSERT_EQUAL(f[1].version, 1);
    CU_ASSERT_EQUAL(agent_conn_send_reclaim(&a, 1 << 20), 0);
    CU_ASSERT_EQUAL_FATAL(read_frames(fd, f, 4), 1);
    CU_ASSERT_EQUAL(f[0].version, 1);
    CU_ASSERT_EQUAL(a.rejects, 0);
    agent_conn_stop(&a);
    close(fd);
    close(lfd);

    /* A newer agent (HELLO 1..5) gets the newest this host speaks. */
    fd = open_pair("agent5.sock", &lfd, &a, &log);
    hello_versions(fd, 1, 5);
    pump(50);
    CU_ASSERT_EQUAL(a.state, AGENT_READY);
    CU_ASSERT_EQUAL(a.proto_version, PROTO_VERSION_MAX);
    CU_ASSERT_EQUAL_FATAL(read_frames(fd, f, 4), 2);
    CU_ASSERT_EQUAL(f[0].u.welcome.proto_version, PROTO_VERSION_MAX);
    agent_conn_stop(&a);
    close(fd);
    close(lfd);
}

/* Reads the frames waiting on fd; returns how many of type. */
static int count_frames(int fd, unsigned type)
{
    uint8_t buf[4 * PROTO_MAX_FRAME_BYTES];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    int found = 0;
    size_t off = 0, used;
    struct proto_frame f;
    while (n > 0 && off < (size_t)n && proto_decode(buf + off, (size_t)n - off, &f, &used) == 0) {
        found += f.type == type;
        off += used;
    }
    return found;
}

/* Polled reporting: WELCOME grants POLL only with QUIET and only when the
 * owner allows it; with the agents' group paused after the POLL, the answer
 * waits for the owner's dispatch, which reads it at once. */
static void test_agent_poll_collect(void)
{
    struct agent_conn a;
    struct agent_log log = {0};
    int lfd;
    int fd = open_pair("agentp.sock", &lfd, &a, &log);
    a.allow_quiet = true;
    a.allow_poll = true;
    hello(fd);
    pump(50);
    CU_ASSERT_EQUAL_FATAL(a.state, AGENT_READY);
    CU_ASSERT_EQUAL(a.capabilities & (PROTO_CAP_QUIET | PROTO_CAP_POLL),
                    PROTO_CAP_QUIET | PROTO_CAP_POLL);
    CU_ASSERT_TRUE(agent_conn_pollable(&a));
    CU_ASSERT_TRUE(readable(fd, 1000));
    count_frames(fd, PROTO_WELCOME); /* WELCOME + CONFIG */

    CU_ASSERT_EQUAL(agent_conn_poll(&a), 0);
    CU_ASSERT_EQUAL(a.polls, 1);
    fd_group_pause(agents, true);
    CU_ASSERT_TRUE(readable(fd, 1000));
    CU_ASSERT_EQUAL(count_frames(fd, PROTO_POLL), 1);
    struct proto_frame r = {.type = PROTO_REPORT};
    r.u.report.valid_mask = PROTO_R_BIT(PROTO_R_MEM_AVAILABLE);
    r.u.report.mem_available_bytes = 7 << 20;
    send_frame(fd, &r);
    pump(50);
    CU_ASSERT_EQUAL(log.reports, 0); /* paused: the answer waits */
    fd_group_dispatch(agents);
    CU_ASSERT_EQUAL(log.reports, 1); /* read at once, no main loop turn needed */
    CU_ASSERT_EQUAL(log.last_available, 7 << 20);
    fd_group_pause(agents, false);
    send_frame(fd, &r); /* and watched again */
    pump(50);
    CU_ASSERT_EQUAL(log.reports, 2);
    fd_group_dispatch(agents); /* nothing waiting: nothing happens */
    CU_ASSERT_EQUAL(log.reports, 2);
    agent_conn_stop(&a);
    close(fd);
    close(lfd);

    /* Not allowed to poll: no POLL in WELCOME, and poll refuses. */
    fd = open_pair("agentq.sock", &lfd, &a, &log);
    a.allow_quiet = true;
    hello(fd);
    pump(50);
    CU_ASSERT_EQUAL(a.capabilities & (PROTO_CAP_QUIET | PROTO_CAP_POLL), PROTO_CAP_QUIET);
    CU_ASSERT_FALSE(agent_conn_pollable(&a));
    CU_ASSERT_EQUAL(agent_conn_poll(&a), -EOPNOTSUPP);
    CU_ASSERT_EQUAL(a.polls, 0);
    agent_conn_stop(&a);
    close(fd);
    close(lfd);

    /* POLL without QUIET means nothing: not granted. */
    fd = open_pair("agentr.sock", &lfd, &a, &log);
    a.allow_poll = true;
    hello(fd);
    pump(50);
    CU_ASSERT_EQUAL(a.capabilities & (PROTO_CAP_QUIET | PROTO_CAP_POLL), 0);
    CU_ASSERT_EQUAL(agent_conn_poll(&a), -EOPNOTSUPP);
    agent_conn_stop(&a);
    CU_ASSERT_EQUAL(agent_conn_poll(&a), -ENOTCONN);
    close(fd);
    close(lfd);
}

static void test_agent_violations(void)
{
    /* Each of these gets the agent disconnected as misbehaving. */
    for (int kind = 0; kind < 7; kind++) {
        struct agent_conn a;
        struct agent_log log = {0};
        int lfd;
        char name[32];
        snprintf(name, sizeof(name), "agentv%d.sock", kind);
        int fd = open_pair(name, &lfd, &a, &log);
        if (kind == 0) { /* a report before HELLO */
            struct proto_frame r = {.type = PROTO_REPORT};
            send_frame(fd, &r);
        } else if (kind == 1) { /* a host-bound frame type from the guest */
            hello(fd);
            struct proto_frame w = {.type = PROTO_RECLAIM};
            send_frame(fd, &w);
        } else if (kind == 2) { /* a valid magic with an absurd length */
            uint8_t hdr[PROTO_HEADER_BYTES] = {
                PROTO_MAGIC0, PROTO_MAGIC1, PROTO_MAGIC2, PROTO_MAGIC3, 1, PROTO_REPORT};
            hdr[8] = 0xff; /* payload_length, little-endian */
            hdr[9] = 0xff;
            hdr[10] = 0xff;
            send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL);
        } else if (kind == 3) { /* the host's POLL, from the guest */
            hello(fd);
            struct proto_frame p = {.type = PROTO_POLL};
            send_frame(fd, &p);
        } else if (kind == 5) { /* only versions this host does not speak */
            hello_versions(fd, PROTO_VERSION_MAX + 1, PROTO_VERSION_MAX + 3);
        } else if (kind == 6) { /* a range that is empty */
            hello_versions(fd, 2, 1);
        } else { /* a flood of valid reports */
            hello(fd);
            for (int i = 0; i < AGENT_MAX_FRAMES_PER_S + 10; i++) {
                struct proto_frame r = {.type = PROTO_REPORT};
                send_frame(fd, &r);
            }
        }
        pump(100);
        CU_ASSERT_EQUAL(a.state, AGENT_DOWN);
        CU_ASSERT_EQUAL(a.rejects, 1);
        if (a.rejects != 1)
            fprintf(stderr, "violation %d not rejected\n", kind);
        agent_conn_stop(&a);
        close(fd);
        close(lfd);
    }
}

/* HELLO with these capabilities (PROTO_CAP_ALL less what the test takes away). */
static void hello_caps(int fd, uint32_t caps)
{
    struct proto_frame f = {.type = PROTO_HELLO};
    f.u.hello.agent_version = 0x000100;
    f.u.hello.page_size_bytes = 4096;
    f.u.hello.capabilities = caps;
    f.u.hello.proto_version_min = 1;
    f.u.hello.proto_version_max = 1;
    send_frame(fd, &f);
}

static void send_ack(int fd, uint32_t ref_seq, uint32_t ref_type)
{
    struct proto_frame f = {.type = PROTO_ACK};
    f.u.ack.ref_seq = ref_seq;
    f.u.ack.ref_type = ref_type;
    send_frame(fd, &f);
}

static void send_error(int fd, uint32_t ref_seq, uint32_t ref_type, int32_t error)
{
    struct proto_frame f = {.type = PROTO_ERROR};
    f.u.error.ref_seq = ref_seq;
    f.u.error.ref_type = ref_type;
    f.u.error.error = error;
    send_frame(fd, &f);
}

/*
 * Well-formed frames nobody asked for: an ACK of a CONFIG already answered,
 * a RECLAIM_DONE with no RECLAIM outstanding, PRESSURE from an agent that
 * did not advertise it. Each is ignored (no report reaches the owner) and
 * counted, the connection stays for a few (reports still arrive), and the
 * AGENT_MAX_VIOLATIONS-th drops it as a reject. The answers it did ask for
 * (the ACK of its CONFIG, the RECLAIM_DONE of its RECLAIM) are taken.
 */
static void test_agent_unsolicited(void)
{
    struct agent_conn a;
    struct agent_log log = {0};
    int lfd;
    int fd = open_pair("agentu.sock", &lfd, &a, &log);
    hello_caps(fd, PROTO_CAP_ALL & ~PROTO_CAP_PRESSURE);
    pump(50);
    CU_ASSERT_EQUAL_FATAL(a.state, AGENT_READY);
    CU_ASSERT_TRUE(readable(fd, 1000));
    CU_ASSERT_EQUAL(count_frames(fd, PROTO_CONFIG), 1); /* WELCOME seq 1, CONFIG seq 2 */
    send_ack(fd, 2, PROTO_CONFIG);                      /* asked for */
    pump(50);
    CU_ASSERT_EQUAL(a.violations, 0);
    CU_ASSERT_EQUAL(agent_conn_send_reclaim(&a, 1 << 20), 0); /* seq 3 */
    struct proto_frame done = {.type = PROTO_RECLAIM_DONE};
    done.u.reclaim_done.ref_seq = 3;
    send_frame(fd, &done); /* asked for */
    pump(50);
    CU_ASSERT_EQUAL(a.violations, 0);

    send_ack(fd, 2, PROTO_CONFIG); /* the same CONFIG again */
    send_frame(fd, &done);         /* the same RECLAIM again */
    struct proto_frame p = {.type = PROTO_PRESSURE};
    p.u.pressure.triggers = PROTO_TRIGGER_SOME;
    send_frame(fd, &p); /* not advertised */
    struct proto_frame r = {.type = PROTO_REPORT};
    send_frame(fd, &r);
    pump(50);
    CU_ASSERT_EQUAL(a.violations, 3);
    CU_ASSERT_EQUAL(a.state, AGENT_READY);
    CU_ASSERT_EQUAL(log.pressures, 0); /* ignored */
    CU_ASSERT_EQUAL(log.reports, 1);   /* the connection still serves */
    CU_ASSERT_EQUAL(a.rejects, 0);
    CU_ASSERT_EQUAL(logged_count("protocol violation ignored"), 3);
    send_error(fd, 77, PROTO_POLL, -EINVAL); /* the fourth */
    pump(50);
    CU_ASSERT_EQUAL(a.violations, 4);
    CU_ASSERT_EQUAL(a.state, AGENT_DOWN);
    CU_ASSERT_EQUAL(a.rejects, 1);
    CU_ASSERT_EQUAL(logged_count("too many protocol violations"), 1);
    agent_conn_stop(&a);
    close(fd);
    close(lfd);
}

/* An ERROR whose errno is INT32_MIN: negating it was undefined behaviour;
 * now it is "not an errno", said as such. */
static void test_agent_error_int32_min(void)
{
    struct agent_conn a;
    struct agent_log log = {0};
    int lfd;
    int fd = open_pair("agentm.sock", &lfd, &a, &log);
    hello(fd);
    pump(50);
    CU_ASSERT_EQUAL_FATAL(a.state, AGENT_READY);
    send_error(fd, 2, PROTO_CONFIG, INT32_MIN);
    pump(50);
    CU_ASSERT_EQUAL(a.state, AGENT_READY);
    CU_ASSERT_EQUAL(a.violations, 0);
    CU_ASSERT_EQUAL(logged_count("refused our CONFIG: not an errno (-2147483648)"), 1);
    agent_conn_stop(&a);
    close(fd);
    close(lfd);
}

/*
 * A guest that makes ballastd write lines: each HELLO is answered with a
 * CONFIG, which the guest refuses with an ERROR - 40 times. Only
 * LOG_LIMIT_BURST lines are written, the rest counted (status:
 * guest_log_suppressed), and the next line written later says how many
 * were held back.
 */
static void test_agent_log_budget(void)
{
    struct agent_conn a;
    struct agent_log log = {0};
    int lfd;
    int fd = open_pair("agentl.sock", &lfd, &a, &log);
    guint before = logged_count("refused our CONFIG");
    for (uint32_t i = 0; i < 40; i++) {
        hello(fd);
        send_error(fd, 2 + 2 * i, PROTO_CONFIG, -EINVAL); /* WELCOME, CONFIG per HELLO */
        if (i % 8 == 7)
            pump(20);
    }
    pump(100);
    CU_ASSERT_EQUAL(a.state, AGENT_READY);
    CU_ASSERT_EQUAL(a.violations, 0);
    CU_ASSERT_EQUAL(logged_count("refused our CONFIG") - before, LOG_LIMIT_BURST);
    CU_ASSERT_EQUAL(a.log.held_total, 40 - LOG_LIMIT_BURST);
    /* Ten seconds later (as the bucket sees it) the next line says so. */
    a.log.refill_ms -= LOG_LIMIT_REFILL_MS;
    hello(fd);
    send_error(fd, 82, PROTO_CONFIG, -EINVAL);
    pump(50);
    CU_ASSERT_EQUAL(logged_count("(35 earlier lines from this guest held back)"), 1);
    agent_conn_stop(&a);
    close(fd);
    close(lfd);
}

static void test_agent_absent(void)
{
    /* No socket at all: no crash, a retry is scheduled, nothing counted as a reject. */
    struct agent_conn a;
    struct agent_log log = {0};
    struct proto_config cfg = {.report_interval_ms = 1000};
    char *path = g_build_filename(tmpdir, "missing.sock", NULL);
    CU_ASSERT_EQUAL(agent_conn_init(&a, agents, "absent", path, &cfg, &ag_events, &log), 0);
    agent_conn_start(&a);
    CU_ASSERT_EQUAL(a.state, AGENT_DOWN);
    CU_ASSERT_TRUE(a.retry_id != 0);
    CU_ASSERT_EQUAL(a.rejects, 0);
    agent_conn_stop(&a);
    g_free(path);

    char long_path[200];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    CU_ASSERT_EQUAL(agent_conn_init(&a, agents, "long", long_path, &cfg, &ag_events, &log),
                    -ENAMETOOLONG);
}

static CU_TestInfo socket_tests[] = {
    {"control: requests, garbage, too long, second daemon", test_ctl_requests},
    {"control: stale socket replaced, regular file kept", test_ctl_stale},
    {"control: out of file descriptors, accepting pauses", test_ctl_emfile},
    {"control: read-only socket, peers and modes", test_ctl_read_only},
    {"agent: handshake, reports, garbage disconnects", test_agent_handshake},
    {"agent: protocol violations", test_agent_violations},
    {"agent: v1 and v2 agents, an agent restarting older", test_agent_versions},
    {"agent: answers to nothing, PRESSURE without the capability", test_agent_unsolicited},
    {"agent: an ERROR of INT32_MIN", test_agent_error_int32_min},
    {"agent: a guest's lines within its budget", test_agent_log_budget},
    {"agent: poll, then collect the answer", test_agent_poll_collect},
    {"agent: no socket", test_agent_absent},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"sockets", setup, teardown, NULL, NULL, socket_tests},
    CU_SUITE_INFO_NULL,
};
