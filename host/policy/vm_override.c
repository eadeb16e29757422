/* Runtime policy overrides (see vm_override.h). */
#include "vm_override.h"

#include <errno.h>
#include <string.h>

/* "unknown key 'colour' (set-policy takes min_memory, ..., reclaim_allowed)" */
static int refuse_key(const char *key, bool known, char **msg)
{
    g_autoptr(GString) names = g_string_new(NULL);
    const struct config_key_info *k;
    for (size_t i = 0; (k = config_vm_key_at(i)); i++)
        if (k->where & CONFIG_IN_RUNTIME)
            g_string_append_printf(names, "%s%s", names->len ? ", " : "", k->name);
    *msg = g_strdup_printf(known ? "key '%.40s' cannot be set at runtime (set-policy takes %s)"
                                 : "unknown key '%.40s' (set-policy takes %s)",
                           key, names->str);
    return -ENOENT;
}

int vm_override_set(struct vm_override *o, const char *key, const char *value, char **msg)
{
    *msg = NULL;
    g_autofree char *k = g_strdup(key);
    g_strdelimit(k, "-", '_');
    int i = config_vm_key_index(k);
    if (i < 0)
        return refuse_key(key, false, msg);
    if (!(config_vm_key_at((size_t)i)->where & CONFIG_IN_RUNTIME))
        return refuse_key(key, true, msg);
    if (strcmp(value, "default") == 0) {
        config_vm_layer_unset(&o->layer, (size_t)i);
        return 0;
    }
    return config_vm_layer_set(&o->layer, (size_t)i, NULL, value, msg);
}

void vm_override_list(const struct vm_override *o, GPtrArray *out)
{
    config_vm_layer_list(&o->layer, out);
}
