/*
 * ballast-fleet: starts, stops and lists a fleet of tiny QEMU microvm guests
 * that ballast manages, and says where their files are (docs/fleet.md).
 * main() parses, then one function per command does the machine-facing
 * checks and the work; decisions come from the pure fleet_options,
 * fleet_guest, fleet_accel and fleet_qemu modules, paths from fleet_layout.
 *
 * Exit codes: 0 done; 1 failed (message on stderr); 2 bad command line.
 */
#include "fleet_accel.h"
#include "fleet_cgroup.h"
#include "fleet_guest.h"
#include "config.h"
#include "fleet_options.h"
#include "fleet_proc.h"
#include "fleet_progress.h"
#include "fleet_qemu.h"
#include "json_writer.h"
#include "size.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define PROC_ROOT "/proc"

static void say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* A progress line drawn on the terminal (fleet_progress.h) that a message must erase first. */
static bool progress_drawn;

static void say(const char *fmt, ...)
{
    if (progress_drawn) {
        fputs("\r\033[K", stderr);
        progress_drawn = false;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("fleet: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* <build>/guest, found from <build>/bin/ballast-fleet. */
static char *default_image_dir(void)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    if (!exe)
        return g_strdup("build/guest");
    g_autofree char *bin = g_path_get_dirname(exe);
    g_autofree char *build = g_path_get_dirname(bin);
    return g_build_filename(build, "guest", NULL);
}

/*
 * Serializes fleet commands on one state directory (two starts racing would
 * both see it free). Returns the lock fd, or -errno.
 */
static int lock_state_dir(const char *dir)
{
    g_autofree char *path = fleet_file_path(dir, NULL, FLEET_FILE_LOCK);
    if (!path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int rc = -errno;
        close(fd);
        return rc == -EWOULDBLOCK ? -EBUSY : rc;
    }
    return fd;
}

/*
 * The state directory as an absolute path (*dir_out, g_free it) and its lock
 * held: start and stop both begin so. Says what is wrong and returns -1.
 */
static int open_locked_state_dir(const char *state_dir, char **dir_out)
{
    char *dir = realpath(state_dir, NULL);
    if (!dir) {
        say("state directory %s: %s", state_dir, g_strerror(errno));
        return -1;
    }
    int lock = lock_state_dir(dir);
    if (lock < 0) {
        say("state directory %s is in use by another fleet command (%s)", dir, g_strerror(-lock));
        free(dir);
        return -1;
    }
    *dir_out = dir;
    return lock;
}

static int load_spec(const char *dir, struct fleet_spec *spec, GError **error)
{
    g_autofree char *path = fleet_file_path(dir, NULL, FLEET_FILE_STATE);
    g_autofree char *text = NULL;
    if (!path) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG, "%s/%s: path too long", dir,
                    FLEET_STATE_FILE);
        return -ENAMETOOLONG;
    }
    if (!g_file_get_contents(path, &text, NULL, error))
        return g_error_matches(*error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ? -ENOENT : -EIO;
    return fleet_spec_from_json(text, spec, error);
}

/* Removes what a stopped guest must not leave behind (logs stay for reading;
 * the scratch disk goes: only its guest could make sense of it). */
static void remove_guest_runtime_files(const char *dir, const char *name)
{
    static const enum fleet_file files[] = {FLEET_FILE_QMP, FLEET_FILE_QMP_ADMIN, FLEET_FILE_AGENT,
                                            FLEET_FILE_PID, FLEET_FILE_DISK};
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = fleet_file_path(dir, name, files[i]);
        if (path)
            g_unlink(path);
    }
}

/* Without fleet.json: clean every guest-looking subdirectory. */
static void remove_all_runtime_files(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;
    while (d && (entry = g_dir_read_name(d))) {
        g_autofree char *sub = fleet_file_path(dir, entry, FLEET_FILE_GUEST_DIR);
        if (sub && g_file_test(sub, G_FILE_TEST_IS_DIR))
            remove_guest_runtime_files(dir, entry);
    }
}

static char *console_tail(const char *path, int lines)
{
    g_autofree char *text = NULL;
    if (!path || !g_file_get_contents(path, &text, NULL, NULL))
        return g_strdup("  (no console output)");
    g_auto(GStrv) all = g_strsplit(g_strchomp(text), "\n", -1);
    guint n = g_strv_length(all);
    GString *s = g_string_new(NULL);
    for (guint i = n > (guint)lines ? n - (guint)lines : 0; i < n; i++)
        g_string_append_printf(s, "  | %s\n", all[i]);
    return g_string_free(s, FALSE);
}

/* Stops every QEMU of dir, cleans runtime files; returns pids stopped or -errno. */
static int stop_fleet(const char *dir, const struct fleet_spec *spec, unsigned timeout_s)
{
    g_autoptr(GArray) pids = fleet_proc_find_in_state_dir(PROC_ROOT, dir);
    int rc = fleet_proc_stop(PROC_ROOT, dir, pids, timeout_s * 1000);
    if (rc > 0)
        say("%d guest(s) ignored SIGTERM for %us: killed", rc, timeout_s);
    if (spec) {
        for (unsigned i = 0; i < spec->count; i++) {
            g_autofree char *name = fleet_guest_name(spec->prefix, i);
            remove_guest_runtime_files(dir, name);
            if (spec->cgroup_dir) /* empty now that its QEMU is gone */
                fleet_cgroup_remove(spec->cgroup_dir, name);
        }
    } else {
        remove_all_runtime_files(dir);
    }
    g_autofree char *state = fleet_file_path(dir, NULL, FLEET_FILE_STATE);
    if (state)
        g_unlink(state);
    return rc < 0 ? rc : (int)pids->len;
}

static int resolve_accel(enum fleet_accel wanted, enum fleet_accel *out)
{
    struct fleet_accel_facts facts;
    int rc = fleet_accel_probe(PROC_ROOT, "/sys", "/dev/kvm", &facts);
    if (rc != 0) {
        say("cannot read %s/cpuinfo: %s", PROC_ROOT, g_strerror(-rc));
        return rc;
    }
    const char *reason;
    enum fleet_accel auto_choice = fleet_accel_choose(&facts, &reason);
    if (wanted == FLEET_ACCEL_AUTO) {
        *out = auto_choice;
        say("accel %s (%s)", fleet_accel_name(auto_choice), reason);
    } else if (wanted == FLEET_ACCEL_KVM && !facts.dev_kvm_usable) {
        say("--accel kvm: /dev/kvm is missing or not usable");
        return -ENODEV;
    } else {
        if (wanted == FLEET_ACCEL_KVM && auto_choice != FLEET_ACCEL_KVM)
            say("warning: --accel kvm although %s", reason);
        *out = wanted;
    }
    return 0;
}

/* 1 once guest INDEX printed its ready marker, 0 while it boots, -ECHILD when its QEMU died. */
static int guest_ready(const struct fleet_spec *spec, unsigned index)
{
    g_autofree char *name = fleet_guest_name(spec->prefix, index);
    g_autofree char *log = fleet_file_path(spec->state_dir, name, FLEET_FILE_CONSOLE);
    g_autofree char *pidfile = fleet_file_path(spec->state_dir, name, FLEET_FILE_PID);
    g_autofree char *text = NULL;
    if (log && g_file_get_contents(log, &text, NULL, NULL) && strstr(text, FLEET_READY_MARKER))
        return 1;
    pid_t pid;
    if (pidfile && fleet_proc_read_pidfile(pidfile, &pid) == 0 &&
        fleet_proc_is_guest(PROC_ROOT, pid, pidfile))
        return 0;
    g_autofree char *tail = console_tail(log, 10);
    say("%s: QEMU exited before the guest was ready; console:\n%s", name, tail);
    return -ECHILD;
}

static void say_not_ready(const struct fleet_spec *spec, const bool *ready, unsigned left,
                          unsigned timeout_s)
{
    GString *names = g_string_new(NULL);
    for (unsigned i = 0; i < spec->count; i++) {
        if (!ready[i])
            g_string_append_printf(names, " %s%u", spec->prefix, i);
    }
    say("%u guest(s) not ready after %us:%s (still running; see their " FLEET_CONSOLE_LOG ")", left,
        timeout_s, names->str);
    g_string_free(names, TRUE);
}

/* "guests ready n/N" on stderr when the progress says it is due. */
static void show_progress(struct fleet_progress *p, unsigned ready, double t0)
{
    double now = now_s();
    if (!fleet_progress_due(p, ready, now))
        return;
    char line[96];
    fleet_progress_format(p, ready, now - t0, line, sizeof(line));
    fputs(line, stderr);
    fflush(stderr);
    progress_drawn = p->style == FLEET_PROGRESS_TTY;
    fleet_progress_shown(p, ready, now);
}

/*
 * Waits for every guest's ready marker, saying how many are up (redrawn on
 * a terminal, a line per step in a log); a guest whose QEMU died fails at once.
 */
static int wait_ready(const struct fleet_spec *spec, unsigned timeout_s, double t0)
{
    bool *ready = g_new0(bool, spec->count);
    unsigned left = spec->count;
    struct fleet_progress progress = fleet_progress_init(
        fleet_progress_style_for(getenv(FLEET_PROGRESS_ENV), isatty(STDERR_FILENO)), spec->count);
    int rc = 0;
    while (left > 0 && rc == 0) {
        show_progress(&progress, spec->count - left, t0);
        for (unsigned i = 0; i < spec->count && rc == 0; i++) {
            if (ready[i])
                continue;
            rc = guest_ready(spec, i);
            if (rc > 0) {
                ready[i] = true;
                left--;
                rc = 0;
            }
        }
        if (left == 0 || rc != 0)
            break;
        if (now_s() - t0 > timeout_s) {
            say_not_ready(spec, ready, left, timeout_s);
            rc = -ETIMEDOUT;
        } else {
            g_usleep(100 * 1000);
        }
    }
    fputs(fleet_progress_clear(&progress), stderr); /* the summary line replaces it */
    progress_drawn = false;
    g_free(ready);
    return rc;
}

/* The QEMU binary to run, as an absolute path; NULL (said why) when there is none. */
static char *find_qemu(const char *given)
{
    g_autofree char *qemu = given ? g_strdup(given) : g_find_program_in_path("qemu-system-x86_64");
    if (!qemu) {
        say("qemu-system-x86_64 not found in PATH: run scripts/setup (package qemu-system-x86) "
            "or pass --qemu PATH");
        return NULL;
    }
    if (!g_file_test(qemu, G_FILE_TEST_IS_REGULAR) || access(qemu, X_OK) != 0) {
        say("QEMU '%s' is not an executable file", qemu);
        return NULL;
    }
    if (g_path_is_absolute(qemu))
        return g_steal_pointer(&qemu);
    g_autofree char *cwd = g_get_current_dir();
    return g_build_filename(cwd, qemu, NULL);
}

/* --cgroup DIR: a cgroup v2 directory with the memory controller, or a
 * clear refusal (this machine's cgroup v1 among them) before any guest runs. */
static int check_cgroup(const char *dir)
{
    uint64_t magic = 0;
    g_autofree char *controllers = NULL;
    int rc = fleet_cgroup_probe(dir, &magic, &controllers);
    if (rc < 0) {
        say("--cgroup %s: %s", dir, g_strerror(-rc));
        return rc;
    }
    g_autofree char *why = NULL;
    if (fleet_cgroup_check(dir, magic, controllers, &why) != FLEET_CGROUP_OK) {
        say("%s", why);
        return -EOPNOTSUPP;
    }
    return 0;
}

/* Every machine-facing check of `start`, before anything is spawned. */
static int prepare_start(const struct fleet_options *o, const char *dir, struct fleet_spec *spec)
{
    if (o->cgroup_dir && check_cgroup(o->cgroup_dir) != 0)
        return -EOPNOTSUPP;
    g_autofree char *qemu = find_qemu(o->qemu);
    if (!qemu)
        return -ENOENT;
    g_autofree char *image = o->image_dir ? g_strdup(o->image_dir) : default_image_dir();
    g_autofree char *image_abs = realpath(image, NULL);
    g_autofree char *kernel = image_abs ? g_build_filename(image_abs, "vmlinuz", NULL) : NULL;
    g_autofree char *initrd =
        image_abs ? g_build_filename(image_abs, "initramfs.cpio.gz", NULL) : NULL;
    if (!kernel || access(kernel, R_OK) != 0 || access(initrd, R_OK) != 0) {
        say("guest image not found in %s (vmlinuz, initramfs.cpio.gz): build it with "
            "scripts/guest-image --build-dir <build>, or pass --image DIR",
            image);
        return -ENOENT;
    }

    unsigned longest;
    if (!fleet_socket_paths_fit(dir, o->name_prefix, o->count, &longest)) {
        say("state directory %s is too deep: socket paths would be %u bytes, more than the "
            "%d a unix socket allows; use a shorter path",
            dir, longest, FLEET_LAYOUT_SOCKET_MAX);
        return -ENAMETOOLONG;
    }

    enum fleet_accel accel;
    int rc = resolve_accel(o->accel, &accel);
    if (rc != 0)
        return rc;
    uint64_t tsc_khz = o->tsc_khz ? o->tsc_khz : fleet_proc_tsc_khz();
    if (tsc_khz == 0)
        say("warning: could not measure the host TSC rate; guests calibrate on their own");
    rc = fleet_spec_from_options(o, dir, image_abs, qemu, accel, tsc_khz, spec);
    if (rc != 0 || !o->config_dir)
        return rc;
    /* The launcher is where a KSM opt-out takes effect (mem-merge is fixed
     * for QEMU's lifetime). A policy file with errors stops the launch: the
     * guest might be one the admin meant to keep out of KSM. */
    g_autoptr(BallastConfig) cfg = config_load_dir(o->config_dir);
    if (cfg->errors->len) {
        for (guint i = 0; i < cfg->errors->len; i++)
            say("%s", (const char *)cfg->errors->pdata[i]);
        say("policy files in %s have errors: not starting", o->config_dir);
        return -EINVAL;
    }
    fleet_guest_apply_ksm_policy(cfg, spec->prefix, spec->count, spec->memory_bytes, spec->merge);
    return 0;
}

static int write_spec(const struct fleet_spec *spec)
{
    g_autofree char *json = fleet_spec_to_json(spec);
    g_autofree char *path = fleet_file_path(spec->state_dir, NULL, FLEET_FILE_STATE);
    GError *err = NULL;
    if (!g_file_set_contents(path, json, -1, &err)) {
        say("cannot write %s: %s", path, err->message);
        g_error_free(err);
        return -EIO;
    }
    return 0;
}

/* The guest's cgroup DIR/NAME, made, and its cgroup.procs open for the
 * child to join before exec: the fd, or -errno (said why). */
static int guest_cgroup(const char *dir, const char *name)
{
    int rc = fleet_cgroup_make(dir, name);
    if (rc == 0)
        rc = fleet_cgroup_open_procs(dir, name);
    if (rc < 0)
        say("%s: cannot use cgroup %s/%s: %s", name, dir, name, g_strerror(-rc));
    return rc;
}

/*
 * The scratch disk of --disk (fleet_qemu.c, add_disk): a sparse file of
 * MIB MiB, made fresh so that no data of a previous run is read back (the
 * caller has unlinked the old one; O_TRUNC empties one that came back).
 * Refused on tmpfs (-EXDEV): its blocks would be host memory, counted
 * against the very fleet it serves, and QEMU's cache=none (O_DIRECT) fails
 * there before Linux 6.6. Returns 0 or -errno.
 */
static int make_disk(const char *path, unsigned mib)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    struct statfs fs;
    if (fstatfs(fd, &fs) == 0 && (unsigned long)fs.f_type == TMPFS_MAGIC) {
        close(fd);
        g_unlink(path);
        return -EXDEV;
    }
    int rc = ftruncate(fd, (off_t)mib << 20) == 0 ? 0 : -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

/* Creates guest INDEX's directory, clears what a previous run left, makes its
 * scratch disk (--disk), spawns its QEMU. */
static int spawn_guest(const struct fleet_spec *spec, unsigned index, pid_t *launcher)
{
    g_autofree char *name = fleet_guest_name(spec->prefix, index);
    g_autofree char *gdir = fleet_file_path(spec->state_dir, name, FLEET_FILE_GUEST_DIR);
    g_autofree char *qlog = fleet_file_path(spec->state_dir, name, FLEET_FILE_QEMU_LOG);
    g_autofree char *clog = fleet_file_path(spec->state_dir, name, FLEET_FILE_CONSOLE);
    g_autofree char *disk = fleet_file_path(spec->state_dir, name, FLEET_FILE_DISK);
    g_auto(GStrv) argv = fleet_qemu_argv(spec, index);
    if (!gdir || !qlog || !clog || !disk || !argv) {
        say("%s: its paths under %s are too long", name, spec->state_dir);
        return -ENAMETOOLONG;
    }
    if (g_mkdir_with_parents(gdir, 0755) != 0) {
        int err = errno;
        say("cannot create %s: %s", gdir, g_strerror(err));
        return -err;
    }
    remove_guest_runtime_files(spec->state_dir, name);
    g_unlink(qlog);
    g_unlink(clog);
    if (spec->disk_mib) {
        int rc = make_disk(disk, spec->disk_mib);
        if (rc != 0) {
            if (rc == -EXDEV)
                say("%s: its disk %s would be on tmpfs, that is host memory (and no "
                    "cache=none): give --state a directory on a disk-backed file system",
                    name, disk);
            else
                say("%s: cannot create its disk %s: %s", name, disk, g_strerror(-rc));
            return rc;
        }
    }
    int procs = spec->cgroup_dir ? guest_cgroup(spec->cgroup_dir, name) : -1;
    if (spec->cgroup_dir && procs < 0)
        return procs;
    unsigned flags =
        (spec->thp ? FLEET_SPAWN_THP : 0) | (spec->merge[index] ? FLEET_SPAWN_MERGE_ALL : 0);
    int rc = fleet_proc_spawn_in(argv, flags, qlog, procs, launcher);
    if (procs >= 0)
        close(procs);
    if (rc != 0)
        say("%s: cannot start %s: %s", name, spec->qemu, g_strerror(-rc));
    return rc;
}

/* Reaps guest INDEX's daemonizing parent: 0 when its QEMU runs, else says why. */
static int check_started(const struct fleet_spec *spec, unsigned index, pid_t launcher)
{
    g_autofree char *name = fleet_guest_name(spec->prefix, index);
    g_autofree char *qlog = fleet_file_path(spec->state_dir, name, FLEET_FILE_QEMU_LOG);
    g_autofree char *pidfile = fleet_file_path(spec->state_dir, name, FLEET_FILE_PID);
    int code = -1;
    fleet_proc_wait(launcher, &code);
    pid_t pid;
    if (code == 0 && pidfile && fleet_proc_read_pidfile(pidfile, &pid) == 0 &&
        fleet_proc_is_guest(PROC_ROOT, pid, pidfile))
        return 0;
    if (code == FLEET_PROC_EXIT_CGROUP && spec->cgroup_dir) {
        say("%s: could not join cgroup %s/%s (writing its cgroup.procs failed)", name,
            spec->cgroup_dir, name);
        return -ECHILD;
    }
    g_autofree char *tail = console_tail(qlog, 10);
    say("%s: QEMU failed to start (exit %d); %s:\n%s", name, code, qlog, tail);
    return -ECHILD;
}

/* Spawns every QEMU at once and waits for each daemonizing parent to exit. */
static int spawn_all(const struct fleet_spec *spec)
{
    if (spec->cgroup_dir) {
        g_autofree char *note = fleet_cgroup_delegate_memory(spec->cgroup_dir);
        if (note)
            say("warning: %s", note);
    }
    pid_t *launchers = g_new0(pid_t, spec->count);
    int rc = 0;
    for (unsigned i = 0; i < spec->count && rc == 0; i++)
        rc = spawn_guest(spec, i, &launchers[i]);
    for (unsigned i = 0; i < spec->count; i++) {
        if (launchers[i] <= 0)
            continue;
        int started = check_started(spec, i, launchers[i]);
        rc = rc ? rc : started;
    }
    g_free(launchers);
    return rc;
}

static void say_started(const struct fleet_spec *spec, double elapsed_s)
{
    char mem[32];
    size_format(spec->memory_bytes, mem, sizeof(mem));
    unsigned merging = 0;
    for (unsigned i = 0; i < spec->count; i++)
        merging += spec->merge[i];
    printf("fleet: started %u guest(s) %s0..%s%u in %s: %s each, %u vCPU, accel %s, "
           "mem-merge on %u/%u, THP %s, free page reporting %s (%.1fs)\n",
           spec->count, spec->prefix, spec->prefix, spec->count - 1, spec->state_dir, mem,
           spec->cpus, fleet_accel_name(spec->accel), merging, spec->count,
           spec->thp ? "on" : "off", spec->free_page_reporting ? "on" : "off", elapsed_s);
    if (fleet_actuator_has_vmem(spec->actuator))
        printf("fleet: actuator %s: q35, %" G_GUINT64_FORMAT "M at boot, virtio-mem %s plugs "
               "up to %" G_GUINT64_FORMAT "M\n",
               fleet_actuator_name(spec->actuator), spec->boot_memory_bytes >> 20,
               FLEET_VMEM_DEVICE_QOM, spec->max_memory_bytes >> 20);
    if (spec->disk_mib)
        printf("fleet: scratch disk %uM per guest (" FLEET_DISK_FILE ", /dev/vda, cache=none)\n",
               spec->disk_mib);
    fflush(stdout);
}

static int cmd_start(const struct fleet_options *o)
{
    if (g_mkdir_with_parents(o->state_dir, 0755) != 0) {
        say("cannot create state directory %s: %s", o->state_dir, g_strerror(errno));
        return 1;
    }
    g_autofree char *dir = NULL;
    int lock = open_locked_state_dir(o->state_dir, &dir);
    if (lock < 0)
        return 1;
    g_autoptr(GArray) running = fleet_proc_find_in_state_dir(PROC_ROOT, dir);
    if (running->len > 0) {
        say("state directory %s already has a running fleet (%u QEMU process(es)): stop it "
            "first with 'fleet stop --state %s' or use another directory",
            dir, running->len, dir);
        close(lock);
        return 1;
    }

    struct fleet_spec spec;
    if (prepare_start(o, dir, &spec) != 0) {
        close(lock);
        return 1;
    }
    /* A previous fleet here is dead (nothing runs): clear what it left. */
    struct fleet_spec old;
    GError *err = NULL;
    if (load_spec(dir, &old, &err) == 0) {
        stop_fleet(dir, &old, 1);
        fleet_spec_clear(&old);
    }
    g_clear_error(&err);

    int rc = write_spec(&spec);
    double t0 = now_s();
    if (rc == 0)
        rc = spawn_all(&spec);
    if (rc != 0) {
        stop_fleet(dir, &spec, FLEET_DEFAULT_STOP_S);
        say("start failed: stopped the guests already started");
    } else {
        say_started(&spec, now_s() - t0);
        if (o->wait) {
            rc = wait_ready(&spec, o->timeout_s, t0);
            if (rc == 0)
                printf("fleet: all %u guest(s) ready (%.1fs)\n", spec.count, now_s() - t0);
        }
    }
    fleet_spec_clear(&spec);
    close(lock);
    return rc == 0 ? 0 : 1;
}

static int cmd_stop(const struct fleet_options *o)
{
    g_autofree char *dir = NULL;
    int lock = open_locked_state_dir(o->state_dir, &dir);
    if (lock < 0)
        return 1;
    struct fleet_spec spec;
    GError *err = NULL;
    int lrc = load_spec(dir, &spec, &err);
    if (lrc == -EINVAL)
        say("warning: %s; stopping every QEMU of %s anyway", err->message, dir);
    g_clear_error(&err);
    int rc = stop_fleet(dir, lrc == 0 ? &spec : NULL, o->timeout_s);
    if (rc < 0)
        say("some QEMU of %s survived SIGKILL", dir);
    else if (rc == 0 && lrc != 0)
        say("no fleet in %s: nothing to stop", dir);
    else
        printf("fleet: stopped %d guest(s) in %s\n", rc, dir);
    if (lrc == 0)
        fleet_spec_clear(&spec);
    close(lock);
    return rc < 0 ? 1 : 0;
}

struct guest_status {
    char *name;
    pid_t pid; /* 0: none */
    bool alive;
    uint64_t rss_bytes;
};

static void read_guest_status(const char *dir, const struct fleet_spec *spec, unsigned index,
                              struct guest_status *st)
{
    st->name = fleet_guest_name(spec->prefix, index);
    g_autofree char *pidfile = fleet_file_path(dir, st->name, FLEET_FILE_PID);
    if (!pidfile || fleet_proc_read_pidfile(pidfile, &st->pid) != 0)
        st->pid = 0;
    st->alive = st->pid && fleet_proc_is_guest(PROC_ROOT, st->pid, pidfile);
    st->rss_bytes = st->alive ? fleet_proc_rss_bytes(PROC_ROOT, st->pid) : 0;
}

/* member: the path of the guest's file f, or null when it passes its limit. */
static void write_path_member(struct json_writer *w, const char *member, const char *dir,
                              const char *name, enum fleet_file f)
{
    g_autofree char *path = fleet_file_path(dir, name, f);
    json_writer_member_string(w, member, path);
}

static void write_guest_json(struct json_writer *w, const char *dir, const struct fleet_spec *spec,
                             unsigned index, const struct guest_status *st)
{
    json_writer_object_begin(w);
    json_writer_member_string(w, "name", st->name);
    json_writer_key(w, "pid");
    if (st->pid)
        json_writer_int(w, st->pid);
    else
        json_writer_null(w);
    json_writer_member_bool(w, "alive", st->alive);
    json_writer_member_int(w, "memory_bytes", (int64_t)spec->memory_bytes);
    json_writer_member_int(w, "rss_bytes", (int64_t)st->rss_bytes);
    json_writer_member_string(w, "accel", fleet_accel_name(spec->accel));
    json_writer_member_bool(w, "merge", spec->merge[index]);
    json_writer_member_string(w, "actuator", fleet_actuator_name(spec->actuator));
    if (fleet_actuator_has_vmem(spec->actuator)) {
        json_writer_member_int(w, "boot_memory_bytes", (int64_t)spec->boot_memory_bytes);
        json_writer_member_int(w, "max_memory_bytes", (int64_t)spec->max_memory_bytes);
        json_writer_member_string(w, "virtio_mem_device", FLEET_VMEM_DEVICE_QOM);
    }
    write_path_member(w, "qmp_socket", dir, st->name, FLEET_FILE_QMP);
    write_path_member(w, "agent_socket", dir, st->name, FLEET_FILE_AGENT);
    write_path_member(w, "console_log", dir, st->name, FLEET_FILE_CONSOLE);
    json_writer_object_end(w);
}

/* status --json, indented (docs/fleet.md):
 *   {"state_dir": "/run/f", "guests": [{"name": "vm0", "pid": 4242,
 *    "alive": true, "memory_bytes": 268435456, "rss_bytes": 61865984,
 *    "accel": "kvm", "merge": true, "actuator": "balloon",
 *    "qmp_socket": "/run/f/vm0/qmp.sock",
 *    "agent_socket": "/run/f/vm0/agent.sock", "console_log": ...}]} */
static void print_status_json(const char *dir, const struct fleet_spec *spec,
                              const struct guest_status *st)
{
    g_autoptr(GString) out = g_string_new(NULL);
    struct json_writer w;
    json_writer_init_pretty(&w, out);
    json_writer_object_begin(&w);
    json_writer_member_string(&w, "state_dir", dir);
    json_writer_key(&w, "guests");
    json_writer_array_begin(&w);
    for (unsigned i = 0; i < spec->count; i++)
        write_guest_json(&w, dir, spec, i, &st[i]);
    json_writer_array_end(&w);
    json_writer_object_end(&w);
    printf("%s\n", out->str);
}

static void print_status_table(const struct fleet_spec *spec, const struct guest_status *st)
{
    printf("%-12s %8s %-5s %10s %-5s %-5s %10s\n", "NAME", "PID", "ALIVE", "MEMORY", "ACCEL",
           "MERGE", "RSS");
    for (unsigned i = 0; i < spec->count; i++) {
        char pid[16] = "-";
        if (st[i].pid)
            snprintf(pid, sizeof(pid), "%d", (int)st[i].pid);
        char mem[24], rss[24] = "-";
        snprintf(mem, sizeof(mem), "%" G_GUINT64_FORMAT "M", spec->memory_bytes >> 20);
        if (st[i].rss_bytes)
            snprintf(rss, sizeof(rss), "%" G_GUINT64_FORMAT "M", st[i].rss_bytes >> 20);
        printf("%-12s %8s %-5s %10s %-5s %-5s %10s\n", st[i].name, pid, st[i].alive ? "yes" : "no",
               mem, fleet_accel_name(spec->accel), spec->merge[i] ? "on" : "off", rss);
    }
}

static int cmd_status(const struct fleet_options *o)
{
    g_autofree char *dir = realpath(o->state_dir, NULL);
    struct fleet_spec spec;
    GError *err = NULL;
    int rc = dir ? load_spec(dir, &spec, &err) : -ENOENT;
    if (rc != 0) {
        if (rc == -ENOENT)
            say("no fleet in %s", o->state_dir);
        else
            say("%s", err ? err->message : "cannot read " FLEET_STATE_FILE);
        g_clear_error(&err);
        return 1;
    }
    struct guest_status *st = g_new0(struct guest_status, spec.count);
    for (unsigned i = 0; i < spec.count; i++)
        read_guest_status(dir, &spec, i, &st[i]);
    if (o->json)
        print_status_json(dir, &spec, st);
    else
        print_status_table(&spec, st);
    for (unsigned i = 0; i < spec.count; i++)
        g_free(st[i].name);
    g_free(st);
    fleet_spec_clear(&spec);
    return 0;
}

/*
 * Prints one path of the state directory's layout, or a file's bare name
 * without --state. Nothing on disk is looked at: scripts ask before a start
 * and after a stop alike.
 */
static int cmd_path(const struct fleet_options *o)
{
    const struct fleet_file_info *info = fleet_layout_file(o->file);
    if (!o->state_dir) {
        printf("%s\n", info->name);
        return 0;
    }
    char path[FLEET_LAYOUT_PATH_MAX];
    if (fleet_layout_path(path, sizeof(path), o->state_dir, o->guest_name, o->file) != 0) {
        size_t len = fleet_layout_path_len(o->state_dir, o->guest_name, o->file);
        if (info->socket)
            say("%s: the path would be %zu bytes, more than the %d a unix socket allows", info->key,
                len, FLEET_LAYOUT_SOCKET_MAX);
        else
            say("%s: the path would be %zu bytes, more than PATH_MAX allows", info->key, len);
        return 1;
    }
    printf("%s\n", path);
    return 0;
}

static int (*const commands[])(const struct fleet_options *) = {
    [FLEET_CMD_START] = cmd_start,
    [FLEET_CMD_STOP] = cmd_stop,
    [FLEET_CMD_STATUS] = cmd_status,
    [FLEET_CMD_PATH] = cmd_path,
};

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(fleet_usage(), argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ballast-fleet %s\n", BALLAST_VERSION);
        return 0;
    }
    struct fleet_options o;
    GError *err = NULL;
    if (fleet_options_parse(argc, argv, &o, &err) != 0) {
        say("%s", err->message);
        fprintf(stderr, "(ballast-fleet --help lists the commands and options)\n");
        g_error_free(err);
        fleet_options_clear(&o);
        return 2;
    }
    int rc = commands[o.command](&o);
    fleet_options_clear(&o);
    return rc;
}
