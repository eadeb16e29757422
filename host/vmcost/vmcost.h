/*
 * What one guest costs the host, split into parts that add up: the reader of
 * its QEMU's /proc/PID/smaps and /proc/PID/status (vmcost_read.c), the pure
 * split of those figures with KSM's and the balloon's (vmcost_split.c), the
 * guest's own working-set split from its agent's report (vmcost_guest.c) and
 * the pure schedule that says whose figures to read at a tick (vmcost_due.c).
 *
 *   vmcost_read(proc, qemu_pid, nominal_bytes, &proc_figures)   1-3 ms: once a minute per VM
 *   vmcost_split(&{proc_figures, ksm_stat, ksm host, balloon}, &cost)   pure
 *   vmcost_guest_split(&agent_report, balloon_in_used, &guest)          pure
 *   vmcost_boot_reserve_note(&reserve, &{nominal, balloon, report})    pure
 *   vmcost_due(read_ms[], n, now, period, tick, due[])                  pure
 *
 * Plain C on common/ (no glib), like host/ksm: the reader takes its /proc
 * root as a parameter (tests point it at tests/fixtures/vmcost-*), reads
 * line by line through a fixed buffer and allocates nothing, whatever the
 * number of mappings. docs/ballastd.md ("Host cost per VM") explains every
 * figure; every function returns 0 or a negative errno.
 */
#ifndef BALLAST_VMCOST_H
#define BALLAST_VMCOST_H

#include "ksm.h"
#include "proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------ the reader */

/*
 * smaps is read in lines of at most this many bytes (a header line with a
 * PATH_MAX path fits); the buffer is on the reader's stack.
 */
#define VMCOST_LINE_BYTES 8192
/*
 * smaps is read up to this many bytes (about 10,000 mappings; a QEMU has a
 * few hundred): a process with more is reported truncated (-EFBIG), so a
 * guest that makes its QEMU map absurdly much costs ballastd a bounded read.
 */
#define VMCOST_SMAPS_MAX_BYTES (8u << 20)
/* Guest RAM may be split over up to this many mappings (NUMA nodes). */
#define VMCOST_MAX_RAM_PARTS 8

/* Sums over a set of mappings of smaps, in bytes (the kernel's kB x 1024). */
struct vmcost_maps {
    uint32_t mappings;
    uint64_t size_bytes;          /* Size: address space */
    uint64_t rss_bytes;           /* Rss: resident, KSM pages counted by every mapper */
    uint64_t pss_bytes;           /* Pss: resident, each page divided by its mappers */
    uint64_t anonymous_bytes;     /* Anonymous */
    uint64_t anon_huge_bytes;     /* AnonHugePages: of those, in transparent huge pages */
    uint64_t ksm_bytes;           /* KSM (Linux 6.6+): resident pages that are KSM pages */
    uint64_t private_clean_bytes; /* Private_Clean */
    uint64_t private_dirty_bytes; /* Private_Dirty */
    uint64_t shared_clean_bytes;  /* Shared_Clean */
    uint64_t shared_dirty_bytes;  /* Shared_Dirty */
    uint64_t swap_bytes;          /* Swap */
};

/* What vmcost_read found in one QEMU's smaps and status. */
struct vmcost_proc {
    pid_t pid;
    uint64_t ram_bytes;           /* the guest RAM size the caller looked for */
    struct vmcost_maps all;       /* every mapping of the process */
    struct vmcost_maps guest_ram; /* the mappings taken for guest RAM (vmcost_read) */
    bool ram_found;               /* guest_ram holds guest RAM; false: no mapping fits */
    bool ksm_field;               /* smaps has the KSM line (Linux 6.6+) */
    bool truncated;               /* smaps ran past VMCOST_SMAPS_MAX_BYTES */
    uint32_t parse_errors;        /* lines and values not understood (see vmcost_read) */
    /* /proc/PID/status */
    bool rss_present, pte_present;
    uint64_t vm_rss_bytes; /* VmRSS */
    uint64_t vm_pte_bytes; /* VmPTE: the process's page tables */
};

/*
 * The guest-RAM rule: which anonymous mappings hold the guest's RAM.
 *
 * QEMU maps guest RAM (memory-backend-ram, its default) as one anonymous
 * private mapping of exactly the RAM size per RAM block, read-write, never
 * executable, marked mergeable (VmFlags "mg") when KSM may merge it; with
 * one NUMA node per memory backend it is one such mapping per node. A
 * candidate is a mapping that is writable, not executable, anonymous (no
 * path, "[anon:...]", or a "/memfd:" file other than TCG's "/memfd:tcg-jit")
 * and whose Size lies in [slack, ram_bytes + slack], slack =
 * vmcost_ram_slack_bytes(ram_bytes). Then:
 *   1. one candidate of Size >= ram_bytes - slack: that one (among several,
 *      a mergeable one first, then the largest Rss, then the first seen);
 *   2. else the largest candidates, biggest first, each taken while the sum
 *      stays <= ram_bytes + slack, until it reaches ram_bytes - slack (up to
 *      VMCOST_MAX_RAM_PARTS of them): a RAM split over nodes; the mergeable
 *      candidates alone first, then all of them;
 *   3. else ram_found is false.
 * The upper bound keeps TCG's 1 GiB code buffer (and any bigger reservation)
 * out for a smaller guest, "not executable" keeps it out for a 1 GiB guest,
 * and the lower bound keeps the heap, thread stacks, glibc arenas and the
 * 16 MiB VGA RAM from counting as a part. Under prctl(PR_SET_MEMORY_MERGE)
 * every anonymous mapping is "mg": the sizes alone decide. Not covered: guest RAM on
 * hugetlbfs (not in Rss) and hotplugged DIMMs (plugged-memory, beyond
 * ram_bytes): both count as QEMU's own.
 */
uint64_t vmcost_ram_slack_bytes(uint64_t ram_bytes);

/*
 * Reads proc_root/PID/smaps and proc_root/PID/status into out (zeroed
 * first), looking for guest RAM of ram_bytes (the VM's nominal size; 0 =
 * unknown, then ram_found stays false). Streams smaps line by line: no
 * allocation, whatever the number of mappings.
 *
 * Hostile or odd content is counted in out->parse_errors, never trusted: a
 * line that is neither a mapping header nor "Key: value"; a known kB field
 * whose value is not "<digits> kB" or overflows 64 bits in bytes (the field
 * is left out); fields before any header; a block without Size (a truncated
 * file); a second Size in one block (a header line was lost, e.g. longer
 * than VMCOST_LINE_BYTES: the fields after it form a mapping of their own,
 * never a RAM candidate); a malformed header (its mapping is counted, never
 * a candidate). Unknown keys are ignored (newer kernels add some). Sums
 * saturate.
 *
 * Returns 0; -EFBIG when smaps is longer than VMCOST_SMAPS_MAX_BYTES (out
 * holds what came before, truncated is set); -ESRCH when proc_root/PID does
 * not exist (the process is gone); -EACCES and the like when smaps cannot
 * be read (it takes ptrace read access: root, or the QEMU's own user);
 * -EINVAL for pid <= 0. A status file that cannot be read leaves
 * rss_present/pte_present false and is not an error.
 */
int vmcost_read(const char *proc_root, pid_t pid, uint64_t ram_bytes, struct vmcost_proc *out);

/* ------------------------------------------------------------- the split */

/*
 * One guest's cost to the host, in bytes. Each resident byte of its QEMU
 * process is in exactly one of the four parts of host_cost_bytes:
 *
 *   host_cost_bytes = guest_unique_bytes + ksm_shared_charge_bytes
 *                   + qemu_own_bytes + page_tables_bytes
 *
 * guest_ram_resident_bytes  Rss of the guest-RAM mappings: guest pages in
 *                           host RAM now. A KSM page counts in the Rss of
 *                           every process mapping it; a page merged with the
 *                           zero page (use_zero_pages) maps the kernel's zero
 *                           page and is not in Rss; ballooned-out and
 *                           never-touched pages are not resident.
 * guest_unique_bytes        guest_ram_resident minus its pages that are KSM
 *                           pages: guest RAM that is this VM's alone.
 * ksm_shared_charge_bytes   this VM's fair part of the KSM copies kept for
 *                           pages it maps: its KSM pages in guest RAM x
 *                           pages_shared / (pages_shared + pages_sharing),
 *                           the complement of ksm_account_vm's fair saving.
 * ksm_saved_bytes           the rest of its KSM pages: what sharing saves it
 *                           (ksm_account_vm's saved_sharing, for the KSM
 *                           pages found in guest RAM). Not a cost.
 * zero_pages_bytes          its pages merged with the zero page
 *                           (ksm_zero_pages x page): saved whole. Not a cost.
 * qemu_own_bytes            Pss of every other mapping: QEMU's heap, the TCG
 *                           code cache, device buffers, thread stacks, and its
 *                           proportional part of library pages it shares with
 *                           other processes (Pss, not Rss: with Rss a fleet's
 *                           total would count the same libc pages once per
 *                           QEMU).
 * page_tables_bytes         VmPTE of /proc/PID/status: the process's page
 *                           tables (KVM's own EPT/NPT tables are not in it).
 * balloon_held_bytes        nominal - actual: what the balloon keeps out of
 *                           the guest (not resident, not a cost); with a
 *                           virtio-mem device also its unplugged blocks
 *                           (nominal is boot + the device's max; explain's
 *                           actuator line splits the two);
 *                           balloon_known false when either is unknown.
 * thp_bytes                 AnonHugePages of the guest-RAM mappings: the part
 *                           of guest_ram_resident backed by transparent huge
 *                           pages (inside it, not another part).
 * swap_bytes                Swap of every mapping: the process's pages on
 *                           swap, guest RAM included (disk, not RAM: not in
 *                           host_cost).
 *
 * Which KSM pages: the smaps KSM line of the guest-RAM mappings when the
 * kernel prints it (6.6+: read in the same walk as Rss, so the two agree);
 * else ksm_stat's ksm_merging_pages, capped at guest_ram_resident (the
 * files are read at slightly different moments). Without a host KSM sample
 * nothing is known of sharing: KSM pages are charged whole, nothing saved.
 */
struct vm_cost {
    uint64_t host_cost_bytes;
    uint64_t guest_unique_bytes;
    uint64_t ksm_shared_charge_bytes;
    uint64_t qemu_own_bytes;
    uint64_t page_tables_bytes;
    uint64_t guest_ram_resident_bytes;
    uint64_t ksm_saved_bytes;
    uint64_t zero_pages_bytes;
    uint64_t balloon_held_bytes;
    uint64_t thp_bytes;
    uint64_t swap_bytes;
    bool balloon_known;
    bool ksm_known; /* a host KSM sample was given: the charge is a fair part */
};

struct vmcost_input {
    const struct vmcost_proc *proc;         /* vmcost_read's result */
    const struct ksm_proc_sample *ksm_proc; /* the VM's ksm_stat; NULL = unknown */
    const struct ksm_host_sample *ksm_host; /* the host's KSM counters; NULL = unknown */
    uint64_t page_size;                     /* host page size, bytes */
    int64_t nominal_bytes;                  /* VM's nominal RAM, -1 = unknown */
    int64_t actual_bytes;                   /* balloon actual, -1 = unknown */
};

/*
 * Pure: the split above. Returns 0; -ENODATA when the guest RAM was not
 * found (nothing can be split: out is zeroed); -EINVAL for NULL pointers or
 * a zero page size.
 */
int vmcost_split(const struct vmcost_input *in, struct vm_cost *out);

/* ------------------------------------------------- the guest's own split */

/*
 * The guest's memory as its agent last reported it (/proc/meminfo inside):
 *   used_bytes         = MemTotal - MemFree
 *   cache_bytes        = Active(file) + Inactive(file): the page cache the
 *                        guest can drop (buffers included: they sit on the
 *                        file LRU; shmem is not on it)
 *   anon_bytes         = Active(anon) + Inactive(anon): process memory, and
 *                        tmpfs/shmem (which the kernel keeps on the anon LRU)
 *   kernel_other_bytes = used - cache - anon: slab, kernel stacks, page
 *                        tables, ramfs and mlocked pages, ... (0 when a
 *                        report's figures leave nothing)
 * Not from Cached: it counts shmem, which is on the anon LRU already.
 *
 * A v2 report (protocol v2, an agent that sends the used memory by kind)
 * splits anon and kernel_other further (kinds_known):
 *   shmem_bytes        = Shmem: the part of anon_bytes that is tmpfs/shmem
 *                        (a tmpfs root); anon_bytes - shmem_bytes is the
 *                        processes' own
 *   slab_*_bytes       = SReclaimable, SUnreclaim
 *   kernel_bytes       = PageTables + max(VmallocUsed, KernelStack): with
 *                        CONFIG_VMAP_STACK (the x86-64 and arm64 default)
 *                        the stacks are vmalloc'd and counted in both; on a
 *                        kernel without it this undercounts by the smaller
 *                        of the two, which then shows in other_bytes
 *   balloon_bytes      = the balloon's pages when the guest counts them as
 *                        used (deflate-on-oom keeps them inside MemTotal:
 *                        the caller knows, balloon_in_used_bytes); 0 when
 *                        the balloon lowers MemTotal instead
 *   other_bytes        = kernel_other - slab - kernel - balloon: what
 *                        meminfo does not name (ramfs, mlocked and
 *                        unevictable pages, percpu, drivers' own pages...)
 * The report is the guest's and untrusted: differences saturate at 0, sums
 * at UINT64_MAX.
 */
struct vmcost_guest {
    uint64_t total_bytes;
    uint64_t used_bytes;
    uint64_t cache_bytes;
    uint64_t anon_bytes;
    uint64_t kernel_other_bytes;
    bool kinds_known; /* the members below are from a v2 report */
    uint64_t shmem_bytes;
    uint64_t slab_reclaimable_bytes;
    uint64_t slab_unreclaimable_bytes;
    uint64_t kernel_stack_bytes;
    uint64_t page_tables_bytes;
    uint64_t vmalloc_used_bytes;
    uint64_t kernel_bytes;
    uint64_t balloon_bytes;
    uint64_t other_bytes;
};

/*
 * Pure. Returns 0; -ENODATA when the report lacks MemTotal, MemFree or one
 * of the four LRU figures (valid_mask); -EINVAL for NULL pointers. The kinds
 * are filled when all six v2 figures are valid, else kinds_known is false.
 */
int vmcost_guest_split(const struct proto_report *r, uint64_t balloon_in_used_bytes,
                       struct vmcost_guest *out);

/*
 * What the guest's kernel kept at boot and never counted in MemTotal (its
 * image, struct pages, firmware and crash-kernel reservations): nominal -
 * MemTotal. A boot constant, but MemTotal alone does not show it while the
 * balloon is inflated: a virtio-balloon without deflate-on-oom takes its
 * pages off the guest's managed memory (drivers/virtio/virtio_balloon.c
 * calls adjust_managed_page_count for each), so MemTotal = actual - reserve
 * then, and nominal - MemTotal would count the balloon as kernel. It is
 * learned only from reports where it is meaningful:
 *   - the balloon was empty (actual >= nominal) when the report arrived, or
 *   - the balloon sits inside MemTotal (deflate-on-oom: the engine saw it,
 *     balloon_in_total, or this MemTotal is above the balloon's actual),
 * and only once two such reports in a row agree on MemTotal and the actual
 * (a report sampled before a balloon move but read after it would pair an
 * old MemTotal with a new actual). Learned, it is kept for the boot: a new
 * nominal or the guest's uptime going backwards (a reboot) forgets it.
 */
struct vmcost_boot_reserve {
    bool known;
    uint64_t reserved_bytes; /* when known */
    uint64_t nominal_bytes;  /* the nominal it was learned under */
    uint64_t last_uptime_ms; /* of the last report noted, 0 = none */
    bool candidate;          /* the last report qualified: these are its figures */
    uint64_t candidate_total_bytes;
    uint64_t candidate_actual_bytes;
};

struct vmcost_boot_sample {
    uint64_t nominal_bytes;       /* 0 = unknown */
    uint64_t actual_bytes;        /* balloon actual when the report arrived, 0 = unknown */
    bool balloon_in_total;        /* the engine saw the balloon inside MemTotal */
    const struct proto_report *r; /* the report: MemTotal, uptime */
};

/* Pure: notes one report (see above). NULL pointers are ignored. */
void vmcost_boot_reserve_note(struct vmcost_boot_reserve *b, const struct vmcost_boot_sample *s);

/* ------------------------------------------------------------- the audit */

/*
 * The balloon's `actual` is written by the guest: a guest that claims to have
 * given nominal - actual to its balloon must not hold those pages any more
 * (QEMU discards each page the guest puts into the balloon, before the guest
 * reports the new size). Its QEMU's resident guest RAM then stays at or
 * under actual. A guest whose guest RAM stays resident above actual +
 * tolerance for VMCOST_AUDIT_HOLD_MS (two cost reads at least) claims an
 * inflation it did not release: a lying guest, or pages kept by transparent
 * huge pages (ballooned 4 KiB pages inside a huge page wait on the
 * deferred-split queue; docs/libvirt.md, ballast-qemu). ballastd flags it
 * (status, one log line); nothing is decided on it.
 */
#define VMCOST_AUDIT_TOLERANCE_BYTES (16ULL << 20)
#define VMCOST_AUDIT_TOLERANCE_PCT   5.0 /* of nominal: tolerance = max of the two */
#define VMCOST_AUDIT_HOLD_MS         60000

struct vmcost_audit {
    bool over;                 /* the last read was over actual + tolerance */
    int64_t over_since_ms;     /* ... since this read */
    bool flagged;              /* over for VMCOST_AUDIT_HOLD_MS: said */
    uint64_t unreleased_bytes; /* resident - actual at the last read while over, else 0 */
};

enum vmcost_audit_event {
    VMCOST_AUDIT_QUIET,   /* nothing new to say */
    VMCOST_AUDIT_RAISED,  /* flagged now: say it once */
    VMCOST_AUDIT_CLEARED, /* was flagged, is not any more */
};

/* The excess over what the balloon claims: resident - actual when over
 * actual + tolerance, else 0 (also with a size unknown: 0). */
uint64_t vmcost_audit_excess(uint64_t nominal_bytes, uint64_t actual_bytes,
                             uint64_t guest_ram_resident_bytes);

/* Pure: notes one cost read at now_ms (monotonic). */
enum vmcost_audit_event vmcost_audit_note(struct vmcost_audit *a, uint64_t nominal_bytes,
                                          uint64_t actual_bytes, uint64_t guest_ram_resident_bytes,
                                          int64_t now_ms);

/* ---------------------------------------------------------- the schedule */

/* Each VM's cost is read this often when nobody asks. */
#define VMCOST_PERIOD_MS 60000
/* read_ms[] values besides a time: */
#define VMCOST_NOT_ELIGIBLE (-1) /* no QEMU pid known: never due */
#define VMCOST_NEVER_READ   0    /* due first */

/*
 * Pure: whose cost to read at a tick now_ms. read_ms[i] is when VM i was
 * last read (monotonic ms), VMCOST_NEVER_READ or VMCOST_NOT_ELIGIBLE. A VM
 * is due when never read, or when its read is period_ms old less half a
 * tick (a tick landing a little early does not wait a whole tick more). At
 * most ceil(eligible x tick_ms / period_ms) VMs are read per tick, the
 * oldest first (never-read ones, then by read time, then by index): 64 VMs
 * at a 5 s tick read 6 a tick, and so spread themselves over the minute
 * however they started. due[i] is set to 1 for the chosen, 0 otherwise.
 * Returns how many were chosen (0 for a zero period or tick).
 */
size_t vmcost_due(const int64_t *read_ms, size_t n, int64_t now_ms, uint64_t period_ms,
                  uint64_t tick_ms, uint8_t *due);

#endif
