/*
 * ballastd: the host daemon. Parses argv, checks the configuration, opens
 * the control socket, wires signals into the GMainLoop and runs it; the
 * manager (manager.c) does the work. Single-threaded.
 *
 * VM sources: --fleet DIR (guests of scripts/fleet, over QMP) and/or
 * --libvirt [URI] (running libvirt domains, default qemu:///system); at
 * least one. The control socket is /run/ballast/ballastd.sock unless
 * --socket or $BALLAST_SOCKET say otherwise (ballastctl asks the same,
 * control.h); the policy directory is /etc/ballast when it exists.
 *
 * Beside the control socket, a read-only one (ballastd.ro.sock, mode 0666
 * or ro_socket_group's 0660) serves status, explain, metrics and ping to
 * any user; changes stay on the root-only socket.
 *
 * On SIGTERM/SIGINT the balloons stay where they are, or with on_exit =
 * release every managed VM gets its max_memory back before the exit.
 *
 * Exit codes: 0 clean exit (SIGTERM/SIGINT) or a clean --check-config;
 * 1 runtime error (cannot watch the fleet, cannot bind the control socket);
 * 2 usage or configuration error.
 */
#include "config.h"
#include "control.h"
#include "ctlserver.h"
#include "fd_watch.h"
#include "log_fields.h"
#include "manager.h"
#include "service_notify.h"
#include "vmsource_libvirt.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

struct daemon {
    GMainLoop *loop;
    struct manager *manager;
    struct service_notify notify; /* systemd's $NOTIFY_SOCKET, if any */
};

/* --libvirt takes an optional URI: `--libvirt`, `--libvirt URI` or `--libvirt=URI`. */
static char *libvirt_uri;

static gboolean on_libvirt_opt(const char *name, const char *value, gpointer data, GError **error)
{
    g_free(libvirt_uri);
    libvirt_uri = g_strdup(value && value[0] ? value : LV_DEFAULT_URI);
    return TRUE;
}

/* --check-config takes an optional DIR the same way; without one it checks
 * --config-dir, else the default directory. */
static gboolean check_config;
static char *check_config_dir;

static gboolean on_check_config_opt(const char *name, const char *value, gpointer data,
                                    GError **error)
{
    check_config = TRUE;
    g_free(check_config_dir);
    check_config_dir = g_strdup(value && value[0] ? value : NULL);
    return TRUE;
}

/*
 * SIGTERM and SIGINT stop the loop, SIGHUP reloads the policy files. They
 * arrive on a signalfd the main loop watches: g_unix_signal_add() would start
 * GLib's worker thread (a second thread with its stack and malloc arena) only
 * to forward them.
 */
static int signals_open(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static gboolean on_signal(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct daemon *d = data;
    struct signalfd_siginfo si;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            manager_reload(d->manager);
        } else {
            g_message("signal received: exiting");
            g_main_loop_quit(d->loop);
        }
    }
    return G_SOURCE_CONTINUE;
}

/* Two sockets per guest (QMP and agent): a few hundred guests pass the usual
 * soft limit of 1024 descriptors. GLib polls with poll(), not select(), so
 * descriptors above 1024 are fine: take the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            g_warning("cannot raise the open file limit: %s", g_strerror(errno));
    }
}

/*
 * GLib before 2.76 takes small blocks (json-glib's nodes and lists, GLib's
 * own lists) from GSlice, whose per-thread magazines keep freed chunks for
 * good: after a burst of QMP replies the daemon kept their memory (40 KiB
 * with 32 fake guests, more after a real fleet's shrink). With
 * G_SLICE=always-malloc they go back to malloc, and the tick's malloc_trim
 * returns the pages. GLib reads G_SLICE before main() runs, so ballastd sets
 * it and executes itself again, once. GLib 2.76 dropped the GSlice cache.
 */
static void gslice_to_malloc(char **argv)
{
    if (getenv("G_SLICE") || !glib_check_version(2, 76, 0))
        return;
    if (setenv("G_SLICE", "always-malloc", 1) < 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("G_SLICE"); /* no /proc: carry on with GSlice */
}

/* What argv asked for. */
struct args {
    char *fleet_dir, *socket_path, *config_dir, *proc_root, *ksm_sysfs_root, *log_format;
    char *state_file;
    gboolean dry_run, verbose, version;
};

static void args_clear(struct args *a)
{
    g_free(a->fleet_dir);
    g_free(a->socket_path);
    g_free(a->config_dir);
    g_free(a->proc_root);
    g_free(a->ksm_sysfs_root);
    g_free(a->log_format);
    g_free(a->state_file);
    g_clear_pointer(&libvirt_uri, g_free);
    g_clear_pointer(&check_config_dir, g_free);
}

/* 0 to go on, else an exit code (the error said). */
static int parse_args(int *argc, char ***argv, struct args *a)
{
    GOptionEntry entries[] = {
        {"fleet", 0, 0, G_OPTION_ARG_FILENAME, &a->fleet_dir, "Fleet state directory to manage",
         "DIR"},
        {"libvirt", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, on_libvirt_opt,
         "Manage the running domains of this libvirt URI (default " LV_DEFAULT_URI ")", "[URI]"},
        {"socket", 0, 0, G_OPTION_ARG_FILENAME, &a->socket_path,
         "Control socket path (default $" CTL_SOCKET_ENV ", else " CTL_DEFAULT_SOCKET ")", "PATH"},
        {"config-dir", 0, 0, G_OPTION_ARG_FILENAME, &a->config_dir,
         "Policy directory: ballastd.conf, <vm>.conf (default " BALLAST_CONFIG_DIR
         " if it exists, else built-in defaults)",
         "DIR"},
        {"state-file", 0, 0, G_OPTION_ARG_FILENAME, &a->state_file,
         "Keep hold-downs, stalls, runtime policy and targets across restarts here, or none "
         "(default: state_file of ballastd.conf, auto: beside the control socket)",
         "PATH"},
        {"dry-run", 0, 0, G_OPTION_ARG_NONE, &a->dry_run,
         "Compute and log decisions, change nothing", NULL},
        {"check-config", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, on_check_config_opt,
         "Check DIR (else --config-dir, else " BALLAST_CONFIG_DIR
         "), print each error, exit (0 clean, 2 errors)",
         "[DIR]"},
        {"proc-root", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &a->proc_root,
         "Read host /proc from here (tests)", "DIR"},
        {"ksm-sysfs-root", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &a->ksm_sysfs_root,
         "Read and tune KSM here instead of /sys/kernel/mm/ksm (tests)", "DIR"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &a->verbose, "Debug logging", NULL},
        {"log-format", 0, 0, G_OPTION_ARG_STRING, &a->log_format,
         "Log to stderr as text (default) or as fields: a JSON object a record", "text|fields"},
        {"version", 0, 0, G_OPTION_ARG_NONE, &a->version, "Print the version", NULL},
        G_OPTION_ENTRY_NULL,
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- ballast memory balloon daemon");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(
        ctx, "Exit status: 0 ok, 1 runtime error, 2 usage or configuration error.\n"
             "Signals: SIGHUP reloads --config-dir; SIGTERM/SIGINT exit cleanly.\n");
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
        fprintf(stderr, "ballastd: %s\n", error->message);
        return EXIT_USAGE;
    }
    return 0;
}

/* --check-config [DIR]: the strict check, an exit code. */
static int check_config_only(const char *config_dir)
{
    if (check_config_dir && config_dir && strcmp(check_config_dir, config_dir) != 0) {
        fprintf(stderr, "ballastd: --check-config %s and --config-dir %s: which one?\n",
                check_config_dir, config_dir);
        return EXIT_USAGE;
    }
    if (check_config_dir)
        config_dir = check_config_dir;
    else if (!config_dir)
        config_dir = BALLAST_CONFIG_DIR;
    g_autoptr(GPtrArray) errors = NULL;
    guint n = config_check_dir(config_dir, &errors);
    for (guint i = 0; errors && i < errors->len; i++)
        fprintf(stderr, "%s\n", (const char *)errors->pdata[i]);
    printf("%s: %u error%s\n", config_dir, n, n == 1 ? "" : "s");
    return n ? EXIT_USAGE : 0;
}

/* Tells systemd (Type=notify) a state; a failure is said, never fatal. */
static void notify_service(const struct daemon *d, const char *state)
{
    int rc = service_notify_send(&d->notify, state);
    if (rc < 0)
        g_warning("cannot tell systemd %s: %s", state, g_strerror(-rc));
}

/*
 * The read-only socket beside the control socket, for monitoring without
 * root. Never fatal: without it root still has the read-write socket, and
 * an unknown ro_socket_group leaves it closed rather than open to all.
 */
static struct ctlserver *open_ro_socket(const char *rw_path, struct manager *m)
{
    g_autofree char *path = ctl_ro_socket_path(rw_path);
    const char *group = manager_ro_socket_group(m);
    gid_t gid = (gid_t)-1;
    if (group[0]) {
        struct group *gr = getgrnam(group);
        if (!gr) {
            g_warning("ro_socket_group = %s: no such group; read-only socket %s not opened", group,
                      path);
            return NULL;
        }
        gid = gr->gr_gid;
    }
    g_autoptr(GError) error = NULL;
    struct ctlserver *ro = ctlserver_new_ro(path, rw_path, gid, manager_handle_request, m, &error);
    if (!ro)
        g_warning("read-only control socket: %s; only root can ask ballastd", error->message);
    return ro;
}

/* Starts the manager and the control socket, runs the loop; an exit code. */
static int run(const struct args *a, int sig_fd)
{
    struct daemon d = {.loop = g_main_loop_new(NULL, FALSE)};
    g_autofree char *notify_value = g_strdup(g_getenv(SERVICE_NOTIFY_ENV));
    int rc = service_notify_init(&d.notify);
    if (rc < 0)
        g_warning("$" SERVICE_NOTIFY_ENV " '%s': %s; systemd is not told when ballastd is ready",
                  notify_value, g_strerror(-rc));
    struct manager_options mo = {
        .fleet_dir = a->fleet_dir,
        .libvirt_uri = libvirt_uri,
        .config_dir = a->config_dir,
        .proc_root = a->proc_root ? a->proc_root : "/proc",
        .ksm_sysfs_root = a->ksm_sysfs_root,
        .dry_run = a->dry_run,
        .socket_path = a->socket_path,
        .state_file = a->state_file,
    };
    d.manager = manager_new(&mo);
    int status = 0;
    struct ctlserver *ctl = NULL, *ro = NULL;
    g_autoptr(GError) error = NULL;
    /*
     * The control socket first: binding it is how a second ballastd learns
     * that one already runs, and it must learn that before manager_start
     * reads the state file, takes over balloons or touches ksmd. Requests
     * wait in the listen backlog until the loop runs, after the start.
     */
    ctl = ctlserver_new(a->socket_path, manager_handle_request, d.manager, &error);
    if (!ctl) {
        g_critical("control socket: %s", error->message);
        status = EXIT_RUNTIME;
        goto out;
    }
    if (manager_start(d.manager, &error) < 0) {
        g_critical("%s", error ? error->message : "cannot start");
        status = EXIT_RUNTIME;
        goto out;
    }
    ro = open_ro_socket(a->socket_path, d.manager);
    guint sig_id = fd_watch_add(sig_fd, G_IO_IN, on_signal, &d);
    {
        g_autofree char *ro_path =
            ctl_ro_socket_path(a->socket_path); /* a block: `goto out` skips it */
        g_message("ballastd %s ready, control socket %s%s%s", BALLAST_VERSION, a->socket_path,
                  ro ? ", read-only " : "", ro ? ro_path : "");
    }
    notify_service(&d, "READY=1"); /* ballastctl can connect from now on */
    g_main_loop_run(d.loop);
    notify_service(&d, "STOPPING=1");
    g_source_remove(sig_id);
    if (manager_exit_releases(d.manager))
        manager_release(d.manager); /* on_exit = release: balloons given back first */
out:
    ctlserver_free(ro);
    ctlserver_free(ctl);
    manager_free(d.manager);
    g_main_loop_unref(d.loop);
    return status;
}

/*
 * What argv left out, for a run: the control socket ($BALLAST_SOCKET, else
 * the default, whose directory is made when missing: systemd makes it as
 * the RuntimeDirectory, a ballastd started by hand makes it itself) and the
 * policy directory (the default one when it exists, else built-in
 * defaults). 0 or an exit code.
 */
static int fill_defaults(struct args *a)
{
    if (!a->socket_path) {
        a->socket_path = g_strdup(ctl_socket_path(NULL));
        if (strcmp(a->socket_path, CTL_DEFAULT_SOCKET) == 0 &&
            g_mkdir(CTL_DEFAULT_SOCKET_DIR, 0755) < 0 && errno != EEXIST) {
            g_critical("control socket: cannot create " CTL_DEFAULT_SOCKET_DIR ": %s",
                       g_strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    if (!a->config_dir) {
        if (g_file_test(BALLAST_CONFIG_DIR, G_FILE_TEST_IS_DIR))
            a->config_dir = g_strdup(BALLAST_CONFIG_DIR);
        else
            g_message("no " BALLAST_CONFIG_DIR ": built-in policy defaults");
    }
    return 0;
}

/* Everything after argv is parsed: an exit code. */
static int daemon_main(int argc, char **argv, struct args *a)
{
    if (a->version) {
        printf("ballastd %s\n", BALLAST_VERSION);
        return 0;
    }
    if (a->log_format && log_fields_install(a->log_format) < 0) {
        fprintf(stderr, "ballastd: --log-format must be text or fields\n");
        return EXIT_USAGE;
    }
    if (a->verbose)
        g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
    if (argc > 1) {
        fprintf(stderr, "ballastd: unexpected argument '%s' (ballastd --help)\n", argv[1]);
        return EXIT_USAGE;
    }
    if (check_config)
        return check_config_only(a->config_dir);
    if (!a->fleet_dir && !libvirt_uri) {
        fprintf(stderr, "ballastd: no VM source: give --fleet DIR and/or --libvirt [URI]\n"
                        "usage: ballastd {--fleet DIR | --libvirt [URI]}... [--socket PATH] "
                        "[--config-dir DIR] [--dry-run]\n"
                        "                [--log-format=text|fields] [--state-file PATH|none] [-v]\n"
                        "       ballastd --check-config [DIR]\n");
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    int status = fill_defaults(a);
    if (status != 0)
        return status;
    raise_fd_limit();
    int sig_fd = signals_open();
    if (sig_fd < 0) {
        g_critical("cannot receive signals: %s", g_strerror(-sig_fd));
        return EXIT_RUNTIME;
    }
    status = run(a, sig_fd);
    close(sig_fd);
    return status;
}

int main(int argc, char **argv)
{
    gslice_to_malloc(argv);
    struct args a = {0};
    int status = parse_args(&argc, &argv, &a);
    if (status == 0)
        status = daemon_main(argc, argv, &a);
    args_clear(&a);
    return status;
}
