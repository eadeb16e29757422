/*
 * What fleet_qmp.c and fleet_qmp_vmem.c share: one fleet guest's QMP
 * state. Private to host/vmsource.
 */
#ifndef BALLAST_FLEET_QMP_PRIVATE_H
#define BALLAST_FLEET_QMP_PRIVATE_H

#include "fleet_qmp.h"
#include "qmp.h"
#include "qmp_memdev.h"
#include "vmem_drive.h"

struct fleet_qmp {
    QmpConn *conn;
    char *name;
    const struct fleet_qmp_events *events;
    void *ctx;
    bool closing; /* set in free: late CANCELLED callbacks must not touch anything */
    bool up;
    bool query_pending;
    bool stats_pending;
    guint reconnect_id;
    guint backoff_ms;
    guint attempts;     /* failed connects since the last success (log once) */
    char *balloon_path; /* QOM path of the balloon device, NULL until found */
    struct vmsource_balloon balloon;
    int64_t base_bytes; /* query-memory-size-summary base-memory (boot RAM); -1 unknown */
    /* The virtio-mem device, when the guest has one (fleet_qmp_vmem.c). */
    bool memdev_pending;
    bool vmem_error_said;
    QmpMemdev memdev; /* as last listed: its id addresses qom-set */
    struct vmem_drive vmem;
    guint vmem_timer_id; /* replans when a hold ends, the net's peak ages out, a move stalls */
};

/* fleet_qmp_vmem.c: the virtio-mem device beside the balloon. */
void fleet_vmem_init(struct fleet_qmp *fq);
/* After connecting: list the memory devices (and subscribe once). */
void fleet_vmem_connected(struct fleet_qmp *fq);
/* QEMU out of reach: no replan timer, no stall counted until it is back. */
void fleet_vmem_disconnected(struct fleet_qmp *fq);
/* The safety-net refresh: list the devices again (the watch needs a query
 * now and then to time a stall, and a removed device shows only there). */
void fleet_vmem_refresh(struct fleet_qmp *fq);
/* A balloon figure from QEMU (boot-relative). */
void fleet_vmem_balloon(struct fleet_qmp *fq, uint64_t raw_bytes);
/* Fills the device's figures and the guest's whole memory into b. */
void fleet_vmem_fill(struct fleet_qmp *fq, struct vmsource_balloon *b);
/* Whether set_target goes through the device (a usable one, boot known). */
bool fleet_vmem_active(const struct fleet_qmp *fq);
/* Splits target_bytes between the device and the balloon and sends them,
 * the device first; done runs once with the outcome of the last command
 * sent (the balloon's, or the device's when the guest has no balloon). */
bool fleet_vmem_set(struct fleet_qmp *fq, uint64_t target_bytes, QmpDoneFunc done, gpointer data);
/* Stops fleet_vmem's timer (fleet_qmp_free). */
void fleet_vmem_free(struct fleet_qmp *fq);
/* fleet_qmp.c: hands the figures to the source (with fleet_vmem_fill). */
void fleet_qmp_emit(struct fleet_qmp *fq);

#endif
