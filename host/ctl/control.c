/*
 * Control protocol codec (see control.h and docs/control-protocol.md).
 *
 * A request is untrusted until parsed: its length and JSON nesting depth are
 * checked before json-glib allocates anything, every member is type-checked,
 * and strings are copied into fixed buffers only when they fit.
 */
#include "control.h"

#include "json_depth.h"
#include "json_glib_leak.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const struct {
    enum ctl_cmd cmd;
    const char *name;
} cmd_table[] = {
    {CTL_CMD_PING, "ping"},       {CTL_CMD_STATUS, "status"},
    {CTL_CMD_EXPLAIN, "explain"}, {CTL_CMD_SET_POLICY, "set-policy"},
    {CTL_CMD_DRY_RUN, "dry-run"}, {CTL_CMD_NOTIFY, "notify"},
    {CTL_CMD_METRICS, "metrics"}, {CTL_CMD_RESUME, "resume"},
};

static const char *const notify_names[] = {
    [CTL_NOTIFY_PREPARE] = "prepare",
    [CTL_NOTIFY_STARTED] = "started",
    [CTL_NOTIFY_STOPPED] = "stopped",
    [CTL_NOTIFY_RELEASE] = "release",
};

const char *ctl_cmd_name(enum ctl_cmd cmd)
{
    for (size_t i = 0; i < G_N_ELEMENTS(cmd_table); i++)
        if (cmd_table[i].cmd == cmd)
            return cmd_table[i].name;
    return NULL;
}

const char *ctl_notify_event_name(enum ctl_notify_event event)
{
    return (unsigned)event < G_N_ELEMENTS(notify_names) ? notify_names[event] : NULL;
}

int ctl_notify_event_parse(const char *name, enum ctl_notify_event *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(notify_names); i++) {
        if (strcmp(name, notify_names[i]) == 0) {
            *out = (enum ctl_notify_event)i;
            return 0;
        }
    }
    return -EINVAL;
}

void ctl_copy(char *dst, size_t dst_len, const char *src)
{
    if (dst_len == 0)
        return;
    g_strlcpy(dst, src ? src : "", dst_len);
}

const char *ctl_socket_path(const char *option)
{
    if (option)
        return option;
    const char *env = g_getenv(CTL_SOCKET_ENV);
    return env && env[0] ? env : CTL_DEFAULT_SOCKET;
}

bool ctl_peer_allowed(uid_t peer_uid, uid_t daemon_uid)
{
    return peer_uid == 0 || peer_uid == daemon_uid;
}

bool ctl_cmd_is_write(enum ctl_cmd cmd)
{
    switch (cmd) {
    case CTL_CMD_PING:
    case CTL_CMD_STATUS:
    case CTL_CMD_EXPLAIN:
    case CTL_CMD_METRICS:
        return false;
    case CTL_CMD_SET_POLICY:
    case CTL_CMD_DRY_RUN:
    case CTL_CMD_NOTIFY:
    case CTL_CMD_RESUME:
        return true;
    }
    return true; /* an unknown command is refused, never read */
}

char *ctl_ro_socket_path(const char *path)
{
    size_t len = strlen(path);
    if (len > 5 && strcmp(path + len - 5, ".sock") == 0)
        return g_strdup_printf("%.*s" CTL_RO_SOCKET_SUFFIX, (int)(len - 5), path);
    return g_strconcat(path, CTL_RO_SOCKET_SUFFIX, NULL);
}

static int fail(const char **err_code, char **err_msg, const char *code, int rc, const char *fmt,
                ...) G_GNUC_PRINTF(5, 6);

static int fail(const char **err_code, char **err_msg, const char *code, int rc, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    *err_code = code;
    *err_msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return rc;
}

/* Copies string member `name` into dst; -EINVAL if absent, not a string or too long. */
static int get_string(JsonObject *obj, const char *name, char *dst, size_t dst_len,
                      const char **err_code, char **err_msg)
{
    JsonNode *node = json_object_get_member(obj, name);
    if (!node || !JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING)
        return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL,
                    "member \"%s\" must be a string", name);
    const char *s = json_node_get_string(node);
    size_t n = strlen(s);
    if (n == 0 || n >= dst_len)
        return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL,
                    "member \"%s\" must be 1..%zu bytes", name, dst_len - 1);
    /* json-glib takes octal escapes ("\222", not JSON) and so can hand over
     * bytes that are not UTF-8: a VM name that could never be written back
     * (our JSON writer turns them into U+FFFD) must not get in. */
    if (!g_utf8_validate(s, (gssize)n, NULL))
        return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL,
                    "member \"%s\" is not UTF-8 text", name);
    memcpy(dst, s, n + 1);
    return 0;
}

int ctl_request_parse(const char *line, size_t len, struct ctl_request *out, const char **err_code,
                      char **err_msg)
{
    *err_code = NULL;
    *err_msg = NULL;
    if (len > CTL_MAX_LINE_BYTES)
        return fail(err_code, err_msg, CTL_ERR_TOO_LONG, -EMSGSIZE, "request longer than %d bytes",
                    CTL_MAX_LINE_BYTES);
    if (memchr(line, '\0', len))
        return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL, "NUL byte in request");
    if (json_depth(line, len) > CTL_MAX_JSON_DEPTH)
        return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL, "JSON nested deeper than %d",
                    CTL_MAX_JSON_DEPTH);
    const char *leak = json_glib_leak(line, len);
    if (leak)
        return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL, "%s", leak);

    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) error = NULL;
    if (!json_parser_load_from_data(parser, line, (gssize)len, &error))
        return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL, "not JSON: %s",
                    error->message);
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL,
                    "request must be a JSON object");
    JsonObject *obj = json_node_get_object(root);

    char cmd[32];
    int rc = get_string(obj, "cmd", cmd, sizeof(cmd), err_code, err_msg);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    bool found = false;
    for (size_t i = 0; i < G_N_ELEMENTS(cmd_table); i++) {
        if (strcmp(cmd, cmd_table[i].name) == 0) {
            out->cmd = cmd_table[i].cmd;
            found = true;
        }
    }
    if (!found)
        return fail(err_code, err_msg, CTL_ERR_UNKNOWN_COMMAND, -ENOTSUP, "unknown command \"%s\"",
                    cmd);

    switch (out->cmd) {
    case CTL_CMD_PING:
    case CTL_CMD_METRICS:
        return 0;
    case CTL_CMD_STATUS: {
        /* Optional: an older ballastctl does not send it. */
        JsonNode *node = json_object_get_member(obj, "fresh");
        if (node &&
            (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN))
            return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL,
                        "member \"fresh\" must be true or false");
        out->fresh = node && json_node_get_boolean(node);
        return 0;
    }
    case CTL_CMD_EXPLAIN:
    case CTL_CMD_RESUME:
        return get_string(obj, "vm", out->vm, sizeof(out->vm), err_code, err_msg);
    case CTL_CMD_SET_POLICY:
        if ((rc = get_string(obj, "vm", out->vm, sizeof(out->vm), err_code, err_msg)) < 0 ||
            (rc = get_string(obj, "key", out->key, sizeof(out->key), err_code, err_msg)) < 0 ||
            (rc = get_string(obj, "value", out->value, sizeof(out->value), err_code, err_msg)) < 0)
            return rc;
        return 0;
    case CTL_CMD_DRY_RUN: {
        JsonNode *node = json_object_get_member(obj, "enabled");
        if (!node || !JSON_NODE_HOLDS_VALUE(node) ||
            json_node_get_value_type(node) != G_TYPE_BOOLEAN)
            return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL,
                        "member \"enabled\" must be true or false");
        out->enabled = json_node_get_boolean(node);
        return 0;
    }
    case CTL_CMD_NOTIFY: {
        char event[16];
        if ((rc = get_string(obj, "vm", out->vm, sizeof(out->vm), err_code, err_msg)) < 0 ||
            (rc = get_string(obj, "event", event, sizeof(event), err_code, err_msg)) < 0)
            return rc;
        if (ctl_notify_event_parse(event, &out->event) < 0)
            return fail(err_code, err_msg, CTL_ERR_BAD_REQUEST, -EINVAL,
                        "member \"event\" must be prepare, started, stopped or release");
        return 0;
    }
    }
    return fail(err_code, err_msg, CTL_ERR_INTERNAL, -EINVAL, "unhandled command");
}

/* Ends a JSON line written with w: the trailing newline, and the text (g_free). */
static char *line_end(struct json_writer *w)
{
    g_assert(w->depth == 0);
    g_string_append_c(w->out, '\n');
    return g_string_free(w->out, FALSE);
}

char *ctl_request_serialise(const struct ctl_request *req)
{
    struct json_writer w;
    json_writer_init(&w, g_string_sized_new(128));
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "cmd", ctl_cmd_name(req->cmd));
    switch (req->cmd) {
    case CTL_CMD_STATUS:
        if (req->fresh)
            json_writer_member_bool(&w, "fresh", true);
        break;
    case CTL_CMD_EXPLAIN:
    case CTL_CMD_RESUME:
        json_writer_member_string(&w, "vm", req->vm);
        break;
    case CTL_CMD_SET_POLICY:
        json_writer_member_string(&w, "vm", req->vm);
        json_writer_member_string(&w, "key", req->key);
        json_writer_member_string(&w, "value", req->value);
        break;
    case CTL_CMD_DRY_RUN:
        json_writer_member_bool(&w, "enabled", req->enabled);
        break;
    case CTL_CMD_NOTIFY:
        json_writer_member_string(&w, "vm", req->vm);
        json_writer_member_string(&w, "event", ctl_notify_event_name(req->event));
        break;
    default:
        break;
    }
    json_writer_object_end(&w);
    return line_end(&w);
}

void ctl_reply_begin(struct json_writer *w, GString *out, enum ctl_cmd cmd)
{
    json_writer_init(w, out);
    json_writer_object_begin(w);
    json_writer_member_bool(w, "ok", true);
    json_writer_member_string(w, "cmd", ctl_cmd_name(cmd));
    json_writer_key(w, "result");
}

char *ctl_reply_end(struct json_writer *w)
{
    json_writer_object_end(w);
    return line_end(w);
}

char *ctl_reply_error(const char *code, const char *message)
{
    struct json_writer w;
    json_writer_init(&w, g_string_sized_new(128));
    json_writer_object_begin(&w);
    json_writer_member_bool(&w, "ok", false);
    json_writer_key(&w, "error");
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "code", code);
    json_writer_member_string(&w, "message", message ? message : "");
    json_writer_object_end(&w);
    json_writer_object_end(&w);
    return line_end(&w);
}

/* A string member, or def when it is absent or not a string. */
static const char *string_or(JsonObject *o, const char *name, const char *def)
{
    JsonNode *n = json_object_get_member(o, name);
    return n && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n) : def;
}

int ctl_reply_parse(const char *line, JsonNode **result, char **err_code, char **err_msg)
{
    *result = NULL;
    *err_code = NULL;
    *err_msg = NULL;
    /* ballastd's replies nest 4 levels; json-glib recurses once per level
     * and would overflow ballastctl's stack on a line of '[' (fuzz.ctl.reply). */
    size_t len = strlen(line);
    if (json_depth(line, len) > CTL_MAX_JSON_DEPTH || json_glib_leak(line, len))
        return -EINVAL;
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, line, -1, NULL))
        return -EINVAL;
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return -EINVAL;
    JsonObject *obj = json_node_get_object(root);
    JsonNode *ok = json_object_get_member(obj, "ok");
    if (!ok || !JSON_NODE_HOLDS_VALUE(ok) || json_node_get_value_type(ok) != G_TYPE_BOOLEAN)
        return -EINVAL;
    if (!json_node_get_boolean(ok)) {
        JsonNode *err = json_object_get_member(obj, "error");
        if (!err || !JSON_NODE_HOLDS_OBJECT(err))
            return -EINVAL;
        JsonObject *eo = json_node_get_object(err);
        /* json-glib's _with_default getters give NULL for a member of
         * another type: ballastctl would print "(null)". */
        *err_code = g_strdup(string_or(eo, "code", "?"));
        *err_msg = g_strdup(string_or(eo, "message", ""));
        return -EIO;
    }
    JsonNode *res = json_object_get_member(obj, "result");
    if (res)
        *result = json_node_copy(res);
    return 0;
}

void ctl_vm_status_init(struct ctl_vm_status *vm)
{
    memset(vm, 0, sizeof(*vm));
    vm->nominal_bytes = vm->target_bytes = vm->actual_bytes = -1;
    vm->guest_available_bytes = -1;
    vm->psi_some_avg10_pct = vm->psi_full_avg10_pct = NAN;
    vm->agent_frames = vm->agent_rejects = -1;
    vm->agent_violations = vm->guest_log_suppressed = -1;
    vm->guest_deflate_events = vm->event_decisions = -1;
    vm->balloon_queries = vm->balloon_sets = -1;
    vm->balloon_set_failures = vm->last_set_error_age_ms = -1;
    vm->grows = vm->shrinks = -1;
    vm->ksm_merging_pages = -1;
    vm->ksm_saved_sharing_bytes = vm->ksm_saved_zero_bytes = vm->ksm_rmap_cost_bytes = -1;
    vm->ksm_profit_bytes = vm->ksm_net_profit_bytes = CTL_UNKNOWN_S64;
    vm->ksm_mergeable = vm->ksm_allowed = -1;
    vm->foreign_target_bytes = vm->foreign_since_s = vm->foreign_changes = -1;
    vm->balloon_unreleased_bytes = -1;
    vm->deflate_on_oom = -1;
    ctl_vm_cost_init(&vm->cost);
    ctl_guest_mem_init(&vm->guest_mem);
}

void ctl_host_status_init(struct ctl_host_status *host)
{
    memset(host, 0, sizeof(*host));
    host->mem_total_bytes = host->mem_available_bytes = -1;
    host->psi_some_avg10_pct = host->psi_full_avg10_pct = NAN;
    host->ticks = host->balloon_changes = host->agent_rejects = -1;
    host->ksm_run = host->ksm_pages_to_scan = host->ksm_sleep_ms = host->ksm_use_zero_pages = -1;
    host->ksm_pages_shared = host->ksm_pages_sharing = host->ksm_zero_pages = -1;
    host->ksm_full_scans = host->ksm_tuner_changes = -1;
    host->ksm_saved_bytes = host->ksm_saved_sharing_bytes = host->ksm_saved_zero_bytes = -1;
    host->ksm_rmap_cost_bytes = -1;
    host->ksm_net_profit_bytes = host->ksm_general_profit_bytes = CTL_UNKNOWN_S64;
    host->ksmd_cpu_pct = host->ksmd_cpu_avg_pct = host->ksmd_cpu_seconds = NAN;
    host->ksm_cpu_budget_pct = NAN;
    struct ctl_budget_status *b = &host->budget;
    b->configured_bytes = b->effective_bytes = b->view_total_bytes = b->view_available_bytes = -1;
    b->fleet_cost_bytes = b->floors_bytes = b->capacity_bytes = b->short_bytes = -1;
    b->clamped = b->unmet = -1;
    host->ksm_yield_mib_per_cpu_s = host->ksm_min_yield_mib_per_cpu_s = NAN;
    host->ksm_reprobe_in_s = -1;
    host->daemon_rss_bytes = -1;
    host->daemon_cpu_seconds = NAN;
    latency_hist_init(&host->grow_latency);
}

/* Field tables: one line per member, so the schema is read off in one place. */
struct int_field {
    const char *name;
    size_t offset;
};
struct pct_field {
    const char *name;
    size_t offset;
};
struct str_field {
    const char *name;
    size_t offset;
    size_t len;
};

#define VM_INT(m)                                                                                  \
    {                                                                                              \
#m, offsetof(struct ctl_vm_status, m)                                                      \
    }
#define VM_STR(m)                                                                                  \
    {                                                                                              \
#m, offsetof(struct ctl_vm_status, m), sizeof(((struct ctl_vm_status *)0)->m)              \
    }
static const struct int_field vm_ints[] = {
    VM_INT(nominal_bytes),
    VM_INT(target_bytes),
    VM_INT(actual_bytes),
    VM_INT(guest_available_bytes),
    VM_INT(agent_frames),
    VM_INT(agent_rejects),
    VM_INT(ksm_merging_pages),
    VM_INT(ksm_saved_sharing_bytes),
    VM_INT(ksm_saved_zero_bytes),
    VM_INT(ksm_rmap_cost_bytes),
    VM_INT(guest_deflate_events),
    VM_INT(event_decisions),
    VM_INT(balloon_queries),
    VM_INT(balloon_sets),
    VM_INT(agent_violations),
    VM_INT(guest_log_suppressed),
    VM_INT(grows),
    VM_INT(shrinks),
    VM_INT(balloon_set_failures),
    VM_INT(last_set_error_age_ms),
    VM_INT(foreign_target_bytes),
    VM_INT(foreign_since_s),
    VM_INT(foreign_changes),
    VM_INT(balloon_unreleased_bytes),
};
/* Signed: CTL_UNKNOWN_S64 is unknown, negatives are real values. */
static const struct int_field vm_sints[] = {
    VM_INT(ksm_profit_bytes),
    VM_INT(ksm_net_profit_bytes),
};
/* Yes/no: -1 is unknown. */
static const struct int_field vm_bools[] = {
    VM_INT(ksm_mergeable),
    VM_INT(ksm_allowed),
    VM_INT(deflate_on_oom),
};
static const struct pct_field vm_pcts[] = {
    VM_INT(psi_some_avg10_pct),
    VM_INT(psi_full_avg10_pct),
};
static const struct str_field vm_strs[] = {
    VM_STR(name),        VM_STR(mode),   VM_STR(qmp),           VM_STR(agent),
    VM_STR(last_reason), VM_STR(source), VM_STR(policy_source), VM_STR(last_set_error),
};
/* Empty travels as null. */
static const struct str_field vm_opt_strs[] = {
    VM_STR(foreign_by),
};
#define HOST_INT(m)                                                                                \
    {                                                                                              \
#m, offsetof(struct ctl_host_status, m)                                                    \
    }
static const struct int_field host_ints[] = {
    HOST_INT(mem_total_bytes),
    HOST_INT(mem_available_bytes),
    HOST_INT(ticks),
    HOST_INT(balloon_changes),
    HOST_INT(agent_rejects),
    HOST_INT(ksm_run),
    HOST_INT(ksm_pages_to_scan),
    HOST_INT(ksm_sleep_ms),
    HOST_INT(ksm_use_zero_pages),
    HOST_INT(ksm_pages_shared),
    HOST_INT(ksm_pages_sharing),
    HOST_INT(ksm_zero_pages),
    HOST_INT(ksm_full_scans),
    HOST_INT(ksm_saved_bytes),
    HOST_INT(ksm_saved_sharing_bytes),
    HOST_INT(ksm_saved_zero_bytes),
    HOST_INT(ksm_rmap_cost_bytes),
    HOST_INT(ksm_tuner_changes),
    HOST_INT(ksm_reprobe_in_s),
    HOST_INT(daemon_rss_bytes),
};
static const struct int_field host_sints[] = {
    HOST_INT(ksm_net_profit_bytes),
    HOST_INT(ksm_general_profit_bytes),
};
static const struct pct_field host_pcts[] = {
    HOST_INT(psi_some_avg10_pct),
    HOST_INT(psi_full_avg10_pct),
    HOST_INT(ksmd_cpu_pct),
    HOST_INT(ksmd_cpu_avg_pct),
    HOST_INT(ksmd_cpu_seconds),
    HOST_INT(ksm_cpu_budget_pct),
    HOST_INT(ksm_yield_mib_per_cpu_s),
    HOST_INT(ksm_min_yield_mib_per_cpu_s),
    HOST_INT(daemon_cpu_seconds),
};
#define HOST_STR(m)                                                                                \
    {                                                                                              \
#m, offsetof(struct ctl_host_status, m), sizeof(((struct ctl_host_status *)0)->m)          \
    }
/* An empty string travels as null. */
static const struct str_field host_strs[] = {
    HOST_STR(ksm_mode),  HOST_STR(ksm_reason), HOST_STR(ksm_last_change),
    HOST_STR(ksm_phase), HOST_STR(libvirt),
};

#define BUDGET_INT(m)                                                                              \
    {                                                                                              \
#m, offsetof(struct ctl_budget_status, m)                                                  \
    }
#define BUDGET_STR(m)                                                                              \
    {                                                                                              \
#m, offsetof(struct ctl_budget_status, m), sizeof(((struct ctl_budget_status *)0)->m)      \
    }
static const struct int_field budget_ints[] = {
    BUDGET_INT(configured_bytes),     BUDGET_INT(effective_bytes),  BUDGET_INT(view_total_bytes),
    BUDGET_INT(view_available_bytes), BUDGET_INT(fleet_cost_bytes), BUDGET_INT(floors_bytes),
    BUDGET_INT(capacity_bytes),       BUDGET_INT(short_bytes),
};
static const struct int_field budget_bools[] = {
    BUDGET_INT(clamped),
    BUDGET_INT(unmet),
};
static const struct str_field budget_strs[] = {
    BUDGET_STR(configured),   BUDGET_STR(source), BUDGET_STR(cgroup),
    BUDGET_STR(cgroup_error), BUDGET_STR(error),
};

static void write_ints(struct json_writer *w, const void *base, const struct int_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = *(const int64_t *)((const char *)base + f[i].offset);
        json_writer_key(w, f[i].name);
        if (v < 0)
            json_writer_null(w);
        else
            json_writer_int(w, v);
    }
}

static void write_pcts(struct json_writer *w, const void *base, const struct pct_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_writer_key(w, f[i].name);
        json_writer_double(w, *(const double *)((const char *)base + f[i].offset)); /* NaN: null */
    }
}

static void write_sints(struct json_writer *w, const void *base, const struct int_field *f,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = *(const int64_t *)((const char *)base + f[i].offset);
        json_writer_key(w, f[i].name);
        if (v == CTL_UNKNOWN_S64)
            json_writer_null(w);
        else
            json_writer_int(w, v);
    }
}

static void write_bools(struct json_writer *w, const void *base, const struct int_field *f,
                        size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = *(const int *)((const char *)base + f[i].offset);
        json_writer_key(w, f[i].name);
        if (v < 0)
            json_writer_null(w);
        else
            json_writer_bool(w, v != 0);
    }
}

static void write_strs(struct json_writer *w, const void *base, const struct str_field *f, size_t n,
                       bool empty_is_null)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = (const char *)base + f[i].offset;
        json_writer_key(w, f[i].name);
        if (empty_is_null && !v[0])
            json_writer_null(w);
        else
            json_writer_string(w, v);
    }
}

static void get_strs(JsonObject *o, void *base, const struct str_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        JsonNode *s = json_object_get_member(o, f[i].name);
        if (s && JSON_NODE_HOLDS_VALUE(s) && json_node_get_value_type(s) == G_TYPE_STRING)
            ctl_copy((char *)base + f[i].offset, f[i].len, json_node_get_string(s));
    }
}

static void get_bools(JsonObject *o, void *base, const struct int_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        JsonNode *node = json_object_get_member(o, f[i].name);
        if (node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN)
            *(int *)((char *)base + f[i].offset) = json_node_get_boolean(node) ? 1 : 0;
    }
}

static void get_ints(JsonObject *o, void *base, const struct int_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        JsonNode *node = json_object_get_member(o, f[i].name);
        int64_t *dst = (int64_t *)((char *)base + f[i].offset);
        if (node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64)
            *dst = json_node_get_int(node);
    }
}

static void get_pcts(JsonObject *o, void *base, const struct pct_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        JsonNode *node = json_object_get_member(o, f[i].name);
        double *dst = (double *)((char *)base + f[i].offset);
        if (node && JSON_NODE_HOLDS_VALUE(node) &&
            (json_node_get_value_type(node) == G_TYPE_DOUBLE ||
             json_node_get_value_type(node) == G_TYPE_INT64))
            *dst = json_node_get_double(node);
    }
}

void ctl_budget_status_write(struct json_writer *w, const struct ctl_budget_status *b)
{
    json_writer_object_begin(w);
    write_strs(w, b, budget_strs, G_N_ELEMENTS(budget_strs), true);
    write_ints(w, b, budget_ints, G_N_ELEMENTS(budget_ints));
    write_bools(w, b, budget_bools, G_N_ELEMENTS(budget_bools));
    json_writer_object_end(w);
}

/* A VM's "cost" and "guest_mem" objects. */
static void write_cost(struct json_writer *w, const struct ctl_vm_status *vm)
{
    json_writer_key(w, "cost");
    json_writer_object_begin(w);
    ctl_vm_cost_write(w, &vm->cost);
    json_writer_object_end(w);
    json_writer_key(w, "guest_mem");
    json_writer_object_begin(w);
    ctl_guest_mem_write(w, &vm->guest_mem);
    json_writer_object_end(w);
}

static void get_cost(JsonObject *v, struct ctl_vm_status *row)
{
    JsonNode *c = json_object_get_member(v, "cost");
    if (c && JSON_NODE_HOLDS_OBJECT(c))
        ctl_vm_cost_from_json(json_node_get_object(c), &row->cost);
    JsonNode *g = json_object_get_member(v, "guest_mem");
    if (g && JSON_NODE_HOLDS_OBJECT(g))
        ctl_guest_mem_from_json(json_node_get_object(g), &row->guest_mem);
}

/* "grow_latency": {"le_s": [...], "cumulative": [...], "count": N, "sum_s": S}, or null. */
static void write_grow_latency(struct json_writer *w, const struct ctl_host_status *host)
{
    json_writer_key(w, "grow_latency");
    if (!host->grow_latency_known) {
        json_writer_null(w);
        return;
    }
    const struct latency_hist *h = &host->grow_latency;
    json_writer_object_begin(w);
    json_writer_key(w, "le_s");
    json_writer_array_begin(w);
    for (size_t i = 0; i < LATENCY_HIST_BUCKETS; i++)
        json_writer_double(w, latency_hist_le_s[i]);
    json_writer_array_end(w);
    json_writer_key(w, "cumulative");
    json_writer_array_begin(w);
    for (size_t i = 0; i < LATENCY_HIST_BUCKETS; i++)
        json_writer_int(w, latency_hist_cumulative(h, i));
    json_writer_array_end(w);
    json_writer_member_int(w, "count", h->count);
    json_writer_member_double(w, "sum_s", (double)h->sum_ms / 1000.0);
    json_writer_object_end(w);
}

char *ctl_status_reply(const struct ctl_host_status *host, const struct ctl_vm_status *vms,
                       size_t n_vms)
{
    /* ~1.5 KiB a guest: sized once, so the text is not copied as it grows. */
    struct json_writer w;
    ctl_reply_begin(&w, g_string_sized_new(1024 + 1536 * n_vms), CTL_CMD_STATUS);
    json_writer_object_begin(&w);
    json_writer_key(&w, "version");
    json_writer_int(&w, CTL_PROTOCOL_VERSION);

    json_writer_key(&w, "host");
    json_writer_object_begin(&w);
    write_ints(&w, host, host_ints, G_N_ELEMENTS(host_ints));
    write_sints(&w, host, host_sints, G_N_ELEMENTS(host_sints));
    write_pcts(&w, host, host_pcts, G_N_ELEMENTS(host_pcts));
    write_strs(&w, host, host_strs, G_N_ELEMENTS(host_strs), true);
    json_writer_key(&w, "dry_run");
    json_writer_bool(&w, host->dry_run);
    write_grow_latency(&w, host);
    json_writer_object_end(&w);

    json_writer_key(&w, "budget");
    ctl_budget_status_write(&w, &host->budget);

    json_writer_key(&w, "vms");
    json_writer_array_begin(&w);
    for (size_t i = 0; i < n_vms; i++) {
        json_writer_object_begin(&w);
        write_strs(&w, &vms[i], vm_strs, G_N_ELEMENTS(vm_strs), false);
        write_strs(&w, &vms[i], vm_opt_strs, G_N_ELEMENTS(vm_opt_strs), true);
        write_ints(&w, &vms[i], vm_ints, G_N_ELEMENTS(vm_ints));
        write_sints(&w, &vms[i], vm_sints, G_N_ELEMENTS(vm_sints));
        write_bools(&w, &vms[i], vm_bools, G_N_ELEMENTS(vm_bools));
        write_pcts(&w, &vms[i], vm_pcts, G_N_ELEMENTS(vm_pcts));
        write_cost(&w, &vms[i]);
        json_writer_object_end(&w);
    }
    json_writer_array_end(&w);
    struct ctl_fleet_cost fleet;
    ctl_fleet_cost_sum(vms, n_vms, &fleet);
    json_writer_key(&w, "fleet_cost");
    json_writer_object_begin(&w);
    ctl_fleet_cost_write(&w, &fleet);
    json_writer_object_end(&w);
    json_writer_object_end(&w);
    return ctl_reply_end(&w);
}

int ctl_status_from_json(JsonNode *result, struct ctl_host_status *host, struct ctl_vm_status **vms,
                         size_t *n_vms)
{
    *vms = NULL;
    *n_vms = 0;
    ctl_host_status_init(host);
    if (!result || !JSON_NODE_HOLDS_OBJECT(result))
        return -EINVAL;
    JsonObject *root = json_node_get_object(result);
    JsonNode *h = json_object_get_member(root, "host");
    if (h && JSON_NODE_HOLDS_OBJECT(h)) {
        JsonObject *ho = json_node_get_object(h);
        get_ints(ho, host, host_ints, G_N_ELEMENTS(host_ints));
        get_ints(ho, host, host_sints, G_N_ELEMENTS(host_sints));
        get_pcts(ho, host, host_pcts, G_N_ELEMENTS(host_pcts));
        get_strs(ho, host, host_strs, G_N_ELEMENTS(host_strs));
        host->dry_run = ctl_json_bool(ho, "dry_run", FALSE);
    }
    JsonNode *b = json_object_get_member(root, "budget");
    if (b && JSON_NODE_HOLDS_OBJECT(b)) {
        JsonObject *bo = json_node_get_object(b);
        get_strs(bo, &host->budget, budget_strs, G_N_ELEMENTS(budget_strs));
        get_ints(bo, &host->budget, budget_ints, G_N_ELEMENTS(budget_ints));
        get_bools(bo, &host->budget, budget_bools, G_N_ELEMENTS(budget_bools));
    }
    JsonNode *a = json_object_get_member(root, "vms");
    if (!a || !JSON_NODE_HOLDS_ARRAY(a))
        return -EINVAL;
    JsonArray *arr = json_node_get_array(a);
    guint n = json_array_get_length(arr);
    struct ctl_vm_status *out = g_new(struct ctl_vm_status, n ? n : 1);
    size_t kept = 0;
    for (guint i = 0; i < n; i++) {
        JsonNode *e = json_array_get_element(arr, i);
        if (!JSON_NODE_HOLDS_OBJECT(e))
            continue;
        JsonObject *v = json_node_get_object(e);
        struct ctl_vm_status *row = &out[kept];
        ctl_vm_status_init(row);
        get_strs(v, row, vm_strs, G_N_ELEMENTS(vm_strs));
        get_strs(v, row, vm_opt_strs, G_N_ELEMENTS(vm_opt_strs));
        get_ints(v, row, vm_ints, G_N_ELEMENTS(vm_ints));
        get_ints(v, row, vm_sints, G_N_ELEMENTS(vm_sints));
        get_bools(v, row, vm_bools, G_N_ELEMENTS(vm_bools));
        get_pcts(v, row, vm_pcts, G_N_ELEMENTS(vm_pcts));
        get_cost(v, row);
        kept++;
    }
    *vms = out;
    *n_vms = kept;
    return 0;
}

static JsonNode *scalar_member(JsonObject *o, const char *name)
{
    JsonNode *n = o ? json_object_get_member(o, name) : NULL;
    return n && JSON_NODE_HOLDS_VALUE(n) ? n : NULL;
}

gint64 ctl_json_int(JsonObject *o, const char *name, gint64 def)
{
    JsonNode *n = scalar_member(o, name);
    return n ? json_node_get_int(n) : def;
}

gboolean ctl_json_bool(JsonObject *o, const char *name, gboolean def)
{
    JsonNode *n = scalar_member(o, name);
    return n ? json_node_get_boolean(n) : def;
}

gdouble ctl_json_double(JsonObject *o, const char *name, gdouble def)
{
    JsonNode *n = scalar_member(o, name);
    return n ? json_node_get_double(n) : def;
}
