/*
 * lv_worker.h — the libvirt source's worker thread: runs the queued calls
 * (lv_callq.h) one at a time, in order, so that ballastd's main loop never
 * waits on libvirtd.
 *
 * Why a thread: a libvirt call is a synchronous RPC to libvirtd. On an open
 * connection keepalive cuts a stalled one after about 6 s, but a connect to
 * a libvirtd that accepts and never answers waits forever, and even 6 s on
 * the main loop is 6 s in which no fleet guest's PRESSURE is answered. So
 * the calls run here; the main loop pushes calls and reads their results
 * (lv_calls.h posts them back through the default GMainContext).
 *
 * One thread per source, one call at a time: libvirt's API is thread-safe
 * per connection, but ordering matters (connect before list, a set after the
 * one it supersedes), and one thread costs one stack.
 *
 * Libvirt-free: the calls are run through run(ctx, call), so the thread's
 * mechanics (order, merging, stop) are unit-tested with a run function that
 * blocks.
 */
#ifndef BALLAST_LV_WORKER_H
#define BALLAST_LV_WORKER_H

#include "lv_callq.h"

#include <glib.h>

/* Runs one call, on the worker thread. */
typedef void (*lv_worker_run_fn)(void *ctx, const struct lv_call *call);
/* The last thing the thread does before it exits (close the connection). */
typedef void (*lv_worker_finish_fn)(void *ctx);

/* What the worker does now (a snapshot under its lock). */
struct lv_worker_state {
    bool busy;           /* a call runs */
    struct lv_call call; /* that call */
    int64_t since_us;    /* monotonic start of that call; 0 when idle */
    guint queued;        /* calls waiting behind it */
    uint64_t calls_run;  /* calls run since start */
};

/*
 * Starts the thread. ctx belongs to the worker from here: ctx_free(ctx)
 * runs when both the owner (lv_worker_stop) and the thread are done with
 * it, on whichever thread is last.
 */
struct lv_worker *lv_worker_new(lv_worker_run_fn run, lv_worker_finish_fn finish, void *ctx,
                                GDestroyNotify ctx_free);

/* Queues a call (merged into a waiting one when it can be); true when merged. */
bool lv_worker_push(struct lv_worker *w, const struct lv_call *call);

/* Drops the waiting domain calls (the connection is being closed); how many. */
guint lv_worker_drop_domain_calls(struct lv_worker *w);

void lv_worker_state(struct lv_worker *w, struct lv_worker_state *out);

/*
 * Stops the worker: the calls already queued still run (a release on exit
 * is a queued set), then finish(ctx), then the thread is joined — if all of
 * that is over within wait_ms. Otherwise the thread is left behind
 * (detached): a libvirt call cannot be interrupted from outside, and a
 * virConnectOpen to a libvirtd that never answers never returns. What was
 * still queued is dropped; when the stuck call returns, if ever, the thread
 * runs finish(ctx), frees ctx and exits. Its results are ignored (lv_calls.h:
 * the owner is gone). true when joined, false when left behind. Frees w
 * (the thread keeps its own reference).
 */
bool lv_worker_stop(struct lv_worker *w, int64_t wait_ms);

#endif
