/*
 * manager_state.c — what a restart must not lose, in ballastd. What and why
 * is host/policy/vm_saved.h; how it is kept, host/daemon/state_file.h.
 *
 *   start        the file is read once (manager_state_load), before any VM
 *                appears: none is a first start, one from another boot is
 *                stale, anything else wrong is ignored as a whole with one
 *                warning (and replaced at the next write);
 *   a VM appears its record leaves the table: its set-policy overrides apply
 *                at once (manager_state_vm_added), its hold-downs, stall and
 *                target when its QEMU is up and known (manager_state_vm_up)
 *                - the engine decides for no VM before that;
 *   decisions    after each tick, event decision, set-policy and VM gone,
 *                each VM's record is captured and hashed; when one changed
 *                the file is written again, at most once per
 *                MANAGER_STATE_WRITE_GAP_MS (an idle fleet writes nothing, a
 *                fleet settling after a growth about once a tick);
 *   exit         written once more if anything changed (after a ksmd ballastd
 *                started is stopped: the file then says it is nobody's).
 *   ksmd         the host part says whether ballastd started this boot's
 *                ksmd (manager_state_note_host after a KSM decision): a
 *                ballastd started after a crash takes it back.
 * Records of VMs not seen within MANAGER_STATE_GRACE_MS of the start are
 * dropped then; until then they stay in the file, so two quick restarts
 * lose nothing.
 */
#include "manager_private.h"

#include "procfile.h"
#include "size.h"
#include "state_file.h"

#include <errno.h>
#include <string.h>
#include <time.h>

G_STATIC_ASSERT(VM_SAVED_NAME_MAX == CTL_VM_NAME_MAX);

/* CLOCK_BOOTTIME in ms: the file's clock. */
static gint64 boot_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (gint64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where the state goes: --state-file, else state_file of ballastd.conf
 * ("auto": beside the control socket); NULL for none. */
static char *state_path(const struct manager *m)
{
    const char *want = m->state_file_opt ? m->state_file_opt : m->cfg->daemon.state_file;
    if (strcmp(want, "none") == 0)
        return NULL;
    if (strcmp(want, "auto") == 0)
        return m->socket_path ? state_file_default_path(m->socket_path) : NULL;
    return g_strdup(want);
}

/* The records read, into the table on the daemon's monotonic clock. */
static void take_records(struct manager *m, GPtrArray *recs)
{
    gint64 shift = now_ms() - boot_ms();
    for (guint i = 0; i < recs->len; i++) {
        struct vm_saved *r = g_steal_pointer(&recs->pdata[i]);
        vm_saved_shift(r, shift);
        g_hash_table_replace(m->saved, r->name, r);
    }
}

void manager_state_load(struct manager *m)
{
    m->saved = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    m->saved_until_ms = now_ms() + MANAGER_STATE_GRACE_MS;
    m->state_path = state_path(m);
    if (!m->state_path) {
        g_message("state file: none (a restart starts from nothing)");
        return;
    }
    state_file_boot_id(m->proc_root, m->boot_id, sizeof(m->boot_id));
    g_autoptr(GPtrArray) recs = NULL;
    g_autofree char *why = NULL;
    struct state_file_host host = {0};
    int rc = state_file_read_host(m->state_path, m->boot_id, boot_ms(), &recs, &host, &why);
    if (rc == -ENOENT) {
        g_message("state file %s: none yet", m->state_path);
    } else if (rc == -ESTALE) {
        g_message("state file %s: %s: ignored (the host rebooted: its guests are new)",
                  m->state_path, why);
    } else if (rc < 0) {
        g_warning("state file %s: %s: ignored, replaced at the next write", m->state_path, why);
    } else {
        take_records(m, recs);
        g_message("state file %s: state of %u VMs read", m->state_path, recs->len);
        /* This boot's ksmd, if ballastd started it: ours again (docs/ksm.md). */
        ksm_monitor_take_back(&m->ksm, host.ksmd_started);
        m->state_ksmd_started = ksm_monitor_owns_ksmd(&m->ksm);
    }
}

void manager_state_vm_added(struct manager *m, struct bd_vm *vm)
{
    struct vm_saved *r = NULL;
    if (!m->saved || !g_hash_table_steal_extended(m->saved, vm->name, NULL, (gpointer *)&r))
        return;
    memcpy(&vm->ovr.layer, &r->overrides, sizeof(vm->ovr.layer));
    vm->restore = r;
    if (!r->overrides.set)
        return;
    g_autoptr(GPtrArray) kv = g_ptr_array_new_with_free_func(g_free);
    vm_override_list(&vm->ovr, kv);
    g_ptr_array_add(kv, NULL);
    g_autofree char *text = g_strjoinv(", ", (char **)kv->pdata);
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                     "%s: runtime policy kept across the restart: %s", vm->name, text);
}

/* The VM's QEMU now: pid and start time (0 unknown), for the record. */
static void note_qemu(struct manager *m, struct bd_vm *vm)
{
    vm->qemu_pid = 0;
    vm->qemu_start_ticks = 0;
    pid_t pid = vm->src->ops->vm_pid(vm->src, vm->handle);
    if (pid <= 0)
        return;
    char rel[32], buf[1024];
    size_t len;
    uint64_t ticks;
    g_snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
    if (procfile_read(m->proc_root, rel, buf, sizeof(buf), &len) == 0 &&
        procfile_stat_field(buf, len, 22, &ticks) == 0) {
        vm->qemu_pid = pid;
        vm->qemu_start_ticks = ticks;
    }
}

void manager_state_vm_up(struct manager *m, struct bd_vm *vm, bool up)
{
    if (!up) {
        vm->qemu_pid = 0;
        vm->qemu_start_ticks = 0;
        return;
    }
    note_qemu(m, vm);
    g_autofree struct vm_saved *r = g_steal_pointer(&vm->restore);
    if (!r)
        return;
    enum vm_saved_match match = vm_saved_match(r, vm->qemu_pid, vm->qemu_start_ticks);
    char text[160];
    uint64_t target = 0;
    vm_saved_restore(r, match, now_ms(), &m->cfg->tunables, &vm->pstate, &target, text,
                     sizeof(text));
    if (target) {
        vm->target_set_bytes = target;
        vm->logged_target = target;
        target_history_push(&vm->sent, target, g_get_real_time());
    }
    uint64_t foreign = vm_saved_foreign(r, match);
    if (foreign) {
        char sz[32], more[48];
        manager_foreign_restore(vm, foreign, r->foreign_since_s);
        g_snprintf(more, sizeof(more), "%sforeign hold %s", text[0] ? ", " : "",
                   size_format(foreign, sz, sizeof(sz)));
        g_strlcat(text, more, sizeof(text));
    }
    const char *how = match == VM_SAVED_OTHER ? " (another QEMU since: only its runtime policy)"
                      : !text[0]              ? " (nothing left to restore)"
                                              : "";
    g_free(vm->restored);
    vm->restored = text[0] ? g_strdup(text) : NULL;
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                     "%s: state from before the restart%s%s%s", vm->name, how, text[0] ? ": " : "",
                     text);
}

/* A VM's record now; a VM still waiting for its QEMU keeps the one read. */
static void capture(const struct bd_vm *vm, struct vm_saved *r)
{
    if (vm->restore) {
        *r = *vm->restore;
        memcpy(&r->overrides, &vm->ovr.layer, sizeof(r->overrides));
        return;
    }
    vm_saved_capture(r, vm->name, &vm->pstate, vm->target_set_bytes, &vm->ovr.layer, vm->qemu_pid,
                     vm->qemu_start_ticks);
    /* Only a confirmed hold: a rise not told yet may be the guest's deflate. */
    bool held = vm->foreign_bytes && vm->foreign_confirmed;
    r->foreign_bytes = held ? vm->foreign_bytes : 0;
    r->foreign_since_s = held ? vm->foreign_real_us / G_USEC_PER_SEC : 0;
}

/* Every VM's record and the ones still waiting for their VM, on the file's clock. */
static char *encode_all(struct manager *m, size_t *len)
{
    guint n = m->vms->len + g_hash_table_size(m->saved);
    g_autofree struct vm_saved *recs = g_new(struct vm_saved, MAX(n, 1));
    g_autofree struct vm_saved **ptrs = g_new(struct vm_saved *, MAX(n, 1));
    guint k = 0;
    for (guint i = 0; i < m->vms->len; i++)
        capture(m->vms->pdata[i], &recs[k++]);
    GHashTableIter it;
    gpointer value;
    g_hash_table_iter_init(&it, m->saved);
    while (g_hash_table_iter_next(&it, NULL, &value))
        recs[k++] = *(struct vm_saved *)value;
    gint64 shift = boot_ms() - now_ms();
    for (guint i = 0; i < k; i++) {
        vm_saved_shift(&recs[i], shift);
        ptrs[i] = &recs[i];
    }
    const struct state_file_host host = {.ksmd_started = ksm_monitor_owns_ksmd(&m->ksm)};
    return state_file_encode_host(ptrs, k, m->boot_id, &host, len);
}

/* Writes the file now; a failure is said once per cause, and when it works again. */
static void write_now(struct manager *m)
{
    size_t len;
    g_autofree char *text = encode_all(m, &len);
    int rc = state_file_write(m->state_path, text, len);
    m->state_written_ms = now_ms();
    if (rc < 0) {
        if (rc != m->state_error)
            g_warning("state file %s: cannot write: %s (a restart would forget hold-downs and "
                      "runtime policy)",
                      m->state_path, g_strerror(-rc));
        m->state_error = rc;
        return;
    }
    if (m->state_error)
        g_message("state file %s: written again", m->state_path);
    m->state_error = 0;
    m->state_dirty = false;
    m->state_writes++;
}

static gboolean on_state_write(gpointer data)
{
    struct manager *m = data;
    m->state_id = 0;
    manager_state_flush(m, false);
    return G_SOURCE_REMOVE;
}

void manager_state_flush(struct manager *m, bool now)
{
    if (!m->state_path || !m->state_dirty)
        return;
    gint64 since = now_ms() - m->state_written_ms;
    if (!now && m->state_written_ms && since < MANAGER_STATE_WRITE_GAP_MS) {
        if (!m->state_id)
            m->state_id =
                g_timeout_add((guint)(MANAGER_STATE_WRITE_GAP_MS - since), on_state_write, m);
        return;
    }
    if (m->state_id) {
        g_source_remove(m->state_id);
        m->state_id = 0;
    }
    write_now(m);
}

/* Records of VMs that did not appear within the grace: gone for good. */
static void drop_unseen(struct manager *m)
{
    guint n = g_hash_table_size(m->saved);
    if (!n || now_ms() < m->saved_until_ms)
        return;
    g_hash_table_remove_all(m->saved);
    g_message("state file: %u VMs did not appear within %d s of the start: their state dropped", n,
              MANAGER_STATE_GRACE_MS / 1000);
    m->state_dirty = true;
}

/* The host part: ksmd's owner changed since the last capture. */
static void note_host(struct manager *m)
{
    bool owns = ksm_monitor_owns_ksmd(&m->ksm);
    if (owns == m->state_ksmd_started)
        return;
    m->state_ksmd_started = owns;
    m->state_dirty = true;
}

void manager_state_note_host(struct manager *m)
{
    if (!m->state_path)
        return;
    note_host(m);
    manager_state_flush(m, false);
}

void manager_state_note(struct manager *m)
{
    if (!m->state_path)
        return;
    drop_unseen(m);
    note_host(m);
    for (guint i = 0; i < m->vms->len; i++) {
        struct bd_vm *vm = m->vms->pdata[i];
        struct vm_saved r;
        capture(vm, &r);
        uint64_t h = vm_saved_hash(&r);
        if (h != vm->saved_hash) {
            vm->saved_hash = h;
            m->state_dirty = true;
        }
    }
    manager_state_flush(m, false);
}

void manager_state_reconfigure(struct manager *m)
{
    g_autofree char *path = state_path(m);
    if (g_strcmp0(path, m->state_path) == 0)
        return;
    g_message("state file: now %s", path ? path : "none");
    g_free(m->state_path);
    m->state_path = g_steal_pointer(&path);
    if (m->state_path && !m->boot_id[0])
        state_file_boot_id(m->proc_root, m->boot_id, sizeof(m->boot_id));
    m->state_dirty = true;
    m->state_error = 0;
    manager_state_flush(m, false);
}

void manager_state_clear(struct manager *m)
{
    if (m->state_id)
        g_source_remove(m->state_id);
    m->state_id = 0;
    g_clear_pointer(&m->saved, g_hash_table_unref);
    g_clear_pointer(&m->state_path, g_free);
}
