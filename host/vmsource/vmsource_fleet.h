/*
 * The fleet VM source: guests started by `scripts/fleet start --state DIR`,
 * one directory per guest, DIR/<name>/{qmp.sock,agent.sock,pid,...} as
 * host/fleetdir/fleet_layout.h lays it out.
 *
 * Guests are noticed through a GFileMonitor (inotify) on DIR, which triggers
 * a short burst of rescans (a guest's directory appears before QEMU creates
 * its sockets), plus a slow rescan as a safety net, and a rescan whenever a
 * QMP connection drops (a killed QEMU leaves its socket file behind, so the
 * pid file decides whether it is still there).
 */
#ifndef BALLAST_VMSOURCE_FLEET_H
#define BALLAST_VMSOURCE_FLEET_H

#include "vmsource.h"

#include <glib.h>

/* Slow safety-net rescan period: inotify and QMP hangups do the real work;
 * a rescan costs a stat, a pid file and a /proc read per guest. */
#define FLEET_RESCAN_MS 15000

/*
 * Creates the source for state directory dir (not yet started: call
 * src->ops->start). rescan_ms: the slow rescan period (0 = FLEET_RESCAN_MS).
 */
struct vmsource *vmsource_fleet_new(const char *dir, unsigned rescan_ms,
                                    const struct vmsource_events *events, void *events_ctx);

/* config vmem_peak_hold_ms for the guests found from now on (default
 * VMEM_DRIVE_PEAK_MS; vmem_drive.h). */
void vmsource_fleet_set_vmem_peak_hold_ms(struct vmsource *src, uint64_t ms);

/* Whether the caller already knows name's QEMU to be alive (NULL: none is). */
typedef bool (*fleet_scan_live_fn)(const char *name, void *ctx);

/*
 * One scan of dir: appends (g_strdup'd, sorted) the names of live guests —
 * a valid name (fleet_layout_name_valid) whose paths fit their limits, a
 * directory holding a qmp.sock socket, and either no pid file or a pid file
 * naming a live process. A name for which live() says yes is
 * kept without those checks (the source passes "its QMP connection is up":
 * a QEMU that dies hangs up, and that triggers a scan of its own), so a
 * periodic scan of a settled fleet reads the directory and nothing else.
 * Returns 0 or -errno (dir unreadable).
 */
int fleet_scan(const char *dir, GPtrArray *names, fleet_scan_live_fn live, void *ctx);

#endif
