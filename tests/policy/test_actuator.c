/*
 * The actuator plan (actuator.h): a VM's total target split between
 * virtio-mem blocks and the balloon. Block rounding, the floor never
 * crossed, the QMP balloon value relative to boot RAM, THP, the
 * deflate-on-OOM spare block, plug first on growth, each fallback with its
 * reason, and bad figures that must never reach QEMU.
 */
#include "actuator.h"
#include "cunit_main.h"
#include "vmem_watch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define KIB  1024ull
#define MIB  (1024ull * KIB)
#define GIB  (1024ull * MIB)
#define BOOT (512 * MIB)

/* A 512 MiB guest with a balloon and a device of up to 1.5 GiB in 2 MiB
 * blocks, converged at plugged. */
static struct actuator_in guest(uint64_t target, uint64_t plugged)
{
    struct actuator_in in = {
        .target_bytes = target,
        .boot_bytes = BOOT,
        .has_balloon = true,
        .vmem = {.present = true,
                 .block_bytes = 2 * MIB,
                 .max_bytes = 1536 * MIB,
                 .plugged_bytes = plugged,
                 .requested_bytes = plugged},
    };
    return in;
}

static bool has(const char *text, const char *part)
{
    return text != NULL && strstr(text, part) != NULL;
}

/* What every plan must keep, whatever the input. */
static void check_invariants(const struct actuator_in *in, const struct actuator_out *o)
{
    uint64_t want = in->target_bytes > in->floor_bytes ? in->target_bytes : in->floor_bytes;
    CU_ASSERT_EQUAL(o->balloon_held_bytes % ACTUATOR_BALLOON_PAGE_BYTES, 0);
    CU_ASSERT(o->balloon_held_bytes <= in->boot_bytes);
    if (o->balloon_valid)
        CU_ASSERT_EQUAL(o->balloon_qmp_bytes, in->boot_bytes - o->balloon_held_bytes);
    if (o->vmem_valid) {
        CU_ASSERT_TRUE(actuator_vmem_request_ok(&in->vmem, o->vmem_requested_bytes));
        CU_ASSERT_EQUAL(o->total_bytes,
                        in->boot_bytes + o->vmem_requested_bytes - o->balloon_held_bytes);
    }
    /* Never below the floor once the device got there, unless short says so. */
    CU_ASSERT_EQUAL(o->total_bytes + o->short_bytes >= want, true);
    /* ... and not now either: the balloon never takes what a pending plug
     * has not brought yet. */
    uint64_t plugged = o->vmem_valid ? in->vmem.plugged_bytes : 0;
    uint64_t reach = in->boot_bytes + plugged;
    CU_ASSERT(o->total_now_bytes >= (want < reach ? want : reach));
}

static void test_block_rounding(void)
{
    struct actuator_out o;
    /* 101 MiB above boot: 51 blocks (102 MiB), the balloon holds the 1 MiB. */
    struct actuator_in in = guest(BOOT + 101 * MIB, 102 * MIB);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 102 * MIB);
    CU_ASSERT_TRUE(o.vmem_valid);
    CU_ASSERT_FALSE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 1 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 101 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BOTH);
    CU_ASSERT_TRUE(has(o.reason, "balloon for the step below a block"));
    check_invariants(&in, &o);

    /* Large blocks: 128 MiB, the balloon holds 27 MiB of the one block. */
    in = guest(BOOT + 101 * MIB, 128 * MIB);
    in.vmem.block_bytes = 128 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 128 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 27 * MIB);

    /* Whole blocks: the device alone. */
    in = guest(BOOT + 100 * MIB, 100 * MIB);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 100 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_VIRTIO_MEM);
    CU_ASSERT_STRING_EQUAL(o.reason, "virtio-mem in whole blocks");

    /* Not page-aligned: the balloon's share rounds down, the total up. */
    in = guest(BOOT + 101 * MIB + 1000, 102 * MIB);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 102 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, MIB - 4096);
    CU_ASSERT(o.total_bytes >= in.target_bytes);
    CU_ASSERT(o.total_bytes - in.target_bytes < ACTUATOR_BALLOON_PAGE_BYTES);
    check_invariants(&in, &o);
}

/* Over a sweep of targets and block sizes, THP on and off: whole blocks
 * within [0, max], the total at or just over the target. */
static void test_rounding_sweep(void)
{
    static const uint64_t blocks[] = {2 * MIB, 4 * MIB, 128 * MIB, 1 * GIB};
    for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
        for (int thp = 0; thp <= 1; thp++) {
            for (uint64_t t = 64 * MIB; t <= BOOT + 2 * GIB; t += 777 * KIB + 13) {
                struct actuator_in in = guest(t, 0);
                in.vmem.block_bytes = blocks[b];
                in.vmem.max_bytes = 2 * GIB;
                in.host_thp = thp;
                struct actuator_out o;
                CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
                /* As if converged: the device at its request. */
                in.vmem.plugged_bytes = in.vmem.requested_bytes = o.vmem_requested_bytes;
                CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
                CU_ASSERT_EQUAL(o.vmem_requested_bytes % blocks[b], 0);
                CU_ASSERT(o.vmem_requested_bytes <= 2 * GIB);
                CU_ASSERT_EQUAL(o.short_bytes, 0);
                CU_ASSERT(o.total_bytes >= t);
                /* Off THP the balloon takes all but a page (of a block
                 * larger than boot RAM, no more than boot RAM); on THP the
                 * guest keeps up to a block above its target. */
                uint64_t over = o.total_bytes - t;
                uint64_t beyond = blocks[b] > BOOT ? blocks[b] - BOOT : 0;
                CU_ASSERT(over < (thp ? blocks[b] : ACTUATOR_BALLOON_PAGE_BYTES + beyond));
                check_invariants(&in, &o);
            }
        }
    }
}

static void test_floor_never_crossed(void)
{
    struct actuator_out o;
    /* The policy's target under the floor: the floor wins. */
    struct actuator_in in = guest(300 * MIB, 0);
    in.floor_bytes = BOOT + 99 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 100 * MIB);
    CU_ASSERT(o.total_bytes >= BOOT + 99 * MIB);

    /* Any mix of target, floor, plugged size and flags. */
    for (uint64_t floor = 0; floor <= BOOT + GIB; floor += 97 * MIB) {
        for (uint64_t t = 32 * MIB; t <= BOOT + GIB; t += 89 * MIB) {
            for (uint64_t p = 0; p <= 1536 * MIB; p += 256 * MIB) {
                for (int flags = 0; flags < 8; flags++) {
                    in = guest(t, p);
                    in.floor_bytes = floor;
                    in.host_thp = flags & 1;
                    in.deflate_on_oom = flags & 2;
                    in.vmem.requested_bytes = (flags & 4) ? 0 : p;
                    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
                    CU_ASSERT_EQUAL(o.short_bytes, 0);
                    check_invariants(&in, &o);
                }
            }
        }
    }
}

/* QEMU's `balloon` counts boot RAM only: the value sent is boot - held,
 * never the total, which can be above boot RAM. */
static void test_qmp_balloon_arithmetic(void)
{
    struct actuator_out o;
    /* 1 GiB boot, 512 MiB plugged that cannot come out (unplug stalled):
     * 1.25 GiB wanted, so the balloon holds 256 MiB of the 1.5 GiB. */
    struct actuator_in in = guest(1280 * MIB, 512 * MIB);
    in.boot_bytes = 1 * GIB;
    in.vmem.watch.state = VMEM_WATCH_STALLED_UNPLUG;
    in.vmem.watch.floor_bytes = 512 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 512 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 256 * MIB);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 768 * MIB); /* not 1280: QEMU would clamp to boot */
    CU_ASSERT_EQUAL(o.total_bytes, 1280 * MIB);
    CU_ASSERT_EQUAL(o.total_now_bytes, 1280 * MIB);
    check_invariants(&in, &o);

    /* Below boot RAM: nothing plugged, the balloon takes the rest of boot. */
    in = guest(300 * MIB, 0);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 0);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 212 * MIB);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 300 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BOTH);
    CU_ASSERT_TRUE(has(o.reason, "boot memory, which cannot be unplugged"));

    /* Shrinking from plugged memory: the balloon is sized for the request;
     * the guest has more until the blocks are out. */
    in = guest(300 * MIB, 256 * MIB);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 0);
    CU_ASSERT_TRUE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 300 * MIB);
    CU_ASSERT_EQUAL(o.total_now_bytes, 556 * MIB);
}

static void test_thp_host(void)
{
    struct actuator_out o;
    /* Above boot: the block's slack stays with the guest, the balloon empty. */
    struct actuator_in in = guest(BOOT + 101 * MIB, 102 * MIB);
    in.host_thp = true;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 102 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, BOOT);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 102 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_VIRTIO_MEM);
    CU_ASSERT_STRING_EQUAL(o.reason,
                           "THP host: balloon pages return nothing; virtio-mem in whole blocks");
    /* Deflate-on-OOM alone changes nothing on THP: a bare spare block would
     * cost a huge page for a net too small to matter. */
    in.deflate_on_oom = true;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 102 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    /* A net the caller sized (the guest's recent peak) is kept on THP too:
     * it may cost the host what it holds; a guest killed by a burst costs
     * more. Plugged above and held, the block's slack still the guest's. */
    in.net_bytes = 10 * MIB;
    in.vmem.plugged_bytes = in.vmem.requested_bytes = 112 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 112 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 10 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 102 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BOTH);
    CU_ASSERT_TRUE(has(o.reason, "THP host") && has(o.reason, "deflate-on-OOM net"));
    check_invariants(&in, &o);

    /* Below boot the balloon is still the only way down. */
    in = guest(300 * MIB, 0);
    in.host_thp = true;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 212 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BOTH);
    CU_ASSERT_STRING_EQUAL(o.reason, "THP host: balloon pages return nothing; virtio-mem for "
                                     "bulk, balloon for the rest");
}

/* The net as large as the caller asks (the guest's recent peak): plugged
 * above the target and held by the balloon, so a burst of that size is the
 * guest's to take back by itself; bounded by the device and by what the
 * balloon can hold; none without deflate-on-OOM. */
static void test_deflate_net_sized(void)
{
    struct actuator_out o;
    /* Converged with the net plugged: the balloon holds it. */
    struct actuator_in in = guest(BOOT + 101 * MIB, 202 * MIB);
    in.deflate_on_oom = true;
    in.net_bytes = 100 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 202 * MIB); /* 101 + 100, rounded up */
    CU_ASSERT_FALSE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 101 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 101 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BOTH);
    CU_ASSERT_STRING_EQUAL(o.reason, "virtio-mem for bulk; plugged memory in the balloon as the "
                                     "deflate-on-OOM net");
    check_invariants(&in, &o);

    /* From 102 MiB plugged the net is a plug like any other: the balloon
     * holds nothing the guest has not got yet. */
    in.vmem.plugged_bytes = in.vmem.requested_bytes = 102 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 202 * MIB);
    CU_ASSERT_TRUE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 1 * MIB);
    CU_ASSERT_EQUAL(o.total_now_bytes, BOOT + 101 * MIB);
    check_invariants(&in, &o);

    /* Without deflate-on-OOM the balloon is no net: the peak stays plugged
     * and free in the guest; the balloon holds only the step below a block. */
    in = guest(BOOT + 101 * MIB, 202 * MIB);
    in.net_bytes = 100 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 202 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 1 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 201 * MIB);
    CU_ASSERT_TRUE(has(o.reason, "peak stays plugged as free headroom"));
    check_invariants(&in, &o);

    /* No more than the device has: capped at its max. */
    in = guest(BOOT + 1400 * MIB, 1536 * MIB);
    in.deflate_on_oom = true;
    in.net_bytes = 400 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 1536 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 136 * MIB);
    CU_ASSERT_EQUAL(o.short_bytes, 0);
    check_invariants(&in, &o);

    /* No more than the balloon can hold: boot RAM's worth, less a block so
     * that the QMP value stays above 0 (QEMU refuses 0). 2 GiB asked of a
     * 512 MiB boot: a net of 510 MiB. */
    in = guest(BOOT + 101 * MIB, 612 * MIB);
    in.deflate_on_oom = true;
    in.net_bytes = 2 * GIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 612 * MIB); /* 101 + 510, rounded up */
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 511 * MIB);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 1 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 101 * MIB);
    check_invariants(&in, &o);

    /* Below boot RAM the balloon already holds boot memory the guest can
     * take back: a net that fits in it plugs nothing... */
    in = guest(300 * MIB, 0);
    in.deflate_on_oom = true;
    in.net_bytes = 150 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 0);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 212 * MIB);
    /* ... a larger one plugs the rest, held too. */
    in = guest(300 * MIB, 38 * MIB);
    in.deflate_on_oom = true;
    in.net_bytes = 250 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 38 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 250 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, 300 * MIB);
    check_invariants(&in, &o);

    /* A plug cap (the watch) trimming the net only: nothing short, the net
     * as large as the cap allows. */
    in = guest(BOOT + 101 * MIB, 150 * MIB);
    in.deflate_on_oom = true;
    in.net_bytes = 100 * MIB;
    in.vmem.watch.capped = true;
    in.vmem.watch.cap_bytes = 150 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 150 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 49 * MIB);
    CU_ASSERT_EQUAL(o.short_bytes, 0);
    CU_ASSERT_TRUE(has(o.reason, "deflate-on-OOM net"));
}

/* No balloon to take a net back (--actuator virtio-mem, or a balloon
 * without deflate-on-OOM): the recent peak stays plugged and free in the
 * guest, so a burst up to it needs no round trip through ballastd. */
static void test_free_net(void)
{
    struct actuator_out o;
    struct actuator_in in = guest(BOOT + 101 * MIB, 102 * MIB);
    in.has_balloon = false;
    in.net_bytes = 100 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 202 * MIB); /* 101 + 100, rounded up */
    CU_ASSERT_TRUE(o.vmem_changed);
    CU_ASSERT_FALSE(o.balloon_valid);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 202 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_VIRTIO_MEM);
    CU_ASSERT_STRING_EQUAL(o.reason, "virtio-mem for bulk; no deflate-on-OOM balloon, so the "
                                     "recent peak stays plugged as free headroom");
    check_invariants(&in, &o);

    /* No peak above the target (net_bytes 0): the plain plan, no spare
     * block that would only cost the host. */
    in.net_bytes = 0;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 102 * MIB);
    CU_ASSERT_TRUE(has(o.reason, "no balloon"));

    /* Capped at the device's max, nothing short. */
    in = guest(BOOT + 1400 * MIB, 1400 * MIB);
    in.has_balloon = false;
    in.net_bytes = 400 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 1536 * MIB);
    CU_ASSERT_EQUAL(o.short_bytes, 0);
    check_invariants(&in, &o);

    /* A target below boot RAM with a peak above it: the net counts from
     * the target, so the device keeps the peak's blocks (300 + 1700 = 2000:
     * 1488 MiB above boot), not a max's worth above the target. */
    in = guest(300 * MIB, 1536 * MIB);
    in.has_balloon = false;
    in.net_bytes = 1700 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 1488 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, 2000 * MIB);
    check_invariants(&in, &o);

    /* A peak under boot RAM needs nothing plugged: boot memory is the net. */
    in = guest(300 * MIB, 0);
    in.has_balloon = false;
    in.net_bytes = 150 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 0);
    CU_ASSERT_FALSE(o.vmem_changed);

    /* A balloon without deflate-on-OOM while the net plugs: the balloon
     * leaves the guest its target on what it has now, and never holds the
     * net once the blocks are there. */
    in = guest(BOOT + 101 * MIB, 50 * MIB);
    in.net_bytes = 100 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 202 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_TRUE(has(o.reason, "plugging first"));
    check_invariants(&in, &o);
    in.vmem.plugged_bytes = in.vmem.requested_bytes = 202 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 1 * MIB);
    CU_ASSERT_EQUAL(o.total_now_bytes, BOOT + 201 * MIB);

    /* A plug cap (the watch) trims the free net, not the target's blocks. */
    in = guest(BOOT + 101 * MIB, 150 * MIB);
    in.has_balloon = false;
    in.net_bytes = 100 * MIB;
    in.vmem.watch.capped = true;
    in.vmem.watch.cap_bytes = 150 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 150 * MIB);
    CU_ASSERT_EQUAL(o.short_bytes, 0);
    CU_ASSERT_TRUE(has(o.reason, "free headroom"));
    check_invariants(&in, &o);
}

/* Off THP, with deflate-on-OOM: one spare block plugged and ballooned. */
static void test_deflate_net(void)
{
    struct actuator_out o;
    struct actuator_in in = guest(BOOT + 101 * MIB, 104 * MIB);
    in.deflate_on_oom = true;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 104 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 3 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 101 * MIB);
    CU_ASSERT_TRUE(has(o.reason, "deflate-on-OOM net"));
    check_invariants(&in, &o);

    /* No room for a spare block under max: the plain split. */
    in = guest(BOOT + 1535 * MIB, 1536 * MIB);
    in.deflate_on_oom = true;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 1536 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 1 * MIB);
    CU_ASSERT_TRUE(has(o.reason, "step below a block"));

    /* A plug hold that only trims the spare block: nothing short, no stall said. */
    in = guest(BOOT + 101 * MIB, 102 * MIB);
    in.deflate_on_oom = true;
    in.vmem.watch.capped = true;
    in.vmem.watch.cap_bytes = 102 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 102 * MIB);
    CU_ASSERT_EQUAL(o.short_bytes, 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BOTH);
    CU_ASSERT_TRUE(has(o.reason, "step below a block"));
}

/* Growth: plug first; the balloon leaves the guest its target on what it
 * has now, and takes the block's slack back once the blocks are there. */
static void test_growth_plugs_first(void)
{
    struct actuator_out o;
    struct actuator_in in = guest(BOOT + 199 * MIB, 64 * MIB);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 200 * MIB);
    CU_ASSERT_TRUE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.total_now_bytes, BOOT + 64 * MIB);
    CU_ASSERT_TRUE(has(o.reason, "plugging first"));
    check_invariants(&in, &o);
    /* The blocks arrived. */
    in.vmem.plugged_bytes = in.vmem.requested_bytes = 200 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_FALSE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 1 * MIB);

    /* From below boot to above it: the balloon empties at once. */
    in = guest(BOOT + 10 * MIB, 0);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 10 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, BOOT);

    /* Part of the plug there: the balloon stays empty until it all is. */
    in = guest(BOOT + 399 * MIB, 300 * MIB);
    in.vmem.requested_bytes = 400 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 400 * MIB);
    CU_ASSERT_FALSE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);

    /* The spare block on its way: the balloon holds what the guest can
     * spare now (1 MiB), not yet the 3 MiB it will. */
    in = guest(BOOT + 101 * MIB, 102 * MIB);
    in.deflate_on_oom = true;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 104 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 1 * MIB);
    CU_ASSERT_EQUAL(o.total_now_bytes, BOOT + 101 * MIB);
    check_invariants(&in, &o);
}

static void test_fallback_no_device(void)
{
    struct actuator_out o;
    struct actuator_in in = guest(300 * MIB, 0);
    in.vmem.present = false;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BALLOON);
    CU_ASSERT_FALSE(o.vmem_valid);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 300 * MIB);
    CU_ASSERT_STRING_EQUAL(o.reason, "no virtio-mem device: balloon only");
    /* Neither actuator. */
    in.has_balloon = false;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_NONE);
    CU_ASSERT_FALSE(o.balloon_valid);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT);
    CU_ASSERT_TRUE(has(o.reason, "nothing to move"));
    /* A device and no balloon: boot memory stays. */
    in = guest(300 * MIB, 64 * MIB);
    in.has_balloon = false;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_VIRTIO_MEM);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 0);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 0);
    CU_ASSERT_TRUE(has(o.reason, "no balloon"));
}

static void test_fallback_removed_and_no_driver(void)
{
    struct actuator_out o;
    struct actuator_in in = guest(300 * MIB, 0);
    in.vmem.watch.state = VMEM_WATCH_REMOVED;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BALLOON);
    CU_ASSERT_FALSE(o.vmem_valid);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 212 * MIB);
    CU_ASSERT_STRING_EQUAL(o.reason, "virtio-mem device removed: balloon only");
    /* Gone, it no longer counts toward what the guest can have. */
    in.target_bytes = BOOT + 100 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), -ERANGE);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.short_bytes, 100 * MIB);

    /* No driver: the pending request goes back to the size (0), balloon only. */
    in = guest(BOOT + 100 * MIB, 0);
    in.vmem.requested_bytes = 200 * MIB;
    in.vmem.watch.state = VMEM_WATCH_DRIVER_MISSING;
    in.vmem.watch.capped = true;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BALLOON);
    CU_ASSERT_TRUE(o.vmem_valid);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 0);
    CU_ASSERT_TRUE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.short_bytes, 100 * MIB);
    CU_ASSERT_STRING_EQUAL(o.reason, "no virtio_mem driver in the guest: balloon only");
    in.target_bytes = 400 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 400 * MIB);
    check_invariants(&in, &o);
}

/* 100 MiB asked of a device whose unplug stalled at 512 MiB plugged. */
static struct actuator_in stalled_unplug(bool has_balloon)
{
    struct actuator_in in = guest(BOOT + 100 * MIB, 512 * MIB);
    in.has_balloon = has_balloon;
    in.vmem.requested_bytes = 100 * MIB;
    in.vmem.watch.state = VMEM_WATCH_STALLED_UNPLUG;
    in.vmem.watch.floor_bytes = 512 * MIB;
    return in;
}

/* 200 MiB asked of a device whose plug stalled at 64 MiB. */
static struct actuator_in stalled_plug(bool has_balloon)
{
    struct actuator_in in = guest(BOOT + 200 * MIB, 64 * MIB);
    in.has_balloon = has_balloon;
    in.vmem.requested_bytes = 200 * MIB;
    in.vmem.watch.state = VMEM_WATCH_STALLED_PLUG;
    in.vmem.watch.capped = true;
    in.vmem.watch.cap_bytes = 64 * MIB;
    return in;
}

static void test_fallback_stalled(void)
{
    struct actuator_out o;
    /* Unplug stalled at 512 MiB: held there, the balloon shrinks the guest. */
    struct actuator_in in = stalled_unplug(true);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 512 * MIB);
    CU_ASSERT_TRUE(o.vmem_changed);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 412 * MIB);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 100 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BALLOON);
    CU_ASSERT_TRUE(has(o.reason, "unplug stalled"));
    /* A growth past the floor still plugs. */
    in.target_bytes = BOOT + 700 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 700 * MIB);
    CU_ASSERT_NOT_EQUAL(o.actuator, ACTUATOR_BALLOON);

    /* Plug stalled at 64 MiB: no more plugging, the guest stays short. */
    in = stalled_plug(true);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 64 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.short_bytes, 136 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BALLOON);
    CU_ASSERT_STRING_EQUAL(o.reason, "virtio-mem plug stalled: held where it got, balloon only");
    /* Shrinking under the cap is not held. */
    in.target_bytes = 300 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 0);
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 300 * MIB);
}

/* The same stalls on a guest without a balloon (--actuator virtio-mem): the
 * request is held just the same, and the reason promises no balloon. */
static void test_stalled_without_balloon(void)
{
    struct actuator_out o;
    struct actuator_in in = stalled_unplug(false);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 512 * MIB);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_VIRTIO_MEM);
    CU_ASSERT_TRUE(has(o.reason, "unplug stalled"));
    CU_ASSERT_TRUE(has(o.reason, "no balloon"));

    in = stalled_plug(false);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 64 * MIB);
    CU_ASSERT_EQUAL(o.short_bytes, 136 * MIB);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_VIRTIO_MEM);
    CU_ASSERT_TRUE(has(o.reason, "plug stalled"));
    CU_ASSERT_TRUE(has(o.reason, "no balloon"));
    CU_ASSERT_FALSE(has(o.reason, "balloon only"));
}

/* The watch and the plan together: a guest without the driver. */
static void test_watch_to_plan(void)
{
    struct vmem_watch w;
    vmem_watch_init(&w);
    struct vmem_watch_input ev = {.now_ms = 0, .event = VMEM_WATCH_QUERY};
    ev.requested_bytes = 100 * MIB;
    vmem_watch_feed(&w, &ev);
    ev.now_ms = VMEM_WATCH_STALL_MS;
    CU_ASSERT_EQUAL(vmem_watch_feed(&w, &ev), VMEM_WATCH_DRIVER_MISSING);
    struct actuator_in in = guest(BOOT + 100 * MIB, 0);
    in.vmem.requested_bytes = 100 * MIB;
    vmem_watch_advise(&w, ev.now_ms, &in.vmem.watch);
    struct actuator_out o;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BALLOON);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 0);
    CU_ASSERT_TRUE(has(o.reason, "no virtio_mem driver"));
}

static void test_bad_boot(void)
{
    struct actuator_out o;
    struct actuator_in in = guest(300 * MIB, 0);
    in.boot_bytes = 0;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), -EINVAL);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_NONE);
    CU_ASSERT_FALSE(o.vmem_valid);
    CU_ASSERT_FALSE(o.balloon_valid);
    in.boot_bytes = ACTUATOR_MAX_BYTES + 4096;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), -EINVAL);
    CU_ASSERT_FALSE(o.balloon_valid);
}

/* A broken device's figures never reach QEMU: balloon only, -EINVAL. */
static void check_bad_device(struct actuator_in *in)
{
    struct actuator_out o;
    CU_ASSERT_FALSE(actuator_vmem_valid(&in->vmem));
    CU_ASSERT_EQUAL(actuator_plan(in, &o), -EINVAL);
    CU_ASSERT_FALSE(o.vmem_valid);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_BALLOON);
    CU_ASSERT_STRING_EQUAL(o.reason, "virtio-mem device figures invalid: balloon only");
    CU_ASSERT_EQUAL(o.balloon_qmp_bytes, 300 * MIB);
    check_invariants(in, &o);
}

static void test_bad_device(void)
{
    struct actuator_in in = guest(300 * MIB, 0);
    CU_ASSERT_TRUE(actuator_vmem_valid(&in.vmem));
    in.vmem.block_bytes = 0;
    check_bad_device(&in);
    in.vmem.block_bytes = 3 * MIB; /* not a power of two */
    check_bad_device(&in);
    in.vmem.block_bytes = 1 * KIB; /* under a page */
    check_bad_device(&in);
    in = guest(300 * MIB, 1538 * MIB); /* plugged > max */
    check_bad_device(&in);
    in = guest(300 * MIB, 1 * MIB); /* plugged not in whole blocks */
    check_bad_device(&in);
    in = guest(300 * MIB, 0);
    in.vmem.requested_bytes = 1 * GIB + 1; /* requested not in whole blocks */
    check_bad_device(&in);
    in = guest(300 * MIB, 0);
    in.vmem.max_bytes = 1535 * MIB; /* max not in whole blocks */
    check_bad_device(&in);
    /* Broken and no balloon: nothing to move. */
    in.has_balloon = false;
    struct actuator_out o;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), -EINVAL);
    CU_ASSERT_EQUAL(o.actuator, ACTUATOR_NONE);
}

static void test_target_over_capacity(void)
{
    struct actuator_out o;
    struct actuator_in in = guest(BOOT + 2 * GIB, 1536 * MIB);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), -ERANGE);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 1536 * MIB);
    CU_ASSERT_TRUE(o.vmem_valid);
    CU_ASSERT_EQUAL(o.balloon_held_bytes, 0);
    CU_ASSERT_EQUAL(o.total_bytes, BOOT + 1536 * MIB);
    CU_ASSERT_EQUAL(o.short_bytes, 512 * MIB);
    CU_ASSERT_TRUE(has(o.reason, "above boot + virtio-mem max"));
    /* A floor over it is the same. */
    in = guest(100 * MIB, 0);
    in.floor_bytes = BOOT + 1537 * MIB;
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), -ERANGE);
    CU_ASSERT_EQUAL(o.vmem_requested_bytes, 1536 * MIB);
    CU_ASSERT_EQUAL(o.short_bytes, 1 * MIB);
    /* Exactly boot + max is fine. */
    in = guest(BOOT + 1536 * MIB, 1536 * MIB);
    CU_ASSERT_EQUAL(actuator_plan(&in, &o), 0);
    CU_ASSERT_EQUAL(o.short_bytes, 0);
}

static void test_request_gate(void)
{
    struct actuator_vmem dev = {.present = true, .block_bytes = 2 * MIB, .max_bytes = 1 * GIB};
    CU_ASSERT_TRUE(actuator_vmem_request_ok(&dev, 0));
    CU_ASSERT_TRUE(actuator_vmem_request_ok(&dev, 2 * MIB));
    CU_ASSERT_TRUE(actuator_vmem_request_ok(&dev, 1 * GIB));
    CU_ASSERT_FALSE(actuator_vmem_request_ok(&dev, 1 * GIB + 2 * MIB));
    CU_ASSERT_FALSE(actuator_vmem_request_ok(&dev, 1 * MIB));
    CU_ASSERT_FALSE(actuator_vmem_request_ok(&dev, 3 * MIB));
    CU_ASSERT_FALSE(actuator_vmem_request_ok(&dev, UINT64_MAX));
    dev.block_bytes = 0;
    CU_ASSERT_FALSE(actuator_vmem_request_ok(&dev, 0));
    dev.block_bytes = 6 * MIB;
    CU_ASSERT_FALSE(actuator_vmem_request_ok(&dev, 6 * MIB));
    dev.block_bytes = 2 * MIB;
    dev.max_bytes = ACTUATOR_MAX_BYTES + 2 * MIB;
    CU_ASSERT_FALSE(actuator_vmem_request_ok(&dev, 2 * MIB));
}

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(actuator_kind_name(ACTUATOR_NONE), "none");
    CU_ASSERT_STRING_EQUAL(actuator_kind_name(ACTUATOR_BALLOON), "balloon");
    CU_ASSERT_STRING_EQUAL(actuator_kind_name(ACTUATOR_VIRTIO_MEM), "virtio-mem");
    CU_ASSERT_STRING_EQUAL(actuator_kind_name(ACTUATOR_BOTH), "both");
    CU_ASSERT_STRING_EQUAL(actuator_kind_name((enum actuator_kind)9), "?");
}

/* docs/virtio-mem.md's reason table, read whole. */
static char *read_doc(void)
{
    static char doc[64 * 1024];
    FILE *f = fopen(BALLAST_FIXTURES "/../../docs/virtio-mem.md", "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    return doc;
}

/* The doc's row for o's reason names o's actuator (or "any"). */
static void check_doc_row(const char *doc, const struct actuator_out *o)
{
    char row[256];
    snprintf(row, sizeof(row), "| `%s` | ", o->reason);
    const char *p = strstr(doc, row);
    if (p == NULL) {
        fprintf(stderr, "docs/virtio-mem.md: no row for \"%s\"\n", o->reason);
        CU_FAIL("reason missing from docs/virtio-mem.md");
        return;
    }
    p += strlen(row);
    const char *end = strchr(p, '\n');
    char cell[128];
    snprintf(cell, sizeof(cell), "%.*s", end ? (int)(end - p) : 0, p);
    bool named = strstr(cell, actuator_kind_name(o->actuator)) || strstr(cell, "any");
    if (!named)
        fprintf(stderr, "docs/virtio-mem.md: \"%s\" says '%s', the plan '%s'\n", o->reason, cell,
                actuator_kind_name(o->actuator));
    CU_ASSERT_TRUE(named);
}

/* Every reason the plan can give, one scenario each, is a row of the doc's
 * table with its actuator, and the table has no other rows; every watch
 * state is in the doc's state table. */
static void test_reasons_in_docs(void)
{
    const char *doc = read_doc();
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    enum { N = 21 };
    struct actuator_in in[N];
    for (int i = 0; i < N; i++)
        in[i] = guest(BOOT + 101 * MIB, 102 * MIB); /* [0]: the fine step */
    in[1].boot_bytes = 0;
    in[2].vmem.block_bytes = 0;
    in[3].vmem.present = false;
    in[3].target_bytes = 300 * MIB;
    in[4].vmem.watch.state = VMEM_WATCH_REMOVED;
    in[4].target_bytes = 300 * MIB;
    in[5].vmem.watch.state = VMEM_WATCH_DRIVER_MISSING;
    in[6].vmem.present = in[6].has_balloon = false;
    in[6].target_bytes = 300 * MIB;
    in[7].target_bytes = BOOT + 2 * GIB;
    in[8].vmem.watch.floor_bytes = 512 * MIB;
    in[9].vmem.watch.capped = true;
    in[9].vmem.watch.cap_bytes = 64 * MIB;
    in[10].vmem.plugged_bytes = 64 * MIB;
    in[11].has_balloon = false;
    in[12].host_thp = true;
    in[12].target_bytes = 300 * MIB;
    in[13].host_thp = true;
    in[14].deflate_on_oom = true;
    in[14].vmem.plugged_bytes = 104 * MIB;
    in[15].target_bytes = 300 * MIB;
    in[16].target_bytes = BOOT + 100 * MIB;
    in[17].host_thp = in[17].deflate_on_oom = true;
    in[17].net_bytes = 10 * MIB;
    in[17].vmem.plugged_bytes = in[17].vmem.requested_bytes = 112 * MIB;
    in[18].has_balloon = false;
    in[18].net_bytes = 100 * MIB;
    in[19].vmem.watch.floor_bytes = 512 * MIB; /* [8] and [9] without a balloon */
    in[19].has_balloon = false;
    in[20].vmem.watch.capped = true;
    in[20].vmem.watch.cap_bytes = 64 * MIB;
    in[20].has_balloon = false;
    const char *seen[N];
    for (int i = 0; i < N; i++) {
        struct actuator_out o;
        actuator_plan(&in[i], &o);
        seen[i] = o.reason;
        for (int j = 0; j < i; j++)
            CU_ASSERT_PTR_NOT_EQUAL(seen[j], o.reason); /* one scenario per reason */
        check_doc_row(doc, &o);
    }
    /* No row without a reason behind it. */
    const char *table = strstr(doc, "### What explain says");
    CU_ASSERT_PTR_NOT_NULL_FATAL(table);
    const char *table_end = strstr(table + 1, "\n### ");
    int rows = 0;
    for (const char *p = strstr(table, "\n| `"); p && (!table_end || p < table_end);
         p = strstr(p + 1, "\n| `"))
        rows++;
    CU_ASSERT_EQUAL(rows, N);
    for (int s = VMEM_WATCH_CONVERGED; s <= VMEM_WATCH_REMOVED; s++) {
        char row[64];
        snprintf(row, sizeof(row), "| `%s` |", vmem_watch_state_name((enum vmem_watch_state)s));
        CU_ASSERT_PTR_NOT_NULL(strstr(doc, row));
    }
}

static CU_TestInfo actuator_tests[] = {
    {"block rounding", test_block_rounding},
    {"rounding sweep: whole blocks, total at or just over", test_rounding_sweep},
    {"floor never crossed", test_floor_never_crossed},
    {"QMP balloon value relative to boot RAM", test_qmp_balloon_arithmetic},
    {"THP host: no balloon inside blocks but a sized net", test_thp_host},
    {"deflate-on-OOM spare block", test_deflate_net},
    {"deflate-on-OOM net sized by the caller, bounded", test_deflate_net_sized},
    {"no deflate-on-OOM balloon: the peak plugged, free", test_free_net},
    {"growth plugs first", test_growth_plugs_first},
    {"fallback: no device, no balloon", test_fallback_no_device},
    {"fallback: removed, no driver", test_fallback_removed_and_no_driver},
    {"fallback: stalled unplug and plug", test_fallback_stalled},
    {"stalls without a balloon say so", test_stalled_without_balloon},
    {"watch to plan", test_watch_to_plan},
    {"bad input: boot", test_bad_boot},
    {"bad input: device figures", test_bad_device},
    {"bad input: target over boot + max", test_target_over_capacity},
    {"request gate", test_request_gate},
    {"names", test_names},
    {"every reason in docs/virtio-mem.md", test_reasons_in_docs},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"actuator", NULL, NULL, NULL, NULL, actuator_tests},
    CU_SUITE_INFO_NULL,
};
