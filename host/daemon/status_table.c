/* Formatting of `ballastctl status` (see status_table.h). */
#include "status_table.h"

#include "size.h"

#include <math.h>

static const char *fmt_bytes(int64_t bytes, char *buf, size_t len)
{
    if (bytes < 0)
        return "-";
    return size_format((uint64_t)bytes, buf, len);
}

static const char *fmt_pct(double pct, char *buf, size_t len)
{
    if (isnan(pct))
        return "-";
    g_snprintf(buf, len, "%.2f", pct);
    return buf;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

void status_table_format(GString *out, const struct ctl_host_status *host,
                         const struct ctl_vm_status *vms, size_t n_vms)
{
    char a[32], b[32], c[32], d[32], e[32];
    bool ksm = false;
    for (size_t i = 0; i < n_vms; i++)
        if (vms[i].ksm_profit_bytes >= 0)
            ksm = true;

    g_string_append_printf(out, "host: total %s, available %s, PSI some %s full %s%s\n",
                           fmt_bytes(host->mem_total_bytes, a, sizeof(a)),
                           fmt_bytes(host->mem_available_bytes, b, sizeof(b)),
                           fmt_pct(host->psi_some_avg10_pct, c, sizeof(c)),
                           fmt_pct(host->psi_full_avg10_pct, d, sizeof(d)),
                           host->dry_run ? ", DRY RUN" : "");
    g_string_append_printf(out, "%-16s %11s %11s %11s %11s %6s %-8s %-10s %-10s", "VM", "NOMINAL",
                           "TARGET", "ACTUAL", "GUEST-AVAIL", "PSI", "MODE", "QMP", "AGENT");
    if (ksm)
        g_string_append_printf(out, " %11s", "KSM-SAVED");
    g_string_append(out, " REASON\n");
    for (size_t i = 0; i < n_vms; i++) {
        const struct ctl_vm_status *v = &vms[i];
        g_string_append_printf(out, "%-16s %11s %11s %11s %11s %6s %-8s %-10s %-10s",
                               or_dash(v->name), fmt_bytes(v->nominal_bytes, a, sizeof(a)),
                               fmt_bytes(v->target_bytes, b, sizeof(b)),
                               fmt_bytes(v->actual_bytes, c, sizeof(c)),
                               fmt_bytes(v->guest_available_bytes, d, sizeof(d)),
                               fmt_pct(v->psi_some_avg10_pct, e, sizeof(e)), or_dash(v->mode),
                               or_dash(v->qmp), or_dash(v->agent));
        if (ksm)
            g_string_append_printf(out, " %11s", fmt_bytes(v->ksm_profit_bytes, a, sizeof(a)));
        g_string_append_printf(out, " %s\n", or_dash(v->last_reason));
    }
}
