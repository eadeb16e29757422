/*
 * ballastd's per-VM host cost: the daemon-side glue around host/vmcost. For
 * one VM at a time it reads its QEMU's smaps and status and its ksm_stat,
 * splits the cost with the host's KSM sample and the balloon's figures
 * (vmcost_split), keeps the result in a small fixed struct the manager
 * embeds in each VM, and fills the status document's and explain's members.
 * When a VM is read is the manager's business (manager_cost.c, on the pure
 * vmcost_due); the guest's own split comes from its agent's report.
 *
 * No allocation: the reader streams smaps through a stack buffer, and the
 * state is ~150 bytes a VM. Roots are parameters, so the unit tests run it
 * on fixture trees with a fake clock.
 */
#ifndef BALLAST_COST_MONITOR_H
#define BALLAST_COST_MONITOR_H

#include "control.h"
#include "ksm.h"
#include "proto.h"
#include "vmcost.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct cost_monitor_vm {
    int64_t read_ms; /* monotonic ms of the last read, VMCOST_NEVER_READ (0) before */
    pid_t pid;       /* the QEMU read last, -1 = none */
    int error;       /* the last read's -errno: 0, -ESRCH, -EACCES, -ENODATA (no guest RAM)... */
    bool valid;      /* cost is from the last read */
    struct vm_cost cost;
    /* What explain shows beside the split, from the same read. */
    uint64_t rss_bytes;           /* VmRSS */
    uint64_t guest_ram_pss_bytes; /* the kernel's per-page fair view: ~ unique + KSM share */
    uint64_t guest_ram_ksm_bytes; /* KSM pages in guest RAM (smaps KSM line, 6.6+) */
    uint32_t mappings, guest_ram_mappings, parse_errors;
    bool ksm_line; /* smaps had the KSM line */
};

struct cost_monitor_in {
    const char *proc_root;
    const char *name;                       /* for the log */
    pid_t pid;                              /* the VM's QEMU, -1 unknown */
    int64_t nominal_bytes;                  /* guest RAM to look for, -1 unknown */
    int64_t actual_bytes;                   /* balloon actual, -1 unknown */
    const struct ksm_host_sample *ksm_host; /* NULL: no host KSM figures */
    uint64_t page_size;
    int64_t now_ms;
};

/* Sets up a VM's state: never read. */
void cost_monitor_vm_init(struct cost_monitor_vm *c);
/*
 * Reads and splits one VM's cost now (1-3 ms for a small guest: the kernel
 * walks its page tables). A failure keeps the error (logged once per change)
 * and stamps read_ms all the same: the VM is tried again a period later,
 * not at every tick.
 */
void cost_monitor_read(struct cost_monitor_vm *c, const struct cost_monitor_in *in);

/* The status document's "cost" object of a VM. */
void cost_monitor_vm_status(const struct cost_monitor_vm *c, int64_t now_ms,
                            struct ctl_vm_cost *out);
/* What "guest_mem" is made of: the agent's report and the VM's balloon. */
struct cost_monitor_guest_in {
    const struct proto_report *r; /* the agent's last report, NULL: none */
    int64_t age_ms;               /* its age */
    /* The balloon's pages the guest counts as used: nominal - actual when
     * the balloon sits inside MemTotal (deflate-on-oom), else 0. */
    uint64_t balloon_in_used_bytes;
    const struct vmcost_boot_reserve *reserve; /* learned from the reports; NULL: none */
};

/* "guest_mem" (every member -1 without a report with MemTotal, MemFree and the LRU figures). */
void cost_monitor_guest(const struct cost_monitor_guest_in *in, struct ctl_guest_mem *out);
/* explain's "cost" and "guest_mem" members. */
void cost_monitor_explain(const struct cost_monitor_vm *c, const struct cost_monitor_guest_in *g,
                          int64_t now_ms, struct json_writer *w);

#endif
