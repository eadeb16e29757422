/*
 * The token bucket for guest-caused log lines (log_limit.h) on stack
 * structs: a burst, then one line per refill interval, the held-back count
 * said once by the next line written, the total kept; no saving up past a
 * full bucket; a clock that goes backwards.
 */
#include "cunit_main.h"
#include "log_limit.h"

static void test_burst_then_rate(void)
{
    struct log_limit l = {0};
    uint64_t held = 99;
    for (int i = 0; i < LOG_LIMIT_BURST; i++) {
        CU_ASSERT_TRUE(log_limit_allow(&l, 1000, &held));
        CU_ASSERT_EQUAL(held, 0);
    }
    /* A flood: 100 frames a second for 25 s, each wanting a line. */
    int written = 0;
    uint64_t said = 0;
    for (int64_t t = 1000; t < 26000; t += 10) {
        if (log_limit_allow(&l, t, &held)) {
            written++;
            said += held;
        }
    }
    CU_ASSERT_EQUAL(written, 2); /* at 11 s and 21 s */
    CU_ASSERT_EQUAL(said + l.held, l.held_total);
    CU_ASSERT_EQUAL(l.held_total, 2500 - 2);
    /* The first line after a quiet while says how many were held back. */
    CU_ASSERT_TRUE(log_limit_allow(&l, 40000, &held));
    CU_ASSERT_EQUAL(held, 499); /* held since the line at 21 s */
    CU_ASSERT_TRUE(log_limit_allow(&l, 50000, &held));
    CU_ASSERT_EQUAL(held, 0); /* said once */
}

static void test_no_saving_up(void)
{
    struct log_limit l = {0};
    CU_ASSERT_TRUE(log_limit_allow(&l, 0, NULL));
    /* An hour of quiet refills the bucket, no more. */
    int n = 0;
    while (log_limit_allow(&l, 3600000, NULL))
        n++;
    CU_ASSERT_EQUAL(n, LOG_LIMIT_BURST);
    /* Then one token per interval, the remainder carried over. */
    CU_ASSERT_FALSE(log_limit_allow(&l, 3600000 + LOG_LIMIT_REFILL_MS - 1, NULL));
    CU_ASSERT_TRUE(log_limit_allow(&l, 3600000 + LOG_LIMIT_REFILL_MS, NULL));
    CU_ASSERT_FALSE(log_limit_allow(&l, 3600000 + LOG_LIMIT_REFILL_MS + 5000, NULL));
    CU_ASSERT_TRUE(log_limit_allow(&l, 3600000 + 2 * LOG_LIMIT_REFILL_MS, NULL));
}

static void test_clock_backwards(void)
{
    struct log_limit l = {0};
    for (int i = 0; i < LOG_LIMIT_BURST; i++)
        CU_ASSERT_TRUE(log_limit_allow(&l, 50000, NULL));
    CU_ASSERT_FALSE(log_limit_allow(&l, 0, NULL));
    CU_ASSERT_FALSE(log_limit_allow(&l, -100000, NULL));
    CU_ASSERT_FALSE(log_limit_allow(&l, 50000 + LOG_LIMIT_REFILL_MS - 1, NULL));
    CU_ASSERT_TRUE(log_limit_allow(&l, 50000 + LOG_LIMIT_REFILL_MS, NULL));
    CU_ASSERT_EQUAL(l.held_total, 3);
}

static CU_TestInfo log_limit_tests[] = {
    {"a burst, then one line per interval", test_burst_then_rate},
    {"no saving up past a full bucket", test_no_saving_up},
    {"a clock going backwards adds nothing", test_clock_backwards},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"log_limit", NULL, NULL, NULL, NULL, log_limit_tests},
    CU_SUITE_INFO_NULL,
};
