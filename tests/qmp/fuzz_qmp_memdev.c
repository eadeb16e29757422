/*
 * fuzz.qmp.memdev: any bytes as the "return" value of a
 * query-memory-devices reply from QEMU, or a MEMORY_DEVICE_SIZE_CHANGE
 * event's data, through the checks qmp.c makes on every line (the depth
 * guard, then json-glib) and the pure extractors of qmp_memdev.c, then the
 * requested-size gate on every device accepted.
 *
 * Properties (abort on violation): no crash, leak, undefined behaviour or
 * glib critical or warning; each extractor gives a value or an error,
 * never both, never neither, and leaves its output untouched on an error;
 * an accepted list has at most QMP_MEMDEV_MAX devices, each with the
 * invariants qmp_memdev.h promises (a power-of-two block size of at least
 * 4 KiB, sizes within max-size and on the block size, a valid id or none);
 * the gate takes each device's own requested size, size and max-size and
 * refuses max-size + one block and a size off the block size; an accepted
 * event has a non-negative size and a valid id when it has one.
 */
#include "qmp.h"
#include "fuzz_qmp_value.h"
#include "qmp_memdev.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_device(const QmpMemdev *d)
{
    guint64 b = d->block_size_bytes;
    if (b < QMP_MEMDEV_MIN_BLOCK_BYTES || (b & (b - 1)) != 0)
        abort();
    if (d->max_size_bytes == 0 || d->max_size_bytes % b || d->size_bytes > d->max_size_bytes ||
        d->requested_size_bytes > d->max_size_bytes || d->size_bytes % b ||
        d->requested_size_bytes % b || d->memaddr_bytes + d->max_size_bytes > G_MAXINT64)
        abort();
    if (d->has_id != qmp_memdev_id_valid(d->id) || (!d->has_id && d->id[0]))
        abort();
    if (d->memdev[0] != '/' || d->node > QMP_MEMDEV_MAX_NODE)
        abort();
    if (!qmp_memdev_check_request(d, d->requested_size_bytes, NULL) ||
        !qmp_memdev_check_request(d, d->size_bytes, NULL) ||
        !qmp_memdev_check_request(d, 0, NULL) ||
        !qmp_memdev_check_request(d, d->max_size_bytes, NULL))
        abort();
    g_autoptr(GError) e1 = NULL, e2 = NULL;
    if (qmp_memdev_check_request(d, d->max_size_bytes + b, &e1) || !e1)
        abort();
    if (qmp_memdev_check_request(d, d->requested_size_bytes + b / 2, &e2) || !e2 ||
        e2->code != QMP_ERROR_INVALID_ARGUMENTS)
        abort();
}

static void check_list(JsonNode *root)
{
    QmpMemdevList list, before;
    memset(&list, 0xa5, sizeof(list));
    before = list;
    g_autoptr(GError) error = NULL;
    gboolean ok = qmp_memdev_parse_list(root, &list, &error);
    if (ok == (error != NULL))
        abort();
    if (!ok) {
        if (memcmp(&list, &before, sizeof(list)) != 0 || error->code != QMP_ERROR_PROTOCOL)
            abort();
        return;
    }
    if (list.n_devices > QMP_MEMDEV_MAX || !JSON_NODE_HOLDS_ARRAY(root) ||
        list.n_devices + list.n_other != json_array_get_length(json_node_get_array(root)))
        abort();
    for (guint i = 0; i < list.n_devices; i++) {
        check_device(&list.devices[i]);
        for (guint j = 0; j < i; j++)
            if (list.devices[i].has_id && list.devices[j].has_id &&
                strcmp(list.devices[i].id, list.devices[j].id) == 0)
                abort();
    }
}

static void check_event(JsonNode *root)
{
    if (!JSON_NODE_HOLDS_OBJECT(root))
        return;
    QmpMemdevSizeChange ev, before;
    memset(&ev, 0xa5, sizeof(ev));
    before = ev;
    g_autoptr(GError) error = NULL;
    gboolean ok = qmp_memdev_parse_size_change_event(json_node_get_object(root), &ev, &error);
    if (ok == (error != NULL))
        abort();
    if (!ok) {
        if (memcmp(&ev, &before, sizeof(ev)) != 0)
            abort();
        return;
    }
    if (ev.size_bytes > G_MAXINT64 || ev.has_id != qmp_memdev_id_valid(ev.id) ||
        (ev.has_qom_path && ev.qom_path[0] != '/') || (!ev.has_qom_path && ev.qom_path[0]))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    JsonNode *root = fuzz_qmp_value(parser, data, size);
    if (!root)
        return 0;
    check_list(root);
    check_event(root);
    return 0;
}
