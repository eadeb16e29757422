/* JSON nesting depth without parsing (see json_depth.h). */
#include "json_depth.h"

int json_depth(const char *s, size_t len)
{
    int depth = 0, max = 0;
    char quote = 0; /* the quote that opened the current string, 0 outside */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (quote) {
            if (c == '\\' && quote == '"')
                i++; /* the escaped byte cannot end the string */
            else if (c == quote)
                quote = 0;
            continue;
        }
        /* json-glib's scanner also reads 'single-quoted' strings, without
         * escapes: a '"' inside one must not open a string here, nor a
         * backslash keep it open, or the brackets after it would hide from
         * the count ("['\"', [[[..." and "['\\', [[[..." nested unseen). */
        if (c == '"' || c == '\'')
            quote = c;
        else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']')
            depth--;
    }
    return max;
}
