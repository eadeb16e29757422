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
 * The child elements are exactly the per-VM keys of a policy file
 * (host/policy/config.h, docs/config.md) with the same value syntax, so a
 * policy can move between a `<vm>.conf` file and the domain XML unchanged.
 * Precedence: a VM's own config file wins over its metadata; metadata wins
 * over [defaults]. A metadata policy with any error puts the VM in safe
 * mode (never shrunk, still grown), as a policy file with an error does.
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

/* A domain's metadata policy: the keys given, over a base (the config's [defaults]). */
struct lv_policy {
    bool present;                   /* the domain has a ballast policy element */
    struct config_vm_policy policy; /* base with the metadata's keys applied */
    guint n_keys;                   /* keys applied */
    guint n_errors;
    char *first_error; /* "metadata: ...", NULL when none */
};

void lv_policy_clear(struct lv_policy *p);

/*
 * Builds *out from the policy fields of a parsed domain (or metadata) XML:
 * base is copied, each key is parsed as config.c parses it (same names,
 * types and ranges: the table of config_key_at), and cross-checks (min <=
 * max, fixed inside them) applied. Every problem is appended to errors
 * (may be NULL) as "metadata: message". Returns the number of errors.
 */
guint lv_policy_from_info(const struct lv_domain_info *info, const struct config_vm_policy *base,
                          struct lv_policy *out, GPtrArray *errors);

/*
 * The engine parameters of VM `name`: its config file when it has one
 * (config_vm_params), else its metadata policy when present, else the
 * config's [defaults]. A metadata policy with errors forces safe mode,
 * with *why (may be NULL) pointing at its first error; global config errors
 * force safe mode as always. *source (may be NULL) gets "file", "metadata"
 * or "defaults".
 */
void lv_policy_vm_params(const struct config *c, const char *name, const struct lv_policy *meta,
                         uint64_t nominal_bytes, struct policy_vm_params *out, bool *ksm,
                         const char **why, const char **source);

#endif
