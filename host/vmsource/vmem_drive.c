/* A fleet guest's virtio-mem device beside its balloon (see vmem_drive.h). */
#include "vmem_drive.h"

#include <string.h>

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t abs_diff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

void vmem_drive_init(struct vmem_drive *d)
{
    memset(d, 0, sizeof(*d));
    d->balloon_raw = -1;
    d->peak_bucket_ms = VMEM_DRIVE_PEAK_MS;
    vmem_watch_init(&d->watch);
}

/*
 * The guest's recent peak with target_bytes counted in (VMEM_DRIVE_PEAK_MS):
 * two buckets, so a peak is remembered for one to two bucket lengths at the
 * cost of two figures. Seeded at the first plan with the memory the guest
 * has: until it has shown what it needs, what it was started with stays
 * within reach. Returns the net above target_bytes; sets when it shrinks.
 */
static uint64_t note_peak(struct vmem_drive *d, uint64_t target_bytes, int64_t now_ms)
{
    int64_t bucket = d->peak_bucket_ms;
    d->peak_next_ms = 0;
    if (bucket <= 0)
        return 0;
    if (!d->peak_started) {
        uint64_t raw =
            d->has_balloon && d->balloon_raw >= 0 ? (uint64_t)d->balloon_raw : d->boot_bytes;
        d->peak_started = true;
        d->peak_since_ms = now_ms;
        d->peak_prev_bytes = 0;
        d->peak_cur_bytes = raw + d->dev.plugged_bytes;
    } else if (now_ms - d->peak_since_ms >= 2 * bucket || now_ms < d->peak_since_ms) {
        d->peak_since_ms = now_ms; /* both buckets old (or the clock went back) */
        d->peak_prev_bytes = 0;
        d->peak_cur_bytes = 0;
    } else if (now_ms - d->peak_since_ms >= bucket) {
        d->peak_since_ms += bucket;
        d->peak_prev_bytes = d->peak_cur_bytes;
        d->peak_cur_bytes = 0;
    }
    d->peak_cur_bytes = max_u64(d->peak_cur_bytes, target_bytes);
    uint64_t peak = max_u64(d->peak_prev_bytes, d->peak_cur_bytes);
    if (peak <= target_bytes)
        return 0;
    /* The net shrinks when the bucket holding the peak is dropped. */
    d->peak_next_ms = d->peak_since_ms + (d->peak_prev_bytes > d->peak_cur_bytes ? 1 : 2) * bucket;
    return peak - target_bytes;
}

bool vmem_drive_device(struct vmem_drive *d, const struct actuator_vmem *dev, bool size_change,
                       int64_t now_ms)
{
    enum vmem_watch_state before = d->watch.state;
    bool was_there = d->active && d->dev.plugged_bytes == d->dev.requested_bytes;
    d->dev = *dev;
    d->dev.present = true;
    d->active = actuator_vmem_valid(&d->dev);
    struct vmem_watch_input in = {
        .now_ms = now_ms,
        .event = size_change ? VMEM_WATCH_SIZE_CHANGE : VMEM_WATCH_QUERY,
        .requested_bytes = dev->requested_bytes,
        .size_bytes = dev->plugged_bytes,
    };
    enum vmem_watch_state after = vmem_watch_feed(&d->watch, &in);
    bool there = d->dev.plugged_bytes == d->dev.requested_bytes;
    return after != before || (there && !was_there);
}

void vmem_drive_gone(struct vmem_drive *d, int64_t now_ms)
{
    if (!d->active)
        return;
    struct vmem_watch_input in = {.now_ms = now_ms, .event = VMEM_WATCH_GONE};
    vmem_watch_feed(&d->watch, &in);
    d->dev.plugged_bytes = 0; /* QEMU unplugs a virtio-mem device only when empty */
    d->dev.requested_bytes = 0;
}

void vmem_drive_balloon(struct vmem_drive *d, uint64_t balloon_raw_bytes)
{
    d->balloon_raw = balloon_raw_bytes > INT64_MAX ? INT64_MAX : (int64_t)balloon_raw_bytes;
    if (d->balloon_sent_bytes &&
        abs_diff(balloon_raw_bytes, d->balloon_sent_bytes) < VMEM_DRIVE_BALLOON_SLACK_BYTES)
        d->balloon_reached = true;
}

int vmem_drive_plan(struct vmem_drive *d, uint64_t target_bytes, int64_t now_ms,
                    struct vmem_drive_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    d->target_bytes = target_bytes;
    if (!d->active || !d->boot_bytes)
        return 0;
    struct actuator_in in = {
        .target_bytes = target_bytes,
        .floor_bytes = 0, /* the manager's target already keeps working set + headroom */
        .boot_bytes = d->boot_bytes,
        .has_balloon = d->has_balloon,
        .deflate_on_oom = d->deflate_on_oom,
        .host_thp = d->host_thp,
        .net_bytes = note_peak(d, target_bytes, now_ms),
        .vmem = d->dev,
    };
    vmem_watch_advise(&d->watch, now_ms, &in.vmem.watch);
    d->hold_until_ms = in.vmem.watch.until_ms;
    int rc = actuator_plan(&in, &d->last);
    const struct actuator_out *out = &d->last;
    if (out->vmem_valid && out->vmem_changed) {
        cmd->send_vmem = true;
        cmd->vmem_requested_bytes = out->vmem_requested_bytes;
        d->dev.requested_bytes = out->vmem_requested_bytes; /* in force once sent */
    }
    if (out->balloon_valid && d->has_balloon) {
        cmd->send_balloon = true;
        cmd->balloon_qmp_bytes = out->balloon_qmp_bytes;
        d->balloon_sent_bytes = out->balloon_qmp_bytes;
        d->balloon_reached =
            d->balloon_raw >= 0 && abs_diff((uint64_t)d->balloon_raw, out->balloon_qmp_bytes) <
                                       VMEM_DRIVE_BALLOON_SLACK_BYTES;
    }
    return rc;
}

/* The figures we have, fed again at now_ms: a device that stopped moving
 * sends no event, and only a feed turns a move past its time into a stall. */
static void tick_watch(struct vmem_drive *d, int64_t now_ms)
{
    if (!d->active || !d->watch.started || d->stopped)
        return;
    struct vmem_watch_input in = {
        .now_ms = now_ms,
        .event = VMEM_WATCH_QUERY,
        .requested_bytes = d->dev.requested_bytes,
        .size_bytes = d->dev.plugged_bytes,
    };
    vmem_watch_feed(&d->watch, &in);
}

bool vmem_drive_replan(struct vmem_drive *d, int64_t now_ms, struct vmem_drive_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    tick_watch(d, now_ms);
    if (!d->target_bytes || !d->active || !d->boot_bytes)
        return false;
    uint64_t sent = d->balloon_sent_bytes;
    vmem_drive_plan(d, d->target_bytes, now_ms, cmd);
    if (cmd->send_balloon && cmd->balloon_qmp_bytes == sent)
        cmd->send_balloon = false; /* the value in force already */
    return cmd->send_vmem || cmd->send_balloon;
}

int64_t vmem_drive_next_ms(const struct vmem_drive *d)
{
    if (!d->active)
        return 0;
    /* A hold's end, the net's ageing, a move's stall time (vmem_watch.h). */
    const int64_t times[] = {d->hold_until_ms, d->peak_next_ms,
                             d->stopped ? 0 : vmem_watch_stall_due_ms(&d->watch)};
    int64_t next = 0;
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
        if (times[i] && (!next || times[i] < next))
            next = times[i];
    return next;
}

void vmem_drive_set_running(struct vmem_drive *d, bool running, int64_t now_ms)
{
    if (running && d->stopped)
        vmem_watch_restart_clock(&d->watch, now_ms);
    d->stopped = !running;
}

unsigned vmem_drive_timer_s(const struct vmem_drive *d, int64_t now_ms)
{
    int64_t next = vmem_drive_next_ms(d);
    if (!next)
        return 0;
    int64_t wait_s = (next - now_ms + 999) / 1000;
    return (unsigned)(wait_s < 1 ? 1 : wait_s > 24 * 3600 ? 24 * 3600 : wait_s);
}

bool vmem_drive_hold_ended(const struct vmem_drive *d, int64_t now_ms)
{
    int64_t next = vmem_drive_next_ms(d);
    return next && now_ms >= next;
}

/* A move of ours under way: the device not at its request, or the balloon
 * not yet at the value sent. */
static bool in_transition(const struct vmem_drive *d)
{
    return d->dev.plugged_bytes != d->dev.requested_bytes ||
           (d->has_balloon && d->balloon_sent_bytes && !d->balloon_reached);
}

/* The device and the balloon's sum as they stand. The plan's own total over
 * the target (a block's step kept on a THP host, a plug's slack not yet back
 * in the balloon) is ours: the guest's figures at the plan read as at the
 * target, or the policy would wait forever for a shrink to show. */
static uint64_t real_bytes(const struct vmem_drive *d)
{
    uint64_t raw = d->has_balloon ? (uint64_t)d->balloon_raw : d->boot_bytes;
    uint64_t real = raw + d->dev.plugged_bytes;
    uint64_t t = d->target_bytes;
    if (t && real > t && d->last.total_bytes > t)
        real -= min_u64(d->last.total_bytes - t, real - t);
    return real;
}

int64_t vmem_drive_actual_bytes(struct vmem_drive *d)
{
    if (!d->active || !d->boot_bytes)
        return d->balloon_raw;
    if (d->has_balloon && d->balloon_raw < 0)
        return -1;
    uint64_t real = real_bytes(d), t = d->target_bytes;
    uint64_t out = real;
    if (t && d->reported_bytes && in_transition(d)) {
        /* The device and the balloon move apart: their sum between two
         * events goes toward the target, never past it and never back. */
        uint64_t prev = d->reported_bytes;
        if (prev > t)
            out = real < t ? t : (real > prev ? prev : real);
        else
            out = real > t ? t : (real < prev ? prev : real);
    }
    d->reported_bytes = out;
    return (int64_t)out;
}

int64_t vmem_drive_present_bytes(const struct vmem_drive *d)
{
    if (!d->active || !d->boot_bytes)
        return -1;
    return (int64_t)(d->boot_bytes + d->dev.plugged_bytes);
}

int64_t vmem_drive_present_extra_bytes(const struct vmem_drive *d)
{
    if (!d->active || !d->boot_bytes || (d->has_balloon && d->balloon_raw < 0))
        return 0;
    uint64_t raw = d->has_balloon ? (uint64_t)d->balloon_raw : d->boot_bytes;
    return (int64_t)(raw + d->dev.plugged_bytes - real_bytes(d));
}

int64_t vmem_drive_present_actual_bytes(const struct vmem_drive *d)
{
    if (!d->active || !d->boot_bytes || (d->has_balloon && d->balloon_raw < 0))
        return -1;
    return (int64_t)real_bytes(d);
}

int64_t vmem_drive_nominal_bytes(const struct vmem_drive *d)
{
    if (!d->active || !d->boot_bytes)
        return -1;
    return (int64_t)(d->boot_bytes + d->dev.max_bytes);
}

void vmem_drive_fill(struct vmem_drive *d, int64_t now_ms, struct vmsource_balloon *b)
{
    if (!d->active) {
        b->vmem_max_bytes = 0;
        b->present_bytes = b->present_actual_bytes = b->present_extra_bytes = 0;
        return;
    }
    b->vmem_max_bytes = (int64_t)d->dev.max_bytes;
    b->vmem_block_bytes = (int64_t)d->dev.block_bytes;
    b->vmem_size_bytes = (int64_t)d->dev.plugged_bytes;
    b->vmem_requested_bytes = (int64_t)d->dev.requested_bytes;
    struct vmem_watch_advice adv;
    vmem_watch_advise(&d->watch, now_ms, &adv);
    b->vmem_state = vmem_watch_state_name(adv.state);
    b->actuator = d->target_bytes ? actuator_kind_name(d->last.actuator) : NULL;
    b->actuator_reason = d->target_bytes ? d->last.reason : NULL;
    int64_t nominal = vmem_drive_nominal_bytes(d);
    if (nominal > 0)
        b->nominal_bytes = nominal;
    int64_t actual = vmem_drive_actual_bytes(d);
    if (actual >= 0)
        b->actual_bytes = actual;
    int64_t present = vmem_drive_present_bytes(d),
            present_actual = vmem_drive_present_actual_bytes(d);
    b->present_bytes = present > 0 ? present : 0;
    b->present_actual_bytes = present > 0 && present_actual > 0 ? present_actual : 0;
    b->present_extra_bytes = b->present_actual_bytes ? vmem_drive_present_extra_bytes(d) : 0;
    /* A sum of two devices' figures has no one QEMU time: the manager reads
     * it against the target in force now (vmem_drive.h). */
    b->actual_changed_real_us = 0;
}
