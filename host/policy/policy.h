/*
 * The ballast policy engine: one pure function that turns a snapshot of the
 * host and of every guest into a balloon target and a reason per VM.
 *
 * The feedback loop it closes (docs/policy.md tells the whole story):
 *   measured  - host MemAvailable and PSI; per guest the balloon's actual size
 *               (query-balloon), the agent's REPORT (MemTotal, MemAvailable,
 *               PSI, oom_kill) or QEMU's guest-stats when there is no agent;
 *   actuated  - the balloon target (QMP `balloon` / virDomainSetMemoryFlags)
 *               and optionally a RECLAIM request to the agent;
 *   rate      - every tick (tunables.tick_interval_ms) and at once when a
 *               PRESSURE frame arrives.
 * Growth is immediate (a guest never waits for memory it needs); shrinking is
 * gradual, toward the working set (MemTotal - MemAvailable, never MemFree)
 * plus headroom, with a deadband, a hold-down after every growth, and stall
 * detection for targets the balloon cannot reach.
 *
 * No I/O, no clock (now_ms is an input), no globals, no allocation: the caller
 * owns every array. Per-VM memory between calls lives in struct
 * policy_vm_state, which the caller keeps (keyed by VM name, across config
 * reloads).
 */
#ifndef BALLAST_POLICY_H
#define BALLAST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_REASON_LEN 160

/* A guest-stats field QEMU reported as -1 (not provided by the guest). */
#define POLICY_UNKNOWN UINT64_MAX

enum policy_mode {
    POLICY_MODE_MANAGED = 0, /* ballastd moves the balloon */
    POLICY_MODE_OBSERVE,     /* chosen by the admin: computes and explains, never actuates */
    POLICY_MODE_FIXED,       /* target = fixed_bytes (or max), nothing else */
    /*
     * Forced by a configuration error, never chosen (policy_mode_parse refuses
     * "safe"): ballastd cannot trust the policy, but it must not leave a guest
     * whose balloon an earlier run inflated to be OOM-killed. So it decides as
     * in managed mode and actuates only what raises the target (growth, urgent
     * growth, blind release, a clamp up to min); it never shrinks and never asks
     * for RECLAIM. An admin's `mode = observe` stays strictly hands-off.
     */
    POLICY_MODE_SAFE,
};

enum policy_decision {
    POLICY_HOLD = 0,    /* target unchanged (deadband, hold-down, waiting) */
    POLICY_SHRINK,      /* gradual step down toward working set + headroom */
    POLICY_GROW,        /* working set rose: back to working set + headroom */
    POLICY_GROW_URGENT, /* guest under pressure: large immediate step */
    POLICY_STALLED,     /* balloon stuck away from target: held where it got */
    POLICY_FIXED_SIZE,  /* mode fixed */
    POLICY_NO_DATA,     /* neither agent nor guest-stats: hold, never shrink blind */
    POLICY_INVALID,     /* unusable input (actual 0, max 0): nothing done */
};

/* What a growth answers, as data (ballastd's log field REASON; benchmarks
 * count by it). The reason text says the same in words. */
enum policy_cause {
    POLICY_CAUSE_NONE = 0,
    POLICY_CAUSE_OOM_KILL,      /* the guest OOM-killed a process */
    POLICY_CAUSE_PSI_FULL,      /* guest PSI full avg10 at or over guest_psi_full_pct */
    POLICY_CAUSE_PRESSURE,      /* a PRESSURE frame from the agent */
    POLICY_CAUSE_PSI_SOME,      /* guest PSI some avg10 at or over guest_psi_some_pct */
    POLICY_CAUSE_MEM_FLOOR,     /* MemAvailable (agent or guest-stats) under the floor */
    POLICY_CAUSE_GUEST_DEFLATE, /* the guest deflated its balloon on OOM */
    POLICY_CAUSE_RISING,        /* working set rising: growth ahead of it */
    POLICY_CAUSE_WORKING_SET,   /* working set ate into the tight headroom */
    POLICY_CAUSE_BLIND,         /* no guest data for blind_release_ms: memory given back */
    POLICY_CAUSE_CLAMP,         /* target outside [min, max] */
};

/* Per-VM policy, resolved to bytes (config.h resolves percentages). */
struct policy_vm_params {
    uint64_t min_bytes;   /* never target below this */
    uint64_t max_bytes;   /* never target above this: the VM's nominal size */
    uint64_t fixed_bytes; /* mode fixed: the target; 0 = max_bytes */
    /* Under host pressure the host takes back what a VM holds over this
     * before it squeezes VMs within theirs (policy_evaluate's pass 2), and
     * ballastd's manager grows no VM past it (planner_guarantee_target):
     * growth beyond it comes from the VM's own share. max_bytes = always
     * (the default, 100%). */
    uint64_t guaranteed_bytes;
    uint32_t shares; /* weight under host pressure: more shares, less squeezed */
    enum policy_mode mode;
    bool agent_required;  /* no fresh agent report -> never shrink */
    bool reclaim_allowed; /* may ask the agent to RECLAIM (drop caches) */
};

/* Host-wide knobs of the engine; config.h fills them from ballastd.conf. */
struct policy_tunables {
    uint64_t tick_interval_ms; /* nominal time between calls; dt fallback */

    /* Host pressure: level 0 at MemAvailable >= high, 1 at <= low (linear
     * between, so behaviour changes smoothly), 1 when PSI some >= threshold. */
    double host_avail_low_pct;
    double host_avail_high_pct;
    double host_psi_some_pct;

    /* Guest pressure, any of which means "grow now". */
    double guest_psi_some_pct;    /* agent PSI some avg10 */
    double guest_psi_full_pct;    /* PSI full avg10 at/over this: straight to max */
    double guest_avail_floor_pct; /* MemAvailable under max(pct of max, bytes) */
    uint64_t guest_avail_floor_bytes;
    double urgent_step_pct; /* an urgent growth is at least this % of max */

    /* Headroom above the working set, host comfortable / host under pressure;
     * each is max(pct of max, bytes), interpolated by the pressure level. */
    double headroom_pct;
    uint64_t headroom_bytes;
    double pressure_headroom_pct;
    uint64_t pressure_headroom_bytes;

    /* Shrinking: each tick closes shrink_gain_pct of the gap (at least one
     * deadband), capped per VM by rate * dt and step_max, scaled up by
     * pressure_step_factor at full host pressure; and the whole fleet's
     * shrink per call is capped by host_shrink_rate * dt. */
    double shrink_gain_pct;
    uint64_t vm_shrink_rate_bytes_per_s;
    uint64_t vm_shrink_step_max_bytes;
    uint64_t host_shrink_rate_bytes_per_s;
    double pressure_step_factor;

    /* Oscillation. */
    double deadband_pct; /* changes under max(pct of max, bytes) are skipped */
    uint64_t deadband_bytes;
    uint64_t grow_hold_ms; /* no shrink for this long after a growth */
    /* No shrink for this long after the guest deflated its balloon on OOM
     * (virtio-balloon deflate-on-oom): it just proved the target too small. */
    uint64_t deflate_hold_ms;

    /* Stall: actual further than stall_tolerance from the target and moving
     * less than that for stall_ticks calls -> hold at actual for retry_ms. */
    uint64_t stall_tolerance_bytes;
    uint32_t stall_ticks;
    uint64_t stall_retry_ms;

    /* Freshness. */
    uint64_t agent_stale_ms;   /* agent report older than this is ignored */
    uint64_t stats_stale_ms;   /* guest-stats older than this are ignored */
    uint64_t blind_release_ms; /* no data at all this long -> give memory back (max); 0 = never */

    /* Idle reclaim: a VM held at its target, its guest without memory
     * pressure, for idle_reclaim_after_ms is asked to RECLAIM its cold page
     * cache (Inactive(file)) when that is at least idle_reclaim_min_bytes.
     * 0 = off. */
    uint64_t idle_reclaim_after_ms;
    uint64_t idle_reclaim_min_bytes;
};

struct policy_host {
    uint64_t mem_total_bytes;
    uint64_t mem_available_bytes;
    bool psi_valid; /* /proc/pressure/memory readable */
    double psi_some_avg10_pct;
    double psi_full_avg10_pct;
};

/* The agent's last REPORT frame (guest /proc/meminfo, /proc/pressure/memory,
 * /proc/vmstat). Untrusted: the engine checks it for plausibility. */
struct policy_agent_report {
    bool valid;               /* a report was ever received on this connection */
    uint64_t age_ms;          /* now - arrival */
    uint64_t mem_total_bytes; /* shrinks while the balloon is inflated */
    uint64_t mem_free_bytes;
    uint64_t mem_available_bytes;
    uint64_t cached_bytes;
    uint64_t inactive_file_bytes; /* cold page cache; 0 = none or not reported */
    double psi_some_avg10_pct;
    double psi_full_avg10_pct;
    uint64_t oom_kill_count; /* /proc/vmstat oom_kill, monotonic in an honest guest */
    /* The balloon's actual size when this report arrived (the caller's last
     * query-balloon / BALLOON_CHANGE then); 0 = unknown, actual_bytes is used. */
    uint64_t balloon_actual_bytes;
    /* What the guest had before the balloon then (boot + plugged for a
     * virtio-mem guest): a balloon inside MemTotal is this less the
     * balloon's actual. 0 = nominal. */
    uint64_t present_bytes;
    /* Memory the actuator kept in the guest above balloon_actual_bytes
     * then and left free (a virtio-mem free net, a block's step:
     * vmsource_balloon.present_extra_bytes): inside MemTotal, neither used
     * nor the balloon's. 0 = none. */
    uint64_t free_extra_bytes;
};

/* QEMU's guest-stats (qom-get .../guest-stats), used when there is no agent.
 * A field the guest did not provide is POLICY_UNKNOWN. */
struct policy_guest_stats {
    bool valid;
    uint64_t age_ms;          /* now - "last-update" */
    uint64_t total_bytes;     /* stat-total-memory */
    uint64_t free_bytes;      /* stat-free-memory */
    uint64_t available_bytes; /* stat-available-memory */
    /* As policy_agent_report.free_extra_bytes, now. 0 = none. */
    uint64_t free_extra_bytes;
};

struct policy_vm_in {
    const char *name; /* for the caller and tests; the engine never reads it */
    struct policy_vm_params params;
    uint64_t actual_bytes;  /* query-balloon "actual"; 0 = unknown */
    uint64_t nominal_bytes; /* memory the VM was started with; 0 = unknown (max_bytes) */
    uint64_t target_bytes;  /* target currently set; 0 = never set (taken as actual) */
    bool pressure_event;    /* a PRESSURE frame arrived since the last call */
    /* != 0: since the last call the balloon rose above this target - the one
     * in force when QEMU saw it rise (event time stamps) - without a command
     * of ours: the guest deflated on OOM, even if a later target of ours is
     * above actual by now. */
    uint64_t guest_raised_over_bytes;
    /* ballastd (re)started and no report of this guest has arrived since (an
     * agent REPORT or PRESSURE, or QEMU guest-stats stamped after the
     * start): whatever the rules decide, the target is not lowered yet.
     * Growth passes. The caller clears it at the first such report. */
    bool awaiting_report;
    /* now_ms-clock time a device of ours last moved (a virtio-mem device
     * plugging or unplugging, as the host last saw it); 0 = never. The
     * guest's figures lag or lead the host's there: an unplug is offlined
     * in the guest before QEMU's size says so, a plug counted by QEMU before
     * the guest onlines it. A report that arrived before then is read as an
     * unseen shrink is (policy.c note_moves_seen). */
    int64_t device_moved_ms;
    /* The balloon is known to run without free page reporting: memory the
     * guest frees stays with the host's copy, so an idle reclaim would cost
     * the guest its cache for nothing. false = on or unknown. */
    bool no_free_page_reporting;
    struct policy_agent_report agent;
    struct policy_guest_stats stats;
};

/* What the engine remembers about a VM between calls. Zero it (or call
 * policy_vm_state_init) for a new VM; keep it across config reloads. */
struct policy_vm_state {
    bool initialized;
    int64_t last_eval_ms;         /* now_ms of the previous call */
    uint64_t last_actual_bytes;   /* actual at the previous call */
    uint64_t last_target_bytes;   /* target the engine asked for last */
    int64_t last_change_ms;       /* when that target last changed */
    int64_t last_grow_ms;         /* last growth (hold-down starts here) */
    bool grown;                   /* last_grow_ms is meaningful */
    int64_t last_shrink_ms;       /* last shrink actuated (paces the next one) */
    bool shrunk;                  /* last_shrink_ms is meaningful */
    bool shrink_unseen;           /* that shrink not in the guest's figures yet */
    int64_t device_moved_ms;      /* the last device move taken from the input */
    bool device_unseen;           /* that move not in the guest's figures yet */
    uint64_t need_smoothed_bytes; /* working set, fast up / slow down */
    uint32_t stall_ticks;         /* consecutive calls without convergence */
    uint64_t stalled_at_bytes;    /* != 0: do not shrink below this ... */
    int64_t stalled_until_ms;     /* ... until this time, then retry */
    uint64_t last_oom_kill_count;
    bool oom_kill_seen;      /* last_oom_kill_count is meaningful */
    int64_t last_data_ms;    /* last call with usable guest data (blind release) */
    uint64_t overhead_bytes; /* actual - agent MemTotal while the balloon stood still */
    bool overhead_known;
    uint64_t last_used_bytes; /* agent MemTotal - MemAvailable at the previous call */
    bool used_known;          /* last_used_bytes is meaningful */
    /* The guest counts its balloon inside MemTotal: a virtio-balloon with
     * deflate-on-oom does not take inflated pages off the guest's managed
     * memory, so MemTotal stays near nominal and the balloon shows as used.
     * Seen once (MemTotal above actual), kept. */
    bool balloon_in_total;
    /* The guest deflated its balloon on OOM (actual rose above the target
     * without a command of ours): counted once per episode, no shrink until
     * deflate_hold_until_ms. */
    uint64_t guest_deflate_events;
    bool deflate_open; /* an episode is being answered: actual still above target */
    bool deflate_held; /* deflate_hold_until_ms is meaningful */
    int64_t deflate_hold_until_ms;
    /* Figures of the last call, for `ballastctl explain` (and the engine's
     * second pass over the fleet): */
    uint64_t goal_bytes;     /* working set + headroom, clamped to [min, max] */
    uint64_t need_bytes;     /* working set as seen: actual - MemAvailable */
    uint64_t step_cap_bytes; /* largest shrink step allowed this call */
    bool shrinkable;         /* eligible for host-pressure reclaim this call */
    /* Idle reclaim: held, without guest pressure, since this time (reset by
     * any change, pressure or idle RECLAIM). */
    int64_t idle_since_ms;
    /* The wait before the next idle RECLAIM: idle_reclaim_after_ms, doubled
     * (up to 16x) while reclaims leave the cold cache where it was; 0 =
     * idle_reclaim_after_ms. The last one asked idle_cold_asked_bytes at
     * idle_reclaim_ms; idle_judge_pending until a later report shows whether
     * it paid. */
    uint64_t idle_wait_ms;
    uint64_t idle_cold_asked_bytes;
    int64_t idle_reclaim_ms;
    bool idle_judge_pending;
};

struct policy_vm_out {
    uint64_t target_bytes; /* what the target should be (also in observe) */
    enum policy_decision decision;
    enum policy_cause cause; /* what a growth answers; NONE for the other decisions */
    bool actuate;            /* set this target now (false in observe) */
    uint64_t reclaim_bytes;  /* > 0: send RECLAIM for this much */
    bool guest_deflated;     /* this call saw a new guest deflate-on-OOM episode */
    char reason[POLICY_REASON_LEN];
};

struct policy_snapshot {
    int64_t now_ms; /* monotonic clock of the caller */
    struct policy_host host;
    const struct policy_tunables *tunables;
    const struct policy_vm_in *vms;
    size_t n_vms;
};

/* Fleet-wide figures of one call, for logs and `ballastctl status`. */
struct policy_summary {
    double host_pressure;        /* 0 comfortable .. 1 full pressure */
    uint64_t host_deficit_bytes; /* how far host MemAvailable is under the high watermark */
    uint64_t shrink_total_bytes; /* sum of shrink steps decided */
    uint64_t grow_total_bytes;   /* sum of growth decided */
    size_t n_urgent, n_stalled, n_actuate;
};

void policy_tunables_default(struct policy_tunables *t);
void policy_vm_params_default(struct policy_vm_params *p, uint64_t nominal_bytes);
void policy_vm_state_init(struct policy_vm_state *s);

/*
 * Decides a target for every VM. states[] and out[] have snap->n_vms entries
 * in the order of snap->vms; states[] is read and updated, out[] written.
 * summary may be NULL. Returns 0, or -EINVAL for NULL pointers / no tunables.
 */
int policy_evaluate(const struct policy_snapshot *snap, struct policy_vm_state *states,
                    struct policy_vm_out *out, struct policy_summary *summary);

/*
 * What a call remembers of the target it asked for (remember_call): the
 * target, when it changed, the last growth and shrink, and that the shrink
 * is not in the guest's figures yet. The caller may not carry a decision
 * out (the planner's gap between shrinks, the host's command budget, a
 * back-off after a failed command): it then puts these back as they were
 * before the call, or the engine would wait for the guest to show a shrink
 * that was never made (and pace the next one from it).
 */
struct policy_actuation_memo {
    uint64_t last_target_bytes;
    int64_t last_change_ms, last_grow_ms, last_shrink_ms;
    bool grown, shrunk, shrink_unseen;
};

void policy_actuation_memo_save(const struct policy_vm_state *s, struct policy_actuation_memo *m);
void policy_actuation_memo_restore(struct policy_vm_state *s,
                                   const struct policy_actuation_memo *m);

/*
 * Would the engine grow this VM if called now? For the caller's event path: a
 * fresh agent REPORT that shows pressure, a working set eating into the
 * headroom or an OOM kill should be acted on at once, not at the next tick.
 * snap holds exactly one VM (snap->vms[0]); state is read, never written.
 */
bool policy_vm_wants_growth(const struct policy_snapshot *snap,
                            const struct policy_vm_state *state);

const char *policy_decision_name(enum policy_decision d);
/* "pressure", "psi_full", ... ; "none" for POLICY_CAUSE_NONE. */
const char *policy_cause_name(enum policy_cause c);
const char *policy_mode_name(enum policy_mode m);
/* "managed" / "observe" / "fixed" -> 0, else -EINVAL ("safe" too: it is
 * forced by configuration errors, never chosen). */
int policy_mode_parse(const char *text, enum policy_mode *out);

#endif
