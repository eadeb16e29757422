/*
 * service_notify.h — systemd's readiness notification, without libsystemd.
 *
 * Under a Type=notify unit systemd sets $NOTIFY_SOCKET to an AF_UNIX
 * datagram socket (a path, or "@name" in the abstract namespace) and waits
 * for "READY=1" before it counts the service as started; "STOPPING=1" says
 * the service is shutting down (sd_notify(3)). ballastd sends READY=1 once
 * its control socket is bound, so `systemctl start ballastd` returns when
 * ballastctl can connect, and STOPPING=1 when it leaves its main loop.
 * Without $NOTIFY_SOCKET nothing is sent.
 */
#ifndef BALLAST_SERVICE_NOTIFY_H
#define BALLAST_SERVICE_NOTIFY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SERVICE_NOTIFY_ENV "NOTIFY_SOCKET"

struct service_notify {
    bool enabled;
    struct sockaddr_un addr;
    socklen_t addr_len;
};

/* $NOTIFY_SOCKET's value into an address (pure): 0; -EINVAL when it is
 * neither an absolute path nor "@name"; -ENAMETOOLONG when it does not fit. */
int service_notify_address(const char *value, struct sockaddr_un *addr, socklen_t *addr_len);

/* Takes $NOTIFY_SOCKET and unsets it, so no child inherits it: 0 (enabled
 * or not, when unset) or the address's error (left disabled). */
int service_notify_init(struct service_notify *n);

/* One datagram, e.g. "READY=1": 0, or a negative errno; 0 when disabled. */
int service_notify_send(const struct service_notify *n, const char *state);

#endif
