/*
 * Process handling of the fleet launcher: start a QEMU with THP off, read
 * pid files, tell whether a pid is still one of our guests, find stray
 * guests of a state directory, stop them. /proc is a parameter.
 */
#ifndef BALLAST_FLEET_PROC_H
#define BALLAST_FLEET_PROC_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* How the child is prepared before it execs QEMU. */
enum {
    /* Leave transparent huge pages on (default: PR_SET_THP_DISABLE, which
     * survives fork and exec: QEMU's guest RAM then stays in 4 KiB pages that
     * the balloon, free page reporting and KSM can return one by one). */
    FLEET_SPAWN_THP = 1u << 0,
    /* PR_SET_MEMORY_MERGE (Linux 6.4; kept across exec since 6.7): all of
     * QEMU's anonymous memory is KSM-mergeable, not only guest RAM. The copy
     * of the guest kernel QEMU keeps for reset (13.5 MiB) is the same in every
     * QEMU of a fleet. A kernel without it refuses the prctl: guest RAM still
     * merges through mem-merge=on, and fleet_proc_merges_all() tells. */
    FLEET_SPAWN_MERGE_ALL = 1u << 1,
};

/*
 * Forks and execs argv[0] with stdin from /dev/null and stdout/stderr
 * appended to log_path, prepared as flags (FLEET_SPAWN_*) say.
 * Returns 0 or -errno.
 */
int fleet_proc_spawn(char *const *argv, unsigned flags, const char *log_path, pid_t *out_pid);

/* True when PID's whole memory is KSM-mergeable (ksm_stat "ksm_merge_any: yes"). */
bool fleet_proc_merges_all(const char *proc_root, pid_t pid);

/* The child's exit code when it could not join its cgroup. */
#define FLEET_PROC_EXIT_CGROUP 125

/*
 * fleet_proc_spawn, and first (when cgroup_procs_fd >= 0, an open
 * cgroup.procs: fleet_cgroup_open_procs) the child moves itself into that
 * cgroup, before exec: it exits FLEET_PROC_EXIT_CGROUP when it cannot.
 */
int fleet_proc_spawn_in(char *const *argv, unsigned flags, const char *log_path,
                        int cgroup_procs_fd, pid_t *out_pid);

/* Waits for a child; *exit_code is its exit status, or 128+signal. */
int fleet_proc_wait(pid_t pid, int *exit_code);

/* Reads a QEMU pid file. Returns 0, -ENOENT, or -EINVAL for garbage. */
int fleet_proc_read_pidfile(const char *path, pid_t *out_pid);

/* True when PID runs (not a zombie) with "-pidfile PIDFILE" on its command line. */
bool fleet_proc_is_guest(const char *proc_root, pid_t pid, const char *pidfile);

/* Pids of every live QEMU whose pid file lives under state_dir/<name>/. */
GArray *fleet_proc_find_in_state_dir(const char *proc_root, const char *state_dir);

/* VmRSS of PID in bytes, 0 when unknown. */
uint64_t fleet_proc_rss_bytes(const char *proc_root, pid_t pid);

/* True when PID runs (not a zombie) as a QEMU of the fleet in state_dir. */
bool fleet_proc_in_state_dir(const char *proc_root, pid_t pid, const char *state_dir);

/*
 * Sends SIGTERM to every pid (QEMU shuts down cleanly and removes its pid
 * file and sockets), waits up to timeout_ms, then SIGKILLs the rest and
 * waits for them too. Each pid is checked to still be a guest of state_dir
 * right before it is signalled, so a reused pid is never hit. Returns how
 * many needed SIGKILL, or -ETIMEDOUT if some survived even that.
 */
int fleet_proc_stop(const char *proc_root, const char *state_dir, const GArray *pids,
                    unsigned timeout_ms);

/* The host TSC rate in kHz measured against CLOCK_MONOTONIC_RAW; 0 if unknown. */
uint64_t fleet_proc_tsc_khz(void);

#endif
