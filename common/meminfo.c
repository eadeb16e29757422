/* /proc/meminfo into struct meminfo; see meminfo.h. */
#include "meminfo.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Kernel names, by enum meminfo_field. All are "<kB> kB" lines. Fixed
 * width, not pointers: no relocations in the static agent, and a name's
 * length is checked by its terminator. */
#define NAME_MAX_CHARS 15
static const char names[MEMINFO_FIELD_COUNT][NAME_MAX_CHARS + 1] = {
    [MEMINFO_TOTAL] = "MemTotal",
    [MEMINFO_FREE] = "MemFree",
    [MEMINFO_AVAILABLE] = "MemAvailable",
    [MEMINFO_CACHED] = "Cached",
    [MEMINFO_BUFFERS] = "Buffers",
    [MEMINFO_SWAP_TOTAL] = "SwapTotal",
    [MEMINFO_SWAP_FREE] = "SwapFree",
    [MEMINFO_ACTIVE_FILE] = "Active(file)",
    [MEMINFO_INACTIVE_FILE] = "Inactive(file)",
    [MEMINFO_ACTIVE_ANON] = "Active(anon)",
    [MEMINFO_INACTIVE_ANON] = "Inactive(anon)",
    [MEMINFO_SHMEM] = "Shmem",
    [MEMINFO_SLAB_RECLAIMABLE] = "SReclaimable",
    [MEMINFO_SLAB_UNRECLAIMABLE] = "SUnreclaim",
    [MEMINFO_KERNEL_STACK] = "KernelStack",
    [MEMINFO_PAGE_TABLES] = "PageTables",
    [MEMINFO_VMALLOC_USED] = "VmallocUsed",
};

/* 2 KiB holds a whole line many times over; meminfo itself is ~1.5 KiB. */
#define MEMINFO_BUF_BYTES 2048

static void parse_line(const char *line, size_t len, void *ctx)
{
    struct meminfo *mi = ctx;
    const char *end = line + len;
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return;
    size_t name_len = (size_t)(colon - line);
    int field = -1;
    /* names[i] is exactly name_len long: NUL at name_len, not before. */
    for (int i = 0; name_len > 0 && name_len <= NAME_MAX_CHARS && i < MEMINFO_FIELD_COUNT; i++) {
        if (names[i][name_len] == '\0' && names[i][name_len - 1] != '\0' &&
            memcmp(names[i], line, name_len) == 0) {
            field = i;
            break;
        }
    }
    if (field < 0)
        return;
    const char *p = colon + 1;
    procfile_skip_blanks(&p, end);
    uint64_t kib;
    if (procfile_parse_u64(&p, end, &kib) < 0)
        goto bad;
    procfile_skip_blanks(&p, end);
    if (end - p != 2 || p[0] != 'k' || p[1] != 'B')
        goto bad;
    if (kib > UINT64_MAX / 1024)
        goto bad;
    mi->bytes[field] = kib * 1024;
    mi->valid |= 1u << field;
    return;
bad:
    /* A garbled repeat must not leave an earlier good value half-trusted. */
    mi->bytes[field] = 0;
    mi->valid &= ~(1u << field);
}

static void finish(struct meminfo *mi)
{
    if (!MEMINFO_HAS(mi, MEMINFO_TOTAL))
        return;
    const enum meminfo_field bounded[] = {MEMINFO_FREE, MEMINFO_AVAILABLE};
    for (size_t i = 0; i < sizeof(bounded) / sizeof(bounded[0]); i++) {
        if (MEMINFO_HAS(mi, bounded[i]) && mi->bytes[bounded[i]] > mi->bytes[MEMINFO_TOTAL]) {
            mi->bytes[bounded[i]] = mi->bytes[MEMINFO_TOTAL];
            mi->clamped = true;
        }
    }
}

int meminfo_parse(const char *text, size_t len, struct meminfo *out)
{
    memset(out, 0, sizeof(*out));
    procfile_scan_text(text, len, parse_line, out);
    finish(out);
    return out->valid ? 0 : -ENODATA;
}

int meminfo_read_fd(int fd, struct meminfo *out)
{
    char buf[MEMINFO_BUF_BYTES];
    memset(out, 0, sizeof(*out));
    int rc = procfile_scan_fd(fd, buf, sizeof(buf), parse_line, out);
    if (rc < 0)
        return rc;
    finish(out);
    return out->valid ? 0 : -ENODATA;
}

int meminfo_read(const char *proc_root, struct meminfo *out)
{
    int fd = procfile_open(proc_root, "meminfo", O_RDONLY);
    if (fd < 0) {
        memset(out, 0, sizeof(*out));
        return fd;
    }
    int rc = meminfo_read_fd(fd, out);
    close(fd);
    return rc;
}
