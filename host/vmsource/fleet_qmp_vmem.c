/*
 * A fleet guest's virtio-mem device beside its balloon, on the guest's QMP
 * connection (fleet_qmp.c): listed after each connect
 * (query-memory-devices), followed through MEMORY_DEVICE_SIZE_CHANGE and the
 * safety-net refresh, and moved with qom-set requested-size before the
 * balloon command that carries the rest of a target. The arithmetic and the
 * bookkeeping are vmem_drive.c's (pure); docs/virtio-mem.md, "ballastd".
 *
 * One device is driven: the first virtio-mem device with an id (our
 * launcher gives a guest one, `vmem0`). Others are left alone and said once.
 */
#include "fleet_qmp_private.h"

#include "qmp_balloon.h"

static int64_t mono_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static void vmem_said(struct fleet_qmp *fq, const char *what, const GError *error)
{
    if (fq->vmem_error_said)
        return;
    fq->vmem_error_said = true;
    g_warning("qmp %s: virtio-mem %s: %s (said once)", fq->name, what,
              error ? error->message : "failed");
}

/* A request of ours that no balloon command follows up: logged only. */
static void on_vmem_set(QmpConn *conn, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing || !error || g_error_matches(error, QMP_ERROR, QMP_ERROR_CANCELLED))
        return;
    vmem_said(fq, "requested-size not taken", error);
}

static void on_balloon_set(QmpConn *conn, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing || !error || g_error_matches(error, QMP_ERROR, QMP_ERROR_CANCELLED))
        return;
    vmem_said(fq, "balloon step after a device move not taken", error);
}

static void send_cmd(struct fleet_qmp *fq, const struct vmem_drive_cmd *cmd)
{
    if (cmd->send_vmem)
        qmp_memdev_set_requested_size_async(fq->conn, &fq->memdev, cmd->vmem_requested_bytes,
                                            FLEET_QMP_TIMEOUT_MS, on_vmem_set, fq);
    if (cmd->send_balloon)
        qmp_balloon_set_target_async(fq->conn, cmd->balloon_qmp_bytes, FLEET_QMP_TIMEOUT_MS,
                                     on_balloon_set, fq);
}

static void arm_timer(struct fleet_qmp *fq);

/* The device moved, or the watch changed its mind: carry the target in force
 * over to the new figures (vmem_drive.h: the slack of a plug goes back into
 * the balloon, a stalled device hands over to the balloon). */
static void replan(struct fleet_qmp *fq)
{
    struct vmem_drive_cmd cmd;
    if (fq->up && vmem_drive_replan(&fq->vmem, mono_ms(), &cmd))
        send_cmd(fq, &cmd);
    arm_timer(fq);
}

static gboolean on_vmem_timer(gpointer data)
{
    struct fleet_qmp *fq = data;
    fq->vmem_timer_id = 0;
    replan(fq);
    fleet_qmp_emit(fq); /* a stall the replan found shows in status at once */
    return G_SOURCE_REMOVE;
}

/*
 * A hold of the watch and the net's peak end at times of their own
 * (vmem_drive_next_ms), and nothing else need happen then: a guest whose
 * agent reports is refreshed only every few minutes
 * (PLANNER_BALLOON_REFRESH_MS). So a timer replans at that time, in whole
 * seconds (it shares its wakeup with ballastd's others), at least 1 s on.
 */
static void arm_timer(struct fleet_qmp *fq)
{
    fleet_vmem_free(fq);
    unsigned wait_s = vmem_drive_timer_s(&fq->vmem, mono_ms());
    if (wait_s && !fq->closing && fq->up) /* after a reconnect on_memdevs arms it again */
        fq->vmem_timer_id = g_timeout_add_seconds(wait_s, on_vmem_timer, fq);
}

void fleet_vmem_free(struct fleet_qmp *fq)
{
    if (fq->vmem_timer_id)
        g_source_remove(fq->vmem_timer_id);
    fq->vmem_timer_id = 0;
}

static struct actuator_vmem to_actuator(const QmpMemdev *m)
{
    return (struct actuator_vmem){
        .present = true,
        .block_bytes = m->block_size_bytes,
        .max_bytes = m->max_size_bytes,
        .plugged_bytes = m->size_bytes,
        .requested_bytes = m->requested_size_bytes,
    };
}

static void on_memdevs(QmpConn *conn, const QmpMemdevList *list, const GError *error, gpointer data)
{
    struct fleet_qmp *fq = data;
    if (fq->closing)
        return;
    fq->memdev_pending = false;
    if (error) {
        if (!g_error_matches(error, QMP_ERROR, QMP_ERROR_CANCELLED))
            vmem_said(fq, "query-memory-devices", error);
        return;
    }
    const QmpMemdev *dev = NULL;
    for (guint i = 0; i < list->n_devices && !dev; i++)
        if (list->devices[i].has_id)
            dev = &list->devices[i];
    if (!dev) {
        if (fq->vmem.active) {
            g_warning("qmp %s: virtio-mem device %s is gone: the balloon alone from now on",
                      fq->name, fq->memdev.id);
            vmem_drive_gone(&fq->vmem, mono_ms());
            replan(fq);
            fleet_qmp_emit(fq);
        }
        return;
    }
    bool first = !fq->vmem.active;
    fq->memdev = *dev;
    struct actuator_vmem a = to_actuator(dev);
    bool moved = vmem_drive_device(&fq->vmem, &a, false, mono_ms());
    if (first && fq->vmem.active)
        g_message("qmp %s: virtio-mem device %s: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                  " MiB plugged, blocks of %" G_GUINT64_FORMAT " KiB%s",
                  fq->name, dev->id, dev->size_bytes >> 20, dev->max_size_bytes >> 20,
                  dev->block_size_bytes >> 10, list->n_devices > 1 ? "; only this one driven" : "");
    if (moved || vmem_drive_hold_ended(&fq->vmem, mono_ms()))
        replan(fq);
    else
        arm_timer(fq); /* the times due may have changed (a reconnect, a new listing) */
    fleet_qmp_emit(fq);
}

/* {"event": "MEMORY_DEVICE_SIZE_CHANGE", "data": {"id": "vmem0", "size": 134217728,
 *  "qom-path": "/machine/peripheral/vmem0"}} - at most one a second per device. */
static void on_size_change(QmpConn *conn, const char *event, JsonObject *data, gint64 timestamp_us,
                           gpointer user)
{
    struct fleet_qmp *fq = user;
    QmpMemdevSizeChange ev;
    if (fq->closing || !fq->vmem.active || !qmp_memdev_parse_size_change_event(data, &ev, NULL) ||
        !qmp_memdev_event_matches(&ev, &fq->memdev))
        return;
    /* A size the device cannot have is ignored: the next listing says. */
    if (ev.size_bytes > fq->memdev.max_size_bytes || ev.size_bytes % fq->memdev.block_size_bytes)
        return;
    fq->memdev.size_bytes = ev.size_bytes;
    struct actuator_vmem a = fq->vmem.dev;
    a.plugged_bytes = ev.size_bytes;
    if (vmem_drive_device(&fq->vmem, &a, true, mono_ms()))
        replan(fq);
    fleet_qmp_emit(fq);
}

void fleet_vmem_init(struct fleet_qmp *fq)
{
    vmem_drive_init(&fq->vmem);
    qmp_conn_subscribe(fq->conn, QMP_EVENT_MEMORY_DEVICE_SIZE_CHANGE, on_size_change, fq, NULL);
}

void fleet_qmp_set_vmem_peak_hold_ms(struct fleet_qmp *fq, uint64_t ms)
{
    fq->vmem.peak_bucket_ms = ms > INT32_MAX ? INT32_MAX : (int64_t)ms;
}

void fleet_vmem_disconnected(struct fleet_qmp *fq)
{
    fleet_vmem_free(fq); /* no replans while QEMU is out of reach */
    vmem_drive_set_running(&fq->vmem, false, mono_ms());
}

void fleet_vmem_connected(struct fleet_qmp *fq)
{
    vmem_drive_set_running(&fq->vmem, true, mono_ms());
    fq->vmem_error_said = false;
    fq->memdev_pending = true;
    qmp_memdev_query_async(fq->conn, FLEET_QMP_TIMEOUT_MS, on_memdevs, fq);
}

void fleet_vmem_refresh(struct fleet_qmp *fq)
{
    if (!fq->vmem.active || fq->memdev_pending)
        return;
    fq->memdev_pending = true;
    qmp_memdev_query_async(fq->conn, FLEET_QMP_TIMEOUT_MS, on_memdevs, fq);
}

void fleet_vmem_balloon(struct fleet_qmp *fq, uint64_t raw_bytes)
{
    vmem_drive_balloon(&fq->vmem, raw_bytes);
}

void fleet_vmem_fill(struct fleet_qmp *fq, struct vmsource_balloon *b)
{
    vmem_drive_fill(&fq->vmem, mono_ms(), b);
}

bool fleet_vmem_active(const struct fleet_qmp *fq)
{
    return fq->vmem.active && fq->vmem.boot_bytes;
}

bool fleet_vmem_set(struct fleet_qmp *fq, uint64_t target_bytes, QmpDoneFunc done, gpointer data)
{
    struct vmem_drive_cmd cmd;
    vmem_drive_plan(&fq->vmem, target_bytes, mono_ms(), &cmd);
    arm_timer(fq);
    if (cmd.send_vmem)
        qmp_memdev_set_requested_size_async(
            fq->conn, &fq->memdev, cmd.vmem_requested_bytes, FLEET_QMP_TIMEOUT_MS,
            fq->vmem.has_balloon ? on_vmem_set : done, fq->vmem.has_balloon ? (gpointer)fq : data);
    if (fq->vmem.has_balloon) {
        /* The command whose answer the manager waits for: always one. */
        uint64_t value = cmd.send_balloon ? cmd.balloon_qmp_bytes : fq->vmem.balloon_sent_bytes;
        if (!value)
            value = fq->vmem.boot_bytes;
        qmp_balloon_set_target_async(fq->conn, value, FLEET_QMP_TIMEOUT_MS, done, data);
        return true;
    }
    if (!cmd.send_vmem) /* a device alone, already there: its request again, as the answer */
        qmp_memdev_set_requested_size_async(fq->conn, &fq->memdev, fq->vmem.dev.requested_bytes,
                                            FLEET_QMP_TIMEOUT_MS, done, data);
    return true;
}
