/*
 * ballastd's manager (see manager.h).
 *
 * The loop it closes, once per tick (config tick_interval_ms, and at once
 * when a guest sends PRESSURE):
 *   0. POLL the quiet agents whose last report is half the stale window old
 *      and read all their answers PLANNER_POLL_COLLECT_MS later (poll_agents,
 *      on_collect; the others' reports are within the agents' deadband of
 *      the truth, planner_poll_due);
 *   1. read the host (<proc>/meminfo, <proc>/pressure/memory);
 *   2. ask the VMs' backends for fresh balloon figures where events do not
 *      keep them current (libvirt every tick; the fleet's guest-stats when a
 *      VM has no agent, else a 5 min safety net) - the answers land
 *      asynchronously and are used by the next tick;
 *   3. build the policy snapshot from preallocated arrays and call the pure
 *      engine (host/policy);
 *   4. send the targets that changed in the planner's order: growth first,
 *      within a per-VM shrink interval and a host-wide command budget
 *      (host/policy/planner.h); in dry-run, only log them.
 * Logging: one structured line per target that changes, never one per tick.
 *
 * VMs come from one or more sources (vmsource.h): the fleet directory and/or
 * a libvirt connection. Each VM remembers its source; a name is managed once
 * (the second VM to claim a name, from another source, is logged and left
 * alone). A libvirt VM's policy is its config file, else its domain
 * metadata, else [defaults], with runtime overrides on top: resolved by
 * vm_policy_resolve (host/policy/vm_policy.h) when an input changes, and
 * cached per VM.
 */
#include "manager_private.h"

#include "hostmem.h"
#include "lv_policy.h"
#include "planner.h"
#include "policy.h"
#include "size.h"
#include "timer.h"
#include "vm_override.h"
#include "vm_policy.h"
#include "vmem_watch.h"
#include "vmsource_fleet.h"
#include "vmsource_libvirt.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <string.h>

static void set_reason(struct bd_vm *vm, const char *static_text)
{
    vm->status_reason = static_text;
}

/* --- agent events ------------------------------------------------------------------------- */

static void run_tick(struct manager *m, bool scheduled);
static void fill_inputs(struct manager *m, struct bd_vm *vm, gint64 now, gint64 wall_s,
                        struct policy_vm_in *in);

static gboolean on_tick_soon(gpointer data)
{
    struct manager *m = data;
    m->soon_id = 0;
    m->event_ticks++;
    run_tick(m, false);
    return G_SOURCE_REMOVE;
}

/* Schedules fn once, at not_before_ms or at once if that has passed; a call
 * while *id is pending does nothing (a burst coalesces into one run). */
static void run_once_not_before(guint *id, gint64 not_before_ms, GSourceFunc fn, gpointer data)
{
    if (*id)
        return;
    gint64 wait = not_before_ms - now_ms();
    *id = g_timeout_add(wait > 0 ? (guint)wait : 0, fn, data);
}

/* Runs a tick at once (at most one per MANAGER_MIN_TICK_GAP_MS). */
static void tick_soon(struct manager *m)
{
    if (m->exiting)
        return;
    run_once_not_before(&m->soon_id, m->last_tick_ms + MANAGER_MIN_TICK_GAP_MS, on_tick_soon, m);
}

/* The host the engine sees: the budget's view of the host as last read, or
 * without host figures the planner's stand-in, on which only growth is
 * taken (planner_host_unknown, docs/policy.md "Host figures missing"). */
static struct policy_host engine_host(struct manager *m)
{
    return m->host_valid ? *budget_monitor_host(&m->budget) : planner_host_unknown();
}

/*
 * Would this fresh report grow the VM? Then decide now, not at the next tick:
 * a guest allocating fast has a second or two of headroom (docs/policy.md).
 * The engine answers on a copy of the VM's state; nothing is decided here.
 */
static bool report_wants_growth(struct manager *m, struct bd_vm *vm)
{
    if (!vm->backend_up || vm->balloon.nominal_bytes <= 0 || vm->balloon.actual_bytes <= 0)
        return false;
    struct policy_vm_in in;
    fill_inputs(m, vm, now_ms(), g_get_real_time() / G_USEC_PER_SEC, &in);
    struct policy_snapshot snap = {.now_ms = now_ms(),
                                   .host = engine_host(m),
                                   .tunables = &m->cfg->tunables,
                                   .vms = &in,
                                   .n_vms = 1};
    return policy_vm_wants_growth(&snap, &vm->pstate);
}

/* Does this report show the guest under pressure (planner_guest_pressed:
 * PSI, MemAvailable under its floor, an OOM kill since the last decision)? */
static bool report_shows_pressure(struct manager *m, struct bd_vm *vm)
{
    if (!vm->backend_up || vm->balloon.nominal_bytes <= 0)
        return false;
    struct policy_vm_in in;
    fill_inputs(m, vm, now_ms(), g_get_real_time() / G_USEC_PER_SEC, &in);
    bool known;
    return planner_guest_pressed(&in, &vm->pstate, &m->cfg->tunables, &known);
}

static void vm_decide_soon(struct bd_vm *vm);
static gboolean on_vm_decide(gpointer data);

/*
 * Quiet and polled reporting, granted from the agent's next HELLO while the
 * configuration allows them (planner_quiet_reports_ok,
 * planner_polled_reports_ok: quiet agents are POLLed at the tick and read
 * together, poll_agents and on_collect).
 */
static void grant_reporting(const struct manager *m, struct bd_vm *vm)
{
    uint64_t stale_ms = m->cfg->tunables.agent_stale_ms;
    uint32_t interval_ms = m->agent_config.report_interval_ms;
    vm->agent.allow_quiet = planner_quiet_reports_ok(stale_ms, interval_ms);
    vm->agent.allow_poll = planner_polled_reports_ok(stale_ms, interval_ms, m->tick_ms);
}

static void on_agent_report(void *ctx, const struct proto_report *r, bool pressure,
                            uint32_t triggers)
{
    struct bd_vm *vm = ctx;
    vm->report = *r;
    vm->report_ms = now_ms();
    const struct vmsource_balloon *b = &vm->balloon;
    vm->report_actual_bytes =
        b->present_actual_bytes > 0 ? b->present_actual_bytes : b->actual_bytes;
    vm->report_present_bytes = b->present_bytes > 0 ? b->present_bytes : MAX(0, b->nominal_bytes);
    vm->report_extra_bytes = b->present_bytes > 0 ? MAX(0, b->present_extra_bytes) : 0;
    vm->report_valid = true;
    /* The guest's MemTotal is relative to what it holds, free extra included. */
    const struct vmcost_boot_sample boot = {
        .nominal_bytes = (uint64_t)vm->report_present_bytes,
        .actual_bytes = vm->report_actual_bytes > 0
                            ? (uint64_t)(vm->report_actual_bytes + vm->report_extra_bytes)
                            : 0,
        .balloon_in_total = vm->pstate.balloon_in_total,
        .r = r,
    };
    vmcost_boot_reserve_note(&vm->boot_reserve, &boot);
    vm->reported = true;
    if (pressure || report_shows_pressure(vm->m, vm))
        vm->pressure_seen_ms = vm->report_ms; /* a balloon rise near it is a deflate */
    if (pressure)
        vm->pressure_event = true;
    manager_foreign_settle(vm); /* a rise held as foreign may be its deflate after all */
    if (pressure || report_wants_growth(vm->m, vm))
        vm_decide_soon(vm);
}

static void on_agent_state(void *ctx, bool up)
{
    struct bd_vm *vm = ctx;
    if (!up)
        vm->report_valid = false;
}

static const struct agent_events agent_events = {on_agent_report, on_agent_state};

/* --- VM source events --------------------------------------------------------------------- */

static gint cmp_vm(gconstpointer a, gconstpointer b)
{
    return strcmp((*(struct bd_vm *const *)a)->name, (*(struct bd_vm *const *)b)->name);
}

struct bd_vm *manager_find_vm(struct manager *m, const char *name)
{
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        if (strcmp(vm->name, name) == 0)
            return vm;
    }
    return NULL;
}

/*
 * The cookie is NULL for a VM ballastd does not manage: a name too long for
 * the control protocol, or one another source already manages (names are
 * how config files, status and ballastctl find a VM, so they must be unique;
 * the first source to report a name keeps it). Every other callback ignores
 * a NULL cookie.
 */
static void *on_vm_added(void *ctx, struct vmsource_vm *handle, const char *name)
{
    struct bd_source *bs = ctx;
    struct manager *m = bs->m;
    if (strlen(name) >= CTL_VM_NAME_MAX) {
        g_warning("%s VM \"%.*s...\": name longer than %d bytes, not managed", bs->src->ops->kind,
                  CTL_VM_NAME_MAX - 1, name, CTL_VM_NAME_MAX - 1);
        return NULL;
    }
    struct bd_vm *other = manager_find_vm(m, name);
    if (other) {
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "VM", name, "MESSAGE",
                         "%s: a %s VM of this name is managed already: the %s VM is not managed "
                         "(rename one of them)",
                         name, other->src->ops->kind, bs->src->ops->kind);
        return NULL;
    }
    struct bd_vm *vm = g_new0(struct bd_vm, 1);
    vm->m = m;
    ctl_copy(vm->name, sizeof(vm->name), name);
    vm->src = bs->src;
    vm->libvirt = strcmp(bs->src->ops->kind, "libvirt") == 0;
    if (vm->libvirt)
        vm->meta = g_new0(struct lv_policy, 1);
    vm->handle = handle;
    vm->balloon = vmsource_balloon_unknown();
    vm->grow_latency_ms = -1;
    vm->ksm.pid = -1;
    vm->budget_floor_bytes = -1;
    cost_monitor_vm_init(&vm->cost);
    policy_vm_state_init(&vm->pstate);
    set_reason(vm, vm->libvirt ? "waiting for libvirt" : "waiting for QMP");
    const char *agent_path = vm->src->ops->agent_socket_path(vm->src, handle);
    manager_state_vm_added(m, vm); /* runtime policy kept across a restart */
    if (agent_path && agent_conn_init(&vm->agent, m->agents, vm->name, agent_path, &m->agent_config,
                                      &agent_events, vm) == 0) {
        vm->has_agent = true;
        grant_reporting(m, vm);
        agent_conn_start(&vm->agent);
    }
    g_ptr_array_add(m->vms, vm);
    g_ptr_array_sort(m->vms, cmp_vm);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                     "%s: managing (%s, agent %s)", vm->name, vm->src->ops->kind,
                     agent_path ? agent_path : "none");
    return vm;
}

static void vm_free(struct bd_vm *vm)
{
    if (vm->decide_id)
        g_source_remove(vm->decide_id);
    if (vm->has_agent)
        agent_conn_stop(&vm->agent);
    if (vm->meta)
        lv_policy_clear(vm->meta);
    g_free(vm->meta);
    vm_policy_cache_clear(&vm->policy);
    g_free(vm->config_error);
    g_free(vm->restore);
    g_free(vm->restored);
    g_free(vm);
}

static void on_vm_removed(void *ctx, void *cookie)
{
    struct manager *m = ((struct bd_source *)ctx)->m;
    struct bd_vm *vm = cookie;
    if (!vm)
        return;
    m->removed_rejects += vm->agent.rejects;
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                     "%s: gone, no longer managed", vm->name);
    g_ptr_array_remove(m->vms, vm);
    vm_free(vm);
    m->state_dirty = true; /* its record leaves the file */
    manager_state_flush(m, false);
}

static void on_vm_backend(void *ctx, void *cookie, bool connected)
{
    struct bd_vm *vm = cookie;
    if (!vm)
        return;
    vm->backend_up = connected;
    /* A reconnected QEMU may be a new process: what we sent before means
     * nothing, and its cost is read first thing (within the tick's quota). */
    vm->target_set_bytes = 0;
    target_history_clear(&vm->sent);
    if (connected) {
        /* A new connection, maybe a new QEMU: no back-off carried over (the
         * count and the last error stay for status). */
        set_retry_succeeded(&vm->retry);
        vm->cost.read_ms = VMCOST_NEVER_READ;
        vm->cost.valid = false;
    }
    set_reason(vm, connected     ? "waiting for QEMU's figures"
                   : vm->libvirt ? "libvirt not connected or domain paused"
                                 : "QMP not connected");
    manager_state_vm_up(vm->m, vm, connected); /* after the reset: it may restore the target */
    if (connected && vm->has_agent && vm->agent.state == AGENT_DOWN) {
        vm->agent_parked = false;
        agent_conn_start(&vm->agent);
    }
}

/* The growth being watched is there: log how long it took (convergence watch). */
static void grow_reached(struct bd_vm *vm)
{
    char sz[32], lat[24];
    vm->grow_latency_ms = now_ms() - vm->grow_trigger_ms;
    latency_hist_observe(&vm->m->grow_latency, vm->grow_latency_ms); /* the metrics' histogram */
    g_snprintf(lat, sizeof(lat), "%" G_GINT64_FORMAT, vm->grow_latency_ms);
    g_log_structured(
        G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "LATENCY_MS", lat, "MESSAGE",
        "%s: balloon reached %s %" G_GINT64_FORMAT
        " ms after the report that asked for it (command sent after %" G_GINT64_FORMAT " ms)",
        vm->name, size_format(vm->grow_wait_bytes, sz, sizeof(sz)), vm->grow_latency_ms,
        vm->grow_sent_ms - vm->grow_trigger_ms);
    vm->grow_wait_bytes = 0;
}

/* Its balloon's deflate-on-oom is known to be off: said once per VM (and
 * shown in status): the guest has no safety net while ballastd is down. */
static void check_deflate_on_oom(struct bd_vm *vm)
{
    if (vm->balloon.deflate_on_oom != 0 || vm->deflate_warned)
        return;
    vm->deflate_warned = true;
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "VM", vm->name, "MESSAGE",
                     "%s: the balloon has no deflate-on-oom (libvirt: <memballoon "
                     "autodeflate='on'>): while ballastd is down nothing gives this guest "
                     "memory back before its OOM killer runs",
                     vm->name);
}

/* What the guest says of its pressure now, for the classifier: asked only
 * when the balloon moved past a target of ours. */
static void guest_pressure_now(struct bd_vm *vm, struct planner_balloon_event *ev)
{
    struct manager *m = vm->m;
    if (!vm->backend_up || vm->balloon.nominal_bytes <= 0 || !ev->target_set_bytes ||
        ev->actual_bytes == ev->before_bytes)
        return;
    struct policy_vm_in in;
    fill_inputs(m, vm, now_ms(), g_get_real_time() / G_USEC_PER_SEC, &in);
    ev->guest_pressure =
        planner_guest_pressed(&in, &vm->pstate, &m->cfg->tunables, &ev->pressure_known);
}

static void on_vm_balloon(void *ctx, void *cookie, const struct vmsource_balloon *b)
{
    struct bd_vm *vm = cookie;
    if (!vm)
        return;
    struct planner_balloon_event ev = {
        .before_bytes = vm->balloon.actual_bytes,
        .actual_bytes = b->actual_bytes,
        .changed_real_us = b->actual_changed_real_us,
        .target_set_bytes = vm->target_set_bytes,
        .sent = &vm->sent,
        .raise_counted_real_us = vm->raise_counted_real_us,
        .now_ms = now_ms(),
        .pressure_ms = vm->pressure_seen_ms,
    };
    /* A device moving, or its last move landing: the guest's figures and
     * the host's disagree until a report after it (policy.h). A stalled
     * device is not moving: it is held where it got. */
    vm->device_moving = b->vmem_max_bytes > 0 && b->vmem_size_bytes != b->vmem_requested_bytes &&
                        g_strcmp0(b->vmem_state, vmem_watch_state_name(VMEM_WATCH_CONVERGING)) == 0;
    if (vm->device_moving ||
        (b->vmem_max_bytes > 0 && b->vmem_size_bytes != vm->balloon.vmem_size_bytes))
        vm->device_moved_ms = ev.now_ms;
    vm->balloon = *b;
    check_deflate_on_oom(vm);
    guest_pressure_now(vm, &ev);
    /* The guest deflated its balloon on OOM: urgent, decide now. A stamped
     * change read late still shows it; the decision counts it once. Someone
     * else's change is respected: the VM is held at it (a rise is said only
     * if the guest's pressure does not follow: manager_foreign_settle). */
    struct planner_balloon_verdict v = planner_classify_balloon(&ev);
    if (v.change == PLANNER_BALLOON_GUEST_DEFLATE) {
        if (v.raised_over_bytes)
            vm->guest_raised_over_bytes = v.raised_over_bytes;
        vm_decide_soon(vm);
    } else if (v.change == PLANNER_BALLOON_FOREIGN) {
        manager_foreign_seen(vm, v.foreign_bytes, b->actual_changed_real_us, v.raised_over_bytes);
    }
    if (planner_grow_reached(vm->grow_wait_bytes, b->actual_bytes))
        grow_reached(vm);
}

/* Fresh balloon figures for one VM (query-balloon under the fleet). */
static void vm_refresh(struct bd_vm *vm, bool guest_stats)
{
    vm->balloon_queries++;
    vm->src->ops->refresh(vm->src, vm->handle, guest_stats);
}

/* While a growth converges, query-balloon every PLANNER_CONVERGE_POLL_MS:
 * BALLOON_CHANGE is rate-limited to one a second by QEMU. */
static gboolean on_watch(gpointer data)
{
    struct manager *m = data;
    gint64 now = now_ms();
    bool any = false;
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        switch (planner_watch_step(vm->grow_wait_bytes, vm->backend_up, vm->grow_sent_ms, now)) {
        case PLANNER_WATCH_NONE:
            break;
        case PLANNER_WATCH_GIVE_UP: {
            char sz[32], ms[24];
            g_snprintf(ms, sizeof(ms), "%d", PLANNER_CONVERGE_WATCH_MS);
            g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "TIMEOUT_MS", ms,
                             "MESSAGE", "%s: balloon did not reach %s within %s ms of the command",
                             vm->name, size_format(vm->grow_wait_bytes, sz, sizeof(sz)), ms);
            vm->grow_wait_bytes = 0;
            break;
        }
        case PLANNER_WATCH_QUERY:
            any = true;
            vm_refresh(vm, false);
            break;
        }
    }
    if (any)
        return G_SOURCE_CONTINUE;
    m->watch_id = 0;
    return G_SOURCE_REMOVE;
}

static void on_vm_set_done(void *ctx, void *cookie, uint64_t target_bytes, const char *error);

static const struct vmsource_events source_events = {on_vm_added, on_vm_removed, on_vm_backend,
                                                     on_vm_balloon, on_vm_set_done};

/* libvirt: a domain's metadata policy was read (discovery, change event, reload). */
static void on_vm_policy(void *ctx, void *cookie, const struct lv_policy *p)
{
    struct bd_vm *vm = cookie;
    if (!vm || !vm->meta)
        return;
    lv_policy_clear(vm->meta);
    *vm->meta = *p;
    vm->meta->first_error = g_strdup(p->first_error);
    vm_policy_cache_invalidate(&vm->policy);
    /* A new floor or mode should not wait for the next scheduled tick. */
    tick_soon(vm->m);
}

/*
 * The VM's policy (engine parameters, ksm opt-out, source, the error that
 * forces safe mode) from its cache: resolved again only after an input
 * changed. manager_reload, on_vm_policy and set-policy invalidate the
 * cache; a new nominal size is noticed by the cache itself.
 */
static const struct vm_policy *resolved_policy(struct manager *m, struct bd_vm *vm)
{
    struct vm_policy_in in = {
        .cfg = m->cfg,
        .name = vm->name,
        .nominal_bytes = vm->balloon.nominal_bytes > 0 ? (uint64_t)vm->balloon.nominal_bytes : 0,
        .meta = vm->meta && vm->meta->present ? &vm->meta->keys : NULL,
        .meta_error = vm->meta && vm->meta->present ? vm->meta->first_error : NULL,
        .overrides = &vm->ovr.layer,
        .fleet_error = budget_monitor_fleet_error(&m->budget),
    };
    return vm_policy_cache_get(&vm->policy, &in);
}

const struct vm_policy *manager_vm_policy(struct manager *m, struct bd_vm *vm)
{
    return resolved_policy(m, vm);
}

/* Where the VM's policy comes from now: "file", "metadata" or "defaults". */
const char *vm_policy_source(struct manager *m, struct bd_vm *vm)
{
    return vm_policy_source_name(resolved_policy(m, vm)->source);
}

/* --- the tick ----------------------------------------------------------------------------- */

static uint64_t rfield(const struct proto_report *r, enum proto_report_field f, uint64_t v)
{
    return r->valid_mask & PROTO_R_BIT(f) ? v : 0;
}

static void fill_inputs(struct manager *m, struct bd_vm *vm, gint64 now, gint64 wall_s,
                        struct policy_vm_in *in)
{
    memset(in, 0, sizeof(*in));
    in->name = vm->name;
    uint64_t nominal = (uint64_t)vm->balloon.nominal_bytes;
    const struct vm_policy *pol = resolved_policy(m, vm);
    in->params = pol->params;
    if (g_strcmp0(vm->config_error, pol->config_error) != 0) { /* as of this decision */
        g_free(vm->config_error);
        vm->config_error = g_strdup(pol->config_error);
    }
    in->actual_bytes = (uint64_t)vm->balloon.actual_bytes;
    in->nominal_bytes = nominal;
    in->target_bytes = vm->target_set_bytes;
    in->pressure_event = vm->pressure_event;
    in->guest_raised_over_bytes = vm->guest_raised_over_bytes;
    if (!vm->reported && vm->balloon.guest_stats_update_s >= m->start_wall_s)
        vm->reported = true; /* guest-stats QEMU took since the start */
    in->awaiting_report = !vm->reported;

    const struct proto_report *r = &vm->report;
    struct policy_agent_report *a = &in->agent;
    a->valid = vm->report_valid;
    if (a->valid) {
        a->age_ms = (uint64_t)MAX(0, now - vm->report_ms);
        a->mem_total_bytes = rfield(r, PROTO_R_MEM_TOTAL, r->mem_total_bytes);
        a->mem_free_bytes = rfield(r, PROTO_R_MEM_FREE, r->mem_free_bytes);
        a->mem_available_bytes = rfield(r, PROTO_R_MEM_AVAILABLE, r->mem_available_bytes);
        a->cached_bytes = rfield(r, PROTO_R_CACHED, r->cached_bytes);
        a->inactive_file_bytes = rfield(r, PROTO_R_INACTIVE_FILE, r->inactive_file_bytes);
        a->psi_some_avg10_pct = rfield(r, PROTO_R_PSI_SOME, r->psi_some_avg10_bp) / 100.0;
        a->psi_full_avg10_pct = rfield(r, PROTO_R_PSI_FULL, r->psi_full_avg10_bp) / 100.0;
        a->oom_kill_count = rfield(r, PROTO_R_OOM_KILL, r->oom_kill);
        a->balloon_actual_bytes =
            vm->report_actual_bytes > 0 ? (uint64_t)vm->report_actual_bytes : 0;
        a->present_bytes = vm->report_present_bytes > 0 ? (uint64_t)vm->report_present_bytes : 0;
        a->free_extra_bytes = (uint64_t)vm->report_extra_bytes;
    }
    in->device_moved_ms = vm->device_moving ? now : vm->device_moved_ms;
    in->no_free_page_reporting = vm->balloon.free_page_reporting == 0;

    const struct vmsource_balloon *b = &vm->balloon;
    struct policy_guest_stats *s = &in->stats;
    s->valid = b->guest_stats_update_s > 0;
    if (s->valid) {
        s->age_ms = (uint64_t)MAX(0, wall_s - b->guest_stats_update_s) * 1000;
        s->total_bytes = b->guest_total_bytes < 0 ? POLICY_UNKNOWN : (uint64_t)b->guest_total_bytes;
        s->free_bytes = b->guest_free_bytes < 0 ? POLICY_UNKNOWN : (uint64_t)b->guest_free_bytes;
        s->available_bytes =
            b->guest_available_bytes < 0 ? POLICY_UNKNOWN : (uint64_t)b->guest_available_bytes;
        s->free_extra_bytes = b->present_bytes > 0 ? (uint64_t)MAX(0, b->present_extra_bytes) : 0;
    }
}

/* sent: the command went out (ACTION move); else only logged (would_move). */
static void log_target(struct bd_vm *vm, bool sent, const char *verb, uint64_t from, uint64_t to)
{
    char a[32], b[32], to_s[24], from_s[24];
    /* Journal fields other than MESSAGE are plain strings, not formats. */
    g_snprintf(to_s, sizeof(to_s), "%" G_GUINT64_FORMAT, to);
    g_snprintf(from_s, sizeof(from_s), "%" G_GUINT64_FORMAT, from);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "TARGET_BYTES", to_s,
                     "PREVIOUS_BYTES", from_s, "DECISION", policy_decision_name(vm->out.decision),
                     "REASON", policy_cause_name(vm->out.cause), "ACTION",
                     sent ? "move" : "would_move", "MESSAGE", "%s: %s target %s -> %s (%s: %s)",
                     vm->name, verb, size_format(from, a, sizeof(a)), size_format(to, b, sizeof(b)),
                     policy_decision_name(vm->out.decision), vm->out.reason);
}

/* The planner's view of the engine's last answer for vm (vm->in, vm->out). */
static struct planner_vm plan_input(const struct bd_vm *vm)
{
    struct planner_vm pv = {
        .current_bytes = planner_current_bytes(vm->target_set_bytes, vm->in.actual_bytes),
        .want_bytes = vm->out.target_bytes,
        .actuate = vm->out.actuate,
        .mode = vm->in.params.mode,
        .logged_bytes = vm->logged_target,
        .last_set_ms = vm->last_set_ms,
    };
    return pv;
}

/* The engine's decision was not carried out this tick: the engine keeps the
 * target, growth and shrink it had before (policy_actuation_memo), so that
 * it neither waits for the guest to show a shrink never made nor paces the
 * next one from it. Asked again at the next decision. */
static void not_sent(struct bd_vm *vm)
{
    if (vm->out.actuate)
        policy_actuation_memo_restore(&vm->pstate, &vm->pstate_before);
}

/*
 * Sends the engine's target; a growth starts the convergence watch. The
 * target is recorded as in force before the command goes out (its answer,
 * vm_set_done, may come any time after); a command that fails is rolled
 * back when its answer comes (on_vm_set_done), one that is not sent at once.
 */
static void send_target(struct manager *m, struct bd_vm *vm, const struct planner_vm *pv,
                        gint64 now, unsigned *budget)
{
    bool grow = planner_is_growth(pv);
    /* Before the command: QEMU's stamp on its effect is never earlier. */
    gint64 sent_real_us = g_get_real_time();
    uint64_t before = vm->target_set_bytes;
    (*budget)--;
    vm->balloon_sets++;
    if (grow)
        vm->grows++;
    else
        vm->shrinks++;
    log_target(vm, true, "moving", pv->current_bytes, pv->want_bytes);
    if (grow) {
        vm->grow_wait_bytes = pv->want_bytes;
        vm->grow_trigger_ms = planner_grow_trigger_ms(vm->report_valid, vm->report_ms, now);
        vm->grow_sent_ms = now;
        if (!m->watch_id && !m->exiting)
            m->watch_id = g_timeout_add(PLANNER_CONVERGE_POLL_MS, on_watch, m);
    } else {
        vm->grow_wait_bytes = 0;
    }
    set_retry_sent(&vm->retry, pv->want_bytes, before);
    vm->target_set_bytes = pv->want_bytes;
    target_history_push(&vm->sent, pv->want_bytes, sent_real_us);
    vm->logged_target = pv->want_bytes;
    vm->last_set_ms = now;
    int rc = vm->src->ops->set_target(vm->src, vm->handle, pv->want_bytes);
    if (rc < 0) { /* not sent (the backend just went down): nothing changed */
        g_message("%s: balloon command not sent: %s", vm->name, g_strerror(-rc));
        not_sent(vm);
        vm->target_set_bytes = before;
        target_history_forget(&vm->sent, pv->want_bytes);
        vm->grow_wait_bytes = 0;
    }
}

/*
 * A balloon command failed or timed out (set_retry.h): the target before it
 * is in force again, the engine asks again at the next decision and the
 * command goes out again after the back-off; a growth is retried by the
 * event path as soon as the back-off allows. The first failure of a run is
 * a WARNING, the next ones debug, and the first command that works again
 * says so (on_vm_set_done).
 */
static void set_failed(struct bd_vm *vm, uint64_t target_bytes, const char *error)
{
    struct manager *m = vm->m;
    gint64 now = now_ms();
    uint64_t before = vm->retry.sent_bytes == target_bytes ? vm->retry.before_bytes : 0;
    uint64_t base = before                         ? before
                    : vm->balloon.actual_bytes > 0 ? (uint64_t)vm->balloon.actual_bytes
                                                   : 0;
    bool grow = target_bytes > base;
    vm->target_set_bytes = set_retry_rollback(&vm->retry, vm->target_set_bytes, target_bytes);
    target_history_forget(&vm->sent, target_bytes);
    if (vm->grow_wait_bytes == target_bytes)
        vm->grow_wait_bytes = 0;
    bool first = vm->retry.failures == 0;
    set_retry_failed(&vm->retry, target_bytes, now, grow, error);
    uint64_t wait_ms = set_retry_backoff_ms(vm->retry.failures, grow);
    char t[32], f[32], count[24];
    uint64_t in_force = planner_current_bytes(vm->target_set_bytes, base);
    g_snprintf(count, sizeof(count), "%" G_GUINT64_FORMAT, vm->retry.failures_total);
    g_log_structured(G_LOG_DOMAIN, first ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_DEBUG, "VM", vm->name,
                     "SET_FAILURES", count, "MESSAGE",
                     "%s: balloon command (target %s) failed: %s; target in force stays %s, "
                     "retry in %" G_GUINT64_FORMAT " ms (failure %u in a row)",
                     vm->name, size_format(target_bytes, t, sizeof(t)), vm->retry.last_error,
                     size_format(in_force, f, sizeof(f)), wait_ms, vm->retry.failures);
    if (grow && !m->exiting)
        run_once_not_before(&vm->decide_id, now + (gint64)wait_ms, on_vm_decide, vm);
    manager_state_note(m);
}

/* A balloon command came back (vmsource_events.vm_set_done). */
static void on_vm_set_done(void *ctx, void *cookie, uint64_t target_bytes, const char *error)
{
    struct bd_vm *vm = cookie;
    if (!vm)
        return;
    if (error) {
        set_failed(vm, target_bytes, error);
        return;
    }
    if (vm->retry.failures)
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                         "%s: balloon commands work again after %u failure(s)", vm->name,
                         vm->retry.failures);
    set_retry_succeeded(&vm->retry);
    vm->m->balloon_changes++; /* a target QEMU (or libvirt) took */
}

/* Does what the planner says with vm's answer: send, log a move it would make, or wait. */
static void actuate(struct manager *m, struct bd_vm *vm, const struct planner_vm *pv, gint64 now,
                    unsigned *budget)
{
    switch (planner_actuation(pv, m->dry_run, *budget, now)) {
    case PLANNER_WOULD_MOVE:
        log_target(vm, false, planner_would_move_verb(pv, m->dry_run), pv->current_bytes,
                   pv->want_bytes);
        vm->logged_target = pv->want_bytes;
        break;
    case PLANNER_HANDS_OFF:
        vm->logged_target = pv->want_bytes;
        break;
    case PLANNER_SEND:
        if (!set_retry_may_send(&vm->retry, now)) {
            not_sent(vm); /* the last command failed: the back-off first (set_failed) */
            break;
        }
        send_target(m, vm, pv, now, budget);
        break;
    case PLANNER_NOTHING:
        break;
    case PLANNER_WAIT_GAP:    /* the engine asks again next tick */
    case PLANNER_WAIT_BUDGET: /* likewise */
        not_sent(vm);
        break;
    }
}

/* Whether vm's policy lets KSM merge its memory (the opt-out key). */
static bool vm_ksm_allowed(struct manager *m, struct bd_vm *vm)
{
    return resolved_policy(m, vm)->ksm;
}

/* Reads every VM's ksm_stat (the per-VM KSM figures of status and explain). */
static void ksm_read_vms(struct manager *m, gint64 now)
{
    m->ksm_vm_read_ms = now;
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        ksm_monitor_tick_vm(&m->ksm, &vm->ksm, vm->name, vm->src->ops->vm_pid(vm->src, vm->handle),
                            vm_ksm_allowed(m, vm));
    }
}

/* Per-VM figures no older than one KSM interval for a control request. */
void manager_ksm_fresh_vms(struct manager *m)
{
    gint64 now = now_ms();
    if (!m->ksm_vm_read_ms ||
        (uint64_t)(now - m->ksm_vm_read_ms) >= ksm_monitor_interval_ms(&m->ksm))
        ksm_read_vms(m, now);
}

static gboolean on_ksm_guard(gpointer data)
{
    struct manager *m = data;
    ksm_monitor_guard(&m->ksm, (uint64_t)now_ms());
    if (ksm_monitor_guard_wanted(&m->ksm))
        return G_SOURCE_CONTINUE;
    m->ksm_guard_id = 0;
    return G_SOURCE_REMOVE;
}

/*
 * The slice guard runs while ballast paces a running ksmd: the rate loop
 * below decides every KSM interval (10 s), and a jump in ksmd's cost per
 * page would overrun the budget for that whole interval (ksm.h, "slice
 * guard"). One /proc read a second, and none while ksmd is off.
 */
static void ksm_guard_arm(struct manager *m)
{
    bool want = ksm_monitor_guard_wanted(&m->ksm) && !m->exiting;
    if (want && !m->ksm_guard_id) {
        ksm_monitor_guard(&m->ksm, (uint64_t)now_ms()); /* the first reading */
        m->ksm_guard_id = g_timeout_add(KSM_GUARD_PERIOD_MS, on_ksm_guard, m);
    } else if (!want && m->ksm_guard_id) {
        g_source_remove(m->ksm_guard_id);
        m->ksm_guard_id = 0;
    }
}

static void ksm_tick(struct manager *m, gint64 now)
{
    /* KSM figures move at ksmd's pace (a full scan takes tens of seconds):
     * read the host's (some 23 sysfs files) once per KSM interval, the
     * tuner's own cadence, not at every tick. The tuner needs no per-VM
     * figure: those feed status, explain and the log, so they are read once
     * a minute, or when a control request wants them fresher (manager_ksm_fresh_vms):
     * 32 guests' ksm_stat files every 10 s were a fifth of an idle tick's
     * syscalls. */
    uint64_t every = ksm_monitor_interval_ms(&m->ksm);
    if (m->ksm_read_ms && (uint64_t)(now - m->ksm_read_ms) + KSM_MONITOR_SLACK_MS < every)
        return;
    m->ksm_read_ms = now;
    ksm_monitor_tick_host(&m->ksm);
    if (!m->ksm_vm_read_ms ||
        (uint64_t)(now - m->ksm_vm_read_ms) + KSM_MONITOR_SLACK_MS >= MANAGER_KSM_VM_READ_MS)
        ksm_read_vms(m, now);
    uint64_t committed = 0;
    unsigned mergeable_vms = 0;
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        if (vm->balloon.nominal_bytes > 0)
            committed += (uint64_t)vm->balloon.nominal_bytes;
        mergeable_vms += vm_ksm_allowed(m, vm);
    }
    ksm_monitor_tick_tune(&m->ksm, (uint64_t)now, m->host_valid ? m->host.mem_total_bytes : 0,
                          m->host.mem_available_bytes, committed, mergeable_vms);
    ksm_guard_arm(m);
}

/* Under host pressure no growth past guaranteed_memory (planner_guarantee_target). */
static void apply_guarantee(struct bd_vm *vm, double host_pressure)
{
    struct policy_vm_out *out = &vm->out;
    uint64_t cur = planner_current_bytes(vm->target_set_bytes, vm->in.actual_bytes);
    uint64_t want = planner_guarantee_target(host_pressure, out->target_bytes, cur,
                                             vm->in.params.guaranteed_bytes);
    if (want == out->target_bytes)
        return;
    char a[32], g[32];
    size_t len = strlen(out->reason);
    g_snprintf(out->reason + len, sizeof(out->reason) - len,
               "; host pressure: held at %s (guaranteed_memory %s)",
               size_format(want, a, sizeof(a)),
               size_format(vm->in.params.guaranteed_bytes, g, sizeof(g)));
    out->target_bytes = want;
    if (want <= cur) {
        out->decision = POLICY_HOLD;
        out->cause = POLICY_CAUSE_NONE;
    }
}

/* Takes the engine's answer for a VM (host_pressure: the engine's level for
 * this call); logs a guest's deflate-on-OOM once. */
static void commit_decision(struct bd_vm *vm, const struct policy_vm_in *in,
                            const struct policy_vm_state *st, const struct policy_vm_out *out,
                            double host_pressure)
{
    policy_actuation_memo_save(&vm->pstate, &vm->pstate_before);
    vm->pstate = *st;
    vm->out = *out;
    vm->in = *in;
    vm->evaluated = true;
    vm->pressure_event = false;
    manager_foreign_apply(vm); /* someone else's target holds it */
    apply_guarantee(vm, host_pressure);
    if (in->guest_raised_over_bytes) {
        /* Taken: events stamped from now on are news. */
        vm->guest_raised_over_bytes = 0;
        vm->raise_counted_real_us = g_get_real_time();
    }
    if (out->guest_deflated) {
        char a[32], t[32], count[24];
        /* The target the guest deflated over: the one in force then. */
        uint64_t over = planner_deflated_over_bytes(in);
        g_snprintf(count, sizeof(count), "%" G_GUINT64_FORMAT, st->guest_deflate_events);
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "VM", vm->name, "GUEST_DEFLATE_EVENTS",
                         count, "MESSAGE",
                         "%s: guest deflated its balloon on OOM (actual %s above target %s; "
                         "event %s): growing it, no shrink for %" G_GUINT64_FORMAT " s",
                         vm->name, size_format(in->actual_bytes, a, sizeof(a)),
                         size_format(over, t, sizeof(t)), count,
                         vm->m->cfg->tunables.deflate_hold_ms / 1000);
    }
}

static void decide_all(struct manager *m, gint64 now, gint64 wall_s);

/* --- the fleet memory budget ------------------------------------------------------------- */

/*
 * What the fleet costs the host, for the budget: per VM its measured host
 * cost (vmcost: guest RAM it alone holds, its share of KSM pages, QEMU's own
 * memory, page tables) when one was read, moved by what the balloon did
 * since (a read is up to a minute old; a balloon step changes resident guest
 * RAM by at most its size, so the estimate errs high, never low); the
 * balloon's actual size for a VM not read yet.
 */
static uint64_t vm_cost_now(const struct bd_vm *vm)
{
    const struct cost_monitor_vm *c = &vm->cost;
    if (!c->valid || !c->cost.balloon_known || vm->balloon.actual_bytes <= 0 ||
        vm->balloon.nominal_bytes <= 0)
        return vm->balloon.actual_bytes > 0 ? (uint64_t)vm->balloon.actual_bytes : 0;
    uint64_t held_now = vm->balloon.nominal_bytes > vm->balloon.actual_bytes
                            ? (uint64_t)(vm->balloon.nominal_bytes - vm->balloon.actual_bytes)
                            : 0;
    uint64_t cost = c->cost.host_cost_bytes + c->cost.balloon_held_bytes;
    return cost > held_now ? cost - held_now : 0;
}

static uint64_t fleet_cost(struct manager *m)
{
    uint64_t sum = 0;
    for (guint i = 0; i < m->vms->len; i++)
        sum += vm_cost_now(m->vms->pdata[i]);
    return sum;
}

/* The host the engine sees, from the host just read and the fleet's cost. */
static void budget_refresh(struct manager *m)
{
    budget_monitor_update(&m->budget, &m->host, fleet_cost(m));
}

/* memory_budget under the VMs' min_memory in all is a configuration error:
 * when that changes, every VM's policy is resolved again (safe mode). */
static void budget_check_min(struct manager *m)
{
    uint64_t sum = 0;
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        if (vm->balloon.nominal_bytes > 0)
            sum += resolved_policy(m, vm)->params.min_bytes;
    }
    if (!budget_monitor_check_min(&m->budget, sum))
        return;
    for (guint i = 0; i < m->vms->len; i++)
        vm_policy_cache_invalidate(&((struct bd_vm *)m->vms->pdata[i])->policy);
}

/* After the engine's call: each guest's floor, and whether they fit. */
static void budget_fit(struct manager *m, struct bd_vm **vms, size_t n)
{
    uint64_t floors = 0;
    for (guint i = 0; i < m->vms->len; i++)
        ((struct bd_vm *)m->vms->pdata[i])->budget_floor_bytes = -1;
    for (size_t i = 0; i < n; i++) {
        struct bd_vm *vm = vms[i];
        struct budget_vm bv = {
            .params = vm->in.params,
            .need_known = vm->pstate.need_bytes > 0,
            .need_bytes = vm->pstate.need_bytes,
            .current_bytes = planner_current_bytes(vm->target_set_bytes, vm->in.actual_bytes),
        };
        uint64_t floor = budget_vm_floor(&m->cfg->tunables, &bv);
        vm->budget_floor_bytes = (int64_t)MIN(floor, (uint64_t)INT64_MAX);
        floors += floor;
    }
    budget_monitor_fit(&m->budget, floors);
}

/* scheduled: the periodic tick; false: run at once (a libvirt policy change;
 * only the balloon loop, KSM waits for the tick). */
static void run_tick(struct manager *m, bool scheduled)
{
    gint64 now = now_ms();
    gint64 wall_s = g_get_real_time() / G_USEC_PER_SEC;
    m->last_tick_ms = now;
    m->ticks++;

    struct policy_host host;
    int rc = hostmem_read(m->proc_root, &host);
    m->host_read_ms = now;
    if (rc == 0) {
        if (m->host_warned)
            g_message("host memory readable again under %s: deciding everything again",
                      m->proc_root);
        m->host = host;
        m->host_valid = true;
        m->host_warned = false;
        budget_refresh(m);
    } else {
        if (!m->host_warned)
            g_warning("cannot read host memory under %s: %s; until it can be read, guests under "
                      "pressure are still grown, nothing is shrunk",
                      m->proc_root, g_strerror(-rc));
        m->host_warned = true;
        m->host_valid = false;
    }

    if (scheduled) {
        ksm_tick(m, now);
        manager_state_note_host(m); /* ksmd started or stopped by us: kept for a restart */
    }
    for (guint i = 0; i < m->vms->len; i++)
        manager_foreign_settle(m->vms->pdata[i]); /* a held rise: someone else's, or a deflate */
    decide_all(m, now, wall_s);
    if (scheduled)
        manager_cost_tick(m, now); /* after the decisions: they do not wait for smaps */
    if (scheduled) {
        /* Give freed heap pages back: start-up, QMP replies and the tick's
         * own snapshot leave holes that glibc keeps (measured: ~0.4 MiB of a
         * 1.4 MiB heap with 64 guests). Once per scheduled tick costs
         * microseconds. */
        malloc_trim(0);
    }
}

/* Asks vm's source for fresh balloon figures when the planner says a tick should. */
static void tick_refresh(struct bd_vm *vm, gint64 now)
{
    struct planner_refresh r = {
        .has_agent = vm->has_agent,
        .report_valid = vm->report_valid,
        .refresh_each_tick = vm->src->ops->refresh_each_tick,
        .actual_bytes = vm->balloon.actual_bytes,
        .nominal_bytes = vm->balloon.nominal_bytes,
        .refresh_ms = vm->refresh_ms,
    };
    bool stats;
    if (planner_refresh_due(&r, now, &stats)) {
        vm->refresh_ms = now;
        vm_refresh(vm, stats);
    }
}

/* Refreshes the connected VMs and fills the engine's input for those with
 * known figures: in[], states[] and vms[] get one entry each; returns how many. */
static size_t tick_inputs(struct manager *m, gint64 now, gint64 wall_s, struct policy_vm_in *in,
                          struct policy_vm_state *states, struct bd_vm **vms)
{
    size_t n = 0;
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        vm->evaluated = false;
        if (!vm->backend_up)
            continue;
        tick_refresh(vm, now);
        if (vm->balloon.nominal_bytes <= 0 || vm->balloon.actual_bytes < 0) {
            set_reason(vm, "waiting for QEMU's figures");
            continue;
        }
        fill_inputs(m, vm, now, wall_s, &in[n]);
        states[n] = vm->pstate;
        vms[n] = vm;
        n++;
    }
    return n;
}

/* Actuates the tick's decisions in the planner's order (growth first),
 * within the host-wide command budget; then the RECLAIMs the engine asked for. */
static void tick_actuate(struct manager *m, struct bd_vm **vms, size_t n, gint64 now)
{
    g_autofree struct planner_vm *plan = g_new(struct planner_vm, n);
    g_autofree size_t *order = g_new(size_t, n);
    for (size_t i = 0; i < n; i++)
        plan[i] = plan_input(vms[i]);
    planner_order(plan, n, order);
    unsigned budget = PLANNER_HOST_MAX_SETS_PER_TICK;
    for (size_t k = 0; k < n; k++)
        actuate(m, vms[order[k]], &plan[order[k]], now, &budget);
    for (size_t i = 0; i < n; i++) {
        struct bd_vm *vm = vms[i];
        if (m->dry_run || vm->out.reclaim_bytes == 0 || !vm->has_agent)
            continue;
        /* A shrink step's RECLAIM goes with its logged move; an idle one
         * (policy.c request_idle_reclaim, at most once an idle period) is
         * said here. */
        if (agent_conn_send_reclaim(&vm->agent, vm->out.reclaim_bytes) == 0 &&
            vm->out.decision == POLICY_HOLD)
            g_message("%s: idle: RECLAIM %" G_GUINT64_FORMAT " MiB of cold page cache", vm->name,
                      vm->out.reclaim_bytes >> 20);
    }
}

/*
 * Without host figures (planner_host_unknown): of the engine's answers only
 * the growths are taken, committed and kept at the front of vms[]; the
 * other VMs keep their engine state and say why they wait. Returns how
 * many were taken.
 */
static size_t take_growth_only(struct bd_vm **vms, const struct policy_vm_in *in,
                               const struct policy_vm_state *states,
                               const struct policy_vm_out *outs, size_t n, double host_pressure)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct bd_vm *vm = vms[i];
        uint64_t current = planner_current_bytes(vm->target_set_bytes, in[i].actual_bytes);
        if (!planner_host_unknown_takes(&outs[i], current)) {
            set_reason(vm, "host memory figures unreadable: only growth is decided");
            continue;
        }
        commit_decision(vm, &in[i], &states[i], &outs[i], host_pressure);
        vms[k++] = vm;
    }
    return k;
}

/*
 * The balloon loop over the whole fleet: one snapshot, one policy_evaluate,
 * then the planner's order. The snapshot arrays (~620 bytes a VM) live for
 * this call only: the engine's state between ticks is each VM's own copy,
 * and the pages go back at the tick's malloc_trim.
 */
static void decide_all(struct manager *m, gint64 now, gint64 wall_s)
{
    guint len = m->vms->len;
    if (len == 0)
        return;
    g_autofree struct policy_vm_in *in = g_new(struct policy_vm_in, len);
    g_autofree struct policy_vm_state *states = g_new(struct policy_vm_state, len);
    g_autofree struct policy_vm_out *outs = g_new(struct policy_vm_out, len);
    g_autofree struct bd_vm **vms = g_new(struct bd_vm *, len);
    if (m->host_valid)
        budget_check_min(m); /* before the inputs: it may force safe mode */
    size_t n = tick_inputs(m, now, wall_s, in, states, vms);
    if (n == 0)
        return;

    struct policy_snapshot snap = {.now_ms = now,
                                   .host = engine_host(m),
                                   .tunables = &m->cfg->tunables,
                                   .vms = in,
                                   .n_vms = n};
    struct policy_summary sum;
    int rc = policy_evaluate(&snap, states, outs, &sum);
    if (rc < 0) {
        g_warning("policy_evaluate: %s", g_strerror(-rc));
        return;
    }
    if (!m->host_valid) {
        n = take_growth_only(vms, in, states, outs, n, sum.host_pressure);
    } else {
        for (size_t i = 0; i < n; i++)
            commit_decision(vms[i], &in[i], &states[i], &outs[i], sum.host_pressure);
        budget_fit(m, vms, n);
    }
    tick_actuate(m, vms, n, now);
    manager_state_note(m);
}

/* The host's figures, re-read if older than a report interval: good enough
 * for a growth (never refused for host pressure) and one read per burst. */
static void host_read_if_old(struct manager *m, gint64 now)
{
    if (now - m->host_read_ms < MANAGER_REPORT_INTERVAL_MS)
        return;
    struct policy_host host;
    if (hostmem_read(m->proc_root, &host) == 0) {
        m->host = host;
        m->host_valid = true;
        budget_refresh(m);
    }
    m->host_read_ms = now;
}

/*
 * The event path: a PRESSURE frame, a report that wants growth or a guest
 * deflating on OOM decides for THIS VM at once, on the figures we have (the
 * last query-balloon / BALLOON_CHANGE; no balloon of another VM is queried).
 * The engine runs on a one-VM snapshot, and only a growth is taken: shrinking
 * and the host's share-out need the whole fleet and wait for the tick. The
 * convergence watch then queries this VM alone until the balloon is there.
 */
static void decide_one(struct manager *m, struct bd_vm *vm)
{
    gint64 now = now_ms();
    vm->last_decide_ms = now;
    if (!vm->backend_up || vm->balloon.nominal_bytes <= 0 || vm->balloon.actual_bytes <= 0)
        return;
    host_read_if_old(m, now); /* none readable: the stand-in (growth is all it takes anyway) */
    struct policy_vm_in in;
    fill_inputs(m, vm, now, g_get_real_time() / G_USEC_PER_SEC, &in);
    struct policy_vm_state st = vm->pstate;
    struct policy_vm_out out;
    struct policy_snapshot snap = {.now_ms = now,
                                   .host = engine_host(m),
                                   .tunables = &m->cfg->tunables,
                                   .vms = &in,
                                   .n_vms = 1};
    struct policy_summary sum;
    if (policy_evaluate(&snap, &st, &out, &sum) < 0)
        return;
    uint64_t cur = planner_current_bytes(vm->target_set_bytes, in.actual_bytes);
    if (!planner_event_takes(&out, cur))
        return; /* nothing urgent after all: the tick decides */
    if (vm->foreign_bytes && planner_foreign_target(out.decision, out.target_bytes, cur) == cur)
        return; /* held at someone else's target: only an urgent growth passes */
    if (planner_guarantee_target(sum.host_pressure, out.target_bytes, cur,
                                 in.params.guaranteed_bytes) <= cur)
        return; /* host pressure, at its guarantee: it lives on what it has */
    vm->event_decisions++;
    m->event_ticks++;
    commit_decision(vm, &in, &st, &out, sum.host_pressure);
    struct planner_vm pv = plan_input(vm);
    unsigned budget = 1;
    actuate(m, vm, &pv, now, &budget);
    /* A deflate is seen on the balloon, not in a report: measure from now. */
    if (out.guest_deflated && vm->grow_wait_bytes)
        vm->grow_trigger_ms = now;
    manager_state_note(m);
}

static gboolean on_vm_decide(gpointer data)
{
    struct bd_vm *vm = data;
    vm->decide_id = 0;
    decide_one(vm->m, vm);
    return G_SOURCE_REMOVE;
}

/* At most one immediate decision per VM per MANAGER_VM_MIN_DECIDE_GAP_MS: a
 * burst of PRESSURE frames or BALLOON_CHANGE events costs one decision. */
static void vm_decide_soon(struct bd_vm *vm)
{
    if (vm->m->exiting)
        return; /* on_exit = release: nothing is decided any more */
    run_once_not_before(&vm->decide_id, vm->last_decide_ms + MANAGER_VM_MIN_DECIDE_GAP_MS,
                        on_vm_decide, vm);
}

/* Sends POLL to every polled agent that is due (planner_poll_due); returns
 * how many now wait for on_collect. */
static unsigned poll_agents(struct manager *m)
{
    gint64 now = now_ms();
    uint64_t stale_ms = m->cfg->tunables.agent_stale_ms;
    unsigned polled = 0;
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        if (!vm->has_agent || !agent_conn_pollable(&vm->agent))
            continue;
        /* Not only while shrink_unseen: the engine also holds on a report
         * whose MemTotal predates the balloon's move ("never shrink blind"). */
        const bool after_shrink = planner_poll_after_shrink(
            vm->target_set_bytes > 0, vm->report_ms, vm->last_set_ms, vm->report_actual_bytes,
            vm->balloon.actual_bytes > 0 ? (uint64_t)vm->balloon.actual_bytes : 0,
            vm->target_set_bytes, m->cfg->tunables.stall_tolerance_bytes);
        if (!after_shrink && !planner_poll_due(vm->report_valid, vm->report_ms, stale_ms, now))
            continue;
        if (agent_conn_poll(&vm->agent) == 0)
            polled++;
    }
    return polled;
}

/* The answers to the tick's POLLs (and whatever else came meanwhile), read
 * in one go; then the tick decides on them. */
static gboolean on_collect(gpointer data)
{
    struct manager *m = data;
    m->collect_id = 0;
    fd_group_dispatch(m->agents);
    fd_group_pause(m->agents, false);
    run_tick(m, true);
    return G_SOURCE_REMOVE;
}

static gboolean on_tick(gpointer data)
{
    struct manager *m = data;
    if (m->collect_id)
        return G_SOURCE_CONTINUE; /* a tick shorter than the collection: skip one */
    if (poll_agents(m) > 0) {
        fd_group_pause(m->agents, true);
        m->collect_id = g_timeout_add(PLANNER_POLL_COLLECT_MS, on_collect, m);
    } else {
        run_tick(m, true);
    }
    return G_SOURCE_CONTINUE;
}

static void arm_tick(struct manager *m)
{
    uint64_t ms = m->cfg->tick_interval_ms ? m->cfg->tick_interval_ms : 1000;
    if (m->tick_id && ms == m->tick_ms)
        return;
    if (m->tick_id)
        g_source_remove(m->tick_id);
    m->tick_ms = ms;
    m->tick_id = timer_add_ms((guint)ms, on_tick, m);
    /* Agents report every second (or at the tick, if faster): a guest that
     * allocates fast is seen within a second and grown at once, whatever the
     * tick (report_wants_growth). PSI triggers fire on 150 ms stall per second. */
    m->agent_config = (struct proto_config){
        .report_interval_ms = (uint32_t)CLAMP(MIN(ms, MANAGER_REPORT_INTERVAL_MS),
                                              PROTO_INTERVAL_MIN_MS, PROTO_INTERVAL_MAX_MS),
        .psi_some_threshold_us = 150000,
        .psi_full_threshold_us = 50000,
        .psi_window_us = 1000000,
    };
}

/* --- config ------------------------------------------------------------------------------- */

static struct config *load_config(struct manager *m)
{
    struct config *c = m->config_dir ? config_load_dir(m->config_dir) : config_new_defaults();
    /* Each error once, here (at start and at each reload): the daemon runs
     * on, with the VMs a bad file covers (all of them, for ballastd.conf) in
     * safe mode; explain says why. --check-config is the strict check. */
    for (guint i = 0; c->errors && i < c->errors->len; i++)
        g_warning("config: %s (the VMs it covers run in safe mode)",
                  (const char *)c->errors->pdata[i]);
    return c;
}

void manager_reload(struct manager *m)
{
    struct config *c = load_config(m);
    config_free(m->cfg);
    m->cfg = c;
    arm_tick(m);
    ksm_monitor_configure(&m->ksm, c);
    budget_monitor_configure(&m->budget, c);
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        grant_reporting(m, vm);                  /* from the agent's next HELLO */
        vm_policy_cache_invalidate(&vm->policy); /* new files, new [defaults] */
    }
    /* Read metadata policies again too (policy_changed fires per VM): a
     * change whose event was missed is picked up at a SIGHUP. */
    for (unsigned i = 0; i < m->n_sources; i++)
        if (strcmp(m->sources[i].src->ops->kind, "libvirt") == 0)
            m->lv->reread_policies(m->sources[i].src);
    manager_state_reconfigure(m);
    manager_metrics_configure(m); /* metrics_listen may have changed */
    g_message("config reloaded from %s (%u errors); tick %" G_GUINT64_FORMAT " ms",
              m->config_dir ? m->config_dir : "built-in defaults", c->errors ? c->errors->len : 0,
              m->tick_ms);
}

/* --- lifecycle ---------------------------------------------------------------------------- */

struct manager *manager_new(const struct manager_options *o)
{
    struct manager *m = g_new0(struct manager, 1);
    m->fleet_dir = g_strdup(o->fleet_dir);
    m->libvirt_uri = g_strdup(o->libvirt_uri);
    m->config_dir = g_strdup(o->config_dir);
    m->proc_root = g_strdup(o->proc_root ? o->proc_root : "/proc");
    m->dry_run = o->dry_run;
    m->rescan_ms = o->rescan_ms;
    m->ksm_sysfs_root = g_strdup(o->ksm_sysfs_root);
    m->socket_path = g_strdup(o->socket_path);
    m->state_file_opt = g_strdup(o->state_file);
    m->vms = g_ptr_array_new();
    budget_monitor_init(&m->budget);
    return m;
}

const char *manager_ro_socket_group(const struct manager *m)
{
    return m->cfg ? m->cfg->daemon.ro_socket_group : "";
}

int manager_start(struct manager *m, GError **error)
{
    m->start_wall_s = g_get_real_time() / G_USEC_PER_SEC;
    m->cfg = load_config(m);
    m->agents = fd_group_new();
    if (!m->agents) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "epoll_create1: %s",
                    g_strerror(err));
        return -err;
    }
    budget_monitor_configure(&m->budget, m->cfg);
    /* Status shows the host from the start, not only after the first tick. */
    m->host_valid = hostmem_read(m->proc_root, &m->host) == 0;
    if (m->host_valid)
        budget_refresh(m);
    arm_tick(m);
    ksm_monitor_init(&m->ksm, m->ksm_sysfs_root, m->proc_root, (uint64_t)now_ms());
    ksm_monitor_set_dry_run(&m->ksm, m->dry_run);
    ksm_monitor_configure(&m->ksm, m->cfg);
    manager_state_load(m); /* before any VM appears */
    /* The fleet first: on a name claimed by both, the fleet's guest keeps it. */
    if (m->fleet_dir) {
        struct bd_source *bs = &m->sources[m->n_sources++];
        bs->m = m;
        bs->src = vmsource_fleet_new(m->fleet_dir, m->rescan_ms, &source_events, bs);
        vmsource_fleet_set_vmem_peak_hold_ms(bs->src, m->cfg->daemon.vmem_peak_hold_ms);
        int rc = bs->src->ops->start(bs->src, error);
        if (rc < 0)
            return rc;
    }
    if (m->libvirt_uri) {
        m->lv = libvirt_module_load(error);
        if (!m->lv)
            return -ENOENT;
        struct bd_source *bs = &m->sources[m->n_sources++];
        struct vmsource_libvirt_options lo = {
            .uri = m->libvirt_uri,
            .vmem_peak_hold_given = true,
            .vmem_peak_hold_ms = m->cfg->daemon.vmem_peak_hold_ms,
            .policy_changed = on_vm_policy,
        };
        bs->m = m;
        bs->src = m->lv->source_new(&lo, &source_events, bs);
        /* Never fails for an absent libvirtd: the source retries with backoff. */
        int rc = bs->src->ops->start(bs->src, error);
        if (rc < 0)
            return rc;
    }
    manager_metrics_configure(m);
    g_message("managing%s%s%s%s, tick %" G_GUINT64_FORMAT " ms%s", m->fleet_dir ? " fleet " : "",
              m->fleet_dir ? m->fleet_dir : "", m->libvirt_uri ? " libvirt " : "",
              m->libvirt_uri ? m->libvirt_uri : "", m->tick_ms, m->dry_run ? ", DRY RUN" : "");
    return 0;
}

void manager_free(struct manager *m)
{
    if (!m)
        return;
    if (m->tick_id)
        g_source_remove(m->tick_id);
    if (m->soon_id)
        g_source_remove(m->soon_id);
    if (m->collect_id)
        g_source_remove(m->collect_id);
    if (m->watch_id)
        g_source_remove(m->watch_id);
    if (m->ksm_guard_id)
        g_source_remove(m->ksm_guard_id);
    if (m->notify_id)
        g_source_remove(m->notify_id);
    manager_metrics_stop(m);
    if (m->saved) { /* started: what changed since the last write goes out now */
        /* A ksmd ballast started stops with it (docs/ksm.md, "Who owns
         * ksmd"); before the last write, which then says it is nobody's.
         * Only a ballastd that ran: a second one refused at start (its
         * control socket taken) took back, from the first one's state
         * file, a ksmd that is the first one's. */
        if (m->ticks > 0)
            ksm_monitor_exit(&m->ksm);
        manager_state_note(m);
        manager_state_flush(m, true);
    }
    manager_state_clear(m);
    /* A source frees its VMs without events: free ours after them. */
    for (unsigned i = 0; i < m->n_sources; i++)
        m->sources[i].src->ops->free(m->sources[i].src);
    for (guint i = 0; i < m->vms->len; i++)
        vm_free(m->vms->pdata[i]);
    g_ptr_array_unref(m->vms);
    fd_group_free(m->agents); /* after the VMs: their agents leave it first */
    config_free(m->cfg);
    g_free(m->fleet_dir);
    g_free(m->libvirt_uri);
    g_free(m->config_dir);
    g_free(m->proc_root);
    g_free(m->ksm_sysfs_root);
    g_free(m->socket_path);
    g_free(m->state_file_opt);
    ksm_monitor_clear(&m->ksm);
    budget_monitor_clear(&m->budget);
    g_free(m);
}
