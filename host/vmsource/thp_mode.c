/* Whether a QEMU process's guest RAM may be THP-backed (see thp_mode.h). */
#include "thp_mode.h"

#include "procfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const mode_names[] = {
    [THP_MODE_NEVER] = "never",
    [THP_MODE_MADVISE] = "madvise",
    [THP_MODE_ALWAYS] = "always",
};

int thp_parse_mode(const char *text, size_t len, enum thp_mode *out)
{
    const char *open = memchr(text, '[', len);
    if (!open)
        return -EINVAL;
    size_t rest = len - (size_t)(open - text) - 1;
    const char *close = memchr(open + 1, ']', rest);
    if (!close || memchr(close + 1, '[', len - (size_t)(close - text) - 1))
        return -EINVAL;
    size_t n = (size_t)(close - open - 1);
    for (size_t m = 0; m < sizeof(mode_names) / sizeof(mode_names[0]); m++) {
        if (strlen(mode_names[m]) == n && memcmp(open + 1, mode_names[m], n) == 0) {
            *out = (enum thp_mode)m;
            return 0;
        }
    }
    return -EINVAL;
}

struct status_scan {
    int rc;
    bool enabled;
};

static void on_status_line(const char *line, size_t len, void *ctx)
{
    static const char key[] = "THP_enabled:";
    struct status_scan *s = ctx;
    if (len < sizeof(key) - 1 || memcmp(line, key, sizeof(key) - 1) != 0)
        return;
    const char *p = line + sizeof(key) - 1, *end = line + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    uint64_t v;
    if (procfile_parse_u64_value(p, (size_t)(end - p), &v) < 0 || v > 1) {
        s->rc = -EINVAL;
        return;
    }
    s->rc = 0;
    s->enabled = v == 1;
}

int thp_parse_status(const char *text, size_t len, bool *out)
{
    struct status_scan s = {.rc = -ENOENT};
    procfile_scan_text(text, len, on_status_line, &s);
    if (s.rc == 0)
        *out = s.enabled;
    return s.rc;
}

int thp_process_backed(const char *proc_root, const char *sys_root, pid_t pid, bool *out)
{
    char buf[8192]; /* a status file is ~1.5 KiB */
    size_t len;
    int rc =
        procfile_read(sys_root, "kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf), &len);
    enum thp_mode mode;
    if (rc < 0 || (rc = thp_parse_mode(buf, len, &mode)) < 0)
        return rc;
    if (mode == THP_MODE_NEVER) {
        *out = false;
        return 0;
    }
    char rel[32];
    snprintf(rel, sizeof(rel), "%d/status", (int)pid);
    if ((rc = procfile_read(proc_root, rel, buf, sizeof(buf), &len)) < 0)
        return rc;
    bool enabled;
    rc = thp_parse_status(buf, len, &enabled);
    if (rc == -ENOENT) {
        *out = true; /* no per-process switch to read: the mode decides */
        return 0;
    }
    if (rc < 0)
        return rc;
    *out = enabled;
    return 0;
}
