/*
 * proto_encode / proto_decode: every type round-trips in every version, the
 * byte layout is the one docs/protocol.md specifies, v1 and v2 reports are
 * each held to their own size and fields, and every malformed header is
 * refused with its own error before a payload byte is read.
 */
#include "cunit_main.h"
#include "proto.h"

#include <errno.h>
#include <string.h>

static const unsigned all_types[] = {
    PROTO_HELLO,   PROTO_WELCOME,      PROTO_REPORT, PROTO_PRESSURE, PROTO_CONFIG,
    PROTO_RECLAIM, PROTO_RECLAIM_DONE, PROTO_ACK,    PROTO_ERROR,    PROTO_POLL};
#define TYPE_COUNT (sizeof(all_types) / sizeof(all_types[0]))

/* Fills the whole union (padding too) with a pattern unique per byte. */
static void fill(struct proto_frame *f, unsigned type, uint8_t salt)
{
    memset(f, 0, sizeof(*f));
    f->type = (uint8_t)type;
    f->seq = 0x01020304u + salt;
    uint8_t *p = (uint8_t *)&f->u;
    for (size_t i = 0; i < sizeof(f->u); i++)
        p[i] = (uint8_t)(i * 7 + salt + 1);
}

static void test_sizes(void)
{
    CU_ASSERT_EQUAL(proto_self_check(), 0);
    CU_ASSERT_EQUAL(proto_payload_bytes(1, PROTO_HELLO), 16);
    CU_ASSERT_EQUAL(proto_payload_bytes(1, PROTO_REPORT), 176);
    CU_ASSERT_EQUAL(proto_payload_bytes(1, PROTO_PRESSURE), 180);
    CU_ASSERT_EQUAL(proto_payload_bytes(1, PROTO_RECLAIM_DONE), 36);
    CU_ASSERT_EQUAL(proto_payload_bytes(1, PROTO_POLL), 0);
    /* v2 grows REPORT and PRESSURE by six u64; every other type is v1's. */
    CU_ASSERT_EQUAL(proto_payload_bytes(2, PROTO_REPORT), 224);
    CU_ASSERT_EQUAL(proto_payload_bytes(2, PROTO_PRESSURE), 228);
    for (size_t i = 0; i < TYPE_COUNT; i++) {
        if (all_types[i] != PROTO_REPORT && all_types[i] != PROTO_PRESSURE)
            CU_ASSERT_EQUAL(proto_payload_bytes(2, all_types[i]),
                            proto_payload_bytes(1, all_types[i]));
        CU_ASSERT(proto_payload_bytes(2, all_types[i]) <= PROTO_MAX_PAYLOAD_BYTES);
    }
    CU_ASSERT_STRING_EQUAL(proto_type_name(PROTO_POLL), "POLL");
    CU_ASSERT_EQUAL(proto_payload_bytes(1, 0), 0);
    CU_ASSERT_EQUAL(proto_payload_bytes(1, PROTO_TYPE_COUNT), 0);
    CU_ASSERT_EQUAL(proto_payload_bytes(1, 255), 0);
    CU_ASSERT_EQUAL(proto_payload_bytes(0, PROTO_HELLO), 0);
    CU_ASSERT_EQUAL(proto_payload_bytes(PROTO_VERSION_MAX + 1, PROTO_HELLO), 0);
    CU_ASSERT_STRING_EQUAL(proto_type_name(PROTO_RECLAIM_DONE), "RECLAIM_DONE");
    CU_ASSERT_STRING_EQUAL(proto_type_name(77), "?");
    CU_ASSERT_EQUAL(proto_report_valid_bits(1), 0x3ffffu);  /* fields 0..17 */
    CU_ASSERT_EQUAL(proto_report_valid_bits(2), 0xffffffu); /* and 18..23 */
    CU_ASSERT_EQUAL(proto_report_valid_bits(0), 0);
    CU_ASSERT_EQUAL(proto_report_valid_bits(3), 0);
}

/* decode(encode(x)) encodes to the same bytes, for every type and version. */
static void test_round_trip_all_types(void)
{
    for (unsigned v = PROTO_VERSION_MIN; v <= PROTO_VERSION_MAX; v++) {
        for (size_t i = 0; i < TYPE_COUNT; i++) {
            struct proto_frame in, out;
            uint8_t wire1[PROTO_MAX_FRAME_BYTES], wire2[PROTO_MAX_FRAME_BYTES];
            fill(&in, all_types[i], (uint8_t)(i + 16 * v));
            in.version = (uint8_t)v;
            size_t want = PROTO_HEADER_BYTES + proto_payload_bytes(v, all_types[i]);
            int n = proto_encode(&in, wire1, sizeof(wire1));
            CU_ASSERT_EQUAL_FATAL(n, (int)want);
            CU_ASSERT_EQUAL(wire1[4], v);
            size_t used = 0;
            CU_ASSERT_EQUAL_FATAL(proto_decode(wire1, (size_t)n, &out, &used), 0);
            CU_ASSERT_EQUAL(used, (size_t)n);
            CU_ASSERT_EQUAL(out.type, all_types[i]);
            CU_ASSERT_EQUAL(out.version, v);
            CU_ASSERT_EQUAL(out.seq, in.seq);
            CU_ASSERT_EQUAL(out.payload_bytes, proto_payload_bytes(v, all_types[i]));
            CU_ASSERT_EQUAL(proto_encode(&out, wire2, sizeof(wire2)), n);
            CU_ASSERT_EQUAL(memcmp(wire1, wire2, (size_t)n), 0);
        }
    }
}

/* Field by field for the frames whose values matter most to the host. */
static void test_round_trip_fields(void)
{
    struct proto_frame in, out;
    uint8_t wire[PROTO_MAX_FRAME_BYTES];
    size_t used;

    fill(&in, PROTO_PRESSURE, 3);
    int n = proto_encode(&in, wire, sizeof(wire));
    CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
    const struct proto_report *a = &in.u.pressure.report, *b = &out.u.pressure.report;
    CU_ASSERT_EQUAL(a->timestamp_ns, b->timestamp_ns);
    CU_ASSERT_EQUAL(a->report_seq, b->report_seq);
    CU_ASSERT_EQUAL(a->valid_mask & proto_report_valid_bits(1), b->valid_mask);
    CU_ASSERT_EQUAL(a->mem_total_bytes, b->mem_total_bytes);
    CU_ASSERT_EQUAL(a->mem_available_bytes, b->mem_available_bytes);
    CU_ASSERT_EQUAL(a->inactive_anon_bytes, b->inactive_anon_bytes);
    CU_ASSERT_EQUAL(a->psi_some_avg10_bp, b->psi_some_avg10_bp);
    CU_ASSERT_EQUAL(a->psi_full_avg60_bp, b->psi_full_avg60_bp);
    CU_ASSERT_EQUAL(a->psi_full_total_us, b->psi_full_total_us);
    CU_ASSERT_EQUAL(a->oom_kill, b->oom_kill);
    CU_ASSERT_EQUAL(a->uptime_ms, b->uptime_ms);
    CU_ASSERT_EQUAL(in.u.pressure.triggers, out.u.pressure.triggers);
    CU_ASSERT_EQUAL(b->shmem_bytes, 0); /* a v1 frame does not carry the split */
    CU_ASSERT_EQUAL(b->vmalloc_used_bytes, 0);

    fill(&in, PROTO_PRESSURE, 5);
    in.version = 2;
    n = proto_encode(&in, wire, sizeof(wire));
    CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
    CU_ASSERT_EQUAL(a->valid_mask & proto_report_valid_bits(2), b->valid_mask);
    CU_ASSERT_EQUAL(a->uptime_ms, b->uptime_ms);
    CU_ASSERT_EQUAL(a->shmem_bytes, b->shmem_bytes);
    CU_ASSERT_EQUAL(a->slab_reclaimable_bytes, b->slab_reclaimable_bytes);
    CU_ASSERT_EQUAL(a->slab_unreclaimable_bytes, b->slab_unreclaimable_bytes);
    CU_ASSERT_EQUAL(a->kernel_stack_bytes, b->kernel_stack_bytes);
    CU_ASSERT_EQUAL(a->page_tables_bytes, b->page_tables_bytes);
    CU_ASSERT_EQUAL(a->vmalloc_used_bytes, b->vmalloc_used_bytes);
    CU_ASSERT_EQUAL(in.u.pressure.triggers, out.u.pressure.triggers);

    memset(&in, 0, sizeof(in));
    in.type = PROTO_ERROR;
    in.u.error.ref_seq = 9;
    in.u.error.ref_type = PROTO_CONFIG;
    in.u.error.error = -EINVAL;
    n = proto_encode(&in, wire, sizeof(wire));
    CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
    CU_ASSERT_EQUAL(out.u.error.error, -EINVAL); /* signed survives the wire */
    CU_ASSERT_EQUAL(out.u.error.ref_type, PROTO_CONFIG);

    memset(&in, 0, sizeof(in));
    in.type = PROTO_RECLAIM_DONE;
    in.u.reclaim_done.status = -EAGAIN;
    in.u.reclaim_done.freed_bytes = 123456789012ULL;
    n = proto_encode(&in, wire, sizeof(wire));
    CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
    CU_ASSERT_EQUAL(out.u.reclaim_done.status, -EAGAIN);
    CU_ASSERT_EQUAL(out.u.reclaim_done.freed_bytes, 123456789012ULL);
}

/* Payload offset of REPORT.valid_mask (and PRESSURE's), 4 bytes. */
#define VALID_MASK_OFFSET 12

static bool is_report(unsigned type)
{
    return type == PROTO_REPORT || type == PROTO_PRESSURE;
}

/* All-ones in every field: nothing truncated, every payload byte 0xff but a
 * report's valid_mask, cut to the fields the version carries. */
static void test_maximal_values(void)
{
    for (unsigned v = PROTO_VERSION_MIN; v <= PROTO_VERSION_MAX; v++) {
        for (size_t i = 0; i < TYPE_COUNT; i++) {
            struct proto_frame in, out;
            uint8_t wire[PROTO_MAX_FRAME_BYTES];
            memset(&in, 0xff, sizeof(in));
            in.version = (uint8_t)v;
            in.type = (uint8_t)all_types[i];
            int n = proto_encode(&in, wire, sizeof(wire));
            CU_ASSERT_FATAL(n == (int)(PROTO_HEADER_BYTES + proto_payload_bytes(v, in.type)));
            for (int j = PROTO_HEADER_BYTES; j < n; j++) {
                int off = j - PROTO_HEADER_BYTES;
                if (is_report(in.type) && off >= VALID_MASK_OFFSET && off < VALID_MASK_OFFSET + 4)
                    continue;
                CU_ASSERT_EQUAL(wire[j], 0xff);
            }
            CU_ASSERT_EQUAL(wire[12] & wire[13] & wire[14] & wire[15], 0xff); /* seq */
            size_t used;
            CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
            CU_ASSERT_EQUAL(out.seq, UINT32_MAX);
            if (in.type == PROTO_REPORT)
                CU_ASSERT_EQUAL(out.u.report.valid_mask, proto_report_valid_bits(v));
        }
    }
    struct proto_frame out;
    uint8_t wire[PROTO_MAX_FRAME_BYTES];
    struct proto_frame in;
    memset(&in, 0xff, sizeof(in));
    in.version = 2;
    in.type = PROTO_REPORT;
    size_t used;
    proto_decode(wire, (size_t)proto_encode(&in, wire, sizeof(wire)), &out, &used);
    CU_ASSERT_EQUAL(out.u.report.uptime_ms, UINT64_MAX);
    CU_ASSERT_EQUAL(out.u.report.psi_full_avg60_bp, UINT32_MAX);
    CU_ASSERT_EQUAL(out.u.report.vmalloc_used_bytes, UINT64_MAX);
}

/* The byte layout docs/protocol.md promises, pinned. */
static void test_layout(void)
{
    struct proto_frame f;
    uint8_t wire[PROTO_MAX_FRAME_BYTES];
    memset(&f, 0, sizeof(f));
    f.type = PROTO_HELLO;
    f.seq = 0x11223344;
    f.u.hello.agent_version = 0x00000100;
    f.u.hello.page_size_bytes = 4096;
    f.u.hello.capabilities = PROTO_CAP_PRESSURE | PROTO_CAP_RECLAIM;
    f.u.hello.proto_version_min = 1;
    f.u.hello.proto_version_max = 1;
    static const uint8_t expect[] = {
        'B',  'L',  'S',  'T',  1,    1,    0,    0,    16,   0, 0, 0, 0x44, 0x33, 0x22, 0x11,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x03, 0, 0, 0, 1,    0,    1,    0,
    };
    CU_ASSERT_EQUAL_FATAL(proto_encode(&f, wire, sizeof(wire)), (int)sizeof(expect));
    CU_ASSERT_EQUAL(memcmp(wire, expect, sizeof(expect)), 0);

    memset(&f, 0, sizeof(f));
    f.type = PROTO_REPORT;
    f.u.report.mem_available_bytes = 0x0102030405060708ULL;
    f.u.report.psi_some_avg10_bp = 0xa1a2a3a4;
    f.u.report.uptime_ms = 0xf1f2f3f4f5f6f7f8ULL;
    CU_ASSERT_EQUAL_FATAL(proto_encode(&f, wire, sizeof(wire)), 16 + 176);
    const uint8_t *p = wire + PROTO_HEADER_BYTES;
    CU_ASSERT_EQUAL(p[32], 0x08);
    CU_ASSERT_EQUAL(p[39], 0x01);
    CU_ASSERT_EQUAL(p[104], 0xa4);
    CU_ASSERT_EQUAL(p[107], 0xa1);
    CU_ASSERT_EQUAL(p[168], 0xf8);
    CU_ASSERT_EQUAL(p[175], 0xf1);

    /* v2: the same 176 bytes, then the split from offset 176. */
    f.version = 2;
    f.u.report.valid_mask = PROTO_R_BIT(PROTO_R_SHMEM) | PROTO_R_BIT(PROTO_R_VMALLOC_USED);
    f.u.report.shmem_bytes = 0x1112131415161718ULL;
    f.u.report.slab_reclaimable_bytes = 0x21;
    f.u.report.slab_unreclaimable_bytes = 0x31;
    f.u.report.kernel_stack_bytes = 0x41;
    f.u.report.page_tables_bytes = 0x51;
    f.u.report.vmalloc_used_bytes = 0x6162636465666768ULL;
    CU_ASSERT_EQUAL_FATAL(proto_encode(&f, wire, sizeof(wire)), 16 + 224);
    CU_ASSERT_EQUAL(wire[4], 2);
    CU_ASSERT_EQUAL(wire[8], 224);
    CU_ASSERT_EQUAL(p[12], 0x00); /* valid_mask: bits 18 and 23 */
    CU_ASSERT_EQUAL(p[13], 0x00);
    CU_ASSERT_EQUAL(p[14], 0x84);
    CU_ASSERT_EQUAL(p[15], 0x00);
    CU_ASSERT_EQUAL(p[32], 0x08); /* v1's fields stay where they were */
    CU_ASSERT_EQUAL(p[175], 0xf1);
    CU_ASSERT_EQUAL(p[176], 0x18);
    CU_ASSERT_EQUAL(p[183], 0x11);
    CU_ASSERT_EQUAL(p[184], 0x21);
    CU_ASSERT_EQUAL(p[192], 0x31);
    CU_ASSERT_EQUAL(p[200], 0x41);
    CU_ASSERT_EQUAL(p[208], 0x51);
    CU_ASSERT_EQUAL(p[216], 0x68);
    CU_ASSERT_EQUAL(p[223], 0x61);
}

/*
 * The two versions side by side: a v1 REPORT never carries or claims the
 * split, whatever the sender's struct held (an agent samples everything and
 * talks v1 until WELCOME), and a receiver ignores valid_mask bits a frame's
 * version does not have (a hostile v1 agent cannot claim a field it did not
 * send).
 */
static void test_versions(void)
{
    struct proto_frame in, out;
    uint8_t wire[PROTO_MAX_FRAME_BYTES];
    size_t used;
    memset(&in, 0, sizeof(in));
    in.type = PROTO_REPORT;
    in.u.report.valid_mask = proto_report_valid_bits(2);
    in.u.report.mem_total_bytes = 218ULL << 20;
    in.u.report.shmem_bytes = 2ULL << 20;
    in.u.report.slab_unreclaimable_bytes = 5ULL << 20;
    int n = proto_encode(&in, wire, sizeof(wire)); /* version 0: v1 */
    CU_ASSERT_EQUAL_FATAL(n, 16 + 176);
    CU_ASSERT_EQUAL(wire[4], 1);
    CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
    CU_ASSERT_EQUAL(out.version, 1);
    CU_ASSERT_EQUAL(out.u.report.valid_mask, proto_report_valid_bits(1));
    CU_ASSERT_EQUAL(out.u.report.mem_total_bytes, 218ULL << 20);
    CU_ASSERT_EQUAL(out.u.report.shmem_bytes, 0);
    CU_ASSERT_EQUAL(out.u.report.slab_unreclaimable_bytes, 0);

    /* Bits beyond v1's set on the wire of a v1 frame: ignored on receipt. */
    wire[PROTO_HEADER_BYTES + VALID_MASK_OFFSET + 2] = 0xff;
    wire[PROTO_HEADER_BYTES + VALID_MASK_OFFSET + 3] = 0xff;
    CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
    CU_ASSERT_EQUAL(out.u.report.valid_mask, proto_report_valid_bits(1));

    /* v2 carries it; bits beyond v2's are cut the same way. */
    in.version = 2;
    in.u.report.valid_mask = UINT32_MAX;
    n = proto_encode(&in, wire, sizeof(wire));
    CU_ASSERT_EQUAL_FATAL(n, 16 + 224);
    CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
    CU_ASSERT_EQUAL(out.version, 2);
    CU_ASSERT_EQUAL(out.u.report.valid_mask, proto_report_valid_bits(2));
    CU_ASSERT_EQUAL(out.u.report.shmem_bytes, 2ULL << 20);
    CU_ASSERT_EQUAL(out.u.report.slab_unreclaimable_bytes, 5ULL << 20);

    /* A type v2 did not change decodes the same under either header. */
    memset(&in, 0, sizeof(in));
    in.type = PROTO_CONFIG;
    in.version = 2;
    in.u.config.report_interval_ms = 1000;
    n = proto_encode(&in, wire, sizeof(wire));
    CU_ASSERT_EQUAL_FATAL(n, 16 + 16);
    CU_ASSERT_EQUAL_FATAL(proto_decode(wire, (size_t)n, &out, &used), 0);
    CU_ASSERT_EQUAL(out.u.config.report_interval_ms, 1000);

    /* Versions the codec does not speak are refused when encoding, too. */
    in.version = PROTO_VERSION_MAX + 1;
    CU_ASSERT_EQUAL(proto_encode(&in, wire, sizeof(wire)), -EINVAL);
}

static void test_encode_errors(void)
{
    struct proto_frame f;
    uint8_t wire[PROTO_MAX_FRAME_BYTES];
    memset(&f, 0, sizeof(f));
    f.type = PROTO_REPORT;
    CU_ASSERT_EQUAL(proto_encode(&f, wire, PROTO_HEADER_BYTES + 175), -ENOSPC);
    f.type = 0;
    CU_ASSERT_EQUAL(proto_encode(&f, wire, sizeof(wire)), -EINVAL);
    f.type = PROTO_TYPE_COUNT;
    CU_ASSERT_EQUAL(proto_encode(&f, wire, sizeof(wire)), -EINVAL);
    CU_ASSERT_EQUAL(proto_encode(NULL, wire, sizeof(wire)), -EINVAL);
}

static int encode_type(unsigned type, uint8_t *wire)
{
    struct proto_frame f;
    fill(&f, type, 1);
    return proto_encode(&f, wire, PROTO_MAX_FRAME_BYTES);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void test_truncated(void)
{
    uint8_t wire[PROTO_MAX_FRAME_BYTES];
    int n = encode_type(PROTO_REPORT, wire);
    struct proto_frame out;
    size_t used = 0;
    for (int len = 0; len < n; len++)
        CU_ASSERT_EQUAL(proto_decode(wire, (size_t)len, &out, &used), -EAGAIN);
    CU_ASSERT_EQUAL(proto_decode(wire, (size_t)n, &out, &used), 0);
}

static void test_bad_headers(void)
{
    uint8_t wire[PROTO_MAX_FRAME_BYTES + 64];
    struct proto_frame out;
    size_t used = 0;
    int n;

    n = encode_type(PROTO_REPORT, wire);
    wire[2] = 'X';
    CU_ASSERT_EQUAL(proto_decode(wire, (size_t)n, &out, &used), -EBADMSG);
    CU_ASSERT_EQUAL(proto_decode(wire, 3, &out, &used), -EBADMSG); /* even short */

    n = encode_type(PROTO_REPORT, wire);
    wire[4] = PROTO_VERSION_MAX + 1;
    CU_ASSERT_EQUAL(proto_decode(wire, (size_t)n, &out, &used), -EPROTONOSUPPORT);
    wire[4] = 0;
    CU_ASSERT_EQUAL(proto_decode(wire, (size_t)n, &out, &used), -EPROTONOSUPPORT);
    wire[4] = 0xff;
    CU_ASSERT_EQUAL(proto_decode(wire, (size_t)n, &out, &used), -EPROTONOSUPPORT);
    /* Each version's REPORT is held to its own size: a v1 one (176) under a
     * v2 header is too short, a v2 one (224) under a v1 header too long. */
    wire[4] = 2;
    CU_ASSERT_EQUAL(proto_decode(wire, (size_t)n, &out, &used), -EMSGSIZE);
    put32(wire + 8, 224);
    wire[4] = 1;
    CU_ASSERT_EQUAL(proto_decode(wire, PROTO_HEADER_BYTES, &out, &used), -EMSGSIZE);

    n = encode_type(PROTO_REPORT, wire);
    wire[7] = 0x80;
    CU_ASSERT_EQUAL(proto_decode(wire, (size_t)n, &out, &used), -EBADMSG);

    /* Oversized: refused from the header alone, with no payload present. */
    n = encode_type(PROTO_REPORT, wire);
    put32(wire + 8, UINT32_MAX);
    CU_ASSERT_EQUAL(proto_decode(wire, PROTO_HEADER_BYTES, &out, &used), -E2BIG);
    put32(wire + 8, PROTO_MAX_PAYLOAD_BYTES + 1);
    CU_ASSERT_EQUAL(proto_decode(wire, PROTO_HEADER_BYTES, &out, &used), -E2BIG);

    /* Wrong length for the type, one byte either way, and 0. */
    const uint32_t wrong[] = {175, 177, 0, 180, 224, PROTO_MAX_PAYLOAD_BYTES};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        n = encode_type(PROTO_REPORT, wire);
        put32(wire + 8, wrong[i]);
        CU_ASSERT_EQUAL(proto_decode(wire, PROTO_HEADER_BYTES, &out, &used), -EMSGSIZE);
    }
    const uint32_t wrong_v2[] = {223, 225, 176, 228, 0};
    for (size_t i = 0; i < sizeof(wrong_v2) / sizeof(wrong_v2[0]); i++) {
        n = encode_type(PROTO_REPORT, wire);
        wire[4] = 2;
        put32(wire + 8, wrong_v2[i]);
        CU_ASSERT_EQUAL(proto_decode(wire, PROTO_HEADER_BYTES, &out, &used), -EMSGSIZE);
    }

    /* Unknown types, valid length otherwise. */
    const uint8_t unknown[] = {0, PROTO_TYPE_COUNT, 0x7f, 0xff};
    for (size_t i = 0; i < sizeof(unknown); i++) {
        n = encode_type(PROTO_ACK, wire);
        wire[5] = unknown[i];
        CU_ASSERT_EQUAL(proto_decode(wire, (size_t)n, &out, &used), -ENOMSG);
    }
}

static void test_config_check(void)
{
    struct proto_config c = {1000, 0, 0, 0};
    CU_ASSERT_EQUAL(proto_config_check(&c), 0);
    c.report_interval_ms = PROTO_INTERVAL_MIN_MS - 1;
    CU_ASSERT_EQUAL(proto_config_check(&c), -EINVAL);
    c.report_interval_ms = PROTO_INTERVAL_MAX_MS + 1;
    CU_ASSERT_EQUAL(proto_config_check(&c), -EINVAL);
    c = (struct proto_config){1000, 150000, 0, 1000000};
    CU_ASSERT_EQUAL(proto_config_check(&c), 0);
    c.psi_window_us = 400000;
    CU_ASSERT_EQUAL(proto_config_check(&c), -EINVAL);
    c.psi_window_us = 11000000;
    CU_ASSERT_EQUAL(proto_config_check(&c), -EINVAL);
    c = (struct proto_config){1000, 0, 2000000, 1000000};
    CU_ASSERT_EQUAL(proto_config_check(&c), -EINVAL);
    CU_ASSERT_EQUAL(proto_config_check(NULL), -EINVAL);
}

/* Quiet reporting's "material change" rule (docs/protocol.md). */
static void test_report_material(void)
{
    const uint64_t mib = 1ull << 20;
    struct proto_report a = {.valid_mask = 0x7ff,
                             .mem_total_bytes = 256 * mib, /* deadband 2 MiB */
                             .mem_free_bytes = 100 * mib,
                             .mem_available_bytes = 150 * mib,
                             .swap_free_bytes = 0,
                             .active_anon_bytes = 40 * mib,
                             .inactive_anon_bytes = 10 * mib,
                             .psi_some_avg10_bp = 250,
                             .oom_kill = 3,
                             .pgscan = 10,
                             .uptime_ms = 1000,
                             .report_seq = 7};
    struct proto_report b = a;
    CU_ASSERT_FALSE(proto_report_material(&a, &b));
    /* Counters, clocks and cache figures alone are not material. */
    b.uptime_ms += 60000;
    b.report_seq++;
    b.pgscan += 1000;
    b.cached_bytes += 100 * mib;
    CU_ASSERT_FALSE(proto_report_material(&a, &b));
    /* Below the deadband (MemTotal / 128 = 2 MiB), either way. */
    b.mem_available_bytes = a.mem_available_bytes + 2 * mib - 1;
    b.mem_free_bytes = a.mem_free_bytes - (2 * mib - 1);
    CU_ASSERT_FALSE(proto_report_material(&a, &b));
    b.mem_available_bytes = a.mem_available_bytes - 2 * mib;
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    b = a;
    b.inactive_anon_bytes += 2 * mib; /* anonymous memory grew */
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    b = a;
    b.mem_total_bytes -= 2 * mib; /* the balloon took memory */
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    b = a;
    b.swap_free_bytes += 8 * mib;
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    /* A small guest: the deadband does not go below 1 MiB. */
    struct proto_report s = {.mem_total_bytes = 64 * mib, .mem_available_bytes = 30 * mib};
    struct proto_report t = s;
    t.mem_available_bytes += mib - 1;
    CU_ASSERT_FALSE(proto_report_material(&s, &t));
    t.mem_available_bytes += 1;
    CU_ASSERT_TRUE(proto_report_material(&s, &t));
    /* PSI: 1 percentage point of avg10. */
    b = a;
    b.psi_some_avg10_bp = 250 + 99;
    CU_ASSERT_FALSE(proto_report_material(&a, &b));
    b.psi_some_avg10_bp = 150;
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    b = a;
    b.psi_full_avg10_bp = 100;
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    /* Any OOM kill, and any change of what was readable. */
    b = a;
    b.oom_kill++;
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    b = a;
    b.valid_mask &= ~PROTO_R_BIT(PROTO_R_SWAP_FREE);
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    /* Hostile figures: no overflow trap, and the change is seen. */
    b = a;
    b.mem_total_bytes = UINT64_MAX;
    b.active_anon_bytes = UINT64_MAX;
    b.inactive_anon_bytes = UINT64_MAX;
    CU_ASSERT_TRUE(proto_report_material(&a, &b));
    CU_ASSERT_TRUE(proto_report_material(&b, &a));
}

/* An ERROR's i32 from the wire: negative errnos map to theirs, everything
 * else (INT32_MIN above all: its negation overflows) to "not an errno". */
static void test_error_errno(void)
{
    CU_ASSERT_EQUAL(proto_error_errno(-EINVAL), EINVAL);
    CU_ASSERT_EQUAL(proto_error_errno(-1), 1);
    CU_ASSERT_EQUAL(proto_error_errno(-PROTO_ERRNO_MAX), PROTO_ERRNO_MAX);
    CU_ASSERT_EQUAL(proto_error_errno(-PROTO_ERRNO_MAX - 1), 0);
    CU_ASSERT_EQUAL(proto_error_errno(INT32_MIN), 0);
    CU_ASSERT_EQUAL(proto_error_errno(INT32_MIN + 1), 0);
    CU_ASSERT_EQUAL(proto_error_errno(0), 0);
    CU_ASSERT_EQUAL(proto_error_errno(EINVAL), 0);
    CU_ASSERT_EQUAL(proto_error_errno(INT32_MAX), 0);
}

static CU_TestInfo codec_tests[] = {
    {"sizes match the tables", test_sizes},
    {"every type round-trips", test_round_trip_all_types},
    {"fields round-trip", test_round_trip_fields},
    {"maximal values", test_maximal_values},
    {"byte layout", test_layout},
    {"v1 and v2 reports side by side", test_versions},
    {"encode errors", test_encode_errors},
    {"truncated frames", test_truncated},
    {"bad headers refused", test_bad_headers},
    {"config check", test_config_check},
    {"quiet reports: what is material", test_report_material},
    {"an ERROR's errno, INT32_MIN included", test_error_errno},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"codec", NULL, NULL, NULL, NULL, codec_tests},
    CU_SUITE_INFO_NULL,
};
