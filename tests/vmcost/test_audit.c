/*
 * The balloon audit (host/vmcost/vmcost_audit.c): a guest whose QEMU keeps
 * its guest RAM resident above the balloon's actual + tolerance for
 * VMCOST_AUDIT_HOLD_MS is flagged once, cleared when it lets go; an honest
 * guest, one with no inflation claimed, and a brief excess are not.
 */
#include "cunit_main.h"
#include "vmcost.h"

#define MIB (1024ull * 1024)

static void test_excess(void)
{
    /* 1 GiB guest, balloon at 512 MiB: tolerance max(16 MiB, 5% = 51.2 MiB). */
    CU_ASSERT_EQUAL(vmcost_audit_excess(1024 * MIB, 512 * MIB, 400 * MIB), 0); /* honest */
    CU_ASSERT_EQUAL(vmcost_audit_excess(1024 * MIB, 512 * MIB, 560 * MIB), 0); /* within tol */
    CU_ASSERT_EQUAL(vmcost_audit_excess(1024 * MIB, 512 * MIB, 900 * MIB), 388 * MIB);
    /* A small guest: the absolute 16 MiB decides. */
    CU_ASSERT_EQUAL(vmcost_audit_excess(128 * MIB, 64 * MIB, 80 * MIB), 0);
    CU_ASSERT_EQUAL(vmcost_audit_excess(128 * MIB, 64 * MIB, 81 * MIB), 17 * MIB);
    /* No inflation claimed, or a size unknown: nothing to check. */
    CU_ASSERT_EQUAL(vmcost_audit_excess(1024 * MIB, 1024 * MIB, 1024 * MIB), 0);
    CU_ASSERT_EQUAL(vmcost_audit_excess(0, 512 * MIB, 1024 * MIB), 0);
    CU_ASSERT_EQUAL(vmcost_audit_excess(1024 * MIB, 0, 1024 * MIB), 0);
}

static void test_flag_once_then_clear(void)
{
    struct vmcost_audit a = {0};
    /* Over at the first read: watched, not flagged yet. */
    CU_ASSERT_EQUAL(vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 900 * MIB, 1000),
                    VMCOST_AUDIT_QUIET);
    CU_ASSERT_FALSE(a.flagged);
    CU_ASSERT_EQUAL(a.unreleased_bytes, 388 * MIB);
    /* Still over, but not long enough. */
    CU_ASSERT_EQUAL(
        vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 900 * MIB, 1000 + VMCOST_AUDIT_HOLD_MS - 1),
        VMCOST_AUDIT_QUIET);
    /* Long enough: raised once, then quiet while it lasts. */
    CU_ASSERT_EQUAL(
        vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 880 * MIB, 1000 + VMCOST_AUDIT_HOLD_MS),
        VMCOST_AUDIT_RAISED);
    CU_ASSERT_TRUE(a.flagged);
    CU_ASSERT_EQUAL(a.unreleased_bytes, 368 * MIB);
    CU_ASSERT_EQUAL(vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 880 * MIB, 200000),
                    VMCOST_AUDIT_QUIET);
    /* It let go: cleared, said once. */
    CU_ASSERT_EQUAL(vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 500 * MIB, 260000),
                    VMCOST_AUDIT_CLEARED);
    CU_ASSERT_FALSE(a.flagged);
    CU_ASSERT_EQUAL(a.unreleased_bytes, 0);
    CU_ASSERT_EQUAL(vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 500 * MIB, 320000),
                    VMCOST_AUDIT_QUIET);
}

static void test_brief_excess_forgotten(void)
{
    struct vmcost_audit a = {0};
    /* Over, then honest at the next read, then over again: the clock restarts. */
    vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 900 * MIB, 0);
    vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 400 * MIB, 60000);
    CU_ASSERT_EQUAL(vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 900 * MIB, 70000),
                    VMCOST_AUDIT_QUIET);
    CU_ASSERT_EQUAL(vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 900 * MIB, 120000),
                    VMCOST_AUDIT_QUIET);
    CU_ASSERT_EQUAL(vmcost_audit_note(&a, 1024 * MIB, 512 * MIB, 900 * MIB, 130000),
                    VMCOST_AUDIT_RAISED);
}

static CU_TestInfo audit_tests[] = {
    {"excess over actual + tolerance", test_excess},
    {"flagged once after the hold, cleared when released", test_flag_once_then_clear},
    {"a brief excess is forgotten", test_brief_excess_forgotten},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vmcost audit", NULL, NULL, NULL, NULL, audit_tests},
    CU_SUITE_INFO_NULL,
};
