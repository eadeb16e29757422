/*
 * json_writer.h — JSON text written straight into a GString. A room of its
 * own at the bottom of host/ (glib only), so every room that writes JSON
 * can use it.
 *
 * The one way host code writes JSON: every reply ballastd sends (control.h's
 * envelope, status, explain, ping, set-policy, dry-run, notify, errors),
 * ballastctl's requests and --json output, every QMP command (qmp.h's
 * QmpArgsFunc writes a command's arguments straight into its line), and the
 * launcher's fleet.json and status --json. It began with the status document (some 60 members
 * per guest): built as a json-glib tree it allocated ~2000 nodes and list
 * links per request for 32 guests, from GSlice, whose magazines keep freed
 * chunks: 20 status requests left ~190 KiB more heap resident for good
 * (docs/benchmarks/ballastd.md). Written directly, a reply costs its text
 * and nothing else. Parsing stays with json-glib.
 *
 * Output is compact (no spaces) or, from json_writer_init_pretty, indented
 * for people and diffs (two spaces a level, one member or element a line,
 * "key": value); members in call order either way. Strings are escaped
 * by json_escape.h's rule (shared with --log-format=fields): bytes that are
 * not UTF-8 become U+FFFD, so the text is always valid JSON whatever a guest
 * put in a name or a reason; a NULL
 * string is written as null. Doubles always carry a fraction or an exponent
 * ("0.0", as json-glib writes them, so a reader sees a real number); those
 * that are not finite are written as null.
 *
 * Misuse is a programming error and asserts: a value inside an object
 * without its key, a key outside an object, an end that does not match its
 * begin, nesting deeper than JSON_WRITER_MAX_DEPTH. So the text is valid
 * JSON once every container is closed (depth back to 0), which a caller
 * that takes a writer from elsewhere can check (qmp.c does, before it
 * sends).
 */
#ifndef BALLAST_JSON_WRITER_H
#define BALLAST_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#define JSON_WRITER_MAX_DEPTH 32

struct json_writer {
    GString *out;
    unsigned depth; /* containers open now */
    bool after_key; /* a key was written, its value not yet */
    bool pretty;
    bool has_items[JSON_WRITER_MAX_DEPTH]; /* per open container: a comma before the next item */
    bool is_object[JSON_WRITER_MAX_DEPTH]; /* per open container: members, not elements */
};

/* Appends to out (which the caller owns): compact, or indented. */
void json_writer_init(struct json_writer *w, GString *out);
void json_writer_init_pretty(struct json_writer *w, GString *out);
/* Containers. */
void json_writer_object_begin(struct json_writer *w);
void json_writer_object_end(struct json_writer *w);
void json_writer_array_begin(struct json_writer *w);
void json_writer_array_end(struct json_writer *w);
/* A member name; the next call writes its value. */
void json_writer_key(struct json_writer *w, const char *key);
void json_writer_int(struct json_writer *w, int64_t v);
void json_writer_double(struct json_writer *w, double v);
void json_writer_bool(struct json_writer *w, bool v);
void json_writer_null(struct json_writer *w);
void json_writer_string(struct json_writer *w, const char *s);
/* A member in one call: json_writer_key, then the value. */
void json_writer_member_int(struct json_writer *w, const char *key, int64_t v);
void json_writer_member_double(struct json_writer *w, const char *key, double v);
void json_writer_member_bool(struct json_writer *w, const char *key, bool v);
void json_writer_member_string(struct json_writer *w, const char *key, const char *s);

#endif
