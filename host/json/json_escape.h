/*
 * json_escape.h — one character of a JSON string, escaped: the rule both of
 * host code's JSON writers share (json_writer.c into a GString, and
 * ballastd's --log-format=fields into a fixed line buffer that it may cut
 * between two characters, never inside one).
 *
 * RFC 8259 plus what line-oriented readers need: printable ASCII goes out as
 * it is but for '"' and '\\'; \n \r \t \b \f get their short escapes, the
 * other ASCII controls and DEL \u00XX; a valid UTF-8 sequence is copied
 * whole, except the C1 controls and U+2028/U+2029, which some readers take
 * for line breaks (\uXXXX); a byte that does not start a valid sequence
 * becomes \ufffd. So the text is valid JSON, one record a line, whatever a
 * guest put in a name or a reason.
 */
#ifndef BALLAST_JSON_ESCAPE_H
#define BALLAST_JSON_ESCAPE_H

#include <stddef.h>

/* The longest escaped form of one character: \uXXXX. */
#define JSON_ESCAPE_MAX 6

/*
 * Escapes the character that starts at s (n > 0 bytes remain; NUL is a
 * character like any other): writes its text to out, returns that text's
 * length (1..JSON_ESCAPE_MAX) and sets *consumed to the input bytes it
 * stands for (1..4).
 */
size_t json_escape_char(const char *s, size_t n, char out[JSON_ESCAPE_MAX], size_t *consumed);

#endif
