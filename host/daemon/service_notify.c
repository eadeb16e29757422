/* service_notify.c — see service_notify.h. */
#include "service_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int service_notify_address(const char *value, struct sockaddr_un *addr, socklen_t *addr_len)
{
    size_t len = value ? strlen(value) : 0;
    if (len < 2 || (value[0] != '/' && value[0] != '@'))
        return -EINVAL;
    if (len > sizeof(addr->sun_path) - (value[0] == '/')) /* a path keeps its NUL */
        return -ENAMETOOLONG;
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    memcpy(addr->sun_path, value, len);
    /* Abstract: a leading NUL, and the length counts exactly the name's bytes. */
    if (value[0] == '@')
        addr->sun_path[0] = '\0';
    *addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (value[0] == '/'));
    return 0;
}

int service_notify_init(struct service_notify *n)
{
    memset(n, 0, sizeof(*n));
    const char *value = getenv(SERVICE_NOTIFY_ENV);
    if (!value)
        return 0;
    int rc = service_notify_address(value, &n->addr, &n->addr_len);
    n->enabled = rc == 0;
    unsetenv(SERVICE_NOTIFY_ENV);
    return rc;
}

int service_notify_send(const struct service_notify *n, const char *state)
{
    if (!n->enabled)
        return 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    size_t len = strlen(state);
    ssize_t sent =
        sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addr_len);
    int rc = sent < 0 ? -errno : (size_t)sent == len ? 0 : -EMSGSIZE;
    close(fd);
    return rc;
}
