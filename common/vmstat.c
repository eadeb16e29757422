/*
 * /proc/vmstat into struct vmstat; see vmstat.h. pgscan/pgsteal are summed
 * over the reclaim sources by exact name: the kernel also prints the same
 * pages split by type (pgscan_anon, pgscan_file), which would double count,
 * and pgscan_direct_throttle, which counts throttling events, not pages.
 */
#include "vmstat.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct vmstat_name {
    const char *name;
    enum vmstat_field field;
};

static const struct vmstat_name names[] = {
    {"pgmajfault", VMSTAT_PGMAJFAULT},      {"oom_kill", VMSTAT_OOM_KILL},
    {"pgscan_kswapd", VMSTAT_PGSCAN},       {"pgscan_direct", VMSTAT_PGSCAN},
    {"pgscan_khugepaged", VMSTAT_PGSCAN},   {"pgscan_proactive", VMSTAT_PGSCAN},
    {"pgsteal_kswapd", VMSTAT_PGSTEAL},     {"pgsteal_direct", VMSTAT_PGSTEAL},
    {"pgsteal_khugepaged", VMSTAT_PGSTEAL}, {"pgsteal_proactive", VMSTAT_PGSTEAL},
};

/* vmstat is ~4-6 KiB and growing with the kernel; lines are short. */
#define VMSTAT_BUF_BYTES 4096

static void parse_line(const char *line, size_t len, void *ctx)
{
    struct vmstat *vs = ctx;
    const char *end = line + len;
    const char *sp = memchr(line, ' ', len);
    if (!sp)
        return;
    size_t name_len = (size_t)(sp - line);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].name) != name_len || memcmp(names[i].name, line, name_len) != 0)
            continue;
        const char *p = sp;
        procfile_skip_blanks(&p, end);
        uint64_t v;
        if (procfile_parse_u64(&p, end, &v) < 0 || p != end)
            return; /* garbage: this source does not count */
        enum vmstat_field f = names[i].field;
        uint64_t *slot = &vs->count[f];
        *slot = *slot > UINT64_MAX - v ? UINT64_MAX : *slot + v; /* saturate, never wrap */
        vs->valid |= 1u << f;
        return;
    }
}

int vmstat_read_fd(int fd, struct vmstat *out)
{
    char buf[VMSTAT_BUF_BYTES];
    memset(out, 0, sizeof(*out));
    int rc = procfile_scan_fd(fd, buf, sizeof(buf), parse_line, out);
    if (rc < 0)
        return rc;
    return out->valid ? 0 : -ENODATA;
}

int vmstat_read(const char *proc_root, struct vmstat *out)
{
    int fd = procfile_open(proc_root, "vmstat", O_RDONLY);
    if (fd < 0) {
        memset(out, 0, sizeof(*out));
        return fd;
    }
    int rc = vmstat_read_fd(fd, out);
    close(fd);
    return rc;
}
