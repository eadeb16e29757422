/*
 * The QMP client against a scripted fake QMP server on a real unix socket
 * (fake_qmp.c), all in this thread's main loop: handshake, id matching with
 * out-of-order replies, events, error replies, timeouts, a peer dying with
 * commands pending, framing edge cases, hostile input, reconnects, arguments
 * checked before they are sent, and the balloon vocabulary (the exact bytes
 * of a few commands included). Every callback is counted: "exactly once" is asserted.
 */
#include "cunit_main.h"
#include "fake_qmp.h"
#include "json_writer.h"
#include "qmp.h"
#include "qmp_balloon.h"

#include <string.h>

#define WAIT_MS 5000

typedef struct {
    int calls;
    gboolean done;
    JsonNode *result;
    GError *error;
} Reply;

static void on_reply(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    Reply *r = data;
    r->calls++;
    r->done = TRUE;
    if (result)
        r->result = json_node_copy(result);
    if (error)
        r->error = g_error_copy(error);
}

static void on_done(QmpConn *conn, const GError *error, gpointer data)
{
    on_reply(conn, NULL, error, data);
}

static void reply_clear(Reply *r)
{
    if (r->result)
        json_node_unref(r->result);
    g_clear_error(&r->error);
    memset(r, 0, sizeof(*r));
}

static gint64 reply_int(const Reply *r)
{
    return r->result && json_node_get_value_type(r->result) == G_TYPE_INT64
               ? json_node_get_int(r->result)
               : -12345;
}

typedef struct {
    int count;
    QmpState states[16];
    int errors;
} StateLog;

static void on_state(QmpConn *conn, QmpState state, const GError *error, gpointer data)
{
    StateLog *log = data;
    if (log->count < 16)
        log->states[log->count] = state;
    log->count++;
    if (error)
        log->errors++;
}

/* Connects conn to the fake and runs the loop until READY. */
static gboolean connect_ok(QmpConn *conn)
{
    Reply r = {0};
    qmp_conn_connect_async(conn, WAIT_MS, on_done, &r);
    CU_ASSERT_FALSE(r.done); /* never from inside the call */
    fake_run_until(&r.done, WAIT_MS);
    gboolean ok = r.done && !r.error && r.calls == 1;
    if (r.error)
        fprintf(stderr, "connect: %s\n", r.error->message);
    reply_clear(&r);
    return ok && qmp_conn_get_state(conn) == QMP_STATE_READY;
}

static void assert_script_done(FakeQmp *fake)
{
    CU_ASSERT_TRUE(fake_run_until_finished(fake, WAIT_MS));
    CU_ASSERT_PTR_NULL(fake_qmp_failure(fake));
}

static void test_handshake(void)
{
    static const FakeStep steps[] = {FAKE_HANDSHAKE, {.kind = FAKE_END}};
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    StateLog log = {0};
    qmp_conn_set_state_func(conn, on_state, &log, NULL);
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_DISCONNECTED);
    CU_ASSERT_PTR_NULL(qmp_conn_get_qemu_version(conn));
    CU_ASSERT_TRUE(connect_ok(conn));
    CU_ASSERT_STRING_EQUAL(qmp_conn_get_qemu_version(conn), "7.2.22");
    CU_ASSERT_EQUAL(log.count, 3);
    CU_ASSERT_EQUAL(log.states[0], QMP_STATE_CONNECTING);
    CU_ASSERT_EQUAL(log.states[1], QMP_STATE_NEGOTIATING);
    CU_ASSERT_EQUAL(log.states[2], QMP_STATE_READY);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

static void test_out_of_order(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "cmd-a"},
        {.kind = FAKE_EXPECT, .command = "cmd-b"},
        {.kind = FAKE_EXPECT, .command = "cmd-c"},
        {.kind = FAKE_REPLY_HELD, .n = 2, .text = "{\"return\": 3}"},
        {.kind = FAKE_REPLY_HELD, .n = 0, .text = "{\"return\": 1}"},
        {.kind = FAKE_REPLY_HELD, .n = 1, .text = "{\"return\": 2}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply r[3] = {0};
    qmp_conn_execute_async(conn, "cmd-a", NULL, NULL, WAIT_MS, on_reply, &r[0]);
    qmp_conn_execute_async(conn, "cmd-b", NULL, NULL, WAIT_MS, on_reply, &r[1]);
    qmp_conn_execute_async(conn, "cmd-c", NULL, NULL, WAIT_MS, on_reply, &r[2]);
    fake_run_until(&r[1].done, WAIT_MS);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(r[i].calls, 1);
        CU_ASSERT_PTR_NULL(r[i].error);
        CU_ASSERT_EQUAL(reply_int(&r[i]), i + 1);
        reply_clear(&r[i]);
    }
    QmpConnStats st;
    qmp_conn_get_stats(conn, &st);
    CU_ASSERT_EQUAL(st.replies_matched, 4); /* 3 + qmp_capabilities */
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

typedef struct {
    int count;
    char names[8][32];
    gint64 last_actual;
    gint64 last_ts_us;
} EventLog;

static void on_event(QmpConn *conn, const char *event, JsonObject *data, gint64 ts_us,
                     gpointer user_data)
{
    EventLog *log = user_data;
    CU_ASSERT_PTR_NOT_NULL(data);
    if (log->count < 8)
        g_strlcpy(log->names[log->count], event, sizeof(log->names[0]));
    log->count++;
    guint64 actual;
    if (strcmp(event, QMP_EVENT_BALLOON_CHANGE) == 0 &&
        qmp_balloon_parse_change_event(data, &actual, NULL))
        log->last_actual = (gint64)actual;
    log->last_ts_us = ts_us;
}

static void test_events(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_SEND,
         .text = "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 5}, "
                 "\"event\": \"STOP\"}\r\n"},
        {.kind = FAKE_SEND,
         .text = "{\"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 7}, "
                 "\"event\": \"BALLOON_CHANGE\", \"data\": {\"actual\": 104857600}}\r\n"},
        {.kind = FAKE_SEND,
         .text = "{\"timestamp\": {\"seconds\": 1700000002, \"microseconds\": 0}, "
                 "\"event\": \"RESUME\"}\r\n"},
        {.kind = FAKE_EXPECT, .command = "sync", .text = "{\"return\": {}}"},
        /* the next event only once the test has unsubscribed */
        {.kind = FAKE_EXPECT, .command = "sync"},
        {.kind = FAKE_SEND,
         .text = "{\"event\": \"BALLOON_CHANGE\", \"data\": {\"actual\": 1}}\r\n"},
        {.kind = FAKE_REPLY_HELD, .n = 0, .text = "{\"return\": {}}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    EventLog all = {0}, balloon = {0};
    guint sub_all = qmp_conn_subscribe(conn, NULL, on_event, &all, NULL);
    guint sub_balloon =
        qmp_conn_subscribe(conn, QMP_EVENT_BALLOON_CHANGE, on_event, &balloon, NULL);
    CU_ASSERT(sub_all > 0 && sub_balloon > 0 && sub_all != sub_balloon);
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply r = {0};
    qmp_conn_execute_async(conn, "sync", NULL, NULL, WAIT_MS, on_reply, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_EQUAL(all.count, 3);
    CU_ASSERT_STRING_EQUAL(all.names[0], "STOP");
    CU_ASSERT_STRING_EQUAL(all.names[1], "BALLOON_CHANGE");
    CU_ASSERT_STRING_EQUAL(all.names[2], "RESUME");
    CU_ASSERT_EQUAL(balloon.count, 1);
    CU_ASSERT_EQUAL(balloon.last_actual, 104857600);
    CU_ASSERT_EQUAL(balloon.last_ts_us, 1700000001LL * 1000000 + 7);
    reply_clear(&r);
    /* Unsubscribed: the second BALLOON_CHANGE reaches only "all". */
    qmp_conn_unsubscribe(conn, sub_balloon);
    qmp_conn_execute_async(conn, "sync", NULL, NULL, WAIT_MS, on_reply, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_EQUAL(all.count, 4);
    CU_ASSERT_EQUAL(all.last_ts_us, 0); /* no timestamp sent */
    CU_ASSERT_EQUAL(balloon.count, 1);
    reply_clear(&r);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

static void test_error_reply(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT,
         .command = "query-nonexistent",
         .text = "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command "
                 "query-nonexistent has not been found\"}}"},
        {.kind = FAKE_EXPECT, .command = "query-balloon", .text = "{\"return\": {\"actual\": 5}}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply r = {0};
    qmp_conn_execute_async(conn, "query-nonexistent", NULL, NULL, WAIT_MS, on_reply, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_PTR_NULL(r.result);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_COMMAND));
    CU_ASSERT_STRING_EQUAL(qmp_error_get_class(r.error), "CommandNotFound");
    CU_ASSERT_STRING_EQUAL(r.error->message, "The command query-nonexistent has not been found");
    reply_clear(&r);
    /* The connection is still usable. */
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_READY);
    qmp_conn_execute_async(conn, "query-balloon", NULL, NULL, WAIT_MS, on_reply, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_PTR_NULL(r.error);
    CU_ASSERT_PTR_NULL(qmp_error_get_class(r.error));
    reply_clear(&r);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

static void test_timeout(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "slow"},
        /* Far beyond the 100 ms timeout, so a loaded CI machine still sees
         * the timeout first; the late reply then must not complete "fast". */
        {.kind = FAKE_DELAY, .n = 1500},
        {.kind = FAKE_REPLY_HELD, .n = 0, .text = "{\"return\": 1}"},
        {.kind = FAKE_EXPECT, .command = "fast", .text = "{\"return\": 2}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply slow = {0}, fast = {0};
    gint64 t0 = g_get_monotonic_time();
    qmp_conn_execute_async(conn, "slow", NULL, NULL, 100, on_reply, &slow);
    fake_run_until(&slow.done, WAIT_MS);
    gint64 waited_ms = (g_get_monotonic_time() - t0) / 1000;
    CU_ASSERT_TRUE(g_error_matches(slow.error, QMP_ERROR, QMP_ERROR_TIMEOUT));
    CU_ASSERT(waited_ms >= 100 && waited_ms < 1500);
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_READY);
    /* The late reply to "slow" must not complete "fast". */
    qmp_conn_execute_async(conn, "fast", NULL, NULL, WAIT_MS, on_reply, &fast);
    fake_run_until(&fast.done, WAIT_MS);
    CU_ASSERT_EQUAL(reply_int(&fast), 2);
    CU_ASSERT_EQUAL(slow.calls, 1);
    CU_ASSERT_EQUAL(fast.calls, 1);
    QmpConnStats st;
    qmp_conn_get_stats(conn, &st);
    CU_ASSERT_EQUAL(st.replies_dropped, 1);
    reply_clear(&slow);
    reply_clear(&fast);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

/* QEMU dies with three commands in flight, in the middle of a reply. */
static void test_peer_dies(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "a"},
        {.kind = FAKE_EXPECT, .command = "b"},
        {.kind = FAKE_EXPECT, .command = "c"},
        {.kind = FAKE_SEND, .text = "{\"return\": {\"act"},
        {.kind = FAKE_CLOSE},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    StateLog log = {0};
    qmp_conn_set_state_func(conn, on_state, &log, NULL);
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply r[3] = {0};
    qmp_conn_execute_async(conn, "a", NULL, NULL, 0, on_reply, &r[0]);
    qmp_conn_execute_async(conn, "b", NULL, NULL, 0, on_reply, &r[1]);
    qmp_conn_execute_async(conn, "c", NULL, NULL, 0, on_reply, &r[2]);
    fake_run_until(&r[2].done, WAIT_MS);
    /* Let any stray second callback show up. */
    gboolean never = FALSE;
    fake_run_until(&never, 50);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(r[i].calls, 1);
        CU_ASSERT_TRUE(g_error_matches(r[i].error, QMP_ERROR, QMP_ERROR_TRANSPORT));
        if (r[i].error)
            CU_ASSERT_PTR_NOT_NULL(strstr(r[i].error->message, "middle of a message"));
        reply_clear(&r[i]);
    }
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_DISCONNECTED);
    CU_ASSERT_EQUAL(log.states[log.count - 1], QMP_STATE_DISCONNECTED);
    CU_ASSERT_EQUAL(log.errors, 1);
    /* Commands on a dead connection fail, later, not inside the call. */
    Reply late = {0};
    qmp_conn_execute_async(conn, "d", NULL, NULL, 0, on_reply, &late);
    CU_ASSERT_FALSE(late.done);
    fake_run_until(&late.done, WAIT_MS);
    CU_ASSERT_TRUE(g_error_matches(late.error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED));
    reply_clear(&late);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

/* Greeting, capabilities reply and events in one write; then two replies
 * and an event in one write. */
static void test_many_in_one_read(void)
{
    static const FakeStep steps[] = {
        {.kind = FAKE_ACCEPT},
        {.kind = FAKE_SEND, .text = FAKE_GREETING},
        {.kind = FAKE_EXPECT, .command = "qmp_capabilities"},
        /* ids: x = 1, y = 2 (issued first), qmp_capabilities = 3 */
        {.kind = FAKE_SEND, .text = "{\"return\": {}, \"id\": 3}\r\n{\"event\": \"STOP\"}\r\n"},
        {.kind = FAKE_EXPECT, .command = "x"},
        {.kind = FAKE_EXPECT, .command = "y"},
        {.kind = FAKE_SEND,
         .text = "{\"return\": 20, \"id\": 2}\r\n{\"event\": \"RESUME\"}\r\n"
                 "{\"return\": 10, \"id\": 1}\r\n"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    EventLog ev = {0};
    qmp_conn_subscribe(conn, NULL, on_event, &ev, NULL);
    Reply c = {0}, x = {0}, y = {0};
    qmp_conn_connect_async(conn, WAIT_MS, on_done, &c);
    /* Issued while connecting: queued, sent after negotiation. */
    qmp_conn_execute_async(conn, "x", NULL, NULL, WAIT_MS, on_reply, &x);
    qmp_conn_execute_async(conn, "y", NULL, NULL, WAIT_MS, on_reply, &y);
    fake_run_until(&x.done, WAIT_MS);
    fake_run_until(&y.done, WAIT_MS);
    CU_ASSERT_EQUAL(c.calls, 1);
    CU_ASSERT_PTR_NULL(c.error);
    if (c.error)
        fprintf(stderr, "%s\n", c.error->message);
    CU_ASSERT_EQUAL(reply_int(&x), 10);
    CU_ASSERT_EQUAL(reply_int(&y), 20);
    CU_ASSERT_EQUAL(ev.count, 2);
    reply_clear(&c);
    reply_clear(&x);
    reply_clear(&y);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

static void test_split_bytewise(void)
{
    static const FakeStep steps[] = {
        {.kind = FAKE_ACCEPT},
        {.kind = FAKE_SEND_SPLIT, .text = FAKE_GREETING},
        {.kind = FAKE_EXPECT, .command = "qmp_capabilities"},
        {.kind = FAKE_SEND_SPLIT, .text = "{\"return\": {}, \"id\": 1}\r\n"},
        {.kind = FAKE_EXPECT, .command = "query-balloon"},
        {.kind = FAKE_SEND_SPLIT, .text = "{\"return\": {\"actual\": 134217728}, \"id\": 2}\r\n"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply r = {0};
    qmp_conn_execute_async(conn, "query-balloon", NULL, NULL, WAIT_MS, on_reply, &r);
    fake_run_until(&r.done, WAIT_MS);
    guint64 actual = 0;
    CU_ASSERT_TRUE(qmp_balloon_parse_query(r.result, &actual, NULL));
    CU_ASSERT_EQUAL(actual, 134217728);
    QmpConnStats st;
    qmp_conn_get_stats(conn, &st);
    CU_ASSERT_EQUAL(st.bytes_read,
                    strlen(FAKE_GREETING) + strlen(steps[3].text) + strlen(steps[5].text));
    reply_clear(&r);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

/* Runs a script whose last step makes the client drop the connection with
 * a protocol error; returns that error's message (to free). */
static char *expect_protocol_error(const FakeStep *steps, gsize max_bytes)
{
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    if (max_bytes)
        qmp_conn_set_max_message_bytes(conn, max_bytes);
    StateLog log = {0};
    qmp_conn_set_state_func(conn, on_state, &log, NULL);
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply r = {0};
    qmp_conn_execute_async(conn, "victim", NULL, NULL, 0, on_reply, &r);
    fake_run_until(&r.done, 20000);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_PROTOCOL));
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_DISCONNECTED);
    CU_ASSERT_EQUAL(log.errors, 1);
    char *msg = g_strdup(r.error ? r.error->message : "");
    reply_clear(&r);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
    return msg;
}

static void test_oversized(void)
{
    /* Default limit: 1 MiB; QEMU "sends" 1.5 MiB. */
    static const FakeStep big[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "victim"},
        {.kind = FAKE_SEND_BIG, .n = 3u << 19},
        {.kind = FAKE_END},
    };
    g_autofree char *m1 = expect_protocol_error(big, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(m1, "longer than 1048576 bytes"));
    /* A lowered limit; the message is cut off exactly one byte over it. */
    static const FakeStep small[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "victim"},
        {.kind = FAKE_SEND_BIG, .n = 4095},
        {.kind = FAKE_END},
    };
    g_autofree char *m2 = expect_protocol_error(small, 4096);
    CU_ASSERT_PTR_NOT_NULL(strstr(m2, "4096"));
}

static void test_malformed(void)
{
    static const FakeStep bad_json[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "victim"},
        {.kind = FAKE_SEND, .text = "{\"return\": }\r\n"},
        {.kind = FAKE_END},
    };
    g_autofree char *m1 = expect_protocol_error(bad_json, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(m1, "malformed JSON"));

    static const FakeStep not_object[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "victim"},
        {.kind = FAKE_SEND, .text = "[1, 2]\r\n"},
        {.kind = FAKE_END},
    };
    g_autofree char *m2 = expect_protocol_error(not_object, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(m2, "not a JSON object"));

    /* 200k nested arrays crash json-glib 1.6 (stack overflow): refused
     * before parsing. */
    static char deep[200003];
    memset(deep, '[', 200000);
    memcpy(deep + 200000, "\r\n", 3);
    static const FakeStep too_deep[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "victim"},
        {.kind = FAKE_SEND, .text = deep},
        {.kind = FAKE_END},
    };
    g_autofree char *m3 = expect_protocol_error(too_deep, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(m3, "nested deeper"));

    /* Two values on a line: json-glib 1.6 read the first and leaked the
     * second; refused before it reads them. */
    static const FakeStep two_values[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "victim"},
        {.kind = FAKE_SEND, .text = "{\"return\": {}, \"id\": 2}{\"return\": {}}\r\n"},
        {.kind = FAKE_END},
    };
    g_autofree char *m4 = expect_protocol_error(two_values, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(m4, "more than one JSON value"));

    /* Not QMP at all: no greeting. */
    static const FakeStep no_greeting[] = {
        {.kind = FAKE_ACCEPT},
        {.kind = FAKE_SEND, .text = "{\"hello\": 1}\n"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(no_greeting);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    Reply c = {0};
    qmp_conn_connect_async(conn, WAIT_MS, on_done, &c);
    fake_run_until(&c.done, WAIT_MS);
    CU_ASSERT_TRUE(g_error_matches(c.error, QMP_ERROR, QMP_ERROR_PROTOCOL));
    CU_ASSERT_EQUAL(c.calls, 1);
    reply_clear(&c);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

static void test_reconnect(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_CLOSE}, /* QEMU restarts */
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "held"},
        /* reconnect on request while "held" is pending */
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "query-balloon", .text = "{\"return\": {\"actual\": 7}}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    StateLog log = {0};
    qmp_conn_set_state_func(conn, on_state, &log, NULL);
    CU_ASSERT_TRUE(connect_ok(conn));
    while (qmp_conn_get_state(conn) != QMP_STATE_DISCONNECTED && log.count < 16)
        g_main_context_iteration(NULL, TRUE);
    CU_ASSERT_EQUAL(log.errors, 1);
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply held = {0}, q = {0};
    qmp_conn_execute_async(conn, "held", NULL, NULL, 0, on_reply, &held);
    gboolean never = FALSE;
    fake_run_until(&never, 50); /* the fake takes "held" and holds it */
    CU_ASSERT_FALSE(held.done);
    CU_ASSERT_TRUE(connect_ok(conn)); /* reconnect while READY */
    CU_ASSERT_EQUAL(held.calls, 1);
    CU_ASSERT_TRUE(g_error_matches(held.error, QMP_ERROR, QMP_ERROR_CANCELLED));
    qmp_conn_execute_async(conn, "query-balloon", NULL, NULL, WAIT_MS, on_reply, &q);
    fake_run_until(&q.done, WAIT_MS);
    CU_ASSERT_PTR_NULL(q.error);
    CU_ASSERT_EQUAL(fake_qmp_accepted(fake), 3);
    reply_clear(&held);
    reply_clear(&q);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

static void test_connect_failures(void)
{
    /* No socket at all. */
    QmpConn *conn = qmp_conn_new("/nonexistent/ballast/qmp.sock");
    Reply c = {0};
    qmp_conn_connect_async(conn, WAIT_MS, on_done, &c);
    CU_ASSERT_FALSE(c.done);
    fake_run_until(&c.done, WAIT_MS);
    CU_ASSERT_EQUAL(c.calls, 1);
    CU_ASSERT_TRUE(g_error_matches(c.error, QMP_ERROR, QMP_ERROR_TRANSPORT));
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_DISCONNECTED);
    reply_clear(&c);
    qmp_conn_unref(conn);

    /* A socket that accepts and never greets. */
    static const FakeStep mute[] = {
        {.kind = FAKE_ACCEPT}, {.kind = FAKE_DELAY, .n = 10000}, {.kind = FAKE_END}};
    FakeQmp *fake = fake_qmp_new(mute);
    conn = qmp_conn_new(fake_qmp_socket_path(fake));
    qmp_conn_connect_async(conn, 150, on_done, &c);
    Reply queued = {0};
    qmp_conn_execute_async(conn, "queued", NULL, NULL, 0, on_reply, &queued);
    fake_run_until(&c.done, WAIT_MS);
    CU_ASSERT_TRUE(g_error_matches(c.error, QMP_ERROR, QMP_ERROR_TIMEOUT));
    CU_ASSERT_EQUAL(queued.calls, 1);
    CU_ASSERT_TRUE(g_error_matches(queued.error, QMP_ERROR, QMP_ERROR_TIMEOUT));
    reply_clear(&c);
    reply_clear(&queued);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

/* Dropping the last reference with commands pending, and from inside a
 * callback. */
static void on_reply_unref(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    on_reply(conn, result, error, data);
    qmp_conn_unref(conn);
}

static void test_unref_pending(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT, .command = "first", .text = "{\"return\": 1}"},
        {.kind = FAKE_EXPECT, .command = "second"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply first = {0}, second = {0};
    qmp_conn_execute_async(conn, "first", NULL, NULL, 0, on_reply_unref, &first);
    qmp_conn_execute_async(conn, "second", NULL, NULL, 0, on_reply, &second);
    fake_run_until(&first.done, WAIT_MS); /* frees conn from the callback */
    CU_ASSERT_EQUAL(first.calls, 1);
    CU_ASSERT_EQUAL(reply_int(&first), 1);
    CU_ASSERT_EQUAL(second.calls, 1);
    CU_ASSERT_TRUE(g_error_matches(second.error, QMP_ERROR, QMP_ERROR_CANCELLED));
    reply_clear(&first);
    reply_clear(&second);
    fake_run_until_finished(fake, WAIT_MS);
    CU_ASSERT_PTR_NULL(fake_qmp_failure(fake));
    fake_qmp_free(fake);
}

/* Arguments writers that leave the "arguments" object unfinished. */
static void write_open_array(struct json_writer *w, gconstpointer args)
{
    json_writer_key(w, "list");
    json_writer_array_begin(w);
    json_writer_int(w, 1);
}

static void write_dangling_key(struct json_writer *w, gconstpointer args)
{
    json_writer_member_string(w, "path", args);
    json_writer_key(w, "property");
}

static void write_path(struct json_writer *w, gconstpointer args)
{
    json_writer_member_string(w, "path", args);
}

/* Validate before send: unfinished arguments never reach the socket (QEMU
 * would answer the parse error without an id), take no id, and fail the
 * command alone, from the main loop. A string with a newline and a quote
 * stays on one line. */
static void test_arguments_checked(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT,
         .command = "qom-list",
         .args = "{\"path\": \"/a\\n\\\"b\"}",
         .line = "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/a\\n\\\"b\"},\"id\":2}",
         .text = "{\"return\": []}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    CU_ASSERT_TRUE(connect_ok(conn));
    Reply open = {0}, dangling = {0}, good = {0};
    qmp_conn_execute_async(conn, "qom-list", write_open_array, NULL, WAIT_MS, on_reply, &open);
    qmp_conn_execute_async(conn, "qom-list", write_dangling_key, "/p", WAIT_MS, on_reply,
                           &dangling);
    CU_ASSERT_FALSE(open.done || dangling.done); /* never from inside the call */
    qmp_conn_execute_async(conn, "qom-list", write_path, "/a\n\"b", WAIT_MS, on_reply, &good);
    fake_run_until(&good.done, WAIT_MS);
    CU_ASSERT_EQUAL(open.calls, 1);
    CU_ASSERT_TRUE(g_error_matches(open.error, QMP_ERROR, QMP_ERROR_INVALID_ARGUMENTS));
    CU_ASSERT_EQUAL(dangling.calls, 1);
    CU_ASSERT_TRUE(g_error_matches(dangling.error, QMP_ERROR, QMP_ERROR_INVALID_ARGUMENTS));
    CU_ASSERT_EQUAL(good.calls, 1);
    CU_ASSERT_PTR_NULL(good.error);
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_READY);
    QmpConnStats stats;
    qmp_conn_get_stats(conn, &stats);
    CU_ASSERT_EQUAL(stats.commands_sent, 2); /* qmp_capabilities and the good one */
    reply_clear(&open);
    reply_clear(&dangling);
    reply_clear(&good);
    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

/* ---- balloon vocabulary ------------------------------------------------ */

typedef struct {
    int calls;
    gboolean done;
    guint64 actual;
    char *path;
    QmpBalloonStats stats;
    QmpBalloonFeatures features;
    GError *error;
} BalloonResult;

static void on_query(QmpConn *conn, guint64 actual, const GError *error, gpointer data)
{
    BalloonResult *r = data;
    r->calls++;
    r->done = TRUE;
    r->actual = actual;
    if (error)
        r->error = g_error_copy(error);
}

static void on_path(QmpConn *conn, const char *path, const GError *error, gpointer data)
{
    BalloonResult *r = data;
    r->calls++;
    r->done = TRUE;
    r->path = g_strdup(path);
    if (error)
        r->error = g_error_copy(error);
}

static void on_stats(QmpConn *conn, const QmpBalloonStats *stats, const GError *error,
                     gpointer data)
{
    BalloonResult *r = data;
    r->calls++;
    r->done = TRUE;
    if (stats)
        r->stats = *stats;
    if (error)
        r->error = g_error_copy(error);
}

static void on_features(QmpConn *conn, const QmpBalloonFeatures *f, const GError *error,
                        gpointer data)
{
    BalloonResult *r = data;
    r->calls++;
    r->done = TRUE;
    if (f)
        r->features = *f;
    if (error)
        r->error = g_error_copy(error);
}

static void balloon_clear(BalloonResult *r)
{
    g_free(r->path);
    g_clear_error(&r->error);
    memset(r, 0, sizeof(*r));
}

#define DEV "/machine/peripheral-anon/device[0]"

static void test_balloon_commands(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        /* The bytes as json-glib wrote them before json_writer did: compact,
         * members in this order. */
        {.kind = FAKE_EXPECT,
         .command = "balloon",
         .args = "{\"value\": 104857600}",
         .line = "{\"execute\":\"balloon\",\"arguments\":{\"value\":104857600},\"id\":2}",
         .text = "{\"return\": {}}"},
        {.kind = FAKE_EXPECT,
         .command = "query-balloon",
         .line = "{\"execute\":\"query-balloon\",\"id\":3}",
         .text = "{\"return\": {\"actual\": 134217728}}"},
        {.kind = FAKE_EXPECT, .command = "query-balloon", .text = "{\"return\": {\"wrong\": 1}}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-list",
         .args = "{\"path\": \"/machine/peripheral\"}",
         .text = "{\"return\": [{\"name\": \"type\", \"type\": \"string\"}]}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-list",
         .args = "{\"path\": \"/machine/peripheral-anon\"}",
         .text = "{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, {\"name\": "
                 "\"device[0]\", \"type\": \"child<virtio-balloon-device>\"}]}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-set",
         .args = "{\"path\": \"" DEV "\", \"property\": \"guest-stats-polling-interval\", "
                 "\"value\": 2}",
         .line = "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" DEV "\",\"property\":"
                 "\"guest-stats-polling-interval\",\"value\":2},\"id\":7}",
         .text = "{\"return\": {}}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-get",
         .args = "{\"path\": \"" DEV "\", \"property\": \"guest-stats\"}",
         .text = "{\"return\": {\"stats\": {\"stat-htlb-pgalloc\": 0, \"stat-swap-out\": 0, "
                 "\"stat-available-memory\": 61341696, \"stat-htlb-pgfail\": 0, "
                 "\"stat-free-memory\": 55640064, \"stat-minor-faults\": 4242, "
                 "\"stat-major-faults\": 12, \"stat-total-memory\": 94834688, \"stat-swap-in\": "
                 "18446744073709551615, \"stat-disk-caches\": 1703936}, \"last-update\": "
                 "1700000000}}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-get",
         .args = "{\"path\": \"" DEV "\", \"property\": \"free-page-reporting\"}",
         .text = "{\"return\": true}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-get",
         .args = "{\"path\": \"" DEV "\", \"property\": \"deflate-on-oom\"}",
         .text = "{\"return\": false}"},
        {.kind = FAKE_EXPECT,
         .command = "balloon",
         .args = "{\"value\": 1}",
         .text = "{\"error\": {\"class\": \"DeviceNotActive\", \"desc\": \"No balloon device has "
                 "been activated\"}}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-list",
         .args = "{\"path\": \"/machine/peripheral\"}",
         .text = "{\"return\": [{\"name\": \"type\", \"type\": \"string\"}]}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-list",
         .args = "{\"path\": \"/machine/peripheral-anon\"}",
         .text = "{\"return\": [{\"name\": \"device[0]\", \"type\": \"child<virtio-net-pci>\"}]}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    CU_ASSERT_TRUE(connect_ok(conn));

    Reply set = {0};
    qmp_balloon_set_target_async(conn, 100u << 20, WAIT_MS, on_done, &set);
    fake_run_until(&set.done, WAIT_MS);
    CU_ASSERT_PTR_NULL(set.error);
    reply_clear(&set);

    BalloonResult r = {0};
    qmp_balloon_query_async(conn, WAIT_MS, on_query, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_PTR_NULL(r.error);
    CU_ASSERT_EQUAL(r.actual, 134217728);
    balloon_clear(&r);

    qmp_balloon_query_async(conn, WAIT_MS, on_query, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_PROTOCOL));
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_READY); /* wrong shape: not fatal */
    balloon_clear(&r);

    qmp_balloon_find_device_async(conn, WAIT_MS, on_path, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_PTR_NULL(r.error);
    CU_ASSERT_STRING_EQUAL(r.path, DEV);
    balloon_clear(&r);

    qmp_balloon_set_stats_interval_async(conn, DEV, 2, WAIT_MS, on_done, &set);
    fake_run_until(&set.done, WAIT_MS);
    CU_ASSERT_PTR_NULL(set.error);
    reply_clear(&set);

    qmp_balloon_read_stats_async(conn, DEV, WAIT_MS, on_stats, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_PTR_NULL(r.error);
    CU_ASSERT_EQUAL(r.stats.last_update_s, 1700000000);
    CU_ASSERT_EQUAL(r.stats.free_bytes, 55640064);
    CU_ASSERT_EQUAL(r.stats.total_bytes, 94834688);
    CU_ASSERT_EQUAL(r.stats.available_bytes, 61341696);
    CU_ASSERT_EQUAL(r.stats.disk_caches_bytes, 1703936);
    CU_ASSERT_EQUAL(r.stats.minor_faults_count, 4242);
    CU_ASSERT_EQUAL(r.stats.major_faults_count, 12);
    CU_ASSERT_EQUAL(r.stats.swap_in_bytes, QMP_BALLOON_STAT_NONE);
    balloon_clear(&r);

    qmp_balloon_read_features_async(conn, DEV, WAIT_MS, on_features, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_PTR_NULL(r.error);
    CU_ASSERT_TRUE(r.features.free_page_reporting);
    CU_ASSERT_FALSE(r.features.deflate_on_oom);
    balloon_clear(&r);

    qmp_balloon_set_target_async(conn, 1, WAIT_MS, on_done, &set);
    fake_run_until(&set.done, WAIT_MS);
    CU_ASSERT_STRING_EQUAL(qmp_error_get_class(set.error), "DeviceNotActive");
    reply_clear(&set);

    qmp_balloon_find_device_async(conn, WAIT_MS, on_path, &r);
    fake_run_until(&r.done, WAIT_MS);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_NOT_FOUND));
    CU_ASSERT_PTR_NULL(r.path);
    balloon_clear(&r);

    assert_script_done(fake);
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

/* Dozens of connections, one thread; idle means no wakeups at all. */
#define MANY 40

static void test_many_connections(void)
{
    static const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT,
         .command = "query-balloon",
         .text = "{\"return\": {\"actual\": 268435456}}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fakes[MANY];
    QmpConn *conns[MANY];
    Reply connected[MANY] = {0};
    BalloonResult q[MANY] = {0};
    for (int i = 0; i < MANY; i++) {
        fakes[i] = fake_qmp_new(steps);
        conns[i] = qmp_conn_new(fake_qmp_socket_path(fakes[i]));
        qmp_conn_connect_async(conns[i], WAIT_MS, on_done, &connected[i]);
    }
    for (int i = 0; i < MANY; i++) {
        fake_run_until(&connected[i].done, WAIT_MS);
        CU_ASSERT_PTR_NULL(connected[i].error);
        reply_clear(&connected[i]);
    }
    /* Everything connected and quiet: no source is ready, no timer armed
     * (a non-blocking iteration dispatches nothing). */
    CU_ASSERT_FALSE(g_main_context_iteration(NULL, FALSE));
    for (int i = 0; i < MANY; i++)
        qmp_balloon_query_async(conns[i], WAIT_MS, on_query, &q[i]);
    for (int i = 0; i < MANY; i++) {
        fake_run_until(&q[i].done, WAIT_MS);
        CU_ASSERT_EQUAL(q[i].calls, 1);
        CU_ASSERT_EQUAL(q[i].actual, 268435456);
        balloon_clear(&q[i]);
    }
    for (int i = 0; i < MANY; i++) {
        CU_ASSERT_TRUE(fake_run_until_finished(fakes[i], WAIT_MS));
        CU_ASSERT_PTR_NULL(fake_qmp_failure(fakes[i]));
        qmp_conn_unref(conns[i]);
        fake_qmp_free(fakes[i]);
    }
}

static CU_TestInfo conn_tests[] = {
    {"handshake", test_handshake},
    {"out-of-order replies", test_out_of_order},
    {"events to subscribers", test_events},
    {"error reply keeps class and desc", test_error_reply},
    {"timeout, late reply dropped", test_timeout},
    {"peer dies mid-reply", test_peer_dies},
    {"several messages in one read", test_many_in_one_read},
    {"message split byte by byte", test_split_bytewise},
    {"oversized message", test_oversized},
    {"malformed and hostile JSON", test_malformed},
    {"reconnect", test_reconnect},
    {"connect failures", test_connect_failures},
    {"unref with commands pending", test_unref_pending},
    {"unfinished arguments never sent", test_arguments_checked},
    {"balloon commands", test_balloon_commands},
    {"dozens of connections, one thread", test_many_connections},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"qmp-conn", NULL, NULL, NULL, NULL, conn_tests},
    CU_SUITE_INFO_NULL,
};
