/*
 * Per-VM ballast policy carried in a libvirt domain's XML:
 *
 *   <metadata>
 *     <ballast:policy xmlns:ballast='https://ballast.dev/xmlns/policy/1'>
 *       <min_memory>256M</min_memory>
 *       <max_memory>100%</max_memory>
 *       <shares>2000</shares>
 *       <mode>managed</mode>
 *     </ballast:policy>
 *   </metadata>
 *
 * The child elements are exactly the per-VM keys of a policy file that
 * config.h's table allows in metadata (all of them today), parsed by the
 * table's one parser: same names, syntax, ranges and messages, so a policy
 * can move between a `<vm>.conf` file and the domain XML unchanged. This
 * file only turns the element into those keys (a struct config_vm_layer)
 * and their errors; what wins over what (a config file over metadata over
 * [defaults]) and safe mode on an error are the resolver's
 * (host/policy/vm_policy.h).
 *
 * Pure functions: no libvirt call, no I/O.
 */
#ifndef BALLAST_LV_POLICY_H
#define BALLAST_LV_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "config.h"
#include "lv_xml.h"

/* A domain's metadata policy: the keys it gives and its errors. */
struct lv_policy {
    bool present;                /* the domain has a ballast policy element */
    struct config_vm_layer keys; /* the valid keys given */
    guint n_keys;                /* keys given and valid */
    guint n_errors;
    char *first_error; /* "metadata: ...", NULL when none */
};

void lv_policy_clear(struct lv_policy *p);

/*
 * Builds *out from the policy fields of a parsed domain (or metadata) XML:
 * each key is parsed through config.h's table (config_vm_layer_set; a key
 * the table does not allow in metadata is refused), and the rules between
 * the keys it gives checked (config_vm_policy_check: min <= max, fixed
 * inside them). Every problem is appended to errors (may be NULL) as
 * "metadata: <key>: message" (or "metadata: message"). Returns the number
 * of errors.
 */
guint lv_policy_from_info(const struct lv_domain_info *info, struct lv_policy *out,
                          GPtrArray *errors);

#endif
