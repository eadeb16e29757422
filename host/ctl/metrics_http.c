/*
 * The metrics listener (see metrics_http.h). Same plumbing as the control
 * socket (ctlserver.c): raw non-blocking sockets on fd watches, one fixed
 * buffer per client, a sweep timer that runs only while clients are
 * connected (an idle daemon has no timer of its own to wake for).
 */
#include "metrics_http.h"

#include "fd_watch.h"
#include "metrics_text.h"
#include "timer.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

struct client {
    struct metrics_http *h;
    int fd;
    guint watch_id;
    gint64 deadline_us;
    size_t in_len;
    char in[METRICS_HTTP_MAX_REQUEST_BYTES];
    GString *out; /* the whole reply once the request is read; NULL before */
    size_t out_off;
};

struct metrics_http {
    int fd;
    guint watch_id;
    guint sweep_id;
    metrics_http_body_fn body;
    void *ctx;
    GPtrArray *clients;
    struct metrics_http_stats stats;
};

/* ---- the request ----------------------------------------------------------------------- */

/* The end of the headers: the blank line, "\r\n\r\n" or a bare "\n\n". */
static const char *headers_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (buf[i + 1] == '\n')
            return buf + i;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return buf + i;
    }
    return NULL;
}

int metrics_http_parse(const char *buf, size_t len, bool *head)
{
    *head = false;
    const char *end = headers_end(buf, len);
    if (!end)
        return len >= METRICS_HTTP_MAX_REQUEST_BYTES ? 431 : 0;
    const char *eol = memchr(buf, '\n', (size_t)(end - buf) + 1);
    size_t line_len = (size_t)(eol - buf);
    if (line_len > 0 && buf[line_len - 1] == '\r')
        line_len--;
    /* METHOD SP TARGET SP HTTP/1.x, printable ASCII only. */
    for (size_t i = 0; i < line_len; i++)
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
            return 400;
    char line[256];
    if (line_len >= sizeof(line))
        return 400; /* no target of ours is that long */
    memcpy(line, buf, line_len);
    line[line_len] = '\0';
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        strlen(sp2 + 1) != 8)
        return 400;
    *sp1 = *sp2 = '\0';
    const char *target = sp1 + 1;
    if (strcmp(line, "GET") != 0 && strcmp(line, "HEAD") != 0)
        return 405;
    size_t path_len = strcspn(target, "?");
    if (path_len != strlen("/metrics") || strncmp(target, "/metrics", path_len) != 0)
        return 404;
    *head = strcmp(line, "HEAD") == 0;
    return 200;
}

/* ---- the reply ------------------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Bad Request";
    }
}

/* The whole reply: status line, headers, body (none for HEAD). */
static GString *reply(struct metrics_http *h, int status, bool head)
{
    g_autofree char *body = NULL;
    if (status == 200)
        body = h->body(h->ctx);
    else if (status == 404)
        body = g_strdup("not found: ballastd serves only /metrics\n");
    else
        body = g_strdup_printf("%d %s\n", status, reason(status));
    size_t body_len = strlen(body);
    GString *out = g_string_sized_new(body_len + 256);
    g_string_append_printf(out,
                           "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n",
                           status, reason(status),
                           status == 200 ? METRICS_TEXT_CONTENT_TYPE : "text/plain; charset=utf-8",
                           body_len);
    if (status == 405)
        g_string_append(out, "Allow: GET, HEAD\r\n");
    g_string_append(out, "\r\n");
    if (!head)
        g_string_append_len(out, body, (gssize)body_len);
    return out;
}

static void count(struct metrics_http *h, int status)
{
    if (status == 200)
        h->stats.served++;
    else if (status == 404)
        h->stats.not_found++;
    else
        h->stats.refused++;
}

/* ---- clients --------------------------------------------------------------------------- */

static void client_free(struct client *c)
{
    if (c->watch_id)
        g_source_remove(c->watch_id);
    close(c->fd);
    if (c->out)
        g_string_free(c->out, TRUE);
    g_free(c);
}

/*
 * The reply is out: FIN, and what the client sent beyond the request is
 * read and dropped first (up to 64 KiB), since closing with unread bytes
 * makes the kernel send a reset, which can destroy the reply (a 431's)
 * before the client reads it.
 */
static void client_finish(struct client *c)
{
    char sink[4096];
    shutdown(c->fd, SHUT_WR);
    for (int i = 0; i < 16 && recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
        ;
}

/* Sends what the socket takes; true when the reply is all out. */
static bool client_send(struct client *c)
{
    while (c->out_off < c->out->len) {
        ssize_t n = send(c->fd, c->out->str + c->out_off, c->out->len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return false; /* EAGAIN: wait for G_IO_OUT; an error: the deadline or HUP ends it */
        c->out_off += (size_t)n;
    }
    return true;
}

/* Reads what is there; false when the client must go. */
static bool client_read(struct client *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (n > 0)
        c->in_len += (size_t)n;
    bool head;
    int status = metrics_http_parse(c->in, c->in_len, &head);
    if (status == 0)
        return true;
    count(c->h, status);
    c->out = reply(c->h, status, head);
    return true;
}

static gboolean on_client_io(gint fd, GIOCondition cond, gpointer data)
{
    struct client *c = data;
    bool keep = true;
    if (!c->out) {
        keep = (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && client_read(c);
        if (keep && c->out) {
            if (client_send(c)) {
                client_finish(c); /* all out: close (HTTP/1.0, Connection: close) */
                keep = false;
            } else if (c->out_off < c->out->len) {
                c->watch_id = fd_watch_add(fd, G_IO_OUT, on_client_io, c);
                return G_SOURCE_REMOVE; /* the G_IO_OUT watch takes over */
            }
        }
    } else if (cond & (G_IO_HUP | G_IO_ERR)) {
        keep = false;
    } else if (client_send(c)) {
        client_finish(c);
        keep = false;
    }
    if (keep)
        return G_SOURCE_CONTINUE;
    c->watch_id = 0; /* this source ends with REMOVE */
    g_ptr_array_remove(c->h->clients, c);
    return G_SOURCE_REMOVE;
}

static gboolean on_sweep(gpointer data)
{
    struct metrics_http *h = data;
    gint64 now = g_get_monotonic_time();
    for (guint i = h->clients->len; i-- > 0;) {
        struct client *c = h->clients->pdata[i];
        if (now >= c->deadline_us) {
            h->stats.timed_out++;
            g_ptr_array_remove_index(h->clients, i);
        }
    }
    if (h->clients->len)
        return G_SOURCE_CONTINUE;
    h->sweep_id = 0;
    return G_SOURCE_REMOVE;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
    struct metrics_http *h = data;
    for (;;) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            break;
        if (h->clients->len >= METRICS_HTTP_MAX_CLIENTS) {
            h->stats.busy++;
            close(cfd);
            continue;
        }
        h->stats.accepted++;
        struct client *c = g_new0(struct client, 1);
        c->h = h;
        c->fd = cfd;
        c->deadline_us = g_get_monotonic_time() + (gint64)METRICS_HTTP_DEADLINE_MS * 1000;
        g_ptr_array_add(h->clients, c);
        c->watch_id = fd_watch_add(cfd, G_IO_IN, on_client_io, c);
        if (!h->sweep_id)
            h->sweep_id = timer_add_ms(1000, on_sweep, h);
    }
    return G_SOURCE_CONTINUE;
}

/* ---- the listening socket ---------------------------------------------------------------- */

static int listen_on(const struct listen_addr *a)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (a->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        memcpy(&s6->sin6_addr, a->addr, 16);
        len = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->addr, 4);
        len = sizeof(*s4);
    }
    int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (a->family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

struct metrics_http *metrics_http_new(const struct listen_addr *addr, metrics_http_body_fn body,
                                      void *ctx, GError **error)
{
    int fd = listen_on(addr);
    if (fd < 0) {
        char text[LISTEN_ADDR_TEXT_MAX];
        listen_addr_format(addr, text, sizeof(text));
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(-fd), "%s: %s", text, g_strerror(-fd));
        return NULL;
    }
    struct metrics_http *h = g_new0(struct metrics_http, 1);
    h->fd = fd;
    h->body = body;
    h->ctx = ctx;
    h->clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
    h->watch_id = fd_watch_add(fd, G_IO_IN, on_accept, h);
    return h;
}

void metrics_http_free(struct metrics_http *h)
{
    if (!h)
        return;
    g_source_remove(h->watch_id);
    if (h->sweep_id)
        g_source_remove(h->sweep_id);
    g_ptr_array_unref(h->clients);
    close(h->fd);
    g_free(h);
}

void metrics_http_get_stats(const struct metrics_http *h, struct metrics_http_stats *out)
{
    *out = h->stats;
}
