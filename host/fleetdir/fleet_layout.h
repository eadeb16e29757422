/*
 * The fleet state directory's layout, owned here and nowhere else. The
 * launcher (host/fleet) creates it, the fleet VM source (host/vmsource) and
 * the tools read it, scripts ask `ballast-fleet path` (docs/fleet.md):
 *
 *   DIR/fleet.json            the fleet's parameters
 *   DIR/.lock                 flock'd by the launcher's start and stop
 *   DIR/<name>/qmp.sock       QMP monitor (unix socket), ballastd's
 *   DIR/<name>/qmp-admin.sock a second QMP monitor, for an operator or another tool
 *   DIR/<name>/agent.sock     host end of the agent's virtio-serial port
 *   DIR/<name>/pid            QEMU's pid
 *   DIR/<name>/console.log    the guest's serial console
 *   DIR/<name>/qemu.log       QEMU's own stdout and stderr
 *   DIR/<name>/disk.raw       the guest's scratch disk (start --disk), /dev/vda
 *
 * Plain C, no glib, no heap: a path is built into the caller's buffer and
 * checked against the limit of what it is used for, a unix socket address
 * for the sockets, PATH_MAX for the rest.
 */
#ifndef BALLAST_FLEET_LAYOUT_H
#define BALLAST_FLEET_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#define FLEET_QMP_SOCKET "qmp.sock"
/* QEMU serves one client per monitor socket, and ballastd holds qmp.sock:
 * an operator's or another tool's QMP client (the `balloon` ballastd then
 * sees as a foreign target, docs/policy.md) connects here. */
#define FLEET_QMP_ADMIN_SOCKET "qmp-admin.sock"
#define FLEET_AGENT_SOCKET     "agent.sock"
#define FLEET_PID_FILE         "pid"
#define FLEET_CONSOLE_LOG      "console.log"
#define FLEET_QEMU_LOG         "qemu.log"
#define FLEET_DISK_FILE        "disk.raw" /* start --disk only */
#define FLEET_STATE_FILE       "fleet.json"
#define FLEET_LOCK_FILE        ".lock"

/* sun_path holds 108 bytes, NUL included. */
#define FLEET_LAYOUT_SOCKET_MAX 107
/* A buffer that holds any path of a guest whose sockets fit (pid is shorter). */
#define FLEET_LAYOUT_SOCKET_BUF (FLEET_LAYOUT_SOCKET_MAX + 1)
/* Any other path: PATH_MAX, NUL included. */
#define FLEET_LAYOUT_PATH_MAX 4096
/* Guest names: 1..63 of [A-Za-z0-9._-], not starting with '.'. */
#define FLEET_LAYOUT_NAME_MAX 63

enum fleet_file {
    FLEET_FILE_GUEST_DIR, /* DIR/<name> */
    FLEET_FILE_QMP,
    FLEET_FILE_QMP_ADMIN,
    FLEET_FILE_AGENT,
    FLEET_FILE_PID,
    FLEET_FILE_CONSOLE,
    FLEET_FILE_QEMU_LOG,
    FLEET_FILE_DISK,  /* only with start --disk */
    FLEET_FILE_STATE, /* DIR/fleet.json */
    FLEET_FILE_LOCK,  /* DIR/.lock */
    FLEET_FILE_COUNT
};

struct fleet_file_info {
    const char *key;  /* the name `ballast-fleet path` takes: "qmp" */
    const char *name; /* "qmp.sock"; NULL for the guest directory itself */
    bool per_guest;   /* under DIR/<name>/, else directly under DIR */
    bool socket;      /* bound by QEMU: must fit FLEET_LAYOUT_SOCKET_MAX */
};

/* The table row of f, or NULL when f is out of range. */
const struct fleet_file_info *fleet_layout_file(enum fleet_file f);

/* The file whose key is key ("qmp", "agent", "pid", ...): 0 or -EINVAL. */
int fleet_layout_file_from_key(const char *key, enum fleet_file *out);

/* Whether name can be a guest directory: 1..63 of [A-Za-z0-9._-], no leading '.'. */
bool fleet_layout_name_valid(const char *name);

/*
 * Length of the path of f (name NULL for a fleet file), without checking
 * anything: what fleet_layout_path() would write, NUL not counted.
 */
size_t fleet_layout_path_len(const char *dir, const char *name, enum fleet_file f);

/*
 * Writes the path of f into buf: "DIR/<name>/<file>" for a guest's file,
 * "DIR/<name>" for FLEET_FILE_GUEST_DIR, "DIR/<file>" for a fleet file.
 * Returns 0; -EINVAL when dir is empty, f unknown, name invalid, or name
 * given for a fleet file (missing for a guest's); -ENAMETOOLONG when the
 * path passes its limit (FLEET_LAYOUT_SOCKET_MAX for a socket,
 * FLEET_LAYOUT_PATH_MAX - 1 otherwise) or does not fit size. buf is an empty
 * string after any error.
 */
int fleet_layout_path(char *buf, size_t size, const char *dir, const char *name, enum fleet_file f);

/*
 * Whether every file of guest name under dir fits its limit: 0, -EINVAL
 * (bad name or empty dir) or -ENAMETOOLONG. *longest_socket (may be NULL)
 * gets the length of the guest's longest socket path either way.
 */
int fleet_layout_guest_fits(const char *dir, const char *name, size_t *longest_socket);

/*
 * Whether path is "<dir>/<name>/<file of f>" for some name (any non-empty
 * component: the launcher's stop must find every QEMU of DIR). A trailing
 * '/' on dir is not stripped: dir must be spelled as the launcher spells it.
 */
bool fleet_layout_is_guest_file(const char *path, const char *dir, enum fleet_file f);

#endif
