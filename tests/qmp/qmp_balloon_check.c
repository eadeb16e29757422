/*
 * integration.qmp.balloon, the C half: drives one real guest's balloon
 * through the library (connect, find the device, features, guest stats,
 * inflate, see BALLOON_CHANGE, deflate, a real error reply) and exits
 * non-zero on the first thing that is not as it must be.
 *
 *   qmp-balloon-check QMP_SOCKET GUEST_MEMORY_MIB
 */
#include "json_writer.h"
#include "qmp.h"
#include "qmp_balloon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_MS 10000

static QmpConn *conn;
static guint64 last_change_bytes;
static int changes;

static int failf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static int failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* {"path": "/machine/no-such-device", "property": "guest-stats"} */
static void write_bad_path_args(struct json_writer *w, gconstpointer args)
{
    json_writer_member_string(w, "path", "/machine/no-such-device");
    json_writer_member_string(w, "property", "guest-stats");
}

/* One awaited result: the callbacks below fill it and set done. */
typedef struct {
    gboolean done;
    GError *error;
    guint64 value;
    char *path;
    QmpBalloonStats stats;
    QmpBalloonFeatures features;
} Result;

static void await(Result *r, guint timeout_ms, const char *what)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    while (!r->done && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    if (!r->done)
        failf("%s: no callback in %u ms", what, timeout_ms);
    if (r->error)
        failf("%s: %s", what, r->error->message);
}

static void on_done(QmpConn *c, const GError *error, gpointer data)
{
    Result *r = data;
    r->done = TRUE;
    r->error = error ? g_error_copy(error) : NULL;
}

static void on_reply(QmpConn *c, JsonNode *result, const GError *error, gpointer data)
{
    on_done(c, error, data);
}

static void on_query(QmpConn *c, guint64 actual, const GError *error, gpointer data)
{
    ((Result *)data)->value = actual;
    on_done(c, error, data);
}

static void on_path(QmpConn *c, const char *path, const GError *error, gpointer data)
{
    ((Result *)data)->path = g_strdup(path);
    on_done(c, error, data);
}

static void on_stats(QmpConn *c, const QmpBalloonStats *s, const GError *error, gpointer data)
{
    if (s)
        ((Result *)data)->stats = *s;
    on_done(c, error, data);
}

static void on_features(QmpConn *c, const QmpBalloonFeatures *f, const GError *error, gpointer data)
{
    if (f)
        ((Result *)data)->features = *f;
    on_done(c, error, data);
}

static void on_change(QmpConn *c, const char *event, JsonObject *data, gint64 ts_us,
                      gpointer user_data)
{
    guint64 actual;
    if (!qmp_balloon_parse_change_event(data, &actual, NULL))
        failf("BALLOON_CHANGE without actual");
    last_change_bytes = actual;
    changes++;
    printf("event BALLOON_CHANGE actual=%" G_GUINT64_FORMAT " MiB\n", actual >> 20);
}

static guint64 query(void)
{
    Result r = {0};
    qmp_balloon_query_async(conn, STEP_MS, on_query, &r);
    await(&r, STEP_MS + 1000, "query-balloon");
    return r.value;
}

/* Moves the target and waits for QEMU's BALLOON_CHANGE to report it
 * reached (within 1 MiB: the guest driver works in pages). */
static void move_balloon(guint64 target_bytes)
{
    Result r = {0};
    int before = changes;
    gint64 t0 = g_get_monotonic_time();
    qmp_balloon_set_target_async(conn, target_bytes, STEP_MS, on_done, &r);
    await(&r, STEP_MS + 1000, "balloon");
    gint64 deadline = t0 + 120 * G_USEC_PER_SEC;
    while (g_get_monotonic_time() < deadline &&
           (changes == before || (last_change_bytes > target_bytes + (1 << 20)) ||
            last_change_bytes + (1 << 20) < target_bytes))
        g_main_context_iteration(NULL, TRUE);
    if (changes == before)
        failf("no BALLOON_CHANGE after balloon %" G_GUINT64_FORMAT, target_bytes);
    guint64 actual = query();
    if (actual > target_bytes + (1 << 20) || actual + (1 << 20) < target_bytes)
        failf("balloon target %" G_GUINT64_FORMAT " MiB, query-balloon says %" G_GUINT64_FORMAT
              " MiB",
              target_bytes >> 20, actual >> 20);
    printf("balloon -> %" G_GUINT64_FORMAT " MiB reached in %.2f s (%d events)\n",
           target_bytes >> 20, (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC,
           changes - before);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        failf("usage: qmp-balloon-check QMP_SOCKET GUEST_MEMORY_MIB");
    guint64 memory_bytes = g_ascii_strtoull(argv[2], NULL, 10) << 20;
    conn = qmp_conn_new(argv[1]);
    qmp_conn_subscribe(conn, QMP_EVENT_BALLOON_CHANGE, on_change, NULL, NULL);

    Result c = {0};
    qmp_conn_connect_async(conn, STEP_MS, on_done, &c);
    await(&c, STEP_MS + 1000, "connect");
    printf("connected, QEMU %s\n", qmp_conn_get_qemu_version(conn));

    Result dev = {0};
    qmp_balloon_find_device_async(conn, STEP_MS, on_path, &dev);
    await(&dev, STEP_MS + 1000, "find balloon device");
    printf("balloon device at %s\n", dev.path);

    Result feat = {0};
    qmp_balloon_read_features_async(conn, dev.path, STEP_MS, on_features, &feat);
    await(&feat, STEP_MS + 1000, "features");
    printf("free-page-reporting=%d deflate-on-oom=%d\n", feat.features.free_page_reporting,
           feat.features.deflate_on_oom);
    /* The fleet starts every guest with free-page-reporting=on and this
     * test asks for --deflate-on-oom. */
    if (!feat.features.free_page_reporting || !feat.features.deflate_on_oom)
        failf("expected both free-page-reporting and deflate-on-oom on");

    guint64 actual = query();
    if (actual != memory_bytes)
        failf("query-balloon actual %" G_GUINT64_FORMAT ", want %" G_GUINT64_FORMAT, actual,
              memory_bytes);

    Result poll = {0};
    qmp_balloon_set_stats_interval_async(conn, dev.path, 1, STEP_MS, on_done, &poll);
    await(&poll, STEP_MS + 1000, "enable guest-stats polling");
    /* The guest driver answers within a polling interval or two. */
    QmpBalloonStats stats = {0};
    for (int i = 0; i < 30 && stats.last_update_s == 0; i++) {
        Result st = {0};
        qmp_balloon_read_stats_async(conn, dev.path, STEP_MS, on_stats, &st);
        await(&st, STEP_MS + 1000, "guest-stats");
        stats = st.stats;
        if (stats.last_update_s == 0)
            g_usleep(500 * 1000);
    }
    if (stats.last_update_s == 0)
        failf("guest-stats never updated with polling on");
    printf("guest-stats: total %" G_GUINT64_FORMAT " MiB, free %" G_GUINT64_FORMAT
           " MiB, available %" G_GUINT64_FORMAT " MiB\n",
           stats.total_bytes >> 20, stats.free_bytes >> 20, stats.available_bytes >> 20);
    if (stats.total_bytes == QMP_BALLOON_STAT_NONE || stats.total_bytes > memory_bytes ||
        stats.total_bytes < memory_bytes / 4 || stats.free_bytes > stats.total_bytes)
        failf("implausible guest-stats");

    guint64 target = memory_bytes - memory_bytes / 4;
    move_balloon(target);
    move_balloon(memory_bytes);

    /* A real error reply: class and desc as QEMU sends them. */
    Result bad = {0};
    qmp_conn_execute_async(conn, "qom-get", write_bad_path_args, NULL, STEP_MS, on_reply, &bad);
    while (!bad.done)
        g_main_context_iteration(NULL, TRUE);
    if (!g_error_matches(bad.error, QMP_ERROR, QMP_ERROR_COMMAND) ||
        g_strcmp0(qmp_error_get_class(bad.error), "DeviceNotFound") != 0)
        failf("qom-get on a bad path: want DeviceNotFound, got %s",
              bad.error ? bad.error->message : "success");
    printf("error reply: %s: %s\n", qmp_error_get_class(bad.error), bad.error->message);
    g_clear_error(&bad.error);

    qmp_conn_unref(conn);
    g_free(dev.path);
    printf("PASS\n");
    return 0;
}
