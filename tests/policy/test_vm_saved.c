/*
 * What of a VM's state survives a restart (vm_saved.h), on stack structs:
 * capture and restore round trips, the QEMU match, holds cut to the
 * configuration of now, hostile records refused by vm_saved_check.
 */
#include "cunit_main.h"
#include "vm_override.h"
#include "vm_saved.h"

#include <stdio.h>
#include <string.h>

#define MIB (1ULL << 20)

static struct policy_tunables tun(void)
{
    struct policy_tunables t;
    policy_tunables_default(&t);
    return t;
}

/* A VM 100 s into its life: grown at 90 s, deflated on OOM at 95 s (held
 * till 395 s), stalled at 300 MiB till 200 s, one override. */
static struct policy_vm_state busy_state(void)
{
    struct policy_vm_state s = {0};
    s.initialized = true;
    s.grown = true;
    s.last_grow_ms = 90000;
    s.deflate_held = true;
    s.deflate_hold_until_ms = 395000;
    s.guest_deflate_events = 2;
    s.stalled_at_bytes = 300 * MIB;
    s.stalled_until_ms = 200000;
    s.need_smoothed_bytes = 123 * MIB; /* learnt again after a restart: not kept */
    return s;
}

static void test_capture_restore_same_qemu(void)
{
    struct policy_vm_state s = busy_state();
    struct vm_override o = {0};
    char *msg = NULL;
    CU_ASSERT_EQUAL(vm_override_set(&o, "min_memory", "256M", &msg), 0);
    g_free(msg);
    struct vm_saved r;
    vm_saved_capture(&r, "web", &s, 384 * MIB, &o.layer, 4242, 777);
    CU_ASSERT_STRING_EQUAL(r.name, "web");
    CU_ASSERT_PTR_NULL(vm_saved_check(&r, 100000));
    /* The same state captured again hashes the same; any change does not. */
    struct vm_saved again;
    vm_saved_capture(&again, "web", &s, 384 * MIB, &o.layer, 4242, 777);
    CU_ASSERT_EQUAL(vm_saved_hash(&r), vm_saved_hash(&again));
    vm_saved_capture(&again, "web", &s, 380 * MIB, &o.layer, 4242, 777);
    CU_ASSERT_NOT_EQUAL(vm_saved_hash(&r), vm_saved_hash(&again));
    s.need_smoothed_bytes = 1; /* not part of the record */
    vm_saved_capture(&again, "web", &s, 384 * MIB, &o.layer, 4242, 777);
    CU_ASSERT_EQUAL(vm_saved_hash(&r), vm_saved_hash(&again));

    /* Through a file's clock and back: another daemon, 5 s later, its
     * monotonic clock 1000 s apart from the first's. */
    vm_saved_shift(&r, 1000000);
    CU_ASSERT_EQUAL(r.deflate_hold_until_ms, 1395000);
    vm_saved_shift(&r, -1000000);
    struct policy_tunables t = tun();
    struct policy_vm_state fresh = {0};
    uint64_t target = 0;
    char text[128];
    CU_ASSERT_EQUAL(vm_saved_match(&r, 4242, 777), VM_SAVED_SAME);
    vm_saved_restore(&r, VM_SAVED_SAME, 105000, &t, &fresh, &target, text, sizeof(text));
    CU_ASSERT_EQUAL(target, 384 * MIB);
    CU_ASSERT_TRUE(fresh.grown);
    CU_ASSERT_EQUAL(fresh.last_grow_ms, 90000);
    CU_ASSERT_TRUE(fresh.deflate_held);
    CU_ASSERT_EQUAL(fresh.deflate_hold_until_ms, 395000);
    CU_ASSERT_EQUAL(fresh.guest_deflate_events, 2);
    CU_ASSERT_EQUAL(fresh.stalled_at_bytes, 300 * MIB);
    CU_ASSERT_EQUAL(fresh.stalled_until_ms, 200000);
    CU_ASSERT_FALSE(fresh.initialized); /* the engine learns the rest again */
    CU_ASSERT_EQUAL(fresh.need_smoothed_bytes, 0);
    CU_ASSERT_STRING_EQUAL(text, "growth hold 45s, deflate hold 290s, stall at 300 MiB, "
                                 "target 384 MiB");
    CU_ASSERT_EQUAL(r.overrides.set, o.layer.set);
}

/* The engine then holds: restored into a VM whose report says "shrink",
 * the decision is the deflate hold-down, not a shrink. */
static void test_restored_hold_holds(void)
{
    struct policy_vm_state s = busy_state();
    struct vm_saved r;
    vm_saved_capture(&r, "web", &s, 1024 * MIB, NULL, 0, 0);
    struct policy_tunables t = tun();
    struct policy_vm_state fresh = {0};
    uint64_t target;
    char text[128];
    vm_saved_restore(&r, VM_SAVED_UNKNOWN, 160000, &t, &fresh, &target, text, sizeof(text));
    CU_ASSERT_EQUAL(target, 0);   /* unknown QEMU: no target */
    CU_ASSERT_FALSE(fresh.grown); /* 70 s after the growth: over */
    struct policy_vm_in in = {.name = "web"};
    policy_vm_params_default(&in.params, 1024 * MIB);
    in.actual_bytes = 1024 * MIB;
    in.agent = (struct policy_agent_report){.valid = true,
                                            .age_ms = 100,
                                            .mem_total_bytes = 1000 * MIB,
                                            .mem_available_bytes = 800 * MIB,
                                            .mem_free_bytes = 700 * MIB};
    struct policy_snapshot snap = {
        .now_ms = 160000,
        .host = {.mem_total_bytes = 16ULL << 30, .mem_available_bytes = 12ULL << 30},
        .tunables = &t,
        .vms = &in,
        .n_vms = 1,
    };
    struct policy_vm_out out;
    CU_ASSERT_EQUAL(policy_evaluate(&snap, &fresh, &out, NULL), 0);
    CU_ASSERT_EQUAL(out.decision, POLICY_HOLD);
    CU_ASSERT_EQUAL(out.target_bytes, 1024 * MIB);
    CU_ASSERT(strstr(out.reason, "deflated on OOM") != NULL);
    /* The same figures without the restored hold shrink. */
    struct policy_vm_state none = {0};
    CU_ASSERT_EQUAL(policy_evaluate(&snap, &none, &out, NULL), 0);
    CU_ASSERT_EQUAL(out.decision, POLICY_SHRINK);
}

static void test_other_qemu_gets_nothing(void)
{
    struct policy_vm_state s = busy_state();
    struct vm_saved r;
    vm_saved_capture(&r, "web", &s, 384 * MIB, NULL, 4242, 777);
    CU_ASSERT_EQUAL(vm_saved_match(&r, 4242, 778), VM_SAVED_OTHER); /* pid reused */
    CU_ASSERT_EQUAL(vm_saved_match(&r, 5000, 777), VM_SAVED_OTHER);
    CU_ASSERT_EQUAL(vm_saved_match(&r, 0, 0), VM_SAVED_UNKNOWN);
    struct policy_tunables t = tun();
    struct policy_vm_state fresh = {0};
    uint64_t target = 1;
    char text[64];
    vm_saved_restore(&r, VM_SAVED_OTHER, 100000, &t, &fresh, &target, text, sizeof(text));
    CU_ASSERT_EQUAL(target, 0);
    CU_ASSERT_FALSE(fresh.deflate_held);
    CU_ASSERT_FALSE(fresh.grown);
    CU_ASSERT_EQUAL(fresh.stalled_at_bytes, 0);
    CU_ASSERT_STRING_EQUAL(text, "");
    /* A record without a pid never matches "same". */
    vm_saved_capture(&r, "web", &s, 384 * MIB, NULL, 0, 777);
    CU_ASSERT_EQUAL(vm_saved_match(&r, 4242, 777), VM_SAVED_UNKNOWN);
}

/* Holds are cut to what the configuration gives now: a file cannot hold a
 * VM longer than the daemon itself would. Expired ones are dropped. */
static void test_holds_cut_to_config(void)
{
    struct policy_vm_state s = {0};
    s.deflate_held = true;
    s.deflate_hold_until_ms = 10 * 86400000LL; /* days ahead */
    s.stalled_at_bytes = 100 * MIB;
    s.stalled_until_ms = 10 * 86400000LL;
    s.grown = true;
    s.last_grow_ms = 2000000; /* "in the future" */
    struct vm_saved r;
    vm_saved_capture(&r, "web", &s, 0, NULL, 0, 0);
    struct policy_tunables t = tun();
    struct policy_vm_state fresh = {0};
    uint64_t target;
    char text[128];
    vm_saved_restore(&r, VM_SAVED_UNKNOWN, 1000000, &t, &fresh, &target, text, sizeof(text));
    CU_ASSERT_EQUAL(fresh.deflate_hold_until_ms, 1000000 + (int64_t)t.deflate_hold_ms);
    CU_ASSERT_EQUAL(fresh.stalled_until_ms, 1000000 + (int64_t)t.stall_retry_ms);
    CU_ASSERT_EQUAL(fresh.last_grow_ms, 1000000);
    /* All over: nothing restored. */
    memset(&fresh, 0, sizeof(fresh));
    vm_saved_restore(&r, VM_SAVED_UNKNOWN, 20 * 86400000LL, &t, &fresh, &target, text,
                     sizeof(text));
    CU_ASSERT_FALSE(fresh.deflate_held);
    CU_ASSERT_FALSE(fresh.grown);
    CU_ASSERT_EQUAL(fresh.stalled_at_bytes, 0);
    CU_ASSERT_STRING_EQUAL(text, "");
}

/* Hostile records: each of these is refused. */
/* Someone else's target held: back into the same QEMU only. */
static void test_foreign_hold(void)
{
    struct policy_vm_state s = {0};
    struct vm_saved r;
    vm_saved_capture(&r, "web", &s, 4096 * MIB, NULL, 4242, 777);
    r.foreign_bytes = 4096 * MIB;
    r.foreign_since_s = 1796463012;
    CU_ASSERT_PTR_NULL(vm_saved_check(&r, 100000));
    CU_ASSERT_EQUAL(vm_saved_foreign(&r, VM_SAVED_SAME), 4096 * MIB);
    CU_ASSERT_EQUAL(vm_saved_foreign(&r, VM_SAVED_UNKNOWN), 0);
    CU_ASSERT_EQUAL(vm_saved_foreign(&r, VM_SAVED_OTHER), 0);
    /* Part of the record: a change is a write. */
    struct vm_saved none;
    vm_saved_capture(&none, "web", &s, 4096 * MIB, NULL, 4242, 777);
    CU_ASSERT_NOT_EQUAL(vm_saved_hash(&r), vm_saved_hash(&none));
    CU_ASSERT_EQUAL(vm_saved_foreign(&none, VM_SAVED_SAME), 0);
}

static void test_check_hostile(void)
{
    const int64_t now = 1000000;
    struct policy_vm_state s = {0};
    struct vm_saved good;
    vm_saved_capture(&good, "web", &s, 256 * MIB, NULL, 100, 5);
    CU_ASSERT_PTR_NULL(vm_saved_check(&good, now));
    struct vm_saved r;
    for (int kind = 0; kind < 17; kind++) {
        r = good;
        switch (kind) {
        case 0:
            r.name[0] = '\0';
            break;
        case 1:
            memset(r.name, 'a', sizeof(r.name)); /* no NUL */
            break;
        case 2:
            strcpy(r.name, "we\nb");
            break;
        case 3:
            strcpy(r.name, "\xff\xfe");
            break;
        case 4:
            r.qemu_pid = -1;
            break;
        case 5:
            r.qemu_pid = VM_SAVED_MAX_PID + 1;
            break;
        case 6:
            r.target_bytes = VM_SAVED_MAX_BYTES + 1;
            break;
        case 7:
            r.stalled_at_bytes = UINT64_MAX;
            r.stalled_until_ms = now;
            break;
        case 8:
            r.grown = true;
            r.grow_ms = now + 1; /* a growth in the future */
            break;
        case 9:
            r.deflate_held = true;
            r.deflate_hold_until_ms = now + VM_SAVED_MAX_AHEAD_MS + 1;
            break;
        case 10:
            r.deflate_held = true;
            r.deflate_hold_until_ms = -5;
            break;
        case 11:
            r.stalled_at_bytes = MIB;
            r.stalled_until_ms = INT64_MAX;
            break;
        case 12:
            r.overrides.set = 1u << 31; /* no such key */
            break;
        case 13:
            r.guest_deflate_events = UINT64_MAX;
            break;
        case 14:
            r.foreign_bytes = VM_SAVED_MAX_BYTES + 1;
            r.foreign_since_s = 1;
            break;
        case 15:
            r.foreign_since_s = 1796463012; /* a time without a hold */
            break;
        case 16:
            r.foreign_bytes = MIB;
            r.foreign_since_s = -1;
            break;
        }
        const char *why = vm_saved_check(&r, now);
        CU_ASSERT_PTR_NOT_NULL(why);
        if (!why)
            fprintf(stderr, "hostile record %d accepted\n", kind);
    }
    /* ksm is a per-VM key set-policy does not take: an override of it is refused. */
    r = good;
    int ksm = config_vm_key_index("ksm");
    CU_ASSERT_TRUE_FATAL(ksm >= 0);
    r.overrides.set = 1u << ksm;
    CU_ASSERT_PTR_NOT_NULL(vm_saved_check(&r, now));
    /* Edge values are fine. */
    r = good;
    strcpy(r.name, "a");
    r.qemu_pid = VM_SAVED_MAX_PID;
    r.target_bytes = VM_SAVED_MAX_BYTES;
    r.grown = true;
    r.grow_ms = now;
    r.deflate_held = true;
    r.deflate_hold_until_ms = now + VM_SAVED_MAX_AHEAD_MS;
    CU_ASSERT_PTR_NULL(vm_saved_check(&r, now));
}

static CU_TestInfo vm_saved_tests[] = {
    {"capture, restore, same QEMU", test_capture_restore_same_qemu},
    {"a restored hold-down holds", test_restored_hold_holds},
    {"another QEMU gets nothing", test_other_qemu_gets_nothing},
    {"holds cut to the configuration", test_holds_cut_to_config},
    {"hostile records refused", test_check_hostile},
    {"a foreign hold: same QEMU only", test_foreign_hold},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vm_saved", NULL, NULL, NULL, NULL, vm_saved_tests},
    CU_SUITE_INFO_NULL,
};
