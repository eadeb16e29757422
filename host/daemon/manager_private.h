/*
 * manager_private.h — ballastd's per-VM and manager state, shared by the
 * manager (manager.c: the tick, the events, actuation) and the control
 * request handlers (requests.c). Not for anything outside host/daemon.
 */
#ifndef BALLAST_MANAGER_PRIVATE_H
#define BALLAST_MANAGER_PRIVATE_H

#include "manager.h"

#include "agent_conn.h"
#include "budget_monitor.h"
#include "config.h"
#include "control.h"
#include "cost_monitor.h"
#include "ksm_monitor.h"
#include "state_file.h"
#include "libvirt_module.h"
#include "policy.h"
#include "set_retry.h"
#include "target_history.h"
#include "vm_override.h"
#include "vm_policy.h"
#include "vm_saved.h"
#include "vmsource.h"

#include <glib.h>

struct lv_policy;
struct metrics_http;

struct bd_vm {
    struct manager *m;
    char name[CTL_VM_NAME_MAX];
    struct vmsource *src; /* the source this VM came from */
    struct vmsource_vm *handle;
    bool libvirt; /* src is the libvirt source */
    struct lv_policy
        *meta; /* libvirt: the domain's metadata policy as last read; NULL for the fleet */
    struct vm_policy_cache policy; /* resolved policy; see resolved_policy() in manager.c */
    bool agent_parked;             /* agent closed by a stopped/release notify */
    bool backend_up;
    struct vmsource_balloon balloon;
    bool has_agent;
    struct agent_conn agent;
    struct proto_report report;
    gint64 report_ms;
    /* When the report arrived: the balloon's actual as the devices had it
     * (vmsource_balloon.present_actual_bytes for a virtio-mem guest), -1
     * unknown; and what the guest had before the balloon (boot + plugged,
     * or nominal), 0 unknown. The guest's figures are relative to these. */
    int64_t report_actual_bytes;
    int64_t report_present_bytes;
    /* And what the actuator kept free in the guest above that actual
     * (vmsource_balloon.present_extra_bytes), 0 none. */
    int64_t report_extra_bytes;
    /* When the host last saw the virtio-mem device move (policy_vm_in's
     * device_moved_ms), 0 never; and whether it is still on its way (then
     * the move is "now" at every decision). */
    gint64 device_moved_ms;
    bool device_moving;
    bool report_valid;
    struct vmcost_boot_reserve boot_reserve; /* learned from the reports (guest_mem) */
    /* A report of the guest arrived since ballastd started (agent, or
     * guest-stats stamped after the start): until then no shrink
     * (policy_vm_in.awaiting_report). */
    bool reported;
    bool pressure_event;
    /* Monotonic ms of the guest's last sign of pressure (a PRESSURE frame,
     * a report under pressure, an OOM kill), 0 none: a balloon rise within
     * PLANNER_DEFLATE_PRESSURE_MS of it is the guest's deflate on OOM. */
    gint64 pressure_seen_ms;
    uint64_t target_set_bytes; /* last target sent to QEMU, 0 = none since (re)connect */
    gint64 last_set_ms;
    /* deflate-on-oom seen on the balloon's events (on_vm_balloon): */
    struct target_history sent;       /* targets sent, by wall-clock time */
    uint64_t guest_raised_over_bytes; /* for the next decision, 0 = none */
    gint64 raise_counted_real_us;     /* events stamped before this are counted */
    bool evaluated;                   /* in/out below are from the last tick */
    struct policy_vm_in in;
    struct policy_vm_state pstate;
    struct policy_actuation_memo pstate_before; /* put back when a decision is not sent */
    struct policy_vm_out out;
    uint64_t logged_target;
    const char *status_reason; /* why it was not evaluated (a static string) */
    char *config_error;        /* why config forced safe mode, NULL = none */
    /* Convergence watch after a growth: when did the balloon get there? */
    uint64_t grow_wait_bytes; /* target of the growth being watched, 0 = none */
    gint64 grow_trigger_ms;   /* arrival of the report / PRESSURE that asked for it */
    gint64 grow_sent_ms;      /* when the balloon command went out */
    int64_t grow_latency_ms;  /* last measured report -> balloon reached, -1 = none */
    struct vm_override ovr;
    struct ksm_monitor_vm ksm;
    struct cost_monitor_vm cost; /* host cost, read once a minute (manager_cost.c) */
    /* The event path: a decision for this VM alone (vm_decide_soon). */
    guint decide_id;
    gint64 last_decide_ms;
    uint64_t event_decisions;
    /* Backend requests for this VM (QMP query-balloon / balloon under the
     * fleet): status shows them, so a test can tell that an event on one VM
     * cost nothing on the others. */
    uint64_t balloon_queries;
    gint64 refresh_ms; /* last query-balloon asked at a tick */
    uint64_t balloon_sets;
    /* Failed balloon commands: rolled back, retried with back-off, counted
     * (host/policy/set_retry.h; on_vm_set_done in manager.c). */
    struct set_retry retry;
    uint64_t grows, shrinks; /* of balloon_sets: up, down (metrics) */
    /* The least the engine would leave it (budget_vm_floor), at the last
     * tick; -1 before. Their sum is what the fleet budget must hold. */
    int64_t budget_floor_bytes;
    /* What a restart must not lose (manager_state.c): */
    struct vm_saved *restore; /* read from the state file, put back when its QEMU is up */
    char *restored;           /* what was put back, for explain; NULL none */
    uint64_t saved_hash;      /* of the record last seen (a change makes a write) */
    int64_t qemu_pid;         /* its QEMU, as the record names it; 0 unknown */
    uint64_t qemu_start_ticks;
    uint64_t release_bytes; /* on_exit = release: the target sent at exit, 0 none */
    /* Someone else's balloon target (manager_foreign.c): held there until
     * `ballastctl resume`. */
    uint64_t foreign_bytes;     /* 0 = none */
    gint64 foreign_real_us;     /* wall clock when it was first seen */
    const char *foreign_by;     /* who, as far as known (a static string) */
    gint64 foreign_seen_ms;     /* monotonic, when first seen */
    uint64_t foreign_rose_over; /* a rise: the target it rose over; 0 a fall */
    /* Said, counted and kept over a restart (planner_foreign_settle): a
     * rise is held at once but is someone else's only when the guest's
     * pressure does not follow within PLANNER_DEFLATE_PRESSURE_MS. */
    bool foreign_confirmed;
    uint64_t foreign_changes; /* balloon changes that were someone else's */
    bool deflate_warned;      /* "no deflate-on-oom" said (once per VM) */
    /* Does its QEMU still hold what the balloon claims given? (manager_cost.c) */
    struct vmcost_audit audit;
    bool audited; /* audit is from a cost read with the balloon known */
};

/* One VM source and its way back to the manager (the events' ctx). */
struct bd_source {
    struct manager *m;
    struct vmsource *src;
};

#define MANAGER_MAX_SOURCES 2 /* the fleet and one libvirt connection */

struct manager {
    char *fleet_dir;                /* NULL: no fleet source */
    char *libvirt_uri;              /* NULL: no libvirt source */
    const struct lv_module_api *lv; /* ballast-libvirt.so, loaded for libvirt_uri */
    char *config_dir;
    char *proc_root;
    unsigned rescan_ms;
    bool dry_run;
    struct config *cfg;
    struct bd_source sources[MANAGER_MAX_SOURCES];
    unsigned n_sources;
    guint notify_id;         /* libvirt rescan asked for by a `notify started` */
    GPtrArray *vms;          /* struct bd_vm *, sorted by name */
    struct policy_host host; /* the real host (/proc), as last read */
    bool host_valid;
    /* The fleet memory budget: the host the engine sees (budget_monitor_host)
     * is the tighter of this host, memory_cgroup's and the budget. */
    struct budget_monitor budget;
    bool host_warned;
    gint64 host_read_ms; /* when m->host was read */
    guint tick_id;
    uint64_t tick_ms;
    guint soon_id;
    guint collect_id;        /* polled agents are read, then the tick runs */
    struct fd_group *agents; /* every VM's agent socket, one GLib source */
    gint64 last_tick_ms;
    gint64 start_wall_s; /* wall clock at manager_start: guest-stats older are from before */
    uint64_t ticks, balloon_changes, removed_rejects;
    uint64_t event_ticks;  /* ticks run at once for a PRESSURE frame or a report */
    guint watch_id;        /* fast query-balloon polling while a growth converges */
    gint64 ksm_read_ms;    /* last host KSM read (ksm_tick) */
    guint ksm_guard_id;    /* ksmd's CPU each second while ballast paces it (ksm_guard_arm) */
    gint64 ksm_vm_read_ms; /* last per-VM ksm_stat read (ksm_read_vms) */
    struct proto_config agent_config;
    bool exiting; /* on_exit = release under way: nothing is decided any more */
    char *ksm_sysfs_root;
    struct ksm_monitor ksm;
    /* The state file (manager_state.c). */
    char *socket_path;    /* the control socket: state_file = auto goes beside it */
    char *state_file_opt; /* --state-file, NULL: ballastd.conf decides */
    char *state_path;     /* NULL: nothing kept */
    char boot_id[STATE_FILE_BOOT_ID_MAX];
    GHashTable *saved;     /* name -> struct vm_saved *: read, its VM not seen yet */
    gint64 saved_until_ms; /* those not seen by then are dropped */
    bool state_dirty;
    gint64 state_written_ms;
    guint state_id;          /* a write waiting for its gap */
    int state_error;         /* the last write's -errno, said once; 0 ok */
    bool state_ksmd_started; /* the host part as last captured (ksm_monitor_owns_ksmd) */
    uint64_t state_writes;
    /* Metrics (manager_metrics.c). */
    struct latency_hist grow_latency; /* every growth's report -> reached, since start */
    struct metrics_http *metrics;     /* the metrics_listen listener, NULL when off or failed */
    char metrics_listen[CONFIG_CGROUP_PATH_MAX]; /* what it was asked to listen on, "" off */
    const struct ctl_peer *peer; /* the caller of the request being handled, else NULL */
};

static inline gint64 now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

/* The VM's policy (cached; resolved again when an input changed). */
const struct vm_policy *manager_vm_policy(struct manager *m, struct bd_vm *vm);

/* The VM of that name, or NULL. */
struct bd_vm *manager_find_vm(struct manager *m, const char *name);
/* Where the VM's policy comes from now: "file", "metadata" or "defaults". */
const char *vm_policy_source(struct manager *m, struct bd_vm *vm);
/* Per-VM KSM figures no older than one KSM interval, for a control request. */
void manager_ksm_fresh_vms(struct manager *m);
/* manager_cost.c: the VMs' host costs due at a scheduled tick (vmcost_due). */
void manager_cost_tick(struct manager *m, gint64 now);
/* vm's host cost read now unless younger than MANAGER_COST_FRESH_MS (a request). */
void manager_cost_fresh(struct manager *m, struct bd_vm *vm);

/* requests.c: the exposition text of the status rows (g_free), for the
 * listener and the metrics request. */
char *manager_metrics_text(struct manager *m);
/* manager_metrics.c: ballastd's own RSS (proc_root/self/statm) and CPU. */
void manager_self_usage(const char *proc_root, struct ctl_host_status *h);
/* The listener as metrics_listen says now: started, moved, stopped or kept. */
void manager_metrics_configure(struct manager *m);
void manager_metrics_stop(struct manager *m);
/* manager_foreign.c: other balloon controllers (docs/policy.md, "Other
 * balloon controllers"). A balloon change classified FOREIGN: the VM is
 * held at the other controller's target, said once. */
void manager_foreign_seen(struct bd_vm *vm, uint64_t foreign_bytes, int64_t changed_real_us,
                          uint64_t rose_over_bytes);
/* At a sign of the guest's pressure and at each tick: a rise held as
 * foreign but not said yet becomes someone else's for good, or the guest's
 * deflate on OOM after all (planner_foreign_settle); then the hold ends
 * and the next decision counts the deflate. */
void manager_foreign_settle(struct bd_vm *vm);
/* After each decision for vm: a held VM's answer becomes the hold's. */
void manager_foreign_apply(struct bd_vm *vm);
/* A hold kept in the state file, put back into the same QEMU after a restart. */
void manager_foreign_restore(struct bd_vm *vm, uint64_t foreign_bytes, int64_t since_s);
/* `ballastctl resume`: the hold ends; false when there was none. */
bool manager_foreign_resume(struct bd_vm *vm);

/* manager_state.c: the state file. Read at the start, before any VM appears. */
void manager_state_load(struct manager *m);
/* A VM appeared: its record leaves the table, its overrides apply now. */
void manager_state_vm_added(struct manager *m, struct bd_vm *vm);
/* Its QEMU came up (or went down): the rest of its record is put back once. */
void manager_state_vm_up(struct manager *m, struct bd_vm *vm, bool up);
/* After decisions and requests: the file is written when a record changed. */
void manager_state_note(struct manager *m);
/* After a KSM decision: written when ksmd's owner changed (the host part). */
void manager_state_note_host(struct manager *m);
/* Writes if anything changed: now, or at most once per MANAGER_STATE_WRITE_GAP_MS. */
void manager_state_flush(struct manager *m, bool now);
void manager_state_clear(struct manager *m);
/* After a reload: state_file may name another place (written there next). */
void manager_state_reconfigure(struct manager *m);

#endif
