/*
 * Reads one QEMU's /proc/PID/smaps and /proc/PID/status (see vmcost.h): sums
 * every mapping, keeps the largest guest-RAM candidates in a fixed array as
 * the lines stream by, and picks guest RAM from them at the end. Nothing is
 * allocated: a process with 10,000 mappings costs the same memory as one
 * with ten.
 */
#include "vmcost.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024u

/* One mapping's block of smaps lines as it is read. */
struct block {
    struct vmcost_maps m;
    bool open;      /* a block is being read */
    bool has_size;  /* its Size line came */
    bool candidate; /* its header says it may be guest RAM (vmcost.h) */
    bool mergeable; /* VmFlags has "mg" */
};

struct smaps_ctx {
    struct vmcost_proc *out;
    uint64_t ram_bytes, slack_bytes;
    struct block cur;
    /* The largest candidates so far, by Size, biggest first. */
    struct block parts[VMCOST_MAX_RAM_PARTS];
    size_t n_parts;
};

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void maps_add(struct vmcost_maps *dst, const struct vmcost_maps *src)
{
    dst->mappings =
        dst->mappings + src->mappings < dst->mappings ? UINT32_MAX : dst->mappings + src->mappings;
    dst->size_bytes = add_sat(dst->size_bytes, src->size_bytes);
    dst->rss_bytes = add_sat(dst->rss_bytes, src->rss_bytes);
    dst->pss_bytes = add_sat(dst->pss_bytes, src->pss_bytes);
    dst->anonymous_bytes = add_sat(dst->anonymous_bytes, src->anonymous_bytes);
    dst->anon_huge_bytes = add_sat(dst->anon_huge_bytes, src->anon_huge_bytes);
    dst->ksm_bytes = add_sat(dst->ksm_bytes, src->ksm_bytes);
    dst->private_clean_bytes = add_sat(dst->private_clean_bytes, src->private_clean_bytes);
    dst->private_dirty_bytes = add_sat(dst->private_dirty_bytes, src->private_dirty_bytes);
    dst->shared_clean_bytes = add_sat(dst->shared_clean_bytes, src->shared_clean_bytes);
    dst->shared_dirty_bytes = add_sat(dst->shared_dirty_bytes, src->shared_dirty_bytes);
    dst->swap_bytes = add_sat(dst->swap_bytes, src->swap_bytes);
}

uint64_t vmcost_ram_slack_bytes(uint64_t ram_bytes)
{
    /* QEMU maps each RAM block at its exact size; the slack only absorbs a
     * neighbour the kernel merged into the same VMA, and stays well below
     * the smallest guest (2 MiB, or 1/32 of the RAM: 5 MiB for 160 MiB). */
    uint64_t s = ram_bytes / 32;
    return s < (2u << 20) ? (2u << 20) : s;
}

static void error(struct smaps_ctx *c)
{
    if (c->out->parse_errors < UINT32_MAX)
        c->out->parse_errors++;
}

/* Keeps b among the largest candidates (a fixed array, biggest first). */
static void keep_part(struct smaps_ctx *c, const struct block *b)
{
    uint64_t size = b->m.size_bytes;
    if (c->ram_bytes == 0 || size < c->slack_bytes || size > add_sat(c->ram_bytes, c->slack_bytes))
        return;
    size_t i = c->n_parts;
    while (i > 0 && c->parts[i - 1].m.size_bytes < size)
        i--; /* equal sizes keep the first seen first */
    if (i >= VMCOST_MAX_RAM_PARTS)
        return;
    size_t last = c->n_parts < VMCOST_MAX_RAM_PARTS ? c->n_parts : VMCOST_MAX_RAM_PARTS - 1;
    memmove(&c->parts[i + 1], &c->parts[i], (last - i) * sizeof(c->parts[0]));
    c->parts[i] = *b;
    if (c->n_parts < VMCOST_MAX_RAM_PARTS)
        c->n_parts++;
}

/* The block read so far is complete: count it. */
static void close_block(struct smaps_ctx *c)
{
    struct block *b = &c->cur;
    if (!b->open)
        return;
    if (!b->has_size)
        error(c); /* every mapping has a Size: the file was cut */
    b->m.mappings = 1;
    maps_add(&c->out->all, &b->m);
    if (b->candidate && b->has_size)
        keep_part(c, b);
    *b = (struct block){0};
}

static void open_block(struct smaps_ctx *c, bool candidate)
{
    close_block(c);
    c->cur.open = true;
    c->cur.candidate = candidate;
}

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

static int parse_hex(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || !is_hex(*s))
        return -EINVAL;
    for (; s < end && is_hex(*s); s++) {
        if (v >> 60)
            return -ERANGE;
        v = v << 4 | (uint64_t)(*s <= '9' ? *s - '0' : *s - 'a' + 10);
    }
    *p = s;
    *out = v;
    return 0;
}

/* Skips one blank-separated token and the blanks after it; false if none. */
static bool skip_token(const char **p, const char *end)
{
    const char *s = *p;
    while (s < end && *s != ' ' && *s != '\t')
        s++;
    if (s == *p)
        return false;
    procfile_skip_blanks(&s, end);
    *p = s;
    return true;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* Whether a header's path names an anonymous mapping guest RAM may live in. */
static bool anonymous_path(const char *path, size_t len)
{
    if (len == 0 || has_prefix(path, len, "[anon:"))
        return true;
    /* TCG's split-wx code buffer is a memfd too, mapped twice. */
    return has_prefix(path, len, "/memfd:") && !has_prefix(path, len, "/memfd:tcg-jit");
}

/*
 * "start-end perms offset dev inode [path]". A malformed header still opens
 * a block (its fields are memory of the process), never a candidate one.
 */
static void header_line(struct smaps_ctx *c, const char *line, size_t len)
{
    const char *p = line, *end = line + len;
    uint64_t start, stop;
    bool ok = parse_hex(&p, end, &start) == 0 && p < end && *p++ == '-' &&
              parse_hex(&p, end, &stop) == 0 && stop >= start && p < end && *p++ == ' ' &&
              end - p >= 4;
    const char *perms = p;
    ok = ok && (perms[0] == 'r' || perms[0] == '-') && (perms[1] == 'w' || perms[1] == '-') &&
         (perms[2] == 'x' || perms[2] == '-') && (perms[3] == 'p' || perms[3] == 's');
    if (ok) {
        p += 4;
        procfile_skip_blanks(&p, end);
        /* offset, dev, inode */
        ok = skip_token(&p, end) && skip_token(&p, end) && p < end;
        const char *inode = p;
        skip_token(&p, end);
        ok = ok && p > inode;
    }
    if (!ok) {
        error(c);
        open_block(c, false);
        return;
    }
    bool writable = perms[1] == 'w', exec = perms[2] == 'x';
    open_block(c, writable && !exec && anonymous_path(p, (size_t)(end - p)));
}

/* "<digits> kB" -> bytes; -EINVAL / -ERANGE on anything else. */
static int parse_kb(const char *p, const char *end, uint64_t *bytes)
{
    uint64_t kb;
    procfile_skip_blanks(&p, end);
    int rc = procfile_parse_u64(&p, end, &kb);
    if (rc < 0)
        return rc;
    if (kb > UINT64_MAX / KIB)
        return -ERANGE;
    procfile_skip_blanks(&p, end);
    if (end - p < 2 || p[0] != 'k' || p[1] != 'B')
        return -EINVAL;
    for (p += 2; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            return -EINVAL;
    *bytes = kb * KIB;
    return 0;
}

/* The kB fields read, by key; any other key is ignored. */
#define MAPS_FIELD(key, member)                                                                    \
    {                                                                                              \
        key, offsetof(struct vmcost_maps, member)                                                  \
    }
static const struct {
    const char *key;
    size_t offset;
} kb_fields[] = {
    MAPS_FIELD("Size", size_bytes),
    MAPS_FIELD("Rss", rss_bytes),
    MAPS_FIELD("Pss", pss_bytes),
    MAPS_FIELD("Anonymous", anonymous_bytes),
    MAPS_FIELD("AnonHugePages", anon_huge_bytes),
    MAPS_FIELD("KSM", ksm_bytes),
    MAPS_FIELD("Private_Clean", private_clean_bytes),
    MAPS_FIELD("Private_Dirty", private_dirty_bytes),
    MAPS_FIELD("Shared_Clean", shared_clean_bytes),
    MAPS_FIELD("Shared_Dirty", shared_dirty_bytes),
    MAPS_FIELD("Swap", swap_bytes),
};

static bool key_is(const char *key, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(key, name, len) == 0;
}

static void vmflags(struct block *b, const char *p, const char *end)
{
    while (p < end) {
        procfile_skip_blanks(&p, end);
        const char *tok = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        if (p - tok == 2 && tok[0] == 'm' && tok[1] == 'g')
            b->mergeable = true;
    }
}

/* "Key: value" of the current block. */
static void field_line(struct smaps_ctx *c, const char *key, size_t key_len, const char *value,
                       const char *end)
{
    bool is_size = key_is(key, key_len, "Size");
    if (!c->cur.open || (is_size && c->cur.has_size)) {
        /* No header before these fields (it was lost or never came): they
         * are a mapping of their own, counted, never guest RAM. */
        error(c);
        open_block(c, false);
    }
    if (key_is(key, key_len, "VmFlags")) {
        vmflags(&c->cur, value, end);
        return;
    }
    for (size_t i = 0; i < sizeof(kb_fields) / sizeof(kb_fields[0]); i++) {
        if (!key_is(key, key_len, kb_fields[i].key))
            continue;
        uint64_t bytes;
        if (parse_kb(value, end, &bytes) < 0) {
            error(c);
            return;
        }
        *(uint64_t *)((char *)&c->cur.m + kb_fields[i].offset) = bytes;
        if (is_size)
            c->cur.has_size = true;
        if (key_is(key, key_len, "KSM"))
            c->out->ksm_field = true;
        return;
    }
}

static bool key_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

static void smaps_line(const char *line, size_t len, void *ctx)
{
    struct smaps_ctx *c = ctx;
    const char *end = line + len;
    size_t k = 0;
    while (k < len && key_char(line[k]))
        k++;
    if (k > 0 && k < len && line[k] == ':') {
        field_line(c, line, k, line + k + 1, end);
        return;
    }
    if (k > 0 && k < len && line[k] == '-' && is_hex(line[0])) {
        header_line(c, line, len);
        return;
    }
    if (len > 0)
        error(c); /* neither a header nor a field */
}

/*
 * The biggest candidates (only mergeable ones if asked), each taken while
 * the sum stays <= high, until it reaches low; true when it does.
 */
static bool sum_parts(const struct smaps_ctx *c, bool mergeable_only, uint64_t low, uint64_t high,
                      struct vmcost_maps *sum)
{
    *sum = (struct vmcost_maps){0};
    for (size_t i = 0; i < c->n_parts && sum->size_bytes < low; i++) {
        const struct block *b = &c->parts[i];
        if ((b->mergeable || !mergeable_only) && add_sat(sum->size_bytes, b->m.size_bytes) <= high)
            maps_add(sum, &b->m);
    }
    return c->ram_bytes > 0 && sum->size_bytes >= low;
}

/*
 * Guest RAM from the kept candidates (the rule in vmcost.h): one that fits
 * the size alone, else the biggest ones summing to it, mergeable ones
 * first: QEMU marks every RAM block "mg" when KSM may merge it, and nothing
 * else it maps as big.
 */
static void pick_ram(struct smaps_ctx *c)
{
    struct vmcost_proc *out = c->out;
    uint64_t low = c->ram_bytes > c->slack_bytes ? c->ram_bytes - c->slack_bytes : 0;
    uint64_t high = add_sat(c->ram_bytes, c->slack_bytes);
    const struct block *best = NULL;
    for (size_t i = 0; i < c->n_parts; i++) {
        const struct block *b = &c->parts[i];
        if (b->m.size_bytes < low)
            break; /* biggest first: no more whole fits */
        if (!best || (b->mergeable && !best->mergeable) ||
            (b->mergeable == best->mergeable && b->m.rss_bytes > best->m.rss_bytes))
            best = b;
    }
    if (best) {
        maps_add(&out->guest_ram, &best->m);
        out->ram_found = true;
        return;
    }
    struct vmcost_maps sum;
    if (sum_parts(c, true, low, high, &sum) || sum_parts(c, false, low, high, &sum)) {
        out->guest_ram = sum;
        out->ram_found = true;
    }
}

/* Whether proc_root/PID exists (the process is alive, or a zombie). */
static bool pid_dir_exists(const char *proc_root, pid_t pid)
{
    char rel[32];
    snprintf(rel, sizeof(rel), "%d", (int)pid);
    int fd = procfile_open(proc_root, rel, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static int read_smaps(const char *proc_root, pid_t pid, struct smaps_ctx *c)
{
    char rel[32];
    snprintf(rel, sizeof(rel), "%d/smaps", (int)pid);
    int fd = procfile_open(proc_root, rel, O_RDONLY);
    if (fd == -ENOENT)
        return pid_dir_exists(proc_root, pid) ? -EOPNOTSUPP : -ESRCH;
    if (fd < 0)
        return fd;
    char buf[VMCOST_LINE_BYTES];
    int rc = procfile_scan_fd_max(fd, buf, sizeof(buf), VMCOST_SMAPS_MAX_BYTES, smaps_line, c);
    close(fd);
    close_block(c);
    if (rc == -EFBIG) {
        c->out->truncated = true;
        error(c);
    }
    return rc;
}

static void status_line(const char *line, size_t len, void *ctx)
{
    struct vmcost_proc *out = ctx;
    const char *end = line + len;
    bool rss = has_prefix(line, len, "VmRSS:"), pte = has_prefix(line, len, "VmPTE:");
    if (!rss && !pte)
        return;
    uint64_t bytes;
    if (parse_kb(line + 6, end, &bytes) < 0) {
        if (out->parse_errors < UINT32_MAX)
            out->parse_errors++;
        return;
    }
    if (rss) {
        out->vm_rss_bytes = bytes;
        out->rss_present = true;
    } else {
        out->vm_pte_bytes = bytes;
        out->pte_present = true;
    }
}

int vmcost_read(const char *proc_root, pid_t pid, uint64_t ram_bytes, struct vmcost_proc *out)
{
    if (!proc_root || !out || pid <= 0)
        return -EINVAL;
    *out = (struct vmcost_proc){.pid = pid, .ram_bytes = ram_bytes};
    struct smaps_ctx c = {
        .out = out, .ram_bytes = ram_bytes, .slack_bytes = vmcost_ram_slack_bytes(ram_bytes)};
    int rc = read_smaps(proc_root, pid, &c);
    if (rc < 0 && rc != -EFBIG)
        return rc;
    pick_ram(&c);
    /* status is short: a small buffer, the ordinary cap. */
    char buf[256], rel[32];
    snprintf(rel, sizeof(rel), "%d/status", (int)pid);
    procfile_scan(proc_root, rel, buf, sizeof(buf), status_line, out);
    return rc;
}
