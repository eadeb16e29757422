/* The JSON text writer (host/json/): escapes, null, doubles, read back by json-glib. */
#include "cunit_main.h"
#include "json_writer.h"

#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* A writer's text read back by json-glib: the same members, types and values. */
static JsonObject *read_back(const char *text, JsonParser *parser)
{
    CU_ASSERT_TRUE_FATAL(json_parser_load_from_data(parser, text, -1, NULL));
    JsonNode *root = json_parser_get_root(parser);
    CU_ASSERT_TRUE_FATAL(JSON_NODE_HOLDS_OBJECT(root));
    return json_node_get_object(root);
}

static void test_writer(void)
{
    const char *nasty = "q\"b\\s/\n\r\t\x01\x1f\x7f\xc3\xa9 bad\xff end";
    GString *out = g_string_new(NULL);
    struct json_writer w;
    json_writer_init(&w, out);
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "s", nasty);
    json_writer_member_string(&w, "none", NULL);
    json_writer_member_double(&w, "zero", 0.0);
    json_writer_member_double(&w, "twelve", 12.0);
    json_writer_member_double(&w, "half", -0.5);
    json_writer_member_double(&w, "nan", NAN);
    json_writer_member_int(&w, "big", INT64_MIN);
    json_writer_member_bool(&w, "no", false);
    json_writer_key(&w, "list");
    json_writer_array_begin(&w);
    json_writer_int(&w, 1);
    json_writer_string(&w, "two");
    json_writer_array_end(&w);
    json_writer_object_end(&w);
    /* Doubles keep a fraction, so they read back as doubles, not integers. */
    CU_ASSERT_PTR_NOT_NULL(strstr(out->str, "\"zero\":0.0,\"twelve\":12.0,\"half\":-0.5"));

    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *o = read_back(out->str, parser);
    /* Every byte survives but the one that is not UTF-8 (U+FFFD). */
    CU_ASSERT_STRING_EQUAL(json_object_get_string_member(o, "s"),
                           "q\"b\\s/\n\r\t\x01\x1f\x7f\xc3\xa9 bad\xef\xbf\xbd end");
    CU_ASSERT_TRUE(json_object_get_null_member(o, "none"));
    CU_ASSERT_EQUAL(json_node_get_value_type(json_object_get_member(o, "zero")), G_TYPE_DOUBLE);
    CU_ASSERT_EQUAL(json_node_get_value_type(json_object_get_member(o, "twelve")), G_TYPE_DOUBLE);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double_member(o, "half"), -0.5, 0);
    CU_ASSERT_TRUE(json_object_get_null_member(o, "nan"));
    CU_ASSERT_EQUAL(json_object_get_int_member(o, "big"), INT64_MIN);
    CU_ASSERT_FALSE(json_object_get_boolean_member(o, "no"));
    CU_ASSERT_EQUAL(json_array_get_length(json_object_get_array_member(o, "list")), 2);
    g_string_free(out, TRUE);
}

/* The same calls, compact and pretty. */
static void write_sample(struct json_writer *w)
{
    json_writer_object_begin(w);
    json_writer_member_string(w, "name", "vm0");
    json_writer_key(w, "empty");
    json_writer_object_begin(w);
    json_writer_object_end(w);
    json_writer_key(w, "guests");
    json_writer_array_begin(w);
    json_writer_object_begin(w);
    json_writer_member_int(w, "pid", 42);
    json_writer_member_bool(w, "alive", true);
    json_writer_object_end(w);
    json_writer_int(w, 7);
    json_writer_array_begin(w);
    json_writer_array_end(w);
    json_writer_array_end(w);
    json_writer_object_end(w);
}

static void test_compact_and_pretty(void)
{
    g_autoptr(GString) compact = g_string_new(NULL);
    g_autoptr(GString) pretty = g_string_new(NULL);
    struct json_writer w;
    json_writer_init(&w, compact);
    write_sample(&w);
    CU_ASSERT_EQUAL(w.depth, 0);
    CU_ASSERT_STRING_EQUAL(
        compact->str,
        "{\"name\":\"vm0\",\"empty\":{},\"guests\":[{\"pid\":42,\"alive\":true},7,[]]}");
    json_writer_init_pretty(&w, pretty);
    write_sample(&w);
    CU_ASSERT_STRING_EQUAL(pretty->str, "{\n"
                                        "  \"name\": \"vm0\",\n"
                                        "  \"empty\": {},\n"
                                        "  \"guests\": [\n"
                                        "    {\n"
                                        "      \"pid\": 42,\n"
                                        "      \"alive\": true\n"
                                        "    },\n"
                                        "    7,\n"
                                        "    []\n"
                                        "  ]\n"
                                        "}");
    /* Whitespace only: json-glib reads the same tree from both. */
    g_autoptr(JsonNode) a = json_from_string(compact->str, NULL);
    g_autoptr(JsonNode) b = json_from_string(pretty->str, NULL);
    CU_ASSERT_TRUE(a && b && json_node_equal(a, b));
}

/* Each misuse of the grammar, in a child: it must abort, not write bad JSON. */
static void misuse_value_without_key(struct json_writer *w)
{
    json_writer_object_begin(w);
    json_writer_int(w, 1);
}

static void misuse_key_in_array(struct json_writer *w)
{
    json_writer_array_begin(w);
    json_writer_key(w, "k");
}

static void misuse_key_at_top(struct json_writer *w)
{
    json_writer_key(w, "k");
}

static void misuse_mismatched_end(struct json_writer *w)
{
    json_writer_object_begin(w);
    json_writer_array_end(w);
}

static void misuse_end_after_key(struct json_writer *w)
{
    json_writer_object_begin(w);
    json_writer_key(w, "k");
    json_writer_object_end(w);
}

static void misuse_too_deep(struct json_writer *w)
{
    for (int i = 0; i <= JSON_WRITER_MAX_DEPTH; i++)
        json_writer_array_begin(w);
}

static void test_misuse_asserts(void)
{
    void (*const misuses[])(struct json_writer *) = {
        misuse_value_without_key, misuse_key_in_array,  misuse_key_at_top,
        misuse_mismatched_end,    misuse_end_after_key, misuse_too_deep,
    };
    for (size_t i = 0; i < G_N_ELEMENTS(misuses); i++) {
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            int null_fd = open("/dev/null", O_WRONLY);
            dup2(null_fd, STDERR_FILENO);                   /* the assertion's message */
            setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}); /* an expected abort: no core */
            GString *out = g_string_new(NULL);
            struct json_writer w;
            json_writer_init(&w, out);
            misuses[i](&w);
            _exit(0);
        }
        int status = 0;
        CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
        CU_ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    }
}

static CU_TestInfo writer_tests[] = {
    {"escapes, null, doubles", test_writer},
    {"compact and pretty", test_compact_and_pretty},
    {"misuse asserts", test_misuse_asserts},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"json_writer", NULL, NULL, NULL, NULL, writer_tests},
    CU_SUITE_INFO_NULL,
};
