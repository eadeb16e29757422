/* lv_worker.c — the libvirt source's worker thread; see lv_worker.h. */
#include "lv_worker.h"

struct lv_worker {
    gint refs; /* the owner's and the thread's */
    GMutex lock;
    GCond wake; /* a call was queued, or stop */
    GCond gone; /* the thread is about to exit */
    struct lv_callq q;
    struct lv_worker_state now;
    bool stopping;
    bool exited;
    GThread *thread;
    lv_worker_run_fn run;
    lv_worker_finish_fn finish;
    void *ctx;
    GDestroyNotify ctx_free;
};

static void worker_unref(struct lv_worker *w)
{
    if (!g_atomic_int_dec_and_test(&w->refs))
        return;
    if (w->ctx_free)
        w->ctx_free(w->ctx);
    lv_callq_clear(&w->q);
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->wake);
    g_cond_clear(&w->gone);
    g_free(w);
}

static gpointer worker_main(gpointer data)
{
    struct lv_worker *w = data;
    struct lv_call call;
    g_mutex_lock(&w->lock);
    for (;;) {
        while (!w->stopping && lv_callq_length(&w->q) == 0)
            g_cond_wait(&w->wake, &w->lock);
        if (!lv_callq_pop(&w->q, &call))
            break; /* stopping, and nothing left to run */
        w->now.busy = true;
        w->now.call = call;
        w->now.since_us = g_get_monotonic_time();
        g_mutex_unlock(&w->lock);
        w->run(w->ctx, &call);
        g_mutex_lock(&w->lock);
        w->now.busy = false;
        w->now.since_us = 0;
        w->now.calls_run++;
    }
    g_mutex_unlock(&w->lock);
    if (w->finish)
        w->finish(w->ctx);
    g_mutex_lock(&w->lock);
    w->exited = true;
    g_cond_broadcast(&w->gone);
    g_mutex_unlock(&w->lock);
    worker_unref(w);
    return NULL;
}

struct lv_worker *lv_worker_new(lv_worker_run_fn run, lv_worker_finish_fn finish, void *ctx,
                                GDestroyNotify ctx_free)
{
    struct lv_worker *w = g_new0(struct lv_worker, 1);
    w->refs = 2;
    g_mutex_init(&w->lock);
    g_cond_init(&w->wake);
    g_cond_init(&w->gone);
    lv_callq_init(&w->q);
    w->run = run;
    w->finish = finish;
    w->ctx = ctx;
    w->ctx_free = ctx_free;
    /* "lv-worker": under the 15 bytes of a Linux thread name (ps -L, top -H). */
    w->thread = g_thread_new("lv-worker", worker_main, w);
    return w;
}

bool lv_worker_push(struct lv_worker *w, const struct lv_call *call)
{
    g_mutex_lock(&w->lock);
    bool merged = lv_callq_push(&w->q, call);
    if (!merged)
        g_cond_signal(&w->wake);
    g_mutex_unlock(&w->lock);
    return merged;
}

guint lv_worker_drop_domain_calls(struct lv_worker *w)
{
    g_mutex_lock(&w->lock);
    guint n = lv_callq_drop_domain_calls(&w->q);
    g_mutex_unlock(&w->lock);
    return n;
}

void lv_worker_state(struct lv_worker *w, struct lv_worker_state *out)
{
    g_mutex_lock(&w->lock);
    *out = w->now;
    out->queued = lv_callq_length(&w->q);
    g_mutex_unlock(&w->lock);
}

bool lv_worker_stop(struct lv_worker *w, int64_t wait_ms)
{
    g_mutex_lock(&w->lock);
    w->stopping = true;
    g_cond_signal(&w->wake);
    gint64 deadline = g_get_monotonic_time() + wait_ms * G_TIME_SPAN_MILLISECOND;
    while (!w->exited)
        if (!g_cond_wait_until(&w->gone, &w->lock, deadline))
            break;
    bool joined = w->exited;
    if (!joined) {
        /* Left behind: once its call returns, only finish(ctx) is left to do. */
        lv_callq_clear(&w->q);
        lv_callq_init(&w->q);
    }
    g_mutex_unlock(&w->lock);
    if (joined)
        g_thread_join(w->thread);
    else
        g_thread_unref(w->thread);
    worker_unref(w);
    return joined;
}
