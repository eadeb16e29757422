/*
 * What a fleet is (struct fleet_spec) and the QEMU command line of each of
 * its guests, pure: from the spec to argv, so tests check every flag.
 * The guest kernel command line built here is the contract with the guest
 * image's /init and the agent (docs/guest-image.md).
 */
#ifndef BALLAST_FLEET_QEMU_H
#define BALLAST_FLEET_QEMU_H

#include "fleet_options.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

struct fleet_spec {
    char *state_dir; /* absolute */
    char *qemu;
    char *kernel;
    char *initrd;
    char *prefix;
    unsigned count;
    uint64_t memory_bytes; /* nominal: what the guest starts at */
    /* balloon: microvm, boot = max = memory_bytes; virtio-mem or both: q35,
     * -m boot_memory_bytes,maxmem=max_memory_bytes and a virtio-mem device
     * plugging the rest (fleet_vmem.h) */
    enum fleet_actuator actuator;
    uint64_t boot_memory_bytes;
    uint64_t max_memory_bytes;
    unsigned cpus;
    enum fleet_accel accel; /* KVM or TCG, never AUTO */
    unsigned tb_size_mib;   /* TCG only */
    unsigned disk_mib;      /* 0: no scratch disk (FLEET_DISK_FILE) */
    bool deflate_on_oom;
    bool free_page_reporting;
    bool thp;
    bool kaslr;       /* false: nokaslr on the guest kernel command line */
    uint64_t tsc_khz; /* 0: no tsc_early_khz */
    char *workload;   /* NULL: none */
    char *append;     /* NULL: none */
    bool *merge;      /* count entries: mem-merge per guest */
    char *cgroup_dir; /* NULL: none; guests run in cgroup_dir/NAME (fleet_cgroup.h) */
};

/*
 * The spec for `start` from checked options and what main found on the host.
 * accel must be resolved (KVM or TCG). Returns 0 or -EINVAL.
 */
int fleet_spec_from_options(const struct fleet_options *opts, const char *abs_state_dir,
                            const char *image_dir, const char *qemu, enum fleet_accel accel,
                            uint64_t tsc_khz, struct fleet_spec *spec);
void fleet_spec_clear(struct fleet_spec *spec);

/* QEMU option values separate keys with commas: a literal comma is doubled. */
char *fleet_qemu_escape(const char *value);

/*
 * Guest kernel command line:
 *   console=ttyS0 panic=-1 [tsc_early_khz=K] [nokaslr]
 *   [memhp_default_state=online_movable swiotlb=noforce
 *    sysctl.vm.lowmem_reserve_ratio="256 8"] ballast.name=NAME
 *   [ballast.workload=SPEC] [APPEND]
 * (memhp_default_state and swiotlb only with a virtio-mem device.)
 */
char *fleet_kernel_cmdline(const struct fleet_spec *spec, unsigned index);

/*
 * The whole QEMU argv of guest INDEX (argv[0] is spec->qemu); NULL when one
 * of the guest's paths passes its limit (fleet_socket_paths_fit()).
 */
GStrv fleet_qemu_argv(const struct fleet_spec *spec, unsigned index);

/* fleet.json: the spec as JSON text, and back (for status and stop). */
char *fleet_spec_to_json(const struct fleet_spec *spec);
int fleet_spec_from_json(const char *text, struct fleet_spec *spec, GError **error);

#endif
