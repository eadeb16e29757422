/* One top-level JSON value, without parsing (see json_one_value.h). */
#include "json_one_value.h"

bool json_one_value(const char *s, size_t len)
{
    long depth = 0;
    bool began = false; /* a top-level value has begun */
    char quote = 0;     /* the quote that opened the current string, 0 outside */
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (quote) {
            if (c == '\\')
                i++; /* the escaped byte cannot end the string */
            else if (c == quote)
                quote = 0;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if ((c == '{' || c == '[') && depth <= 0 && began)
            return false;
        began = true;
        if (c == '"' || c == '\'')
            quote = c;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
    }
    return true;
}
