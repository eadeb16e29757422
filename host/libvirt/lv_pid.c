/* Finding a libvirt guest's QEMU process by its -name argument; see lv_pid.h. */
#include "lv_pid.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

/* The value of -name as libvirt writes it: "guest=" + NAME with ',' doubled. */
static bool name_arg_matches(const char *arg, const char *name)
{
    const char *p = arg;
    if (strncmp(p, "guest=", 6) == 0)
        p += 6;
    else
        return strcmp(arg, name) == 0;
    for (const char *n = name; *n; n++) {
        if (*p != *n)
            return false;
        p++;
        if (*n == ',') {
            if (*p != ',')
                return false;
            p++;
        }
    }
    return *p == '\0' || (*p == ',' && p[1] != ',');
}

bool lv_cmdline_is_guest(const char *cmdline, size_t len, const char *name)
{
    if (!name || !name[0])
        return false;
    size_t pos = 0;
    bool prev_is_name = false;
    while (pos < len) {
        const char *arg = cmdline + pos;
        size_t alen = strnlen(arg, len - pos);
        if (pos + alen == len)
            break; /* last argument not NUL-terminated: truncated, ignore */
        if (prev_is_name)
            return name_arg_matches(arg, name);
        prev_is_name = strcmp(arg, "-name") == 0;
        pos += alen + 1;
    }
    return false;
}

static bool read_cmdline(const char *proc_root, const char *pid, char *buf, size_t cap, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s/cmdline", proc_root, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, cap);
    close(fd);
    if (n <= 0)
        return false;
    *len = (size_t)n;
    return true;
}

bool lv_pid_is_guest(const char *proc_root, pid_t pid, const char *name)
{
    char buf[8192];
    char num[32];
    size_t len;
    snprintf(num, sizeof(num), "%d", (int)pid);
    return pid > 0 && read_cmdline(proc_root, num, buf, sizeof(buf), &len) &&
           lv_cmdline_is_guest(buf, len, name);
}

pid_t lv_find_qemu_pid(const char *proc_root, const char *name)
{
    DIR *d = opendir(proc_root);
    if (!d)
        return -1;
    pid_t found = -1;
    struct dirent *de;
    /* -name comes early in libvirt's argv: the first 8 KiB always hold it. */
    char buf[8192];
    while ((de = readdir(d))) {
        if (!g_ascii_isdigit(de->d_name[0]))
            continue;
        size_t len;
        if (read_cmdline(proc_root, de->d_name, buf, sizeof(buf), &len) &&
            lv_cmdline_is_guest(buf, len, name)) {
            found = (pid_t)atoi(de->d_name);
            break;
        }
    }
    closedir(d);
    return found;
}
