/*
 * vmem_watch.h - whether a virtio-mem device follows its requested size, as
 * a pure per-device state machine: no I/O, no clock (now_ms is an input), no
 * allocation. docs/virtio-mem.md, "Policy".
 *
 * The loop it watches: ballastd sets the device's `requested-size` (QMP
 * qom-set, or libvirt's update of the <memory model='virtio-mem'> device);
 * the guest's virtio_mem driver plugs or unplugs blocks and QEMU's `size`
 * follows, announced by MEMORY_DEVICE_SIZE_CHANGE and readable with
 * query-memory-devices. Three ways it goes wrong, none of which QEMU
 * reports as an error:
 *   - an unplug stalls: the blocks hold memory the guest cannot migrate
 *     (unmovable kernel allocations, pinned pages); the size stops part way;
 *   - a plug stalls: the guest does not add the memory (out of memory for
 *     its memmap, a wedged driver);
 *   - the guest has no virtio_mem driver: the size never moves at all;
 * and the device can be unplugged from the VM at run time.
 *
 * A stall is VMEM_WATCH_STALL_MS without movement toward the requested size;
 * a slow device that keeps moving is waited for. After a stall the watch
 * holds the device where it got - never below that size after an unplug
 * stall, never above it after a plug stall or without a driver - for
 * VMEM_WATCH_HOLD_MIN_MS, doubling per stall in a row up to
 * VMEM_WATCH_HOLD_MAX_MS, then lets the caller try once more: a stuck device
 * is retried a few times an hour, never in a loop. A move in that direction
 * that completes ends the doubling. The caller asks vmem_watch_advise what
 * it may request meanwhile and the actuator plan (actuator.h) lets the
 * balloon do the rest.
 */
#ifndef BALLAST_VMEM_WATCH_H
#define BALLAST_VMEM_WATCH_H

#include <stdbool.h>
#include <stdint.h>

/* No movement toward the requested size for this long is a stall. */
#define VMEM_WATCH_STALL_MS 20000
/* The first hold after a stall; each further stall in a row doubles it ... */
#define VMEM_WATCH_HOLD_MIN_MS 60000
/* ... up to this (30 min). */
#define VMEM_WATCH_HOLD_MAX_MS 1800000

enum vmem_watch_state {
    VMEM_WATCH_CONVERGED = 0,  /* size == requested (or nothing seen yet) */
    VMEM_WATCH_CONVERGING,     /* size != requested, moved toward it within the stall time */
    VMEM_WATCH_STALLED_UNPLUG, /* an unplug stopped: held, not below the size reached */
    VMEM_WATCH_STALLED_PLUG,   /* a plug stopped: held, not above the size reached */
    VMEM_WATCH_DRIVER_MISSING, /* the size never moved since the first request: no driver */
    VMEM_WATCH_REMOVED,        /* the device left the VM; stays until vmem_watch_init */
};

enum vmem_watch_event {
    VMEM_WATCH_SIZE_CHANGE = 0, /* MEMORY_DEVICE_SIZE_CHANGE */
    VMEM_WATCH_QUERY,           /* query-memory-devices / qom-get answered (also a plain tick) */
    VMEM_WATCH_GONE,            /* DEVICE_DELETED, or the device is no longer listed */
};

/* One feed: the device's figures at now_ms, as the caller knows them. */
struct vmem_watch_input {
    int64_t now_ms; /* the caller's monotonic clock */
    enum vmem_watch_event event;
    uint64_t requested_bytes; /* requested-size in force (the last one sent) */
    uint64_t size_bytes;      /* the device's size now (ignored for GONE) */
};

/* A hold on one direction after a stall. */
struct vmem_watch_hold {
    uint32_t stalls;   /* stalls in a row in this direction (sets the hold's length) */
    bool held;         /* at_bytes and until_ms are meaningful */
    uint64_t at_bytes; /* the size the stall left */
    int64_t until_ms;  /* the hold ends here */
};

/* Per device, kept by the caller. Zeroed (or vmem_watch_init) = new device. */
struct vmem_watch {
    enum vmem_watch_state state;
    bool started;             /* a first feed was seen */
    uint64_t requested_bytes; /* the last feed's figures */
    uint64_t size_bytes;
    bool driver_seen;              /* the size ever moved, or was above 0 at the first feed */
    bool attempt_open;             /* size != requested: a move is under way */
    bool attempt_plug;             /* its direction: toward a larger size */
    bool attempt_moved;            /* it moved toward requested since it started */
    int64_t progress_ms;           /* its last movement toward requested (else its start) */
    struct vmem_watch_hold unplug; /* floor: not below at_bytes */
    struct vmem_watch_hold plug;   /* ceiling: not above at_bytes (a stall or no driver) */
};

/* What the caller may request now (actuator.h takes it as it is). Zeroed =
 * converged, no limits. */
struct vmem_watch_advice {
    enum vmem_watch_state state; /* with the holds' ends applied at now_ms */
    uint64_t floor_bytes;        /* request no less than this; 0 = no floor */
    bool capped;                 /* request no more than cap_bytes */
    uint64_t cap_bytes;
    int64_t until_ms; /* the earliest limit ends here; 0 = no limit */
};

void vmem_watch_init(struct vmem_watch *w);

/* Feeds the figures of one event; returns the state after it. A device
 * REMOVED stays removed (a device added again is a new device: init). */
enum vmem_watch_state vmem_watch_feed(struct vmem_watch *w, const struct vmem_watch_input *in);

/* What may be requested at now_ms: the floor and the ceiling of the holds
 * still running, and the state with any hold that ended by now ended. */
void vmem_watch_advise(const struct vmem_watch *w, int64_t now_ms, struct vmem_watch_advice *out);

/*
 * When the move under way becomes a stall if nothing moves until then
 * (its last progress + VMEM_WATCH_STALL_MS); 0 when no move is open or the
 * device is held. A stall is only entered by a feed: a device that stops
 * moving sends no event, so the caller feeds the figures it has again at
 * this time (vmem_drive_replan), or a stuck unplug would wait for the next
 * listing, minutes away.
 */
int64_t vmem_watch_stall_due_ms(const struct vmem_watch *w);

/* The guest could not move its device for a while (paused, or its QEMU out
 * of reach): a move still open gets a full stall time from now_ms, not the
 * time it sat there. */
void vmem_watch_restart_clock(struct vmem_watch *w, int64_t now_ms);

/* The hold after the n-th stall in a row (n >= 1): 60 s doubling, at most
 * 30 min; 0 for n = 0. */
int64_t vmem_watch_hold_ms(uint32_t stalls);

/* "converged", "converging", "stalled-unplug", "stalled-plug",
 * "driver-missing", "removed"; "?" for anything else. */
const char *vmem_watch_state_name(enum vmem_watch_state s);

/* One sentence per state for status and explain (static). */
const char *vmem_watch_reason(enum vmem_watch_state s);

#endif
