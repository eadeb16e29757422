/*
 * One fleet guest's QMP side, for the fleet VM source: keeps a QmpConn
 * (host/qmp) connected with backoff, follows BALLOON_CHANGE, answers
 * refresh requests with query-balloon (and guest-stats when asked), and
 * moves the balloon target. Results go out through two callbacks.
 */
#ifndef BALLAST_FLEET_QMP_H
#define BALLAST_FLEET_QMP_H

#include "vmsource.h"

#include <stdbool.h>
#include <stdint.h>

/* Reconnect backoff: first retry, doubling up to the cap. */
#define FLEET_QMP_BACKOFF_MIN_MS 250
#define FLEET_QMP_BACKOFF_MAX_MS 10000
#define FLEET_QMP_TIMEOUT_MS     3000
/* Guest statistics polling period asked of the balloon driver (fallback path). */
#define FLEET_QMP_STATS_INTERVAL_S 2

struct fleet_qmp;

struct fleet_qmp_events {
    void (*state)(void *ctx, bool connected);
    void (*balloon)(void *ctx, const struct vmsource_balloon *balloon);
    /* A balloon command came back: error NULL when QEMU took it. Not called
     * for a command cancelled by a disconnect (state says that). */
    void (*set_done)(void *ctx, uint64_t target_bytes, const char *error);
};

/* Starts connecting to socket_path at once; name is for logs. */
struct fleet_qmp *fleet_qmp_new(const char *socket_path, const char *name,
                                const struct fleet_qmp_events *events, void *ctx);
/* Disconnects; no callback runs during or after this. NULL is fine. */
void fleet_qmp_free(struct fleet_qmp *fq);
/* How long a virtio-mem guest's recent peak stays plugged as its net
 * (config vmem_peak_hold_ms, vmem_drive.h); 0 = one block. Before the first
 * target. */
void fleet_qmp_set_vmem_peak_hold_ms(struct fleet_qmp *fq, uint64_t ms);

/* 0 when the balloon command was sent (set_done follows, within
 * FLEET_QMP_TIMEOUT_MS), -ENOTCONN when QMP is not up. */
int fleet_qmp_set_target(struct fleet_qmp *fq, uint64_t target_bytes);
/* query-balloon (+ guest-stats) now, unless a refresh is still in flight. */
void fleet_qmp_refresh(struct fleet_qmp *fq, bool guest_stats);
/* Whether the QEMU's guest RAM may sit in transparent huge pages
 * (thp_mode.h): the virtio-mem plan keeps the balloon out of sub-block
 * steps then (actuator.h, rule 4). */
void fleet_qmp_set_host_thp(struct fleet_qmp *fq, bool thp);
/* Whether the QMP session is up (negotiated). */
bool fleet_qmp_connected(const struct fleet_qmp *fq);

#endif
