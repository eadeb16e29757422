/* Fixed-buffer line scanning of /proc files; see procfile.h. */
#include "procfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int procfile_open(const char *root, const char *rel, int flags)
{
    char path[PROCFILE_PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, flags | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int procfile_read_fd(int fd, char *buf, size_t buf_len, size_t *len_out)
{
    if (fd < 0 || !buf || buf_len == 0)
        return -EINVAL;
    size_t len = 0;
    for (;;) {
        char extra;
        bool full = len == buf_len - 1; /* one byte more says the file does not fit */
        ssize_t n = full ? pread(fd, &extra, 1, (off_t)len)
                         : pread(fd, buf + len, buf_len - 1 - len, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        if (full)
            return -EFBIG;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len))
        return -EINVAL;
    if (len_out)
        *len_out = len;
    return 0;
}

int procfile_read(const char *root, const char *rel, char *buf, size_t buf_len, size_t *len_out)
{
    int fd = procfile_open(root, rel, O_RDONLY | O_NOCTTY);
    if (fd < 0)
        return fd;
    int rc = procfile_read_fd(fd, buf, buf_len, len_out);
    close(fd);
    return rc;
}

void procfile_scan_text(const char *text, size_t len, procfile_line_fn fn, void *ctx)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        fn(p, (size_t)(line_end - p), ctx);
        p = nl ? nl + 1 : end;
    }
}

int procfile_scan_fd(int fd, char *buf, size_t buf_len, procfile_line_fn fn, void *ctx)
{
    return procfile_scan_fd_max(fd, buf, buf_len, PROCFILE_MAX_BYTES, fn, ctx);
}

int procfile_scan_fd_max(int fd, char *buf, size_t buf_len, size_t max_bytes, procfile_line_fn fn,
                         void *ctx)
{
    if (fd < 0 || !buf || buf_len == 0 || !fn)
        return -EINVAL;
    off_t off = 0;
    size_t have = 0;
    bool skipping = false; /* inside a line longer than buf */
    for (;;) {
        if ((uint64_t)off >= max_bytes) {
            /* One byte more says whether the file goes on past the cap. */
            char extra;
            ssize_t more = pread(fd, &extra, 1, off);
            if (more < 0 && errno == EINTR)
                continue;
            if (more > 0)
                return -EFBIG;
            if (more < 0)
                return -errno;
        }
        size_t want = buf_len - have;
        if ((uint64_t)off < max_bytes && want > max_bytes - (uint64_t)off)
            want = (size_t)(max_bytes - (uint64_t)off); /* never past the cap */
        ssize_t n = pread(fd, buf + have, want, off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) {
            if (have > 0 && !skipping)
                fn(buf, have, ctx); /* last line without a newline */
            return 0;
        }
        off += n;
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n')
                continue;
            if (!skipping)
                fn(buf + start, i - start, ctx);
            skipping = false;
            start = i + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == buf_len) {
            skipping = true;
            have = 0;
        }
    }
}

int procfile_scan(const char *root, const char *rel, char *buf, size_t buf_len, procfile_line_fn fn,
                  void *ctx)
{
    int fd = procfile_open(root, rel, O_RDONLY);
    if (fd < 0)
        return fd;
    int rc = procfile_scan_fd(fd, buf, buf_len, fn, ctx);
    close(fd);
    return rc;
}

int procfile_parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return -EINVAL;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int procfile_parse_u64_value(const char *text, size_t len, uint64_t *out)
{
    const char *p = text, *end = text + len;
    uint64_t v;
    int rc = procfile_parse_u64(&p, end, &v);
    if (rc < 0)
        return rc;
    for (; p < end; p++) {
        if (!isspace((unsigned char)*p))
            return -EINVAL;
    }
    *out = v;
    return 0;
}

int procfile_stat_field(const char *text, size_t len, unsigned field, uint64_t *out)
{
    const char *close = NULL;
    for (size_t i = len; i > 0; i--)
        if (text[i - 1] == ')') {
            close = text + i - 1;
            break;
        }
    if (!close || !memchr(text, '(', (size_t)(close - text)) || field < 4)
        return -EINVAL;
    const char *p = close + 1, *end = text + len;
    /* " S 1 ..." : field 3 is the state letter, then one number per field. */
    for (unsigned f = 3; f < field; f++) {
        if (p >= end || *p != ' ')
            return -EINVAL;
        p++;
        while (p < end && *p != ' ' && *p != '\n')
            p++;
    }
    if (p >= end || *p != ' ')
        return -EINVAL;
    p++;
    const char *num = p;
    while (p < end && *p != ' ' && *p != '\n')
        p++;
    uint64_t v;
    if (procfile_parse_u64_value(num, (size_t)(p - num), &v) < 0)
        return -EINVAL;
    *out = v;
    return 0;
}

void procfile_skip_blanks(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}
