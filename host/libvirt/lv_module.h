/*
 * lv_module.h — the libvirt VM source as a loadable module.
 *
 * Linking libvirt costs every ballastd ~1.5 MiB of private memory (libvirt
 * and what it pulls in: gnutls, libxml2, ICU, libstdc++ ... each with its
 * relocated data), whether or not --libvirt is given. So the part that calls
 * libvirt (vmsource_libvirt.c, lv_event.c) is built as a module,
 * ballast-libvirt.so, that ballastd dlopen()s only for --libvirt. The module
 * exports one symbol, LV_MODULE_ENTRY, returning this table.
 *
 * The module carries its own copy of the pure helpers it uses (lv_policy,
 * lv_xml, config): both sides are built from the same tree, and abi_version
 * plus the struct sizes catch a module from another build.
 */
#ifndef BALLAST_LV_MODULE_H
#define BALLAST_LV_MODULE_H

#include "vmsource_libvirt.h"

#include <stddef.h>

/* 3: vmsource_events.vm_set_done, 4: describe, 5: options.vmem_peak_hold_ms */
#define LV_MODULE_ABI_VERSION 5
#define LV_MODULE_ENTRY       "ballast_libvirt_module"
#define LV_MODULE_FILE        "ballast-libvirt.so"

struct lv_module_api {
    unsigned abi_version;
    size_t options_size; /* sizeof(struct vmsource_libvirt_options) */
    size_t policy_size;  /* sizeof(struct lv_policy) */
    size_t layer_size;   /* sizeof(struct config_vm_layer) */
    struct vmsource *(*source_new)(const struct vmsource_libvirt_options *opts,
                                   const struct vmsource_events *events, void *events_ctx);
    const char *(*vm_machine)(struct vmsource *src, struct vmsource_vm *vm);
    void (*reread_policies)(struct vmsource *src);
    bool (*describe)(struct vmsource *src, char *buf, size_t len); /* status line */
};

typedef const struct lv_module_api *(*lv_module_entry_fn)(void);

#endif
