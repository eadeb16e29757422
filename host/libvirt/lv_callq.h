/*
 * The queue of libvirt calls waiting for the libvirt source's worker thread
 * (lv_worker.h), and when a call counts as stalled. Pure: no libvirt, no
 * thread, no clock (times are the caller's).
 *
 * Why a queue that merges: the main loop asks for calls at its own pace (a
 * balloon target per decision, memory stats at every tick) while the worker
 * may be stuck on a libvirtd that stopped answering. Calls of the same kind
 * for the same domain are folded into the one already waiting, so the queue
 * never holds more than one call per kind and domain however long libvirtd
 * hangs: one balloon set per domain, the newest target wins; one stats read
 * per domain; one re-list. A merge never crosses a connect or disconnect
 * queued after the waiting call: a target queued for a connection that is
 * being closed is not carried over into the next one.
 */
#ifndef BALLAST_LV_CALLQ_H
#define BALLAST_LV_CALLQ_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

/* VIR_UUID_STRING_BUFLEN, without libvirt's header (the queue is pure). */
#define LV_UUID_BUFLEN 37

enum lv_call_kind {
    LV_CALL_CONNECT,    /* virConnectOpen, keepalive, event callbacks, then the list */
    LV_CALL_LIST,       /* virConnectListAllDomains and each domain's live XML */
    LV_CALL_METADATA,   /* virDomainGetMetadata of one domain */
    LV_CALL_SET,        /* virDomainSetMemoryFlags of one domain */
    LV_CALL_STATS,      /* virDomainMemoryStats of one domain */
    LV_CALL_DISCONNECT, /* deregister the callbacks, virConnectClose */
    LV_CALL_VMEM_SET,   /* virDomainUpdateDeviceFlags: a virtio-mem device's requested size */
    LV_CALL_XML,        /* virDomainGetXMLDesc of one domain: its virtio-mem device again */
    LV_CALL_KINDS,
};

struct lv_call {
    enum lv_call_kind kind;
    char uuid[LV_UUID_BUFLEN]; /* the domain; "" for the connection's calls */
    uint64_t target_bytes;     /* LV_CALL_SET: the newest target asked for */
    /*
     * LV_CALL_SET: the balloon value to send, when not target_bytes (0): a
     * domain with a virtio-mem device gets the plan's boot-relative value
     * (vmem_drive.h). LV_CALL_VMEM_SET: the device's requested size.
     */
    uint64_t value_bytes;
    /* LV_CALL_SET: a balloon step of the virtio-mem plan (a replan after the
     * device moved), which nobody waits for: no vm_set_done. A manager's set
     * folded into it (or it into one) is answered as usual. */
    bool step;
    /* LV_CALL_SET of a domain without a balloon whose virtio-mem device
     * carries the target (the device's request queued before it): nothing
     * to call, only the manager's answer, in order after the request. */
    bool answer_only;
    unsigned merged; /* later requests folded into this one */
};

/* The libvirt function a call is named by in logs and status ("virConnectOpen"). */
const char *lv_call_name(enum lv_call_kind kind);

/* Whether the call is about one domain (merges per domain), not the connection. */
bool lv_call_is_domain(enum lv_call_kind kind);

/*
 * Folds incoming into queued when both are the same domain call for the
 * same domain (the newest target and value win; a set stays answered when
 * either was, with the newest answered target); false, and queued untouched,
 * otherwise. Connection calls (connect, disconnect) never merge, and a list
 * merges with a list.
 */
bool lv_call_merge(struct lv_call *queued, const struct lv_call *incoming);

/* FIFO of struct lv_call, merged on push. Not thread-safe: the worker locks it. */
struct lv_callq {
    GQueue calls; /* struct lv_call * */
};

void lv_callq_init(struct lv_callq *q);
void lv_callq_clear(struct lv_callq *q);
/* Queues c, or folds it into a waiting one (lv_call_merge, not across a
 * connection call queued after that one, nor a domain's set across that
 * domain's virtio-mem request); true when it was folded. */
bool lv_callq_push(struct lv_callq *q, const struct lv_call *c);
/* Takes the oldest call into *out; false when the queue is empty. */
bool lv_callq_pop(struct lv_callq *q, struct lv_call *out);
guint lv_callq_length(const struct lv_callq *q);
/* Drops every waiting domain call (the connection is going away); how many. */
guint lv_callq_drop_domain_calls(struct lv_callq *q);

/*
 * How long the call that started at started_us has been waiting, in whole
 * seconds, when that is at least stall_ms (it is stalled); 0 when it is not
 * (or no call runs: started_us == 0). Monotonic microseconds.
 */
int64_t lv_call_stalled_s(int64_t started_us, int64_t now_us, int64_t stall_ms);

#endif
