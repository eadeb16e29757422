/*
 * libvirt VM source; see vmsource_libvirt.h for what maps to what.
 *
 * Ownership: the source holds one virConnectPtr and one virDomainPtr per
 * VM. When the connection dies (libvirtd restarted or killed), the close
 * callback only schedules the teardown: libvirt forbids closing a
 * connection from inside its own callback. Domain handles belong to the
 * connection that made them, so after a reconnect every VM gets a fresh
 * one, looked up by UUID during the re-list.
 */
#include "vmsource_libvirt.h"

#include "lv_event.h"
#include "lv_pid.h"
#include "lv_xml.h"

#include <errno.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

struct vmsource_vm {
    struct lv_source *src;
    char *uuid; /* key in src->vms */
    char *name;
    virDomainPtr dom; /* NULL while disconnected */
    void *cookie;
    struct lv_domain_info info;
    struct lv_policy policy;
    bool seen;       /* mark and sweep during a re-list */
    bool backend_up; /* last vm_backend state reported */
    bool paused;
    bool refresh_pending;
    pid_t pid;
    /* Last figures of each kind: a balloon-change event carries only actual,
     * a stats read may lack the guest figures (microvm); neither erases the other. */
    struct vmsource_balloon balloon;
};

struct lv_source {
    struct vmsource base;
    char *uri;
    unsigned stats_period_s;
    void (*policy_changed)(void *ctx, void *cookie, const struct lv_policy *policy);

    virConnectPtr conn;
    int cb_lifecycle, cb_balloon, cb_metadata; /* -1 when not registered */
    GHashTable *vms;                           /* uuid -> struct vmsource_vm * */
    guint reconnect_id;
    guint teardown_id;
    guint refresh_id;
    unsigned backoff_ms;
    bool warned_down; /* "cannot connect" said once per outage */
};

G_STATIC_ASSERT(LV_KEEPALIVE_INTERVAL_S * 1000 * (LV_KEEPALIVE_COUNT + 1) <= LV_CALL_STALL_MAX_MS);

static const char *last_error(void)
{
    const char *msg = virGetLastErrorMessage();
    return msg ? msg : "unknown libvirt error";
}

/* libvirt prints every error on stderr by default; ballast logs its own, once. */
static void quiet_errors(void *ctx, virErrorPtr err)
{
}

static void emit_backend(struct vmsource_vm *vm, bool up)
{
    if (vm->backend_up == up)
        return;
    vm->backend_up = up;
    vm->src->base.events->vm_backend(vm->src->base.events_ctx, vm->cookie, up);
}

static void vm_free(struct vmsource_vm *vm)
{
    if (vm->dom)
        virDomainFree(vm->dom);
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
    if (virDomainGetUUIDString(dom, uuid) < 0)
        return NULL;
    return g_hash_table_lookup(ls->vms, uuid);
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

/* METADATA_CHANGE: read our element again (it may have been removed). */
static void reread_policy(struct lv_source *ls, struct vmsource_vm *vm)
{
    struct lv_domain_info info = {0};
    g_autofree char *xml = virDomainGetMetadata(vm->dom, VIR_DOMAIN_METADATA_ELEMENT,
                                                LV_POLICY_NS_URI, VIR_DOMAIN_AFFECT_LIVE);
    g_autoptr(GError) error = NULL;
    if (!xml) {
        virErrorPtr err = virGetLastError();
        if (!err || err->code != VIR_ERR_NO_DOMAIN_METADATA)
            g_warning("libvirt: domain %s: reading metadata: %s", vm->name, last_error());
        info.policy_keys = g_ptr_array_new_with_free_func(g_free);
        info.policy_values = g_ptr_array_new_with_free_func(g_free);
        info.policy_errors = g_ptr_array_new_with_free_func(g_free);
    } else if (lv_policy_xml_parse(xml, -1, &info, &error) < 0) {
        g_warning("libvirt: domain %s: metadata: %s", vm->name, error->message);
        info.policy_keys = g_ptr_array_new_with_free_func(g_free);
        info.policy_values = g_ptr_array_new_with_free_func(g_free);
        info.policy_errors = g_ptr_array_new_with_free_func(g_free);
        info.has_policy = true;
        g_ptr_array_add(info.policy_errors, g_strdup_printf("malformed XML: %s", error->message));
    }
    apply_policy(ls, vm, &info);
    lv_domain_info_clear(&info);
}

/* --- balloon figures ----------------------------------------------------------------------- */

static void read_stats(struct lv_source *ls, struct vmsource_vm *vm)
{
    virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
    int n = virDomainMemoryStats(vm->dom, stats, VIR_DOMAIN_MEMORY_STAT_NR, 0);
    if (n < 0) {
        g_debug("libvirt: domain %s: memory stats: %s", vm->name, last_error());
        return;
    }
    struct vmsource_balloon *b = &vm->balloon;
    /* libvirt gives KiB for every memory figure. */
    for (int i = 0; i < n; i++) {
        int64_t kib = (int64_t)stats[i].val;
        switch (stats[i].tag) {
        case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON:
            b->actual_bytes = kib * 1024;
            break;
        case VIR_DOMAIN_MEMORY_STAT_AVAILABLE: /* guest MemTotal */
            b->guest_total_bytes = kib * 1024;
            break;
        case VIR_DOMAIN_MEMORY_STAT_USABLE: /* guest MemAvailable */
            b->guest_available_bytes = kib * 1024;
            break;
        case VIR_DOMAIN_MEMORY_STAT_UNUSED: /* guest MemFree */
            b->guest_free_bytes = kib * 1024;
            break;
        case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE:
            b->guest_stats_update_s = (int64_t)stats[i].val;
            break;
        default:
            break;
        }
    }
    ls->base.events->vm_balloon(ls->base.events_ctx, vm->cookie, b);
}

/* Refreshes run from an idle, never inside the caller's own call. */
static gboolean on_refresh_idle(gpointer data)
{
    struct lv_source *ls = data;
    ls->refresh_id = 0;
    g_autoptr(GList) list = g_hash_table_get_values(ls->vms);
    for (GList *l = list; l; l = l->next) {
        struct vmsource_vm *vm = l->data;
        if (!vm->refresh_pending)
            continue;
        vm->refresh_pending = false;
        if (vm->dom && !vm->paused)
            read_stats(ls, vm);
    }
    return G_SOURCE_REMOVE;
}

static void schedule_refresh(struct lv_source *ls, struct vmsource_vm *vm)
{
    vm->refresh_pending = true;
    if (!ls->refresh_id)
        ls->refresh_id = g_idle_add(on_refresh_idle, ls);
}

/* --- discovery ----------------------------------------------------------------------------- */

static void try_add(struct lv_source *ls, virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    const char *name = virDomainGetName(dom);
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    if (!xml) {
        g_warning("libvirt: domain %s: XML: %s", name, last_error());
        return;
    }
    struct lv_domain_info info;
    g_autoptr(GError) error = NULL;
    if (lv_domain_info_parse(xml, -1, &info, &error) < 0) {
        g_warning("libvirt: domain %s: unreadable XML: %s", name, error->message);
        return;
    }
    if (!info.has_balloon) {
        g_message("libvirt: domain %s has no virtio memballoon (model %s): not managed", name,
                  info.balloon_model ? info.balloon_model : "absent");
        lv_domain_info_clear(&info);
        return;
    }
    struct vmsource_vm *vm = g_new0(struct vmsource_vm, 1);
    vm->src = ls;
    vm->uuid = g_strdup(uuid);
    vm->name = g_strdup(name);
    vm->dom = dom;
    virDomainRef(dom);
    vm->info = info;
    vm->balloon = (struct vmsource_balloon){
        .nominal_bytes = info.memory_bytes ? (int64_t)info.memory_bytes : -1,
        .actual_bytes = -1,
        .guest_total_bytes = -1,
        .guest_available_bytes = -1,
        .guest_free_bytes = -1,
        .guest_stats_update_s = 0,
        .deflate_on_oom = info.autodeflate ? 1 : 0, /* <memballoon autodeflate='on'> */
    };
    int state = VIR_DOMAIN_NOSTATE;
    if (virDomainGetState(dom, &state, NULL, 0) == 0)
        vm->paused = state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_PMSUSPENDED;
    vm->pid = lv_find_qemu_pid("/proc", name);
    g_hash_table_insert(ls->vms, vm->uuid, vm);
    vm->seen = true;

    g_message("libvirt: domain %s (%s, %s, %s) managed; agent channel %s", name,
              info.domain_type ? info.domain_type : "?", info.machine ? info.machine : "?",
              info.free_page_reporting ? "free page reporting" : "no free page reporting",
              info.agent_socket_path ? info.agent_socket_path : "none");
    vm->cookie = ls->base.events->vm_added(ls->base.events_ctx, vm, name);

    /* Guest figures need a stats period; never lower one the admin chose. */
    if (info.stats_period_s == 0 && ls->stats_period_s) {
        if (virDomainSetMemoryStatsPeriod(dom, (int)ls->stats_period_s, VIR_DOMAIN_AFFECT_LIVE) < 0)
            g_message("libvirt: domain %s: cannot set a balloon stats period (%s): guest figures "
                      "only from the agent",
                      name, last_error());
        else
            vm->info.stats_period_s = ls->stats_period_s;
    }
    apply_policy(ls, vm, &vm->info);
    emit_backend(vm, !vm->paused);
    schedule_refresh(ls, vm);
}

static void relist(struct lv_source *ls)
{
    if (!ls->conn)
        return;
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(ls->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        g_warning("libvirt: listing domains: %s", last_error());
        return;
    }
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, ls->vms);
    while (g_hash_table_iter_next(&it, &key, &value))
        ((struct vmsource_vm *)value)->seen = false;

    for (int i = 0; i < n; i++) {
        struct vmsource_vm *vm = find_vm(ls, doms[i]);
        if (!vm) {
            try_add(ls, doms[i]);
        } else {
            vm->seen = true;
            if (vm->dom != doms[i]) {
                if (vm->dom)
                    virDomainFree(vm->dom);
                vm->dom = doms[i];
                virDomainRef(doms[i]);
            }
            int state = VIR_DOMAIN_NOSTATE;
            if (virDomainGetState(vm->dom, &state, NULL, 0) == 0)
                vm->paused = state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_PMSUSPENDED;
            emit_backend(vm, !vm->paused);
            /* The metadata may have changed while we were away. */
            reread_policy(ls, vm);
            schedule_refresh(ls, vm);
        }
        virDomainFree(doms[i]);
    }
    free(doms);

    g_autoptr(GList) list = g_hash_table_get_values(ls->vms);
    for (GList *l = list; l; l = l->next) {
        struct vmsource_vm *vm = l->data;
        if (!vm->seen)
            remove_vm(ls, vm, "not running any more");
    }
}

static void lv_rescan(struct vmsource *base)
{
    relist((struct lv_source *)base);
}

/* --- libvirt events ------------------------------------------------------------------------ */

static const char *const event_names[] = {
    [VIR_DOMAIN_EVENT_DEFINED] = "defined",   [VIR_DOMAIN_EVENT_UNDEFINED] = "undefined",
    [VIR_DOMAIN_EVENT_STARTED] = "started",   [VIR_DOMAIN_EVENT_SUSPENDED] = "suspended",
    [VIR_DOMAIN_EVENT_RESUMED] = "resumed",   [VIR_DOMAIN_EVENT_STOPPED] = "stopped",
    [VIR_DOMAIN_EVENT_SHUTDOWN] = "shutdown", [VIR_DOMAIN_EVENT_PMSUSPENDED] = "pmsuspended",
    [VIR_DOMAIN_EVENT_CRASHED] = "crashed",
};

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct lv_source *ls = opaque;
    struct vmsource_vm *vm = find_vm(ls, dom);
    const char *ename = (unsigned)event < G_N_ELEMENTS(event_names) && event_names[event]
                            ? event_names[event]
                            : "?";
    g_debug("libvirt: domain %s: %s (detail %d)", virDomainGetName(dom), ename, detail);
    switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
        if (detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED)
            g_message("libvirt: domain %s migrated in", virDomainGetName(dom));
        if (!vm)
            try_add(ls, dom);
        break;
    case VIR_DOMAIN_EVENT_RESUMED:
        if (!vm) {
            try_add(ls, dom);
        } else {
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
        if (vm)
            remove_vm(ls, vm,
                      detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED  ? "migrated away"
                      : detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? "crashed"
                      : detail == VIR_DOMAIN_EVENT_STOPPED_FAILED  ? "failed"
                      : detail == VIR_DOMAIN_EVENT_STOPPED_SAVED   ? "saved"
                                                                   : "stopped");
        break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
        if (vm)
            remove_vm(ls, vm, "undefined");
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

static int on_balloon_change(virConnectPtr conn, virDomainPtr dom, unsigned long long actual_kib,
                             void *opaque)
{
    struct lv_source *ls = opaque;
    struct vmsource_vm *vm = find_vm(ls, dom);
    if (!vm)
        return 0;
    vm->balloon.actual_bytes = (int64_t)actual_kib * 1024;
    ls->base.events->vm_balloon(ls->base.events_ctx, vm->cookie, &vm->balloon);
    return 0;
}

static int on_metadata_change(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                              void *opaque)
{
    struct lv_source *ls = opaque;
    struct vmsource_vm *vm = find_vm(ls, dom);
    if (!vm || type != VIR_DOMAIN_METADATA_ELEMENT || g_strcmp0(nsuri, LV_POLICY_NS_URI) != 0)
        return 0;
    reread_policy(ls, vm);
    return 0;
}

/* --- connection ---------------------------------------------------------------------------- */

static void schedule_reconnect(struct lv_source *ls);
static void on_close(virConnectPtr conn, int reason, void *opaque);

static void disconnect(struct lv_source *ls)
{
    if (!ls->conn)
        return;
    if (ls->cb_lifecycle >= 0)
        virConnectDomainEventDeregisterAny(ls->conn, ls->cb_lifecycle);
    if (ls->cb_balloon >= 0)
        virConnectDomainEventDeregisterAny(ls->conn, ls->cb_balloon);
    if (ls->cb_metadata >= 0)
        virConnectDomainEventDeregisterAny(ls->conn, ls->cb_metadata);
    ls->cb_lifecycle = ls->cb_balloon = ls->cb_metadata = -1;
    virConnectUnregisterCloseCallback(ls->conn, on_close);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, ls->vms);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct vmsource_vm *vm = value;
        if (vm->dom) {
            virDomainFree(vm->dom);
            vm->dom = NULL;
        }
    }
    virConnectClose(ls->conn);
    ls->conn = NULL;
}

static gboolean on_teardown(gpointer data)
{
    struct lv_source *ls = data;
    ls->teardown_id = 0;
    disconnect(ls);
    /* The guests keep running without libvirtd: hold them until the re-list. */
    g_autoptr(GList) list = g_hash_table_get_values(ls->vms);
    for (GList *l = list; l; l = l->next)
        emit_backend(l->data, false);
    schedule_reconnect(ls);
    return G_SOURCE_REMOVE;
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
    struct lv_source *ls = opaque;
    static const char *const reasons[] = {"error", "end of file", "keepalive timeout",
                                          "client closed"};
    g_warning("libvirt: connection to %s lost (%s); reconnecting", ls->uri,
              (unsigned)reason < G_N_ELEMENTS(reasons) ? reasons[reason] : "?");
    if (!ls->teardown_id)
        ls->teardown_id = g_idle_add(on_teardown, ls);
}

static int try_connect(struct lv_source *ls)
{
    virConnectPtr conn = virConnectOpen(ls->uri);
    if (!conn) {
        if (!ls->warned_down)
            g_warning("libvirt: cannot connect to %s: %s (retrying every %u..%u ms)", ls->uri,
                      last_error(), LV_RECONNECT_MIN_MS, LV_RECONNECT_MAX_MS);
        ls->warned_down = true;
        return -ECONNREFUSED;
    }
    ls->conn = conn;
    ls->warned_down = false;
    if (virConnectSetKeepAlive(conn, LV_KEEPALIVE_INTERVAL_S, LV_KEEPALIVE_COUNT) < 0)
        g_debug("libvirt: no keepalive on %s: %s", ls->uri, last_error());
    if (virConnectRegisterCloseCallback(conn, on_close, ls, NULL) < 0)
        g_warning("libvirt: no close callback on %s: %s", ls->uri, last_error());
    ls->cb_lifecycle =
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), ls, NULL);
    ls->cb_balloon =
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_balloon_change), ls, NULL);
    ls->cb_metadata =
        virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_metadata_change), ls, NULL);
    if (ls->cb_lifecycle < 0) {
        /* Without lifecycle events the source would have to poll: refuse. */
        g_warning("libvirt: cannot watch domain events on %s: %s", ls->uri, last_error());
        disconnect(ls);
        return -EIO;
    }
    if (ls->cb_metadata < 0)
        g_message("libvirt: no metadata-change events on %s: policy read at start only", ls->uri);
    g_message("libvirt: connected to %s", ls->uri);
    ls->backoff_ms = LV_RECONNECT_MIN_MS;
    relist(ls);
    return 0;
}

static gboolean on_reconnect(gpointer data)
{
    struct lv_source *ls = data;
    ls->reconnect_id = 0;
    if (try_connect(ls) < 0)
        schedule_reconnect(ls);
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
    /* libvirtd not up yet (ballastd started first at boot) is not fatal: retry. */
    if (try_connect(ls) < 0)
        schedule_reconnect(ls);
    return 0;
}

/* Synchronous: the outcome goes to the manager (vm_set_done) before this
 * returns; the manager logs a failure, rolls it back and retries
 * (host/policy/set_retry.h). */
static int lv_set_target(struct vmsource *base, struct vmsource_vm *vm, uint64_t target_bytes)
{
    if (!vm->dom)
        return -ENOTCONN;
    const struct vmsource_events *ev = base->events;
    unsigned long kib = (unsigned long)(target_bytes / 1024);
    if (virDomainSetMemoryFlags(vm->dom, kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
        g_autofree char *why = g_strdup_printf("set memory %lu KiB: %s", kib, last_error());
        ev->vm_set_done(base->events_ctx, vm->cookie, target_bytes, why);
        return 0;
    }
    ev->vm_set_done(base->events_ctx, vm->cookie, target_bytes, NULL);
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

static void lv_free(struct vmsource *base)
{
    struct lv_source *ls = (struct lv_source *)base;
    if (ls->reconnect_id)
        g_source_remove(ls->reconnect_id);
    if (ls->teardown_id)
        g_source_remove(ls->teardown_id);
    if (ls->refresh_id)
        g_source_remove(ls->refresh_id);
    disconnect(ls);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, ls->vms);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_hash_table_iter_steal(&it);
        vm_free(value);
    }
    g_hash_table_unref(ls->vms);
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
    ls->cb_lifecycle = ls->cb_balloon = ls->cb_metadata = -1;
    ls->backoff_ms = LV_RECONNECT_MIN_MS;
    ls->vms = g_hash_table_new(g_str_hash, g_str_equal);
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
    g_autoptr(GList) list = g_hash_table_get_values(ls->vms);
    for (GList *l = list; l; l = l->next) {
        struct vmsource_vm *vm = l->data;
        if (vm->dom)
            reread_policy(ls, vm);
    }
}

bool vmsource_libvirt_connected(struct vmsource *src)
{
    return ((struct lv_source *)src)->conn != NULL;
}
