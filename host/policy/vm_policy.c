/*
 * The per-VM policy resolver and its cache; vm_policy.h states the
 * precedence, and this file is the only code that applies it.
 */
#include "vm_policy.h"

#include <string.h>

static const char *const source_names[] = {
    [VM_POLICY_DEFAULTS] = "defaults",
    [VM_POLICY_FILE] = "file",
    [VM_POLICY_METADATA] = "metadata",
};

const char *vm_policy_source_name(enum vm_policy_source s)
{
    return (size_t)s < G_N_ELEMENTS(source_names) ? source_names[s] : "defaults";
}

/* The first rule a metadata policy breaks once over [defaults]. */
static void first_metadata_error(void *ctx, const char *key, const char *other_key, const char *msg)
{
    char **first = ctx;
    if (!*first)
        *first = g_strconcat("metadata: ", msg, NULL);
}

/*
 * Steps 1 and 2 of vm_policy.h: the policy as written (file > metadata >
 * [defaults]), where it comes from, and the error that forces safe mode
 * (global first, then the source's own; g_strdup'd into *error, or NULL).
 */
static enum vm_policy_source pick_source(const struct vm_policy_in *in, struct config_vm_policy *p,
                                         char **error)
{
    const struct config *c = in->cfg;
    const struct config_vm *file = config_find_vm(c, in->name);
    const char *err = config_vm_error(c, in->name); /* the global file's, or the VM file's */
    if (!c->n_global_errors && in->fleet_error)
        err = in->fleet_error;
    enum vm_policy_source source = VM_POLICY_DEFAULTS;
    *error = NULL;
    *p = c->defaults;
    if (file) {
        *p = file->policy; /* [defaults] under it already */
        source = VM_POLICY_FILE;
    } else if (in->meta) {
        config_vm_layer_apply(in->meta, p);
        source = VM_POLICY_METADATA;
        if (!err)
            err = in->meta_error;
        if (!err)
            config_vm_policy_check(p, first_metadata_error, error);
    }
    if (err && *err && !*error)
        *error = g_strdup(err);
    return source;
}

static uint64_t resolve_size(const struct config_size *s, uint64_t nominal_bytes,
                             uint64_t unset_bytes)
{
    switch (s->kind) {
    case CONFIG_SIZE_BYTES:
        return s->bytes;
    case CONFIG_SIZE_PCT:
        return (uint64_t)((double)nominal_bytes * s->pct / 100.0);
    case CONFIG_SIZE_UNSET:
        break;
    }
    return unset_bytes;
}

void vm_policy_resolve(const struct vm_policy_in *in, struct vm_policy *out)
{
    struct config_vm_policy p;
    memset(out, 0, sizeof(*out));
    out->source = pick_source(in, &p, &out->config_error);
    /* Step 3: overrides on top. */
    int mode_bit = config_vm_key_index("mode");
    bool mode_overridden = false;
    if (in->overrides) {
        config_vm_layer_apply(in->overrides, &p);
        mode_overridden = mode_bit >= 0 && (in->overrides->set & (1u << mode_bit));
    }
    /* Step 4: bytes for this VM. A balloon cannot give more than the VM has. */
    uint64_t nominal = in->nominal_bytes;
    uint64_t max = resolve_size(&p.max_memory, nominal, nominal);
    if (nominal && max > nominal)
        max = nominal;
    struct policy_vm_params *o = &out->params;
    *o = (struct policy_vm_params){
        .min_bytes = resolve_size(&p.min_memory, nominal, 0),
        .max_bytes = max,
        .fixed_bytes = resolve_size(&p.fixed_memory, nominal, 0),
        .guaranteed_bytes = resolve_size(&p.guaranteed_memory, nominal, max),
        .shares = p.shares ? p.shares : 1,
        .mode = out->config_error && !mode_overridden ? POLICY_MODE_SAFE : p.mode,
        .agent_required = p.agent_required,
        .reclaim_allowed = p.reclaim_allowed,
    };
    if (o->min_bytes > o->max_bytes)
        o->min_bytes = o->max_bytes;
    if (o->fixed_bytes > o->max_bytes)
        o->fixed_bytes = o->max_bytes;
    if (o->guaranteed_bytes > o->max_bytes)
        o->guaranteed_bytes = o->max_bytes;
    out->ksm = p.ksm;
}

void vm_policy_clear(struct vm_policy *p)
{
    g_free(p->config_error);
    memset(p, 0, sizeof(*p));
}

const struct vm_policy *vm_policy_cache_get(struct vm_policy_cache *c,
                                            const struct vm_policy_in *in)
{
    if (!c->valid || c->nominal_bytes != in->nominal_bytes) {
        vm_policy_clear(&c->policy);
        vm_policy_resolve(in, &c->policy);
        c->nominal_bytes = in->nominal_bytes;
        c->valid = true;
    }
    return &c->policy;
}

void vm_policy_cache_invalidate(struct vm_policy_cache *c)
{
    vm_policy_clear(&c->policy);
    c->valid = false;
}

void vm_policy_cache_clear(struct vm_policy_cache *c)
{
    vm_policy_cache_invalidate(c);
    c->nominal_bytes = 0;
}
