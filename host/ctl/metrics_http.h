/*
 * ballastd's metrics listener (`metrics_listen`, docs/ballastd.md,
 * "Metrics"): a minimal HTTP/1.0 responder on the GLib main loop that
 * serves GET /metrics and nothing else.
 *
 * It is a side door into a daemon whose job is keeping guests alive, so it
 * is bounded every way a client could push it: a request is read into one
 * fixed buffer and answered 431 when its headers do not fit; at most
 * METRICS_HTTP_MAX_CLIENTS connections (more are closed at once); every
 * connection has a deadline from its accept, however it drips bytes, and is
 * dropped when it passes; sockets are non-blocking and a reply that does
 * not fit the socket buffer is sent as the client reads, so a slow client
 * costs its buffer, never a blocked tick. One request per connection
 * (Connection: close), as Prometheus scrapes expect of an exporter.
 */
#ifndef BALLAST_METRICS_HTTP_H
#define BALLAST_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "listen_addr.h"

/* Prometheus sends ~200 bytes of headers; curl ~100. */
#define METRICS_HTTP_MAX_REQUEST_BYTES 4096
#define METRICS_HTTP_MAX_CLIENTS       8
/* From accept to the last byte of the reply. Prometheus' default scrape
 * timeout is 10 s. */
#define METRICS_HTTP_DEADLINE_MS 10000

/* The exposition text (g_free), made when a GET /metrics is complete. */
typedef char *(*metrics_http_body_fn)(void *ctx);

struct metrics_http_stats {
    guint64 accepted;
    guint64 served;    /* 200 */
    guint64 not_found; /* 404 */
    guint64 refused;   /* 400, 405, 431 */
    guint64 busy;      /* closed at accept: too many clients */
    guint64 timed_out; /* dropped at the deadline */
};

struct metrics_http;

/*
 * Listens on addr (SO_REUSEADDR; an IPv6 address listens on IPv6 only) and
 * serves on the default main context. NULL and *error ("127.0.0.1:9464:
 * Address already in use") when the socket cannot be bound.
 */
struct metrics_http *metrics_http_new(const struct listen_addr *addr, metrics_http_body_fn body,
                                      void *ctx, GError **error);
/* Closes every client and the socket. NULL is fine. */
void metrics_http_free(struct metrics_http *h);
void metrics_http_get_stats(const struct metrics_http *h, struct metrics_http_stats *out);

/*
 * The pure part: what to answer to the len bytes received so far. 0 while
 * the headers are not complete and still fit; else the HTTP status: 200
 * (GET or HEAD of /metrics, a query string allowed; *head set for HEAD),
 * 404 (another path), 405 (another method), 400 (not an HTTP/1.x request
 * line, or a NUL or control byte in it), 431 (headers over
 * METRICS_HTTP_MAX_REQUEST_BYTES).
 */
int metrics_http_parse(const char *buf, size_t len, bool *head);

#endif
