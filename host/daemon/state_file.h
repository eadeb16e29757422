/*
 * state_file.h — ballastd's state file: what a restart must not lose
 * (host/policy/vm_saved.h: hold-downs, stalls, set-policy overrides, the
 * last target sent), one small JSON document.
 *
 *   {"format": "ballastd-state", "version": 2, "boot_id": "5c1d...",
 *    "ksmd_started": true,
 *    "vms": [{"name": "web", "qemu_pid": 4242, "qemu_start_ticks": 7771,
 *             "target_bytes": 402653184, "grow_ms": 90000,
 *             "deflate_hold_until_ms": 395000, "guest_deflate_events": 2,
 *             "stalled_at_bytes": 314572800, "stalled_until_ms": 200000,
 *             "foreign_bytes": 4294967296, "foreign_since_s": 1796463012,
 *             "overrides": {"min_memory": "268435456"}}]}
 *
 * Times are CLOCK_BOOTTIME milliseconds: a restart keeps them meaningful
 * (ballastd's monotonic clock is per boot too, but does not count a
 * suspend, and a hold is about time the guest lived), and boot_id
 * (/proc/sys/kernel/random/boot_id) tells a file from another boot, whose
 * times and guests mean nothing now. A member that is absent is "none".
 * ksmd_started (version 2): ksmd runs because ballastd started it in this
 * boot, so a ballastd started after a crash owns it again (docs/ksm.md,
 * "Who owns ksmd"). Version 1 files (no such member) are still read.
 *
 * Written atomically (NAME.tmp, fsync, rename, fsync of the directory):
 * a crash leaves the old file or the new one, never half of one. Read with
 * suspicion, as anything another process could have written: a regular
 * file of ours (owner, no group or other write), at most
 * STATE_FILE_MAX_BYTES, nested no deeper than the format, before json-glib
 * sees a byte; then the format and version, then every member by type and
 * range (vm_saved_check), every VM name once, at most STATE_FILE_MAX_VMS
 * VMs. All or nothing: one bad member and the file is ignored as a whole.
 */
#ifndef BALLAST_STATE_FILE_H
#define BALLAST_STATE_FILE_H

#include "vm_saved.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#define STATE_FILE_FORMAT      "ballastd-state"
#define STATE_FILE_VERSION     2 /* written; 1 is still read */
#define STATE_FILE_VERSION_MIN 1
/* 4096 VMs of a few hundred bytes each fit with room to spare. */
#define STATE_FILE_MAX_BYTES (2u << 20)
#define STATE_FILE_MAX_VMS   4096
/* Root object, "vms" array, a VM, its "overrides": 4. */
#define STATE_FILE_MAX_DEPTH   4
#define STATE_FILE_BOOT_ID_MAX 64

/* What a restart must know beside the VMs. */
struct state_file_host {
    bool ksmd_started; /* ksmd runs because ballastd started it, this boot */
};

/* The document for n records (times on CLOCK_BOOTTIME), this boot's id and
 * host (NULL: nothing to say). g_free. */
char *state_file_encode_host(struct vm_saved *const *recs, size_t n, const char *boot_id,
                             const struct state_file_host *host, size_t *len);
/* The same without a host part. */
char *state_file_encode(struct vm_saved *const *recs, size_t n, const char *boot_id, size_t *len);

/*
 * Decodes a document read at now_boot_ms of boot boot_id. 0 with *out (a
 * GPtrArray of struct vm_saved *, g_free'd with it); else *why (g_free) and
 * -EFBIG (over the size cap), -EPROTONOSUPPORT (not a ballastd state file,
 * or another version), -ESTALE (another boot), -EINVAL (anything else
 * wrong: not JSON, too deep, a member of the wrong type or range, an
 * unknown member, a name twice, too many VMs).
 */
int state_file_decode(const char *text, size_t len, const char *boot_id, int64_t now_boot_ms,
                      GPtrArray **out, char **why);
/* The same, and the host part into *host (NULL: not wanted; all false when absent). */
int state_file_decode_host(const char *text, size_t len, const char *boot_id, int64_t now_boot_ms,
                           GPtrArray **out, struct state_file_host *host, char **why);

/*
 * Reads and decodes path. -ENOENT when there is none (a first start);
 * -EPERM when it is not a regular file of this user that no one else may
 * write; -errno when it cannot be read; else as state_file_decode.
 */
int state_file_read(const char *path, const char *boot_id, int64_t now_boot_ms, GPtrArray **out,
                    char **why);
/* The same, with the host part (state_file_decode_host). */
int state_file_read_host(const char *path, const char *boot_id, int64_t now_boot_ms,
                         GPtrArray **out, struct state_file_host *host, char **why);

/* Writes text atomically to path (mode 0600). 0 or -errno. */
int state_file_write(const char *path, const char *text, size_t len);

/* Beside the control socket: ".../ctl.sock" -> ".../ctl.state.json" (else
 * ".../NAME" -> ".../NAME.state.json"). g_free. */
char *state_file_default_path(const char *socket_path);

/* This boot's id from PROC_ROOT/sys/kernel/random/boot_id; "" when unreadable. */
void state_file_boot_id(const char *proc_root, char *buf, size_t len);

#endif
