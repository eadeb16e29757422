/*
 * The human table `ballastctl status` prints, built from the status document
 * (control.h). Pure: rows in, text out, so the tests check the layout without
 * a daemon.
 */
#ifndef BALLAST_STATUS_TABLE_H
#define BALLAST_STATUS_TABLE_H

#include "control.h"

#include <glib.h>

/*
 * Appends the host line (then a budget line when the daemon has a memory
 * budget or cgroup, two KSM lines when it reports KSM, the fleet's
 * host-cost line when some VM has a cost), a header and one line per VM to
 * out. Unknown values print as "-". The KSM columns (saved = sharing + zero
 * pages, the zero-page part, net of rmap cost, mergeable) appear only when
 * some VM has KSM figures, the COST column (host cost, cost_text_compact)
 * only when some VM has a cost.
 */
void status_table_format(GString *out, const struct ctl_host_status *host,
                         const struct ctl_vm_status *vms, size_t n_vms);

#endif
