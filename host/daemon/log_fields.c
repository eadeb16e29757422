/* log_fields.c — see log_fields.h. */
#include "log_fields.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The longest close after a cut, inside a value: quote, the marker, brace,
 * newline, NUL. Kept free at the end of the buffer from the start. */
#define CUT_RESERVE (sizeof("\",\"TRUNCATED\":\"1\"}\n"))

struct line {
    char *buf;
    size_t len;
    size_t limit;  /* content stops here: CUT_RESERVE bytes stay free */
    bool cut;      /* something did not fit: nothing more is added */
    bool in_value; /* inside a value's quotes */
};

/* Appends n bytes whole, or nothing and marks the line cut. */
static bool put(struct line *l, const char *s, size_t n)
{
    if (l->cut || n > l->limit - l->len) {
        l->cut = true;
        return false;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

/* Characters that go out as they are: printable ASCII but quote and backslash. */
static bool plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* \uXXXX for a character of the Basic Multilingual Plane. */
static bool put_u(struct line *l, gunichar u)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\',        'u', hex[(u >> 12) & 0xf], hex[(u >> 8) & 0xf], hex[(u >> 4) & 0xf],
                 hex[u & 0xf]};
    return put(l, e, sizeof(e));
}

/* One ASCII control character, quote or backslash as a JSON escape. */
static bool put_escape(struct line *l, unsigned char c)
{
    char e[2] = {'\\', (char)c};
    switch (c) {
    case '"':
    case '\\':
        return put(l, e, 2);
    case '\n':
        return put(l, "\\n", 2);
    case '\r':
        return put(l, "\\r", 2);
    case '\t':
        return put(l, "\\t", 2);
    case '\b':
        return put(l, "\\b", 2);
    case '\f':
        return put(l, "\\f", 2);
    default:
        return put_u(l, c);
    }
}

/* s[0, n) as the inside of a JSON string. A cut falls between characters:
 * a run of plain ASCII is cut anywhere, an escape or a UTF-8 sequence never. */
static void put_escaped(struct line *l, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && !l->cut) {
        unsigned char c = (unsigned char)s[i];
        if (plain(c)) {
            size_t run = 1;
            while (i + run < n && plain((unsigned char)s[i + run]))
                run++;
            size_t room = l->limit - l->len;
            if (!put(l, s + i, run < room ? run : room) || run > room)
                l->cut = true;
            i += run;
        } else if (c < 0x80) {
            put_escape(l, c);
            i++;
        } else {
            gunichar u = g_utf8_get_char_validated(s + i, (gssize)(n - i));
            if (u == (gunichar)-1 || u == (gunichar)-2) {
                put_u(l, 0xfffd); /* not UTF-8: one byte replaced */
                i++;
            } else if ((u >= 0x80 && u < 0xa0) || u == 0x2028 || u == 0x2029) {
                put_u(l,
                      u); /* C1 controls, line and paragraph separators: some readers split there */
                i += (size_t)g_utf8_skip[c];
            } else {
                size_t seq = (size_t)g_utf8_skip[c];
                put(l, s + i, seq);
                i += seq;
            }
        }
    }
}

/* ,"KEY":"VALUE" (no comma first). A cut inside the key drops the field. */
static void put_field(struct line *l, bool first, const char *key, const char *value,
                      size_t value_len)
{
    size_t start = l->len;
    if (!first)
        put(l, ",", 1);
    put(l, "\"", 1);
    put_escaped(l, key, strlen(key));
    put(l, "\":\"", 3);
    if (l->cut) {
        l->len = start;
        return;
    }
    l->in_value = true;
    put_escaped(l, value, value_len);
    if (put(l, "\"", 1))
        l->in_value = false;
}

size_t log_fields_format(char *buf, size_t size, const GLogField *fields, size_t n_fields,
                         int64_t time_us)
{
    if (!buf || size < LOG_FIELDS_LINE_MIN)
        return 0;
    struct line l = {.buf = buf, .limit = size - CUT_RESERVE};
    size_t written = 0; /* fields on the line */
    put(&l, "{", 1);
    for (size_t i = 0; i < n_fields && !l.cut; i++) {
        const char *v = fields[i].value ? fields[i].value : "";
        size_t v_len = 0; /* a string field has length -1; a binary one, its length */
        if (fields[i].length < 0)
            v_len = strlen(v);
        else if (fields[i].value)
            v_len = (size_t)fields[i].length;
        put_field(&l, written == 0, fields[i].key ? fields[i].key : "", v, v_len);
        written += !l.cut || l.in_value;
    }
    if (!l.cut && time_us >= 0) {
        char num[24];
        int n = snprintf(num, sizeof(num), "%" PRId64, time_us);
        put_field(&l, written == 0, "TIME_US", num, (size_t)n);
    }
    /* The reserve always has room for the close. */
    const char *close = "}\n";
    if (l.cut)
        close = l.in_value ? "\",\"TRUNCATED\":\"1\"}\n"
                : written  ? ",\"TRUNCATED\":\"1\"}\n"
                           : "\"TRUNCATED\":\"1\"}\n";
    size_t close_len = strlen(close);
    memcpy(buf + l.len, close, close_len + 1);
    return l.len + close_len;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static GLogWriterOutput write_record(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                     gpointer user_data)
{
    (void)user_data;
    const char *domain = NULL;
    for (gsize i = 0; i < n_fields; i++)
        if (fields[i].length < 0 && fields[i].key && strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
            domain = fields[i].value;
    /* Debug and info only with G_MESSAGES_DEBUG (-v), as the default writer. */
    if (g_log_writer_default_would_drop(level, domain))
        return G_LOG_WRITER_HANDLED;
    char line[LOG_FIELDS_LINE_MAX];
    size_t len = log_fields_format(line, sizeof(line), fields, n_fields, g_get_real_time());
    return write_all(STDERR_FILENO, line, len) == 0 ? G_LOG_WRITER_HANDLED : G_LOG_WRITER_UNHANDLED;
}

int log_fields_install(const char *format)
{
    if (strcmp(format, "text") == 0)
        return 0;
    if (strcmp(format, "fields") != 0)
        return -EINVAL;
    g_log_set_writer_func(write_record, NULL, NULL);
    return 0;
}
