/*
 * fuzz.config.value: any text as the value of one per-VM key — the one
 * parser a policy file, libvirt metadata and `ballastctl set-policy` all go
 * through (config_vm_layer_set: sizes, percentages of nominal, shares,
 * modes, booleans, ranges) — and as a human size (size_parse, as --memory,
 * min_memory and the launcher read one). The first byte picks the key.
 *
 * Properties (abort on violation): no crash, leak or undefined behaviour;
 * a refusal has a message and leaves the layer unchanged; an accepted
 * value is shown (config_vm_layer_list) and its exact text (what the state
 * file keeps) parses back to the very same value; a size in bytes printed
 * as a bare number, or with "B", parses back to itself.
 */
#include "fuzz/fuzz_log.h"
#include "config.h"
#include "size.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t n_vm_keys(void)
{
    size_t n = 0;
    while (config_vm_key_at(n))
        n++;
    return n;
}

static bool same_size(const struct config_size *a, const struct config_size *b)
{
    return a->kind == b->kind && a->bytes == b->bytes && a->pct == b->pct;
}

/* Member by member: a struct assigned from a compound literal may carry any
 * bytes in its padding, so memcmp would compare noise. */
static bool same_policy(const struct config_vm_policy *a, const struct config_vm_policy *b)
{
    return same_size(&a->min_memory, &b->min_memory) && same_size(&a->max_memory, &b->max_memory) &&
           same_size(&a->fixed_memory, &b->fixed_memory) && a->shares == b->shares &&
           a->mode == b->mode && a->agent_required == b->agent_required &&
           a->reclaim_allowed == b->reclaim_allowed && a->ksm == b->ksm;
}

/* A percentage under 1e-20 % (no byte of any VM) may not fit 48 bytes of
 * plain decimals (config.c, exact_pct): the closest is kept instead. */
static bool too_small_for_text(const struct config_vm_policy *p)
{
    const struct config_size *s[] = {&p->min_memory, &p->max_memory, &p->fixed_memory};
    for (size_t i = 0; i < 3; i++)
        if (s[i]->kind == CONFIG_SIZE_PCT && s[i]->pct > 0 && s[i]->pct < 1e-20)
            return true;
    return false;
}

static void check_key(size_t i, const char *value)
{
    struct config_vm_layer l, before;
    memset(&l, 0, sizeof(l));
    before = l;
    char *msg = NULL;
    if (config_vm_layer_set(&l, i, NULL, value, &msg) < 0) {
        if (!msg || l.set != before.set || !same_policy(&l.v, &before.v))
            abort();
        g_free(msg);
        return;
    }
    if (msg || !(l.set & (1u << i)))
        abort();
    g_autoptr(GPtrArray) shown = g_ptr_array_new_with_free_func(g_free);
    config_vm_layer_list(&l, shown);
    if (shown->len != 1)
        abort();
    char exact[48]; /* as the state file (host/daemon/state_file.c) */
    if (!config_vm_layer_exact(&l, i, exact, sizeof(exact)))
        abort();
    struct config_vm_layer again;
    memset(&again, 0, sizeof(again));
    if (config_vm_layer_set(&again, i, NULL, exact, &msg) < 0)
        abort(); /* the state file would keep a value it cannot read back */
    struct config_vm_policy a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    config_vm_layer_apply(&l, &a);
    config_vm_layer_apply(&again, &b);
    if (!same_policy(&a, &b) && !too_small_for_text(&a))
        abort();
}

static void check_size(const char *text)
{
    static const uint64_t units[] = {1, 1u << 10, 1u << 20};
    for (size_t u = 0; u < 3; u++) {
        uint64_t bytes = 0, again = 0;
        if (size_parse(text, units[u], &bytes) < 0)
            continue;
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
        if (size_parse(buf, 1, &again) < 0 || again != bytes)
            abort();
        snprintf(buf, sizeof(buf), "%" PRIu64 "B", bytes);
        if (size_parse(buf, 1u << 20, &again) < 0 || again != bytes)
            abort();
        char shown[32];
        if (size_format(bytes, shown, sizeof(shown)) != shown ||
            !memchr(shown, '\0', sizeof(shown)))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t n_keys;
    if (!n_keys) {
        fuzz_log_fatal(G_LOG_LEVEL_CRITICAL); /* a critical is a bug, whatever the input */
        n_keys = n_vm_keys();
    }
    if (size == 0 || size > 4096)
        return 0;
    g_autofree char *value = g_strndup((const char *)data + 1, size - 1);
    check_key(data[0] % n_keys, value);
    check_size(value);
    return 0;
}
