/* The checks run on untrusted JSON text before json-glib reads it
 * (host/json/json_depth.c, json_glib_leak.c): what each lets through and
 * what it stops. Strings are read as json-glib's scanner reads them:
 * double-quoted with escapes, single-quoted without. The callers' own
 * tests (unit.ctl.control, unit.qmp.conn, unit.daemon.state_file) show
 * the refusals on their paths. */
#include "cunit_main.h"
#include "json_depth.h"
#include "json_glib_leak.h"

#include <string.h>

static int depth(const char *s)
{
    return json_depth(s, strlen(s));
}

static const char *leak(const char *s)
{
    return json_glib_leak(s, strlen(s));
}

static void test_depth(void)
{
    CU_ASSERT_EQUAL(depth(""), 0);
    CU_ASSERT_EQUAL(depth("5"), 0);
    CU_ASSERT_EQUAL(depth("{\"a\": [[1], {\"b\": 2}]}"), 3);
    CU_ASSERT_EQUAL(depth("[\"[[[\\\"[[\"]"), 1);
    /* Single-quoted strings are strings too: their brackets do not count... */
    CU_ASSERT_EQUAL(depth("['[[[']"), 1);
    /* ...a '"' inside one does not open a string that hides what follows... */
    CU_ASSERT_EQUAL(depth("['\"', [[[1]]]]"), 4);
    CU_ASSERT_EQUAL(depth("[\"'\", [[[1]]]]"), 4);
    /* ...and a backslash in one is itself: the quote after it ends it. */
    CU_ASSERT_EQUAL(depth("['\\', [[[1]]]]"), 4);
}

static void test_one_value(void)
{
    CU_ASSERT_PTR_NULL(leak(""));
    CU_ASSERT_PTR_NULL(leak("5"));
    CU_ASSERT_PTR_NULL(leak("  {\"cmd\": \"ping\"}\r\n"));
    CU_ASSERT_PTR_NULL(leak("[1, [2], {\"a\": []}]"));
    CU_ASSERT_PTR_NULL(leak("{\"a\": \"}{\", \"b\": '][', \"c\": \"\\\"{\"}"));
    /* A second value: json-glib 1.6 reads the first and leaks the second. */
    const char *two[] = {"5[1]",       "{\"cmd\":\"ping\"}{\"cmd\":\"ping\"}",
                         "[1] [2]",    "\"a\"{}",
                         "'a'\n{}",    "{}}{}",
                         "var x = {}", "\"\\\\\"{}",
                         "['\\'] [1]"};
    for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++) {
        const char *why = leak(two[i]);
        CU_ASSERT_PTR_NOT_NULL(why);
        if (why)
            CU_ASSERT_STRING_EQUAL(why, "more than one JSON value");
    }
    /* Only the top level counts; a string hides brackets and quotes. */
    CU_ASSERT_PTR_NULL(leak("{\"a\": {}, \"b\": []}"));
    CU_ASSERT_PTR_NULL(leak("\"\\\"{}\""));
    /* Two scalars are json-glib's to refuse (it frees what it read). */
    CU_ASSERT_PTR_NULL(leak("1 2"));
}

static void test_surrogates(void)
{
    /* Pairs, two in a row, an escaped backslash before "ud800", escapes in
     * single quotes (json-glib reads none there). */
    CU_ASSERT_PTR_NULL(leak("\"\\ud83d\\ude00\""));
    CU_ASSERT_PTR_NULL(leak("\"\\uD83D\\uDE00\\ud83d\\ude00x\""));
    CU_ASSERT_PTR_NULL(leak("\"\\\\ud800x\""));
    CU_ASSERT_PTR_NULL(leak("'\\ud800x'"));
    /* A high surrogate without its low half, a low one alone (json-glib
     * starts a pair on either; fuzz.daemon.state_file and fuzz.qmp.balloon
     * found the second): json-glib loses the string. */
    const char *half[] = {"\"\\ud800\\u0041\"",
                          "\"\\ud800\\ue000\"",
                          "\"\\udbff\\uzz00\"",
                          "\"\\ud800\\ud\"",
                          "\"\\ud800x\"",
                          "{\"a\":\"\\uDB00\"}",
                          "\"\\ud800",
                          "\"\\udc00\"",
                          "\"kke\\udCde\\udCdAy\"",
                          "\"\\uD00b\\uDD15\\uDD00b\""};
    for (size_t i = 0; i < sizeof(half) / sizeof(half[0]); i++) {
        const char *why = leak(half[i]);
        CU_ASSERT_PTR_NOT_NULL(why);
        if (why)
            CU_ASSERT_STRING_EQUAL(why, "half a surrogate pair");
    }
}

static void test_short_escapes(void)
{
    /* json-glib reads "\ud8n" as \ud800 (missing digits as zeros): half a
     * pair again (fuzz.ctl.request's find), so no \u escape may be short. */
    const char *shortu[] = {"\"\\ud8n\\udc00\"", "{\"c]d\":\"n\\ud8n\\ud\0260\"}", "\"\\u12\"",
                            "\"\\uZZZZ\"", "\"\\u"};
    for (size_t i = 0; i < sizeof(shortu) / sizeof(shortu[0]); i++) {
        const char *why = leak(shortu[i]);
        CU_ASSERT_PTR_NOT_NULL(why);
        if (why)
            CU_ASSERT_STRING_EQUAL(why, "a \\u escape without four hex digits");
    }
    CU_ASSERT_PTR_NULL(leak("\"\\u00e9\\u20AC\\\"\\n\""));
}

static CU_TestInfo json_guard_tests[] = {
    {"depth", test_depth},
    {"one value", test_one_value},
    {"surrogate pairs", test_surrogates},
    {"short \\u escapes", test_short_escapes},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"json_guards", NULL, NULL, NULL, NULL, json_guard_tests},
    CU_SUITE_INFO_NULL,
};
