/*
 * Readers of KSM state: /sys/kernel/mm/ksm (host), /proc/PID/ksm_stat and
 * /proc/PID/ksm_merging_pages (one VM), /proc/<ksmd>/stat (ksmd's CPU). Every
 * file is read whole into a fixed stack buffer by common/procfile, parsed
 * strictly and never trusted: a value that is not a plain decimal (sign,
 * garbage, overflow, empty) marks the field invalid instead of being
 * half-parsed. Nothing is allocated.
 */
#include "ksm.h"
#include "procfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest file read here is ksm_stat (~150 bytes) or a stat line (~300).
 * Buffers live on the stack: finding ksmd nested three of 4 KiB paths and a
 * 4 KiB buffer, and the 20 KiB that touched stayed in ballastd's RSS. */
#define KSM_READ_BUF 1024
/* "<pid>/ksm_merging_pages": procfile_open() joins it to the caller's root
 * and refuses more than PROCFILE_PATH_MAX in all (-ENAMETOOLONG). */
#define KSM_REL_BUF 64

/* PF_KTHREAD from include/linux/sched.h: the task is a kernel thread. */
#define KSM_PF_KTHREAD 0x00200000u

/* ----------------------------------------------------------------- values */

enum value_type {
    VT_U64,     /* unsigned decimal */
    VT_I64,     /* signed decimal: the profits */
    VT_COUNT,   /* printed signed (%ld) but counts pages: negative is garbage; a uint64_t */
    VT_ADVISOR, /* "[none] scan-time" */
    VT_YES_NO,  /* ksm_stat's flags */
};

static int parse_i64(const char *text, size_t len, int64_t *out)
{
    bool negative = len > 0 && text[0] == '-';
    uint64_t mag;
    int rc = procfile_parse_u64_value(text + negative, len - negative, &mag);
    if (rc < 0)
        return rc;
    if (negative) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return -ERANGE;
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return -ERANGE;
        *out = (int64_t)mag;
    }
    return 0;
}

/* "[none] scan-time\n": exactly one bracketed, known word. */
static int parse_advisor(const char *text, size_t len, enum ksm_advisor *out)
{
    const char *end = text + len;
    const char *open = memchr(text, '[', len);
    if (!open || memchr(open + 1, '[', (size_t)(end - open - 1)))
        return -EINVAL;
    const char *close = memchr(open, ']', (size_t)(end - open));
    if (!close)
        return -EINVAL;
    size_t n = (size_t)(close - open - 1);
    if (n == 4 && strncmp(open + 1, "none", 4) == 0)
        *out = KSM_ADVISOR_NONE;
    else if (n == 9 && strncmp(open + 1, "scan-time", 9) == 0)
        *out = KSM_ADVISOR_SCAN_TIME;
    else
        return -EINVAL;
    return 0;
}

/* "yes" or "no", up to the first blank; then nothing but whitespace. */
static int parse_yes_no(const char *text, size_t len, bool *out)
{
    size_t n = 0;
    while (n < len && text[n] != ' ' && text[n] != '\t' && text[n] != '\n')
        n++;
    for (size_t i = n; i < len; i++) {
        if (!isspace((unsigned char)text[i]))
            return -EINVAL;
    }
    if (n == 3 && strncmp(text, "yes", 3) == 0)
        *out = true;
    else if (n == 2 && strncmp(text, "no", 2) == 0)
        *out = false;
    else
        return -EINVAL;
    return 0;
}

/* Parses text[0..len) as a value of type t into dst, a field of that type;
 * dst is left alone on failure. */
static int parse_value(enum value_type t, const char *text, size_t len, void *dst)
{
    union {
        uint64_t u;
        int64_t i;
        enum ksm_advisor advisor;
        bool yes;
    } v;
    size_t size = sizeof(v.u);
    int rc = -EINVAL;
    if (t == VT_U64) {
        rc = procfile_parse_u64_value(text, len, &v.u);
    } else if (t == VT_I64) {
        rc = parse_i64(text, len, &v.i);
    } else if (t == VT_COUNT) {
        rc = parse_i64(text, len, &v.i);
        if (rc == 0 && v.i < 0)
            rc = -EINVAL;
        v.u = rc == 0 ? (uint64_t)v.i : 0;
    } else if (t == VT_ADVISOR) {
        rc = parse_advisor(text, len, &v.advisor);
        size = sizeof(v.advisor);
    } else if (t == VT_YES_NO) {
        rc = parse_yes_no(text, len, &v.yes);
        size = sizeof(v.yes);
    }
    if (rc == 0)
        memcpy(dst, &v, size);
    return rc;
}

const char *ksm_advisor_name(enum ksm_advisor mode)
{
    return mode == KSM_ADVISOR_SCAN_TIME ? "scan-time" : "none";
}

/* ------------------------------------------------------------------- host */

struct host_field {
    const char *name;
    enum value_type type;
    size_t offset;
};

#define HF(f, n, t, member) [f] = {n, t, offsetof(struct ksm_host_sample, member)}

/* One row per file, in enum ksm_host_field order. */
static const struct host_field host_fields[KSM_F_COUNT] = {
    HF(KSM_F_RUN, "run", VT_U64, run),
    HF(KSM_F_PAGES_TO_SCAN, "pages_to_scan", VT_U64, pages_to_scan),
    HF(KSM_F_SLEEP_MILLISECS, "sleep_millisecs", VT_U64, sleep_ms),
    HF(KSM_F_USE_ZERO_PAGES, "use_zero_pages", VT_U64, use_zero_pages),
    HF(KSM_F_MERGE_ACROSS_NODES, "merge_across_nodes", VT_U64, merge_across_nodes),
    HF(KSM_F_MAX_PAGE_SHARING, "max_page_sharing", VT_U64, max_page_sharing),
    HF(KSM_F_SMART_SCAN, "smart_scan", VT_U64, smart_scan),
    HF(KSM_F_ADVISOR_MODE, "advisor_mode", VT_ADVISOR, advisor_mode),
    HF(KSM_F_ADVISOR_MAX_CPU, "advisor_max_cpu", VT_U64, advisor_max_cpu_pct),
    HF(KSM_F_ADVISOR_TARGET_SCAN_TIME, "advisor_target_scan_time", VT_U64,
       advisor_target_scan_time_s),
    HF(KSM_F_ADVISOR_MIN_PAGES_TO_SCAN, "advisor_min_pages_to_scan", VT_U64,
       advisor_min_pages_to_scan),
    HF(KSM_F_ADVISOR_MAX_PAGES_TO_SCAN, "advisor_max_pages_to_scan", VT_U64,
       advisor_max_pages_to_scan),
    HF(KSM_F_PAGES_SHARED, "pages_shared", VT_U64, pages_shared),
    HF(KSM_F_PAGES_SHARING, "pages_sharing", VT_U64, pages_sharing),
    HF(KSM_F_PAGES_UNSHARED, "pages_unshared", VT_U64, pages_unshared),
    HF(KSM_F_PAGES_VOLATILE, "pages_volatile", VT_U64, pages_volatile),
    HF(KSM_F_PAGES_SCANNED, "pages_scanned", VT_U64, pages_scanned),
    HF(KSM_F_PAGES_SKIPPED, "pages_skipped", VT_U64, pages_skipped),
    HF(KSM_F_FULL_SCANS, "full_scans", VT_U64, full_scans),
    HF(KSM_F_KSM_ZERO_PAGES, "ksm_zero_pages", VT_COUNT, ksm_zero_pages),
    HF(KSM_F_GENERAL_PROFIT, "general_profit", VT_I64, general_profit_bytes),
    HF(KSM_F_STABLE_NODE_CHAINS, "stable_node_chains", VT_U64, stable_node_chains),
    HF(KSM_F_STABLE_NODE_DUPS, "stable_node_dups", VT_U64, stable_node_dups),
};

const char *ksm_host_field_name(enum ksm_host_field f)
{
    return (unsigned)f < KSM_F_COUNT ? host_fields[f].name : NULL;
}

/* 0; -errno when the file cannot be read (-ENOENT: absent); -EINVAL for garbage. */
static int read_host_field(const char *root, const struct host_field *hf,
                           struct ksm_host_sample *out)
{
    char buf[KSM_READ_BUF];
    size_t len;
    int rc = procfile_read(root, hf->name, buf, sizeof(buf), &len);
    if (rc < 0)
        return rc;
    return parse_value(hf->type, buf, len, (char *)out + hf->offset) < 0 ? -EINVAL : 0;
}

int ksm_read_host(const char *sysfs_root, struct ksm_host_sample *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    const char *root = sysfs_root ? sysfs_root : KSM_SYSFS_ROOT;
    struct stat st;
    if (stat(root, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    int first_error = 0;
    for (unsigned f = 0; f < KSM_F_COUNT; f++) {
        int rc = read_host_field(root, &host_fields[f], out);
        if (rc == 0) {
            out->present |= KSM_BIT(f);
        } else if (rc == -ENOENT) {
            if (f == KSM_F_RUN)
                return -ENOENT; /* no KSM in this kernel */
        } else {
            out->invalid |= KSM_BIT(f);
            if (!first_error)
                first_error = rc;
        }
    }
    return first_error;
}

/* ------------------------------------------------------------ per process */

/* Reads proc_root/PID/leaf (proc_root NULL: KSM_PROC_ROOT) whole into buf. */
static int read_pid_file(const char *proc_root, pid_t pid, const char *leaf, char *buf, size_t cap,
                         size_t *len)
{
    char rel[KSM_REL_BUF];
    int n = snprintf(rel, sizeof(rel), "%ld/%s", (long)pid, leaf);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return -ENAMETOOLONG;
    return procfile_read(proc_root ? proc_root : KSM_PROC_ROOT, rel, buf, cap, len);
}

/* Whether proc_root/PID exists: 0, -ESRCH, or another -errno. */
static int pid_exists(const char *proc_root, pid_t pid)
{
    char rel[KSM_REL_BUF];
    snprintf(rel, sizeof(rel), "%ld", (long)pid);
    int fd = procfile_open(proc_root ? proc_root : KSM_PROC_ROOT, rel, O_PATH);
    if (fd < 0)
        return fd == -ENOENT ? -ESRCH : fd;
    close(fd);
    return 0;
}

static const struct proc_key {
    const char *key;
    enum ksm_proc_field field;
    enum value_type type;
    size_t offset;
} proc_keys[] = {
    {"ksm_rmap_items", KSM_P_RMAP_ITEMS, VT_U64, offsetof(struct ksm_proc_sample, rmap_items)},
    {"ksm_zero_pages", KSM_P_ZERO_PAGES, VT_COUNT, offsetof(struct ksm_proc_sample, zero_pages)},
    {"ksm_merging_pages", KSM_P_MERGING_PAGES, VT_U64,
     offsetof(struct ksm_proc_sample, merging_pages)},
    {"ksm_process_profit", KSM_P_PROCESS_PROFIT, VT_I64,
     offsetof(struct ksm_proc_sample, process_profit_bytes)},
    {"ksm_merge_any", KSM_P_MERGE_ANY, VT_YES_NO, offsetof(struct ksm_proc_sample, merge_any)},
    {"ksm_mergeable", KSM_P_MERGEABLE, VT_YES_NO, offsetof(struct ksm_proc_sample, mergeable)},
};

/* One "key value" or "key: value" line of ksm_stat; unknown keys are skipped. */
static void parse_ksm_stat_line(const char *line, size_t len, void *ctx)
{
    struct ksm_proc_sample *out = ctx;
    const char *end = line + len;
    size_t key_len = 0;
    while (key_len < len && line[key_len] != ':' && line[key_len] != ' ' && line[key_len] != '\t')
        key_len++;
    const char *value = line + key_len;
    if (value < end && *value == ':')
        value++;
    procfile_skip_blanks(&value, end);
    for (size_t i = 0; i < sizeof(proc_keys) / sizeof(proc_keys[0]); i++) {
        const struct proc_key *k = &proc_keys[i];
        if (strlen(k->key) != key_len || strncmp(line, k->key, key_len) != 0)
            continue;
        if (parse_value(k->type, value, (size_t)(end - value), (char *)out + k->offset) == 0) {
            out->present |= KSM_BIT(k->field);
            out->invalid &= ~KSM_BIT(k->field);
        } else {
            out->present &= ~KSM_BIT(k->field);
            out->invalid |= KSM_BIT(k->field);
        }
        return;
    }
}

/*
 * The separate ksm_merging_pages file, read only when ksm_stat gave no
 * merging count (before 6.4, or garbled): ballastd reads every VM each KSM
 * interval, and an open+read+close is most of what that costs. *have: the
 * file was there. Returns 0 or the error to report.
 */
static int read_merging_file(const char *proc_root, pid_t pid, struct ksm_proc_sample *out,
                             bool *have)
{
    if (out->present & KSM_BIT(KSM_P_MERGING_PAGES))
        return 0;
    char buf[KSM_READ_BUF];
    size_t len;
    int rc = read_pid_file(proc_root, pid, "ksm_merging_pages", buf, sizeof(buf), &len);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc == -EFBIG ? -EINVAL : rc;
    *have = true;
    uint64_t merging;
    if (procfile_parse_u64_value(buf, len, &merging) != 0) {
        out->invalid |= KSM_BIT(KSM_P_MERGING_PAGES_FILE);
        return -EINVAL;
    }
    /* ksm_stat lacked ksm_merging_pages before 6.4: the file stands in. */
    out->present |= KSM_BIT(KSM_P_MERGING_PAGES_FILE) | KSM_BIT(KSM_P_MERGING_PAGES);
    out->merging_pages = merging;
    return 0;
}

int ksm_read_proc(const char *proc_root, pid_t pid, struct ksm_proc_sample *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->pid = pid;
    if (pid <= 0)
        return -EINVAL;
    char buf[KSM_READ_BUF];
    size_t len;
    int rc = read_pid_file(proc_root, pid, "ksm_stat", buf, sizeof(buf), &len);
    if (rc == -ENOENT) {
        /* No ksm_stat: an old kernel, or no such process at all? */
        int exists = pid_exists(proc_root, pid);
        if (exists < 0)
            return exists;
    }
    bool have_stat = rc == 0, have_file = false;
    int first_error = 0;
    if (have_stat) {
        procfile_scan_text(buf, len, parse_ksm_stat_line, out);
        if (out->invalid)
            first_error = -EINVAL;
    } else if (rc != -ENOENT) {
        first_error = rc == -EFBIG ? -EINVAL : rc;
    }
    rc = read_merging_file(proc_root, pid, out, &have_file);
    if (rc < 0 && !first_error)
        first_error = rc;
    if (!have_stat && !have_file && !first_error)
        return -EOPNOTSUPP;
    return first_error;
}

/* ------------------------------------------------------------------- ksmd */

struct stat_line {
    char comm[32];
    uint64_t flags;
    uint64_t utime, stime;
};

/*
 * /proc/PID/stat: "pid (comm) state ppid ... flags(9) ... utime(14) stime(15)".
 * comm may hold spaces and ')' itself, so fields are counted after the last ')'.
 */
static int parse_stat_line(const char *buf, size_t len, struct stat_line *out)
{
    const char *end = buf + len;
    const char *open = memchr(buf, '(', len);
    const char *close = memrchr(buf, ')', len);
    if (!open || !close || close < open)
        return -EINVAL;
    size_t comm_len = (size_t)(close - open - 1);
    if (comm_len >= sizeof(out->comm))
        return -EINVAL;
    memcpy(out->comm, open + 1, comm_len);
    out->comm[comm_len] = '\0';

    const char *p = close + 1;
    /* field 3 (state) is the first token after ')'. */
    for (unsigned field = 3; field <= 15; field++) {
        if (p >= end || *p != ' ')
            return -EINVAL;
        p++;
        if (field == 3) {
            if (p >= end || *p == ' ')
                return -EINVAL;
            p++;
            continue;
        }
        uint64_t v = 0;
        const char *digits = p < end && *p == '-' ? p + 1 : p; /* tty_nr, tpgid may be -1 */
        const char *after = digits;
        if (procfile_parse_u64(&after, end, &v) < 0)
            return -EINVAL;
        if (field == 9)
            out->flags = v;
        else if (field == 14)
            out->utime = v;
        else if (field == 15)
            out->stime = v;
        if ((field == 9 || field >= 14) && digits != p)
            return -EINVAL; /* these are never negative */
        p = after;
    }
    return 0;
}

static int read_stat_line(const char *proc_root, pid_t pid, struct stat_line *out)
{
    char buf[KSM_READ_BUF];
    size_t len;
    int rc = read_pid_file(proc_root, pid, "stat", buf, sizeof(buf), &len);
    if (rc == -ENOENT)
        return -ESRCH;
    if (rc < 0)
        return rc == -EFBIG ? -EINVAL : rc;
    return parse_stat_line(buf, len, out);
}

static bool is_ksmd(const char *proc_root, pid_t pid)
{
    struct stat_line sl;
    if (read_stat_line(proc_root, pid, &sl) < 0)
        return false;
    return strcmp(sl.comm, "ksmd") == 0 && (sl.flags & KSM_PF_KTHREAD);
}

/* The pid a /proc entry is named for, or 0: "self", "007", over INT_MAX. */
static pid_t dirent_pid(const char *name)
{
    const char *p = name, *end = name + strlen(name);
    uint64_t v;
    if (name[0] == '0' || procfile_parse_u64(&p, end, &v) < 0 || p != end || v == 0 || v > INT_MAX)
        return 0;
    return (pid_t)v;
}

/*
 * Walks the pid directories under root and returns (via *pid_out, and the
 * matched name via *which) the first process whose comm is one of names[]
 * and that accept() takes. 0, -ESRCH when none, or -errno.
 */
static int find_by_comm(const char *root, const char *const *names,
                        bool (*accept)(const char *root, pid_t pid), pid_t *pid_out,
                        const char **which)
{
    DIR *d = opendir(root);
    if (!d)
        return -errno;
    int rc = -ESRCH;
    struct dirent *e;
    while (rc == -ESRCH && (e = readdir(d))) {
        pid_t pid = dirent_pid(e->d_name);
        /* comm first: one small read rules out almost every process. */
        char comm[64];
        if (pid <= 0 || read_pid_file(root, pid, "comm", comm, sizeof(comm), NULL) < 0)
            continue;
        comm[strcspn(comm, "\n")] = '\0';
        for (size_t i = 0; names[i]; i++) {
            if (strcmp(comm, names[i]) == 0 && (!accept || accept(root, pid))) {
                *pid_out = pid;
                if (which)
                    *which = names[i];
                rc = 0;
                break;
            }
        }
    }
    closedir(d);
    return rc;
}

int ksm_ksmd_find(const char *proc_root, pid_t *pid_out)
{
    static const char *const names[] = {"ksmd", NULL};
    if (!pid_out)
        return -EINVAL;
    return find_by_comm(proc_root ? proc_root : KSM_PROC_ROOT, names, is_ksmd, pid_out, NULL);
}

int ksm_other_tuner_find(const char *proc_root, const char **name_out, pid_t *pid_out)
{
    /* ksmtuned (the qemu-kvm package's script) and oVirt MOM's daemon. */
    static const char *const names[] = {"ksmtuned", "momd", NULL};
    if (!pid_out || !name_out)
        return -EINVAL;
    return find_by_comm(proc_root ? proc_root : KSM_PROC_ROOT, names, NULL, pid_out, name_out);
}

int ksm_ksmd_cpu_ticks(const char *proc_root, pid_t pid, uint64_t *ticks_out)
{
    if (!ticks_out || pid <= 0)
        return -EINVAL;
    struct stat_line sl;
    int rc = read_stat_line(proc_root, pid, &sl);
    if (rc < 0)
        return rc;
    if (strcmp(sl.comm, "ksmd") != 0)
        return -ESRCH;
    if (sl.utime > UINT64_MAX - sl.stime)
        return -EINVAL;
    *ticks_out = sl.utime + sl.stime;
    return 0;
}

int ksm_cpu_pct(uint64_t ticks_before, uint64_t ticks_after, uint64_t interval_ms, uint64_t clk_tck,
                double *pct_out)
{
    if (!pct_out || interval_ms == 0 || clk_tck == 0 || ticks_after < ticks_before)
        return -EINVAL;
    double cpu_ms = (double)(ticks_after - ticks_before) * 1000.0 / (double)clk_tck;
    *pct_out = cpu_ms * 100.0 / (double)interval_ms;
    return 0;
}
