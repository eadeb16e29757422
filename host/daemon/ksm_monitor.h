/*
 * ballastd's KSM monitor: the daemon-side glue around host/ksm. Each time the
 * manager calls it (once per ksm_interval_ms, at a tick) it reads /sys/kernel/mm/ksm and every VM's
 * /proc/PID/ksm_stat, turns them into bytes saved per VM and per host (sharing, zero pages, rmap
 * cost, net), and logs a line when a figure changes materially. Every ksm_interval_ms it measures
 * ksmd's CPU from its /proc stat, asks the pure tuner (ksm_tuner_decide) for settings, writes them
 * (ksm_apply) and logs each change with its reason. It fills the KSM members of the status document
 * and of `explain`.
 *
 * State lives in two structs the manager embeds (no allocation per tick):
 * struct ksm_monitor for the host (previous samples, ksmd ticks, the tuner's
 * state) and struct ksm_monitor_vm in each VM. Roots are parameters, so the
 * unit tests run the whole monitor on fixture trees with a fake clock.
 */
#ifndef BALLAST_KSM_MONITOR_H
#define BALLAST_KSM_MONITOR_H

#include "config.h"
#include "control.h"
#include "ksm.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A tuner decision is due when at most this much is left of its interval:
 * ticks do not land exactly on the interval, and waiting for the next tick
 * would stretch a 10 s interval to 15 s at the default 5 s tick. */
#define KSM_MONITOR_SLACK_MS 600
/* Looking for ksmtuned/momd walks all of /proc (a comm read per process, a
 * few hundred syscalls): at most this often while none runs, every decision
 * while one does, and at once when ksmd's knobs moved under us, the symptom
 * of a tuner that started since (ksm_knobs_moved). */
#define KSM_MONITOR_PEER_SCAN_MS 300000

struct ksm_monitor_vm {
    pid_t pid;        /* QEMU's, as last seen; -1 unknown */
    bool valid;       /* proc/acc are from this tick */
    int read_error;   /* last ksm_read_proc error (0, -ESRCH, -EOPNOTSUPP...) */
    bool allowed;     /* the VM's `ksm` policy key */
    bool have_policy; /* allowed is known */
    struct ksm_proc_sample proc;
    struct ksm_vm_account acc;
    bool logged; /* logged_saved_bytes holds the last logged saving */
    int64_t logged_saved_bytes;
    bool warned_mergeable; /* "ksm = false but QEMU's RAM is mergeable", said once */
};

struct ksm_monitor {
    char *sysfs_root;
    char *proc_root;
    uint64_t page_size;
    uint64_t clk_tck;
    bool dry_run;

    /* Configuration (ksm_monitor_configure). */
    struct config_ksm ck;
    bool config_errors; /* ballastd.conf had errors: observe only */
    struct ksm_tuner_config tcfg;

    /* Host sample of this tick. */
    bool host_valid;
    int host_error;
    bool host_warned;
    struct ksm_host_sample cur;
    struct ksm_host_account acc;
    bool logged;
    int64_t logged_saved_bytes;

    /* ksmd's CPU. */
    pid_t ksmd_pid; /* -1: not found (no CPU figures, the tuner still runs) */
    bool ksmd_warned;
    bool ksmd_start_valid;
    uint64_t ksmd_ticks_start, start_ms;
    bool cpu_valid; /* cpu_pct is from the last full interval */
    double cpu_pct, cpu_avg_pct, cpu_seconds;

    /* The tuner, at decision times. */
    bool have_prev;
    struct ksm_host_sample prev; /* host sample at the last decision */
    uint64_t prev_ms;
    uint64_t prev_ticks;
    bool prev_ticks_valid;
    bool decided;
    uint64_t last_decision_ms;
    struct ksm_tuner_state state;
    char summary[KSM_TUNER_REASON_LEN];
    /* The yield rule at the last decision (auto and advisor), for status and explain. */
    enum ksm_phase phase;
    double yield_mib_per_cpu_s; /* NAN: none measured */
    uint64_t reprobe_in_ms;     /* backed off: time to the next probe; 0 otherwise */
    pid_t other_tuner_pid;      /* ksmtuned/momd seen at the last decision, 0 if none */
    bool peer_scanned;
    uint64_t peer_scan_ms; /* last walk of /proc for ksmtuned/momd */
    char last_change[CTL_KSM_REASON_MAX];
    uint64_t changes;          /* settings written since start */
    uint32_t dry_run_proposal; /* hash of the last logged dry-run proposal */

    /* The slice guard (ksm_monitor_guard): ksmd's CPU at its last reading. */
    bool guard_valid;
    pid_t guard_pid;
    uint64_t guard_ticks, guard_ms;
    uint64_t guard_cuts; /* rate cuts since start */
};

/* Sets up km (roots NULL = the real /sys/kernel/mm/ksm and /proc) and finds ksmd. */
void ksm_monitor_init(struct ksm_monitor *km, const char *sysfs_root, const char *proc_root,
                      uint64_t now_ms);
/* Frees what init allocated. */
void ksm_monitor_clear(struct ksm_monitor *km);

/*
 * Pure: the tuner configuration for the config's ksm_* keys. A config with
 * global errors gives observe: ballastd cannot know what the admin meant.
 */
void ksm_monitor_tuner_config(const struct config_ksm *ck, bool config_errors,
                              struct ksm_tuner_config *out);

/* At start and on every reload; logs a mode or budget change. */
void ksm_monitor_configure(struct ksm_monitor *km, const struct config *cfg);
void ksm_monitor_set_dry_run(struct ksm_monitor *km, bool dry_run);

/* Tick, step 1: the host sample (before any VM, whose accounting needs it). */
void ksm_monitor_tick_host(struct ksm_monitor *km);
/* The tuner's interval (config ksm_interval_ms, default 10 s). */
uint64_t ksm_monitor_interval_ms(const struct ksm_monitor *km);
/* Tick, step 2, per VM: pid < 0 when the VM's QEMU is unknown. */
void ksm_monitor_tick_vm(struct ksm_monitor *km, struct ksm_monitor_vm *vm, const char *name,
                         pid_t pid, bool allowed);
/*
 * Tick, step 3: when an interval has passed, measure ksmd and run the tuner.
 * committed_bytes = the guests' nominal RAM; guests = VMs that allow KSM.
 * mem_total_bytes = 0 when the host's meminfo is unknown (no decision).
 */
void ksm_monitor_tick_tune(struct ksm_monitor *km, uint64_t now_ms, uint64_t mem_total_bytes,
                           uint64_t mem_available_bytes, uint64_t committed_bytes, unsigned guests);

/*
 * The slice guard (ksm.h, ksm_guard_decide). Wanted while ballast paces a
 * running ksmd: auto mode, no ksmtuned or momd, not a dry run, ksmd found.
 * ksm_monitor_guard reads ksmd's CPU (one /proc read) and, over the budget,
 * cuts the scan rate at once; the manager calls it every
 * KSM_GUARD_PERIOD_MS while it is wanted.
 */
bool ksm_monitor_guard_wanted(const struct ksm_monitor *km);
void ksm_monitor_guard(struct ksm_monitor *km, uint64_t now_ms);

/*
 * Who owns ksmd (docs/ksm.md, "Who owns ksmd"). ksmd is host-wide and
 * outlives ballastd: a ksmd ballast started is stopped when ballastd exits
 * (ksm_monitor_exit), and a ballastd that crashed learns from the state
 * file that this boot's ksmd is its own (ksm_monitor_take_back). A ksmd
 * started by anyone else - an admin, ksmtuned - is never stopped.
 */
/* Whether ksmd runs because ballast started it (what the state file keeps). */
bool ksm_monitor_owns_ksmd(const struct ksm_monitor *km);
/* At start, from the state file: ballastd started this boot's ksmd. Taken
 * only while ksmd still runs (a ksmd stopped since is nobody's). */
void ksm_monitor_take_back(struct ksm_monitor *km, bool started_by_ballastd);
/*
 * Pure: whether ballastd's exit stops ksmd: only one it started, while its
 * mode writes ksmd's settings (auto, advisor; not observe, nor a dry run,
 * nor while another tuner owns ksmd), and only while it runs.
 */
bool ksm_monitor_exit_stops(enum ksm_mode mode, bool dry_run, bool other_tuner, bool started_by_us,
                            uint64_t run);
/* On exit: stops a ksmd ballast started (run=0: what is merged stays merged,
 * ksmd only stops scanning); logs what it did. */
void ksm_monitor_exit(struct ksm_monitor *km);

/* The KSM members of the status document. */
void ksm_monitor_host_status(const struct ksm_monitor *km, struct ctl_host_status *h);
void ksm_monitor_vm_status(const struct ksm_monitor_vm *vm, struct ctl_vm_status *s);
/* explain's "ksm" member: the VM's figures and policy key, and the tuner's view. */
void ksm_monitor_explain(const struct ksm_monitor *km, const struct ksm_monitor_vm *vm,
                         struct json_writer *w);

#endif
