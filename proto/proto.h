/*
 * The ballast wire protocol between ballast-agent (in the guest) and ballastd
 * (on the host), specified byte by byte in docs/protocol.md.
 *
 * Every frame is a 16-byte header followed by a fixed-layout little-endian
 * payload whose length is exact for its type. The same code encodes and
 * decodes on both sides: the static musl agent and the glib daemon. Nothing
 * here allocates; every buffer is fixed, and no length read from the wire is
 * trusted before it has been checked against the type's exact size.
 *
 * Two ways to decode:
 *   - proto_decode(): one frame at the start of a buffer (datagram style);
 *   - struct proto_stream: bytes as they come off a socket, whole validated
 *     frames out, resynchronising on the next magic after garbage. This is
 *     what ballastd keeps per guest connection and what the agent keeps for
 *     its port.
 */
#ifndef BALLAST_PROTO_H
#define BALLAST_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The virtio-serial port the protocol runs on, by name: the launcher gives
 * the guest's port this name, libvirt domains name their <channel> target
 * so, and the agent looks for it under /sys/class/virtio-ports. */
#define PROTO_AGENT_PORT_NAME "org.ballast.agent.0"

/* "BLST" on the wire: readable in a hexdump, and the resync anchor. */
#define PROTO_MAGIC0 0x42
#define PROTO_MAGIC1 0x4c
#define PROTO_MAGIC2 0x53
#define PROTO_MAGIC3 0x54

/*
 * Protocol versions this code speaks. A frame's header carries the version
 * of its layouts: HELLO and WELCOME always go as v1 frames (their layouts
 * are the same in every version), everything else in the version the
 * connection's WELCOME chose, v1 before it. v2 adds the used-memory split
 * to REPORT and PRESSURE (docs/protocol.md, "Versioning").
 */
#define PROTO_VERSION_MIN  1
#define PROTO_VERSION_MAX  2
#define PROTO_HEADER_BYTES 16
/* Hard ceiling on any payload, checked before the exact per-type size. */
#define PROTO_MAX_PAYLOAD_BYTES 256
#define PROTO_MAX_FRAME_BYTES   (PROTO_HEADER_BYTES + PROTO_MAX_PAYLOAD_BYTES)

/* Frame types. Direction in brackets: g->h from the agent, h->g from ballastd. */
enum proto_type {
    PROTO_HELLO = 1,        /* g->h first frame on every connection */
    PROTO_WELCOME = 2,      /* h->g answer to HELLO: chosen version, capabilities */
    PROTO_REPORT = 3,       /* g->h periodic memory report */
    PROTO_PRESSURE = 4,     /* g->h a report sent at once because a PSI trigger fired */
    PROTO_CONFIG = 5,       /* h->g report interval and PSI thresholds; answered ACK/ERROR */
    PROTO_RECLAIM = 6,      /* h->g give back up to N bytes; answered RECLAIM_DONE */
    PROTO_RECLAIM_DONE = 7, /* g->h what a RECLAIM actually freed */
    PROTO_ACK = 8,          /* either way: a frame was applied */
    PROTO_ERROR = 9,        /* either way: a frame was refused, with a negative errno */
    PROTO_POLL = 10,        /* h->g send a REPORT now (capability POLL); no payload */
    PROTO_TYPE_COUNT
};

/* HELLO.capabilities / WELCOME.capabilities bits. */
#define PROTO_CAP_PRESSURE       (1u << 0) /* PSI triggers work: PRESSURE frames will come */
#define PROTO_CAP_RECLAIM        (1u << 1) /* RECLAIM is understood */
#define PROTO_CAP_CGROUP_RECLAIM (1u << 2) /* ... through memory.reclaim (else drop_caches) */
#define PROTO_CAP_VMSTAT         (1u << 3) /* pgscan/pgsteal/pgmajfault/oom_kill are filled */
#define PROTO_CAP_QUIET          (1u << 4) /* REPORT only on a material change (see below) */
#define PROTO_CAP_POLL           (1u << 5) /* with QUIET: no heartbeat, the host POLLs instead */
#define PROTO_CAP_ALL            0x3fu

/* REPORT.valid_mask: which fields were read this time (hostile /proc tolerated). */
enum proto_report_field {
    PROTO_R_MEM_TOTAL,
    PROTO_R_MEM_FREE,
    PROTO_R_MEM_AVAILABLE,
    PROTO_R_CACHED,
    PROTO_R_BUFFERS,
    PROTO_R_SWAP_TOTAL,
    PROTO_R_SWAP_FREE,
    PROTO_R_ACTIVE_FILE,
    PROTO_R_INACTIVE_FILE,
    PROTO_R_ACTIVE_ANON,
    PROTO_R_INACTIVE_ANON,
    PROTO_R_PSI_SOME,
    PROTO_R_PSI_FULL,
    PROTO_R_PGMAJFAULT,
    PROTO_R_PGSCAN,
    PROTO_R_PGSTEAL,
    PROTO_R_OOM_KILL,
    PROTO_R_UPTIME,
    /* v2 only: the guest's used memory by kind (/proc/meminfo) */
    PROTO_R_SHMEM,
    PROTO_R_SLAB_RECLAIMABLE,
    PROTO_R_SLAB_UNRECLAIMABLE,
    PROTO_R_KERNEL_STACK,
    PROTO_R_PAGE_TABLES,
    PROTO_R_VMALLOC_USED,
    PROTO_R_FIELD_COUNT
};
#define PROTO_R_V1_FIELD_COUNT (PROTO_R_UPTIME + 1)
#define PROTO_R_BIT(field)     (1u << (field))

/* PRESSURE.triggers bits. */
#define PROTO_TRIGGER_SOME (1u << 0)
#define PROTO_TRIGGER_FULL (1u << 1)

/* RECLAIM_DONE.method. */
enum proto_reclaim_method {
    PROTO_RECLAIM_NONE = 0,        /* nothing could be done (see status) */
    PROTO_RECLAIM_CGROUP = 1,      /* /sys/fs/cgroup/memory.reclaim */
    PROTO_RECLAIM_DROP_CACHES = 2, /* /proc/sys/vm/drop_caches = 1 */
};

struct proto_hello {
    uint32_t agent_version; /* major << 16 | minor << 8 | patch */
    uint32_t page_size_bytes;
    uint32_t capabilities;      /* PROTO_CAP_* the agent has */
    uint16_t proto_version_min; /* protocol versions the agent speaks */
    uint16_t proto_version_max;
};

struct proto_welcome {
    uint32_t host_version;  /* major << 16 | minor << 8 | patch */
    uint32_t capabilities;  /* the subset of HELLO's the host will use */
    uint32_t proto_version; /* chosen version, within HELLO's range */
};

/* Memory sizes in bytes, PSI averages in basis points (1/100 of a percent). */
struct proto_report {
    uint64_t timestamp_ns; /* guest CLOCK_MONOTONIC when the sample was taken */
    uint32_t report_seq;   /* REPORT and PRESSURE frames share this counter */
    uint32_t valid_mask;   /* PROTO_R_BIT(field) for every field read */
    uint64_t mem_total_bytes;
    uint64_t mem_free_bytes;
    uint64_t mem_available_bytes;
    uint64_t cached_bytes;
    uint64_t buffers_bytes;
    uint64_t swap_total_bytes;
    uint64_t swap_free_bytes;
    uint64_t active_file_bytes;
    uint64_t inactive_file_bytes;
    uint64_t active_anon_bytes;
    uint64_t inactive_anon_bytes;
    uint32_t psi_some_avg10_bp;
    uint32_t psi_some_avg60_bp;
    uint32_t psi_full_avg10_bp;
    uint32_t psi_full_avg60_bp;
    uint64_t psi_some_total_us;
    uint64_t psi_full_total_us;
    uint64_t pgmajfault;
    uint64_t pgscan;
    uint64_t pgsteal;
    uint64_t oom_kill;
    uint64_t uptime_ms;
    /* v2 only (0 and not in valid_mask in a v1 frame): */
    uint64_t shmem_bytes;              /* Shmem: tmpfs, shared memory (on the anon LRU) */
    uint64_t slab_reclaimable_bytes;   /* SReclaimable */
    uint64_t slab_unreclaimable_bytes; /* SUnreclaim */
    uint64_t kernel_stack_bytes;       /* KernelStack */
    uint64_t page_tables_bytes;        /* PageTables */
    uint64_t vmalloc_used_bytes;       /* VmallocUsed (vmap'd kernel stacks included) */
};

struct proto_pressure {
    struct proto_report report;
    uint32_t triggers; /* PROTO_TRIGGER_* that fired */
};

/* A threshold of 0 turns that PSI trigger off. */
struct proto_config {
    uint32_t report_interval_ms;
    uint32_t psi_some_threshold_us; /* stall time per window that fires "some" */
    uint32_t psi_full_threshold_us;
    uint32_t psi_window_us;
};

struct proto_reclaim {
    uint64_t request_bytes;
};

struct proto_reclaim_done {
    uint32_t ref_seq; /* header seq of the RECLAIM this answers */
    uint32_t method;  /* enum proto_reclaim_method */
    int32_t status;   /* 0 or negative errno */
    uint64_t requested_bytes;
    uint64_t freed_bytes; /* measured growth of MemFree, never negative */
    uint64_t duration_us;
};

struct proto_ack {
    uint32_t ref_seq;
    uint32_t ref_type;
};

struct proto_error {
    uint32_t ref_seq;
    uint32_t ref_type;
    int32_t error; /* negative errno */
};

/* One decoded (or to-be-encoded) frame: header fields plus the typed payload. */
struct proto_frame {
    uint8_t version; /* of the layouts: PROTO_VERSION_MIN..MAX; 0 encodes as 1 */
    uint8_t type;    /* enum proto_type; selects the union member */
    uint16_t flags;
    uint32_t seq; /* per sender, +1 per frame; gaps mean dropped frames */
    uint32_t payload_bytes;
    union {
        struct proto_hello hello;
        struct proto_welcome welcome;
        struct proto_report report;
        struct proto_pressure pressure;
        struct proto_config config;
        struct proto_reclaim reclaim;
        struct proto_reclaim_done reclaim_done;
        struct proto_ack ack;
        struct proto_error error;
    } u;
};

/* Exact payload sizes on the wire (docs/protocol.md has the byte layouts). */
#define PROTO_HELLO_BYTES        16
#define PROTO_WELCOME_BYTES      12
#define PROTO_REPORT_V1_BYTES    176
#define PROTO_PRESSURE_V1_BYTES  180
#define PROTO_REPORT_V2_BYTES    224 /* v1's, then the six memory kinds */
#define PROTO_PRESSURE_V2_BYTES  228
#define PROTO_CONFIG_BYTES       16
#define PROTO_RECLAIM_BYTES      8
#define PROTO_RECLAIM_DONE_BYTES 36
#define PROTO_ACK_BYTES          8
#define PROTO_ERROR_BYTES        12
#define PROTO_POLL_BYTES         0

/*
 * The errno an ERROR frame's `error` (or a RECLAIM_DONE's `status`) carries:
 * a negative errno, -1 .. -4095 (the kernel's range), gives its positive
 * value; anything else gives 0, "not an errno": 0, a positive number, and
 * INT32_MIN, whose negation is undefined behaviour in C. The wire value is
 * the peer's; never negate it yourself.
 */
#define PROTO_ERRNO_MAX 4095
int proto_error_errno(int32_t error);

/* 0 when every type's field table adds up to its declared size (tests). */
int proto_self_check(void);

/* Name of a type for logs ("REPORT"), "?" when unknown. */
const char *proto_type_name(unsigned type);

/* Exact payload size of a type in a version, 0 when either is unknown. */
size_t proto_payload_bytes(unsigned version, unsigned type);

/*
 * The REPORT.valid_mask bits a version's frames can carry (0 for an unknown
 * version). The codec clears the others both ways: a v1 frame never claims
 * a v2 field, whatever the sender's struct held.
 */
uint32_t proto_report_valid_bits(unsigned version);

/*
 * Encodes f (f->type and the matching union member, in f->version's
 * layouts, 0 meaning 1; f->flags and f->payload_bytes are ignored and
 * written as 0 and the type's size) into buf. Returns the frame length,
 * -EINVAL for an unknown type or version, -ENOSPC when buf is too small.
 */
int proto_encode(const struct proto_frame *f, uint8_t *buf, size_t buf_len);

/*
 * Decodes one frame at the start of buf. The header is checked in this
 * order before any payload byte is read: magic (-EBADMSG), version in
 * PROTO_VERSION_MIN..MAX (-EPROTONOSUPPORT), flags (-EBADMSG), length
 * against the hard maximum (-E2BIG), type (-ENOMSG), length against the
 * type's exact size in that version (-EMSGSIZE).
 * Returns 0 with *consumed = frame length, -EAGAIN when buf holds only a
 * prefix of a frame that may still turn out valid, or one of the errors above.
 */
int proto_decode(const uint8_t *buf, size_t len, struct proto_frame *out, size_t *consumed);

/* Errors a stream has seen, by kind; bytes skipped while resynchronising. */
struct proto_stream_stats {
    uint64_t frames;
    uint64_t garbage_bytes;
    uint64_t bad_version;
    uint64_t bad_flags;
    uint64_t oversized;
    uint64_t bad_type;
    uint64_t bad_length;
    uint64_t errors; /* sum of the bad_* and oversized counters */
};

/*
 * A streaming decoder in a fixed buffer. Feed it bytes as they arrive (any
 * split), then call proto_stream_next() until it returns 0.
 */
struct proto_stream {
    uint8_t buf[2 * PROTO_MAX_FRAME_BYTES];
    size_t len;
    struct proto_stream_stats stats;
};

void proto_stream_init(struct proto_stream *s);

/*
 * Where to read() into and how much fits; after the read, tell the stream
 * with proto_stream_commit(). Room is never 0 once proto_stream_next() has
 * returned 0.
 */
uint8_t *proto_stream_space(struct proto_stream *s, size_t *room);
void proto_stream_commit(struct proto_stream *s, size_t n);

/* Copies as much of data as fits; returns how many bytes were taken. */
size_t proto_stream_feed(struct proto_stream *s, const void *data, size_t len);

/*
 * Returns 1 with a validated frame in *out, 0 when more bytes are needed,
 * or a negative errno (as proto_decode) for a rejected header: that bad
 * frame start has already been skipped and counted, so call again.
 * Garbage before a magic is skipped silently and counted in garbage_bytes.
 */
int proto_stream_next(struct proto_stream *s, struct proto_frame *out);

/* Forgets buffered bytes (a new connection); keeps the statistics. */
void proto_stream_reset(struct proto_stream *s);

/*
 * Checks a CONFIG against what the agent and the kernel accept: interval in
 * [PROTO_INTERVAL_MIN_MS, PROTO_INTERVAL_MAX_MS]; a non-zero threshold needs
 * a window in [500 ms, 10 s] (the kernel's PSI trigger limits) and must not
 * exceed it. Returns 0 or -EINVAL.
 */
#define PROTO_INTERVAL_MIN_MS 50
#define PROTO_INTERVAL_MAX_MS 3600000
int proto_config_check(const struct proto_config *c);

/*
 * Quiet reporting (capability QUIET, when the host's WELCOME grants it): the
 * agent still samples every report interval, but sends the REPORT only when
 * proto_report_material() says it differs from the last one sent, or when
 * PROTO_QUIET_HEARTBEAT_INTERVALS intervals passed without one. An idle
 * guest then wakes the host once in ten intervals instead of every one; a
 * guest whose memory moves reports as often as before. PRESSURE frames are
 * never held back.
 */
#define PROTO_QUIET_HEARTBEAT_INTERVALS 10
/*
 * Polled reporting (capability POLL, granted with QUIET): the agent sends no
 * heartbeat at all; the host sends POLL when it wants the figures (ballastd:
 * to every quiet agent at once, at its tick) and the agent answers with a
 * REPORT at once, material or not. A host that polls a whole fleet together
 * reads the answers together: one wakeup for 32 guests instead of 32.
 */
/* Memory moves below max(MIN, MemTotal / DIVISOR) are not material. */
#define PROTO_QUIET_DEADBAND_MIN_BYTES (1ull << 20)
#define PROTO_QUIET_DEADBAND_DIVISOR   128
/* PSI avg10 moves below this (basis points: 100 = 1 %) are not material. */
#define PROTO_QUIET_PSI_BP 100

/*
 * Whether cur differs materially from last: another valid_mask, MemTotal,
 * MemAvailable, MemFree, SwapFree or anonymous memory moved by the deadband
 * or more, PSI some/full avg10 by PROTO_QUIET_PSI_BP or more, or the OOM
 * kill count changed. Pure.
 */
bool proto_report_material(const struct proto_report *last, const struct proto_report *cur);

#endif
