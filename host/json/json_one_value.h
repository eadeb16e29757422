/*
 * json_one_value.h — whether a JSON text holds a single top-level value,
 * found without parsing it.
 *
 * json-glib 1.6 (Debian 12's) reads "5[1]", "{}{}" or "[1][2]" as its
 * first value and reports success, and the tree it builds for the second
 * value is never freed: about 200 bytes lost per line. ballastd parses
 * control requests and QMP lines for as long as it runs, so every text
 * that reaches json-glib from outside is checked with this first (a guest
 * cannot write QMP, but a control client can write any line). The leak
 * went unseen by the fuzz targets until they turned GSlice's caches off
 * (tests/fuzz/fuzz_defaults.c): LeakSanitizer cannot see through them.
 */
#ifndef BALLAST_JSON_ONE_VALUE_H
#define BALLAST_JSON_ONE_VALUE_H

#include <stdbool.h>
#include <stddef.h>

/* False when an object or array opens at the top level of s[0..len) after
 * anything but whitespace (a value already began), outside strings (double
 * or single quoted, as json-glib's scanner reads both; escapes honoured).
 * Two top-level scalars ("1 2") pass: json-glib refuses those itself, and
 * frees what it read. */
bool json_one_value(const char *s, size_t len);

#endif
