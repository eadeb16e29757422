/*
 * set_retry: a failed balloon command is rolled back, retried after a
 * back-off that doubles and resets, counted, and its error kept.
 */
#include "cunit_main.h"
#include "set_retry.h"

#include <string.h>

#define MIB (1024ull * 1024)

static void test_backoff_doubles_to_the_cap(void)
{
    CU_ASSERT_EQUAL(set_retry_backoff_ms(0, false), 0);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(1, false), 1000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(2, false), 2000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(3, false), 4000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(6, false), 32000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(7, false), 60000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(40, false), 60000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(UINT32_MAX, false), 60000);
    /* A growth waits a few seconds at most. */
    CU_ASSERT_EQUAL(set_retry_backoff_ms(1, true), 1000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(3, true), 4000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(4, true), 5000);
    CU_ASSERT_EQUAL(set_retry_backoff_ms(30, true), 5000);
}

static void test_wait_then_retry_then_reset(void)
{
    struct set_retry r = {0};
    CU_ASSERT_TRUE(set_retry_may_send(&r, 0));
    set_retry_sent(&r, 150 * MIB, 256 * MIB);
    set_retry_failed(&r, 150 * MIB, 10000, false, "DeviceNotActive: No balloon device");
    CU_ASSERT_EQUAL(r.failures, 1);
    CU_ASSERT_EQUAL(r.failures_total, 1);
    CU_ASSERT_FALSE(set_retry_may_send(&r, 10999));
    CU_ASSERT_TRUE(set_retry_may_send(&r, 11000));
    set_retry_sent(&r, 150 * MIB, 256 * MIB);
    set_retry_failed(&r, 150 * MIB, 11000, false, "timed out");
    CU_ASSERT_FALSE(set_retry_may_send(&r, 12999));
    CU_ASSERT_TRUE(set_retry_may_send(&r, 13000));
    CU_ASSERT_STRING_EQUAL(r.last_error, "timed out");
    CU_ASSERT_EQUAL(r.last_error_ms, 11000);
    /* One that works: no more waiting; the count and the last error stay. */
    set_retry_succeeded(&r);
    CU_ASSERT_EQUAL(r.failures, 0);
    CU_ASSERT_TRUE(set_retry_may_send(&r, 11001));
    CU_ASSERT_EQUAL(r.failures_total, 2);
    CU_ASSERT_STRING_EQUAL(r.last_error, "timed out");
    /* The next failure starts from the shortest wait again. */
    set_retry_failed(&r, 150 * MIB, 20000, false, NULL);
    CU_ASSERT_FALSE(set_retry_may_send(&r, 20999));
    CU_ASSERT_TRUE(set_retry_may_send(&r, 21000));
    CU_ASSERT_STRING_EQUAL(r.last_error, "unknown error");
}

static void test_error_text_is_bounded(void)
{
    struct set_retry r = {0};
    char longer[SET_RETRY_ERROR_MAX * 2];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    set_retry_failed(&r, 1, 5, true, longer);
    CU_ASSERT_EQUAL(strlen(r.last_error), SET_RETRY_ERROR_MAX - 1);
}

static void test_rollback(void)
{
    struct set_retry r = {0};
    /* The failed command is the last one: back to the target before it. */
    set_retry_sent(&r, 150 * MIB, 200 * MIB);
    CU_ASSERT_EQUAL(set_retry_rollback(&r, 150 * MIB, 150 * MIB), 200 * MIB);
    /* None before it (first command since QEMU connected): the actual counts. */
    set_retry_sent(&r, 150 * MIB, 0);
    CU_ASSERT_EQUAL(set_retry_rollback(&r, 150 * MIB, 150 * MIB), 0);

    /* Two in flight: 180 over 200, then 150 over 180. */
    set_retry_sent(&r, 180 * MIB, 200 * MIB);
    set_retry_sent(&r, 150 * MIB, 180 * MIB);
    /* 180 fails: 150 was sent later and stands. */
    CU_ASSERT_EQUAL(set_retry_rollback(&r, 150 * MIB, 180 * MIB), 150 * MIB);
    set_retry_failed(&r, 180 * MIB, 1000, false, "timed out");
    /* 150 fails too: 180 never was in force, and what was is not known. */
    CU_ASSERT_EQUAL(set_retry_rollback(&r, 150 * MIB, 150 * MIB), 0);
}

static CU_TestInfo retry_tests[] = {
    {"backoff doubles to the cap", test_backoff_doubles_to_the_cap},
    {"wait, retry, reset", test_wait_then_retry_then_reset},
    {"error text is bounded", test_error_text_is_bounded},
    {"rollback", test_rollback},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"set retry", NULL, NULL, NULL, NULL, retry_tests},
    CU_SUITE_INFO_NULL,
};
