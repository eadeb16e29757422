/*
 * struct proto_stream: bytes in any split, whole validated frames out;
 * garbage, bad headers and oversized lengths are skipped and counted, and
 * the stream finds the next good frame after them.
 */
#include "cunit_main.h"
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t put_frame_v(uint8_t *dst, unsigned version, unsigned type, uint32_t seq)
{
    struct proto_frame f;
    memset(&f, 0, sizeof(f));
    f.version = (uint8_t)version;
    f.type = (uint8_t)type;
    f.seq = seq;
    if (type == PROTO_REPORT)
        f.u.report.mem_total_bytes = 1000ULL * seq;
    int n = proto_encode(&f, dst, PROTO_MAX_FRAME_BYTES);
    CU_ASSERT_FATAL(n > 0);
    return (size_t)n;
}

static size_t put_frame(uint8_t *dst, unsigned type, uint32_t seq)
{
    return put_frame_v(dst, 1, type, seq);
}

/* Feeds everything (in chunks of step bytes) and collects the frames' seqs. */
static size_t run(struct proto_stream *s, const uint8_t *data, size_t len, size_t step,
                  uint32_t *seqs, size_t max_seqs, int *errors)
{
    size_t got = 0, off = 0;
    *errors = 0;
    while (off < len) {
        size_t chunk = len - off < step ? len - off : step;
        size_t took = proto_stream_feed(s, data + off, chunk);
        CU_ASSERT_FATAL(took > 0); /* room is never 0 after next() returned 0 */
        off += took;
        struct proto_frame f;
        int rc;
        while ((rc = proto_stream_next(s, &f)) != 0) {
            if (rc < 0) {
                (*errors)++;
                continue;
            }
            if (got < max_seqs)
                seqs[got] = f.seq;
            got++;
            if (f.type == PROTO_REPORT)
                CU_ASSERT_EQUAL(f.u.report.mem_total_bytes, 1000ULL * f.seq);
        }
    }
    return got;
}

static void test_every_split(void)
{
    uint8_t data[4 * PROTO_MAX_FRAME_BYTES];
    size_t len = 0;
    len += put_frame(data + len, PROTO_HELLO, 1);
    len += put_frame(data + len, PROTO_REPORT, 2);
    len += put_frame(data + len, PROTO_ACK, 3);
    len += put_frame(data + len, PROTO_PRESSURE, 4);
    for (size_t step = 1; step <= len; step++) {
        struct proto_stream s;
        proto_stream_init(&s);
        uint32_t seqs[8];
        int errors;
        CU_ASSERT_EQUAL_FATAL(run(&s, data, len, step, seqs, 8, &errors), 4);
        CU_ASSERT_EQUAL(errors, 0);
        for (uint32_t i = 0; i < 4; i++)
            CU_ASSERT_EQUAL(seqs[i], i + 1);
        CU_ASSERT_EQUAL(s.stats.frames, 4);
        CU_ASSERT_EQUAL(s.stats.garbage_bytes, 0);
        CU_ASSERT_EQUAL(s.len, 0);
    }
}

static void test_garbage_between_frames(void)
{
    uint8_t data[8 * PROTO_MAX_FRAME_BYTES];
    size_t len = 0;
    static const char junk1[] = "hello world, not a frame\n";
    memcpy(data, junk1, sizeof(junk1) - 1);
    len += sizeof(junk1) - 1;
    len += put_frame(data + len, PROTO_REPORT, 1);
    /* Magic prefixes that never complete, and a lone magic with a bad header. */
    memcpy(data + len, "BLSBLBBLS", 9);
    len += 9;
    memcpy(data + len, "BLST\x01\x63\x00\x00\x08\x00\x00\x00", 12); /* unknown type 0x63 */
    len += 12;
    len += put_frame(data + len, PROTO_REPORT, 2);
    for (size_t step = 1; step <= 64; step += 7) {
        struct proto_stream s;
        proto_stream_init(&s);
        uint32_t seqs[8];
        int errors;
        CU_ASSERT_EQUAL_FATAL(run(&s, data, len, step, seqs, 8, &errors), 2);
        CU_ASSERT_EQUAL(seqs[0], 1);
        CU_ASSERT_EQUAL(seqs[1], 2);
        CU_ASSERT_EQUAL(errors, 1);
        CU_ASSERT_EQUAL(s.stats.bad_type, 1);
        CU_ASSERT_EQUAL(s.stats.errors, 1);
        CU_ASSERT_EQUAL(s.stats.garbage_bytes, sizeof(junk1) - 1 + 9 + 12);
    }
}

/* A connection's frames switch from v1 to v2 after WELCOME: one stream takes
 * both, each at its own size, in any split. */
static void test_versions_mixed(void)
{
    uint8_t data[6 * PROTO_MAX_FRAME_BYTES];
    size_t len = 0;
    len += put_frame_v(data + len, 1, PROTO_HELLO, 1);
    len += put_frame_v(data + len, 1, PROTO_REPORT, 2);
    len += put_frame_v(data + len, 2, PROTO_REPORT, 3);
    len += put_frame_v(data + len, 2, PROTO_PRESSURE, 4);
    len += put_frame_v(data + len, 2, PROTO_ACK, 5);
    len += put_frame_v(data + len, 1, PROTO_REPORT, 6);
    CU_ASSERT_EQUAL(len, 16 * 6 + 16 + 176 + 224 + 228 + 8 + 176);
    for (size_t step = 1; step <= len; step += 5) {
        struct proto_stream s;
        proto_stream_init(&s);
        uint32_t seqs[8];
        int errors;
        CU_ASSERT_EQUAL_FATAL(run(&s, data, len, step, seqs, 8, &errors), 6);
        CU_ASSERT_EQUAL(errors, 0);
        for (uint32_t i = 0; i < 6; i++)
            CU_ASSERT_EQUAL(seqs[i], i + 1);
        CU_ASSERT_EQUAL(s.stats.garbage_bytes, 0);
    }
}

/* A header claiming 4 GiB must not make the stream wait for 4 GiB. */
static void test_oversized_then_recovery(void)
{
    uint8_t data[4 * PROTO_MAX_FRAME_BYTES];
    size_t len = 0;
    memcpy(data, "BLST\x01\x03\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00", 16);
    len += 16;
    len += put_frame(data + len, PROTO_REPORT, 5);
    struct proto_stream s;
    proto_stream_init(&s);
    uint32_t seqs[4];
    int errors;
    CU_ASSERT_EQUAL(run(&s, data, len, len, seqs, 4, &errors), 1);
    CU_ASSERT_EQUAL(seqs[0], 5);
    CU_ASSERT_EQUAL(s.stats.oversized, 1);
    CU_ASSERT_EQUAL(errors, 1);
}

static void test_wrong_length_and_version(void)
{
    uint8_t data[4 * PROTO_MAX_FRAME_BYTES];
    size_t len = put_frame(data, PROTO_REPORT, 1);
    data[8] = 175; /* REPORT must be 176 */
    size_t l2 = put_frame(data + len, PROTO_ACK, 2);
    data[len + 4] = 9; /* version 9 */
    len += l2;
    len += put_frame(data + len, PROTO_ACK, 3);
    struct proto_stream s;
    proto_stream_init(&s);
    uint32_t seqs[4];
    int errors;
    CU_ASSERT_EQUAL(run(&s, data, len, 5, seqs, 4, &errors), 1);
    CU_ASSERT_EQUAL(seqs[0], 3);
    CU_ASSERT_EQUAL(s.stats.bad_length, 1);
    CU_ASSERT_EQUAL(s.stats.bad_version, 1);
    CU_ASSERT_EQUAL(errors, 2);
}

/* Random bytes never crash it, never yield a frame that fails to re-encode. */
static void test_random_garbage(void)
{
    srand(42);
    struct proto_stream s;
    proto_stream_init(&s);
    uint8_t buf[997];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)(rand() % 5 == 0 ? "BLST"[rand() % 4] : rand());
        size_t off = 0;
        while (off < sizeof(buf)) {
            off += proto_stream_feed(&s, buf + off, sizeof(buf) - off);
            struct proto_frame f;
            int rc;
            while ((rc = proto_stream_next(&s, &f)) != 0) {
                if (rc > 0) {
                    uint8_t wire[PROTO_MAX_FRAME_BYTES];
                    CU_ASSERT(proto_encode(&f, wire, sizeof(wire)) > 0);
                }
            }
            CU_ASSERT(s.len < PROTO_MAX_FRAME_BYTES);
        }
    }
    /* After garbage, a good frame still comes through. */
    uint8_t good[PROTO_MAX_FRAME_BYTES];
    size_t n = put_frame(good, PROTO_REPORT, 77);
    uint8_t tail[PROTO_MAX_FRAME_BYTES]; /* flush any half-header left by the noise */
    memset(tail, 0, sizeof(tail));
    uint32_t seqs[4];
    int errors;
    run(&s, tail, sizeof(tail), sizeof(tail), seqs, 4, &errors);
    CU_ASSERT_EQUAL(run(&s, good, n, 3, seqs, 4, &errors), 1);
    CU_ASSERT_EQUAL(seqs[0], 77);
}

static void test_space_commit_reset(void)
{
    struct proto_stream s;
    proto_stream_init(&s);
    size_t room;
    uint8_t *dst = proto_stream_space(&s, &room);
    CU_ASSERT_EQUAL(room, sizeof(s.buf));
    size_t n = put_frame(dst, PROTO_HELLO, 9);
    proto_stream_commit(&s, n - 1);
    struct proto_frame f;
    CU_ASSERT_EQUAL(proto_stream_next(&s, &f), 0);
    proto_stream_space(&s, &room);
    CU_ASSERT_EQUAL(room, sizeof(s.buf) - (n - 1));
    proto_stream_commit(&s, 1); /* the last byte was already in place */
    CU_ASSERT_EQUAL(proto_stream_next(&s, &f), 1);
    CU_ASSERT_EQUAL(f.seq, 9);
    /* A half frame forgotten on reconnect. */
    proto_stream_feed(&s, "BLST\x01", 5);
    proto_stream_reset(&s);
    CU_ASSERT_EQUAL(s.len, 0);
    CU_ASSERT_EQUAL(s.stats.frames, 1);
}

static CU_TestInfo stream_tests[] = {
    {"every split", test_every_split},
    {"garbage between frames", test_garbage_between_frames},
    {"oversized length then recovery", test_oversized_then_recovery},
    {"wrong length and version", test_wrong_length_and_version},
    {"v1 and v2 frames on one stream", test_versions_mixed},
    {"random garbage", test_random_garbage},
    {"space/commit/reset", test_space_commit_reset},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"stream", NULL, NULL, NULL, NULL, stream_tests},
    CU_SUITE_INFO_NULL,
};
