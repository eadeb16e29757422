/*
 * The QMP connection: socket, framing, id matching, events, timeouts and
 * teardown; see qmp.h for the contract. Everything for one connection is
 * driven by a single GSource: its unix fd (readable, and writable while
 * output is queued) and its ready time (the earliest command deadline, or
 * "now" when completions were deferred). An idle connection costs one fd in
 * poll() and no wakeups.
 *
 * A session as QEMU 7.2 speaks it (-> we send, <- QEMU sends):
 *   <- {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7},
 *       "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}
 *   -> {"execute": "qmp_capabilities", "id": 1}
 *   <- {"return": {}, "id": 1}
 *   -> {"execute": "query-balloon", "id": 2}
 *   <- {"return": {"actual": 134217728}, "id": 2}
 *   <- {"timestamp": {"seconds": 1700000000, "microseconds": 5}, "event":
 *       "BALLOON_CHANGE", "data": {"actual": 104857600}}
 *   -> {"execute": "query-nonexistent", "id": 3}
 *   <- {"id": 3, "error": {"class": "CommandNotFound", "desc":
 *       "The command query-nonexistent has not been found"}}
 * Without the oob capability QEMU answers in order, but replies are matched
 * by id anyway: after a timeout the late reply must not complete the next
 * command.
 */
#include "qmp.h"
#include "json_glib_leak.h"
#include "json_writer.h"
#include "qmp_framer.h"
#include "qmp_json.h"
#include "qmp_private.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Bytes read per dispatch at most; the framer may offer fewer. */
#define QMP_READ_CHUNK_BYTES 65536u

/* ---- errors ---------------------------------------------------------- */

typedef struct {
    char *qmp_class;
} QmpErrorPrivate;

static void qmp_error_private_init(QmpErrorPrivate *priv)
{
    priv->qmp_class = NULL;
}

static void qmp_error_private_copy(const QmpErrorPrivate *src, QmpErrorPrivate *dest)
{
    dest->qmp_class = g_strdup(src->qmp_class);
}

static void qmp_error_private_clear(QmpErrorPrivate *priv)
{
    g_clear_pointer(&priv->qmp_class, g_free);
}

/* An extended GError keeps the QMP class next to the desc. */
G_DEFINE_EXTENDED_ERROR(QmpError, qmp_error)

const char *qmp_error_get_class(const GError *error)
{
    if (!error || error->domain != QMP_ERROR || error->code != QMP_ERROR_COMMAND)
        return NULL;
    QmpErrorPrivate *priv = qmp_error_get_private(error);
    return priv ? priv->qmp_class : NULL;
}

static GError *qmp_command_error_new(const char *qmp_class, const char *desc)
{
    GError *error = g_error_new_literal(QMP_ERROR, QMP_ERROR_COMMAND, desc);
    QmpErrorPrivate *priv = qmp_error_get_private(error);
    if (priv)
        priv->qmp_class = g_strdup(qmp_class);
    return error;
}

const char *qmp_state_name(QmpState state)
{
    static const char *const names[] = {
        [QMP_STATE_DISCONNECTED] = "disconnected",
        [QMP_STATE_CONNECTING] = "connecting",
        [QMP_STATE_NEGOTIATING] = "negotiating",
        [QMP_STATE_READY] = "ready",
    };
    return (unsigned)state < G_N_ELEMENTS(names) ? names[state] : "?";
}

/* ---- state ----------------------------------------------------------- */

typedef struct {
    gint64 id;
    char *line;         /* serialized command until handed to the socket */
    gint64 deadline_us; /* monotonic; 0 = none */
    gboolean internal;  /* qmp_capabilities: not the user's */
    QmpReplyFunc cb;
    gpointer user_data;
    GError *error; /* set on the deferred queue only */
} QmpRequest;

typedef struct {
    guint id;
    char *event; /* NULL = all */
    QmpEventFunc fn;
    gpointer user_data;
    GDestroyNotify notify;
} QmpSubscription;

typedef struct {
    GSource base;
    QmpConn *conn; /* not a reference: the connection owns the source */
} QmpSource;

struct QmpConn {
    gint ref_count;
    gboolean finalizing;
    gboolean detached; /* fuzz/test mode: no socket */
    char *socket_path;
    QmpState state;
    guint generation; /* bumped on every teardown: stale work stops */

    GSource *source;
    gpointer fd_tag;
    GIOCondition fd_events; /* what fd_tag polls for now */
    int fd;

    QmpFramer framer;
    GString *out; /* unsent bytes, from out_offset */
    gsize out_offset;

    GQueue pending;  /* QmpRequest: sent or waiting for READY */
    GQueue deferred; /* QmpRequest with ->error, delivered from dispatch */
    GError *deferred_teardown;
    gint64 next_id;

    QmpDoneFunc connect_cb;
    gpointer connect_user_data;
    gint64 connect_deadline_us;

    char *qemu_version;
    GArray *subscriptions; /* QmpSubscription */
    guint next_subscription_id;

    QmpStateFunc state_fn;
    gpointer state_user_data;
    GDestroyNotify state_notify;

    QmpConnStats stats;
};

static void conn_rearm(QmpConn *conn);
static void conn_teardown(QmpConn *conn, GError *cause);

static void request_free(QmpRequest *req)
{
    g_free(req->line);
    if (req->error)
        g_error_free(req->error);
    g_free(req);
}

/* Completes a request: exactly one callback, then the request is gone. */
static void request_complete(QmpConn *conn, QmpRequest *req, JsonNode *result, const GError *error)
{
    if (req->cb)
        req->cb(conn, result, error, req->user_data);
    request_free(req);
}

static void conn_set_state(QmpConn *conn, QmpState state, const GError *error)
{
    if (conn->state == state)
        return;
    conn->state = state;
    if (conn->state_fn && !conn->finalizing)
        conn->state_fn(conn, state, error, conn->state_user_data);
}

/* ---- output ---------------------------------------------------------- */

static void conn_update_fd_events(QmpConn *conn)
{
    if (!conn->fd_tag)
        return;
    GIOCondition want = G_IO_IN;
    if (conn->out->len > conn->out_offset)
        want |= G_IO_OUT;
    /* Only on a change: every modify wakes the context (an eventfd write),
     * and almost every command goes out whole at once. */
    if (want != conn->fd_events)
        g_source_modify_unix_fd(conn->source, conn->fd_tag, want);
    conn->fd_events = want;
}

/* Writes what the socket takes now. A failure is not handled here (we may
 * be inside qmp_conn_execute_async): it is parked for the next dispatch. */
static void conn_flush(QmpConn *conn)
{
    if (conn->detached || conn->fd < 0) {
        g_string_truncate(conn->out, 0);
        conn->out_offset = 0;
        return;
    }
    while (conn->out->len > conn->out_offset) {
        ssize_t n = send(conn->fd, conn->out->str + conn->out_offset,
                         conn->out->len - conn->out_offset, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            if (!conn->deferred_teardown)
                conn->deferred_teardown =
                    g_error_new(QMP_ERROR, QMP_ERROR_TRANSPORT, "write to QMP socket %s: %s",
                                conn->socket_path, g_strerror(errno));
            g_source_set_ready_time(conn->source, 0);
            return;
        }
        conn->out_offset += (gsize)n;
    }
    if (conn->out_offset == conn->out->len) {
        g_string_truncate(conn->out, 0);
        conn->out_offset = 0;
    }
    conn_update_fd_events(conn);
}

static void conn_queue_line(QmpConn *conn, QmpRequest *req)
{
    g_string_append(conn->out, req->line);
    g_clear_pointer(&req->line, g_free);
    conn->stats.commands_sent++;
}

/*
 * A command as one line, e.g. (what QEMU 7.2 was sent, docs/qmp.md):
 *   -> {"execute":"qom-set","arguments":{"path":"/machine/peripheral/balloon0",
 *       "property":"guest-stats-polling-interval","value":2},"id":5}
 * Compact, no newline inside (json_writer escapes them in strings), so the
 * line is one QMP message. Validate before send: the writer asserts on a
 * broken grammar, and what it cannot see (write_args leaving a container
 * open or a key without its value) is checked here; such a line is never
 * queued (NULL), since QEMU would answer its parse error without an id.
 */
static char *command_line_new(const char *command, QmpArgsFunc write_args, gconstpointer args,
                              gint64 id)
{
    g_autoptr(GString) line = g_string_sized_new(128);
    struct json_writer w;
    json_writer_init(&w, line);
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "execute", command);
    if (write_args) {
        json_writer_key(&w, "arguments");
        json_writer_object_begin(&w);
        write_args(&w, args);
        if (w.depth != 2 || w.after_key)
            return NULL;
        json_writer_object_end(&w);
    }
    json_writer_member_int(&w, "id", id);
    json_writer_object_end(&w);
    g_string_append_c(line, '\n');
    return g_string_free(g_steal_pointer(&line), FALSE);
}

/* Queues a command, or returns NULL (nothing queued) when its arguments
 * did not check out. */
static QmpRequest *conn_add_request(QmpConn *conn, const char *command, QmpArgsFunc write_args,
                                    gconstpointer args, guint timeout_ms, QmpReplyFunc cb,
                                    gpointer user_data)
{
    char *line = command_line_new(command, write_args, args, conn->next_id + 1);
    if (!line)
        return NULL;
    QmpRequest *req = g_new0(QmpRequest, 1);
    req->id = ++conn->next_id;
    req->line = line;
    req->deadline_us = timeout_ms ? g_get_monotonic_time() + (gint64)timeout_ms * 1000 : 0;
    req->cb = cb;
    req->user_data = user_data;
    g_queue_push_tail(&conn->pending, req);
    return req;
}

/* A command that fails before it is sent: its callback runs from dispatch. */
static void conn_fail_later(QmpConn *conn, QmpReplyFunc cb, gpointer user_data, GError *error)
{
    QmpRequest *req = g_new0(QmpRequest, 1);
    req->cb = cb;
    req->user_data = user_data;
    req->error = error;
    g_queue_push_tail(&conn->deferred, req);
    conn_rearm(conn);
}

/* ---- input ----------------------------------------------------------- */

static QmpRequest *conn_take_request(QmpConn *conn, gint64 id)
{
    for (GList *l = conn->pending.head; l; l = l->next) {
        QmpRequest *req = l->data;
        if (req->id == id && !req->line) {
            g_queue_delete_link(&conn->pending, l);
            return req;
        }
    }
    return NULL;
}

static void conn_protocol_error(QmpConn *conn, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void conn_protocol_error(QmpConn *conn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    conn_teardown(conn, g_error_new(QMP_ERROR, QMP_ERROR_PROTOCOL, "QMP peer %s: %s",
                                    conn->detached ? "(detached)" : conn->socket_path, msg));
}

/* The greeting:
 *   {"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7},
 *    "package": "..."}, "capabilities": ["oob"]}}
 * We ask for no capability: in-band commands, answered in order. */
static void conn_on_capabilities(QmpConn *conn, JsonNode *result, const GError *error,
                                 gpointer user_data);

static void conn_handle_greeting(QmpConn *conn, JsonObject *msg)
{
    JsonNode *qmp = json_object_get_member(msg, "QMP");
    if (!qmp || !JSON_NODE_HOLDS_OBJECT(qmp)) {
        conn_protocol_error(conn, "expected the QMP greeting, got another message");
        return;
    }
    JsonObject *qemu =
        qmp_json_object(qmp_json_object(json_node_get_object(qmp), "version"), "qemu");
    g_clear_pointer(&conn->qemu_version, g_free);
    gint64 major = 0, minor = 0, micro = 0;
    if (qmp_json_int(qemu, "major", &major) && qmp_json_int(qemu, "minor", &minor) &&
        qmp_json_int(qemu, "micro", &micro))
        conn->qemu_version = g_strdup_printf(
            "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, major, minor, micro);
    conn_set_state(conn, QMP_STATE_NEGOTIATING, NULL);
    if (conn->state != QMP_STATE_NEGOTIATING)
        return; /* the state func changed course */
    QmpRequest *req =
        conn_add_request(conn, "qmp_capabilities", NULL, NULL, 0, conn_on_capabilities, conn);
    req->internal = TRUE;
    /* Sent ahead of anything queued while connecting. */
    g_queue_remove(&conn->pending, req);
    g_queue_push_head(&conn->pending, req);
    conn_queue_line(conn, req);
    conn_flush(conn);
}

static void conn_on_capabilities(QmpConn *conn, JsonNode *result, const GError *error,
                                 gpointer user_data)
{
    if (conn->state != QMP_STATE_NEGOTIATING)
        return; /* torn down: the connect callback has its error already */
    if (error) {
        conn_teardown(conn, g_error_copy(error));
        return;
    }
    QmpDoneFunc cb = conn->connect_cb;
    gpointer ud = conn->connect_user_data;
    conn->connect_cb = NULL;
    conn->connect_deadline_us = 0;
    for (GList *l = conn->pending.head; l; l = l->next) {
        QmpRequest *req = l->data;
        if (req->line)
            conn_queue_line(conn, req);
    }
    conn_flush(conn);
    guint gen = conn->generation;
    conn_set_state(conn, QMP_STATE_READY, NULL);
    if (cb && gen == conn->generation)
        cb(conn, NULL, ud);
    else if (cb) {
        g_autoptr(GError) e = g_error_new_literal(QMP_ERROR, QMP_ERROR_CANCELLED,
                                                  "connection closed during negotiation");
        cb(conn, e, ud);
    }
}

/* {"return": VALUE, "id": N} or {"error": {"class": C, "desc": D}, "id": N} */
static void conn_handle_reply(QmpConn *conn, JsonObject *msg)
{
    JsonNode *id = json_object_get_member(msg, "id");
    if (!id || json_node_get_value_type(id) != G_TYPE_INT64) {
        /* QEMU answers a command it could not even parse without an id:
         *   {"error": {"class": "GenericError", "desc": "JSON parse error, ..."}}
         * We never send such a command; nothing to complete. */
        conn->stats.replies_dropped++;
        return;
    }
    QmpRequest *req = conn_take_request(conn, json_node_get_int(id));
    if (!req) {
        conn->stats.replies_dropped++; /* timed out earlier, or not ours */
        return;
    }
    conn->stats.replies_matched++;
    JsonNode *ret = json_object_get_member(msg, "return");
    if (ret) {
        request_complete(conn, req, ret, NULL);
        return;
    }
    JsonObject *e = qmp_json_object(msg, "error");
    g_autoptr(GError) error = NULL;
    if (e) {
        const char *cls = qmp_json_string(e, "class");
        const char *desc = qmp_json_string(e, "desc");
        error = qmp_command_error_new(cls && *cls ? cls : "GenericError",
                                      desc && *desc ? desc : "(QEMU gave no description)");
    } else {
        error = g_error_new_literal(QMP_ERROR, QMP_ERROR_PROTOCOL,
                                    "QMP error reply without an error object");
    }
    request_complete(conn, req, NULL, error);
}

/* {"timestamp": {"seconds": S, "microseconds": U}, "event": NAME, "data": {...}} */
static void conn_handle_event(QmpConn *conn, JsonObject *msg, const char *name)
{
    conn->stats.events++;
    JsonNode *data_node = json_object_get_member(msg, "data");
    g_autoptr(JsonObject) empty = NULL;
    JsonObject *data;
    if (data_node && JSON_NODE_HOLDS_OBJECT(data_node)) {
        data = json_node_get_object(data_node);
    } else {
        empty = json_object_new();
        data = empty;
    }
    gint64 ts_us = 0, seconds = 0, micros = 0;
    JsonObject *ts = qmp_json_object(msg, "timestamp");
    if (qmp_json_int(ts, "seconds", &seconds) && qmp_json_int(ts, "microseconds", &micros) &&
        seconds >= 0 && seconds < G_MAXINT64 / G_USEC_PER_SEC && micros >= 0 &&
        micros < G_USEC_PER_SEC)
        ts_us = seconds * G_USEC_PER_SEC + micros;
    /* Subscribers may (un)subscribe from their callback: snapshot the ids. */
    guint n = conn->subscriptions->len;
    g_autofree guint *ids = g_new(guint, n ? n : 1);
    for (guint i = 0; i < n; i++)
        ids[i] = g_array_index(conn->subscriptions, QmpSubscription, i).id;
    guint gen = conn->generation;
    for (guint i = 0; i < n && gen == conn->generation; i++) {
        for (guint j = 0; j < conn->subscriptions->len; j++) {
            QmpSubscription *s = &g_array_index(conn->subscriptions, QmpSubscription, j);
            if (s->id != ids[i])
                continue;
            if (!s->event || strcmp(s->event, name) == 0)
                s->fn(conn, name, data, ts_us, s->user_data);
            break;
        }
    }
}

static void conn_handle_line(QmpConn *conn, const char *line, gsize len)
{
    gsize i = 0;
    while (i < len && g_ascii_isspace(line[i]))
        i++;
    if (i == len)
        return; /* blank line: nothing to do */
    if (!qmp_json_depth_ok(line, len, QMP_MAX_DEPTH)) {
        conn_protocol_error(conn, "JSON nested deeper than %d levels", QMP_MAX_DEPTH);
        return;
    }
    const char *leak = json_glib_leak(line, len);
    if (leak) {
        conn_protocol_error(conn, "%s", leak);
        return;
    }
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) error = NULL;
    if (!json_parser_load_from_data(parser, line, (gssize)len, &error)) {
        conn_protocol_error(conn, "malformed JSON: %s", error->message);
        return;
    }
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        conn_protocol_error(conn, "a message that is not a JSON object");
        return;
    }
    JsonObject *msg = json_node_get_object(root);
    if (conn->state == QMP_STATE_CONNECTING) {
        conn_handle_greeting(conn, msg);
        return;
    }
    JsonNode *event = json_object_get_member(msg, "event");
    if (event && json_node_get_value_type(event) == G_TYPE_STRING) {
        conn_handle_event(conn, msg, json_node_get_string(event));
        return;
    }
    if (json_object_has_member(msg, "return") || json_object_has_member(msg, "error")) {
        conn_handle_reply(conn, msg);
        return;
    }
    /* A JSON object we do not know: a newer QEMU may send new kinds of
     * message; ignoring them is what QMP's compatibility rules expect. */
    conn->stats.replies_dropped++;
}

/* Hands every complete line to conn_handle_line; stops as soon as a line
 * tore the connection down (or a callback reconnected it). */
static void conn_process_lines(QmpConn *conn)
{
    guint gen = conn->generation;
    for (;;) {
        const char *line;
        gsize len;
        g_autoptr(GError) error = NULL;
        int r = qmp_framer_next(&conn->framer, &line, &len, &error);
        if (r == 0)
            return;
        if (r < 0) {
            conn_teardown(conn, g_steal_pointer(&error));
            return;
        }
        conn_handle_line(conn, line, len);
        if (gen != conn->generation || conn->state == QMP_STATE_DISCONNECTED)
            return;
    }
}

static void conn_read(QmpConn *conn)
{
    gsize avail;
    char *dst = qmp_framer_reserve(&conn->framer, QMP_READ_CHUNK_BYTES, &avail);
    if (!dst) {
        conn_process_lines(conn); /* reports the oversized line */
        return;
    }
    ssize_t n = recv(conn->fd, dst, avail, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n < 0) {
        conn_teardown(conn,
                      g_error_new(QMP_ERROR, QMP_ERROR_TRANSPORT, "read from QMP socket %s: %s",
                                  conn->socket_path, g_strerror(errno)));
        return;
    }
    if (n == 0) {
        gboolean partial = conn->framer.len > conn->framer.start;
        conn_teardown(conn,
                      g_error_new(QMP_ERROR, QMP_ERROR_TRANSPORT, "QEMU closed the QMP socket %s%s",
                                  conn->socket_path, partial ? " in the middle of a message" : ""));
        return;
    }
    conn->stats.bytes_read += (guint64)n;
    qmp_framer_commit(&conn->framer, (gsize)n);
    conn_process_lines(conn);
}

/* ---- teardown, deadlines, dispatch ----------------------------------- */

/*
 * Closes the socket and fails everything pending with `cause` (owned; NULL
 * = orderly: QMP_ERROR_CANCELLED). Order: state func, connect callback,
 * then the pending commands oldest first. Each gets exactly one callback
 * because the queues are stolen before any callback runs.
 */
static void conn_teardown(QmpConn *conn, GError *cause)
{
    if (conn->state == QMP_STATE_DISCONNECTED && conn->fd < 0 && !conn->connect_cb &&
        g_queue_is_empty(&conn->pending)) {
        if (cause)
            g_error_free(cause);
        return;
    }
    if (conn->fd_tag) {
        g_source_remove_unix_fd(conn->source, conn->fd_tag);
        conn->fd_tag = NULL;
    }
    if (conn->fd >= 0) {
        close(conn->fd);
        conn->fd = -1;
    }
    conn->generation++;
    conn->stats.disconnects++;
    qmp_framer_reset(&conn->framer);
    g_string_truncate(conn->out, 0);
    conn->out_offset = 0;
    if (conn->out->allocated_len > 4096) {
        g_string_free(conn->out, TRUE);
        conn->out = g_string_sized_new(0);
    }
    g_clear_error(&conn->deferred_teardown);

    GQueue pending = conn->pending;
    g_queue_init(&conn->pending);
    QmpDoneFunc connect_cb = conn->connect_cb;
    gpointer connect_ud = conn->connect_user_data;
    conn->connect_cb = NULL;
    conn->connect_deadline_us = 0;

    g_autoptr(GError) error =
        cause ? cause
              : g_error_new_literal(QMP_ERROR, QMP_ERROR_CANCELLED, "QMP connection closed");
    qmp_conn_ref(conn);
    conn_set_state(conn, QMP_STATE_DISCONNECTED, cause);
    if (connect_cb)
        connect_cb(conn, error, connect_ud);
    QmpRequest *req;
    while ((req = g_queue_pop_head(&pending)))
        request_complete(conn, req, NULL, error);
    conn_rearm(conn);
    qmp_conn_unref(conn);
}

static void conn_check_deadlines(QmpConn *conn)
{
    gint64 now = g_get_monotonic_time();
    if (conn->connect_deadline_us && conn->connect_deadline_us <= now &&
        conn->state != QMP_STATE_READY) {
        conn_teardown(conn, g_error_new(QMP_ERROR, QMP_ERROR_TIMEOUT,
                                        "no QMP handshake on %s in time", conn->socket_path));
    }
    /* One expired request per pass: its callback may change the queue. */
    for (;;) {
        QmpRequest *expired = NULL;
        for (GList *l = conn->pending.head; l; l = l->next) {
            QmpRequest *req = l->data;
            if (req->deadline_us && req->deadline_us <= now && !req->internal) {
                expired = req;
                g_queue_delete_link(&conn->pending, l);
                break;
            }
        }
        if (!expired)
            return;
        g_autoptr(GError) error =
            g_error_new(QMP_ERROR, QMP_ERROR_TIMEOUT, "no QMP reply from %s within the timeout",
                        conn->detached ? "(detached)" : conn->socket_path);
        request_complete(conn, expired, NULL, error);
    }
}

static void conn_rearm(QmpConn *conn)
{
    if (!conn->source)
        return;
    if (!g_queue_is_empty(&conn->deferred) || conn->deferred_teardown) {
        g_source_set_ready_time(conn->source, 0);
        return;
    }
    gint64 next = conn->connect_deadline_us ? conn->connect_deadline_us : G_MAXINT64;
    for (GList *l = conn->pending.head; l; l = l->next) {
        QmpRequest *req = l->data;
        if (req->deadline_us && req->deadline_us < next)
            next = req->deadline_us;
    }
    g_source_set_ready_time(conn->source, next == G_MAXINT64 ? -1 : next);
}

static void conn_deliver_deferred(QmpConn *conn)
{
    QmpRequest *req;
    while ((req = g_queue_pop_head(&conn->deferred))) {
        GError *error = g_steal_pointer(&req->error);
        request_complete(conn, req, NULL, error);
        g_error_free(error);
    }
}

static gboolean qmp_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
    QmpConn *conn = ((QmpSource *)source)->conn;
    qmp_conn_ref(conn);
    g_source_set_ready_time(source, -1);
    conn_deliver_deferred(conn);
    if (conn->deferred_teardown)
        conn_teardown(conn, g_steal_pointer(&conn->deferred_teardown));
    if (conn->fd_tag) {
        GIOCondition rev = g_source_query_unix_fd(source, conn->fd_tag);
        if (rev & (G_IO_IN | G_IO_HUP | G_IO_ERR))
            conn_read(conn);
        if (conn->fd_tag && (rev & G_IO_OUT))
            conn_flush(conn);
    }
    conn_check_deadlines(conn);
    conn_rearm(conn);
    qmp_conn_unref(conn);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs qmp_source_funcs = {
    .dispatch = qmp_source_dispatch,
};

/* ---- public API ------------------------------------------------------ */

QmpConn *qmp_conn_new(const char *socket_path)
{
    g_return_val_if_fail(socket_path, NULL);
    QmpConn *conn = g_new0(QmpConn, 1);
    conn->ref_count = 1;
    conn->socket_path = g_strdup(socket_path);
    conn->state = QMP_STATE_DISCONNECTED;
    conn->fd = -1;
    qmp_framer_init(&conn->framer, 0);
    conn->out = g_string_sized_new(0);
    g_queue_init(&conn->pending);
    g_queue_init(&conn->deferred);
    conn->subscriptions = g_array_new(FALSE, FALSE, sizeof(QmpSubscription));
    conn->source = g_source_new(&qmp_source_funcs, sizeof(QmpSource));
    ((QmpSource *)conn->source)->conn = conn;
    g_source_set_name(conn->source, "qmp");
    /* Never blocked while dispatching: blocking an fd source makes GLib
     * signal its own wakeup eventfd twice per dispatch, an extra poll() per
     * QMP message. The callbacks never iterate the main loop. */
    g_source_set_can_recurse(conn->source, TRUE);
    g_source_attach(conn->source, g_main_context_get_thread_default());
    return conn;
}

QmpConn *qmp_conn_new_detached(void)
{
    QmpConn *conn = qmp_conn_new("(detached)");
    conn->detached = TRUE;
    conn->state = QMP_STATE_CONNECTING;
    return conn;
}

void qmp_conn_feed(QmpConn *conn, const char *bytes, gsize len)
{
    if (conn->state == QMP_STATE_DISCONNECTED)
        return;
    qmp_conn_ref(conn);
    while (len > 0 && conn->state != QMP_STATE_DISCONNECTED) {
        gsize avail;
        char *dst = qmp_framer_reserve(&conn->framer, len, &avail);
        if (!dst) {
            conn_process_lines(conn);
            break;
        }
        memcpy(dst, bytes, avail);
        qmp_framer_commit(&conn->framer, avail);
        conn->stats.bytes_read += avail;
        bytes += avail;
        len -= avail;
        conn_process_lines(conn);
    }
    qmp_conn_unref(conn);
}

QmpConn *qmp_conn_ref(QmpConn *conn)
{
    g_return_val_if_fail(conn, NULL);
    g_atomic_int_inc(&conn->ref_count);
    return conn;
}

void qmp_conn_unref(QmpConn *conn)
{
    if (!conn || !g_atomic_int_dec_and_test(&conn->ref_count))
        return;
    /* Callbacks below may ref/unref: keep the count above zero meanwhile. */
    conn->ref_count = 1;
    conn->finalizing = TRUE;
    conn_teardown(conn, NULL);
    conn_deliver_deferred(conn);
    for (guint i = 0; i < conn->subscriptions->len; i++) {
        QmpSubscription *s = &g_array_index(conn->subscriptions, QmpSubscription, i);
        if (s->notify)
            s->notify(s->user_data);
        g_free(s->event);
    }
    g_array_free(conn->subscriptions, TRUE);
    if (conn->state_notify)
        conn->state_notify(conn->state_user_data);
    g_source_destroy(conn->source);
    g_source_unref(conn->source);
    qmp_framer_clear(&conn->framer);
    g_string_free(conn->out, TRUE);
    g_clear_error(&conn->deferred_teardown);
    g_free(conn->qemu_version);
    g_free(conn->socket_path);
    g_free(conn);
}

void qmp_conn_set_max_message_bytes(QmpConn *conn, gsize max_bytes)
{
    conn->framer.max_bytes = max_bytes ? max_bytes : QMP_MAX_MESSAGE_BYTES_DEFAULT;
}

void qmp_conn_connect_async(QmpConn *conn, guint timeout_ms, QmpDoneFunc cb, gpointer user_data)
{
    g_return_if_fail(conn && !conn->detached);
    if (conn->state != QMP_STATE_DISCONNECTED)
        qmp_conn_disconnect(conn); /* reconnect on request */
    conn->connect_cb = cb;
    conn->connect_user_data = user_data;
    conn->connect_deadline_us = timeout_ms ? g_get_monotonic_time() + (gint64)timeout_ms * 1000 : 0;
    conn_set_state(conn, QMP_STATE_CONNECTING, NULL);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = -1;
    GError *error = NULL;
    if (strlen(conn->socket_path) >= sizeof(addr.sun_path)) {
        error = g_error_new(QMP_ERROR, QMP_ERROR_TRANSPORT, "QMP socket path too long: %s",
                            conn->socket_path);
    } else {
        strcpy(addr.sun_path, conn->socket_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        /* A unix-socket connect() completes or fails at once; EAGAIN means
         * the listen backlog is full (another client holds QEMU's one
         * monitor slot), not "in progress". */
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
            error = g_error_new(QMP_ERROR, QMP_ERROR_TRANSPORT, "connect to QMP socket %s: %s",
                                conn->socket_path, g_strerror(errno));
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
    }
    if (error) {
        /* Reported from dispatch: callbacks never run inside the call. */
        conn->deferred_teardown = error;
        conn_rearm(conn);
        return;
    }
    conn->fd = fd;
    conn->fd_tag = g_source_add_unix_fd(conn->source, fd, G_IO_IN);
    conn->fd_events = G_IO_IN;
    conn_rearm(conn);
}

void qmp_conn_disconnect(QmpConn *conn)
{
    g_return_if_fail(conn);
    conn_teardown(conn, NULL);
}

QmpState qmp_conn_get_state(QmpConn *conn)
{
    return conn->state;
}

const char *qmp_conn_get_socket_path(QmpConn *conn)
{
    return conn->socket_path;
}

const char *qmp_conn_get_qemu_version(QmpConn *conn)
{
    return conn->qemu_version;
}

void qmp_conn_execute_async(QmpConn *conn, const char *command, QmpArgsFunc write_args,
                            gconstpointer args, guint timeout_ms, QmpReplyFunc cb,
                            gpointer user_data)
{
    g_return_if_fail(conn && command);
    if (conn->state == QMP_STATE_DISCONNECTED) {
        conn_fail_later(conn, cb, user_data,
                        g_error_new(QMP_ERROR, QMP_ERROR_NOT_CONNECTED,
                                    "QMP %s: not connected to %s", command, conn->socket_path));
        return;
    }
    QmpRequest *req = conn_add_request(conn, command, write_args, args, timeout_ms, cb, user_data);
    if (!req) {
        conn_fail_later(conn, cb, user_data,
                        g_error_new(QMP_ERROR, QMP_ERROR_INVALID_ARGUMENTS,
                                    "QMP %s: arguments not written as one complete object, "
                                    "not sent",
                                    command));
        return;
    }
    if (conn->state == QMP_STATE_READY) {
        conn_queue_line(conn, req);
        conn_flush(conn);
    }
    conn_rearm(conn);
}

void qmp_conn_fail_async(QmpConn *conn, QmpReplyFunc cb, gpointer user_data, GError *error)
{
    g_return_if_fail(conn && error);
    conn_fail_later(conn, cb, user_data, error);
}

guint qmp_conn_subscribe(QmpConn *conn, const char *event, QmpEventFunc fn, gpointer user_data,
                         GDestroyNotify notify)
{
    g_return_val_if_fail(conn && fn, 0);
    QmpSubscription s = {
        .id = ++conn->next_subscription_id,
        .event = g_strdup(event),
        .fn = fn,
        .user_data = user_data,
        .notify = notify,
    };
    g_array_append_val(conn->subscriptions, s);
    return s.id;
}

void qmp_conn_unsubscribe(QmpConn *conn, guint subscription_id)
{
    for (guint i = 0; i < conn->subscriptions->len; i++) {
        QmpSubscription s = g_array_index(conn->subscriptions, QmpSubscription, i);
        if (s.id != subscription_id)
            continue;
        g_array_remove_index(conn->subscriptions, i);
        if (s.notify)
            s.notify(s.user_data);
        g_free(s.event);
        return;
    }
}

void qmp_conn_set_state_func(QmpConn *conn, QmpStateFunc fn, gpointer user_data,
                             GDestroyNotify notify)
{
    if (conn->state_notify)
        conn->state_notify(conn->state_user_data);
    conn->state_fn = fn;
    conn->state_user_data = user_data;
    conn->state_notify = notify;
}

void qmp_conn_get_stats(QmpConn *conn, QmpConnStats *out)
{
    *out = conn->stats;
}
