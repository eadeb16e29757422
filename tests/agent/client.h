/*
 * A minimal host side of the ballast protocol for tests: blocking-with-
 * timeout frame I/O on a connected socket, built on proto/ exactly as
 * ballastd will use it (one proto_stream per connection).
 */
#ifndef BALLAST_TEST_AGENT_CLIENT_H
#define BALLAST_TEST_AGENT_CLIENT_H

#include "proto.h"

#include <stdint.h>

struct client {
    int fd;
    uint32_t tx_seq;
    struct proto_stream in;
};

/* Connects to a unix socket, retrying for up to timeout_ms. 0 or -errno. */
int client_connect(struct client *c, const char *path, int timeout_ms);

/* Takes an already connected fd. */
void client_attach(struct client *c, int fd);

/*
 * Waits up to timeout_ms for the next valid frame. Returns 1 with *out, 0 on
 * timeout, -EPIPE when the peer closed, another -errno on failure.
 */
int client_next(struct client *c, struct proto_frame *out, int timeout_ms);

/* Like client_next, but skips frames until one of the given type comes. */
int client_wait_type(struct client *c, unsigned type, struct proto_frame *out, int timeout_ms);

/* Sends a frame (seq assigned); returns the seq used or -errno. */
int64_t client_send(struct client *c, struct proto_frame *f);

void client_close(struct client *c);

uint64_t client_now_ms(void);

#endif
