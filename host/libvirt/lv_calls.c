/*
 * lv_calls.c — the libvirt source's calls on the worker thread; see
 * lv_calls.h.
 *
 * Ownership: the worker holds one virConnectPtr and one virDomainPtr per
 * running domain (by UUID, refreshed by every list). When the connection
 * dies, the close callback only posts a notice: libvirt forbids closing a
 * connection from inside its own callback, and the main loop decides (it
 * queues LV_CALL_DISCONNECT, then a new connect). Domain handles belong to
 * the connection that made them, so a disconnect drops them all.
 */
#include "lv_calls.h"

#include "vmsource_libvirt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

G_STATIC_ASSERT(LV_UUID_BUFLEN == VIR_UUID_STRING_BUFLEN);

struct lv_conn {
    char *uri;
    unsigned stats_period_s;
    struct lv_link *link;
    virConnectPtr conn;
    int cb_lifecycle, cb_balloon, cb_metadata, cb_vmem; /* -1 when not registered */
    bool close_cb;
    GHashTable *doms; /* uuid -> virDomainPtr (a reference of ours) */
};

const char *lv_last_error(void)
{
    const char *msg = virGetLastErrorMessage();
    return msg ? msg : "unknown libvirt error";
}

struct lv_link *lv_link_ref(struct lv_link *link)
{
    g_atomic_int_inc(&link->refs);
    return link;
}

void lv_link_unref(void *data)
{
    struct lv_link *link = data;
    if (g_atomic_int_dec_and_test(&link->refs))
        g_free(link);
}

/* --- results to the main loop -------------------------------------------------------------- */

static void snapshot_free(gpointer data)
{
    struct lv_dom_snapshot *s = data;
    g_free(s->name);
    lv_domain_info_clear(&s->info);
    g_free(s->error);
    g_free(s->stats_period_error);
    g_free(s);
}

struct posted {
    struct lv_link *link;
    struct lv_result r;
};

static gboolean deliver(gpointer data)
{
    struct posted *p = data;
    if (p->link->owner)
        p->link->result(p->link->owner, &p->r);
    g_free(p->r.error);
    g_free(p->r.list_error);
    g_free(p->r.no_keepalive);
    g_free(p->r.no_close_callback);
    if (p->r.doms)
        g_ptr_array_unref(p->r.doms);
    lv_domain_info_clear(&p->r.meta);
    lv_domain_info_clear(&p->r.info);
    lv_link_unref(p->link);
    g_free(p);
    return G_SOURCE_REMOVE;
}

static struct posted *posted_new(const struct lv_call *call)
{
    struct posted *p = g_new0(struct posted, 1);
    p->r.call = *call;
    p->r.stats = vmsource_balloon_unknown();
    return p;
}

/* In call order: idles of one priority run first in, first out. */
static void post(struct lv_conn *c, struct posted *p, int64_t started_us)
{
    p->link = lv_link_ref(c->link);
    p->r.took_ms = (g_get_monotonic_time() - started_us) / 1000;
    g_idle_add_full(G_PRIORITY_DEFAULT, deliver, p, NULL);
}

/* --- events: dispatched on the main loop (lv_event.h) --------------------------------------- */

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct lv_link *l = opaque;
    return l->owner ? l->lifecycle(l->owner, dom, event, detail) : 0;
}

static int on_balloon_change(virConnectPtr conn, virDomainPtr dom, unsigned long long actual_kib,
                             void *opaque)
{
    struct lv_link *l = opaque;
    if (l->owner)
        l->balloon(l->owner, dom, actual_kib);
    return 0;
}

static int on_metadata_change(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                              void *opaque)
{
    struct lv_link *l = opaque;
    if (l->owner)
        l->metadata(l->owner, dom, type, nsuri);
    return 0;
}

#if LIBVIR_CHECK_VERSION(7, 9, 0)
/* VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE is an enum value, not a
 * macro: the libvirt version it came with guards it. */
#define LV_HAVE_VMEM_EVENT 1
static void on_vmem_size(virConnectPtr conn, virDomainPtr dom, const char *alias,
                         unsigned long long size_kib, void *opaque)
{
    struct lv_link *l = opaque;
    if (l->owner)
        l->vmem_size(l->owner, dom, alias, size_kib);
}
#endif

struct closed_notice {
    struct lv_link *link;
    int reason;
};

static gboolean deliver_closed(gpointer data)
{
    struct closed_notice *n = data;
    if (n->link->owner)
        n->link->closed(n->link->owner, n->reason);
    lv_link_unref(n->link);
    g_free(n);
    return G_SOURCE_REMOVE;
}

/* Any thread (keepalive on the main loop, a failed call on the worker): post only. */
static void on_close(virConnectPtr conn, int reason, void *opaque)
{
    struct closed_notice *n = g_new0(struct closed_notice, 1);
    n->link = lv_link_ref(opaque);
    n->reason = reason;
    g_idle_add_full(G_PRIORITY_DEFAULT, deliver_closed, n, NULL);
}

/* --- connection ---------------------------------------------------------------------------- */

static void disconnect(struct lv_conn *c)
{
    if (!c->conn)
        return;
    int *ids[] = {&c->cb_lifecycle, &c->cb_balloon, &c->cb_metadata, &c->cb_vmem};
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++) {
        if (*ids[i] >= 0)
            virConnectDomainEventDeregisterAny(c->conn, *ids[i]);
        *ids[i] = -1;
    }
    if (c->close_cb)
        virConnectUnregisterCloseCallback(c->conn, on_close);
    c->close_cb = false;
    g_hash_table_remove_all(c->doms);
    virConnectClose(c->conn);
    c->conn = NULL;
}

static int register_events(struct lv_conn *c, struct posted *p)
{
    /* No logging on this thread: what goes wrong is said by the main loop. */
    if (virConnectSetKeepAlive(c->conn, LV_KEEPALIVE_INTERVAL_S, LV_KEEPALIVE_COUNT) < 0)
        p->r.no_keepalive = g_strdup(lv_last_error());
    if (virConnectRegisterCloseCallback(c->conn, on_close, lv_link_ref(c->link), lv_link_unref) <
        0) {
        lv_link_unref(c->link);
        p->r.no_close_callback = g_strdup(lv_last_error());
    } else {
        c->close_cb = true;
    }
    c->cb_lifecycle = virConnectDomainEventRegisterAny(c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                       VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
                                                       lv_link_ref(c->link), lv_link_unref);
    if (c->cb_lifecycle < 0) {
        /* Without lifecycle events the source would have to poll: refuse. */
        lv_link_unref(c->link);
        p->r.error = g_strdup_printf("cannot watch domain events: %s", lv_last_error());
        return -EIO;
    }
    c->cb_balloon = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
        VIR_DOMAIN_EVENT_CALLBACK(on_balloon_change), lv_link_ref(c->link), lv_link_unref);
    if (c->cb_balloon < 0)
        lv_link_unref(c->link);
    c->cb_metadata = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
        VIR_DOMAIN_EVENT_CALLBACK(on_metadata_change), lv_link_ref(c->link), lv_link_unref);
    if (c->cb_metadata < 0) {
        lv_link_unref(c->link);
        p->r.no_metadata_events = true;
    }
    /* Without it (libvirt or libvirtd before 7.9) a virtio-mem device is
     * followed by reading the live XML again (LV_VMEM_READ_MS). */
    p->r.no_vmem_events = true;
#ifdef LV_HAVE_VMEM_EVENT
    c->cb_vmem = virConnectDomainEventRegisterAny(
        c->conn, NULL, VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
        VIR_DOMAIN_EVENT_CALLBACK(on_vmem_size), lv_link_ref(c->link), lv_link_unref);
    if (c->cb_vmem < 0)
        lv_link_unref(c->link);
    else
        p->r.no_vmem_events = false;
#endif
    return 0;
}

/* --- domains ------------------------------------------------------------------------------- */

static void dom_unref(gpointer dom)
{
    virDomainFree(dom);
}

/* The worker's handle of the domain, looked up when a list has not seen it. */
static virDomainPtr dom_of(struct lv_conn *c, const char *uuid)
{
    virDomainPtr dom = g_hash_table_lookup(c->doms, uuid);
    if (dom || !c->conn)
        return dom;
    dom = virDomainLookupByUUIDString(c->conn, uuid);
    if (dom)
        g_hash_table_insert(c->doms, g_strdup(uuid), dom);
    return dom;
}

static bool state_paused(virDomainPtr dom)
{
    int state = VIR_DOMAIN_NOSTATE;
    if (virDomainGetState(dom, &state, NULL, 0) < 0)
        return false;
    return state == VIR_DOMAIN_PAUSED || state == VIR_DOMAIN_PMSUSPENDED;
}

static struct lv_dom_snapshot *snapshot(struct lv_conn *c, virDomainPtr dom)
{
    struct lv_dom_snapshot *s = g_new0(struct lv_dom_snapshot, 1);
    if (virDomainGetUUIDString(dom, s->uuid) < 0) {
        snapshot_free(s);
        return NULL;
    }
    s->name = g_strdup(virDomainGetName(dom));
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GError) error = NULL;
    if (!xml)
        s->error = g_strdup_printf("XML: %s", lv_last_error());
    else if (lv_domain_info_parse(xml, -1, &s->info, &error) < 0)
        s->error = g_strdup_printf("unreadable XML: %s", error->message);
    else
        s->info_valid = true;
    s->paused = state_paused(dom);
    /* Guest figures need a stats period; never lower one the admin chose. */
    if (s->info_valid && s->info.has_balloon && s->info.stats_period_s == 0 && c->stats_period_s) {
        if (virDomainSetMemoryStatsPeriod(dom, (int)c->stats_period_s, VIR_DOMAIN_AFFECT_LIVE) < 0)
            s->stats_period_error = g_strdup(lv_last_error());
        else
            s->stats_period_set_s = c->stats_period_s;
    }
    return s;
}

/* Every running domain, with fresh handles in c->doms. */
static void list(struct lv_conn *c, struct posted *p, char **error)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        *error = g_strdup_printf("listing domains: %s", lv_last_error());
        return;
    }
    g_hash_table_remove_all(c->doms);
    p->r.doms = g_ptr_array_new_with_free_func(snapshot_free);
    for (int i = 0; i < n; i++) {
        struct lv_dom_snapshot *s = snapshot(c, doms[i]);
        if (s) {
            g_ptr_array_add(p->r.doms, s);
            g_hash_table_replace(c->doms, g_strdup(s->uuid), doms[i]); /* our reference */
        } else {
            virDomainFree(doms[i]);
        }
    }
    free(doms);
}

static void call_connect(struct lv_conn *c, struct posted *p)
{
    if (!c->conn) {
        c->conn = virConnectOpen(c->uri);
        if (!c->conn) {
            p->r.error = g_strdup(lv_last_error());
            return;
        }
        if (register_events(c, p) < 0) {
            disconnect(c);
            return;
        }
    }
    list(c, p, &p->r.list_error);
}

/* The policy element alone (METADATA_CHANGE; it may have been removed). */
static void call_metadata(struct lv_conn *c, virDomainPtr dom, struct posted *p)
{
    struct lv_domain_info *info = &p->r.meta;
    g_autofree char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, LV_POLICY_NS_URI,
                                                VIR_DOMAIN_AFFECT_LIVE);
    g_autoptr(GError) error = NULL;
    if (!xml) {
        virErrorPtr err = virGetLastError();
        if (!err || err->code != VIR_ERR_NO_DOMAIN_METADATA)
            p->r.error = g_strdup_printf("reading metadata: %s", lv_last_error());
        info->policy_keys = g_ptr_array_new_with_free_func(g_free);
        info->policy_values = g_ptr_array_new_with_free_func(g_free);
        info->policy_errors = g_ptr_array_new_with_free_func(g_free);
    } else if (lv_policy_xml_parse(xml, -1, info, &error) < 0) {
        info->policy_keys = g_ptr_array_new_with_free_func(g_free);
        info->policy_values = g_ptr_array_new_with_free_func(g_free);
        info->policy_errors = g_ptr_array_new_with_free_func(g_free);
        info->has_policy = true;
        g_ptr_array_add(info->policy_errors, g_strdup_printf("malformed XML: %s", error->message));
    }
}

static void call_stats(virDomainPtr dom, struct posted *p)
{
    virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
    int n = virDomainMemoryStats(dom, stats, VIR_DOMAIN_MEMORY_STAT_NR, 0);
    if (n < 0) {
        p->r.error = g_strdup(lv_last_error());
        return;
    }
    struct vmsource_balloon *b = &p->r.stats;
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
}

/* The live XML, parsed into *info (cleared by the caller); *error when not. */
static void read_xml(virDomainPtr dom, struct lv_domain_info *info, char **error)
{
    g_autofree char *xml = virDomainGetXMLDesc(dom, 0);
    g_autoptr(GError) err = NULL;
    if (!xml)
        *error = g_strdup_printf("XML: %s", lv_last_error());
    else if (lv_domain_info_parse(xml, -1, info, &err) < 0)
        *error = g_strdup_printf("unreadable XML: %s", err->message);
}

/*
 * The device's requested size, as `virsh update-memory-device --live` asks
 * for it: the element read from the live XML just now, with only
 * <requested> changed (lv_vmem_update_xml, whose gate refuses a size over
 * the device or not whole blocks before libvirt sees it), given to
 * virDomainUpdateDeviceFlags(AFFECT_LIVE). libvirt finds the device by the
 * rest of the element and sets QEMU's requested-size. Read afresh rather
 * than kept from the last read: the element libvirt compares is the one it
 * prints now.
 */
static void call_vmem_set(virDomainPtr dom, uint64_t requested_bytes, struct posted *p)
{
    struct lv_domain_info info = {0};
    read_xml(dom, &info, &p->r.error);
    if (p->r.error)
        return;
    g_autoptr(GError) err = NULL;
    g_autofree char *dev = lv_vmem_update_xml(&info.vmem, requested_bytes, &err);
    lv_domain_info_clear(&info);
    if (!dev)
        p->r.error = g_strdup_printf("not sent: %s", err->message);
    else if (virDomainUpdateDeviceFlags(dom, dev, VIR_DOMAIN_AFFECT_LIVE) < 0)
        p->r.error = g_strdup_printf("requested size %" G_GUINT64_FORMAT " KiB: %s",
                                     requested_bytes / 1024, lv_last_error());
}

static void call_domain(struct lv_conn *c, const struct lv_call *call, struct posted *p)
{
    virDomainPtr dom = dom_of(c, call->uuid);
    if (!dom) {
        p->r.error = g_strdup(c->conn ? lv_last_error() : "not connected");
        return;
    }
    switch (call->kind) {
    case LV_CALL_METADATA:
        call_metadata(c, dom, p);
        break;
    case LV_CALL_SET: {
        if (call->answer_only)
            break; /* no balloon: the device's request carried the target */
        /* With a virtio-mem device the value is the plan's, boot-relative:
         * libvirt hands it to QEMU's balloon as it is (lv_vmem.h). */
        uint64_t bytes = call->value_bytes ? call->value_bytes : call->target_bytes;
        unsigned long kib = (unsigned long)(bytes / 1024);
        if (virDomainSetMemoryFlags(dom, kib, VIR_DOMAIN_AFFECT_LIVE) < 0)
            p->r.error = g_strdup_printf("set memory %lu KiB: %s", kib, lv_last_error());
        break;
    }
    case LV_CALL_STATS:
        call_stats(dom, p);
        break;
    case LV_CALL_VMEM_SET:
        call_vmem_set(dom, call->value_bytes, p);
        break;
    case LV_CALL_XML:
        read_xml(dom, &p->r.info, &p->r.error);
        p->r.info_valid = !p->r.error;
        break;
    default:
        break;
    }
}

void lv_conn_run(void *data, const struct lv_call *call)
{
    struct lv_conn *c = data;
    int64_t started_us = g_get_monotonic_time();
    struct posted *p = posted_new(call);
    switch (call->kind) {
    case LV_CALL_CONNECT:
        call_connect(c, p);
        break;
    case LV_CALL_LIST:
        if (c->conn)
            list(c, p, &p->r.error);
        else
            p->r.error = g_strdup("not connected");
        break;
    case LV_CALL_DISCONNECT:
        disconnect(c);
        break;
    default:
        call_domain(c, call, p);
        break;
    }
    post(c, p, started_us);
}

void lv_conn_finish(void *data)
{
    disconnect(data);
}

struct lv_conn *lv_conn_new(const char *uri, unsigned stats_period_s, struct lv_link *link)
{
    struct lv_conn *c = g_new0(struct lv_conn, 1);
    c->uri = g_strdup(uri);
    c->stats_period_s = stats_period_s;
    c->link = lv_link_ref(link);
    c->cb_lifecycle = c->cb_balloon = c->cb_metadata = c->cb_vmem = -1;
    c->doms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, dom_unref);
    return c;
}

void lv_conn_free(void *data)
{
    struct lv_conn *c = data;
    disconnect(c);
    g_hash_table_unref(c->doms);
    lv_link_unref(c->link);
    g_free(c->uri);
    g_free(c);
}
