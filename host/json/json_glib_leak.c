/* What json-glib 1.6 would leak on, without parsing (see json_glib_leak.h). */
#include "json_glib_leak.h"

#include <stdbool.h>
#include <stdint.h>

/* The value of the \u escape at s[i] ('\\' 'u' and four hex digits), or -1. */
static int32_t u_escape(const char *s, size_t len, size_t i)
{
    if (len - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    int32_t v = 0;
    for (size_t k = i + 2; k < i + 6; k++) {
        char c = s[k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Inside a "string" at s[i] == '\\': why its escape would leak, or NULL.
 * json-glib reads "\ud8" followed by anything but a hex digit as \ud800,
 * a high surrogate: a \u escape must have its four digits (as JSON says). */
static const char *escape_leak(const char *s, size_t len, size_t i)
{
    if (len - i < 2 || s[i + 1] != 'u')
        return NULL;
    int32_t hi = u_escape(s, len, i);
    if (hi < 0)
        return "a \\u escape without four hex digits";
    if (hi < 0xd800 || hi > 0xdbff)
        return NULL;
    int32_t lo = u_escape(s, len, i + 6);
    return lo >= 0xdc00 && lo <= 0xdfff ? NULL : "half a surrogate pair";
}

const char *json_glib_leak(const char *s, size_t len)
{
    long depth = 0;
    bool began = false; /* a top-level value has begun */
    char quote = 0;     /* the quote that opened the current string, 0 outside */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (quote) {
            if (c == '\\' && quote == '"') {
                const char *why = escape_leak(s, len, i);
                if (why)
                    return why;
                i++; /* the escaped byte cannot end the string */
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if ((c == '{' || c == '[') && depth <= 0 && began)
            return "more than one JSON value";
        began = true;
        if (c == '"' || c == '\'')
            quote = c;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
    }
    return NULL;
}
