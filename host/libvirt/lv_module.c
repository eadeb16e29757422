/* lv_module.c — the entry point of ballast-libvirt.so (see lv_module.h). */
#include "lv_module.h"

const struct lv_module_api *ballast_libvirt_module(void);

const struct lv_module_api *ballast_libvirt_module(void)
{
    static const struct lv_module_api api = {
        .abi_version = LV_MODULE_ABI_VERSION,
        .options_size = sizeof(struct vmsource_libvirt_options),
        .policy_size = sizeof(struct lv_policy),
        .layer_size = sizeof(struct config_vm_layer),
        .source_new = vmsource_libvirt_new,
        .vm_machine = vmsource_libvirt_vm_machine,
        .reread_policies = vmsource_libvirt_reread_policies,
        .describe = vmsource_libvirt_describe,
    };
    return &api;
}
