/* `ballastctl status` layout. (Runtime policy overrides: unit.policy.vm_policy.) */
#include "cunit_main.h"
#include "status_table.h"

#include <string.h>

static void rows(struct ctl_host_status *h, struct ctl_vm_status *v)
{
    ctl_host_status_init(h);
    h->mem_total_bytes = 24LL << 30;
    h->mem_available_bytes = 12LL << 30;
    h->psi_some_avg10_pct = 0.5;
    h->psi_full_avg10_pct = 0;
    for (int i = 0; i < 2; i++)
        ctl_vm_status_init(&v[i]);
    ctl_copy(v[0].name, sizeof(v[0].name), "vm0");
    v[0].nominal_bytes = 256LL << 20;
    v[0].target_bytes = 128LL << 20;
    v[0].actual_bytes = 130LL << 20;
    v[0].guest_available_bytes = 60LL << 20;
    v[0].psi_some_avg10_pct = 2.25;
    ctl_copy(v[0].mode, sizeof(v[0].mode), "managed");
    ctl_copy(v[0].qmp, sizeof(v[0].qmp), "connected");
    ctl_copy(v[0].agent, sizeof(v[0].agent), "connected");
    ctl_copy(v[0].last_reason, sizeof(v[0].last_reason), "shrink toward working set");
    ctl_copy(v[1].name, sizeof(v[1].name), "vm1");
    ctl_copy(v[1].qmp, sizeof(v[1].qmp), "down");
}

static void test_table(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    GString *out = g_string_new(NULL);
    status_table_format(out, &h, v, 2);
    gchar **lines = g_strsplit(out->str, "\n", -1);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(lines), 5); /* host, header, 2 VMs, "" */
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[0], "total 24.0 GiB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[0], "available 12.0 GiB"));
    CU_ASSERT_PTR_NULL(strstr(lines[0], "DRY RUN"));
    CU_ASSERT_TRUE(g_str_has_prefix(lines[1], "VM "));
    const char *cols[] = {"NOMINAL", "TARGET", "ACTUAL", "GUEST-AVAIL", "PSI", "MODE", "REASON"};
    for (size_t i = 0; i < G_N_ELEMENTS(cols); i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(lines[1], cols[i]));
    CU_ASSERT_PTR_NULL(strstr(lines[1], "KSM")); /* no KSM figures, no column */
    CU_ASSERT_TRUE(g_str_has_prefix(lines[2], "vm0 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "256.0 MiB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "128.0 MiB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "130.0 MiB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[2], "2.25"));
    CU_ASSERT_TRUE(g_str_has_suffix(lines[2], "shrink toward working set"));
    /* Columns line up: ACTUAL's value ends where the header's ACTUAL ends. */
    const char *hdr_actual = strstr(lines[1], "ACTUAL");
    size_t end = (size_t)(hdr_actual - lines[1]) + strlen("ACTUAL");
    CU_ASSERT_EQUAL(strncmp(lines[2] + end - strlen("130.0 MiB"), "130.0 MiB", 9), 0);
    /* Unknowns print as "-". */
    CU_ASSERT_TRUE(g_str_has_prefix(lines[3], "vm1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[3], " - "));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines[3], "down"));
    g_strfreev(lines);
    g_string_free(out, TRUE);
}

/* With a budget: one line after the host's, saying what the engine sees
 * and whether the guests fit. */
static void test_table_budget(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    struct ctl_budget_status *b = &h.budget;
    ctl_copy(b->configured, sizeof(b->configured), "6.0 GiB");
    b->effective_bytes = 6LL << 30;
    b->clamped = 0;
    ctl_copy(b->source, sizeof(b->source), "budget");
    b->view_total_bytes = 6LL << 30;
    b->view_available_bytes = 1LL << 30;
    b->fleet_cost_bytes = 5LL << 30;
    b->floors_bytes = 7LL << 30;
    b->unmet = 1;
    b->short_bytes = 1LL << 30;
    GString *out = g_string_new(NULL);
    status_table_format(out, &h, v, 2);
    gchar **lines = g_strsplit(out->str, "\n", -1);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(lines), 6);
    CU_ASSERT_STRING_EQUAL(lines[1], "budget: 6.0 GiB = 6.0 GiB; policy sees budget: total 6.0 "
                                     "GiB, available 1.0 GiB; fleet cost 5.0 GiB, floors 7.0 "
                                     "GiB; UNMET, short 1.0 GiB: stop or move a guest");
    CU_ASSERT_TRUE(g_str_has_prefix(lines[2], "VM "));
    g_strfreev(lines);
    g_string_free(out, TRUE);
    /* A cgroup that cannot be read says so. */
    ctl_copy(b->cgroup, sizeof(b->cgroup), "/sys/fs/cgroup/f");
    ctl_copy(b->cgroup_error, sizeof(b->cgroup_error), "no memory.current");
    b->unmet = 0;
    out = g_string_new(NULL);
    status_table_format(out, &h, v, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, ", cgroup /sys/fs/cgroup/f (unreadable: host figures "
                                            "used); policy sees"));
    CU_ASSERT_PTR_NULL(strstr(out->str, "UNMET"));
    g_string_free(out, TRUE);
}

static void test_table_cost(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    GString *out = g_string_new(NULL);
    status_table_format(out, &h, v, 2);
    CU_ASSERT_PTR_NULL(strstr(out->str, "COST")); /* no cost, no column, no line */
    CU_ASSERT_PTR_NULL(strstr(out->str, "cost:"));
    g_string_truncate(out, 0);
    v[0].cost.host_cost_bytes = 83LL << 20;
    v[0].cost.guest_unique_bytes = 30LL << 20;
    v[0].cost.ksm_shared_charge_bytes = 12LL << 20;
    v[0].cost.qemu_own_bytes = 40LL << 20;
    v[0].cost.page_tables_bytes = 1LL << 20;
    status_table_format(out, &h, v, 2);
    gchar **lines = g_strsplit(out->str, "\n", -1);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(lines), 6); /* host, cost, header, 2 VMs, "" */
    CU_ASSERT_STRING_EQUAL(lines[1], "cost: 1 VMs, host cost 83 MiB = guest unique 30 + KSM share "
                                     "12 + QEMU own 40 + page tables 1; KSM saved -, zero pages -");
    const char *hdr = strstr(lines[2], "COST");
    CU_ASSERT_PTR_NOT_NULL_FATAL(hdr);
    size_t end = (size_t)(hdr - lines[2]) + strlen("COST");
    CU_ASSERT_EQUAL(strncmp(lines[3] + end - 3, "83M", 3), 0); /* right-aligned under COST */
    CU_ASSERT_EQUAL(strncmp(lines[4] + end - 1, "-", 1), 0);
    g_strfreev(lines);
    g_string_free(out, TRUE);
}

static void test_table_ksm_and_dry_run(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    h.dry_run = true;
    v[0].ksm_saved_sharing_bytes = 3LL << 20;
    GString *out = g_string_new(NULL);
    status_table_format(out, &h, v, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "DRY RUN"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "KSM-SAVED"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "3.0 MiB"));
    g_string_free(out, TRUE);

    /* An empty fleet is a header and nothing else. */
    out = g_string_new(NULL);
    status_table_format(out, &h, NULL, 0);
    gchar **lines = g_strsplit(out->str, "\n", -1);
    CU_ASSERT_EQUAL(g_strv_length(lines), 3);
    g_strfreev(lines);
    g_string_free(out, TRUE);
}

/* What the operator must know of a VM beyond its row: a note after the table. */
static void test_table_notes(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    v[0].foreign_target_bytes = 4096LL << 20;
    v[0].foreign_since_s = 1796463012; /* 2026-12-05 09:30:12 UTC */
    ctl_copy(v[0].foreign_by, sizeof(v[0].foreign_by), "another QMP client");
    v[1].deflate_on_oom = 0;
    v[1].balloon_unreleased_bytes = 120LL << 20;
    GString *out = g_string_new(NULL);
    status_table_format(out, &h, v, 2);
    gchar **lines = g_strsplit(out->str, "\n", -1);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(lines), 8); /* host, header, 2 VMs, 3 notes, "" */
    CU_ASSERT_STRING_EQUAL(lines[4], "vm0: foreign target 4.0 GiB set at 2026-12-05 09:30:12 UTC, "
                                     "by another QMP client: held there (`ballastctl resume vm0` "
                                     "hands it back)");
    CU_ASSERT_TRUE(g_str_has_prefix(lines[5], "vm1: its QEMU holds 120.0 MiB of guest RAM over"));
    CU_ASSERT_TRUE(g_str_has_prefix(lines[6], "vm1: balloon without deflate-on-oom"));
    g_strfreev(lines);
    /* Known and fine: no note. */
    v[0].foreign_target_bytes = -1;
    v[1].deflate_on_oom = 1;
    v[1].balloon_unreleased_bytes = 0;
    g_string_truncate(out, 0);
    status_table_format(out, &h, v, 2);
    CU_ASSERT_PTR_NULL(strstr(out->str, "foreign"));
    CU_ASSERT_PTR_NULL(strstr(out->str, "deflate-on-oom"));
    CU_ASSERT_PTR_NULL(strstr(out->str, "holds"));
    g_string_free(out, TRUE);
}

/* The libvirt source's line: only with --libvirt, right under the host's. */
static void test_table_libvirt(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    GString *out = g_string_new(NULL);
    status_table_format(out, &h, v, 2);
    CU_ASSERT_PTR_NULL(strstr(out->str, "libvirt:"));
    g_string_truncate(out, 0);
    ctl_copy(h.libvirt, sizeof(h.libvirt),
             "stalled: call virConnectOpen pending for 12 s (qemu:///system), 3 waiting");
    status_table_format(out, &h, v, 2);
    gchar **lines = g_strsplit(out->str, "\n", -1);
    CU_ASSERT_STRING_EQUAL(lines[1], "libvirt: stalled: call virConnectOpen pending for 12 s "
                                     "(qemu:///system), 3 waiting");
    g_strfreev(lines);
    g_string_free(out, TRUE);
}

static CU_TestInfo table_tests[] = {
    {"status table", test_table},
    {"status table: budget line", test_table_budget},
    {"status table: host cost column and fleet line", test_table_cost},
    {"status table: KSM column, dry run, empty", test_table_ksm_and_dry_run},
    {"status table: libvirt line", test_table_libvirt},
    {"status table: notes (foreign target, unreleased balloon, no deflate-on-oom)",
     test_table_notes},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"status_table", NULL, NULL, NULL, NULL, table_tests},
    CU_SUITE_INFO_NULL,
};
