/*
 * Listening addresses (see listen_addr.h). inet_pton does the address; the
 * port is checked by hand because strtoul takes "+1", " 1" and "0x10".
 */
#include "listen_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* "1" .. "65535", digits only. */
static int parse_port(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5)
        return -EINVAL;
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

static bool is_loopback(const struct listen_addr *a)
{
    static const uint8_t v6_loop[16] = {[15] = 1};
    if (a->family == AF_INET)
        return a->addr[0] == 127;
    return memcmp(a->addr, v6_loop, 16) == 0;
}

int listen_addr_parse(const char *text, struct listen_addr *out, const char **why)
{
    char host[LISTEN_ADDR_TEXT_MAX];
    const char *port;
    struct listen_addr a = {.family = AF_INET};
    size_t len = strlen(text);
    *why = NULL;
    if (len == 0 || len >= LISTEN_ADDR_TEXT_MAX) {
        *why = "expected ADDRESS:PORT or PORT";
        return -EINVAL;
    }
    if (text[0] == '[') { /* [v6]:port */
        const char *rb = strchr(text, ']');
        if (!rb || rb[1] != ':') {
            *why = "expected [IPv6]:PORT";
            return -EINVAL;
        }
        memcpy(host, text + 1, (size_t)(rb - text - 1));
        host[rb - text - 1] = '\0';
        port = rb + 2;
        a.family = AF_INET6;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon) { /* a bare port: loopback */
            snprintf(host, sizeof(host), "127.0.0.1");
            port = text;
        } else {
            if (strchr(text, ':') != colon) {
                *why = "an IPv6 address goes in brackets: [::1]:PORT";
                return -EINVAL;
            }
            memcpy(host, text, (size_t)(colon - text));
            host[colon - text] = '\0';
            port = colon + 1;
        }
    }
    if (inet_pton(a.family, host, a.addr) != 1) {
        *why = a.family == AF_INET ? "not an IPv4 address (names are not resolved: write "
                                     "127.0.0.1, not localhost)"
                                   : "not an IPv6 address";
        return -EINVAL;
    }
    if (parse_port(port, &a.port) < 0) {
        *why = "port must be 1 .. 65535";
        return -EINVAL;
    }
    a.loopback = is_loopback(&a);
    *out = a;
    return 0;
}

void listen_addr_format(const struct listen_addr *a, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (!inet_ntop(a->family, a->addr, host, sizeof(host)))
        snprintf(host, sizeof(host), "?");
    if (a->family == AF_INET6)
        snprintf(buf, len, "[%s]:%u", host, (unsigned)a->port);
    else
        snprintf(buf, len, "%s:%u", host, (unsigned)a->port);
}
