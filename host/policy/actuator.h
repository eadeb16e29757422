/*
 * actuator.h - how one VM's memory target is carried out when it has a
 * virtio-mem device beside (or instead of) its balloon: pure arithmetic, no
 * I/O, no clock, no globals, no allocation. docs/virtio-mem.md, "Policy".
 *
 * The policy engine (policy.h) decides one figure per VM, its total target:
 * working set + headroom, pressure-first growth, host pressure, budgets,
 * shares. It does not know how the memory is taken away. This file splits
 * that total between the two actuators:
 *
 *   guest memory = boot + plugged - ballooned
 *
 * where boot is the RAM the VM was started with (`-m`, not hot-pluggable),
 * plugged the virtio-mem device's `size` and ballooned what the balloon
 * holds. QEMU's `balloon` command and query-balloon's `actual` count boot
 * RAM only: virtio-mem memory is not in them. So a balloon that holds H is
 * sent `balloon boot - H` (balloon_qmp_bytes), whatever the device holds.
 *
 * The rules, in order (actuator_plan):
 *  1. Never below the floor: the plan aims at max(target, floor), the floor
 *     being the guest's working set + headroom; every rounding goes up.
 *  2. virtio-mem for bulk: it returns whole blocks (>= 2 MiB) that the host
 *     discards whole, huge pages included, and the guest sees its real size.
 *     The request is the memory above boot RAM rounded UP to a block, within
 *     [0, max] and the watch's holds (vmem_watch.h).
 *  3. The balloon for the rest: the step below a block (the rounding), and
 *     what lies below boot RAM, which virtio-mem cannot unplug.
 *  4. On a THP host the balloon skips the step below a block: a ballooned
 *     4 KiB page inside a 2 MiB huge page returns nothing until the kernel
 *     splits the page under memory pressure (docs/virtio-mem.md), so those
 *     pages would cost the guest memory and give the host none. The guest
 *     keeps up to a block above its target instead. Below boot RAM the
 *     balloon is still the only actuator and still takes the rest.
 *  5. The balloon as the deflate-on-OOM safety net: virtio-mem has no
 *     equivalent (a guest cannot plug memory on its own). With
 *     deflate-on-OOM, memory is plugged above the target and held in the
 *     balloon: at least one block, up to net_bytes (the caller's estimate
 *     of what a burst may take before ballastd can answer: the guest's
 *     recent peak, vmem_drive.h). The guest takes it back by itself under
 *     OOM, faster than any round trip through ballastd (which then sees the
 *     deflate and grows the target, policy.h): a guest idling 100 MiB under
 *     its peak that jumps by 128 MiB in 0.4 s is OOM-killed before a plug
 *     request arrives (docs/virtio-mem.md, "Benchmark"). Off THP the net is
 *     free for the host while ballooned. On a THP host the balloon's pages
 *     may return nothing until the kernel splits their huge pages, so the
 *     net can cost the host up to its size: the price of not killing the
 *     guest; the blocks return whole once the peak ages out and they are
 *     unplugged. There the net is kept only when net_bytes asks for one:
 *     a bare spare block would cost a huge page for a net too small to
 *     matter.
 *     Without a balloon that can take the net back (no balloon, or one
 *     without deflate-on-OOM) the net is the same peak plugged and left
 *     free in the guest (never held in a balloon): the only net that needs
 *     no round trip. Only a net the caller sized, as on a THP host.
 *  6. Growth: plug first, deflate the balloon. The caller sends the
 *     device's request before the balloon's. While a plug is pending the
 *     balloon holds no more than leaves the guest its target on the memory
 *     it has *now* (boot + the size plugged so far): a slow or missing plug
 *     never starves the guest, the balloon deflates at once; once the size
 *     is there the next plan takes the block's slack back into the balloon.
 *     Shrinking the other way round is safe as it is: the balloon is sized
 *     for the request, and the device's size only comes down to it.
 *  7. A device that does not follow (the watch's stalled states, no driver)
 *     or is gone: balloon only, with the reason. A stalled device is held
 *     where it got (its request = the size reached) so QEMU stops trying.
 *  8. Bad figures never reach QEMU: a block size that is not a power of
 *     two, a size or request not in whole blocks or above the device's max,
 *     are a broken device (balloon only, -EINVAL); a request leaves only
 *     when actuator_vmem_request_ok says so. A target above what the guest
 *     can ever have (boot + max) is held at that (-ERANGE).
 */
#ifndef BALLAST_ACTUATOR_H
#define BALLAST_ACTUATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "vmem_watch.h"

/* How long a guest's peak stays plugged as its net by default (rule 5; the
 * ballastd.conf key vmem_peak_hold_ms, host/vmsource/vmem_drive.h). */
#define ACTUATOR_NET_PEAK_MS (300 * 1000)

/* The balloon moves in 4 KiB pages (VIRTIO_BALLOON_PFN_SHIFT). */
#define ACTUATOR_BALLOON_PAGE_BYTES 4096ull
/* No VM figure is larger (64 TiB): the sums below cannot overflow. */
#define ACTUATOR_MAX_BYTES (64ull << 40)

enum actuator_kind {
    ACTUATOR_NONE = 0,   /* nothing to move: no balloon, no usable device, or no boot figure */
    ACTUATOR_BALLOON,    /* the balloon alone; a device, if any, held where it is */
    ACTUATOR_VIRTIO_MEM, /* the device alone; the balloon empty */
    ACTUATOR_BOTH,       /* the device in blocks, the balloon for the rest */
};

/* The VM's virtio-mem device as last seen (query-memory-devices / qom-get). */
struct actuator_vmem {
    bool present;
    uint64_t block_bytes;           /* block-size: a power of two */
    uint64_t max_bytes;             /* the memory backend's size: the most it can plug */
    uint64_t plugged_bytes;         /* size: plugged now */
    uint64_t requested_bytes;       /* requested-size in force */
    struct vmem_watch_advice watch; /* vmem_watch_advise now; zeroed = converged, no holds */
};

struct actuator_in {
    uint64_t target_bytes; /* the policy's total target for the guest */
    uint64_t floor_bytes;  /* working set + headroom: never planned below */
    uint64_t boot_bytes;   /* RAM at start (-m): the balloon's whole range */
    bool has_balloon;
    bool deflate_on_oom; /* the balloon has it: the guest may take pages back */
    bool host_thp;       /* the host backs guest RAM with transparent huge pages */
    /* Rule 5: how much plugged memory the balloon should hold above the
     * target as the deflate-on-OOM net; 0 = one block. Used only with a
     * balloon that has deflate-on-OOM. */
    uint64_t net_bytes;
    struct actuator_vmem vmem;
};

struct actuator_out {
    enum actuator_kind actuator;
    bool vmem_valid;               /* vmem_requested_bytes is a request to send */
    uint64_t vmem_requested_bytes; /* whole blocks, in [0, max] */
    bool vmem_changed;             /* it differs from the request in force */
    bool balloon_valid;            /* the balloon has a target to send */
    uint64_t balloon_held_bytes;   /* what the balloon holds back, in 4 KiB pages */
    uint64_t balloon_qmp_bytes;    /* QMP `balloon` value: boot - held */
    /* Guest memory once the device reached its request: boot + requested -
     * held. What the engine calls the VM's target. >= max(target, floor)
     * unless short_bytes says otherwise. */
    uint64_t total_bytes;
    uint64_t total_now_bytes; /* the same with the size plugged now */
    uint64_t short_bytes;     /* how far total_bytes is under max(target, floor) */
    const char *reason;       /* static, one line for explain */
};

/*
 * Plans one VM. Returns 0; -EINVAL when boot_bytes is 0 or implausible
 * (ACTUATOR_NONE, nothing to send) or the device's figures are broken
 * (planned on the balloon alone); -ERANGE when max(target, floor) is more
 * than the guest can have (planned at the most it can have). out is always
 * filled and always safe to carry out.
 */
int actuator_plan(const struct actuator_in *in, struct actuator_out *out);

/* Whether the device's figures make sense: block a power of two (>= 4 KiB),
 * max, size and request whole blocks, size and request <= max, max <=
 * ACTUATOR_MAX_BYTES. */
bool actuator_vmem_valid(const struct actuator_vmem *dev);

/* The gate before a request reaches QEMU: a valid device, the request a
 * multiple of its block size and no more than its max. */
bool actuator_vmem_request_ok(const struct actuator_vmem *dev, uint64_t requested_bytes);

/* "none", "balloon", "virtio-mem", "both"; "?" for anything else. */
const char *actuator_kind_name(enum actuator_kind k);

#endif
