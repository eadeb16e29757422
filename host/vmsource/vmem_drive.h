/*
 * A fleet guest's virtio-mem device driven beside its balloon, as the fleet
 * source's bookkeeping: pure (no I/O, no clock: now_ms is an input), so the
 * arithmetic is tested without QEMU. fleet_qmp.c does the QMP around it.
 * docs/virtio-mem.md, "ballastd".
 *
 * The manager knows one figure per VM, its memory, and sets one target. For
 * a guest with a virtio-mem device that memory is
 *
 *   boot + plugged - ballooned = balloon_raw + size
 *
 * (QEMU's query-balloon `actual` counts boot RAM only). A target is split
 * by actuator_plan (host/policy/actuator.h) into a requested size for the
 * device and a value for the balloon, which fleet_qmp sends in that order.
 *
 * The loop this closes: while a plug is under way the plan leaves the guest
 * its target on the memory it has now (the balloon deflates at once, the
 * device catches up); once the device reaches its request, the next plan
 * takes the block's slack back into the balloon (vmem_drive_replan). In
 * between the guest briefly has more than its target because of us, and
 * the manager would read that rise as a guest's deflate-on-OOM or someone
 * else's command (planner_classify_balloon). So the memory reported to the
 * manager (vmem_drive_actual_bytes) is, while a move of ours is under way
 * (the device not at its request, or the balloon not at the value sent),
 * held on its way from the figure last reported toward the target: never
 * past the target, never back. A shrink whose balloon deflates by a few
 * hundred KiB before the device's blocks go (a rise over the new target,
 * the very reading of a guest's deflate or someone else's command) and a
 * device that unplugs before the balloon has taken its part (a dip under
 * it) both read as the one move toward the target that they are. The plan's
 * own total over the target (a block's step) is left out throughout. Once
 * both have arrived the figure is the real one: a balloon that moves after
 * that is the guest's (deflate-on-OOM) or someone else's, and shows. The
 * figures carry no QEMU time stamp (the sum mixes two devices' events):
 * the manager compares them with the target in force.
 */
#ifndef BALLAST_VMEM_DRIVE_H
#define BALLAST_VMEM_DRIVE_H

#include "actuator.h"
#include "vmsource.h"

#include <stdbool.h>
#include <stdint.h>

/* The balloon counts as at our value within this: QEMU's actual is exact
 * to the page once the driver is done, and a guest's deflate-on-OOM gives
 * back 1 MiB at a time (VIRTIO_BALLOON_OOM_NR_PAGES), which must show. */
#define VMEM_DRIVE_BALLOON_SLACK_BYTES (256u << 10)

/*
 * The deflate-on-OOM net (actuator.h, rule 5) is the guest's recent peak:
 * the most memory the manager gave it (or, at the first plan, the memory it
 * had) in the last 5 to 10 minutes, kept in two buckets of this length. The
 * plan keeps that peak plugged and the balloon holds what lies above the
 * target, which the guest takes back by itself under OOM; with no balloon
 * that can do that, the part above the target stays free in the guest
 * (the free net, rule 5). A burst the
 * guest made once is expected again; memory it has not needed for a
 * bucket or two is unplugged. 5 minutes matches the planner's hold-down
 * after a deflate-on-OOM (policy.h): a guest that burst keeps its memory
 * at least as long either way.
 */
#define VMEM_DRIVE_PEAK_MS ACTUATOR_NET_PEAK_MS

struct vmem_drive {
    bool active;         /* a usable virtio-mem device was seen */
    uint64_t boot_bytes; /* query-memory-size-summary base-memory; 0 unknown */
    bool has_balloon;    /* a balloon device was found */
    bool stopped;        /* the guest paused or out of reach: no stall is counted */
    bool deflate_on_oom;
    bool host_thp;            /* the QEMU process's RAM may sit in huge pages */
    int64_t balloon_raw;      /* query-balloon / BALLOON_CHANGE actual; -1 unknown */
    struct actuator_vmem dev; /* figures as last seen (watch advice filled per plan) */
    struct vmem_watch watch;
    uint64_t target_bytes;       /* the manager's last target; 0 none yet */
    uint64_t balloon_sent_bytes; /* QMP value last sent; 0 none */
    bool balloon_reached;        /* balloon_raw came within slack of it since */
    struct actuator_out last;    /* the last plan: actuator and reason for explain */
    int64_t hold_until_ms;       /* a hold of the watch the last plan obeyed ends here; 0 none */
    uint64_t reported_bytes;     /* the last vmem_drive_actual_bytes; 0 none yet */
    int64_t peak_bucket_ms;      /* VMEM_DRIVE_PEAK_MS; 0 = no memory, a one-block net */
    bool peak_started;           /* peak_* below are set */
    int64_t peak_since_ms;       /* the current bucket began */
    uint64_t peak_cur_bytes;     /* the most in the current bucket */
    uint64_t peak_prev_bytes;    /* the most in the one before */
    int64_t peak_next_ms;        /* the net shrinks at this time (a replan is due); 0 none */
};

/* What to send for one plan, in this order. */
struct vmem_drive_cmd {
    bool send_vmem;
    uint64_t vmem_requested_bytes;
    bool send_balloon;
    uint64_t balloon_qmp_bytes;
};

void vmem_drive_init(struct vmem_drive *d);

/* The device's figures from query-memory-devices or a size change; feeds the
 * watch. Returns true when the device has just reached its request or the
 * watch's state changed: time for vmem_drive_replan. */
bool vmem_drive_device(struct vmem_drive *d, const struct actuator_vmem *dev, bool size_change,
                       int64_t now_ms);
/* The device left the VM (no longer listed). */
void vmem_drive_gone(struct vmem_drive *d, int64_t now_ms);
/* A balloon figure (boot-relative, as QEMU reports it). */
void vmem_drive_balloon(struct vmem_drive *d, uint64_t balloon_raw_bytes);

/* Plans target_bytes (the manager's) now; fills what to send. Returns
 * actuator_plan's code. Nothing to send when !d->active or boot unknown. */
int vmem_drive_plan(struct vmem_drive *d, uint64_t target_bytes, int64_t now_ms,
                    struct vmem_drive_cmd *cmd);
/* The same for the target in force, after the device moved or a hold
 * ended; false (and nothing to send) when there is no target yet or the
 * plan sends nothing new. */
bool vmem_drive_replan(struct vmem_drive *d, int64_t now_ms, struct vmem_drive_cmd *cmd);
/* When the next hold of the watch ends, the net's peak ages out or a move
 * under way turns into a stall if nothing moves (a replan is due then: it
 * feeds the watch the figures it has first); 0 none. */
int64_t vmem_drive_next_ms(const struct vmem_drive *d);
/* The guest runs and its QEMU answers (true), or not: while not, a move
 * under way is not timed (a paused guest moves nothing), and when it runs
 * again the move gets a full stall time. */
void vmem_drive_set_running(struct vmem_drive *d, bool running, int64_t now_ms);
/* Whether such a time (vmem_drive_next_ms) has come by now_ms (a replan is
 * due). */
bool vmem_drive_hold_ended(const struct vmem_drive *d, int64_t now_ms);
/* Whole seconds from now_ms to vmem_drive_next_ms, at least 1 and at most a
 * day, for the owner's replan timer (it shares its wakeup with ballastd's
 * other second timers); 0 when nothing is due. */
unsigned vmem_drive_timer_s(const struct vmem_drive *d, int64_t now_ms);

/* The guest's memory for the manager (see above); -1 unknown. */
int64_t vmem_drive_actual_bytes(struct vmem_drive *d);
/* What the guest has before the balloon now, boot + plugged, and that less
 * the balloon, without the holding vmem_drive_actual_bytes does: what the
 * guest's own MemTotal is relative to (vmsource_balloon.present_bytes);
 * -1 unknown. The second, like the first's figure, counts the plan's own
 * step over the target (a whole block) as at the target. */
int64_t vmem_drive_present_bytes(const struct vmem_drive *d);
int64_t vmem_drive_present_actual_bytes(const struct vmem_drive *d);
/* What the second leaves out: the plan's own memory over the target that
 * the guest holds free (a block's step, a plug's slack, the free net of
 * actuator.h rule 5), inside its MemTotal but not used; 0 when none. */
int64_t vmem_drive_present_extra_bytes(const struct vmem_drive *d);
/* The most the guest can have: boot + the device's max; -1 unknown. */
int64_t vmem_drive_nominal_bytes(const struct vmem_drive *d);

/*
 * The manager's figures of a guest whose device is driven, into b (the
 * fleet's and the libvirt source's alike): nominal = boot + max, actual =
 * vmem_drive_actual_bytes, the present figures, the device's vmem_* fields
 * and explain's actuator line. Without a usable device only the vmem and
 * present fields are cleared: b keeps the balloon's own figures. Not pure
 * in one way: it moves the held figure on (vmem_drive_actual_bytes).
 */
void vmem_drive_fill(struct vmem_drive *d, int64_t now_ms, struct vmsource_balloon *b);

#endif
