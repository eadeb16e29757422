/* lv_vmem_drive.c — a libvirt domain's virtio-mem device on the main loop;
 * see lv_vmem_drive.h. */
#include "lv_vmem_drive.h"

#include <string.h>

static int64_t mono_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

void lv_vmem_drive_init(struct lv_vmem_drive *v, const char *name, uint64_t peak_hold_ms,
                        const struct lv_vmem_drive_ops *ops, void *ctx)
{
    memset(v, 0, sizeof(*v));
    vmem_drive_init(&v->d);
    v->d.peak_bucket_ms = peak_hold_ms > INT32_MAX ? INT32_MAX : (int64_t)peak_hold_ms;
    v->name = g_strdup(name);
    v->ops = ops;
    v->ctx = ctx;
}

static void stop_timer(struct lv_vmem_drive *v)
{
    if (v->timer_id)
        g_source_remove(v->timer_id);
    v->timer_id = 0;
}

void lv_vmem_drive_clear(struct lv_vmem_drive *v)
{
    stop_timer(v);
    g_free(v->name);
    g_free(v->alias);
    g_free(v->not_driven_why);
    g_free(v->request_error);
    memset(v, 0, sizeof(*v));
}

static void arm_timer(struct lv_vmem_drive *v);

void lv_vmem_drive_set_running(struct lv_vmem_drive *v, bool running)
{
    vmem_drive_set_running(&v->d, running, mono_ms());
    if (v->d.active)
        arm_timer(v); /* the stall time moved, or is no longer counted */
}

void lv_vmem_drive_set_thp(struct lv_vmem_drive *v, bool thp)
{
    v->d.host_thp = thp;
}

/* The device moved, or the watch changed its mind: carry the target in
 * force over to the new figures (the slack of a plug back into the
 * balloon, a stalled device handed over to the balloon). */
static void replan(struct lv_vmem_drive *v)
{
    struct vmem_drive_cmd cmd;
    if (vmem_drive_replan(&v->d, mono_ms(), &cmd))
        v->ops->send(v->ctx, &cmd);
    arm_timer(v);
}

static gboolean on_timer(gpointer data)
{
    struct lv_vmem_drive *v = data;
    v->timer_id = 0;
    replan(v);
    return G_SOURCE_REMOVE;
}

/* A hold's end and the net's ageing have their own times, and nothing else
 * need happen then (fleet_qmp_vmem.c's arm_timer, the same reasons). */
static void arm_timer(struct lv_vmem_drive *v)
{
    stop_timer(v);
    unsigned wait_s = vmem_drive_timer_s(&v->d, mono_ms());
    if (wait_s)
        v->timer_id = g_timeout_add_seconds(wait_s, on_timer, v);
}

/* Says once per reason why the domain's device is not driven. */
static void not_driven(struct lv_vmem_drive *v, const char *why)
{
    if (g_strcmp0(v->not_driven_why, why) == 0)
        return;
    g_free(v->not_driven_why);
    v->not_driven_why = g_strdup(why);
    g_message("libvirt: domain %s: virtio-mem device not driven: %s (its balloon is)", v->name,
              why);
}

/* The device left the domain: as on QMP (fleet_qmp_vmem.c) the drive
 * stays, its watch says removed, and the plan is the balloon's alone. */
static void device_removed(struct lv_vmem_drive *v)
{
    if (v->removed)
        return;
    v->removed = true;
    g_warning("libvirt: domain %s: virtio-mem device %s is gone: the balloon alone from now on",
              v->name, v->alias ? v->alias : "?");
    vmem_drive_gone(&v->d, mono_ms());
    replan(v);
}

/* The device is there but can no longer be driven: the balloon's own
 * figures are the guest's again. */
static void device_unusable(struct lv_vmem_drive *v, const char *why)
{
    not_driven(v, why);
    v->d.active = false;
    stop_timer(v);
}

static void device_seen(struct lv_vmem_drive *v, const struct lv_domain_info *info,
                        const struct actuator_vmem *fig)
{
    bool first = !v->d.active;
    g_free(v->alias);
    v->alias = g_strdup(info->vmem.alias);
    int64_t now = mono_ms();
    v->removed = false;
    bool moved = vmem_drive_device(&v->d, fig, false, now);
    if (!v->d.active) {
        device_unusable(v, "its figures are not whole blocks of a power-of-two size");
        return;
    }
    if (!v->d.boot_bytes) {
        not_driven(v, "its boot memory cannot be told from the XML (no NUMA cell, or sizes that "
                      "do not add up)");
        return;
    }
    g_clear_pointer(&v->not_driven_why, g_free);
    if (first)
        g_message("libvirt: domain %s: virtio-mem device %s: %" G_GUINT64_FORMAT
                  " of %" G_GUINT64_FORMAT " MiB plugged, blocks of %" G_GUINT64_FORMAT
                  " KiB, boot memory %" G_GUINT64_FORMAT " MiB%s",
                  v->name, v->alias, fig->plugged_bytes >> 20, fig->max_bytes >> 20,
                  fig->block_bytes >> 10, v->d.boot_bytes >> 20,
                  info->vmem.count > 1 ? "; only this one driven" : "");
    if (moved || vmem_drive_hold_ended(&v->d, now))
        replan(v);
}

void lv_vmem_drive_xml(struct lv_vmem_drive *v, const struct lv_domain_info *info)
{
    v->d.boot_bytes = lv_vmem_boot_bytes(info);
    v->d.has_balloon = info->has_balloon;
    v->d.deflate_on_oom = info->autodeflate;
    v->has_device = info->vmem.present;
    struct actuator_vmem fig;
    const char *why = NULL;
    if (lv_vmem_figures(info, &fig, &why) == 0)
        device_seen(v, info, &fig);
    else if (v->d.active && !info->vmem.present)
        device_removed(v);
    else if (v->d.active)
        device_unusable(v, why);
    else if (info->vmem.present)
        not_driven(v, why);
}

bool lv_vmem_drive_size_change(struct lv_vmem_drive *v, const char *alias,
                               unsigned long long size_kib)
{
    struct vmem_drive *d = &v->d;
    uint64_t size_bytes;
    if (!d->active || !lv_vmem_size_event(v->alias, d->dev.block_bytes, d->dev.max_bytes, alias,
                                          size_kib, &size_bytes))
        return false;
    struct actuator_vmem a = d->dev;
    a.plugged_bytes = size_bytes;
    if (vmem_drive_device(d, &a, true, mono_ms()))
        replan(v);
    return true;
}

void lv_vmem_drive_balloon(struct lv_vmem_drive *v, uint64_t reported_bytes)
{
    bool corrected = false;
    uint64_t raw = reported_bytes;
    if (v->d.active)
        raw = lv_vmem_balloon_qemu_bytes(reported_bytes, v->d.boot_bytes, v->d.dev.plugged_bytes,
                                         &corrected);
    if (corrected && !v->balloon_said) {
        v->balloon_said = true;
        g_warning("libvirt: domain %s: balloon figure of %" G_GUINT64_FORMAT
                  " KiB is over its boot memory of %" G_GUINT64_FORMAT
                  " KiB: libvirt counted the virtio-mem device in; taken as %" G_GUINT64_FORMAT
                  " KiB (said once)",
                  v->name, reported_bytes >> 10, v->d.boot_bytes >> 10, raw >> 10);
    }
    vmem_drive_balloon(&v->d, raw);
}

void lv_vmem_drive_request_done(struct lv_vmem_drive *v, const char *error)
{
    g_free(v->request_error);
    v->request_error = g_strdup(error);
    if (!error) {
        v->error_said = false;
        return;
    }
    if (!v->error_said)
        g_warning("libvirt: domain %s: virtio-mem requested size not taken: %s (said once)",
                  v->name, error);
    v->error_said = true;
    v->read_ms = 0; /* read what the device is asked for now at the next refresh */
}

bool lv_vmem_drive_active(const struct lv_vmem_drive *v)
{
    return v->d.active && v->d.boot_bytes;
}

bool lv_vmem_drive_read_due(struct lv_vmem_drive *v)
{
    int64_t now = mono_ms();
    if (!v->has_device || (v->read_ms && now - v->read_ms < LV_VMEM_READ_MS))
        return false;
    v->read_ms = now;
    return true;
}

uint64_t lv_vmem_drive_plan(struct lv_vmem_drive *v, uint64_t target_bytes,
                            struct vmem_drive_cmd *cmd)
{
    vmem_drive_plan(&v->d, target_bytes, mono_ms(), cmd);
    arm_timer(v);
    /* The command whose answer the manager waits for: always one. */
    uint64_t value = cmd->send_balloon ? cmd->balloon_qmp_bytes : v->d.balloon_sent_bytes;
    return value ? value : v->d.boot_bytes;
}

void lv_vmem_drive_fill(struct lv_vmem_drive *v, struct vmsource_balloon *b)
{
    vmem_drive_fill(&v->d, mono_ms(), b);
}
