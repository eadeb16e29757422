/* Formatting of `ballastctl status` (see status_table.h). */
#include "status_table.h"

#include "cost_text.h"
#include "size.h"

#include <math.h>

static const char *fmt_bytes(int64_t bytes, char *buf, size_t len)
{
    if (bytes < 0)
        return "-";
    return size_format((uint64_t)bytes, buf, len);
}

/* A signed byte figure (a profit): "-12.0 MiB", "-" when unknown. */
static const char *fmt_sbytes(int64_t bytes, char *buf, size_t len)
{
    if (bytes == CTL_UNKNOWN_S64)
        return "-";
    char mag[32];
    uint64_t m = bytes < 0 ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
    g_snprintf(buf, len, "%s%s", bytes < 0 ? "-" : "", size_format(m, mag, sizeof(mag)));
    return buf;
}

static int64_t sum_known(int64_t a, int64_t b)
{
    if (a < 0 && b < 0)
        return -1;
    return (a < 0 ? 0 : a) + (b < 0 ? 0 : b);
}

/* yes / no for the MERGE column; "off!" when policy says no but QEMU's RAM is mergeable. */
static const char *fmt_merge(const struct ctl_vm_status *v)
{
    if (v->ksm_allowed == 0 && v->ksm_mergeable == 1)
        return "off!";
    if (v->ksm_mergeable < 0)
        return "-";
    return v->ksm_mergeable ? "yes" : "no";
}

/* The host's KSM lines, when the daemon reports KSM at all. */
static void format_ksm_host(GString *out, const struct ctl_host_status *h)
{
    if (!h->ksm_mode[0])
        return;
    char a[32], b[32], c[32], d[32];
    g_string_append_printf(out, "ksm: mode %s, run %s, saved %s (zero pages %s), rmap %s, net %s",
                           h->ksm_mode,
                           h->ksm_run < 0    ? "-"
                           : h->ksm_run == 1 ? "on"
                                             : "off",
                           fmt_bytes(h->ksm_saved_bytes, a, sizeof(a)),
                           fmt_bytes(h->ksm_saved_zero_bytes, b, sizeof(b)),
                           fmt_bytes(h->ksm_rmap_cost_bytes, c, sizeof(c)),
                           fmt_sbytes(h->ksm_net_profit_bytes, d, sizeof(d)));
    g_string_append(out, "; ksmd CPU ");
    if (isnan(h->ksmd_cpu_pct))
        g_string_append(out, "-");
    else
        g_string_append_printf(out, "%.1f%%", h->ksmd_cpu_pct);
    if (!isnan(h->ksmd_cpu_avg_pct))
        g_string_append_printf(out, " (avg %.1f%%)", h->ksmd_cpu_avg_pct);
    if (!isnan(h->ksm_cpu_budget_pct))
        g_string_append_printf(out, " of budget %.1f%%", h->ksm_cpu_budget_pct);
    if (h->ksm_pages_to_scan >= 0 && h->ksm_sleep_ms >= 0)
        g_string_append_printf(out, ", %" G_GINT64_FORMAT " pages / %" G_GINT64_FORMAT " ms",
                               h->ksm_pages_to_scan, h->ksm_sleep_ms);
    g_string_append(out, "\nksm tuner: ");
    if (h->ksm_phase[0]) {
        /* The yield rule: "merging, yield 42.0 MiB/CPU-s (min 4): ..." */
        g_string_append(out, h->ksm_phase);
        if (!isnan(h->ksm_yield_mib_per_cpu_s))
            g_string_append_printf(out, ", yield %.1f MiB/CPU-s", h->ksm_yield_mib_per_cpu_s);
        if (!isnan(h->ksm_min_yield_mib_per_cpu_s))
            g_string_append_printf(out, " (min %g)", h->ksm_min_yield_mib_per_cpu_s);
        if (h->ksm_reprobe_in_s >= 0)
            g_string_append_printf(out, ", re-probe in %" G_GINT64_FORMAT " min",
                                   (h->ksm_reprobe_in_s + 59) / 60);
        g_string_append(out, ": ");
    }
    g_string_append_printf(out, "%s\n", cost_text_or_dash(h->ksm_reason));
}

/* The budget's line, when the daemon has a budget or a cgroup: what it is,
 * whose figures the engine sees, what the fleet costs, and whether the
 * guests' floors fit. */
static void format_budget(GString *out, const struct ctl_host_status *h)
{
    const struct ctl_budget_status *b = &h->budget;
    if (!b->configured[0] && !b->cgroup[0])
        return;
    char a[32], c[32], d[32];
    g_string_append_printf(out, "budget: %s", b->configured[0] ? b->configured : "none");
    if (b->configured[0] && b->effective_bytes >= 0)
        g_string_append_printf(out, " = %s%s", fmt_bytes(b->effective_bytes, a, sizeof(a)),
                               b->clamped == 1 ? " (cut to host RAM)" : "");
    if (b->cgroup[0])
        g_string_append_printf(out, ", cgroup %s%s", b->cgroup,
                               b->cgroup_error[0] ? " (unreadable: host figures used)" : "");
    g_string_append_printf(out, "; policy sees %s: total %s, available %s; fleet cost %s",
                           cost_text_or_dash(b->source),
                           fmt_bytes(b->view_total_bytes, a, sizeof(a)),
                           fmt_bytes(b->view_available_bytes, c, sizeof(c)),
                           fmt_bytes(b->fleet_cost_bytes, d, sizeof(d)));
    if (b->floors_bytes >= 0)
        g_string_append_printf(out, ", floors %s", fmt_bytes(b->floors_bytes, a, sizeof(a)));
    if (b->unmet == 1)
        g_string_append_printf(out, "; UNMET, short %s: stop or move a guest",
                               fmt_bytes(b->short_bytes, a, sizeof(a)));
    if (b->error[0])
        g_string_append_printf(out, "; ERROR %s", b->error);
    g_string_append_c(out, '\n');
}

/* Under the table, one line per VM whose balloon commands failed: how
 * often, the last error and how long ago (docs/policy.md, "Failed commands"). */
static void format_set_errors(GString *out, const struct ctl_vm_status *vms, size_t n_vms)
{
    for (size_t i = 0; i < n_vms; i++) {
        const struct ctl_vm_status *v = &vms[i];
        if (v->balloon_set_failures <= 0 || !v->last_set_error[0])
            continue;
        g_string_append_printf(out, "%s: %" G_GINT64_FORMAT " balloon command(s) failed, last ",
                               v->name, v->balloon_set_failures);
        if (v->last_set_error_age_ms >= 0)
            g_string_append_printf(out, "%" G_GINT64_FORMAT " s ago",
                                   v->last_set_error_age_ms / 1000);
        else
            g_string_append(out, "-");
        g_string_append_printf(out, ": %s\n", v->last_set_error);
    }
}

/* What an operator must know of a VM beyond its row: someone else's
 * balloon target it is held at, a balloon without deflate-on-oom. */
static void format_vm_notes(GString *out, const struct ctl_vm_status *v)
{
    char a[32], when[32] = "an unknown time";
    if (v->foreign_target_bytes > 0) {
        if (v->foreign_since_s > 0) {
            g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(v->foreign_since_s);
            g_autofree char *iso = t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S UTC") : NULL;
            if (iso)
                g_snprintf(when, sizeof(when), "%s", iso);
        }
        g_string_append_printf(out,
                               "%s: foreign target %s set at %s, by %s: held there "
                               "(`ballastctl resume %s` hands it back)\n",
                               v->name, fmt_bytes(v->foreign_target_bytes, a, sizeof(a)), when,
                               cost_text_or_dash(v->foreign_by), v->name);
    }
    if (v->balloon_unreleased_bytes > 0)
        g_string_append_printf(out,
                               "%s: its QEMU holds %s of guest RAM over the balloon's actual: "
                               "inflation claimed, not released (a lying guest, or THP)\n",
                               v->name, fmt_bytes(v->balloon_unreleased_bytes, a, sizeof(a)));
    if (v->deflate_on_oom == 0)
        g_string_append_printf(out,
                               "%s: balloon without deflate-on-oom: no safety net while "
                               "ballastd is down (docs/libvirt.md, autodeflate)\n",
                               v->name);
}

void status_table_format(GString *out, const struct ctl_host_status *host,
                         const struct ctl_vm_status *vms, size_t n_vms)
{
    char a[32], b[32], c[32], d[32], e[32];
    bool ksm = false, cost = false;
    for (size_t i = 0; i < n_vms; i++) {
        if (vms[i].ksm_saved_sharing_bytes >= 0 || vms[i].ksm_mergeable >= 0)
            ksm = true;
        if (vms[i].cost.host_cost_bytes >= 0)
            cost = true;
    }

    g_string_append_printf(out, "host: total %s, available %s, PSI some %s full %s%s\n",
                           fmt_bytes(host->mem_total_bytes, a, sizeof(a)),
                           fmt_bytes(host->mem_available_bytes, b, sizeof(b)),
                           cost_text_pct(host->psi_some_avg10_pct, c, sizeof(c)),
                           cost_text_pct(host->psi_full_avg10_pct, d, sizeof(d)),
                           host->dry_run ? ", DRY RUN" : "");
    format_budget(out, host);
    if (host->libvirt[0]) /* its guests' figures are only as fresh as this says */
        g_string_append_printf(out, "libvirt: %s\n", host->libvirt);
    format_ksm_host(out, host);
    struct ctl_fleet_cost fleet;
    ctl_fleet_cost_sum(vms, n_vms, &fleet);
    cost_text_fleet(out, &fleet);
    g_string_append_printf(out, "%-16s %11s %11s %11s %11s %6s %-8s %-10s %-10s", "VM", "NOMINAL",
                           "TARGET", "ACTUAL", "GUEST-AVAIL", "PSI", "MODE", "QMP", "AGENT");
    if (ksm)
        g_string_append_printf(out, " %11s %11s %11s %5s", "KSM-SAVED", "KSM-ZERO", "KSM-NET",
                               "MERGE");
    if (cost)
        g_string_append_printf(out, " %6s", "COST");
    g_string_append(out, " REASON\n");
    for (size_t i = 0; i < n_vms; i++) {
        const struct ctl_vm_status *v = &vms[i];
        g_string_append_printf(
            out, "%-16s %11s %11s %11s %11s %6s %-8s %-10s %-10s", cost_text_or_dash(v->name),
            fmt_bytes(v->nominal_bytes, a, sizeof(a)), fmt_bytes(v->target_bytes, b, sizeof(b)),
            fmt_bytes(v->actual_bytes, c, sizeof(c)),
            fmt_bytes(v->guest_available_bytes, d, sizeof(d)),
            cost_text_pct(v->psi_some_avg10_pct, e, sizeof(e)), cost_text_or_dash(v->mode),
            cost_text_or_dash(v->qmp), cost_text_or_dash(v->agent));
        if (ksm)
            g_string_append_printf(
                out, " %11s %11s %11s %5s",
                fmt_bytes(sum_known(v->ksm_saved_sharing_bytes, v->ksm_saved_zero_bytes), a,
                          sizeof(a)),
                fmt_bytes(v->ksm_saved_zero_bytes, b, sizeof(b)),
                fmt_sbytes(v->ksm_net_profit_bytes, c, sizeof(c)), fmt_merge(v));
        if (cost)
            g_string_append_printf(out, " %6s",
                                   cost_text_compact(v->cost.host_cost_bytes, a, sizeof(a)));
        g_string_append_printf(out, " %s\n", cost_text_or_dash(v->last_reason));
    }
    format_set_errors(out, vms, n_vms);
    for (size_t i = 0; i < n_vms; i++)
        format_vm_notes(out, &vms[i]);
}
