/* `ballastctl status` layout, and runtime policy overrides (set-policy). */
#include "cunit_main.h"
#include "status_table.h"
#include "vm_override.h"

#include <errno.h>
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

static void test_override(void)
{
    struct vm_override o = {0};
    g_autofree char *why = NULL;
    CU_ASSERT_EQUAL(vm_override_set(&o, "min_memory", "64M", &why), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "max-memory", "75%", &why), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "mode", "observe", &why), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "shares", "300", &why), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "reclaim_allowed", "true", &why), 0);

    struct policy_vm_params p;
    policy_vm_params_default(&p, 256ULL << 20);
    vm_override_apply(&o, 256ULL << 20, &p);
    CU_ASSERT_EQUAL(p.min_bytes, 64ULL << 20);
    CU_ASSERT_EQUAL(p.max_bytes, 192ULL << 20);
    CU_ASSERT_EQUAL(p.mode, POLICY_MODE_OBSERVE);
    CU_ASSERT_EQUAL(p.shares, 300);
    CU_ASSERT_TRUE(p.reclaim_allowed);

    GPtrArray *list = g_ptr_array_new_with_free_func(g_free);
    vm_override_list(&o, list);
    CU_ASSERT_EQUAL(list->len, 5);
    g_ptr_array_unref(list);

    /* "default" clears; the configured value comes back. */
    CU_ASSERT_EQUAL(vm_override_set(&o, "mode", "default", &why), 0);
    policy_vm_params_default(&p, 256ULL << 20);
    enum policy_mode configured = p.mode;
    vm_override_apply(&o, 256ULL << 20, &p);
    CU_ASSERT_EQUAL(p.mode, configured);
}

static void test_override_rejects_and_clamps(void)
{
    struct vm_override o = {0};
    char *why = NULL;
    CU_ASSERT_EQUAL(vm_override_set(&o, "colour", "blue", &why), -ENOENT);
    CU_ASSERT_PTR_NOT_NULL(why);
    g_free(why);
    /* ksm: policy files and metadata only (the key table says so). */
    CU_ASSERT_EQUAL(vm_override_set(&o, "ksm", "false", &why), -ENOENT);
    g_free(why);
    /* Values, ranges and messages of a policy file (config.c's table). */
    const char *bad[][3] = {
        {"min_memory", "lots", "min_memory: bad size 'lots' (expected e.g. 256M or 25%)"},
        {"max_memory", "150%", "max_memory = 150%: out of range [0%, 100%]"},
        {"shares", "0", "shares = 0: out of range [1, 1000000]"},
        {"shares", "-3", "shares: bad number '-3' (expected a whole number)"},
        {"shares", "1000001", "shares = 1000001: out of range [1, 1000000]"},
        {"mode", "turbo", "mode: unknown mode 'turbo' (expected managed, observe or fixed)"},
        {"agent_required", "2", "agent_required: expected true or false, not '2'"}};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        CU_ASSERT_EQUAL(vm_override_set(&o, bad[i][0], bad[i][1], &why), -EINVAL);
        CU_ASSERT_STRING_EQUAL(why, bad[i][2]);
        g_free(why);
    }
    /* Nothing bad was kept. */
    GPtrArray *list = g_ptr_array_new_with_free_func(g_free);
    vm_override_list(&o, list);
    CU_ASSERT_EQUAL(list->len, 0);
    g_ptr_array_unref(list);

    /* min above max and max above nominal are clamped, never passed to the engine. */
    CU_ASSERT_EQUAL(vm_override_set(&o, "min_memory", "1G", &why), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "max_memory", "512M", &why), 0);
    CU_ASSERT_PTR_NULL(why);
    struct policy_vm_params p;
    policy_vm_params_default(&p, 256ULL << 20);
    vm_override_apply(&o, 256ULL << 20, &p);
    CU_ASSERT_EQUAL(p.max_bytes, 256ULL << 20);
    CU_ASSERT_EQUAL(p.min_bytes, 256ULL << 20);
}

static CU_TestInfo table_tests[] = {
    {"status table", test_table},
    {"status table: KSM column, dry run, empty", test_table_ksm_and_dry_run},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo override_tests[] = {
    {"set, apply, clear", test_override},
    {"rejects and clamps", test_override_rejects_and_clamps},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"status_table", NULL, NULL, NULL, NULL, table_tests},
    {"vm_override", NULL, NULL, NULL, NULL, override_tests},
    CU_SUITE_INFO_NULL,
};
