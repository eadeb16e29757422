/*
 * ballast's QMP client: talks to QEMU's QEMU Machine Protocol monitor over a
 * unix socket, asynchronously, on a GMainContext. One QmpConn per guest; one
 * thread drives dozens of them (one GSource per connection, no thread, no
 * polling while idle). Commands are JSON objects with an "id" we choose,
 * replies are matched by id, events go to subscribers. The balloon vocabulary
 * (balloon, query-balloon, guest-stats, ...) sits on top in qmp_balloon.h.
 *
 * Layering follows libvirt's qemu_monitor_json.c: build the command ->
 * send -> check the error and the reply's type -> extract. This file is the
 * "send" and "check the error" part; qmp_balloon.h builds and extracts.
 *
 * Ownership and callback rules (the whole contract, read before use):
 *  - Every *_async call invokes its callback EXACTLY ONCE, always from the
 *    main context (never from inside the call that started it), with either
 *    a result or an error, never both. That holds when QEMU dies, when the
 *    command times out, and when the connection is disconnected or dropped
 *    by us: pending callbacks then get QMP_ERROR_CANCELLED, synchronously,
 *    before qmp_conn_disconnect()/the last qmp_conn_unref() returns.
 *  - Arguments passed in are borrowed: the library copies or refs what it
 *    keeps. Values passed to callbacks (JsonNode, JsonObject, GError,
 *    strings) are borrowed for the duration of the callback; ref/copy them
 *    to keep them.
 *  - A callback may call anything on the connection, including
 *    qmp_conn_unref() (the library holds its own reference while
 *    dispatching), qmp_conn_disconnect() and new *_async calls.
 *  - The connection attaches its source to the thread-default GMainContext
 *    at qmp_conn_new() time; use it from that thread only.
 */
#ifndef BALLAST_QMP_H
#define BALLAST_QMP_H

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Errors: domain QMP_ERROR, codes below. Test them with g_error_matches(). */
#define QMP_ERROR (qmp_error_quark())
GQuark qmp_error_quark(void);

typedef enum {
    /* QEMU answered {"error": {"class": C, "desc": D}}: message is D,
     * qmp_error_get_class() gives C (e.g. "GenericError", "DeviceNotActive",
     * "CommandNotFound"). The connection stays up. */
    QMP_ERROR_COMMAND,
    /* connect() failed, a read/write failed, or the peer closed the socket
     * (QEMU died). The connection is DISCONNECTED afterwards. */
    QMP_ERROR_TRANSPORT,
    /* No reply within the command's timeout_ms. The connection stays up; a
     * late reply is discarded. For connect: no greeting/negotiation in time
     * (the connection is then closed). */
    QMP_ERROR_TIMEOUT,
    /* The peer broke the protocol: malformed JSON, a message over the size
     * limit, nesting too deep, no greeting. The connection is closed. Also
     * used, without closing, when a reply has the wrong shape for the
     * command (e.g. query-balloon without "actual"). */
    QMP_ERROR_PROTOCOL,
    /* We gave up: qmp_conn_disconnect(), a reconnect, or the last unref
     * while the command was pending. */
    QMP_ERROR_CANCELLED,
    /* *_async on a DISCONNECTED connection (call qmp_conn_connect_async). */
    QMP_ERROR_NOT_CONNECTED,
    /* A soft failure: what was looked for does not exist (no balloon
     * device on this machine). */
    QMP_ERROR_NOT_FOUND,
    /* The command's QmpArgsFunc did not write one complete "arguments"
     * object (a container left open, a key without its value): a bug on
     * our side. Also a request a vocabulary's gate refuses (a virtio-mem
     * size outside the device's range or off its block size, a device
     * without an id: qmp_memdev.h). Nothing was sent; the connection is
     * unaffected. */
    QMP_ERROR_INVALID_ARGUMENTS,
} QmpErrorCode;

/* The QMP error class of a QMP_ERROR_COMMAND error, NULL for other errors. */
const char *qmp_error_get_class(const GError *error);

/* Largest message accepted from QEMU. A bigger one closes the connection
 * with QMP_ERROR_PROTOCOL; the read buffer never grows past it. The biggest
 * reply ballast asks for (qom-list of a machine) is ~6 KiB. */
#define QMP_MAX_MESSAGE_BYTES_DEFAULT (1024u * 1024u)
/* Deepest JSON nesting accepted (json-glib 1.6 recurses per level and
 * overflows the stack on ~100k levels; QMP replies nest < 10). */
#define QMP_MAX_DEPTH 64

typedef enum {
    QMP_STATE_DISCONNECTED, /* initial, after an error, after disconnect */
    QMP_STATE_CONNECTING,   /* socket connecting, waiting for the greeting */
    QMP_STATE_NEGOTIATING,  /* greeting read, qmp_capabilities sent */
    QMP_STATE_READY,        /* commands flow */
} QmpState;

const char *qmp_state_name(QmpState state);

typedef struct QmpConn QmpConn;

/* A completed command: result is the "return" member (any JSON type: an
 * object, an array, a bool, an int for qom-get), or error is set. */
typedef void (*QmpReplyFunc)(QmpConn *conn, JsonNode *result, const GError *error,
                             gpointer user_data);
/* A completed operation without a value (connect, balloon set, qom-set). */
typedef void (*QmpDoneFunc)(QmpConn *conn, const GError *error, gpointer user_data);
/* An event: {"event": NAME, "data": {...}, "timestamp": {"seconds": S,
 * "microseconds": U}}. data is never NULL (empty when QEMU sent none);
 * timestamp_us is QEMU's wall clock in microseconds (0 if absent). */
typedef void (*QmpEventFunc)(QmpConn *conn, const char *event, JsonObject *data,
                             gint64 timestamp_us, gpointer user_data);
/* Every state transition. error is set when the transition to
 * DISCONNECTED was caused by a failure (peer died, protocol error, connect
 * timeout), NULL for an orderly one. On a disconnect it is called first,
 * then every pending callback gets its error (a reconnect started from
 * here is not confused with the old connection's failures). Not called
 * from the last qmp_conn_unref(). */
typedef void (*QmpStateFunc)(QmpConn *conn, QmpState state, const GError *error,
                             gpointer user_data);

/* A new connection object, DISCONNECTED, for the QMP socket at socket_path
 * (e.g. DIR/vm0/qmp.sock). Nothing happens until qmp_conn_connect_async. */
QmpConn *qmp_conn_new(const char *socket_path);
QmpConn *qmp_conn_ref(QmpConn *conn);
/* Dropping the last reference disconnects (pending -> CANCELLED) and frees. */
void qmp_conn_unref(QmpConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpConn, qmp_conn_unref)

/* Lower the message size limit (tests, fuzzing); 0 restores the default. */
void qmp_conn_set_max_message_bytes(QmpConn *conn, gsize max_bytes);

/* Connects, reads the greeting, negotiates capabilities. cb gets NULL once
 * READY, or the error (connection back to DISCONNECTED). timeout_ms covers
 * the whole handshake (0 = none). Called on a connection that is not
 * DISCONNECTED it reconnects: the old socket is closed first and its
 * pending commands get QMP_ERROR_CANCELLED. Commands issued while
 * CONNECTING/NEGOTIATING are queued and sent once READY. */
void qmp_conn_connect_async(QmpConn *conn, guint timeout_ms, QmpDoneFunc cb, gpointer user_data);

/* Closes the socket now. Pending commands and a pending connect get
 * QMP_ERROR_CANCELLED before this returns; the state func sees
 * DISCONNECTED with error NULL. No-op when already DISCONNECTED. */
void qmp_conn_disconnect(QmpConn *conn);

QmpState qmp_conn_get_state(QmpConn *conn);
const char *qmp_conn_get_socket_path(QmpConn *conn);
/* "7.2.22" from the greeting, NULL before the first greeting. */
const char *qmp_conn_get_qemu_version(QmpConn *conn);

struct json_writer;

/* A command's arguments, written with json_writer.h (host/json/) straight
 * into the command's line: called with the "arguments" object already
 * open, it writes its members (json_writer_member_*(), or json_writer_key()
 * and a value or a container it closes again) and leaves the object open.
 * args is what the caller passed to qmp_conn_execute_async. For
 *   -> {"execute": "balloon", "arguments": {"value": 201326592}, "id": 8}
 * it is json_writer_member_int(w, "value", *(const gint64 *)args). */
typedef void (*QmpArgsFunc)(struct json_writer *w, gconstpointer args);

/* Sends {"execute": command, "arguments": {...}, "id": N}, one compact
 * line. write_args may be NULL (no "arguments" member); it and args are
 * used during this call only. The line is checked before it is queued: if
 * write_args left the arguments unfinished, nothing is sent and cb gets
 * QMP_ERROR_INVALID_ARGUMENTS. timeout_ms 0 = wait forever (until the
 * connection dies). cb may be NULL (fire and forget). */
void qmp_conn_execute_async(QmpConn *conn, const char *command, QmpArgsFunc write_args,
                            gconstpointer args, guint timeout_ms, QmpReplyFunc cb,
                            gpointer user_data);

/* Subscribes to one event name (NULL = every event). Returns an id > 0 for
 * qmp_conn_unsubscribe. notify (may be NULL) frees user_data on unsubscribe
 * or when the connection is freed. Subscriptions survive reconnects. */
guint qmp_conn_subscribe(QmpConn *conn, const char *event, QmpEventFunc fn, gpointer user_data,
                         GDestroyNotify notify);
void qmp_conn_unsubscribe(QmpConn *conn, guint subscription_id);

/* One state callback per connection (replaces the previous one). */
void qmp_conn_set_state_func(QmpConn *conn, QmpStateFunc fn, gpointer user_data,
                             GDestroyNotify notify);

/* Counters for diagnostics (ballastctl, tests). */
typedef struct {
    guint64 commands_sent;
    guint64 replies_matched;
    guint64 replies_dropped; /* unknown id: late reply after a timeout */
    guint64 events;
    guint64 bytes_read;
    guint64 disconnects;
} QmpConnStats;
void qmp_conn_get_stats(QmpConn *conn, QmpConnStats *out);

G_END_DECLS

#endif
