/*
 * Per-guest decisions of the fleet launcher, pure: a guest's name, its files
 * in the state directory, and whether its RAM may be merged by KSM. Other
 * tools rely on the names (<prefix><i>, i from 0); the directory layout
 * itself is host/fleetdir/fleet_layout.h's.
 */
#ifndef BALLAST_FLEET_GUEST_H
#define BALLAST_FLEET_GUEST_H

#include "fleet_layout.h"
#include "proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* Name of the virtio-serial port the agent looks for in the guest. */
#define FLEET_AGENT_PORT PROTO_AGENT_PORT_NAME
/* The line /init prints once the guest is up (scripts/guest/init). */
#define FLEET_READY_MARKER "ballast-guest: ready"

/* "<prefix><index>", e.g. vm0. Caller frees. */
char *fleet_guest_name(const char *prefix, unsigned index);

/*
 * fleet_layout_path() as a new string (name NULL for a fleet file such as
 * FLEET_FILE_STATE). NULL when the path is refused: a bad name, or longer
 * than its limit (a socket over the unix limit). Caller frees.
 */
char *fleet_file_path(const char *state_dir, const char *name, enum fleet_file file);

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
 * Whether every file of a fleet of COUNT guests under state_dir fits its
 * limit (the sockets a unix socket address); returns the longest socket
 * path's length in *longest.
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
