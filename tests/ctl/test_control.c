/* The control protocol codec: requests in (hostile ones too), replies and status out and back. */
#include "control.h"
#include "cunit_main.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static int parse(const char *line, struct ctl_request *req, const char **code)
{
    char *msg = NULL;
    int rc = ctl_request_parse(line, strlen(line), req, code, &msg);
    if (rc < 0)
        CU_ASSERT_PTR_NOT_NULL(msg); /* every refusal says why */
    g_free(msg);
    return rc;
}

static void test_valid_requests(void)
{
    struct ctl_request r;
    const char *code;
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\"}", &r, &code), 0);
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_STATUS);
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"ping\",\"extra\":[1,2]}", &r, &code), 0);
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_PING);
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"explain\",\"vm\":\"vm0\"}", &r, &code), 0);
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_EXPLAIN);
    CU_ASSERT_STRING_EQUAL(r.vm, "vm0");
    CU_ASSERT_EQUAL(
        parse("{\"cmd\":\"set-policy\",\"vm\":\"web-1\",\"key\":\"min_memory\",\"value\":\"96M\"}",
              &r, &code),
        0);
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_SET_POLICY);
    CU_ASSERT_STRING_EQUAL(r.vm, "web-1");
    CU_ASSERT_STRING_EQUAL(r.key, "min_memory");
    CU_ASSERT_STRING_EQUAL(r.value, "96M");
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"dry-run\",\"enabled\":true}", &r, &code), 0);
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_DRY_RUN);
    CU_ASSERT_TRUE(r.enabled);
    CU_ASSERT_EQUAL(parse("  {\"enabled\":false, \"cmd\":\"dry-run\"}  ", &r, &code), 0);
    CU_ASSERT_FALSE(r.enabled);
}

static void test_garbage(void)
{
    struct ctl_request r;
    const char *code;
    const char *bad[] = {
        "",
        "hello",
        "{",
        "[\"status\"]",
        "\"status\"",
        "42",
        "null",
        "{\"cmd\":42}",
        "{\"cmd\":null}",
        "{\"cmd\":[\"status\"]}",
        "{\"command\":\"status\"}",
        "{\"cmd\":\"\"}",
        "{\"cmd\":\"explain\"}",
        "{\"cmd\":\"explain\",\"vm\":7}",
        "{\"cmd\":\"explain\",\"vm\":\"\"}",
        "{\"cmd\":\"set-policy\",\"vm\":\"vm0\",\"key\":\"mode\"}",
        "{\"cmd\":\"dry-run\"}",
        "{\"cmd\":\"dry-run\",\"enabled\":\"yes\"}",
        "{\"cmd\":\"dry-run\",\"enabled\":1}",
        "{\"cmd\":\"status\"} trailing",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        int rc = parse(bad[i], &r, &code);
        CU_ASSERT_EQUAL(rc, -EINVAL);
        CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_REQUEST);
        if (rc != -EINVAL)
            fprintf(stderr, "accepted: %s\n", bad[i]);
    }
    /* A NUL inside the line is refused, not silently truncated. */
    const char nul[] = "{\"cmd\":\"status\"}\0{\"cmd\":\"x\"}";
    char *msg = NULL;
    CU_ASSERT_EQUAL(ctl_request_parse(nul, sizeof(nul) - 1, &r, &code, &msg), -EINVAL);
    g_free(msg);
}

static void test_unknown_command(void)
{
    struct ctl_request r;
    const char *code;
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"reboot\"}", &r, &code), -ENOTSUP);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_UNKNOWN_COMMAND);
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"STATUS\"}", &r, &code), -ENOTSUP);
}

static void test_hostile_sizes(void)
{
    struct ctl_request r;
    const char *code;
    char *msg = NULL;
    /* Longer than the limit: refused on length alone, before any parsing. */
    size_t n = CTL_MAX_LINE_BYTES + 1;
    char *big = g_malloc(n);
    memset(big, '[', n);
    CU_ASSERT_EQUAL(ctl_request_parse(big, n, &r, &code, &msg), -EMSGSIZE);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_TOO_LONG);
    g_clear_pointer(&msg, g_free);
    /* Within the limit but 60k deep: refused by the depth check, json-glib never recurses. */
    CU_ASSERT_EQUAL(ctl_request_parse(big, CTL_MAX_LINE_BYTES - 10, &r, &code, &msg), -EINVAL);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_REQUEST);
    g_clear_pointer(&msg, g_free);
    g_free(big);
    /* Brackets inside strings do not count as depth. */
    CU_ASSERT_EQUAL(
        parse("{\"cmd\":\"ping\",\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}", &r, &code), 0);
    /* A '"' in a single-quoted string (json-glib reads those) hides no
     * bracket from the depth check: 22 deep. */
    CU_ASSERT_EQUAL(
        parse("{\"cmd\":\"ping\",\"x\":['\"',[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}", &r,
              &code),
        -EINVAL);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_REQUEST);
    /* Nor a backslash in one: json-glib reads no escapes there. */
    CU_ASSERT_EQUAL(
        parse("{\"cmd\":\"ping\",\"x\":['\\',[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]}", &r,
              &code),
        -EINVAL);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_REQUEST);
    /* Two requests on one line: json-glib 1.6 took the first and leaked the
     * second; refused before it reads them. */
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"ping\"}{\"cmd\":\"status\"}", &r, &code), -EINVAL);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_REQUEST);
    /* Half a surrogate pair: json-glib 1.6 lost the string's buffer. */
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"explain\",\"vm\":\"\\ud800\\u0041\"}", &r, &code), -EINVAL);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_REQUEST);
    /* A VM name that would not fit the fixed buffer is refused, not truncated. */
    GString *s = g_string_new("{\"cmd\":\"explain\",\"vm\":\"");
    for (int i = 0; i < CTL_VM_NAME_MAX; i++)
        g_string_append_c(s, 'a');
    g_string_append(s, "\"}");
    CU_ASSERT_EQUAL(parse(s->str, &r, &code), -EINVAL);
    g_string_free(s, TRUE);
}

static void test_request_roundtrip(void)
{
    struct ctl_request in = {.cmd = CTL_CMD_SET_POLICY};
    ctl_copy(in.vm, sizeof(in.vm), "vm\"quoted\\");
    ctl_copy(in.key, sizeof(in.key), "mode");
    ctl_copy(in.value, sizeof(in.value), "observe");
    char *line = ctl_request_serialise(&in);
    size_t len = strlen(line);
    CU_ASSERT_EQUAL(line[len - 1], '\n');
    CU_ASSERT_PTR_NULL(memchr(line, '\n', len - 1)); /* one line */
    struct ctl_request out;
    const char *code;
    char *msg = NULL;
    CU_ASSERT_EQUAL(ctl_request_parse(line, len - 1, &out, &code, &msg), 0);
    CU_ASSERT_EQUAL(out.cmd, CTL_CMD_SET_POLICY);
    CU_ASSERT_STRING_EQUAL(out.vm, in.vm);
    CU_ASSERT_STRING_EQUAL(out.value, "observe");
    g_free(line);

    struct ctl_request dr = {.cmd = CTL_CMD_DRY_RUN, .enabled = true};
    line = ctl_request_serialise(&dr);
    CU_ASSERT_EQUAL(ctl_request_parse(line, strlen(line) - 1, &out, &code, &msg), 0);
    CU_ASSERT_TRUE(out.enabled);
    g_free(line);
}

static void test_replies(void)
{
    struct json_writer w;
    ctl_reply_begin(&w, g_string_new(NULL), CTL_CMD_PING);
    json_writer_object_begin(&w);
    json_writer_member_int(&w, "answer", 42);
    json_writer_object_end(&w);
    char *line = ctl_reply_end(&w);
    CU_ASSERT_STRING_EQUAL(line, "{\"ok\":true,\"cmd\":\"ping\",\"result\":{\"answer\":42}}\n");
    JsonNode *result = NULL;
    char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL(ctl_reply_parse(line, &result, &code, &msg), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(result);
    CU_ASSERT_EQUAL(json_object_get_int_member(json_node_get_object(result), "answer"), 42);
    json_node_unref(result);
    g_free(line);

    line = ctl_reply_error(CTL_ERR_NO_SUCH_VM, "no VM named \"x\"");
    CU_ASSERT_EQUAL(ctl_reply_parse(line, &result, &code, &msg), -EIO);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_NO_SUCH_VM);
    CU_ASSERT_STRING_EQUAL(msg, "no VM named \"x\"");
    CU_ASSERT_PTR_NULL(result);
    g_free(code);
    g_free(msg);
    g_free(line);

    CU_ASSERT_EQUAL(ctl_reply_parse("garbage", &result, &code, &msg), -EINVAL);
    CU_ASSERT_EQUAL(ctl_reply_parse("{\"ok\":\"yes\"}", &result, &code, &msg), -EINVAL);
    CU_ASSERT_EQUAL(ctl_reply_parse("{\"ok\":false}", &result, &code, &msg), -EINVAL);
    CU_ASSERT_EQUAL(ctl_reply_parse("{\"ok\":true}{\"ok\":true}", &result, &code, &msg), -EINVAL);
    CU_ASSERT_PTR_NULL(result);
}

/* What fuzz.ctl.reply and fuzz.ctl.request found: a reply nested deeper
 * than json-glib's recursion can take, an error reply whose code and
 * message are not strings (ballastctl printed "(null)"), a request string
 * that json-glib's octal escapes made into bytes that are not UTF-8. */
static void test_hostile_replies(void)
{
    GString *deep = g_string_new("{\"ok\":true,\"result\":");
    for (int i = 0; i < 100000; i++)
        g_string_append_c(deep, '[');
    JsonNode *result = NULL;
    char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL(ctl_reply_parse(deep->str, &result, &code, &msg), -EINVAL);
    CU_ASSERT_PTR_NULL(result);
    g_string_free(deep, TRUE);

    CU_ASSERT_EQUAL(ctl_reply_parse("{\"ok\":false,\"error\":{\"code\":5,\"message\":{}}}", &result,
                                    &code, &msg),
                    -EIO);
    CU_ASSERT_STRING_EQUAL(code, "?");
    CU_ASSERT_STRING_EQUAL(msg, "");
    g_free(code);
    g_free(msg);

    struct ctl_request req;
    const char *err_code = NULL;
    char *err_msg = NULL;
    const char *octal = "{\"cmd\":\"explain\",\"vm\":\"v\\222\"}";
    int rc = ctl_request_parse(octal, strlen(octal), &req, &err_code, &err_msg);
    CU_ASSERT_EQUAL(rc, -EINVAL);
    if (rc == -EINVAL)
        CU_ASSERT_STRING_EQUAL(err_msg, "member \"vm\" is not UTF-8 text");
    g_free(err_msg);
}

/* An error reply's message is escaped (tests/json covers the writer itself). */
static void test_error_escaped(void)
{
    const char *nasty = "q\"b\\s/\n\r\t\x01\x1f\x7f\xc3\xa9 bad\xff end";
    char *line = ctl_reply_error(CTL_ERR_BAD_POLICY, nasty);
    JsonNode *result = NULL;
    char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL(ctl_reply_parse(line, &result, &code, &msg), -EIO);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_POLICY);
    CU_ASSERT_PTR_NOT_NULL(g_utf8_strchr(msg, -1, 0xfffd));
    g_free(code);
    g_free(msg);
    g_free(line);
}

static void test_status_roundtrip(void)
{
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    h.mem_total_bytes = 24LL << 30;
    h.mem_available_bytes = 20LL << 30;
    h.psi_some_avg10_pct = 0.25;
    h.dry_run = true;
    h.ticks = 17;
    ctl_copy(h.libvirt, sizeof(h.libvirt),
             "stalled: call virConnectOpen pending for 12 s (qemu:///system), 3 waiting");
    struct ctl_vm_status vms[2];
    ctl_vm_status_init(&vms[0]);
    ctl_vm_status_init(&vms[1]);
    ctl_copy(vms[0].name, sizeof(vms[0].name), "vm0");
    vms[0].nominal_bytes = 128 << 20;
    vms[0].actual_bytes = 96 << 20;
    vms[0].target_bytes = 96 << 20;
    vms[0].guest_available_bytes = 40 << 20;
    vms[0].psi_some_avg10_pct = 1.5;
    vms[0].ksm_profit_bytes = 1 << 20;
    ctl_copy(vms[0].mode, sizeof(vms[0].mode), "managed");
    ctl_copy(vms[0].last_reason, sizeof(vms[0].last_reason), "shrink: idle");
    ctl_copy(vms[0].source, sizeof(vms[0].source), "libvirt");
    ctl_copy(vms[0].policy_source, sizeof(vms[0].policy_source), "metadata");
    ctl_copy(vms[1].name, sizeof(vms[1].name), "vm1");

    /* The reply is text written without json-glib: json-glib's parser reads it. */
    ctl_copy(vms[1].last_reason, sizeof(vms[1].last_reason),
             "quote \" backslash \\ tab \t bell \a bad \xff utf-8 \xc3\xa9");
    g_autofree char *line = ctl_status_reply(&h, vms, 2);
    CU_ASSERT_TRUE(g_str_has_suffix(line, "}\n"));
    JsonNode *node = NULL;
    g_autofree char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL_FATAL(ctl_reply_parse(line, &node, &code, &msg), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(node);
    CU_ASSERT_EQUAL(json_object_get_int_member(json_node_get_object(node), "version"),
                    CTL_PROTOCOL_VERSION);
    /* Unknowns travel as null, not as -1. */
    JsonObject *v1 = json_array_get_object_element(
        json_object_get_array_member(json_node_get_object(node), "vms"), 1);
    CU_ASSERT_TRUE(json_object_get_null_member(v1, "actual_bytes"));
    CU_ASSERT_TRUE(json_object_get_null_member(v1, "psi_some_avg10_pct"));

    struct ctl_host_status h2;
    struct ctl_vm_status *back = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(ctl_status_from_json(node, &h2, &back, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(h2.mem_total_bytes, h.mem_total_bytes);
    CU_ASSERT_TRUE(h2.dry_run);
    CU_ASSERT_EQUAL(h2.ticks, 17);
    CU_ASSERT_STRING_EQUAL(h2.libvirt, h.libvirt);
    CU_ASSERT_TRUE(isnan(h2.psi_full_avg10_pct));
    CU_ASSERT_STRING_EQUAL(back[0].name, "vm0");
    CU_ASSERT_EQUAL(back[0].actual_bytes, 96 << 20);
    CU_ASSERT_EQUAL(back[0].ksm_profit_bytes, 1 << 20);
    CU_ASSERT_DOUBLE_EQUAL(back[0].psi_some_avg10_pct, 1.5, 1e-9);
    CU_ASSERT_STRING_EQUAL(back[0].last_reason, "shrink: idle");
    CU_ASSERT_STRING_EQUAL(back[0].source, "libvirt");
    CU_ASSERT_STRING_EQUAL(back[0].policy_source, "metadata");
    CU_ASSERT_EQUAL(back[1].actual_bytes, -1);
    CU_ASSERT_TRUE(isnan(back[1].psi_some_avg10_pct));
    /* Escapes survive; a byte that is not UTF-8 arrives as U+FFFD. */
    CU_ASSERT_STRING_EQUAL(back[1].last_reason,
                           "quote \" backslash \\ tab \t bell \a bad \xef\xbf\xbd utf-8 \xc3\xa9");
    g_free(back);
    json_node_unref(node);

    /* Not a status document. */
    JsonNode *arr = json_node_init_array(json_node_alloc(), json_array_new());
    CU_ASSERT_EQUAL(ctl_status_from_json(arr, &h2, &back, &n), -EINVAL);
    json_node_unref(arr);
}

/* The top-level "budget" object: written, unknowns as null, read back. */
static void test_status_budget(void)
{
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    struct ctl_budget_status *b = &h.budget;
    ctl_copy(b->configured, sizeof(b->configured), "40%");
    b->configured_bytes = b->effective_bytes = 8LL << 30;
    b->clamped = 0;
    ctl_copy(b->source, sizeof(b->source), "budget");
    b->view_total_bytes = 8LL << 30;
    b->view_available_bytes = 0;
    b->fleet_cost_bytes = 9LL << 30;
    b->floors_bytes = 9LL << 30;
    b->capacity_bytes = 8LL << 30;
    b->unmet = 1;
    b->short_bytes = 1LL << 30;
    ctl_copy(b->cgroup, sizeof(b->cgroup), "/sys/fs/cgroup/f");
    ctl_copy(b->cgroup_error, sizeof(b->cgroup_error), "a cgroup v1 memory directory");
    g_autofree char *line = ctl_status_reply(&h, NULL, 0);
    JsonNode *node = NULL;
    g_autofree char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL_FATAL(ctl_reply_parse(line, &node, &code, &msg), 0);
    JsonObject *bo = json_object_get_object_member(json_node_get_object(node), "budget");
    CU_ASSERT_PTR_NOT_NULL_FATAL(bo);
    CU_ASSERT_STRING_EQUAL(json_object_get_string_member(bo, "source"), "budget");
    CU_ASSERT_TRUE(json_object_get_boolean_member(bo, "unmet"));
    CU_ASSERT_EQUAL(json_object_get_int_member(bo, "short_bytes"), 1LL << 30);
    CU_ASSERT_TRUE(json_object_get_null_member(bo, "error"));
    struct ctl_host_status h2;
    struct ctl_vm_status *back = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(ctl_status_from_json(node, &h2, &back, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_STRING_EQUAL(h2.budget.configured, "40%");
    CU_ASSERT_EQUAL(h2.budget.effective_bytes, 8LL << 30);
    CU_ASSERT_EQUAL(h2.budget.view_available_bytes, 0);
    CU_ASSERT_EQUAL(h2.budget.unmet, 1);
    CU_ASSERT_EQUAL(h2.budget.clamped, 0);
    CU_ASSERT_STRING_EQUAL(h2.budget.cgroup_error, "a cgroup v1 memory directory");
    CU_ASSERT_STRING_EQUAL(h2.budget.error, "");
    g_free(back);
    json_node_unref(node);

    /* No budget: the object is there, with nulls. */
    ctl_host_status_init(&h);
    ctl_copy(h.budget.source, sizeof(h.budget.source), "host");
    g_autofree char *plain = ctl_status_reply(&h, NULL, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(plain, "\"budget\":{\"configured\":null,\"source\":\"host\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(plain, "\"unmet\":null"));
}

/* status's optional "fresh": absent is false, mistyped refused, round trip. */
static void test_status_fresh(void)
{
    struct ctl_request r;
    const char *code;
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\"}", &r, &code), 0);
    CU_ASSERT_FALSE(r.fresh);
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\",\"fresh\":true}", &r, &code), 0);
    CU_ASSERT_TRUE(r.fresh);
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\",\"fresh\":false}", &r, &code), 0);
    CU_ASSERT_FALSE(r.fresh);
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\",\"fresh\":1}", &r, &code), -EINVAL);
    CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_REQUEST);
    CU_ASSERT_EQUAL(parse("{\"cmd\":\"status\",\"fresh\":null}", &r, &code), -EINVAL);
    struct ctl_request in = {.cmd = CTL_CMD_STATUS, .fresh = true};
    g_autofree char *line = ctl_request_serialise(&in);
    CU_ASSERT_EQUAL(parse(line, &r, &code), 0);
    CU_ASSERT_TRUE(r.fresh);
    /* Not asked: not sent, so an older ballastd reads the same line as before. */
    in.fresh = false;
    g_autofree char *plain = ctl_request_serialise(&in);
    CU_ASSERT_STRING_EQUAL(plain, "{\"cmd\":\"status\"}\n");
}

/* Two VMs with a cost, one without: "cost", "guest_mem", "fleet_cost". */
static void cost_rows(struct ctl_vm_status *vms)
{
    for (int i = 0; i < 3; i++) {
        ctl_vm_status_init(&vms[i]);
        g_snprintf(vms[i].name, sizeof(vms[i].name), "vm%d", i);
    }
    for (int i = 0; i < 2; i++) {
        struct ctl_vm_cost *c = &vms[i].cost;
        c->age_ms = 1000 * (i + 1);
        c->guest_unique_bytes = 30 << 20;
        c->ksm_shared_charge_bytes = 12 << 20;
        c->qemu_own_bytes = 40 << 20;
        c->page_tables_bytes = 1 << 20;
        c->host_cost_bytes = 83 << 20;
        c->guest_ram_resident_bytes = 112 << 20;
        c->ksm_saved_bytes = 70 << 20;
        c->zero_pages_bytes = 20 << 20;
        c->thp_bytes = 0;
        c->swap_bytes = 0;
    }
    vms[0].cost.balloon_held_bytes = 108 << 20; /* vm1's balloon unknown */
    ctl_copy(vms[2].cost.error, sizeof(vms[2].cost.error), "guest RAM not found in smaps");
    /* vm0's agent speaks protocol v2 (the split), vm1's is older: v1 only. */
    struct ctl_guest_mem *g = &vms[0].guest_mem;
    *g = (struct ctl_guest_mem){.age_ms = 500,
                                .used_bytes = 90 << 20,
                                .cache_bytes = 40 << 20,
                                .anon_bytes = 30 << 20,
                                .kernel_other_bytes = 20 << 20,
                                .shmem_bytes = 2 << 20,
                                .slab_reclaimable_bytes = 9 << 20,
                                .slab_unreclaimable_bytes = 5 << 20,
                                .kernel_stack_bytes = 1 << 20,
                                .page_tables_bytes = 0,
                                .vmalloc_used_bytes = 4 << 20,
                                .kernel_bytes = 4 << 20,
                                .balloon_bytes = 0,
                                .other_bytes = 2 << 20,
                                .kernel_reserved_bytes = 37 << 20};
    g = &vms[1].guest_mem;
    ctl_guest_mem_init(g);
    g->age_ms = 700;
    g->used_bytes = 60 << 20;
    g->cache_bytes = 20 << 20;
    g->anon_bytes = 30 << 20;
    g->kernel_other_bytes = 10 << 20;
}

static void test_status_cost(void)
{
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    struct ctl_vm_status vms[3];
    cost_rows(vms);
    g_autofree char *line = ctl_status_reply(&h, vms, 3);
    JsonNode *node = NULL;
    g_autofree char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL_FATAL(ctl_reply_parse(line, &node, &code, &msg), 0);
    JsonObject *root = json_node_get_object(node);
    JsonObject *v0 = json_array_get_object_element(json_object_get_array_member(root, "vms"), 0);
    JsonObject *c0 = json_object_get_object_member(v0, "cost");
    CU_ASSERT_EQUAL(json_object_get_int_member(c0, "host_cost_bytes"), 83 << 20);
    CU_ASSERT_EQUAL(json_object_get_int_member(c0, "ksm_shared_charge_bytes"), 12 << 20);
    CU_ASSERT_EQUAL(json_object_get_int_member(c0, "age_ms"), 1000);
    CU_ASSERT_TRUE(json_object_get_null_member(c0, "error"));
    JsonObject *g0 = json_object_get_object_member(v0, "guest_mem");
    CU_ASSERT_EQUAL(json_object_get_int_member(g0, "kernel_other_bytes"), 20 << 20);
    CU_ASSERT_EQUAL(json_object_get_int_member(g0, "slab_reclaimable_bytes"), 9 << 20);
    CU_ASSERT_EQUAL(json_object_get_int_member(g0, "page_tables_bytes"), 0);
    CU_ASSERT_EQUAL(json_object_get_int_member(g0, "kernel_reserved_bytes"), 37 << 20);
    /* An agent from before v2: the v1 split, the new members null. */
    JsonObject *v1 = json_array_get_object_element(json_object_get_array_member(root, "vms"), 1);
    JsonObject *g1 = json_object_get_object_member(v1, "guest_mem");
    CU_ASSERT_EQUAL(json_object_get_int_member(g1, "anon_bytes"), 30 << 20);
    CU_ASSERT_TRUE(json_object_get_null_member(g1, "shmem_bytes"));
    CU_ASSERT_TRUE(json_object_get_null_member(g1, "other_bytes"));
    CU_ASSERT_TRUE(json_object_get_null_member(g1, "kernel_reserved_bytes"));
    /* Unknown: null members and the reason. */
    JsonObject *v2 = json_array_get_object_element(json_object_get_array_member(root, "vms"), 2);
    JsonObject *c2 = json_object_get_object_member(v2, "cost");
    CU_ASSERT_TRUE(json_object_get_null_member(c2, "host_cost_bytes"));
    CU_ASSERT_TRUE(json_object_get_null_member(c2, "age_ms"));
    CU_ASSERT_STRING_EQUAL(json_object_get_string_member(c2, "error"),
                           "guest RAM not found in smaps");
    CU_ASSERT_TRUE(
        json_object_get_null_member(json_object_get_object_member(v2, "guest_mem"), "used_bytes"));
    /* The fleet: the two VMs with a cost; the balloon of one only; the oldest age. */
    JsonObject *f = json_object_get_object_member(root, "fleet_cost");
    CU_ASSERT_EQUAL(json_object_get_int_member(f, "vms"), 2);
    CU_ASSERT_EQUAL(json_object_get_int_member(f, "host_cost_bytes"), 166 << 20);
    CU_ASSERT_EQUAL(json_object_get_int_member(f, "qemu_own_bytes"), 80 << 20);
    CU_ASSERT_EQUAL(json_object_get_int_member(f, "balloon_held_bytes"), 108 << 20);
    CU_ASSERT_EQUAL(json_object_get_int_member(f, "age_ms"), 2000);
    CU_ASSERT_FALSE(json_object_has_member(f, "error"));

    struct ctl_host_status h2;
    struct ctl_vm_status *back = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(ctl_status_from_json(node, &h2, &back, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(memcmp(&back[0].cost, &vms[0].cost, sizeof(vms[0].cost)), 0);
    CU_ASSERT_EQUAL(memcmp(&back[0].guest_mem, &vms[0].guest_mem, sizeof(vms[0].guest_mem)), 0);
    CU_ASSERT_EQUAL(memcmp(&back[1].guest_mem, &vms[1].guest_mem, sizeof(vms[1].guest_mem)), 0);
    CU_ASSERT_EQUAL(back[1].cost.balloon_held_bytes, -1);
    CU_ASSERT_EQUAL(back[2].cost.host_cost_bytes, -1);
    CU_ASSERT_STRING_EQUAL(back[2].cost.error, "guest RAM not found in smaps");
    g_free(back);
    json_node_unref(node);

    /* Mistyped or negative members from a newer (or broken) daemon stay unknown. */
    JsonNode *odd = json_from_string(
        "{\"host_cost_bytes\":\"83\",\"qemu_own_bytes\":-5,\"thp_bytes\":1.5,\"error\":7}", NULL);
    struct ctl_vm_cost c;
    ctl_vm_cost_from_json(json_node_get_object(odd), &c);
    CU_ASSERT_EQUAL(c.host_cost_bytes, -1);
    CU_ASSERT_EQUAL(c.qemu_own_bytes, -1);
    CU_ASSERT_EQUAL(c.thp_bytes, -1);
    CU_ASSERT_STRING_EQUAL(c.error, "");
    json_node_unref(odd);
}

/* The libvirt hook's hint: names checked, unknown events refused, round trip. */
static void test_notify(void)
{
    struct ctl_request r;
    const char *code;
    static const char *const events[] = {"prepare", "started", "stopped", "release"};
    for (size_t i = 0; i < G_N_ELEMENTS(events); i++) {
        char *line =
            g_strdup_printf("{\"cmd\":\"notify\",\"vm\":\"web-1\",\"event\":\"%s\"}", events[i]);
        CU_ASSERT_EQUAL(parse(line, &r, &code), 0);
        CU_ASSERT_EQUAL(r.cmd, CTL_CMD_NOTIFY);
        CU_ASSERT_STRING_EQUAL(r.vm, "web-1");
        CU_ASSERT_STRING_EQUAL(ctl_notify_event_name(r.event), events[i]);
        g_free(line);
    }
    const char *bad[] = {
        "{\"cmd\":\"notify\",\"vm\":\"d\"}",
        "{\"cmd\":\"notify\",\"event\":\"started\"}",
        "{\"cmd\":\"notify\",\"vm\":\"d\",\"event\":\"migrate\"}",
        "{\"cmd\":\"notify\",\"vm\":\"d\",\"event\":\"STARTED\"}",
        "{\"cmd\":\"notify\",\"vm\":\"d\",\"event\":1}",
        "{\"cmd\":\"notify\",\"vm\":\"d\",\"event\":\"startedstartedstarted\"}",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        CU_ASSERT_EQUAL(parse(bad[i], &r, &code), -EINVAL);
        CU_ASSERT_STRING_EQUAL(code, CTL_ERR_BAD_REQUEST);
    }
    enum ctl_notify_event ev;
    CU_ASSERT_EQUAL(ctl_notify_event_parse("release", &ev), 0);
    CU_ASSERT_EQUAL(ev, CTL_NOTIFY_RELEASE);
    CU_ASSERT_EQUAL(ctl_notify_event_parse("", &ev), -EINVAL);
    CU_ASSERT_PTR_NULL(ctl_notify_event_name((enum ctl_notify_event)42));

    struct ctl_request in = {.cmd = CTL_CMD_NOTIFY, .event = CTL_NOTIFY_STOPPED};
    ctl_copy(in.vm, sizeof(in.vm), "dom\"1");
    char *line = ctl_request_serialise(&in);
    struct ctl_request out;
    char *msg = NULL;
    CU_ASSERT_EQUAL(ctl_request_parse(line, strlen(line) - 1, &out, &code, &msg), 0);
    CU_ASSERT_EQUAL(out.cmd, CTL_CMD_NOTIFY);
    CU_ASSERT_EQUAL(out.event, CTL_NOTIFY_STOPPED);
    CU_ASSERT_STRING_EQUAL(out.vm, "dom\"1");
    g_free(msg);
    g_free(line);
}

/* What metrics needs from the status document: growths and shrinks per VM,
 * ballastd's own RSS and CPU, the growth latency histogram (cumulative, or
 * null when the daemon did not fill it in); and the metrics request. */
static void test_status_metrics_members(void)
{
    struct ctl_host_status h;
    ctl_host_status_init(&h);
    struct ctl_vm_status vm;
    ctl_vm_status_init(&vm);
    ctl_copy(vm.name, sizeof(vm.name), "vm0");
    vm.grows = 4;
    vm.shrinks = 9;
    h.daemon_rss_bytes = 5 << 20;
    h.daemon_cpu_seconds = 1.25;
    g_autofree char *unknown = ctl_status_reply(&h, &vm, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(unknown, "\"grow_latency\":null"));
    h.grow_latency_known = true;
    latency_hist_observe(&h.grow_latency, 80);
    latency_hist_observe(&h.grow_latency, 700);
    g_autofree char *line = ctl_status_reply(&h, &vm, 1);
    JsonNode *node = NULL;
    g_autofree char *code = NULL, *msg = NULL;
    CU_ASSERT_EQUAL_FATAL(ctl_reply_parse(line, &node, &code, &msg), 0);
    JsonObject *host = json_object_get_object_member(json_node_get_object(node), "host");
    JsonObject *gl = json_object_get_object_member(host, "grow_latency");
    CU_ASSERT_PTR_NOT_NULL_FATAL(gl);
    CU_ASSERT_EQUAL(json_object_get_int_member(gl, "count"), 2);
    CU_ASSERT_DOUBLE_EQUAL(json_object_get_double_member(gl, "sum_s"), 0.78, 1e-9);
    JsonArray *cum = json_object_get_array_member(gl, "cumulative");
    JsonArray *le = json_object_get_array_member(gl, "le_s");
    CU_ASSERT_EQUAL_FATAL(json_array_get_length(cum), LATENCY_HIST_BUCKETS);
    CU_ASSERT_EQUAL(json_array_get_length(le), LATENCY_HIST_BUCKETS);
    CU_ASSERT_EQUAL(json_array_get_int_element(cum, 0), 1); /* 80 ms <= 0.1 s */
    CU_ASSERT_EQUAL(json_array_get_int_element(cum, 2), 1); /* 700 ms > 0.5 s */
    CU_ASSERT_EQUAL(json_array_get_int_element(cum, 3), 2); /* <= 1 s */
    CU_ASSERT_EQUAL(json_array_get_int_element(cum, LATENCY_HIST_BUCKETS - 1), 2);
    struct ctl_host_status h2;
    struct ctl_vm_status *back = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(ctl_status_from_json(node, &h2, &back, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(back[0].grows, 4);
    CU_ASSERT_EQUAL(back[0].shrinks, 9);
    CU_ASSERT_EQUAL(h2.daemon_rss_bytes, 5 << 20);
    CU_ASSERT_DOUBLE_EQUAL(h2.daemon_cpu_seconds, 1.25, 1e-9);
    g_free(back);
    json_node_unref(node);

    struct ctl_request req;
    const char *ecode;
    g_autofree char *emsg = NULL;
    static const char metrics[] = "{\"cmd\":\"metrics\"}";
    CU_ASSERT_EQUAL(ctl_request_parse(metrics, strlen(metrics), &req, &ecode, &emsg), 0);
    CU_ASSERT_EQUAL(req.cmd, CTL_CMD_METRICS);
    CU_ASSERT_FALSE(ctl_cmd_is_write(req.cmd));
    g_autofree char *again = ctl_request_serialise(&req);
    CU_ASSERT_STRING_EQUAL(again, "{\"cmd\":\"metrics\"}\n");
}

/* resume: one VM name, the same way back; the foreign and audit members of a status row. */
static void test_resume_and_foreign(void)
{
    struct ctl_request r;
    const char *code = NULL;
    char *msg = NULL;
    const char *line = "{\"cmd\":\"resume\",\"vm\":\"web-1\"}";
    CU_ASSERT_EQUAL(ctl_request_parse(line, strlen(line), &r, &code, &msg), 0);
    CU_ASSERT_EQUAL(r.cmd, CTL_CMD_RESUME);
    CU_ASSERT_STRING_EQUAL(r.vm, "web-1");
    line = "{\"cmd\":\"resume\"}";
    CU_ASSERT_EQUAL(ctl_request_parse(line, strlen(line), &r, &code, &msg), -EINVAL);
    g_free(msg);
    msg = NULL;
    struct ctl_request req = {.cmd = CTL_CMD_RESUME};
    ctl_copy(req.vm, sizeof(req.vm), "web-1");
    char *out = ctl_request_serialise(&req);
    CU_ASSERT_STRING_EQUAL(out, "{\"cmd\":\"resume\",\"vm\":\"web-1\"}\n");
    g_free(out);

    struct ctl_host_status h;
    ctl_host_status_init(&h);
    struct ctl_vm_status vms[2];
    ctl_vm_status_init(&vms[0]);
    ctl_vm_status_init(&vms[1]);
    ctl_copy(vms[0].name, sizeof(vms[0].name), "vm0");
    vms[0].foreign_target_bytes = 4096LL << 20;
    vms[0].foreign_since_s = 1796463012;
    vms[0].foreign_changes = 3;
    ctl_copy(vms[0].foreign_by, sizeof(vms[0].foreign_by), "another QMP client");
    vms[0].deflate_on_oom = 0;
    vms[0].balloon_unreleased_bytes = 0;
    ctl_copy(vms[1].name, sizeof(vms[1].name), "vm1");
    g_autofree char *reply = ctl_status_reply(&h, vms, 2);
    JsonNode *node = NULL;
    g_autofree char *ecode = NULL, *emsg = NULL;
    CU_ASSERT_EQUAL_FATAL(ctl_reply_parse(reply, &node, &ecode, &emsg), 0);
    JsonObject *v1 = json_array_get_object_element(
        json_object_get_array_member(json_node_get_object(node), "vms"), 1);
    CU_ASSERT_TRUE(json_object_get_null_member(v1, "foreign_target_bytes"));
    CU_ASSERT_TRUE(json_object_get_null_member(v1, "deflate_on_oom"));
    CU_ASSERT_TRUE(json_object_get_null_member(v1, "balloon_unreleased_bytes"));
    CU_ASSERT_TRUE(json_object_get_null_member(v1, "foreign_by"));
    struct ctl_host_status h2;
    struct ctl_vm_status *back = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(ctl_status_from_json(node, &h2, &back, &n), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(back[0].foreign_target_bytes, 4096LL << 20);
    CU_ASSERT_EQUAL(back[0].foreign_since_s, 1796463012);
    CU_ASSERT_EQUAL(back[0].foreign_changes, 3);
    CU_ASSERT_STRING_EQUAL(back[0].foreign_by, "another QMP client");
    CU_ASSERT_EQUAL(back[0].deflate_on_oom, 0);
    CU_ASSERT_EQUAL(back[0].balloon_unreleased_bytes, 0);
    CU_ASSERT_EQUAL(back[1].foreign_target_bytes, -1);
    CU_ASSERT_EQUAL(back[1].deflate_on_oom, -1);
    CU_ASSERT_EQUAL(back[1].balloon_unreleased_bytes, -1);
    g_free(back);
    json_node_unref(node);
}

static void test_peer(void)
{
    CU_ASSERT_TRUE(ctl_peer_allowed(0, 0));
    CU_ASSERT_FALSE(ctl_peer_allowed(1000, 0));
    CU_ASSERT_TRUE(ctl_peer_allowed(0, 1000));
    CU_ASSERT_TRUE(ctl_peer_allowed(1000, 1000));
    CU_ASSERT_FALSE(ctl_peer_allowed(1001, 1000));
}

static CU_TestInfo control_tests[] = {
    {"valid requests", test_valid_requests},
    {"garbage refused", test_garbage},
    {"unknown command", test_unknown_command},
    {"huge and deep lines", test_hostile_sizes},
    {"request roundtrip", test_request_roundtrip},
    {"replies", test_replies},
    {"error reply escaped", test_error_escaped},
    {"hostile replies, non-UTF-8 requests", test_hostile_replies},
    {"status roundtrip", test_status_roundtrip},
    {"status budget", test_status_budget},
    {"status fresh", test_status_fresh},
    {"status cost members", test_status_cost},
    {"notify", test_notify},
    {"status members of metrics, the metrics request", test_status_metrics_members},
    {"resume, foreign and audit members", test_resume_and_foreign},
    {"peer credentials", test_peer},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"control", NULL, NULL, NULL, NULL, control_tests},
    CU_SUITE_INFO_NULL,
};
