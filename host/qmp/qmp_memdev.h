/*
 * The virtio-mem vocabulary of QMP, on top of qmp.h: list a guest's
 * virtio-mem devices (query-memory-devices), move one's requested size
 * (qom-set requested-size), read the MEMORY_DEVICE_SIZE_CHANGE event that
 * says where its size went. virtio-mem is ballast's second actuator
 * (docs/virtio-mem.md): it resizes a guest in whole device blocks (2 MiB
 * or more), which the host gets back whole, huge pages included.
 * Shapes quoted here and in docs/qmp.md were captured from QEMU 7.2.
 *
 * The loop this serves: the policy picks a requested size, the gate
 * (qmp_memdev_check_request) refuses one QEMU must never see, qom-set asks,
 * the guest driver plugs or unplugs blocks, "size" follows (or stalls:
 * memory the guest cannot migrate away), MEMORY_DEVICE_SIZE_CHANGE and
 * query-memory-devices say where it got to.
 *
 * Every *_async function follows qmp.h's contract: the callback runs
 * exactly once, from the main context, with either a value or an error.
 * Errors: QMP_ERROR_COMMAND when QEMU refuses, QMP_ERROR_PROTOCOL when a
 * reply has the wrong shape or values that cannot be (a size over the
 * maximum, a block size that is not a power of two, ...), and
 * QMP_ERROR_INVALID_ARGUMENTS, nothing sent, when the gate refuses a
 * request or the device has no id to address it by.
 *
 * Nothing here allocates per device: a reply is parsed into a fixed-size
 * list, checked whole before the caller sees any of it. The parse
 * functions are pure (no I/O): the async functions use them, and tests
 * and the fuzzer feed them captured and hostile replies.
 */
#ifndef BALLAST_QMP_MEMDEV_H
#define BALLAST_QMP_MEMDEV_H

#include "qmp.h"

G_BEGIN_DECLS

/* Event name for qmp_conn_subscribe. QEMU >= 5.1; rate-limited to one a
 * second per device (per qom-path since 6.2, for all devices together
 * before: a second device's change could be lost). */
#define QMP_EVENT_MEMORY_DEVICE_SIZE_CHANGE "MEMORY_DEVICE_SIZE_CHANGE"

/* More virtio-mem devices than this in one guest is an error, not an
 * allocation: libvirt and our launcher give a guest one per NUMA node. */
#define QMP_MEMDEV_MAX 16
/* A device id: QEMU's id_wellformed() ([A-Za-z][A-Za-z0-9._-]*), at most
 * this many bytes. What ballast splices into "/machine/peripheral/<id>". */
#define QMP_MEMDEV_ID_MAX_LEN 127
/* A QOM path (memdev "/objects/vmem0mem", an event's qom-path). */
#define QMP_MEMDEV_PATH_MAX_LEN 191
/* The smallest block size accepted: a host page. QEMU's own minimum is
 * 1 MiB and its default the THP size (2 MiB on x86). */
#define QMP_MEMDEV_MIN_BLOCK_BYTES 4096u
/* QEMU's MAX_NODES is 128; a margin for a future one. */
#define QMP_MEMDEV_MAX_NODE 1023

/* One virtio-mem device as query-memory-devices reports it. Invariants
 * after a successful parse: block_size_bytes a power of two >=
 * QMP_MEMDEV_MIN_BLOCK_BYTES; 0 < max_size_bytes, size_bytes and
 * requested_size_bytes <= max_size_bytes, all three multiples of
 * block_size_bytes; memaddr_bytes + max_size_bytes < 2^63. */
typedef struct {
    /* FALSE: QEMU reported no id (-device virtio-mem-pci without id=); the
     * device is listed but cannot be addressed, id is "". */
    gboolean has_id;
    char id[QMP_MEMDEV_ID_MAX_LEN + 1];
    char memdev[QMP_MEMDEV_PATH_MAX_LEN + 1]; /* the backend's QOM path */
    guint64 memaddr_bytes;                    /* guest-physical start */
    guint64 requested_size_bytes;             /* what was asked for */
    guint64 size_bytes;                       /* what the guest has plugged */
    guint64 max_size_bytes;                   /* the backend's size */
    guint64 block_size_bytes;
    guint32 node; /* NUMA node */
} QmpMemdev;

typedef struct {
    QmpMemdev devices[QMP_MEMDEV_MAX];
    guint n_devices; /* virtio-mem devices, in QEMU's order */
    /* Other memory devices (dimm, nvdimm, virtio-pmem, sgx-epc, and kinds
     * a newer QEMU adds), counted and skipped. */
    guint n_other;
} QmpMemdevList;

/* A list is parsed on the stack of a callback: keep it small. */
G_STATIC_ASSERT(sizeof(QmpMemdevList) <= 8192);

/* {"execute": "query-memory-devices"} ->
 * {"return": [{"type": "virtio-mem", "data": {"memdev": "/objects/vmem0mem",
 *   "memaddr": 4294967296, "block-size": 2097152, "size": 0, "node": 0,
 *   "max-size": 536870912, "requested-size": 0, "id": "vmem0"}},
 *  {"type": "dimm", "data": {...}}]}
 * list is borrowed for the callback; copy what you keep. */
typedef void (*QmpMemdevQueryFunc)(QmpConn *conn, const QmpMemdevList *list, const GError *error,
                                   gpointer user_data);
void qmp_memdev_query_async(QmpConn *conn, guint timeout_ms, QmpMemdevQueryFunc cb,
                            gpointer user_data);

/* The gate: TRUE when requested_bytes is one QEMU may be sent for dev, in
 * [0, max-size] and a multiple of the block size; FALSE +
 * QMP_ERROR_INVALID_ARGUMENTS saying why otherwise. The policy's own floor
 * (working set + headroom) is the policy's business, not this one's. */
gboolean qmp_memdev_check_request(const QmpMemdev *dev, guint64 requested_bytes, GError **error);

/* {"execute": "qom-set", "arguments": {"path": "/machine/peripheral/vmem0",
 *   "property": "requested-size", "value": 268435456}} -> {"return": {}}
 * Runs the gate first: a size it refuses, or a device without an id, fails
 * with QMP_ERROR_INVALID_ARGUMENTS and nothing is sent. Only asks: the
 * guest driver moves "size" later, or never (no driver, memory it cannot
 * unplug). dev is read during the call only. */
void qmp_memdev_set_requested_size_async(QmpConn *conn, const QmpMemdev *dev,
                                         guint64 requested_bytes, guint timeout_ms, QmpDoneFunc cb,
                                         gpointer user_data);

/* A MEMORY_DEVICE_SIZE_CHANGE event's data:
 *   {"id": "vmem0", "size": 268435456, "qom-path": "/machine/peripheral/vmem0"}
 * id absent for a device without one; qom-path absent before QEMU 6.2
 * (mandatory since). */
typedef struct {
    gboolean has_id;
    char id[QMP_MEMDEV_ID_MAX_LEN + 1];
    gboolean has_qom_path;
    char qom_path[QMP_MEMDEV_PATH_MAX_LEN + 1];
    guint64 size_bytes;
} QmpMemdevSizeChange;

/* Pure extractors; FALSE + QMP_ERROR_PROTOCOL when the shape or a value
 * is wrong (out is then untouched). */
gboolean qmp_memdev_parse_list(JsonNode *result, QmpMemdevList *out, GError **error);
gboolean qmp_memdev_parse_size_change_event(JsonObject *data, QmpMemdevSizeChange *out,
                                            GError **error);

/* Whether an event is about dev: same id, or qom-path
 * "/machine/peripheral/<id>". A device without an id matches nothing. */
gboolean qmp_memdev_event_matches(const QmpMemdevSizeChange *event, const QmpMemdev *dev);

/* TRUE when id is one QEMU would accept and ballast may splice into a
 * QOM path: 1..QMP_MEMDEV_ID_MAX_LEN bytes of [A-Za-z][A-Za-z0-9._-]*. */
gboolean qmp_memdev_id_valid(const char *id);

G_END_DECLS

#endif
