/*
 * A fleet guest's virtio-mem device beside its balloon (vmem_drive.h): what
 * a target sends, and the memory reported to the manager while our own
 * moves are under way - which must never look like a guest's deflate-on-OOM
 * or someone else's command - while a real deflate still shows.
 */
#include "cunit_main.h"
#include "vmem_drive.h"

#include <string.h>

#define MIB  (1024ull * 1024ull)
#define BOOT (128 * MIB)

/* A 256 MiB fleet guest as `fleet start --actuator both` starts it: 128 MiB
 * at boot, 128 MiB plugged of a 128 MiB device in 2 MiB blocks, a balloon
 * without deflate-on-OOM, no THP, balloon at boot. No memory of peaks, so
 * no net of any kind (the plain split; the nets have tests of their own). */
static void guest(struct vmem_drive *d)
{
    vmem_drive_init(d);
    d->peak_bucket_ms = 0;
    d->boot_bytes = BOOT;
    d->has_balloon = true;
    vmem_drive_balloon(d, BOOT);
    struct actuator_vmem dev = {.present = true,
                                .block_bytes = 2 * MIB,
                                .max_bytes = 128 * MIB,
                                .plugged_bytes = 128 * MIB,
                                .requested_bytes = 128 * MIB};
    vmem_drive_device(d, &dev, false, 0);
}

/* The device's size moved to size (a MEMORY_DEVICE_SIZE_CHANGE) at now_ms. */
static bool size_to(struct vmem_drive *d, uint64_t size, int64_t now_ms)
{
    struct actuator_vmem dev = d->dev;
    dev.plugged_bytes = size;
    return vmem_drive_device(d, &dev, true, now_ms);
}

static void test_inactive(void)
{
    struct vmem_drive d;
    vmem_drive_init(&d);
    vmem_drive_balloon(&d, 200 * MIB);
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 100 * MIB, 0, &cmd);
    CU_ASSERT_FALSE(cmd.send_vmem || cmd.send_balloon);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 200 * MIB); /* the balloon's own */
    CU_ASSERT_EQUAL(vmem_drive_nominal_bytes(&d), -1);
    CU_ASSERT_EQUAL(vmem_drive_present_bytes(&d), -1);
    CU_ASSERT_EQUAL(vmem_drive_present_actual_bytes(&d), -1);
}

static void test_figures(void)
{
    struct vmem_drive d;
    guest(&d);
    CU_ASSERT_TRUE(d.active);
    CU_ASSERT_EQUAL(vmem_drive_nominal_bytes(&d), 256 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 256 * MIB); /* 128 balloon + 128 plugged */
}

/* An idle guest shrunk to 150 MiB: the device to 22 MiB (whole blocks), the
 * balloon empty; while the blocks go, the memory reported falls toward the
 * target, as a shrink of ours does. */
static void test_shrink(void)
{
    struct vmem_drive d;
    guest(&d);
    struct vmem_drive_cmd cmd;
    CU_ASSERT_EQUAL(vmem_drive_plan(&d, 150 * MIB, 1000, &cmd), 0);
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 22 * MIB);
    CU_ASSERT_TRUE(cmd.send_balloon);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, BOOT); /* 128 + 22 = 150: the balloon holds nothing */
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 256 * MIB);
    size_to(&d, 100 * MIB, 2000);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 228 * MIB);
    /* What the guest's own figures are relative to is not held. */
    CU_ASSERT_EQUAL(vmem_drive_present_bytes(&d), BOOT + 100 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_present_actual_bytes(&d), BOOT + 100 * MIB);
    CU_ASSERT_TRUE(size_to(&d, 22 * MIB, 3000)); /* reached: a replan is due */
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 150 * MIB);
    CU_ASSERT_FALSE(vmem_drive_replan(&d, 3000, &cmd)); /* nothing new to send */
    CU_ASSERT_STRING_EQUAL(actuator_kind_name(d.last.actuator), "virtio-mem");
}

/* Growth to 201 MiB: plug 74 MiB first, the balloon empty meanwhile; as the
 * blocks arrive the guest has up to 1 MiB over its target (the block's
 * step), which is ours and is not reported; the replan takes it back into
 * the balloon. A deflate of the guest's own after that shows at once. */
static void test_grow_then_guest_deflate(void)
{
    struct vmem_drive d;
    guest(&d);
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 150 * MIB, 0, &cmd);
    size_to(&d, 22 * MIB, 1000);
    vmem_drive_plan(&d, 201 * MIB, 2000, &cmd);
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 74 * MIB);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, BOOT); /* plug pending: nothing held */
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 150 * MIB);
    size_to(&d, 60 * MIB, 2100);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 188 * MIB);
    CU_ASSERT_TRUE(size_to(&d, 74 * MIB, 2200));
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 201 * MIB); /* 202 real, 1 of it ours */
    /* The block's step is the plan's, not the guest's: a shrink's figures
     * at the plan must read as at the target (CI: a 251 MiB target on 2 MiB
     * blocks stood at 252 and the policy waited for it forever). */
    CU_ASSERT_EQUAL(vmem_drive_present_actual_bytes(&d), 201 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_present_bytes(&d), 202 * MIB);
    CU_ASSERT_TRUE(vmem_drive_replan(&d, 2200, &cmd));
    CU_ASSERT_FALSE(cmd.send_vmem);
    CU_ASSERT_TRUE(cmd.send_balloon);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 127 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 201 * MIB); /* the balloon still on its way */
    vmem_drive_balloon(&d, 127 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 201 * MIB);
    /* The guest takes its balloon back under OOM (1 MiB at a time). */
    vmem_drive_balloon(&d, 128 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 202 * MIB);
}

/* With deflate-on-OOM and no peak remembered, one spare block sits in the
 * balloon, so a shrink moves
 * both: the device unplugs to 64 MiB before the balloon has deflated from
 * 3 to 2 MiB held. Their sum in between (189) is nobody's move below the
 * target (190): the balloon on its way counts at the value sent. */
static void test_shrink_device_first(void)
{
    struct vmem_drive d;
    guest(&d);
    d.deflate_on_oom = true;
    d.peak_bucket_ms = 0; /* no peak: the one-block net */
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 215 * MIB, 0, &cmd);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 90 * MIB); /* 88 + the spare block */
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 125 * MIB);
    size_to(&d, 90 * MIB, 500);
    vmem_drive_balloon(&d, 125 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 215 * MIB);
    vmem_drive_plan(&d, 190 * MIB, 1000, &cmd);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 64 * MIB);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 126 * MIB);
    size_to(&d, 64 * MIB, 1500);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 190 * MIB); /* 125 + 64 real */
    vmem_drive_balloon(&d, 126 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 190 * MIB);
    vmem_drive_balloon(&d, 125 * MIB); /* someone inflates it after: shown */
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 189 * MIB);
}

/* The other order, as a real guest did it: the balloon deflates by its
 * step (3 -> 2 MiB held) at once, the blocks go a second later. The real
 * sum rises over the old figure meanwhile (204 > 203): read as it is, a
 * rise over the new target is a guest's deflate or someone else's command
 * to the manager. Reported, it holds until the device follows. */
static void test_shrink_balloon_first(void)
{
    struct vmem_drive d;
    guest(&d);
    d.deflate_on_oom = true;
    d.peak_bucket_ms = 0; /* no peak: the one-block net */
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 203 * MIB, 0, &cmd);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 125 * MIB);
    size_to(&d, 78 * MIB, 500);
    vmem_drive_balloon(&d, 125 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 203 * MIB);
    vmem_drive_plan(&d, 180 * MIB, 1000, &cmd);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 54 * MIB);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 126 * MIB);
    vmem_drive_balloon(&d, 126 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 203 * MIB); /* 204 real: held, not a rise */
    size_to(&d, 70 * MIB, 1500);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 196 * MIB);
    size_to(&d, 54 * MIB, 2000);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 180 * MIB);
    vmem_drive_balloon(&d, 127 * MIB); /* the guest deflates after: shown */
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 181 * MIB);
}

/* The net is the guest's recent peak (VMEM_DRIVE_PEAK_MS): at first what
 * it booted with stays plugged and the balloon holds what lies above the
 * target, for the guest to take back by itself; once no target that high
 * was given for a bucket or two the blocks are unplugged down to a
 * one-block net, and a burst seen again is remembered again. */
static void test_peak_net(void)
{
    struct vmem_drive d;
    guest(&d);
    d.deflate_on_oom = true;
    d.peak_bucket_ms = VMEM_DRIVE_PEAK_MS;
    struct vmem_drive_cmd cmd;
    const int64_t B = VMEM_DRIVE_PEAK_MS;
    CU_ASSERT_EQUAL(vmem_drive_plan(&d, 200 * MIB, 0, &cmd), 0);
    CU_ASSERT_FALSE(cmd.send_vmem); /* 128 stays plugged: the boot size is the peak */
    CU_ASSERT_TRUE(cmd.send_balloon);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 72 * MIB); /* 56 held: 128 + 128 - 56 = 200 */
    CU_ASSERT_PTR_NOT_NULL(strstr(d.last.reason, "deflate-on-OOM net"));
    vmem_drive_balloon(&d, 72 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 200 * MIB);
    /* The guest takes 1 MiB of the net back under OOM: shown. */
    vmem_drive_balloon(&d, 73 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 201 * MIB);
    vmem_drive_balloon(&d, 72 * MIB);

    /* One bucket on the peak is still remembered: nothing to send. */
    CU_ASSERT_EQUAL(vmem_drive_next_ms(&d), 2 * B); /* when the source's timer replans */
    CU_ASSERT_FALSE(vmem_drive_hold_ended(&d, 2 * B - 1));
    CU_ASSERT_FALSE(vmem_drive_replan(&d, B, &cmd));
    CU_ASSERT_EQUAL(d.dev.requested_bytes, 128 * MIB);
    /* Two buckets on, it has aged out: a replan is due and unplugs down to
     * the target's blocks and one spare. */
    CU_ASSERT_TRUE(vmem_drive_hold_ended(&d, 2 * B));
    CU_ASSERT_TRUE(vmem_drive_replan(&d, 2 * B, &cmd));
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 74 * MIB);
    CU_ASSERT_TRUE(cmd.send_balloon);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 126 * MIB); /* 2 held */
    CU_ASSERT_FALSE(vmem_drive_hold_ended(&d, 3 * B)); /* nothing left to age */
    CU_ASSERT_EQUAL(vmem_drive_next_ms(&d), 0);
    size_to(&d, 74 * MIB, 2 * B + 1000);
    vmem_drive_balloon(&d, 126 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 200 * MIB);

    /* A burst: ballastd grows the guest to 240 MiB, then shrinks it back
     * to 200. The peak is remembered: its blocks stay plugged, the balloon
     * holds the 40 MiB above the target; only the spare block above the
     * burst's own target goes, the net now covering it. */
    vmem_drive_plan(&d, 240 * MIB, 2 * B + 2000, &cmd);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 114 * MIB); /* 112 + a spare block */
    size_to(&d, 114 * MIB, 2 * B + 3000);
    vmem_drive_plan(&d, 200 * MIB, 2 * B + 4000, &cmd);
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 112 * MIB); /* the peak: 128 + 112 = 240 */
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 88 * MIB);     /* 40 held: 128 + 112 - 40 */
    CU_ASSERT_NOT_EQUAL(d.peak_next_ms, 0);

    /* No memory of peaks (peak_bucket_ms 0): the one-block net at once. */
    guest(&d);
    d.deflate_on_oom = true;
    d.peak_bucket_ms = 0;
    vmem_drive_plan(&d, 200 * MIB, 0, &cmd);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 74 * MIB);
    CU_ASSERT_EQUAL(d.peak_next_ms, 0);
}

/* An unplug that stops part way: after the stall time the device is held
 * where it got and the balloon takes the rest of the target. */
static void test_unplug_stall(void)
{
    struct vmem_drive d;
    guest(&d);
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 150 * MIB, 0, &cmd);
    size_to(&d, 100 * MIB, 1000);
    struct actuator_vmem dev = d.dev;
    CU_ASSERT_FALSE(vmem_drive_device(&d, &dev, false, 1000 + VMEM_WATCH_STALL_MS - 1));
    CU_ASSERT_TRUE(vmem_drive_device(&d, &dev, false, 1000 + VMEM_WATCH_STALL_MS + 1));
    CU_ASSERT_EQUAL(d.watch.state, VMEM_WATCH_STALLED_UNPLUG);
    CU_ASSERT_TRUE(vmem_drive_replan(&d, 1000 + VMEM_WATCH_STALL_MS + 1, &cmd));
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 100 * MIB); /* held where it got */
    CU_ASSERT_TRUE(cmd.send_balloon);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 50 * MIB); /* 128 + 100 - 78 = 150 */
    CU_ASSERT_PTR_NOT_NULL(strstr(d.last.reason, "stalled"));
    CU_ASSERT_NOT_EQUAL(d.hold_until_ms, 0);
    CU_ASSERT_FALSE(vmem_drive_hold_ended(&d, d.hold_until_ms - 1));
    CU_ASSERT_TRUE(vmem_drive_hold_ended(&d, d.hold_until_ms));
}

/* virtio-mem alone (no balloon device): the guest's memory is boot + plugged. */
static void test_no_balloon(void)
{
    struct vmem_drive d;
    guest(&d);
    d.has_balloon = false;
    d.balloon_raw = -1;
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 151 * MIB, 0, &cmd);
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 24 * MIB); /* rounded up: 152 */
    CU_ASSERT_FALSE(cmd.send_balloon);
    size_to(&d, 24 * MIB, 1000);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 151 * MIB); /* the rounding is ours */
}

/* An unplug that stops part way sends no more events: the drive's timer
 * (vmem_drive_next_ms) comes at the stall time and its replan feeds the
 * watch the figures it has, which holds the device where it got. */
static void test_stall_without_events(void)
{
    struct vmem_drive d;
    guest(&d);
    d.has_balloon = false;
    d.balloon_raw = -1;
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 150 * MIB, 1000, &cmd);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 22 * MIB);
    size_to(&d, 116 * MIB, 2000); /* then nothing more */
    CU_ASSERT_EQUAL(vmem_drive_next_ms(&d), 2000 + VMEM_WATCH_STALL_MS);
    CU_ASSERT_FALSE(vmem_drive_hold_ended(&d, 2000 + VMEM_WATCH_STALL_MS - 1));
    CU_ASSERT_TRUE(vmem_drive_hold_ended(&d, 2000 + VMEM_WATCH_STALL_MS));
    CU_ASSERT_TRUE(vmem_drive_replan(&d, 2000 + VMEM_WATCH_STALL_MS, &cmd));
    CU_ASSERT_EQUAL(d.watch.state, VMEM_WATCH_STALLED_UNPLUG);
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 116 * MIB); /* held where it got */
    CU_ASSERT_PTR_NOT_NULL(strstr(d.last.reason, "unplug stalled"));
    /* The next time due is the hold's end, not another stall. */
    CU_ASSERT_EQUAL(vmem_drive_next_ms(&d),
                    2000 + VMEM_WATCH_STALL_MS + vmem_watch_hold_ms(1));
}

/* virtio-mem alone, with the recent peak remembered (the default): no
 * balloon can hold a net, so the peak stays plugged and free in the guest
 * (actuator.h, rule 5), reported at the target; once it ages out the
 * device unplugs to the target's blocks. */
static void test_no_balloon_peak(void)
{
    struct vmem_drive d;
    guest(&d);
    d.has_balloon = false;
    d.balloon_raw = -1;
    d.peak_bucket_ms = VMEM_DRIVE_PEAK_MS;
    const int64_t B = VMEM_DRIVE_PEAK_MS;
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 151 * MIB, 0, &cmd);
    CU_ASSERT_FALSE(cmd.send_vmem); /* the boot size (256) is the peak: all stays plugged */
    CU_ASSERT_FALSE(cmd.send_balloon);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.last.reason, "free headroom"));
    CU_ASSERT_EQUAL(d.last.total_bytes, 256 * MIB);
    /* The free net is ours, not the guest's: the manager sees the target. */
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 151 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_present_actual_bytes(&d), 151 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_present_bytes(&d), 256 * MIB);
    /* ... and the net is said as memory kept free in the guest, so that its
     * MemTotal is not read as a balloon's (policy_agent_report). */
    CU_ASSERT_EQUAL(vmem_drive_present_extra_bytes(&d), 105 * MIB);
    struct vmsource_balloon b = vmsource_balloon_unknown();
    vmem_drive_fill(&d, 0, &b);
    CU_ASSERT_EQUAL(b.present_extra_bytes, 105 * MIB);
    CU_ASSERT_EQUAL(b.present_actual_bytes, 151 * MIB);
    /* Aged out: down to the target's blocks. */
    CU_ASSERT_TRUE(vmem_drive_hold_ended(&d, 2 * B));
    CU_ASSERT_TRUE(vmem_drive_replan(&d, 2 * B, &cmd));
    CU_ASSERT_TRUE(cmd.send_vmem);
    CU_ASSERT_EQUAL(cmd.vmem_requested_bytes, 24 * MIB);
    CU_ASSERT_FALSE(cmd.send_balloon);
    size_to(&d, 24 * MIB, 2 * B + 1000);
    CU_ASSERT_EQUAL(vmem_drive_actual_bytes(&d), 151 * MIB);
    CU_ASSERT_EQUAL(vmem_drive_present_extra_bytes(&d), 1 * MIB); /* the block's step */
}

/* The device unplugged from the VM: the balloon alone, the device counted as none. */
static void test_gone(void)
{
    struct vmem_drive d;
    guest(&d);
    vmem_drive_gone(&d, 5000);
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 100 * MIB, 5000, &cmd);
    CU_ASSERT_FALSE(cmd.send_vmem);
    CU_ASSERT_TRUE(cmd.send_balloon);
    CU_ASSERT_EQUAL(cmd.balloon_qmp_bytes, 100 * MIB);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.last.reason, "removed"));
}

/* The manager's figures (vmem_drive_fill, shared by the fleet and libvirt
 * sources): without a device the balloon's own figures stay; with one,
 * nominal, actual and the present figures are the drive's, the device's
 * fields are its figures, and the actuator line appears with a target. */
static void test_fill(void)
{
    struct vmsource_balloon b = {.nominal_bytes = 200 * MIB,
                                 .actual_bytes = 150 * MIB,
                                 .vmem_max_bytes = 7,
                                 .present_bytes = 9,
                                 .present_actual_bytes = 9,
                                 .actual_changed_real_us = 42};
    struct vmem_drive d;
    vmem_drive_init(&d);
    vmem_drive_fill(&d, 0, &b);
    CU_ASSERT_EQUAL(b.vmem_max_bytes, 0); /* no device driven */
    CU_ASSERT_EQUAL(b.present_bytes, 0);
    CU_ASSERT_EQUAL(b.present_actual_bytes, 0);
    CU_ASSERT_EQUAL(b.nominal_bytes, 200 * MIB); /* the balloon's own, untouched */
    CU_ASSERT_EQUAL(b.actual_bytes, 150 * MIB);

    guest(&d);
    vmem_drive_fill(&d, 0, &b);
    CU_ASSERT_EQUAL(b.nominal_bytes, vmem_drive_nominal_bytes(&d));
    CU_ASSERT_EQUAL(b.nominal_bytes, (int64_t)(BOOT + d.dev.max_bytes));
    CU_ASSERT_EQUAL(b.actual_bytes, (int64_t)(BOOT + d.dev.plugged_bytes));
    CU_ASSERT_EQUAL(b.present_bytes, (int64_t)(BOOT + d.dev.plugged_bytes));
    CU_ASSERT_EQUAL(b.vmem_max_bytes, (int64_t)d.dev.max_bytes);
    CU_ASSERT_EQUAL(b.vmem_block_bytes, (int64_t)d.dev.block_bytes);
    CU_ASSERT_EQUAL(b.vmem_size_bytes, (int64_t)d.dev.plugged_bytes);
    CU_ASSERT_PTR_NULL(b.actuator);               /* no target yet: nothing chosen */
    CU_ASSERT_EQUAL(b.actual_changed_real_us, 0); /* a sum has no one QEMU time */

    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&d, 151 * MIB, 0, &cmd);
    vmem_drive_fill(&d, 0, &b);
    CU_ASSERT_EQUAL(b.vmem_requested_bytes, (int64_t)cmd.vmem_requested_bytes);
    CU_ASSERT_STRING_EQUAL(b.actuator, actuator_kind_name(d.last.actuator));
    CU_ASSERT_PTR_EQUAL(b.actuator_reason, d.last.reason);
    CU_ASSERT_STRING_EQUAL(b.vmem_state, vmem_watch_state_name(d.watch.state));
}

static CU_TestInfo vmem_drive_tests[] = {
    {"no device: the balloon's figures", test_inactive},
    {"nominal and actual with a device", test_figures},
    {"shrink: blocks out, reported falls to the target", test_shrink},
    {"grow: plug first, our slack hidden, a guest deflate shown", test_grow_then_guest_deflate},
    {"shrink: the device before the balloon is nobody's move", test_shrink_device_first},
    {"shrink: the balloon before the device is no rise", test_shrink_balloon_first},
    {"the net: the recent peak plugged, held in the balloon, aged out", test_peak_net},
    {"unplug stall: held, the balloon takes the rest", test_unplug_stall},
    {"virtio-mem without a balloon", test_no_balloon},
    {"virtio-mem without a balloon: the peak plugged, free, aged out", test_no_balloon_peak},
    {"an unplug that stops, no event: stalled on the timer", test_stall_without_events},
    {"device removed", test_gone},
    {"the manager's figures (vmem_drive_fill)", test_fill},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vmem_drive", NULL, NULL, NULL, NULL, vmem_drive_tests},
    CU_SUITE_INFO_NULL,
};
