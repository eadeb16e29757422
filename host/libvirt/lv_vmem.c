/* lv_vmem.c — a libvirt domain's virtio-mem figures; see lv_vmem.h. */
#include "lv_vmem.h"

#include <errno.h>
#include <string.h>

uint64_t lv_vmem_boot_bytes(const struct lv_domain_info *info)
{
    uint64_t boot = 0;
    if (info->numa_memory_bytes && !info->numa_invalid)
        boot = info->numa_memory_bytes;
    else if (!info->memory_devices_invalid && info->memory_devices_bytes &&
             info->memory_bytes > info->memory_devices_bytes)
        boot = info->memory_bytes - info->memory_devices_bytes;
    /* <memory> holds boot and the device: a boot figure that leaves no room
     * for it is not libvirt's arithmetic, and no plan is made on it. */
    uint64_t dev = info->vmem.present ? info->vmem.size_bytes : 0;
    if (info->memory_bytes && (info->memory_bytes < dev || boot > info->memory_bytes - dev))
        return 0;
    return boot;
}

int lv_vmem_figures(const struct lv_domain_info *info, struct actuator_vmem *out, const char **why)
{
    const struct lv_vmem_info *v = &info->vmem;
    memset(out, 0, sizeof(*out));
    if (!v->present)
        *why = "no virtio-mem device";
    else if (v->error)
        *why = v->error;
    else if (!v->has_current)
        *why = "no <current> in its live XML (libvirt before 7.9): its size cannot be followed";
    else if (!v->alias)
        *why = "no <alias> in its live XML: its size-change events cannot be matched";
    else
        *why = NULL;
    if (*why)
        return -EINVAL;
    out->present = true;
    out->block_bytes = v->block_bytes;
    out->max_bytes = v->size_bytes;
    out->plugged_bytes = v->current_bytes;
    out->requested_bytes = v->requested_bytes;
    return 0;
}

bool lv_vmem_size_event(const char *driven_alias, uint64_t block_bytes, uint64_t max_bytes,
                        const char *alias, unsigned long long size_kib, uint64_t *size_bytes)
{
    if (!driven_alias || !alias || strcmp(driven_alias, alias) != 0 || !block_bytes)
        return false;
    if (size_kib > max_bytes / 1024)
        return false;
    uint64_t bytes = (uint64_t)size_kib * 1024;
    if (bytes > max_bytes || bytes % block_bytes)
        return false;
    *size_bytes = bytes;
    return true;
}

uint64_t lv_vmem_balloon_qemu_bytes(uint64_t reported_bytes, uint64_t boot_bytes,
                                    uint64_t plugged_bytes, bool *corrected)
{
    *corrected = false;
    if (!boot_bytes || reported_bytes <= boot_bytes)
        return reported_bytes;
    *corrected = true;
    uint64_t qemu =
        reported_bytes - (plugged_bytes < reported_bytes ? plugged_bytes : reported_bytes);
    return qemu > boot_bytes ? boot_bytes : qemu;
}
