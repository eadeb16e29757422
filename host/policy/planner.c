/* planner.c — see planner.h. Pure: no I/O, no clock, no globals. */
#include "planner.h"

#include "proto.h"

/* --- actuation ---------------------------------------------------------------------------- */

uint64_t planner_current_bytes(uint64_t target_set_bytes, uint64_t actual_bytes)
{
    return target_set_bytes ? target_set_bytes : actual_bytes;
}

bool planner_is_growth(const struct planner_vm *vm)
{
    return vm->want_bytes > vm->current_bytes;
}

size_t planner_order(const struct planner_vm *vms, size_t n, size_t *order)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (planner_is_growth(&vms[i]))
            order[k++] = i;
    size_t grows = k;
    for (size_t i = 0; i < n; i++)
        if (!planner_is_growth(&vms[i]))
            order[k++] = i;
    return grows;
}

enum planner_act planner_actuation(const struct planner_vm *vm, bool dry_run, unsigned budget,
                                   int64_t now_ms)
{
    if (dry_run || !vm->actuate) {
        if (vm->want_bytes != vm->logged_bytes && vm->want_bytes != vm->current_bytes)
            return PLANNER_WOULD_MOVE;
        return PLANNER_HANDS_OFF;
    }
    if (vm->want_bytes == vm->current_bytes)
        return PLANNER_NOTHING;
    if (!planner_is_growth(vm) && now_ms - vm->last_set_ms < PLANNER_VM_MIN_SHRINK_INTERVAL_MS)
        return PLANNER_WAIT_GAP;
    if (budget == 0)
        return PLANNER_WAIT_BUDGET;
    return PLANNER_SEND;
}

const char *planner_would_move_verb(const struct planner_vm *vm, bool dry_run)
{
    if (dry_run)
        return "dry-run: would move";
    return vm->mode == POLICY_MODE_SAFE ? "safe mode: would move" : "observe: would move";
}

bool planner_event_takes(const struct policy_vm_out *out, uint64_t current_bytes)
{
    return (out->decision == POLICY_GROW || out->decision == POLICY_GROW_URGENT) &&
           out->target_bytes > current_bytes;
}

uint64_t planner_guarantee_target(double host_pressure, uint64_t want_bytes, uint64_t current_bytes,
                                  uint64_t guaranteed_bytes)
{
    if (host_pressure <= 0.0 || want_bytes <= current_bytes || want_bytes <= guaranteed_bytes)
        return want_bytes;
    return current_bytes > guaranteed_bytes ? current_bytes : guaranteed_bytes;
}

/* --- balloon changes ---------------------------------------------------------------------- */

/* The target in force when the change happened: at its stamp (0 when the
 * history does not reach back), else the current one. */
static uint64_t in_force_at(const struct planner_balloon_event *ev)
{
    return ev->changed_real_us ? target_history_at(ev->sent, ev->changed_real_us)
                               : ev->target_set_bytes;
}

struct planner_balloon_verdict planner_classify_balloon(const struct planner_balloon_event *ev)
{
    struct planner_balloon_verdict v = {PLANNER_BALLOON_OURS, 0, 0};
    if (ev->before_bytes < 0 || ev->actual_bytes == ev->before_bytes || ev->actual_bytes < 0)
        return v;
    uint64_t actual = (uint64_t)ev->actual_bytes;
    if (ev->actual_bytes < ev->before_bytes) {
        /* Our shrink lowers actual toward the target, never under it (QEMU
         * rounds to pages): only another balloon command inflates further. */
        uint64_t in_force = in_force_at(ev);
        if (in_force && actual + PLANNER_CONVERGED_BYTES <= in_force) {
            v.change = PLANNER_BALLOON_FOREIGN;
            v.foreign_bytes = actual;
        }
        return v;
    }
    /* Our growth raises the target first and a shrink only lowers actual
     * toward it: only a rise over the target in force is not ours. */
    int64_t at = ev->changed_real_us;
    uint64_t in_force = ev->target_set_bytes;
    if (at)
        in_force = at > ev->raise_counted_real_us ? target_history_at(ev->sent, at) : 0;
    if (!in_force || actual < in_force + PLANNER_CONVERGED_BYTES)
        return v;
    /* A guest deflates on OOM only under pressure, and its pressure and the
     * balloon's rise are read apart: pressure now or a moment ago is a
     * deflate (the order that was once misread: PRESSURE, a calm report,
     * then QEMU's event). Nothing known errs toward giving memory. */
    if (ev->guest_pressure || planner_pressure_recent(ev->pressure_ms, ev->now_ms) ||
        !ev->pressure_known) {
        v.change = PLANNER_BALLOON_GUEST_DEFLATE;
        if (at)
            v.raised_over_bytes = in_force;
        return v;
    }
    /* The guest says it has none, and showed none lately: someone raised
     * its target (confirmed only if no pressure follows either). */
    v.change = PLANNER_BALLOON_FOREIGN;
    v.foreign_bytes = actual;
    v.raised_over_bytes = in_force;
    return v;
}

bool planner_guest_pressed(const struct policy_vm_in *in, const struct policy_vm_state *s,
                           const struct policy_tunables *t, bool *known)
{
    const struct policy_agent_report *a = &in->agent;
    bool fresh = a->valid && a->age_ms <= t->agent_stale_ms;
    *known = fresh || in->pressure_event;
    if (in->pressure_event)
        return true;
    if (!fresh)
        return false;
    uint64_t max = in->params.max_bytes ? in->params.max_bytes : in->nominal_bytes;
    uint64_t floor = (uint64_t)((double)max * t->guest_avail_floor_pct / 100.0);
    if (floor < t->guest_avail_floor_bytes)
        floor = t->guest_avail_floor_bytes;
    bool oom_kill = s->oom_kill_seen && a->oom_kill_count > s->last_oom_kill_count;
    /* A threshold of 0 is off (docs/config.md). */
    bool psi = (t->guest_psi_some_pct > 0 && a->psi_some_avg10_pct >= t->guest_psi_some_pct) ||
               (t->guest_psi_full_pct > 0 && a->psi_full_avg10_pct >= t->guest_psi_full_pct);
    return psi || (a->mem_total_bytes && a->mem_available_bytes < floor) || oom_kill;
}

uint64_t planner_foreign_target(enum policy_decision decision, uint64_t want_bytes,
                                uint64_t current_bytes)
{
    if (decision == POLICY_GROW_URGENT && want_bytes > current_bytes)
        return want_bytes;
    return current_bytes;
}

bool planner_pressure_recent(int64_t pressure_ms, int64_t now_ms)
{
    return pressure_ms > 0 && now_ms - pressure_ms <= PLANNER_DEFLATE_PRESSURE_MS;
}

enum planner_foreign_settle planner_foreign_settle(uint64_t rose_over_bytes, int64_t seen_ms,
                                                   int64_t pressure_ms, int64_t now_ms)
{
    if (!rose_over_bytes)
        return PLANNER_FOREIGN_CONFIRMED;
    /* Either way round: a frame read just before the event counts too (the
     * classifier may have been asked without it: an agent that reconnected). */
    if (pressure_ms > 0 && pressure_ms >= seen_ms - PLANNER_DEFLATE_PRESSURE_MS &&
        pressure_ms <= seen_ms + PLANNER_DEFLATE_PRESSURE_MS)
        return PLANNER_FOREIGN_WAS_DEFLATE;
    if (now_ms - seen_ms > PLANNER_DEFLATE_PRESSURE_MS)
        return PLANNER_FOREIGN_CONFIRMED;
    return PLANNER_FOREIGN_PENDING;
}

uint64_t planner_deflated_over_bytes(const struct policy_vm_in *in)
{
    uint64_t over = in->target_bytes;
    if (in->guest_raised_over_bytes && in->actual_bytes < over + PLANNER_CONVERGED_BYTES)
        over = in->guest_raised_over_bytes; /* seen late: grown past it already */
    return over;
}

int64_t planner_grow_trigger_ms(bool report_valid, int64_t report_ms, int64_t now_ms)
{
    return report_valid && report_ms < now_ms ? report_ms : now_ms;
}

bool planner_grow_reached(uint64_t grow_wait_bytes, int64_t actual_bytes)
{
    return grow_wait_bytes && actual_bytes >= 0 &&
           (uint64_t)actual_bytes + PLANNER_CONVERGED_BYTES >= grow_wait_bytes;
}

enum planner_watch planner_watch_step(uint64_t grow_wait_bytes, bool backend_up,
                                      int64_t grow_sent_ms, int64_t now_ms)
{
    if (!grow_wait_bytes)
        return PLANNER_WATCH_NONE;
    if (!backend_up || now_ms - grow_sent_ms > PLANNER_CONVERGE_WATCH_MS)
        return PLANNER_WATCH_GIVE_UP;
    return PLANNER_WATCH_QUERY;
}

/* --- schedule ----------------------------------------------------------------------------- */

bool planner_quiet_reports_ok(uint64_t agent_stale_ms, uint32_t report_interval_ms)
{
    return agent_stale_ms >= (uint64_t)(PROTO_QUIET_HEARTBEAT_INTERVALS + 2) * report_interval_ms;
}

uint64_t planner_release_bytes(enum policy_mode mode, uint64_t max_bytes, uint64_t actual_bytes,
                               uint64_t target_set_bytes)
{
    if (!max_bytes || !actual_bytes || mode == POLICY_MODE_OBSERVE || mode == POLICY_MODE_FIXED)
        return 0;
    uint64_t want = max_bytes > actual_bytes ? max_bytes : actual_bytes;
    if (target_set_bytes)
        return want > target_set_bytes ? want : 0;
    return want >= actual_bytes + PLANNER_CONVERGED_BYTES ? want : 0;
}

bool planner_polled_reports_ok(uint64_t agent_stale_ms, uint32_t report_interval_ms,
                               uint64_t tick_ms)
{
    return planner_quiet_reports_ok(agent_stale_ms, report_interval_ms) &&
           agent_stale_ms >= 2 * tick_ms + PLANNER_POLL_COLLECT_MS;
}

bool planner_poll_due(bool report_valid, int64_t report_ms, uint64_t agent_stale_ms, int64_t now_ms)
{
    return !report_valid || now_ms - report_ms >= (int64_t)(agent_stale_ms / 2);
}

static bool at_target(uint64_t actual_bytes, uint64_t target_bytes, uint64_t tolerance_bytes)
{
    return actual_bytes <= target_bytes || actual_bytes - target_bytes <= tolerance_bytes;
}

bool planner_poll_after_shrink(bool shrink_unseen, int64_t report_ms, int64_t last_set_ms,
                               int64_t report_actual_bytes, uint64_t actual_bytes,
                               uint64_t target_bytes, uint64_t tolerance_bytes)
{
    if (!shrink_unseen || target_bytes == 0 || actual_bytes == 0 ||
        !at_target(actual_bytes, target_bytes, tolerance_bytes))
        return false;
    const bool report_before =
        report_ms <= last_set_ms || report_actual_bytes < 0 ||
        !at_target((uint64_t)report_actual_bytes, target_bytes, tolerance_bytes);
    return report_before;
}

bool planner_refresh_due(const struct planner_refresh *r, int64_t now_ms, bool *guest_stats)
{
    *guest_stats = !r->has_agent || !r->report_valid;
    return *guest_stats || r->refresh_each_tick || r->actual_bytes < 0 || r->nominal_bytes <= 0 ||
           now_ms - r->refresh_ms >= PLANNER_BALLOON_REFRESH_MS;
}

/* --- host figures missing ----------------------------------------------------------------- */

struct policy_host planner_host_unknown(void)
{
    /* mem_total_bytes 0: the engine's host pressure level is 0 and there is
     * no deficit (host_pressure_level), so nothing is shrunk for the host;
     * psi_valid false: no host PSI either. */
    return (struct policy_host){.mem_total_bytes = 0, .psi_valid = false};
}

bool planner_host_unknown_takes(const struct policy_vm_out *out, uint64_t current_bytes)
{
    return planner_event_takes(out, current_bytes);
}
