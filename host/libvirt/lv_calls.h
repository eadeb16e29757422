/*
 * lv_calls.h — the libvirt calls of the libvirt source, as the worker
 * thread (lv_worker.h) runs them, and what they bring back to the main loop.
 *
 * Every RPC to libvirtd happens here, on the worker thread: connect (with
 * keepalive, the close callback and the domain event callbacks), the domain
 * list with each domain's live XML and state, the stats period, metadata,
 * balloon set, memory stats, a virtio-mem device's requested size and its
 * live XML read again, disconnect. The worker owns the connection and
 * one virDomainPtr per running domain (by UUID); the main loop never holds
 * either, and sees only results (struct lv_result), posted to the default
 * GMainContext in the order the calls ran.
 *
 * Which thread runs what libvirt gives back: ballast's event loop impl
 * (lv_event.h) dispatches on the main loop, so the domain event callbacks
 * and keepalive's timer run there (they never wait on libvirtd: an event is
 * already read, a keepalive ping is sent non-blocking). While the worker is
 * inside a call, libvirt's client reads the socket on the worker (events
 * included, queued for the main loop) and runs keepalive there, which still
 * cuts a call on a connection that stopped answering. The close callback
 * may come on either thread: it only posts to the main loop.
 *
 * The link: results, events and the close notice reach the source through
 * a small refcounted struct lv_link, whose owner is cleared when the source
 * is freed; a result or event that arrives later (a worker left behind
 * when ballastd stopped) is dropped.
 */
#ifndef BALLAST_LV_CALLS_H
#define BALLAST_LV_CALLS_H

#include "lv_callq.h"
#include "lv_xml.h"
#include "vmsource.h"

#include <libvirt/libvirt.h>

struct lv_result;

/* Shared by the source (main loop) and the worker's connection; see above. */
struct lv_link {
    gint refs;
    void *owner; /* main loop only; NULL once the source is freed */
    /* All called on the main loop, only while owner is set. */
    void (*result)(void *owner, const struct lv_result *r);
    void (*closed)(void *owner, int reason);
    int (*lifecycle)(void *owner, virDomainPtr dom, int event, int detail);
    void (*balloon)(void *owner, virDomainPtr dom, unsigned long long actual_kib);
    void (*metadata)(void *owner, virDomainPtr dom, int type, const char *nsuri);
    /* MEMORY_DEVICE_SIZE_CHANGE: the device's new current size, in KiB. */
    void (*vmem_size)(void *owner, virDomainPtr dom, const char *alias,
                      unsigned long long size_kib);
};

struct lv_link *lv_link_ref(struct lv_link *link);
void lv_link_unref(void *link);

/* One running domain as a list saw it. */
struct lv_dom_snapshot {
    char uuid[LV_UUID_BUFLEN];
    char *name;
    bool info_valid;             /* the live XML was read and parsed */
    struct lv_domain_info info;  /* it, when valid (the metadata policy included) */
    char *error;                 /* why not, when not */
    bool paused;                 /* paused or PM-suspended */
    unsigned stats_period_set_s; /* > 0: the list set this stats period (the domain had none) */
    char *stats_period_error;    /* setting one failed: libvirt's message */
};

struct lv_result {
    struct lv_call call;
    char *error;             /* NULL: the call worked; else libvirt's message */
    int64_t took_ms;         /* how long the call took on the worker */
    GPtrArray *doms;         /* CONNECT, LIST: struct lv_dom_snapshot *; NULL when not listed */
    char *list_error;        /* CONNECT: connected, but the list failed */
    bool no_metadata_events; /* CONNECT: libvirt has no metadata-change events */
    char *no_keepalive;      /* CONNECT: why virConnectSetKeepAlive failed */
    char *no_close_callback; /* CONNECT: why the close callback could not be set */
    bool no_vmem_events;     /* CONNECT: no MEMORY_DEVICE_SIZE_CHANGE (libvirt before 7.9) */
    /* METADATA: the policy fields of the element (an absent one: has_policy false). */
    struct lv_domain_info meta;
    /* STATS: the figures libvirt returned; -1 (update 0) for those it did not. */
    struct vmsource_balloon stats;
    /* XML: the live domain XML read again, when info_valid. */
    bool info_valid;
    struct lv_domain_info info;
};

/* The worker's side: the connection and its domains (worker thread only). */
struct lv_conn;

struct lv_conn *lv_conn_new(const char *uri, unsigned stats_period_s, struct lv_link *link);
/* lv_worker_run_fn, lv_worker_finish_fn and the ctx_free of lv_worker_new. */
void lv_conn_run(void *conn, const struct lv_call *call);
void lv_conn_finish(void *conn);
void lv_conn_free(void *conn);

/* libvirt's last error on this thread, never NULL. */
const char *lv_last_error(void);

#endif
