/*
 * Fleet VM source: watches a fleet state directory and manages each guest's
 * QEMU over its QMP socket (see vmsource_fleet.h).
 */
#include "vmsource_fleet.h"

#include "fleet_layout.h"
#include "fleet_qmp.h"
#include "vmem_drive.h"
#include "thp_mode.h"
#include "fd_watch.h"
#include "timer.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>

/* After a directory event, rescan this often for this long. */
#define FLEET_BURST_PERIOD_MS 250
#define FLEET_BURST_LEN_MS    5000

struct vmsource_vm {
    struct fleet_source *src;
    char *name;
    char *qmp_path;
    char *agent_path;
    char *pid_path;
    void *cookie;
    bool seen; /* mark and sweep during a rescan */
    struct fleet_qmp *qmp;
    pid_t pid; /* QEMU's, read from pid_path once; 0 = not known (again) */
};

struct fleet_source {
    struct vmsource base;
    char *dir;
    unsigned rescan_ms;
    GHashTable *vms; /* name -> struct vmsource_vm* */
    /* inotify on the state directory, on the main loop: GFileMonitor would
     * start GIO's worker thread (its own malloc arena), load GIO's extension
     * points and libmount for the same one watch. */
    int inotify_fd;
    guint inotify_id;
    guint rescan_id;
    guint burst_id;
    guint idle_id; /* a rescan asked for from inside a callback */
    gint64 burst_until_us;
    uint64_t vmem_peak_hold_ms; /* for each guest's fleet_qmp */
};

/* -1 when the pid file is absent or unreadable, 0 when it names no live process, else the pid. */
static pid_t read_pid(const char *path, bool *present)
{
    *present = false;
    char buf[32];
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    *present = true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    while (*end == ' ' || *end == '\n' || *end == '\t')
        end++;
    if (end == buf || *end || pid <= 0 || pid > INT32_MAX)
        return -1; /* being written, or garbage: not evidence the guest is gone */
    if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
        return 0;
    /* A killed QEMU stays a zombie until its parent (often init) reaps it. */
    char stat_path[64], stat[256];
    snprintf(stat_path, sizeof(stat_path), "/proc/%ld/stat", pid);
    FILE *sf = fopen(stat_path, "re");
    if (sf) {
        size_t got = fread(stat, 1, sizeof(stat) - 1, sf);
        fclose(sf);
        stat[got] = '\0';
        const char *paren = strrchr(stat, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'Z')
            return 0;
    }
    return (pid_t)pid;
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fleet_scan(const char *dir, GPtrArray *names, fleet_scan_live_fn live, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        /* A guest whose sockets cannot fit a unix address cannot have been
         * started (the launcher refuses it, QEMU could not bind): not one. */
        if (fleet_layout_guest_fits(dir, de->d_name, NULL) != 0)
            continue;
        if (live && live(de->d_name, ctx)) {
            g_ptr_array_add(names, g_strdup(de->d_name));
            continue;
        }
        char qmp[FLEET_LAYOUT_SOCKET_BUF], pidf[FLEET_LAYOUT_SOCKET_BUF];
        fleet_layout_path(qmp, sizeof(qmp), dir, de->d_name, FLEET_FILE_QMP);
        fleet_layout_path(pidf, sizeof(pidf), dir, de->d_name, FLEET_FILE_PID);
        struct stat st;
        if (stat(qmp, &st) < 0 || !S_ISSOCK(st.st_mode))
            continue;
        bool present;
        if (read_pid(pidf, &present) == 0 && present)
            continue; /* QEMU died; its socket file stays behind */
        g_ptr_array_add(names, g_strdup(de->d_name));
    }
    closedir(d);
    g_ptr_array_sort(names, cmp_names);
    return 0;
}

static void vm_free(struct vmsource_vm *vm)
{
    fleet_qmp_free(vm->qmp);
    g_free(vm->name);
    g_free(vm->qmp_path);
    g_free(vm->agent_path);
    g_free(vm->pid_path);
    g_free(vm);
}

/* --- events from the QMP side ------------------------------------------------------------ */

static void fleet_rescan(struct vmsource *base);

static gboolean on_idle_rescan(gpointer data)
{
    struct fleet_source *fs = data;
    fs->idle_id = 0;
    fleet_rescan(&fs->base);
    return G_SOURCE_REMOVE;
}

static pid_t fleet_vm_pid(struct vmsource *base, struct vmsource_vm *vm);

/* Read once per QMP connection: a QEMU's THP switch is set before it starts. */
static void check_thp(struct vmsource_vm *vm)
{
    pid_t pid = fleet_vm_pid(&vm->src->base, vm);
    bool thp = false;
    if (pid <= 0 || thp_process_backed("/proc", "/sys", pid, &thp) < 0)
        return; /* unknown: the plan keeps its default (no THP) */
    fleet_qmp_set_host_thp(vm->qmp, thp);
}

static void on_qmp_state(void *ctx, bool connected)
{
    struct vmsource_vm *vm = ctx;
    struct fleet_source *fs = vm->src;
    if (connected)
        check_thp(vm);
    if (!connected)
        vm->pid = 0; /* a QEMU that hung up may be gone: read the pid file again */
    fs->base.events->vm_backend(fs->base.events_ctx, vm->cookie, connected);
    /* A dead QEMU should disappear at once; not from inside its own callback. */
    if (!connected && !fs->idle_id)
        fs->idle_id = g_idle_add(on_idle_rescan, fs);
}

static void on_qmp_balloon(void *ctx, const struct vmsource_balloon *b)
{
    struct vmsource_vm *vm = ctx;
    vm->src->base.events->vm_balloon(vm->src->base.events_ctx, vm->cookie, b);
}

static void on_qmp_set_done(void *ctx, uint64_t target_bytes, const char *error)
{
    struct vmsource_vm *vm = ctx;
    vm->src->base.events->vm_set_done(vm->src->base.events_ctx, vm->cookie, target_bytes, error);
}

/* --- scanning ----------------------------------------------------------------------------- */

static bool vm_connected(const char *name, void *ctx)
{
    struct fleet_source *fs = ctx;
    struct vmsource_vm *vm = g_hash_table_lookup(fs->vms, name);
    return vm && fleet_qmp_connected(vm->qmp);
}

/* A path of a guest fleet_scan() accepted: it fits (fleet_layout_guest_fits). */
static char *guest_path(const char *dir, const char *name, enum fleet_file f)
{
    char path[FLEET_LAYOUT_SOCKET_BUF];
    fleet_layout_path(path, sizeof(path), dir, name, f);
    return g_strdup(path);
}

static void fleet_rescan(struct vmsource *base)
{
    struct fleet_source *fs = (struct fleet_source *)base;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    int rc = fleet_scan(fs->dir, names, vm_connected, fs);
    if (rc < 0) {
        /* A vanished state dir means the fleet is gone: every VM goes with it. */
        g_debug("fleet: scan %s: %s", fs->dir, g_strerror(-rc));
    }

    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, fs->vms);
    while (g_hash_table_iter_next(&it, &key, &value))
        ((struct vmsource_vm *)value)->seen = false;

    for (guint i = 0; i < names->len; i++) {
        const char *name = names->pdata[i];
        struct vmsource_vm *vm = g_hash_table_lookup(fs->vms, name);
        if (vm) {
            vm->seen = true;
            continue;
        }
        vm = g_new0(struct vmsource_vm, 1);
        vm->src = fs;
        vm->name = g_strdup(name);
        vm->qmp_path = guest_path(fs->dir, name, FLEET_FILE_QMP);
        vm->agent_path = guest_path(fs->dir, name, FLEET_FILE_AGENT);
        vm->pid_path = guest_path(fs->dir, name, FLEET_FILE_PID);
        vm->seen = true;
        g_hash_table_insert(fs->vms, vm->name, vm);
        g_message("fleet: guest %s appeared", name);
        vm->cookie = base->events->vm_added(base->events_ctx, vm, name);
        static const struct fleet_qmp_events qev = {on_qmp_state, on_qmp_balloon, on_qmp_set_done};
        vm->qmp = fleet_qmp_new(vm->qmp_path, name, &qev, vm);
        fleet_qmp_set_vmem_peak_hold_ms(vm->qmp, fs->vmem_peak_hold_ms);
    }

    g_hash_table_iter_init(&it, fs->vms);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct vmsource_vm *vm = value;
        if (vm->seen)
            continue;
        g_message("fleet: guest %s disappeared", vm->name);
        g_hash_table_iter_steal(&it);
        base->events->vm_removed(base->events_ctx, vm->cookie);
        vm_free(vm);
    }
}

static gboolean on_rescan_timer(gpointer data)
{
    struct fleet_source *fs = data;
    fleet_rescan(&fs->base);
    return G_SOURCE_CONTINUE;
}

static gboolean on_burst_timer(gpointer data)
{
    struct fleet_source *fs = data;
    fleet_rescan(&fs->base);
    if (g_get_monotonic_time() < fs->burst_until_us)
        return G_SOURCE_CONTINUE;
    fs->burst_id = 0;
    return G_SOURCE_REMOVE;
}

/* Something was created, removed or renamed in the state directory (a guest
 * directory, its sockets, its pid file): rescan now and for a short burst,
 * while QEMU creates what it creates. The events themselves say nothing we
 * need: they are drained and dropped. */
static gboolean on_dir_changed(gint fd, GIOCondition cond, gpointer data)
{
    struct fleet_source *fs = data;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    fleet_rescan(&fs->base);
    fs->burst_until_us = g_get_monotonic_time() + FLEET_BURST_LEN_MS * 1000;
    if (!fs->burst_id)
        fs->burst_id = g_timeout_add(FLEET_BURST_PERIOD_MS, on_burst_timer, fs);
    return G_SOURCE_CONTINUE;
}

static int fleet_start(struct vmsource *base, GError **error)
{
    struct fleet_source *fs = (struct fleet_source *)base;
    struct stat st;
    if (stat(fs->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
                    "fleet state directory %s: not a directory", fs->dir);
        return -ENOTDIR;
    }
    fs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fs->inotify_fd < 0 ||
        inotify_add_watch(fs->inotify_fd, fs->dir,
                          IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                              IN_MOVE_SELF | IN_ONLYDIR) < 0) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err),
                    "fleet state directory %s: inotify: %s", fs->dir, g_strerror(err));
        return -err;
    }
    /* No rate limit: a new guest should be picked up at once. */
    fs->inotify_id = fd_watch_add(fs->inotify_fd, G_IO_IN, on_dir_changed, fs);
    fs->rescan_id = timer_add_ms(fs->rescan_ms, on_rescan_timer, fs);
    fleet_rescan(base);
    return 0;
}

static int fleet_set_target(struct vmsource *base, struct vmsource_vm *vm, uint64_t target_bytes)
{
    return fleet_qmp_set_target(vm->qmp, target_bytes);
}

static void fleet_refresh(struct vmsource *base, struct vmsource_vm *vm, bool guest_stats)
{
    fleet_qmp_refresh(vm->qmp, guest_stats);
}

static const char *fleet_agent_socket_path(struct vmsource *base, struct vmsource_vm *vm)
{
    return vm->agent_path;
}

/* Asked every tick (KSM figures): the pid file is read once per QMP
 * connection, as a dying QEMU always hangs up its QMP socket first. */
static pid_t fleet_vm_pid(struct vmsource *base, struct vmsource_vm *vm)
{
    (void)base;
    if (vm->pid > 0)
        return vm->pid;
    bool present;
    pid_t pid = read_pid(vm->pid_path, &present);
    if (pid > 0 && fleet_qmp_connected(vm->qmp))
        vm->pid = pid;
    return pid > 0 ? pid : -1;
}

static void fleet_free(struct vmsource *base)
{
    struct fleet_source *fs = (struct fleet_source *)base;
    if (fs->rescan_id)
        g_source_remove(fs->rescan_id);
    if (fs->burst_id)
        g_source_remove(fs->burst_id);
    if (fs->idle_id)
        g_source_remove(fs->idle_id);
    if (fs->inotify_id)
        g_source_remove(fs->inotify_id);
    if (fs->inotify_fd >= 0)
        close(fs->inotify_fd);
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, fs->vms);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_hash_table_iter_steal(&it);
        vm_free(value);
    }
    g_hash_table_unref(fs->vms);
    g_free(fs->dir);
    g_free(fs);
}

static const struct vmsource_ops fleet_ops = {
    .kind = "fleet",
    .start = fleet_start,
    .rescan = fleet_rescan,
    .set_target = fleet_set_target,
    .refresh = fleet_refresh,
    .agent_socket_path = fleet_agent_socket_path,
    .vm_pid = fleet_vm_pid,
    .free = fleet_free,
};

struct vmsource *vmsource_fleet_new(const char *dir, unsigned rescan_ms,
                                    const struct vmsource_events *events, void *events_ctx)
{
    struct fleet_source *fs = g_new0(struct fleet_source, 1);
    fs->base.ops = &fleet_ops;
    fs->base.events = events;
    fs->base.events_ctx = events_ctx;
    fs->dir = g_strdup(dir);
    fs->rescan_ms = rescan_ms ? rescan_ms : FLEET_RESCAN_MS;
    fs->vms = g_hash_table_new(g_str_hash, g_str_equal);
    fs->inotify_fd = -1;
    fs->vmem_peak_hold_ms = VMEM_DRIVE_PEAK_MS;
    return &fs->base;
}

void vmsource_fleet_set_vmem_peak_hold_ms(struct vmsource *src, uint64_t ms)
{
    ((struct fleet_source *)src)->vmem_peak_hold_ms = ms;
}
