/*
 * json_depth.h — how deeply a JSON text nests, found without parsing it.
 * json-glib parses recursively: a line or a file of '[' must not reach it.
 * The control protocol checks every request with it, ballastd's state file
 * every file it reads.
 */
#ifndef BALLAST_JSON_DEPTH_H
#define BALLAST_JSON_DEPTH_H

#include <stddef.h>

/* The deepest nesting of objects and arrays in s[0..len), counting brackets
 * outside strings (double or single quoted, as json-glib reads both;
 * backslash escapes in double-quoted ones only, as there); unbalanced text
 * counts as it goes. */
int json_depth(const char *s, size_t len);

#endif
