/*
 * Runtime policy overrides from `ballastctl set-policy VM KEY=VALUE`: kept
 * per VM in ballastd (not written to disk), applied on top of the VM's
 * configured parameters every tick, so they survive SIGHUP reloads and end
 * with the daemon or with `KEY=default`. Pure: no I/O, testable on the stack.
 */
#ifndef BALLAST_VM_OVERRIDE_H
#define BALLAST_VM_OVERRIDE_H

#include "policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

struct vm_override_size {
    bool set;
    bool is_pct;
    uint64_t bytes;
    double pct; /* of nominal, 0..100 */
};

struct vm_override {
    struct vm_override_size min_memory, max_memory, fixed_memory;
    bool has_shares, has_mode, has_agent_required, has_reclaim_allowed;
    uint32_t shares;
    enum policy_mode mode;
    bool agent_required, reclaim_allowed;
};

/*
 * Sets (or with value "default" clears) one key: min_memory, max_memory,
 * fixed_memory ("256M" or "50%"), shares (1..10000), mode
 * (managed/observe/fixed), agent_required, reclaim_allowed (true/false).
 * '-' and '_' are interchangeable in key names. Returns 0, -ENOENT for an
 * unknown key, -EINVAL for a bad value; *why (static text) says what is wrong.
 */
int vm_override_set(struct vm_override *o, const char *key, const char *value, const char **why);

/* Applies the overrides to p for a VM of nominal_bytes; keeps min <= max <= nominal. */
void vm_override_apply(const struct vm_override *o, uint64_t nominal_bytes,
                       struct policy_vm_params *p);

/* Appends "key=value" strings of the active overrides to out (g_strdup'd). */
void vm_override_list(const struct vm_override *o, GPtrArray *out);

#endif
