/*
 * Control socket plumbing (see ctlserver.h). Raw non-blocking sockets on
 * g_unix_fd_add rather than GDataInputStream: a line reader that grows
 * without bound is exactly what a hostile client would feed, so each client
 * has one fixed CTL_MAX_LINE_BYTES buffer and a line that does not fit is
 * answered "too-long" and the connection closed.
 */
#include "ctlserver.h"

#include "control.h"
#include "fd_watch.h"
#include "timer.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

struct client {
    struct ctlserver *srv;
    struct ctl_peer peer;
    int fd;
    guint watch_id;
    gint64 last_activity_us;
    size_t in_len;
    char in[CTL_MAX_LINE_BYTES + 1];
    GString *out; /* pending reply bytes; reading pauses while non-empty */
    size_t out_off;
    bool close_after_write;
};

struct ctlserver {
    char *path;
    char *rw_path; /* the read-write socket (== path unless read_only) */
    bool read_only;
    int fd;
    guint watch_id;
    guint sweep_id;
    ctlserver_handler handler;
    void *ctx;
    GPtrArray *clients;
    struct ctlserver_stats stats;
    guint resume_id;   /* accepting paused (no fds): when to try again */
    bool pause_logged; /* the pause was said once, until accepting works again */
};

static void client_free(struct client *c)
{
    if (c->watch_id)
        g_source_remove(c->watch_id);
    close(c->fd);
    g_string_free(c->out, TRUE);
    g_free(c);
}

static void client_drop(struct client *c)
{
    g_ptr_array_remove(c->srv->clients, c); /* frees through the array's free func */
}

static gboolean on_client_io(gint fd, GIOCondition cond, gpointer data);

static void client_watch(struct client *c, GIOCondition cond)
{
    if (c->watch_id)
        g_source_remove(c->watch_id);
    c->watch_id = fd_watch_add(c->fd, cond, on_client_io, c);
}

static void client_queue(struct client *c, char *reply)
{
    g_string_append(c->out, reply);
    g_free(reply);
}

/* Handles every complete line in the buffer; false when the client must go. */
static bool client_process(struct client *c)
{
    struct ctlserver *srv = c->srv;
    for (;;) {
        char *nl = memchr(c->in, '\n', c->in_len);
        if (!nl) {
            if (c->in_len >= CTL_MAX_LINE_BYTES) {
                srv->stats.too_long++;
                client_queue(c, ctl_reply_error(CTL_ERR_TOO_LONG, "request line too long"));
                c->close_after_write = true;
                c->in_len = 0;
            }
            return true;
        }
        size_t len = (size_t)(nl - c->in);
        if (len > 0 && c->in[len - 1] == '\r')
            len--;
        if (len > 0) {
            srv->stats.requests++;
            client_queue(c, srv->handler(srv->ctx, &c->peer, c->in, len));
        }
        size_t used = (size_t)(nl - c->in) + 1;
        memmove(c->in, nl + 1, c->in_len - used);
        c->in_len -= used;
        if (c->out->len)
            return true; /* one request at a time: read more after the reply is out */
    }
}

static gboolean on_client_io(gint fd, GIOCondition cond, gpointer data)
{
    struct client *c = data;
    c->last_activity_us = g_get_monotonic_time();

    if (c->out->len > c->out_off) {
        ssize_t n = send(fd, c->out->str + c->out_off, c->out->len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            goto drop;
        if (n > 0)
            c->out_off += (size_t)n;
        if (c->out_off < c->out->len)
            return G_SOURCE_CONTINUE;
        g_string_truncate(c->out, 0);
        c->out_off = 0;
        if (c->close_after_write)
            goto drop;
        /* More lines may already be buffered. */
        if (!client_process(c))
            goto drop;
        c->watch_id = 0; /* this source ends; a new one takes over */
        client_watch(c, c->out->len ? G_IO_OUT : G_IO_IN);
        return G_SOURCE_REMOVE;
    }

    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        ssize_t n = recv(fd, c->in + c->in_len, CTL_MAX_LINE_BYTES - c->in_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            goto drop;
        if (n > 0)
            c->in_len += (size_t)n;
        if (!client_process(c))
            goto drop;
        if (c->out->len) {
            c->watch_id = 0;
            client_watch(c, G_IO_OUT);
            return G_SOURCE_REMOVE;
        }
    }
    return G_SOURCE_CONTINUE;

drop:
    c->watch_id = 0; /* returning REMOVE ends this source */
    client_drop(c);
    return G_SOURCE_REMOVE;
}

static gboolean on_sweep(gpointer data);

static void arm_sweep(struct ctlserver *srv)
{
    if (!srv->sweep_id)
        srv->sweep_id = timer_add_ms(5000, on_sweep, srv);
}

bool ctlserver_accept_pauses(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data);

/* The episode is over: said once. */
static void accepting_again(struct ctlserver *srv)
{
    if (!srv->pause_logged)
        return;
    srv->pause_logged = false;
    g_message("control: accepting connections again");
}

static gboolean on_resume(gpointer data)
{
    struct ctlserver *srv = data;
    srv->resume_id = 0;
    srv->watch_id = fd_watch_add(srv->fd, G_IO_IN, on_accept, srv);
    /* accept4 takes a descriptor before it looks at the queue: with none
     * left it says EMFILE on an empty backlog too, so the pause may have
     * begun after the last waiting client was served. Nothing waiting now
     * is the end of the episode; a waiting client ends it in on_accept. */
    struct pollfd p = {.fd = srv->fd, .events = POLLIN};
    if (poll(&p, 1, 0) == 0)
        accepting_again(srv);
    return G_SOURCE_REMOVE;
}

/*
 * accept4 failed for want of a file descriptor: the waiting connection
 * stays in the backlog and the listening socket stays readable, so the
 * level-triggered watch would call us again at once, forever (100 % CPU).
 * Stop watching for CTLSERVER_ACCEPT_PAUSE_MS instead; said once per
 * episode, which ends when the backlog is served (EAGAIN), and said then.
 */
static void pause_accepting(struct ctlserver *srv, int err)
{
    srv->watch_id = 0; /* the caller returns G_SOURCE_REMOVE */
    srv->resume_id = g_timeout_add(CTLSERVER_ACCEPT_PAUSE_MS, on_resume, srv);
    srv->stats.accept_pauses++;
    if (srv->pause_logged)
        return;
    srv->pause_logged = true;
    g_warning("control: cannot accept a connection: %s; trying again every %d ms "
              "(the clients wait meanwhile)",
              g_strerror(err), CTLSERVER_ACCEPT_PAUSE_MS);
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
    struct ctlserver *srv = data;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            int err = errno;
            if (ctlserver_accept_pauses(err)) {
                pause_accepting(srv, err);
                return G_SOURCE_REMOVE;
            }
            /* EAGAIN: the backlog is served, the episode is over (a drain
             * that runs short once more on the way is the same episode). */
            accepting_again(srv);
            break;
        }
        struct ucred cred;
        socklen_t len = sizeof(cred);
        bool known = getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
        if (!known || (!srv->read_only && !ctl_peer_allowed(cred.uid, geteuid()))) {
            srv->stats.refused_peer++;
            g_message("control: refused peer uid %d pid %d", (int)cred.uid, (int)cred.pid);
            close(cfd);
            continue;
        }
        if (srv->clients->len >= CTLSERVER_MAX_CLIENTS) {
            srv->stats.refused_busy++;
            close(cfd);
            continue;
        }
        srv->stats.accepted++;
        struct client *c = g_new0(struct client, 1);
        c->srv = srv;
        c->peer = (struct ctl_peer){
            .uid = cred.uid, .pid = cred.pid, .read_only = srv->read_only, .socket = srv->rw_path};
        c->fd = cfd;
        c->out = g_string_new(NULL);
        c->last_activity_us = g_get_monotonic_time();
        g_ptr_array_add(srv->clients, c);
        arm_sweep(srv);
        client_watch(c, G_IO_IN);
    }
    return G_SOURCE_CONTINUE;
}

/* A client that sits on a half-written reply or a half-sent line goes
 * eventually. The sweep runs only while clients are connected: an idle daemon
 * has no timer of its own to wake for (every wakeup costs ~150 us on a busy
 * host, docs/benchmarks/ballastd.md). */
static gboolean on_sweep(gpointer data)
{
    struct ctlserver *srv = data;
    gint64 limit = g_get_monotonic_time() - (gint64)CTLSERVER_IDLE_TIMEOUT_MS * 1000;
    for (guint i = srv->clients->len; i-- > 0;) {
        struct client *c = srv->clients->pdata[i];
        if (c->last_activity_us < limit)
            g_ptr_array_remove_index(srv->clients, i);
    }
    if (srv->clients->len)
        return G_SOURCE_CONTINUE;
    srv->sweep_id = 0;
    return G_SOURCE_REMOVE;
}

/* 0 when path is free (absent, or a stale socket we removed). */
static int claim_path(const char *path, GError **error)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s exists and is not a socket", path);
        return -EEXIST;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                    "%s: another ballastd is listening", path);
        return -EADDRINUSE;
    }
    unlink(path); /* stale: its daemon died without cleaning up */
    return 0;
}

struct ctlserver *ctlserver_new(const char *path, ctlserver_handler handler, void *ctx,
                                GError **error)
{
    return ctlserver_new_ro(path, NULL, (gid_t)-1, handler, ctx, error);
}

/* The read-only socket's owner and mode: opened up only after the bind. */
static int open_up(const char *path, gid_t group, GError **error)
{
    if (group != (gid_t)-1 && chown(path, (uid_t)-1, group) < 0) {
        int e = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "chown %s to group %d: %s", path,
                    (int)group, g_strerror(e));
        return -e;
    }
    chmod(path, group != (gid_t)-1 ? 0660 : 0666);
    return 0;
}

/* rw_path NULL: the read-write socket at path (ctlserver_new). */
struct ctlserver *ctlserver_new_ro(const char *path, const char *rw_path, gid_t group,
                                   ctlserver_handler handler, void *ctx, GError **error)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                    "control socket path too long: %s", path);
        return NULL;
    }
    if (claim_path(path, error) < 0) {
        if (error && !*error)
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: cannot replace", path);
        return NULL;
    }
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "socket: %s",
                    g_strerror(errno));
        return NULL;
    }
    /* Created 0600 from the start: no window in which others could connect. */
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    int saved = errno;
    umask(old);
    if (rc < 0 || listen(fd, 16) < 0) {
        if (rc == 0)
            saved = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved), "bind %s: %s", path,
                    g_strerror(saved));
        close(fd);
        return NULL;
    }
    chmod(path, 0600);
    if (rw_path && open_up(path, group, error) < 0) {
        close(fd);
        unlink(path);
        return NULL;
    }
    struct ctlserver *srv = g_new0(struct ctlserver, 1);
    srv->path = g_strdup(path);
    srv->read_only = rw_path != NULL;
    srv->rw_path = g_strdup(rw_path ? rw_path : path);
    srv->fd = fd;
    srv->handler = handler;
    srv->ctx = ctx;
    srv->clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
    srv->watch_id = fd_watch_add(fd, G_IO_IN, on_accept, srv);
    return srv;
}

void ctlserver_free(struct ctlserver *srv)
{
    if (!srv)
        return;
    if (srv->watch_id)
        g_source_remove(srv->watch_id);
    if (srv->resume_id)
        g_source_remove(srv->resume_id);
    if (srv->sweep_id)
        g_source_remove(srv->sweep_id);
    g_ptr_array_unref(srv->clients);
    close(srv->fd);
    unlink(srv->path);
    g_free(srv->path);
    g_free(srv->rw_path);
    g_free(srv);
}

void ctlserver_get_stats(const struct ctlserver *srv, struct ctlserver_stats *out)
{
    *out = srv->stats;
}
