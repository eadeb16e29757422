/*
 * cgroup v2 memory figures; see cgroup_mem.h. Each file is read whole into
 * a stack buffer (the kernel writes one short line, or two for pressure)
 * and parsed strictly: what is not a number, "max" or a PSI line is an
 * error, never a guess.
 */
#include "cgroup_mem.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* memory.current / max / high: at most 20 digits and a newline. */
#define CGROUP_VALUE_BUF_BYTES 64
/* memory.pressure: two lines of ~70 bytes (psi.c reads with the same). */
#define CGROUP_PRESSURE_BUF_BYTES 256

/* Non-blocking: a FIFO planted where a memory file should be must not hang
 * ballastd's tick (it reads as empty, which is garbage). */
static int read_file(const char *dir, const char *name, char *buf, size_t len, size_t *got)
{
    int fd = procfile_open(dir, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return fd;
    int rc = procfile_read_fd(fd, buf, len, got);
    close(fd);
    return rc;
}

int cgroup_mem_parse_limit(const char *text, size_t len, uint64_t *out_bytes)
{
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    if (len == 3 && memcmp(text, "max", 3) == 0) {
        *out_bytes = CGROUP_MEM_UNLIMITED;
        return 0;
    }
    if (len == 0)
        return -EINVAL;
    return procfile_parse_u64_value(text, len, out_bytes);
}

/* One limit file: absent means no limit; present must parse. */
static int read_limit(const char *dir, const char *name, uint64_t *out_bytes, uint32_t bit,
                      uint32_t *valid)
{
    char buf[CGROUP_VALUE_BUF_BYTES];
    size_t n = 0;
    int rc = read_file(dir, name, buf, sizeof(buf), &n);
    *out_bytes = CGROUP_MEM_UNLIMITED;
    if (rc == -ENOENT)
        return 0;
    if (rc == 0)
        rc = cgroup_mem_parse_limit(buf, n, out_bytes);
    if (rc == 0)
        *valid |= bit;
    return rc;
}

/* memory.current is the one file a cgroup v2 memory directory always has
 * (but the root); without it, tell a cgroup v1 directory apart. */
static int read_current(const char *dir, struct cgroup_mem *out)
{
    char buf[CGROUP_VALUE_BUF_BYTES];
    size_t n = 0;
    int rc = read_file(dir, "memory.current", buf, sizeof(buf), &n);
    if (rc == -ENOENT) {
        int fd = procfile_open(dir, "memory.usage_in_bytes", O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0) {
            close(fd);
            return -EPROTONOSUPPORT;
        }
        return -ENOENT;
    }
    if (rc == 0)
        rc = procfile_parse_u64_value(buf, n, &out->current_bytes);
    if (rc == 0)
        out->valid |= CGROUP_MEM_HAS_CURRENT;
    return rc;
}

/* PSI may be off (psi=0: the file exists but reads fail) or absent (an old
 * kernel): then there is no pressure figure, and that is no error. */
static void read_pressure(const char *dir, struct cgroup_mem *out)
{
    char buf[CGROUP_PRESSURE_BUF_BYTES];
    size_t n = 0;
    if (read_file(dir, "memory.pressure", buf, sizeof(buf), &n) == 0 &&
        psi_parse(buf, n, &out->pressure) == 0 && (out->pressure.valid & PSI_HAS_SOME))
        out->valid |= CGROUP_MEM_HAS_PRESSURE;
    else
        memset(&out->pressure, 0, sizeof(out->pressure));
}

int cgroup_mem_read(const char *dir, struct cgroup_mem *out)
{
    memset(out, 0, sizeof(*out));
    if (!dir || !dir[0])
        return -EINVAL;
    int rc = read_current(dir, out);
    if (rc == 0)
        rc = read_limit(dir, "memory.max", &out->max_bytes, CGROUP_MEM_HAS_MAX, &out->valid);
    if (rc == 0)
        rc = read_limit(dir, "memory.high", &out->high_bytes, CGROUP_MEM_HAS_HIGH, &out->valid);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    read_pressure(dir, out);
    return 0;
}

uint64_t cgroup_mem_limit_bytes(const struct cgroup_mem *m)
{
    return m->max_bytes < m->high_bytes ? m->max_bytes : m->high_bytes;
}

const char *cgroup_mem_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "ok";
    case -ENOENT:
        return "no memory.current: not a cgroup v2 directory, or its memory controller is off";
    case -EPROTONOSUPPORT:
        return "a cgroup v1 memory directory (memory.usage_in_bytes), not cgroup v2";
    case -EINVAL:
        return "garbage in a memory file";
    case -ERANGE:
        return "a number past 64 bits in a memory file";
    case -EFBIG:
        return "a memory file longer than the kernel writes";
    case -ENAMETOOLONG:
        return "path too long";
    case -EACCES:
        return "permission denied";
    case -ENOTDIR:
        return "not a directory";
    default:
        return "cannot read";
    }
}
