/*
 * Metadata policy -> struct config_vm_policy; see lv_policy.h.
 *
 * The key names, types and ranges come from config.c's table
 * (config_key_at), so a key added there is rejected here as "not supported
 * in metadata" until `fields[]` below learns where it lands — and a unit
 * test (unit.libvirt.policy) fails until it does.
 */
#include "lv_policy.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "size.h"

enum field_kind {
    F_CSIZE,
    F_U32,
    F_BOOL,
    F_MODE,
};

/* Where each per-VM key lands in struct config_vm_policy. */
static const struct {
    const char *name;
    enum field_kind kind;
    size_t offset;
} fields[] = {
    {"min_memory", F_CSIZE, offsetof(struct config_vm_policy, min_memory)},
    {"max_memory", F_CSIZE, offsetof(struct config_vm_policy, max_memory)},
    {"fixed_memory", F_CSIZE, offsetof(struct config_vm_policy, fixed_memory)},
    {"shares", F_U32, offsetof(struct config_vm_policy, shares)},
    {"mode", F_MODE, offsetof(struct config_vm_policy, mode)},
    {"agent_required", F_BOOL, offsetof(struct config_vm_policy, agent_required)},
    {"reclaim_allowed", F_BOOL, offsetof(struct config_vm_policy, reclaim_allowed)},
    {"ksm", F_BOOL, offsetof(struct config_vm_policy, ksm)},
};

void lv_policy_clear(struct lv_policy *p)
{
    g_free(p->first_error);
    memset(p, 0, sizeof(*p));
}

static const struct config_key_info *vm_key(const char *name)
{
    const struct config_key_info *k;
    for (size_t i = 0; (k = config_key_at(i)); i++)
        if (strcmp(k->group, "vm") == 0 && strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

G_GNUC_PRINTF(3, 4)
static void add_error(struct lv_policy *out, GPtrArray *errors, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *full = g_strdup_printf("metadata: %s", msg);
    if (!out->first_error)
        out->first_error = g_strdup(full);
    out->n_errors++;
    if (errors)
        g_ptr_array_add(errors, full);
    else
        g_free(full);
}

/* digits with an optional fraction: no sign, exponent, hex, inf, nan (as config.c). */
static bool plain_number(const char *s, bool whole)
{
    size_t i = 0, digits = 0, frac = 0;
    while (g_ascii_isdigit(s[i])) {
        i++;
        digits++;
    }
    if (s[i] == '.' && !whole) {
        i++;
        while (g_ascii_isdigit(s[i])) {
            i++;
            frac++;
        }
        if (!frac)
            return false;
    }
    return digits > 0 && s[i] == '\0';
}

/* One key; false (and an error) when the value is refused. */
static bool apply_key(const struct config_key_info *ki, enum field_kind kind, const char *value,
                      void *dst, struct lv_policy *out, GPtrArray *errors)
{
    char shown[48];
    if (strlen(value) > 40)
        snprintf(shown, sizeof(shown), "%.37s...", value);
    else
        snprintf(shown, sizeof(shown), "%s", value);
    if (!value[0]) {
        add_error(out, errors, "<%s>: empty value", ki->name);
        return false;
    }
    switch (kind) {
    case F_CSIZE: {
        size_t vl = strlen(value);
        if (value[vl - 1] == '%') {
            g_autofree char *num = g_strndup(value, vl - 1);
            if (!plain_number(num, false)) {
                add_error(out, errors, "<%s>: bad percentage '%s'", ki->name, shown);
                return false;
            }
            double pct = g_ascii_strtod(num, NULL);
            if (!(pct >= 0.0 && pct <= 100.0)) {
                add_error(out, errors, "<%s>%s: out of range [0%%, 100%%]", ki->name, shown);
                return false;
            }
            *(struct config_size *)dst = (struct config_size){CONFIG_SIZE_PCT, 0, pct};
            return true;
        }
        uint64_t bytes;
        int rc = size_parse(value, 1, &bytes);
        if (rc == -ERANGE || (rc == 0 && (double)bytes > ki->max)) {
            add_error(out, errors, "<%s>%s: too large", ki->name, shown);
            return false;
        }
        if (rc < 0) {
            add_error(out, errors, "<%s>: bad size '%s' (expected e.g. 256M or 25%%)", ki->name,
                      shown);
            return false;
        }
        *(struct config_size *)dst = (struct config_size){CONFIG_SIZE_BYTES, bytes, 0};
        return true;
    }
    case F_U32: {
        if (!plain_number(value, true)) {
            add_error(out, errors, "<%s>: bad number '%s' (expected a whole number)", ki->name,
                      shown);
            return false;
        }
        double v = g_ascii_strtod(value, NULL);
        if (!(v >= ki->min && v <= ki->max)) {
            add_error(out, errors, "<%s>%s: out of range [%.0f, %.0f]", ki->name, shown, ki->min,
                      ki->max);
            return false;
        }
        *(uint32_t *)dst = (uint32_t)v;
        return true;
    }
    case F_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1")) {
            *(bool *)dst = true;
        } else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0")) {
            *(bool *)dst = false;
        } else {
            add_error(out, errors, "<%s>: expected true or false, not '%s'", ki->name, shown);
            return false;
        }
        return true;
    case F_MODE: {
        enum policy_mode m;
        if (policy_mode_parse(value, &m) < 0) {
            add_error(out, errors, "<%s>: unknown mode '%s' (expected managed, observe or fixed)",
                      ki->name, shown);
            return false;
        }
        *(enum policy_mode *)dst = m;
        return true;
    }
    }
    return false;
}

static bool size_gt(const struct config_size *a, const struct config_size *b)
{
    if (a->kind != b->kind || a->kind == CONFIG_SIZE_UNSET)
        return false;
    return a->kind == CONFIG_SIZE_BYTES ? a->bytes > b->bytes : a->pct > b->pct;
}

guint lv_policy_from_info(const struct lv_domain_info *info, const struct config_vm_policy *base,
                          struct lv_policy *out, GPtrArray *errors)
{
    memset(out, 0, sizeof(*out));
    out->policy = *base;
    out->present = info->has_policy;
    if (!info->has_policy)
        return 0;
    for (guint i = 0; info->policy_errors && i < info->policy_errors->len; i++)
        add_error(out, errors, "%s", (const char *)info->policy_errors->pdata[i]);
    for (guint i = 0; i < info->policy_keys->len; i++) {
        const char *key = info->policy_keys->pdata[i];
        const char *value = info->policy_values->pdata[i];
        const struct config_key_info *ki = vm_key(key);
        size_t f = 0;
        while (f < G_N_ELEMENTS(fields) && strcmp(fields[f].name, key) != 0)
            f++;
        if (!ki) {
            add_error(out, errors, "unknown key <%.40s>", key);
            continue;
        }
        if (f == G_N_ELEMENTS(fields)) {
            add_error(out, errors, "key <%s> is not supported in metadata", key);
            continue;
        }
        if (apply_key(ki, fields[f].kind, value, (char *)&out->policy + fields[f].offset, out,
                      errors))
            out->n_keys++;
    }
    const struct config_vm_policy *p = &out->policy;
    if (size_gt(&p->min_memory, &p->max_memory))
        add_error(out, errors, "min_memory is larger than max_memory");
    if (p->mode == POLICY_MODE_FIXED &&
        (size_gt(&p->fixed_memory, &p->max_memory) || size_gt(&p->min_memory, &p->fixed_memory)))
        add_error(out, errors, "fixed_memory outside [min_memory, max_memory]");
    return out->n_errors;
}

void lv_policy_vm_params(const struct config *c, const char *name, const struct lv_policy *meta,
                         uint64_t nominal_bytes, struct policy_vm_params *out, bool *ksm,
                         const char **why, const char **source)
{
    if (config_find_vm(c, name) || !meta || !meta->present) {
        if (source)
            *source = config_find_vm(c, name) ? "file" : "defaults";
        config_vm_params(c, name, nominal_bytes, out, ksm, why);
        return;
    }
    /* The metadata policy takes the place of [defaults] for this one VM; a
     * shallow copy of the config (never freed) lets config_vm_params resolve
     * percentages and apply global errors exactly as it does for files. */
    struct config view = *c;
    view.defaults = meta->policy;
    config_vm_params(&view, name, nominal_bytes, out, ksm, why);
    if (source)
        *source = "metadata";
    if (meta->n_errors && !c->n_global_errors) {
        out->mode = POLICY_MODE_SAFE;
        if (why)
            *why = meta->first_error;
    }
}
