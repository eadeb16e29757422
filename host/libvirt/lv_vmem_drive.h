/*
 * lv_vmem_drive.h — one libvirt domain's virtio-mem device driven beside
 * its balloon, on the main loop, with the fleet's bookkeeping
 * (host/vmsource/vmem_drive.h) and libvirt's figures (lv_vmem.h).
 *
 * The loop, as for a fleet guest (docs/virtio-mem.md, "ballastd"): the
 * manager sets one target; lv_vmem_drive_plan splits it into the device's
 * requested size and the balloon's boot-relative value, which the source
 * queues on its worker (virDomainUpdateDeviceFlags, then
 * virDomainSetMemoryFlags). The device's size comes back through
 * MEMORY_DEVICE_SIZE_CHANGE (lv_vmem_drive_size_change) and the live XML
 * read again on refresh (lv_vmem_drive_xml); when the device reaches its
 * request, the watch changes its mind, a hold ends or the net's peak ages
 * out, the target in force is planned again and the difference is sent
 * through ops->send (a step nobody waits for). A device that leaves the
 * domain is forgotten and the balloon carries on alone.
 *
 * Nothing here calls libvirt: ops->send queues the calls.
 */
#ifndef BALLAST_LV_VMEM_DRIVE_H
#define BALLAST_LV_VMEM_DRIVE_H

#include "lv_vmem.h"
#include "vmem_drive.h"
#include "vmsource.h"

#include <glib.h>

struct lv_vmem_drive_ops {
    /* Queue a replan's commands: the device's request first, then the
     * balloon's step (vmem_drive_cmd); no manager waits for them. */
    void (*send)(void *ctx, const struct vmem_drive_cmd *cmd);
};

struct lv_vmem_drive {
    struct vmem_drive d;
    char *name;           /* the domain's, for logs */
    char *alias;          /* the driven device's ("virtiomem0"), NULL until seen */
    bool has_device;      /* the last XML had a virtio-mem device (driven or not) */
    bool removed;         /* the driven device left the domain (said, watch told) */
    int64_t read_ms;      /* the last re-read of the XML was queued; 0 never */
    char *not_driven_why; /* the reason last said, so it is said once */
    bool error_said;      /* a failed request said since the last that worked */
    char *request_error;  /* the last request's error; NULL when it worked */
    bool balloon_said;    /* a balloon figure over boot memory said */
    guint timer_id;       /* replans when a hold ends or the net's peak ages out */
    const struct lv_vmem_drive_ops *ops;
    void *ctx;
};

/* peak_hold_ms: the net's bucket (vmem_drive.h, config vmem_peak_hold_ms). */
void lv_vmem_drive_init(struct lv_vmem_drive *v, const char *name, uint64_t peak_hold_ms,
                        const struct lv_vmem_drive_ops *ops, void *ctx);
/* Stops the timer and frees; nothing is sent after this. */
void lv_vmem_drive_clear(struct lv_vmem_drive *v);
/* The domain runs and answers (true), or is paused or out of reach: the
 * watch does not time a move meanwhile (vmem_drive_set_running). */
void lv_vmem_drive_set_running(struct lv_vmem_drive *v, bool running);
/* Whether the QEMU's guest RAM may sit in huge pages (thp_mode.h). */
void lv_vmem_drive_set_thp(struct lv_vmem_drive *v, bool thp);

/* A live XML of the domain (discovery, a list, a re-read): boot memory,
 * the balloon's device, the virtio-mem device's figures or its absence. */
void lv_vmem_drive_xml(struct lv_vmem_drive *v, const struct lv_domain_info *info);
/* VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE; true when it was the
 * driven device's (the figures changed). */
bool lv_vmem_drive_size_change(struct lv_vmem_drive *v, const char *alias,
                               unsigned long long size_kib);
/* A balloon figure libvirt reported (lv_vmem_balloon_qemu_bytes). */
void lv_vmem_drive_balloon(struct lv_vmem_drive *v, uint64_t reported_bytes);
/* A request the worker could not make: said once until one works. */
void lv_vmem_drive_request_done(struct lv_vmem_drive *v, const char *error);

/* Whether set_target goes through the device (a usable one, boot known). */
bool lv_vmem_drive_active(const struct lv_vmem_drive *v);
/* Whether the live XML is due to be read again now (a device seen, and
 * LV_VMEM_READ_MS since the last read); true marks it read. */
bool lv_vmem_drive_read_due(struct lv_vmem_drive *v);
/*
 * Plans target_bytes: fills what to send for the device into cmd and
 * returns the balloon value for the manager's set, which is always sent
 * (the manager waits for its answer): the plan's, or the value in force.
 */
uint64_t lv_vmem_drive_plan(struct lv_vmem_drive *v, uint64_t target_bytes,
                            struct vmem_drive_cmd *cmd);
/* The manager's figures (vmem_drive_fill); b keeps the balloon's own
 * without a driven device. */
void lv_vmem_drive_fill(struct lv_vmem_drive *v, struct vmsource_balloon *b);

#endif
