/*
 * The launcher's cgroup v2 placement; see fleet_cgroup.h. The check is a
 * pure function of what the probe read, so every refusal message is
 * unit-tested without a cgroup.
 */
#include "fleet_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

/* cgroup.controllers is one short line; anything longer is not it. */
#define CONTROLLERS_MAX_BYTES 4096

bool fleet_cgroup_lists(const char *list, const char *c)
{
    if (!list || !c || !c[0])
        return false;
    size_t n = strlen(c);
    for (const char *p = list; (p = strstr(p, c)) != NULL; p += n) {
        bool start = p == list || g_ascii_isspace(p[-1]);
        bool end = p[n] == '\0' || g_ascii_isspace(p[n]);
        if (start && end)
            return true;
    }
    return false;
}

static enum fleet_cgroup_verdict refuse(enum fleet_cgroup_verdict v, char **why, const char *dir,
                                        const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static enum fleet_cgroup_verdict refuse(enum fleet_cgroup_verdict v, char **why, const char *dir,
                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *tail = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    *why = g_strdup_printf("cgroup v2 memory controller not available at %s: %s", dir, tail);
    return v;
}

enum fleet_cgroup_verdict fleet_cgroup_check(const char *dir, uint64_t fs_magic,
                                             const char *controllers, char **why)
{
    *why = NULL;
    if (fs_magic == CGROUP_SUPER_MAGIC)
        return refuse(FLEET_CGROUP_V1, why, dir,
                      "this host uses cgroup v1 (%s is on a v1 hierarchy); boot with "
                      "systemd.unified_cgroup_hierarchy=1, or start without --cgroup",
                      dir);
    /* On a v1 (or hybrid) host /sys/fs/cgroup is the tmpfs holding the v1
     * hierarchies; elsewhere a tmpfs is just not a cgroup. */
    if (fs_magic == TMPFS_MAGIC && g_str_has_prefix(dir, "/sys/fs/cgroup"))
        return refuse(FLEET_CGROUP_V1, why, dir,
                      "this host uses cgroup v1 (%s is the tmpfs that holds the v1 "
                      "hierarchies); boot with systemd.unified_cgroup_hierarchy=1, or start "
                      "without --cgroup",
                      dir);
    if (fs_magic != CGROUP2_SUPER_MAGIC)
        return refuse(FLEET_CGROUP_NOT_CGROUP, why, dir,
                      "not a cgroup file system (type 0x%llx); give a directory under "
                      "/sys/fs/cgroup",
                      (unsigned long long)fs_magic);
    if (!controllers)
        return refuse(FLEET_CGROUP_UNREADABLE, why, dir, "cannot read %s/cgroup.controllers", dir);
    if (!fleet_cgroup_lists(controllers, "memory")) {
        g_autofree char *list = g_strstrip(g_strdup(controllers));
        return refuse(FLEET_CGROUP_NO_MEMORY, why, dir,
                      "its cgroup.controllers (\"%s\") lacks memory: the parent does not "
                      "delegate it (add +memory to the parent's cgroup.subtree_control; a "
                      "hybrid host keeps memory on cgroup v1)",
                      list);
    }
    return FLEET_CGROUP_OK;
}

int fleet_cgroup_probe(const char *dir, uint64_t *fs_magic, char **controllers)
{
    *controllers = NULL;
    struct statfs st;
    if (statfs(dir, &st) != 0)
        return -errno;
    *fs_magic = (uint64_t)st.f_type;
    g_autofree char *path = g_build_filename(dir, "cgroup.controllers", NULL);
    char *text = NULL;
    gsize len = 0;
    if (g_file_get_contents(path, &text, &len, NULL) && len < CONTROLLERS_MAX_BYTES &&
        !memchr(text, '\0', len))
        *controllers = text;
    else
        g_free(text);
    return 0;
}

/* Writes text to DIR/file (an existing cgroup interface file). */
static int write_file(const char *dir, const char *file, const char *text)
{
    g_autofree char *path = g_build_filename(dir, file, NULL);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : n < 0 ? -errno : -EIO;
    close(fd);
    return rc;
}

char *fleet_cgroup_delegate_memory(const char *dir)
{
    g_autofree char *sub = g_build_filename(dir, "cgroup.subtree_control", NULL);
    g_autofree char *enabled = NULL;
    if (g_file_get_contents(sub, &enabled, NULL, NULL) && fleet_cgroup_lists(enabled, "memory"))
        return NULL;
    int rc = write_file(dir, "cgroup.subtree_control", "+memory");
    if (rc == 0)
        return NULL;
    return g_strdup_printf("%s: +memory in cgroup.subtree_control refused (%s): the guests' "
                           "memory is charged to %s as a whole, with no figures per guest",
                           dir, g_strerror(-rc), dir);
}

int fleet_cgroup_make(const char *dir, const char *name)
{
    g_autofree char *gdir = g_build_filename(dir, name, NULL);
    if (g_mkdir(gdir, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int fleet_cgroup_open_procs(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, "cgroup.procs", NULL);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void fleet_cgroup_remove(const char *dir, const char *name)
{
    g_autofree char *gdir = g_build_filename(dir, name, NULL);
    g_rmdir(gdir);
}
