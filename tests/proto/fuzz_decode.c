/*
 * libFuzzer target for the frame decoder: arbitrary bytes through
 * proto_decode() and through a proto_stream fed in input-chosen splits.
 * Properties checked (abort on violation): no out-of-bounds access (ASan),
 * an accepted frame re-encodes to exactly the bytes it was decoded from
 * (but a report's valid_mask bits its version does not carry, which both
 * directions clear), the stream buffer never holds a whole maximal frame it
 * could not decide on.
 */
#include "proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The accepted frame's bytes as the codec would write them: a report's
 * valid_mask (payload bytes 12..15) cut to the bits of its version. */
static void canonical(const struct proto_frame *f, const uint8_t *data, size_t used, uint8_t *out)
{
    memcpy(out, data, used);
    if (f->type != PROTO_REPORT && f->type != PROTO_PRESSURE)
        return;
    uint32_t bits = proto_report_valid_bits(f->version);
    for (int i = 0; i < 4; i++)
        out[PROTO_HEADER_BYTES + 12 + i] &= (uint8_t)(bits >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_frame f;
    uint8_t wire[PROTO_MAX_FRAME_BYTES], expect[PROTO_MAX_FRAME_BYTES];
    size_t used = 0;
    if (proto_decode(data, size, &f, &used) == 0) {
        if (used > size || used > PROTO_MAX_FRAME_BYTES)
            abort();
        canonical(&f, data, used, expect);
        int n = proto_encode(&f, wire, sizeof(wire));
        if (n != (int)used || memcmp(wire, expect, used) != 0)
            abort();
    }

    static struct proto_stream s; /* static: 600 bytes, same every run */
    proto_stream_init(&s);
    size_t off = 0, i = 0;
    while (off < size) {
        size_t step = 1 + (data[i++ % size] % 64);
        size_t chunk = size - off < step ? size - off : step;
        size_t took = proto_stream_feed(&s, data + off, chunk);
        if (took == 0)
            abort();
        off += took;
        int rc;
        while ((rc = proto_stream_next(&s, &f)) != 0) {
            if (rc > 0) {
                int n = proto_encode(&f, wire, sizeof(wire));
                if (n != (int)(PROTO_HEADER_BYTES + proto_payload_bytes(f.version, f.type)))
                    abort();
            }
        }
        if (s.len >= PROTO_MAX_FRAME_BYTES)
            abort();
    }
    return 0;
}
