/*
 * virtio-mem over QMP; see qmp_memdev.h. Each command is
 * build -> (the gate) -> qmp_conn_execute_async -> (qmp.c checked the
 * error) -> check the reply's type and extract, with the pure
 * qmp_memdev_parse_* functions.
 *
 * What QEMU says is untrusted like everything it sends: a reply is checked
 * whole (types, ranges, the device's own invariants) before any of it is
 * handed on, and a device id is only ever spliced into a QOM path after
 * qmp_memdev_id_valid() said it is one QEMU itself would have accepted.
 * Error messages never echo a string that failed its check.
 */
#include "qmp_memdev.h"
#include "json_writer.h"
#include "qmp_json.h"
#include "qmp_private.h"

#include <string.h>

#define PERIPHERAL_PREFIX "/machine/peripheral/"

static gboolean fail(GError **error, QmpErrorCode code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static gboolean fail(GError **error, QmpErrorCode code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, QMP_ERROR, code, msg);
    return FALSE;
}

static gboolean block_size_ok(guint64 block_bytes)
{
    return block_bytes >= QMP_MEMDEV_MIN_BLOCK_BYTES && (block_bytes & (block_bytes - 1)) == 0;
}

/* ---- names ----------------------------------------------------------- */

/* QEMU's id_wellformed(): a letter, then letters, digits, '.', '_', '-'.
 * No '/', so "/machine/peripheral/<id>" names exactly one child. */
gboolean qmp_memdev_id_valid(const char *id)
{
    if (!id || !g_ascii_isalpha(id[0]))
        return FALSE;
    for (gsize i = 1; id[i]; i++) {
        if (i >= QMP_MEMDEV_ID_MAX_LEN)
            return FALSE;
        if (!g_ascii_isalnum(id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
            return FALSE;
    }
    return TRUE;
}

/* A QOM path: "/" then printable ASCII without spaces ("device[0]"
 * included), bounded. Only stored and compared, never sent. */
static gboolean qom_path_valid(const char *path)
{
    if (!path || path[0] != '/')
        return FALSE;
    gsize len = 0;
    for (; path[len]; len++) {
        if (len >= QMP_MEMDEV_PATH_MAX_LEN || !g_ascii_isgraph(path[len]))
            return FALSE;
    }
    return TRUE;
}

/* For messages: the id when it is one, never unchecked text. */
static const char *dev_name(const QmpMemdev *dev)
{
    return dev->has_id && qmp_memdev_id_valid(dev->id) ? dev->id : "(no id)";
}

/* ---- query-memory-devices -------------------------------------------- */

/* The integer members of a virtio-mem entry's "data". json-glib reads an
 * integer of 2^63 or more as a negative gint64: "non-negative" refuses
 * those too, so every value below fits a gint64 (qom-set's "value"). */
static const struct {
    const char *name;
    gsize offset;
} int_fields[] = {
    {"memaddr", G_STRUCT_OFFSET(QmpMemdev, memaddr_bytes)},
    {"requested-size", G_STRUCT_OFFSET(QmpMemdev, requested_size_bytes)},
    {"size", G_STRUCT_OFFSET(QmpMemdev, size_bytes)},
    {"max-size", G_STRUCT_OFFSET(QmpMemdev, max_size_bytes)},
    {"block-size", G_STRUCT_OFFSET(QmpMemdev, block_size_bytes)},
};

#define DEV_FMT "query-memory-devices: virtio-mem device %u (%s): "

/* "id" is optional (no id= on -device) but, when there, must be one. */
static gboolean parse_id(JsonObject *data, guint index, QmpMemdev *dev, GError **error)
{
    if (!json_object_has_member(data, "id"))
        return TRUE;
    const char *id = qmp_json_string(data, "id");
    if (!qmp_memdev_id_valid(id))
        return fail(error, QMP_ERROR_PROTOCOL,
                    "query-memory-devices: virtio-mem device %u: \"id\" is not a device id "
                    "(a string of 1-%d characters [A-Za-z][A-Za-z0-9._-]*)",
                    index, QMP_MEMDEV_ID_MAX_LEN);
    g_strlcpy(dev->id, id, sizeof(dev->id));
    dev->has_id = TRUE;
    return TRUE;
}

static gboolean parse_numbers(JsonObject *data, guint index, QmpMemdev *dev, GError **error)
{
    for (gsize i = 0; i < G_N_ELEMENTS(int_fields); i++) {
        gint64 v;
        if (!qmp_json_int(data, int_fields[i].name, &v))
            return fail(error, QMP_ERROR_PROTOCOL, DEV_FMT "\"%s\" missing or not an integer",
                        index, dev_name(dev), int_fields[i].name);
        if (v < 0)
            return fail(error, QMP_ERROR_PROTOCOL, DEV_FMT "\"%s\" negative or 2^63 or more", index,
                        dev_name(dev), int_fields[i].name);
        G_STRUCT_MEMBER(guint64, dev, int_fields[i].offset) = (guint64)v;
    }
    gint64 node;
    if (!qmp_json_int(data, "node", &node) || node < 0 || node > QMP_MEMDEV_MAX_NODE)
        return fail(error, QMP_ERROR_PROTOCOL, DEV_FMT "\"node\" not an integer in [0, %d]", index,
                    dev_name(dev), QMP_MEMDEV_MAX_NODE);
    dev->node = (guint32)node;
    const char *memdev = qmp_json_string(data, "memdev");
    if (!qom_path_valid(memdev))
        return fail(error, QMP_ERROR_PROTOCOL,
                    DEV_FMT "\"memdev\" is not a QOM path (\"/...\", at most %d printable bytes)",
                    index, dev_name(dev), QMP_MEMDEV_PATH_MAX_LEN);
    g_strlcpy(dev->memdev, memdev, sizeof(dev->memdev));
    return TRUE;
}

/* The device's own invariants, as QEMU keeps them (7.2 refuses a backend
 * size that is not a multiple of the block size, and a requested size
 * that is not one): a reply that breaks them is not from a sane QEMU. */
static gboolean check_invariants(const QmpMemdev *dev, guint index, GError **error)
{
    const char *name = dev_name(dev);
    guint64 block = dev->block_size_bytes;
    if (!block_size_ok(block))
        return fail(error, QMP_ERROR_PROTOCOL,
                    DEV_FMT "block-size %" G_GUINT64_FORMAT " is not a power of two of at least %u",
                    index, name, block, QMP_MEMDEV_MIN_BLOCK_BYTES);
    if (dev->max_size_bytes == 0 || dev->max_size_bytes % block != 0)
        return fail(error, QMP_ERROR_PROTOCOL,
                    DEV_FMT "max-size %" G_GUINT64_FORMAT
                            " is not a positive multiple of the block size",
                    index, name, dev->max_size_bytes);
    const struct {
        const char *what;
        guint64 bytes;
    } sizes[] = {{"size", dev->size_bytes}, {"requested-size", dev->requested_size_bytes}};
    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        if (sizes[i].bytes > dev->max_size_bytes)
            return fail(error, QMP_ERROR_PROTOCOL,
                        DEV_FMT "%s %" G_GUINT64_FORMAT " exceeds max-size %" G_GUINT64_FORMAT,
                        index, name, sizes[i].what, sizes[i].bytes, dev->max_size_bytes);
        if (sizes[i].bytes % block != 0)
            return fail(error, QMP_ERROR_PROTOCOL,
                        DEV_FMT "%s %" G_GUINT64_FORMAT
                                " is not a multiple of block-size %" G_GUINT64_FORMAT,
                        index, name, sizes[i].what, sizes[i].bytes, block);
    }
    if (dev->memaddr_bytes > (guint64)G_MAXINT64 - dev->max_size_bytes)
        return fail(error, QMP_ERROR_PROTOCOL, DEV_FMT "memaddr + max-size overflows", index, name);
    return TRUE;
}

static gboolean parse_device(JsonObject *data, guint index, QmpMemdev *dev, GError **error)
{
    memset(dev, 0, sizeof(*dev));
    return parse_id(data, index, dev, error) && parse_numbers(data, index, dev, error) &&
           check_invariants(dev, index, error);
}

static gboolean id_taken(const QmpMemdevList *list, const char *id)
{
    for (guint i = 0; i < list->n_devices; i++)
        if (list->devices[i].has_id && strcmp(list->devices[i].id, id) == 0)
            return TRUE;
    return FALSE;
}

/* One entry of the reply: {"type": "virtio-mem", "data": {...}}; any
 * other type is counted and its data left unread. */
static gboolean parse_entry(JsonNode *item, guint index, QmpMemdevList *list, GError **error)
{
    JsonObject *o = JSON_NODE_HOLDS_OBJECT(item) ? json_node_get_object(item) : NULL;
    const char *type = qmp_json_string(o, "type");
    if (!type)
        return fail(error, QMP_ERROR_PROTOCOL,
                    "query-memory-devices: entry %u is not an object with a string \"type\"",
                    index);
    if (strcmp(type, "virtio-mem") != 0) {
        list->n_other++;
        return TRUE;
    }
    JsonObject *data = qmp_json_object(o, "data");
    guint n = list->n_devices;
    if (!data)
        return fail(error, QMP_ERROR_PROTOCOL,
                    "query-memory-devices: virtio-mem device %u has no \"data\" object", n);
    if (n == QMP_MEMDEV_MAX)
        return fail(error, QMP_ERROR_PROTOCOL,
                    "query-memory-devices: more than %d virtio-mem devices", QMP_MEMDEV_MAX);
    QmpMemdev *dev = &list->devices[n];
    if (!parse_device(data, n, dev, error))
        return FALSE;
    if (dev->has_id && id_taken(list, dev->id))
        return fail(error, QMP_ERROR_PROTOCOL, DEV_FMT "the id is used twice", n, dev->id);
    list->n_devices++;
    return TRUE;
}

/*
 * query-memory-devices (QEMU 7.2, q35, one virtio-mem with an id, one
 * without, one pc-dimm; tests/fixtures/qmp-memdev/qemu-7.2-q35.json):
 * {"return": [{"type": "virtio-mem", "data": {"memdev": "/objects/vmem0mem",
 *   "memaddr": 4294967296, "block-size": 2097152, "size": 0, "node": 0,
 *   "max-size": 536870912, "requested-size": 0, "id": "vmem0"}},
 *  {"type": "virtio-mem", "data": {"memdev": "/objects/vmem1mem", "memaddr":
 *   4831838208, "block-size": 2097152, "size": 0, "node": 0, "max-size":
 *   268435456, "requested-size": 67108864}},
 *  {"type": "dimm", "data": {"memdev": "/objects/dimm0mem", "hotplugged":
 *   false, "addr": 5100273664, "hotpluggable": true, "size": 134217728,
 *   "slot": 0, "node": 0, "id": "dimm0"}}]}
 */
gboolean qmp_memdev_parse_list(JsonNode *result, QmpMemdevList *out, GError **error)
{
    if (!result || !JSON_NODE_HOLDS_ARRAY(result))
        return fail(error, QMP_ERROR_PROTOCOL, "query-memory-devices did not return an array");
    JsonArray *items = json_node_get_array(result);
    QmpMemdevList list = {0};
    for (guint i = 0; i < json_array_get_length(items); i++)
        if (!parse_entry(json_array_get_element(items, i), i, &list, error))
            return FALSE;
    *out = list;
    return TRUE;
}

typedef struct {
    gpointer cb;
    gpointer user_data;
} MemdevOp;

static MemdevOp *memdev_op_new(gpointer cb, gpointer user_data)
{
    MemdevOp *op = g_new0(MemdevOp, 1);
    op->cb = cb;
    op->user_data = user_data;
    return op;
}

/* The list lives on this stack frame (<= 8 KiB, no allocation per
 * device) for the callback's duration. */
static void on_query(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    MemdevOp *op = data;
    g_autoptr(GError) local = NULL;
    QmpMemdevList list;
    if (!error && !qmp_memdev_parse_list(result, &list, &local))
        error = local;
    ((QmpMemdevQueryFunc)op->cb)(conn, error ? NULL : &list, error, op->user_data);
    g_free(op);
}

/* -> {"execute": "query-memory-devices"}
 * <- {"return": [...]} (quoted above qmp_memdev_parse_list) */
void qmp_memdev_query_async(QmpConn *conn, guint timeout_ms, QmpMemdevQueryFunc cb,
                            gpointer user_data)
{
    g_return_if_fail(conn && cb);
    qmp_conn_execute_async(conn, "query-memory-devices", NULL, NULL, timeout_ms, on_query,
                           memdev_op_new(cb, user_data));
}

/* ---- the gate -------------------------------------------------------- */

gboolean qmp_memdev_check_request(const QmpMemdev *dev, guint64 requested_bytes, GError **error)
{
    const char *name = dev_name(dev);
    guint64 block = dev->block_size_bytes;
    if (!block_size_ok(block) || dev->max_size_bytes > (guint64)G_MAXINT64)
        return fail(error, QMP_ERROR_INVALID_ARGUMENTS,
                    "virtio-mem %s: not a device that query-memory-devices could have listed "
                    "(block size %" G_GUINT64_FORMAT ", max-size %" G_GUINT64_FORMAT
                    "); nothing sent",
                    name, block, dev->max_size_bytes);
    if (requested_bytes > dev->max_size_bytes)
        return fail(error, QMP_ERROR_INVALID_ARGUMENTS,
                    "virtio-mem %s: requested size %" G_GUINT64_FORMAT
                    " exceeds max-size %" G_GUINT64_FORMAT "; nothing sent",
                    name, requested_bytes, dev->max_size_bytes);
    if (requested_bytes % block != 0)
        return fail(error, QMP_ERROR_INVALID_ARGUMENTS,
                    "virtio-mem %s: requested size %" G_GUINT64_FORMAT
                    " is not a multiple of the block size %" G_GUINT64_FORMAT "; nothing sent",
                    name, requested_bytes, block);
    return TRUE;
}

/* ---- qom-set requested-size ------------------------------------------ */

typedef struct {
    const char *path;
    gint64 value;
} RequestedSizeArgs;

/* {"path": "/machine/peripheral/vmem0", "property": "requested-size",
 *  "value": 268435456} */
static void write_requested_size_args(struct json_writer *w, gconstpointer args)
{
    const RequestedSizeArgs *a = args;
    json_writer_member_string(w, "path", a->path);
    json_writer_member_string(w, "property", "requested-size");
    json_writer_member_int(w, "value", a->value);
}

static void on_set_done(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    MemdevOp *op = data;
    g_autoptr(GError) local = NULL;
    if (!error && (!result || !JSON_NODE_HOLDS_OBJECT(result))) {
        local = g_error_new_literal(QMP_ERROR, QMP_ERROR_PROTOCOL,
                                    "qom-set requested-size: the reply is not an object");
        error = local;
    }
    ((QmpDoneFunc)op->cb)(conn, error, op->user_data);
    g_free(op);
}

/*
 * -> {"execute": "qom-set", "arguments": {"path": "/machine/peripheral/vmem0",
 *     "property": "requested-size", "value": 268435456}}
 * <- {"return": {}}
 * What QEMU 7.2 answers to the sizes the gate keeps from it:
 * <- {"error": {"class": "GenericError", "desc": "'requested-size' has to be
 *     multiples of 'block-size' (0x200000)"}}
 * <- {"error": {"class": "GenericError", "desc": "'requested-size' cannot
 *     exceed the memory backend size(0x20000000)"}}
 */
void qmp_memdev_set_requested_size_async(QmpConn *conn, const QmpMemdev *dev,
                                         guint64 requested_bytes, guint timeout_ms, QmpDoneFunc cb,
                                         gpointer user_data)
{
    g_return_if_fail(conn && dev && cb);
    MemdevOp *op = memdev_op_new(cb, user_data);
    GError *error = NULL;
    if (!dev->has_id || !qmp_memdev_id_valid(dev->id))
        fail(&error, QMP_ERROR_INVALID_ARGUMENTS,
             "virtio-mem device at 0x%" G_GINT64_MODIFIER "x has no id to address it by; "
             "nothing sent",
             dev->memaddr_bytes);
    else
        qmp_memdev_check_request(dev, requested_bytes, &error);
    if (error) {
        qmp_conn_fail_async(conn, on_set_done, op, error);
        return;
    }
    char path[sizeof(PERIPHERAL_PREFIX) + QMP_MEMDEV_ID_MAX_LEN];
    g_snprintf(path, sizeof(path), PERIPHERAL_PREFIX "%s", dev->id);
    RequestedSizeArgs args = {.path = path, .value = (gint64)requested_bytes};
    qmp_conn_execute_async(conn, "qom-set", write_requested_size_args, &args, timeout_ms,
                           on_set_done, op);
}

/* ---- MEMORY_DEVICE_SIZE_CHANGE --------------------------------------- */

/*
 * {"event": "MEMORY_DEVICE_SIZE_CHANGE", "data": {"id": "vmem0", "size":
 *  268435456, "qom-path": "/machine/peripheral/vmem0"}, "timestamp": ...}
 * QEMU 7.2's query-qmp-schema: id optional (str), size (int), qom-path
 * (str, mandatory; added in 6.2).
 */
gboolean qmp_memdev_parse_size_change_event(JsonObject *data, QmpMemdevSizeChange *out,
                                            GError **error)
{
    QmpMemdevSizeChange ev = {0};
    gint64 size;
    if (!qmp_json_int(data, "size", &size) || size < 0)
        return fail(error, QMP_ERROR_PROTOCOL,
                    "MEMORY_DEVICE_SIZE_CHANGE without a non-negative integer \"size\"");
    ev.size_bytes = (guint64)size;
    if (data && json_object_has_member(data, "id")) {
        const char *id = qmp_json_string(data, "id");
        if (!qmp_memdev_id_valid(id))
            return fail(error, QMP_ERROR_PROTOCOL,
                        "MEMORY_DEVICE_SIZE_CHANGE: \"id\" is not a device id");
        g_strlcpy(ev.id, id, sizeof(ev.id));
        ev.has_id = TRUE;
    }
    if (data && json_object_has_member(data, "qom-path")) {
        const char *path = qmp_json_string(data, "qom-path");
        if (!qom_path_valid(path))
            return fail(error, QMP_ERROR_PROTOCOL,
                        "MEMORY_DEVICE_SIZE_CHANGE: \"qom-path\" is not a QOM path");
        g_strlcpy(ev.qom_path, path, sizeof(ev.qom_path));
        ev.has_qom_path = TRUE;
    }
    *out = ev;
    return TRUE;
}

gboolean qmp_memdev_event_matches(const QmpMemdevSizeChange *event, const QmpMemdev *dev)
{
    if (!dev->has_id)
        return FALSE;
    if (event->has_id)
        return strcmp(event->id, dev->id) == 0;
    if (!event->has_qom_path || !g_str_has_prefix(event->qom_path, PERIPHERAL_PREFIX))
        return FALSE;
    return strcmp(event->qom_path + strlen(PERIPHERAL_PREFIX), dev->id) == 0;
}
