/*
 * The fleet memory budget in ballastd; see budget_monitor.h. Decisions are
 * budget.h's pure functions; this file reads the cgroup, keeps the state
 * between ticks, logs each change once and fills status and explain.
 */
#include "budget_monitor.h"

#include "size.h"

#include <glib.h>
#include <string.h>

void budget_monitor_init(struct budget_monitor *b)
{
    memset(b, 0, sizeof(*b));
    b->cgroup_rc = BUDGET_MONITOR_NOT_READ;
}

void budget_monitor_configure(struct budget_monitor *b, const struct config *c)
{
    b->cfg = c->budget;
    g_free(b->where);
    b->where = g_strdup(c->budget_where);
    b->cgroup_rc = BUDGET_MONITOR_NOT_READ;
    b->clamp_said = false;
    memset(&b->cg, 0, sizeof(b->cg));
}

void budget_monitor_clear(struct budget_monitor *b)
{
    g_free(b->where);
    g_free(b->min_error);
    memset(b, 0, sizeof(*b));
}

bool budget_monitor_active(const struct budget_monitor *b)
{
    return b->cfg.size.kind != CONFIG_SIZE_UNSET || b->cfg.cgroup[0];
}

static const char *where_of(const struct budget_monitor *b)
{
    return b->where ? b->where : CONFIG_GLOBAL_FILE;
}

/* Reads memory_cgroup; says once when it cannot, and once when it can again. */
static void read_cgroup(struct budget_monitor *b)
{
    int before = b->cgroup_rc;
    b->cgroup_rc = cgroup_mem_read(b->cfg.cgroup, &b->cg);
    if (b->cgroup_rc < 0 && b->cgroup_rc != before)
        g_warning("memory_cgroup %s: %s; using the host's figures instead", b->cfg.cgroup,
                  cgroup_mem_strerror(b->cgroup_rc));
    else if (b->cgroup_rc == 0 && before < 0)
        g_message("memory_cgroup %s: readable again; its figures stand in for the host's",
                  b->cfg.cgroup);
}

static void cgroup_in(const struct budget_monitor *b, struct budget_cgroup *c)
{
    memset(c, 0, sizeof(*c));
    if (!b->cfg.cgroup[0] || b->cgroup_rc != 0)
        return;
    c->valid = true;
    c->current_bytes = b->cg.current_bytes;
    c->limit_bytes = cgroup_mem_limit_bytes(&b->cg);
    c->psi_valid = (b->cg.valid & CGROUP_MEM_HAS_PRESSURE) != 0;
    c->psi_some_avg10_pct = b->cg.pressure.some.avg10_bp / 100.0;
    c->psi_full_avg10_pct =
        (b->cg.pressure.valid & PSI_HAS_FULL) ? b->cg.pressure.full.avg10_bp / 100.0 : 0.0;
}

void budget_monitor_update(struct budget_monitor *b, const struct policy_host *host,
                           uint64_t fleet_cost_bytes)
{
    if (b->cfg.cgroup[0])
        read_cgroup(b);
    struct budget_in *in = &b->in;
    in->host = *host;
    cgroup_in(b, &in->cgroup);
    const struct config_size *s = &b->cfg.size;
    b->configured_bytes = s->kind == CONFIG_SIZE_PCT
                              ? budget_resolve_bytes(0, s->pct, host->mem_total_bytes)
                          : s->kind == CONFIG_SIZE_BYTES ? s->bytes
                                                         : 0;
    in->budget_bytes = b->configured_bytes;
    in->fleet_cost_bytes = fleet_cost_bytes;
    budget_view_compute(in, &b->view);
    if (b->view.clamped && !b->clamp_said) {
        char a[32], h[32];
        g_warning("%s: memory_budget %s is above host RAM %s: cut to host RAM", where_of(b),
                  size_format(b->configured_bytes, a, sizeof(a)),
                  size_format(host->mem_total_bytes, h, sizeof(h)));
    }
    b->clamp_said = b->view.clamped;
}

const struct policy_host *budget_monitor_host(const struct budget_monitor *b)
{
    return &b->view.host;
}

bool budget_monitor_check_min(struct budget_monitor *b, uint64_t min_sum_bytes)
{
    char msg[CTL_BUDGET_TEXT_MAX];
    bool bad = budget_min_error(msg, sizeof(msg), where_of(b), b->view.budget_bytes, min_sum_bytes);
    if (!bad && !b->min_error)
        return false;
    if (bad && b->min_error && strcmp(msg, b->min_error) == 0)
        return false;
    if (bad)
        g_warning("config: %s: every VM in safe mode (never shrunk, still grown)", msg);
    else
        g_message("memory_budget now covers the VMs' min_memory: the budget error is gone");
    g_free(b->min_error);
    b->min_error = bad ? g_strdup(msg) : NULL;
    return true;
}

const char *budget_monitor_fleet_error(const struct budget_monitor *b)
{
    return b->min_error;
}

void budget_monitor_fit(struct budget_monitor *b, uint64_t floors_bytes)
{
    uint64_t cap = b->view.capacity_bytes;
    bool was = b->unmet;
    b->unmet = budget_unmet_next(was, cap, floors_bytes);
    b->floors_bytes = floors_bytes;
    b->fit_known = true;
    if (b->unmet == was)
        return;
    char text[CTL_BUDGET_TEXT_MAX], s[32];
    budget_unmet_text(text, sizeof(text), cap, floors_bytes);
    if (b->unmet)
        g_warning("budget unmet: %s (short %s); every guest is held at its floor, none is starved",
                  text, size_format(floors_bytes - cap, s, sizeof(s)));
    else
        g_message("budget met again: working sets %s fit in %s",
                  size_format(floors_bytes, text, sizeof(text)), size_format(cap, s, sizeof(s)));
}

static int64_t known(uint64_t v, bool is_known)
{
    return is_known && v <= INT64_MAX ? (int64_t)v : -1;
}

void budget_monitor_status(const struct budget_monitor *b, struct ctl_budget_status *out)
{
    const struct config_size *s = &b->cfg.size;
    if (s->kind == CONFIG_SIZE_PCT)
        g_snprintf(out->configured, sizeof(out->configured), "%g%%", s->pct);
    else if (s->kind == CONFIG_SIZE_BYTES)
        size_format(s->bytes, out->configured, sizeof(out->configured));
    bool have = b->view.host.mem_total_bytes > 0; /* updated at least once */
    bool budget = s->kind != CONFIG_SIZE_UNSET;
    out->configured_bytes = known(b->configured_bytes, have && budget);
    out->effective_bytes = known(b->view.budget_bytes, have && budget);
    out->clamped = have && budget ? b->view.clamped : -1;
    ctl_copy(out->source, sizeof(out->source), budget_source_name(b->view.source));
    out->view_total_bytes = known(b->view.host.mem_total_bytes, have);
    out->view_available_bytes = known(b->view.host.mem_available_bytes, have);
    out->fleet_cost_bytes = known(b->in.fleet_cost_bytes, have);
    out->floors_bytes = known(b->floors_bytes, b->fit_known);
    out->capacity_bytes = known(b->view.capacity_bytes, have && b->view.capacity_bytes);
    out->unmet = b->fit_known ? b->unmet : -1;
    out->short_bytes = known(b->floors_bytes > b->view.capacity_bytes && b->unmet
                                 ? b->floors_bytes - b->view.capacity_bytes
                                 : 0,
                             b->fit_known);
    ctl_copy(out->cgroup, sizeof(out->cgroup), b->cfg.cgroup);
    if (b->cfg.cgroup[0] && b->cgroup_rc < 0)
        g_snprintf(out->cgroup_error, sizeof(out->cgroup_error), "%s; host figures used",
                   cgroup_mem_strerror(b->cgroup_rc));
    ctl_copy(out->error, sizeof(out->error), b->min_error);
}

void budget_monitor_explain(const struct budget_monitor *b, int64_t vm_floor_bytes,
                            struct json_writer *w)
{
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    budget_monitor_status(b, &h.budget);
    json_writer_key(w, "budget");
    ctl_budget_status_write(w, &h.budget);
    json_writer_key(w, "budget_floor_bytes");
    if (vm_floor_bytes >= 0)
        json_writer_int(w, vm_floor_bytes);
    else
        json_writer_null(w);
    json_writer_key(w, "budget_reason");
    if (b->unmet) {
        char text[CTL_BUDGET_TEXT_MAX];
        budget_unmet_text(text, sizeof(text), b->view.capacity_bytes, b->floors_bytes);
        json_writer_string(w, text);
    } else {
        json_writer_null(w);
    }
}
