/*
 * The balloon vocabulary of QMP, on top of qmp.h: move a guest's balloon
 * target, read where the balloon is, find the balloon device's QOM path,
 * turn on and read its guest statistics, read its feature switches.
 * Shapes quoted here and in docs/qmp.md were captured from QEMU 7.2.
 *
 * Every *_async function follows qmp.h's contract: the callback runs
 * exactly once, from the main context, with either a value or an error.
 * Errors: QMP_ERROR_COMMAND when QEMU refuses (no balloon device:
 * class "DeviceNotActive"), QMP_ERROR_PROTOCOL when a reply has the wrong
 * shape, QMP_ERROR_NOT_FOUND when there is no balloon device to find, and
 * the transport/timeout/cancelled codes from qmp.h.
 *
 * The parse functions are pure (no I/O): the async functions use them, and
 * tests feed them captured replies.
 */
#ifndef BALLAST_QMP_BALLOON_H
#define BALLAST_QMP_BALLOON_H

#include "qmp.h"

G_BEGIN_DECLS

/* Event names the daemon cares about (qmp_conn_subscribe). */
#define QMP_EVENT_BALLOON_CHANGE "BALLOON_CHANGE" /* data: {"actual": BYTES}; <= 1/s */
#define QMP_EVENT_SHUTDOWN       "SHUTDOWN"
#define QMP_EVENT_STOP           "STOP"
#define QMP_EVENT_RESUME         "RESUME"

/* {"execute": "balloon", "arguments": {"value": target_bytes}} -> {"return": {}}
 * Only asks: the guest driver moves the balloon later (or never: watch
 * query-balloon / BALLOON_CHANGE for convergence). */
void qmp_balloon_set_target_async(QmpConn *conn, guint64 target_bytes, guint timeout_ms,
                                  QmpDoneFunc cb, gpointer user_data);

/* {"execute": "query-balloon"} -> {"return": {"actual": 134217728}}
 * actual_bytes: guest RAM minus the balloon, as QEMU last heard it. */
typedef void (*QmpBalloonQueryFunc)(QmpConn *conn, guint64 actual_bytes, const GError *error,
                                    gpointer user_data);
void qmp_balloon_query_async(QmpConn *conn, guint timeout_ms, QmpBalloonQueryFunc cb,
                             gpointer user_data);

/* Finds the balloon device's QOM path with qom-list under
 * /machine/peripheral (devices with an id) and /machine/peripheral-anon:
 * "/machine/peripheral-anon/device[0]" is virtio-balloon-device on microvm
 * (on a virtio-mmio bus) or virtio-balloon-pci on pc/q35 (whose properties
 * alias those of its "virtio-backend" child, so the PCI path works for
 * everything below). QMP_ERROR_NOT_FOUND when there is none.
 * qom_path is borrowed for the callback; copy it. */
typedef void (*QmpBalloonPathFunc)(QmpConn *conn, const char *qom_path, const GError *error,
                                   gpointer user_data);
void qmp_balloon_find_device_async(QmpConn *conn, guint timeout_ms, QmpBalloonPathFunc cb,
                                   gpointer user_data);

/* qom-set guest-stats-polling-interval = interval_s on the device (0 turns
 * polling off). The guest driver then refreshes guest-stats that often. */
void qmp_balloon_set_stats_interval_async(QmpConn *conn, const char *qom_path, guint interval_s,
                                          guint timeout_ms, QmpDoneFunc cb, gpointer user_data);

/* QEMU reports 2^64-1 for a statistic the guest never sent. */
#define QMP_BALLOON_STAT_NONE G_MAXUINT64

/* The "guest-stats" property. Byte counts are bytes as QEMU reports them;
 * *_count fields are event counters. last_update_s is the guest-stats
 * "last-update" (QEMU wall clock, seconds): 0 = never updated (polling off
 * or no guest driver). */
typedef struct {
    gint64 last_update_s;
    guint64 free_bytes;      /* stat-free-memory */
    guint64 total_bytes;     /* stat-total-memory (shrinks while inflated) */
    guint64 available_bytes; /* stat-available-memory */
    guint64 disk_caches_bytes;
    guint64 swap_in_bytes;
    guint64 swap_out_bytes;
    guint64 major_faults_count;
    guint64 minor_faults_count;
    guint64 htlb_pgalloc_count;
    guint64 htlb_pgfail_count;
} QmpBalloonStats;

typedef void (*QmpBalloonStatsFunc)(QmpConn *conn, const QmpBalloonStats *stats,
                                    const GError *error, gpointer user_data);
void qmp_balloon_read_stats_async(QmpConn *conn, const char *qom_path, guint timeout_ms,
                                  QmpBalloonStatsFunc cb, gpointer user_data);

/* Device switches fixed at QEMU start (-device ...,free-page-reporting=on). */
typedef struct {
    gboolean free_page_reporting;
    gboolean deflate_on_oom;
} QmpBalloonFeatures;

typedef void (*QmpBalloonFeaturesFunc)(QmpConn *conn, const QmpBalloonFeatures *features,
                                       const GError *error, gpointer user_data);
void qmp_balloon_read_features_async(QmpConn *conn, const char *qom_path, guint timeout_ms,
                                     QmpBalloonFeaturesFunc cb, gpointer user_data);

/* Pure extractors over a reply's "return" node; FALSE + QMP_ERROR_PROTOCOL
 * when the shape is wrong. */
gboolean qmp_balloon_parse_query(JsonNode *result, guint64 *actual_bytes, GError **error);
gboolean qmp_balloon_parse_stats(JsonNode *result, QmpBalloonStats *out, GError **error);
/* From a qom-list reply of parent_path: the full path of the first child
 * whose type is child<virtio-balloon-...>, or NULL (no error) when none;
 * FALSE + error when the reply is not a qom-list array. */
gboolean qmp_balloon_pick_device(JsonNode *result, const char *parent_path, char **out_path,
                                 GError **error);
/* From a BALLOON_CHANGE event's data: {"actual": BYTES}. */
gboolean qmp_balloon_parse_change_event(JsonObject *data, guint64 *actual_bytes, GError **error);

G_END_DECLS

#endif
