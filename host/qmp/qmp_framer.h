/*
 * QMP framing: QEMU writes one JSON object per line ("...}\r\n"), and a
 * read() may return half a message or several. The framer accumulates bytes
 * in a bounded buffer and hands out complete lines. It never grows past
 * max_bytes + the bytes of one read: a line longer than max_bytes is an
 * error before it is buffered whole. Pure: no I/O, no glib main loop, so
 * the fuzz target and unit tests drive it directly.
 */
#ifndef BALLAST_QMP_FRAMER_H
#define BALLAST_QMP_FRAMER_H

#include <glib.h>

typedef struct {
    char *buf;
    gsize len;     /* bytes held */
    gsize cap;     /* bytes allocated */
    gsize start;   /* first byte not yet handed out */
    gsize scanned; /* bytes from start already known to hold no newline */
    gsize max_bytes;
} QmpFramer;

void qmp_framer_init(QmpFramer *f, gsize max_bytes);
void qmp_framer_clear(QmpFramer *f); /* frees the buffer; init again to reuse */
void qmp_framer_reset(QmpFramer *f); /* drops buffered bytes, keeps max_bytes */

/*
 * Where the next read may write and how much: at most `want` bytes, fewer
 * when the buffer is at its limit. Call qmp_framer_commit with what read()
 * returned. Returns NULL + *avail 0 only when a line already exceeds the
 * limit (qmp_framer_next reports that).
 */
char *qmp_framer_reserve(QmpFramer *f, gsize want, gsize *avail);
void qmp_framer_commit(QmpFramer *f, gsize n);
/* Copies bytes in (tests, fuzzing). */
void qmp_framer_push(QmpFramer *f, const char *bytes, gsize n);

/*
 * The next complete line, without its "\n" (a "\r" before it is dropped
 * too), valid until the next call on the framer. Returns 1 with a line, 0
 * when no complete line is buffered, -1 (error set, QMP_ERROR_PROTOCOL)
 * when a line is longer than max_bytes.
 */
int qmp_framer_next(QmpFramer *f, const char **line, gsize *line_len, GError **error);

/* TRUE when the JSON text nests arrays/objects at most max_depth deep
 * (strings and escapes skipped). json-glib 1.6 recurses once per level and
 * overflows the stack on deep input, so every line is checked first. */
gboolean qmp_json_depth_ok(const char *text, gsize len, guint max_depth);

#endif
