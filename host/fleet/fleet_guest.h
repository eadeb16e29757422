/*
 * Per-guest decisions of the fleet launcher, pure: a guest's name, its files
 * in the state directory, and whether its RAM may be merged by KSM. Other
 * tools rely on the names (<prefix><i>, i from 0) and the layout.
 */
#ifndef BALLAST_FLEET_GUEST_H
#define BALLAST_FLEET_GUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Files of guest NAME under DIR/NAME/. */
#define FLEET_QMP_SOCKET   "qmp.sock"
#define FLEET_AGENT_SOCKET "agent.sock"
#define FLEET_CONSOLE_LOG  "console.log"
#define FLEET_PID_FILE     "pid"
#define FLEET_QEMU_LOG     "qemu.log"
/* The fleet's parameters, read by status and stop. */
#define FLEET_STATE_FILE "fleet.json"
/* Name of the virtio-serial port the agent looks for in the guest. */
#define FLEET_AGENT_PORT "org.ballast.agent.0"
/* The line /init prints once the guest is up (scripts/guest/init). */
#define FLEET_READY_MARKER "ballast-guest: ready"
/* sun_path holds 108 bytes, NUL included. */
#define FLEET_MAX_SOCKET_PATH 107

/* "<prefix><index>", e.g. vm0. Caller frees. */
char *fleet_guest_name(const char *prefix, unsigned index);

/* "<state_dir>/<name>/<file>" (file NULL: the guest's directory). Caller frees. */
char *fleet_guest_path(const char *state_dir, const char *name, const char *file);

/*
 * Whether guest NAME gets mem-merge=on (its RAM advertised to KSM). no_merge
 * is the --no-merge list: "all" or guest names; NULL or empty means every
 * guest merges. Kept apart so per-VM policy can decide it later.
 */
bool fleet_guest_merge(const char *const *no_merge, const char *name);

struct config;
/*
 * The per-VM KSM opt-out of ballastd's policy files (key `ksm`, see
 * docs/config.md): clears merge[i] for every guest whose policy says
 * ksm = false. It only ever turns merging off: --no-merge and the policy
 * both have to allow it. cfg may be NULL (no --config-dir).
 */
void fleet_guest_apply_ksm_policy(const struct config *cfg, const char *prefix, unsigned count,
                                  uint64_t memory_bytes, bool *merge);

/*
 * Whether every socket of a fleet of COUNT guests under state_dir fits in a
 * unix socket address; returns the longest path's length in *longest.
 */
bool fleet_socket_paths_fit(const char *state_dir, const char *prefix, unsigned count,
                            unsigned *longest);

/*
 * Whether a process command line (/proc/PID/cmdline: NUL-separated, len
 * bytes) is a fleet QEMU: "-pidfile" followed by exactly pidfile. This is how
 * stop makes sure a pid read from a file is still that guest before it
 * signals it.
 */
bool fleet_cmdline_has_pidfile(const char *cmdline, size_t len, const char *pidfile);

/*
 * Same, for any guest of the fleet in state_dir: a "-pidfile" argument
 * "<state_dir>/<name>/pid". Finds QEMUs whose pid file is gone.
 */
bool fleet_cmdline_in_state_dir(const char *cmdline, size_t len, const char *state_dir);

#endif
