/*
 * The ballast frame codec; see proto.h and docs/protocol.md.
 *
 * Payloads are described by tables, not code: each type lists its fields
 * (offset in the C struct, width on the wire) in wire order, and one loop
 * encodes or decodes any of them little-endian. The wire size of a type is
 * the sum of its widths, so a field added to a table changes the size the
 * decoder insists on, and the unit tests check both against docs.
 *
 * One table per version: v2 is v1 with REPORT and PRESSURE grown by the
 * used-memory split; every other type keeps its v1 layout. A frame's header
 * version picks the table, so a v1 REPORT (176 bytes) and a v2 one (224)
 * are each checked against their own exact size.
 */
#include "proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct proto_field {
    uint16_t offset; /* in the union member */
    uint8_t width;   /* 1, 2, 4 or 8 bytes on the wire */
    uint8_t flags;   /* FIELD_* */
};

/* REPORT.valid_mask: cut to the bits of the frame's version, both ways. */
#define FIELD_VALID_MASK 1u

struct proto_type_info {
    const char *name;
    const struct proto_field *fields;
    uint16_t field_count;
    uint16_t payload_bytes;
};

#define F(type, member)                                                                            \
    {                                                                                              \
        offsetof(type, member), sizeof(((type *)0)->member), 0                                     \
    }
#define RF(member, flags)                                                                          \
    {                                                                                              \
        offsetof(struct proto_pressure, report) + offsetof(struct proto_report, member),           \
            sizeof(((struct proto_report *)0)->member), flags                                      \
    }
#define R(member) RF(member, 0)

static const struct proto_field hello_fields[] = {
    F(struct proto_hello, agent_version),     F(struct proto_hello, page_size_bytes),
    F(struct proto_hello, capabilities),      F(struct proto_hello, proto_version_min),
    F(struct proto_hello, proto_version_max),
};

static const struct proto_field welcome_fields[] = {
    F(struct proto_welcome, host_version),
    F(struct proto_welcome, capabilities),
    F(struct proto_welcome, proto_version),
};

/* REPORT and PRESSURE share these; PRESSURE appends its trigger mask. A
 * REPORT is at the start of a PRESSURE, so one table serves both: a REPORT
 * is the PRESSURE table less its last field (the agent's binary is smaller
 * for it). */
#define REPORT_FIELDS                                                                              \
    R(timestamp_ns), R(report_seq), RF(valid_mask, FIELD_VALID_MASK), R(mem_total_bytes),          \
        R(mem_free_bytes), R(mem_available_bytes), R(cached_bytes), R(buffers_bytes),              \
        R(swap_total_bytes), R(swap_free_bytes), R(active_file_bytes), R(inactive_file_bytes),     \
        R(active_anon_bytes), R(inactive_anon_bytes), R(psi_some_avg10_bp), R(psi_some_avg60_bp),  \
        R(psi_full_avg10_bp), R(psi_full_avg60_bp), R(psi_some_total_us), R(psi_full_total_us),    \
        R(pgmajfault), R(pgscan), R(pgsteal), R(oom_kill), R(uptime_ms)

/* v2 appends the used-memory split to v1's REPORT fields. */
#define REPORT_V2_FIELDS                                                                           \
    REPORT_FIELDS, R(shmem_bytes), R(slab_reclaimable_bytes), R(slab_unreclaimable_bytes),         \
        R(kernel_stack_bytes), R(page_tables_bytes), R(vmalloc_used_bytes)

_Static_assert(offsetof(struct proto_pressure, report) == 0, "a PRESSURE starts with a REPORT");

static const struct proto_field pressure_fields[] = {
    REPORT_FIELDS,
    F(struct proto_pressure, triggers),
};

static const struct proto_field pressure_v2_fields[] = {
    REPORT_V2_FIELDS,
    F(struct proto_pressure, triggers),
};

static const struct proto_field config_fields[] = {
    F(struct proto_config, report_interval_ms),
    F(struct proto_config, psi_some_threshold_us),
    F(struct proto_config, psi_full_threshold_us),
    F(struct proto_config, psi_window_us),
};

static const struct proto_field reclaim_fields[] = {
    F(struct proto_reclaim, request_bytes),
};

static const struct proto_field reclaim_done_fields[] = {
    F(struct proto_reclaim_done, ref_seq),     F(struct proto_reclaim_done, method),
    F(struct proto_reclaim_done, status),      F(struct proto_reclaim_done, requested_bytes),
    F(struct proto_reclaim_done, freed_bytes), F(struct proto_reclaim_done, duration_us),
};

static const struct proto_field ack_fields[] = {
    F(struct proto_ack, ref_seq),
    F(struct proto_ack, ref_type),
};

static const struct proto_field error_fields[] = {
    F(struct proto_error, ref_seq),
    F(struct proto_error, ref_type),
    F(struct proto_error, error),
};

/* POLL has no payload: an empty table (one unused slot: C has no empty arrays). */
static const struct proto_field poll_fields[1];

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define T(n, f, b)                                                                                 \
    {                                                                                              \
        n, f, N(f), b                                                                              \
    }
/* A REPORT: its PRESSURE's fields but the trigger mask. */
#define T_REPORT(f, b)                                                                             \
    {                                                                                              \
        "REPORT", f, N(f) - 1, b                                                                   \
    }

/*
 * The declared sizes are the contract (docs/protocol.md); proto_self_check()
 * proves each equals the sum of its table's widths, and the tests call it.
 */
static const struct proto_type_info types[PROTO_TYPE_COUNT] = {
    [PROTO_HELLO] = T("HELLO", hello_fields, PROTO_HELLO_BYTES),
    [PROTO_WELCOME] = T("WELCOME", welcome_fields, PROTO_WELCOME_BYTES),
    [PROTO_REPORT] = T_REPORT(pressure_fields, PROTO_REPORT_V1_BYTES),
    [PROTO_PRESSURE] = T("PRESSURE", pressure_fields, PROTO_PRESSURE_V1_BYTES),
    [PROTO_CONFIG] = T("CONFIG", config_fields, PROTO_CONFIG_BYTES),
    [PROTO_RECLAIM] = T("RECLAIM", reclaim_fields, PROTO_RECLAIM_BYTES),
    [PROTO_RECLAIM_DONE] = T("RECLAIM_DONE", reclaim_done_fields, PROTO_RECLAIM_DONE_BYTES),
    [PROTO_ACK] = T("ACK", ack_fields, PROTO_ACK_BYTES),
    [PROTO_ERROR] = T("ERROR", error_fields, PROTO_ERROR_BYTES),
    [PROTO_POLL] = {"POLL", poll_fields, 0, PROTO_POLL_BYTES},
};

/* What v2 changed (REPORT and PRESSURE); every other type keeps its v1 layout. */
static const struct proto_type_info report_v2 = T_REPORT(pressure_v2_fields, PROTO_REPORT_V2_BYTES);
static const struct proto_type_info pressure_v2 =
    T("PRESSURE", pressure_v2_fields, PROTO_PRESSURE_V2_BYTES);

_Static_assert(sizeof(struct proto_frame) < 512, "a frame lives on the stack of the agent loop");
_Static_assert(PROTO_R_FIELD_COUNT <= 32, "valid_mask has 32 bits");

static const struct proto_type_info *type_info(unsigned version, unsigned type)
{
    if (version < PROTO_VERSION_MIN || version > PROTO_VERSION_MAX)
        return NULL;
    if (type == 0 || type >= PROTO_TYPE_COUNT || !types[type].fields)
        return NULL;
    if (version >= 2 && type == PROTO_REPORT)
        return &report_v2;
    if (version >= 2 && type == PROTO_PRESSURE)
        return &pressure_v2;
    return &types[type];
}

int proto_self_check(void)
{
    for (unsigned v = PROTO_VERSION_MIN; v <= PROTO_VERSION_MAX; v++) {
        for (unsigned type = 1; type < PROTO_TYPE_COUNT; type++) {
            const struct proto_type_info *t = type_info(v, type);
            if (!t)
                return -EINVAL;
            size_t total = 0;
            for (size_t i = 0; i < t->field_count; i++)
                total += t->fields[i].width;
            if (total != t->payload_bytes || total > PROTO_MAX_PAYLOAD_BYTES)
                return -EINVAL;
        }
    }
    return 0;
}

int proto_error_errno(int32_t error)
{
    return error < 0 && error >= -PROTO_ERRNO_MAX ? -error : 0;
}

const char *proto_type_name(unsigned type)
{
    const struct proto_type_info *t = type_info(PROTO_VERSION_MIN, type);
    return t ? t->name : "?";
}

size_t proto_payload_bytes(unsigned version, unsigned type)
{
    const struct proto_type_info *t = type_info(version, type);
    return t ? t->payload_bytes : 0;
}

uint32_t proto_report_valid_bits(unsigned version)
{
    if (version < PROTO_VERSION_MIN || version > PROTO_VERSION_MAX)
        return 0;
    unsigned fields = version == 1 ? PROTO_R_V1_FIELD_COUNT : PROTO_R_FIELD_COUNT;
    return (uint32_t)((1ull << fields) - 1);
}

static void put_le(uint8_t *p, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned width)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < width; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Host-endian struct member <-> integer of its width (memcpy: no aliasing). */
static uint64_t load_member(const uint8_t *m, unsigned width)
{
    switch (width) {
    case 1:
        return *m;
    case 2: {
        uint16_t v;
        memcpy(&v, m, 2);
        return v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, m, 4);
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, m, 8);
        return v;
    }
    }
}

static void store_member(uint8_t *m, uint64_t v, unsigned width)
{
    switch (width) {
    case 1:
        *m = (uint8_t)v;
        break;
    case 2: {
        uint16_t x = (uint16_t)v;
        memcpy(m, &x, 2);
        break;
    }
    case 4: {
        uint32_t x = (uint32_t)v;
        memcpy(m, &x, 4);
        break;
    }
    default:
        memcpy(m, &v, 8);
        break;
    }
}

int proto_encode(const struct proto_frame *f, uint8_t *buf, size_t buf_len)
{
    if (!f || !buf)
        return -EINVAL;
    unsigned version = f->version ? f->version : PROTO_VERSION_MIN;
    const struct proto_type_info *t = type_info(version, f->type);
    if (!t)
        return -EINVAL;
    size_t total = PROTO_HEADER_BYTES + t->payload_bytes;
    if (buf_len < total)
        return -ENOSPC;
    buf[0] = PROTO_MAGIC0;
    buf[1] = PROTO_MAGIC1;
    buf[2] = PROTO_MAGIC2;
    buf[3] = PROTO_MAGIC3;
    buf[4] = (uint8_t)version;
    buf[5] = f->type;
    put_le(buf + 6, 0, 2);
    put_le(buf + 8, t->payload_bytes, 4);
    put_le(buf + 12, f->seq, 4);
    const uint8_t *msg = (const uint8_t *)&f->u;
    uint8_t *p = buf + PROTO_HEADER_BYTES;
    for (size_t i = 0; i < t->field_count; i++) {
        const struct proto_field *fl = &t->fields[i];
        uint64_t v = load_member(msg + fl->offset, fl->width);
        if (fl->flags & FIELD_VALID_MASK)
            v &= proto_report_valid_bits(version);
        put_le(p, v, fl->width);
        p += fl->width;
    }
    return (int)total;
}

static bool is_magic(const uint8_t *p)
{
    return p[0] == PROTO_MAGIC0 && p[1] == PROTO_MAGIC1 && p[2] == PROTO_MAGIC2 &&
           p[3] == PROTO_MAGIC3;
}

/*
 * Header checks only: never looks past PROTO_HEADER_BYTES. On success sets
 * *info and *payload_bytes (already proven exact for the type).
 */
static int check_header(const uint8_t *buf, const struct proto_type_info **info,
                        uint32_t *payload_bytes)
{
    if (!is_magic(buf))
        return -EBADMSG;
    if (buf[4] < PROTO_VERSION_MIN || buf[4] > PROTO_VERSION_MAX)
        return -EPROTONOSUPPORT;
    if (get_le(buf + 6, 2) != 0)
        return -EBADMSG;
    uint32_t len = (uint32_t)get_le(buf + 8, 4);
    if (len > PROTO_MAX_PAYLOAD_BYTES)
        return -E2BIG;
    const struct proto_type_info *t = type_info(buf[4], buf[5]);
    if (!t)
        return -ENOMSG;
    if (len != t->payload_bytes)
        return -EMSGSIZE;
    *info = t;
    *payload_bytes = len;
    return 0;
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_frame *out, size_t *consumed)
{
    if (!buf || !out || !consumed)
        return -EINVAL;
    /* A prefix that is not even the magic is garbage, not "too short". */
    static const uint8_t magic[4] = {PROTO_MAGIC0, PROTO_MAGIC1, PROTO_MAGIC2, PROTO_MAGIC3};
    if (memcmp(buf, magic, len < 4 ? len : 4) != 0)
        return -EBADMSG;
    if (len < PROTO_HEADER_BYTES)
        return -EAGAIN;
    const struct proto_type_info *t;
    uint32_t payload_bytes;
    int rc = check_header(buf, &t, &payload_bytes);
    if (rc < 0)
        return rc;
    if (len < PROTO_HEADER_BYTES + (size_t)payload_bytes)
        return -EAGAIN;
    memset(out, 0, sizeof(*out));
    out->version = buf[4];
    out->type = buf[5];
    out->flags = 0;
    out->payload_bytes = payload_bytes;
    out->seq = (uint32_t)get_le(buf + 12, 4);
    uint8_t *msg = (uint8_t *)&out->u;
    const uint8_t *p = buf + PROTO_HEADER_BYTES;
    for (size_t i = 0; i < t->field_count; i++) {
        const struct proto_field *fl = &t->fields[i];
        uint64_t v = get_le(p, fl->width);
        if (fl->flags & FIELD_VALID_MASK)
            v &= proto_report_valid_bits(out->version);
        store_member(msg + fl->offset, v, fl->width);
        p += fl->width;
    }
    *consumed = PROTO_HEADER_BYTES + payload_bytes;
    return 0;
}

void proto_stream_init(struct proto_stream *s)
{
    memset(s, 0, sizeof(*s));
}

void proto_stream_reset(struct proto_stream *s)
{
    s->len = 0;
}

uint8_t *proto_stream_space(struct proto_stream *s, size_t *room)
{
    *room = sizeof(s->buf) - s->len;
    return s->buf + s->len;
}

void proto_stream_commit(struct proto_stream *s, size_t n)
{
    size_t room = sizeof(s->buf) - s->len;
    s->len += n < room ? n : room;
}

size_t proto_stream_feed(struct proto_stream *s, const void *data, size_t len)
{
    size_t room;
    uint8_t *dst = proto_stream_space(s, &room);
    size_t n = len < room ? len : room;
    memcpy(dst, data, n);
    s->len += n;
    return n;
}

static void drop(struct proto_stream *s, size_t n)
{
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
}

/*
 * Skips to the first byte that could start a magic: a whole magic, or a
 * magic prefix at the very end of the buffer that more bytes may complete.
 */
static void skip_garbage(struct proto_stream *s)
{
    size_t i = 0;
    for (; i < s->len; i++) {
        size_t avail = s->len - i;
        if (s->buf[i] != PROTO_MAGIC0)
            continue;
        if (avail >= 4 ? is_magic(s->buf + i) : memcmp(s->buf + i, "\x42\x4c\x53", avail) == 0)
            break;
    }
    if (i > 0) {
        s->stats.garbage_bytes += i;
        drop(s, i);
    }
}

int proto_stream_next(struct proto_stream *s, struct proto_frame *out)
{
    skip_garbage(s);
    if (s->len < PROTO_HEADER_BYTES)
        return 0;
    size_t consumed = 0;
    int rc = proto_decode(s->buf, s->len, out, &consumed);
    if (rc == -EAGAIN)
        return 0; /* header valid, payload still on its way (fits: len <= max) */
    if (rc < 0) {
        switch (rc) {
        case -EPROTONOSUPPORT:
            s->stats.bad_version++;
            break;
        case -E2BIG:
            s->stats.oversized++;
            break;
        case -ENOMSG:
            s->stats.bad_type++;
            break;
        case -EMSGSIZE:
            s->stats.bad_length++;
            break;
        default:
            s->stats.bad_flags++;
            break;
        }
        s->stats.errors++;
        /* Not a frame after all: this magic was garbage; look for the next. */
        s->stats.garbage_bytes++;
        drop(s, 1);
        return rc;
    }
    s->stats.frames++;
    drop(s, consumed);
    return 1;
}

int proto_config_check(const struct proto_config *c)
{
    if (!c)
        return -EINVAL;
    if (c->report_interval_ms < PROTO_INTERVAL_MIN_MS ||
        c->report_interval_ms > PROTO_INTERVAL_MAX_MS)
        return -EINVAL;
    if (c->psi_some_threshold_us == 0 && c->psi_full_threshold_us == 0)
        return 0;
    if (c->psi_window_us < 500000 || c->psi_window_us > 10000000)
        return -EINVAL;
    if (c->psi_some_threshold_us > c->psi_window_us || c->psi_full_threshold_us > c->psi_window_us)
        return -EINVAL;
    return 0;
}

/* --- quiet reporting ------------------------------------------------------------------ */

static bool moved(uint64_t a, uint64_t b, uint64_t band)
{
    return (a > b ? a - b : b - a) >= band;
}

bool proto_report_material(const struct proto_report *last, const struct proto_report *cur)
{
    if (last->valid_mask != cur->valid_mask)
        return true;
    uint64_t total =
        cur->mem_total_bytes > last->mem_total_bytes ? cur->mem_total_bytes : last->mem_total_bytes;
    uint64_t band = total / PROTO_QUIET_DEADBAND_DIVISOR;
    if (band < PROTO_QUIET_DEADBAND_MIN_BYTES)
        band = PROTO_QUIET_DEADBAND_MIN_BYTES;
    /* Unsigned sums of two fields a hostile /proc may fill with anything:
     * wrap-around only makes a report look material, which is harmless. */
    return moved(last->mem_total_bytes, cur->mem_total_bytes, band) ||
           moved(last->mem_available_bytes, cur->mem_available_bytes, band) ||
           moved(last->mem_free_bytes, cur->mem_free_bytes, band) ||
           moved(last->swap_free_bytes, cur->swap_free_bytes, band) ||
           moved(last->active_anon_bytes + last->inactive_anon_bytes,
                 cur->active_anon_bytes + cur->inactive_anon_bytes, band) ||
           moved(last->psi_some_avg10_bp, cur->psi_some_avg10_bp, PROTO_QUIET_PSI_BP) ||
           moved(last->psi_full_avg10_bp, cur->psi_full_avg10_bp, PROTO_QUIET_PSI_BP) ||
           last->oom_kill != cur->oom_kill;
}
