/*
 * ballastd's host-cost glue (host/daemon/cost_monitor.c) on the fixture
 * trees: a read's figures in the status document's "cost" and in explain,
 * the guest's split from a report, and what a VM without a pid, a gone
 * QEMU or a smaps without guest RAM shows instead.
 */
#include "cost_monitor.h"
#include "cunit_main.h"

#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>

#define FIX(p) BALLAST_FIXTURES "/" p
#define KB     1024ll
#define MIB    (1024ll * 1024)

static struct cost_monitor_in input(pid_t pid, const struct ksm_host_sample *host, int64_t now)
{
    return (struct cost_monitor_in){.proc_root = FIX("vmcost-qemu/proc"),
                                    .name = "vm0",
                                    .pid = pid,
                                    .nominal_bytes = 256 * MIB,
                                    .actual_bytes = 200 * MIB,
                                    .ksm_host = host,
                                    .page_size = 4096,
                                    .now_ms = now};
}

static void test_read_and_status(void)
{
    struct cost_monitor_vm c;
    cost_monitor_vm_init(&c);
    struct ctl_vm_cost s;
    cost_monitor_vm_status(&c, 1000, &s);
    CU_ASSERT_EQUAL(s.age_ms, -1);
    CU_ASSERT_EQUAL(s.host_cost_bytes, -1);
    CU_ASSERT_STRING_EQUAL(s.error, "not read yet");

    struct ksm_host_sample host = {.pages_shared = 1000, .pages_sharing = 7000};
    struct cost_monitor_in in = input(4100, &host, 5000);
    cost_monitor_read(&c, &in);
    CU_ASSERT_TRUE(c.valid);
    CU_ASSERT_EQUAL(c.error, 0);
    cost_monitor_vm_status(&c, 17000, &s);
    CU_ASSERT_EQUAL(s.age_ms, 12000);
    CU_ASSERT_STRING_EQUAL(s.error, "");
    CU_ASSERT_EQUAL(s.guest_unique_bytes, (78924 - 46596) * KB);
    CU_ASSERT_EQUAL(s.qemu_own_bytes, (83786 - 36593) * KB);
    CU_ASSERT_EQUAL(s.page_tables_bytes, 480 * KB);
    /* An eighth of the 11649 KSM pages is this VM's part of the copies kept
     * (the saving is rounded down to whole pages, so the charge is up). */
    CU_ASSERT_EQUAL(s.ksm_shared_charge_bytes + s.ksm_saved_bytes, 46596 * KB);
    CU_ASSERT_EQUAL(s.ksm_shared_charge_bytes, (11649 - 11649 * 7000 / 8000) * 4096);
    CU_ASSERT_EQUAL(s.host_cost_bytes, s.guest_unique_bytes + s.ksm_shared_charge_bytes +
                                           s.qemu_own_bytes + s.page_tables_bytes);
    CU_ASSERT_EQUAL(s.balloon_held_bytes, 56 * MIB);
    CU_ASSERT_EQUAL(c.mappings, 315);
    CU_ASSERT_EQUAL(c.rss_bytes, 137628 * KB);
}

static void test_unknowns(void)
{
    struct cost_monitor_vm c;
    cost_monitor_vm_init(&c);
    struct ctl_vm_cost s;
    struct cost_monitor_in in = input(-1, NULL, 1000);
    cost_monitor_read(&c, &in);
    CU_ASSERT_FALSE(c.valid);
    CU_ASSERT_EQUAL(c.read_ms, 1000); /* tried: not again at every tick */
    cost_monitor_vm_status(&c, 1000, &s);
    CU_ASSERT_STRING_EQUAL(s.error, "no QEMU pid known");
    CU_ASSERT_EQUAL(s.host_cost_bytes, -1);

    in = input(9999, NULL, 2000);
    cost_monitor_read(&c, &in);
    cost_monitor_vm_status(&c, 2000, &s);
    CU_ASSERT_STRING_EQUAL(s.error, "QEMU process gone");

    in = input(4100, NULL, 3000);
    in.nominal_bytes = 1024 * MIB; /* not what this QEMU maps */
    cost_monitor_read(&c, &in);
    cost_monitor_vm_status(&c, 3000, &s);
    CU_ASSERT_STRING_EQUAL(s.error, "guest RAM not found in QEMU's smaps");
    CU_ASSERT_EQUAL(c.mappings, 315); /* read, only not split */

    /* Works again: the figures are back, without a host KSM sample the KSM
     * pages are charged whole. */
    in = input(4100, NULL, 4000);
    cost_monitor_read(&c, &in);
    cost_monitor_vm_status(&c, 4000, &s);
    CU_ASSERT_STRING_EQUAL(s.error, "");
    CU_ASSERT_EQUAL(s.ksm_shared_charge_bytes, 46596 * KB);
    CU_ASSERT_EQUAL(s.ksm_saved_bytes, 0);
}

static void test_explain_and_guest(void)
{
    struct cost_monitor_vm c;
    cost_monitor_vm_init(&c);
    struct ksm_host_sample host = {.pages_shared = 1000, .pages_sharing = 7000};
    struct cost_monitor_in in = input(4100, &host, 5000);
    cost_monitor_read(&c, &in);
    struct proto_report r = {0};
    r.valid_mask = PROTO_R_BIT(PROTO_R_MEM_TOTAL) | PROTO_R_BIT(PROTO_R_MEM_FREE) |
                   PROTO_R_BIT(PROTO_R_ACTIVE_FILE) | PROTO_R_BIT(PROTO_R_INACTIVE_FILE) |
                   PROTO_R_BIT(PROTO_R_ACTIVE_ANON) | PROTO_R_BIT(PROTO_R_INACTIVE_ANON);
    r.mem_total_bytes = 240 * MIB;
    r.mem_free_bytes = 150 * MIB;
    r.active_file_bytes = 40 * MIB;
    r.active_anon_bytes = 30 * MIB;

    /* An agent from before protocol v2; the reserve learned from its MemTotal. */
    struct vmcost_boot_reserve reserve = {.known = true, .reserved_bytes = 16 * MIB};
    struct cost_monitor_guest_in gin = {.r = &r, .age_ms = 700, .reserve = &reserve};
    struct json_writer w;
    json_writer_init(&w, g_string_new(NULL));
    json_writer_object_begin(&w);
    cost_monitor_explain(&c, &gin, 6000, &w);
    json_writer_object_end(&w);
    g_autofree char *text = g_string_free(w.out, FALSE);
    JsonNode *node = json_from_string(text, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(node);
    JsonObject *o = json_node_get_object(node);
    JsonObject *co = json_object_get_object_member(o, "cost");
    CU_ASSERT_EQUAL(json_object_get_int_member(co, "age_ms"), 1000);
    CU_ASSERT_EQUAL(json_object_get_int_member(co, "pid"), 4100);
    CU_ASSERT_EQUAL(json_object_get_int_member(co, "guest_ram_pss_bytes"), 36593 * KB);
    CU_ASSERT_EQUAL(json_object_get_int_member(co, "guest_ram_ksm_bytes"), 46596 * KB);
    CU_ASSERT_EQUAL(json_object_get_int_member(co, "guest_ram_mappings"), 1);
    CU_ASSERT_TRUE(json_object_get_boolean_member(co, "ksm_line"));
    CU_ASSERT_TRUE(json_object_get_null_member(co, "error"));
    JsonObject *go = json_object_get_object_member(o, "guest_mem");
    CU_ASSERT_EQUAL(json_object_get_int_member(go, "used_bytes"), 90 * MIB);
    CU_ASSERT_EQUAL(json_object_get_int_member(go, "cache_bytes"), 40 * MIB);
    CU_ASSERT_EQUAL(json_object_get_int_member(go, "kernel_other_bytes"), 20 * MIB);
    CU_ASSERT_EQUAL(json_object_get_int_member(go, "age_ms"), 700);
    CU_ASSERT_EQUAL(json_object_get_int_member(go, "total_bytes"), 240 * MIB);
    CU_ASSERT_EQUAL(json_object_get_int_member(go, "kernel_reserved_bytes"), 16 * MIB);
    CU_ASSERT_TRUE(json_object_get_null_member(go, "shmem_bytes")); /* v1: no split */
    CU_ASSERT_TRUE(json_object_get_null_member(go, "other_bytes"));
    json_node_unref(node);

    /* A v2 agent's report, the balloon inside MemTotal (deflate-on-oom). */
    struct ctl_guest_mem g;
    r.valid_mask |= proto_report_valid_bits(2) & ~proto_report_valid_bits(1);
    r.shmem_bytes = 10 * MIB;
    r.slab_reclaimable_bytes = 4 * MIB;
    r.slab_unreclaimable_bytes = 2 * MIB;
    r.kernel_stack_bytes = 1 * MIB;
    r.page_tables_bytes = 1 * MIB;
    r.vmalloc_used_bytes = 3 * MIB;
    gin.balloon_in_used_bytes = 5 * MIB;
    reserve.known = false;
    cost_monitor_guest(&gin, &g);
    CU_ASSERT_EQUAL(g.kernel_other_bytes, 20 * MIB);
    CU_ASSERT_EQUAL(g.shmem_bytes, 10 * MIB);
    CU_ASSERT_EQUAL(g.slab_reclaimable_bytes, 4 * MIB);
    CU_ASSERT_EQUAL(g.kernel_bytes, 4 * MIB); /* page tables + vmalloc (stacks inside) */
    CU_ASSERT_EQUAL(g.balloon_bytes, 5 * MIB);
    CU_ASSERT_EQUAL(g.other_bytes, (20 - 4 - 2 - 4 - 5) * MIB);
    CU_ASSERT_EQUAL(g.kernel_reserved_bytes, -1);

    /* No report: unknown, as null. */
    gin = (struct cost_monitor_guest_in){.r = NULL, .reserve = &reserve};
    cost_monitor_guest(&gin, &g);
    CU_ASSERT_EQUAL(g.used_bytes, -1);
    r.valid_mask &= ~PROTO_R_BIT(PROTO_R_ACTIVE_ANON);
    gin.r = &r;
    cost_monitor_guest(&gin, &g);
    CU_ASSERT_EQUAL(g.used_bytes, -1);
    CU_ASSERT_EQUAL(g.shmem_bytes, -1);
}

static CU_TestInfo cost_monitor_tests[] = {
    {"a read in the status document", test_read_and_status},
    {"no pid, gone, no guest RAM, back", test_unknowns},
    {"explain and the guest's split", test_explain_and_guest},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"cost monitor", NULL, NULL, NULL, NULL, cost_monitor_tests},
    CU_SUITE_INFO_NULL,
};
