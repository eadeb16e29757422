/*
 * target_history: which target was in force at a time QEMU stamped on a
 * BALLOON_CHANGE event (the deflate-on-oom check).
 */
#include "cunit_main.h"
#include "target_history.h"

#define MIB (1024ull * 1024)

static void test_empty(void)
{
    struct target_history h = {0};
    CU_ASSERT_EQUAL(target_history_at(&h, 0), 0);
    CU_ASSERT_EQUAL(target_history_at(&h, 1000000), 0);
}

static void test_in_force(void)
{
    struct target_history h = {0};
    target_history_push(&h, 200 * MIB, 1000);
    target_history_push(&h, 148 * MIB, 2000); /* a shrink */
    /* Before the first command: nothing of ours was in force. */
    CU_ASSERT_EQUAL(target_history_at(&h, 999), 0);
    CU_ASSERT_EQUAL(target_history_at(&h, 1000), 200 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 1999), 200 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 2000), 148 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 50000), 148 * MIB);

    /* A stalled daemon wakes up and grows twice before it reads the events
     * the guest's deflate produced while it slept (stamped 30000): those
     * still compare with 148 MiB, the target in force then. */
    target_history_push(&h, 212 * MIB, 60000);
    target_history_push(&h, 256 * MIB, 60001);
    CU_ASSERT_EQUAL(target_history_at(&h, 30000), 148 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 60000), 212 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 60001), 256 * MIB);
    /* Older than the three entries reach: unknown, never a guess. */
    CU_ASSERT_EQUAL(target_history_at(&h, 1500), 0);
}

static void test_clear(void)
{
    struct target_history h = {0};
    target_history_push(&h, 128 * MIB, 10);
    target_history_clear(&h);
    CU_ASSERT_EQUAL(target_history_at(&h, 20), 0);
    target_history_push(&h, 96 * MIB, 30);
    CU_ASSERT_EQUAL(target_history_at(&h, 20), 0);
    CU_ASSERT_EQUAL(target_history_at(&h, 40), 96 * MIB);
}

static void test_forget_failed(void)
{
    struct target_history h = {0};
    target_history_push(&h, 200 * MIB, 1000);
    target_history_push(&h, 148 * MIB, 2000); /* this command failed */
    target_history_forget(&h, 148 * MIB);
    /* 200 MiB stayed in force: a rise stamped later compares with it. */
    CU_ASSERT_EQUAL(target_history_at(&h, 2500), 200 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 999), 0);
    /* A size not in the history changes nothing. */
    target_history_forget(&h, 1 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 2500), 200 * MIB);
    /* A full history: the middle one goes, the others keep their times. */
    target_history_push(&h, 180 * MIB, 3000);
    target_history_push(&h, 160 * MIB, 4000);
    target_history_forget(&h, 180 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 3500), 200 * MIB);
    CU_ASSERT_EQUAL(target_history_at(&h, 4000), 160 * MIB);
}

static CU_TestInfo history_tests[] = {
    {"a failed command is forgotten", test_forget_failed},
    {"empty history knows nothing", test_empty},
    {"target in force at a time stamp", test_in_force},
    {"cleared on reconnect", test_clear},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"target_history", NULL, NULL, NULL, NULL, history_tests},
    CU_SUITE_INFO_NULL,
};
