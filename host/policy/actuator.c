/* A VM's total target split between virtio-mem and the balloon (see actuator.h). */
#include "actuator.h"

#include <errno.h>
#include <string.h>

/* The reasons, one line each for explain. */
static const char R_NO_BOOT[] = "boot memory unknown or implausible: nothing planned";
static const char R_BAD_DEVICE[] = "virtio-mem device figures invalid: balloon only";
static const char R_NO_DEVICE[] = "no virtio-mem device: balloon only";
static const char R_REMOVED[] = "virtio-mem device removed: balloon only";
static const char R_NO_DRIVER[] = "no virtio_mem driver in the guest: balloon only";
static const char R_NOTHING[] = "no balloon and no usable virtio-mem device: nothing to move";
static const char R_OVER[] = "target above boot + virtio-mem max: planned at the most the guest "
                             "can have";
static const char R_UNPLUG_STALLED[] = "virtio-mem unplug stalled (memory the guest cannot move): "
                                       "held where it got, balloon for the rest";
static const char R_PLUG_STALLED[] = "virtio-mem plug stalled: held where it got, balloon only";
/* The same stalls on a guest without a balloon: nothing takes the rest. */
static const char R_UNPLUG_STALLED_NB[] = "virtio-mem unplug stalled (memory the guest cannot "
                                          "move): held where it got; no balloon for the rest";
static const char R_PLUG_STALLED_NB[] = "virtio-mem plug stalled: held where it got; no balloon "
                                        "to make up the difference";
static const char R_PLUGGING[] = "virtio-mem plugging first; the balloon deflated until the "
                                 "blocks are there";
static const char R_NO_BALLOON[] = "no balloon: virtio-mem in whole blocks, boot memory stays";
static const char R_THP_BOTH[] = "THP host: balloon pages return nothing; virtio-mem for bulk, "
                                 "balloon for the rest";
static const char R_THP_VMEM[] = "THP host: balloon pages return nothing; virtio-mem in whole "
                                 "blocks";
static const char R_NET[] = "virtio-mem for bulk; plugged memory in the balloon as the "
                            "deflate-on-OOM net";
static const char R_THP_NET[] = "THP host: virtio-mem for bulk; plugged memory in the balloon as "
                                "the deflate-on-OOM net, returned whole when unplugged";
static const char R_FREE_NET[] = "virtio-mem for bulk; no deflate-on-OOM balloon, so the recent "
                                 "peak stays plugged as free headroom";
static const char R_FINE[] = "virtio-mem for bulk, balloon for the step below a block";
static const char R_BELOW_BOOT[] = "virtio-mem unplugged; the balloon takes boot memory, which "
                                   "cannot be unplugged";
static const char R_VMEM[] = "virtio-mem in whole blocks";

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* block is a power of two (actuator_vmem_valid). */
static uint64_t round_up(uint64_t v, uint64_t block)
{
    return (v + block - 1) & ~(block - 1);
}

static uint64_t round_down(uint64_t v, uint64_t block)
{
    return v & ~(block - 1);
}

bool actuator_vmem_valid(const struct actuator_vmem *dev)
{
    uint64_t k = dev->block_bytes;
    if (k < ACTUATOR_BALLOON_PAGE_BYTES || (k & (k - 1)) != 0)
        return false;
    if (dev->max_bytes > ACTUATOR_MAX_BYTES || dev->max_bytes % k != 0)
        return false;
    if (dev->plugged_bytes > dev->max_bytes || dev->plugged_bytes % k != 0)
        return false;
    return dev->requested_bytes <= dev->max_bytes && dev->requested_bytes % k == 0;
}

bool actuator_vmem_request_ok(const struct actuator_vmem *dev, uint64_t requested_bytes)
{
    return actuator_vmem_valid(dev) && requested_bytes % dev->block_bytes == 0 &&
           requested_bytes <= dev->max_bytes;
}

const char *actuator_kind_name(enum actuator_kind k)
{
    static const char *const names[] = {
        [ACTUATOR_NONE] = "none",
        [ACTUATOR_BALLOON] = "balloon",
        [ACTUATOR_VIRTIO_MEM] = "virtio-mem",
        [ACTUATOR_BOTH] = "both",
    };
    if ((unsigned)k >= sizeof(names) / sizeof(names[0]))
        return "?";
    return names[k];
}

/* The balloon's share, in whole pages; the figures that follow from it. */
static void set_balloon(const struct actuator_in *in, uint64_t want, uint64_t requested,
                        uint64_t plugged, uint64_t held, struct actuator_out *out)
{
    uint64_t boot = in->boot_bytes;
    held = in->has_balloon ? round_down(min_u64(held, boot), ACTUATOR_BALLOON_PAGE_BYTES) : 0;
    out->balloon_valid = in->has_balloon;
    out->balloon_held_bytes = held;
    out->balloon_qmp_bytes = in->has_balloon ? boot - held : 0;
    out->total_bytes = boot + requested - held;
    out->total_now_bytes = boot + plugged - held;
    out->short_bytes = want > out->total_bytes ? want - out->total_bytes : 0;
}

/*
 * The balloon alone: no device, a broken or removed one (its memory counted
 * as none: the balloon then errs toward leaving the guest more), or one
 * whose guest has no driver (held at the size it has, so that QEMU keeps no
 * request pending that nothing will ever carry out).
 */
static void plan_balloon_only(const struct actuator_in *in, uint64_t want, bool hold_device,
                              const char *reason, struct actuator_out *out)
{
    uint64_t plugged = hold_device ? in->vmem.plugged_bytes : 0;
    if (hold_device && actuator_vmem_request_ok(&in->vmem, plugged)) {
        out->vmem_valid = true;
        out->vmem_requested_bytes = plugged;
        out->vmem_changed = plugged != in->vmem.requested_bytes;
    }
    uint64_t have = in->boot_bytes + plugged;
    set_balloon(in, want, plugged, plugged, have > want ? have - want : 0, out);
    out->actuator = in->has_balloon ? ACTUATOR_BALLOON : ACTUATOR_NONE;
    out->reason = in->has_balloon ? reason : R_NOTHING;
}

/* The watch's holds, in whole blocks within [0, max]. */
static uint64_t hold_request(const struct actuator_vmem *dev, uint64_t want_blocks, bool *floored,
                             bool *capped)
{
    uint64_t k = dev->block_bytes, max = dev->max_bytes;
    uint64_t r = want_blocks;
    uint64_t cap = dev->watch.capped ? round_down(min_u64(dev->watch.cap_bytes, max), k) : max;
    uint64_t floor = round_up(min_u64(dev->watch.floor_bytes, max), k);
    *capped = false;
    *floored = false;
    if (r > cap) {
        r = cap;
        *capped = true;
    }
    if (r < floor) {
        r = floor;
        *floored = true;
    }
    return r;
}

static const char *vmem_reason(const struct actuator_in *in, uint64_t want, bool net, bool free_net,
                               bool plugging, uint64_t held)
{
    if (free_net && !plugging)
        return R_FREE_NET;
    if (!in->has_balloon)
        return R_NO_BALLOON;
    if (plugging)
        return R_PLUGGING;
    if (net)
        return in->host_thp ? R_THP_NET : R_NET;
    if (in->host_thp)
        return held > 0 ? R_THP_BOTH : R_THP_VMEM;
    if (held == 0)
        return R_VMEM;
    return want > in->boot_bytes ? R_FINE : R_BELOW_BOOT;
}

/*
 * Rule 5, the deflate-on-OOM net: the blocks plugged above the target's own
 * for the balloon to hold. At least one block; net_bytes when the caller
 * knows more (the guest's recent peak, vmem_drive.h); no more than the
 * device's max above the target's blocks, nor than the balloon can hold:
 * boot RAM's worth (the QMP value is boot-relative), less a block so that
 * the net and the step below a block leave that value above 0, which QEMU
 * refuses.
 */
static uint64_t net_blocks(const struct actuator_in *in, uint64_t want, uint64_t blocks)
{
    const struct actuator_vmem *dev = &in->vmem;
    uint64_t boot = in->boot_bytes, k = dev->block_bytes;
    if (!in->has_balloon || !in->deflate_on_oom)
        return 0;
    /* On a THP host only a net the caller sized: a bare spare block would
     * cost a huge page for a net too small to matter. */
    if (in->host_thp && in->net_bytes == 0)
        return 0;
    uint64_t room = boot > k ? boot - k : 0;
    uint64_t net = min_u64(max_u64(in->net_bytes, k), room);
    uint64_t top = want + net; /* <= boot + max + boot: no overflow (ACTUATOR_MAX_BYTES) */
    uint64_t top_blocks = top > boot ? min_u64(round_up(top - boot, k), dev->max_bytes) : 0;
    return top_blocks > blocks ? top_blocks - blocks : 0;
}

/*
 * Rule 5 without a balloon that can take its net back (no balloon, or one
 * without deflate-on-OOM): the blocks plugged above the target's own and
 * left free in the guest, up to net_bytes (the recent peak) and the
 * device's max. Only a net the caller sized: one spare block is too small
 * to save a burst and would only cost the host.
 */
static uint64_t free_net_blocks(const struct actuator_in *in, uint64_t want, uint64_t blocks)
{
    const struct actuator_vmem *dev = &in->vmem;
    uint64_t boot = in->boot_bytes, k = dev->block_bytes;
    if ((in->has_balloon && in->deflate_on_oom) || in->net_bytes == 0)
        return 0;
    /* The net is counted from the target, which may lie below boot RAM:
     * only the sum is held to the device's max (a target of 72 MiB on 128
     * at boot with a 256 MiB peak keeps all 128 MiB of the device). */
    uint64_t net = min_u64(in->net_bytes, ACTUATOR_MAX_BYTES);
    uint64_t top = want + net; /* <= 2 * ACTUATOR_MAX_BYTES: no overflow */
    uint64_t top_blocks = top > boot ? min_u64(round_up(top - boot, k), dev->max_bytes) : 0;
    return top_blocks > blocks ? top_blocks - blocks : 0;
}

/* The device usable: blocks for bulk, the balloon for the rest (actuator.h, rules 2-6). */
static void plan_vmem(const struct actuator_in *in, uint64_t want, struct actuator_out *out)
{
    const struct actuator_vmem *dev = &in->vmem;
    uint64_t boot = in->boot_bytes, k = dev->block_bytes, plugged = dev->plugged_bytes;
    uint64_t need = want > boot ? want - boot : 0; /* <= max: want was held to boot + max */
    uint64_t blocks = round_up(need, k);
    uint64_t slack = blocks - need;
    uint64_t spare = net_blocks(in, want, blocks);
    uint64_t free_spare = free_net_blocks(in, want, blocks);
    bool floored, capped;
    uint64_t req = hold_request(dev, blocks + spare + free_spare, &floored, &capped);
    /* capped only trimming the net leaves nothing short. */
    capped = capped && req < blocks;
    bool net = spare > 0 && req > blocks;
    /* The free net (what of it the holds let through) is the guest's to use:
     * the balloon never holds it. */
    uint64_t free_got = free_spare > 0 && req > blocks ? min_u64(req - blocks, free_spare) : 0;

    uint64_t held = boot + req > want + free_got ? boot + req - want - free_got : 0;
    if (in->host_thp)
        held = held > slack ? held - slack : 0;
    bool plugging = false;
    if (req > plugged) {
        /* Plug pending: leave the guest its target on what it has now. */
        uint64_t now_spare = boot + plugged > want ? boot + plugged - want : 0;
        plugging = in->has_balloon && held > now_spare;
        held = min_u64(held, now_spare);
    }
    out->vmem_valid = actuator_vmem_request_ok(dev, req);
    out->vmem_requested_bytes = req;
    out->vmem_changed = req != dev->requested_bytes;
    set_balloon(in, want, req, plugged, held, out);

    if (floored || capped) {
        out->actuator = in->has_balloon ? ACTUATOR_BALLOON : ACTUATOR_VIRTIO_MEM;
        if (in->has_balloon)
            out->reason = floored ? R_UNPLUG_STALLED : R_PLUG_STALLED;
        else
            out->reason = floored ? R_UNPLUG_STALLED_NB : R_PLUG_STALLED_NB;
        return;
    }
    out->actuator = out->balloon_held_bytes > 0 ? ACTUATOR_BOTH : ACTUATOR_VIRTIO_MEM;
    out->reason = vmem_reason(in, want, net, free_got > 0, plugging, out->balloon_held_bytes);
}

int actuator_plan(const struct actuator_in *in, struct actuator_out *out)
{
    memset(out, 0, sizeof(*out));
    out->actuator = ACTUATOR_NONE;
    out->reason = R_NO_BOOT;
    if (in->boot_bytes == 0 || in->boot_bytes > ACTUATOR_MAX_BYTES)
        return -EINVAL;

    const struct actuator_vmem *dev = &in->vmem;
    bool dev_ok = dev->present && actuator_vmem_valid(dev);
    bool removed = dev_ok && dev->watch.state == VMEM_WATCH_REMOVED;
    bool no_driver = dev_ok && dev->watch.state == VMEM_WATCH_DRIVER_MISSING;
    int rc = dev->present && !dev_ok ? -EINVAL : 0;

    /* Rule 1: the floor; and no more than the guest can ever have. */
    uint64_t want = max_u64(in->target_bytes, in->floor_bytes);
    uint64_t most = in->boot_bytes + (dev_ok && !removed ? dev->max_bytes : 0);
    bool over = want > most;
    if (over)
        want = most;

    if (!dev->present)
        plan_balloon_only(in, want, false, R_NO_DEVICE, out);
    else if (!dev_ok)
        plan_balloon_only(in, want, false, R_BAD_DEVICE, out);
    else if (removed)
        plan_balloon_only(in, want, false, R_REMOVED, out);
    else if (no_driver)
        plan_balloon_only(in, want, true, R_NO_DRIVER, out);
    else
        plan_vmem(in, want, out);

    if (over) {
        uint64_t asked = max_u64(in->target_bytes, in->floor_bytes);
        out->short_bytes = asked > out->total_bytes ? asked - out->total_bytes : 0;
        if (rc == 0) {
            rc = -ERANGE;
            out->reason = R_OVER;
        }
    }
    return rc;
}
