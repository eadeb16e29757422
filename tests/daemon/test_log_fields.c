/*
 * log_fields: one structured log record as one line of JSON (ballastd
 * --log-format=fields). Exact lines for the common cases, and json-glib
 * reading back what was written for hostile values: quotes, control
 * characters, NUL in a binary field, bytes that are not UTF-8, records
 * longer than the line.
 */
#include "cunit_main.h"
#include "log_fields.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Parses line (one object and '\n') and returns the object, or NULL. */
static JsonObject *parse(JsonParser *parser, const char *line, size_t len)
{
    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
        return NULL;
    if (!g_utf8_validate(line, (gssize)len, NULL))
        return NULL;
    if (!json_parser_load_from_data(parser, line, (gssize)len, NULL))
        return NULL;
    JsonNode *root = json_parser_get_root(parser);
    return JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* The string member key of o; "(missing)" when absent or not a string. */
static const char *member(JsonObject *o, const char *key)
{
    JsonNode *n = json_object_get_member(o, key);
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
               ? json_node_get_string(n)
               : "(missing)";
}

static void test_record(void)
{
    const GLogField f[] = {
        {"PRIORITY", "5", -1},
        {"GLIB_DOMAIN", "ballastd", -1},
        {"VM", "vm3", -1},
        {"LATENCY_MS", "53", -1},
        {"MESSAGE", "vm3: balloon reached 173.0 MiB 53 ms after the report", -1},
    };
    char buf[LOG_FIELDS_LINE_MAX];
    size_t len = log_fields_format(buf, sizeof(buf), f, N(f), 1717171717000042);
    const char *want = "{\"PRIORITY\":\"5\",\"GLIB_DOMAIN\":\"ballastd\",\"VM\":\"vm3\","
                       "\"LATENCY_MS\":\"53\",\"MESSAGE\":\"vm3: balloon reached 173.0 MiB 53 ms "
                       "after the report\",\"TIME_US\":\"1717171717000042\"}\n";
    CU_ASSERT_STRING_EQUAL(buf, want);
    CU_ASSERT_EQUAL(len, strlen(want));

    /* No time: left out. No fields at all: an empty object. */
    len = log_fields_format(buf, sizeof(buf), f, 1, -1);
    CU_ASSERT_STRING_EQUAL(buf, "{\"PRIORITY\":\"5\"}\n");
    CU_ASSERT_EQUAL(len, strlen(buf));
    log_fields_format(buf, sizeof(buf), NULL, 0, -1);
    CU_ASSERT_STRING_EQUAL(buf, "{}\n");
}

static void test_escapes(void)
{
    const GLogField f[] = {
        {"VM", "a\"b\\c", -1}, {"MESSAGE", "line1\nline2\r\t\b\f\x01\x1f\x7f end", -1},
        {"BINARY", "x\0y", 3}, /* a binary field: its length, NUL inside */
        {"EMPTY", "", -1},     {"NULL", NULL, -1},
    };
    char buf[LOG_FIELDS_LINE_MAX];
    log_fields_format(buf, sizeof(buf), f, N(f), -1);
    CU_ASSERT_STRING_EQUAL(buf,
                           "{\"VM\":\"a\\\"b\\\\c\","
                           "\"MESSAGE\":\"line1\\nline2\\r\\t\\b\\f\\u0001\\u001f\\u007f end\","
                           "\"BINARY\":\"x\\u0000y\",\"EMPTY\":\"\",\"NULL\":\"\"}\n");

    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *o = parse(parser, buf, strlen(buf));
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(member(o, "VM"), "a\"b\\c");
    CU_ASSERT_STRING_EQUAL(member(o, "MESSAGE"), "line1\nline2\r\t\b\f\x01\x1f\x7f end");
    CU_ASSERT_STRING_EQUAL(member(o, "EMPTY"), "");
}

static void test_utf8(void)
{
    const GLogField f[] = {
        {"OK", "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\xb3", -1}, /* é, →, a whale: as they are */
        {"BAD", "\xff|\xc0\xaf|\xed\xa0\x80|\xc3", -1}, /* stray, overlong, surrogate, cut */
        {"BREAKS",
         "a\xc2\x85"
         "b\xe2\x80\xa8"
         "c\xe2\x80\xa9"
         "d",
         -1}, /* NEL, U+2028, U+2029 */
    };
    char buf[LOG_FIELDS_LINE_MAX];
    size_t len = log_fields_format(buf, sizeof(buf), f, N(f), -1);
    CU_ASSERT_STRING_EQUAL(buf, "{\"OK\":\"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\xb3\","
                                "\"BAD\":\"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\","
                                "\"BREAKS\":\"a\\u0085b\\u2028c\\u2029d\"}\n");
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *o = parse(parser, buf, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(member(o, "OK"), "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\xb3");
    CU_ASSERT_STRING_EQUAL(member(o, "BREAKS"), f[2].value);
}

/* A record longer than the line: cut between characters, still one object. */
static void check_cut(const char *value, size_t size)
{
    const GLogField f[] = {{"VM", "vm0", -1}, {"MESSAGE", value, -1}};
    char buf[LOG_FIELDS_LINE_MAX];
    size_t len = log_fields_format(buf, size, f, N(f), 1);
    CU_ASSERT(len > 0 && len < size);
    CU_ASSERT_EQUAL(strlen(buf), len);
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *o = parse(parser, buf, len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_STRING_EQUAL(member(o, "TRUNCATED"), "1");
    CU_ASSERT_STRING_EQUAL(member(o, "VM"), "vm0");
    CU_ASSERT_STRING_EQUAL(member(o, "TIME_US"), "(missing)"); /* nothing after the cut */
    const char *m = member(o, "MESSAGE");
    CU_ASSERT(strlen(m) > 0 && strncmp(value, m, strlen(m)) == 0); /* a prefix of the value */
}

static void test_truncated(void)
{
    char *plain = g_strnfill(6000, 'x');
    check_cut(plain, LOG_FIELDS_LINE_MAX);
    for (size_t size = LOG_FIELDS_LINE_MIN; size < LOG_FIELDS_LINE_MIN + 40; size++)
        check_cut(plain, size);
    g_free(plain);

    /* Two- and three-byte characters and escapes: never split. */
    GString *mixed = g_string_new(NULL);
    for (int i = 0; i < 3000; i++)
        g_string_append(mixed, i % 3 ? "\xc3\xa9" : i % 2 ? "\xe2\x86\x92" : "\"\n");
    for (size_t size = LOG_FIELDS_LINE_MAX - 8; size <= LOG_FIELDS_LINE_MAX; size++)
        check_cut(mixed->str, size);
    g_string_free(mixed, TRUE);

    /* A key that does not fit drops its field; the first: an object with the mark alone. */
    char key[200];
    memset(key, 'K', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    const GLogField f[] = {{key, "v", -1}};
    char buf[LOG_FIELDS_LINE_MIN];
    size_t len = log_fields_format(buf, sizeof(buf), f, N(f), 7);
    CU_ASSERT_STRING_EQUAL(buf, "{\"TRUNCATED\":\"1\"}\n");
    CU_ASSERT_EQUAL(len, strlen(buf));
    const GLogField g[] = {{"VM", "vm0", -1}, {key, "v", -1}};
    log_fields_format(buf, sizeof(buf), g, N(g), 7);
    CU_ASSERT_STRING_EQUAL(buf, "{\"VM\":\"vm0\",\"TRUNCATED\":\"1\"}\n");

    /* Too small a buffer: nothing. */
    CU_ASSERT_EQUAL(log_fields_format(buf, LOG_FIELDS_LINE_MIN - 1, g, N(g), 7), 0);
    CU_ASSERT_EQUAL(log_fields_format(NULL, 100, g, N(g), 7), 0);
}

static void test_install(void)
{
    CU_ASSERT_EQUAL(log_fields_install("text"), 0); /* GLib's own writer: nothing set */
    CU_ASSERT_EQUAL(log_fields_install("json"), -EINVAL);
    CU_ASSERT_EQUAL(log_fields_install(""), -EINVAL);
}

static CU_TestInfo log_fields_tests[] = {
    {"a record is one JSON line", test_record},
    {"quotes, control characters, binary fields", test_escapes},
    {"UTF-8 kept, other bytes replaced", test_utf8},
    {"a long record is cut, still one object", test_truncated},
    {"--log-format words", test_install},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"log_fields", NULL, NULL, NULL, NULL, log_fields_tests},
    CU_SUITE_INFO_NULL,
};
