/*
 * One VM's policy, resolved: which of its sources applies, the engine
 * parameters for its nominal size, its KSM opt-out, and the configuration
 * error that forces it into safe mode. This is the one place that defines
 * the precedence (vm_policy.c):
 *
 *   1. the VM's own policy file (CONFIG_DIR/NAME.conf, [defaults] under it)
 *      > its libvirt metadata policy (<ballast:policy>, [defaults] under it)
 *      > [defaults] of ballastd.conf;
 *   2. safe mode when the global file has an error (every VM), else when
 *      the fleet has one that only shows at run time (every VM: a
 *      memory_budget under the VMs' min_memory in all, vm_policy_in's
 *      fleet_error), else when the source that applies has one (the file;
 *      the metadata, including its keys broken against [defaults], e.g.
 *      min_memory over max_memory);
 *   3. runtime overrides (`ballastctl set-policy`) on top of all that, mode
 *      included: an override's mode replaces even a forced safe mode;
 *   4. percentages of the nominal size resolved, max capped at nominal, min
 *      and fixed clamped to max.
 *
 * vm_policy_resolve is a pure function of its inputs. ballastd keeps the
 * result per VM in a vm_policy_cache and resolves again only when an input
 * changed: it invalidates the cache on a config reload, a metadata change
 * and a set-policy; the cache itself notices a new nominal size (the
 * parameters depend on it through percentages and the cap).
 */
#ifndef BALLAST_VM_POLICY_H
#define BALLAST_VM_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"

enum vm_policy_source {
    VM_POLICY_DEFAULTS = 0, /* [defaults] of ballastd.conf */
    VM_POLICY_FILE,         /* CONFIG_DIR/NAME.conf */
    VM_POLICY_METADATA,     /* the libvirt domain's <ballast:policy> */
};

/* "defaults", "file", "metadata" (status and explain: policy_source). */
const char *vm_policy_source_name(enum vm_policy_source s);

struct vm_policy_in {
    const struct config *cfg; /* policy files and [defaults]; never NULL */
    const char *name;
    uint64_t nominal_bytes; /* percentages are of this; 0 = not known yet */
    /* The domain's metadata policy (host/libvirt/lv_policy.h): the keys it
     * gives, NULL when it has none; meta_error its first error or NULL. */
    const struct config_vm_layer *meta;
    const char *meta_error;
    const struct config_vm_layer *overrides; /* set-policy; NULL = none */
    /* A configuration error of the whole fleet that only the running
     * daemon can see ("ballastd.conf:3: memory_budget 2.0 GiB < the VMs'
     * min_memory ..."); NULL = none. The caller invalidates its caches
     * when it changes. */
    const char *fleet_error;
};

struct vm_policy {
    struct policy_vm_params params;
    bool ksm; /* the `ksm` key: false opts the VM out of merging */
    enum vm_policy_source source;
    char *config_error; /* why safe mode was forced ("file:line: ..."); NULL = not */
};

/* Resolves *in into *out (free out->config_error with vm_policy_clear). */
void vm_policy_resolve(const struct vm_policy_in *in, struct vm_policy *out);

void vm_policy_clear(struct vm_policy *p);

/* The last resolution and the nominal size it was made for. Zeroed = empty. */
struct vm_policy_cache {
    bool valid;
    uint64_t nominal_bytes;
    struct vm_policy policy;
};

/* The cached policy, resolved again first when the cache was invalidated
 * or in->nominal_bytes is not the size it was resolved for. */
const struct vm_policy *vm_policy_cache_get(struct vm_policy_cache *c,
                                            const struct vm_policy_in *in);

/* An input other than the nominal size changed: the next get resolves. */
void vm_policy_cache_invalidate(struct vm_policy_cache *c);

/* Frees what the cache holds (it is then empty). */
void vm_policy_cache_clear(struct vm_policy_cache *c);

#endif
