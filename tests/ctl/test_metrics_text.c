/*
 * The Prometheus exposition writer (metrics_text.c) and the growth latency
 * histogram (latency_hist.c), on structs built on the stack: label
 * escaping, a # HELP and # TYPE before every family's samples and each
 * family's samples together, cumulative histogram buckets, unknown values
 * left out, units converted. promtool's own check of real output is
 * integration.daemon.metrics.
 */
#include "cunit_main.h"
#include "metrics_text.h"

#include <math.h>
#include <string.h>

static void rows(struct ctl_host_status *h, struct ctl_vm_status *v)
{
    ctl_host_status_init(h);
    h->mem_total_bytes = 24LL << 30;
    h->mem_available_bytes = 12LL << 30;
    h->psi_some_avg10_pct = 12.5;
    h->ksmd_cpu_seconds = 1.5;
    h->daemon_rss_bytes = 3 << 20;
    h->daemon_cpu_seconds = 0.25;
    h->ksm_general_profit_bytes = -4096; /* signed: a loss is a value */
    h->budget.view_available_bytes = 1000;
    h->budget.fleet_cost_bytes = 500;
    h->budget.floors_bytes = 300;
    h->grow_latency_known = true;
    for (int i = 0; i < 2; i++)
        ctl_vm_status_init(&v[i]);
    /* A hostile name: a quote, a backslash, a newline. */
    ctl_copy(v[0].name, sizeof(v[0].name), "we\"b\\x\ny");
    v[0].nominal_bytes = 256LL << 20;
    v[0].target_bytes = 128LL << 20;
    v[0].actual_bytes = 130LL << 20;
    v[0].psi_some_avg10_pct = 2.25;
    v[0].grows = 3;
    v[0].shrinks = 7;
    v[0].ksm_saved_sharing_bytes = 4096;
    v[0].ksm_saved_zero_bytes = 8192;
    ctl_copy(v[0].mode, sizeof(v[0].mode), "managed");
    ctl_copy(v[0].qmp, sizeof(v[0].qmp), "connected");
    ctl_copy(v[1].name, sizeof(v[1].name), "vm1"); /* everything unknown */
    ctl_copy(v[1].mode, sizeof(v[1].mode), "safe");
}

static char *write_text(const struct ctl_host_status *h, const struct ctl_vm_status *v, size_t n)
{
    GString *out = g_string_new(NULL);
    metrics_text_write(out, h, v, n);
    return g_string_free(out, FALSE);
}

/* The sample line of name{labels} (exact prefix up to the value), or NULL. */
static const char *find_sample(const char *text, const char *prefix)
{
    g_autofree char *needle = g_strdup_printf("\n%s ", prefix);
    const char *p = strstr(text, needle);
    return p ? p + strlen(needle) : NULL;
}

static void expect_value(const char *text, const char *prefix, const char *value)
{
    const char *v = find_sample(text, prefix);
    if (!v || strncmp(v, value, strlen(value)) != 0 || v[strlen(value)] != '\n')
        fprintf(stderr, "\n%s: want %s, got %.20s\n", prefix, value, v ? v : "(none)");
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_NSTRING_EQUAL(v, value, strlen(value));
    CU_ASSERT_EQUAL(v[strlen(value)], '\n');
}

static void test_values_and_escaping(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    g_autofree char *t = write_text(&h, v, 2);
    /* \ -> \\, " -> \", newline -> \n: the name stays one label on one line. */
    expect_value(t, "ballast_vm_actual_bytes{vm=\"we\\\"b\\\\x\\ny\"}", "136314880");
    expect_value(t, "ballast_vm_grows_total{vm=\"we\\\"b\\\\x\\ny\"}", "3");
    expect_value(t, "ballast_vm_shrinks_total{vm=\"we\\\"b\\\\x\\ny\"}", "7");
    expect_value(t, "ballast_vm_psi_some_avg10_ratio{vm=\"we\\\"b\\\\x\\ny\"}", "0.0225");
    expect_value(t, "ballast_vm_ksm_saved_bytes{vm=\"we\\\"b\\\\x\\ny\"}", "12288");
    expect_value(t, "ballast_host_memory_psi_some_avg10_ratio", "0.125");
    expect_value(t, "ballast_host_memory_total_bytes", "25769803776");
    expect_value(t, "ballast_ksm_general_profit_bytes", "-4096");
    expect_value(t, "ballast_process_resident_memory_bytes", "3145728");
    expect_value(t, "ballast_process_cpu_seconds_total", "0.25");
    expect_value(t, "ballast_ksmd_cpu_seconds_total", "1.5");
    expect_value(t, "ballast_fleet_headroom_bytes", "1200");
    expect_value(t, "ballast_vms", "2");
    expect_value(t, "ballast_dry_run", "0");
    expect_value(t,
                 "ballast_vm_info{vm=\"vm1\",mode=\"safe\",source=\"\",policy_source=\"\","
                 "qmp=\"\",agent=\"\"}",
                 "1");
    /* Unknown values are left out, never written as NaN or -1. */
    CU_ASSERT_PTR_NULL(strstr(t, "NaN"));
    CU_ASSERT_PTR_NULL(strstr(t, " -1\n"));
    CU_ASSERT_PTR_NULL(find_sample(t, "ballast_vm_actual_bytes{vm=\"vm1\"}"));
    CU_ASSERT_PTR_NULL(find_sample(t, "ballast_vm_target_bytes{vm=\"vm1\"}"));
    CU_ASSERT_PTR_NULL(find_sample(t, "ballast_vm_guest_available_bytes{vm=\"we\\\"b\\\\x\\ny\"}"));
    CU_ASSERT_PTR_NULL(find_sample(t, "ballast_fleet_budget_bytes"));
    /* No raw newline from the name: every line is a comment or a sample of ballast_. */
    g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
    for (char **l = lines; *l && **l; l++)
        CU_ASSERT_TRUE(g_str_has_prefix(*l, "# HELP ballast_") ||
                       g_str_has_prefix(*l, "# TYPE ballast_") || g_str_has_prefix(*l, "ballast_"));
}

/* The family a sample belongs to: its name, less a histogram's suffixes. */
static char *family_of(const char *line, GHashTable *types)
{
    size_t n = strcspn(line, "{ ");
    char *name = g_strndup(line, n);
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        if (!g_str_has_suffix(name, suffixes[i]))
            continue;
        char *base = g_strndup(name, n - strlen(suffixes[i]));
        if (g_strcmp0(g_hash_table_lookup(types, base), "histogram") == 0) {
            g_free(name);
            return base;
        }
        g_free(base);
    }
    return name;
}

/* Every sample's family has # HELP and # TYPE before it; a family's samples are together;
 * every declared family is declared once; counters end in _total. */
static void test_every_family_declared(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    latency_hist_observe(&h.grow_latency, 300);
    g_autofree char *t = write_text(&h, v, 2);
    g_autoptr(GHashTable) help = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) closed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *current = NULL;
    g_auto(GStrv) lines = g_strsplit(t, "\n", -1);
    guint samples = 0, families = 0;
    for (char **l = lines; *l && **l; l++) {
        if (g_str_has_prefix(*l, "# HELP ")) {
            g_auto(GStrv) w = g_strsplit(*l + 7, " ", 2);
            CU_ASSERT_FALSE(g_hash_table_contains(help, w[0])); /* declared once */
            CU_ASSERT_TRUE(w[1] && w[1][0]);                    /* with a text */
            g_hash_table_add(help, g_strdup(w[0]));
            families++;
            continue;
        }
        if (g_str_has_prefix(*l, "# TYPE ")) {
            g_auto(GStrv) w = g_strsplit(*l + 7, " ", 2);
            CU_ASSERT_TRUE(g_hash_table_contains(help, w[0])); /* HELP first */
            CU_ASSERT_FALSE(g_hash_table_contains(types, w[0]));
            if (g_strcmp0(w[1], "counter") == 0)
                CU_ASSERT_TRUE(g_str_has_suffix(w[0], "_total"));
            g_hash_table_insert(types, g_strdup(w[0]), g_strdup(w[1]));
            continue;
        }
        g_autofree char *fam = family_of(*l, types);
        if (!g_hash_table_contains(types, fam))
            fprintf(stderr, "\nsample without # TYPE: %s\n", *l);
        CU_ASSERT_TRUE(g_hash_table_contains(help, fam));
        CU_ASSERT_TRUE(g_hash_table_contains(types, fam));
        if (g_strcmp0(current, fam) != 0) {
            CU_ASSERT_FALSE(g_hash_table_contains(closed, fam)); /* samples together */
            if (current)
                g_hash_table_add(closed, g_steal_pointer(&current));
            current = g_strdup(fam);
        }
        samples++;
    }
    CU_ASSERT(families >= 30);
    CU_ASSERT(samples >= 30);
    CU_ASSERT_EQUAL(g_hash_table_size(help), g_hash_table_size(types));
}

static void test_histogram(void)
{
    struct latency_hist l;
    latency_hist_init(&l);
    /* 100 ms is in le=0.1 (<=); 250 in le=0.25; a negative time counts as 0. */
    static const int64_t ms[] = {-5, 50, 100, 250, 300, 300, 4000, 200000};
    for (size_t i = 0; i < G_N_ELEMENTS(ms); i++)
        latency_hist_observe(&l, ms[i]);
    CU_ASSERT_EQUAL(l.count, 8);
    CU_ASSERT_EQUAL(l.sum_ms, 0 + 50 + 100 + 250 + 300 + 300 + 4000 + 200000);
    CU_ASSERT_EQUAL(latency_hist_cumulative(&l, 0), 3);                        /* -5, 50, 100 */
    CU_ASSERT_EQUAL(latency_hist_cumulative(&l, 1), 4);                        /* + 250 */
    CU_ASSERT_EQUAL(latency_hist_cumulative(&l, 2), 6);                        /* + 300, 300 */
    CU_ASSERT_EQUAL(latency_hist_cumulative(&l, 5), 7);                        /* + 4000 in le=5 */
    CU_ASSERT_EQUAL(latency_hist_cumulative(&l, LATENCY_HIST_BUCKETS - 1), 7); /* 200 s: +Inf */

    struct ctl_host_status h;
    struct ctl_vm_status v[2];
    rows(&h, v);
    h.grow_latency = l;
    g_autofree char *t = write_text(&h, v, 0);
    expect_value(t, "ballast_grow_latency_seconds_bucket{le=\"0.1\"}", "3");
    expect_value(t, "ballast_grow_latency_seconds_bucket{le=\"0.5\"}", "6");
    expect_value(t, "ballast_grow_latency_seconds_bucket{le=\"120\"}", "7");
    expect_value(t, "ballast_grow_latency_seconds_bucket{le=\"+Inf\"}", "8");
    expect_value(t, "ballast_grow_latency_seconds_count", "8");
    expect_value(t, "ballast_grow_latency_seconds_sum", "205");
    /* Cumulative: never decreasing, le ascending, +Inf last and equal to the count. */
    const char *p = t;
    int64_t last = -1;
    double last_le = -1;
    guint buckets = 0;
    while ((p = strstr(p, "ballast_grow_latency_seconds_bucket{le=\""))) {
        p += strlen("ballast_grow_latency_seconds_bucket{le=\"");
        double le = g_str_has_prefix(p, "+Inf") ? INFINITY : g_ascii_strtod(p, NULL);
        const char *val = strstr(p, "} ") + 2;
        int64_t n = g_ascii_strtoll(val, NULL, 10);
        CU_ASSERT_TRUE(le > last_le);
        CU_ASSERT_TRUE(n >= last);
        last = n;
        last_le = le;
        buckets++;
    }
    CU_ASSERT_EQUAL(buckets, LATENCY_HIST_BUCKETS + 1);
    CU_ASSERT_TRUE(isinf(last_le));
    CU_ASSERT_EQUAL(last, 8);

    /* A daemon that did not send it: the family is declared, without samples. */
    h.grow_latency_known = false;
    g_autofree char *none = write_text(&h, v, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(none, "# TYPE ballast_grow_latency_seconds histogram\n"));
    CU_ASSERT_PTR_NULL(strstr(none, "ballast_grow_latency_seconds_count"));
}

static void test_headroom(void)
{
    struct ctl_budget_status b = {
        .view_available_bytes = 4096, .fleet_cost_bytes = 10000, .floors_bytes = 12000};
    CU_ASSERT_EQUAL(metrics_text_headroom_bytes(&b), 2096);
    b.floors_bytes = 20000; /* the floors do not fit: negative, as the help says */
    CU_ASSERT_EQUAL(metrics_text_headroom_bytes(&b), -5904);
    b.floors_bytes = -1;
    CU_ASSERT_EQUAL(metrics_text_headroom_bytes(&b), CTL_UNKNOWN_S64);
}

static CU_TestInfo metrics_tests[] = {
    {"values, units and label escaping", test_values_and_escaping},
    {"every family has HELP and TYPE", test_every_family_declared},
    {"growth latency histogram is cumulative", test_histogram},
    {"fleet headroom", test_headroom},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"metrics_text", NULL, NULL, NULL, NULL, metrics_tests},
    CU_SUITE_INFO_NULL,
};
