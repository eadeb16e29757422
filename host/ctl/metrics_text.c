/*
 * The Prometheus exposition of the status document (see metrics_text.h).
 *
 * Families are table rows: name, type, help, and where the value is in the
 * host or VM struct and how it is read (bytes/counts with -1 unknown,
 * signed with CTL_UNKNOWN_S64, percentages to ratios, plain doubles). The
 * few that are computed (headroom, a VM's KSM saving, the info gauge, the
 * histogram) have their own writers below the tables.
 */
#include "metrics_text.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

enum value_kind {
    V_COUNT,  /* int64_t, < 0 unknown */
    V_SIGNED, /* int64_t, CTL_UNKNOWN_S64 unknown */
    V_PCT,    /* double percent, NaN unknown: written as a ratio 0..1 */
    V_DOUBLE, /* double, NaN unknown */
    V_FLAG,   /* int yes/no, < 0 unknown */
};

struct family {
    const char *name;
    const char *type; /* "gauge", "counter" */
    const char *help;
    enum value_kind kind;
    size_t offset; /* into struct ctl_host_status or ctl_vm_status */
};

#define HOST(n, t, k, m, h)                                                                        \
    {                                                                                              \
        n, t, h, k, offsetof(struct ctl_host_status, m)                                            \
    }
#define VM(n, t, k, m, h)                                                                          \
    {                                                                                              \
        n, t, h, k, offsetof(struct ctl_vm_status, m)                                              \
    }

static const struct family host_families[] = {
    HOST("ballast_host_memory_total_bytes", "gauge", V_COUNT, mem_total_bytes, "Host MemTotal."),
    HOST("ballast_host_memory_available_bytes", "gauge", V_COUNT, mem_available_bytes,
         "Host MemAvailable."),
    HOST("ballast_host_memory_psi_some_avg10_ratio", "gauge", V_PCT, psi_some_avg10_pct,
         "Host memory pressure (PSI some avg10), 0..1."),
    HOST("ballast_host_memory_psi_full_avg10_ratio", "gauge", V_PCT, psi_full_avg10_pct,
         "Host memory pressure (PSI full avg10), 0..1."),
    HOST("ballast_ksm_saved_bytes", "gauge", V_COUNT, ksm_saved_bytes,
         "Memory KSM saves host-wide (sharing and zero pages)."),
    HOST("ballast_ksm_rmap_cost_bytes", "gauge", V_COUNT, ksm_rmap_cost_bytes,
         "Memory ksmd's rmap items cost."),
    HOST("ballast_ksm_general_profit_bytes", "gauge", V_SIGNED, ksm_general_profit_bytes,
         "The kernel's KSM general_profit (saved minus metadata)."),
    HOST("ballast_ksm_run", "gauge", V_COUNT, ksm_run,
         "/sys/kernel/mm/ksm/run: 0 stopped, 1 running, 2 unmerging."),
    HOST("ballast_ksmd_cpu_ratio", "gauge", V_PCT, ksmd_cpu_pct,
         "ksmd CPU over the last KSM interval, in cores."),
    HOST("ballast_ksmd_cpu_seconds_total", "counter", V_DOUBLE, ksmd_cpu_seconds,
         "ksmd CPU time since ballastd started."),
    HOST("ballast_fleet_budget_bytes", "gauge", V_COUNT, budget.effective_bytes,
         "The fleet memory budget in force (memory_budget, cut to host RAM)."),
    HOST("ballast_fleet_capacity_bytes", "gauge", V_COUNT, budget.capacity_bytes,
         "What the guests' floors must fit in: the budget or the cgroup limit."),
    HOST("ballast_fleet_available_bytes", "gauge", V_COUNT, budget.view_available_bytes,
         "MemAvailable as the policy sees it (host, cgroup or budget)."),
    HOST("ballast_fleet_floors_bytes", "gauge", V_COUNT, budget.floors_bytes,
         "Sum of the guests' floors: working set plus tight headroom."),
    HOST("ballast_fleet_budget_unmet", "gauge", V_FLAG, budget.unmet,
         "1 when the floors do not fit the capacity."),
    HOST("ballast_ticks_total", "counter", V_COUNT, ticks, "Policy rounds run."),
    HOST("ballast_balloon_changes_total", "counter", V_COUNT, balloon_changes,
         "Balloon targets sent, all VMs."),
    HOST("ballast_agent_rejects_total", "counter", V_COUNT, agent_rejects,
         "Agent connections dropped for garbage, all VMs."),
    HOST("ballast_process_resident_memory_bytes", "gauge", V_COUNT, daemon_rss_bytes,
         "ballastd's resident memory (VmRSS)."),
    HOST("ballast_process_cpu_seconds_total", "counter", V_DOUBLE, daemon_cpu_seconds,
         "ballastd's user and system CPU time."),
};

static const struct family vm_families[] = {
    VM("ballast_vm_nominal_bytes", "gauge", V_COUNT, nominal_bytes,
       "Memory the guest was started with."),
    VM("ballast_vm_target_bytes", "gauge", V_COUNT, target_bytes,
       "The balloon target ballastd wants."),
    VM("ballast_vm_actual_bytes", "gauge", V_COUNT, actual_bytes,
       "The guest's size now (balloon actual)."),
    VM("ballast_vm_guest_available_bytes", "gauge", V_COUNT, guest_available_bytes,
       "The guest's MemAvailable."),
    VM("ballast_vm_host_cost_bytes", "gauge", V_COUNT, cost.host_cost_bytes,
       "What the VM costs the host (guest RAM unique + KSM share + QEMU + page tables)."),
    VM("ballast_vm_ksm_shared_charge_bytes", "gauge", V_COUNT, cost.ksm_shared_charge_bytes,
       "The VM's fair share of the KSM pages it maps (part of its host cost)."),
    VM("ballast_vm_psi_some_avg10_ratio", "gauge", V_PCT, psi_some_avg10_pct,
       "Guest memory pressure (PSI some avg10), 0..1."),
    VM("ballast_vm_psi_full_avg10_ratio", "gauge", V_PCT, psi_full_avg10_pct,
       "Guest memory pressure (PSI full avg10), 0..1."),
    VM("ballast_vm_grows_total", "counter", V_COUNT, grows, "Balloon growths sent."),
    VM("ballast_vm_shrinks_total", "counter", V_COUNT, shrinks, "Balloon shrinks sent."),
    VM("ballast_vm_guest_deflate_events_total", "counter", V_COUNT, guest_deflate_events,
       "Times the guest deflated its balloon on OOM (deflate-on-oom episodes)."),
    VM("ballast_vm_agent_rejects_total", "counter", V_COUNT, agent_rejects,
       "Agent connections dropped for garbage."),
};

static void header(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A sample value in the C locale: 15 digits when they read back as the same
 * double (0.0225, not 0.022499999999999999), else 17. */
static void append_double(GString *out, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_formatd(buf, sizeof(buf), "%.15g", v);
    if (g_ascii_strtod(buf, NULL) != v)
        g_ascii_formatd(buf, sizeof(buf), "%.17g", v);
    g_string_append(out, buf);
}

/* The value at f's offset in base; false when unknown. */
static bool family_value(const struct family *f, const void *base, double *v, int64_t *i,
                         bool *is_int)
{
    const char *p = (const char *)base + f->offset;
    *is_int = false;
    switch (f->kind) {
    case V_COUNT:
        *i = *(const int64_t *)p;
        *is_int = true;
        return *i >= 0;
    case V_SIGNED:
        *i = *(const int64_t *)p;
        *is_int = true;
        return *i != CTL_UNKNOWN_S64;
    case V_PCT:
        *v = *(const double *)p / 100.0;
        return !isnan(*v);
    case V_DOUBLE:
        *v = *(const double *)p;
        return !isnan(*v);
    case V_FLAG:
        *i = *(const int *)p;
        *is_int = true;
        return *i >= 0;
    }
    return false;
}

/* One sample line: name, {vm="..."} when vm is set, the value. */
static void sample(GString *out, const struct family *f, const void *base, const char *vm)
{
    double v = 0;
    int64_t i = 0;
    bool is_int;
    if (!family_value(f, base, &v, &i, &is_int))
        return;
    g_string_append(out, f->name);
    if (vm) {
        g_string_append(out, "{vm=\"");
        metrics_text_label_value(out, vm);
        g_string_append(out, "\"}");
    }
    g_string_append_c(out, ' ');
    if (is_int)
        g_string_append_printf(out, "%" G_GINT64_FORMAT, i);
    else
        append_double(out, v);
    g_string_append_c(out, '\n');
}

void metrics_text_label_value(GString *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            g_string_append(out, "\\\\");
        else if (*v == '"')
            g_string_append(out, "\\\"");
        else if (*v == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *v);
    }
}

int64_t metrics_text_headroom_bytes(const struct ctl_budget_status *b)
{
    if (b->view_available_bytes < 0 || b->fleet_cost_bytes < 0 || b->floors_bytes < 0)
        return CTL_UNKNOWN_S64;
    return b->view_available_bytes + b->fleet_cost_bytes - b->floors_bytes;
}

static void write_headroom(GString *out, const struct ctl_host_status *h)
{
    header(out, "ballast_fleet_headroom_bytes", "gauge",
           "Room for the next guest: available now plus what the guests hold above their "
           "floors (with a budget: budget - floors). Negative when the floors do not fit.");
    int64_t v = metrics_text_headroom_bytes(&h->budget);
    if (v != CTL_UNKNOWN_S64)
        g_string_append_printf(out, "ballast_fleet_headroom_bytes %" G_GINT64_FORMAT "\n", v);
}

/* The histogram: cumulative buckets, +Inf = count, then sum and count. */
static void write_grow_latency(GString *out, const struct ctl_host_status *h)
{
    static const char name[] = "ballast_grow_latency_seconds";
    header(out, name, "histogram",
           "From the report that asked for memory to the balloon reaching it, every growth.");
    if (!h->grow_latency_known)
        return;
    const struct latency_hist *l = &h->grow_latency;
    for (size_t i = 0; i < LATENCY_HIST_BUCKETS; i++) {
        g_string_append_printf(out, "%s_bucket{le=\"", name);
        append_double(out, latency_hist_le_s[i]);
        g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n", latency_hist_cumulative(l, i));
    }
    g_string_append_printf(out, "%s_bucket{le=\"+Inf\"} %" G_GINT64_FORMAT "\n", name, l->count);
    g_string_append_printf(out, "%s_sum ", name);
    append_double(out, (double)l->sum_ms / 1000.0);
    g_string_append_printf(out, "\n%s_count %" G_GINT64_FORMAT "\n", name, l->count);
}

/* A VM's KSM saving: sharing + zero pages, when both are known. */
static void write_vm_ksm_saved(GString *out, const struct ctl_vm_status *vms, size_t n)
{
    header(out, "ballast_vm_ksm_saved_bytes", "gauge",
           "What KSM saves for the VM: its fair share of shared copies plus zero pages.");
    for (size_t i = 0; i < n; i++) {
        const struct ctl_vm_status *vm = &vms[i];
        if (vm->ksm_saved_sharing_bytes < 0 || vm->ksm_saved_zero_bytes < 0)
            continue;
        g_string_append(out, "ballast_vm_ksm_saved_bytes{vm=\"");
        metrics_text_label_value(out, vm->name);
        g_string_append_printf(out, "\"} %" G_GINT64_FORMAT "\n",
                               vm->ksm_saved_sharing_bytes + vm->ksm_saved_zero_bytes);
    }
}

/* The VM's mode and connections as labels of a gauge that is always 1. */
static void write_vm_info(GString *out, const struct ctl_vm_status *vms, size_t n)
{
    static const struct {
        const char *label;
        size_t offset;
    } labels[] = {
        {"mode", offsetof(struct ctl_vm_status, mode)},
        {"source", offsetof(struct ctl_vm_status, source)},
        {"policy_source", offsetof(struct ctl_vm_status, policy_source)},
        {"qmp", offsetof(struct ctl_vm_status, qmp)},
        {"agent", offsetof(struct ctl_vm_status, agent)},
    };
    header(out, "ballast_vm_info", "gauge",
           "Always 1: the VM's mode (managed, observe, fixed, safe, dry-run), source and "
           "connections as labels.");
    for (size_t i = 0; i < n; i++) {
        g_string_append(out, "ballast_vm_info{vm=\"");
        metrics_text_label_value(out, vms[i].name);
        g_string_append_c(out, '"');
        for (size_t j = 0; j < G_N_ELEMENTS(labels); j++) {
            g_string_append_printf(out, ",%s=\"", labels[j].label);
            metrics_text_label_value(out, (const char *)&vms[i] + labels[j].offset);
            g_string_append_c(out, '"');
        }
        g_string_append(out, "} 1\n");
    }
}

void metrics_text_write(GString *out, const struct ctl_host_status *host,
                        const struct ctl_vm_status *vms, size_t n)
{
    header(out, "ballast_dry_run", "gauge", "1 while ballastd only computes and logs.");
    g_string_append_printf(out, "ballast_dry_run %d\n", host->dry_run ? 1 : 0);
    for (size_t f = 0; f < G_N_ELEMENTS(host_families); f++) {
        const struct family *fam = &host_families[f];
        header(out, fam->name, fam->type, fam->help);
        sample(out, fam, host, NULL);
    }
    write_headroom(out, host);
    write_grow_latency(out, host);
    header(out, "ballast_vms", "gauge", "VMs ballastd manages.");
    g_string_append_printf(out, "ballast_vms %zu\n", n);
    write_vm_info(out, vms, n);
    /* Family by family, not VM by VM: the format wants a family's samples together. */
    for (size_t f = 0; f < G_N_ELEMENTS(vm_families); f++) {
        const struct family *fam = &vm_families[f];
        header(out, fam->name, fam->type, fam->help);
        for (size_t i = 0; i < n; i++)
            sample(out, fam, &vms[i], vms[i].name);
    }
    write_vm_ksm_saved(out, vms, n);
}
