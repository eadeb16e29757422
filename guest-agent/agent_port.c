/*
 * Finding the agent's virtio-serial port inside the guest. There is no udev
 * in the tiny guest, so no /dev/virtio-ports/<name> symlink: the port is
 * found by name under /sys/class/virtio-ports/vportNpM/name, and its device
 * node /dev/vportNpM is created from the dev file's major:minor when devtmpfs
 * has not made it. The directory is listed with getdents64 into a stack
 * buffer (opendir would malloc).
 */
#include "agent.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Reads a small sysfs file into buf without its trailing newline. */
static int read_small(const char *dir, const char *entry, const char *file, char *buf, size_t len)
{
    char rel[128];
    int n = snprintf(rel, sizeof(rel), "%s/%s", entry, file);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return -ENAMETOOLONG;
    int fd = procfile_open(dir, rel, O_RDONLY);
    if (fd < 0)
        return fd;
    ssize_t got = read(fd, buf, len - 1);
    int err = errno;
    close(fd);
    if (got < 0)
        return -err;
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\0'))
        got--;
    buf[got] = '\0';
    return 0;
}

static int open_device(const char *sys_ports, const char *entry)
{
    char path[64];
    snprintf(path, sizeof(path), "/dev/%s", entry);
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0 || errno != ENOENT)
        return fd >= 0 ? fd : -errno;
    char dev[32];
    unsigned maj, min;
    if (read_small(sys_ports, entry, "dev", dev, sizeof(dev)) < 0 ||
        sscanf(dev, "%u:%u", &maj, &min) != 2)
        return -ENOENT;
    if (mknod(path, S_IFCHR | 0600, makedev(maj, min)) < 0 && errno != EEXIST)
        return -errno;
    fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    return fd >= 0 ? fd : -errno;
}

int agent_port_open(const char *sys_root, const char *name)
{
    char sys_ports[PROCFILE_PATH_MAX];
    int n = snprintf(sys_ports, sizeof(sys_ports), "%s/class/virtio-ports", sys_root);
    if (n < 0 || (size_t)n >= sizeof(sys_ports))
        return -ENAMETOOLONG;
    int dfd = open(sys_ports, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    _Alignas(8) char buf[2048];
    int result = -ENOENT;
    for (;;) {
        long got = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (got <= 0)
            break;
        for (long off = 0; off < got;) {
            struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] == '.')
                continue;
            char port[128];
            if (read_small(sys_ports, d->d_name, "name", port, sizeof(port)) < 0 ||
                strcmp(port, name) != 0)
                continue;
            result = open_device(sys_ports, d->d_name);
            goto done;
        }
    }
done:
    close(dfd);
    return result;
}

int agent_socket_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A unix connect completes or fails at once (EAGAIN: backlog full, retry). */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}
