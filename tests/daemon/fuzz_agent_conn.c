/*
 * fuzz.daemon.agent_conn: a guest's byte stream through ballastd's own end
 * of the agent channel (agent_conn.c: the stream decoder, agent_frames.c's
 * state machine, the flood and violation limits, the line budget), with
 * the host's own RECLAIM and POLL interleaved, hang-ups and reconnects.
 * ballastd connects to a real unix socket as to a guest's port, and what
 * it sends travels that socket; the guest's bytes go in as its read
 * handler hands them on (agent_conn_input: one read per stream buffer's
 * room), and a hang-up is read from the socket by the handler itself.
 *
 * The input is a script of steps; each step is one control byte c:
 *   c % 4 == 0   the guest writes the next c / 4 + 1 bytes (1..64)
 *   c % 4 == 1   the guest writes the next (c / 4 + 1) * 16 bytes (16..1024)
 *   c % 4 == 2   ballastd sends RECLAIM of (c / 4) MiB (if it may)
 *   c % 4 == 3   c / 4 % 4: 0 POLL (if it may), 1 the guest hangs up,
 *                2 ballastd reconnects (when down), 3 ballastd stops and
 *                starts again
 * The first byte sets what ballastd grants (bit 0 QUIET, bit 1 POLL).
 * An input connects at most FUZZ_MAX_CONNECTS times; later reconnect and
 * restart steps do nothing. Each connection costs ten system calls (socket,
 * connect, accept, epoll, closes), and a run of 0xff bytes, a common
 * mutation, is a run of restarts: the kept corpus averaged 170 connections
 * an input and the target ran at about 100 inputs a second. What a
 * reconnect does (state, version and counters reset, a half-read frame
 * dropped) shows in the first few; the frames in between are the point.
 *
 * Properties (abort on violation): no crash, leak or undefined behaviour
 * (ASan, UBSan); no glib critical; a report reaches the owner only from a
 * READY connection; "up" and "down" alternate; a connection still up has
 * fewer than AGENT_MAX_VIOLATIONS violations and no half-read frame
 * left behind a disconnect; each read ends (no stall); every byte ballastd
 * sends back decodes as host frames (WELCOME in v1, then CONFIG, RECLAIM
 * and POLL in the version it chose, POLL and RECLAIM only with their
 * capabilities agreed).
 */
#include "agent_conn.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_CONNECTS 16

static struct {
    char *dir;
    char *path;
    int listen_fd;
    struct fd_group *group;
} env = {.listen_fd = -1};

/* What the owner saw and what the guest's end received, per input. */
static struct {
    struct agent_conn *conn;
    bool up;
    int guest_fd;
    struct proto_stream host_frames; /* ballastd -> guest */
    unsigned connects;               /* ballastd's connections so far */
    uint64_t sent_mark;              /* connects and tx_seq when last drained */
    bool welcomed;
    uint32_t caps;
    uint8_t version;
} run;

/* Lines go nowhere (a hostile guest causes many); a critical is a bug. */
static GLogWriterOutput quiet_writer(GLogLevelFlags level, const GLogField *fields, gsize n,
                                     gpointer data)
{
    (void)fields, (void)n, (void)data;
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
        abort();
    return G_LOG_WRITER_HANDLED;
}

static void cleanup(void)
{
    if (env.listen_fd >= 0)
        close(env.listen_fd);
    g_unlink(env.path);
    g_rmdir(env.dir);
}

static void setup(void)
{
    g_log_set_writer_func(quiet_writer, NULL, NULL);
    env.dir = g_dir_make_tmp("ballast-fuzz-agent-XXXXXX", NULL);
    env.group = fd_group_new();
    if (!env.dir || !env.group)
        abort();
    env.path = g_build_filename(env.dir, "agent.sock", NULL);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, env.path, sizeof(sa.sun_path));
    env.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (env.listen_fd < 0 || bind(env.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(env.listen_fd, 8) < 0)
        abort();
    atexit(cleanup);
}

static void on_report(void *ctx, const struct proto_report *report, bool pressure,
                      uint32_t triggers)
{
    (void)ctx, (void)pressure, (void)triggers;
    if (!report || run.conn->state != AGENT_READY || !run.conn->expect.hello)
        abort();
}

static void on_state(void *ctx, bool up)
{
    (void)ctx;
    if (up == run.up)
        abort(); /* up twice, or down without up */
    run.up = up;
}

static const struct agent_events events = {on_report, on_state};

/* One frame ballastd sent, as the guest decodes it. */
static void check_host_frame(const struct proto_frame *f)
{
    switch (f->type) {
    case PROTO_WELCOME:
        if (f->version != PROTO_VERSION_MIN)
            abort();
        run.welcomed = true;
        run.caps = f->u.welcome.capabilities;
        run.version = (uint8_t)f->u.welcome.proto_version;
        return;
    case PROTO_CONFIG:
        break;
    case PROTO_RECLAIM:
        if (!(run.caps & PROTO_CAP_RECLAIM))
            abort();
        break;
    case PROTO_POLL:
        if ((run.caps & (PROTO_CAP_QUIET | PROTO_CAP_POLL)) != (PROTO_CAP_QUIET | PROTO_CAP_POLL))
            abort();
        break;
    default:
        abort(); /* a guest-bound type ballastd never sends */
    }
    if (!run.welcomed || f->version != run.version)
        abort();
}

/* Reads what ballastd sent the guest so far; all of it must be frames. */
static void drain_host_frames(void)
{
    if (run.guest_fd < 0)
        return;
    /* Nothing sent since the last drain (no new frame number on this
     * connection): no recv needed, it would only say EAGAIN. */
    uint64_t mark = (uint64_t)run.conn->connects << 32 | run.conn->tx_seq;
    if (mark == run.sent_mark)
        return;
    run.sent_mark = mark;
    for (;;) {
        size_t room;
        uint8_t *space = proto_stream_space(&run.host_frames, &room);
        ssize_t n = recv(run.guest_fd, space, room, MSG_DONTWAIT);
        if (n <= 0)
            break;
        proto_stream_commit(&run.host_frames, (size_t)n);
        struct proto_frame f;
        int rc;
        while ((rc = proto_stream_next(&run.host_frames, &f)) != 0) {
            if (rc < 0)
                abort();
            check_host_frame(&f);
        }
        if (run.host_frames.stats.garbage_bytes)
            abort();
    }
}

/* ballastd connects (again); the guest's end is accepted. */
static void connect_guest(void)
{
    if (run.guest_fd >= 0)
        close(run.guest_fd);
    run.guest_fd = -1;
    run.connects++;
    agent_conn_start(run.conn);
    if (run.conn->fd < 0)
        return;
    run.guest_fd = accept4(env.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (run.guest_fd < 0)
        abort();
    proto_stream_init(&run.host_frames);
    run.welcomed = false;
    run.caps = 0;
}

/* After ballastd read: the limits held, a connection that went down left
 * nothing behind; what it sent back is checked. */
static void check_after_read(void)
{
    if (run.conn->state != AGENT_DOWN && run.conn->expect.violations >= AGENT_MAX_VIOLATIONS)
        abort();
    if (run.conn->state == AGENT_DOWN && (run.conn->fd >= 0 || run.conn->stream))
        abort();
    drain_host_frames();
}

/* The guest hung up: ballastd's main loop reads the hang-up from its socket
 * (fd_group, recv, agent_conn_input: the whole production read path) and
 * lets the connection go; a read that never ends is a stall. */
static void let_daemon_see_hangup(void)
{
    for (int i = 0; run.conn->fd >= 0; i++) {
        if (i == 4096)
            abort();
        fd_group_dispatch(env.group);
    }
    check_after_read();
}

/* The guest's bytes, as ballastd's read handler gets them from its socket:
 * one read takes what fits the stream buffer (agent_conn_input_space), and
 * the rest waits for the next. They go in without the socket (send,
 * epoll_wait and recv cost three system calls a chunk, most of this
 * target's time): its own path, recv() then agent_conn_input(), runs for
 * every hang-up below. What ballastd sends back still travels the socket. */
static size_t guest_writes(const uint8_t *data, size_t len)
{
    if (run.guest_fd < 0 || run.conn->fd < 0)
        return len; /* nobody to write to: the bytes are skipped */
    size_t done = 0;
    int reads = 0;
    while (done < len && run.conn->fd >= 0) {
        size_t room;
        uint8_t *space = agent_conn_input_space(run.conn, &room);
        size_t n = MIN(room, len - done);
        if (n == 0 || ++reads > 4096)
            abort(); /* no room after frames were taken: a stall */
        memcpy(space, data + done, n);
        agent_conn_input(run.conn, n);
        done += n;
    }
    check_after_read();
    return len;
}

static void host_step(uint8_t c)
{
    struct agent_conn *a = run.conn;
    if (c % 4 == 2) {
        agent_conn_send_reclaim(a, (uint64_t)(c / 4) << 20);
    } else if (c / 4 % 4 == 0) {
        agent_conn_poll(a);
    } else if (c / 4 % 4 == 1) {
        if (run.guest_fd >= 0)
            close(run.guest_fd);
        run.guest_fd = -1;
        let_daemon_see_hangup();
    } else if (run.connects >= FUZZ_MAX_CONNECTS) {
        return; /* no more (re)connections in this input */
    } else if (c / 4 % 4 == 2) {
        if (a->state == AGENT_DOWN)
            connect_guest();
    } else {
        agent_conn_stop(a);
        if (run.up)
            run.up = false; /* stop runs no callback: the owner knows */
        connect_guest();
    }
    drain_host_frames();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!env.group)
        setup();
    if (size == 0)
        return 0;
    static struct agent_conn conn;
    const struct proto_config config = {.report_interval_ms = 1000};
    if (agent_conn_init(&conn, env.group, "fuzz", env.path, &config, &events, NULL) < 0)
        abort();
    conn.allow_quiet = data[0] & 1;
    conn.allow_poll = data[0] & 2;
    memset(&run, 0, sizeof(run));
    run.conn = &conn;
    run.guest_fd = -1;
    connect_guest();
    for (size_t i = 1; i < size;) {
        uint8_t c = data[i++];
        size_t want = c % 4 == 0 ? c / 4 + 1u : c % 4 == 1 ? (c / 4 + 1u) * 16 : 0;
        if (want == 0) {
            host_step(c);
            continue;
        }
        size_t len = want < size - i ? want : size - i;
        i += guest_writes(data + i, len);
    }
    agent_conn_stop(&conn);
    if (run.guest_fd >= 0)
        close(run.guest_fd);
    if (conn.retry_id || conn.fd >= 0 || conn.stream)
        abort();
    return 0;
}
