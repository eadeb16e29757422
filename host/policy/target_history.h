/* target_history.h — which balloon target was in force when QEMU saw a change. */
#ifndef BALLAST_TARGET_HISTORY_H
#define BALLAST_TARGET_HISTORY_H

#include <stdint.h>

/*
 * A guest's balloon rises above the target we set without a command of ours
 * only when the guest takes pages back itself: deflate-on-oom. ballastd tells
 * that from its own growth by the target that was in force when the balloon
 * moved, and QEMU stamps every BALLOON_CHANGE event with the wall-clock time
 * the guest moved it. The event may be read late - after a decision that
 * already grew the target (a daemon stalled on a busy host reads a PRESSURE
 * report and the events of the same seconds in one go, in any order) - so the
 * target in force "now" is the wrong one to compare with; the one in force at
 * the event's time stamp is right.
 *
 * The last TARGET_HISTORY_LEN targets sent are kept with the wall-clock time
 * each was sent (taken before the command went out, so QEMU's stamp on its
 * effect is never earlier). Between two reads of the QMP socket the daemon
 * sends at most two commands per VM (a tick and an event decision), so three
 * entries reach back to the target in force when the last read was done.
 */
#define TARGET_HISTORY_LEN 3

struct target_history {
    uint64_t bytes[TARGET_HISTORY_LEN];       /* [0] newest; 0 = empty */
    int64_t sent_real_us[TARGET_HISTORY_LEN]; /* wall clock when sent */
};

/* Records a target sent at sent_real_us (g_get_real_time()). */
void target_history_push(struct target_history *h, uint64_t bytes, int64_t sent_real_us);

/* Forgets every target (QEMU reconnected: what was sent means nothing). */
void target_history_clear(struct target_history *h);

/* A command for bytes failed (set_retry.h): it never was in force, so the
 * newest entry of that size leaves the history. */
void target_history_forget(struct target_history *h, uint64_t bytes);

/* The target in force at real_us, 0 when unknown: nothing was sent yet then,
 * or the time is older than the history reaches. */
uint64_t target_history_at(const struct target_history *h, int64_t real_us);

#endif
