/*
 * The virtio-mem watch (vmem_watch.h): a stall exactly at 20 s without
 * movement, a slow device that keeps moving never stalled, holds that double
 * to 30 min and end, the caller's limits meanwhile, a guest without the
 * driver, a device removed at run time.
 */
#include "cunit_main.h"
#include "vmem_watch.h"

#include <string.h>

#define MIB   (1024ull * 1024)
#define STALL VMEM_WATCH_STALL_MS

static enum vmem_watch_state feed(struct vmem_watch *w, int64_t now_ms, uint64_t req, uint64_t size)
{
    struct vmem_watch_input in = {
        .now_ms = now_ms, .event = VMEM_WATCH_QUERY, .requested_bytes = req, .size_bytes = size};
    return vmem_watch_feed(w, &in);
}

/* A device converged at size_bytes at t = 0 (a driver plugged it). */
static void start(struct vmem_watch *w, uint64_t size_bytes)
{
    vmem_watch_init(w);
    CU_ASSERT_EQUAL(feed(w, 0, size_bytes, size_bytes), VMEM_WATCH_CONVERGED);
}

static void test_hold_ms(void)
{
    CU_ASSERT_EQUAL(vmem_watch_hold_ms(0), 0);
    CU_ASSERT_EQUAL(vmem_watch_hold_ms(1), 60000);
    CU_ASSERT_EQUAL(vmem_watch_hold_ms(2), 120000);
    CU_ASSERT_EQUAL(vmem_watch_hold_ms(5), 960000);
    CU_ASSERT_EQUAL(vmem_watch_hold_ms(6), 1800000); /* 1920 s: capped at 30 min */
    CU_ASSERT_EQUAL(vmem_watch_hold_ms(7), 1800000);
    CU_ASSERT_EQUAL(vmem_watch_hold_ms(UINT32_MAX), 1800000);
}

static void test_converges(void)
{
    struct vmem_watch w;
    struct vmem_watch_advice a;
    start(&w, 512 * MIB);
    CU_ASSERT_EQUAL(feed(&w, 1000, 256 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 2000, 256 * MIB, 256 * MIB), VMEM_WATCH_CONVERGED);
    vmem_watch_advise(&w, 2000, &a);
    CU_ASSERT_EQUAL(a.state, VMEM_WATCH_CONVERGED);
    CU_ASSERT_EQUAL(a.floor_bytes, 0);
    CU_ASSERT_FALSE(a.capped);
    CU_ASSERT_EQUAL(a.until_ms, 0);
}

/* No movement for exactly 20 s is a stall; a millisecond less is not. */
static void test_stall_boundary(void)
{
    struct vmem_watch w;
    struct vmem_watch_advice a;
    start(&w, 512 * MIB);
    CU_ASSERT_EQUAL(feed(&w, 1000, 256 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 1000 + STALL - 1, 256 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 1000 + STALL, 256 * MIB, 512 * MIB), VMEM_WATCH_STALLED_UNPLUG);
    vmem_watch_advise(&w, 1000 + STALL, &a);
    CU_ASSERT_EQUAL(a.state, VMEM_WATCH_STALLED_UNPLUG);
    CU_ASSERT_EQUAL(a.floor_bytes, 512 * MIB);
    CU_ASSERT_FALSE(a.capped);
    CU_ASSERT_EQUAL(a.until_ms, 1000 + STALL + 60000);

    /* The 20 s run from the last movement, not from the request. */
    start(&w, 512 * MIB);
    feed(&w, 1000, 256 * MIB, 512 * MIB);
    CU_ASSERT_EQUAL(feed(&w, 15000, 256 * MIB, 400 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 15000 + STALL - 1, 256 * MIB, 400 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 15000 + STALL, 256 * MIB, 400 * MIB), VMEM_WATCH_STALLED_UNPLUG);
    vmem_watch_advise(&w, 15000 + STALL, &a);
    CU_ASSERT_EQUAL(a.floor_bytes, 400 * MIB); /* where it got */
}

/* A device that starts late and then moves slowly is waited for. */
static void test_slow_start_not_stalled(void)
{
    struct vmem_watch w;
    start(&w, 128 * MIB);
    CU_ASSERT_EQUAL(feed(&w, 0, 512 * MIB, 128 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, STALL - 1, 512 * MIB, 130 * MIB), VMEM_WATCH_CONVERGING);
    int64_t t = STALL - 1;
    for (uint64_t size = 130 * MIB; size < 512 * MIB; size += 64 * MIB) {
        t += STALL - 1;
        CU_ASSERT_EQUAL(feed(&w, t, 512 * MIB, size + 2 * MIB), VMEM_WATCH_CONVERGING);
    }
    CU_ASSERT_EQUAL(feed(&w, t + 1000, 512 * MIB, 512 * MIB), VMEM_WATCH_CONVERGED);

    /* A fresh guest whose driver plugs its first block at 19 s: not missing. */
    vmem_watch_init(&w);
    CU_ASSERT_EQUAL(feed(&w, 0, 256 * MIB, 0), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 19000, 256 * MIB, 2 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 19000 + STALL - 1, 256 * MIB, 2 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 19000 + STALL, 256 * MIB, 2 * MIB), VMEM_WATCH_STALLED_PLUG);

    /* Movement away from the request (the guest rebooted) is not progress. */
    start(&w, 256 * MIB);
    feed(&w, 0, 512 * MIB, 256 * MIB);
    CU_ASSERT_EQUAL(feed(&w, 10000, 512 * MIB, 0), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, STALL, 512 * MIB, 0), VMEM_WATCH_STALLED_PLUG);
}

/* A policy that moves its request every tick does not keep a stuck device
 * "converging": a new request in the same direction is not movement. */
static void test_request_churn_still_stalls(void)
{
    struct vmem_watch w;
    start(&w, 512 * MIB);
    for (int64_t t = 1000; t < 1000 + STALL; t += 5000)
        CU_ASSERT_EQUAL(feed(&w, t, (uint64_t)(200 + t / 1000) * MIB, 512 * MIB),
                        VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 1000 + STALL, 300 * MIB, 512 * MIB), VMEM_WATCH_STALLED_UNPLUG);
    /* A change of direction starts a new move, with its own 20 s. */
    start(&w, 512 * MIB);
    feed(&w, 0, 256 * MIB, 512 * MIB);
    CU_ASSERT_EQUAL(feed(&w, 15000, 600 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 15000 + STALL - 1, 600 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 15000 + STALL, 600 * MIB, 512 * MIB), VMEM_WATCH_STALLED_PLUG);
}

/*
 * Stall after stall in a row: the hold doubles from 60 s to the 30 min cap;
 * the caller follows the advice (requests the size reached) meanwhile, and
 * tries again only when the hold ended. Returns when the last hold ended.
 */
static int64_t stall_in_a_row(struct vmem_watch *w, int64_t t, int n, const int64_t *holds)
{
    struct vmem_watch_advice a;
    for (int i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(feed(w, t, 256 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
        t += STALL;
        CU_ASSERT_EQUAL(feed(w, t, 256 * MIB, 512 * MIB), VMEM_WATCH_STALLED_UNPLUG);
        vmem_watch_advise(w, t, &a);
        CU_ASSERT_EQUAL(a.until_ms, t + holds[i]);
        CU_ASSERT_EQUAL(a.floor_bytes, 512 * MIB);
        /* Held at the size: still stalled (said), no retry. */
        CU_ASSERT_EQUAL(feed(w, t + 1, 512 * MIB, 512 * MIB), VMEM_WATCH_STALLED_UNPLUG);
        CU_ASSERT_EQUAL(feed(w, t + holds[i] - 1, 512 * MIB, 512 * MIB), VMEM_WATCH_STALLED_UNPLUG);
        vmem_watch_advise(w, t + holds[i] - 1, &a);
        CU_ASSERT_EQUAL(a.floor_bytes, 512 * MIB);
        /* The advice knows the hold is over before the next feed does. */
        vmem_watch_advise(w, t + holds[i], &a);
        CU_ASSERT_EQUAL(a.state, VMEM_WATCH_CONVERGED);
        CU_ASSERT_EQUAL(a.floor_bytes, 0);
        t += holds[i];
        CU_ASSERT_EQUAL(feed(w, t, 512 * MIB, 512 * MIB), VMEM_WATCH_CONVERGED);
    }
    return t;
}

static void test_hold_doubles_to_cap(void)
{
    static const int64_t holds[] = {60000, 120000, 240000, 480000, 960000, 1800000, 1800000};
    struct vmem_watch w;
    start(&w, 512 * MIB);
    int64_t t = stall_in_a_row(&w, 1000, 7, holds);
    CU_ASSERT_EQUAL(w.unplug.stalls, 7);

    /* An unplug that completes ends the doubling: the next hold is 60 s. */
    feed(&w, t, 384 * MIB, 512 * MIB);
    CU_ASSERT_EQUAL(feed(&w, t + 500, 384 * MIB, 384 * MIB), VMEM_WATCH_CONVERGED);
    CU_ASSERT_EQUAL(w.unplug.stalls, 0);
    struct vmem_watch_advice a;
    t += 1000;
    feed(&w, t, 256 * MIB, 384 * MIB);
    CU_ASSERT_EQUAL(feed(&w, t + STALL, 256 * MIB, 384 * MIB), VMEM_WATCH_STALLED_UNPLUG);
    vmem_watch_advise(&w, t + STALL, &a);
    CU_ASSERT_EQUAL(a.until_ms, t + STALL + 60000);
    CU_ASSERT_EQUAL(a.floor_bytes, 384 * MIB);

    /* Giving up (requesting the size reached) is not a completed unplug. */
    start(&w, 512 * MIB);
    t = stall_in_a_row(&w, 1000, 2, holds);
    CU_ASSERT_EQUAL(w.unplug.stalls, 2);
}

/* A caller that keeps its low request through the hold: no second stall
 * counted, one retry with a full 20 s when the hold ends. */
static void test_hold_ignored_no_loop(void)
{
    struct vmem_watch w;
    start(&w, 512 * MIB);
    feed(&w, 0, 256 * MIB, 512 * MIB);
    CU_ASSERT_EQUAL(feed(&w, STALL, 256 * MIB, 512 * MIB), VMEM_WATCH_STALLED_UNPLUG);
    for (int64_t t = STALL; t < STALL + 60000; t += 5000)
        CU_ASSERT_EQUAL(feed(&w, t, 256 * MIB, 512 * MIB), VMEM_WATCH_STALLED_UNPLUG);
    CU_ASSERT_EQUAL(w.unplug.stalls, 1);
    int64_t end = STALL + 60000;
    CU_ASSERT_EQUAL(feed(&w, end, 256 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, end + STALL - 1, 256 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, end + STALL, 256 * MIB, 512 * MIB), VMEM_WATCH_STALLED_UNPLUG);
    CU_ASSERT_EQUAL(w.unplug.stalls, 2);
}

/* Stalled, then it moves after all: slow, not stuck; the hold ends. */
static void test_moves_after_stall(void)
{
    struct vmem_watch w;
    struct vmem_watch_advice a;
    start(&w, 512 * MIB);
    feed(&w, 0, 256 * MIB, 512 * MIB);
    feed(&w, STALL, 256 * MIB, 512 * MIB);
    CU_ASSERT_EQUAL(feed(&w, STALL + 3000, 256 * MIB, 500 * MIB), VMEM_WATCH_CONVERGING);
    vmem_watch_advise(&w, STALL + 3000, &a);
    CU_ASSERT_EQUAL(a.floor_bytes, 0);
    CU_ASSERT_EQUAL(feed(&w, STALL + 4000, 256 * MIB, 256 * MIB), VMEM_WATCH_CONVERGED);
    CU_ASSERT_EQUAL(w.unplug.stalls, 0);

    /* A plug during an unplug hold goes ahead; the floor stays until its end. */
    start(&w, 512 * MIB);
    feed(&w, 0, 256 * MIB, 512 * MIB);
    feed(&w, STALL, 256 * MIB, 512 * MIB);
    CU_ASSERT_EQUAL(feed(&w, STALL + 1000, 600 * MIB, 512 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, STALL + 2000, 600 * MIB, 600 * MIB), VMEM_WATCH_CONVERGED);
    vmem_watch_advise(&w, STALL + 2000, &a);
    CU_ASSERT_EQUAL(a.state, VMEM_WATCH_CONVERGED);
    CU_ASSERT_EQUAL(a.floor_bytes, 512 * MIB);
    vmem_watch_advise(&w, STALL + 60000, &a);
    CU_ASSERT_EQUAL(a.floor_bytes, 0);
}

static void test_plug_stall_caps(void)
{
    struct vmem_watch w;
    struct vmem_watch_advice a;
    start(&w, 128 * MIB);
    feed(&w, 0, 512 * MIB, 128 * MIB);
    CU_ASSERT_EQUAL(feed(&w, 5000, 512 * MIB, 192 * MIB), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 5000 + STALL, 512 * MIB, 192 * MIB), VMEM_WATCH_STALLED_PLUG);
    vmem_watch_advise(&w, 5000 + STALL, &a);
    CU_ASSERT_TRUE(a.capped);
    CU_ASSERT_EQUAL(a.cap_bytes, 192 * MIB);
    CU_ASSERT_EQUAL(a.floor_bytes, 0);
    CU_ASSERT_EQUAL(a.until_ms, 5000 + STALL + 60000);
    /* An unplug under the cap goes ahead. */
    CU_ASSERT_EQUAL(feed(&w, 30000, 64 * MIB, 192 * MIB), VMEM_WATCH_CONVERGING);
}

/* The size never moved since the first request that differed: no driver. */
static void test_driver_missing(void)
{
    struct vmem_watch w;
    struct vmem_watch_advice a;
    vmem_watch_init(&w);
    CU_ASSERT_EQUAL(feed(&w, 0, 0, 0), VMEM_WATCH_CONVERGED);
    CU_ASSERT_EQUAL(feed(&w, 1000, 256 * MIB, 0), VMEM_WATCH_CONVERGING);
    /* Another request later does not restart the clock. */
    CU_ASSERT_EQUAL(feed(&w, 11000, 300 * MIB, 0), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 1000 + STALL - 1, 300 * MIB, 0), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 1000 + STALL, 300 * MIB, 0), VMEM_WATCH_DRIVER_MISSING);
    vmem_watch_advise(&w, 1000 + STALL, &a);
    CU_ASSERT_EQUAL(a.state, VMEM_WATCH_DRIVER_MISSING);
    CU_ASSERT_TRUE(a.capped);
    CU_ASSERT_EQUAL(a.cap_bytes, 0);
    /* The caller cancels the request; still missing through the hold. */
    CU_ASSERT_EQUAL(feed(&w, 30000, 0, 0), VMEM_WATCH_DRIVER_MISSING);
    /* After the hold, one more try: missing again, held twice as long. */
    int64_t end = 1000 + STALL + 60000;
    CU_ASSERT_EQUAL(feed(&w, end, 0, 0), VMEM_WATCH_CONVERGED);
    CU_ASSERT_EQUAL(feed(&w, end + 1, 256 * MIB, 0), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, end + 1 + STALL, 256 * MIB, 0), VMEM_WATCH_DRIVER_MISSING);
    vmem_watch_advise(&w, end + 1 + STALL, &a);
    CU_ASSERT_EQUAL(a.until_ms, end + 1 + STALL + 120000);
    /* The driver arrives (the agent loaded the module): it moves. */
    CU_ASSERT_EQUAL(feed(&w, end + 30000, 256 * MIB, 2 * MIB), VMEM_WATCH_CONVERGING);
    vmem_watch_advise(&w, end + 30000, &a);
    CU_ASSERT_FALSE(a.capped);

    /* Memory plugged at the first look: a driver plugged it, so a plug that
     * does not move is a stall, not a missing driver. */
    start(&w, 128 * MIB);
    feed(&w, 0, 256 * MIB, 128 * MIB);
    CU_ASSERT_EQUAL(feed(&w, STALL, 256 * MIB, 128 * MIB), VMEM_WATCH_STALLED_PLUG);
    /* A first look with a request pending already starts the clock. */
    vmem_watch_init(&w);
    CU_ASSERT_EQUAL(feed(&w, 500, 256 * MIB, 0), VMEM_WATCH_CONVERGING);
    CU_ASSERT_EQUAL(feed(&w, 500 + STALL, 256 * MIB, 0), VMEM_WATCH_DRIVER_MISSING);
}

static void test_removed(void)
{
    struct vmem_watch w;
    struct vmem_watch_advice a;
    start(&w, 512 * MIB);
    feed(&w, 0, 256 * MIB, 512 * MIB);
    feed(&w, STALL, 256 * MIB, 512 * MIB);
    struct vmem_watch_input gone = {.now_ms = STALL + 1, .event = VMEM_WATCH_GONE};
    CU_ASSERT_EQUAL(vmem_watch_feed(&w, &gone), VMEM_WATCH_REMOVED);
    /* Figures after that (a late reply) do not bring it back. */
    CU_ASSERT_EQUAL(feed(&w, STALL + 2, 256 * MIB, 256 * MIB), VMEM_WATCH_REMOVED);
    CU_ASSERT_EQUAL(feed(&w, STALL + 999999, 256 * MIB, 256 * MIB), VMEM_WATCH_REMOVED);
    vmem_watch_advise(&w, STALL + 2, &a);
    CU_ASSERT_EQUAL(a.state, VMEM_WATCH_REMOVED);
    CU_ASSERT_EQUAL(a.floor_bytes, 0);
    CU_ASSERT_FALSE(a.capped);
    /* A device added again is a new device. */
    start(&w, 0);
    CU_ASSERT_EQUAL(w.state, VMEM_WATCH_CONVERGED);
}

static void test_names_and_reasons(void)
{
    static const char *const names[] = {"converged",    "converging",     "stalled-unplug",
                                        "stalled-plug", "driver-missing", "removed"};
    for (int s = VMEM_WATCH_CONVERGED; s <= VMEM_WATCH_REMOVED; s++) {
        CU_ASSERT_STRING_EQUAL(vmem_watch_state_name((enum vmem_watch_state)s), names[s]);
        const char *r = vmem_watch_reason((enum vmem_watch_state)s);
        CU_ASSERT(strlen(r) > 10);
        for (int o = 0; o < s; o++)
            CU_ASSERT(strcmp(r, vmem_watch_reason((enum vmem_watch_state)o)) != 0);
    }
    CU_ASSERT(strstr(vmem_watch_reason(VMEM_WATCH_DRIVER_MISSING), "virtio_mem driver") != NULL);
    CU_ASSERT_STRING_EQUAL(vmem_watch_state_name((enum vmem_watch_state)42), "?");
    CU_ASSERT_STRING_EQUAL(vmem_watch_reason((enum vmem_watch_state) - 1), "?");
}

/* When a move turns into a stall if nothing moves: what the caller's timer
 * waits for, since a stopped device sends no event (integration.daemon.
 * vmem_stall sat "converging" at 116 of 128 MiB for minutes without it). */
static void test_stall_due(void)
{
    struct vmem_watch w;
    vmem_watch_init(&w);
    CU_ASSERT_EQUAL(vmem_watch_stall_due_ms(&w), 0); /* nothing seen */
    start(&w, 512 * MIB);
    CU_ASSERT_EQUAL(vmem_watch_stall_due_ms(&w), 0); /* converged */
    feed(&w, 1000, 256 * MIB, 512 * MIB);
    CU_ASSERT_EQUAL(vmem_watch_stall_due_ms(&w), 1000 + STALL);
    feed(&w, 5000, 256 * MIB, 400 * MIB); /* progress */
    CU_ASSERT_EQUAL(vmem_watch_stall_due_ms(&w), 5000 + STALL);
    feed(&w, 9000, 256 * MIB, 400 * MIB); /* none: the due time stays */
    CU_ASSERT_EQUAL(vmem_watch_stall_due_ms(&w), 5000 + STALL);
    /* Fed again at that time with the same figures: stalled, held, and no
     * stall is due while the hold runs. */
    CU_ASSERT_EQUAL(feed(&w, 5000 + STALL, 256 * MIB, 400 * MIB), VMEM_WATCH_STALLED_UNPLUG);
    CU_ASSERT_EQUAL(vmem_watch_stall_due_ms(&w), 0);
    /* Reached: nothing open. */
    feed(&w, 200000, 400 * MIB, 400 * MIB);
    CU_ASSERT_EQUAL(vmem_watch_stall_due_ms(&w), 0);
}

static CU_TestInfo vmem_watch_tests[] = {
    {"stall due time", test_stall_due},
    {"hold length", test_hold_ms},
    {"converges", test_converges},
    {"stall at exactly 20 s", test_stall_boundary},
    {"slow start, slow moves: not stalled", test_slow_start_not_stalled},
    {"request churn still stalls", test_request_churn_still_stalls},
    {"holds double to 30 min", test_hold_doubles_to_cap},
    {"hold ignored: no retry loop", test_hold_ignored_no_loop},
    {"moves after a stall", test_moves_after_stall},
    {"plug stall caps", test_plug_stall_caps},
    {"driver missing", test_driver_missing},
    {"removed", test_removed},
    {"names and reasons", test_names_and_reasons},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vmem_watch", NULL, NULL, NULL, NULL, vmem_watch_tests},
    CU_SUITE_INFO_NULL,
};
