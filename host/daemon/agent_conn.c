/*
 * Host side of the agent channel (see agent_conn.h).
 *
 *   agent                       ballastd
 *   HELLO   ---------------->   the highest version both speak (v1 frame)
 *           <----------------   WELCOME (version, capabilities; v1 frame) + CONFIG
 *   REPORT  ---------------->   every report_interval_ms
 *   PRESSURE --------------->   at once when a PSI trigger fires
 *           <----------------   POLL (QUIET + POLL agreed: at ballastd's tick)
 *   REPORT  ---------------->   at once, read with the fleet's other answers
 *           <----------------   RECLAIM (when the policy asks)
 *   RECLAIM_DONE ----------->
 */
#include "agent_conn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>

/* What ballastd uses of the agent's capabilities; QUIET too when allow_quiet. */
#define AGENT_HOST_CAPS (PROTO_CAP_PRESSURE | PROTO_CAP_RECLAIM | PROTO_CAP_VMSTAT)

const char *agent_state_name(enum agent_state s)
{
    switch (s) {
    case AGENT_DOWN:
        return "down";
    case AGENT_CONNECTED:
        return "connecting";
    case AGENT_READY:
        return "connected";
    }
    return "?";
}

static void schedule_retry(struct agent_conn *a);

/* " (12 earlier lines from this guest held back)", or "" (log_limit.h). */
static void held_text(uint64_t held, char *buf, size_t len)
{
    if (held)
        g_snprintf(buf, len, " (%" G_GUINT64_FORMAT " earlier lines from this guest held back)",
                   held);
    else if (len)
        buf[0] = '\0';
}

/* A line the guest caused, within its connection's budget: with the VM's
 * field, and an AGENT_REJECTS field when count_field is set. */
G_GNUC_PRINTF(4, 5)
static void guest_line(struct agent_conn *a, GLogLevelFlags level, const char *count_field,
                       const char *fmt, ...)
{
    uint64_t held;
    if (!log_limit_allow(&a->log, g_get_monotonic_time() / 1000, &held))
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char tail[80], count[24];
    held_text(held, tail, sizeof(tail));
    /* Fields other than MESSAGE are plain strings, not formats. */
    g_snprintf(count, sizeof(count), "%" G_GUINT64_FORMAT, a->rejects);
    if (count_field)
        g_log_structured(G_LOG_DOMAIN, level, "VM", a->name, count_field, count, "MESSAGE", "%s%s",
                         msg, tail);
    else
        g_log_structured(G_LOG_DOMAIN, level, "VM", a->name, "MESSAGE", "%s%s", msg, tail);
}

static void close_fd(struct agent_conn *a)
{
    fd_group_remove(a->group, &a->member);
    if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
    g_clear_pointer(&a->stream, g_free);
}

/* Drops the connection; reject = the guest misbehaved (counted, slower retry). */
static void disconnect(struct agent_conn *a, bool reject, const char *why)
{
    bool was_ready = a->state == AGENT_READY;
    close_fd(a);
    a->state = AGENT_DOWN;
    if (reject) {
        a->rejects++;
        if (!a->rejected)
            a->backoff_ms = 0;
        a->rejected = true;
        guest_line(a, G_LOG_LEVEL_WARNING, "AGENT_REJECTS",
                   "agent %s: disconnected, misbehaving guest (%s; %" G_GUINT64_FORMAT " rejects)",
                   a->name, why, a->rejects);
    } else {
        g_message("agent %s: disconnected (%s)", a->name, why);
    }
    if (was_ready && a->events->state)
        a->events->state(a->ctx, false);
    schedule_retry(a);
}

static int send_frame(struct agent_conn *a, struct proto_frame *f)
{
    uint8_t buf[PROTO_MAX_FRAME_BYTES];
    f->seq = ++a->tx_seq;
    /* WELCOME is a v1 frame for any agent; the rest go in the chosen version. */
    f->version = f->type == PROTO_WELCOME ? PROTO_VERSION_MIN : a->proto_version;
    int n = proto_encode(f, buf, sizeof(buf));
    if (n < 0)
        return n;
    ssize_t w = send(a->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w == n) {
        agent_frames_sent(&a->expect, f); /* CONFIG, RECLAIM: an answer is due */
        return 0;
    }
    /* A partial frame would desynchronise the stream: a peer that does not
     * read its socket is as broken as one that writes garbage. */
    return w < 0 ? -errno : -EAGAIN;
}

/* The highest protocol version both speak, 0 when the ranges do not meet. */
static unsigned choose_version(const struct proto_hello *h)
{
    unsigned hi = MIN(h->proto_version_max, PROTO_VERSION_MAX);
    unsigned lo = MAX(h->proto_version_min, PROTO_VERSION_MIN);
    return hi >= lo ? hi : 0;
}

static int on_hello(struct agent_conn *a, const struct proto_hello *h)
{
    unsigned version = choose_version(h);
    if (version == 0)
        return -EPROTONOSUPPORT;
    struct proto_frame f = {.type = PROTO_WELCOME};
    f.u.welcome.host_version = 0x000100; /* 0.1.0 */
    uint32_t offer = AGENT_HOST_CAPS;
    if (a->allow_quiet)
        offer |= PROTO_CAP_QUIET | (a->allow_poll ? PROTO_CAP_POLL : 0);
    f.u.welcome.capabilities = h->capabilities & offer;
    if (!(f.u.welcome.capabilities & PROTO_CAP_QUIET))
        f.u.welcome.capabilities &= ~PROTO_CAP_POLL; /* POLL means nothing without QUIET */
    f.u.welcome.proto_version = version;
    a->capabilities = f.u.welcome.capabilities;
    int rc = send_frame(a, &f);
    if (rc < 0)
        return rc;
    /* From here on (CONFIG first), in the chosen version: an agent that
     * restarted behind the same port may be older, so each HELLO decides. */
    a->proto_version = (uint8_t)version;
    struct proto_frame c = {.type = PROTO_CONFIG};
    c.u.config = a->config;
    if ((rc = send_frame(a, &c)) < 0)
        return rc;
    bool first = a->state != AGENT_READY;
    a->state = AGENT_READY;
    a->backoff_ms = 0;
    a->rejected = false;
    if (first) {
        g_message("agent %s: ready (agent version %u.%u.%u, protocol v%u, capabilities 0x%x)",
                  a->name, h->agent_version >> 16, (h->agent_version >> 8) & 0xff,
                  h->agent_version & 0xff, a->proto_version, a->capabilities);
        if (a->events->state)
            a->events->state(a->ctx, true);
    }
    return 0;
}

/* Acts on a frame agent_frames_check took; returns NULL, or why the
 * connection must be dropped. */
static const char *dispatch(struct agent_conn *a, const struct proto_frame *f)
{
    switch (f->type) {
    case PROTO_HELLO:
        return on_hello(a, &f->u.hello) < 0 ? "HELLO refused" : NULL;
    case PROTO_REPORT:
        a->events->report(a->ctx, &f->u.report, false, 0);
        return NULL;
    case PROTO_PRESSURE:
        a->events->report(a->ctx, &f->u.pressure.report, true, f->u.pressure.triggers);
        return NULL;
    case PROTO_RECLAIM_DONE: {
        const struct proto_reclaim_done *d = &f->u.reclaim_done;
        int e = proto_error_errno(d->status);
        /* The guest's word: never more than we asked counts. */
        uint64_t freed = MIN(d->freed_bytes, a->reclaim_asked_bytes);
        a->reclaims++;
        a->reclaimed_bytes =
            a->reclaimed_bytes > G_MAXUINT64 - freed ? G_MAXUINT64 : a->reclaimed_bytes + freed;
        guest_line(a, G_LOG_LEVEL_INFO, NULL,
                   "agent %s: reclaim done (%s), freed %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                   " bytes",
                   a->name,
                   d->status == 0 ? "ok"
                   : e            ? g_strerror(e)
                                  : "status not an errno",
                   d->freed_bytes, d->requested_bytes);
        return NULL;
    }
    case PROTO_ERROR: {
        int e = proto_error_errno(f->u.error.error);
        guest_line(a, G_LOG_LEVEL_MESSAGE, NULL,
                   "agent %s: refused our %s: %s (%" G_GINT32_FORMAT ")", a->name,
                   proto_type_name(f->u.error.ref_type), e ? g_strerror(e) : "not an errno",
                   f->u.error.error);
        return NULL;
    }
    default: /* ACK */
        return NULL;
    }
}

/*
 * Whether to act on a frame the decoder accepted (agent_frames.h): NULL and
 * *take when it makes sense now; NULL and not *take for a violation that is
 * forgiven (ignored, counted, said within the guest's line budget); why the
 * connection goes otherwise.
 */
static const char *accept_frame(struct agent_conn *a, const struct proto_frame *f, bool *take)
{
    const char *why;
    *take = false;
    switch (agent_frames_check(&a->expect, f, &why)) {
    case AGENT_FRAME_TAKE:
        *take = true;
        return NULL;
    case AGENT_FRAME_FATAL:
        return why;
    case AGENT_FRAME_VIOLATION:
        break;
    }
    a->violations++;
    if (a->expect.violations >= AGENT_MAX_VIOLATIONS)
        return "too many protocol violations";
    guest_line(a, G_LOG_LEVEL_MESSAGE, NULL, "agent %s: protocol violation ignored: %s (%u of %d)",
               a->name, why, a->expect.violations, AGENT_MAX_VIOLATIONS);
    return NULL;
}

uint8_t *agent_conn_input_space(struct agent_conn *a, size_t *room)
{
    if (!a->stream) {
        a->stream = g_new(struct proto_stream, 1);
        proto_stream_init(a->stream);
    }
    return proto_stream_space(a->stream, room);
}

/* The socket has input (or hung up): read once, dispatch every whole frame. */
static void on_readable(struct fd_group_member *m, uint32_t events)
{
    (void)events; /* a hang-up reads as 0 bytes */
    struct agent_conn *a = m->data;
    size_t room;
    uint8_t *space = agent_conn_input_space(a, &room);
    ssize_t n = recv(a->fd, space, room, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        agent_conn_input(a, 0);
    else if (n <= 0)
        disconnect(a, false, n == 0 ? "closed by peer" : g_strerror(errno));
    else
        agent_conn_input(a, (size_t)n);
}

void agent_conn_input(struct agent_conn *a, size_t n)
{
    if (n == 0)
        goto out;
    proto_stream_commit(a->stream, n);

    uint64_t garbage_before = a->stream->stats.garbage_bytes;
    const char *why = NULL;
    struct proto_frame f;
    int rc;
    while (!why && (rc = proto_stream_next(a->stream, &f)) != 0) {
        if (rc < 0) {
            why = "malformed frame";
            break;
        }
        if (a->stream->stats.garbage_bytes != garbage_before) {
            why = "garbage between frames";
            break;
        }
        a->frames++;
        gint64 now = g_get_monotonic_time();
        if (now - a->window_start_us > G_USEC_PER_SEC) {
            a->window_start_us = now;
            a->window_frames = 0;
        }
        if (++a->window_frames > AGENT_MAX_FRAMES_PER_S) {
            why = "frame flood";
            break;
        }
        bool take;
        why = accept_frame(a, &f, &take);
        if (!take)
            continue;
        why = dispatch(a, &f);
        if (a->fd < 0)
            return; /* stopped from a callback */
    }
    if (!why && a->stream->stats.garbage_bytes != garbage_before)
        why = "garbage";
    if (why) {
        disconnect(a, true, why);
        return;
    }
out:
    if (a->stream->len == 0)
        g_clear_pointer(&a->stream, g_free); /* between frames: nothing to keep */
}

bool agent_conn_pollable(const struct agent_conn *a)
{
    const uint32_t need = PROTO_CAP_QUIET | PROTO_CAP_POLL;
    return a->state == AGENT_READY && (a->capabilities & need) == need;
}

int agent_conn_poll(struct agent_conn *a)
{
    if (a->state != AGENT_READY)
        return -ENOTCONN;
    if (!agent_conn_pollable(a))
        return -EOPNOTSUPP;
    struct proto_frame f = {.type = PROTO_POLL};
    int rc = send_frame(a, &f);
    if (rc < 0) {
        disconnect(a, false, "cannot send POLL");
        return rc;
    }
    a->polls++;
    return 0;
}

static gboolean on_retry(gpointer data)
{
    struct agent_conn *a = data;
    a->retry_id = 0;
    agent_conn_start(a);
    return G_SOURCE_REMOVE;
}

static void schedule_retry(struct agent_conn *a)
{
    if (a->retry_id)
        return;
    guint lo = a->rejected ? AGENT_REJECT_BACKOFF_MIN_MS : AGENT_BACKOFF_MIN_MS;
    guint hi = a->rejected ? AGENT_REJECT_BACKOFF_MAX_MS : AGENT_BACKOFF_MAX_MS;
    a->backoff_ms = a->backoff_ms ? MIN(a->backoff_ms * 2, hi) : lo;
    a->retry_id = g_timeout_add(a->backoff_ms, on_retry, a);
}

int agent_conn_init(struct agent_conn *a, struct fd_group *group, const char *name,
                    const char *path, const struct proto_config *config,
                    const struct agent_events *events, void *ctx)
{
    memset(a, 0, sizeof(*a));
    a->fd = -1;
    a->proto_version = PROTO_VERSION_MIN;
    a->group = group;
    a->member.fd = -1;
    a->name = name;
    if (strlen(path) >= sizeof(a->path))
        return -ENAMETOOLONG;
    g_strlcpy(a->path, path, sizeof(a->path));
    a->config = *config;
    a->events = events;
    a->ctx = ctx;
    return 0;
}

void agent_conn_start(struct agent_conn *a)
{
    if (a->fd >= 0)
        return;
    if (a->retry_id) {
        g_source_remove(a->retry_id);
        a->retry_id = 0;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, a->path, sizeof(sa.sun_path));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        /* ENOENT (no agent channel yet), ECONNREFUSED (QEMU gone), EAGAIN: retry later. */
        if (fd >= 0)
            close(fd);
        schedule_retry(a);
        return;
    }
    a->fd = fd;
    a->state = AGENT_CONNECTED;
    a->connects++;
    a->tx_seq = 0;
    a->proto_version = PROTO_VERSION_MIN; /* until this connection's HELLO */
    memset(&a->expect, 0, sizeof(a->expect));
    a->window_frames = 0;
    a->window_start_us = g_get_monotonic_time();
    int rc = fd_group_add(a->group, &a->member, fd, on_readable, a);
    if (rc < 0) {
        g_warning("agent %s: cannot watch its socket: %s", a->name, g_strerror(-rc));
        close_fd(a);
        a->state = AGENT_DOWN;
        schedule_retry(a);
    }
}

void agent_conn_stop(struct agent_conn *a)
{
    if (a->retry_id) {
        g_source_remove(a->retry_id);
        a->retry_id = 0;
    }
    close_fd(a);
    a->state = AGENT_DOWN;
}

int agent_conn_send_reclaim(struct agent_conn *a, uint64_t bytes)
{
    if (a->state != AGENT_READY)
        return -ENOTCONN;
    if (!(a->capabilities & PROTO_CAP_RECLAIM))
        return -EOPNOTSUPP;
    struct proto_frame f = {.type = PROTO_RECLAIM};
    f.u.reclaim.request_bytes = bytes;
    a->reclaim_asked_bytes = bytes;
    int rc = send_frame(a, &f);
    if (rc < 0)
        disconnect(a, false, "cannot send RECLAIM");
    return rc;
}
