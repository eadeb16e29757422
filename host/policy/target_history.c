/* target_history.c — see target_history.h. */
#include "target_history.h"

#include <string.h>

void target_history_push(struct target_history *h, uint64_t bytes, int64_t sent_real_us)
{
    memmove(&h->bytes[1], &h->bytes[0], (TARGET_HISTORY_LEN - 1) * sizeof(h->bytes[0]));
    memmove(&h->sent_real_us[1], &h->sent_real_us[0],
            (TARGET_HISTORY_LEN - 1) * sizeof(h->sent_real_us[0]));
    h->bytes[0] = bytes;
    h->sent_real_us[0] = sent_real_us;
}

void target_history_clear(struct target_history *h)
{
    memset(h, 0, sizeof(*h));
}

uint64_t target_history_at(const struct target_history *h, int64_t real_us)
{
    for (int i = 0; i < TARGET_HISTORY_LEN; i++) {
        if (!h->bytes[i])
            return 0; /* nothing sent before real_us */
        if (real_us >= h->sent_real_us[i])
            return h->bytes[i];
    }
    return 0; /* older than the history reaches: unknown, claim nothing */
}

void target_history_forget(struct target_history *h, uint64_t bytes)
{
    for (int i = 0; i < TARGET_HISTORY_LEN && h->bytes[i]; i++) {
        if (h->bytes[i] != bytes)
            continue;
        /* The older ones move up; the target before it was in force all along. */
        memmove(&h->bytes[i], &h->bytes[i + 1],
                (size_t)(TARGET_HISTORY_LEN - 1 - i) * sizeof(h->bytes[0]));
        memmove(&h->sent_real_us[i], &h->sent_real_us[i + 1],
                (size_t)(TARGET_HISTORY_LEN - 1 - i) * sizeof(h->sent_real_us[0]));
        h->bytes[TARGET_HISTORY_LEN - 1] = 0;
        h->sent_real_us[TARGET_HISTORY_LEN - 1] = 0;
        return;
    }
}
