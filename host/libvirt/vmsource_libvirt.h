/*
 * The libvirt VM source: the running domains of one libvirt connection
 * (default qemu:///system) that have a virtio memballoon, behind the same
 * vtable as the fleet source (host/daemon/vmsource.h).
 *
 *   discovery   virConnectListAllDomains(ACTIVE) at start and after every
 *               reconnect; then lifecycle events only, no polling
 *               (STARTED/RESUMED add, STOPPED/UNDEFINED remove, SUSPENDED
 *               marks the backend down until RESUMED, CRASHED is logged);
 *   target      virDomainSetMemoryFlags(AFFECT_LIVE) in KiB; with a usable
 *               virtio-mem device (<memory model='virtio-mem'>) the target
 *               is split (lv_vmem_drive.h): the device's requested size by
 *               virDomainUpdateDeviceFlags(AFFECT_LIVE) first, then the
 *               balloon's boot-relative value;
 *   virtio-mem  VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE (libvirt >= 7.9)
 *               and the live XML read again every LV_VMEM_READ_MS on refresh;
 *   balloon     VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, and virDomainMemoryStats
 *               on refresh (after virDomainSetMemoryStatsPeriod when the
 *               domain had no stats period);
 *   agent       the host socket of <channel type='unix'> named
 *               org.ballast.agent.0 in the live domain XML;
 *   policy      <metadata><ballast:policy xmlns:ballast=LV_POLICY_NS_URI>,
 *               read at discovery and on VIR_DOMAIN_EVENT_ID_METADATA_CHANGE;
 *   libvirtd    a close callback and keepalive notice a restart; the source
 *               reconnects with backoff (LV_RECONNECT_MIN_MS doubling to
 *               LV_RECONNECT_MAX_MS), marks VMs' backend down meanwhile and
 *               re-lists afterwards (gone VMs removed, new ones added).
 *
 * Threads: libvirt calls are synchronous RPCs to libvirtd, so none is made
 * on ballastd's main loop. Each source has one worker thread (lv_worker.h)
 * that makes every call in order (lv_calls.h); results come back to the
 * main loop as idles, where the source's state changes. The main loop never
 * waits on libvirtd: what it reads of a libvirt VM is its last known
 * figures, and set_target and refresh only queue a call. Calls queued
 * behind one that does not come back are merged (lv_callq.h: one balloon
 * set per domain, the newest target wins; one stats read per domain), so a
 * hung libvirtd costs a bounded queue, not memory without end.
 *
 * A call that has not come back within LV_CALL_STALL_MS marks the source
 * stalled: a WARNING once ("libvirt: virConnectOpen pending for 5 s ..."),
 * then status says so (vmsource_libvirt_describe) until it answers. On an
 * open connection keepalive still cuts a stalled call after
 * lv_keepalive_stall_ms(LV_KEEPALIVE_INTERVAL_S, LV_KEEPALIVE_COUNT) and the
 * source reconnects; a connect to a libvirtd that accepts and never answers
 * is not bounded by libvirt at all, and stays stalled until that libvirtd
 * answers or goes away. At exit the worker gets LV_STOP_WAIT_MS to finish
 * what is queued (a release on exit) and close the connection; a call that
 * is still stuck then cannot be interrupted, so its thread is left behind
 * and ends with the process (docs/libvirt.md, "When libvirtd hangs").
 *
 * Event callbacks, keepalive and the close callback: lv_calls.h says which
 * thread runs them.
 */
#ifndef BALLAST_VMSOURCE_LIBVIRT_H
#define BALLAST_VMSOURCE_LIBVIRT_H

#include "lv_policy.h"
#include "vmsource.h"

#include <glib.h>

#include <stddef.h>
#include <stdint.h>

#define LV_DEFAULT_URI      "qemu:///system"
#define LV_RECONNECT_MIN_MS 500
#define LV_RECONNECT_MAX_MS 30000
/* A keepalive every 2 s once the connection is quiet, cut after 2 unanswered:
 * a call to a libvirtd that stopped answering fails after 6 s at most, and
 * the source reconnects (the main loop does not wait for it either way). */
#define LV_KEEPALIVE_INTERVAL_S 2
#define LV_KEEPALIVE_COUNT      2
/* The longest a call on an open connection may take before keepalive cuts
 * it; the keepalive above must stay within it. */
#define LV_CALL_STALL_MAX_MS 6000
/* A call not back after this is a stall: said once, and shown in status. */
#define LV_CALL_STALL_MS 5000
/* At exit, what the worker may take to finish its queue and close. */
#define LV_STOP_WAIT_MS 2000

/*
 * How long a call to a libvirtd that stopped answering can wait before
 * keepalive closes the connection: the quiet interval before the first
 * keepalive, then count unanswered ones an interval apart.
 */
static inline uint64_t lv_keepalive_stall_ms(unsigned interval_s, unsigned count)
{
    return (uint64_t)interval_s * 1000u * ((uint64_t)count + 1u);
}
/* Stats period set on domains that have none, so virDomainMemoryStats has guest figures. */
#define LV_DEFAULT_STATS_PERIOD_S 5

struct vmsource_libvirt_options {
    const char *uri;         /* NULL: LV_DEFAULT_URI */
    unsigned stats_period_s; /* 0: LV_DEFAULT_STATS_PERIOD_S; never lowers an existing period */
    /* How long a virtio-mem domain's recent peak stays plugged as its net
     * (config vmem_peak_hold_ms, vmem_drive.h; 0 = one block), when given;
     * else VMEM_DRIVE_PEAK_MS. */
    bool vmem_peak_hold_given;
    uint64_t vmem_peak_hold_ms;
    /* Optional: a VM's metadata policy was read or changed (cookie as in vmsource_events). */
    void (*policy_changed)(void *ctx, void *cookie, const struct lv_policy *policy);
};

/* Creates the source (not yet started: call src->ops->start). */
struct vmsource *vmsource_libvirt_new(const struct vmsource_libvirt_options *opts,
                                      const struct vmsource_events *events, void *events_ctx);

/* The VM's metadata policy as last read (present == false when it has none). */
const struct lv_policy *vmsource_libvirt_vm_policy(struct vmsource *src, struct vmsource_vm *vm);

/* The VM's machine type ("pc-q35-7.2", "microvm"), or NULL. */
const char *vmsource_libvirt_vm_machine(struct vmsource *src, struct vmsource_vm *vm);

/*
 * Reads every VM's metadata policy again and fires policy_changed for each
 * (ballastd does it on a config reload: a change whose event was missed, or
 * a libvirt without metadata-change events, is picked up then).
 */
void vmsource_libvirt_reread_policies(struct vmsource *src);

/* Whether the source is connected to libvirtd right now. */
bool vmsource_libvirt_connected(struct vmsource *src);

/*
 * One line for status: "connected (URI)", "connecting (URI)", "down: WHY
 * (URI); retrying", or "stalled: call virConnectOpen pending for 12 s (URI),
 * N waiting". true when stalled.
 */
bool vmsource_libvirt_describe(struct vmsource *src, char *buf, size_t len);

#endif
