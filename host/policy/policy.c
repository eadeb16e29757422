/*
 * The policy engine; see policy.h for the contract and docs/policy.md for
 * the loop it closes.
 *
 * One call (policy_evaluate) runs three passes over the fleet, all O(n), no
 * allocation:
 *   1. per VM (decide_vm): read what the guest says (agent, else QEMU
 *      guest-stats, else nothing), detect pressure and stalls, and pick
 *      grow / shrink / hold on the VM's own merits with the host's pressure
 *      level folded into the headroom and the step size - an observe step,
 *      then named rules in a fixed order (vm_rules[]);
 *   2. when the host is under its high watermark, spread what the normal steps
 *      do not cover over the shrinkable VMs, in proportion to reclaimable
 *      memory divided by shares (most slack and fewest shares give most)
 *      (share_out_deficit);
 *   3. cap the whole fleet's shrinking by the host-wide rate (cap_host_rate),
 *      then mark what to RECLAIM and what to actuate, sum up and remember
 *      (request_reclaim, actuate_by_mode, summary_add, remember_call).
 *
 * Why the loop does not oscillate: the working set is measured as
 * actual - MemAvailable, which does not depend on the balloon size (the
 * guest's MemTotal and MemAvailable shrink together when the balloon
 * inflates), so moving the target does not move the set point. On top:
 * growth is immediate and shrinking slow (asymmetric gains), changes inside
 * the deadband are skipped, the set point sits at least a deadband above the
 * growth trigger, no shrink follows a growth for grow_hold_ms, the working
 * set used for shrinking rises at once but decays only halfway per tick, and
 * figures that may predate our own last shrink grow a guest only on real
 * pressure (note_shrink_seen).
 */
#include "policy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MIB (1ULL << 20)
/* For reasons: whole MiB, rounded. */
#define MIBS(b) ((unsigned long long)(((b) + MIB / 2) / MIB))

void policy_tunables_default(struct policy_tunables *t)
{
    *t = (struct policy_tunables){
        .tick_interval_ms = 5000,
        .host_avail_low_pct = 10.0,
        .host_avail_high_pct = 20.0,
        .host_psi_some_pct = 10.0,
        .guest_psi_some_pct = 10.0,
        .guest_psi_full_pct = 5.0,
        .guest_avail_floor_pct = 2.0,
        .guest_avail_floor_bytes = 8 * MIB,
        .urgent_step_pct = 25.0,
        .headroom_pct = 10.0,
        .headroom_bytes = 32 * MIB,
        .pressure_headroom_pct = 3.0,
        .pressure_headroom_bytes = 8 * MIB,
        .shrink_gain_pct = 25.0,
        .vm_shrink_rate_bytes_per_s = 8 * MIB,
        .vm_shrink_step_max_bytes = 64 * MIB,
        .host_shrink_rate_bytes_per_s = 256 * MIB,
        .pressure_step_factor = 4.0,
        .deadband_pct = 2.0,
        .deadband_bytes = 4 * MIB,
        .grow_hold_ms = 60000,
        .deflate_hold_ms = 300000,
        .stall_tolerance_bytes = 1 * MIB,
        .stall_ticks = 3,
        .stall_retry_ms = 300000,
        .agent_stale_ms = 15000,
        .stats_stale_ms = 30000,
        .blind_release_ms = 120000,
        .idle_reclaim_after_ms = 30000,
        .idle_reclaim_min_bytes = 4 * MIB,
    };
}

void policy_vm_params_default(struct policy_vm_params *p, uint64_t nominal_bytes)
{
    *p = (struct policy_vm_params){
        .min_bytes = nominal_bytes / 4,
        .max_bytes = nominal_bytes,
        .fixed_bytes = nominal_bytes,
        .guaranteed_bytes = nominal_bytes,
        .shares = 1000,
        .mode = POLICY_MODE_MANAGED,
        .agent_required = false,
        .reclaim_allowed = true,
    };
}

void policy_vm_state_init(struct policy_vm_state *s)
{
    memset(s, 0, sizeof(*s));
}

static const char *const decision_names[] = {
    [POLICY_HOLD] = "hold",       [POLICY_SHRINK] = "shrink",
    [POLICY_GROW] = "grow",       [POLICY_GROW_URGENT] = "grow_urgent",
    [POLICY_STALLED] = "stalled", [POLICY_FIXED_SIZE] = "fixed",
    [POLICY_NO_DATA] = "no_data", [POLICY_INVALID] = "invalid",
};

static const char *const cause_names[] = {
    [POLICY_CAUSE_NONE] = "none",
    [POLICY_CAUSE_OOM_KILL] = "oom_kill",
    [POLICY_CAUSE_PSI_FULL] = "psi_full",
    [POLICY_CAUSE_PRESSURE] = "pressure",
    [POLICY_CAUSE_PSI_SOME] = "psi_some",
    [POLICY_CAUSE_MEM_FLOOR] = "mem_floor",
    [POLICY_CAUSE_GUEST_DEFLATE] = "guest_deflate",
    [POLICY_CAUSE_RISING] = "rising",
    [POLICY_CAUSE_WORKING_SET] = "working_set",
    [POLICY_CAUSE_BLIND] = "blind",
    [POLICY_CAUSE_CLAMP] = "clamp",
};

static const char *const mode_names[] = {
    [POLICY_MODE_MANAGED] = "managed",
    [POLICY_MODE_OBSERVE] = "observe",
    [POLICY_MODE_FIXED] = "fixed",
    [POLICY_MODE_SAFE] = "safe",
};

const char *policy_decision_name(enum policy_decision d)
{
    if ((size_t)d < sizeof(decision_names) / sizeof(decision_names[0]) && decision_names[d])
        return decision_names[d];
    return "?";
}

const char *policy_cause_name(enum policy_cause c)
{
    if ((size_t)c < sizeof(cause_names) / sizeof(cause_names[0]) && cause_names[c])
        return cause_names[c];
    return "?";
}

const char *policy_mode_name(enum policy_mode m)
{
    if ((size_t)m < sizeof(mode_names) / sizeof(mode_names[0]) && mode_names[m])
        return mode_names[m];
    return "?";
}

int policy_mode_parse(const char *text, enum policy_mode *out)
{
    if (!text || !out)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
        if (i == POLICY_MODE_SAFE)
            continue; /* forced by config errors, never chosen */
        if (strcmp(text, mode_names[i]) == 0) {
            *out = (enum policy_mode)i;
            return 0;
        }
    }
    return -EINVAL;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t diff_u64(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* pct% of bytes, for pct in [0, 100] (larger values are the caller's bug,
 * but saturate rather than wrap). */
static uint64_t pct_of(uint64_t bytes, double pct)
{
    if (!(pct > 0.0))
        return 0;
    double v = (double)bytes * pct / 100.0;
    return v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
}

static uint64_t round_up_mib(uint64_t b)
{
    if (b > UINT64_MAX - (MIB - 1))
        return UINT64_MAX & ~(MIB - 1);
    return (b + MIB - 1) & ~(MIB - 1);
}

static uint64_t scale_u64(uint64_t bytes, double factor)
{
    if (!(factor > 0.0))
        return 0;
    double v = (double)bytes * factor;
    return v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
}

__attribute__((format(printf, 2, 3))) static void reason_set(struct policy_vm_out *o,
                                                             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void reason_append(struct policy_vm_out *o,
                                                                const char *fmt, ...)
{
    size_t len = strnlen(o->reason, sizeof(o->reason));
    if (len + 1 >= sizeof(o->reason))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->reason + len, sizeof(o->reason) - len, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void reason_prefix(struct policy_vm_out *o,
                                                                const char *fmt, ...)
{
    char head[64];
    char tail[POLICY_REASON_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(tail, o->reason, sizeof(tail));
    tail[sizeof(tail) - 1] = '\0';
    /* Truncation is fine here: the head matters most. */
    size_t head_len = strnlen(head, sizeof(head));
    size_t tail_len = strnlen(tail, sizeof(tail));
    if (head_len > sizeof(o->reason) - 1)
        head_len = sizeof(o->reason) - 1;
    if (tail_len > sizeof(o->reason) - 1 - head_len)
        tail_len = sizeof(o->reason) - 1 - head_len;
    memcpy(o->reason, head, head_len);
    memcpy(o->reason + head_len, tail, tail_len);
    o->reason[head_len + tail_len] = '\0';
}

/* 0 when the host is comfortable, 1 at full pressure; linear in between so
 * crossing a watermark changes behaviour gradually, not in a jump. */
static double host_pressure_level(const struct policy_host *h, const struct policy_tunables *t,
                                  uint64_t *deficit_bytes)
{
    *deficit_bytes = 0;
    double level = 0.0;
    if (h->mem_total_bytes > 0) {
        double avail_pct = (double)h->mem_available_bytes * 100.0 / (double)h->mem_total_bytes;
        double span = t->host_avail_high_pct - t->host_avail_low_pct;
        if (span > 0.0)
            level = (t->host_avail_high_pct - avail_pct) / span;
        else
            level = avail_pct < t->host_avail_high_pct ? 1.0 : 0.0;
        *deficit_bytes =
            sub_sat(pct_of(h->mem_total_bytes, t->host_avail_high_pct), h->mem_available_bytes);
    }
    if (h->psi_valid && t->host_psi_some_pct > 0.0 && h->psi_some_avg10_pct >= t->host_psi_some_pct)
        level = 1.0;
    if (!(level > 0.0))
        level = 0.0;
    if (level > 1.0)
        level = 1.0;
    return level;
}

static bool psi_plausible(double v)
{
    return isfinite(v) && v >= 0.0 && v <= 100.0;
}

/* What the guest tells us this call, after plausibility checks. */
struct guest_view {
    bool have;       /* available_bytes and need_bytes are usable */
    bool from_agent; /* the agent (not guest-stats) supplied them */
    uint64_t available_bytes;
    uint64_t free_bytes;
    uint64_t need_bytes; /* actual - available: the working set plus kernel overhead */
    uint64_t used_bytes; /* agent MemTotal - MemAvailable: independent of the balloon */
    bool urgent;
    bool heavy;              /* go straight to max */
    enum policy_cause cause; /* what made it urgent */
    char why[128];           /* what made it urgent / what was ignored */
};

/* The size the VM was started with; its policy max when unknown. */
static uint64_t vm_nominal(const struct policy_vm_in *in)
{
    return in->nominal_bytes ? in->nominal_bytes : in->params.max_bytes;
}

/* The target in force: the one set, or actual when none was set yet. */
static uint64_t vm_cur(const struct policy_vm_in *in)
{
    return in->target_bytes ? in->target_bytes : in->actual_bytes;
}

/* How far a guest's total may lie above the balloon's actual and still be
 * believed: a report taken just before an inflation shows the old size. */
static uint64_t total_slack(uint64_t max_bytes)
{
    return max_u64(pct_of(max_bytes, 2.0), 2 * MIB);
}

/* The agent's report is untrusted: a guest may lie to keep memory, or be
 * confused. Reject what cannot be true; the caller falls back. */
static bool agent_plausible(const struct policy_vm_in *in, const struct policy_vm_state *s,
                            uint64_t slack_bytes, char *why, size_t why_len)
{
    const struct policy_agent_report *a = &in->agent;
    if (a->mem_total_bytes == 0) {
        snprintf(why, why_len, "agent MemTotal 0");
        return false;
    }
    if (a->mem_available_bytes > a->mem_total_bytes) {
        snprintf(why, why_len, "agent MemAvailable %llu MiB > MemTotal %llu MiB",
                 MIBS(a->mem_available_bytes), MIBS(a->mem_total_bytes));
        return false;
    }
    if (a->mem_free_bytes > a->mem_total_bytes) {
        snprintf(why, why_len, "agent MemFree > MemTotal");
        return false;
    }
    /* With deflate-on-oom the balloon stays inside MemTotal: the bound is then
     * the VM's nominal size, not the balloon's actual. Memory the actuator
     * keeps free in the guest above its actual (free_extra_bytes) is inside
     * MemTotal too. */
    uint64_t bound =
        s->balloon_in_total ? vm_nominal(in) : add_sat(in->actual_bytes, a->free_extra_bytes);
    if (a->mem_total_bytes > add_sat(bound, slack_bytes)) {
        snprintf(why, why_len, "agent MemTotal %llu MiB > balloon actual %llu MiB",
                 MIBS(a->mem_total_bytes), MIBS(in->actual_bytes));
        return false;
    }
    if (!psi_plausible(a->psi_some_avg10_pct) || !psi_plausible(a->psi_full_avg10_pct)) {
        snprintf(why, why_len, "agent PSI out of [0, 100]");
        return false;
    }
    if (s->oom_kill_seen && a->oom_kill_count < s->last_oom_kill_count) {
        snprintf(why, why_len, "agent oom_kill count went backwards");
        return false;
    }
    return true;
}

/* A report younger than agent_stale_ms; older ones are ignored. */
static bool agent_fresh(const struct policy_vm_in *in, const struct policy_tunables *t)
{
    return in->agent.valid && in->agent.age_ms <= t->agent_stale_ms;
}

/*
 * The guest's own use (MemTotal - MemAvailable, which does not move with the
 * balloon) and its working set as the balloon sees it (need = actual -
 * MemAvailable), from a plausible agent report.
 */
static void agent_need(const struct policy_vm_in *in, const struct policy_tunables *t,
                       const struct policy_vm_state *s, struct guest_view *g)
{
    const struct policy_agent_report *a = &in->agent;
    g->used_bytes = a->mem_total_bytes - a->mem_available_bytes;
    if (s->balloon_in_total) {
        /* MemTotal - MemAvailable counts the balloon as used: take off
         * the balloon as it was when the report arrived. The kernel's
         * share is nominal - MemTotal, whatever the balloon does, so
         * no learned overhead is needed. For a virtio-mem guest "nominal"
         * is what it had plugged then, not the device's max: unplugged
         * memory is neither in MemTotal nor in the balloon. */
        uint64_t nominal = a->present_bytes ? a->present_bytes : vm_nominal(in);
        uint64_t at_report = a->balloon_actual_bytes ? a->balloon_actual_bytes : in->actual_bytes;
        /* Free memory the actuator kept above the actual is not the
         * balloon's: only the balloon's pages count as used. */
        at_report = add_sat(at_report, a->free_extra_bytes);
        g->used_bytes = sub_sat(g->used_bytes, sub_sat(nominal, at_report));
        g->need_bytes = add_sat(g->used_bytes, sub_sat(nominal, a->mem_total_bytes));
        return;
    }
    /*
     * need = actual - MemAvailable = used + (actual - MemTotal), the
     * last term being the kernel's own share, constant whatever the
     * balloon does. While the balloon moves, actual (a fresh
     * query-balloon) and the report (up to a second old) disagree:
     * right after a deflation `actual - MemAvailable` would count the
     * new pages as used and grow the guest a second time. So do a report
     * that shows our last shrink and an actual ballastd has not caught up
     * with (shrink_unseen): that would count the step as used and grow
     * the guest straight back. Then the overhead learned while the balloon
     * stood still is used instead.
     */
    const bool moved = diff_u64(in->actual_bytes, s->last_actual_bytes) > t->stall_tolerance_bytes;
    uint64_t overhead = sub_sat(add_sat(in->actual_bytes, a->free_extra_bytes), a->mem_total_bytes);
    if (s->overhead_known && (moved || s->shrink_unseen || s->device_unseen))
        overhead = s->overhead_bytes;
    g->need_bytes = add_sat(g->used_bytes, overhead);
}

/* What in the agent's report means "grow now", strongest first: an OOM kill
 * or PSI full go straight to max, the rest take an urgent step. */
static void agent_urgency(const struct policy_vm_in *in, const struct policy_tunables *t,
                          const struct policy_vm_state *s, uint64_t floor_bytes,
                          struct guest_view *g)
{
    const struct policy_agent_report *a = &in->agent;
    if (s->oom_kill_seen && a->oom_kill_count > s->last_oom_kill_count) {
        g->urgent = g->heavy = true;
        g->cause = POLICY_CAUSE_OOM_KILL;
        snprintf(g->why, sizeof(g->why), "guest OOM-killed %llu process(es)",
                 (unsigned long long)(a->oom_kill_count - s->last_oom_kill_count));
    } else if (t->guest_psi_full_pct > 0.0 && a->psi_full_avg10_pct >= t->guest_psi_full_pct) {
        g->urgent = g->heavy = true;
        g->cause = POLICY_CAUSE_PSI_FULL;
        snprintf(g->why, sizeof(g->why), "guest PSI full %.1f%%", a->psi_full_avg10_pct);
    } else if (in->pressure_event) {
        g->urgent = true;
        g->cause = POLICY_CAUSE_PRESSURE;
        snprintf(g->why, sizeof(g->why), "PRESSURE from agent");
    } else if (t->guest_psi_some_pct > 0.0 && a->psi_some_avg10_pct >= t->guest_psi_some_pct) {
        g->urgent = true;
        g->cause = POLICY_CAUSE_PSI_SOME;
        snprintf(g->why, sizeof(g->why), "guest PSI some %.1f%%", a->psi_some_avg10_pct);
    } else if (a->mem_available_bytes < floor_bytes) {
        g->urgent = true;
        g->cause = POLICY_CAUSE_MEM_FLOOR;
        snprintf(g->why, sizeof(g->why), "guest MemAvailable %llu MiB < floor %llu MiB",
                 MIBS(a->mem_available_bytes), MIBS(floor_bytes));
    }
}

static void guest_from_agent(const struct policy_vm_in *in, const struct policy_tunables *t,
                             const struct policy_vm_state *s, uint64_t floor_bytes,
                             struct guest_view *g)
{
    g->have = true;
    g->from_agent = true;
    g->available_bytes = in->agent.mem_available_bytes;
    g->free_bytes = in->agent.mem_free_bytes;
    agent_need(in, t, s, g);
    agent_urgency(in, t, s, floor_bytes, g);
}

/*
 * QEMU's guest-stats, when there is no usable agent report. False when they
 * are stale, incomplete or implausible; then `ignored` says so, unless it
 * already says why the agent's report was ignored.
 */
static bool guest_from_stats(const struct policy_vm_in *in, const struct policy_tunables *t,
                             const struct policy_vm_state *s, uint64_t floor_bytes, char *ignored,
                             size_t ignored_len, struct guest_view *g)
{
    const struct policy_guest_stats *st = &in->stats;
    if (!st->valid || st->age_ms > t->stats_stale_ms || st->total_bytes == POLICY_UNKNOWN ||
        st->free_bytes == POLICY_UNKNOWN)
        return false;
    /* stat-available-memory needs a 4.16+ guest; MemFree understates
     * what the guest could give, which only errs on the safe side. */
    uint64_t avail = st->available_bytes != POLICY_UNKNOWN ? st->available_bytes : st->free_bytes;
    /* Memory kept free above the actual (free_extra_bytes) is in the stats too. */
    uint64_t held_actual = add_sat(in->actual_bytes, st->free_extra_bytes);
    uint64_t bound = s->balloon_in_total ? vm_nominal(in) : held_actual;
    if (avail > st->total_bytes || st->free_bytes > st->total_bytes ||
        st->total_bytes > add_sat(bound, total_slack(in->params.max_bytes))) {
        if (!ignored[0])
            snprintf(ignored, ignored_len, "guest-stats implausible");
        return false;
    }
    g->have = true;
    g->available_bytes = avail;
    g->free_bytes = st->free_bytes;
    g->need_bytes = sub_sat(held_actual, avail);
    if (in->pressure_event) {
        g->urgent = true;
        g->cause = POLICY_CAUSE_PRESSURE;
        snprintf(g->why, sizeof(g->why), "PRESSURE from agent");
    } else if (avail < floor_bytes) {
        g->urgent = true;
        g->cause = POLICY_CAUSE_MEM_FLOOR;
        snprintf(g->why, sizeof(g->why), "guest-stats available %llu MiB < floor %llu MiB",
                 MIBS(avail), MIBS(floor_bytes));
    } else if (ignored[0]) {
        snprintf(g->why, sizeof(g->why), "%s, using guest-stats", ignored);
    }
    return true;
}

/* What the guest tells us this call: the agent's report if fresh and
 * plausible, else QEMU's guest-stats if fresh and plausible, else nothing
 * (g->have false), with g->why saying what was ignored and why. */
static void read_guest(const struct policy_vm_in *in, const struct policy_tunables *t,
                       const struct policy_vm_state *s, uint64_t floor_bytes, struct guest_view *g)
{
    memset(g, 0, sizeof(*g));
    char ignored[80] = "";
    bool fresh = agent_fresh(in, t);
    if (fresh &&
        agent_plausible(in, s, total_slack(in->params.max_bytes), ignored, sizeof(ignored))) {
        guest_from_agent(in, t, s, floor_bytes, g);
        return;
    }
    if (!fresh && in->agent.valid)
        snprintf(ignored, sizeof(ignored), "agent report %llus old",
                 (unsigned long long)(in->agent.age_ms / 1000));
    if (guest_from_stats(in, t, s, floor_bytes, ignored, sizeof(ignored), g))
        return;

    /* Nothing usable. A PRESSURE frame still counts: the agent is alive and
     * says the guest stalls, whatever its last report looked like. */
    if (in->pressure_event) {
        g->urgent = true;
        g->cause = POLICY_CAUSE_PRESSURE;
        snprintf(g->why, sizeof(g->why), "PRESSURE from agent (no usable report)");
    } else if (ignored[0]) {
        snprintf(g->why, sizeof(g->why), "%s", ignored);
    }
}

/*
 * Pass 1: one VM on its own merits.
 *
 * decide_vm() first observes the VM once - the sizes this call works with,
 * what the guest says, what the balloon did since the last call - into a
 * struct vm_view, remembering in the VM's state what the next call needs.
 * Then it tries the rules of vm_rules[] in order; the first that decides
 * wins (docs/policy.md, "Decisions, in order"). Two rules come before the
 * observation, because there is nothing to observe (invalid) or nothing to
 * decide (fixed). Every rule reads the view, writes out->target_bytes,
 * decision and reason, and updates the state it owns (hold-down, stall).
 */

/* One VM as this call sees it; built by view_init and observe_vm, read by
 * the rules. */
struct vm_view {
    const struct policy_tunables *t;
    const struct policy_vm_in *in;
    struct policy_vm_params p;     /* the VM's policy, min clamped to max */
    bool clamped_policy;           /* the policy had min > max */
    int64_t now_ms;                /* the caller's clock */
    double level;                  /* host pressure, 0 comfortable .. 1 full */
    uint64_t cur_bytes;            /* target in force (actual if never set) */
    uint64_t tick_ms;              /* nominal time between calls */
    uint64_t dt_ms;                /* shrink allowance: time since the last shrink */
    uint64_t floor_bytes;          /* guest MemAvailable under this is pressure */
    uint64_t deadband_bytes;       /* target changes smaller than this are not made */
    uint64_t headroom_tight_bytes; /* headroom at full host pressure */
    uint64_t headroom_bytes;       /* headroom of the moment, >= grow margin + deadband */
    uint64_t grow_margin_bytes;    /* grow when need + this passes the target */
    struct guest_view g;           /* what the guest says (read_guest) */
    bool guarded;                  /* our shrink unseen, figures tied to the balloon */
    uint64_t rise_bytes;           /* rise of the guest's own use since the last report */
    bool stalled_now;              /* the balloon stopped short of a lower target */
    uint64_t grow_goal_bytes;      /* latest need + headroom, clamped; 0 without data */
    uint64_t goal_bytes;           /* the larger of that and smoothed need + headroom */
};

static uint64_t vm_deadband(const struct policy_tunables *t, uint64_t max_bytes)
{
    return max_u64(pct_of(max_bytes, t->deadband_pct), t->deadband_bytes);
}

/* Shrink steps grow with host pressure, up to pressure_step_factor. */
static double step_factor(const struct policy_tunables *t, double level)
{
    return 1.0 + (t->pressure_step_factor > 1.0 ? t->pressure_step_factor - 1.0 : 0.0) * level;
}

/* The largest shrink for an allowance of ms: rate * ms, at most step_max,
 * times the pressure factor. */
static uint64_t shrink_cap(const struct policy_tunables *t, uint64_t ms, double factor)
{
    uint64_t cap = min_u64(scale_u64(t->vm_shrink_rate_bytes_per_s, (double)ms / 1000.0),
                           t->vm_shrink_step_max_bytes);
    return scale_u64(cap, factor);
}

static void decide(struct policy_vm_out *out, enum policy_decision d, uint64_t target_bytes)
{
    out->decision = d;
    out->target_bytes = target_bytes;
}

/* A growth restarts the hold-down: no shrink for grow_hold_ms. */
static void note_growth(const struct vm_view *v, struct policy_vm_state *s)
{
    s->last_grow_ms = v->now_ms;
    s->grown = true;
    s->shrink_unseen = false; /* the target is up again: nothing to read late */
    s->idle_since_ms = 0;     /* pressure, even at max: not idle */
}

/* The VM's policy and the timing of this call: all that the rules before
 * the observation need. */
static void view_init(struct vm_view *v, const struct policy_snapshot *snap, double level,
                      const struct policy_vm_in *in, const struct policy_vm_state *s)
{
    memset(v, 0, sizeof(*v));
    v->t = snap->tunables;
    v->in = in;
    v->p = in->params;
    if (v->p.min_bytes > v->p.max_bytes) {
        v->p.min_bytes = v->p.max_bytes; /* config should have refused it; stay safe */
        v->clamped_policy = true;
    }
    v->now_ms = snap->now_ms;
    v->level = level;
    v->cur_bytes = vm_cur(in);

    /* The time since the last shrink bounds the next step (rate * dt): extra
     * calls (the event path, a one-VM snapshot between ticks) do not add
     * steps, and a long pause (daemon stopped, host suspended) does not turn
     * into one giant step. */
    v->tick_ms = v->t->tick_interval_ms ? v->t->tick_interval_ms : 5000;
    v->dt_ms = v->tick_ms;
    if (s->shrunk)
        v->dt_ms = v->now_ms > s->last_shrink_ms
                       ? min_u64((uint64_t)(v->now_ms - s->last_shrink_ms), 4 * v->tick_ms)
                       : 0;
}

/* The sizes the rules work with, each max(pct of max, bytes): the guest's
 * pressure floor, the deadband, and the headroom, which host pressure moves
 * from its comfortable to its tight value. */
static void view_sizes(struct vm_view *v)
{
    const struct policy_tunables *t = v->t;
    const uint64_t max = v->p.max_bytes;
    v->floor_bytes = max_u64(pct_of(max, t->guest_avail_floor_pct), t->guest_avail_floor_bytes);
    v->deadband_bytes = vm_deadband(t, max);
    const uint64_t calm = max_u64(pct_of(max, t->headroom_pct), t->headroom_bytes);
    const uint64_t tight =
        max_u64(pct_of(max, t->pressure_headroom_pct), t->pressure_headroom_bytes);
    v->headroom_tight_bytes = tight;
    uint64_t headroom = tight >= calm ? calm : calm - scale_u64(calm - tight, v->level);
    /* The growth trigger: the tight headroom, never under the guest's own
     * pressure floor plus a deadband - shrinking into the floor would trigger
     * an urgent growth, then a shrink again, forever. */
    v->grow_margin_bytes = max_u64(tight, add_sat(v->floor_bytes, v->deadband_bytes));
    /* The set point a deadband above the trigger: a guest left there is not
     * grown back by its report's noise (MemAvailable wanders by a few MiB as
     * it reclaims), only by a rise of a deadband or more. budget.c's floor
     * (tightest_headroom) is this at level 1. */
    v->headroom_bytes = max_u64(headroom, add_sat(v->grow_margin_bytes, v->deadband_bytes));
}

/*
 * deflate-on-oom balloons stay inside the guest's MemTotal (see
 * policy_vm_state.balloon_in_total): a fresh report or guest-stats with a
 * total above the balloon's actual, but not above nominal, shows it. Only
 * while the balloon stands still since the report arrived (for guest-stats:
 * since the last call): a report taken just before a shrink shows the old,
 * larger MemTotal above the new actual - that is not the mode, and taking it
 * for the mode would subtract the balloon from a use that never contained
 * it. Once seen, kept.
 */
static void note_balloon_in_total(const struct vm_view *v, struct policy_vm_state *s)
{
    const struct policy_vm_in *in = v->in;
    const struct policy_tunables *t = v->t;
    uint64_t total = 0, seen_at = in->actual_bytes, extra = 0;
    bool from_stats = false;
    if (agent_fresh(in, t)) {
        /* Only when the caller says which balloon the report saw. Memory
         * kept free above the actual (free_extra_bytes) is no balloon. */
        total = in->agent.balloon_actual_bytes ? in->agent.mem_total_bytes : 0;
        seen_at = in->agent.balloon_actual_bytes;
        extra = in->agent.free_extra_bytes;
    } else if (in->stats.valid && in->stats.age_ms <= t->stats_stale_ms &&
               in->stats.total_bytes != POLICY_UNKNOWN) {
        total = in->stats.total_bytes;
        extra = in->stats.free_extra_bytes;
        from_stats = true;
    }
    const uint64_t slack = total_slack(v->p.max_bytes);
    const uint64_t tolerance = t->stall_tolerance_bytes;
    if (s->initialized && diff_u64(in->actual_bytes, seen_at) <= tolerance &&
        (!from_stats || diff_u64(in->actual_bytes, s->last_actual_bytes) <= tolerance) &&
        total > add_sat(add_sat(in->actual_bytes, extra), slack) &&
        total <= add_sat(vm_nominal(in), slack))
        s->balloon_in_total = true;
}

/*
 * A device of ours moved (a virtio-mem device plugging or unplugging, also
 * with no target change: the recent peak's net ageing out moves blocks from
 * the device to nowhere and pages out of the balloon at once). While it
 * moves the guest's figures and the host's disagree by up to the whole
 * move: the guest offlines what it unplugs before QEMU's size drops, and
 * QEMU throttles the size event. That read as 60-100 MiB more working set
 * the moment a net aged out and grew both guests of integration.daemon.vmem
 * for nothing (docs/virtio-mem.md). So figures that arrived before the host
 * last saw the device move are guarded as for an unseen shrink: growth on
 * real pressure only, nothing learned; the first report after it reads the
 * guest again.
 */
static void note_device_seen(const struct vm_view *v, struct policy_vm_state *s)
{
    const struct policy_vm_in *in = v->in;
    if (in->device_moved_ms > s->device_moved_ms) {
        s->device_moved_ms = in->device_moved_ms;
        s->device_unseen = true;
    }
    if (!s->device_unseen || !v->g.have)
        return;
    const uint64_t since_ms =
        v->now_ms > s->device_moved_ms ? (uint64_t)(v->now_ms - s->device_moved_ms) : 0;
    const uint64_t age_ms = v->g.from_agent ? in->agent.age_ms : in->stats.age_ms;
    if (age_ms < since_ms)
        s->device_unseen = false;
}

/*
 * Our own shrink, read late. After a shrink the guest's next figures may
 * have arrived before it, or be read against a balloon size ballastd has
 * not caught up with (query-balloon and BALLOON_CHANGE lag the balloon;
 * libvirt is read once a tick): figures and balloon then disagree by the
 * step, which reads as usage and grew the guest straight back (96 -> 80 ->
 * 96 MiB within a second on libvirt guests). So the shrink stays unseen
 * until figures arrive after it with the balloon at the new target, both
 * when they arrived and now. Meanwhile the agent's own use plus the
 * kernel's share learned before (agent_need) still reads the guest
 * whatever the balloon does; any other reading (a balloon inside MemTotal,
 * guest-stats, no share learned yet) is guarded: it grows the guest only on
 * real pressure (rule_grow_urgent) and teaches nothing.
 */
static void note_shrink_seen(struct vm_view *v, struct policy_vm_state *s)
{
    const struct policy_vm_in *in = v->in;
    const struct guest_view *g = &v->g;
    note_device_seen(v, s);
    v->guarded = s->device_unseen;
    if (!s->shrink_unseen || !g->have)
        return;
    const uint64_t at = add_sat(v->cur_bytes, v->t->stall_tolerance_bytes);
    const uint64_t since_ms =
        v->now_ms > s->last_shrink_ms ? (uint64_t)(v->now_ms - s->last_shrink_ms) : 0;
    const uint64_t age_ms = g->from_agent ? in->agent.age_ms : in->stats.age_ms;
    const uint64_t seen_at = g->from_agent && in->agent.balloon_actual_bytes
                                 ? in->agent.balloon_actual_bytes
                                 : in->actual_bytes;
    if (age_ms < since_ms && in->actual_bytes <= at && seen_at <= at)
        s->shrink_unseen = false;
    const bool balloon_free = g->from_agent && !s->balloon_in_total && s->overhead_known;
    v->guarded = (s->shrink_unseen && !balloon_free) || s->device_unseen;
}

/* What this call's guest figures teach the next one: the oom_kill counter,
 * the guest's own use (how fast it rises), the kernel's share while the
 * balloon stands still, and the working set smoothed for shrinking. */
static void learn_from_guest(struct vm_view *v, struct policy_vm_state *s)
{
    const struct policy_vm_in *in = v->in;
    const struct guest_view *g = &v->g;
    /* Keep the oom_kill counter in step whenever the agent is fresh and the
     * counter is sane; a counter that went backwards is resynchronised. */
    if (agent_fresh(in, v->t)) {
        s->last_oom_kill_count = in->agent.oom_kill_count;
        s->oom_kill_seen = true;
    }
    if (!s->initialized)
        s->last_data_ms = v->now_ms;

    /* Figures that may predate our last shrink and depend on the balloon
     * (v->guarded) teach nothing: not the guest's use, not its working set. */
    if (g->have)
        s->last_data_ms = v->now_ms;
    if (!g->have || v->guarded)
        return;
    /* How fast the guest's own use rises between two reports, and the
     * kernel's share learned while the balloon stands still (agent_need):
     * since the last call, since the report arrived, and our last shrink
     * seen in it. */
    if (g->from_agent) {
        if (s->used_known && g->used_bytes > s->last_used_bytes)
            v->rise_bytes = g->used_bytes - s->last_used_bytes;
        s->last_used_bytes = g->used_bytes;
        s->used_known = true;
        const uint64_t tolerance = v->t->stall_tolerance_bytes;
        const uint64_t seen_at =
            in->agent.balloon_actual_bytes ? in->agent.balloon_actual_bytes : in->actual_bytes;
        if (s->initialized && !s->balloon_in_total && !s->shrink_unseen &&
            diff_u64(in->actual_bytes, s->last_actual_bytes) <= tolerance &&
            diff_u64(in->actual_bytes, seen_at) <= tolerance) {
            s->overhead_bytes = sub_sat(add_sat(in->actual_bytes, in->agent.free_extra_bytes),
                                        in->agent.mem_total_bytes);
            s->overhead_known = true;
        }
    }
    s->need_bytes = g->need_bytes;
    /* Fast up, slow down: a dip in usage must last to be trusted. */
    if (!s->initialized || g->need_bytes >= s->need_smoothed_bytes || s->need_smoothed_bytes == 0)
        s->need_smoothed_bytes = g->need_bytes;
    else
        s->need_smoothed_bytes -= (s->need_smoothed_bytes - g->need_bytes) / 2;
}

/* Stall detection: only for shrinking (actual above a lower target). A
 * deflate that lags is the guest's business; we never lower a target on a
 * guest that wants memory. A stall's hold ends after stall_retry_ms. */
static void note_stall(struct vm_view *v, struct policy_vm_state *s)
{
    const struct policy_tunables *t = v->t;
    const uint64_t actual = v->in->actual_bytes;
    if (actual > add_sat(v->cur_bytes, t->stall_tolerance_bytes)) {
        if (s->initialized && diff_u64(actual, s->last_actual_bytes) < t->stall_tolerance_bytes)
            s->stall_ticks++;
        else
            s->stall_ticks = 0;
        if (t->stall_ticks > 0 && s->stall_ticks >= t->stall_ticks)
            v->stalled_now = true;
    } else {
        s->stall_ticks = 0;
    }
    if (s->stalled_at_bytes && v->now_ms >= s->stalled_until_ms)
        s->stalled_at_bytes = 0; /* retry */
}

/*
 * The guest deflated its balloon on OOM. With virtio-balloon
 * deflate-on-oom, the guest's OOM notifier takes pages back from the
 * balloon (256 pages a call) before its OOM killer runs: the balloon's
 * actual rises above the target we set, without a command of ours. (Our
 * growth never does that: it raises the target first; a shrink only
 * lowers actual toward it.) The guest just proved its target too small,
 * whatever its last report said: an urgent growth from the new actual,
 * counted once per episode, and no shrink for deflate_hold_ms: inflating
 * again would push it straight back into OOM. The caller may also have
 * seen the rise on its events after it already raised the target
 * (guest_raised_over_bytes): the episode counts and holds the same, the
 * growth is already there.
 */
static void note_guest_deflate(struct vm_view *v, struct policy_vm_state *s,
                               struct policy_vm_out *out)
{
    const struct policy_vm_in *in = v->in;
    const uint64_t cur = v->cur_bytes;
    const uint64_t deflate_step = max_u64(v->t->stall_tolerance_bytes, MIB);
    if (s->deflate_open && in->actual_bytes < add_sat(cur, deflate_step))
        s->deflate_open = false; /* the target caught up: episode over */
    bool above_now = in->actual_bytes >= add_sat(cur, deflate_step) &&
                     in->actual_bytes >= add_sat(s->last_actual_bytes, deflate_step);
    if (!s->initialized || !in->target_bytes || v->p.mode == POLICY_MODE_FIXED ||
        !(above_now || in->guest_raised_over_bytes))
        return;
    if (!s->deflate_open) {
        s->deflate_open = above_now;
        s->guest_deflate_events++;
        out->guest_deflated = true;
    }
    s->deflate_held = true;
    s->deflate_hold_until_ms = v->now_ms + (int64_t)v->t->deflate_hold_ms;
    s->idle_since_ms = 0; /* the guest needed memory: not idle */
    if (above_now && !v->g.heavy) {
        v->g.urgent = true;
        v->g.cause = POLICY_CAUSE_GUEST_DEFLATE;
        snprintf(v->g.why, sizeof(v->g.why),
                 "guest deflated its balloon on OOM (actual %llu MiB > target %llu MiB)",
                 MIBS(in->actual_bytes), MIBS(cur));
    }
}

/* Goal: working set + headroom, clamped to [min, max]. Grow against the
 * latest figure, shrink against the smoothed one. */
static void view_goals(struct vm_view *v, struct policy_vm_state *s)
{
    if (v->g.have) {
        const struct policy_vm_params *p = &v->p;
        v->grow_goal_bytes = clamp_u64(round_up_mib(add_sat(v->g.need_bytes, v->headroom_bytes)),
                                       p->min_bytes, p->max_bytes);
        v->goal_bytes = clamp_u64(round_up_mib(add_sat(s->need_smoothed_bytes, v->headroom_bytes)),
                                  p->min_bytes, p->max_bytes);
        if (v->grow_goal_bytes > v->goal_bytes)
            v->goal_bytes = v->grow_goal_bytes;
    }
    s->goal_bytes = v->goal_bytes;
}

/* The observe step, in the order the figures depend on each other: the
 * mode of the balloon decides how the guest's report reads, the report
 * what is learnt, and a deflate on OOM makes the guest urgent. */
static void observe_vm(struct vm_view *v, struct policy_vm_state *s, struct policy_vm_out *out)
{
    view_sizes(v);
    note_balloon_in_total(v, s);
    read_guest(v->in, v->t, s, v->floor_bytes, &v->g);
    note_shrink_seen(v, s);
    learn_from_guest(v, s);
    note_stall(v, s);
    note_guest_deflate(v, s, out);
    view_goals(v, s);
}

/* invalid: without the balloon's actual size or a policy max there is
 * nothing to decide from; the target is left as it is. */
static bool rule_invalid(const struct policy_vm_in *in, struct policy_vm_out *out)
{
    if (in->params.max_bytes != 0 && in->actual_bytes != 0)
        return false;
    decide(out, POLICY_INVALID, in->target_bytes);
    reason_set(out, "%s",
               in->params.max_bytes == 0 ? "policy max is 0: nothing done"
                                         : "balloon actual unknown: nothing done");
    return true;
}

/* fixed: mode fixed sets fixed_bytes (max when 0), within [min, max], and
 * nothing else: no observation, no state. */
static bool rule_fixed(const struct vm_view *v, struct policy_vm_out *out)
{
    if (v->p.mode != POLICY_MODE_FIXED)
        return false;
    uint64_t fixed = v->p.fixed_bytes ? v->p.fixed_bytes : v->p.max_bytes;
    decide(out, POLICY_FIXED_SIZE, clamp_u64(fixed, v->p.min_bytes, v->p.max_bytes));
    reason_set(out, "fixed at %llu MiB%s", MIBS(out->target_bytes),
               v->clamped_policy ? " (policy min > max: clamped)" : "");
    return true;
}

/*
 * grow_urgent: the guest is under pressure (OOM kill, PSI, a PRESSURE frame,
 * MemAvailable under its floor) or deflated its balloon on OOM. Give it back
 * at once and by plenty: what the floor lacks plus headroom, at least
 * urgent_step_pct of max; everything under heavy pressure. Never
 * rate-limited, whatever the host's state; it forgets any stall and
 * restarts the hold-down, even when the VM is already at max.
 */
static bool rule_grow_urgent(const struct vm_view *v, struct policy_vm_state *s,
                             struct policy_vm_out *out)
{
    const struct guest_view *g = &v->g;
    if (!g->urgent)
        return false;
    const uint64_t cur = v->cur_bytes;
    uint64_t target;
    if (g->heavy) {
        target = v->p.max_bytes;
    } else {
        uint64_t base = max_u64(v->in->actual_bytes, cur);
        uint64_t deficit = g->have ? sub_sat(v->floor_bytes, g->available_bytes) : 0;
        uint64_t step = max_u64(add_sat(deficit, v->headroom_bytes),
                                pct_of(v->p.max_bytes, v->t->urgent_step_pct));
        target = max_u64(add_sat(base, step), v->grow_goal_bytes);
        target = clamp_u64(round_up_mib(target), v->p.min_bytes, v->p.max_bytes);
    }
    s->stall_ticks = 0;
    s->stalled_at_bytes = 0;
    if (target > cur) {
        decide(out, POLICY_GROW_URGENT, target);
        out->cause = g->cause;
        reason_set(out, "%s: grow %llu -> %llu MiB%s", g->why, MIBS(cur), MIBS(target),
                   g->heavy ? " (max)" : "");
    } else {
        decide(out, POLICY_HOLD, cur);
        reason_set(out, "%s, but already at %llu MiB (max %llu)", g->why, MIBS(cur),
                   MIBS(v->p.max_bytes));
    }
    note_growth(v, s); /* pressure restarts the hold-down too */
    return true;
}

/* clamp: a target outside [min, max] (policy reloaded, set by hand) is
 * corrected first, in one step, with or without data. */
static bool rule_clamp_to_policy(const struct vm_view *v, struct policy_vm_state *s,
                                 struct policy_vm_out *out)
{
    const uint64_t cur = v->cur_bytes;
    if (cur <= v->p.max_bytes && cur >= v->p.min_bytes)
        return false;
    uint64_t target = clamp_u64(cur, v->p.min_bytes, v->p.max_bytes);
    decide(out, target > cur ? POLICY_GROW : POLICY_SHRINK, target);
    if (target > cur)
        out->cause = POLICY_CAUSE_CLAMP;
    reason_set(out, "target %llu MiB outside policy [%llu, %llu] MiB: clamped", MIBS(cur),
               MIBS(v->p.min_bytes), MIBS(v->p.max_bytes));
    return true;
}

/* stalled: the balloon stopped short of a lower target (measured: 256 ->
 * 64 MiB stalls at 68 MiB with no error and no event). Stop pushing: hold
 * where the balloon got, ask the agent to RECLAIM the rest, retry after
 * stall_retry_ms. */
static bool rule_stalled(const struct vm_view *v, struct policy_vm_state *s,
                         struct policy_vm_out *out)
{
    if (!v->stalled_now)
        return false;
    const struct policy_vm_in *in = v->in;
    uint64_t at = clamp_u64(round_up_mib(in->actual_bytes), v->p.min_bytes, v->p.max_bytes);
    s->stalled_at_bytes = at;
    s->stalled_until_ms = v->now_ms + (int64_t)v->t->stall_retry_ms;
    s->stall_ticks = 0;
    decide(out, POLICY_STALLED, at);
    reason_set(out, "stalled: balloon stuck at %llu MiB, target was %llu MiB; retry in %llus",
               MIBS(in->actual_bytes), MIBS(v->cur_bytes),
               (unsigned long long)(v->t->stall_retry_ms / 1000));
    if (v->p.reclaim_allowed && v->g.from_agent)
        out->reclaim_bytes = in->actual_bytes - v->cur_bytes;
    return true;
}

/* no_data: neither a usable agent report nor guest-stats. Hold, never
 * shrink blind; but a guest whose agent died (maybe OOM-killed itself) may
 * be starving: after blind_release_ms, give it its memory back. */
static bool rule_no_data(const struct vm_view *v, struct policy_vm_state *s,
                         struct policy_vm_out *out)
{
    if (v->g.have)
        return false;
    const uint64_t cur = v->cur_bytes;
    const char *why = v->g.why;
    uint64_t blind_ms = v->now_ms > s->last_data_ms ? (uint64_t)(v->now_ms - s->last_data_ms) : 0;
    if (v->t->blind_release_ms && blind_ms >= v->t->blind_release_ms && cur < v->p.max_bytes) {
        decide(out, POLICY_GROW, v->p.max_bytes);
        out->cause = POLICY_CAUSE_BLIND;
        reason_set(out, "no guest data for %llus: giving memory back (%s)",
                   (unsigned long long)(blind_ms / 1000), why[0] ? why : "no agent");
    } else {
        decide(out, POLICY_NO_DATA, cur);
        reason_set(out, "%s: holding at %llu MiB, never shrink blind",
                   why[0] ? why : "no fresh agent report or guest-stats", MIBS(cur));
    }
    return true;
}

/* hold (own shrink unseen): the figures may predate our last shrink and
 * depend on the balloon (note_shrink_seen): neither grow nor shrink on
 * them. Real pressure was answered first, by rule_grow_urgent. */
static bool rule_hold_shrink_unseen(const struct vm_view *v, struct policy_vm_state *s,
                                    struct policy_vm_out *out)
{
    if (!v->guarded)
        return false;
    const uint64_t cur = v->cur_bytes, actual = v->in->actual_bytes;
    decide(out, POLICY_HOLD, cur);
    if (s->device_unseen && !s->shrink_unseen)
        reason_set(out,
                   "memory device moved since the guest's figures: holding at %llu MiB; "
                   "growth on pressure only",
                   MIBS(cur));
    else if (actual > add_sat(cur, v->t->stall_tolerance_bytes))
        reason_set(out,
                   "waiting for balloon: actual %llu MiB, target %llu MiB; growth on pressure only",
                   MIBS(actual), MIBS(cur));
    else
        reason_set(out,
                   "shrink to %llu MiB not in the guest's figures yet: growth on pressure only",
                   MIBS(cur));
    return true;
}

/*
 * grow (rising): growth ahead of a rising working set. rule_grow waits
 * until the guest eats into its tight headroom; a guest allocating fast may
 * be OOM-killed before the next report gets there: a tiny guest with no page
 * cache to reclaim is killed before its PSI trigger fires (measured under
 * TCG: ~25 MiB/s of allocation ate 35 MiB of headroom and OOM-killed the
 * workload 1.7 s into its spike, no PRESSURE frame was ever sent). So when
 * the guest's own use rose by a deadband or more since the last report, and
 * one more such rise would cross the trigger, grow now to need + headroom +
 * the rise: room for one more report interval at the rate just seen.
 * MemTotal - MemAvailable does not move with the balloon, so our own
 * actuation never looks like a rise.
 */
static bool rule_grow_rising(const struct vm_view *v, struct policy_vm_state *s,
                             struct policy_vm_out *out)
{
    const uint64_t cur = v->cur_bytes, rise = v->rise_bytes, need = v->g.need_bytes;
    if (rise < v->deadband_bytes || cur >= v->p.max_bytes ||
        add_sat(add_sat(need, rise), v->grow_margin_bytes) <= cur)
        return false;
    uint64_t target = add_sat(add_sat(need, v->headroom_bytes), rise);
    target = clamp_u64(round_up_mib(target), v->p.min_bytes, v->p.max_bytes);
    if (target <= cur)
        return false;
    decide(out, POLICY_GROW, target);
    out->cause = POLICY_CAUSE_RISING;
    reason_set(out,
               "working set rising +%llu MiB to %llu MiB: grow %llu -> %llu MiB "
               "(headroom %llu + rise)",
               MIBS(rise), MIBS(need), MIBS(cur), MIBS(target), MIBS(v->headroom_bytes));
    s->stall_ticks = 0;
    s->stalled_at_bytes = 0;
    note_growth(v, s);
    return true;
}

/* grow: growth with hysteresis: triggered when the guest eats into the
 * tight headroom (never below floor + deadband), refilled to the headroom
 * of the moment. Host pressure moving between the two then changes no
 * target by itself, so the fleet does not pump with the host's level. */
static bool rule_grow(const struct vm_view *v, struct policy_vm_state *s, struct policy_vm_out *out)
{
    const uint64_t cur = v->cur_bytes;
    uint64_t trigger = add_sat(v->g.need_bytes, v->grow_margin_bytes);
    if (trigger <= cur || cur >= v->p.max_bytes)
        return false;
    uint64_t target = max_u64(v->grow_goal_bytes, add_sat(trigger, v->deadband_bytes));
    target = clamp_u64(round_up_mib(target), v->p.min_bytes, v->p.max_bytes);
    decide(out, POLICY_GROW, target);
    out->cause = POLICY_CAUSE_WORKING_SET;
    reason_set(out, "working set %llu MiB rose: grow %llu -> %llu MiB (headroom %llu MiB)",
               MIBS(v->g.need_bytes), MIBS(cur), MIBS(target), MIBS(v->headroom_bytes));
    note_growth(v, s);
    return true;
}

/*
 * The holds: each names one reason not to shrink toward the goal, in the
 * order `ballastctl explain` answers "why not smaller?".
 */

/* hold: at the goal, or above it by less than a deadband. */
static bool rule_hold_at_goal(const struct vm_view *v, struct policy_vm_state *s,
                              struct policy_vm_out *out)
{
    const uint64_t cur = v->cur_bytes, goal = v->goal_bytes;
    if (goal < cur && cur - goal >= v->deadband_bytes)
        return false;
    decide(out, POLICY_HOLD, cur);
    reason_set(out, "at working set %llu + headroom %llu MiB (goal %llu, target %llu MiB)",
               MIBS(s->need_smoothed_bytes), MIBS(v->headroom_bytes), MIBS(goal), MIBS(cur));
    return true;
}

/* hold: agent_required, and only guest-stats: they may grow, never shrink. */
static bool rule_hold_agent_required(const struct vm_view *v, struct policy_vm_state *s,
                                     struct policy_vm_out *out)
{
    if (!v->p.agent_required || v->g.from_agent)
        return false;
    decide(out, POLICY_HOLD, v->cur_bytes);
    reason_set(out, "agent required: no shrink without a fresh agent report (%s)",
               v->g.why[0] ? v->g.why : "guest-stats only");
    return true;
}

/* hold: no shrink for grow_hold_ms after any growth. */
static bool rule_hold_after_growth(const struct vm_view *v, struct policy_vm_state *s,
                                   struct policy_vm_out *out)
{
    const struct policy_tunables *t = v->t;
    const int64_t now = v->now_ms;
    if (!s->grown || now - s->last_grow_ms >= (int64_t)t->grow_hold_ms)
        return false;
    decide(out, POLICY_HOLD, v->cur_bytes);
    reason_set(out, "hold-down after growth: no shrink for %llus more",
               (unsigned long long)((t->grow_hold_ms - (uint64_t)(now - s->last_grow_ms)) / 1000));
    return true;
}

/* hold: no shrink for deflate_hold_ms after the guest deflated on OOM
 * (note_guest_deflate): inflating would push it back into OOM. */
static bool rule_hold_after_deflate(const struct vm_view *v, struct policy_vm_state *s,
                                    struct policy_vm_out *out)
{
    const int64_t now = v->now_ms;
    if (!s->deflate_held || now >= s->deflate_hold_until_ms)
        return false;
    decide(out, POLICY_HOLD, v->cur_bytes);
    reason_set(out,
               "hold-down after the guest deflated on OOM: no shrink for %llus more "
               "(goal %llu MiB)",
               (unsigned long long)((uint64_t)(s->deflate_hold_until_ms - now) / 1000),
               MIBS(v->goal_bytes));
    return true;
}

/* hold (stalled): a stall holds the target where the balloon got until
 * stall_retry_ms have passed (rule_stalled); no push below it till then. */
static bool rule_hold_at_stall(const struct vm_view *v, struct policy_vm_state *s,
                               struct policy_vm_out *out)
{
    if (!s->stalled_at_bytes || v->goal_bytes >= s->stalled_at_bytes)
        return false;
    decide(out, POLICY_STALLED, v->cur_bytes);
    reason_set(out, "stalled at %llu MiB (goal %llu MiB): retry in %llus",
               MIBS(s->stalled_at_bytes), MIBS(v->goal_bytes),
               (unsigned long long)((uint64_t)(s->stalled_until_ms - v->now_ms) / 1000));
    return true;
}

/* hold: the balloon is still inflating toward the last target. */
static bool rule_hold_balloon_moving(const struct vm_view *v, struct policy_vm_state *s,
                                     struct policy_vm_out *out)
{
    const uint64_t cur = v->cur_bytes;
    if (v->in->actual_bytes <= add_sat(cur, v->t->stall_tolerance_bytes))
        return false;
    decide(out, POLICY_HOLD, cur);
    reason_set(out, "waiting for balloon: actual %llu MiB, target %llu MiB",
               MIBS(v->in->actual_bytes), MIBS(cur));
    return true;
}

/*
 * shrink: one gradual step toward the goal. Close shrink_gain of the gap,
 * at least a deadband (or it would never finish), at most rate * dt and
 * step_max, both scaled up with host pressure. The cap is what the guest's
 * reclaim can follow. Pacing: when the allowance since the last step does
 * not cover a step worth making (the step wanted, or a full tick's worth),
 * wait; extra calls between ticks therefore add no balloon operations. A
 * VM that gets here - it steps, or only pacing holds it - may be squeezed
 * further by pass 2 when the host is short, within the same cap.
 */
static bool rule_shrink(const struct vm_view *v, struct policy_vm_state *s,
                        struct policy_vm_out *out)
{
    const struct policy_tunables *t = v->t;
    const uint64_t cur = v->cur_bytes, goal = v->goal_bytes;
    uint64_t gap = cur - goal;
    double factor = step_factor(t, v->level);
    uint64_t cap = shrink_cap(t, v->dt_ms, factor);
    uint64_t desired = min_u64(max_u64(pct_of(gap, t->shrink_gain_pct), v->deadband_bytes), gap);
    s->step_cap_bytes = cap;
    s->shrinkable = true;
    if (cap < min_u64(desired, shrink_cap(t, v->tick_ms, factor))) {
        decide(out, POLICY_HOLD, cur);
        reason_set(out, "pacing: next shrink step toward %llu MiB when the rate allows",
                   MIBS(goal));
        return true;
    }
    decide(out, POLICY_SHRINK, cur - min_u64(desired, cap));
    reason_set(out, "shrink %llu -> %llu MiB toward working set %llu + headroom %llu MiB",
               MIBS(cur), MIBS(out->target_bytes), MIBS(s->need_smoothed_bytes),
               MIBS(v->headroom_bytes));
    return true;
}

typedef bool vm_rule_fn(const struct vm_view *v, struct policy_vm_state *s,
                        struct policy_vm_out *out);

/* After the observation, in this order; the first rule that decides wins
 * and rule_shrink always does. Urgent growth comes first, so nothing defers
 * a guest under pressure; every rule after rule_no_data may take the guest's
 * figures as there (g.have); both growths come before the holds, so no
 * hold-down ever delays a growth. */
static vm_rule_fn *const vm_rules[] = {
    rule_grow_urgent,         /* pressure or deflate on OOM: grow now, by plenty */
    rule_clamp_to_policy,     /* target outside [min, max]: corrected in one step */
    rule_stalled,             /* balloon stuck short of a lower target: hold there */
    rule_no_data,             /* nothing usable: hold, or give it all back after a while */
    rule_hold_shrink_unseen,  /* figures from before our shrink: pressure only */
    rule_grow_rising,         /* own use rising fast: grow ahead of it */
    rule_grow,                /* ate into the tight headroom: refill the headroom */
    rule_hold_at_goal,        /* within a deadband of the goal */
    rule_hold_agent_required, /* guest-stats never shrink an agent_required VM */
    rule_hold_after_growth,   /* grow_hold_ms after a growth */
    rule_hold_after_deflate,  /* deflate_hold_ms after a deflate on OOM */
    rule_hold_at_stall,       /* stall_retry_ms after a stall */
    rule_hold_balloon_moving, /* the balloon still inflating toward the target */
    rule_shrink,              /* one paced, bounded step toward the goal */
};

/* Every decision after the observation: what was ignored goes to the end of
 * the reason, a clamped policy to its head; the target stays in [min, max]. */
static void finish_vm(const struct vm_view *v, struct policy_vm_out *out)
{
    const struct guest_view *g = &v->g;
    if (g->why[0] && g->have && !g->urgent && out->decision != POLICY_INVALID)
        reason_append(out, " [%s]", g->why);
    if (v->clamped_policy)
        reason_prefix(out, "policy min > max, min clamped to max; ");
    out->target_bytes = clamp_u64(out->target_bytes, v->p.min_bytes, v->p.max_bytes);
}

/*
 * After a (re)start of ballastd, a VM's target is not lowered until a report
 * of the guest has arrived since (policy_vm_in.awaiting_report), whichever
 * rule asked for it (a shrink step, a clamp to a lower max_memory): the
 * figures the engine has then are older than this process - guest-stats
 * QEMU kept, a report from before a stall - and a restarted daemon must not
 * squeeze a guest on them. Growth passes; mode fixed never reads the
 * guest's figures and is not held. The VM is then out of pass 2 too.
 */
static void guard_restart(const struct vm_view *v, struct policy_vm_state *s,
                          struct policy_vm_out *out)
{
    if (!v->in->awaiting_report || out->target_bytes >= v->cur_bytes)
        return;
    decide(out, POLICY_HOLD, v->cur_bytes);
    s->shrinkable = false;
    reason_set(out, "ballastd restarted: no shrink until the guest reports (holding at %llu MiB)",
               MIBS(v->cur_bytes));
}

/* Pass 1 for one VM. Leaves out->target_bytes / decision / reason, and in
 * the state the goal, the step cap and whether pass 2 may squeeze further. */
static void decide_vm(const struct policy_snapshot *snap, double level,
                      const struct policy_vm_in *in, struct policy_vm_state *s,
                      struct policy_vm_out *out)
{
    memset(out, 0, sizeof(*out));
    s->shrinkable = false;
    s->step_cap_bytes = 0;
    if (rule_invalid(in, out))
        return;
    struct vm_view v;
    view_init(&v, snap, level, in, s);
    if (rule_fixed(&v, out))
        return;
    observe_vm(&v, s, out);
    for (size_t i = 0; i < sizeof(vm_rules) / sizeof(vm_rules[0]); i++) {
        if (vm_rules[i](&v, s, out))
            break;
    }
    finish_vm(&v, out);
    guard_restart(&v, s, out);
}

/* Pass 2 may squeeze a VM further: a managed VM that reached rule_shrink -
 * it made a step, or only pacing held it. Never a VM that grows, and never
 * one a hold protects (hold-downs after a growth or a deflate, a stall,
 * a balloon still moving, figures from before our shrink, no data). */
static bool squeezable(const struct policy_vm_in *in, const struct policy_vm_state *s)
{
    return s->shrinkable && in->params.mode == POLICY_MODE_MANAGED;
}

/* A VM's claim on the host's deficit: memory above its goal per share. */
static double squeeze_weight(const struct policy_vm_in *in, const struct policy_vm_state *s,
                             const struct policy_vm_out *o)
{
    uint64_t room = sub_sat(o->target_bytes, s->goal_bytes);
    return (double)room / (double)(in->params.shares ? in->params.shares : 1);
}

/* What pass 1's own steps already give back, managed VMs only. */
static uint64_t planned_shrink(const struct policy_snapshot *snap, const struct policy_vm_out *out)
{
    uint64_t planned = 0;
    for (size_t i = 0; i < snap->n_vms; i++) {
        const struct policy_vm_in *in = &snap->vms[i];
        if (out[i].decision == POLICY_SHRINK && in->params.mode == POLICY_MODE_MANAGED)
            planned += sub_sat(vm_cur(in), out[i].target_bytes);
    }
    return planned;
}

/* The least shrink worth a balloon operation of its own, as rule_shrink's
 * pacing sees it: a deadband, or a full tick's cap when that is less. */
static uint64_t step_worth(const struct policy_tunables *t, uint64_t max_bytes, double level)
{
    uint64_t tick_ms = t->tick_interval_ms ? t->tick_interval_ms : 5000;
    return min_u64(vm_deadband(t, max_bytes), shrink_cap(t, tick_ms, step_factor(t, level)));
}

/* One VM's share of the deficit, at most its room above the goal (never
 * under it: the goal is at least the VM's floor) and what its step cap
 * leaves of its own step. A VM that pacing held gives only a step worth
 * making, as rule_shrink would: a deadband, or a full tick's cap. */
static void squeeze_vm(const struct policy_tunables *t, const struct policy_vm_in *in,
                       const struct policy_vm_state *s, struct policy_vm_out *o,
                       uint64_t share_bytes, double level)
{
    uint64_t cur = vm_cur(in);
    uint64_t room = sub_sat(o->target_bytes, s->goal_bytes);
    uint64_t stepped = sub_sat(cur, o->target_bytes);
    uint64_t extra = min_u64(share_bytes, room);
    extra = min_u64(extra, sub_sat(s->step_cap_bytes, stepped));
    if (extra == 0 ||
        (o->decision != POLICY_SHRINK && extra < step_worth(t, in->params.max_bytes, level)))
        return;
    o->target_bytes -= extra;
    if (o->decision != POLICY_SHRINK) {
        o->decision = POLICY_SHRINK;
        reason_set(o, "host pressure %.0f%%: shrink %llu -> %llu MiB (goal %llu)", level * 100.0,
                   MIBS(cur), MIBS(o->target_bytes), MIBS(s->goal_bytes));
    } else {
        reason_append(o, " +%llu MiB for host", MIBS(extra));
    }
}

/* What a VM holds past its guarantee and past its goal: what the host takes
 * back first (guaranteed_memory; 0 with the default guarantee, max). */
static uint64_t over_guarantee(const struct policy_vm_in *in, const struct policy_vm_state *s,
                               const struct policy_vm_out *o)
{
    return sub_sat(o->target_bytes, max_u64(s->goal_bytes, in->params.guaranteed_bytes));
}

/* Pass 2, first round: the deficit from what VMs hold over their
 * guarantees, by that excess / shares, never below a guarantee. A VM that
 * stays within its guarantee gives nothing here: growth past a guarantee is
 * paid by whoever holds it, not by the others (docs/policy.md,
 * "Guaranteed memory"). */
static void share_out_over_guarantee(const struct policy_snapshot *snap,
                                     const struct policy_vm_state *states,
                                     struct policy_vm_out *out, double level, uint64_t remaining)
{
    double total_weight = 0.0;
    for (size_t i = 0; i < snap->n_vms; i++) {
        const struct policy_vm_in *in = &snap->vms[i];
        if (squeezable(in, &states[i]))
            total_weight += (double)over_guarantee(in, &states[i], &out[i]) /
                            (double)(in->params.shares ? in->params.shares : 1);
    }
    for (size_t i = 0; i < snap->n_vms && total_weight > 0.0; i++) {
        const struct policy_vm_in *in = &snap->vms[i];
        if (!squeezable(in, &states[i]))
            continue;
        uint64_t over = over_guarantee(in, &states[i], &out[i]);
        double w = (double)over / (double)(in->params.shares ? in->params.shares : 1);
        uint64_t share = min_u64(scale_u64(remaining, w / total_weight), over);
        squeeze_vm(snap->tunables, in, &states[i], &out[i], share, level);
    }
}

/* Pass 2: host below its high watermark. Spread what the normal steps
 * leave of the deficit over the squeezable VMs: first from what they hold
 * over their guarantees, then by room / shares: most slack and fewest
 * shares give most. O(n), no sorting, no scratch memory. */
static void share_out_deficit(const struct policy_snapshot *snap,
                              const struct policy_vm_state *states, struct policy_vm_out *out,
                              double level, uint64_t deficit)
{
    uint64_t planned = planned_shrink(snap, out);
    if (deficit <= planned)
        return;
    share_out_over_guarantee(snap, states, out, level, deficit - planned);
    planned = planned_shrink(snap, out);
    if (deficit <= planned)
        return;
    uint64_t remaining = deficit - planned;
    double total_weight = 0.0;
    for (size_t i = 0; i < snap->n_vms; i++) {
        if (squeezable(&snap->vms[i], &states[i]))
            total_weight += squeeze_weight(&snap->vms[i], &states[i], &out[i]);
    }
    for (size_t i = 0; i < snap->n_vms && total_weight > 0.0; i++) {
        if (!squeezable(&snap->vms[i], &states[i]))
            continue;
        double w = squeeze_weight(&snap->vms[i], &states[i], &out[i]);
        squeeze_vm(snap->tunables, &snap->vms[i], &states[i], &out[i],
                   scale_u64(remaining, w / total_weight), level);
    }
}

/* One VM's shrink against what is left of the host budget: made whole,
 * cut to what is left (when that is worth a deadband), or held for a later
 * turn. A policy correction (above max) is never deferred. */
static void spend_budget(const struct policy_tunables *t, const struct policy_vm_in *in,
                         struct policy_vm_state *s, struct policy_vm_out *o, uint64_t *left)
{
    uint64_t cur = vm_cur(in);
    if (o->decision != POLICY_SHRINK || in->params.mode != POLICY_MODE_MANAGED ||
        o->target_bytes >= cur || cur > in->params.max_bytes)
        return;
    uint64_t step = cur - o->target_bytes;
    if (step <= *left) {
        *left -= step;
    } else if (*left >= vm_deadband(t, in->params.max_bytes)) {
        o->target_bytes = cur - *left;
        *left = 0;
        reason_append(o, " (cut by host rate limit)");
    } else {
        decide(o, POLICY_HOLD, cur);
        s->shrinkable = false;
        reason_set(o, "host shrink budget of this tick used: waiting for a turn (goal %llu MiB)",
                   MIBS(s->goal_bytes));
    }
}

/* Pass 3, first: the host-wide rate, host_shrink_rate * tick (scaled with host
 * pressure like the VMs' steps). The budget goes to whole steps, VM after VM
 * from a starting point that moves every tick; the rest wait their turn.
 * Scaling every step down instead would turn 1000 VMs into 1000 tiny
 * balloon moves a tick. */
static void cap_host_rate(const struct policy_snapshot *snap, struct policy_vm_state *states,
                          struct policy_vm_out *out, double level)
{
    const struct policy_tunables *t = snap->tunables;
    if (snap->n_vms == 0)
        return;
    uint64_t tick = t->tick_interval_ms ? t->tick_interval_ms : 5000;
    uint64_t left = scale_u64(scale_u64(t->host_shrink_rate_bytes_per_s, (double)tick / 1000.0),
                              step_factor(t, level));
    size_t start =
        (size_t)(((uint64_t)(snap->now_ms > 0 ? snap->now_ms : 0) / tick) * 7919u % snap->n_vms);
    for (size_t k = 0; k < snap->n_vms; k++) {
        size_t i = (start + k) % snap->n_vms;
        spend_budget(t, &snap->vms[i], &states[i], &out[i], &left);
    }
}

/* Ask the guest to drop caches when a shrink step would eat into them: the
 * balloon then inflates into free pages at once. Needs a fresh agent report
 * with sane MemFree, and reclaim_allowed. */
static void request_reclaim(const struct policy_tunables *t, const struct policy_vm_in *in,
                            struct policy_vm_out *o)
{
    if (o->decision != POLICY_SHRINK || !in->params.reclaim_allowed || !agent_fresh(in, t) ||
        in->agent.mem_free_bytes > in->agent.mem_total_bytes)
        return;
    uint64_t step = sub_sat(vm_cur(in), o->target_bytes);
    if (in->agent.mem_free_bytes < step + t->guest_avail_floor_bytes)
        o->reclaim_bytes = step;
}

/* The idle time the next idle RECLAIM waits for (idle_reclaim_judge's). */
static uint64_t idle_wait(const struct policy_tunables *t, const struct policy_vm_state *s)
{
    return s->idle_wait_ms ? s->idle_wait_ms : t->idle_reclaim_after_ms;
}

/* Whether the last idle RECLAIM paid, from the first report made 2 s or
 * more after it (the agent answers within about a second): the cold cache
 * fell by idle_reclaim_min or more. One that did not (pages pinned or dirty,
 * a guest that cannot reclaim) is not repeated every period: the wait
 * doubles, up to 16 periods, and is back to one once a reclaim pays. A
 * cache that grew again later is not held against the reclaim. */
static void idle_reclaim_judge(const struct policy_tunables *t, const struct policy_vm_in *in,
                               struct policy_vm_state *s, int64_t now_ms)
{
    const struct policy_agent_report *a = &in->agent;
    if (!s->idle_judge_pending || !a->valid || a->age_ms > (uint64_t)INT64_MAX ||
        now_ms - (int64_t)a->age_ms < s->idle_reclaim_ms + 2000)
        return;
    s->idle_judge_pending = false;
    if (add_sat(a->inactive_file_bytes, t->idle_reclaim_min_bytes) > s->idle_cold_asked_bytes)
        s->idle_wait_ms = min_u64(2 * idle_wait(t, s), 16 * t->idle_reclaim_after_ms);
    else
        s->idle_wait_ms = t->idle_reclaim_after_ms;
}

/*
 * Idle reclaim. Page cache a guest keeps after it ran something is neither
 * free (free page reporting cannot return it) nor like other guests' (KSM
 * cannot merge it), and MemAvailable counts it as available, so the balloon
 * leaves what fits in the headroom in place: on the host it costs as much
 * as the guest's working set. Once a VM has been held at its target with no
 * memory pressure in the guest (PSI some avg10 under 1%, no PRESSURE frame)
 * for idle_reclaim_after_ms, it is asked to RECLAIM as much as its cold page
 * cache, Inactive(file): the kernel's own verdict of what was not used
 * lately (the agent's memory.reclaim then takes the coldest pages). Free
 * page reporting then returns the freed pages to the host. Feedback: a
 * guest that needs the data again reads it back, its PSI or a PRESSURE
 * frame resets the idle clock, and the next idle reclaim waits for another
 * whole idle period, so a busy guest is never trimmed twice in a row; a
 * RECLAIM for a shrink step (request_reclaim) goes first.
 */
static void request_idle_reclaim(const struct policy_tunables *t, const struct policy_vm_in *in,
                                 struct policy_vm_state *s, int64_t now_ms, struct policy_vm_out *o)
{
    const struct policy_agent_report *a = &in->agent;
    idle_reclaim_judge(t, in, s, now_ms);
    char why[96];
    bool idle = s->initialized && o->decision == POLICY_HOLD && !in->pressure_event &&
                !in->guest_raised_over_bytes && agent_fresh(in, t) &&
                agent_plausible(in, s, total_slack(in->params.max_bytes), why, sizeof(why)) &&
                psi_plausible(a->psi_some_avg10_pct) && a->psi_some_avg10_pct < 1.0 &&
                psi_plausible(a->psi_full_avg10_pct) && a->psi_full_avg10_pct <= 0.0;
    if (!idle || s->idle_since_ms == 0 || now_ms < s->idle_since_ms) {
        s->idle_since_ms = now_ms;
        return;
    }
    if (t->idle_reclaim_after_ms == 0 || in->params.mode != POLICY_MODE_MANAGED ||
        !in->params.reclaim_allowed || in->no_free_page_reporting || o->reclaim_bytes > 0 ||
        (uint64_t)(now_ms - s->idle_since_ms) < idle_wait(t, s))
        return;
    /* The guest's figure, bounded by what it can hold at all. */
    uint64_t cold = min_u64(a->inactive_file_bytes, min_u64(a->mem_total_bytes, vm_cur(in)));
    if (cold == 0 || cold < t->idle_reclaim_min_bytes)
        return; /* nothing worth a request */
    o->reclaim_bytes = cold;
    reason_append(o, "; idle %llu s: reclaim %llu MiB of cold page cache",
                  (unsigned long long)((uint64_t)(now_ms - s->idle_since_ms) / 1000),
                  (unsigned long long)(cold >> 20));
    s->idle_cold_asked_bytes = cold;
    s->idle_reclaim_ms = now_ms;
    s->idle_judge_pending = true;
    s->idle_since_ms = now_ms; /* the next one after another idle period */
}

/* Whether to set the target now: any change in managed mode; never in
 * observe (nor RECLAIM); in safe mode only a raise (see enum policy_mode). */
static void actuate_by_mode(const struct policy_vm_in *in, struct policy_vm_out *o)
{
    uint64_t cur = vm_cur(in);
    bool changes = o->decision != POLICY_INVALID && o->target_bytes != in->target_bytes &&
                   o->target_bytes != 0;
    if (in->params.mode == POLICY_MODE_OBSERVE) {
        o->actuate = false;
        o->reclaim_bytes = 0;
        reason_prefix(o, "observe: would %s; ", policy_decision_name(o->decision));
    } else if (in->params.mode == POLICY_MODE_SAFE) {
        /* Never lower a target, never RECLAIM; raise it when the guest
         * needs memory. */
        o->reclaim_bytes = 0;
        o->actuate = changes && o->target_bytes > cur;
        if (o->actuate)
            reason_prefix(o, "safe (config error): ");
        else if (o->target_bytes < cur)
            reason_prefix(o, "safe (config error), never shrinks: would %s; ",
                          policy_decision_name(o->decision));
        else
            reason_prefix(o, "safe (config error): ");
    } else {
        o->actuate = changes;
    }
}

static void summary_add(struct policy_summary *sum, const struct policy_vm_in *in,
                        const struct policy_vm_out *o)
{
    uint64_t cur = vm_cur(in);
    if (o->decision == POLICY_SHRINK)
        sum->shrink_total_bytes += sub_sat(cur, o->target_bytes);
    if (o->decision == POLICY_GROW || o->decision == POLICY_GROW_URGENT)
        sum->grow_total_bytes += sub_sat(o->target_bytes, cur);
    if (o->decision == POLICY_GROW_URGENT)
        sum->n_urgent++;
    if (o->decision == POLICY_STALLED)
        sum->n_stalled++;
    if (o->actuate)
        sum->n_actuate++;
}

/* What the next call needs to know of this one: when a shrink was made
 * (pacing), the target last asked for, actual, and the time. */
static void remember_call(int64_t now_ms, const struct policy_vm_in *in,
                          const struct policy_vm_out *o, struct policy_vm_state *s)
{
    if (o->actuate && o->decision == POLICY_SHRINK) {
        s->last_shrink_ms = now_ms;
        s->shrunk = true;
        s->shrink_unseen = true; /* until the guest's figures show it */
    }
    if (o->actuate && o->target_bytes != s->last_target_bytes) {
        s->last_target_bytes = o->target_bytes;
        s->last_change_ms = now_ms;
    }
    s->last_actual_bytes = in->actual_bytes;
    s->last_eval_ms = now_ms;
    s->initialized = true;
}

void policy_actuation_memo_save(const struct policy_vm_state *s, struct policy_actuation_memo *m)
{
    *m = (struct policy_actuation_memo){.last_target_bytes = s->last_target_bytes,
                                        .last_change_ms = s->last_change_ms,
                                        .last_grow_ms = s->last_grow_ms,
                                        .last_shrink_ms = s->last_shrink_ms,
                                        .grown = s->grown,
                                        .shrunk = s->shrunk,
                                        .shrink_unseen = s->shrink_unseen};
}

void policy_actuation_memo_restore(struct policy_vm_state *s, const struct policy_actuation_memo *m)
{
    s->last_target_bytes = m->last_target_bytes;
    s->last_change_ms = m->last_change_ms;
    s->last_grow_ms = m->last_grow_ms;
    s->last_shrink_ms = m->last_shrink_ms;
    s->grown = m->grown;
    s->shrunk = m->shrunk;
    s->shrink_unseen = m->shrink_unseen;
}

int policy_evaluate(const struct policy_snapshot *snap, struct policy_vm_state *states,
                    struct policy_vm_out *out, struct policy_summary *summary)
{
    if (!snap || !snap->tunables || (snap->n_vms && (!snap->vms || !states || !out)))
        return -EINVAL;
    uint64_t deficit = 0;
    double level = host_pressure_level(&snap->host, snap->tunables, &deficit);
    struct policy_summary sum = {.host_pressure = level, .host_deficit_bytes = deficit};

    /* Pass 1: each VM on its own merits. */
    for (size_t i = 0; i < snap->n_vms; i++)
        decide_vm(snap, level, &snap->vms[i], &states[i], &out[i]);
    /* Pass 2: what the host still lacks, from the VMs with most to give. */
    share_out_deficit(snap, states, out, level, deficit);
    /* Pass 3: the host-wide rate, then actuation, RECLAIM and state. */
    cap_host_rate(snap, states, out, level);
    for (size_t i = 0; i < snap->n_vms; i++) {
        request_reclaim(snap->tunables, &snap->vms[i], &out[i]);
        request_idle_reclaim(snap->tunables, &snap->vms[i], &states[i], snap->now_ms, &out[i]);
        actuate_by_mode(&snap->vms[i], &out[i]);
        summary_add(&sum, &snap->vms[i], &out[i]);
        remember_call(snap->now_ms, &snap->vms[i], &out[i], &states[i]);
    }
    if (summary)
        *summary = sum;
    return 0;
}

bool policy_vm_wants_growth(const struct policy_snapshot *snap, const struct policy_vm_state *state)
{
    if (!snap || !snap->tunables || snap->n_vms != 1 || !snap->vms || !state)
        return false;
    const struct policy_vm_in *in = &snap->vms[0];
    if (in->params.mode == POLICY_MODE_OBSERVE || in->params.mode == POLICY_MODE_FIXED)
        return false;
    uint64_t deficit = 0;
    double level = host_pressure_level(&snap->host, snap->tunables, &deficit);
    struct policy_vm_state copy = *state;
    struct policy_vm_out out;
    decide_vm(snap, level, in, &copy, &out);
    uint64_t cur = vm_cur(in);
    return (out.decision == POLICY_GROW || out.decision == POLICY_GROW_URGENT) &&
           out.target_bytes > cur;
}
