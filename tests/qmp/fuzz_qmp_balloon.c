/*
 * fuzz.qmp.balloon: any bytes as the "return" value of a balloon reply from
 * QEMU — guest-stats (qom-get), query-balloon, qom-list — or a
 * BALLOON_CHANGE event's data, through the checks qmp.c makes on every line
 * (the depth guard, what json-glib would leak on, then json-glib) and the pure extractors of
 * qmp_balloon.c that the async commands call on it.
 *
 * Properties (abort on violation): no crash, leak, undefined behaviour or
 * glib critical or warning; each extractor gives a value or an error,
 * never both, never neither; guest-stats taken only from an object with a
 * "stats" object and an integer "last-update", a statistic QEMU did not
 * send read as "not reported"; query-balloon's actual never negative; the
 * device picked is a child of the listed parent.
 */
#include "qmp.h"
#include "qmp_balloon.h"
#include "fuzz_qmp_value.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PARENT "/machine/peripheral-anon"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_stats(JsonNode *root)
{
    QmpBalloonStats s;
    memset(&s, 0xa5, sizeof(s));
    g_autoptr(GError) error = NULL;
    gboolean ok = qmp_balloon_parse_stats(root, &s, &error);
    if (ok == (error != NULL))
        abort();
    if (!ok)
        return;
    JsonObject *o = json_node_get_object(root);
    JsonNode *stats = json_object_get_member(o, "stats");
    if (!stats || !JSON_NODE_HOLDS_OBJECT(stats))
        abort();
    if (!json_object_has_member(json_node_get_object(stats), "stat-free-memory") &&
        s.free_bytes != QMP_BALLOON_STAT_NONE)
        abort();
}

static void check_others(JsonNode *root)
{
    g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;
    guint64 actual = 0;
    if (qmp_balloon_parse_query(root, &actual, &e1) == (e1 != NULL) || actual > G_MAXINT64)
        abort();
    g_autofree char *path = NULL;
    if (qmp_balloon_pick_device(root, PARENT, &path, &e2) == (e2 != NULL))
        abort();
    if (path && !g_str_has_prefix(path, PARENT "/"))
        abort();
    if (JSON_NODE_HOLDS_OBJECT(root)) {
        actual = 0;
        if (qmp_balloon_parse_change_event(json_node_get_object(root), &actual, &e3) ==
                (e3 != NULL) ||
            actual > G_MAXINT64)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    JsonNode *root = fuzz_qmp_value(parser, data, size);
    if (!root)
        return 0;
    check_stats(root);
    check_others(root);
    return 0;
}
