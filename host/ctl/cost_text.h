/*
 * The host cost as people read it (`ballastctl explain`, the status table):
 * whole MiB that add up, a compact column, the fleet's line. Pure: structs
 * in, text out, so the tests check it without a daemon.
 */
#ifndef BALLAST_COST_TEXT_H
#define BALLAST_COST_TEXT_H

#include "control.h"

#include <glib.h>

/* Parts of a sum shown in whole MiB: at most this many. */
#define COST_TEXT_MAX_PARTS 8

/*
 * Rounds n (<= COST_TEXT_MAX_PARTS) byte figures to whole MiB so that they
 * add up to their sum rounded: each part is rounded down, and the MiB left
 * over go to the parts with the largest remainders (ties to the first).
 * Returns the rounded sum. Without this, 30.4 + 12.4 + 40.4 + 1.4 = 84.6
 * would print as 85 = 30 + 12 + 40 + 1.
 */
uint64_t cost_text_mib_parts(const uint64_t *bytes, size_t n, uint64_t *mib_out);

/*
 * explain's lines (each starting with two spaces, ending with a newline):
 *   host cost 86 MiB = guest unique 30 + KSM share 12 + QEMU own 40 + page
 *   tables 1; KSM saved 70, zero pages 20; balloon holds 108; THP-backed 0
 *   (read 12 s ago)
 *   guest memory: used 90 MiB = cache 40 + anon 30 + kernel+other 20 (report 1 s ago)
 * or, from an agent that sends the used memory by kind (protocol v2):
 *   guest memory: used 37 MiB = cache 1 + shmem 2 + anon 1 + slab 14 (reclaimable
 *   9) + kernel 7 (stacks 1, page tables 0, vmalloc 7) + other 12 (report 1 s
 *   ago); kernel reserved at boot 38
 * (" + balloon N" before other when the guest counts its balloon as used;
 * the reserve when known), or what is unknown and why.
 */
void cost_text_explain(GString *out, const struct ctl_vm_cost *c, const struct ctl_guest_mem *g);

/* Shared by the status table and `top`: a percentage with two decimals,
 * "-" when NaN (unknown); a string, "-" when NULL or empty. */
const char *cost_text_pct(double pct, char *buf, size_t len);
const char *cost_text_or_dash(const char *s);

/* The table's column: "86M", "1.2G", "-" for unknown. */
const char *cost_text_compact(int64_t bytes, char *buf, size_t len);

/* The status table's fleet line ("cost: ..."), nothing when no VM has a cost. */
void cost_text_fleet(GString *out, const struct ctl_fleet_cost *f);

#endif
