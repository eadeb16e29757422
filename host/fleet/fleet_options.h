/*
 * Command line of ballast-fleet (`start`, `stop`, `status`, `path`): parsing and
 * validation only, no I/O, so every rule is unit-tested (tests/fleet/).
 * Checks that need the machine (QEMU present, image built, state directory
 * free) happen in fleet_main.c.
 */
#ifndef BALLAST_FLEET_OPTIONS_H
#define BALLAST_FLEET_OPTIONS_H

#include "fleet_layout.h"
#include "fleet_vmem.h"

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* The cloud kernel + initramfs does not boot in less (measured: 80 MiB). */
#define FLEET_MIN_MEMORY_BYTES (80ULL << 20)
#define FLEET_MAX_MEMORY_BYTES (1ULL << 40)
#define FLEET_MAX_COUNT        1024
#define FLEET_MAX_CPUS         64
/* TCG code cache: counted in every QEMU's RSS; 16 MiB boots as fast as 1 GiB. */
#define FLEET_DEFAULT_TB_SIZE_MIB 8
#define FLEET_MAX_TB_SIZE_MIB     2048
#define FLEET_DEFAULT_PREFIX      "vm"
#define FLEET_MAX_PREFIX_LEN      32
#define FLEET_DEFAULT_WAIT_S      300
#define FLEET_DEFAULT_STOP_S      10
/* x86 COMMAND_LINE_SIZE, terminating NUL included. */
#define FLEET_MAX_CMDLINE_LEN 2048
/* start --disk: a scratch disk per guest, 64 GiB at most (sparse: the host
 * only stores what the guest writes). 0, the default, is none. */
#define FLEET_MAX_DISK_MIB 65536

enum fleet_command {
    FLEET_CMD_START,
    FLEET_CMD_STOP,
    FLEET_CMD_STATUS,
    FLEET_CMD_PATH,
};

enum fleet_accel {
    FLEET_ACCEL_AUTO,
    FLEET_ACCEL_KVM,
    FLEET_ACCEL_TCG,
};

struct fleet_options {
    enum fleet_command command;
    char *state_dir; /* as given; made absolute by main, except for path (NULL: `path FILE`) */
    /* start */
    unsigned count;
    uint64_t memory_bytes; /* nominal: what the guest starts at */
    /* --actuator; a balloon guest has boot = max = memory_bytes, a virtio-mem
     * guest boot <= memory <= max, each a multiple of FLEET_VMEM_BLOCK_BYTES */
    enum fleet_actuator actuator;
    uint64_t boot_memory_bytes;
    uint64_t max_memory_bytes;
    unsigned cpus;
    enum fleet_accel accel;
    unsigned tb_size_mib;
    /* --disk: MiB of the guest's scratch disk, 0 for none (the default) */
    unsigned disk_mib;
    bool deflate_on_oom; /* default on; --no-deflate-on-oom */
    /* default on; --no-free-page-reporting (off: libvirt's and QEMU's default) */
    bool free_page_reporting;
    bool thp;        /* leave transparent huge pages on for QEMU */
    bool kaslr;      /* keep the guest kernel's KASLR (default: nokaslr) */
    char **no_merge; /* NULL-terminated names, or {"all"}; never NULL after parse */
    char *image_dir; /* NULL: <build>/guest next to the binary */
    char *qemu;      /* NULL: qemu-system-x86_64 from PATH */
    char *name_prefix;
    char *workload;   /* NULL: none */
    char *append;     /* NULL: none */
    char *config_dir; /* NULL: none; per-VM `ksm` keys decide mem-merge */
    char *cgroup_dir; /* NULL: none; else an absolute cgroup v2 directory (fleet_cgroup.h) */
    uint64_t tsc_khz; /* 0: measure the host's */
    bool wait;
    /* start --wait: seconds for all markers; stop: seconds before SIGKILL */
    unsigned timeout_s;
    /* status */
    bool json;
    /* path */
    enum fleet_file file;
    char *guest_name; /* NULL for a fleet file, or without --state */
};

/*
 * Parses argv (argv[0] the program, argv[1] the command) into opts, with
 * defaults filled in and every value checked. argv is not modified.
 * Returns 0, or -EINVAL with error set to a message for the user.
 * Free with fleet_options_clear() in both cases.
 */
int fleet_options_parse(int argc, char *const *argv, struct fleet_options *opts, GError **error);
void fleet_options_clear(struct fleet_options *opts);

const char *fleet_accel_name(enum fleet_accel accel);
int fleet_accel_from_name(const char *name, enum fleet_accel *out);

/* A name prefix is [A-Za-z][A-Za-z0-9_-]*, at most FLEET_MAX_PREFIX_LEN. */
bool fleet_prefix_valid(const char *prefix);

/* Help text for `ballast-fleet --help`. */
const char *fleet_usage(void);

#endif
