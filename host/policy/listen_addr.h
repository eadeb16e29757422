/*
 * A TCP listening address as an operator writes it in ballastd.conf
 * (`metrics_listen`): "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464", or a
 * bare port "9464", which means loopback. Literal addresses only: ballastd
 * never resolves a name (a daemon that blocks on DNS at start or at a
 * SIGHUP is a daemon that hangs), and "localhost" is spelled 127.0.0.1.
 * Pure (no socket), so the config parser and its tests use it directly.
 */
#ifndef BALLAST_LISTEN_ADDR_H
#define BALLAST_LISTEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535" fits. */
#define LISTEN_ADDR_TEXT_MAX 64

struct listen_addr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network order: 4 bytes for AF_INET */
    uint16_t port;    /* host order, 1 .. 65535 */
    bool loopback;    /* 127.0.0.0/8 or ::1 */
};

/*
 * Parses text (surrounding white space not allowed; the config parser trims
 * it). 0, or -EINVAL with *why a static phrase ("port out of range [1,
 * 65535]", "not an IP address", ...).
 */
int listen_addr_parse(const char *text, struct listen_addr *out, const char **why);

/* "127.0.0.1:9464", "[::1]:9464": the form that parses back to the same. */
void listen_addr_format(const struct listen_addr *a, char *buf, size_t len);

#endif
