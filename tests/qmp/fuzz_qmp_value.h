/*
 * What the QMP fuzz targets that feed the pure extractors share: the bytes
 * go through the checks qmp.c makes on every line before json-glib (the
 * depth guard, what json-glib 1.6 would leak on) and then json-glib, and a
 * glib critical or warning aborts. fuzz_qmp_value() returns the parsed
 * value, or NULL when the QMP client would have refused the line.
 */
#ifndef BALLAST_FUZZ_QMP_VALUE_H
#define BALLAST_FUZZ_QMP_VALUE_H

#include "fuzz/fuzz_log.h"
#include "json_glib_leak.h"
#include "qmp.h"
#include "qmp_framer.h"

#include <stdint.h>

static inline JsonNode *fuzz_qmp_value(JsonParser *parser, const uint8_t *data, size_t size)
{
    static gboolean once;
    if (!once) {
        fuzz_log_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
        once = TRUE;
    }
    const char *text = (const char *)data;
    if (!qmp_json_depth_ok(text, size, QMP_MAX_DEPTH) || json_glib_leak(text, size))
        return NULL;
    if (!json_parser_load_from_data(parser, text, (gssize)size, NULL))
        return NULL;
    return json_parser_get_root(parser);
}

#endif
