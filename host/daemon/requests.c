/*
 * ballastd's control requests (docs/control-protocol.md): one request line
 * in, one reply line out. The handlers read the manager's state
 * (manager_private.h) and change only what a request is for: runtime
 * policy overrides, the dry-run switch, a parked agent (notify).
 */
#include "manager_private.h"

#include "lv_policy.h"

#include <string.h>

static const char *vm_mode(struct manager *m, struct bd_vm *vm)
{
    if (m->dry_run)
        return "dry-run";
    return vm->evaluated ? policy_mode_name(vm->in.params.mode) : "-";
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
    s->guest_deflate_events = (int64_t)vm->pstate.guest_deflate_events;
    s->event_decisions = (int64_t)vm->event_decisions;
    s->balloon_queries = (int64_t)vm->balloon_queries;
    s->balloon_sets = (int64_t)vm->balloon_sets;
    ksm_monitor_vm_status(&vm->ksm, s);
}

static char *status_reply(struct manager *m)
{
    manager_ksm_fresh_vms(m);
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    if (m->host_valid) {
        h.mem_total_bytes = (int64_t)m->host.mem_total_bytes;
        h.mem_available_bytes = (int64_t)m->host.mem_available_bytes;
        if (m->host.psi_valid) {
            h.psi_some_avg10_pct = m->host.psi_some_avg10_pct;
            h.psi_full_avg10_pct = m->host.psi_full_avg10_pct;
        }
    }
    h.dry_run = m->dry_run;
    h.ticks = (int64_t)m->ticks;
    h.balloon_changes = (int64_t)m->balloon_changes;
    h.agent_rejects = (int64_t)m->removed_rejects;
    ksm_monitor_host_status(&m->ksm, &h);
    g_autofree struct ctl_vm_status *rows = g_new(struct ctl_vm_status, MAX(m->vms->len, 1));
    for (guint i = 0; i < m->vms->len; i++) {
        vm_status(m, m->vms->pdata[i], &rows[i]);
        h.agent_rejects += rows[i].agent_rejects;
    }
    return ctl_status_reply(&h, rows, m->vms->len);
}

static JsonNode *explain_result(struct manager *m, struct bd_vm *vm)
{
    manager_ksm_fresh_vms(m);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "vm");
    json_builder_add_string_value(b, vm->name);
    json_builder_set_member_name(b, "evaluated");
    json_builder_add_boolean_value(b, vm->evaluated);
    json_builder_set_member_name(b, "dry_run");
    json_builder_add_boolean_value(b, m->dry_run);
    json_builder_set_member_name(b, "mode");
    json_builder_add_string_value(b, vm_mode(m, vm));
    json_builder_set_member_name(b, "decision");
    json_builder_add_string_value(b,
                                  vm->evaluated ? policy_decision_name(vm->out.decision) : "none");
    json_builder_set_member_name(b, "reason");
    json_builder_add_string_value(b, vm->evaluated ? vm->out.reason : vm->status_reason);
#define ADD_INT(name, v)                                                                           \
    do {                                                                                           \
        json_builder_set_member_name(b, name);                                                     \
        json_builder_add_int_value(b, (gint64)(v));                                                \
    } while (0)
#define ADD_DBL(name, v)                                                                           \
    do {                                                                                           \
        json_builder_set_member_name(b, name);                                                     \
        json_builder_add_double_value(b, (v));                                                     \
    } while (0)
#define ADD_BOOL(name, v)                                                                          \
    do {                                                                                           \
        json_builder_set_member_name(b, name);                                                     \
        json_builder_add_boolean_value(b, (v));                                                    \
    } while (0)
    ADD_INT("nominal_bytes", vm->balloon.nominal_bytes);
    ADD_INT("actual_bytes", vm->balloon.actual_bytes);
    ADD_INT("target_bytes", vm->evaluated ? (int64_t)vm->out.target_bytes : -1);
    ADD_INT("target_set_bytes", vm->target_set_bytes);
    ADD_INT("reclaim_bytes", vm->evaluated ? (int64_t)vm->out.reclaim_bytes : 0);
    ADD_INT("last_set_ms_ago", vm->last_set_ms ? now_ms() - vm->last_set_ms : -1);
    ADD_INT("guest_deflate_events", vm->pstate.guest_deflate_events);
    ADD_INT("deflate_hold_ms_left",
            vm->pstate.deflate_held && vm->pstate.deflate_hold_until_ms > now_ms()
                ? vm->pstate.deflate_hold_until_ms - now_ms()
                : 0);
    ADD_INT("event_decisions", vm->event_decisions);
    ADD_INT("balloon_queries", vm->balloon_queries);
    ADD_INT("balloon_sets", vm->balloon_sets);
    json_builder_set_member_name(b, "grow_latency_ms");
    if (vm->grow_latency_ms >= 0)
        json_builder_add_int_value(b, vm->grow_latency_ms);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "config_error");
    if (vm->config_error)
        json_builder_add_string_value(b, vm->config_error);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "source");
    json_builder_add_string_value(b, vm->src->ops->kind);
    json_builder_set_member_name(b, "policy_source");
    json_builder_add_string_value(b, vm_policy_source(m, vm));
    /* libvirt: the <ballast:policy> of the domain's metadata as last read. */
    json_builder_set_member_name(b, "metadata");
    if (vm->libvirt) {
        json_builder_begin_object(b);
        ADD_BOOL("present", vm->meta->present);
        ADD_INT("keys", vm->meta->n_keys);
        ADD_INT("errors", vm->meta->n_errors);
        json_builder_set_member_name(b, "error");
        if (vm->meta->first_error)
            json_builder_add_string_value(b, vm->meta->first_error);
        else
            json_builder_add_null_value(b);
        const char *machine = m->lv->vm_machine(vm->src, vm->handle);
        json_builder_set_member_name(b, "machine");
        if (machine)
            json_builder_add_string_value(b, machine);
        else
            json_builder_add_null_value(b);
        json_builder_end_object(b);
    } else {
        json_builder_add_null_value(b);
    }

    json_builder_set_member_name(b, "params");
    json_builder_begin_object(b);
    const struct policy_vm_params *p = &vm->in.params;
    ADD_INT("min_bytes", p->min_bytes);
    ADD_INT("max_bytes", p->max_bytes);
    ADD_INT("fixed_bytes", p->fixed_bytes);
    ADD_INT("shares", p->shares);
    json_builder_set_member_name(b, "mode");
    json_builder_add_string_value(b, policy_mode_name(p->mode));
    ADD_BOOL("agent_required", p->agent_required);
    ADD_BOOL("reclaim_allowed", p->reclaim_allowed);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "overrides");
    json_builder_begin_array(b);
    g_autoptr(GPtrArray) ovr = g_ptr_array_new_with_free_func(g_free);
    vm_override_list(&vm->ovr, ovr);
    for (guint i = 0; i < ovr->len; i++)
        json_builder_add_string_value(b, ovr->pdata[i]);
    json_builder_end_array(b);

    json_builder_set_member_name(b, "agent");
    json_builder_begin_object(b);
    const struct policy_agent_report *a = &vm->in.agent;
    json_builder_set_member_name(b, "state");
    json_builder_add_string_value(b, vm->has_agent ? agent_state_name(vm->agent.state) : "none");
    ADD_BOOL("report_valid", a->valid);
    ADD_INT("age_ms", a->age_ms);
    ADD_INT("mem_total_bytes", a->mem_total_bytes);
    ADD_INT("mem_available_bytes", a->mem_available_bytes);
    ADD_DBL("psi_some_avg10_pct", a->psi_some_avg10_pct);
    ADD_DBL("psi_full_avg10_pct", a->psi_full_avg10_pct);
    ADD_INT("oom_kill_count", a->oom_kill_count);
    ADD_INT("frames", vm->agent.frames);
    ADD_INT("rejects", vm->agent.rejects);
    ADD_INT("polls", vm->agent.polls);
    ADD_BOOL("polled", vm->has_agent && agent_conn_pollable(&vm->agent));
    json_builder_end_object(b);

    json_builder_set_member_name(b, "guest_stats");
    json_builder_begin_object(b);
    const struct policy_guest_stats *s = &vm->in.stats;
    ADD_BOOL("valid", s->valid);
    ADD_INT("age_ms", s->age_ms);
    ADD_INT("available_bytes",
            s->available_bytes == POLICY_UNKNOWN ? -1 : (int64_t)s->available_bytes);
    ADD_INT("free_bytes", s->free_bytes == POLICY_UNKNOWN ? -1 : (int64_t)s->free_bytes);
    json_builder_end_object(b);

    json_builder_set_member_name(b, "host");
    json_builder_begin_object(b);
    ADD_INT("mem_total_bytes", m->host.mem_total_bytes);
    ADD_INT("mem_available_bytes", m->host.mem_available_bytes);
    ADD_DBL("psi_some_avg10_pct", m->host.psi_some_avg10_pct);
    json_builder_end_object(b);
    ksm_monitor_explain(&m->ksm, &vm->ksm, b);
    json_builder_end_object(b);
#undef ADD_INT
#undef ADD_DBL
#undef ADD_BOOL
    return json_builder_get_root(b);
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
static JsonNode *notify_result(struct manager *m, const struct ctl_request *req)
{
    struct bd_vm *vm = manager_find_vm(m, req->vm);
    if (vm && !vm->libvirt)
        vm = NULL; /* a fleet guest of the same name is not this domain */
    bool have_libvirt = m->libvirt_uri != NULL;
    const char *action = "none";
    switch (req->event) {
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
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", req->vm, "MESSAGE",
                     "%s: notify %s (%s): %s", req->vm, ctl_notify_event_name(req->event),
                     vm ? "managed" : "not managed", action);
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "vm", req->vm);
    json_object_set_string_member(o, "event", ctl_notify_event_name(req->event));
    json_object_set_boolean_member(o, "managed", vm != NULL);
    json_object_set_string_member(o, "action", action);
    return ctl_node_take_object(o);
}

char *manager_handle_request(void *data, const char *line, size_t len)
{
    struct manager *m = data;
    struct ctl_request req;
    const char *code;
    g_autofree char *msg = NULL;
    if (ctl_request_parse(line, len, &req, &code, &msg) < 0)
        return ctl_reply_error(code, msg);

    struct bd_vm *vm = NULL;
    if (req.cmd == CTL_CMD_EXPLAIN || req.cmd == CTL_CMD_SET_POLICY) {
        vm = manager_find_vm(m, req.vm);
        if (!vm) {
            g_autofree char *text = g_strdup_printf("no VM named \"%s\"", req.vm);
            return ctl_reply_error(CTL_ERR_NO_SUCH_VM, text);
        }
    }
    switch (req.cmd) {
    case CTL_CMD_PING: {
        JsonObject *o = json_object_new();
        json_object_set_int_member(o, "version", CTL_PROTOCOL_VERSION);
        json_object_set_string_member(o, "ballast", BALLAST_VERSION);
        return ctl_reply_ok(req.cmd, ctl_node_take_object(o));
    }
    case CTL_CMD_STATUS:
        return status_reply(m);
    case CTL_CMD_EXPLAIN:
        return ctl_reply_ok(req.cmd, explain_result(m, vm));
    case CTL_CMD_SET_POLICY: {
        const char *why;
        struct vm_override trial = vm->ovr;
        if (vm_override_set(&trial, req.key, req.value, &why) < 0)
            return ctl_reply_error(CTL_ERR_BAD_POLICY, why);
        vm->ovr = trial;
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                         "%s: runtime policy %s=%s", vm->name, req.key, req.value);
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "vm", vm->name);
        json_object_set_string_member(o, "key", req.key);
        json_object_set_string_member(o, "value", req.value);
        return ctl_reply_ok(req.cmd, ctl_node_take_object(o));
    }
    case CTL_CMD_DRY_RUN: {
        if (m->dry_run != req.enabled)
            g_message("dry run %s (control socket)", req.enabled ? "on" : "off");
        m->dry_run = req.enabled;
        ksm_monitor_set_dry_run(&m->ksm, m->dry_run);
        for (guint i = 0; i < m->vms->len; i++)
            ((struct bd_vm *)m->vms->pdata[i])->logged_target = 0;
        JsonObject *o = json_object_new();
        json_object_set_boolean_member(o, "dry_run", m->dry_run);
        return ctl_reply_ok(req.cmd, ctl_node_take_object(o));
    }
    case CTL_CMD_NOTIFY:
        return ctl_reply_ok(req.cmd, notify_result(m, &req));
    }
    return ctl_reply_error(CTL_ERR_INTERNAL, "unhandled command");
}
