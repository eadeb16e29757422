/*
 * json_glib_leak.h — the texts json-glib 1.6 (Debian 12's) loses memory
 * on, found before it reads them.
 *
 * ballastd parses control requests and QMP lines for as long as it runs,
 * and its read-only control socket takes lines from any local user: every
 * text that reaches json-glib from outside is checked with this first, so
 * no line can make the daemon grow. Each case was found by the fuzz
 * targets once GSlice's caches no longer hid leaks from LeakSanitizer
 * (tests/fuzz/fuzz_defaults.c):
 *
 *  - a second top-level value: json-glib reads "5[1]", "{}{}" or "[1][2]"
 *    as the first value, reports success, and never frees the tree of the
 *    second (about 200 bytes a value, so a 64 KiB line of "{}" lost
 *    megabytes);
 *  - a \u escape of a surrogate (D800-DFFF) that is not a high one
 *    followed by the \u escape of a low one: the string's buffer is lost
 *    with the "malformed surrogate pair" error (152 bytes a line).
 *    json-glib reads a \u escape of fewer than four hex digits as if zeros
 *    followed ("\ud8n" is \ud800), so those are refused too (JSON has
 *    none).
 *
 * Strings are read as json-glib's scanner reads them: "double-quoted" with
 * backslash escapes, 'single-quoted' without any (a backslash in one is
 * itself, and the quote after it ends the string).
 */
#ifndef BALLAST_JSON_GLIB_LEAK_H
#define BALLAST_JSON_GLIB_LEAK_H

#include <stddef.h>

/* Why json-glib would leak reading s[0..len) ("more than one JSON value",
 * "half a surrogate pair", "a \\u escape without four hex digits"), or NULL. A second value is an
 * object or array opening at the top level after anything but whitespace; two top-level scalars ("1
 * 2") pass: json-glib refuses those itself and frees what it read. Text that is no JSON at all
 * passes too: json-glib says why. */
const char *json_glib_leak(const char *s, size_t len);

#endif
