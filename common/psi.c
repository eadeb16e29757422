/*
 * PSI reader and triggers; see psi.h. Format (kernel/sched/psi.c):
 *   some avg10=0.12 avg60=0.05 avg300=0.01 total=123456
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=7890
 * A line counts only when all four values parse; averages above 100.00 are
 * garbage, not pressure.
 */
#include "psi.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#define PSI_BUF_BYTES     256
#define PSI_PROC_MAGIC    0x9fa0
#define PSI_CGROUP2_MAGIC 0x63677270

/* "12.34" -> 1234 basis points; up to two decimals, at most 100.00. */
static int parse_pct_bp(const char **p, const char *end, uint32_t *out_bp)
{
    uint64_t whole;
    if (procfile_parse_u64(p, end, &whole) < 0 || whole > 100)
        return -EINVAL;
    uint64_t frac = 0;
    if (*p < end && **p == '.') {
        (*p)++;
        int digits = 0;
        while (*p < end && **p >= '0' && **p <= '9') {
            if (digits < 2)
                frac = frac * 10 + (uint64_t)(**p - '0');
            digits++;
            (*p)++;
        }
        if (digits == 0)
            return -EINVAL;
        if (digits == 1)
            frac *= 10;
    }
    uint64_t bp = whole * 100 + frac;
    if (bp > 10000)
        return -EINVAL;
    *out_bp = (uint32_t)bp;
    return 0;
}

static int parse_values(const char *p, const char *end, struct psi_line *out)
{
    unsigned seen = 0;
    struct psi_line l = {0};
    while (p < end) {
        procfile_skip_blanks(&p, end);
        if (p >= end)
            break;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return -EINVAL;
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        int rc;
        if (klen == 5 && memcmp(p, "avg10", 5) == 0) {
            rc = parse_pct_bp(&v, end, &l.avg10_bp);
            seen |= 1;
        } else if (klen == 5 && memcmp(p, "avg60", 5) == 0) {
            rc = parse_pct_bp(&v, end, &l.avg60_bp);
            seen |= 2;
        } else if (klen == 6 && memcmp(p, "avg300", 6) == 0) {
            rc = parse_pct_bp(&v, end, &l.avg300_bp);
            seen |= 4;
        } else if (klen == 5 && memcmp(p, "total", 5) == 0) {
            rc = procfile_parse_u64(&v, end, &l.total_us);
            seen |= 8;
        } else {
            return -EINVAL;
        }
        if (rc < 0 || (v < end && *v != ' ' && *v != '\t'))
            return -EINVAL;
        p = v;
    }
    if (seen != 15)
        return -EINVAL;
    *out = l;
    return 0;
}

static void parse_line(const char *line, size_t len, void *ctx)
{
    struct psi *psi = ctx;
    const char *end = line + len;
    struct psi_line l;
    if (len > 5 && memcmp(line, "some ", 5) == 0) {
        if (parse_values(line + 5, end, &l) == 0) {
            psi->some = l;
            psi->valid |= PSI_HAS_SOME;
        }
    } else if (len > 5 && memcmp(line, "full ", 5) == 0) {
        if (parse_values(line + 5, end, &l) == 0) {
            psi->full = l;
            psi->valid |= PSI_HAS_FULL;
        }
    }
}

int psi_parse(const char *text, size_t len, struct psi *out)
{
    memset(out, 0, sizeof(*out));
    procfile_scan_text(text, len, parse_line, out);
    return out->valid ? 0 : -ENODATA;
}

int psi_read_fd(int fd, struct psi *out)
{
    char buf[PSI_BUF_BYTES];
    memset(out, 0, sizeof(*out));
    int rc = procfile_scan_fd(fd, buf, sizeof(buf), parse_line, out);
    if (rc < 0)
        return rc;
    return out->valid ? 0 : -ENODATA;
}

static int pressure_path(const char *resource, char *rel, size_t rel_len)
{
    int n = snprintf(rel, rel_len, "pressure/%s", resource);
    return n < 0 || (size_t)n >= rel_len ? -ENAMETOOLONG : 0;
}

int psi_read(const char *proc_root, const char *resource, struct psi *out)
{
    char rel[64];
    memset(out, 0, sizeof(*out));
    int rc = pressure_path(resource, rel, sizeof(rel));
    if (rc < 0)
        return rc;
    int fd = procfile_open(proc_root, rel, O_RDONLY);
    if (fd < 0)
        return fd;
    rc = psi_read_fd(fd, out);
    close(fd);
    return rc;
}

static int write_trigger(int fd, int full, uint32_t threshold_us, uint32_t window_us)
{
    char trig[64];
    int n =
        snprintf(trig, sizeof(trig), "%s %u %u", full ? "full" : "some", threshold_us, window_us);
    /* The kernel overwrites the last byte written with NUL: send ours too. */
    return write(fd, trig, (size_t)n + 1) < 0 ? -errno : 0;
}

int psi_trigger_open(const char *proc_root, const char *resource, int full, uint32_t threshold_us,
                     uint32_t window_us)
{
    char rel[64];
    int rc = pressure_path(resource, rel, sizeof(rel));
    if (rc < 0)
        return rc;
    if (threshold_us == 0 || threshold_us > window_us)
        return -EINVAL;
    int fd = procfile_open(proc_root, rel, O_RDWR | O_NONBLOCK);
    if (fd < 0)
        return fd;
    /* Only procfs and cgroupfs know triggers; a fixture file would be overwritten. */
    struct statfs st;
    if (fstatfs(fd, &st) < 0 || (st.f_type != PSI_PROC_MAGIC && st.f_type != PSI_CGROUP2_MAGIC)) {
        close(fd);
        return -EOPNOTSUPP;
    }
    rc = write_trigger(fd, full, threshold_us, window_us);
    /*
     * Without CAP_SYS_RESOURCE the kernel (6.5+) only accepts windows that
     * are multiples of 2 s. Keep the same stall ratio on the nearest such
     * window rather than lose the trigger.
     */
    const uint32_t unpriv_us = 2000000;
    if (rc == -EINVAL && window_us % unpriv_us != 0 && window_us >= 500000 &&
        window_us <= 10000000) {
        uint32_t w = (window_us / unpriv_us + 1) * unpriv_us;
        uint64_t t = (uint64_t)threshold_us * w / window_us;
        rc = write_trigger(fd, full, (uint32_t)(t > w ? w : t), w);
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return fd;
}
