/*
 * lv_vmem.h — a libvirt domain's virtio-mem device in the figures the
 * shared bookkeeping takes (host/vmsource/vmem_drive.h), read from what
 * libvirt gives: the live domain XML (lv_xml.h), the
 * MEMORY_DEVICE_SIZE_CHANGE event, and its balloon figures. Pure: no
 * libvirt call, no clock, no allocation; lv_vmem_drive.c does the rest on
 * the main loop (docs/virtio-mem.md, "libvirt").
 *
 * libvirt's figures for a domain with a virtio-mem device (qemu driver):
 *
 *   <memory>                     boot + every memory device's <size>
 *   <cpu><numa><cell memory=..>  their sum is the boot memory (QEMU's -m)
 *   <target><size>               the device's most (QEMU's max-size)
 *   <target><requested>          its requested-size
 *   <target><current>            plugged now (live XML only, libvirt >= 7.9)
 *   <target><block>              its block-size
 *
 * The balloon's figures are QEMU's, boot-relative, as on QMP (see
 * lv_vmem_balloon_qemu_bytes).
 */
#ifndef BALLAST_LV_VMEM_H
#define BALLAST_LV_VMEM_H

#include "actuator.h"
#include "lv_xml.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * The live XML of a domain whose device is driven is read again at most
 * this often, on the source's refresh: the size-change event is the
 * device's news, the XML its truth (a device removed, a libvirt without the
 * event, a request someone else made). 5 s keeps a stall (20 s,
 * VMEM_WATCH_STALL_MS) timed to within a quarter without asking libvirtd to
 * format a domain's XML at every tick.
 */
#define LV_VMEM_READ_MS 5000

/*
 * What the domain has at boot, outside its memory devices: the sum of its
 * NUMA cells (libvirt refuses memory devices without one, and that sum is
 * QEMU's -m), else <memory> less every memory device's <size>. 0 when
 * neither can be read, or the result leaves no room for the driven
 * device's size within <memory>: the device is then not driven (the plan
 * needs boot memory to split a target, vmem_drive.h).
 */
uint64_t lv_vmem_boot_bytes(const struct lv_domain_info *info);

/*
 * The driven device's figures from a live XML into *out (watch advice
 * zeroed): 0, or -EINVAL with *why (static, or info's own vmem.error) when
 * there is nothing to drive: no virtio-mem device, figures lv_xml could not
 * read, no <current> (an inactive XML, or a libvirt before 7.9: the device
 * could not be followed), or no <alias> (its events could not be matched).
 */
int lv_vmem_figures(const struct lv_domain_info *info, struct actuator_vmem *out, const char **why);

/*
 * A VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE (alias, new size in KiB):
 * true with the size in bytes when alias is the driven device's
 * (driven_alias) and the size is one the device can have (within max_bytes,
 * whole blocks of block_bytes); false for another device or a size that
 * cannot be right (the next read of the XML says).
 */
bool lv_vmem_size_event(const char *driven_alias, uint64_t block_bytes, uint64_t max_bytes,
                        const char *alias, unsigned long long size_kib, uint64_t *size_bytes);

/*
 * QEMU's balloon value (boot-relative: what vmem_drive_balloon wants) from
 * a balloon figure libvirt reported. The source reads two:
 * virDomainMemoryStats' ACTUAL_BALLOON, which libvirt fills from QEMU's
 * query-balloon `actual` as it is, and the BALLOON_CHANGE event, which
 * carries QEMU's `actual` too; both count boot memory only. It never reads
 * virDomainGetInfo's memory (<currentMemory>): recent libvirt adds each
 * virtio-mem device's current size to it. QEMU sizes its balloon against
 * boot memory and never reports more, so a figure over boot_bytes can only
 * be one with the device counted in: the device's plugged size is taken
 * off, at most down to boot, and *corrected set (the caller says so once:
 * a libvirt that does this would be worth knowing about).
 */
uint64_t lv_vmem_balloon_qemu_bytes(uint64_t reported_bytes, uint64_t boot_bytes,
                                    uint64_t plugged_bytes, bool *corrected);

#endif
