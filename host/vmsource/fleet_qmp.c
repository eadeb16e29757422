/*
 * A fleet guest's QMP connection (see fleet_qmp.h), on host/qmp's async
 * client. The connection is the source of truth for "is this QEMU alive":
 * when it drops, the fleet source rescans and the pid file decides whether
 * the guest is gone or only restarting; until then we retry with backoff.
 */
#include "fleet_qmp_private.h"

#include "qmp_balloon.h"

#include <errno.h>

/* The figures the manager sees: the balloon's own, or with a virtio-mem
 * device the guest's whole memory (vmem_drive.h). */
void fleet_qmp_emit(struct fleet_qmp *fq)
{
    struct vmsource_balloon *b = &fq->balloon;
    if (fq->base_bytes > 0)
        b->nominal_bytes = fq->base_bytes;
    fleet_vmem_fill(fq, b);
    fq->events->balloon(fq->ctx, b);
}

static void schedule_reconnect(struct fleet_qmp *fq);

static void on_connected(QmpConn *conn, const GError *error, gpointer data);

static gboolean on_reconnect(gpointer data)
{
    struct fleet_qmp *fq = data;
    fq->reconnect_id = 0;
    qmp_conn_connect_async(fq->conn, FLEET_QMP_TIMEOUT_MS, on_connected, fq);
    return G_SOURCE_REMOVE;
}

static void schedule_reconnect(struct fleet_qmp *fq)
{
    if (fq->closing || fq->reconnect_id)
        return;
    fq->backoff_ms = fq->backoff_ms ? MIN(fq->backoff_ms * 2, FLEET_QMP_BACKOFF_MAX_MS)
                                    : FLEET_QMP_BACKOFF_MIN_MS;
    fq->reconnect_id = g_timeout_add(fq->backoff_ms, on_reconnect, fq);
}

/*
 * {"execute": "query-memory-size-summary"}
 *   -> {"return": {"base-memory": 134217728, "plugged-memory": 0}}
 * base-memory is -m: the guest's nominal size, what a fully deflated balloon gives.
 */
static void on_memory_summary(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing || error)
        return;
    if (!JSON_NODE_HOLDS_OBJECT(result))
        return;
    JsonNode *base = json_object_get_member(json_node_get_object(result), "base-memory");
    if (!base || json_node_get_value_type(base) != G_TYPE_INT64 || json_node_get_int(base) <= 0)
        return;
    fq->base_bytes = json_node_get_int(base);
    fq->vmem.boot_bytes = (uint64_t)fq->base_bytes;
    fleet_qmp_emit(fq);
}

static void on_stats_interval(QmpConn *conn, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (!fq->closing && error)
        g_message("qmp %s: guest-stats polling not enabled: %s", fq->name, error->message);
}

/*
 * qom-get free-page-reporting, then deflate-on-oom -> {"return": true}
 * (qmp_balloon_read_features_async). Without deflate-on-oom a guest has no
 * safety net while ballastd is down: ballastd says so.
 */
static void on_features(QmpConn *conn, const QmpBalloonFeatures *features, const GError *error,
                        gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing || error)
        return; /* unknown stays unknown */
    fq->balloon.deflate_on_oom = features->deflate_on_oom ? 1 : 0;
    fq->balloon.free_page_reporting = features->free_page_reporting ? 1 : 0;
    fq->vmem.deflate_on_oom = features->deflate_on_oom;
    fleet_qmp_emit(fq);
}

static void on_balloon_path(QmpConn *conn, const char *qom_path, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing)
        return;
    if (error) {
        g_message("qmp %s: no balloon device: %s", fq->name, error->message);
        return;
    }
    g_free(fq->balloon_path);
    fq->balloon_path = g_strdup(qom_path);
    fq->vmem.has_balloon = true;
    qmp_balloon_set_stats_interval_async(conn, qom_path, FLEET_QMP_STATS_INTERVAL_S,
                                         FLEET_QMP_TIMEOUT_MS, on_stats_interval, fq);
    qmp_balloon_read_features_async(conn, qom_path, FLEET_QMP_TIMEOUT_MS, on_features, fq);
}

static void on_connected(QmpConn *conn, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing)
        return;
    if (error) {
        if (fq->attempts++ == 0)
            g_message("qmp %s: cannot connect (retrying): %s", fq->name, error->message);
        schedule_reconnect(fq);
        return;
    }
    fq->attempts = 0;
    fq->backoff_ms = 0;
    fq->up = true;
    g_message("qmp %s: connected (QEMU %s)", fq->name, qmp_conn_get_qemu_version(conn));
    fq->events->state(fq->ctx, true);
    if (fq->closing)
        return;
    qmp_conn_execute_async(conn, "query-memory-size-summary", NULL, NULL, FLEET_QMP_TIMEOUT_MS,
                           on_memory_summary, fq);
    qmp_balloon_find_device_async(conn, FLEET_QMP_TIMEOUT_MS, on_balloon_path, fq);
    fleet_vmem_connected(fq);
    fleet_qmp_refresh(fq, false);
}

static void on_state(QmpConn *conn, QmpState state, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing || state != QMP_STATE_DISCONNECTED)
        return;
    bool was_up = fq->up;
    fq->up = false;
    fleet_vmem_disconnected(fq);
    fq->query_pending = fq->stats_pending = false;
    if (was_up) {
        g_message("qmp %s: disconnected: %s", fq->name, error ? error->message : "closed");
        fq->events->state(fq->ctx, false);
    }
    schedule_reconnect(fq);
}

/* {"event": "BALLOON_CHANGE", "data": {"actual": 100663296}, ...} */
static void on_balloon_change(QmpConn *conn, const char *event, JsonObject *data,
                              gint64 timestamp_us, gpointer user)
{
    struct fleet_qmp *fq = user;
    guint64 actual;
    if (fq->closing || !qmp_balloon_parse_change_event(data, &actual, NULL))
        return;
    fleet_vmem_balloon(fq, actual);
    fq->balloon.actual_bytes = (int64_t)actual;
    fq->balloon.actual_changed_real_us = timestamp_us;
    fleet_qmp_emit(fq);
}

static void on_query(QmpConn *conn, guint64 actual_bytes, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing)
        return;
    fq->query_pending = false;
    if (error)
        return; /* transport errors surface through on_state */
    fleet_vmem_balloon(fq, actual_bytes);
    fq->balloon.actual_bytes = (int64_t)actual_bytes;
    fq->balloon.actual_changed_real_us = 0; /* a reply carries no time stamp */
    fleet_qmp_emit(fq);
}

static int64_t stat_or_unknown(guint64 v)
{
    return v == QMP_BALLOON_STAT_NONE || v > INT64_MAX ? -1 : (int64_t)v;
}

static void on_stats(QmpConn *conn, const QmpBalloonStats *stats, const GError *error,
                     gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing)
        return;
    fq->stats_pending = false;
    if (error)
        return;
    fq->balloon.guest_stats_update_s = stats->last_update_s;
    fq->balloon.guest_total_bytes = stat_or_unknown(stats->total_bytes);
    fq->balloon.guest_available_bytes = stat_or_unknown(stats->available_bytes);
    fq->balloon.guest_free_bytes = stat_or_unknown(stats->free_bytes);
    fleet_qmp_emit(fq);
}

void fleet_qmp_refresh(struct fleet_qmp *fq, bool guest_stats)
{
    if (!fq || !fq->up)
        return;
    fleet_vmem_refresh(fq);
    if (!fq->query_pending && (fq->balloon_path || !fleet_vmem_active(fq))) {
        fq->query_pending = true;
        qmp_balloon_query_async(fq->conn, FLEET_QMP_TIMEOUT_MS, on_query, fq);
    }
    if (guest_stats && fq->balloon_path && !fq->stats_pending) {
        fq->stats_pending = true;
        qmp_balloon_read_stats_async(fq->conn, fq->balloon_path, FLEET_QMP_TIMEOUT_MS, on_stats,
                                     fq);
    }
}

/* One balloon command in flight: its target travels with it to the answer. */
struct set_call {
    struct fleet_qmp *fq;
    uint64_t target_bytes;
};

/*
 * {"execute": "balloon", "arguments": {"value": 100663296}}
 *   -> {"return": {}}
 *   or {"error": {"class": "DeviceNotActive", "desc": "No balloon device has been activated"}}
 * or no answer within FLEET_QMP_TIMEOUT_MS (QMP_ERROR_TIMEOUT). The manager
 * rolls a failure back and retries (set_retry.h); it logs, not this file.
 */
static void on_set_target(QmpConn *conn, const GError *error, gpointer data)
{
    g_autofree struct set_call *call = data;
    struct fleet_qmp *fq = call->fq;
    if (fq->closing || (error && g_error_matches(error, QMP_ERROR, QMP_ERROR_CANCELLED)))
        return; /* a disconnect: on_state tells the manager */
    if (!error) {
        fq->events->set_done(fq->ctx, call->target_bytes, NULL);
        /* With a virtio-mem device a new target may move neither device:
         * one the free net already covers (actuator.h, rule 5) leaves the
         * request and the balloon where they are, and QEMU sends no event.
         * The figures follow the plan now, or the manager would read the
         * unchanged sum as a balloon stuck above its target. */
        if (fleet_vmem_active(fq))
            fleet_qmp_emit(fq);
        return;
    }
    /* QEMU's class first when it refused: "DeviceNotActive: No balloon device ..." */
    const char *cls = qmp_error_get_class(error);
    g_autofree char *text =
        cls ? g_strdup_printf("%s: %s", cls, error->message) : g_strdup(error->message);
    fq->events->set_done(fq->ctx, call->target_bytes, text);
}

int fleet_qmp_set_target(struct fleet_qmp *fq, uint64_t target_bytes)
{
    if (!fq || !fq->up)
        return -ENOTCONN;
    struct set_call *call = g_new(struct set_call, 1);
    *call = (struct set_call){fq, target_bytes};
    if (fleet_vmem_active(fq) && fleet_vmem_set(fq, target_bytes, on_set_target, call))
        return 0; /* a device and the balloon: the split (fleet_qmp_vmem.c) */
    qmp_balloon_set_target_async(fq->conn, target_bytes, FLEET_QMP_TIMEOUT_MS, on_set_target, call);
    return 0;
}

struct fleet_qmp *fleet_qmp_new(const char *socket_path, const char *name,
                                const struct fleet_qmp_events *events, void *ctx)
{
    struct fleet_qmp *fq = g_new0(struct fleet_qmp, 1);
    fq->name = g_strdup(name);
    fq->events = events;
    fq->ctx = ctx;
    fq->balloon = vmsource_balloon_unknown();
    fq->base_bytes = -1;
    fq->conn = qmp_conn_new(socket_path);
    fleet_vmem_init(fq);
    qmp_conn_set_state_func(fq->conn, on_state, fq, NULL);
    qmp_conn_subscribe(fq->conn, QMP_EVENT_BALLOON_CHANGE, on_balloon_change, fq, NULL);
    qmp_conn_connect_async(fq->conn, FLEET_QMP_TIMEOUT_MS, on_connected, fq);
    return fq;
}

void fleet_qmp_free(struct fleet_qmp *fq)
{
    if (!fq)
        return;
    fq->closing = true;
    if (fq->reconnect_id)
        g_source_remove(fq->reconnect_id);
    fleet_vmem_free(fq);
    /* Pending callbacks run (CANCELLED) inside this unref and see closing. */
    qmp_conn_unref(fq->conn);
    g_free(fq->balloon_path);
    g_free(fq->name);
    g_free(fq);
}

bool fleet_qmp_connected(const struct fleet_qmp *fq)
{
    return fq && fq->up;
}

void fleet_qmp_set_host_thp(struct fleet_qmp *fq, bool thp)
{
    if (fq)
        fq->vmem.host_thp = thp;
}
