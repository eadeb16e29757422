/* Which guest frames ballastd takes, by connection state (see agent_frames.h). */
#include "agent_frames.h"

#include <stddef.h>

void agent_frames_sent(struct agent_frames *st, const struct proto_frame *f)
{
    if (f->type == PROTO_CONFIG) {
        st->config_pending++;
        st->config_last_seq = f->seq;
    } else if (f->type == PROTO_RECLAIM) {
        st->reclaim_pending++;
        st->reclaim_last_seq = f->seq;
    }
}

static enum agent_verdict violation(struct agent_frames *st, const char **why, const char *text)
{
    st->violations++;
    *why = text;
    return AGENT_FRAME_VIOLATION;
}

/* ACK or ERROR: an answer to a CONFIG (or, from an agent that refuses one,
 * a RECLAIM) we sent on this connection and that is still outstanding. */
static enum agent_verdict check_answer(struct agent_frames *st, uint32_t ref_seq, uint32_t ref_type,
                                       bool error, const char **why)
{
    if (ref_type == PROTO_CONFIG && st->config_pending && ref_seq <= st->config_last_seq) {
        st->config_pending--;
        return AGENT_FRAME_TAKE;
    }
    if (error && ref_type == PROTO_RECLAIM && st->reclaim_pending &&
        ref_seq <= st->reclaim_last_seq) {
        st->reclaim_pending--;
        return AGENT_FRAME_TAKE;
    }
    return violation(
        st, why, error ? "an ERROR answering nothing we sent" : "an ACK answering nothing we sent");
}

enum agent_verdict agent_frames_check(struct agent_frames *st, const struct proto_frame *f,
                                      const char **why)
{
    *why = NULL;
    switch (f->type) {
    case PROTO_HELLO:
        st->hello = true;
        st->capabilities = f->u.hello.capabilities;
        return AGENT_FRAME_TAKE;
    case PROTO_REPORT:
    case PROTO_PRESSURE:
    case PROTO_RECLAIM_DONE:
    case PROTO_ACK:
    case PROTO_ERROR:
        break;
    default:
        *why = "host-bound frame type from the guest";
        return AGENT_FRAME_FATAL;
    }
    if (!st->hello) {
        *why = "frame before HELLO";
        return AGENT_FRAME_FATAL;
    }
    switch (f->type) {
    case PROTO_PRESSURE:
        if (!(st->capabilities & PROTO_CAP_PRESSURE))
            return violation(st, why, "PRESSURE without the PRESSURE capability");
        return AGENT_FRAME_TAKE;
    case PROTO_RECLAIM_DONE:
        if (!st->reclaim_pending || f->u.reclaim_done.ref_seq > st->reclaim_last_seq)
            return violation(st, why, "RECLAIM_DONE with no RECLAIM outstanding");
        st->reclaim_pending--;
        return AGENT_FRAME_TAKE;
    case PROTO_ACK:
        return check_answer(st, f->u.ack.ref_seq, f->u.ack.ref_type, false, why);
    case PROTO_ERROR:
        return check_answer(st, f->u.error.ref_seq, f->u.error.ref_type, true, why);
    default:
        return AGENT_FRAME_TAKE;
    }
}
