/*
 * ballast-libvirt-probe: the libvirt VM source on a GMainLoop, driven by a
 * line protocol, for the integration tests (tests/libvirt/it_source.sh) and
 * for poking at a libvirt host by hand.
 *
 *   ballast-libvirt-probe [--uri URI] [--stats-period S]
 *   ballast-libvirt-probe --accel     prints the domain type the fleet
 *                                     launcher's accel choice maps to
 *                                     ("kvm" or "qemu") and its reason
 *
 * Events go to stdout, one line each, as they happen:
 *   added NAME machine=M agent=PATH pid=N
 *   removed NAME
 *   backend NAME up|down
 *   balloon NAME nominal=B actual=B total=B available=B free=B update=S
 *   policy NAME present=0|1 keys=N errors=N source=S shares=N mode=M min=B max=B [error=...]
 *   connection up|down
 * Commands on stdin: setmem NAME BYTES | refresh NAME | pid NAME | list | quit.
 */
#include "fleet_accel.h"
#include "vm_policy.h"
#include "vmsource_libvirt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

struct probe_vm {
    char *name;
    struct vmsource_vm *vm;
};

struct probe {
    GMainLoop *loop;
    struct vmsource *src;
    GHashTable *vms; /* name -> struct probe_vm * */
    BallastConfig *config;
    GString *in;
    bool connected;
};

static void *on_added(void *ctx, struct vmsource_vm *vm, const char *name)
{
    struct probe *p = ctx;
    struct probe_vm *pv = g_new0(struct probe_vm, 1);
    pv->name = g_strdup(name);
    pv->vm = vm;
    g_hash_table_replace(p->vms, pv->name, pv);
    const char *agent = p->src->ops->agent_socket_path(p->src, vm);
    const char *machine = vmsource_libvirt_vm_machine(p->src, vm);
    printf("added %s machine=%s agent=%s pid=%d\n", name, machine ? machine : "-",
           agent ? agent : "-", (int)p->src->ops->vm_pid(p->src, vm));
    return pv;
}

static void on_removed(void *ctx, void *cookie)
{
    struct probe *p = ctx;
    struct probe_vm *pv = cookie;
    printf("removed %s\n", pv->name);
    g_hash_table_remove(p->vms, pv->name);
    g_free(pv->name);
    g_free(pv);
}

static void on_backend(void *ctx, void *cookie, bool up)
{
    struct probe_vm *pv = cookie;
    printf("backend %s %s\n", pv->name, up ? "up" : "down");
}

static void on_balloon(void *ctx, void *cookie, const struct vmsource_balloon *b)
{
    struct probe_vm *pv = cookie;
    printf("balloon %s nominal=%" G_GINT64_FORMAT " actual=%" G_GINT64_FORMAT
           " total=%" G_GINT64_FORMAT " available=%" G_GINT64_FORMAT " free=%" G_GINT64_FORMAT
           " update=%" G_GINT64_FORMAT "\n",
           pv->name, b->nominal_bytes, b->actual_bytes, b->guest_total_bytes,
           b->guest_available_bytes, b->guest_free_bytes, b->guest_stats_update_s);
}

static void on_policy(void *ctx, void *cookie, const struct lv_policy *lp)
{
    struct probe *p = ctx;
    struct probe_vm *pv = cookie;
    /* Nominal 1 GiB: percentages come out as round numbers in the test. */
    struct vm_policy_in in = {
        .cfg = p->config,
        .name = pv->name,
        .nominal_bytes = 1ULL << 30,
        .meta = lp->present ? &lp->keys : NULL,
        .meta_error = lp->present ? lp->first_error : NULL,
    };
    struct vm_policy r;
    vm_policy_resolve(&in, &r);
    const struct policy_vm_params params = r.params;
    const char *why = r.config_error, *source = vm_policy_source_name(r.source);
    printf(
        "policy %s present=%d keys=%u errors=%u source=%s shares=%u mode=%s min=%" G_GUINT64_FORMAT
        " max=%" G_GUINT64_FORMAT "%s%s\n",
        pv->name, lp->present, lp->n_keys, lp->n_errors, source, params.shares,
        policy_mode_name(params.mode), params.min_bytes, params.max_bytes, why ? " error=" : "",
        why ? why : "");
    vm_policy_clear(&r);
}

/* A set_target's outcome (from the worker thread, after set_target returned). */
static void on_set_done(void *ctx, void *cookie, uint64_t target_bytes, const char *error)
{
    struct probe_vm *pv = cookie;
    printf("set %s %" G_GUINT64_FORMAT " %s\n", pv->name, target_bytes, error ? error : "ok");
}

static const struct vmsource_events events = {on_added, on_removed, on_backend, on_balloon,
                                              on_set_done};

static void command(struct probe *p, char *line)
{
    g_auto(GStrv) w = g_strsplit(g_strstrip(line), " ", 0);
    guint n = g_strv_length(w);
    if (n == 0 || !w[0][0])
        return;
    struct probe_vm *pv = n >= 2 ? g_hash_table_lookup(p->vms, w[1]) : NULL;
    if (!strcmp(w[0], "quit")) {
        g_main_loop_quit(p->loop);
    } else if (!strcmp(w[0], "list")) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, p->vms);
        while (g_hash_table_iter_next(&it, &k, &v))
            printf("vm %s\n", (char *)k);
        printf("end\n");
    } else if (!strcmp(w[0], "setmem") && n == 3) {
        int rc = pv ? p->src->ops->set_target(p->src, pv->vm, g_ascii_strtoull(w[2], NULL, 10))
                    : -ENOENT;
        printf("setmem %s %d\n", w[1], rc);
    } else if (!strcmp(w[0], "refresh") && n == 2 && pv) {
        p->src->ops->refresh(p->src, pv->vm, true);
    } else if (!strcmp(w[0], "pid") && n == 2) {
        printf("pid %s %d\n", w[1], pv ? (int)p->src->ops->vm_pid(p->src, pv->vm) : -1);
    } else {
        printf("error unknown command or VM: %s\n", line);
    }
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer data)
{
    struct probe *p = data;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
        g_main_loop_quit(p->loop); /* the source is removed after the loop */
        return G_SOURCE_CONTINUE;
    }
    g_string_append_len(p->in, buf, n);
    char *nl;
    while ((nl = memchr(p->in->str, '\n', p->in->len))) {
        g_autofree char *line = g_strndup(p->in->str, (gsize)(nl - p->in->str));
        g_string_erase(p->in, 0, nl - p->in->str + 1);
        command(p, line);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_conn_poll(gpointer data)
{
    struct probe *p = data;
    bool c = vmsource_libvirt_connected(p->src);
    if (c != p->connected) {
        p->connected = c;
        printf("connection %s\n", c ? "up" : "down");
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_signal(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_CONTINUE;
}

static int print_accel(void)
{
    struct fleet_accel_facts facts;
    if (fleet_accel_probe("/proc", "/sys", "/dev/kvm", &facts) < 0) {
        fprintf(stderr, "cannot read /proc/cpuinfo\n");
        return 1;
    }
    const char *reason = NULL;
    enum fleet_accel a = fleet_accel_choose(&facts, &reason);
    /* libvirt's domain type: kvm for hardware KVM, qemu for TCG. */
    printf("%s\n", a == FLEET_ACCEL_KVM ? "kvm" : "qemu");
    fprintf(stderr, "accel: %s (%s)\n", a == FLEET_ACCEL_KVM ? "kvm" : "tcg", reason ? reason : "");
    return 0;
}

int main(int argc, char **argv)
{
    g_autofree char *uri = NULL;
    gint stats_period = 0;
    gboolean accel = FALSE;
    GOptionEntry entries[] = {
        {"uri", 0, 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default qemu:///system)", "URI"},
        {"stats-period", 0, 0, G_OPTION_ARG_INT, &stats_period, "balloon stats period", "S"},
        {"accel", 0, 0, G_OPTION_ARG_NONE, &accel, "print the domain type to use", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- libvirt VM source probe");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "%s\n", error->message);
        return 2;
    }
    if (accel)
        return print_accel();
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct probe p = {
        .loop = g_main_loop_new(NULL, FALSE),
        .vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, NULL),
        .config = config_new_defaults(),
        .in = g_string_new(NULL),
    };
    struct vmsource_libvirt_options opts = {
        .uri = uri,
        .stats_period_s = (unsigned)stats_period,
        .policy_changed = on_policy,
    };
    p.src = vmsource_libvirt_new(&opts, &events, &p);
    if (p.src->ops->start(p.src, &error) < 0) {
        fprintf(stderr, "start: %s\n", error->message);
        return 1;
    }
    on_conn_poll(&p);
    guint poll_id = g_timeout_add(100, on_conn_poll, &p);
    guint in_id = g_unix_fd_add(0, G_IO_IN | G_IO_HUP, on_stdin, &p);
    g_unix_signal_add(SIGTERM, on_signal, p.loop);
    g_unix_signal_add(SIGINT, on_signal, p.loop);
    g_main_loop_run(p.loop);
    g_source_remove(poll_id);
    g_source_remove(in_id);
    p.src->ops->free(p.src);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, p.vms);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct probe_vm *pv = v;
        g_free(pv->name);
        g_free(pv);
    }
    g_hash_table_unref(p.vms);
    config_free(p.config);
    g_string_free(p.in, TRUE);
    g_main_loop_unref(p.loop);
    return 0;
}
