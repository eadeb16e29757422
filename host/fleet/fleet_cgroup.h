/*
 * `ballast-fleet start --cgroup DIR`: each guest's QEMU runs in its own
 * cgroup v2 directory DIR/NAME, so that DIR's memory.current is what the
 * fleet costs the host and ballastd can take DIR as its `memory_cgroup`
 * (docs/config.md): DIR's figures then stand in for the host's, and the
 * fleet's budget is DIR's memory.max / memory.high.
 *
 * That needs a cgroup v2 file system at DIR and the memory controller
 * delegated to DIR (listed in DIR/cgroup.controllers). Whether it is, is a
 * pure decision on data (fleet_cgroup_check: the file system's magic
 * number and the text of cgroup.controllers), so the unit tests feed it
 * a cgroup v1 host, a hybrid one and fixture trees without any cgroup; the
 * probe that reads those from the machine is separate.
 *
 * The QEMU joins its cgroup before it runs a single instruction: the
 * forked child writes "0" (itself) into DIR/NAME/cgroup.procs before
 * exec, so every page it ever allocates is charged there (a process moved
 * later leaves its earlier charges behind), and QEMU's daemonized child
 * inherits the cgroup.
 */
#ifndef BALLAST_FLEET_CGROUP_H
#define BALLAST_FLEET_CGROUP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

enum fleet_cgroup_verdict {
    FLEET_CGROUP_OK = 0,
    FLEET_CGROUP_V1,         /* a cgroup v1 hierarchy, or v1's tmpfs at its root */
    FLEET_CGROUP_NOT_CGROUP, /* another file system */
    FLEET_CGROUP_UNREADABLE, /* cgroup2, but cgroup.controllers cannot be read */
    FLEET_CGROUP_NO_MEMORY,  /* cgroup2, but the memory controller is not delegated */
};

/*
 * Decides whether DIR can hold the fleet's guests: fs_magic is statfs's
 * f_type of DIR, controllers the text of DIR/cgroup.controllers (NULL when
 * it could not be read). Returns the verdict and, unless OK, *why (g_free):
 * "cgroup v2 memory controller not available at DIR: this host uses cgroup
 * v1 ..." and so on.
 */
enum fleet_cgroup_verdict fleet_cgroup_check(const char *dir, uint64_t fs_magic,
                                             const char *controllers, char **why);

/* Whether a space-separated controller list ("cpu io memory pids") names c. */
bool fleet_cgroup_lists(const char *list, const char *c);

/*
 * Reads what fleet_cgroup_check decides on: DIR's file system magic and
 * DIR/cgroup.controllers (*controllers NULL when unreadable; g_free).
 * Returns 0, or -errno when DIR cannot be statfs'd.
 */
int fleet_cgroup_probe(const char *dir, uint64_t *fs_magic, char **controllers);

/*
 * Asks DIR to give its children the memory controller (+memory in
 * DIR/cgroup.subtree_control, unless listed there already), so each guest
 * has its own memory.current. That may be refused (DIR holds processes
 * itself: cgroup v2's no-internal-process rule); the guests' memory is then
 * still charged to DIR as a whole, and the return value says so (g_free;
 * NULL when all went well). Once per start.
 */
char *fleet_cgroup_delegate_memory(const char *dir);

/* Makes DIR/NAME for guest NAME (an existing one is reused). 0 or -errno. */
int fleet_cgroup_make(const char *dir, const char *name);

/* Opens DIR/NAME/cgroup.procs for writing (close-on-exec): the fd the
 * forked child writes "0" into. Returns the fd or -errno. */
int fleet_cgroup_open_procs(const char *dir, const char *name);

/* Removes DIR/NAME once its QEMU is gone (an empty cgroup); errors ignored. */
void fleet_cgroup_remove(const char *dir, const char *name);

#endif
