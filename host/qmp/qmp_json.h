/*
 * Typed member lookups that never warn: json-glib's *_get_*_member()
 * functions emit g_critical on a member of the wrong type, and what QEMU
 * (or a fuzzer) sends is untrusted. Each returns NULL/FALSE on a missing
 * or mistyped member. Library-internal.
 */
#ifndef BALLAST_QMP_JSON_H
#define BALLAST_QMP_JSON_H

#include <json-glib/json-glib.h>

static inline JsonObject *qmp_json_object(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static inline const char *qmp_json_string(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n) : NULL;
}

static inline gboolean qmp_json_int(JsonObject *o, const char *name, gint64 *out)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    if (!n || json_node_get_value_type(n) != G_TYPE_INT64)
        return FALSE;
    *out = json_node_get_int(n);
    return TRUE;
}

static inline gboolean qmp_json_node_bool(JsonNode *n, gboolean *out)
{
    if (!n || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
        return FALSE;
    *out = json_node_get_boolean(n);
    return TRUE;
}

#endif
