/*
 * `ballastctl top`'s frame (host/ctl/top_view.c) on stack rows: the sort
 * orders with unknowns last, the width from $COLUMNS or the terminal, every
 * line within the width, long names shortened in the middle and said so,
 * VMs past the terminal's height counted, never dropped silently.
 */
#include "cunit_main.h"
#include "top_view.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define MIB (1LL << 20)

/* Four VMs: cost, pressure and names in different orders; vm-d knows nothing. */
static void rows(struct ctl_host_status *h, struct ctl_vm_status *v)
{
    ctl_host_status_init(h);
    h->mem_total_bytes = 24LL << 30;
    h->mem_available_bytes = 12LL << 30;
    h->psi_some_avg10_pct = 0.5;
    h->psi_full_avg10_pct = 0;
    const char *names[] = {"vm-b", "vm-a", "vm-c", "vm-d"};
    const int64_t cost_mib[] = {100, 300, 200, -1};
    const double psi[] = {7.5, 0.25, NAN, 1.0};
    for (int i = 0; i < 4; i++) {
        ctl_vm_status_init(&v[i]);
        ctl_copy(v[i].name, sizeof(v[i].name), names[i]);
        v[i].cost.host_cost_bytes = cost_mib[i] < 0 ? -1 : cost_mib[i] * MIB;
        v[i].psi_some_avg10_pct = psi[i];
        v[i].actual_bytes = 256 * MIB;
        v[i].target_bytes = 200 * MIB;
        ctl_copy(v[i].mode, sizeof(v[i].mode), "auto");
        ctl_copy(v[i].agent, sizeof(v[i].agent), "connected");
        ctl_copy(v[i].last_reason, sizeof(v[i].last_reason), "hold: within the deadband");
    }
}

static void expect_order(const struct ctl_vm_status *v, enum top_sort sort, const char *want)
{
    size_t order[4];
    top_view_order(v, 4, sort, order);
    GString *got = g_string_new(NULL);
    for (size_t i = 0; i < 4; i++)
        g_string_append_printf(got, "%s%s", i ? " " : "", v[order[i]].name);
    if (strcmp(got->str, want) != 0)
        fprintf(stderr, "\nsort %s: got '%s', want '%s'\n", top_sort_name(sort), got->str, want);
    CU_ASSERT_STRING_EQUAL(got->str, want);
    g_string_free(got, TRUE);
}

static void test_order(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[4];
    rows(&h, v);
    expect_order(v, TOP_SORT_COST, "vm-a vm-c vm-b vm-d");     /* unknown cost last */
    expect_order(v, TOP_SORT_PRESSURE, "vm-b vm-d vm-a vm-c"); /* NaN last */
    expect_order(v, TOP_SORT_NAME, "vm-a vm-b vm-c vm-d");
    /* Ties go by name, whatever the input order. */
    v[0].cost.host_cost_bytes = v[1].cost.host_cost_bytes;
    expect_order(v, TOP_SORT_COST, "vm-a vm-b vm-c vm-d");

    enum top_sort s;
    CU_ASSERT_EQUAL(top_sort_parse("pressure", &s), 0);
    CU_ASSERT_EQUAL(s, TOP_SORT_PRESSURE);
    CU_ASSERT_EQUAL(top_sort_parse("cost", &s), 0);
    CU_ASSERT_EQUAL(s, TOP_SORT_COST);
    CU_ASSERT_EQUAL(top_sort_parse("Cost", &s), -EINVAL);
    CU_ASSERT_EQUAL(top_sort_parse("", &s), -EINVAL);
}

static void test_columns(void)
{
    CU_ASSERT_EQUAL(top_view_columns("120", 80), 120); /* $COLUMNS wins */
    CU_ASSERT_EQUAL(top_view_columns(NULL, 80), 80);
    CU_ASSERT_EQUAL(top_view_columns("", 80), 80);
    CU_ASSERT_EQUAL(top_view_columns("wide", 80), 80);
    CU_ASSERT_EQUAL(top_view_columns("-3", 80), 80);
    CU_ASSERT_EQUAL(top_view_columns("0", 0), 0);
    CU_ASSERT_EQUAL(top_view_columns("99999999999999999999", 0), 0);
    CU_ASSERT_EQUAL(top_view_columns(NULL, 0), 0); /* not a terminal: no limit */
}

/* The frame's lines (without the last, empty, one). */
static gchar **frame(const struct ctl_host_status *h, const struct ctl_vm_status *v, size_t n,
                     const struct top_view_options *opt)
{
    GString *out = g_string_new(NULL);
    top_view_format(out, h, v, n, opt);
    CU_ASSERT_TRUE(g_str_has_suffix(out->str, "\n"));
    g_string_truncate(out, out->len - 1);
    gchar **lines = g_strsplit(out->str, "\n", -1);
    g_string_free(out, TRUE);
    return lines;
}

static void test_plain(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[4];
    rows(&h, v);
    struct top_view_options opt = {.sort = TOP_SORT_COST, .when = "10:02:03"};
    gchar **l = frame(&h, v, 4, &opt);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(l), 6); /* host, header, 4 VMs, no footer */
    CU_ASSERT_TRUE(g_str_has_prefix(l[0], "10:02:03  host: available 12.0 GiB of 24.0 GiB"));
    CU_ASSERT_PTR_NOT_NULL(strstr(l[0], "4 VMs, cost 600M; by cost"));
    CU_ASSERT_TRUE(g_str_has_prefix(l[1], "VM  "));
    const char *cols[] = {"COST", "ACTUAL", "TARGET", "AVAIL", "PSI", "MODE", "AGENT", "REASON"};
    for (size_t i = 0; i < G_N_ELEMENTS(cols); i++)
        CU_ASSERT_PTR_NOT_NULL(strstr(l[1], cols[i]));
    CU_ASSERT_TRUE(g_str_has_prefix(l[2], "vm-a   300M   256M   200M      -   0.25 auto "));
    CU_ASSERT_TRUE(g_str_has_suffix(l[2], " hold: within the deadband"));
    CU_ASSERT_TRUE(g_str_has_prefix(l[5], "vm-d      -   256M"));
    /* Columns line up: COST's value ends where the header's COST ends. */
    size_t end = (size_t)(strstr(l[1], "COST") - l[1]) + 4;
    CU_ASSERT_EQUAL(strncmp(l[2] + end - 4, "300M", 4), 0);
    g_strfreev(l);
    /* Dry run and an empty fleet. */
    h.dry_run = true;
    l = frame(&h, v, 0, &opt);
    CU_ASSERT_EQUAL(g_strv_length(l), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(l[0], ", DRY RUN; 0 VMs, cost -; by cost"));
    g_strfreev(l);
}

/* Every line within `columns` characters. */
static void expect_fits(gchar **l, unsigned columns)
{
    for (size_t i = 0; l[i]; i++) {
        if ((unsigned)g_utf8_strlen(l[i], -1) > columns)
            fprintf(stderr, "\nline %zu wider than %u: '%s'\n", i, columns, l[i]);
        CU_ASSERT_TRUE((unsigned)g_utf8_strlen(l[i], -1) <= columns);
    }
}

static void test_narrow_and_long_names(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[4];
    rows(&h, v);
    ctl_copy(v[1].name, sizeof(v[1].name), "customer-frontend-production-eu-west-0017");
    struct top_view_options opt = {.sort = TOP_SORT_COST, .columns = 80, .utf8 = true};
    gchar **l = frame(&h, v, 4, &opt);
    expect_fits(l, 80);
    /* 80 - 56 fixed - 10 for the reason: 14 columns; the middle goes, the number stays. */
    CU_ASSERT_TRUE(g_str_has_prefix(l[2], "custome…t-0017 "));
    guint n = g_strv_length(l);
    CU_ASSERT_EQUAL_FATAL(n, 7); /* the footer says so */
    CU_ASSERT_PTR_NOT_NULL(strstr(l[6], "names shortened with …"));
    CU_ASSERT_PTR_NOT_NULL(strstr(l[6], "ballastctl status"));
    /* Short names stay whole and padded to the same column. */
    CU_ASSERT_TRUE(g_str_has_prefix(l[3], "vm-c             200M"));
    g_strfreev(l);

    /* ASCII terminals get "..."; a very narrow one keeps 8 columns of name
     * and cuts every line, the reason first. */
    opt.utf8 = false;
    opt.columns = 40;
    l = frame(&h, v, 4, &opt);
    expect_fits(l, 40);
    CU_ASSERT_TRUE(g_str_has_prefix(l[2], "cus...17 "));
    CU_ASSERT_TRUE(g_str_has_suffix(l[2], "..."));
    g_strfreev(l);

    /* No width (not a terminal): names whole, no footer. */
    opt.columns = 0;
    l = frame(&h, v, 4, &opt);
    CU_ASSERT_EQUAL(g_strv_length(l), 6);
    CU_ASSERT_TRUE(g_str_has_prefix(l[2], "customer-frontend-production-eu-west-0017 "));
    g_strfreev(l);

    /* Wide enough: whole again. */
    opt.columns = 200;
    l = frame(&h, v, 4, &opt);
    CU_ASSERT_EQUAL(g_strv_length(l), 6);
    CU_ASSERT_PTR_NULL(strstr(l[2], "..."));
    g_strfreev(l);

    /* A UTF-8 name is cut on characters, not bytes. */
    ctl_copy(v[1].name, sizeof(v[1].name), "ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ-01");
    opt = (struct top_view_options){.sort = TOP_SORT_COST, .columns = 80, .utf8 = true};
    l = frame(&h, v, 4, &opt);
    expect_fits(l, 80);
    CU_ASSERT_TRUE(g_utf8_validate(l[2], -1, NULL));
    CU_ASSERT_TRUE(g_str_has_prefix(l[2], "ÿÿÿÿÿÿÿ…ÿÿÿ-01 "));
    g_strfreev(l);
}

static void test_lines(void)
{
    struct ctl_host_status h;
    struct ctl_vm_status v[4];
    rows(&h, v);
    /* 5 lines: host, header, 2 VMs and "… and 2 more VMs". */
    struct top_view_options opt = {.sort = TOP_SORT_NAME, .lines = 5, .utf8 = true};
    gchar **l = frame(&h, v, 4, &opt);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(l), 5);
    CU_ASSERT_TRUE(g_str_has_prefix(l[2], "vm-a "));
    CU_ASSERT_TRUE(g_str_has_prefix(l[3], "vm-b "));
    CU_ASSERT_STRING_EQUAL(l[4], "… and 2 more VMs (a taller terminal shows them)");
    g_strfreev(l);
    /* Exactly enough lines: all shown, no footer. */
    opt.lines = 6;
    l = frame(&h, v, 4, &opt);
    CU_ASSERT_EQUAL(g_strv_length(l), 6);
    CU_ASSERT_TRUE(g_str_has_prefix(l[5], "vm-d "));
    g_strfreev(l);
    /* A terminal of 1 line still shows one VM and the count. */
    opt.lines = 1;
    l = frame(&h, v, 4, &opt);
    CU_ASSERT_EQUAL(g_strv_length(l), 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(l[3], "and 3 more VMs"));
    g_strfreev(l);
}

static CU_TestInfo top_tests[] = {
    {"top: sort orders, unknowns last, ties by name", test_order},
    {"top: width from $COLUMNS or the terminal", test_columns},
    {"top: plain frame, columns line up", test_plain},
    {"top: narrow terminals, long and UTF-8 names", test_narrow_and_long_names},
    {"top: VMs past the terminal's height counted", test_lines},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"top_view", NULL, NULL, NULL, NULL, top_tests},
    CU_SUITE_INFO_NULL,
};
