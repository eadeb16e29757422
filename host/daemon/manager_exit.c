/*
 * manager_exit.c — on_exit = release: before ballastd exits on SIGTERM, every
 * balloon it may move is given back up to the VM's max_memory
 * (planner_release_bytes), and ballastd waits, at most
 * PLANNER_RELEASE_WAIT_MS, for the balloons to get there (querying them
 * every PLANNER_CONVERGE_POLL_MS: BALLOON_CHANGE comes once a second at
 * most) or for their QEMU to go. Nothing is decided meanwhile: the tick and
 * the event path are stopped first. docs/ballastd.md, "On exit", says why
 * the default is keep.
 */
#include "manager_private.h"

#include "planner.h"
#include "size.h"

/* Stops every decision: the tick, the event path, the collection of polls. */
static void stop_deciding(struct manager *m)
{
    m->exiting = true;
    guint *ids[] = {&m->tick_id, &m->soon_id, &m->collect_id, &m->watch_id, &m->ksm_guard_id};
    for (size_t i = 0; i < G_N_ELEMENTS(ids); i++)
        if (*ids[i]) {
            g_source_remove(*ids[i]);
            *ids[i] = 0;
        }
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        if (vm->decide_id) {
            g_source_remove(vm->decide_id);
            vm->decide_id = 0;
        }
    }
}

/* Sends vm its release target, or logs what a dry run would; true when sent. */
static bool release_vm(struct manager *m, struct bd_vm *vm)
{
    vm->release_bytes = 0;
    if (!vm->backend_up || vm->balloon.nominal_bytes <= 0 || vm->balloon.actual_bytes <= 0)
        return false;
    const struct vm_policy *p = manager_vm_policy(m, vm);
    uint64_t actual = (uint64_t)vm->balloon.actual_bytes;
    uint64_t to =
        planner_release_bytes(p->params.mode, p->params.max_bytes, actual, vm->target_set_bytes);
    if (!to)
        return false;
    char a[32], b[32], to_s[24];
    g_snprintf(to_s, sizeof(to_s), "%" G_GUINT64_FORMAT, to);
    uint64_t from = vm->target_set_bytes ? vm->target_set_bytes : actual;
    uint64_t before = vm->target_set_bytes;
    if (!m->dry_run) { /* recorded first: set_target's answer comes later */
        set_retry_sent(&vm->retry, to, before);
        vm->target_set_bytes = to; /* the state file keeps it: the next start knows */
    }
    int rc = m->dry_run ? 0 : vm->src->ops->set_target(vm->src, vm->handle, to);
    if (rc < 0)
        vm->target_set_bytes = before;
    g_log_structured(
        G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "TARGET_BYTES", to_s, "ACTION",
        m->dry_run ? "would_release"
        : rc < 0   ? "not_released"
                   : "release",
        "MESSAGE", "%s: %s balloon %s -> %s (on_exit = release)%s", vm->name,
        m->dry_run ? "dry-run: would release" : "releasing", size_format(from, a, sizeof(a)),
        size_format(to, b, sizeof(b)), rc < 0 ? ": not sent" : "");
    if (m->dry_run || rc < 0)
        return false;
    vm->release_bytes = to;
    vm->balloon_sets++; /* balloon_changes counts it when QEMU took it (on_vm_set_done) */
    vm->grows++;        /* a release gives memory back: a growth */
    return true;
}

/* Released balloons not there yet, whose QEMU is still up. */
static unsigned release_pending(struct manager *m)
{
    unsigned n = 0;
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        if (vm->release_bytes && vm->backend_up &&
            !planner_grow_reached(vm->release_bytes, vm->balloon.actual_bytes))
            n++;
    }
    return n;
}

static gboolean on_release_poll(gpointer data)
{
    struct manager *m = data;
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        if (vm->release_bytes && vm->backend_up &&
            !planner_grow_reached(vm->release_bytes, vm->balloon.actual_bytes)) {
            vm->balloon_queries++;
            vm->src->ops->refresh(vm->src, vm->handle, false);
        }
    }
    return G_SOURCE_CONTINUE;
}

bool manager_exit_releases(const struct manager *m)
{
    return m->cfg && m->cfg->daemon.on_exit == CONFIG_ON_EXIT_RELEASE;
}

void manager_release(struct manager *m)
{
    stop_deciding(m);
    unsigned sent = 0;
    for (guint i = 0; i < m->vms->len; i++)
        sent += release_vm(m, m->vms->pdata[i]);
    if (!sent) {
        g_message("on_exit = release: no balloon to release%s", m->dry_run ? " (dry run)" : "");
        return;
    }
    gint64 deadline = g_get_monotonic_time() + PLANNER_RELEASE_WAIT_MS * 1000LL;
    guint poll = g_timeout_add(PLANNER_CONVERGE_POLL_MS, on_release_poll, m);
    while (release_pending(m) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(poll);
    unsigned left = release_pending(m);
    g_message("on_exit = release: %u balloon(s) released, %u reached their size%s", sent,
              sent - left, left ? ", the rest still deflating as ballastd exits" : "");
}
