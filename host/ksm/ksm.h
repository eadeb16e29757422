/*
 * KSM (kernel samepage merging) for ballastd: read what ksmd has merged, host-wide
 * (/sys/kernel/mm/ksm) and per VM (/proc/PID/ksm_stat), what ksmd costs in CPU
 * (/proc/<ksmd>/stat), turn that into bytes saved per VM and per host, and decide
 * ksmd's settings each tick within a CPU budget.
 *
 * The loop the daemon runs each tick:
 *
 *   ksm_read_host(sysfs, &cur)          ksm_ksmd_cpu_ticks(proc, ksmd_pid, &ticks)
 *   ksm_read_proc(proc, qemu_pid, &vm)  ksm_cpu_pct(prev_ticks, ticks, interval_ms, tck, &pct)
 *   ksm_account_vm / ksm_account_host   -> status, --json, "changed materially" log lines
 *   ksm_tuner_decide(&in, &out)         -> out.settings (only the fields to write), reasons
 *   ksm_apply(sysfs, &out.settings)     -> sysfs writes in a safe order
 *
 * Readers take their roots as parameters (tests point them at fixture trees) and
 * allocate nothing; accounting and the tuner are pure functions (no I/O, no clock:
 * time deltas are inputs). Every function returns 0 or a negative errno.
 * docs/ksm.md explains the formulas, the attribution and the tuner's loop.
 */
#ifndef BALLAST_KSM_H
#define BALLAST_KSM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define KSM_SYSFS_ROOT "/sys/kernel/mm/ksm"
#define KSM_PROC_ROOT  "/proc"

/*
 * sizeof(struct ksm_rmap_item) on 64-bit kernels: the kernel's own profit
 * formulas (general_profit, ksm_process_profit) charge this much per rmap item.
 */
#define KSM_RMAP_ITEM_BYTES 64u

/* ---------------------------------------------------------------- host state */

enum ksm_advisor {
    KSM_ADVISOR_NONE = 0,  /* "none": pages_to_scan is ours to set */
    KSM_ADVISOR_SCAN_TIME, /* "scan-time": the kernel sets pages_to_scan (6.9+) */
};

/*
 * One field per file under /sys/kernel/mm/ksm. Older kernels lack many of them
 * (ksm_zero_pages and general_profit came in 6.1-6.10, the advisor in 6.9,
 * smart_scan in 6.7), so each has a bit in `present`; a file that exists but
 * holds garbage (not a number, negative where unsigned, overflow, empty) is
 * left out of `present` and flagged in `invalid`.
 */
enum ksm_host_field {
    KSM_F_RUN,
    KSM_F_PAGES_TO_SCAN,
    KSM_F_SLEEP_MILLISECS,
    KSM_F_USE_ZERO_PAGES,
    KSM_F_MERGE_ACROSS_NODES,
    KSM_F_MAX_PAGE_SHARING,
    KSM_F_SMART_SCAN,
    KSM_F_ADVISOR_MODE,
    KSM_F_ADVISOR_MAX_CPU,
    KSM_F_ADVISOR_TARGET_SCAN_TIME,
    KSM_F_ADVISOR_MIN_PAGES_TO_SCAN,
    KSM_F_ADVISOR_MAX_PAGES_TO_SCAN,
    KSM_F_PAGES_SHARED,
    KSM_F_PAGES_SHARING,
    KSM_F_PAGES_UNSHARED,
    KSM_F_PAGES_VOLATILE,
    KSM_F_PAGES_SCANNED,
    KSM_F_PAGES_SKIPPED,
    KSM_F_FULL_SCANS,
    KSM_F_KSM_ZERO_PAGES,
    KSM_F_GENERAL_PROFIT,
    KSM_F_STABLE_NODE_CHAINS,
    KSM_F_STABLE_NODE_DUPS,
    KSM_F_COUNT
};

#define KSM_BIT(f) (UINT32_C(1) << (f))

struct ksm_host_sample {
    uint32_t present; /* KSM_BIT(KSM_F_...) per file read and valid */
    uint32_t invalid; /* KSM_BIT(KSM_F_...) per file that held garbage */
    /* settings */
    uint64_t run; /* 0 stopped, 1 running, 2 stopped and unmerged */
    uint64_t pages_to_scan;
    uint64_t sleep_ms;
    uint64_t use_zero_pages;
    uint64_t merge_across_nodes;
    uint64_t max_page_sharing;
    uint64_t smart_scan;
    enum ksm_advisor advisor_mode;
    uint64_t advisor_max_cpu_pct;
    uint64_t advisor_target_scan_time_s;
    uint64_t advisor_min_pages_to_scan;
    uint64_t advisor_max_pages_to_scan;
    /* counters */
    uint64_t pages_shared;   /* KSM pages in the stable tree (the kept copies) */
    uint64_t pages_sharing;  /* further mappings of them: pages saved */
    uint64_t pages_unshared; /* scanned, unique so far */
    uint64_t pages_volatile; /* changing too fast to merge */
    uint64_t pages_scanned;  /* cumulative pages ksmd looked at (6.8+) */
    uint64_t pages_skipped;  /* cumulative pages smart_scan skipped (6.8+) */
    uint64_t full_scans;
    uint64_t ksm_zero_pages;      /* pages merged with the kernel zero page (use_zero_pages) */
    int64_t general_profit_bytes; /* kernel's estimate; may be negative */
    uint64_t stable_node_chains;
    uint64_t stable_node_dups;
};

static inline bool ksm_host_has(const struct ksm_host_sample *s, enum ksm_host_field f)
{
    return (s->present & KSM_BIT(f)) != 0;
}

/*
 * Reads every known file under sysfs_root (NULL = KSM_SYSFS_ROOT) into out,
 * zeroed first. Returns 0; -ENOENT when the directory or its `run` file is
 * missing (kernel without KSM); -EINVAL when some file held garbage (out still
 * holds every valid field, out->invalid says which were bad); another -errno
 * when the directory cannot be read.
 */
int ksm_read_host(const char *sysfs_root, struct ksm_host_sample *out);

/* "none"/"scan-time" for an advisor mode. */
const char *ksm_advisor_name(enum ksm_advisor mode);

/* Name of the sysfs file behind a field ("pages_to_scan"), NULL if out of range. */
const char *ksm_host_field_name(enum ksm_host_field f);

/* -------------------------------------------------------------- per process */

enum ksm_proc_field {
    KSM_P_RMAP_ITEMS,
    KSM_P_ZERO_PAGES,
    KSM_P_MERGING_PAGES,
    KSM_P_PROCESS_PROFIT,
    KSM_P_MERGE_ANY,
    KSM_P_MERGEABLE,
    KSM_P_MERGING_PAGES_FILE, /* /proc/PID/ksm_merging_pages (5.19+) */
    KSM_P_COUNT
};

struct ksm_proc_sample {
    pid_t pid;
    uint32_t present; /* KSM_BIT(KSM_P_...) */
    uint32_t invalid;
    uint64_t rmap_items;          /* ksm_rmap_items: scanned pages, each costs an rmap item */
    uint64_t zero_pages;          /* ksm_zero_pages: merged with the zero page */
    uint64_t merging_pages;       /* ksm_merging_pages: mapped to a shared KSM page */
    int64_t process_profit_bytes; /* kernel's ksm_process_profit; may be negative */
    bool merge_any;               /* prctl(PR_SET_MEMORY_MERGE) on the whole process */
    bool mergeable;               /* has a VMA registered with KSM (QEMU mem-merge=on) */
};

/*
 * Reads proc_root/PID/ksm_stat (lines "key value" or "key: value"; unknown keys
 * are ignored, so newer kernels keep working) and proc_root/PID/ksm_merging_pages.
 * merging_pages comes from ksm_stat when it has it, else from the separate file
 * (read only then).
 * Returns 0; -ESRCH when proc_root/PID does not exist; -EOPNOTSUPP when it exists
 * but neither file does (kernel before 5.19); -EINVAL on garbage (valid fields
 * still filled, out->invalid says which); -EINVAL for pid <= 0.
 */
int ksm_read_proc(const char *proc_root, pid_t pid, struct ksm_proc_sample *out);

/* ---------------------------------------------------------------- ksmd CPU */

/*
 * Finds the ksmd kernel thread: a numeric entry of proc_root whose comm is
 * "ksmd" and whose stat flags carry PF_KTHREAD (so a user process that calls
 * itself ksmd is not taken). Do it once; ksmd lives as long as the kernel.
 * Returns 0 and *pid_out, -ESRCH when there is none (no KSM, or a pid namespace
 * that hides kernel threads), another -errno when proc_root cannot be listed.
 */
int ksm_ksmd_find(const char *proc_root, pid_t *pid_out);

/*
 * Another KSM tuner on this host (ksmtuned, oVirt MOM's momd), found by comm
 * under proc_root. ksmd is host-wide: two controllers would fight over it,
 * so ballast only observes while one runs. 0 with *name_out (static) and
 * *pid_out, -ESRCH when none, or -errno.
 */
int ksm_other_tuner_find(const char *proc_root, const char **name_out, pid_t *pid_out);

/*
 * Reads utime + stime (clock ticks) of pid from proc_root/PID/stat and checks
 * its comm is still "ksmd". Returns 0, -ESRCH (gone or no longer ksmd), -EINVAL.
 */
int ksm_ksmd_cpu_ticks(const char *proc_root, pid_t pid, uint64_t *ticks_out);

/*
 * Pure: CPU used between two tick samples interval_ms apart, in percent of one
 * core (100 = one core busy). clk_tck is sysconf(_SC_CLK_TCK). Returns 0, or
 * -EINVAL when ticks went backwards, interval_ms or clk_tck is 0.
 */
int ksm_cpu_pct(uint64_t ticks_before, uint64_t ticks_after, uint64_t interval_ms, uint64_t clk_tck,
                double *pct_out);

/* -------------------------------------------------------------- accounting */

/*
 * What merging saves one VM (its QEMU process). A KSM page mapped by N sites
 * keeps one copy and saves N-1; the kernel does not say which pages a process
 * shares with how many others, so each merging page is charged its fair part
 * of the host-wide ratio: saved_sharing = merging_pages * pages_sharing /
 * (pages_shared + pages_sharing). Summed over every process this gives back
 * exactly the host's pages_sharing. See docs/ksm.md.
 */
struct ksm_vm_account {
    uint64_t merging_bytes;       /* mapped to KSM pages (gross) */
    uint64_t saved_sharing_bytes; /* fair share of the copies saved */
    uint64_t saved_zero_bytes;    /* merged with the zero page: each saves a whole page */
    uint64_t rmap_cost_bytes;     /* rmap items ksmd keeps for this VM's pages */
    int64_t net_profit_bytes;     /* saved_sharing + saved_zero - rmap_cost */
    bool kernel_profit_present;
    int64_t kernel_profit_bytes; /* the kernel's ksm_process_profit, as read */
};

/* Returns 0, or -EINVAL for a zero page size or NULL pointers. */
int ksm_account_vm(const struct ksm_proc_sample *vm, const struct ksm_host_sample *host,
                   uint64_t page_size, struct ksm_vm_account *out);

struct ksm_host_account {
    uint64_t saved_bytes;         /* saved_sharing + saved_zero */
    uint64_t saved_sharing_bytes; /* pages_sharing * page */
    uint64_t saved_zero_bytes;    /* ksm_zero_pages * page */
    uint64_t rmap_items;          /* shared + sharing + unshared + volatile (ksm.rst) */
    uint64_t rmap_cost_bytes;
    int64_t net_profit_bytes; /* saved - rmap_cost */
    bool kernel_profit_present;
    int64_t kernel_profit_bytes; /* general_profit, as read */
    uint64_t sharing_ratio_x100; /* pages_sharing / pages_shared * 100; 0 if none */
};

int ksm_account_host(const struct ksm_host_sample *host, uint64_t page_size,
                     struct ksm_host_account *out);

/*
 * Worth a log line: |new - old| >= 16 MiB, or >= 1 MiB and >= 5% of |old|.
 * The 1 MiB floor keeps a VM going from 4 KiB to 8 KiB saved out of the log.
 */
bool ksm_changed_materially(int64_t old_bytes, int64_t new_bytes);

/* ------------------------------------------------------------------ tuning */

enum ksm_mode {
    KSM_MODE_OFF = 0, /* ksmd stopped (run=0: merged pages stay merged) */
    KSM_MODE_AUTO,    /* ballast's controller: on/off by yield and pressure, rate by CPU budget */
    KSM_MODE_ADVISOR, /* on/off as auto, rate by the kernel's scan-time advisor */
    KSM_MODE_FIXED,   /* on, with the configured pages_to_scan / sleep_millisecs */
    KSM_MODE_OBSERVE, /* measure and explain only: ksmd's settings belong to someone else */
};

const char *ksm_mode_name(enum ksm_mode mode);
/* "off", "auto", "advisor", "fixed", "observe" -> mode; 0 or -EINVAL. */
int ksm_mode_parse(const char *text, enum ksm_mode *out);

/* What to write: a bit per field in `mask`, the value next to it. */
enum ksm_setting {
    KSM_S_RUN,
    KSM_S_PAGES_TO_SCAN,
    KSM_S_SLEEP_MS,
    KSM_S_USE_ZERO_PAGES,
    KSM_S_ADVISOR_MODE,
    KSM_S_ADVISOR_MAX_CPU,
    KSM_S_ADVISOR_TARGET_SCAN_TIME,
    KSM_S_COUNT
};

struct ksm_settings {
    uint32_t mask; /* KSM_BIT(KSM_S_...) */
    uint64_t run;
    uint64_t pages_to_scan;
    uint64_t sleep_ms;
    uint64_t use_zero_pages;
    enum ksm_advisor advisor_mode;
    uint64_t advisor_max_cpu_pct;
    uint64_t advisor_target_scan_time_s;
};

/*
 * Writes the fields in settings->mask under sysfs_root (NULL = KSM_SYSFS_ROOT)
 * in an order the kernel accepts: run=0/2 first (stop before retuning),
 * advisor_mode=none before pages_to_scan (the kernel refuses pages_to_scan
 * while the advisor runs, and resets it when the mode changes), advisor
 * limits before advisor_mode=scan-time, run=1 last. Stops at the first failed
 * write: returns 0 or its -errno, and *failed (if not NULL) names the setting.
 */
int ksm_apply(const char *sysfs_root, const struct ksm_settings *settings,
              enum ksm_setting *failed);

const char *ksm_setting_name(enum ksm_setting s);

/* Tuner knobs; ksm_tuner_config_default() gives the documented defaults. */
struct ksm_tuner_config {
    enum ksm_mode mode;
    double budget_pct;            /* ksmd CPU ceiling, % of one core (10) */
    unsigned start_commit_pct;    /* start when guests' RAM >= this % of host RAM (50) */
    unsigned stop_commit_pct;     /* stop below this... (35) */
    unsigned start_avail_pct;     /* ...or start when MemAvailable < this % (20) */
    unsigned stop_avail_pct;      /* ...and stop only when MemAvailable > this % (30) */
    uint64_t min_on_ms;           /* stay on at least this long once started (300 s) */
    uint64_t min_off_ms;          /* stay off at least this long, unless memory is low (60 s) */
    bool use_zero_pages;          /* set use_zero_pages=1 on fleets (true) */
    unsigned fleet_min_guests;    /* "a fleet": this many guests or more (2) */
    uint64_t sleep_ms;            /* ksmd's sleep between batches (20, the kernel's) */
    uint64_t min_pages_to_scan;   /* floor of a batch (32) */
    uint64_t max_pages_to_scan;   /* ceiling of a batch (30000, as the advisor's) */
    uint64_t max_sleep_ms;        /* longest sleep when slowing below the floor (2000) */
    uint64_t start_pages_to_scan; /* first batch when ksmd starts (500) */
    uint64_t maintenance_scan_s;  /* converged: rescan everything once per (300 s) */
    uint64_t progress_min_pages;  /* merged this many more pages in an interval = progress (256) */
    uint64_t fixed_pages_to_scan; /* KSM_MODE_FIXED (100, the kernel's default) */
    uint64_t fixed_sleep_ms;      /* KSM_MODE_FIXED (20) */
    uint64_t advisor_target_scan_time_s; /* KSM_MODE_ADVISOR; 0 = leave the kernel's */
    /* The yield rule (docs/ksm.md "On/off: by yield"): a fleet gets a probe;
     * ksmd goes on merging while it saves at least min_yield MiB per ksmd
     * CPU-second, else it stops and re-probes after a back-off. */
    double min_yield_mib_per_cpu_s; /* keep merging at or above this (4); 0 = never stop for it */
    unsigned yield_window;          /* intervals in the sliding window once merging (6) */
    uint64_t probe_max_ms;          /* a probe is judged by then at the latest (1800 s) */
    uint64_t backoff_min_ms;        /* first back-off after a stop for low yield (600 s) */
    uint64_t backoff_max_ms;        /* each back-off doubles, up to this (7200 s) */
};

void ksm_tuner_config_default(struct ksm_tuner_config *cfg);

/*
 * Where the yield rule stands (modes auto and advisor). Every start ballast
 * makes is a probe; a probe that pays turns into merging; a stop for low
 * yield (or no profit) backs off before the next probe.
 */
enum ksm_phase {
    KSM_PHASE_OFF = 0,    /* ksmd off, no back-off pending */
    KSM_PHASE_PROBING,    /* started; judged after a full scan and one interval */
    KSM_PHASE_MERGING,    /* the probe paid: merging while the window's yield holds */
    KSM_PHASE_BACKED_OFF, /* stopped for low yield or no profit: re-probe after backoff_ms */
    KSM_PHASE_EXTERNAL,   /* ksmd runs, started outside ballast: paced, never stopped */
};

/* "off", "probing", "merging", "backed-off", "external". */
const char *ksm_phase_name(enum ksm_phase phase);

/* Longest sliding window of the yield rule, in tuner intervals. */
#define KSM_YIELD_WINDOW_MAX 16

/* Carried by the daemon from one decision to the next; zero-initialise it. */
struct ksm_tuner_state {
    bool initialised;             /* false: first decision, nothing changed yet */
    uint64_t since_change_ms;     /* time since run last changed */
    uint64_t full_scans_at_start; /* full_scans when ksmd was last started */
    uint64_t committed_at_stop;   /* most committed while ksmd ran, at a back-off */
    bool stopped_unprofitable;
    bool converged; /* last interval found nothing new after a full scan */
    /* ballast started ksmd itself. A ksmd someone else started (an admin,
     * ballastd's previous run) has its rate tuned within the budget but is
     * never stopped by auto/advisor: only an explicit ksm_mode = off does. */
    bool started_by_us;

    /* The yield rule. */
    enum ksm_phase phase;
    bool held_by_pressure; /* commitment or low memory keeps ksmd on, whatever it yields */
    uint64_t backoff_ms;   /* the back-off of the last stop; 0 once a probe paid */
    unsigned guests_at_stop;
    double yield_at_stop;    /* MiB per CPU-second that stopped it */
    uint64_t committed_peak; /* the most committed since ksmd started */
    /* What ksmd merged (pages_sharing + ksm_zero_pages) and cost since it started. */
    int64_t probe_saved_pages;
    double probe_cpu_s;
    unsigned probe_intervals;
    double cost_pct_per_pps; /* ksmd's CPU per page/s, last measured (0: never): a restart's pace */
    /* The last yield_window intervals, a ring. */
    int64_t win_saved_pages[KSM_YIELD_WINDOW_MAX];
    double win_cpu_s[KSM_YIELD_WINDOW_MAX];
    unsigned win_len, win_next;
};

struct ksm_tuner_input {
    const struct ksm_tuner_config *cfg;
    uint64_t mem_total_bytes;
    uint64_t mem_available_bytes;
    uint64_t committed_bytes;    /* sum of the guests' memory */
    unsigned guest_count;        /* guests that allow KSM */
    uint64_t page_size;          /* for the yield in MiB; 0 = 4096 */
    struct ksm_host_sample cur;  /* now */
    struct ksm_host_sample prev; /* one interval ago, if have_prev */
    bool have_prev;
    uint64_t interval_ms; /* between prev and cur */
    double ksmd_cpu_pct;  /* ksmd over that interval (ksm_cpu_pct) */
    bool ksmd_cpu_valid;  /* false if ksmd could not be found or sampled */
    struct ksm_tuner_state state;
};

#define KSM_TUNER_MAX_CHANGES 8
#define KSM_TUNER_REASON_LEN  256

struct ksm_tuner_change {
    enum ksm_setting setting;
    uint64_t old_value; /* as read; 0 if the kernel lacks the file */
    uint64_t new_value;
    char reason[KSM_TUNER_REASON_LEN];
};

struct ksm_tuner_output {
    struct ksm_settings settings; /* only what changes: pass to ksm_apply */
    struct ksm_tuner_state state; /* give back as input.state next time */
    unsigned n_changes;
    struct ksm_tuner_change changes[KSM_TUNER_MAX_CHANGES];
    char summary[KSM_TUNER_REASON_LEN]; /* what the tuner sees, for `explain` */
    double target_rate_pages_s;         /* scan rate the tuner aims at (auto), 0 if off */
    /* MiB newly merged per ksmd CPU-second: the probe's so far while probing,
     * the sliding window's while merging, the one that stopped it while
     * backed off; NAN when there is none (auto and advisor only). */
    double yield_mib_per_cpu_s;
    uint64_t reprobe_in_ms; /* backed off: time left before the next probe; 0 otherwise */
};

/*
 * Pure: decides ksmd's settings from the guests (a fleet gets a probe), what
 * ksmd merges per CPU-second, the host's commitment and free memory, and
 * ksmd's measured CPU (see docs/ksm.md for both loops, gains and hysteresis).
 * Returns 0, or -EINVAL when in or out or in->cfg is NULL or the config is
 * inconsistent (budget <= 0, stop thresholds not below start ones...).
 */
int ksm_tuner_decide(const struct ksm_tuner_input *in, struct ksm_tuner_output *out);

/*
 * Pure: what ksmtuned and oVirt MOM would do (same formula, see docs/measurements.md): run when
 * committed + 20% of RAM > RAM or free < 20%; pages_to_scan +300 when free is
 * low, -50 otherwise, within [64, 1250]; sleep = max(10, 10 ms * 16 GiB / RAM).
 * For side-by-side benchmarks. Output as ksm_tuner_decide.
 */
int ksm_tuner_ksmtuned(const struct ksm_tuner_input *in, struct ksm_tuner_output *out);

/* The rate loop's setpoint: ksmd's CPU aims at 80% of the budget. */
#define KSM_RATE_SETPOINT_FRAC 0.80

/*
 * A scan rate (pages/s) as (pages_to_scan, sleep_ms): the configured sleep,
 * longer only below min_pages_to_scan; pages clamped to max_pages_to_scan.
 */
void ksm_rate_settings(const struct ksm_tuner_config *c, double rate, uint64_t *pages,
                       uint64_t *sleep_ms);
/* Nominal scan rate of (pages_to_scan, sleep_ms), pages per second; sleep 0 counts as 1 ms. */
double ksm_rate_of(uint64_t pages_to_scan, uint64_t sleep_ms);
/* Whether a tuner config is consistent (what ksm_tuner_decide and ksm_guard_decide accept). */
bool ksm_tuner_config_ok(const struct ksm_tuner_config *c);
/* The slowest rate the tuner sets: min_pages_to_scan per max_sleep_ms. */
double ksm_rate_min(const struct ksm_tuner_config *c);

/* ------------------------------------------------------------- slice guard */

/*
 * The budget caps every 10 s slice of ksmd's CPU, but the rate loop
 * (ksm_tuner_decide) measures whole intervals (ksm_interval_ms, 10 s): when
 * the cost per page jumps (merging begins over a booting fleet, guests'
 * pages churn under a burst), ksmd runs over for a whole interval before the
 * loop sees it (bench-density measured 16% slices against 10%). So while
 * ballast paces a running ksmd (auto mode), ballastd reads ksmd's CPU every
 * KSM_GUARD_PERIOD_MS; a window over the budget (by more than one clock
 * tick's worth) cuts the scan rate at once, to the rate that brings the
 * slice the window opens back to the setpoint:
 *
 *   target CPU = (setpoint x budget x 10 s - CPU x window) / (10 s - window)
 *
 * (at least the tuner's slowest rate). Within the budget it does nothing:
 * raising the rate stays the loop's job, which resumes from the rate the
 * guard left. Worst case, a 3x step in cost: one 1 s window at 30%, then
 * 5.6% for the rest: the slice stays at 8%.
 */
#define KSM_SLICE_MS        10000
#define KSM_GUARD_PERIOD_MS 1000

struct ksm_guard_input {
    const struct ksm_tuner_config *cfg;
    struct ksm_host_sample cur; /* ksmd's settings now */
    double ksmd_cpu_pct;        /* ksmd over the window, % of a core */
    double resolution_pct;      /* one clock tick over the window, % of a core */
    uint64_t window_ms;         /* > 0 and < KSM_SLICE_MS */
};

struct ksm_guard_output {
    struct ksm_settings settings; /* only what changes; mask 0: within the budget */
    double rate_pages_s;          /* the rate ksmd ran at */
    double target_rate_pages_s;   /* the rate cut to (= rate_pages_s when nothing changes) */
    char reason[KSM_TUNER_REASON_LEN];
};

/*
 * Pure: the guard's decision for one window (see above). Acts only in auto
 * mode on a running ksmd. Returns 0, or -EINVAL for NULL pointers, an
 * inconsistent config, a window of 0 or of a whole slice or more, or a CPU
 * figure that is negative or not finite.
 */
int ksm_guard_decide(const struct ksm_guard_input *in, struct ksm_guard_output *out);

#endif
