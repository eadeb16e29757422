/*
 * libvirt VM source, the main loop's side; see vmsource_libvirt.h for what
 * maps to what.
 *
 * Nothing here calls libvirtd. Every RPC is a call queued for the source's
 * worker thread (lv_worker.h, lv_calls.h); its result comes back as an idle
 * on the main loop, where the source's state changes. What the manager reads
 * of a libvirt VM is therefore its last known figures, and a libvirtd that
 * stops answering shows as a stall (vmsource_libvirt_describe) instead of a
 * frozen ballastd.
 *
 * The connection, as the main loop sees it:
 *
 *   DOWN --reconnect timer--> CONNECTING --connected--> UP
 *     ^                           | failed                | closed (keepalive, EOF)
 *     |<--------------------------+                       v
 *     +<-------------------- disconnected ------------ CLOSING
 *
 * Domain calls (set, stats, metadata) are queued only while UP; a close
 * drops the ones still waiting, and their VMs' backend goes down (the
 * manager's vm_set_done contract: none after vm_backend(false)).
 */
#include "vmsource_libvirt.h"

#include "lv_calls.h"
#include "lv_event.h"
#include "lv_pid.h"
#include "lv_vmem_drive.h"
#include "lv_worker.h"
#include "lv_xml.h"
#include "thp_mode.h"

#include <errno.h>
#include <string.h>

#include <libvirt/virterror.h>

enum lv_state { LV_DOWN, LV_CONNECTING, LV_UP, LV_CLOSING };

struct vmsource_vm {
    struct lv_source *src;
    char *uuid; /* key in src->vms */
    char *name;
    void *cookie;
    struct lv_domain_info info;
    struct lv_policy policy;
    bool seen;       /* mark and sweep during a re-list */
    bool backend_up; /* last vm_backend state reported */
    bool paused;
    pid_t pid;
    /* Last figures of each kind: a balloon-change event carries only actual,
     * a stats read may lack the guest figures (microvm); neither erases the other.
     * actual_bytes is the balloon's own (QEMU's, boot-relative): with a
     * driven virtio-mem device the manager is given the guest's whole
     * memory instead (emit_balloon). */
    struct vmsource_balloon balloon;
    /* The domain's virtio-mem device, driven beside the balloon when it has
     * a usable one (lv_vmem_drive.h). */
    struct lv_vmem_drive vmem;
};

struct lv_source {
    struct vmsource base;
    char *uri;
    unsigned stats_period_s;
    uint64_t vmem_peak_hold_ms; /* each domain's virtio-mem net (vmem_drive.h) */
    void (*policy_changed)(void *ctx, void *cookie, const struct lv_policy *policy);

    struct lv_worker *worker;
    struct lv_link *link;
    enum lv_state state;
    GHashTable *vms;       /* uuid -> struct vmsource_vm * */
    GHashTable *unmanaged; /* uuids said "not managed" (every list sees them again) */
    guint reconnect_id;
    unsigned backoff_ms;
    bool warned_down; /* "cannot connect" said once per outage */
    char *down_error; /* why the last connect failed, for status */
    bool list_full;   /* the queued list also re-reads known domains (connect, rescan) */
    /* Calls queued and not merged whose result has not come back. */
    unsigned in_flight;
    unsigned lists_pending; /* connects and lists queued whose result has not come */
    guint stall_check_id;
    bool stall_warned; /* "pending for N s" said for the call now running */
};

G_STATIC_ASSERT(LV_KEEPALIVE_INTERVAL_S * 1000 * (LV_KEEPALIVE_COUNT + 1) <= LV_CALL_STALL_MAX_MS);

/* libvirt prints every error on stderr by default; ballast logs its own, once. */
static void quiet_errors(void *ctx, virErrorPtr err)
{
}

static void emit_backend(struct vmsource_vm *vm, bool up)
{
    if (vm->backend_up == up)
        return;
    vm->backend_up = up;
    lv_vmem_drive_set_running(&vm->vmem, up); /* a paused guest's device is not timed */
    vm->src->base.events->vm_backend(vm->src->base.events_ctx, vm->cookie, up);
}

/* The figures to the manager: the balloon's, or with a driven virtio-mem
 * device the guest's whole memory (vmem_drive.h). */
static void emit_balloon(struct lv_source *ls, struct vmsource_vm *vm)
{
    struct vmsource_balloon b = vm->balloon;
    lv_vmem_drive_fill(&vm->vmem, &b);
    ls->base.events->vm_balloon(ls->base.events_ctx, vm->cookie, &b);
}

static void vm_free(struct vmsource_vm *vm)
{
    lv_vmem_drive_clear(&vm->vmem);
    lv_domain_info_clear(&vm->info);
    lv_policy_clear(&vm->policy);
    g_free(vm->uuid);
    g_free(vm->name);
    g_free(vm);
}

static void remove_vm(struct lv_source *ls, struct vmsource_vm *vm, const char *why)
{
    g_message("libvirt: domain %s gone (%s)", vm->name, why);
    g_hash_table_steal(ls->vms, vm->uuid);
    ls->base.events->vm_removed(ls->base.events_ctx, vm->cookie);
    vm_free(vm);
}

static struct vmsource_vm *find_vm(struct lv_source *ls, virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom, uuid) < 0) /* local: the handle carries it */
        return NULL;
    return g_hash_table_lookup(ls->vms, uuid);
}

/* --- calls and stalls ---------------------------------------------------------------------- */

static gboolean on_stall_check(gpointer data);

/*
 * Says once per stall that the running call has waited LV_CALL_STALL_MS;
 * status says it all along (vmsource_libvirt_describe).
 */
static void check_stall(struct lv_source *ls)
{
    struct lv_worker_state st;
    lv_worker_state(ls->worker, &st);
    int64_t pending_s =
        st.busy ? lv_call_stalled_s(st.since_us, g_get_monotonic_time(), LV_CALL_STALL_MS) : 0;
    if (!pending_s || ls->stall_warned)
        return;
    ls->stall_warned = true;
    g_warning("libvirt: %s pending for %" G_GINT64_FORMAT " s: %s does not answer; its guests "
              "keep their last figures, %u call(s) waiting (merged per domain)",
              lv_call_name(st.call.kind), pending_s, ls->uri, st.queued);
}

/* true when folded into a call already waiting: one result for both. */
static bool queue_call(struct lv_source *ls, const struct lv_call *call)
{
    if (lv_worker_push(ls->worker, call))
        return true;
    ls->in_flight++;
    /* A whole-second timer: it shares its wakeup with ballastd's other ones. */
    if (!ls->stall_check_id)
        ls->stall_check_id = g_timeout_add_seconds(1, on_stall_check, ls);
    return false;
}

static gboolean on_stall_check(gpointer data)
{
    struct lv_source *ls = data;
    check_stall(ls);
    if (ls->in_flight)
        return G_SOURCE_CONTINUE;
    ls->stall_check_id = 0;
    return G_SOURCE_REMOVE;
}

static void queue_domain_call(struct lv_source *ls, enum lv_call_kind kind, const char *uuid,
                              uint64_t target_bytes)
{
    struct lv_call call = {.kind = kind, .target_bytes = target_bytes};
    g_strlcpy(call.uuid, uuid, sizeof(call.uuid));
    queue_call(ls, &call);
}

static void queue_vm_call(struct lv_source *ls, const struct vmsource_vm *vm, struct lv_call call)
{
    g_strlcpy(call.uuid, vm->uuid, sizeof(call.uuid));
    queue_call(ls, &call);
}

static void queue_list(struct lv_source *ls, bool full)
{
    ls->list_full |= full;
    if (!queue_call(ls, &(struct lv_call){.kind = LV_CALL_LIST}))
        ls->lists_pending++;
}

/*
 * A lifecycle event is dispatched on the main loop while a list (or the
 * connect's) may be on its way, read before the event: its result could
 * bring back a domain that just stopped, or miss one that just started. One
 * more list, queued behind it, sees the domains as they are after the event.
 */
static void relist_after_event(struct lv_source *ls)
{
    if (ls->lists_pending && (ls->state == LV_UP || ls->state == LV_CONNECTING))
        queue_list(ls, false);
}

/* Memory stats, and for a domain with a virtio-mem device its live XML now
 * and then (LV_VMEM_READ_MS): the device's safety net beside its events. */
static void schedule_refresh(struct lv_source *ls, struct vmsource_vm *vm)
{
    if (ls->state != LV_UP || vm->paused)
        return;
    queue_domain_call(ls, LV_CALL_STATS, vm->uuid, 0);
    if (lv_vmem_drive_read_due(&vm->vmem))
        queue_domain_call(ls, LV_CALL_XML, vm->uuid, 0);
}

/* A replan of a virtio-mem domain (lv_vmem_drive.h): the device's request,
 * then a balloon step nobody waits for. Dropped while not connected: the
 * re-list after a reconnect plans again. */
static void vmem_send(void *ctx, const struct vmem_drive_cmd *cmd)
{
    struct vmsource_vm *vm = ctx;
    struct lv_source *ls = vm->src;
    if (ls->state != LV_UP)
        return;
    if (cmd->send_vmem)
        queue_vm_call(
            ls, vm,
            (struct lv_call){.kind = LV_CALL_VMEM_SET, .value_bytes = cmd->vmem_requested_bytes});
    if (cmd->send_balloon)
        queue_vm_call(ls, vm,
                      (struct lv_call){.kind = LV_CALL_SET,
                                       .target_bytes = vm->vmem.d.target_bytes,
                                       .value_bytes = cmd->balloon_qmp_bytes,
                                       .step = true});
}

/* --- policy -------------------------------------------------------------------------------- */

static void apply_policy(struct lv_source *ls, struct vmsource_vm *vm,
                         const struct lv_domain_info *info)
{
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    lv_policy_clear(&vm->policy);
    lv_policy_from_info(info, &vm->policy, errors);
    for (guint i = 0; i < errors->len; i++)
        g_warning("libvirt: domain %s: %s (safe mode: never shrunk, still grown)", vm->name,
                  (const char *)errors->pdata[i]);
    if (vm->policy.present)
        g_message("libvirt: domain %s: metadata policy, %u key(s)%s", vm->name, vm->policy.n_keys,
                  vm->policy.n_errors ? ", with errors" : "");
    if (ls->policy_changed)
        ls->policy_changed(ls->base.events_ctx, vm->cookie, &vm->policy);
}

/* --- discovery ----------------------------------------------------------------------------- */

static const struct lv_vmem_drive_ops vmem_ops = {.send = vmem_send};

/* Whether the domain's QEMU may back guest RAM with huge pages: the
 * virtio-mem plan keeps the balloon out of sub-block steps then (actuator.h,
 * rule 4). Unknown (no pid yet) counts as off, as for a fleet guest. */
static void note_thp(struct vmsource_vm *vm)
{
    bool thp = false;
    if (vm->pid > 0 && thp_process_backed("/proc", "/sys", vm->pid, &thp) < 0)
        thp = false;
    lv_vmem_drive_set_thp(&vm->vmem, thp);
}

static void add_vm(struct lv_source *ls, struct lv_dom_snapshot *s)
{
    if (!s->info_valid) {
        g_warning("libvirt: domain %s: %s", s->name, s->error ? s->error : "?");
        return;
    }
    const struct lv_domain_info *info = &s->info;
    /* A virtio-mem device can carry the target alone (memballoon
     * model='none'): managed if ballastd can drive it. */
    struct actuator_vmem fig;
    const char *why = NULL;
    bool vmem_alone = !info->has_balloon && lv_vmem_figures(info, &fig, &why) == 0 &&
                      lv_vmem_boot_bytes(info) > 0;
    if (!info->has_balloon && !vmem_alone) {
        if (g_hash_table_add(ls->unmanaged, g_strdup(s->uuid))) /* said once per domain */
            g_message("libvirt: domain %s has no virtio memballoon (model %s) and no virtio-mem "
                      "device ballastd can drive%s%s: not managed",
                      s->name, info->balloon_model ? info->balloon_model : "absent",
                      why ? ": " : "", why ? why : "");
        return;
    }
    struct vmsource_vm *vm = g_new0(struct vmsource_vm, 1);
    vm->src = ls;
    vm->uuid = g_strdup(s->uuid);
    vm->name = g_strdup(s->name);
    vm->info = s->info; /* taken over */
    memset(&s->info, 0, sizeof(s->info));
    s->info_valid = false;
    vm->balloon = (struct vmsource_balloon){
        .nominal_bytes = vm->info.memory_bytes ? (int64_t)vm->info.memory_bytes : -1,
        .actual_bytes = -1,
        .guest_total_bytes = -1,
        .guest_available_bytes = -1,
        .guest_free_bytes = -1,
        .guest_stats_update_s = 0,
        /* <memballoon autodeflate='on'>; no balloon, no such setting (-1) */
        .deflate_on_oom = !vm->info.has_balloon  ? -1
                          : vm->info.autodeflate ? 1
                                                 : 0,
        .free_page_reporting = !vm->info.has_balloon          ? -1
                               : vm->info.free_page_reporting ? 1
                                                              : 0,
    };
    vm->paused = s->paused;
    vm->pid = lv_find_qemu_pid("/proc", vm->name);
    lv_vmem_drive_init(&vm->vmem, vm->name, ls->vmem_peak_hold_ms, &vmem_ops, vm);
    note_thp(vm);
    lv_vmem_drive_xml(&vm->vmem, &vm->info);
    g_hash_table_insert(ls->vms, vm->uuid, vm);
    vm->seen = true;

    info = &vm->info;
    g_message("libvirt: domain %s (%s, %s, %s) managed; agent channel %s", vm->name,
              info->domain_type ? info->domain_type : "?", info->machine ? info->machine : "?",
              !info->has_balloon          ? "no balloon: virtio-mem alone"
              : info->free_page_reporting ? "free page reporting"
                                          : "no free page reporting",
              info->agent_socket_path ? info->agent_socket_path : "none");
    vm->cookie = ls->base.events->vm_added(ls->base.events_ctx, vm, vm->name);
    if (s->stats_period_set_s)
        vm->info.stats_period_s = s->stats_period_set_s;
    else if (s->stats_period_error)
        g_message("libvirt: domain %s: cannot set a balloon stats period (%s): guest figures "
                  "only from the agent",
                  vm->name, s->stats_period_error);
    apply_policy(ls, vm, &vm->info);
    emit_backend(vm, !vm->paused);
    if (lv_vmem_drive_active(&vm->vmem))
        emit_balloon(ls, vm); /* the manager sees boot + max from the start */
    schedule_refresh(ls, vm);
}

/* A list came back: new domains added, known ones refreshed, gone ones removed. */
static void apply_list(struct lv_source *ls, GPtrArray *doms, bool full)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, ls->vms);
    while (g_hash_table_iter_next(&it, &key, &value))
        ((struct vmsource_vm *)value)->seen = false;

    for (guint i = 0; i < doms->len; i++) {
        struct lv_dom_snapshot *s = doms->pdata[i];
        struct vmsource_vm *vm = g_hash_table_lookup(ls->vms, s->uuid);
        if (!vm) {
            add_vm(ls, s);
            continue;
        }
        vm->seen = true;
        vm->paused = s->paused;
        emit_backend(vm, !vm->paused);
        /* After a reconnect or a rescan: the metadata may have changed meanwhile. */
        if (full && s->info_valid)
            apply_policy(ls, vm, &s->info);
        /* The list read the live XML: a virtio-mem device added, moved or
         * gone. Domains without one are told nothing new here. */
        if (s->info_valid) {
            lv_vmem_drive_xml(&vm->vmem, &s->info);
            if (vm->vmem.has_device || vm->vmem.d.active)
                emit_balloon(ls, vm);
        }
        schedule_refresh(ls, vm);
    }

    g_autoptr(GList) list = g_hash_table_get_values(ls->vms);
    for (GList *l = list; l; l = l->next) {
        struct vmsource_vm *vm = l->data;
        if (!vm->seen)
            remove_vm(ls, vm, "not running any more");
    }
}

static void lv_rescan(struct vmsource *base)
{
    struct lv_source *ls = (struct lv_source *)base;
    if (ls->state == LV_UP)
        queue_list(ls, true);
}

/* --- results ------------------------------------------------------------------------------- */

static void schedule_reconnect(struct lv_source *ls);

static void connect_done(struct lv_source *ls, const struct lv_result *r)
{
    if (ls->state != LV_CONNECTING)
        return; /* closed meanwhile: a disconnect is queued */
    if (r->error) {
        if (!ls->warned_down)
            g_warning("libvirt: cannot connect to %s: %s (retrying every %u..%u ms)", ls->uri,
                      r->error, LV_RECONNECT_MIN_MS, LV_RECONNECT_MAX_MS);
        ls->warned_down = true;
        g_free(ls->down_error);
        ls->down_error = g_strdup(r->error);
        ls->state = LV_DOWN;
        schedule_reconnect(ls);
        return;
    }
    ls->state = LV_UP;
    ls->warned_down = false;
    g_clear_pointer(&ls->down_error, g_free);
    ls->backoff_ms = LV_RECONNECT_MIN_MS;
    if (r->no_keepalive)
        g_debug("libvirt: no keepalive on %s: %s", ls->uri, r->no_keepalive);
    if (r->no_close_callback)
        g_warning("libvirt: no close callback on %s: %s", ls->uri, r->no_close_callback);
    if (r->no_metadata_events)
        g_message("libvirt: no metadata-change events on %s: policy read at start only", ls->uri);
    if (r->no_vmem_events)
        g_message("libvirt: no memory-device size events on %s: virtio-mem devices followed by "
                  "reading their XML every %d s",
                  ls->uri, LV_VMEM_READ_MS / 1000);
    g_message("libvirt: connected to %s", ls->uri);
    if (r->list_error)
        g_warning("libvirt: %s", r->list_error);
    else
        apply_list(ls, r->doms, true);
}

static void domain_done(struct lv_source *ls, const struct lv_result *r)
{
    struct vmsource_vm *vm = g_hash_table_lookup(ls->vms, r->call.uuid);
    if (!vm)
        return; /* gone meanwhile */
    const struct vmsource_events *ev = ls->base.events;
    switch (r->call.kind) {
    case LV_CALL_SET:
        /* After a close the manager expects no answer (its backend went down);
         * a virtio-mem replan's balloon step was nobody's to answer. */
        if (ls->state == LV_UP && !r->call.step) {
            /* Without a balloon the answer is the device request's (queued
             * just before: done already), or that nothing can be driven. */
            const char *error = r->error;
            if (r->call.answer_only)
                error = !lv_vmem_drive_active(&vm->vmem)
                            ? "no balloon and no virtio-mem device ballastd can drive"
                            : vm->vmem.request_error;
            ev->vm_set_done(ls->base.events_ctx, vm->cookie, r->call.target_bytes, error);
            /* A target the virtio-mem free net already covers moves
             * neither device and brings no event: the figures follow the
             * plan now (as fleet_qmp.c's on_set_target). */
            if (!error && lv_vmem_drive_active(&vm->vmem))
                emit_balloon(ls, vm);
        } else if (r->error)
            g_message("libvirt: domain %s: balloon step after a virtio-mem move: %s", vm->name,
                      r->error);
        break;
    case LV_CALL_VMEM_SET:
        lv_vmem_drive_request_done(&vm->vmem, r->error);
        break;
    case LV_CALL_XML:
        if (r->error) {
            g_debug("libvirt: domain %s: %s", vm->name, r->error);
            break;
        }
        lv_vmem_drive_xml(&vm->vmem, &r->info);
        emit_balloon(ls, vm);
        break;
    case LV_CALL_STATS: {
        if (r->error) {
            g_debug("libvirt: domain %s: memory stats: %s", vm->name, r->error);
            break;
        }
        struct vmsource_balloon *b = &vm->balloon;
        const struct vmsource_balloon *s = &r->stats;
        int64_t *dst[] = {&b->actual_bytes, &b->guest_total_bytes, &b->guest_available_bytes,
                          &b->guest_free_bytes};
        const int64_t src[] = {s->actual_bytes, s->guest_total_bytes, s->guest_available_bytes,
                               s->guest_free_bytes};
        for (size_t i = 0; i < G_N_ELEMENTS(dst); i++)
            if (src[i] >= 0)
                *dst[i] = src[i];
        if (s->guest_stats_update_s)
            b->guest_stats_update_s = s->guest_stats_update_s;
        if (s->actual_bytes >= 0)
            lv_vmem_drive_balloon(&vm->vmem, (uint64_t)s->actual_bytes);
        emit_balloon(ls, vm);
        break;
    }
    case LV_CALL_METADATA:
        if (r->error)
            g_warning("libvirt: domain %s: %s", vm->name, r->error);
        apply_policy(ls, vm, &r->meta);
        break;
    default:
        break;
    }
}

/* A call came back from the worker (lv_link.result, on the main loop). */
static void on_result(void *owner, const struct lv_result *r)
{
    struct lv_source *ls = owner;
    if (ls->in_flight)
        ls->in_flight--;
    if (ls->stall_warned) {
        ls->stall_warned = false;
        g_message("libvirt: %s answered after %.1f s%s", lv_call_name(r->call.kind),
                  (double)r->took_ms / 1000.0, r->error ? " (with an error)" : "");
    }
    switch (r->call.kind) {
    case LV_CALL_CONNECT:
        ls->lists_pending -= MIN(ls->lists_pending, 1);
        connect_done(ls, r);
        break;
    case LV_CALL_LIST: {
        bool full = ls->list_full;
        ls->list_full = false;
        ls->lists_pending -= MIN(ls->lists_pending, 1);
        if (r->error && ls->state == LV_UP)
            g_warning("libvirt: %s", r->error);
        else if (r->error) /* queued while connecting, and the connect failed */
            g_debug("libvirt: %s", r->error);
        else if (ls->state == LV_UP)
            apply_list(ls, r->doms, full);
        break;
    }
    case LV_CALL_DISCONNECT:
        ls->state = LV_DOWN;
        schedule_reconnect(ls);
        break;
    default:
        domain_done(ls, r);
        break;
    }
}

/* --- libvirt events (dispatched on the main loop, lv_event.h) ------------------------------ */

static const char *const event_names[] = {
    [VIR_DOMAIN_EVENT_DEFINED] = "defined",   [VIR_DOMAIN_EVENT_UNDEFINED] = "undefined",
    [VIR_DOMAIN_EVENT_STARTED] = "started",   [VIR_DOMAIN_EVENT_SUSPENDED] = "suspended",
    [VIR_DOMAIN_EVENT_RESUMED] = "resumed",   [VIR_DOMAIN_EVENT_STOPPED] = "stopped",
    [VIR_DOMAIN_EVENT_SHUTDOWN] = "shutdown", [VIR_DOMAIN_EVENT_PMSUSPENDED] = "pmsuspended",
    [VIR_DOMAIN_EVENT_CRASHED] = "crashed",
};

static const char *stopped_why(int detail)
{
    switch (detail) {
    case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
        return "migrated away";
    case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
        return "crashed";
    case VIR_DOMAIN_EVENT_STOPPED_FAILED:
        return "failed";
    case VIR_DOMAIN_EVENT_STOPPED_SAVED:
        return "saved";
    default:
        return "stopped";
    }
}

/* virDomainGetName and virDomainGetUUIDString read the handle: no RPC here. */
static int on_lifecycle(void *owner, virDomainPtr dom, int event, int detail)
{
    struct lv_source *ls = owner;
    struct vmsource_vm *vm = find_vm(ls, dom);
    const char *ename = (unsigned)event < G_N_ELEMENTS(event_names) && event_names[event]
                            ? event_names[event]
                            : "?";
    g_debug("libvirt: domain %s: %s (detail %d)", virDomainGetName(dom), ename, detail);
    switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
        if (event == VIR_DOMAIN_EVENT_STARTED && detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED)
            g_message("libvirt: domain %s migrated in", virDomainGetName(dom));
        if (!vm) {
            /* Reading the new domain is the worker's (behind the connect's list, if one). */
            if (ls->state == LV_UP || ls->state == LV_CONNECTING)
                queue_list(ls, false);
        } else if (event == VIR_DOMAIN_EVENT_RESUMED) {
            vm->paused = false;
            emit_backend(vm, true);
            schedule_refresh(ls, vm);
        }
        break;
    case VIR_DOMAIN_EVENT_SUSPENDED:
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        /* A paused guest cannot move its balloon: hold the VM, do not drop it. */
        if (vm) {
            vm->paused = true;
            emit_backend(vm, false);
        }
        break;
    case VIR_DOMAIN_EVENT_STOPPED:
    case VIR_DOMAIN_EVENT_UNDEFINED:
        if (vm)
            remove_vm(ls, vm,
                      event == VIR_DOMAIN_EVENT_UNDEFINED ? "undefined" : stopped_why(detail));
        relist_after_event(ls);
        break;
    case VIR_DOMAIN_EVENT_CRASHED:
        /* Guest panic; libvirt's on_crash decides what follows (STOPPED, or it stays). */
        g_warning("libvirt: domain %s crashed (guest panic)", virDomainGetName(dom));
        break;
    default:
        break;
    }
    return 0;
}

static void on_balloon_change(void *owner, virDomainPtr dom, unsigned long long actual_kib)
{
    struct lv_source *ls = owner;
    struct vmsource_vm *vm = find_vm(ls, dom);
    if (!vm)
        return;
    vm->balloon.actual_bytes = (int64_t)actual_kib * 1024;
    lv_vmem_drive_balloon(&vm->vmem, (uint64_t)actual_kib * 1024);
    emit_balloon(ls, vm);
}

/* The guest moved its virtio-mem device (libvirt >= 7.9, at most once a
 * second per device: QEMU throttles the event); libvirt has updated the
 * live XML's <current> already. */
static void on_vmem_size(void *owner, virDomainPtr dom, const char *alias,
                         unsigned long long size_kib)
{
    struct lv_source *ls = owner;
    struct vmsource_vm *vm = find_vm(ls, dom);
    if (vm && lv_vmem_drive_size_change(&vm->vmem, alias, size_kib))
        emit_balloon(ls, vm);
}

static void on_metadata_change(void *owner, virDomainPtr dom, int type, const char *nsuri)
{
    struct lv_source *ls = owner;
    struct vmsource_vm *vm = find_vm(ls, dom);
    if (!vm || type != VIR_DOMAIN_METADATA_ELEMENT || g_strcmp0(nsuri, LV_POLICY_NS_URI) != 0)
        return;
    if (ls->state == LV_UP)
        queue_domain_call(ls, LV_CALL_METADATA, vm->uuid, 0);
}

/* --- connection ---------------------------------------------------------------------------- */

/* libvirtd went away (lv_link.closed): close our end on the worker, then reconnect. */
static void on_closed(void *owner, int reason)
{
    struct lv_source *ls = owner;
    static const char *const reasons[] = {"error", "end of file", "keepalive timeout",
                                          "client closed"};
    if (ls->state != LV_UP && ls->state != LV_CONNECTING)
        return;
    g_warning("libvirt: connection to %s lost (%s); reconnecting", ls->uri,
              (unsigned)reason < G_N_ELEMENTS(reasons) ? reasons[reason] : "?");
    ls->state = LV_CLOSING;
    unsigned dropped = lv_worker_drop_domain_calls(ls->worker);
    ls->in_flight -= MIN(dropped, ls->in_flight);
    queue_call(ls, &(struct lv_call){.kind = LV_CALL_DISCONNECT});
    /* The guests keep running without libvirtd: hold them until the re-list. */
    g_autoptr(GList) list = g_hash_table_get_values(ls->vms);
    for (GList *l = list; l; l = l->next)
        emit_backend(l->data, false);
}

static void start_connect(struct lv_source *ls)
{
    ls->state = LV_CONNECTING;
    queue_call(ls, &(struct lv_call){.kind = LV_CALL_CONNECT});
    ls->lists_pending++; /* a connect brings the list */
}

static gboolean on_reconnect(gpointer data)
{
    struct lv_source *ls = data;
    ls->reconnect_id = 0;
    start_connect(ls);
    return G_SOURCE_REMOVE;
}

static void schedule_reconnect(struct lv_source *ls)
{
    if (ls->reconnect_id)
        return;
    ls->reconnect_id = g_timeout_add(ls->backoff_ms, on_reconnect, ls);
    ls->backoff_ms = MIN(ls->backoff_ms * 2, LV_RECONNECT_MAX_MS);
}

/* --- vmsource ops -------------------------------------------------------------------------- */

static int lv_start(struct vmsource *base, GError **error)
{
    struct lv_source *ls = (struct lv_source *)base;
    lv_event_register();
    struct lv_conn *conn = lv_conn_new(ls->uri, ls->stats_period_s, ls->link);
    ls->worker = lv_worker_new(lv_conn_run, lv_conn_finish, conn, lv_conn_free);
    /* libvirtd not up yet (ballastd started first at boot) is not fatal: it retries. */
    start_connect(ls);
    return 0;
}

/* Queued: the outcome comes as vm_set_done when the worker has made the call.
 * A set still waiting behind a stalled call is replaced by a newer one for
 * the same domain (lv_callq.h); the replaced target gets no vm_set_done. */
static int lv_set_target(struct vmsource *base, struct vmsource_vm *vm, uint64_t target_bytes)
{
    struct lv_source *ls = (struct lv_source *)base;
    if (ls->state != LV_UP)
        return -ENOTCONN;
    if (!lv_vmem_drive_active(&vm->vmem)) {
        /* Without a balloon nothing can carry the target now (the device
         * went away or cannot be driven): answered with an error, in order,
         * so the manager backs off and says it once (set_retry.h). */
        queue_vm_call(ls, vm,
                      (struct lv_call){.kind = LV_CALL_SET,
                                       .target_bytes = target_bytes,
                                       .answer_only = !vm->info.has_balloon});
        return 0;
    }
    /* A driven virtio-mem device: the split (lv_vmem_drive.h), the device's
     * request first, then the balloon's value, whose answer is the set's. */
    struct vmem_drive_cmd cmd;
    uint64_t balloon_bytes = lv_vmem_drive_plan(&vm->vmem, target_bytes, &cmd);
    /* Without a balloon the answer is the request's: a set that sends none
     * (a target the free net covers) must not be answered with the error
     * of an older one. */
    if (!cmd.send_vmem && !vm->info.has_balloon)
        g_clear_pointer(&vm->vmem.request_error, g_free);
    if (cmd.send_vmem)
        queue_vm_call(
            ls, vm,
            (struct lv_call){.kind = LV_CALL_VMEM_SET, .value_bytes = cmd.vmem_requested_bytes});
    queue_vm_call(ls, vm,
                  (struct lv_call){.kind = LV_CALL_SET,
                                   .target_bytes = target_bytes,
                                   .value_bytes = balloon_bytes,
                                   .answer_only = !vm->info.has_balloon});
    return 0;
}

static void lv_refresh(struct vmsource *base, struct vmsource_vm *vm, bool guest_stats)
{
    /* virDomainMemoryStats returns the balloon and the guest figures in one call. */
    schedule_refresh((struct lv_source *)base, vm);
}

static const char *lv_agent_socket_path(struct vmsource *base, struct vmsource_vm *vm)
{
    /* mode='connect' would need ballastd to listen: only bind channels are used. */
    if (!vm->info.has_agent_channel || g_strcmp0(vm->info.agent_source_mode, "bind") != 0)
        return NULL;
    return vm->info.agent_socket_path;
}

static pid_t lv_vm_pid(struct vmsource *base, struct vmsource_vm *vm)
{
    if (vm->pid > 0 && lv_pid_is_guest("/proc", vm->pid, vm->name))
        return vm->pid;
    vm->pid = lv_find_qemu_pid("/proc", vm->name);
    return vm->pid;
}

/* Bounded: a worker stuck in a call is left behind (lv_worker_stop). */
static void stop_worker(struct lv_source *ls)
{
    if (!ls->worker)
        return;
    struct lv_worker_state st;
    lv_worker_state(ls->worker, &st);
    ls->link->owner = NULL; /* results and events from here on are dropped */
    if (!lv_worker_stop(ls->worker, LV_STOP_WAIT_MS))
        g_warning("libvirt: %s still pending after %d ms at exit: its thread is left behind "
                  "(a libvirt call cannot be interrupted; it ends with ballastd)",
                  st.busy ? lv_call_name(st.call.kind) : "a call", LV_STOP_WAIT_MS);
    ls->worker = NULL;
}

static void lv_free(struct vmsource *base)
{
    struct lv_source *ls = (struct lv_source *)base;
    guint *ids[] = {&ls->reconnect_id, &ls->stall_check_id};
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++)
        if (*ids[i])
            g_source_remove(*ids[i]);
    stop_worker(ls);
    ls->link->owner = NULL;
    lv_link_unref(ls->link);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, ls->vms);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_hash_table_iter_steal(&it);
        vm_free(value);
    }
    g_hash_table_unref(ls->vms);
    g_hash_table_unref(ls->unmanaged);
    g_free(ls->down_error);
    g_free(ls->uri);
    g_free(ls);
}

static const struct vmsource_ops libvirt_ops = {
    .kind = "libvirt",
    .start = lv_start,
    .rescan = lv_rescan,
    .set_target = lv_set_target,
    .refresh = lv_refresh,
    /* virDomainMemoryStats brings the guest stats; the balloon event does not. */
    .refresh_each_tick = true,
    .agent_socket_path = lv_agent_socket_path,
    .vm_pid = lv_vm_pid,
    .free = lv_free,
};

struct vmsource *vmsource_libvirt_new(const struct vmsource_libvirt_options *opts,
                                      const struct vmsource_events *events, void *events_ctx)
{
    struct lv_source *ls = g_new0(struct lv_source, 1);
    ls->base.ops = &libvirt_ops;
    ls->base.events = events;
    ls->base.events_ctx = events_ctx;
    ls->uri = g_strdup(opts && opts->uri ? opts->uri : LV_DEFAULT_URI);
    ls->stats_period_s =
        opts && opts->stats_period_s ? opts->stats_period_s : LV_DEFAULT_STATS_PERIOD_S;
    ls->policy_changed = opts ? opts->policy_changed : NULL;
    ls->vmem_peak_hold_ms =
        opts && opts->vmem_peak_hold_given ? opts->vmem_peak_hold_ms : VMEM_DRIVE_PEAK_MS;
    ls->backoff_ms = LV_RECONNECT_MIN_MS;
    ls->vms = g_hash_table_new(g_str_hash, g_str_equal);
    ls->unmanaged = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ls->link = g_new0(struct lv_link, 1);
    *ls->link = (struct lv_link){
        .refs = 1,
        .owner = ls,
        .result = on_result,
        .closed = on_closed,
        .lifecycle = on_lifecycle,
        .balloon = on_balloon_change,
        .metadata = on_metadata_change,
        .vmem_size = on_vmem_size,
    };
    virSetErrorFunc(NULL, quiet_errors);
    return &ls->base;
}

const struct lv_policy *vmsource_libvirt_vm_policy(struct vmsource *src, struct vmsource_vm *vm)
{
    return &vm->policy;
}

const char *vmsource_libvirt_vm_machine(struct vmsource *src, struct vmsource_vm *vm)
{
    return vm->info.machine;
}

void vmsource_libvirt_reread_policies(struct vmsource *src)
{
    struct lv_source *ls = (struct lv_source *)src;
    if (ls->state != LV_UP)
        return; /* the list after the reconnect reads them */
    g_autoptr(GList) list = g_hash_table_get_values(ls->vms);
    for (GList *l = list; l; l = l->next)
        queue_domain_call(ls, LV_CALL_METADATA, ((struct vmsource_vm *)l->data)->uuid, 0);
}

bool vmsource_libvirt_connected(struct vmsource *src)
{
    return ((struct lv_source *)src)->state == LV_UP;
}

bool vmsource_libvirt_describe(struct vmsource *src, char *buf, size_t len)
{
    struct lv_source *ls = (struct lv_source *)src;
    struct lv_worker_state st = {0};
    if (ls->worker)
        lv_worker_state(ls->worker, &st);
    int64_t pending_s =
        st.busy ? lv_call_stalled_s(st.since_us, g_get_monotonic_time(), LV_CALL_STALL_MS) : 0;
    if (pending_s) {
        g_snprintf(buf, len, "stalled: call %s pending for %" G_GINT64_FORMAT " s (%s), %u waiting",
                   lv_call_name(st.call.kind), pending_s, ls->uri, st.queued);
        return true;
    }
    static const char *const states[] = {"down", "connecting", "connected", "disconnecting"};
    if (ls->state == LV_DOWN && ls->down_error)
        g_snprintf(buf, len, "down: %s (%s); retrying", ls->down_error, ls->uri);
    else
        g_snprintf(buf, len, "%s (%s)", states[ls->state], ls->uri);
    return false;
}
