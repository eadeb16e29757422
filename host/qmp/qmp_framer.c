/* Newline framing with a bounded buffer; see qmp_framer.h. */
#include "qmp_framer.h"
#include "qmp.h"

#include <string.h>

/* Small to start: an idle connection costs this much, a 64-guest fleet
 * 64 times this (4 KiB was a fifth of ballastd's heap there); replies ballast asks for fit
 * (query-balloon is ~40 bytes, guest-stats ~500). The buffer doubles up to the message limit. */
#define FRAMER_INITIAL_BYTES 1024u

void qmp_framer_init(QmpFramer *f, gsize max_bytes)
{
    memset(f, 0, sizeof(*f));
    f->max_bytes = max_bytes ? max_bytes : QMP_MAX_MESSAGE_BYTES_DEFAULT;
}

void qmp_framer_clear(QmpFramer *f)
{
    g_free(f->buf);
    gsize max = f->max_bytes;
    memset(f, 0, sizeof(*f));
    f->max_bytes = max;
}

void qmp_framer_reset(QmpFramer *f)
{
    /* Give a big buffer back: after one large message an idle connection
     * should not keep a megabyte. */
    if (f->cap > FRAMER_INITIAL_BYTES) {
        qmp_framer_clear(f);
        return;
    }
    f->len = f->start = f->scanned = 0;
}

/* Moves unconsumed bytes to the front so the buffer never creeps. */
static void framer_compact(QmpFramer *f)
{
    if (f->start == 0)
        return;
    memmove(f->buf, f->buf + f->start, f->len - f->start);
    f->len -= f->start;
    f->start = 0;
    if (f->len == 0 && f->cap > FRAMER_INITIAL_BYTES) {
        g_free(f->buf);
        f->buf = NULL;
        f->cap = 0;
    }
}

char *qmp_framer_reserve(QmpFramer *f, gsize want, gsize *avail)
{
    framer_compact(f);
    /* A partial line may grow to max_bytes plus its "\r\n". */
    gsize limit = f->max_bytes + 2;
    if (f->len >= limit) {
        *avail = 0;
        return NULL;
    }
    /* Grow only when full: the buffer holds one partial line, so it stays
     * at its initial size unless QEMU sends a message that big. */
    if (f->cap == f->len) {
        gsize cap = f->cap ? f->cap * 2 : FRAMER_INITIAL_BYTES;
        if (cap > limit)
            cap = limit;
        f->buf = g_realloc(f->buf, cap);
        f->cap = cap;
    }
    gsize room = f->cap - f->len;
    *avail = want < room ? want : room;
    return f->buf + f->len;
}

void qmp_framer_commit(QmpFramer *f, gsize n)
{
    g_assert(f->len + n <= f->cap);
    f->len += n;
}

void qmp_framer_push(QmpFramer *f, const char *bytes, gsize n)
{
    while (n > 0) {
        gsize avail;
        char *dst = qmp_framer_reserve(f, n, &avail);
        if (!dst)
            return; /* over the limit: qmp_framer_next reports it */
        memcpy(dst, bytes, avail);
        qmp_framer_commit(f, avail);
        bytes += avail;
        n -= avail;
    }
}

int qmp_framer_next(QmpFramer *f, const char **line, gsize *line_len, GError **error)
{
    const char *base = f->buf + f->start;
    gsize held = f->len - f->start;
    const char *nl = held > f->scanned ? memchr(base + f->scanned, '\n', held - f->scanned) : NULL;
    if (!nl) {
        if (held == 0 && f->buf) {
            /* Everything handed out: an idle connection holds no buffer
             * (1 KiB a guest; the next read allocates one again). */
            g_free(f->buf);
            f->buf = NULL;
            f->len = f->cap = f->start = f->scanned = 0;
            return 0;
        }
        f->scanned = held;
        if (held > f->max_bytes + 1) {
            g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                        "QMP message longer than %" G_GSIZE_FORMAT " bytes", f->max_bytes);
            return -1;
        }
        return 0;
    }
    gsize n = (gsize)(nl - base);
    f->start += n + 1;
    f->scanned = 0;
    if (n > 0 && base[n - 1] == '\r')
        n--;
    if (n > f->max_bytes) {
        g_set_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                    "QMP message of %" G_GSIZE_FORMAT " bytes, limit %" G_GSIZE_FORMAT, n,
                    f->max_bytes);
        return -1;
    }
    *line = base;
    *line_len = n;
    return 1;
}

gboolean qmp_json_depth_ok(const char *text, gsize len, guint max_depth)
{
    guint depth = 0;
    char quote = 0; /* the quote that opened the current string, 0 outside */
    for (gsize i = 0; i < len; i++) {
        char c = text[i];
        if (quote) {
            if (c == '\\' && quote == '"')
                i++; /* the escaped byte cannot end the string */
            else if (c == quote)
                quote = 0;
            continue;
        }
        /* json-glib's scanner also knows 'single-quoted' strings: treat
         * both as strings so brackets cannot hide from this count. It reads
         * no escapes in single-quoted ones: "['\\', [[[..." is a string of
         * one backslash, then the nesting. */
        if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return FALSE;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return TRUE;
}
