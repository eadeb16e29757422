/* json_writer.c — see json_writer.h. */
#include "json_writer.h"

#include "json_escape.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void json_writer_init(struct json_writer *w, GString *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

void json_writer_init_pretty(struct json_writer *w, GString *out)
{
    json_writer_init(w, out);
    w->pretty = true;
}

static bool in_object(const struct json_writer *w)
{
    return w->depth > 0 && w->is_object[w->depth - 1];
}

/* A line break and the indent of the current depth (pretty only). */
static void newline(struct json_writer *w)
{
    if (!w->pretty)
        return;
    g_string_append_c(w->out, '\n');
    for (unsigned i = 0; i < w->depth; i++)
        g_string_append(w->out, "  ");
}

/* What goes before a key or a value: nothing after a key; otherwise, in a
 * container, the comma after the previous item and, pretty, a new line. */
static void item(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            g_string_append_c(w->out, ',');
        w->has_items[w->depth - 1] = true;
        newline(w);
    }
}

/* Before a value: inside an object only as a member's value. */
static void value(struct json_writer *w)
{
    g_assert(w->after_key || !in_object(w));
    item(w);
}

static void open_container(struct json_writer *w, bool object)
{
    g_assert(w->depth < JSON_WRITER_MAX_DEPTH);
    value(w);
    g_string_append_c(w->out, object ? '{' : '[');
    w->has_items[w->depth] = false;
    w->is_object[w->depth++] = object;
}

static void close_container(struct json_writer *w, bool object)
{
    g_assert(w->depth > 0 && !w->after_key && w->is_object[w->depth - 1] == object);
    w->depth--;
    if (w->has_items[w->depth])
        newline(w);
    g_string_append_c(w->out, object ? '}' : ']');
}

void json_writer_object_begin(struct json_writer *w)
{
    open_container(w, true);
}

void json_writer_object_end(struct json_writer *w)
{
    close_container(w, true);
}

void json_writer_array_begin(struct json_writer *w)
{
    open_container(w, false);
}

void json_writer_array_end(struct json_writer *w)
{
    close_container(w, false);
}

static void quoted(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (size_t i = 0, n = strlen(s); i < n;) {
        char e[JSON_ESCAPE_MAX];
        size_t used;
        g_string_append_len(out, e, (gssize)json_escape_char(s + i, n - i, e, &used));
        i += used;
    }
    g_string_append_c(out, '"');
}

void json_writer_key(struct json_writer *w, const char *key)
{
    g_assert(in_object(w) && !w->after_key);
    item(w);
    quoted(w->out, key);
    g_string_append(w->out, w->pretty ? ": " : ":");
    w->after_key = true;
}

void json_writer_int(struct json_writer *w, int64_t v)
{
    value(w);
    g_string_append_printf(w->out, "%" PRId64, v);
}

void json_writer_double(struct json_writer *w, double v)
{
    if (!isfinite(v)) {
        json_writer_null(w);
        return;
    }
    value(w);
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    const char *text = g_ascii_dtostr(buf, sizeof(buf), v);
    g_string_append(w->out, text);
    /* 0.0 as "0.0", not "0": a reader must see a real number (json-glib
     * reads "0" as an integer), as json-glib's own writer keeps it. */
    if (!strpbrk(text, ".eE"))
        g_string_append(w->out, ".0");
}

void json_writer_bool(struct json_writer *w, bool v)
{
    value(w);
    g_string_append(w->out, v ? "true" : "false");
}

void json_writer_null(struct json_writer *w)
{
    value(w);
    g_string_append(w->out, "null");
}

void json_writer_string(struct json_writer *w, const char *s)
{
    if (!s) {
        json_writer_null(w);
        return;
    }
    value(w);
    quoted(w->out, s);
}

void json_writer_member_int(struct json_writer *w, const char *key, int64_t v)
{
    json_writer_key(w, key);
    json_writer_int(w, v);
}

void json_writer_member_double(struct json_writer *w, const char *key, double v)
{
    json_writer_key(w, key);
    json_writer_double(w, v);
}

void json_writer_member_bool(struct json_writer *w, const char *key, bool v)
{
    json_writer_key(w, key);
    json_writer_bool(w, v);
}

void json_writer_member_string(struct json_writer *w, const char *key, const char *s)
{
    json_writer_key(w, key);
    json_writer_string(w, s);
}
