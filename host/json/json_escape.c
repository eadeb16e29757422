/* json_escape.c — see json_escape.h. */
#include "json_escape.h"

#include <string.h>

#include <glib.h>

static size_t escape_u(unsigned u, char out[JSON_ESCAPE_MAX])
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'u';
    out[2] = hex[(u >> 12) & 0xf];
    out[3] = hex[(u >> 8) & 0xf];
    out[4] = hex[(u >> 4) & 0xf];
    out[5] = hex[u & 0xf];
    return JSON_ESCAPE_MAX;
}

static size_t escape_ascii(unsigned char c, char out[JSON_ESCAPE_MAX])
{
    static const char shorts[][2] = {
        {'"', '"'}, {'\\', '\\'}, {'\n', 'n'}, {'\r', 'r'}, {'\t', 't'}, {'\b', 'b'}, {'\f', 'f'},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(shorts); i++) {
        if ((unsigned char)shorts[i][0] == c) {
            out[0] = '\\';
            out[1] = shorts[i][1];
            return 2;
        }
    }
    if (c >= 0x20 && c < 0x7f) {
        out[0] = (char)c;
        return 1;
    }
    return escape_u(c, out); /* the other controls and DEL */
}

size_t json_escape_char(const char *s, size_t n, char out[JSON_ESCAPE_MAX], size_t *consumed)
{
    unsigned char c = (unsigned char)s[0];
    *consumed = 1;
    if (c < 0x80)
        return escape_ascii(c, out);
    gunichar u = g_utf8_get_char_validated(s, (gssize)n);
    if (u == (gunichar)-1 || u == (gunichar)-2)
        return escape_u(0xfffd, out); /* not UTF-8: this byte replaced */
    size_t seq = (size_t)g_utf8_skip[c];
    *consumed = seq;
    if ((u >= 0x80 && u < 0xa0) || u == 0x2028 || u == 0x2029)
        return escape_u(u, out);
    memcpy(out, s, seq);
    return seq;
}
