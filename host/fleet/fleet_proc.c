/* Spawning, finding and stopping the fleet's QEMU processes. */
#include "fleet_proc.h"
#include "fleet_guest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67 /* linux/prctl.h, 6.4 */
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

int fleet_proc_spawn(char *const *argv, unsigned flags, const char *log_path, pid_t *out_pid)
{
    return fleet_proc_spawn_in(argv, flags, log_path, -1, out_pid);
}

int fleet_proc_spawn_in(char *const *argv, unsigned flags, const char *log_path,
                        int cgroup_procs_fd, pid_t *out_pid)
{
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0)
        return -errno;
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) {
        int rc = -errno;
        close(log_fd);
        return rc;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int rc = -errno;
        close(log_fd);
        close(null_fd);
        return rc;
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only until exec. Into the cgroup
         * first ("0" is the writer itself): every page it allocates from
         * now on is charged there. */
        if (cgroup_procs_fd >= 0 && write(cgroup_procs_fd, "0\n", 2) != 2)
            _exit(FLEET_PROC_EXIT_CGROUP);
        if (!(flags & FLEET_SPAWN_THP) && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0)
            _exit(126);
        /* Not fatal: before Linux 6.4 only guest RAM merges (mem-merge=on). */
        if (flags & FLEET_SPAWN_MERGE_ALL)
            (void)prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0);
        if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
            dup2(log_fd, STDERR_FILENO) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    close(log_fd);
    close(null_fd);
    *out_pid = pid;
    return 0;
}

int fleet_proc_wait(pid_t pid, int *exit_code)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return 0;
}

int fleet_proc_read_pidfile(const char *path, pid_t *out_pid)
{
    g_autofree char *text = NULL;
    GError *err = NULL;
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        int rc = err->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;
        g_error_free(err);
        return rc;
    }
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (errno || end == text || *end != '\0' || v <= 1 || v > INT32_MAX)
        return -EINVAL;
    *out_pid = (pid_t)v;
    return 0;
}

/* Reads /proc/PID/cmdline; NULL if the process is gone or a zombie (empty). */
static char *read_cmdline(const char *proc_root, pid_t pid, size_t *len)
{
    char rel[32];
    snprintf(rel, sizeof(rel), "%d/cmdline", (int)pid);
    g_autofree char *path = g_build_filename(proc_root, rel, NULL);
    char *text = NULL;
    gsize n = 0;
    if (!g_file_get_contents(path, &text, &n, NULL))
        return NULL;
    if (n == 0) {
        g_free(text);
        return NULL;
    }
    *len = n;
    return text;
}

bool fleet_proc_is_guest(const char *proc_root, pid_t pid, const char *pidfile)
{
    size_t len;
    g_autofree char *cmdline = read_cmdline(proc_root, pid, &len);
    return cmdline && fleet_cmdline_has_pidfile(cmdline, len, pidfile);
}

bool fleet_proc_in_state_dir(const char *proc_root, pid_t pid, const char *state_dir)
{
    size_t len;
    g_autofree char *cmdline = read_cmdline(proc_root, pid, &len);
    return cmdline && fleet_cmdline_in_state_dir(cmdline, len, state_dir);
}

GArray *fleet_proc_find_in_state_dir(const char *proc_root, const char *state_dir)
{
    GArray *pids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    DIR *d = opendir(proc_root);
    if (!d)
        return pids;
    struct dirent *e;
    pid_t self = getpid();
    while ((e = readdir(d))) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end != '\0' || v <= 1 || v == self)
            continue;
        pid_t pid = (pid_t)v;
        if (fleet_proc_in_state_dir(proc_root, pid, state_dir))
            g_array_append_val(pids, pid);
    }
    closedir(d);
    return pids;
}

uint64_t fleet_proc_rss_bytes(const char *proc_root, pid_t pid)
{
    char rel[32];
    snprintf(rel, sizeof(rel), "%d/status", (int)pid);
    g_autofree char *path = g_build_filename(proc_root, rel, NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    const char *line = strstr(text, "\nVmRSS:");
    if (!line)
        return 0;
    return g_ascii_strtoull(line + strlen("\nVmRSS:"), NULL, 10) * 1024;
}

bool fleet_proc_merges_all(const char *proc_root, pid_t pid)
{
    char rel[32];
    snprintf(rel, sizeof(rel), "%d/ksm_stat", (int)pid);
    g_autofree char *path = g_build_filename(proc_root, rel, NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return false;
    return strstr(text, "ksm_merge_any: yes") != NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Signals every pid still in the fleet; returns how many were signalled. */
static unsigned signal_all(const char *proc_root, const char *state_dir, const GArray *pids,
                           int sig)
{
    unsigned n = 0;
    for (guint i = 0; i < pids->len; i++) {
        pid_t pid = g_array_index(pids, pid_t, i);
        if (fleet_proc_in_state_dir(proc_root, pid, state_dir) && kill(pid, sig) == 0)
            n++;
    }
    return n;
}

static unsigned count_alive(const char *proc_root, const char *state_dir, const GArray *pids)
{
    unsigned n = 0;
    for (guint i = 0; i < pids->len; i++) {
        if (fleet_proc_in_state_dir(proc_root, g_array_index(pids, pid_t, i), state_dir))
            n++;
    }
    return n;
}

static bool wait_gone(const char *proc_root, const char *state_dir, const GArray *pids,
                      unsigned timeout_ms)
{
    for (unsigned waited = 0;; waited += 50) {
        if (count_alive(proc_root, state_dir, pids) == 0)
            return true;
        if (waited >= timeout_ms)
            return false;
        sleep_ms(50);
    }
}

int fleet_proc_stop(const char *proc_root, const char *state_dir, const GArray *pids,
                    unsigned timeout_ms)
{
    signal_all(proc_root, state_dir, pids, SIGTERM);
    if (wait_gone(proc_root, state_dir, pids, timeout_ms))
        return 0;
    unsigned killed = signal_all(proc_root, state_dir, pids, SIGKILL);
    if (!wait_gone(proc_root, state_dir, pids, 5000))
        return -ETIMEDOUT;
    return (int)killed;
}

static int64_t mono_raw_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint64_t fleet_proc_tsc_khz(void)
{
#if defined(__x86_64__) || defined(__i386__)
    /*
     * Each TSC read is bracketed by two clock reads and timed at their
     * midpoint: in a VM a clock read can take microseconds, which would
     * otherwise bias a 20 ms window by ~100 ppm. Median of three windows.
     */
    uint64_t khz[3] = {0};
    for (int i = 0; i < 3; i++) {
        int64_t a0 = mono_raw_ns();
        uint64_t t0 = __rdtsc();
        int64_t a1 = mono_raw_ns();
        sleep_ms(20);
        int64_t b0 = mono_raw_ns();
        uint64_t t1 = __rdtsc();
        int64_t b1 = mono_raw_ns();
        int64_t ns = (b0 + b1) / 2 - (a0 + a1) / 2;
        if (ns > 0 && t1 > t0)
            khz[i] = (t1 - t0) * 1000000ULL / (uint64_t)ns;
    }
    uint64_t lo = MIN(khz[0], MIN(khz[1], khz[2]));
    uint64_t hi = MAX(khz[0], MAX(khz[1], khz[2]));
    return khz[0] + khz[1] + khz[2] - lo - hi;
#else
    return 0;
#endif
}
