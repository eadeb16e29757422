/* The fleet state directory's names and paths; see fleet_layout.h. */
#include "fleet_layout.h"

#include <errno.h>
#include <string.h>

static const struct fleet_file_info files[FLEET_FILE_COUNT] = {
    /* key, file name, per guest, socket */
    [FLEET_FILE_GUEST_DIR] = {"dir", NULL, true, false},
    [FLEET_FILE_QMP] = {"qmp", FLEET_QMP_SOCKET, true, true},
    [FLEET_FILE_QMP_ADMIN] = {"qmp-admin", FLEET_QMP_ADMIN_SOCKET, true, true},
    [FLEET_FILE_AGENT] = {"agent", FLEET_AGENT_SOCKET, true, true},
    [FLEET_FILE_PID] = {"pid", FLEET_PID_FILE, true, false},
    [FLEET_FILE_CONSOLE] = {"console", FLEET_CONSOLE_LOG, true, false},
    [FLEET_FILE_QEMU_LOG] = {"qemu-log", FLEET_QEMU_LOG, true, false},
    [FLEET_FILE_DISK] = {"disk", FLEET_DISK_FILE, true, false},
    [FLEET_FILE_STATE] = {"state", FLEET_STATE_FILE, false, false},
    [FLEET_FILE_LOCK] = {"lock", FLEET_LOCK_FILE, false, false},
};

const struct fleet_file_info *fleet_layout_file(enum fleet_file f)
{
    return (unsigned)f < FLEET_FILE_COUNT ? &files[f] : NULL;
}

int fleet_layout_file_from_key(const char *key, enum fleet_file *out)
{
    for (unsigned f = 0; key && f < FLEET_FILE_COUNT; f++) {
        if (strcmp(key, files[f].key) == 0) {
            *out = (enum fleet_file)f;
            return 0;
        }
    }
    return -EINVAL;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool fleet_layout_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > FLEET_LAYOUT_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name_char(name[i]))
            return false;
    }
    return true;
}

size_t fleet_layout_path_len(const char *dir, const char *name, enum fleet_file f)
{
    const struct fleet_file_info *info = fleet_layout_file(f);
    size_t len = dir ? strlen(dir) : 0;
    if (info && info->per_guest)
        len += 1 + (name ? strlen(name) : 0);
    if (info && info->name)
        len += 1 + strlen(info->name);
    return len;
}

/* The checks of fleet_layout_path() that do not depend on the buffer. */
static int check_path(const char *dir, const char *name, enum fleet_file f)
{
    const struct fleet_file_info *info = fleet_layout_file(f);
    if (!info || !dir || dir[0] == '\0')
        return -EINVAL;
    if (info->per_guest ? !fleet_layout_name_valid(name) : name != NULL)
        return -EINVAL;
    size_t limit = info->socket ? FLEET_LAYOUT_SOCKET_MAX : FLEET_LAYOUT_PATH_MAX - 1;
    return fleet_layout_path_len(dir, name, f) > limit ? -ENAMETOOLONG : 0;
}

/* Appends "/" (unless first) and part at *at; the caller has checked the room. */
static void append(char *buf, size_t *at, const char *part)
{
    size_t n = strlen(part);
    if (*at > 0)
        buf[(*at)++] = '/';
    memcpy(buf + *at, part, n);
    *at += n;
}

int fleet_layout_path(char *buf, size_t size, const char *dir, const char *name, enum fleet_file f)
{
    if (buf && size > 0)
        buf[0] = '\0';
    int rc = check_path(dir, name, f);
    if (rc < 0)
        return rc;
    if (!buf || fleet_layout_path_len(dir, name, f) >= size)
        return -ENAMETOOLONG;
    size_t at = 0;
    append(buf, &at, dir);
    if (files[f].per_guest)
        append(buf, &at, name);
    if (files[f].name)
        append(buf, &at, files[f].name);
    buf[at] = '\0';
    return 0;
}

int fleet_layout_guest_fits(const char *dir, const char *name, size_t *longest_socket)
{
    size_t longest = 0;
    int rc = 0;
    for (unsigned i = 0; i < FLEET_FILE_COUNT; i++) {
        enum fleet_file f = (enum fleet_file)i;
        if (!files[f].per_guest)
            continue;
        size_t len = fleet_layout_path_len(dir, name, f);
        if (files[f].socket && len > longest)
            longest = len;
        if (rc == 0)
            rc = check_path(dir, name, f); /* a bad name fails the first file already */
    }
    if (longest_socket)
        *longest_socket = longest;
    return rc;
}

bool fleet_layout_is_guest_file(const char *path, const char *dir, enum fleet_file f)
{
    const struct fleet_file_info *info = fleet_layout_file(f);
    if (!path || !dir || !info || !info->per_guest || !info->name)
        return false;
    size_t n = strlen(dir);
    if (n == 0 || strncmp(path, dir, n) != 0 || path[n] != '/')
        return false;
    const char *name = path + n + 1;
    const char *slash = strchr(name, '/');
    return slash && slash > name && strcmp(slash + 1, info->name) == 0;
}
