/*
 * ballastd's manager: the state of every VM and the tick that closes the
 * loop (read host + guests -> policy_evaluate -> planner -> actuate). It
 * owns the VM sources (fleet and/or libvirt), the per-VM agent connections
 * and the configuration, and answers control requests (requests.c).
 * main() (ballastd.c) only parses argv, wires signals and runs the
 * GMainLoop.
 */
#ifndef BALLAST_MANAGER_H
#define BALLAST_MANAGER_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

/* The planner's rules and their constants (command budget, shrink gap,
 * convergence watch, poll and refresh schedule) are in host/policy/planner.h. */
/* An event tick (libvirt policy change) runs at most this often. */
#define MANAGER_MIN_TICK_GAP_MS 100
/* A PRESSURE frame, a report that wants growth or a guest deflating on OOM
 * decides for that VM alone at once, at most this often per VM. */
#define MANAGER_VM_MIN_DECIDE_GAP_MS 150
/* Agents report this often (or at the tick, when it is shorter). */
#define MANAGER_REPORT_INTERVAL_MS 1000
/* Per-VM KSM figures (ksm_stat) when nobody asks: once a minute, for the
 * log; a status or explain request reads them if older than an interval. */
#define MANAGER_KSM_VM_READ_MS 60000
/* Each VM's host cost (its QEMU's smaps) is read once a minute, a few VMs a
 * tick (VMCOST_PERIOD_MS, vmcost_due); explain, or status with "fresh", reads
 * it again if older than this. */
#define MANAGER_COST_FRESH_MS 5000
/* The state file is written when a VM's record changed, at most this often. */
#define MANAGER_STATE_WRITE_GAP_MS 1000
/* State read for a VM that has not appeared this long after the start is
 * dropped (a guest stopped while ballastd was down). */
#define MANAGER_STATE_GRACE_MS 600000

struct manager_options {
    const char *fleet_dir;      /* NULL: no fleet source */
    const char *libvirt_uri;    /* NULL: no libvirt source */
    const char *config_dir;     /* NULL: built-in defaults */
    const char *proc_root;      /* "/proc" */
    const char *ksm_sysfs_root; /* NULL: /sys/kernel/mm/ksm */
    bool dry_run;
    unsigned rescan_ms;      /* fleet safety-net rescan, 0 = default */
    const char *socket_path; /* the control socket (state_file = auto goes beside it) */
    const char *state_file;  /* --state-file: a path or "none"; NULL: ballastd.conf decides */
};

struct manager;

struct manager *manager_new(const struct manager_options *opts);
/* Loads the config, starts the VM source and the tick. -errno + error on failure. */
int manager_start(struct manager *m, GError **error);
/* Whether on_exit = release (ballastd.conf): ballastd calls manager_release first. */
bool manager_exit_releases(const struct manager *m);
/* on_exit = release: stops deciding, gives every managed balloon its
 * max_memory back and waits for them (at most PLANNER_RELEASE_WAIT_MS,
 * running the default main context); manager_exit.c. */
void manager_release(struct manager *m);
/* SIGHUP: reload the config directory; VM and controller state are kept. */
void manager_reload(struct manager *m);
/* Stops everything (connections closed, timers removed) and frees. */
void manager_free(struct manager *m);

/* ctlserver handler: one request line in, one reply line out (g_free); requests.c.
 * A change (set-policy, dry-run, notify) is refused over the read-only
 * socket and logged with the peer's uid and pid. */
struct ctl_peer;
char *manager_handle_request(void *m, const struct ctl_peer *peer, const char *line, size_t len);
/* ro_socket_group of ballastd.conf, "" for none (ballastd.c binds the read-only socket). */
const char *manager_ro_socket_group(const struct manager *m);

#endif
