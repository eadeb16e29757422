/*
 * libFuzzer target fuzz.qmp.framing: arbitrary bytes from "QEMU" through the
 * client's framing, depth guard, JSON parsing and dispatch (greeting,
 * replies by id, events), on a socketless connection with a small message
 * limit. Checks that every command's callback runs exactly once and that
 * glib never warns (a warning is a crash here).
 */
#include "fuzz/fuzz_log.h"
#include "qmp.h"
#include "qmp_private.h"

#include <stdint.h>
#include <stdlib.h>

#define FUZZ_COMMANDS 4

static int calls[FUZZ_COMMANDS];

static void on_reply(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    int *c = data;
    (*c)++;
    if ((result == NULL) == (error == NULL))
        abort(); /* exactly one of result / error */
}

static void on_event(QmpConn *conn, const char *event, JsonObject *data, gint64 ts_us,
                     gpointer user_data)
{
    if (!event || !data)
        abort();
    (void)json_object_get_size(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t len);
int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t len)
{
    static gboolean once;
    if (!once) {
        fuzz_log_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
        once = TRUE;
    }
    QmpConn *conn = qmp_conn_new_detached();
    qmp_conn_set_max_message_bytes(conn, 4096);
    qmp_conn_subscribe(conn, NULL, on_event, NULL, NULL);
    for (int i = 0; i < FUZZ_COMMANDS; i++) {
        calls[i] = 0;
        /* ids 1..4; qmp_capabilities gets 5 once the greeting is in */
        qmp_conn_execute_async(conn, "query-balloon", NULL, NULL, 0, on_reply, &calls[i]);
    }
    /* Feed in two pieces so a split message is exercised too. */
    size_t half = len ? bytes[0] % (len + 1) : 0;
    qmp_conn_feed(conn, (const char *)bytes, half);
    qmp_conn_feed(conn, (const char *)bytes + half, len - half);
    qmp_conn_unref(conn);
    for (int i = 0; i < FUZZ_COMMANDS; i++)
        if (calls[i] != 1)
            abort();
    return 0;
}
