/*
 * `ballastctl top`'s frame (see top_view.h). The columns are the ones an
 * operator watches to decide what to move: what each VM costs the host,
 * where its balloon is and wants to be, what the guest has left and how
 * pressured it is. Sizes are compact ("256M", "1.5G": cost_text_compact) so
 * a frame fits an 80-column terminal with room for the reason.
 *
 * Widths are counted in characters, not bytes (libvirt names may be
 * UTF-8); wide (CJK) characters are counted as one column, a known
 * approximation.
 */
#include "top_view.h"

#include "cost_text.h"
#include "size.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A name column is never narrower than this, however narrow the terminal. */
#define NAME_MIN_COLUMNS 8
/* Room kept for the reason before names are shortened to make it. */
#define REASON_MIN_COLUMNS 10
/* The columns after the name: five " %6s", " %-8s", " %-10s" and the space before REASON. */
#define FIXED_COLUMNS (5 * 7 + 9 + 11 + 1)

static const char *const sort_names[] = {
    [TOP_SORT_COST] = "cost",
    [TOP_SORT_PRESSURE] = "pressure",
    [TOP_SORT_NAME] = "name",
};

int top_sort_parse(const char *name, enum top_sort *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(sort_names); i++) {
        if (strcmp(name, sort_names[i]) == 0) {
            *out = (enum top_sort)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *top_sort_name(enum top_sort sort)
{
    return (unsigned)sort < G_N_ELEMENTS(sort_names) ? sort_names[sort] : "?";
}

unsigned top_view_columns(const char *env_columns, int tty_columns)
{
    if (env_columns && *env_columns) {
        char *end;
        errno = 0;
        long v = strtol(env_columns, &end, 10);
        if (errno == 0 && *end == '\0' && v > 0 && v <= 100000)
            return (unsigned)v;
    }
    return tty_columns > 0 ? (unsigned)tty_columns : 0;
}

struct order_ctx {
    const struct ctl_vm_status *vms;
    enum top_sort sort;
};

/* Highest first, unknown (negative or NaN) last; 0 when equal. */
static int by_desc(double a, double b)
{
    bool ka = !isnan(a) && a >= 0, kb = !isnan(b) && b >= 0;
    if (ka != kb)
        return ka ? -1 : 1;
    if (!ka || a == b)
        return 0;
    return a > b ? -1 : 1;
}

static int compare_rows(const void *pa, const void *pb, void *data)
{
    const struct order_ctx *ctx = data;
    const struct ctl_vm_status *a = &ctx->vms[*(const size_t *)pa];
    const struct ctl_vm_status *b = &ctx->vms[*(const size_t *)pb];
    int c = 0;
    if (ctx->sort == TOP_SORT_COST)
        c = by_desc((double)a->cost.host_cost_bytes, (double)b->cost.host_cost_bytes);
    else if (ctx->sort == TOP_SORT_PRESSURE)
        c = by_desc(a->psi_some_avg10_pct, b->psi_some_avg10_pct);
    return c ? c : strcmp(a->name, b->name);
}

void top_view_order(const struct ctl_vm_status *vms, size_t n_vms, enum top_sort sort,
                    size_t *order)
{
    for (size_t i = 0; i < n_vms; i++)
        order[i] = i;
    struct order_ctx ctx = {vms, sort};
    /* Ties go by name, which a source never gives two VMs: the order is total,
     * so the unstable qsort_r draws the same frame every time. */
    qsort_r(order, n_vms, sizeof(*order), compare_rows, &ctx);
}

/* Characters, for valid UTF-8 (every string here came through JSON or make_valid). */
static unsigned width_of(const char *s)
{
    return (unsigned)g_utf8_strlen(s, -1);
}

/* s in exactly `width` columns: padded, or shortened in the middle, keeping
 * the end too (names of a fleet differ in their number at the end). */
static void append_cell(GString *out, const char *s, unsigned width, const char *ellipsis)
{
    unsigned w = width_of(s), ew = width_of(ellipsis);
    if (w <= width) {
        g_string_append(out, s);
        for (; w < width; w++)
            g_string_append_c(out, ' ');
        return;
    }
    unsigned keep = width > ew ? width - ew : 0;
    unsigned head = (keep + 1) / 2, tail = keep - head;
    const char *head_end = g_utf8_offset_to_pointer(s, head);
    g_string_append_len(out, s, head_end - s);
    g_string_append(out, ellipsis);
    g_string_append(out, g_utf8_offset_to_pointer(s, (glong)(w - tail)));
}

/* One line, cut at its end to `columns` characters (0: not cut), the
 * ellipsis last, with its newline: the reason goes first. */
static void append_line(GString *out, const char *line, unsigned columns, const char *ellipsis)
{
    unsigned ew = width_of(ellipsis);
    if (columns && width_of(line) > columns) {
        const char *end = g_utf8_offset_to_pointer(line, columns > ew ? columns - ew : 0);
        g_string_append_len(out, line, end - line);
        g_string_append(out, ellipsis);
    } else {
        g_string_append(out, line);
    }
    g_string_append_c(out, '\n');
}

static void format_host(GString *line, const struct ctl_host_status *h,
                        const struct ctl_vm_status *vms, size_t n_vms,
                        const struct top_view_options *opt)
{
    char a[32], b[32], c[32], d[32], e[32];
    struct ctl_fleet_cost fleet;
    ctl_fleet_cost_sum(vms, n_vms, &fleet);
    if (opt->when)
        g_string_append_printf(line, "%s  ", opt->when);
    g_string_append_printf(
        line, "host: available %s of %s, PSI some %s full %s%s; %zu VM%s, cost %s; by %s",
        h->mem_available_bytes < 0 ? "-"
                                   : size_format((uint64_t)h->mem_available_bytes, a, sizeof(a)),
        h->mem_total_bytes < 0 ? "-" : size_format((uint64_t)h->mem_total_bytes, b, sizeof(b)),
        cost_text_pct(h->psi_some_avg10_pct, c, sizeof(c)),
        cost_text_pct(h->psi_full_avg10_pct, d, sizeof(d)), h->dry_run ? ", DRY RUN" : "", n_vms,
        n_vms == 1 ? "" : "s",
        fleet.vms ? cost_text_compact(fleet.sum.host_cost_bytes, e, sizeof(e)) : "-",
        top_sort_name(opt->sort));
}

static void format_row(GString *line, const struct ctl_vm_status *v, unsigned name_w,
                       const char *ellipsis)
{
    char a[32], b[32], c[32], d[32], e[32];
    g_autofree char *name = g_utf8_make_valid(cost_text_or_dash(v->name), -1);
    append_cell(line, name, name_w, ellipsis);
    g_string_append_printf(line, " %6s %6s %6s %6s %6s %-8s %-10s %s",
                           cost_text_compact(v->cost.host_cost_bytes, a, sizeof(a)),
                           cost_text_compact(v->actual_bytes, b, sizeof(b)),
                           cost_text_compact(v->target_bytes, c, sizeof(c)),
                           cost_text_compact(v->guest_available_bytes, d, sizeof(d)),
                           cost_text_pct(v->psi_some_avg10_pct, e, sizeof(e)),
                           cost_text_or_dash(v->mode), cost_text_or_dash(v->agent),
                           cost_text_or_dash(v->last_reason));
}

/* The name column: the longest name, unless the terminal is too narrow. */
static unsigned name_columns(const struct ctl_vm_status *vms, size_t n_vms, unsigned columns,
                             unsigned *longest)
{
    unsigned w = 2; /* "VM" */
    for (size_t i = 0; i < n_vms; i++) {
        g_autofree char *name = g_utf8_make_valid(vms[i].name, -1);
        w = MAX(w, width_of(name));
    }
    *longest = w;
    if (!columns)
        return w;
    unsigned room = columns > FIXED_COLUMNS + REASON_MIN_COLUMNS
                        ? columns - FIXED_COLUMNS - REASON_MIN_COLUMNS
                        : 0;
    return MIN(w, MAX(room, NAME_MIN_COLUMNS));
}

void top_view_format(GString *out, const struct ctl_host_status *host,
                     const struct ctl_vm_status *vms, size_t n_vms,
                     const struct top_view_options *opt)
{
    const char *ellipsis = opt->utf8 ? "…" : "...";
    unsigned longest;
    unsigned name_w = name_columns(vms, n_vms, opt->columns, &longest);
    bool shortened = name_w < longest;
    /* Lines for VMs: the terminal's, less the host line, the header and the footers. */
    size_t shown = n_vms;
    if (opt->lines) {
        size_t room = opt->lines > 2u + shortened ? opt->lines - 2u - shortened : 1;
        if (n_vms > room)
            shown = room > 1 ? room - 1 : 1; /* one line says how many more */
    }
    g_autoptr(GString) line = g_string_new(NULL);
    format_host(line, host, vms, n_vms, opt);
    append_line(out, line->str, opt->columns, ellipsis);
    g_string_truncate(line, 0);
    append_cell(line, "VM", name_w, ellipsis);
    g_string_append_printf(line, " %6s %6s %6s %6s %6s %-8s %-10s %s", "COST", "ACTUAL", "TARGET",
                           "AVAIL", "PSI", "MODE", "AGENT", "REASON");
    append_line(out, line->str, opt->columns, ellipsis);
    g_autofree size_t *order = g_new(size_t, n_vms ? n_vms : 1);
    top_view_order(vms, n_vms, opt->sort, order);
    for (size_t i = 0; i < shown; i++) {
        g_string_truncate(line, 0);
        format_row(line, &vms[order[i]], name_w, ellipsis);
        append_line(out, line->str, opt->columns, ellipsis);
    }
    if (shown < n_vms)
        g_string_append_printf(out, "%s and %zu more VM%s (a taller terminal shows them)\n",
                               ellipsis, n_vms - shown, n_vms - shown == 1 ? "" : "s");
    if (shortened) {
        g_string_truncate(line, 0);
        g_string_append_printf(
            line, "names shortened with %s: `ballastctl status` shows them whole", ellipsis);
        append_line(out, line->str, opt->columns, ellipsis);
    }
}
