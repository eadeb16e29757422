/*
 * The workload schedule given on the guest kernel command line as
 * ballast.workload=SPEC (grammar in docs/agent.md), and the pure function
 * that says how much memory the workload holds at a given time.
 */
#ifndef BALLAST_WORKLOAD_SPEC_H
#define BALLAST_WORKLOAD_SPEC_H

#include <stdint.h>

enum workload_kind {
    WORKLOAD_IDLE,
    WORKLOAD_STEADY,   /* hold size */
    WORKLOAD_SPIKE,    /* base, then peak for hold, from after (every: repeat) */
    WORKLOAD_SAWTOOTH, /* min, +step every tick up to max, back to min */
};

struct workload_spec {
    enum workload_kind kind;
    uint64_t base_bytes; /* spike: between spikes; sawtooth: min */
    uint64_t peak_bytes; /* steady: size; spike: peak; sawtooth: max */
    uint64_t step_bytes;
    uint64_t start_ms; /* nothing is held before this */
    uint64_t after_ms;
    uint64_t hold_ms;
    uint64_t every_ms; /* 0: once */
    uint64_t tick_ms;
    uint64_t high_bytes;  /* memory.high of the workload's own cgroup; 0: none */
    uint64_t cache_bytes; /* written to the disk after each drop (workload_cache_due); 0: none */
};

/* Returns 0 or -EINVAL (unknown kind or key, bad size or duration). */
int workload_spec_parse(const char *text, struct workload_spec *out);

/* Bytes the workload should hold elapsed_ms after it started. */
uint64_t workload_target_bytes(const struct workload_spec *s, uint64_t elapsed_ms);

/*
 * Whether the workload writes its cache= bytes to the disk now: after each
 * drop of its target (a spike's end, a sawtooth's fall), once it holds the
 * lower target, so the guest idles with page cache left behind, as a guest
 * that ran something does; steady writes once, when it first holds its size.
 * prev_target is the target before this one (UINT64_MAX at the start),
 * held whether the workload holds target now, writes how many times it wrote.
 */
int workload_cache_due(const struct workload_spec *s, uint64_t prev_target, uint64_t target,
                       int held, unsigned writes);

#endif
