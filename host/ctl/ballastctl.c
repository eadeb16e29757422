/*
 * ballastctl: talks to ballastd's control socket (docs/control-protocol.md).
 *
 *   ballastctl [--socket PATH] [--json] [--fresh] status
 *   ballastctl [--socket PATH] [--sort cost|pressure|name] [--interval S] [-n COUNT] top
 *   ballastctl [--socket PATH] [--json] explain VM
 *   ballastctl [--socket PATH] [--json] metrics
 *   ballastctl [--socket PATH] set-policy VM KEY=VALUE
 *   ballastctl [--socket PATH] resume VM
 *   ballastctl [--socket PATH] dry-run on|off
 *   ballastctl [--socket PATH] ping
 *   ballastctl [--socket PATH] notify DOMAIN prepare|started|stopped|release
 *   ballastctl --version
 *
 * The socket: --socket, else $BALLAST_SOCKET, else /run/ballast/ballastd.sock,
 * where ballastd listens by default (control.h). The commands are parsed by
 * ctl_argv.c, which has a message for each mistake.
 *
 * Not root: the socket is root's (mode 0600), so the read commands (status, top,
 * explain, metrics, ping) go to the read-only socket beside it
 * (ballastd.ro.sock) when the read-write one refuses, and a change says
 * "permission denied: writes need root (socket PATH)".
 *
 * `notify` is what the libvirt qemu hook runs (scripts/libvirt/qemu-hook): a
 * hint ballastd answers at once and acts on afterwards.
 *
 * Exit codes: 0 ok, 1 runtime error (no daemon, the daemon refused the
 * request), 2 usage error.
 */
#include "control.h"
#include "cost_text.h"
#include "ctl_argv.h"
#include "json_writer.h"
#include "size.h"
#include "status_table.h"
#include "top_view.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
/* Replies can be large (a status of 1,000 VMs is ~400 KiB); cap them anyway. */
#define MAX_REPLY_BYTES (64u << 20)

/* A usage error: what was wrong, then where to look; exit code 2. */
static int usage_error(const char *message)
{
    fprintf(stderr, "ballastctl: %s\n", message);
    fprintf(stderr, "usage: ballastctl [--socket PATH] [--json] [--fresh] COMMAND [ARG...] "
                    "(--help lists the commands)\n");
    return EXIT_USAGE;
}

/* Sends one request line, reads one reply line. */
static int roundtrip(const char *path, const char *request, GString *reply)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    size_t len = strlen(request);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        off += (size_t)n;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EPIPE;
            close(fd);
            return -e;
        }
        g_string_append_len(reply, buf, n);
        if (memchr(buf, '\n', (size_t)n))
            break;
        if (reply->len > MAX_REPLY_BYTES) {
            close(fd);
            return -EMSGSIZE;
        }
    }
    close(fd);
    return 0;
}

/* A scalar of a parsed reply, written back (json_writer's number forms). */
static void write_value(struct json_writer *w, JsonNode *node)
{
    switch (json_node_get_value_type(node)) {
    case G_TYPE_INT64:
        json_writer_int(w, json_node_get_int(node));
        break;
    case G_TYPE_DOUBLE:
        json_writer_double(w, json_node_get_double(node));
        break;
    case G_TYPE_BOOLEAN:
        json_writer_bool(w, json_node_get_boolean(node));
        break;
    case G_TYPE_STRING:
        json_writer_string(w, json_node_get_string(node));
        break;
    default:
        json_writer_null(w);
    }
}

/* A parsed reply written back, members in the order ballastd sent them;
 * false when it nests deeper than the writer goes (ballastd's replies nest
 * 4 levels). */
static bool write_node(struct json_writer *w, JsonNode *node)
{
    if (JSON_NODE_HOLDS_VALUE(node)) {
        write_value(w, node);
        return true;
    }
    if (!JSON_NODE_HOLDS_OBJECT(node) && !JSON_NODE_HOLDS_ARRAY(node)) {
        json_writer_null(w);
        return true;
    }
    if (w->depth >= JSON_WRITER_MAX_DEPTH)
        return false;
    bool ok = true;
    if (JSON_NODE_HOLDS_ARRAY(node)) {
        JsonArray *a = json_node_get_array(node);
        json_writer_array_begin(w);
        for (guint i = 0; ok && i < json_array_get_length(a); i++)
            ok = write_node(w, json_array_get_element(a, i));
        if (ok)
            json_writer_array_end(w);
        return ok;
    }
    JsonObjectIter it;
    const char *name;
    JsonNode *member;
    json_object_iter_init_ordered(&it, json_node_get_object(node));
    json_writer_object_begin(w);
    while (ok && json_object_iter_next_ordered(&it, &name, &member)) {
        json_writer_key(w, name);
        ok = write_node(w, member);
    }
    if (ok)
        json_writer_object_end(w);
    return ok;
}

/* --json: the reply's result, indented. */
static int print_json(JsonNode *node)
{
    g_autoptr(GString) out = g_string_new(NULL);
    struct json_writer w;
    json_writer_init_pretty(&w, out);
    if (!write_node(&w, node)) {
        fprintf(stderr, "ballastctl: reply nested too deep to print\n");
        return EXIT_RUNTIME;
    }
    printf("%s\n", out->str);
    return 0;
}

static const char *obj_str(JsonObject *o, const char *name)
{
    JsonNode *n = json_object_get_member(o, name);
    if (n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
        return json_node_get_string(n);
    return "-";
}

static const char *obj_size(JsonObject *o, const char *name, char *buf, size_t len)
{
    JsonNode *n = json_object_get_member(o, name);
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64 ||
        json_node_get_int(n) < 0)
        return "-";
    return size_format((uint64_t)json_node_get_int(n), buf, len);
}

/* The fleet memory budget's lines of explain, when there is a budget or cgroup. */
static void print_explain_budget(JsonObject *o)
{
    JsonNode *bn = json_object_get_member(o, "budget");
    if (!bn || !JSON_NODE_HOLDS_OBJECT(bn))
        return;
    JsonObject *bo = json_node_get_object(bn);
    if (!strcmp(obj_str(bo, "configured"), "-") && !strcmp(obj_str(bo, "cgroup"), "-"))
        return;
    char a[32], b[32], c[32];
    printf("  budget %s, policy sees %s: total %s, available %s; this VM's floor %s\n",
           obj_str(bo, "configured"), obj_str(bo, "source"),
           obj_size(bo, "view_total_bytes", a, sizeof(a)),
           obj_size(bo, "view_available_bytes", b, sizeof(b)),
           obj_size(o, "budget_floor_bytes", c, sizeof(c)));
    if (strcmp(obj_str(o, "budget_reason"), "-") != 0)
        printf("  budget unmet: %s\n", obj_str(o, "budget_reason"));
    if (strcmp(obj_str(bo, "cgroup_error"), "-") != 0)
        printf("  cgroup %s: %s\n", obj_str(bo, "cgroup"), obj_str(bo, "cgroup_error"));
    if (strcmp(obj_str(bo, "error"), "-") != 0)
        printf("  budget error: %s\n", obj_str(bo, "error"));
}

/* explain's host cost and the guest's own split, in MiB that add up. */
static void print_cost(JsonObject *o)
{
    struct ctl_vm_cost c;
    struct ctl_guest_mem g;
    ctl_vm_cost_init(&c);
    ctl_guest_mem_init(&g);
    JsonNode *cn = json_object_get_member(o, "cost");
    if (cn && JSON_NODE_HOLDS_OBJECT(cn))
        ctl_vm_cost_from_json(json_node_get_object(cn), &c);
    JsonNode *gn = json_object_get_member(o, "guest_mem");
    if (gn && JSON_NODE_HOLDS_OBJECT(gn))
        ctl_guest_mem_from_json(json_node_get_object(gn), &g);
    g_autoptr(GString) out = g_string_new(NULL);
    cost_text_explain(out, &c, &g);
    fputs(out->str, stdout);
}

/* A number member as text ("42.0", "4"); "-" when null or absent. */
static const char *obj_num(JsonObject *o, const char *name, char *buf, size_t len)
{
    JsonNode *n = json_object_get_member(o, name);
    if (!n || !JSON_NODE_HOLDS_VALUE(n))
        return "-";
    if (json_node_get_value_type(n) == G_TYPE_INT64)
        snprintf(buf, len, "%" G_GINT64_FORMAT, json_node_get_int(n));
    else if (json_node_get_value_type(n) == G_TYPE_DOUBLE)
        snprintf(buf, len, "%.1f", json_node_get_double(n));
    else
        return "-";
    return buf;
}

/* explain's "ksm" object: the VM's figures, then the host-wide tuner and its yield rule. */
static void print_explain_ksm(JsonObject *ko)
{
    char a[32], b[32], c[32];
    JsonNode *mg = json_object_get_member(ko, "mergeable");
    const char *merge = !mg || JSON_NODE_HOLDS_NULL(mg) ? "-"
                        : json_node_get_boolean(mg)     ? "yes"
                                                        : "no";
    printf("  ksm: policy %s, mergeable %s, saved by sharing %s, by zero pages %s, rmap %s\n",
           ctl_json_bool(ko, "allowed", TRUE) ? "on" : "off", merge,
           obj_size(ko, "saved_sharing_bytes", a, sizeof(a)),
           obj_size(ko, "saved_zero_bytes", b, sizeof(b)),
           obj_size(ko, "rmap_cost_bytes", c, sizeof(c)));
    printf("  ksm tuner (%s): %s\n", obj_str(ko, "mode"), obj_str(ko, "tuner"));
    if (strcmp(obj_str(ko, "phase"), "-") != 0) {
        printf("  ksm yield: %s, %s MiB per ksmd CPU-second (min %s)", obj_str(ko, "phase"),
               obj_num(ko, "yield_mib_per_cpu_s", a, sizeof(a)),
               obj_num(ko, "min_yield_mib_per_cpu_s", b, sizeof(b)));
        if (strcmp(obj_num(ko, "reprobe_in_s", c, sizeof(c)), "-") != 0)
            printf(", re-probe in %s s", c);
        printf("\n");
    }
    if (strcmp(obj_str(ko, "last_change"), "-") != 0)
        printf("  ksm last change: %s\n", obj_str(ko, "last_change"));
}

/* explain's failed balloon commands (docs/policy.md, "Failed commands"), when any failed. */
static void print_explain_set_errors(JsonObject *o)
{
    gint64 failures = ctl_json_int(o, "balloon_set_failures", 0);
    if (failures <= 0)
        return;
    printf("  balloon commands failed: %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
           " in a row), last %" G_GINT64_FORMAT " s ago: %s",
           failures, ctl_json_int(o, "set_failures_in_a_row", 0),
           ctl_json_int(o, "last_set_error_age_ms", 0) / 1000, obj_str(o, "last_set_error"));
    gint64 retry_ms = ctl_json_int(o, "set_retry_in_ms", 0);
    if (retry_ms > 0)
        printf("; retry in %" G_GINT64_FORMAT " ms", retry_ms);
    printf("\n");
}

/* "  actuator: both (virtio-mem 128 MiB of 128 MiB, converged); reason" */
static void print_actuator(JsonObject *o)
{
    JsonNode *an = json_object_get_member(o, "actuator");
    if (!an || !JSON_NODE_HOLDS_OBJECT(an))
        return;
    JsonObject *ao = json_node_get_object(an);
    char a[32], b[32], c[32];
    printf("  actuator: %s (virtio-mem %s plugged of %s, requested %s, %s)", obj_str(ao, "kind"),
           obj_size(ao, "vmem_size_bytes", a, sizeof(a)),
           obj_size(ao, "vmem_max_bytes", b, sizeof(b)),
           obj_size(ao, "vmem_requested_bytes", c, sizeof(c)), obj_str(ao, "vmem_state"));
    const char *why = obj_str(ao, "reason");
    printf(why[0] ? ": %s\n" : "\n", why);
}

static void print_explain(JsonNode *result)
{
    if (!result)
        return; /* a reply without a result: nothing to explain (fuzz.ctl.reply) */
    if (!JSON_NODE_HOLDS_OBJECT(result)) {
        print_json(result);
        return;
    }
    JsonObject *o = json_node_get_object(result);
    char a[32], b[32], c[32];
    printf("%s: %s, decision %s\n", obj_str(o, "vm"), obj_str(o, "mode"), obj_str(o, "decision"));
    printf("  reason:   %s\n", obj_str(o, "reason"));
    printf("  target %s, actual %s, nominal %s\n", obj_size(o, "target_bytes", a, sizeof(a)),
           obj_size(o, "actual_bytes", b, sizeof(b)), obj_size(o, "nominal_bytes", c, sizeof(c)));
    JsonNode *fg = json_object_get_member(o, "foreign");
    if (fg && JSON_NODE_HOLDS_OBJECT(fg)) {
        JsonObject *fo = json_node_get_object(fg);
        printf("  foreign target %s by %s: held (`ballastctl resume %s` hands it back)\n",
               obj_size(fo, "target_bytes", a, sizeof(a)), obj_str(fo, "by"), obj_str(o, "vm"));
    }
    JsonNode *dn = json_object_get_member(o, "deflate_on_oom");
    if (dn && JSON_NODE_HOLDS_VALUE(dn) && json_node_get_value_type(dn) == G_TYPE_BOOLEAN &&
        !json_node_get_boolean(dn))
        printf("  balloon without deflate-on-oom: no safety net while ballastd is down\n");
    print_actuator(o);
    print_cost(o);
    print_explain_set_errors(o);
    JsonNode *p = json_object_get_member(o, "params");
    if (p && JSON_NODE_HOLDS_OBJECT(p)) {
        JsonObject *po = json_node_get_object(p);
        printf("  policy: min %s, max %s, mode %s, shares %" G_GINT64_FORMAT "\n",
               obj_size(po, "min_bytes", a, sizeof(a)), obj_size(po, "max_bytes", b, sizeof(b)),
               obj_str(po, "mode"), ctl_json_int(po, "shares", 0));
    }
    JsonNode *ov = json_object_get_member(o, "overrides");
    if (ov && JSON_NODE_HOLDS_ARRAY(ov) && json_array_get_length(json_node_get_array(ov))) {
        printf("  runtime overrides:");
        JsonArray *arr = json_node_get_array(ov);
        for (guint i = 0; i < json_array_get_length(arr); i++)
            printf(" %s", json_array_get_string_element(arr, i));
        printf("\n");
    }
    printf("  source %s, policy from %s\n", obj_str(o, "source"), obj_str(o, "policy_source"));
    JsonNode *md = json_object_get_member(o, "metadata");
    if (md && JSON_NODE_HOLDS_OBJECT(md)) {
        JsonObject *mo = json_node_get_object(md);
        printf("  libvirt %s: metadata policy %s, %" G_GINT64_FORMAT " key(s), %" G_GINT64_FORMAT
               " error(s)%s%s\n",
               obj_str(mo, "machine"), ctl_json_bool(mo, "present", FALSE) ? "present" : "absent",
               ctl_json_int(mo, "keys", 0), ctl_json_int(mo, "errors", 0),
               strcmp(obj_str(mo, "error"), "-") ? ": " : "",
               strcmp(obj_str(mo, "error"), "-") ? obj_str(mo, "error") : "");
    }
    const char *cfg = obj_str(o, "config_error");
    if (strcmp(cfg, "-") != 0)
        printf("  config error (safe mode: never shrunk, still grown): %s\n", cfg);
    JsonNode *ag = json_object_get_member(o, "agent");
    if (ag && JSON_NODE_HOLDS_OBJECT(ag)) {
        JsonObject *ao = json_node_get_object(ag);
        printf("  agent %s: available %s of %s, PSI some %.2f%%, report age %" G_GINT64_FORMAT
               " ms, rejects %" G_GINT64_FORMAT "\n",
               obj_str(ao, "state"), obj_size(ao, "mem_available_bytes", a, sizeof(a)),
               obj_size(ao, "mem_total_bytes", b, sizeof(b)),
               ctl_json_double(ao, "psi_some_avg10_pct", 0), ctl_json_int(ao, "age_ms", 0),
               ctl_json_int(ao, "rejects", 0));
    }
    JsonNode *ks = json_object_get_member(o, "ksm");
    if (ks && JSON_NODE_HOLDS_OBJECT(ks))
        print_explain_ksm(json_node_get_object(ks));
    JsonNode *gs = json_object_get_member(o, "guest_stats");
    if (gs && JSON_NODE_HOLDS_OBJECT(gs)) {
        JsonObject *go = json_node_get_object(gs);
        if (ctl_json_bool(go, "valid", FALSE))
            printf("  balloon guest-stats: available %s, age %" G_GINT64_FORMAT " ms\n",
                   obj_size(go, "available_bytes", a, sizeof(a)), ctl_json_int(go, "age_ms", 0));
    }
    print_explain_budget(o);
}

/* The socket refused this user: mode 0600 (EACCES), or ballastd closed a
 * peer it does not serve (the file mode opened by hand). */
static bool refused(int rc)
{
    return rc == -EACCES || rc == -EPIPE || rc == -ECONNRESET;
}

/* Sends req, parses the reply into *result; an exit code (0 ok), errors said. */
static int call_daemon(const char *path, const struct ctl_request *req, JsonNode **result)
{
    g_autofree char *line = ctl_request_serialise(req);
    g_autoptr(GString) reply = g_string_new(NULL);
    int rc = roundtrip(path, line, reply);
    if (refused(rc) && ctl_cmd_is_write(req->cmd)) {
        fprintf(stderr, "ballastctl: permission denied: writes need root (socket %s)\n", path);
        return EXIT_RUNTIME;
    }
    g_autofree char *ro_path = refused(rc) ? ctl_ro_socket_path(path) : NULL;
    if (ro_path) { /* a read: the read-only socket serves any user */
        g_string_truncate(reply, 0);
        int ro_rc = roundtrip(ro_path, line, reply);
        if (ro_rc < 0) {
            fprintf(stderr, "ballastctl: %s: %s, and %s: %s\n", path, g_strerror(-rc), ro_path,
                    g_strerror(-ro_rc));
            return EXIT_RUNTIME;
        }
        rc = 0;
    }
    if (rc < 0) {
        fprintf(stderr, "ballastctl: %s: %s\n", path, g_strerror(-rc));
        return EXIT_RUNTIME;
    }
    g_autofree char *err_code = NULL, *err_msg = NULL;
    rc = ctl_reply_parse(reply->str, result, &err_code, &err_msg);
    if (rc == -EIO && strcmp(err_code, CTL_ERR_PERMISSION) == 0) {
        fprintf(stderr, "ballastctl: %s\n", err_msg); /* "permission denied: ..." */
        return EXIT_RUNTIME;
    }
    if (rc == -EIO) {
        fprintf(stderr, "ballastctl: %s: %s\n", err_code, err_msg);
        return EXIT_RUNTIME;
    }
    if (rc < 0) {
        fprintf(stderr, "ballastctl: malformed reply from ballastd\n");
        return EXIT_RUNTIME;
    }
    return 0;
}

/* status and top's frames: the reply parsed, or said malformed (EXIT_RUNTIME). */
static int parse_status(JsonNode *result, struct ctl_host_status *host, struct ctl_vm_status **vms,
                        size_t *n)
{
    if (ctl_status_from_json(result, host, vms, n) < 0) {
        fprintf(stderr, "ballastctl: malformed status\n");
        return EXIT_RUNTIME;
    }
    return 0;
}

static int print_status(JsonNode *result)
{
    struct ctl_host_status host;
    g_autofree struct ctl_vm_status *vms = NULL;
    size_t n;
    int rc = parse_status(result, &host, &vms, &n);
    if (rc)
        return rc;
    g_autoptr(GString) out = g_string_new(NULL);
    status_table_format(out, &host, vms, n);
    fputs(out->str, stdout);
    return 0;
}

/* `top`'s options, checked (top_options_check) before the first request. */
struct top_options {
    enum top_sort sort;
    double interval_s;
    int count; /* frames; 0 = until interrupted */
};

/* One frame of top: the clock, the terminal's size asked again each time
 * (it may have been resized), and a cleared screen on a terminal only. */
static int draw_top_frame(JsonNode *result, const struct top_options *t, bool tty)
{
    struct ctl_host_status host;
    g_autofree struct ctl_vm_status *vms = NULL;
    size_t n;
    int rc = parse_status(result, &host, &vms, &n);
    if (rc)
        return rc;
    struct winsize ws = {0};
    if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
        ws = (struct winsize){0};
    char when[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&now, &tm));
    const char *charset;
    struct top_view_options opt = {
        .sort = t->sort,
        .columns = top_view_columns(g_getenv("COLUMNS"), ws.ws_col),
        .lines = tty ? ws.ws_row : 0,
        .utf8 = g_get_charset(&charset),
        .when = when,
    };
    g_autoptr(GString) out = g_string_new(tty ? "\033[H\033[2J" : NULL);
    top_view_format(out, &host, vms, n, &opt);
    fputs(out->str, stdout);
    fflush(stdout);
    return 0;
}

/* `top`: status every interval until count frames (or ^C); plain frames,
 * one blank line between them, when stdout is not a terminal. */
static int run_top(const char *path, const struct ctl_request *req, const struct top_options *t)
{
    bool tty = isatty(STDOUT_FILENO);
    for (int frame = 0; t->count == 0 || frame < t->count; frame++) {
        if (frame > 0) {
            g_usleep((gulong)(t->interval_s * G_USEC_PER_SEC));
            if (!tty)
                putchar('\n');
        }
        g_autoptr(JsonNode) result = NULL;
        int rc = call_daemon(path, req, &result);
        if (rc == 0)
            rc = draw_top_frame(result, t, tty);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* top's options from the command line; NULL, or what is wrong with them. */
static const char *top_options_check(const struct ctl_request *req, const char *sort,
                                     const char *interval, int count, bool json,
                                     struct top_options *t)
{
    *t = (struct top_options){.sort = TOP_SORT_COST, .interval_s = 1.0, .count = 0};
    if (!req->top)
        return sort         ? "--sort: only top takes it"
               : interval   ? "--interval: only top takes it"
               : count >= 0 ? "-n: only top takes it"
                            : NULL;
    if (json)
        return "--json: top draws a table (ballastctl --json status is the document)";
    if (sort && top_sort_parse(sort, &t->sort) < 0)
        return "--sort: expected cost, pressure or name";
    if (interval) {
        char *end;
        t->interval_s = g_ascii_strtod(interval, &end);
        if (*end || !isfinite(t->interval_s) || t->interval_s < 0.1 || t->interval_s > 3600)
            return "--interval: expected seconds between 0.1 and 3600";
    }
    if (count == 0)
        return "-n: expected a count of 1 or more";
    t->count = count > 0 ? count : 0;
    return NULL;
}

/* The reply for people; an exit code. */
static int print_result(const struct ctl_request *req, JsonNode *result)
{
    switch (req->cmd) {
    case CTL_CMD_STATUS:
        return print_status(result);
    case CTL_CMD_EXPLAIN:
        print_explain(result);
        break;
    case CTL_CMD_SET_POLICY:
        printf("%s: %s=%s\n", req->vm, req->key, req->value);
        break;
    case CTL_CMD_DRY_RUN:
        printf("dry run %s\n", req->enabled ? "on" : "off");
        break;
    case CTL_CMD_PING:
        printf("pong\n");
        break;
    case CTL_CMD_METRICS:
        if (!result || !JSON_NODE_HOLDS_OBJECT(result) ||
            strcmp(obj_str(json_node_get_object(result), "format"), CTL_METRICS_FORMAT) != 0) {
            fprintf(stderr, "ballastctl: malformed metrics reply\n");
            return EXIT_RUNTIME;
        }
        fputs(obj_str(json_node_get_object(result), "text"), stdout);
        break;
    case CTL_CMD_RESUME:
        if (result && JSON_NODE_HOLDS_OBJECT(result))
            printf("%s: %s\n", req->vm,
                   ctl_json_bool(json_node_get_object(result), "was_held", FALSE)
                       ? "handed back to ballastd"
                       : "was not held (nothing to hand back)");
        break;
    case CTL_CMD_NOTIFY:
        if (result && JSON_NODE_HOLDS_OBJECT(result))
            printf("%s %s: %s\n", req->vm, ctl_notify_event_name(req->event),
                   obj_str(json_node_get_object(result), "action"));
        break;
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* The character set only (top's ellipsis, names' widths): numbers stay
     * in the C locale's form, which scripts read. */
    setlocale(LC_CTYPE, "");
    g_autofree char *socket_path = NULL, *sort = NULL, *interval = NULL;
    int count = -1;
    gboolean json = FALSE, fresh = FALSE, version = FALSE;
    GOptionEntry entries[] = {
        {"socket", 's', 0, G_OPTION_ARG_FILENAME, &socket_path,
         "ballastd's control socket (default $" CTL_SOCKET_ENV ", else " CTL_DEFAULT_SOCKET ")",
         "PATH"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the reply's result as JSON", NULL},
        {"fresh", 0, 0, G_OPTION_ARG_NONE, &fresh,
         "status: read each VM's host cost now if it is older than a few seconds", NULL},
        {"sort", 0, 0, G_OPTION_ARG_STRING, &sort,
         "top: sort by host cost (the default), pressure or name", "cost|pressure|name"},
        {"interval", 0, 0, G_OPTION_ARG_STRING, &interval,
         "top: seconds between frames (default 1)", "SECONDS"},
        {"count", 'n', 0, G_OPTION_ARG_INT, &count, "top: draw COUNT frames, then exit", "COUNT"},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [ARG...]");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autofree char *commands = g_strdup_printf("Commands:\n%s\n"
                                                "Exit status: 0 ok, 1 no daemon or the daemon "
                                                "refused the request, 2 usage error.",
                                                ctl_argv_usage);
    g_option_context_set_description(ctx, commands);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error))
        return usage_error(error->message);
    if (version) {
        printf("ballastctl %s\n", BALLAST_VERSION);
        return 0;
    }
    struct ctl_request req;
    g_autofree char *message = NULL;
    if (ctl_argv_parse(argc - 1, argv + 1, &req, &message) < 0)
        return usage_error(message);
    if (fresh && (req.cmd != CTL_CMD_STATUS || req.top))
        return usage_error("--fresh: only status takes it");
    req.fresh = fresh;
    struct top_options top;
    const char *top_error = top_options_check(&req, sort, interval, count, json, &top);
    if (top_error)
        return usage_error(top_error);
    if (req.top)
        return run_top(ctl_socket_path(socket_path), &req, &top);
    g_autoptr(JsonNode) result = NULL;
    int rc = call_daemon(ctl_socket_path(socket_path), &req, &result);
    if (rc != 0)
        return rc;
    if (json && result)
        return print_json(result);
    return print_result(&req, result);
}
