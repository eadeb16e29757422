/*
 * Metadata policy -> the keys it gives; see lv_policy.h.
 *
 * Names, types, ranges and messages all come from config.c's table: a key
 * added there is parsed here too, or refused as "not allowed in metadata"
 * when the table says so (a unit test, unit.policy.keys, holds files,
 * metadata and set-policy to the same answers).
 */
#include "lv_policy.h"

#include <stdio.h>
#include <string.h>

void lv_policy_clear(struct lv_policy *p)
{
    g_free(p->first_error);
    memset(p, 0, sizeof(*p));
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

/* One <key>value</key>; false (and an error) when it is refused. */
static bool apply_key(const char *key, const char *value, struct lv_policy *out, GPtrArray *errors)
{
    int i = config_vm_key_index(key);
    if (i < 0) {
        add_error(out, errors, "unknown key <%.40s>", key);
        return false;
    }
    if (!(config_vm_key_at((size_t)i)->where & CONFIG_IN_METADATA)) {
        add_error(out, errors, "key <%s> is not allowed in metadata", key);
        return false;
    }
    g_autofree char *label = g_strdup_printf("<%s>", key);
    g_autofree char *msg = NULL;
    if (config_vm_layer_set(&out->keys, (size_t)i, label, value, &msg) < 0) {
        add_error(out, errors, "%s", msg);
        return false;
    }
    return true;
}

struct check_ctx {
    struct lv_policy *out;
    GPtrArray *errors;
};

static void report_check(void *data, const char *key, const char *other_key, const char *msg)
{
    struct check_ctx *c = data;
    add_error(c->out, c->errors, "%s", msg);
}

guint lv_policy_from_info(const struct lv_domain_info *info, struct lv_policy *out,
                          GPtrArray *errors)
{
    memset(out, 0, sizeof(*out));
    out->present = info->has_policy;
    if (!info->has_policy)
        return 0;
    for (guint i = 0; info->policy_errors && i < info->policy_errors->len; i++)
        add_error(out, errors, "%s", (const char *)info->policy_errors->pdata[i]);
    for (guint i = 0; i < info->policy_keys->len; i++)
        if (apply_key(info->policy_keys->pdata[i], info->policy_values->pdata[i], out, errors))
            out->n_keys++;
    /* The rules between the keys given here; against [defaults] too is the
     * resolver's (the keys not given are unset here, and never compared). */
    struct check_ctx c = {out, errors};
    config_vm_policy_check(&out->keys.v, report_check, &c);
    return out->n_errors;
}
