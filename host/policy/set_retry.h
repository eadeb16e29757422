/*
 * set_retry.h — what ballastd does when a balloon command fails.
 *
 * A balloon target goes out as a QMP `balloon` (the fleet) or a
 * virDomainSetMemoryFlags (libvirt). Either can fail: QEMU refuses
 * ("DeviceNotActive"), libvirtd errors, or no answer comes within the
 * command's timeout. A failed command changed nothing, so it must not be
 * recorded as the target in force: the target goes back to the one before
 * it (set_retry_rollback), the engine asks again, and the command is sent
 * again after a back-off (set_retry_backoff_ms): SET_RETRY_MIN_MS doubling
 * per consecutive failure up to SET_RETRY_MAX_MS, reset by the first
 * command that works. A growth is never kept waiting longer than
 * SET_RETRY_GROW_MAX_MS: a guest under pressure needs the memory more than
 * a failing QEMU needs the rest (one command every few seconds costs it
 * nothing). The failures are counted and the last error kept, with its
 * time, for `ballastctl status` and `explain`.
 *
 * Pure: no I/O, no clock (times are the caller's monotonic ms), no glib.
 */
#ifndef BALLAST_SET_RETRY_H
#define BALLAST_SET_RETRY_H

#include <stdbool.h>
#include <stdint.h>

#define SET_RETRY_MIN_MS      1000
#define SET_RETRY_MAX_MS      60000
#define SET_RETRY_GROW_MAX_MS 5000
#define SET_RETRY_ERROR_MAX   160

struct set_retry {
    uint32_t failures;                    /* consecutive failed commands; 0 after one that worked */
    uint64_t failures_total;              /* since the VM appeared */
    int64_t not_before_ms;                /* no command before this (monotonic); 0 = any time */
    int64_t last_error_ms;                /* when the last failure came back; 0 = never */
    char last_error[SET_RETRY_ERROR_MAX]; /* its text, "" = none */
    /* The last command sent and the target in force before it (0 = none:
     * the balloon's actual counts), for the rollback. */
    uint64_t sent_bytes;
    uint64_t before_bytes;
};

/* The wait after the failures-th consecutive failure: 0 for none, else
 * SET_RETRY_MIN_MS << (failures - 1), at most SET_RETRY_MAX_MS
 * (SET_RETRY_GROW_MAX_MS for a growth). */
uint64_t set_retry_backoff_ms(uint32_t failures, bool grow);

/* A command for target_bytes goes out; before_bytes is the target in force until now. */
void set_retry_sent(struct set_retry *r, uint64_t target_bytes, uint64_t before_bytes);

/* The command for failed_bytes failed at now_ms (error: what the backend
 * said; NULL is "unknown error"). */
void set_retry_failed(struct set_retry *r, uint64_t failed_bytes, int64_t now_ms, bool grow,
                      const char *error);

/* A command worked: the back-off is over (the last error stays, with its time). */
void set_retry_succeeded(struct set_retry *r);

/* Whether a command may go out at now_ms. */
bool set_retry_may_send(const struct set_retry *r, int64_t now_ms);

/*
 * The target in force once the command for failed_bytes failed, in_force
 * being the one recorded now. A later command stands; else the target goes
 * back to the one before the failed command, or to 0 (none: the balloon's
 * actual counts) when that is not known - two commands in flight, the
 * earlier failed too. Call before set_retry_failed.
 */
uint64_t set_retry_rollback(const struct set_retry *r, uint64_t in_force, uint64_t failed_bytes);

#endif
