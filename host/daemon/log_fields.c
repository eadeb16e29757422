/* log_fields.c — see log_fields.h. */
#include "log_fields.h"

#include "json_escape.h"

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

/* s[0, n) as the inside of a JSON string (json_escape.h). A cut falls
 * between characters, never inside an escape or a UTF-8 sequence. */
static void put_escaped(struct line *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n && !l->cut;) {
        char e[JSON_ESCAPE_MAX];
        size_t used;
        size_t len = json_escape_char(s + i, n - i, e, &used);
        if (put(l, e, len))
            i += used;
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
