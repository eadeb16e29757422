/*
 * ballastd's per-VM host cost (see cost_monitor.h, docs/ballastd.md "Host
 * cost per VM"). Logging: one line when a VM's read starts failing or
 * changes its reason (guest RAM not found, no access to smaps), one when it
 * works again; never one per read.
 */
#include "cost_monitor.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

void cost_monitor_vm_init(struct cost_monitor_vm *c)
{
    memset(c, 0, sizeof(*c));
    c->read_ms = VMCOST_NEVER_READ;
    c->pid = -1;
}

static int64_t s64(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Why a VM has no cost, in words for status and the log. */
static const char *error_text(int error)
{
    switch (error) {
    case -ENODATA:
        return "guest RAM not found in QEMU's smaps";
    case -ENOENT:
        return "no QEMU pid known";
    case -ESRCH:
        return "QEMU process gone";
    case -EFBIG:
        return "smaps too long: truncated";
    case -EOPNOTSUPP:
        return "no smaps in this kernel";
    default:
        return g_strerror(-error);
    }
}

static void log_change(const struct cost_monitor_vm *c, const struct cost_monitor_in *in, int was)
{
    if (c->error == was)
        return;
    if (c->error == 0)
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", in->name, "MESSAGE",
                         "%s: host cost read again (QEMU pid %d)", in->name, (int)c->pid);
    else if (c->error == -ESRCH || c->error == -ENOENT)
        g_debug("%s: no host cost: %s", in->name, error_text(c->error));
    else
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", in->name, "MESSAGE",
                         "%s: no host cost (QEMU pid %d, %.1f MiB of RAM): %s", in->name,
                         (int)in->pid, (double)MAX(in->nominal_bytes, 0) / (1024.0 * 1024.0),
                         error_text(c->error));
}

/* The VM's ksm_stat now, beside smaps; NULL when the kernel has none. */
static const struct ksm_proc_sample *read_ksm(const struct cost_monitor_in *in,
                                              struct ksm_proc_sample *buf)
{
    int rc = ksm_read_proc(in->proc_root, in->pid, buf);
    /* -EINVAL still fills the valid fields (ksm_read_proc). */
    return rc == 0 || rc == -EINVAL ? buf : NULL;
}

void cost_monitor_read(struct cost_monitor_vm *c, const struct cost_monitor_in *in)
{
    int was = c->error;
    c->read_ms = in->now_ms;
    c->pid = in->pid;
    c->valid = false;
    if (in->pid <= 0 || in->nominal_bytes <= 0) {
        c->error = -ENOENT;
        log_change(c, in, was);
        return;
    }
    struct vmcost_proc p = {0};
    c->error = vmcost_read(in->proc_root, in->pid, (uint64_t)in->nominal_bytes, &p);
    if (c->error == 0) {
        struct ksm_proc_sample ks;
        struct vmcost_input vi = {
            .proc = &p,
            .ksm_proc = read_ksm(in, &ks),
            .ksm_host = in->ksm_host,
            .page_size = in->page_size,
            .nominal_bytes = in->nominal_bytes,
            .actual_bytes = in->actual_bytes,
        };
        c->error = vmcost_split(&vi, &c->cost);
    }
    c->valid = c->error == 0;
    c->rss_bytes = p.rss_present ? p.vm_rss_bytes : p.all.rss_bytes;
    c->guest_ram_pss_bytes = p.guest_ram.pss_bytes;
    c->guest_ram_ksm_bytes = p.guest_ram.ksm_bytes;
    c->mappings = p.all.mappings;
    c->guest_ram_mappings = p.guest_ram.mappings;
    c->parse_errors = p.parse_errors;
    c->ksm_line = p.ksm_field;
    log_change(c, in, was);
}

void cost_monitor_vm_status(const struct cost_monitor_vm *c, int64_t now_ms,
                            struct ctl_vm_cost *out)
{
    ctl_vm_cost_init(out);
    if (c->read_ms != VMCOST_NEVER_READ)
        out->age_ms = MAX(0, now_ms - c->read_ms);
    if (!c->valid) {
        ctl_copy(out->error, sizeof(out->error),
                 c->read_ms == VMCOST_NEVER_READ ? "not read yet" : error_text(c->error));
        return;
    }
    const struct vm_cost *v = &c->cost;
    out->host_cost_bytes = s64(v->host_cost_bytes);
    out->guest_unique_bytes = s64(v->guest_unique_bytes);
    out->ksm_shared_charge_bytes = s64(v->ksm_shared_charge_bytes);
    out->qemu_own_bytes = s64(v->qemu_own_bytes);
    out->page_tables_bytes = s64(v->page_tables_bytes);
    out->guest_ram_resident_bytes = s64(v->guest_ram_resident_bytes);
    out->ksm_saved_bytes = s64(v->ksm_saved_bytes);
    out->zero_pages_bytes = s64(v->zero_pages_bytes);
    out->balloon_held_bytes = v->balloon_known ? s64(v->balloon_held_bytes) : -1;
    out->thp_bytes = s64(v->thp_bytes);
    out->swap_bytes = s64(v->swap_bytes);
}

void cost_monitor_guest(const struct cost_monitor_guest_in *in, struct ctl_guest_mem *out)
{
    ctl_guest_mem_init(out);
    struct vmcost_guest g;
    if (!in->r || vmcost_guest_split(in->r, in->balloon_in_used_bytes, &g) < 0)
        return;
    out->age_ms = MAX(0, in->age_ms);
    out->used_bytes = s64(g.used_bytes);
    out->cache_bytes = s64(g.cache_bytes);
    out->anon_bytes = s64(g.anon_bytes);
    out->kernel_other_bytes = s64(g.kernel_other_bytes);
    if (in->reserve && in->reserve->known)
        out->kernel_reserved_bytes = s64(in->reserve->reserved_bytes);
    if (!g.kinds_known)
        return; /* an agent from before protocol v2 */
    out->shmem_bytes = s64(g.shmem_bytes);
    out->slab_reclaimable_bytes = s64(g.slab_reclaimable_bytes);
    out->slab_unreclaimable_bytes = s64(g.slab_unreclaimable_bytes);
    out->kernel_stack_bytes = s64(g.kernel_stack_bytes);
    out->page_tables_bytes = s64(g.page_tables_bytes);
    out->vmalloc_used_bytes = s64(g.vmalloc_used_bytes);
    out->kernel_bytes = s64(g.kernel_bytes);
    out->balloon_bytes = s64(g.balloon_bytes);
    out->other_bytes = s64(g.other_bytes);
}

/* A figure explain may not know: null, as in the status document. */
static void member_known(struct json_writer *w, const char *key, bool known, uint64_t v)
{
    json_writer_key(w, key);
    if (known)
        json_writer_int(w, s64(v));
    else
        json_writer_null(w);
}

void cost_monitor_explain(const struct cost_monitor_vm *c, const struct cost_monitor_guest_in *g,
                          int64_t now_ms, struct json_writer *w)
{
    struct ctl_vm_cost vc;
    cost_monitor_vm_status(c, now_ms, &vc);
    json_writer_key(w, "cost");
    json_writer_object_begin(w);
    ctl_vm_cost_write(w, &vc);
    bool read = c->read_ms != VMCOST_NEVER_READ;
    member_known(w, "pid", c->pid > 0, (uint64_t)c->pid);
    json_writer_member_bool(w, "ksm_known", c->valid && c->cost.ksm_known);
    json_writer_member_bool(w, "ksm_line", c->ksm_line);
    member_known(w, "rss_bytes", c->valid, c->rss_bytes);
    member_known(w, "guest_ram_pss_bytes", c->valid, c->guest_ram_pss_bytes);
    member_known(w, "guest_ram_ksm_bytes", c->valid && c->ksm_line, c->guest_ram_ksm_bytes);
    member_known(w, "mappings", read, c->mappings);
    member_known(w, "guest_ram_mappings", c->valid, c->guest_ram_mappings);
    member_known(w, "parse_errors", read, c->parse_errors);
    json_writer_object_end(w);

    struct ctl_guest_mem gm;
    cost_monitor_guest(g, &gm);
    json_writer_key(w, "guest_mem");
    json_writer_object_begin(w);
    ctl_guest_mem_write(w, &gm);
    member_known(w, "total_bytes", g->r && gm.used_bytes >= 0, g->r ? g->r->mem_total_bytes : 0);
    json_writer_object_end(w);
}
