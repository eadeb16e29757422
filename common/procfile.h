/*
 * Reading /proc and /sys files without the heap: a line scanner over a
 * caller-supplied fixed buffer, a whole-file reader for small files (a sysfs
 * value, /proc/PID/stat), path building under a caller-given root (so tests
 * point readers at fixture trees), and strict number parsing. Shared by the
 * meminfo, vmstat and psi readers, host and guest alike, and by host/ksm.
 */
#ifndef BALLAST_PROCFILE_H
#define BALLAST_PROCFILE_H

#include <stddef.h>
#include <stdint.h>

/* Longest path procfile_open() builds; longer ones fail with -ENAMETOOLONG. */
#define PROCFILE_PATH_MAX 256
/* Reading stops with -EFBIG past this: a hostile "file" may be endless. */
#define PROCFILE_MAX_BYTES (1u << 20)

/* Called once per line, without its newline; line is not NUL-terminated. */
typedef void (*procfile_line_fn)(const char *line, size_t len, void *ctx);

/* Opens root/rel (root "/proc", rel "meminfo"); returns an fd or -errno. */
int procfile_open(const char *root, const char *rel, int flags);

/*
 * Reads fd from offset 0 (pread: the same fd can be re-read every tick) and
 * calls fn for every line. A line longer than buf_len is skipped whole.
 * Returns 0 or -errno; -EFBIG past PROCFILE_MAX_BYTES.
 */
int procfile_scan_fd(int fd, char *buf, size_t buf_len, procfile_line_fn fn, void *ctx);

/*
 * procfile_scan_fd with another cap: reads at most max_bytes, and returns
 * -EFBIG when more follow (the whole lines before the cap went to fn). For the few files
 * that are legitimately larger than PROCFILE_MAX_BYTES, such as the
 * /proc/PID/smaps of a process with hundreds of mappings.
 */
int procfile_scan_fd_max(int fd, char *buf, size_t buf_len, size_t max_bytes, procfile_line_fn fn,
                         void *ctx);

/*
 * Reads the whole of a small file (from offset 0, like procfile_scan_fd) into
 * buf and NUL-terminates it; *len_out (may be NULL) gets its length. Returns
 * 0, -errno of the read, -EFBIG when it holds more than buf_len - 1 bytes, or
 * -EINVAL when it holds a NUL byte (nothing a kernel file prints).
 */
int procfile_read_fd(int fd, char *buf, size_t buf_len, size_t *len_out);

/* procfile_open + procfile_read_fd + close; -errno of the open too. */
int procfile_read(const char *root, const char *rel, char *buf, size_t buf_len, size_t *len_out);

/* Calls fn for every line of text[0..len) (a buffer already read). */
void procfile_scan_text(const char *text, size_t len, procfile_line_fn fn, void *ctx);

/* procfile_open + procfile_scan_fd + close. */
int procfile_scan(const char *root, const char *rel, char *buf, size_t buf_len, procfile_line_fn fn,
                  void *ctx);

/*
 * Parses the decimal digits at *p (no sign, at least one digit), advancing
 * *p past them. Returns 0, -EINVAL (no digit) or -ERANGE (over 64 bits).
 */
int procfile_parse_u64(const char **p, const char *end, uint64_t *out);

/*
 * Parses text[0..len) as one whole value: decimal digits (no sign, no
 * leading blank), then nothing but whitespace (sysfs ends a value with a
 * newline). Returns 0, -EINVAL or -ERANGE (over 64 bits).
 */
int procfile_parse_u64_value(const char *text, size_t len, uint64_t *out);

/*
 * Field `field` (1-based, as proc(5) numbers them; 4 or more: the numbers
 * after the state) of a /proc/PID/stat line, counted after the last ')'
 * because comm may hold spaces and ')' itself: field 22 is the process's
 * start time in clock ticks after boot, which tells a process from a later
 * one that reused its pid. Returns 0, or -EINVAL for a line that is not
 * one (no comm, too few fields, a field that is not a whole number).
 */
int procfile_stat_field(const char *text, size_t len, unsigned field, uint64_t *out);

/* Advances *p past spaces and tabs. */
void procfile_skip_blanks(const char **p, const char *end);

#endif
