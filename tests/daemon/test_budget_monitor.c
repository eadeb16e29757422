/*
 * ballastd's budget monitor on fixture cgroup trees: a cgroup it cannot read
 * (cgroup v1, missing) falls back to the host's figures and says so once,
 * not at every tick, and once more when it can read it again; a budget above
 * host RAM is cut with one warning naming memory_budget's file:line; the
 * min_memory rule and unmet budgets log when they start and end; status and
 * explain show the state meanwhile.
 */
#include "budget_monitor.h"
#include "cunit_main.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define FIX BALLAST_FIXTURES
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static GPtrArray *logged; /* "LEVEL MESSAGE" of every record */

static GLogWriterOutput capture(GLogLevelFlags level, const GLogField *fields, gsize n,
                                gpointer data)
{
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0)
            g_ptr_array_add(logged,
                            g_strdup_printf("%s %s", level & G_LOG_LEVEL_WARNING ? "W" : "I",
                                            (const char *)fields[i].value));
    return G_LOG_WRITER_HANDLED;
}

static int setup(void)
{
    logged = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(capture, NULL, NULL);
    return 0;
}

static int teardown(void)
{
    g_ptr_array_unref(logged);
    return 0;
}

/* How many records so far contain `text`. */
static guint count(const char *text)
{
    guint n = 0;
    for (guint i = 0; i < logged->len; i++)
        n += strstr(logged->pdata[i], text) != NULL;
    return n;
}

static const struct policy_host host = {
    .mem_total_bytes = 64 * GIB, .mem_available_bytes = 60 * GIB, .psi_valid = true};

static void configure(struct budget_monitor *b, const char *cgroup, struct config_size size,
                      const char *where)
{
    g_autoptr(BallastConfig) c = config_new_defaults();
    c->budget.size = size;
    g_strlcpy(c->budget.cgroup, cgroup ? cgroup : "", sizeof(c->budget.cgroup));
    c->budget_where = g_strdup(where);
    budget_monitor_configure(b, c);
}

static void test_cgroup_fallback_said_once(void)
{
    struct budget_monitor b;
    budget_monitor_init(&b);
    CU_ASSERT_FALSE(budget_monitor_active(&b));
    configure(&b, FIX "/cgroup-v1", (struct config_size){0}, NULL);
    CU_ASSERT_TRUE(budget_monitor_active(&b));
    for (int tick = 0; tick < 5; tick++)
        budget_monitor_update(&b, &host, 0);
    CU_ASSERT_EQUAL(count("cgroup v1"), 1);
    CU_ASSERT_EQUAL(budget_monitor_host(&b)->mem_total_bytes, 64 * GIB); /* the host's */
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    budget_monitor_status(&b, &h.budget);
    CU_ASSERT_STRING_EQUAL(h.budget.source, "host");
    CU_ASSERT_PTR_NOT_NULL(strstr(h.budget.cgroup_error, "cgroup v1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h.budget.cgroup_error, "host figures used"));
    CU_ASSERT_STRING_EQUAL(h.budget.configured, "");
    CU_ASSERT_EQUAL(h.budget.configured_bytes, -1);

    /* It becomes readable: said once; its figures stand in for the host's. */
    g_strlcpy(b.cfg.cgroup, FIX "/cgroup-v2", sizeof(b.cfg.cgroup));
    budget_monitor_update(&b, &host, 0);
    budget_monitor_update(&b, &host, 0);
    CU_ASSERT_EQUAL(count("readable again"), 1);
    const struct policy_host *v = budget_monitor_host(&b);
    CU_ASSERT_EQUAL(v->mem_total_bytes, 5 * GIB); /* memory.high */
    CU_ASSERT_EQUAL(v->mem_available_bytes, 1 * GIB);
    CU_ASSERT_DOUBLE_EQUAL(v->psi_some_avg10_pct, 1.5, 1e-9);
    ctl_host_status_init(&h);
    budget_monitor_status(&b, &h.budget);
    CU_ASSERT_STRING_EQUAL(h.budget.source, "cgroup");
    CU_ASSERT_STRING_EQUAL(h.budget.cgroup_error, "");
    CU_ASSERT_EQUAL(h.budget.capacity_bytes, 5 * GIB);

    /* Garbage later: one warning again, then quiet. */
    g_strlcpy(b.cfg.cgroup, FIX "/cgroup-garbage", sizeof(b.cfg.cgroup));
    for (int tick = 0; tick < 3; tick++)
        budget_monitor_update(&b, &host, 0);
    CU_ASSERT_EQUAL(count("garbage in a memory file"), 1);
    budget_monitor_clear(&b);
}

static void test_clamp_said_once(void)
{
    struct budget_monitor b;
    budget_monitor_init(&b);
    configure(&b, NULL, (struct config_size){CONFIG_SIZE_BYTES, 100 * GIB, 0},
              "/etc/ballast/ballastd.conf:7");
    for (int tick = 0; tick < 4; tick++)
        budget_monitor_update(&b, &host, 10 * GIB);
    CU_ASSERT_EQUAL(count("/etc/ballast/ballastd.conf:7: memory_budget 100.0 GiB is above host "
                          "RAM 64.0 GiB: cut to host RAM"),
                    1);
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    budget_monitor_status(&b, &h.budget);
    CU_ASSERT_EQUAL(h.budget.clamped, 1);
    CU_ASSERT_EQUAL(h.budget.configured_bytes, (int64_t)(100 * GIB));
    CU_ASSERT_EQUAL(h.budget.effective_bytes, (int64_t)(64 * GIB));
    CU_ASSERT_STRING_EQUAL(h.budget.configured, "100.0 GiB");
    /* A reload may say it again (once). */
    configure(&b, NULL, (struct config_size){CONFIG_SIZE_BYTES, 100 * GIB, 0},
              "/etc/ballast/ballastd.conf:7");
    budget_monitor_update(&b, &host, 10 * GIB);
    budget_monitor_update(&b, &host, 10 * GIB);
    CU_ASSERT_EQUAL(count("cut to host RAM"), 2);
    budget_monitor_clear(&b);
}

static void test_min_rule(void)
{
    struct budget_monitor b;
    budget_monitor_init(&b);
    configure(&b, NULL, (struct config_size){CONFIG_SIZE_PCT, 0, 25.0}, "d/ballastd.conf:3");
    budget_monitor_update(&b, &host, 0); /* 16 GiB */
    CU_ASSERT_FALSE(budget_monitor_check_min(&b, 8 * GIB));
    CU_ASSERT_PTR_NULL(budget_monitor_fleet_error(&b));
    CU_ASSERT_TRUE(budget_monitor_check_min(&b, 20 * GIB));
    CU_ASSERT_FALSE(budget_monitor_check_min(&b, 20 * GIB)); /* no change: quiet */
    const char *err = budget_monitor_fleet_error(&b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_TRUE(g_str_has_prefix(err, "d/ballastd.conf:3: memory_budget 16.0 GiB < the VMs' "
                                         "min_memory 20.0 GiB in all"));
    CU_ASSERT_EQUAL(count("every VM in safe mode"), 1);
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    budget_monitor_status(&b, &h.budget);
    CU_ASSERT_STRING_EQUAL(h.budget.error, err);
    CU_ASSERT_STRING_EQUAL(h.budget.configured, "25%");
    CU_ASSERT_TRUE(budget_monitor_check_min(&b, 24 * GIB)); /* a new VM: a new message */
    CU_ASSERT_TRUE(budget_monitor_check_min(&b, 4 * GIB));  /* gone */
    CU_ASSERT_PTR_NULL(budget_monitor_fleet_error(&b));
    CU_ASSERT_EQUAL(count("the budget error is gone"), 1);
    budget_monitor_clear(&b);
}

static void test_unmet_logged_at_edges(void)
{
    struct budget_monitor b;
    budget_monitor_init(&b);
    configure(&b, NULL, (struct config_size){CONFIG_SIZE_BYTES, 2 * GIB, 0}, NULL);
    budget_monitor_update(&b, &host, 2 * GIB);
    budget_monitor_fit(&b, 1 * GIB);
    budget_monitor_fit(&b, 2300 * MIB);
    budget_monitor_fit(&b, 2400 * MIB);
    budget_monitor_fit(&b, 2040 * MIB); /* within the margin: still unmet */
    CU_ASSERT_EQUAL(count("budget unmet: budget 2048 MiB < working sets 2300 MiB: stop or move a "
                          "guest (short 252.0 MiB)"),
                    1);
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    budget_monitor_status(&b, &h.budget);
    CU_ASSERT_EQUAL(h.budget.unmet, 1);
    CU_ASSERT_EQUAL(h.budget.short_bytes, 0); /* 2040 MiB < 2048 MiB, still in the margin */
    GString *out = g_string_new(NULL);
    struct json_writer w;
    json_writer_init(&w, out);
    json_writer_object_begin(&w);
    budget_monitor_explain(&b, 300 * MIB, &w);
    json_writer_object_end(&w);
    g_autoptr(JsonParser) p = json_parser_new();
    CU_ASSERT_TRUE_FATAL(json_parser_load_from_data(p, out->str, -1, NULL));
    JsonObject *o = json_node_get_object(json_parser_get_root(p));
    CU_ASSERT_EQUAL(json_object_get_int_member(o, "budget_floor_bytes"), 300 * MIB);
    CU_ASSERT_STRING_EQUAL(
        json_object_get_string_member(o, "budget_reason"),
        "budget 2048 MiB barely holds working sets 2040 MiB: stop or move a guest");
    CU_ASSERT_TRUE(
        json_object_get_boolean_member(json_object_get_object_member(o, "budget"), "unmet"));
    g_string_free(out, TRUE);
    budget_monitor_fit(&b, 1900 * MIB);
    budget_monitor_fit(&b, 1800 * MIB);
    CU_ASSERT_EQUAL(count("budget met again"), 1);
    ctl_host_status_init(&h);
    budget_monitor_status(&b, &h.budget);
    CU_ASSERT_EQUAL(h.budget.unmet, 0);
    budget_monitor_clear(&b);
}

static CU_TestInfo monitor_tests[] = {
    {"cgroup fallback said once", test_cgroup_fallback_said_once},
    {"clamp said once, with file:line", test_clamp_said_once},
    {"min_memory rule", test_min_rule},
    {"unmet logged at its edges", test_unmet_logged_at_edges},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"budget_monitor", setup, teardown, NULL, NULL, monitor_tests},
    CU_SUITE_INFO_NULL,
};
