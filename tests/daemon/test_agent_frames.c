/*
 * Which guest frames ballastd takes (agent_frames.h), on stack structs:
 * before HELLO, host-bound types, answers that match what was sent and
 * answers to nothing, RECLAIM_DONE with and without a RECLAIM outstanding,
 * PRESSURE with and without the capability, the count of violations.
 */
#include "agent_frames.h"
#include "cunit_main.h"

#include <string.h>

static struct proto_frame frame(unsigned type)
{
    struct proto_frame f;
    memset(&f, 0, sizeof(f));
    f.type = (uint8_t)type;
    return f;
}

static enum agent_verdict check(struct agent_frames *st, const struct proto_frame *f)
{
    const char *why = "unset";
    enum agent_verdict v = agent_frames_check(st, f, &why);
    CU_ASSERT_EQUAL(v == AGENT_FRAME_TAKE, why == NULL);
    return v;
}

static void hello(struct agent_frames *st, uint32_t caps)
{
    struct proto_frame h = frame(PROTO_HELLO);
    h.u.hello.capabilities = caps;
    CU_ASSERT_EQUAL(check(st, &h), AGENT_FRAME_TAKE);
}

static void test_before_hello_and_direction(void)
{
    static const unsigned guest[] = {PROTO_REPORT, PROTO_PRESSURE, PROTO_RECLAIM_DONE, PROTO_ACK,
                                     PROTO_ERROR};
    for (size_t i = 0; i < sizeof(guest) / sizeof(guest[0]); i++) {
        struct agent_frames st = {0};
        struct proto_frame f = frame(guest[i]);
        CU_ASSERT_EQUAL(check(&st, &f), AGENT_FRAME_FATAL);
    }
    static const unsigned host[] = {PROTO_WELCOME, PROTO_CONFIG, PROTO_RECLAIM, PROTO_POLL, 0, 99};
    for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++) {
        struct agent_frames st = {0};
        hello(&st, PROTO_CAP_ALL);
        struct proto_frame f = frame(host[i]);
        CU_ASSERT_EQUAL(check(&st, &f), AGENT_FRAME_FATAL);
    }
}

static void test_answers(void)
{
    struct agent_frames st = {0};
    hello(&st, PROTO_CAP_ALL);
    struct proto_frame ack = frame(PROTO_ACK);
    ack.u.ack.ref_type = PROTO_CONFIG;
    ack.u.ack.ref_seq = 2;
    CU_ASSERT_EQUAL(check(&st, &ack), AGENT_FRAME_VIOLATION); /* no CONFIG sent yet */
    struct proto_frame cfg = frame(PROTO_CONFIG);
    cfg.seq = 2;
    agent_frames_sent(&st, &cfg);
    ack.u.ack.ref_seq = 3; /* a seq we never sent */
    CU_ASSERT_EQUAL(check(&st, &ack), AGENT_FRAME_VIOLATION);
    ack.u.ack.ref_seq = 2;
    ack.u.ack.ref_type = PROTO_RECLAIM; /* an ACK for a RECLAIM: never */
    CU_ASSERT_EQUAL(check(&st, &ack), AGENT_FRAME_VIOLATION);
    ack.u.ack.ref_type = PROTO_CONFIG;
    CU_ASSERT_EQUAL(check(&st, &ack), AGENT_FRAME_TAKE);
    CU_ASSERT_EQUAL(check(&st, &ack), AGENT_FRAME_VIOLATION); /* answered already */
    /* ERROR answers a CONFIG too (a refused one), and a RECLAIM. */
    agent_frames_sent(&st, &cfg);
    struct proto_frame err = frame(PROTO_ERROR);
    err.u.error.ref_type = PROTO_CONFIG;
    err.u.error.ref_seq = 2;
    err.u.error.error = -22;
    CU_ASSERT_EQUAL(check(&st, &err), AGENT_FRAME_TAKE);
    struct proto_frame rec = frame(PROTO_RECLAIM);
    rec.seq = 5;
    agent_frames_sent(&st, &rec);
    err.u.error.ref_type = PROTO_RECLAIM;
    err.u.error.ref_seq = 5;
    CU_ASSERT_EQUAL(check(&st, &err), AGENT_FRAME_TAKE);
    CU_ASSERT_EQUAL(check(&st, &err), AGENT_FRAME_VIOLATION);
    CU_ASSERT_EQUAL(st.violations, 5);
}

static void test_reclaim_done(void)
{
    struct agent_frames st = {0};
    hello(&st, PROTO_CAP_ALL);
    struct proto_frame done = frame(PROTO_RECLAIM_DONE);
    done.u.reclaim_done.ref_seq = 7;
    CU_ASSERT_EQUAL(check(&st, &done), AGENT_FRAME_VIOLATION); /* none outstanding */
    struct proto_frame rec = frame(PROTO_RECLAIM);
    rec.seq = 7;
    agent_frames_sent(&st, &rec);
    done.u.reclaim_done.ref_seq = 8;
    CU_ASSERT_EQUAL(check(&st, &done), AGENT_FRAME_VIOLATION); /* not one we sent */
    done.u.reclaim_done.ref_seq = 7;
    CU_ASSERT_EQUAL(check(&st, &done), AGENT_FRAME_TAKE);
    CU_ASSERT_EQUAL(check(&st, &done), AGENT_FRAME_VIOLATION);
    CU_ASSERT_EQUAL(st.violations, 3);
}

static void test_pressure_capability(void)
{
    struct agent_frames st = {0};
    hello(&st, PROTO_CAP_ALL & ~PROTO_CAP_PRESSURE);
    struct proto_frame p = frame(PROTO_PRESSURE);
    CU_ASSERT_EQUAL(check(&st, &p), AGENT_FRAME_VIOLATION);
    struct proto_frame r = frame(PROTO_REPORT);
    CU_ASSERT_EQUAL(check(&st, &r), AGENT_FRAME_TAKE);
    hello(&st, PROTO_CAP_PRESSURE); /* a later HELLO advertises it */
    CU_ASSERT_EQUAL(check(&st, &p), AGENT_FRAME_TAKE);
    CU_ASSERT_EQUAL(st.violations, 1);
}

static CU_TestInfo agent_frames_tests[] = {
    {"before HELLO, host-bound types: fatal", test_before_hello_and_direction},
    {"ACK and ERROR answer what was sent", test_answers},
    {"RECLAIM_DONE needs a RECLAIM outstanding", test_reclaim_done},
    {"PRESSURE needs the capability", test_pressure_capability},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"agent_frames", NULL, NULL, NULL, NULL, agent_frames_tests},
    CU_SUITE_INFO_NULL,
};
