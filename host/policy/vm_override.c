/* Runtime policy overrides (see vm_override.h). */
#include "vm_override.h"

#include "size.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_size(const char *value, struct vm_override_size *out, const char **why)
{
    size_t n = strlen(value);
    if (n > 1 && value[n - 1] == '%') {
        char buf[32];
        if (n >= sizeof(buf)) {
            *why = "percentage too long";
            return -EINVAL;
        }
        memcpy(buf, value, n - 1);
        buf[n - 1] = '\0';
        char *end;
        double pct = strtod(buf, &end);
        if (*end || end == buf || !(pct > 0 && pct <= 100)) {
            *why = "percentage must be in (0, 100]";
            return -EINVAL;
        }
        *out = (struct vm_override_size){.set = true, .is_pct = true, .pct = pct};
        return 0;
    }
    uint64_t bytes;
    if (size_parse(value, 1, &bytes) < 0 || bytes == 0) {
        *why = "size must be like 256M, 1.5G or 50%";
        return -EINVAL;
    }
    *out = (struct vm_override_size){.set = true, .bytes = bytes};
    return 0;
}

static int parse_bool(const char *value, bool *out, const char **why)
{
    if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1")) {
        *out = true;
        return 0;
    }
    if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0")) {
        *out = false;
        return 0;
    }
    *why = "expected true or false";
    return -EINVAL;
}

int vm_override_set(struct vm_override *o, const char *key, const char *value, const char **why)
{
    char k[32];
    *why = NULL;
    if (g_strlcpy(k, key, sizeof(k)) >= sizeof(k)) {
        *why = "unknown key";
        return -ENOENT;
    }
    for (char *p = k; *p; p++)
        if (*p == '-')
            *p = '_';
    bool clear = strcmp(value, "default") == 0;

    struct vm_override_size *size = NULL;
    if (!strcmp(k, "min_memory"))
        size = &o->min_memory;
    else if (!strcmp(k, "max_memory"))
        size = &o->max_memory;
    else if (!strcmp(k, "fixed_memory"))
        size = &o->fixed_memory;
    if (size) {
        if (clear) {
            size->set = false;
            return 0;
        }
        return parse_size(value, size, why);
    }
    if (!strcmp(k, "shares")) {
        if (clear) {
            o->has_shares = false;
            return 0;
        }
        char *end;
        unsigned long v = strtoul(value, &end, 10);
        if (*end || end == value || value[0] == '-' || v < 1 || v > 10000) {
            *why = "shares must be 1..10000";
            return -EINVAL;
        }
        o->shares = (uint32_t)v;
        o->has_shares = true;
        return 0;
    }
    if (!strcmp(k, "mode")) {
        if (clear) {
            o->has_mode = false;
            return 0;
        }
        if (policy_mode_parse(value, &o->mode) < 0) {
            *why = "mode must be managed, observe or fixed";
            return -EINVAL;
        }
        o->has_mode = true;
        return 0;
    }
    bool *flag = NULL, *has = NULL;
    if (!strcmp(k, "agent_required")) {
        flag = &o->agent_required;
        has = &o->has_agent_required;
    } else if (!strcmp(k, "reclaim_allowed")) {
        flag = &o->reclaim_allowed;
        has = &o->has_reclaim_allowed;
    }
    if (flag) {
        if (clear) {
            *has = false;
            return 0;
        }
        int rc = parse_bool(value, flag, why);
        if (rc == 0)
            *has = true;
        return rc;
    }
    *why = "unknown key (min_memory, max_memory, fixed_memory, shares, mode, agent_required, "
           "reclaim_allowed)";
    return -ENOENT;
}

static uint64_t resolve(const struct vm_override_size *s, uint64_t nominal_bytes)
{
    if (s->is_pct)
        return (uint64_t)((double)nominal_bytes * s->pct / 100.0);
    return s->bytes;
}

void vm_override_apply(const struct vm_override *o, uint64_t nominal_bytes,
                       struct policy_vm_params *p)
{
    if (o->max_memory.set)
        p->max_bytes = resolve(&o->max_memory, nominal_bytes);
    if (o->min_memory.set)
        p->min_bytes = resolve(&o->min_memory, nominal_bytes);
    if (o->fixed_memory.set)
        p->fixed_bytes = resolve(&o->fixed_memory, nominal_bytes);
    if (o->has_shares)
        p->shares = o->shares;
    if (o->has_mode)
        p->mode = o->mode;
    if (o->has_agent_required)
        p->agent_required = o->agent_required;
    if (o->has_reclaim_allowed)
        p->reclaim_allowed = o->reclaim_allowed;
    /* A balloon can only give back what the VM was started with. */
    if (nominal_bytes && p->max_bytes > nominal_bytes)
        p->max_bytes = nominal_bytes;
    if (p->min_bytes > p->max_bytes)
        p->min_bytes = p->max_bytes;
    if (p->fixed_bytes > p->max_bytes)
        p->fixed_bytes = p->max_bytes;
}

static void add_size(GPtrArray *out, const char *key, const struct vm_override_size *s)
{
    if (!s->set)
        return;
    if (s->is_pct) {
        g_ptr_array_add(out, g_strdup_printf("%s=%g%%", key, s->pct));
    } else {
        char buf[32];
        g_ptr_array_add(out,
                        g_strdup_printf("%s=%s", key, size_format(s->bytes, buf, sizeof(buf))));
    }
}

void vm_override_list(const struct vm_override *o, GPtrArray *out)
{
    add_size(out, "min_memory", &o->min_memory);
    add_size(out, "max_memory", &o->max_memory);
    add_size(out, "fixed_memory", &o->fixed_memory);
    if (o->has_shares)
        g_ptr_array_add(out, g_strdup_printf("shares=%u", o->shares));
    if (o->has_mode)
        g_ptr_array_add(out, g_strdup_printf("mode=%s", policy_mode_name(o->mode)));
    if (o->has_agent_required)
        g_ptr_array_add(out,
                        g_strdup_printf("agent_required=%s", o->agent_required ? "true" : "false"));
    if (o->has_reclaim_allowed)
        g_ptr_array_add(
            out, g_strdup_printf("reclaim_allowed=%s", o->reclaim_allowed ? "true" : "false"));
}
