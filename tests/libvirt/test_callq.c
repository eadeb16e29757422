/*
 * The libvirt worker's call queue (lv_callq.c) and its thread (lv_worker.c):
 * calls for one domain merge while they wait (the newest target wins), never
 * across a connect or disconnect; a call counts as stalled after the bound;
 * the thread runs calls in order, reports the one it is stuck in, and a
 * stop leaves a stuck thread behind within its bound instead of hanging.
 */
#include "cunit_main.h"
#include "lv_callq.h"
#include "lv_worker.h"

#include <string.h>

static struct lv_call dcall(enum lv_call_kind kind, const char *uuid, uint64_t target_bytes)
{
    struct lv_call c = {.kind = kind, .target_bytes = target_bytes};
    g_strlcpy(c.uuid, uuid, sizeof(c.uuid));
    return c;
}

static void test_merge_rules(void)
{
    struct lv_call q = dcall(LV_CALL_SET, "a", 100);
    struct lv_call in = dcall(LV_CALL_SET, "a", 200);
    CU_ASSERT_TRUE(lv_call_merge(&q, &in));
    CU_ASSERT_EQUAL(q.target_bytes, 200); /* the newest target wins */
    CU_ASSERT_EQUAL(q.merged, 1);
    in = dcall(LV_CALL_SET, "b", 300);
    CU_ASSERT_FALSE(lv_call_merge(&q, &in)); /* another domain */
    CU_ASSERT_EQUAL(q.target_bytes, 200);
    in = dcall(LV_CALL_STATS, "a", 0);
    CU_ASSERT_FALSE(lv_call_merge(&q, &in)); /* another kind */
    struct lv_call l1 = {.kind = LV_CALL_LIST}, l2 = {.kind = LV_CALL_LIST};
    CU_ASSERT_TRUE(lv_call_merge(&l1, &l2));
    struct lv_call c1 = {.kind = LV_CALL_CONNECT}, c2 = {.kind = LV_CALL_CONNECT};
    CU_ASSERT_FALSE(lv_call_merge(&c1, &c2)); /* connection calls never merge */
    struct lv_call d1 = {.kind = LV_CALL_DISCONNECT}, d2 = {.kind = LV_CALL_DISCONNECT};
    CU_ASSERT_FALSE(lv_call_merge(&d1, &d2));
    CU_ASSERT_STRING_EQUAL(lv_call_name(LV_CALL_CONNECT), "virConnectOpen");
    CU_ASSERT_STRING_EQUAL(lv_call_name(LV_CALL_KINDS), "?");
}

/* A hung libvirtd: a thousand ticks of sets and stats for 3 domains stay 6 calls. */
static void test_queue_bounded(void)
{
    struct lv_callq q;
    lv_callq_init(&q);
    const char *uuids[] = {"a", "b", "c"};
    for (int tick = 0; tick < 1000; tick++)
        for (int d = 0; d < 3; d++) {
            struct lv_call set = dcall(LV_CALL_SET, uuids[d], (uint64_t)(tick + 1) << 20);
            struct lv_call stats = dcall(LV_CALL_STATS, uuids[d], 0);
            bool m1 = lv_callq_push(&q, &set);
            bool m2 = lv_callq_push(&q, &stats);
            CU_ASSERT_EQUAL(m1, tick > 0);
            CU_ASSERT_EQUAL(m2, tick > 0);
        }
    CU_ASSERT_EQUAL(lv_callq_length(&q), 6);
    struct lv_call out;
    CU_ASSERT_TRUE(lv_callq_pop(&q, &out)); /* first in, first out */
    CU_ASSERT_EQUAL(out.kind, LV_CALL_SET);
    CU_ASSERT_STRING_EQUAL(out.uuid, "a");
    CU_ASSERT_EQUAL(out.target_bytes, 1000ULL << 20);
    CU_ASSERT_EQUAL(out.merged, 999);
    CU_ASSERT_TRUE(lv_callq_pop(&q, &out));
    CU_ASSERT_EQUAL(out.kind, LV_CALL_STATS);
    lv_callq_clear(&q);
}

/* A set queued before a disconnect is not carried into the next connection. */
static void test_no_merge_across_connection(void)
{
    struct lv_callq q;
    lv_callq_init(&q);
    struct lv_call s1 = dcall(LV_CALL_SET, "a", 1 << 20);
    struct lv_call s2 = dcall(LV_CALL_SET, "a", 2 << 20);
    struct lv_call disc = {.kind = LV_CALL_DISCONNECT}, conn = {.kind = LV_CALL_CONNECT};
    CU_ASSERT_FALSE(lv_callq_push(&q, &s1));
    CU_ASSERT_FALSE(lv_callq_push(&q, &disc));
    CU_ASSERT_FALSE(lv_callq_push(&q, &conn));
    CU_ASSERT_FALSE(lv_callq_push(&q, &s2)); /* behind the connect: its own call */
    CU_ASSERT_EQUAL(lv_callq_length(&q), 4);
    struct lv_call s3 = dcall(LV_CALL_SET, "a", 3 << 20);
    CU_ASSERT_TRUE(lv_callq_push(&q, &s3)); /* merges into s2, not s1 */
    struct lv_call out;
    lv_callq_pop(&q, &out);
    CU_ASSERT_EQUAL(out.target_bytes, 1 << 20);
    /* Dropping domain calls (a close) keeps the connection's. */
    CU_ASSERT_EQUAL(lv_callq_drop_domain_calls(&q), 1);
    CU_ASSERT_EQUAL(lv_callq_length(&q), 2);
    lv_callq_pop(&q, &out);
    CU_ASSERT_EQUAL(out.kind, LV_CALL_DISCONNECT);
    lv_callq_pop(&q, &out);
    CU_ASSERT_EQUAL(out.kind, LV_CALL_CONNECT);
    CU_ASSERT_FALSE(lv_callq_pop(&q, &out));
    lv_callq_clear(&q);
}

static void test_stall_bound(void)
{
    const int64_t s = 1000000;                                       /* us */
    CU_ASSERT_EQUAL(lv_call_stalled_s(0, 100 * s, 5000), 0);         /* idle */
    CU_ASSERT_EQUAL(lv_call_stalled_s(10 * s, 14 * s, 5000), 0);     /* 4 s: not yet */
    CU_ASSERT_EQUAL(lv_call_stalled_s(10 * s, 15 * s - 1, 5000), 0); /* just under */
    CU_ASSERT_EQUAL(lv_call_stalled_s(10 * s, 15 * s, 5000), 5);     /* at the bound */
    CU_ASSERT_EQUAL(lv_call_stalled_s(10 * s, 72 * s + 900000, 5000), 62);
    CU_ASSERT_EQUAL(lv_call_stalled_s(10 * s, 10 * s + 300000, 200), 1); /* under 1 s: 1 */
    CU_ASSERT_EQUAL(lv_call_stalled_s(10 * s, 9 * s, 5000), 0);          /* clock before start */
}

/* --- the thread, with a run function that blocks like a hung libvirtd ---------------------- */

struct fake {
    GMutex lock;
    GCond cond;
    bool release; /* let a blocked call return */
    GString *ran; /* "S:a:1 T:a ..." in the order run */
    bool finished;
    int *freed; /* set by fake_free (which outlives the fake when left behind) */
};

static void fake_run(void *ctx, const struct lv_call *c)
{
    struct fake *f = ctx;
    g_mutex_lock(&f->lock);
    while (c->kind == LV_CALL_CONNECT && !f->release)
        g_cond_wait(&f->cond, &f->lock);
    g_string_append_printf(f->ran, "%s:%s:%" G_GUINT64_FORMAT " ", lv_call_name(c->kind), c->uuid,
                           c->target_bytes);
    g_mutex_unlock(&f->lock);
}

static void fake_finish(void *ctx)
{
    struct fake *f = ctx;
    g_mutex_lock(&f->lock);
    f->finished = true;
    g_mutex_unlock(&f->lock);
}

static void fake_free(void *ctx)
{
    struct fake *f = ctx;
    g_atomic_int_set(f->freed, 1);
    g_string_free(f->ran, TRUE);
    g_mutex_clear(&f->lock);
    g_cond_clear(&f->cond);
    g_free(f);
}

static struct fake *fake_new(int *freed)
{
    struct fake *f = g_new0(struct fake, 1);
    g_mutex_init(&f->lock);
    g_cond_init(&f->cond);
    f->ran = g_string_new(NULL);
    f->freed = freed;
    return f;
}

static void wait_busy(struct lv_worker *w, struct lv_worker_state *st)
{
    for (int i = 0; i < 2000; i++) {
        lv_worker_state(w, st);
        if (st->busy)
            return;
        g_usleep(1000);
    }
}

static void test_worker_stuck_then_released(void)
{
    static int freed;
    struct fake *f = fake_new(&freed);
    struct lv_worker *w = lv_worker_new(fake_run, fake_finish, f, fake_free);
    struct lv_call conn = {.kind = LV_CALL_CONNECT};
    lv_worker_push(w, &conn);
    struct lv_worker_state st;
    wait_busy(w, &st);
    CU_ASSERT_TRUE_FATAL(st.busy);
    CU_ASSERT_EQUAL(st.call.kind, LV_CALL_CONNECT);
    CU_ASSERT_TRUE(st.since_us > 0);
    /* Pushes while it hangs return at once and merge. */
    int64_t t0 = g_get_monotonic_time();
    for (int i = 1; i <= 100; i++) {
        struct lv_call set = dcall(LV_CALL_SET, "a", (uint64_t)i);
        lv_worker_push(w, &set);
    }
    CU_ASSERT_TRUE(g_get_monotonic_time() - t0 < 100000);
    lv_worker_state(w, &st);
    CU_ASSERT_EQUAL(st.queued, 1);
    CU_ASSERT_TRUE(st.busy);
    g_mutex_lock(&f->lock);
    f->release = true;
    g_cond_broadcast(&f->cond);
    g_mutex_unlock(&f->lock);
    /* stop drains the queue (a release on exit) and joins. */
    CU_ASSERT_TRUE(lv_worker_stop(w, 2000));
    CU_ASSERT_EQUAL(g_atomic_int_get(&freed), 1);
}

static void test_worker_left_behind(void)
{
    static int freed;
    struct fake *f = fake_new(&freed);
    struct lv_worker *w = lv_worker_new(fake_run, fake_finish, f, fake_free);
    struct lv_call conn = {.kind = LV_CALL_CONNECT};
    lv_worker_push(w, &conn);
    struct lv_worker_state st;
    wait_busy(w, &st);
    CU_ASSERT_TRUE_FATAL(st.busy);
    struct lv_call set = dcall(LV_CALL_SET, "a", 7);
    lv_worker_push(w, &set);
    int64_t t0 = g_get_monotonic_time();
    CU_ASSERT_FALSE(lv_worker_stop(w, 200)); /* stuck: left behind */
    int64_t took_ms = (g_get_monotonic_time() - t0) / 1000;
    CU_ASSERT_TRUE(took_ms >= 150 && took_ms < 1000);
    CU_ASSERT_EQUAL(g_atomic_int_get(&freed), 0); /* the thread still has it */
    /* The stuck call returns: the thread finishes, skips what was queued, frees ctx. */
    g_mutex_lock(&f->lock);
    f->release = true;
    g_cond_broadcast(&f->cond);
    g_mutex_unlock(&f->lock);
    for (int i = 0; i < 2000 && !g_atomic_int_get(&freed); i++)
        g_usleep(1000);
    CU_ASSERT_EQUAL(g_atomic_int_get(&freed), 1);
}

/* A virtio-mem domain's sets (vmem_drive.h): the balloon value travels
 * beside the manager's target, a replan's step is nobody's to answer, and
 * merging keeps the newest value while an answered target stays answered. */
/* set(a) waits; the device's request for b and set(b) come: set(b) must
 * not fold into set(a) ahead of its request (it would be answered with the
 * older request's outcome, and the balloon would move before the plug). */
static void test_no_merge_across_vmem_request(void)
{
    struct lv_callq q;
    lv_callq_init(&q);
    struct lv_call a = dcall(LV_CALL_SET, "d", 300u << 20);
    a.answer_only = true;
    struct lv_call req = dcall(LV_CALL_VMEM_SET, "d", 0);
    req.value_bytes = 64u << 20;
    struct lv_call b = dcall(LV_CALL_SET, "d", 200u << 20);
    b.answer_only = true;
    CU_ASSERT_FALSE(lv_callq_push(&q, &a));
    CU_ASSERT_FALSE(lv_callq_push(&q, &req));
    CU_ASSERT_FALSE(lv_callq_push(&q, &b)); /* appended, not folded into a */
    CU_ASSERT_EQUAL(lv_callq_length(&q), 3);
    struct lv_call out;
    CU_ASSERT_TRUE(lv_callq_pop(&q, &out));
    CU_ASSERT_EQUAL(out.target_bytes, 300u << 20);
    CU_ASSERT_TRUE(lv_callq_pop(&q, &out));
    CU_ASSERT_EQUAL(out.kind, LV_CALL_VMEM_SET);
    CU_ASSERT_TRUE(lv_callq_pop(&q, &out));
    CU_ASSERT_EQUAL(out.target_bytes, 200u << 20);
    /* Another domain's request is no barrier. */
    struct lv_call other = dcall(LV_CALL_VMEM_SET, "e", 0);
    CU_ASSERT_FALSE(lv_callq_push(&q, &a));
    CU_ASSERT_FALSE(lv_callq_push(&q, &other));
    CU_ASSERT_TRUE(lv_callq_push(&q, &b));
    lv_callq_clear(&q);
}

static void test_merge_vmem(void)
{
    struct lv_call q = dcall(LV_CALL_SET, "a", 300u << 20);
    q.value_bytes = 120u << 20;
    struct lv_call step = dcall(LV_CALL_SET, "a", 300u << 20);
    step.value_bytes = 110u << 20;
    step.step = true;
    CU_ASSERT_TRUE(lv_call_merge(&q, &step));
    CU_ASSERT_EQUAL(q.value_bytes, step.value_bytes); /* the newest plan is sent */
    CU_ASSERT_FALSE(q.step);                          /* the manager still gets its answer */
    CU_ASSERT_EQUAL(q.target_bytes, 300u << 20);

    struct lv_call s2 = step;
    struct lv_call answered = dcall(LV_CALL_SET, "a", 250u << 20);
    answered.value_bytes = 100u << 20;
    CU_ASSERT_TRUE(lv_call_merge(&s2, &answered));
    CU_ASSERT_FALSE(s2.step); /* a step that took a manager's set answers it */
    CU_ASSERT_EQUAL(s2.target_bytes, answered.target_bytes);
    CU_ASSERT_EQUAL(s2.value_bytes, answered.value_bytes);

    struct lv_call v1 = dcall(LV_CALL_VMEM_SET, "a", 0), v2 = dcall(LV_CALL_VMEM_SET, "a", 0);
    v1.value_bytes = 64u << 20;
    v2.value_bytes = 32u << 20;
    CU_ASSERT_TRUE(lv_call_merge(&v1, &v2));
    CU_ASSERT_EQUAL(v1.value_bytes, v2.value_bytes); /* the newest request wins */
    CU_ASSERT_FALSE(lv_call_merge(&v1, &step));      /* a request is no balloon set */
    struct lv_call x1 = dcall(LV_CALL_XML, "a", 0), x2 = dcall(LV_CALL_XML, "a", 0);
    CU_ASSERT_TRUE(lv_call_merge(&x1, &x2)); /* one re-read per domain waits */
    CU_ASSERT_TRUE(lv_call_is_domain(LV_CALL_VMEM_SET) && lv_call_is_domain(LV_CALL_XML));
    CU_ASSERT_STRING_EQUAL(lv_call_name(LV_CALL_VMEM_SET), "virDomainUpdateDeviceFlags");

    /* A domain without a balloon: its sets are answers only, and stay so
     * when folded (the newest says what the call is). */
    struct lv_call a1 = dcall(LV_CALL_SET, "a", 300u << 20);
    a1.answer_only = true;
    struct lv_call a2 = a1;
    a2.target_bytes = 200u << 20;
    CU_ASSERT_TRUE(lv_call_merge(&a1, &a2));
    CU_ASSERT_TRUE(a1.answer_only);
    CU_ASSERT_EQUAL(a1.target_bytes, 200u << 20);
    a2.answer_only = false;
    CU_ASSERT_TRUE(lv_call_merge(&a1, &a2));
    CU_ASSERT_FALSE(a1.answer_only);
}

static CU_TestInfo callq_tests[] = {
    {"merge rules", test_merge_rules},
    {"merge: a virtio-mem domain's value and steps", test_merge_vmem},
    {"no merge of a set across its virtio-mem request", test_no_merge_across_vmem_request},
    {"queue bounded under a hang", test_queue_bounded},
    {"no merge across a connection call", test_no_merge_across_connection},
    {"stall bound", test_stall_bound},
    {"worker: stuck call, pushes return, stop drains", test_worker_stuck_then_released},
    {"worker: stop leaves a stuck thread behind", test_worker_left_behind},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"libvirt.callq", NULL, NULL, NULL, NULL, callq_tests},
    CU_SUITE_INFO_NULL,
};
