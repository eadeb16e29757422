/*
 * The once-a-minute schedule: a per-tick quota, oldest first, VMs without a
 * pid never due, a fleet that starts all at once spread over the minute and
 * staying spread, a fresh read (a request) pushing a VM back, odd clocks.
 */
#include "cunit_main.h"
#include "vmcost.h"

#include <string.h>

#define TICK   5000u
#define PERIOD VMCOST_PERIOD_MS

static void test_quota_and_order(void)
{
    int64_t read[5] = {VMCOST_NEVER_READ, 40000, VMCOST_NOT_ELIGIBLE, 10000, VMCOST_NEVER_READ};
    uint8_t due[5];
    /* now 70 s: never-read ones first (by index), then the oldest (10 s). The
     * one read at 40 s is 30 s old: not due. Quota ceil(4 x 5 / 60) = 1. */
    CU_ASSERT_EQUAL(vmcost_due(read, 5, 70000, PERIOD, TICK, due), 1);
    CU_ASSERT_EQUAL(memcmp(due, (uint8_t[]){1, 0, 0, 0, 0}, 5), 0);
    /* A 30 s tick: quota 2. */
    CU_ASSERT_EQUAL(vmcost_due(read, 5, 70000, PERIOD, 30000, due), 2);
    CU_ASSERT_EQUAL(memcmp(due, (uint8_t[]){1, 0, 0, 0, 1}, 5), 0);
    /* A 2 min tick: everyone eligible and due, the ineligible never. */
    CU_ASSERT_EQUAL(vmcost_due(read, 5, 100000, PERIOD, 120000, due), 4);
    CU_ASSERT_EQUAL(memcmp(due, (uint8_t[]){1, 1, 0, 1, 1}, 5), 0);
    /* Half a tick early still counts: read at 10 s, now 67.5 s. */
    int64_t one[1] = {10000};
    CU_ASSERT_EQUAL(vmcost_due(one, 1, 67500, PERIOD, TICK, due), 1);
    CU_ASSERT_EQUAL(vmcost_due(one, 1, 67499, PERIOD, TICK, due), 0);
    CU_ASSERT_EQUAL(due[0], 0);
}

static void test_edges(void)
{
    int64_t read[2] = {VMCOST_NOT_ELIGIBLE, VMCOST_NOT_ELIGIBLE};
    uint8_t due[2] = {7, 7};
    CU_ASSERT_EQUAL(vmcost_due(read, 2, 1000, PERIOD, TICK, due), 0);
    CU_ASSERT_EQUAL(due[0] + due[1], 0);
    CU_ASSERT_EQUAL(vmcost_due(read, 0, 1000, PERIOD, TICK, due), 0);
    int64_t r2[2] = {VMCOST_NEVER_READ, 5000};
    CU_ASSERT_EQUAL(vmcost_due(r2, 2, 1000, 0, TICK, due), 0);
    CU_ASSERT_EQUAL(vmcost_due(r2, 2, 1000, PERIOD, 0, due), 0);
    /* A read stamped in the future (a clock that went back): due again. */
    int64_t r3[1] = {90000};
    CU_ASSERT_EQUAL(vmcost_due(r3, 1, 1000, PERIOD, TICK, due), 1);
}

/* Runs a fleet of n for `ticks` ticks; returns the most reads on one tick
 * after the first minute, and checks no VM goes unread over 2 periods. */
static size_t simulate(int64_t *read, size_t n, unsigned ticks, int64_t start_ms)
{
    uint8_t due[128];
    size_t worst = 0;
    for (unsigned t = 0; t < ticks; t++) {
        int64_t now = start_ms + (int64_t)t * TICK;
        size_t k = vmcost_due(read, n, now, PERIOD, TICK, due);
        for (size_t i = 0; i < n; i++) {
            if (due[i])
                read[i] = now;
            CU_ASSERT_TRUE(read[i] == VMCOST_NEVER_READ ? t < 24 : now - read[i] <= 2 * PERIOD);
        }
        if (now - start_ms >= PERIOD && k > worst)
            worst = k;
    }
    return worst;
}

static void test_fleet_spreads(void)
{
    /* 64 VMs appear together: 6 a tick, never all 64 on one tick, and each
     * read once a minute (12 ticks) from then on. */
    int64_t read[64];
    for (size_t i = 0; i < 64; i++)
        read[i] = VMCOST_NEVER_READ;
    size_t worst = simulate(read, 64, 60, 1000);
    CU_ASSERT_TRUE(worst <= 6);
    /* Every VM read within the last period. */
    int64_t now = 1000 + 59 * TICK;
    for (size_t i = 0; i < 64; i++)
        CU_ASSERT_TRUE(now - read[i] < PERIOD + TICK);

    /* A status --fresh reads everyone on one moment: the quota spreads them
     * again rather than reading 64 on one tick a minute later. */
    for (size_t i = 0; i < 64; i++)
        read[i] = now;
    worst = simulate(read, 64, 60, now + TICK);
    CU_ASSERT_TRUE(worst <= 6);
}

static CU_TestInfo due_tests[] = {
    {"quota and order", test_quota_and_order},
    {"edges", test_edges},
    {"a fleet spreads over the minute", test_fleet_spreads},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vmcost due", NULL, NULL, NULL, NULL, due_tests},
    CU_SUITE_INFO_NULL,
};
