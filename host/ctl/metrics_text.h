/*
 * The Prometheus text exposition format (version 0.0.4) of the status
 * document: what `ballastctl metrics` prints (for node_exporter's textfile
 * collector) and what ballastd's metrics listener serves at GET /metrics.
 * One writer for both, from the same structs `status --json` is written
 * from (control.h), so the three can never disagree.
 *
 * Pure: structs in, text out. Every family gets its # HELP and # TYPE
 * lines, even without a sample; an unknown value (-1, NaN, unknown signed)
 * is left out rather than written as NaN, so a query sees "no data", never
 * a number that was not measured. Names follow Prometheus' conventions:
 * the ballast_ prefix, base units (_bytes, _seconds, ratios 0..1), _total
 * on counters, one label vm="NAME" per guest (escaped).
 */
#ifndef BALLAST_METRICS_TEXT_H
#define BALLAST_METRICS_TEXT_H

#include "control.h"

#include <glib.h>

/* What the listener sends as Content-Type. */
#define METRICS_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the whole exposition for host and vms[0..n) to out. */
void metrics_text_write(GString *out, const struct ctl_host_status *host,
                        const struct ctl_vm_status *vms, size_t n);

/* Appends v as a label value: \ -> \\, " -> \", newline -> \n. */
void metrics_text_label_value(GString *out, const char *v);

/*
 * The fleet's headroom, the figure a scheduler reads to place the next
 * guest: what is available to the fleet now (the budget view's
 * MemAvailable) plus what its guests hold above their floors (fleet cost -
 * floors; less when guests are under their floors and will grow). With a
 * budget this is budget - floors. CTL_UNKNOWN_S64 when a figure is
 * unknown; negative when the floors do not fit.
 */
int64_t metrics_text_headroom_bytes(const struct ctl_budget_status *b);

#endif
