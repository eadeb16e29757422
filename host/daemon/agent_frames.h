/*
 * agent_frames.h — which frames from a guest ballastd takes, by the state of
 * the connection (pure: no I/O, no clock, no allocation).
 *
 * proto/ checks a frame's bytes (magic, version, flags, length, type and
 * exact size) before any payload is read; this checks that the frame makes
 * sense now (docs/protocol.md, "Protocol violations"):
 *   fatal      the guest is not speaking the protocol at all - a report or
 *              answer before HELLO, a frame only the host sends (WELCOME,
 *              CONFIG, RECLAIM, POLL): the connection is dropped at once;
 *   violation  a frame that is well formed but not asked for - an ACK or
 *              ERROR that answers nothing ballastd sent on this connection,
 *              a RECLAIM_DONE with no RECLAIM outstanding, a PRESSURE from
 *              an agent that did not advertise PRESSURE: ignored and
 *              counted; a few are forgiven (an answer to a frame sent just
 *              before a reconnect can arrive on the new connection), and
 *              the connection is dropped at AGENT_MAX_VIOLATIONS;
 *   take       everything else.
 * The host says what it sent (agent_frames_sent) and the agreed
 * capabilities; answers are matched against what is outstanding.
 */
#ifndef BALLAST_AGENT_FRAMES_H
#define BALLAST_AGENT_FRAMES_H

#include "proto.h"

#include <stdbool.h>
#include <stdint.h>

/* The connection is dropped at this many violations (a reject). */
#define AGENT_MAX_VIOLATIONS 4

/* What one connection is waiting for. Zero it at connect. */
struct agent_frames {
    bool hello;                /* HELLO seen */
    uint32_t capabilities;     /* what the agent advertised in its last HELLO */
    uint32_t config_pending;   /* CONFIGs sent, not answered (ACK or ERROR) */
    uint32_t config_last_seq;  /* seq of the last CONFIG sent */
    uint32_t reclaim_pending;  /* RECLAIMs sent, not answered (RECLAIM_DONE) */
    uint32_t reclaim_last_seq; /* seq of the last RECLAIM sent */
    uint32_t violations;       /* on this connection */
};

enum agent_verdict {
    AGENT_FRAME_TAKE,      /* dispatch it */
    AGENT_FRAME_VIOLATION, /* ignore it and count it (dropped at AGENT_MAX_VIOLATIONS) */
    AGENT_FRAME_FATAL,     /* drop the connection now */
};

/* The host sent f on this connection (its seq set): CONFIG and RECLAIM are
 * then outstanding until answered. */
void agent_frames_sent(struct agent_frames *st, const struct proto_frame *f);

/*
 * Whether to take f, a frame the decoder accepted, and why not (*why, a
 * static string). Answers that match are taken off what is outstanding; a
 * HELLO records the agent's capabilities. A violation is counted in
 * st->violations; the caller drops the connection when that reaches
 * AGENT_MAX_VIOLATIONS.
 */
enum agent_verdict agent_frames_check(struct agent_frames *st, const struct proto_frame *f,
                                      const char **why);

#endif
