/*
 * vm_saved.h — what of one VM's state a restart of ballastd must not lose,
 * as a plain record (pure: no I/O, no clock, no allocation).
 *
 * The engine's memory of a VM (policy_vm_state) lives in the daemon's heap;
 * a restart (an upgrade, a crash, systemd's Restart=) used to forget it and
 * start again from "nothing known". Most of it is safe to forget: the
 * engine learns it back within a few reports. Some of it protects the
 * guest, and forgetting it is how a restart harms one:
 *   - the hold-down after the guest deflated its balloon on OOM (no shrink
 *     for deflate_hold_ms: inflating again pushes it straight back into
 *     OOM) and the hold-down after a growth (grow_hold_ms);
 *   - a stall (the balloon cannot go lower: do not push below where it got
 *     until stall_retry_ms);
 *   - the set-policy overrides (an admin's min_memory must not vanish);
 *   - the last target sent (which makes a later rise of the balloon above
 *     it a deflate on OOM, seen and held, rather than "no target of ours");
 *   - someone else's target the VM is held at (an admin's `virsh setmem`:
 *     a restart must not take it back).
 * The daemon captures this record after each decision, writes it to its
 * state file when it changed (host/daemon/state_file.c) and puts it back
 * into a VM that appears after a start: the hold-downs and the stall into
 * a fresh policy_vm_state, the overrides into its runtime layer, the target
 * only when the VM's QEMU is the same process as before.
 *
 * Times are milliseconds on one clock per record: the daemon's monotonic
 * clock while in memory, CLOCK_BOOTTIME in the file (vm_saved_shift moves
 * between them). A record read from a file is untrusted until
 * vm_saved_check passed, and vm_saved_restore never lets one hold longer
 * than the configured hold would.
 */
#ifndef BALLAST_VM_SAVED_H
#define BALLAST_VM_SAVED_H

#include "config.h"
#include "policy.h"

#include <stdbool.h>
#include <stdint.h>

/* A VM name with its NUL (ballastd's CTL_VM_NAME_MAX; the daemon checks they agree). */
#define VM_SAVED_NAME_MAX 64
/* No VM is larger: a size above this in a file is not ours. */
#define VM_SAVED_MAX_BYTES (64ULL << 40)
/* A deadline further ahead than this is not ours (the longest hold a
 * config allows is a day: grow_hold_ms, stall_retry_ms <= 86400000). */
#define VM_SAVED_MAX_AHEAD_MS 86400000LL
/* Linux pids are below 2^22 (PID_MAX_LIMIT). */
#define VM_SAVED_MAX_PID 4194304LL

struct vm_saved {
    char name[VM_SAVED_NAME_MAX];
    /* The QEMU the target and holds are about: its pid and its start time
     * (clock ticks after boot, /proc/PID/stat field 22); 0 = unknown. */
    int64_t qemu_pid;
    uint64_t qemu_start_ticks;
    uint64_t target_bytes; /* the last target sent to that QEMU, 0 = none */
    bool grown;            /* grow_ms is meaningful */
    int64_t grow_ms;       /* the last growth: grow_hold_ms runs from here */
    bool deflate_held;     /* deflate_hold_until_ms is meaningful */
    int64_t deflate_hold_until_ms;
    uint64_t guest_deflate_events;    /* episodes counted so far (status) */
    uint64_t stalled_at_bytes;        /* != 0: not below this ... */
    int64_t stalled_until_ms;         /* ... until then */
    struct config_vm_layer overrides; /* set-policy keys */
    /* Someone else's balloon target the VM is held at (docs/policy.md,
     * "Other balloon controllers"), 0 = none, and when that began (Unix
     * seconds: shown, never waited on). Set by the caller after capture. */
    uint64_t foreign_bytes;
    int64_t foreign_since_s;
};

/*
 * The record of a VM now: its engine state, the target last sent (0 none),
 * its runtime overrides and its QEMU (pid, start ticks; 0 unknown). Times
 * stay on the engine's clock. The whole record is zeroed first, padding
 * included, so equal states give equal bytes (vm_saved_hash).
 */
void vm_saved_capture(struct vm_saved *r, const char *name, const struct policy_vm_state *s,
                      uint64_t target_bytes, const struct config_vm_layer *overrides,
                      int64_t qemu_pid, uint64_t qemu_start_ticks);

/* A 64-bit hash of the record's bytes: the daemon writes when it changes. */
uint64_t vm_saved_hash(const struct vm_saved *r);

/* Moves every time of the record by delta_ms (clock to clock), saturating. */
void vm_saved_shift(struct vm_saved *r, int64_t delta_ms);

/*
 * NULL when a record read from a file is one ballastd could have written at
 * now_ms (same clock): a VM name of 1..63 bytes of UTF-8 without control
 * characters, a pid in [0, VM_SAVED_MAX_PID] (a start time only with a
 * pid), sizes up to
 * VM_SAVED_MAX_BYTES, no time before 0, a growth not in the future, no
 * deadline more than VM_SAVED_MAX_AHEAD_MS ahead, overrides only of keys
 * set-policy takes. Else what is wrong (a static string).
 */
const char *vm_saved_check(const struct vm_saved *r, int64_t now_ms);

/* Whether a VM's QEMU now is the one a record is about. */
enum vm_saved_match {
    VM_SAVED_SAME,    /* pid and start time known and equal */
    VM_SAVED_UNKNOWN, /* either side does not know */
    VM_SAVED_OTHER,   /* another process: the guest booted anew */
};
enum vm_saved_match vm_saved_match(const struct vm_saved *r, int64_t qemu_pid,
                                   uint64_t qemu_start_ticks);

/* The foreign hold to put back, 0 for none: only into the same QEMU (the
 * other controller's target was about that process, like our own). */
uint64_t vm_saved_foreign(const struct vm_saved *r, enum vm_saved_match match);

/*
 * Puts a checked record (times on the engine's clock) back into a fresh
 * VM's engine state s at now_ms. Another QEMU gets nothing (its guest is
 * new: full balloon, no hold owed). The same or an unknown one gets the
 * hold-downs and the stall still running, each cut to the hold the
 * configuration gives now, and the deflate count; only the same one gets
 * the target back (*target_bytes, else 0): a target is about one process,
 * and a wrong one would read a fresh QEMU's full balloon as inflating
 * toward it. Overrides are the caller's (they are the admin's, by VM name,
 * whatever the QEMU). Returns what it restored as a short text for the log
 * ("deflate hold 212 s, target 384 MiB"), "" when nothing.
 */
const char *vm_saved_restore(const struct vm_saved *r, enum vm_saved_match match, int64_t now_ms,
                             const struct policy_tunables *t, struct policy_vm_state *s,
                             uint64_t *target_bytes, char *text, size_t text_len);

#endif
