/* The checks run on untrusted JSON text before json-glib reads it
 * (host/json/json_depth.c, json_one_value.c): what each lets through and
 * what it stops (json-glib 1.6 leaked the second value of "5[1]"; the
 * callers' own tests show the refusals). */
#include "cunit_main.h"
#include "json_depth.h"
#include "json_one_value.h"

#include <string.h>

static int depth(const char *s)
{
    return json_depth(s, strlen(s));
}

static bool one(const char *s)
{
    return json_one_value(s, strlen(s));
}

static void test_depth(void)
{
    CU_ASSERT_EQUAL(depth(""), 0);
    CU_ASSERT_EQUAL(depth("5"), 0);
    CU_ASSERT_EQUAL(depth("{\"a\": [[1], {\"b\": 2}]}"), 3);
    CU_ASSERT_EQUAL(depth("[\"[[[\\\"[[\"]"), 1);
    /* Single-quoted strings are strings too: their brackets do not count... */
    CU_ASSERT_EQUAL(depth("['[[[']"), 1);
    /* ...and a '"' inside one does not open a string that hides what follows. */
    CU_ASSERT_EQUAL(depth("['\"', [[[1]]]]"), 4);
    CU_ASSERT_EQUAL(depth("[\"'\", [[[1]]]]"), 4);
}

static void test_one_value(void)
{
    CU_ASSERT_TRUE(one(""));
    CU_ASSERT_TRUE(one("5"));
    CU_ASSERT_TRUE(one("  {\"cmd\": \"ping\"}\r\n"));
    CU_ASSERT_TRUE(one("[1, [2], {\"a\": []}]"));
    CU_ASSERT_TRUE(one("{\"a\": \"}{\", \"b\": '][', \"c\": \"\\\"{\"}"));
    /* A second value: json-glib 1.6 would read the first and leak the second. */
    CU_ASSERT_FALSE(one("5[1]"));
    CU_ASSERT_FALSE(one("{\"cmd\":\"ping\"}{\"cmd\":\"ping\"}"));
    CU_ASSERT_FALSE(one("[1] [2]"));
    CU_ASSERT_FALSE(one("\"a\"{}"));
    CU_ASSERT_FALSE(one("'a'\n{}"));
    CU_ASSERT_FALSE(one("{}}{}"));
    CU_ASSERT_FALSE(one("var x = {}"));
    /* Only the top level counts; a string hides brackets, quotes and escapes. */
    CU_ASSERT_TRUE(one("{\"a\": {}, \"b\": []}"));
    CU_ASSERT_TRUE(one("\"\\\"{}\""));
    CU_ASSERT_FALSE(one("\"\\\\\"{}"));
    /* Two scalars are json-glib's to refuse (it frees what it read). */
    CU_ASSERT_TRUE(one("1 2"));
}

static CU_TestInfo json_guard_tests[] = {
    {"depth", test_depth},
    {"one value", test_one_value},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"json_guards", NULL, NULL, NULL, NULL, json_guard_tests},
    CU_SUITE_INFO_NULL,
};
