/*
 * The virtio-mem vocabulary (qmp_memdev.c): query-memory-devices parsed on
 * replies captured from QEMU 7.2 and on hostile fixtures
 * (tests/fixtures/qmp-memdev/: wrong types, sizes over the maximum, block
 * sizes that are not powers of two, 17 devices, missing members, numbers
 * past 2^63, odd ids), each refused with a message that says what and a
 * result left untouched; the requested-size gate; the
 * MEMORY_DEVICE_SIZE_CHANGE event; and the async calls against the
 * scripted fake QMP server (the exact qom-set bytes, QEMU's error replies,
 * and a size the gate refuses never reaching the socket).
 */
#include "cunit_main.h"
#include "fake_qmp.h"
#include "qmp.h"
#include "qmp_memdev.h"

#include <string.h>

#define WAIT_MS   5000
#define FIX(name) BALLAST_FIXTURES "/qmp-memdev/" name
#define MiB(n)    ((guint64)(n) << 20)

/* The fixture's text, NULL (and a failed assertion) when unreadable. */
static char *fixture_text(const char *path)
{
    char *text = NULL;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(path, &text, NULL, &error))
        fprintf(stderr, "%s: %s\n", path, error->message);
    CU_ASSERT_PTR_NOT_NULL(text);
    return text;
}

/* Parses a fixture (a whole reply line, {"return": ...}) as
 * qmp_memdev_parse_list sees it: the "return" member. */
static gboolean parse_fixture(const char *path, QmpMemdevList *out, GError **error)
{
    g_autofree char *text = fixture_text(path);
    if (!text)
        return FALSE;
    g_autoptr(JsonParser) parser = json_parser_new();
    gboolean loaded = json_parser_load_from_data(parser, text, -1, NULL);
    CU_ASSERT_TRUE(loaded);
    JsonNode *root = loaded ? json_parser_get_root(parser) : NULL;
    CU_ASSERT_TRUE(root && JSON_NODE_HOLDS_OBJECT(root));
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return FALSE;
    JsonNode *ret = json_object_get_member(json_node_get_object(root), "return");
    CU_ASSERT_PTR_NOT_NULL(ret);
    return qmp_memdev_parse_list(ret, out, error);
}

static const QmpMemdev vmem0 = {
    .has_id = TRUE,
    .id = "vmem0",
    .memdev = "/objects/vmem0mem",
    .memaddr_bytes = 4294967296,
    .requested_size_bytes = 0,
    .size_bytes = 0,
    .max_size_bytes = MiB(512),
    .block_size_bytes = MiB(2),
    .node = 0,
};

/* ---- parsing real replies -------------------------------------------- */

static void test_real_reply(void)
{
    QmpMemdevList list;
    g_autoptr(GError) error = NULL;
    CU_ASSERT_TRUE(parse_fixture(FIX("qemu-7.2-q35.json"), &list, &error));
    CU_ASSERT_PTR_NULL(error);
    CU_ASSERT_EQUAL(list.n_devices, 2);
    CU_ASSERT_EQUAL(list.n_other, 1); /* the pc-dimm */
    const QmpMemdev *d = &list.devices[0];
    CU_ASSERT_TRUE(d->has_id);
    CU_ASSERT_STRING_EQUAL(d->id, "vmem0");
    CU_ASSERT_STRING_EQUAL(d->memdev, "/objects/vmem0mem");
    CU_ASSERT_EQUAL(d->memaddr_bytes, 4294967296);
    CU_ASSERT_EQUAL(d->requested_size_bytes, 0);
    CU_ASSERT_EQUAL(d->size_bytes, 0);
    CU_ASSERT_EQUAL(d->max_size_bytes, MiB(512));
    CU_ASSERT_EQUAL(d->block_size_bytes, MiB(2));
    CU_ASSERT_EQUAL(d->node, 0);
    CU_ASSERT_EQUAL(memcmp(d, &vmem0, sizeof(*d)), 0);
    /* No id= on its -device: listed, marked, not addressable. */
    d = &list.devices[1];
    CU_ASSERT_FALSE(d->has_id);
    CU_ASSERT_STRING_EQUAL(d->id, "");
    CU_ASSERT_STRING_EQUAL(d->memdev, "/objects/vmem1mem");
    CU_ASSERT_EQUAL(d->memaddr_bytes, 4831838208);
    CU_ASSERT_EQUAL(d->requested_size_bytes, MiB(64));
    CU_ASSERT_EQUAL(d->max_size_bytes, MiB(256));

    /* The same QEMU after qom-set requested-size 256 MiB (no guest: size
     * stays 0). */
    CU_ASSERT_TRUE(parse_fixture(FIX("qemu-7.2-q35-after-set.json"), &list, NULL));
    CU_ASSERT_EQUAL(list.devices[0].requested_size_bytes, MiB(256));
    CU_ASSERT_EQUAL(list.devices[0].size_bytes, 0);
}

static void test_other_types_and_bounds(void)
{
    QmpMemdevList list;
    memset(&list, 0xa5, sizeof(list));
    CU_ASSERT_TRUE(parse_fixture(FIX("empty.json"), &list, NULL));
    CU_ASSERT_EQUAL(list.n_devices, 0);
    CU_ASSERT_EQUAL(list.n_other, 0);

    /* dimm, nvdimm, virtio-pmem, sgx-epc and a kind 7.2 does not have. */
    CU_ASSERT_TRUE(parse_fixture(FIX("other-types.json"), &list, NULL));
    CU_ASSERT_EQUAL(list.n_devices, 0);
    CU_ASSERT_EQUAL(list.n_other, 5);

    CU_ASSERT_TRUE(parse_fixture(FIX("16-devices.json"), &list, NULL));
    CU_ASSERT_EQUAL(list.n_devices, QMP_MEMDEV_MAX);
    CU_ASSERT_EQUAL(list.n_other, 1);
    CU_ASSERT_STRING_EQUAL(list.devices[15].id, "vmem15");
    CU_ASSERT_EQUAL(list.devices[15].memaddr_bytes, 4294967296 + 15 * MiB(512));

    CU_ASSERT_TRUE(parse_fixture(FIX("id-longest.json"), &list, NULL));
    CU_ASSERT_EQUAL(strlen(list.devices[0].id), QMP_MEMDEV_ID_MAX_LEN);
}

/* ---- hostile replies ------------------------------------------------- */

static const struct {
    const char *file;
    const char *message; /* a part of the error's message */
} hostile[] = {
    {"17-devices.json", "more than 16 virtio-mem devices"},
    {"wrong-type-size.json", "\"size\" missing or not an integer"},
    {"wrong-type-float.json", "\"requested-size\" missing or not an integer"},
    {"wrong-type-bool.json", "\"node\" not an integer"},
    {"wrong-type-memdev.json", "\"memdev\" is not a QOM path"},
    {"size-over-max.json", "size 1073741824 exceeds max-size 536870912"},
    {"requested-over-max.json", "requested-size 538968064 exceeds max-size 536870912"},
    {"block-size-3000.json", "block-size 3000 is not a power of two of at least 4096"},
    {"block-size-2048.json", "block-size 2048 is not a power of two"},
    {"block-size-3m.json", "block-size 3145728 is not a power of two"},
    {"block-size-zero.json", "block-size 0 is not a power of two"},
    {"size-unaligned.json", "size 3145728 is not a multiple of block-size 2097152"},
    {"requested-unaligned.json", "requested-size 1048576 is not a multiple of block-size"},
    {"max-size-zero.json", "max-size 0 is not a positive multiple"},
    {"missing-block-size.json", "\"block-size\" missing or not an integer"},
    {"missing-memdev.json", "\"memdev\" is not a QOM path"},
    {"missing-data.json", "virtio-mem device 0 has no \"data\" object"},
    {"missing-type.json", "entry 0 is not an object with a string \"type\""},
    {"huge-size.json", "\"max-size\" negative or 2^63 or more"},
    {"huge-memaddr.json", "\"memaddr\" negative or 2^63 or more"},
    {"huge-past-64-bits.json", "\"requested-size\" negative or 2^63 or more"},
    {"huge-float.json", "\"size\" missing or not an integer"},
    {"memaddr-overflow.json", "memaddr + max-size overflows"},
    {"negative-size.json", "\"size\" negative"},
    {"negative-node.json", "\"node\" not an integer in [0, 1023]"},
    {"node-too-big.json", "\"node\" not an integer in [0, 1023]"},
    {"id-slash.json", "\"id\" is not a device id"},
    {"id-empty.json", "\"id\" is not a device id"},
    {"id-digit-first.json", "\"id\" is not a device id"},
    {"id-space.json", "\"id\" is not a device id"},
    {"id-newline.json", "\"id\" is not a device id"},
    {"id-too-long.json", "\"id\" is not a device id"},
    {"id-number.json", "\"id\" is not a device id"},
    {"id-null.json", "\"id\" is not a device id"},
    {"id-twice.json", "virtio-mem device 1 (vmem0): the id is used twice"},
    {"memdev-relative.json", "\"memdev\" is not a QOM path"},
    {"not-array.json", "did not return an array"},
    {"entry-not-object.json", "entry 0 is not an object"},
    {"data-not-object.json", "has no \"data\" object"},
};

static void test_hostile_replies(void)
{
    for (gsize i = 0; i < G_N_ELEMENTS(hostile); i++) {
        QmpMemdevList list, before;
        memset(&list, 0xa5, sizeof(list));
        before = list;
        g_autoptr(GError) error = NULL;
        g_autofree char *path =
            g_build_filename(BALLAST_FIXTURES, "qmp-memdev", hostile[i].file, NULL);
        gboolean ok = parse_fixture(path, &list, &error);
        CU_ASSERT_FALSE(ok);
        CU_ASSERT_TRUE(g_error_matches(error, QMP_ERROR, QMP_ERROR_PROTOCOL));
        gboolean said = error && strstr(error->message, hostile[i].message);
        if (!said)
            fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", hostile[i].file,
                    error ? error->message : "(no error)", hostile[i].message);
        CU_ASSERT_TRUE(said);
        CU_ASSERT_EQUAL(memcmp(&list, &before, sizeof(list)), 0); /* out untouched */
        /* A string that failed its check is never echoed. */
        CU_ASSERT_TRUE(!error || !strstr(error->message, "../"));
        CU_ASSERT_TRUE(!error || !strchr(error->message, '\n'));
    }
}

/* Each required member of the real device taken away in turn. */
static void test_each_member_missing(void)
{
    static const char *const required[] = {"memaddr",    "requested-size", "size",  "max-size",
                                           "block-size", "node",           "memdev"};
    g_autofree char *text = fixture_text(FIX("qemu-7.2-q35.json"));
    for (gsize i = 0; text && i < G_N_ELEMENTS(required); i++) {
        g_autoptr(JsonNode) root = json_from_string(text, NULL);
        JsonArray *items =
            json_node_get_array(json_object_get_member(json_node_get_object(root), "return"));
        JsonObject *data = json_object_get_object_member(
            json_node_get_object(json_array_get_element(items, 0)), "data");
        json_object_remove_member(data, required[i]);
        QmpMemdevList list;
        g_autoptr(GError) error = NULL;
        CU_ASSERT_FALSE(qmp_memdev_parse_list(
            json_object_get_member(json_node_get_object(root), "return"), &list, &error));
        CU_ASSERT_TRUE(error && strstr(error->message, required[i]));
        CU_ASSERT_TRUE(error && strstr(error->message, "device 0 (vmem0)"));
    }
    /* No reply at all. */
    QmpMemdevList list;
    g_autoptr(GError) error = NULL;
    CU_ASSERT_FALSE(qmp_memdev_parse_list(NULL, &list, &error));
    CU_ASSERT_TRUE(g_error_matches(error, QMP_ERROR, QMP_ERROR_PROTOCOL));
}

static void test_id_rules(void)
{
    CU_ASSERT_TRUE(qmp_memdev_id_valid("vmem0"));
    CU_ASSERT_TRUE(qmp_memdev_id_valid("ua-virtio_mem.0"));
    CU_ASSERT_TRUE(qmp_memdev_id_valid("v"));
    CU_ASSERT_FALSE(qmp_memdev_id_valid(NULL));
    CU_ASSERT_FALSE(qmp_memdev_id_valid(""));
    CU_ASSERT_FALSE(qmp_memdev_id_valid("0vmem"));
    CU_ASSERT_FALSE(qmp_memdev_id_valid("-vmem"));
    CU_ASSERT_FALSE(qmp_memdev_id_valid("vmem/0"));
    CU_ASSERT_FALSE(qmp_memdev_id_valid("vmem0\""));
    CU_ASSERT_FALSE(qmp_memdev_id_valid("vm\xc3\xa9m"));
    char id[QMP_MEMDEV_ID_MAX_LEN + 2];
    memset(id, 'v', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    CU_ASSERT_FALSE(qmp_memdev_id_valid(id)); /* 128 bytes */
    id[QMP_MEMDEV_ID_MAX_LEN] = '\0';
    CU_ASSERT_TRUE(qmp_memdev_id_valid(id)); /* 127 */
}

/* ---- the gate -------------------------------------------------------- */

static gboolean gate_refuses(const QmpMemdev *dev, guint64 bytes, const char *message)
{
    g_autoptr(GError) error = NULL;
    gboolean ok = qmp_memdev_check_request(dev, bytes, &error);
    if (!ok && !strstr(error->message, message))
        fprintf(stderr, "gate: got \"%s\", want \"%s\"\n", error->message, message);
    return !ok && g_error_matches(error, QMP_ERROR, QMP_ERROR_INVALID_ARGUMENTS) &&
           strstr(error->message, message) && strstr(error->message, "nothing sent");
}

static void test_gate(void)
{
    CU_ASSERT_TRUE(qmp_memdev_check_request(&vmem0, 0, NULL));
    CU_ASSERT_TRUE(qmp_memdev_check_request(&vmem0, MiB(2), NULL));
    CU_ASSERT_TRUE(qmp_memdev_check_request(&vmem0, MiB(256), NULL));
    CU_ASSERT_TRUE(qmp_memdev_check_request(&vmem0, MiB(512), NULL)); /* = max-size */
    CU_ASSERT_TRUE(gate_refuses(&vmem0, MiB(514), "vmem0: requested size 538968064 exceeds"));
    CU_ASSERT_TRUE(gate_refuses(&vmem0, MiB(1024), "exceeds max-size 536870912"));
    CU_ASSERT_TRUE(gate_refuses(&vmem0, G_MAXUINT64, "exceeds max-size"));
    CU_ASSERT_TRUE(gate_refuses(&vmem0, (guint64)G_MAXINT64 + 1, "exceeds max-size"));
    CU_ASSERT_TRUE(gate_refuses(&vmem0, MiB(3), "3145728 is not a multiple of the block size"));
    CU_ASSERT_TRUE(gate_refuses(&vmem0, 1, "not a multiple"));
    CU_ASSERT_TRUE(gate_refuses(&vmem0, MiB(512) - 4096, "not a multiple"));

    /* A device built by hand, not by the parser: the gate does not trust
     * it either (block size 0 must not divide by zero). */
    QmpMemdev dev = vmem0;
    dev.block_size_bytes = 0;
    CU_ASSERT_TRUE(gate_refuses(&dev, 0, "not a device that query-memory-devices"));
    dev.block_size_bytes = 3000;
    CU_ASSERT_TRUE(gate_refuses(&dev, 3000, "block size 3000"));
    dev = vmem0;
    dev.max_size_bytes = G_MAXUINT64 - MiB(2) + 1;
    CU_ASSERT_TRUE(gate_refuses(&dev, MiB(2), "not a device that"));
    dev = vmem0;
    dev.has_id = FALSE;
    dev.id[0] = '\0';
    CU_ASSERT_TRUE(gate_refuses(&dev, MiB(3), "(no id)"));
    /* An id that is not one is not echoed. */
    dev = vmem0;
    g_strlcpy(dev.id, "evil\nline", sizeof(dev.id));
    CU_ASSERT_TRUE(gate_refuses(&dev, MiB(3), "virtio-mem (no id)"));

    /* What the parser accepted, the gate takes as it is. */
    QmpMemdevList list;
    CU_ASSERT_TRUE(parse_fixture(FIX("qemu-7.2-q35.json"), &list, NULL));
    for (guint i = 0; i < list.n_devices; i++) {
        CU_ASSERT_TRUE(
            qmp_memdev_check_request(&list.devices[i], list.devices[i].requested_size_bytes, NULL));
        CU_ASSERT_TRUE(
            qmp_memdev_check_request(&list.devices[i], list.devices[i].max_size_bytes, NULL));
    }
}

/* ---- MEMORY_DEVICE_SIZE_CHANGE --------------------------------------- */

static gboolean parse_event(const char *json, QmpMemdevSizeChange *out, GError **error)
{
    g_autoptr(JsonNode) node = json_from_string(json, NULL);
    CU_ASSERT_TRUE(node && JSON_NODE_HOLDS_OBJECT(node));
    if (!node || !JSON_NODE_HOLDS_OBJECT(node))
        return FALSE;
    return qmp_memdev_parse_size_change_event(json_node_get_object(node), out, error);
}

static void test_size_change_event(void)
{
    QmpMemdevSizeChange ev;
    /* QEMU >= 6.2 (qom-path mandatory; 7.2's query-qmp-schema agrees). */
    CU_ASSERT_TRUE(parse_event("{\"id\": \"vmem0\", \"size\": 268435456, \"qom-path\": "
                               "\"/machine/peripheral/vmem0\"}",
                               &ev, NULL));
    CU_ASSERT_TRUE(ev.has_id);
    CU_ASSERT_STRING_EQUAL(ev.id, "vmem0");
    CU_ASSERT_TRUE(ev.has_qom_path);
    CU_ASSERT_STRING_EQUAL(ev.qom_path, "/machine/peripheral/vmem0");
    CU_ASSERT_EQUAL(ev.size_bytes, MiB(256));
    CU_ASSERT_TRUE(qmp_memdev_event_matches(&ev, &vmem0));
    QmpMemdev other = vmem0;
    g_strlcpy(other.id, "vmem1", sizeof(other.id));
    CU_ASSERT_FALSE(qmp_memdev_event_matches(&ev, &other));

    /* QEMU 5.1 - 6.1: no qom-path. */
    CU_ASSERT_TRUE(parse_event("{\"id\": \"vmem0\", \"size\": 0}", &ev, NULL));
    CU_ASSERT_FALSE(ev.has_qom_path);
    CU_ASSERT_TRUE(qmp_memdev_event_matches(&ev, &vmem0));

    /* A device without an id: only its qom-path says which. */
    CU_ASSERT_TRUE(parse_event("{\"size\": 2097152, \"qom-path\": "
                               "\"/machine/peripheral-anon/device[0]\"}",
                               &ev, NULL));
    CU_ASSERT_FALSE(ev.has_id);
    CU_ASSERT_STRING_EQUAL(ev.qom_path, "/machine/peripheral-anon/device[0]");
    CU_ASSERT_FALSE(qmp_memdev_event_matches(&ev, &vmem0));
    /* qom-path alone names a peripheral by its id. */
    CU_ASSERT_TRUE(
        parse_event("{\"size\": 0, \"qom-path\": \"/machine/peripheral/vmem0\"}", &ev, NULL));
    CU_ASSERT_TRUE(qmp_memdev_event_matches(&ev, &vmem0));
    CU_ASSERT_FALSE(qmp_memdev_event_matches(&ev, &other));
    QmpMemdev anon = vmem0;
    anon.has_id = FALSE;
    anon.id[0] = '\0';
    CU_ASSERT_FALSE(qmp_memdev_event_matches(&ev, &anon));

    static const char *const bad[] = {
        "{}",
        "{\"id\": \"vmem0\"}",
        "{\"size\": -2097152}",
        "{\"size\": 18446744073709551615}",
        "{\"size\": \"0\"}",
        "{\"size\": 1.5}",
        "{\"size\": 0, \"id\": \"../x\"}",
        "{\"size\": 0, \"id\": 7}",
        "{\"size\": 0, \"id\": null}",
        "{\"size\": 0, \"qom-path\": \"machine\"}",
        "{\"size\": 0, \"qom-path\": \"/machine/a b\"}",
        "{\"size\": 0, \"qom-path\": 1}",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
        QmpMemdevSizeChange before;
        memset(&ev, 0xa5, sizeof(ev));
        before = ev;
        g_autoptr(GError) error = NULL;
        CU_ASSERT_FALSE(parse_event(bad[i], &ev, &error));
        CU_ASSERT_TRUE(g_error_matches(error, QMP_ERROR, QMP_ERROR_PROTOCOL));
        CU_ASSERT_EQUAL(memcmp(&ev, &before, sizeof(ev)), 0);
    }
    g_autoptr(GError) error = NULL;
    CU_ASSERT_FALSE(qmp_memdev_parse_size_change_event(NULL, &ev, &error));
    CU_ASSERT_PTR_NOT_NULL(error);
}

/* ---- against the fake QMP server ------------------------------------- */

typedef struct {
    int calls;
    gboolean done;
    QmpMemdevList list;
    GError *error;
} Result;

static void on_list(QmpConn *conn, const QmpMemdevList *list, const GError *error, gpointer data)
{
    Result *r = data;
    r->calls++;
    r->done = TRUE;
    CU_ASSERT_TRUE((list == NULL) != (error == NULL)); /* one or the other */
    if (list)
        r->list = *list;
    if (error)
        r->error = g_error_copy(error);
}

static void on_done(QmpConn *conn, const GError *error, gpointer data)
{
    Result *r = data;
    r->calls++;
    r->done = TRUE;
    if (error)
        r->error = g_error_copy(error);
}

static void result_clear(Result *r)
{
    g_clear_error(&r->error);
    memset(r, 0, sizeof(*r));
}

/* Starts a call's wait: the callback never runs inside the call. */
static void wait_for(Result *r)
{
    CU_ASSERT_FALSE(r->done);
    fake_run_until(&r->done, WAIT_MS);
    CU_ASSERT_EQUAL(r->calls, 1);
}

static gboolean connect_ok(QmpConn *conn)
{
    Result r = {0};
    qmp_conn_connect_async(conn, WAIT_MS, on_done, &r);
    fake_run_until(&r.done, WAIT_MS);
    gboolean ok = r.done && !r.error;
    result_clear(&r);
    return ok;
}

#define SET_ARGS(bytes)                                                                            \
    "{\"path\": \"/machine/peripheral/vmem0\", \"property\": \"requested-size\", "                 \
    "\"value\": " bytes "}"

typedef struct {
    int count;
    gboolean seen;
    QmpMemdevSizeChange last;
} EventLog;

static void on_size_change(QmpConn *conn, const char *event, JsonObject *data, gint64 ts_us,
                           gpointer user_data)
{
    EventLog *log = user_data;
    CU_ASSERT_STRING_EQUAL(event, QMP_EVENT_MEMORY_DEVICE_SIZE_CHANGE);
    if (qmp_memdev_parse_size_change_event(data, &log->last, NULL))
        log->count++;
    log->seen = TRUE;
}

static void test_async_calls(void)
{
    g_autofree char *reply = fixture_text(FIX("qemu-7.2-q35.json"));
    const FakeStep steps[] = {
        FAKE_HANDSHAKE,
        {.kind = FAKE_EXPECT,
         .command = "query-memory-devices",
         .line = "{\"execute\":\"query-memory-devices\",\"id\":2}",
         .text = reply},
        {.kind = FAKE_EXPECT,
         .command = "query-memory-devices",
         .text = "{\"return\": [{\"type\": \"virtio-mem\", \"data\": {\"size\": \"big\"}}]}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-set",
         .args = SET_ARGS("268435456"),
         .line = "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/vmem0\","
                 "\"property\":\"requested-size\",\"value\":268435456},\"id\":4}",
         .text = "{\"return\": {}}"},
        {.kind = FAKE_SEND,
         .text = "{\"timestamp\": {\"seconds\": 1795391714, \"microseconds\": 50661}, \"event\": "
                 "\"MEMORY_DEVICE_SIZE_CHANGE\", \"data\": {\"id\": \"vmem0\", \"size\": "
                 "134217728, \"qom-path\": \"/machine/peripheral/vmem0\"}}\r\n"},
        /* What QEMU 7.2 answers when the backend cannot take it (a size
         * the gate allowed against a stale list, say). */
        {.kind = FAKE_EXPECT,
         .command = "qom-set",
         .args = SET_ARGS("0"),
         .line = "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/vmem0\","
                 "\"property\":\"requested-size\",\"value\":0},\"id\":5}",
         .text = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"'requested-size' cannot "
                 "exceed the memory backend size(0x20000000)\"}}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-set",
         .args = SET_ARGS("536870912"),
         .text = "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device "
                 "'/machine/peripheral/vmem0' not found\"}}"},
        {.kind = FAKE_EXPECT,
         .command = "qom-set",
         .args = SET_ARGS("2097152"),
         .text = "{\"return\": 0}"},
        {.kind = FAKE_END},
    };
    FakeQmp *fake = fake_qmp_new(steps);
    QmpConn *conn = qmp_conn_new(fake_qmp_socket_path(fake));
    EventLog events = {0};
    qmp_conn_subscribe(conn, QMP_EVENT_MEMORY_DEVICE_SIZE_CHANGE, on_size_change, &events, NULL);
    CU_ASSERT_TRUE(connect_ok(conn));

    Result r = {0};
    qmp_memdev_query_async(conn, WAIT_MS, on_list, &r);
    wait_for(&r);
    CU_ASSERT_PTR_NULL(r.error);
    CU_ASSERT_EQUAL(r.list.n_devices, 2);
    CU_ASSERT_EQUAL(r.list.n_other, 1);
    CU_ASSERT_EQUAL(memcmp(&r.list.devices[0], &vmem0, sizeof(vmem0)), 0);
    QmpMemdev anon = r.list.devices[1];
    result_clear(&r);

    qmp_memdev_query_async(conn, WAIT_MS, on_list, &r);
    wait_for(&r);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_PROTOCOL));
    CU_ASSERT_EQUAL(qmp_conn_get_state(conn), QMP_STATE_READY); /* not fatal */
    result_clear(&r);

    /* The gate: none of these reaches the socket (the script has no step
     * for them; the next qom-set's id, 4, shows none took an id). */
    const guint64 refused[] = {MiB(3), MiB(514), G_MAXUINT64, 1};
    for (gsize i = 0; i < G_N_ELEMENTS(refused); i++) {
        qmp_memdev_set_requested_size_async(conn, &vmem0, refused[i], WAIT_MS, on_done, &r);
        wait_for(&r);
        CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_INVALID_ARGUMENTS));
        result_clear(&r);
    }
    qmp_memdev_set_requested_size_async(conn, &anon, MiB(64), WAIT_MS, on_done, &r);
    wait_for(&r);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_INVALID_ARGUMENTS));
    CU_ASSERT_TRUE(r.error && strstr(r.error->message, "no id"));
    result_clear(&r);

    qmp_memdev_set_requested_size_async(conn, &vmem0, MiB(256), WAIT_MS, on_done, &r);
    wait_for(&r);
    CU_ASSERT_PTR_NULL(r.error);
    result_clear(&r);
    fake_run_until(&events.seen, WAIT_MS); /* sent after the reply */
    CU_ASSERT_EQUAL(events.count, 1);
    CU_ASSERT_EQUAL(events.last.size_bytes, MiB(128));
    CU_ASSERT_TRUE(qmp_memdev_event_matches(&events.last, &vmem0));

    /* QEMU's own refusals come back as they are: class and desc. */
    qmp_memdev_set_requested_size_async(conn, &vmem0, 0, WAIT_MS, on_done, &r);
    wait_for(&r);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_COMMAND));
    CU_ASSERT_STRING_EQUAL(qmp_error_get_class(r.error), "GenericError");
    CU_ASSERT_TRUE(r.error && strstr(r.error->message, "memory backend size"));
    result_clear(&r);
    qmp_memdev_set_requested_size_async(conn, &vmem0, MiB(512), WAIT_MS, on_done, &r);
    wait_for(&r);
    CU_ASSERT_STRING_EQUAL(qmp_error_get_class(r.error), "DeviceNotFound");
    result_clear(&r);
    /* qom-set answers {}: anything else is the wrong shape. */
    qmp_memdev_set_requested_size_async(conn, &vmem0, MiB(2), WAIT_MS, on_done, &r);
    wait_for(&r);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_PROTOCOL));
    result_clear(&r);

    CU_ASSERT_TRUE(fake_run_until_finished(fake, WAIT_MS));
    CU_ASSERT_PTR_NULL(fake_qmp_failure(fake));
    qmp_conn_unref(conn);
    fake_qmp_free(fake);
}

/* A refused request on a connection that is dropped before the next
 * dispatch: the callback still comes, exactly once, before unref returns. */
static void test_refused_then_unref(void)
{
    QmpConn *conn = qmp_conn_new("/nonexistent/qmp.sock");
    Result r = {0};
    qmp_memdev_set_requested_size_async(conn, &vmem0, MiB(3), WAIT_MS, on_done, &r);
    CU_ASSERT_FALSE(r.done);
    qmp_conn_unref(conn);
    CU_ASSERT_EQUAL(r.calls, 1);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_INVALID_ARGUMENTS));
    result_clear(&r);

    /* A valid size on a connection never connected: not connected. */
    conn = qmp_conn_new("/nonexistent/qmp.sock");
    qmp_memdev_set_requested_size_async(conn, &vmem0, MiB(4), WAIT_MS, on_done, &r);
    wait_for(&r);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED));
    result_clear(&r);
    qmp_memdev_query_async(conn, WAIT_MS, on_list, &r);
    wait_for(&r);
    CU_ASSERT_TRUE(g_error_matches(r.error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED));
    result_clear(&r);
    qmp_conn_unref(conn);
}

static CU_TestInfo memdev_tests[] = {
    {"real QEMU 7.2 replies", test_real_reply},
    {"other memory devices, 16 devices, longest id", test_other_types_and_bounds},
    {"hostile replies refused with a message", test_hostile_replies},
    {"each member missing", test_each_member_missing},
    {"device id rules", test_id_rules},
    {"the requested-size gate", test_gate},
    {"MEMORY_DEVICE_SIZE_CHANGE", test_size_change_event},
    {"async calls against the fake server", test_async_calls},
    {"a refused request and the last unref", test_refused_then_unref},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"qmp-memdev", NULL, NULL, NULL, NULL, memdev_tests},
    CU_SUITE_INFO_NULL,
};
