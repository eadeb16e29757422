/* One character of a JSON string (host/json/json_escape.c): every class of
 * the rule, and the bytes each escape stands for. */
#include "cunit_main.h"
#include "json_escape.h"

#include <string.h>

/* The escaped text of the first character of s (n bytes), and what it consumed. */
static size_t esc(const char *s, size_t n, char *text, size_t *used)
{
    char e[JSON_ESCAPE_MAX];
    size_t len = json_escape_char(s, n, e, used);
    CU_ASSERT_TRUE(len >= 1 && len <= JSON_ESCAPE_MAX);
    memcpy(text, e, len);
    text[len] = '\0';
    return len;
}

static void expect(const char *s, size_t n, const char *want, size_t want_used)
{
    char text[JSON_ESCAPE_MAX + 1];
    size_t used;
    esc(s, n, text, &used);
    CU_ASSERT_STRING_EQUAL(text, want);
    CU_ASSERT_EQUAL(used, want_used);
}

static void test_ascii(void)
{
    expect("a", 1, "a", 1);
    expect("/", 1, "/", 1);
    expect("\"", 1, "\\\"", 1);
    expect("\\", 1, "\\\\", 1);
    expect("\n", 1, "\\n", 1);
    expect("\r", 1, "\\r", 1);
    expect("\t", 1, "\\t", 1);
    expect("\b", 1, "\\b", 1);
    expect("\f", 1, "\\f", 1);
    expect("\x01", 1, "\\u0001", 1);
    expect("\x1f", 1, "\\u001f", 1);
    expect("\x7f", 1, "\\u007f", 1); /* DEL */
    expect("\0x", 2, "\\u0000", 1);  /* NUL is a character, not an end */
}

static void test_utf8(void)
{
    expect("\xc3\xa9x", 3, "\xc3\xa9", 2);                /* é, copied whole */
    expect("\xe2\x82\xac", 3, "\xe2\x82\xac", 3);         /* € */
    expect("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 4); /* 4 bytes */
    expect("\xc2\x85", 2, "\\u0085", 2);                  /* NEL, a C1 control */
    expect("\xe2\x80\xa8", 3, "\\u2028", 3);              /* line separator */
    expect("\xe2\x80\xa9", 3, "\\u2029", 3);              /* paragraph separator */
}

static void test_not_utf8(void)
{
    expect("\xff", 1, "\\ufffd", 1);
    expect("\xc3(", 2, "\\ufffd", 1);        /* a broken sequence: one byte replaced */
    expect("\xe2\x82", 2, "\\ufffd", 1);     /* cut short by n */
    expect("\xc0\xaf", 2, "\\ufffd", 1);     /* overlong '/' */
    expect("\xed\xa0\x80", 3, "\\ufffd", 1); /* a surrogate */
}

static CU_TestInfo escape_tests[] = {
    {"ASCII", test_ascii},
    {"UTF-8", test_utf8},
    {"not UTF-8", test_not_utf8},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"json_escape", NULL, NULL, NULL, NULL, escape_tests},
    CU_SUITE_INFO_NULL,
};
