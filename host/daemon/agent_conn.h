/*
 * ballastd's end of one guest agent channel: a unix socket client to the
 * host side of the guest's virtio-serial port (DIR/<vm>/agent.sock, where
 * QEMU listens), decoding with proto's streaming decoder.
 *
 * The guest is untrusted. Any byte that is not part of a valid frame, a frame
 * in the wrong direction or before HELLO, or a flood of frames, disconnects
 * the agent and counts a reject; the retry then waits longer, so a hostile
 * guest costs ballastd a read per minute, not a core. A well-formed frame
 * nobody asked for (an answer to nothing, PRESSURE without the capability)
 * is ignored and counted, and AGENT_MAX_VIOLATIONS of them on a connection
 * are a reject too (agent_frames.h). The lines a guest can cause are
 * rate-limited per connection (log_limit.h). The connection's
 * state is embedded in the VM's state; the stream decoder's frame buffer
 * (~620 bytes) is allocated only while a frame is partly read and freed
 * between frames, so an idle fleet of 64 agents holds no frame buffers.
 */
#ifndef BALLAST_AGENT_CONN_H
#define BALLAST_AGENT_CONN_H

#include "agent_frames.h"
#include "fd_group.h"
#include "log_limit.h"
#include "proto.h"

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#define AGENT_BACKOFF_MIN_MS 500
#define AGENT_BACKOFF_MAX_MS 10000
/* After a reject the first retry waits this long, doubling up to the cap. */
#define AGENT_REJECT_BACKOFF_MIN_MS 5000
#define AGENT_REJECT_BACKOFF_MAX_MS 60000
/* More frames than this in one second is a flood (an honest agent sends ~1). */
#define AGENT_MAX_FRAMES_PER_S 100

enum agent_state {
    AGENT_DOWN,      /* not connected; a retry may be scheduled */
    AGENT_CONNECTED, /* socket up, waiting for HELLO */
    AGENT_READY,     /* HELLO seen, WELCOME and CONFIG sent */
};

struct agent_events {
    /* A REPORT (pressure false) or PRESSURE (pressure true, triggers set) arrived. */
    void (*report)(void *ctx, const struct proto_report *report, bool pressure, uint32_t triggers);
    /* The agent became READY (up) or went DOWN. */
    void (*state)(void *ctx, bool up);
};

struct agent_conn {
    const char *name; /* for logs; borrowed from the owner */
    char path[108];   /* sun_path */
    int fd;
    struct fd_group *group;        /* watches fd, with the fleet's other agents */
    struct fd_group_member member; /* our place in it */
    guint retry_id;
    guint backoff_ms;
    bool rejected; /* the last disconnect was for misbehaviour */
    enum agent_state state;
    /* Bytes of a frame still on its way; NULL between frames. An agent sends
     * a report every few seconds at most and each read takes whole frames,
     * so the 616-byte buffer lives for one read: 32 idle guests keep ~19 KiB
     * less of ballastd's heap resident. */
    struct proto_stream *stream;
    struct proto_config config; /* sent after every HELLO */
    uint32_t tx_seq;
    uint32_t capabilities;  /* agreed in WELCOME */
    uint8_t proto_version;  /* chosen in WELCOME (frames after it use it); 1 before */
    bool allow_quiet;       /* grant PROTO_CAP_QUIET (the owner's staleness allows it) */
    bool allow_poll;        /* grant PROTO_CAP_POLL with QUIET (the owner polls at its tick) */
    gint64 window_start_us; /* flood check */
    uint32_t window_frames;
    uint64_t frames;  /* valid frames received, all connections */
    uint64_t rejects; /* disconnects for misbehaviour */
    uint64_t connects;
    uint64_t polls;               /* POLL frames sent */
    uint64_t reclaims;            /* RECLAIM_DONE frames taken, all connections */
    uint64_t reclaimed_bytes;     /* their freed bytes (each capped at what we asked) */
    uint64_t reclaim_asked_bytes; /* the last RECLAIM sent: caps the guest's answer */
    struct agent_frames expect;   /* what this connection waits for; reset at connect */
    uint64_t violations;          /* frames ignored as protocol violations, all connections */
    struct log_limit log;         /* lines this guest can cause; kept across connections */
    const struct agent_events *events;
    void *ctx;
};

/* Prepares a (down) connection whose socket the group will watch; path
 * longer than sun_path -> -ENAMETOOLONG. */
int agent_conn_init(struct agent_conn *a, struct fd_group *group, const char *name,
                    const char *path, const struct proto_config *config,
                    const struct agent_events *events, void *ctx);
/* Tries to connect now (and keeps retrying with backoff while down). */
void agent_conn_start(struct agent_conn *a);
/* Closes the socket and cancels retries; no callback runs afterwards. */
void agent_conn_stop(struct agent_conn *a);
/* Sends RECLAIM; -ENOTCONN when not READY, -EOPNOTSUPP without the capability. */
int agent_conn_send_reclaim(struct agent_conn *a, uint64_t bytes);
const char *agent_state_name(enum agent_state s);

/*
 * What the socket's read handler does with the bytes it read: recv() up to
 * *room bytes into agent_conn_input_space(), then agent_conn_input(n) with
 * the count (0: none, an empty buffer is dropped) decodes and acts on every
 * whole frame, and may disconnect. Public for fuzz.daemon.agent_conn, which
 * hands a guest's bytes in here the way one read would: the same decoder,
 * state machine and limits, without three system calls per chunk.
 */
uint8_t *agent_conn_input_space(struct agent_conn *a, size_t *room);
void agent_conn_input(struct agent_conn *a, size_t n);

/*
 * Polled reporting (PROTO_CAP_POLL): a quiet agent that was granted POLL
 * sends no heartbeat; its owner asks for one with agent_conn_poll(). To read
 * a whole fleet's answers in one wakeup, the owner pauses the agents' group
 * after polling them all and dispatches it a little later (fd_group.h); any
 * frame that comes in the meantime (a PRESSURE too) waits at most that long.
 */
bool agent_conn_pollable(const struct agent_conn *a); /* READY, QUIET and POLL agreed */
/* Sends POLL: 0; -ENOTCONN when not READY, -EOPNOTSUPP without the capabilities. */
int agent_conn_poll(struct agent_conn *a);

#endif
