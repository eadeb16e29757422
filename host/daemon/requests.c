/*
 * ballastd's control requests (docs/control-protocol.md): one request line
 * in, one reply line out. The handlers read the manager's state
 * (manager_private.h) and change only what a request is for: runtime
 * policy overrides, the dry-run switch, a parked agent (notify), a foreign
 * hold (resume).
 */
#include "manager_private.h"

#include "lv_policy.h"
#include "metrics_text.h"

#include <string.h>

static const char *vm_mode(struct manager *m, struct bd_vm *vm)
{
    if (m->dry_run)
        return "dry-run";
    return vm->evaluated ? policy_mode_name(vm->in.params.mode) : "-";
}

/* What this VM's guest_mem is made of (cost_monitor_guest_in). */
static void guest_in(const struct bd_vm *vm, gint64 now, struct cost_monitor_guest_in *g)
{
    *g = (struct cost_monitor_guest_in){
        .r = vm->report_valid ? &vm->report : NULL,
        .age_ms = now - vm->report_ms,
        .reserve = &vm->boot_reserve,
    };
    /* deflate-on-oom: the balloon's pages are inside MemTotal, counted as used. */
    int64_t present = vm->report_present_bytes, actual = vm->report_actual_bytes;
    if (actual > 0)
        actual += vm->report_extra_bytes; /* kept free in the guest: not the balloon's */
    if (vm->pstate.balloon_in_total && actual > 0 && present > actual)
        g->balloon_in_used_bytes = (uint64_t)(present - actual);
}

/* Failed balloon commands: how many, the last error and its age. */
static void set_error_status(const struct bd_vm *vm, struct ctl_vm_status *s)
{
    const struct set_retry *r = &vm->retry;
    s->balloon_set_failures = (int64_t)r->failures_total;
    s->last_set_error_age_ms = r->last_error_ms ? now_ms() - r->last_error_ms : -1;
    ctl_copy(s->last_set_error, sizeof(s->last_set_error), r->last_error);
}

static void vm_status(struct manager *m, struct bd_vm *vm, struct ctl_vm_status *s)
{
    ctl_vm_status_init(s);
    ctl_copy(s->name, sizeof(s->name), vm->name);
    s->nominal_bytes = vm->balloon.nominal_bytes;
    s->actual_bytes = vm->balloon.actual_bytes;
    s->target_bytes = vm->evaluated          ? (int64_t)vm->out.target_bytes
                      : vm->target_set_bytes ? (int64_t)vm->target_set_bytes
                                             : -1;
    const struct proto_report *r = &vm->report;
    if (vm->report_valid && (r->valid_mask & PROTO_R_BIT(PROTO_R_MEM_AVAILABLE)))
        s->guest_available_bytes = (int64_t)r->mem_available_bytes;
    else
        s->guest_available_bytes = vm->balloon.guest_available_bytes;
    if (vm->report_valid && (r->valid_mask & PROTO_R_BIT(PROTO_R_PSI_SOME)))
        s->psi_some_avg10_pct = r->psi_some_avg10_bp / 100.0;
    if (vm->report_valid && (r->valid_mask & PROTO_R_BIT(PROTO_R_PSI_FULL)))
        s->psi_full_avg10_pct = r->psi_full_avg10_bp / 100.0;
    ctl_copy(s->mode, sizeof(s->mode), vm_mode(m, vm));
    ctl_copy(s->qmp, sizeof(s->qmp), vm->backend_up ? "connected" : "down");
    ctl_copy(s->source, sizeof(s->source), vm->src->ops->kind);
    ctl_copy(s->policy_source, sizeof(s->policy_source), vm_policy_source(m, vm));
    ctl_copy(s->agent, sizeof(s->agent),
             vm->has_agent ? agent_state_name(vm->agent.state) : "none");
    ctl_copy(s->last_reason, sizeof(s->last_reason),
             vm->evaluated ? vm->out.reason : vm->status_reason);
    s->agent_frames = (int64_t)vm->agent.frames;
    s->agent_rejects = (int64_t)vm->agent.rejects;
    s->agent_violations = (int64_t)vm->agent.violations;
    s->guest_log_suppressed = (int64_t)vm->agent.log.held_total;
    s->guest_deflate_events = (int64_t)vm->pstate.guest_deflate_events;
    s->event_decisions = (int64_t)vm->event_decisions;
    s->balloon_queries = (int64_t)vm->balloon_queries;
    s->balloon_sets = (int64_t)vm->balloon_sets;
    set_error_status(vm, s);
    s->grows = (int64_t)vm->grows;
    s->shrinks = (int64_t)vm->shrinks;
    s->foreign_changes = (int64_t)vm->foreign_changes;
    if (vm->foreign_bytes && vm->foreign_confirmed) { /* a rise not told yet: the reason says */
        s->foreign_target_bytes = (int64_t)vm->foreign_bytes;
        s->foreign_since_s = vm->foreign_real_us / G_USEC_PER_SEC;
        ctl_copy(s->foreign_by, sizeof(s->foreign_by), vm->foreign_by);
    }
    s->deflate_on_oom = vm->balloon.deflate_on_oom;
    if (vm->audited)
        s->balloon_unreleased_bytes = vm->audit.flagged ? (int64_t)vm->audit.unreleased_bytes : 0;
    ksm_monitor_vm_status(&vm->ksm, s);
    gint64 now = now_ms();
    cost_monitor_vm_status(&vm->cost, now, &s->cost);
    struct cost_monitor_guest_in g;
    guest_in(vm, now, &g);
    cost_monitor_guest(&g, &s->guest_mem);
}

/* The host block of the status document. */
static void host_status(struct manager *m, struct ctl_host_status *h)
{
    ctl_host_status_init(h);
    if (m->host_valid) {
        h->mem_total_bytes = (int64_t)m->host.mem_total_bytes;
        h->mem_available_bytes = (int64_t)m->host.mem_available_bytes;
        if (m->host.psi_valid) {
            h->psi_some_avg10_pct = m->host.psi_some_avg10_pct;
            h->psi_full_avg10_pct = m->host.psi_full_avg10_pct;
        }
    }
    h->dry_run = m->dry_run;
    h->ticks = (int64_t)m->ticks;
    h->balloon_changes = (int64_t)m->balloon_changes;
    h->agent_rejects = (int64_t)m->removed_rejects;
    ksm_monitor_host_status(&m->ksm, h);
    budget_monitor_status(&m->budget, &h->budget);
    /* Our own process: the real /proc, whatever --proc-root says of the host. */
    manager_self_usage("/proc", h);
    h->grow_latency = m->grow_latency;
    h->grow_latency_known = true;
    for (size_t i = 0; i < m->n_sources; i++) /* answered from the source's own state */
        if (strcmp(m->sources[i].src->ops->kind, "libvirt") == 0)
            m->lv->describe(m->sources[i].src, h->libvirt, sizeof(h->libvirt));
}

/*
 * The status document's rows: the host block and one row per VM (*rows,
 * g_free). fresh: each VM's host cost read now unless a few seconds old
 * (1-3 ms a VM). status and metrics both come from here.
 */
static void status_rows(struct manager *m, bool fresh, struct ctl_host_status *h,
                        struct ctl_vm_status **rows)
{
    manager_ksm_fresh_vms(m);
    for (guint i = 0; fresh && i < m->vms->len; i++)
        manager_cost_fresh(m, m->vms->pdata[i]);
    host_status(m, h);
    *rows = g_new(struct ctl_vm_status, MAX(m->vms->len, 1));
    for (guint i = 0; i < m->vms->len; i++) {
        vm_status(m, m->vms->pdata[i], &(*rows)[i]);
        h->agent_rejects += (*rows)[i].agent_rejects;
    }
}

static char *status_reply(struct manager *m, bool fresh)
{
    struct ctl_host_status h;
    g_autofree struct ctl_vm_status *rows = NULL;
    status_rows(m, fresh, &h, &rows);
    return ctl_status_reply(&h, rows, m->vms->len);
}

char *manager_metrics_text(struct manager *m)
{
    struct ctl_host_status h;
    g_autofree struct ctl_vm_status *rows = NULL;
    status_rows(m, false, &h, &rows);
    /* ~1.2 KiB a guest, 6 KiB for the host: sized once. */
    GString *out = g_string_sized_new(6144 + 1280 * m->vms->len);
    metrics_text_write(out, &h, rows, m->vms->len);
    return g_string_free(out, FALSE);
}

/* The caller of the request being handled, for the log line of a change
 * ("?" outside a request). */
static void peer_fields(const struct manager *m, char uid[16], char pid[16])
{
    g_snprintf(uid, 16, "%s", "?");
    g_snprintf(pid, 16, "%s", "?");
    if (m->peer) {
        g_snprintf(uid, 16, "%d", (int)m->peer->uid);
        g_snprintf(pid, 16, "%d", (int)m->peer->pid);
    }
}

/* --- explain ------------------------------------------------------------------------------ */

/* What the engine decided last, and why. */
static void explain_decision(struct json_writer *w, struct manager *m, struct bd_vm *vm)
{
    json_writer_member_string(w, "vm", vm->name);
    json_writer_member_bool(w, "evaluated", vm->evaluated);
    json_writer_member_bool(w, "dry_run", m->dry_run);
    json_writer_member_string(w, "mode", vm_mode(m, vm));
    json_writer_member_string(w, "decision",
                              vm->evaluated ? policy_decision_name(vm->out.decision) : "none");
    json_writer_member_string(w, "reason", vm->evaluated ? vm->out.reason : vm->status_reason);
}

/* Checks on the balloon: someone else's target the VM is held at (null when
 * none), the audit of what its QEMU holds (null before a cost read), whether the
 * balloon deflates on OOM by itself (null unknown). */
static void explain_balloon_checks(struct json_writer *w, struct bd_vm *vm)
{
    json_writer_key(w, "foreign");
    if (vm->foreign_bytes && vm->foreign_confirmed) {
        json_writer_object_begin(w);
        json_writer_member_int(w, "target_bytes", (int64_t)vm->foreign_bytes);
        json_writer_member_int(w, "since_s", vm->foreign_real_us / G_USEC_PER_SEC);
        json_writer_member_string(w, "by", vm->foreign_by);
        json_writer_object_end(w);
    } else {
        json_writer_null(w);
    }
    json_writer_member_int(w, "foreign_changes", (int64_t)vm->foreign_changes);
    json_writer_key(w, "balloon_unreleased_bytes");
    if (vm->audited)
        json_writer_int(w, vm->audit.flagged ? (int64_t)vm->audit.unreleased_bytes : 0);
    else
        json_writer_null(w);
    json_writer_key(w, "deflate_on_oom");
    if (vm->balloon.deflate_on_oom >= 0)
        json_writer_bool(w, vm->balloon.deflate_on_oom == 1);
    else
        json_writer_null(w);
}

/* Which actuator carries the target (docs/virtio-mem.md): null for a guest
 * with a balloon only; with a virtio-mem device its figures, the watch's
 * state and the plan's reason. */
static void explain_actuator(struct json_writer *w, const struct vmsource_balloon *b)
{
    json_writer_key(w, "actuator");
    if (b->vmem_max_bytes <= 0) {
        json_writer_null(w);
        return;
    }
    json_writer_object_begin(w);
    json_writer_member_string(w, "kind", b->actuator ? b->actuator : "none yet");
    json_writer_member_string(w, "reason", b->actuator_reason ? b->actuator_reason : "");
    json_writer_member_int(w, "vmem_size_bytes", b->vmem_size_bytes);
    json_writer_member_int(w, "vmem_requested_bytes", b->vmem_requested_bytes);
    json_writer_member_int(w, "vmem_max_bytes", b->vmem_max_bytes);
    json_writer_member_int(w, "vmem_block_bytes", b->vmem_block_bytes);
    json_writer_member_string(w, "vmem_state", b->vmem_state ? b->vmem_state : "?");
    json_writer_object_end(w);
}

/* The balloon's figures, what ballastd sent it and how fast it followed. */
static void explain_balloon(struct json_writer *w, struct bd_vm *vm)
{
    gint64 now = now_ms();
    json_writer_member_int(w, "nominal_bytes", vm->balloon.nominal_bytes);
    json_writer_member_int(w, "actual_bytes", vm->balloon.actual_bytes);
    json_writer_member_int(w, "target_bytes", vm->evaluated ? (int64_t)vm->out.target_bytes : -1);
    json_writer_member_int(w, "target_set_bytes", (int64_t)vm->target_set_bytes);
    json_writer_member_int(w, "reclaim_bytes", vm->evaluated ? (int64_t)vm->out.reclaim_bytes : 0);
    json_writer_member_int(w, "last_set_ms_ago", vm->last_set_ms ? now - vm->last_set_ms : -1);
    json_writer_member_int(w, "guest_deflate_events", (int64_t)vm->pstate.guest_deflate_events);
    json_writer_member_int(w, "deflate_hold_ms_left",
                           vm->pstate.deflate_held && vm->pstate.deflate_hold_until_ms > now
                               ? vm->pstate.deflate_hold_until_ms - now
                               : 0);
    json_writer_member_string(w, "restored", vm->restored);
    explain_balloon_checks(w, vm);
    explain_actuator(w, &vm->balloon);
    json_writer_member_int(w, "event_decisions", (int64_t)vm->event_decisions);
    json_writer_member_int(w, "balloon_queries", (int64_t)vm->balloon_queries);
    json_writer_member_int(w, "balloon_sets", (int64_t)vm->balloon_sets);
    const struct set_retry *r = &vm->retry;
    json_writer_member_int(w, "balloon_set_failures", (int64_t)r->failures_total);
    json_writer_member_int(w, "set_failures_in_a_row", r->failures);
    json_writer_member_string(w, "last_set_error", r->last_error[0] ? r->last_error : NULL);
    json_writer_member_int(w, "last_set_error_age_ms",
                           r->last_error_ms ? now - r->last_error_ms : -1);
    json_writer_member_int(w, "set_retry_in_ms",
                           r->failures && r->not_before_ms > now ? r->not_before_ms - now : 0);
    json_writer_key(w, "grow_latency_ms");
    if (vm->grow_latency_ms >= 0)
        json_writer_int(w, vm->grow_latency_ms);
    else
        json_writer_null(w);
}

/* libvirt: the <ballast:policy> of the domain's metadata as last read; null for the fleet. */
static void explain_metadata(struct json_writer *w, struct manager *m, struct bd_vm *vm)
{
    json_writer_key(w, "metadata");
    if (!vm->libvirt) {
        json_writer_null(w);
        return;
    }
    json_writer_object_begin(w);
    json_writer_member_bool(w, "present", vm->meta->present);
    json_writer_member_int(w, "keys", vm->meta->n_keys);
    json_writer_member_int(w, "errors", vm->meta->n_errors);
    json_writer_member_string(w, "error", vm->meta->first_error);
    json_writer_member_string(w, "machine", m->lv->vm_machine(vm->src, vm->handle));
    json_writer_object_end(w);
}

/* Where the VM and its policy come from, and what forced safe mode. */
static void explain_source(struct json_writer *w, struct manager *m, struct bd_vm *vm)
{
    json_writer_member_string(w, "config_error", vm->config_error);
    json_writer_member_string(w, "source", vm->src->ops->kind);
    json_writer_member_string(w, "policy_source", vm_policy_source(m, vm));
    explain_metadata(w, m, vm);
}

/* The parameters the engine used, overrides applied. */
static void explain_params(struct json_writer *w, const struct policy_vm_params *p)
{
    json_writer_key(w, "params");
    json_writer_object_begin(w);
    json_writer_member_int(w, "min_bytes", (int64_t)p->min_bytes);
    json_writer_member_int(w, "max_bytes", (int64_t)p->max_bytes);
    json_writer_member_int(w, "fixed_bytes", (int64_t)p->fixed_bytes);
    json_writer_member_int(w, "guaranteed_bytes", (int64_t)p->guaranteed_bytes);
    json_writer_member_int(w, "shares", p->shares);
    json_writer_member_string(w, "mode", policy_mode_name(p->mode));
    json_writer_member_bool(w, "agent_required", p->agent_required);
    json_writer_member_bool(w, "reclaim_allowed", p->reclaim_allowed);
    json_writer_object_end(w);
}

/* The runtime overrides (set-policy), as KEY=VALUE strings. */
static void explain_overrides(struct json_writer *w, const struct bd_vm *vm)
{
    json_writer_key(w, "overrides");
    json_writer_array_begin(w);
    g_autoptr(GPtrArray) ovr = g_ptr_array_new_with_free_func(g_free);
    vm_override_list(&vm->ovr, ovr);
    for (guint i = 0; i < ovr->len; i++)
        json_writer_string(w, ovr->pdata[i]);
    json_writer_array_end(w);
}

/* The agent's connection and the report the engine used. */
static void explain_agent(struct json_writer *w, struct bd_vm *vm)
{
    const struct policy_agent_report *a = &vm->in.agent;
    json_writer_key(w, "agent");
    json_writer_object_begin(w);
    json_writer_member_string(w, "state",
                              vm->has_agent ? agent_state_name(vm->agent.state) : "none");
    json_writer_member_bool(w, "report_valid", a->valid);
    json_writer_member_int(w, "age_ms", (int64_t)a->age_ms);
    json_writer_member_int(w, "mem_total_bytes", (int64_t)a->mem_total_bytes);
    json_writer_member_int(w, "mem_available_bytes", (int64_t)a->mem_available_bytes);
    json_writer_member_double(w, "psi_some_avg10_pct", a->psi_some_avg10_pct);
    json_writer_member_double(w, "psi_full_avg10_pct", a->psi_full_avg10_pct);
    json_writer_member_int(w, "oom_kill_count", (int64_t)a->oom_kill_count);
    json_writer_member_int(w, "frames", (int64_t)vm->agent.frames);
    json_writer_member_int(w, "rejects", (int64_t)vm->agent.rejects);
    json_writer_member_int(w, "violations", (int64_t)vm->agent.violations);
    json_writer_member_int(w, "log_suppressed", (int64_t)vm->agent.log.held_total);
    json_writer_member_int(w, "polls", (int64_t)vm->agent.polls);
    json_writer_member_int(w, "reclaims", (int64_t)MIN(vm->agent.reclaims, (uint64_t)G_MAXINT64));
    json_writer_member_int(w, "reclaimed_bytes",
                           (int64_t)MIN(vm->agent.reclaimed_bytes, (uint64_t)G_MAXINT64));
    json_writer_member_bool(w, "polled", vm->has_agent && agent_conn_pollable(&vm->agent));
    json_writer_key(w, "proto_version"); /* this connection's, null while not connected */
    if (vm->has_agent && vm->agent.state == AGENT_READY)
        json_writer_int(w, vm->agent.proto_version);
    else
        json_writer_null(w);
    json_writer_object_end(w);
}

/* QEMU's guest-stats, the fallback when there is no agent report. */
static void explain_guest_stats(struct json_writer *w, const struct policy_guest_stats *s)
{
    json_writer_key(w, "guest_stats");
    json_writer_object_begin(w);
    json_writer_member_bool(w, "valid", s->valid);
    json_writer_member_int(w, "age_ms", (int64_t)s->age_ms);
    json_writer_member_int(w, "available_bytes",
                           s->available_bytes == POLICY_UNKNOWN ? -1 : (int64_t)s->available_bytes);
    json_writer_member_int(w, "free_bytes",
                           s->free_bytes == POLICY_UNKNOWN ? -1 : (int64_t)s->free_bytes);
    json_writer_object_end(w);
}

static void explain_host(struct json_writer *w, const struct policy_host *h)
{
    json_writer_key(w, "host");
    json_writer_object_begin(w);
    json_writer_member_int(w, "mem_total_bytes", (int64_t)h->mem_total_bytes);
    json_writer_member_int(w, "mem_available_bytes", (int64_t)h->mem_available_bytes);
    json_writer_member_double(w, "psi_some_avg10_pct", h->psi_some_avg10_pct);
    json_writer_object_end(w);
}

static char *explain_reply(struct manager *m, struct bd_vm *vm, const struct ctl_request *req)
{
    manager_ksm_fresh_vms(m);
    manager_cost_fresh(m, vm);
    struct json_writer w;
    ctl_reply_begin(&w, g_string_sized_new(2048), CTL_CMD_EXPLAIN);
    json_writer_object_begin(&w);
    explain_decision(&w, m, vm);
    explain_balloon(&w, vm);
    explain_source(&w, m, vm);
    explain_params(&w, &vm->in.params);
    explain_overrides(&w, vm);
    explain_agent(&w, vm);
    explain_guest_stats(&w, &vm->in.stats);
    explain_host(&w, &m->host);
    budget_monitor_explain(&m->budget, vm->budget_floor_bytes, &w);
    ksm_monitor_explain(&m->ksm, &vm->ksm, &w);
    gint64 now = now_ms();
    struct cost_monitor_guest_in g;
    guest_in(vm, now, &g);
    cost_monitor_explain(&vm->cost, &g, now, &w);
    json_writer_object_end(&w);
    return ctl_reply_end(&w);
}

/* --- notify (the libvirt hook's hint) ------------------------------------------------------ */

static gboolean on_notify_rescan(gpointer data)
{
    struct manager *m = data;
    m->notify_id = 0;
    for (unsigned i = 0; i < m->n_sources; i++)
        if (strcmp(m->sources[i].src->ops->kind, "libvirt") == 0)
            m->sources[i].src->ops->rescan(m->sources[i].src);
    return G_SOURCE_REMOVE;
}

/*
 * The hook runs inside libvirtd's domain start/stop, synchronously: this
 * answers at once and only schedules work. Nothing here calls libvirt; the
 * rescan runs from an idle after the reply is queued (idle priority: the
 * reply's write watch, at default priority, is served first), and libvirt's own
 * lifecycle events remain what adds and removes VMs.
 *   prepare           nothing (QEMU does not run yet);
 *   started           rescan the libvirt source soon (in case its event is
 *                     late or the connection was down), and reopen an agent
 *                     a stopped/release notify closed;
 *   stopped, release  close the VM's agent connection now instead of letting
 *                     it retry against a dead QEMU until the event arrives.
 */
static const char *notify_act(struct manager *m, struct bd_vm *vm, enum ctl_notify_event event)
{
    bool have_libvirt = m->libvirt_uri != NULL;
    const char *action = "none";
    switch (event) {
    case CTL_NOTIFY_PREPARE:
        break;
    case CTL_NOTIFY_STARTED:
        if (have_libvirt) {
            if (!m->notify_id)
                m->notify_id = g_idle_add(on_notify_rescan, m);
            action = "rescan";
        }
        if (vm && vm->agent_parked && vm->has_agent) {
            vm->agent_parked = false;
            agent_conn_start(&vm->agent);
        }
        break;
    case CTL_NOTIFY_STOPPED:
    case CTL_NOTIFY_RELEASE:
        if (vm && vm->has_agent && !vm->agent_parked) {
            agent_conn_stop(&vm->agent);
            vm->agent_parked = true;
            vm->report_valid = false;
            action = "agent-closed";
        }
        break;
    }
    return action;
}

/* The domain notify names need not be managed: looked up here, not by the dispatcher. */
static char *notify_reply(struct manager *m, struct bd_vm *none, const struct ctl_request *req)
{
    struct bd_vm *vm = manager_find_vm(m, req->vm);
    if (vm && !vm->libvirt)
        vm = NULL; /* a fleet guest of the same name is not this domain */
    const char *action = notify_act(m, vm, req->event);
    char uid[16], pid[16];
    peer_fields(m, uid, pid);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", req->vm, "PEER_UID", uid, "PEER_PID",
                     pid, "MESSAGE", "%s: notify %s (%s): %s (uid %s pid %s)", req->vm,
                     ctl_notify_event_name(req->event), vm ? "managed" : "not managed", action, uid,
                     pid);
    struct json_writer w;
    ctl_reply_begin(&w, g_string_sized_new(256), CTL_CMD_NOTIFY);
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "vm", req->vm);
    json_writer_member_string(&w, "event", ctl_notify_event_name(req->event));
    json_writer_member_bool(&w, "managed", vm != NULL);
    json_writer_member_string(&w, "action", action);
    json_writer_object_end(&w);
    return ctl_reply_end(&w);
}

/* --- ping, status, set-policy, dry-run ----------------------------------------------------- */

static char *ping_reply(struct manager *m, struct bd_vm *vm, const struct ctl_request *req)
{
    struct json_writer w;
    ctl_reply_begin(&w, g_string_sized_new(96), CTL_CMD_PING);
    json_writer_object_begin(&w);
    json_writer_member_int(&w, "version", CTL_PROTOCOL_VERSION);
    json_writer_member_string(&w, "ballast", BALLAST_VERSION);
    json_writer_object_end(&w);
    return ctl_reply_end(&w);
}

static char *set_policy_reply(struct manager *m, struct bd_vm *vm, const struct ctl_request *req)
{
    g_autofree char *why = NULL;
    if (vm_override_set(&vm->ovr, req->key, req->value, &why) < 0)
        return ctl_reply_error(CTL_ERR_BAD_POLICY, why);
    vm_policy_cache_invalidate(&vm->policy);
    char uid[16], pid[16];
    peer_fields(m, uid, pid);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "PEER_UID", uid, "PEER_PID",
                     pid, "MESSAGE", "%s: runtime policy %s=%s (uid %s pid %s)", vm->name, req->key,
                     req->value, uid, pid);
    manager_state_note(m); /* kept across a restart */
    struct json_writer w;
    ctl_reply_begin(&w, g_string_sized_new(512), CTL_CMD_SET_POLICY);
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "vm", vm->name);
    json_writer_member_string(&w, "key", req->key);
    json_writer_member_string(&w, "value", req->value);
    json_writer_object_end(&w);
    return ctl_reply_end(&w);
}

/* `ballastctl resume VM`: a VM held at someone else's target is ballastd's again. */
static char *resume_reply(struct manager *m, struct bd_vm *vm, const struct ctl_request *req)
{
    bool was_held = manager_foreign_resume(vm);
    char uid[16], pid[16];
    peer_fields(m, uid, pid);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "PEER_UID", uid, "PEER_PID",
                     pid, "MESSAGE", "%s: resume: %s (uid %s pid %s)", vm->name,
                     was_held ? "handed back to ballastd" : "was not held", uid, pid);
    if (was_held)
        manager_state_note(m); /* a restart must not put the hold back */
    struct json_writer w;
    ctl_reply_begin(&w, g_string_sized_new(128), CTL_CMD_RESUME);
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "vm", vm->name);
    json_writer_member_bool(&w, "was_held", was_held);
    json_writer_object_end(&w);
    return ctl_reply_end(&w);
}

static char *dry_run_reply(struct manager *m, struct bd_vm *vm, const struct ctl_request *req)
{
    if (m->dry_run != req->enabled) {
        char uid[16], pid[16];
        peer_fields(m, uid, pid);
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "PEER_UID", uid, "PEER_PID", pid,
                         "MESSAGE", "dry run %s (control socket, uid %s pid %s)",
                         req->enabled ? "on" : "off", uid, pid);
    }
    m->dry_run = req->enabled;
    ksm_monitor_set_dry_run(&m->ksm, m->dry_run);
    for (guint i = 0; i < m->vms->len; i++)
        ((struct bd_vm *)m->vms->pdata[i])->logged_target = 0;
    struct json_writer w;
    ctl_reply_begin(&w, g_string_sized_new(96), CTL_CMD_DRY_RUN);
    json_writer_object_begin(&w);
    json_writer_member_bool(&w, "dry_run", m->dry_run);
    json_writer_object_end(&w);
    return ctl_reply_end(&w);
}

static char *status_request(struct manager *m, struct bd_vm *vm, const struct ctl_request *req)
{
    return status_reply(m, req->fresh);
}

/* {"format": "prometheus-text-0.0.4", "text": ...}: what GET /metrics serves. */
static char *metrics_reply(struct manager *m, struct bd_vm *vm, const struct ctl_request *req)
{
    g_autofree char *text = manager_metrics_text(m);
    struct json_writer w;
    ctl_reply_begin(&w, g_string_sized_new(strlen(text) + strlen(text) / 8 + 128), CTL_CMD_METRICS);
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "format", CTL_METRICS_FORMAT);
    json_writer_member_string(&w, "text", text);
    json_writer_object_end(&w);
    return ctl_reply_end(&w);
}

/* One handler per command; vm is the request's VM for those that name one. */
static const struct {
    enum ctl_cmd cmd;
    bool names_vm; /* refused with no-such-vm unless req->vm is managed */
    char *(*reply)(struct manager *m, struct bd_vm *vm, const struct ctl_request *req);
} handlers[] = {
    {CTL_CMD_PING, false, ping_reply},       {CTL_CMD_STATUS, false, status_request},
    {CTL_CMD_EXPLAIN, true, explain_reply},  {CTL_CMD_SET_POLICY, true, set_policy_reply},
    {CTL_CMD_RESUME, true, resume_reply},    {CTL_CMD_DRY_RUN, false, dry_run_reply},
    {CTL_CMD_NOTIFY, false, notify_reply}, /* a hint: an unmanaged domain is no error */
    {CTL_CMD_METRICS, false, metrics_reply},
};

char *manager_handle_request(void *data, const struct ctl_peer *peer, const char *line, size_t len)
{
    struct manager *m = data;
    struct ctl_request req;
    const char *code;
    g_autofree char *msg = NULL;
    if (ctl_request_parse(line, len, &req, &code, &msg) < 0)
        return ctl_reply_error(code, msg);
    if (ctl_cmd_is_write(req.cmd) && peer->read_only) {
        g_autofree char *text =
            g_strdup_printf("permission denied: writes need root (socket %s)", peer->socket);
        g_debug("control: %s refused on the read-only socket (uid %d pid %d)",
                ctl_cmd_name(req.cmd), (int)peer->uid, (int)peer->pid);
        return ctl_reply_error(CTL_ERR_PERMISSION, text);
    }
    m->peer = peer; /* for the change's log line; valid during this call only */
    for (size_t i = 0; i < G_N_ELEMENTS(handlers); i++) {
        if (handlers[i].cmd != req.cmd)
            continue;
        struct bd_vm *vm = NULL;
        if (handlers[i].names_vm && !(vm = manager_find_vm(m, req.vm))) {
            g_autofree char *text = g_strdup_printf("no VM named \"%s\"", req.vm);
            return ctl_reply_error(CTL_ERR_NO_SUCH_VM, text);
        }
        char *reply = handlers[i].reply(m, vm, &req);
        m->peer = NULL;
        return reply;
    }
    m->peer = NULL;
    return ctl_reply_error(CTL_ERR_INTERNAL, "unhandled command");
}
