/*
 * Readers of KSM state: /sys/kernel/mm/ksm (host), /proc/PID/ksm_stat and
 * /proc/PID/ksm_merging_pages (one VM), /proc/<ksmd>/stat (ksmd's CPU). Every
 * file is read whole into a fixed stack buffer, parsed strictly and never
 * trusted: a value that is not a plain decimal (sign, garbage, overflow, empty)
 * marks the field invalid instead of being half-parsed. Nothing is allocated.
 */
#include "ksm.h"

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
/* /proc and /sys paths under a root given by the caller (a test's temporary
 * directory at most): far below PATH_MAX; longer is -ENAMETOOLONG. */
#define KSM_PATH_BUF 512

/* PF_KTHREAD from include/linux/sched.h: the task is a kernel thread. */
#define KSM_PF_KTHREAD 0x00200000u

static int join_path(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    return 0;
}

/*
 * Reads a whole small file into buf (NUL-terminated). -errno of open/read;
 * -EFBIG when it does not fit; -EINVAL when it holds a NUL byte.
 */
static int read_small(const char *path, char *buf, size_t cap, size_t *len_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    int rc = 0;
    for (;;) {
        if (len == cap - 1) {
            char extra;
            ssize_t more = read(fd, &extra, 1);
            rc = more > 0 ? -EFBIG : (more < 0 ? -errno : 0);
            break;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (rc < 0)
        return rc;
    buf[len] = '\0';
    if (strlen(buf) != len)
        return -EINVAL;
    if (len_out)
        *len_out = len;
    return 0;
}

/* Only trailing whitespace (sysfs ends values with "\n") may follow a number. */
static bool rest_is_space(const char *p)
{
    while (*p) {
        if (!isspace((unsigned char)*p))
            return false;
        p++;
    }
    return true;
}

/* Parses one unsigned decimal; *end is set past it. No sign, no leading space. */
static int parse_u64_prefix(const char *p, uint64_t *out, const char **end)
{
    uint64_t v = 0;
    const char *start = p;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
        p++;
    }
    if (p == start)
        return -EINVAL;
    *out = v;
    *end = p;
    return 0;
}

static int parse_u64(const char *text, uint64_t *out)
{
    const char *end;
    uint64_t v;
    int rc = parse_u64_prefix(text, &v, &end);
    if (rc < 0)
        return rc;
    if (!rest_is_space(end))
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_i64(const char *text, int64_t *out)
{
    bool negative = text[0] == '-';
    uint64_t mag;
    int rc = parse_u64(negative ? text + 1 : text, &mag);
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
static int parse_advisor(const char *text, enum ksm_advisor *out)
{
    const char *open = strchr(text, '[');
    if (!open || strchr(open + 1, '['))
        return -EINVAL;
    const char *close = strchr(open, ']');
    if (!close)
        return -EINVAL;
    size_t len = (size_t)(close - open - 1);
    if (len == 4 && strncmp(open + 1, "none", 4) == 0)
        *out = KSM_ADVISOR_NONE;
    else if (len == 9 && strncmp(open + 1, "scan-time", 9) == 0)
        *out = KSM_ADVISOR_SCAN_TIME;
    else
        return -EINVAL;
    return 0;
}

const char *ksm_advisor_name(enum ksm_advisor mode)
{
    return mode == KSM_ADVISOR_SCAN_TIME ? "scan-time" : "none";
}

/* ------------------------------------------------------------------- host */

enum field_type { FT_U64, FT_I64, FT_ADVISOR };

struct host_field {
    const char *name;
    enum field_type type;
    size_t offset;
};

#define HF(f, n, t, member) [f] = {n, t, offsetof(struct ksm_host_sample, member)}

/* One row per file, in enum ksm_host_field order. */
static const struct host_field host_fields[KSM_F_COUNT] = {
    HF(KSM_F_RUN, "run", FT_U64, run),
    HF(KSM_F_PAGES_TO_SCAN, "pages_to_scan", FT_U64, pages_to_scan),
    HF(KSM_F_SLEEP_MILLISECS, "sleep_millisecs", FT_U64, sleep_ms),
    HF(KSM_F_USE_ZERO_PAGES, "use_zero_pages", FT_U64, use_zero_pages),
    HF(KSM_F_MERGE_ACROSS_NODES, "merge_across_nodes", FT_U64, merge_across_nodes),
    HF(KSM_F_MAX_PAGE_SHARING, "max_page_sharing", FT_U64, max_page_sharing),
    HF(KSM_F_SMART_SCAN, "smart_scan", FT_U64, smart_scan),
    HF(KSM_F_ADVISOR_MODE, "advisor_mode", FT_ADVISOR, advisor_mode),
    HF(KSM_F_ADVISOR_MAX_CPU, "advisor_max_cpu", FT_U64, advisor_max_cpu_pct),
    HF(KSM_F_ADVISOR_TARGET_SCAN_TIME, "advisor_target_scan_time", FT_U64,
       advisor_target_scan_time_s),
    HF(KSM_F_ADVISOR_MIN_PAGES_TO_SCAN, "advisor_min_pages_to_scan", FT_U64,
       advisor_min_pages_to_scan),
    HF(KSM_F_ADVISOR_MAX_PAGES_TO_SCAN, "advisor_max_pages_to_scan", FT_U64,
       advisor_max_pages_to_scan),
    HF(KSM_F_PAGES_SHARED, "pages_shared", FT_U64, pages_shared),
    HF(KSM_F_PAGES_SHARING, "pages_sharing", FT_U64, pages_sharing),
    HF(KSM_F_PAGES_UNSHARED, "pages_unshared", FT_U64, pages_unshared),
    HF(KSM_F_PAGES_VOLATILE, "pages_volatile", FT_U64, pages_volatile),
    HF(KSM_F_PAGES_SCANNED, "pages_scanned", FT_U64, pages_scanned),
    HF(KSM_F_PAGES_SKIPPED, "pages_skipped", FT_U64, pages_skipped),
    HF(KSM_F_FULL_SCANS, "full_scans", FT_U64, full_scans),
    HF(KSM_F_KSM_ZERO_PAGES, "ksm_zero_pages", FT_I64, ksm_zero_pages),
    HF(KSM_F_GENERAL_PROFIT, "general_profit", FT_I64, general_profit_bytes),
    HF(KSM_F_STABLE_NODE_CHAINS, "stable_node_chains", FT_U64, stable_node_chains),
    HF(KSM_F_STABLE_NODE_DUPS, "stable_node_dups", FT_U64, stable_node_dups),
};

const char *ksm_host_field_name(enum ksm_host_field f)
{
    return (unsigned)f < KSM_F_COUNT ? host_fields[f].name : NULL;
}

static int read_host_field(const char *root, const struct host_field *hf,
                           struct ksm_host_sample *out)
{
    char path[KSM_PATH_BUF], buf[KSM_READ_BUF];
    int rc = join_path(path, sizeof(path), root, hf->name);
    if (rc == 0)
        rc = read_small(path, buf, sizeof(buf), NULL);
    if (rc < 0)
        return rc;
    char *dst = (char *)out + hf->offset;
    switch (hf->type) {
    case FT_U64: {
        uint64_t v;
        rc = parse_u64(buf, &v);
        if (rc == 0)
            memcpy(dst, &v, sizeof(v));
        break;
    }
    case FT_I64: {
        int64_t v;
        rc = parse_i64(buf, &v);
        if (rc == 0 && hf->offset == offsetof(struct ksm_host_sample, ksm_zero_pages)) {
            /* ksm_zero_pages is printed signed (%ld) but counts pages: a
             * negative count is a kernel accounting bug or garbage. */
            if (v < 0)
                rc = -EINVAL;
            else
                memcpy(dst, &(uint64_t){(uint64_t)v}, sizeof(uint64_t));
        } else if (rc == 0) {
            memcpy(dst, &v, sizeof(v));
        }
        break;
    }
    case FT_ADVISOR: {
        enum ksm_advisor mode;
        rc = parse_advisor(buf, &mode);
        if (rc == 0)
            memcpy(dst, &mode, sizeof(mode));
        break;
    }
    }
    return rc < 0 ? -EINVAL : 0;
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

static int pid_dir(char *buf, size_t len, const char *proc_root, pid_t pid)
{
    int n = snprintf(buf, len, "%s/%ld", proc_root ? proc_root : KSM_PROC_ROOT, (long)pid);
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    return 0;
}

static int parse_yes_no(const char *text, bool *out)
{
    size_t n = strcspn(text, " \t\n");
    if (!rest_is_space(text + n))
        return -EINVAL;
    if (n == 3 && strncmp(text, "yes", 3) == 0)
        *out = true;
    else if (n == 2 && strncmp(text, "no", 2) == 0)
        *out = false;
    else
        return -EINVAL;
    return 0;
}

/* One "key value" or "key: value" line of ksm_stat; unknown keys are skipped. */
static void parse_ksm_stat_line(char *line, struct ksm_proc_sample *out)
{
    static const struct {
        const char *key;
        enum ksm_proc_field field;
    } keys[] = {
        {"ksm_rmap_items", KSM_P_RMAP_ITEMS},       {"ksm_zero_pages", KSM_P_ZERO_PAGES},
        {"ksm_merging_pages", KSM_P_MERGING_PAGES}, {"ksm_process_profit", KSM_P_PROCESS_PROFIT},
        {"ksm_merge_any", KSM_P_MERGE_ANY},         {"ksm_mergeable", KSM_P_MERGEABLE},
    };
    size_t key_len = strcspn(line, ": \t");
    const char *value = line + key_len;
    if (*value == ':')
        value++;
    while (*value == ' ' || *value == '\t')
        value++;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i].key) != key_len || strncmp(line, keys[i].key, key_len) != 0)
            continue;
        enum ksm_proc_field f = keys[i].field;
        int rc;
        int64_t profit;
        switch (f) {
        case KSM_P_RMAP_ITEMS:
            rc = parse_u64(value, &out->rmap_items);
            break;
        case KSM_P_ZERO_PAGES: {
            /* Printed %ld: a negative count is garbage. */
            int64_t v;
            rc = parse_i64(value, &v);
            if (rc == 0 && v < 0)
                rc = -EINVAL;
            if (rc == 0)
                out->zero_pages = (uint64_t)v;
            break;
        }
        case KSM_P_MERGING_PAGES:
            rc = parse_u64(value, &out->merging_pages);
            break;
        case KSM_P_PROCESS_PROFIT:
            rc = parse_i64(value, &profit);
            if (rc == 0)
                out->process_profit_bytes = profit;
            break;
        case KSM_P_MERGE_ANY:
            rc = parse_yes_no(value, &out->merge_any);
            break;
        case KSM_P_MERGEABLE:
            rc = parse_yes_no(value, &out->mergeable);
            break;
        default:
            rc = -EINVAL;
            break;
        }
        if (rc == 0) {
            out->present |= KSM_BIT(f);
            out->invalid &= ~KSM_BIT(f);
        } else {
            out->present &= ~KSM_BIT(f);
            out->invalid |= KSM_BIT(f);
        }
        return;
    }
}

int ksm_read_proc(const char *proc_root, pid_t pid, struct ksm_proc_sample *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->pid = pid;
    if (pid <= 0)
        return -EINVAL;
    char dir[KSM_PATH_BUF], path[KSM_PATH_BUF], buf[KSM_READ_BUF];
    int rc = pid_dir(dir, sizeof(dir), proc_root, pid);
    if (rc < 0)
        return rc;
    bool have_stat = false, have_file = false;
    int first_error = 0;
    rc = join_path(path, sizeof(path), dir, "ksm_stat");
    if (rc == 0)
        rc = read_small(path, buf, sizeof(buf), NULL);
    if (rc == -ENOENT) {
        /* No ksm_stat: an old kernel, or no such process at all? */
        struct stat st;
        if (stat(dir, &st) < 0)
            return errno == ENOENT ? -ESRCH : -errno;
    }
    if (rc == 0) {
        have_stat = true;
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
            parse_ksm_stat_line(line, out);
        if (out->invalid)
            first_error = -EINVAL;
    } else if (rc != -ENOENT) {
        first_error = rc == -EFBIG ? -EINVAL : rc;
    }

    /* The separate file only when ksm_stat gave no merging count (before
     * 6.4, or garbled): ballastd reads every VM each KSM interval, and an
     * open+read+close is most of what that costs. */
    uint64_t merging_file = 0;
    rc = out->present & KSM_BIT(KSM_P_MERGING_PAGES)
             ? -ENOENT
             : join_path(path, sizeof(path), dir, "ksm_merging_pages");
    if (rc == 0)
        rc = read_small(path, buf, sizeof(buf), NULL);
    if (rc == 0) {
        have_file = true;
        if (parse_u64(buf, &merging_file) == 0) {
            out->present |= KSM_BIT(KSM_P_MERGING_PAGES_FILE);
        } else {
            out->invalid |= KSM_BIT(KSM_P_MERGING_PAGES_FILE);
            if (!first_error)
                first_error = -EINVAL;
        }
    } else if (rc != -ENOENT && !first_error) {
        first_error = rc == -EFBIG ? -EINVAL : rc;
    }

    /* ksm_stat lacked ksm_merging_pages before 6.4: fall back to the file. */
    if (!(out->present & KSM_BIT(KSM_P_MERGING_PAGES)) &&
        (out->present & KSM_BIT(KSM_P_MERGING_PAGES_FILE))) {
        out->merging_pages = merging_file;
        out->present |= KSM_BIT(KSM_P_MERGING_PAGES);
    }
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
static int parse_stat_line(const char *buf, struct stat_line *out)
{
    const char *open = strchr(buf, '(');
    const char *close = strrchr(buf, ')');
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
        if (*p != ' ')
            return -EINVAL;
        p++;
        if (field == 3) {
            if (!*p || *p == ' ')
                return -EINVAL;
            p++;
            continue;
        }
        uint64_t v = 0;
        const char *end;
        const char *digits = *p == '-' ? p + 1 : p; /* tty_nr, tpgid may be -1 */
        int rc = parse_u64_prefix(digits, &v, &end);
        if (rc < 0)
            return -EINVAL;
        if (field == 9)
            out->flags = v;
        else if (field == 14)
            out->utime = v;
        else if (field == 15)
            out->stime = v;
        if ((field == 9 || field >= 14) && digits != p)
            return -EINVAL; /* these are never negative */
        p = end;
    }
    return 0;
}

static int read_stat_line(const char *proc_root, pid_t pid, struct stat_line *out)
{
    char dir[KSM_PATH_BUF], path[KSM_PATH_BUF], buf[KSM_READ_BUF];
    int rc = pid_dir(dir, sizeof(dir), proc_root, pid);
    if (rc == 0)
        rc = join_path(path, sizeof(path), dir, "stat");
    if (rc == 0)
        rc = read_small(path, buf, sizeof(buf), NULL);
    if (rc == -ENOENT)
        return -ESRCH;
    if (rc < 0)
        return rc == -EFBIG ? -EINVAL : rc;
    return parse_stat_line(buf, out);
}

static bool is_ksmd(const char *proc_root, pid_t pid)
{
    struct stat_line sl;
    if (read_stat_line(proc_root, pid, &sl) < 0)
        return false;
    return strcmp(sl.comm, "ksmd") == 0 && (sl.flags & KSM_PF_KTHREAD);
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
        uint64_t v;
        const char *end;
        if (parse_u64_prefix(e->d_name, &v, &end) < 0 || *end || v == 0 || v > INT_MAX)
            continue;
        if (e->d_name[0] == '0')
            continue; /* "007" is not a pid directory */
        /* comm first: one small read rules out almost every process. */
        char dir[KSM_PATH_BUF], path[KSM_PATH_BUF], comm[64];
        if (pid_dir(dir, sizeof(dir), root, (pid_t)v) < 0 ||
            join_path(path, sizeof(path), dir, "comm") < 0 ||
            read_small(path, comm, sizeof(comm), NULL) < 0)
            continue;
        comm[strcspn(comm, "\n")] = '\0';
        for (size_t i = 0; names[i]; i++) {
            if (strcmp(comm, names[i]) == 0 && (!accept || accept(root, (pid_t)v))) {
                *pid_out = (pid_t)v;
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
