/*
 * The second actuator (docs/virtio-mem.md): which devices resize a fleet
 * guest (`--actuator balloon|virtio-mem|both`), the sizes of a virtio-mem
 * guest, and its QEMU arguments. Pure: no I/O, so every rule is unit-tested
 * (tests/fleet/test_vmem.c).
 *
 * A virtio-mem guest boots with boot_bytes of ordinary RAM; the rest of its
 * nominal size is plugged by the guest's virtio_mem driver in 2 MiB blocks
 * from a device region of max_bytes - boot_bytes. ballastd then resizes it
 * with `qom-set /machine/peripheral/vmem0 requested-size N`, and QEMU
 * discards every block the guest unplugs, huge pages included:
 *
 *   -machine q35,...  -m BOOT,maxmem=MAX
 *   -object memory-backend-ram,id=vmem0mem,size=MAX-BOOT,merge=on|off
 *   -device virtio-mem-pci,id=vmem0,memdev=vmem0mem,block-size=2M,requested-size=NOMINAL-BOOT
 */
#ifndef BALLAST_FLEET_VMEM_H
#define BALLAST_FLEET_VMEM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

enum fleet_actuator {
    FLEET_ACTUATOR_BALLOON,    /* virtio-balloon alone, microvm: the default */
    FLEET_ACTUATOR_VIRTIO_MEM, /* virtio-mem alone, q35 */
    FLEET_ACTUATOR_BOTH,       /* virtio-mem and the balloon, q35 */
};

/*
 * The device block: the unit of plug and unplug, and of every size here.
 * 2 MiB is the smallest QEMU takes on x86 (the THP size) and what the host
 * gets back whole when a block is unplugged.
 */
#define FLEET_VMEM_BLOCK_BYTES (2ULL << 20)
/* RAM present at boot when virtio-mem is used: the guest kernel needs 80 MiB
 * to boot (FLEET_MIN_MEMORY_BYTES); 128 leaves room for its first allocations. */
#define FLEET_VMEM_DEFAULT_BOOT_BYTES (128ULL << 20)
/* QOM ids: ballastd finds the device at /machine/peripheral/vmem0. */
#define FLEET_VMEM_DEVICE_ID  "vmem0"
#define FLEET_VMEM_MEMDEV_ID  "vmem0mem"
#define FLEET_VMEM_DEVICE_QOM "/machine/peripheral/" FLEET_VMEM_DEVICE_ID
/*
 * On the guest kernel command line of a virtio-mem guest only:
 * - memhp_default_state=online_movable: memory the driver plugs is onlined
 *   at once (Debian's kernel leaves hot-added memory offline,
 *   MEMORY_HOTPLUG_DEFAULT_ONLINE unset, and the tiny guest has no udev to
 *   online it) and into ZONE_MOVABLE, which holds no kernel allocations, so
 *   the pages in a block can be migrated away and the block unplugged;
 * - swiotlb=noforce: the device region lies above 4 GiB, so the kernel would
 *   reserve a 64 MiB bounce buffer out of the boot RAM (measured: 112 MiB
 *   reserved of 128 at boot, and an OOM panic before /init). virtio without
 *   VIRTIO_F_ACCESS_PLATFORM never bounces; the guest has no other DMA;
 * - vm.lowmem_reserve_ratio "256 8": the kernel's own allocations cannot use
 *   ZONE_MOVABLE, so its memory is the boot RAM's DMA32 alone; a burst that
 *   found the movable zone held by the balloon spilled into DMA32 and a page
 *   table then found nothing (bench-density (f), (g): OOM kills with 85-114
 *   MiB free in ZONE_MOVABLE, docs/virtio-mem.md). 8 keeps movable/8 of
 *   DMA32 (16 MiB with 128 MiB plugged, less as the device unplugs) from
 *   allocations that could go to ZONE_MOVABLE, so a burst meets the OOM
 *   notifier, and the balloon's pages, first.
 */
#define FLEET_VMEM_KERNEL_ARGS                                                                 \
    "memhp_default_state=online_movable swiotlb=noforce "                                     \
    "sysctl.vm.lowmem_reserve_ratio=\"256 8\""

const char *fleet_actuator_name(enum fleet_actuator a);
int fleet_actuator_from_name(const char *name, enum fleet_actuator *out);
bool fleet_actuator_has_balloon(enum fleet_actuator a);
bool fleet_actuator_has_vmem(enum fleet_actuator a);

struct fleet_vmem_sizes {
    uint64_t boot_bytes;    /* RAM at boot (-m) */
    uint64_t nominal_bytes; /* what the guest starts at: --memory */
    uint64_t max_bytes;     /* what it may grow to (maxmem) */
};

/*
 * Whether the sizes can run: boot <= nominal <= max, boot < max (a device
 * region of 0 bytes plugs nothing), each a multiple of the block, boot at
 * least min_boot_bytes, max at most max_bytes_limit. Returns 0, or -EINVAL
 * with *why (g_free it) saying which rule and by how much.
 */
int fleet_vmem_check(const struct fleet_vmem_sizes *s, uint64_t min_boot_bytes,
                     uint64_t max_bytes_limit, char **why);

/* The device region (the memory backend): max - boot. */
uint64_t fleet_vmem_region_bytes(const struct fleet_vmem_sizes *s);
/* What the guest plugs at boot (requested-size): nominal - boot. */
uint64_t fleet_vmem_requested_bytes(const struct fleet_vmem_sizes *s);

/* The value of -m: "BOOTM,maxmem=MAXM". */
char *fleet_vmem_memory_arg(const struct fleet_vmem_sizes *s);

/*
 * Appends the backend and the device (-object ..., -device virtio-mem-pci,...)
 * to argv, the backend's KSM setting being the guest's mem-merge.
 */
void fleet_vmem_add_args(GPtrArray *argv, const struct fleet_vmem_sizes *s, bool merge);

#endif
