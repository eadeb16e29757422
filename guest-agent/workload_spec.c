/* Workload schedule parsing and the target-at-time function; see workload_spec.h. */
#include "workload_spec.h"

#include "size.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* "500ms", "5s", "2m", bare number = ms. */
static int parse_duration_ms(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = text;
    if (*p < '0' || *p > '9')
        return -EINVAL;
    while (*p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    uint64_t mult;
    if (*p == '\0' || strcmp(p, "ms") == 0)
        mult = 1;
    else if (strcmp(p, "s") == 0)
        mult = 1000;
    else if (strcmp(p, "m") == 0)
        mult = 60000;
    else
        return -EINVAL;
    if (v > UINT64_MAX / mult)
        return -ERANGE;
    *out = v * mult;
    return 0;
}

struct key {
    const char *name;
    size_t offset;
    int is_size; /* else a duration */
};

#define K(n, f, s)                                                                                 \
    {                                                                                              \
        n, offsetof(struct workload_spec, f), s                                                    \
    }
static const struct key keys[] = {
    K("size", peak_bytes, 1),   K("peak", peak_bytes, 1), K("max", peak_bytes, 1),
    K("base", base_bytes, 1),   K("min", base_bytes, 1),  K("step", step_bytes, 1),
    K("high", high_bytes, 1),   K("start", start_ms, 0),  K("after", after_ms, 0),
    K("hold", hold_ms, 0),      K("every", every_ms, 0),  K("tick", tick_ms, 0),
    K("cache", cache_bytes, 1),
};

static int set_param(struct workload_spec *s, const char *param)
{
    const char *eq = strchr(param, '=');
    uint64_t *slot;
    if (!eq) /* a bare size is the kind's main size */
        return size_parse(param, 1, &s->peak_bytes) < 0 ? -EINVAL : 0;
    size_t klen = (size_t)(eq - param);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i].name) != klen || memcmp(keys[i].name, param, klen) != 0)
            continue;
        slot = (uint64_t *)((char *)s + keys[i].offset);
        int rc = keys[i].is_size ? size_parse(eq + 1, 1, slot) : parse_duration_ms(eq + 1, slot);
        return rc < 0 ? -EINVAL : 0;
    }
    return -EINVAL;
}

int workload_spec_parse(const char *text, struct workload_spec *out)
{
    struct workload_spec s = {.tick_ms = 1000, .hold_ms = 5000};
    char buf[256];
    if (!text || strlen(text) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, text);
    char *params = strchr(buf, ':');
    if (params)
        *params++ = '\0';
    static const char *const kinds[] = {"idle", "steady", "spike", "sawtooth"};
    int kind = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(buf, kinds[i]) == 0)
            kind = i;
    if (kind < 0)
        return -EINVAL;
    s.kind = (enum workload_kind)kind;
    while (params && *params) {
        char *comma = strchr(params, ',');
        if (comma)
            *comma = '\0';
        if (set_param(&s, params) < 0)
            return -EINVAL;
        params = comma ? comma + 1 : NULL;
    }
    if (s.kind == WORKLOAD_SAWTOOTH && (s.step_bytes == 0 || s.tick_ms == 0))
        return -EINVAL;
    if (s.kind != WORKLOAD_IDLE && s.peak_bytes < s.base_bytes)
        return -EINVAL;
    if (s.kind == WORKLOAD_SPIKE && s.every_ms && s.every_ms < s.after_ms + s.hold_ms)
        return -EINVAL;
    *out = s;
    return 0;
}

uint64_t workload_target_bytes(const struct workload_spec *s, uint64_t elapsed_ms)
{
    if (s->kind == WORKLOAD_IDLE || elapsed_ms < s->start_ms)
        return 0;
    uint64_t t = elapsed_ms - s->start_ms;
    switch (s->kind) {
    case WORKLOAD_STEADY:
        return s->peak_bytes;
    case WORKLOAD_SPIKE:
        if (s->every_ms)
            t %= s->every_ms;
        return t >= s->after_ms && t - s->after_ms < s->hold_ms ? s->peak_bytes : s->base_bytes;
    case WORKLOAD_SAWTOOTH: {
        uint64_t levels = (s->peak_bytes - s->base_bytes) / s->step_bytes + 1;
        return s->base_bytes + (t / s->tick_ms % levels) * s->step_bytes;
    }
    default:
        return 0;
    }
}

int workload_cache_due(const struct workload_spec *s, uint64_t prev_target, uint64_t target,
                       int held, unsigned writes)
{
    if (s->cache_bytes == 0 || !held)
        return 0;
    if (s->kind == WORKLOAD_STEADY || s->kind == WORKLOAD_IDLE)
        return writes == 0 && (s->kind == WORKLOAD_IDLE || target > 0);
    return prev_target != UINT64_MAX && target < prev_target;
}
