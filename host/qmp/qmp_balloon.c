/*
 * Balloon commands over QMP; see qmp_balloon.h. Each command is
 * build -> qmp_conn_execute_async -> (qmp.c checked the error) -> check the
 * reply's type and extract, with the pure qmp_balloon_parse_* functions.
 */
#include "qmp_balloon.h"
#include "json_writer.h"
#include "qmp_json.h"

#include <string.h>

/* One in-flight balloon operation: which user callback to call. */
typedef struct {
    gpointer cb;
    gpointer user_data;
    char *qom_path;
    guint timeout_ms;
    int step; /* find_device: which parent we are listing */
    QmpBalloonFeatures features;
} BalloonOp;

static BalloonOp *balloon_op_new(gpointer cb, gpointer user_data, const char *qom_path)
{
    BalloonOp *op = g_new0(BalloonOp, 1);
    op->cb = cb;
    op->user_data = user_data;
    op->qom_path = g_strdup(qom_path);
    return op;
}

static void balloon_op_free(BalloonOp *op)
{
    g_free(op->qom_path);
    g_free(op);
}

static gboolean protocol_error(GError **error, const char *what)
{
    g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "unexpected QMP reply: %s", what);
    return FALSE;
}

/* ---- pure extractors ------------------------------------------------- */

/* query-balloon -> {"return": {"actual": 134217728}} */
gboolean qmp_balloon_parse_query(JsonNode *result, guint64 *actual_bytes, GError **error)
{
    gint64 actual;
    if (!result || !JSON_NODE_HOLDS_OBJECT(result) ||
        !qmp_json_int(json_node_get_object(result), "actual", &actual) || actual < 0)
        return protocol_error(error, "query-balloon without a non-negative \"actual\"");
    *actual_bytes = (guint64)actual;
    return TRUE;
}

/* {"event": "BALLOON_CHANGE", "data": {"actual": 104857600}, "timestamp": ...} */
gboolean qmp_balloon_parse_change_event(JsonObject *data, guint64 *actual_bytes, GError **error)
{
    gint64 actual;
    if (!qmp_json_int(data, "actual", &actual) || actual < 0)
        return protocol_error(error, "BALLOON_CHANGE without a non-negative \"actual\"");
    *actual_bytes = (guint64)actual;
    return TRUE;
}

/*
 * qom-get guest-stats ->
 * {"return": {"stats": {"stat-htlb-pgalloc": 18446744073709551615,
 *   "stat-swap-out": 0, "stat-available-memory": 61341696,
 *   "stat-free-memory": 55640064, "stat-total-memory": 94834688, ...},
 *   "last-update": 1700000000}}
 * 2^64-1 ("not reported") arrives from json-glib as gint64 -1: values are
 * read back as the unsigned 64-bit numbers QEMU printed.
 */
static const struct {
    const char *name;
    gsize offset;
} stat_fields[] = {
    {"stat-free-memory", G_STRUCT_OFFSET(QmpBalloonStats, free_bytes)},
    {"stat-total-memory", G_STRUCT_OFFSET(QmpBalloonStats, total_bytes)},
    {"stat-available-memory", G_STRUCT_OFFSET(QmpBalloonStats, available_bytes)},
    {"stat-disk-caches", G_STRUCT_OFFSET(QmpBalloonStats, disk_caches_bytes)},
    {"stat-swap-in", G_STRUCT_OFFSET(QmpBalloonStats, swap_in_bytes)},
    {"stat-swap-out", G_STRUCT_OFFSET(QmpBalloonStats, swap_out_bytes)},
    {"stat-major-faults", G_STRUCT_OFFSET(QmpBalloonStats, major_faults_count)},
    {"stat-minor-faults", G_STRUCT_OFFSET(QmpBalloonStats, minor_faults_count)},
    {"stat-htlb-pgalloc", G_STRUCT_OFFSET(QmpBalloonStats, htlb_pgalloc_count)},
    {"stat-htlb-pgfail", G_STRUCT_OFFSET(QmpBalloonStats, htlb_pgfail_count)},
};

gboolean qmp_balloon_parse_stats(JsonNode *result, QmpBalloonStats *out, GError **error)
{
    JsonObject *root =
        result && JSON_NODE_HOLDS_OBJECT(result) ? json_node_get_object(result) : NULL;
    JsonObject *stats = qmp_json_object(root, "stats");
    gint64 last_update;
    if (!stats || !qmp_json_int(root, "last-update", &last_update))
        return protocol_error(error, "guest-stats without \"stats\" and \"last-update\"");
    QmpBalloonStats s = {.last_update_s = last_update};
    for (gsize i = 0; i < G_N_ELEMENTS(stat_fields); i++) {
        gint64 v;
        /* Older QEMUs lack some fields: absent means not reported. */
        guint64 value =
            qmp_json_int(stats, stat_fields[i].name, &v) ? (guint64)v : QMP_BALLOON_STAT_NONE;
        G_STRUCT_MEMBER(guint64, &s, stat_fields[i].offset) = value;
    }
    *out = s;
    return TRUE;
}

/*
 * qom-list /machine/peripheral-anon ->
 *   microvm: {"return": [{"name": "type", "type": "string"},
 *             {"name": "device[0]", "type": "child<virtio-balloon-device>"}]}
 *   q35:     ... {"name": "device[0]", "type": "child<virtio-balloon-pci>"}
 * (also -transitional / -non-transitional / -ccw variants: same prefix).
 */
gboolean qmp_balloon_pick_device(JsonNode *result, const char *parent_path, char **out_path,
                                 GError **error)
{
    *out_path = NULL;
    if (!result || !JSON_NODE_HOLDS_ARRAY(result))
        return protocol_error(error, "qom-list did not return an array");
    JsonArray *items = json_node_get_array(result);
    for (guint i = 0; i < json_array_get_length(items); i++) {
        JsonNode *item = json_array_get_element(items, i);
        if (!JSON_NODE_HOLDS_OBJECT(item))
            continue;
        const char *name = qmp_json_string(json_node_get_object(item), "name");
        const char *type = qmp_json_string(json_node_get_object(item), "type");
        if (name && type && g_str_has_prefix(type, "child<virtio-balloon-")) {
            *out_path = g_strdup_printf("%s/%s", parent_path, name);
            return TRUE;
        }
    }
    return TRUE;
}

/* ---- arguments (QmpArgsFunc) ------------------------------------------ */

/* balloon: {"value": 201326592} */
static void write_balloon_args(struct json_writer *w, gconstpointer args)
{
    json_writer_member_int(w, "value", *(const gint64 *)args);
}

/* qom-list: {"path": "/machine/peripheral"} */
static void write_path_args(struct json_writer *w, gconstpointer args)
{
    json_writer_member_string(w, "path", args);
}

/* qom-get: {"path": "/machine/peripheral/balloon0", "property": "guest-stats"};
 * qom-set adds "value": 2. */
typedef struct {
    const char *path;
    const char *property;
    gboolean set;
    gint64 value;
} QomArgs;

static void write_qom_args(struct json_writer *w, gconstpointer args)
{
    const QomArgs *qom = args;
    json_writer_member_string(w, "path", qom->path);
    json_writer_member_string(w, "property", qom->property);
    if (qom->set)
        json_writer_member_int(w, "value", qom->value);
}

/* ---- commands -------------------------------------------------------- */

static void on_set_target(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    BalloonOp *op = data;
    ((QmpDoneFunc)op->cb)(conn, error, op->user_data);
    balloon_op_free(op);
}

/* {"execute": "balloon", "arguments": {"value": 104857600}} -> {"return": {}}
 * With no balloon device: {"error": {"class": "DeviceNotActive",
 *   "desc": "No balloon device has been activated"}} */
void qmp_balloon_set_target_async(QmpConn *conn, guint64 target_bytes, guint timeout_ms,
                                  QmpDoneFunc cb, gpointer user_data)
{
    gint64 value = (gint64)MIN(target_bytes, (guint64)G_MAXINT64);
    qmp_conn_execute_async(conn, "balloon", write_balloon_args, &value, timeout_ms, on_set_target,
                           balloon_op_new(cb, user_data, NULL));
}

static void on_query(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    BalloonOp *op = data;
    g_autoptr(GError) local = NULL;
    guint64 actual = 0;
    if (!error && !qmp_balloon_parse_query(result, &actual, &local))
        error = local;
    ((QmpBalloonQueryFunc)op->cb)(conn, error ? 0 : actual, error, op->user_data);
    balloon_op_free(op);
}

/* {"execute": "query-balloon"} -> {"return": {"actual": 268435456}} */
void qmp_balloon_query_async(QmpConn *conn, guint timeout_ms, QmpBalloonQueryFunc cb,
                             gpointer user_data)
{
    qmp_conn_execute_async(conn, "query-balloon", NULL, NULL, timeout_ms, on_query,
                           balloon_op_new(cb, user_data, NULL));
}

/* Devices with an id live under /machine/peripheral/ID, anonymous ones
 * under /machine/peripheral-anon/device[N]: list both, in that order. */
static const char *const balloon_parents[] = {"/machine/peripheral", "/machine/peripheral-anon"};

static void find_device_step(QmpConn *conn, BalloonOp *op);

static void on_find_list(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    BalloonOp *op = data;
    g_autoptr(GError) local = NULL;
    g_autofree char *path = NULL;
    if (!error && !qmp_balloon_pick_device(result, balloon_parents[op->step], &path, &local))
        error = local;
    if (!error && !path && ++op->step < (int)G_N_ELEMENTS(balloon_parents)) {
        find_device_step(conn, op);
        return;
    }
    if (!error && !path) {
        local = g_error_new_literal(QMP_ERROR, QMP_ERROR_NOT_FOUND,
                                    "no virtio-balloon device on this machine");
        error = local;
    }
    ((QmpBalloonPathFunc)op->cb)(conn, error ? NULL : path, error, op->user_data);
    balloon_op_free(op);
}

/* {"execute": "qom-list", "arguments": {"path": "/machine/peripheral"}} ->
 * {"return": [{"name": "type", "type": "string"}, {"name": "balloon0",
 *  "type": "child<virtio-balloon-device>"}]} */
static void find_device_step(QmpConn *conn, BalloonOp *op)
{
    qmp_conn_execute_async(conn, "qom-list", write_path_args, balloon_parents[op->step],
                           op->timeout_ms, on_find_list, op);
}

void qmp_balloon_find_device_async(QmpConn *conn, guint timeout_ms, QmpBalloonPathFunc cb,
                                   gpointer user_data)
{
    BalloonOp *op = balloon_op_new(cb, user_data, NULL);
    op->timeout_ms = timeout_ms;
    find_device_step(conn, op);
}

/* {"execute": "qom-set", "arguments": {"path": "/machine/peripheral-anon/device[0]",
 *   "property": "guest-stats-polling-interval", "value": 2}} -> {"return": {}} */
void qmp_balloon_set_stats_interval_async(QmpConn *conn, const char *qom_path, guint interval_s,
                                          guint timeout_ms, QmpDoneFunc cb, gpointer user_data)
{
    QomArgs args = {.path = qom_path,
                    .property = "guest-stats-polling-interval",
                    .set = TRUE,
                    .value = interval_s};
    qmp_conn_execute_async(conn, "qom-set", write_qom_args, &args, timeout_ms, on_set_target,
                           balloon_op_new(cb, user_data, NULL));
}

static void on_stats(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    BalloonOp *op = data;
    g_autoptr(GError) local = NULL;
    QmpBalloonStats stats = {0};
    if (!error && !qmp_balloon_parse_stats(result, &stats, &local))
        error = local;
    ((QmpBalloonStatsFunc)op->cb)(conn, error ? NULL : &stats, error, op->user_data);
    balloon_op_free(op);
}

/* {"execute": "qom-get", "arguments": {"path": "/machine/peripheral/balloon0",
 *   "property": "guest-stats"}} -> {"return": {"stats": {...}, "last-update": ...}}
 * (qmp_balloon_parse_stats quotes a whole reply) */
void qmp_balloon_read_stats_async(QmpConn *conn, const char *qom_path, guint timeout_ms,
                                  QmpBalloonStatsFunc cb, gpointer user_data)
{
    QomArgs args = {.path = qom_path, .property = "guest-stats"};
    qmp_conn_execute_async(conn, "qom-get", write_qom_args, &args, timeout_ms, on_stats,
                           balloon_op_new(cb, user_data, NULL));
}

/* Two qom-gets in a row, each -> {"return": true} or {"return": false}:
 * free-page-reporting, then deflate-on-oom. */
static const char *const feature_props[] = {"free-page-reporting", "deflate-on-oom"};

static void features_step(QmpConn *conn, BalloonOp *op);

static void on_feature(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    BalloonOp *op = data;
    g_autoptr(GError) local = NULL;
    gboolean on = FALSE;
    if (!error && !qmp_json_node_bool(result, &on)) {
        local = g_error_new(QMP_ERROR, QMP_ERROR_PROTOCOL, "qom-get %s: not a boolean",
                            feature_props[op->step]);
        error = local;
    }
    if (!error) {
        if (op->step == 0)
            op->features.free_page_reporting = on;
        else
            op->features.deflate_on_oom = on;
        if (++op->step < (int)G_N_ELEMENTS(feature_props)) {
            features_step(conn, op);
            return;
        }
    }
    ((QmpBalloonFeaturesFunc)op->cb)(conn, error ? NULL : &op->features, error, op->user_data);
    balloon_op_free(op);
}

static void features_step(QmpConn *conn, BalloonOp *op)
{
    QomArgs args = {.path = op->qom_path, .property = feature_props[op->step]};
    qmp_conn_execute_async(conn, "qom-get", write_qom_args, &args, op->timeout_ms, on_feature, op);
}

void qmp_balloon_read_features_async(QmpConn *conn, const char *qom_path, guint timeout_ms,
                                     QmpBalloonFeaturesFunc cb, gpointer user_data)
{
    BalloonOp *op = balloon_op_new(cb, user_data, qom_path);
    op->timeout_ms = timeout_ms;
    features_step(conn, op);
}
