/*
 * Runtime policy overrides from `ballastctl set-policy VM KEY=VALUE`: kept
 * per VM in ballastd (and in its state file across a restart, vm_saved.h),
 * put on top of the VM's policy by the resolver (vm_policy.h), so they
 * survive SIGHUP reloads and end with `KEY=default` or the VM. The keys, their syntax, ranges and
 * messages are config.h's table (the keys marked CONFIG_IN_RUNTIME): a
 * value set-policy takes is one a policy file takes, with the same result.
 * Pure: no I/O, testable on the stack.
 */
#ifndef BALLAST_VM_OVERRIDE_H
#define BALLAST_VM_OVERRIDE_H

#include "config.h"

#include <glib.h>

struct vm_override {
    struct config_vm_layer layer; /* the keys set at runtime */
};

/*
 * Sets (or with value "default" clears) one per-VM key that may be set at
 * runtime: min_memory, max_memory, fixed_memory, guaranteed_memory, shares, mode,
 * agent_required, reclaim_allowed (ksm may not: QEMU registers its RAM with
 * KSM, or not, when it starts). '-' and '_' are interchangeable in key
 * names. Returns 0, -ENOENT for an unknown key or one not settable at
 * runtime, -EINVAL for a bad value, with *msg (g_free it) saying what is
 * wrong, as a policy file's error does ("shares = 0: out of range [1, 1000000]").
 */
int vm_override_set(struct vm_override *o, const char *key, const char *value, char **msg);

/* Appends "key=value" strings of the active overrides to out (g_strdup'd). */
void vm_override_list(const struct vm_override *o, GPtrArray *out);

#endif
