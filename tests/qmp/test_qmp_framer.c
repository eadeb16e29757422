/*
 * Pure layers of the QMP client: newline framing with a bounded buffer, the
 * nesting-depth guard, the balloon reply extractors on replies captured
 * from QEMU 7.2, and framing + dispatch through a socketless connection.
 */
#include "cunit_main.h"
#include "qmp.h"
#include "qmp_balloon.h"
#include "qmp_framer.h"
#include "qmp_private.h"

#include <string.h>

static void test_lines(void)
{
    QmpFramer f;
    qmp_framer_init(&f, 0);
    CU_ASSERT_EQUAL(f.max_bytes, QMP_MAX_MESSAGE_BYTES_DEFAULT);
    const char *line;
    gsize len;
    qmp_framer_push(&f, "{\"a\": 1}\r\n{\"b\"", 14);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 1);
    CU_ASSERT_EQUAL(len, 8);
    CU_ASSERT_NSTRING_EQUAL(line, "{\"a\": 1}", 8);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 0);
    qmp_framer_push(&f, ": 2}\n\n", 6);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 1);
    CU_ASSERT_EQUAL(len, 8);
    CU_ASSERT_NSTRING_EQUAL(line, "{\"b\": 2}", 8);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 1); /* empty line */
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 0);
    qmp_framer_clear(&f);
}

static void test_bytewise(void)
{
    QmpFramer f;
    qmp_framer_init(&f, 64);
    const char *msg = "{\"return\": {\"actual\": 134217728}, \"id\": 2}\r\n";
    int lines = 0;
    for (gsize i = 0; i < strlen(msg); i++) {
        qmp_framer_push(&f, msg + i, 1);
        const char *line;
        gsize len;
        int r = qmp_framer_next(&f, &line, &len, NULL);
        CU_ASSERT(r >= 0);
        if (r == 1) {
            lines++;
            CU_ASSERT_EQUAL(len, strlen(msg) - 2);
        }
    }
    CU_ASSERT_EQUAL(lines, 1);
    CU_ASSERT(f.cap <= 4096); /* never grew for a small message */
    qmp_framer_clear(&f);
}

static void test_limit(void)
{
    QmpFramer f;
    qmp_framer_init(&f, 16);
    const char *line;
    gsize len;
    /* Exactly the limit, with \r\n: accepted. */
    qmp_framer_push(&f, "0123456789abcdef\r\n", 18);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 1);
    CU_ASSERT_EQUAL(len, 16);
    /* One over, newline still to come: refused before it arrives. */
    g_autoptr(GError) error = NULL;
    qmp_framer_push(&f, "0123456789abcdefXY", 18);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, &error), -1);
    CU_ASSERT_TRUE(g_error_matches(error, QMP_ERROR, QMP_ERROR_PROTOCOL));
    /* The buffer is bounded however much more comes in. */
    char junk[1000];
    memset(junk, 'x', sizeof(junk));
    qmp_framer_push(&f, junk, sizeof(junk));
    CU_ASSERT(f.len <= 18);
    qmp_framer_reset(&f);
    CU_ASSERT_EQUAL(f.len, 0);
    qmp_framer_clear(&f);

    /* A big message grows the buffer; once consumed, it is given back. */
    qmp_framer_init(&f, 1 << 20);
    GString *big = g_string_new(NULL);
    while (big->len < 100000)
        g_string_append_c(big, 'x');
    g_string_append(big, "\n");
    qmp_framer_push(&f, big->str, big->len);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 1);
    CU_ASSERT(f.cap >= 100000);
    gsize avail;
    CU_ASSERT_PTR_NOT_NULL(qmp_framer_reserve(&f, 10, &avail));
    CU_ASSERT(f.cap <= 4096);
    /* Once every line is handed out, an idle framer holds no buffer at all. */
    qmp_framer_push(&f, "{}\n", 3);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 1);
    CU_ASSERT_EQUAL(qmp_framer_next(&f, &line, &len, NULL), 0);
    CU_ASSERT_PTR_NULL(f.buf);
    CU_ASSERT_EQUAL(f.cap, 0);
    g_string_free(big, TRUE);
    qmp_framer_clear(&f);
}

static void test_depth(void)
{
    CU_ASSERT_TRUE(qmp_json_depth_ok("{\"a\": [[1], {\"b\": 2}]}", 21, 3));
    CU_ASSERT_FALSE(qmp_json_depth_ok("{\"a\": [[1], {\"b\": 2}]}", 21, 2));
    /* Brackets inside strings do not count, escaped quotes do not end them. */
    const char *s = "{\"desc\": \"[[[[\\\"[[[[\"}";
    CU_ASSERT_TRUE(qmp_json_depth_ok(s, strlen(s), 1));
    const char *sq = "['[[[[[[']";
    CU_ASSERT_TRUE(qmp_json_depth_ok(sq, strlen(sq), 1));
    /* json-glib reads no escapes in single-quoted strings: a backslash in
     * one does not hide the quote after it, nor the nesting after that. */
    const char *sq_bs = "['\\', [[1]]]";
    CU_ASSERT_FALSE(qmp_json_depth_ok(sq_bs, strlen(sq_bs), 2));
    CU_ASSERT_TRUE(qmp_json_depth_ok(sq_bs, strlen(sq_bs), 3));
    char deep[1000];
    memset(deep, '[', sizeof(deep));
    CU_ASSERT_FALSE(qmp_json_depth_ok(deep, sizeof(deep), QMP_MAX_DEPTH));
    CU_ASSERT_TRUE(qmp_json_depth_ok(deep, QMP_MAX_DEPTH, QMP_MAX_DEPTH));
}

static JsonNode *parse(const char *text)
{
    JsonNode *n = json_from_string(text, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    return n;
}

static void test_parse_query(void)
{
    guint64 actual = 0;
    g_autoptr(JsonNode) ok = parse("{\"actual\": 134217728}");
    CU_ASSERT_TRUE(qmp_balloon_parse_query(ok, &actual, NULL));
    CU_ASSERT_EQUAL(actual, 134217728);
    const char *bad[] = {"{}",   "{\"actual\": \"1\"}", "{\"actual\": -5}", "[1]",
                         "true", "{\"actual\": 1.5}"};
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(JsonNode) n = parse(bad[i]);
        g_autoptr(GError) error = NULL;
        actual = 77;
        CU_ASSERT_FALSE(qmp_balloon_parse_query(n, &actual, &error));
        CU_ASSERT_TRUE(g_error_matches(error, QMP_ERROR, QMP_ERROR_PROTOCOL));
        CU_ASSERT_EQUAL(actual, 77);
    }
    CU_ASSERT_FALSE(qmp_balloon_parse_query(NULL, &actual, NULL));
}

static void test_parse_stats(void)
{
    /* Captured from QEMU 7.2 with no guest driver: all "not reported". */
    g_autoptr(JsonNode) none = parse(
        "{\"stats\": {\"stat-htlb-pgalloc\": 18446744073709551615, \"stat-swap-out\": "
        "18446744073709551615, \"stat-available-memory\": 18446744073709551615, "
        "\"stat-htlb-pgfail\": 18446744073709551615, \"stat-free-memory\": 18446744073709551615, "
        "\"stat-minor-faults\": 18446744073709551615, \"stat-major-faults\": "
        "18446744073709551615, \"stat-total-memory\": 18446744073709551615, \"stat-swap-in\": "
        "18446744073709551615, \"stat-disk-caches\": 18446744073709551615}, \"last-update\": 0}");
    QmpBalloonStats s;
    CU_ASSERT_TRUE(qmp_balloon_parse_stats(none, &s, NULL));
    CU_ASSERT_EQUAL(s.last_update_s, 0);
    CU_ASSERT_EQUAL(s.free_bytes, QMP_BALLOON_STAT_NONE);
    CU_ASSERT_EQUAL(s.total_bytes, QMP_BALLOON_STAT_NONE);
    CU_ASSERT_EQUAL(s.htlb_pgfail_count, QMP_BALLOON_STAT_NONE);

    g_autoptr(JsonNode) some = parse("{\"stats\": {\"stat-free-memory\": 55640064}, "
                                     "\"last-update\": 1700000000}");
    CU_ASSERT_TRUE(qmp_balloon_parse_stats(some, &s, NULL));
    CU_ASSERT_EQUAL(s.free_bytes, 55640064);
    CU_ASSERT_EQUAL(s.available_bytes, QMP_BALLOON_STAT_NONE); /* absent */
    CU_ASSERT_EQUAL(s.last_update_s, 1700000000);

    const char *bad[] = {
        "{\"stats\": {}}",
        "{\"last-update\": 1}",
        "{\"stats\": [], \"last-update\": 1}",
        "5",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(JsonNode) n = parse(bad[i]);
        CU_ASSERT_FALSE(qmp_balloon_parse_stats(n, &s, NULL));
    }
}

static void test_pick_device(void)
{
    char *path = NULL;
    g_autoptr(JsonNode) microvm =
        parse("[{\"name\": \"type\", \"type\": \"string\"}, {\"name\": \"device[0]\", "
              "\"type\": \"child<virtio-balloon-device>\"}]");
    CU_ASSERT_TRUE(qmp_balloon_pick_device(microvm, "/machine/peripheral-anon", &path, NULL));
    CU_ASSERT_STRING_EQUAL(path, "/machine/peripheral-anon/device[0]");
    g_free(path);
    g_autoptr(JsonNode) q35 = parse("[{\"name\": \"type\", \"type\": \"string\"}, {\"name\": "
                                    "\"balloon0\", \"type\": \"child<virtio-balloon-pci>\"}]");
    CU_ASSERT_TRUE(qmp_balloon_pick_device(q35, "/machine/peripheral", &path, NULL));
    CU_ASSERT_STRING_EQUAL(path, "/machine/peripheral/balloon0");
    g_free(path);
    g_autoptr(JsonNode) none = parse("[{\"name\": \"net0\", \"type\": \"child<virtio-net-pci>\"}, "
                                     "5, {\"name\": 3, \"type\": \"child<virtio-balloon-pci>\"}]");
    CU_ASSERT_TRUE(qmp_balloon_pick_device(none, "/machine/peripheral", &path, NULL));
    CU_ASSERT_PTR_NULL(path);
    g_autoptr(JsonNode) obj = parse("{}");
    CU_ASSERT_FALSE(qmp_balloon_pick_device(obj, "/machine/peripheral", &path, NULL));
}

static int replies;
static int cancelled;
static void on_reply(QmpConn *conn, JsonNode *result, const GError *error, gpointer data)
{
    replies++;
    if (error && error->code == QMP_ERROR_CANCELLED)
        cancelled++;
    if (result)
        *(gint64 *)data = json_node_get_int(result);
}

/* The socketless connection the fuzzer uses: same framing and dispatch. */
static void test_detached_feed(void)
{
    QmpConn *conn = qmp_conn_new_detached();
    gint64 got[2] = {0};
    replies = cancelled = 0;
    qmp_conn_execute_async(conn, "a", NULL, NULL, 0, on_reply, &got[0]);
    qmp_conn_execute_async(conn, "b", NULL, NULL, 0, on_reply, &got[1]);
    const char *script = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
                         "\"major\": 7}}, \"capabilities\": []}}\r\n"
                         "{\"return\": {}, \"id\": 3}\r\n" /* qmp_capabilities */
                         "{\"return\": 11, \"id\": 1}\r\n{\"ret";
    qmp_conn_feed(conn, script, strlen(script));
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_READY);
    CU_ASSERT_STRING_EQUAL(qmp_conn_get_qemu_version(conn), "7.2.0");
    CU_ASSERT_EQUAL(replies, 1);
    CU_ASSERT_EQUAL(got[0], 11);
    qmp_conn_feed(conn, "urn\": 22, \"id\": 2}\n", 19);
    CU_ASSERT_EQUAL(replies, 2);
    CU_ASSERT_EQUAL(got[1], 22);
    qmp_conn_execute_async(conn, "c", NULL, NULL, 0, on_reply, &got[0]);
    qmp_conn_unref(conn); /* c is pending: cancelled, exactly once */
    CU_ASSERT_EQUAL(replies, 3);
    CU_ASSERT_EQUAL(cancelled, 1);
}

static CU_TestInfo framer_tests[] = {
    {"lines", test_lines},
    {"byte by byte", test_bytewise},
    {"size limit", test_limit},
    {"nesting depth", test_depth},
    {"parse query-balloon", test_parse_query},
    {"parse guest-stats", test_parse_stats},
    {"pick balloon device", test_pick_device},
    {"detached feed", test_detached_feed},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"qmp-framer", NULL, NULL, NULL, NULL, framer_tests},
    CU_SUITE_INFO_NULL,
};
