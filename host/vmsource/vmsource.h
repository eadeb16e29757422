/*
 * Where ballastd's guests come from, behind one small vtable.
 *
 * A VM source finds guests, tells ballastd when they appear and disappear,
 * moves their balloon target and reports what the balloon did. The fleet
 * source (vmsource_fleet.c) watches a `scripts/fleet` state directory and
 * talks QMP to each QEMU itself; a libvirt source will do the same through
 * virConnectDomainEventRegisterAny / virDomainSetMemoryFlags /
 * virDomainMemoryStats and a <channel> socket path. ballastd's manager only
 * sees this interface, so the policy, the agent connections and the control
 * socket are shared by both.
 *
 * Everything the manager sees runs on the GMainLoop: sources report through
 * `events` callbacks, never from another thread (the libvirt source makes
 * its calls on a worker thread of its own and reports their results here).
 */
#ifndef BALLAST_VMSOURCE_H
#define BALLAST_VMSOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

struct vmsource;
/* A source's own per-VM handle; opaque to the manager. */
struct vmsource_vm;

/* What the backend knows about a VM's balloon; -1 = unknown. */
struct vmsource_balloon {
    int64_t nominal_bytes;     /* memory the VM was started with */
    int64_t actual_bytes;      /* current balloon size as QEMU sees it */
    int64_t guest_total_bytes; /* virtio-balloon guest stats, when polled */
    int64_t guest_available_bytes;
    int64_t guest_free_bytes;
    int64_t guest_stats_update_s; /* wall clock of the guest stats, 0 = never */
    /* Wall clock (us) when actual_bytes took its value, as the backend stamped
     * it (QMP BALLOON_CHANGE "timestamp"); 0 = unknown (a query reply). */
    int64_t actual_changed_real_us;
    /* The balloon deflates on OOM (QEMU's virtio-balloon property
     * deflate-on-oom, libvirt's autodeflate='on'): the guest's safety net
     * while ballastd is down. 1, 0, -1 unknown. */
    int deflate_on_oom;
    /* The balloon reports the guest's free pages to the host (QEMU's
     * free-page-reporting, libvirt's freePageReporting='on'): memory the
     * guest frees goes back by itself. 1, 0, -1 unknown. */
    int free_page_reporting;
    /*
     * A virtio-mem device beside (or instead of) the balloon, when the
     * source drives one (docs/virtio-mem.md); vmem_max_bytes 0 = none. Then
     * nominal_bytes is boot + max and actual_bytes boot + plugged -
     * ballooned, and set_target splits a target between the two.
     */
    int64_t vmem_max_bytes;
    int64_t vmem_block_bytes;
    int64_t vmem_size_bytes;      /* plugged now */
    int64_t vmem_requested_bytes; /* requested-size in force */
    const char *vmem_state;       /* static: vmem_watch_state_name(), or NULL */
    const char *actuator;         /* static: "balloon", "virtio-mem", "both", or NULL */
    const char *actuator_reason;  /* static, one line for explain, or NULL */
    /*
     * What the guest's own figures are relative to, now: present_bytes the
     * memory its kernel has before the balloon (boot + plugged), and
     * present_actual_bytes that less what the balloon holds, as the devices
     * say. actual_bytes may differ from it while a move of ours is under
     * way (held on its way to the target, vmem_drive.h); a guest's
     * MemTotal never is. 0 = nominal_bytes and actual_bytes (no device).
     */
    int64_t present_bytes;
    int64_t present_actual_bytes;
    /*
     * Memory the actuator keeps in the guest above present_actual_bytes and
     * leaves free: a virtio-mem device's free net (its recent peak kept
     * plugged without a balloon to hold it, actuator.h rule 5), a block's
     * step. It is inside the guest's MemTotal but neither used nor the
     * balloon's; present_actual_bytes reads as at the target without it. 0
     * = none.
     */
    int64_t present_extra_bytes;
};

/* A balloon nobody has read yet: every figure unknown, no device. Named
 * members, so that a member added to the struct cannot shift the others. */
static inline struct vmsource_balloon vmsource_balloon_unknown(void)
{
    return (struct vmsource_balloon){
        .nominal_bytes = -1,
        .actual_bytes = -1,
        .guest_total_bytes = -1,
        .guest_available_bytes = -1,
        .guest_free_bytes = -1,
        .deflate_on_oom = -1,
        .free_page_reporting = -1,
    };
}

/* Callbacks from a source into its owner (ballastd's manager). */
struct vmsource_events {
    /* A VM appeared; returns the owner's cookie passed back in every later event. */
    void *(*vm_added)(void *ctx, struct vmsource_vm *vm, const char *name);
    /* The VM is gone: its handle and cookie must not be used after this returns. */
    void (*vm_removed)(void *ctx, void *cookie);
    /* The management connection (QMP, libvirt) came up or went down. */
    void (*vm_backend)(void *ctx, void *cookie, bool connected);
    /* New balloon figures (query-balloon reply, BALLOON_CHANGE, guest stats). */
    void (*vm_balloon)(void *ctx, void *cookie, const struct vmsource_balloon *balloon);
    /*
     * The outcome of a set_target that was sent: error NULL when the backend
     * took the target, else what went wrong (QEMU's or libvirt's message, or
     * "timed out"). Once per command that set_target returned 0 for, except
     * when the connection went down first (vm_backend says that) or when a
     * newer target for the same VM replaced it before it was sent (the
     * libvirt source merges sets waiting behind a stalled call: the newest
     * wins, and only its outcome comes). Never before set_target returns.
     */
    void (*vm_set_done)(void *ctx, void *cookie, uint64_t target_bytes, const char *error);
};

struct vmsource_ops {
    const char *kind; /* "fleet", "libvirt" */
    /* First scan and start watching; vm_added fires for every VM found. */
    int (*start)(struct vmsource *src, GError **error);
    /* Look for appeared/disappeared VMs now (also done on its own, slowly). */
    void (*rescan)(struct vmsource *src);
    /* Asks the backend to move the balloon; 0 when the request was sent (its
     * outcome comes as vm_set_done), -errno when it could not be (none comes). */
    int (*set_target)(struct vmsource *src, struct vmsource_vm *vm, uint64_t target_bytes);
    /*
     * Asks for fresh balloon figures; the answer arrives as vm_balloon.
     * guest_stats: also read the balloon driver's guest statistics (the
     * fallback when the VM has no agent).
     */
    void (*refresh)(struct vmsource *src, struct vmsource_vm *vm, bool guest_stats);
    /*
     * true: refresh at every tick (its figures, guest stats included, are
     * fresh only through it). false: balloon events keep the figures current,
     * and the manager refreshes only as a safety net or for guest stats.
     */
    bool refresh_each_tick;
    /* Host-side unix socket of the VM's agent channel, or NULL when it has none. */
    const char *(*agent_socket_path)(struct vmsource *src, struct vmsource_vm *vm);
    /* PID of the VM's QEMU (for KSM per-process figures), or -1. */
    pid_t (*vm_pid)(struct vmsource *src, struct vmsource_vm *vm);
    /* Stops watching, closes every connection, emits no more events, frees src. */
    void (*free)(struct vmsource *src);
};

struct vmsource {
    const struct vmsource_ops *ops;
    const struct vmsource_events *events;
    void *events_ctx;
};

#endif
