/* log_fields.h — ballastd's --log-format=fields: every log record, every field, on stderr. */
#ifndef BALLAST_LOG_FIELDS_H
#define BALLAST_LOG_FIELDS_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/*
 * ballastd logs with g_log_structured: a record carries fields (VM,
 * LATENCY_MS, TARGET_BYTES, DECISION, REASON, ...) besides MESSAGE. Under
 * journald they arrive as journal fields; on a plain stderr GLib's default
 * writer prints MESSAGE alone. With --log-format=fields ballastd writes each
 * record to stderr as one JSON object on one line, every field a string,
 * in the record's order, then its wall-clock time:
 *
 *   {"PRIORITY":"5","GLIB_DOMAIN":"ballastd","VM":"vm3","LATENCY_MS":"53",
 *    "MESSAGE":"vm3: balloon reached ...","TIME_US":"1717171717171717"}
 *
 * (one line). Values are escaped as JSON requires (quote, backslash, control
 * characters), and DEL, the C1 controls, U+2028 and U+2029 too (line breaks
 * to some readers); bytes that are not UTF-8 become U+FFFD. So every line is
 * one line of valid UTF-8 JSON whatever a VM name or a reason holds. A record longer
 * than LOG_FIELDS_LINE_MAX is cut at a character boundary, its object still
 * closed, and ends with "TRUNCATED":"1". A line is written with one write(2):
 * at most PIPE_BUF bytes, so lines never interleave on a pipe.
 */
#define LOG_FIELDS_LINE_MAX 4096
#define LOG_FIELDS_LINE_MIN 64 /* smallest buffer log_fields_format accepts */

/*
 * Formats one record into buf (size >= LOG_FIELDS_LINE_MIN) as a JSON object
 * and '\n', NUL-terminated. time_us < 0 leaves TIME_US out. Returns the length
 * written without the NUL, 0 when size is too small. No allocation.
 */
size_t log_fields_format(char *buf, size_t size, const GLogField *fields, size_t n_fields,
                         int64_t time_us);

/* --log-format: "text" (GLib's default writer: nothing installed) or "fields"
 * (installs the writer above). 0, or -EINVAL for another word. Call once,
 * before the first log record. */
int log_fields_install(const char *format);

#endif
