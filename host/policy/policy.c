/*
 * The policy engine; see policy.h for the contract and docs/policy.md for
 * the loop it closes.
 *
 * One call runs three passes over the fleet, all O(n), no allocation:
 *   1. per VM: read what the guest says (agent, else QEMU guest-stats, else
 *      nothing), detect pressure and stalls, and pick grow / shrink / hold on
 *      the VM's own merits with the host's pressure level folded into the
 *      headroom and the step size;
 *   2. when the host is under its high watermark, spread what the normal steps
 *      do not cover over the shrinkable VMs, in proportion to reclaimable
 *      memory divided by shares (most slack and fewest shares give most);
 *   3. cap the whole fleet's shrinking by the host-wide rate, then mark what
 *      to actuate, what to RECLAIM, and finish the reasons.
 *
 * Why the loop does not oscillate: the working set is measured as
 * actual - MemAvailable, which does not depend on the balloon size (the
 * guest's MemTotal and MemAvailable shrink together when the balloon
 * inflates), so moving the target does not move the set point. On top:
 * growth is immediate and shrinking slow (asymmetric gains), changes inside
 * the deadband are skipped, no shrink follows a growth for grow_hold_ms, and
 * the working set used for shrinking rises at once but decays only halfway
 * per tick.
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
    };
}

void policy_vm_params_default(struct policy_vm_params *p, uint64_t nominal_bytes)
{
    *p = (struct policy_vm_params){
        .min_bytes = nominal_bytes / 4,
        .max_bytes = nominal_bytes,
        .fixed_bytes = nominal_bytes,
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
    bool heavy;    /* go straight to max */
    enum policy_cause cause; /* what made it urgent */
    char why[128]; /* what made it urgent / what was ignored */
};

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
     * the VM's nominal size, not the balloon's actual. */
    uint64_t nominal = in->nominal_bytes ? in->nominal_bytes : in->params.max_bytes;
    uint64_t bound = s->balloon_in_total ? nominal : in->actual_bytes;
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

static void read_guest(const struct policy_vm_in *in, const struct policy_tunables *t,
                       const struct policy_vm_state *s, uint64_t floor_bytes, struct guest_view *g)
{
    memset(g, 0, sizeof(*g));
    char ignored[80] = "";
    uint64_t slack = max_u64(pct_of(in->params.max_bytes, 2.0), 2 * MIB);

    if (in->agent.valid && in->agent.age_ms <= t->agent_stale_ms) {
        if (agent_plausible(in, s, slack, ignored, sizeof(ignored))) {
            const struct policy_agent_report *a = &in->agent;
            g->have = true;
            g->from_agent = true;
            g->available_bytes = a->mem_available_bytes;
            g->free_bytes = a->mem_free_bytes;
            g->used_bytes = a->mem_total_bytes - a->mem_available_bytes;
            if (s->balloon_in_total) {
                /* MemTotal - MemAvailable counts the balloon as used: take off
                 * the balloon as it was when the report arrived. The kernel's
                 * share is nominal - MemTotal, whatever the balloon does, so
                 * no learned overhead is needed. */
                uint64_t nominal = in->nominal_bytes ? in->nominal_bytes : in->params.max_bytes;
                uint64_t at_report =
                    a->balloon_actual_bytes ? a->balloon_actual_bytes : in->actual_bytes;
                g->used_bytes = sub_sat(g->used_bytes, sub_sat(nominal, at_report));
                g->need_bytes = add_sat(g->used_bytes, sub_sat(nominal, a->mem_total_bytes));
            } else {
                /*
                 * need = actual - MemAvailable = used + (actual - MemTotal), the
                 * last term being the kernel's own share, constant whatever the
                 * balloon does. While the balloon moves, actual (a fresh
                 * query-balloon) and the report (up to a second old) disagree:
                 * right after a deflation `actual - MemAvailable` would count the
                 * new pages as used and grow the guest a second time. Then the
                 * overhead learned while the balloon stood still is used instead.
                 */
                uint64_t overhead = sub_sat(in->actual_bytes, a->mem_total_bytes);
                uint64_t moved = in->actual_bytes > s->last_actual_bytes
                                     ? in->actual_bytes - s->last_actual_bytes
                                     : s->last_actual_bytes - in->actual_bytes;
                if (s->overhead_known && moved > t->stall_tolerance_bytes)
                    overhead = s->overhead_bytes;
                g->need_bytes = add_sat(g->used_bytes, overhead);
            }
            if (s->oom_kill_seen && a->oom_kill_count > s->last_oom_kill_count) {
                g->urgent = g->heavy = true;
                g->cause = POLICY_CAUSE_OOM_KILL;
                snprintf(g->why, sizeof(g->why), "guest OOM-killed %llu process(es)",
                         (unsigned long long)(a->oom_kill_count - s->last_oom_kill_count));
            } else if (t->guest_psi_full_pct > 0.0 &&
                       a->psi_full_avg10_pct >= t->guest_psi_full_pct) {
                g->urgent = g->heavy = true;
                g->cause = POLICY_CAUSE_PSI_FULL;
                snprintf(g->why, sizeof(g->why), "guest PSI full %.1f%%", a->psi_full_avg10_pct);
            } else if (in->pressure_event) {
                g->urgent = true;
                g->cause = POLICY_CAUSE_PRESSURE;
                snprintf(g->why, sizeof(g->why), "PRESSURE from agent");
            } else if (t->guest_psi_some_pct > 0.0 &&
                       a->psi_some_avg10_pct >= t->guest_psi_some_pct) {
                g->urgent = true;
                g->cause = POLICY_CAUSE_PSI_SOME;
                snprintf(g->why, sizeof(g->why), "guest PSI some %.1f%%", a->psi_some_avg10_pct);
            } else if (a->mem_available_bytes < floor_bytes) {
                g->urgent = true;
                g->cause = POLICY_CAUSE_MEM_FLOOR;
                snprintf(g->why, sizeof(g->why), "guest MemAvailable %llu MiB < floor %llu MiB",
                         MIBS(a->mem_available_bytes), MIBS(floor_bytes));
            }
            return;
        }
    } else if (in->agent.valid) {
        snprintf(ignored, sizeof(ignored), "agent report %llus old",
                 (unsigned long long)(in->agent.age_ms / 1000));
    }

    const struct policy_guest_stats *st = &in->stats;
    if (st->valid && st->age_ms <= t->stats_stale_ms && st->total_bytes != POLICY_UNKNOWN &&
        st->free_bytes != POLICY_UNKNOWN) {
        /* stat-available-memory needs a 4.16+ guest; MemFree understates
         * what the guest could give, which only errs on the safe side. */
        uint64_t avail =
            st->available_bytes != POLICY_UNKNOWN ? st->available_bytes : st->free_bytes;
        uint64_t nominal = in->nominal_bytes ? in->nominal_bytes : in->params.max_bytes;
        if (avail <= st->total_bytes && st->free_bytes <= st->total_bytes &&
            st->total_bytes <= add_sat(s->balloon_in_total ? nominal : in->actual_bytes, slack)) {
            g->have = true;
            g->available_bytes = avail;
            g->free_bytes = st->free_bytes;
            g->need_bytes = sub_sat(in->actual_bytes, avail);
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
            return;
        }
        if (!ignored[0])
            snprintf(ignored, sizeof(ignored), "guest-stats implausible");
    }

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

/* Pass 1 for one VM. Leaves out->target_bytes / decision / reason, and in
 * the state the goal, the step cap and whether pass 2 may squeeze further. */
static void decide_vm(const struct policy_snapshot *snap, double level,
                      const struct policy_vm_in *in, struct policy_vm_state *s,
                      struct policy_vm_out *out)
{
    const struct policy_tunables *t = snap->tunables;
    const int64_t now = snap->now_ms;
    struct policy_vm_params p = in->params;

    memset(out, 0, sizeof(*out));
    s->shrinkable = false;
    s->step_cap_bytes = 0;

    if (p.max_bytes == 0 || in->actual_bytes == 0) {
        out->target_bytes = in->target_bytes;
        out->decision = POLICY_INVALID;
        reason_set(out, "%s",
                   p.max_bytes == 0 ? "policy max is 0: nothing done"
                                    : "balloon actual unknown: nothing done");
        return;
    }
    bool clamped_policy = false;
    if (p.min_bytes > p.max_bytes) {
        p.min_bytes = p.max_bytes; /* config should have refused it; stay safe */
        clamped_policy = true;
    }
    const uint64_t cur = in->target_bytes ? in->target_bytes : in->actual_bytes;

    /* The time since the last shrink bounds the next step (rate * dt): extra
     * calls (the event path, a one-VM snapshot between ticks) do not add
     * steps, and a long pause (daemon stopped, host suspended) does not turn
     * into one giant step. */
    uint64_t tick = t->tick_interval_ms ? t->tick_interval_ms : 5000;
    uint64_t dt_ms = tick;
    if (s->shrunk)
        dt_ms =
            now > s->last_shrink_ms ? min_u64((uint64_t)(now - s->last_shrink_ms), 4 * tick) : 0;

    if (p.mode == POLICY_MODE_FIXED) {
        uint64_t fixed = p.fixed_bytes ? p.fixed_bytes : p.max_bytes;
        out->target_bytes = clamp_u64(fixed, p.min_bytes, p.max_bytes);
        out->decision = POLICY_FIXED_SIZE;
        reason_set(out, "fixed at %llu MiB%s", MIBS(out->target_bytes),
                   clamped_policy ? " (policy min > max: clamped)" : "");
        return;
    }

    const uint64_t floor_bytes =
        max_u64(pct_of(p.max_bytes, t->guest_avail_floor_pct), t->guest_avail_floor_bytes);
    const uint64_t deadband = max_u64(pct_of(p.max_bytes, t->deadband_pct), t->deadband_bytes);
    const uint64_t headroom_calm = max_u64(pct_of(p.max_bytes, t->headroom_pct), t->headroom_bytes);
    const uint64_t headroom_tight =
        max_u64(pct_of(p.max_bytes, t->pressure_headroom_pct), t->pressure_headroom_bytes);
    uint64_t headroom = headroom_tight >= headroom_calm
                            ? headroom_calm
                            : headroom_calm - scale_u64(headroom_calm - headroom_tight, level);
    /* Never plan a size that leaves the guest under its own pressure floor:
     * shrinking into it would trigger an urgent growth, then a shrink again,
     * forever. A deadband above the floor keeps the two apart. */
    headroom = max_u64(headroom, add_sat(floor_bytes, deadband));

    /* deflate-on-oom balloons stay inside the guest's MemTotal (see
     * policy_vm_state.balloon_in_total): a fresh report or guest-stats with
     * a total above the balloon's actual, but not above nominal, shows it.
     * Only while the balloon stands still since the report arrived (for
     * guest-stats: since the last call): a report taken just before a shrink
     * shows the
     * old, larger MemTotal above the new actual - that is not the mode, and
     * taking it for the mode would subtract the balloon from a use that
     * never contained it. */
    {
        uint64_t nominal = in->nominal_bytes ? in->nominal_bytes : p.max_bytes;
        uint64_t slack = max_u64(pct_of(p.max_bytes, 2.0), 2 * MIB);
        uint64_t total = 0, seen_at = in->actual_bytes;
        bool from_stats = false;
        if (in->agent.valid && in->agent.age_ms <= t->agent_stale_ms) {
            /* Only when the caller says which balloon the report saw. */
            total = in->agent.balloon_actual_bytes ? in->agent.mem_total_bytes : 0;
            seen_at = in->agent.balloon_actual_bytes;
        } else if (in->stats.valid && in->stats.age_ms <= t->stats_stale_ms &&
                   in->stats.total_bytes != POLICY_UNKNOWN) {
            total = in->stats.total_bytes;
            from_stats = true;
        }
        uint64_t moved_since_report =
            in->actual_bytes > seen_at ? in->actual_bytes - seen_at : seen_at - in->actual_bytes;
        uint64_t moved_since_call = in->actual_bytes > s->last_actual_bytes
                                        ? in->actual_bytes - s->last_actual_bytes
                                        : s->last_actual_bytes - in->actual_bytes;
        if (s->initialized && moved_since_report <= t->stall_tolerance_bytes &&
            (!from_stats || moved_since_call <= t->stall_tolerance_bytes) &&
            total > add_sat(in->actual_bytes, slack) && total <= add_sat(nominal, slack))
            s->balloon_in_total = true;
    }

    struct guest_view g;
    read_guest(in, t, s, floor_bytes, &g);

    /* Keep the oom_kill counter in step whenever the agent is fresh and the
     * counter is sane; a counter that went backwards is resynchronised. */
    if (in->agent.valid && in->agent.age_ms <= t->agent_stale_ms) {
        s->last_oom_kill_count = in->agent.oom_kill_count;
        s->oom_kill_seen = true;
    }
    if (!s->initialized)
        s->last_data_ms = now;

    /* How fast the guest's own use rises between two reports, and the
     * kernel's share learned while the balloon stands still (read_guest). */
    uint64_t rise = 0;
    if (g.have && g.from_agent) {
        if (s->used_known && g.used_bytes > s->last_used_bytes)
            rise = g.used_bytes - s->last_used_bytes;
        s->last_used_bytes = g.used_bytes;
        s->used_known = true;
        uint64_t moved = in->actual_bytes > s->last_actual_bytes
                             ? in->actual_bytes - s->last_actual_bytes
                             : s->last_actual_bytes - in->actual_bytes;
        if (s->initialized && moved <= t->stall_tolerance_bytes && !s->balloon_in_total) {
            s->overhead_bytes = sub_sat(in->actual_bytes, in->agent.mem_total_bytes);
            s->overhead_known = true;
        }
    }
    if (g.have) {
        s->last_data_ms = now;
        s->need_bytes = g.need_bytes;
        /* Fast up, slow down: a dip in usage must last to be trusted. */
        if (!s->initialized || g.need_bytes >= s->need_smoothed_bytes ||
            s->need_smoothed_bytes == 0)
            s->need_smoothed_bytes = g.need_bytes;
        else
            s->need_smoothed_bytes -= (s->need_smoothed_bytes - g.need_bytes) / 2;
    }

    /* Stall detection: only for shrinking (actual above a lower target). A
     * deflate that lags is the guest's business; we never lower a target on
     * a guest that wants memory. */
    bool stalled_now = false;
    if (in->actual_bytes > add_sat(cur, t->stall_tolerance_bytes)) {
        uint64_t moved = in->actual_bytes > s->last_actual_bytes
                             ? in->actual_bytes - s->last_actual_bytes
                             : s->last_actual_bytes - in->actual_bytes;
        if (s->initialized && moved < t->stall_tolerance_bytes)
            s->stall_ticks++;
        else
            s->stall_ticks = 0;
        if (t->stall_ticks > 0 && s->stall_ticks >= t->stall_ticks)
            stalled_now = true;
    } else {
        s->stall_ticks = 0;
    }
    if (s->stalled_at_bytes && now >= s->stalled_until_ms)
        s->stalled_at_bytes = 0; /* retry */

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
    const uint64_t deflate_step = max_u64(t->stall_tolerance_bytes, MIB);
    if (s->deflate_open && in->actual_bytes < add_sat(cur, deflate_step))
        s->deflate_open = false; /* the target caught up: episode over */
    bool above_now = in->actual_bytes >= add_sat(cur, deflate_step) &&
                     in->actual_bytes >= add_sat(s->last_actual_bytes, deflate_step);
    if (s->initialized && in->target_bytes && p.mode != POLICY_MODE_FIXED &&
        (above_now || in->guest_raised_over_bytes)) {
        if (!s->deflate_open) {
            s->deflate_open = above_now;
            s->guest_deflate_events++;
            out->guest_deflated = true;
        }
        s->deflate_held = true;
        s->deflate_hold_until_ms = now + (int64_t)t->deflate_hold_ms;
        if (above_now && !g.heavy) {
            g.urgent = true;
            g.cause = POLICY_CAUSE_GUEST_DEFLATE;
            snprintf(g.why, sizeof(g.why),
                     "guest deflated its balloon on OOM (actual %llu MiB > target %llu MiB)",
                     MIBS(in->actual_bytes), MIBS(cur));
        }
    }

    /* Goal: working set + headroom. Grow against the latest figure, shrink
     * against the smoothed one. */
    uint64_t grow_goal = 0, goal = 0;
    if (g.have) {
        grow_goal =
            clamp_u64(round_up_mib(add_sat(g.need_bytes, headroom)), p.min_bytes, p.max_bytes);
        goal = clamp_u64(round_up_mib(add_sat(s->need_smoothed_bytes, headroom)), p.min_bytes,
                         p.max_bytes);
        if (grow_goal > goal)
            goal = grow_goal;
    }
    s->goal_bytes = goal;

    if (g.urgent) {
        /* Give it back at once and by plenty: what the floor lacks plus
         * headroom, at least urgent_step_pct of max; everything under heavy
         * pressure. Never rate-limited, whatever the host's state. */
        uint64_t target;
        if (g.heavy) {
            target = p.max_bytes;
        } else {
            uint64_t base = max_u64(in->actual_bytes, cur);
            uint64_t deficit = g.have ? sub_sat(floor_bytes, g.available_bytes) : 0;
            uint64_t step =
                max_u64(add_sat(deficit, headroom), pct_of(p.max_bytes, t->urgent_step_pct));
            target = max_u64(add_sat(base, step), grow_goal);
            target = clamp_u64(round_up_mib(target), p.min_bytes, p.max_bytes);
        }
        s->stall_ticks = 0;
        s->stalled_at_bytes = 0;
        if (target > cur) {
            out->target_bytes = target;
            out->decision = POLICY_GROW_URGENT;
            out->cause = g.cause;
            reason_set(out, "%s: grow %llu -> %llu MiB%s", g.why, MIBS(cur), MIBS(target),
                       g.heavy ? " (max)" : "");
        } else {
            out->target_bytes = cur;
            out->decision = POLICY_HOLD;
            reason_set(out, "%s, but already at %llu MiB (max %llu)", g.why, MIBS(cur),
                       MIBS(p.max_bytes));
        }
        s->last_grow_ms = now; /* pressure restarts the hold-down too */
        s->grown = true;
        goto done;
    }

    /* A target outside [min, max] (policy reloaded, set by hand) is fixed
     * first, with or without data. */
    if (cur > p.max_bytes || cur < p.min_bytes) {
        out->target_bytes = clamp_u64(cur, p.min_bytes, p.max_bytes);
        out->decision = out->target_bytes > cur ? POLICY_GROW : POLICY_SHRINK;
        if (out->decision == POLICY_GROW)
            out->cause = POLICY_CAUSE_CLAMP;
        reason_set(out, "target %llu MiB outside policy [%llu, %llu] MiB: clamped", MIBS(cur),
                   MIBS(p.min_bytes), MIBS(p.max_bytes));
        goto done;
    }

    if (stalled_now) {
        /* FACTS: 256 -> 64 MiB stalls at 68 MiB with no error and no event.
         * Stop pushing: hold where the balloon got, retry later. */
        uint64_t at = clamp_u64(round_up_mib(in->actual_bytes), p.min_bytes, p.max_bytes);
        s->stalled_at_bytes = at;
        s->stalled_until_ms = now + (int64_t)t->stall_retry_ms;
        s->stall_ticks = 0;
        out->target_bytes = at;
        out->decision = POLICY_STALLED;
        reason_set(out, "stalled: balloon stuck at %llu MiB, target was %llu MiB; retry in %llus",
                   MIBS(in->actual_bytes), MIBS(cur),
                   (unsigned long long)(t->stall_retry_ms / 1000));
        if (p.reclaim_allowed && g.from_agent)
            out->reclaim_bytes = in->actual_bytes - cur;
        goto done;
    }

    if (!g.have) {
        out->target_bytes = cur;
        uint64_t blind_ms = now > s->last_data_ms ? (uint64_t)(now - s->last_data_ms) : 0;
        if (t->blind_release_ms && blind_ms >= t->blind_release_ms && cur < p.max_bytes) {
            /* A guest whose agent died (maybe OOM-killed itself) may be
             * starving: after long enough, give it its memory back. */
            out->target_bytes = p.max_bytes;
            out->decision = POLICY_GROW;
            out->cause = POLICY_CAUSE_BLIND;
            reason_set(out, "no guest data for %llus: giving memory back (%s)",
                       (unsigned long long)(blind_ms / 1000), g.why[0] ? g.why : "no agent");
        } else {
            out->decision = POLICY_NO_DATA;
            reason_set(out, "%s: holding at %llu MiB, never shrink blind",
                       g.why[0] ? g.why : "no fresh agent report or guest-stats", MIBS(cur));
        }
        goto done;
    }

    /*
     * Growth ahead of a rising working set. The trigger below waits until
     * the guest eats into its tight headroom; a guest allocating fast may be
     * OOM-killed before the next report gets there: a tiny guest with no page
     * cache to reclaim is killed before its PSI trigger fires (measured under
     * TCG: ~25 MiB/s of allocation ate 35 MiB of headroom and OOM-killed the
     * workload 1.7 s into its spike, no PRESSURE frame was ever sent). So when
     * the guest's own use rose by a deadband or more since the last report,
     * and one more such rise would cross the trigger, grow now to need +
     * headroom + the rise: room for one more report interval at the rate just
     * seen. MemTotal - MemAvailable does not move with the balloon, so our
     * own actuation never looks like a rise.
     */
    uint64_t margin = max_u64(headroom_tight, add_sat(floor_bytes, deadband));
    if (rise >= deadband && cur < p.max_bytes &&
        add_sat(add_sat(g.need_bytes, rise), margin) > cur) {
        uint64_t target = add_sat(add_sat(g.need_bytes, headroom), rise);
        target = clamp_u64(round_up_mib(target), p.min_bytes, p.max_bytes);
        if (target > cur) {
            out->target_bytes = target;
            out->decision = POLICY_GROW;
            out->cause = POLICY_CAUSE_RISING;
            reason_set(out,
                       "working set rising +%llu MiB to %llu MiB: grow %llu -> %llu MiB "
                       "(headroom %llu + rise)",
                       MIBS(rise), MIBS(g.need_bytes), MIBS(cur), MIBS(target), MIBS(headroom));
            s->stall_ticks = 0;
            s->stalled_at_bytes = 0;
            s->last_grow_ms = now;
            s->grown = true;
            goto done;
        }
    }

    /* Growth with hysteresis: triggered when the guest eats into the tight
     * headroom (never below floor + deadband), refilled to the headroom of
     * the moment. Host pressure moving between the two then changes no
     * target by itself, so the fleet does not pump with the host's level. */
    uint64_t trigger = add_sat(g.need_bytes, margin);
    if (trigger > cur && cur < p.max_bytes) {
        uint64_t target = max_u64(grow_goal, add_sat(trigger, deadband));
        target = clamp_u64(round_up_mib(target), p.min_bytes, p.max_bytes);
        out->target_bytes = target;
        out->decision = POLICY_GROW;
        out->cause = POLICY_CAUSE_WORKING_SET;
        reason_set(out, "working set %llu MiB rose: grow %llu -> %llu MiB (headroom %llu MiB)",
                   MIBS(g.need_bytes), MIBS(cur), MIBS(target), MIBS(headroom));
        s->last_grow_ms = now;
        s->grown = true;
        goto done;
    }

    out->target_bytes = cur;
    out->decision = POLICY_HOLD;
    if (goal >= cur || cur - goal < deadband) {
        reason_set(out, "at working set %llu + headroom %llu MiB (goal %llu, target %llu MiB)",
                   MIBS(s->need_smoothed_bytes), MIBS(headroom), MIBS(goal), MIBS(cur));
        goto done;
    }
    if (p.agent_required && !g.from_agent) {
        reason_set(out, "agent required: no shrink without a fresh agent report (%s)",
                   g.why[0] ? g.why : "guest-stats only");
        goto done;
    }
    if (s->grown && now - s->last_grow_ms < (int64_t)t->grow_hold_ms) {
        reason_set(
            out, "hold-down after growth: no shrink for %llus more",
            (unsigned long long)((t->grow_hold_ms - (uint64_t)(now - s->last_grow_ms)) / 1000));
        goto done;
    }
    if (s->deflate_held && now < s->deflate_hold_until_ms) {
        reason_set(out,
                   "hold-down after the guest deflated on OOM: no shrink for %llus more "
                   "(goal %llu MiB)",
                   (unsigned long long)((uint64_t)(s->deflate_hold_until_ms - now) / 1000),
                   MIBS(goal));
        goto done;
    }
    if (s->stalled_at_bytes && goal < s->stalled_at_bytes) {
        out->decision = POLICY_STALLED;
        reason_set(out, "stalled at %llu MiB (goal %llu MiB): retry in %llus",
                   MIBS(s->stalled_at_bytes), MIBS(goal),
                   (unsigned long long)((uint64_t)(s->stalled_until_ms - now) / 1000));
        goto done;
    }
    if (in->actual_bytes > add_sat(cur, t->stall_tolerance_bytes)) {
        reason_set(out, "waiting for balloon: actual %llu MiB, target %llu MiB",
                   MIBS(in->actual_bytes), MIBS(cur));
        goto done;
    }

    /* Gradual shrink: close shrink_gain of the gap, at least a deadband (or
     * it would never finish), at most rate * dt and step_max, both scaled up
     * with host pressure. The cap is what the guest's reclaim can follow. */
    uint64_t gap = cur - goal;
    double factor =
        1.0 + (t->pressure_step_factor > 1.0 ? t->pressure_step_factor - 1.0 : 0.0) * level;
    uint64_t cap = min_u64(scale_u64(t->vm_shrink_rate_bytes_per_s, (double)dt_ms / 1000.0),
                           t->vm_shrink_step_max_bytes);
    cap = scale_u64(cap, factor);
    uint64_t desired = min_u64(max_u64(pct_of(gap, t->shrink_gain_pct), deadband), gap);
    s->step_cap_bytes = cap;
    uint64_t tick_cap =
        scale_u64(min_u64(scale_u64(t->vm_shrink_rate_bytes_per_s, (double)tick / 1000.0),
                          t->vm_shrink_step_max_bytes),
                  factor);
    if (cap < min_u64(desired, tick_cap)) {
        /* The allowance since the last step does not cover a step worth
         * making (the step wanted, or a full tick's worth): wait. Extra
         * calls between ticks therefore add no balloon operations. */
        reason_set(out, "pacing: next shrink step toward %llu MiB when the rate allows",
                   MIBS(goal));
        goto done;
    }
    uint64_t step = min_u64(desired, cap);
    s->shrinkable = true;
    out->target_bytes = cur - step;
    out->decision = POLICY_SHRINK;
    reason_set(out, "shrink %llu -> %llu MiB toward working set %llu + headroom %llu MiB",
               MIBS(cur), MIBS(out->target_bytes), MIBS(s->need_smoothed_bytes), MIBS(headroom));

done:
    if (g.why[0] && g.have && !g.urgent && out->decision != POLICY_INVALID)
        reason_append(out, " [%s]", g.why);
    if (clamped_policy)
        reason_prefix(out, "policy min > max, min clamped to max; ");
    out->target_bytes = clamp_u64(out->target_bytes, p.min_bytes, p.max_bytes);
}

int policy_evaluate(const struct policy_snapshot *snap, struct policy_vm_state *states,
                    struct policy_vm_out *out, struct policy_summary *summary)
{
    if (!snap || !snap->tunables || (snap->n_vms && (!snap->vms || !states || !out)))
        return -EINVAL;
    const struct policy_tunables *t = snap->tunables;
    uint64_t deficit = 0;
    double level = host_pressure_level(&snap->host, t, &deficit);
    struct policy_summary sum = {.host_pressure = level, .host_deficit_bytes = deficit};

    /* Pass 1: each VM on its own merits. */
    for (size_t i = 0; i < snap->n_vms; i++)
        decide_vm(snap, level, &snap->vms[i], &states[i], &out[i]);

    /* Pass 2: host below its high watermark. Spread what the normal steps
     * leave of the deficit over shrinkable VMs by (room / shares). */
    uint64_t planned = 0;
    for (size_t i = 0; i < snap->n_vms; i++) {
        uint64_t cur =
            snap->vms[i].target_bytes ? snap->vms[i].target_bytes : snap->vms[i].actual_bytes;
        if (out[i].decision == POLICY_SHRINK && snap->vms[i].params.mode == POLICY_MODE_MANAGED)
            planned += sub_sat(cur, out[i].target_bytes);
    }
    if (deficit > planned) {
        uint64_t remaining = deficit - planned;
        double total_weight = 0.0;
        for (size_t i = 0; i < snap->n_vms; i++) {
            const struct policy_vm_in *in = &snap->vms[i];
            if (!states[i].shrinkable || in->params.mode != POLICY_MODE_MANAGED)
                continue;
            uint64_t room = sub_sat(out[i].target_bytes, states[i].goal_bytes);
            total_weight += (double)room / (double)(in->params.shares ? in->params.shares : 1);
        }
        for (size_t i = 0; i < snap->n_vms && total_weight > 0.0; i++) {
            const struct policy_vm_in *in = &snap->vms[i];
            if (!states[i].shrinkable || in->params.mode != POLICY_MODE_MANAGED)
                continue;
            uint64_t cur = in->target_bytes ? in->target_bytes : in->actual_bytes;
            uint64_t room = sub_sat(out[i].target_bytes, states[i].goal_bytes);
            double w = (double)room / (double)(in->params.shares ? in->params.shares : 1);
            uint64_t extra = scale_u64(remaining, w / total_weight);
            uint64_t stepped = sub_sat(cur, out[i].target_bytes);
            extra = min_u64(extra, room);
            extra = min_u64(extra, sub_sat(states[i].step_cap_bytes, stepped));
            if (extra == 0)
                continue;
            out[i].target_bytes -= extra;
            if (out[i].decision != POLICY_SHRINK) {
                out[i].decision = POLICY_SHRINK;
                reason_set(&out[i], "host pressure %.0f%%: shrink %llu -> %llu MiB (goal %llu)",
                           level * 100.0, MIBS(cur), MIBS(out[i].target_bytes),
                           MIBS(states[i].goal_bytes));
            } else {
                reason_append(&out[i], " +%llu MiB for host", MIBS(extra));
            }
        }
    }

    /* Pass 3: the host-wide rate, then actuation, RECLAIM and state. */
    uint64_t tick = t->tick_interval_ms ? t->tick_interval_ms : 5000;
    double factor =
        1.0 + (t->pressure_step_factor > 1.0 ? t->pressure_step_factor - 1.0 : 0.0) * level;
    uint64_t budget =
        scale_u64(scale_u64(t->host_shrink_rate_bytes_per_s, (double)tick / 1000.0), factor);
    /* The budget goes to whole steps, VM after VM from a starting point
     * that moves every tick; the rest wait their turn. Scaling every step
     * down instead would turn 1000 VMs into 1000 tiny balloon moves a tick. */
    if (snap->n_vms > 0) {
        size_t start = (size_t)(((uint64_t)(snap->now_ms > 0 ? snap->now_ms : 0) / tick) * 7919u %
                                snap->n_vms);
        uint64_t left = budget;
        for (size_t k = 0; k < snap->n_vms; k++) {
            size_t i = (start + k) % snap->n_vms;
            const struct policy_vm_in *in = &snap->vms[i];
            struct policy_vm_out *o = &out[i];
            uint64_t cur = in->target_bytes ? in->target_bytes : in->actual_bytes;
            if (o->decision != POLICY_SHRINK || in->params.mode != POLICY_MODE_MANAGED ||
                o->target_bytes >= cur || cur > in->params.max_bytes)
                continue; /* a policy correction (above max) is never deferred */
            uint64_t step = cur - o->target_bytes;
            uint64_t dband =
                max_u64(pct_of(in->params.max_bytes, t->deadband_pct), t->deadband_bytes);
            if (step <= left) {
                left -= step;
            } else if (left >= dband) {
                o->target_bytes = cur - left;
                left = 0;
                reason_append(o, " (cut by host rate limit)");
            } else {
                o->target_bytes = cur;
                o->decision = POLICY_HOLD;
                states[i].shrinkable = false;
                reason_set(o,
                           "host shrink budget of this tick used: waiting for a turn "
                           "(goal %llu MiB)",
                           MIBS(states[i].goal_bytes));
            }
        }
    }

    for (size_t i = 0; i < snap->n_vms; i++) {
        const struct policy_vm_in *in = &snap->vms[i];
        struct policy_vm_state *s = &states[i];
        struct policy_vm_out *o = &out[i];
        uint64_t cur = in->target_bytes ? in->target_bytes : in->actual_bytes;

        bool changes = o->decision != POLICY_INVALID && o->target_bytes != in->target_bytes &&
                       o->target_bytes != 0;
        if (o->decision == POLICY_SHRINK && in->params.reclaim_allowed && in->agent.valid &&
            in->agent.age_ms <= t->agent_stale_ms &&
            in->agent.mem_free_bytes <= in->agent.mem_total_bytes) {
            /* Ask the guest to drop caches when the step would eat into
             * them: the balloon then inflates into free pages at once. */
            uint64_t step = sub_sat(cur, o->target_bytes);
            if (in->agent.mem_free_bytes < step + t->guest_avail_floor_bytes)
                o->reclaim_bytes = step;
        }
        if (in->params.mode == POLICY_MODE_OBSERVE) {
            o->actuate = false;
            o->reclaim_bytes = 0;
            reason_prefix(o, "observe: would %s; ", policy_decision_name(o->decision));
        } else if (in->params.mode == POLICY_MODE_SAFE) {
            /* Never lower a target, never RECLAIM; raise it when the guest
             * needs memory (see enum policy_mode). */
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

        if (o->decision == POLICY_SHRINK)
            sum.shrink_total_bytes += sub_sat(cur, o->target_bytes);
        if (o->decision == POLICY_GROW || o->decision == POLICY_GROW_URGENT)
            sum.grow_total_bytes += sub_sat(o->target_bytes, cur);
        if (o->decision == POLICY_GROW_URGENT)
            sum.n_urgent++;
        if (o->decision == POLICY_STALLED)
            sum.n_stalled++;
        if (o->actuate)
            sum.n_actuate++;

        if (o->actuate && o->decision == POLICY_SHRINK) {
            s->last_shrink_ms = snap->now_ms;
            s->shrunk = true;
        }
        if (o->actuate && o->target_bytes != s->last_target_bytes) {
            s->last_target_bytes = o->target_bytes;
            s->last_change_ms = snap->now_ms;
        }
        s->last_actual_bytes = in->actual_bytes;
        s->last_eval_ms = snap->now_ms;
        s->initialized = true;
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
    uint64_t cur = in->target_bytes ? in->target_bytes : in->actual_bytes;
    return (out.decision == POLICY_GROW || out.decision == POLICY_GROW_URGENT) &&
           out.target_bytes > cur;
}
