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

/* At s[i] == '\\' in a "string": how many bytes its escape takes (12 for
 * a surrogate pair), or 0 with *why when json-glib would leak on it. It
 * reads any \u escape of a surrogate, high or low, as the start of a pair,
 * and "\ud8" followed by anything but a hex digit as \ud800: a \u escape
 * must have its four digits (as JSON says), and a surrogate must be the
 * high half with the low half right after it. */
static size_t escape_len(const char *s, size_t len, size_t i, const char **why)
{
    if (len - i < 2 || s[i + 1] != 'u')
        return len - i < 2 ? 1 : 2;
    int32_t hi = u_escape(s, len, i);
    if (hi < 0) {
        *why = "a \\u escape without four hex digits";
        return 0;
    }
    if (hi < 0xd800 || hi > 0xdfff)
        return 6;
    int32_t lo = u_escape(s, len, i + 6);
    if (hi > 0xdbff || lo < 0xdc00 || lo > 0xdfff) {
        *why = "half a surrogate pair";
        return 0;
    }
    return 12;
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
                const char *why = NULL;
                size_t n = escape_len(s, len, i, &why);
                if (n == 0)
                    return why;
                i += n - 1; /* no escaped byte can end the string */
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
