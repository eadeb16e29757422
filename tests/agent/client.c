/* Test-side protocol client; see client.h. */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t client_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void client_attach(struct client *c, int fd)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    proto_stream_init(&c->in);
}

int client_connect(struct client *c, const char *path, int timeout_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    uint64_t end = client_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            client_attach(c, fd);
            return 0;
        }
        int err = errno;
        close(fd);
        if (client_now_ms() >= end)
            return -err;
        usleep(100 * 1000);
    }
}

int client_next(struct client *c, struct proto_frame *out, int timeout_ms)
{
    uint64_t end = client_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int rc;
        while ((rc = proto_stream_next(&c->in, out)) != 0)
            if (rc > 0)
                return 1;
        uint64_t now = client_now_ms();
        if (now >= end)
            return 0;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        rc = poll(&p, 1, (int)(end - now));
        if (rc < 0 && errno != EINTR)
            return -errno;
        if (rc <= 0)
            continue;
        size_t room;
        uint8_t *dst = proto_stream_space(&c->in, &room);
        ssize_t n = read(c->fd, dst, room);
        if (n == 0)
            return -EPIPE;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        proto_stream_commit(&c->in, (size_t)n);
    }
}

int client_wait_type(struct client *c, unsigned type, struct proto_frame *out, int timeout_ms)
{
    uint64_t end = client_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = client_now_ms();
        if (now >= end)
            return 0;
        int rc = client_next(c, out, (int)(end - now));
        if (rc <= 0 || out->type == type)
            return rc;
    }
}

int64_t client_send(struct client *c, struct proto_frame *f)
{
    uint8_t wire[PROTO_MAX_FRAME_BYTES];
    f->seq = c->tx_seq++;
    int n = proto_encode(f, wire, sizeof(wire));
    if (n < 0)
        return n;
    for (int off = 0; off < n;) {
        ssize_t w = write(c->fd, wire + off, (size_t)(n - off));
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (int)w;
    }
    return f->seq;
}

void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
