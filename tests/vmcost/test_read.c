/*
 * The smaps/status reader on fixture trees: a real QEMU's smaps (a TCG
 * fleet guest on 6.18, KSM merging), synthetic QEMUs with decoys (TCG's code
 * buffer bigger than the RAM or as big, a bigger anonymous mapping than a
 * NUMA node, the VGA RAM), a 5.15 smaps without the KSM line, hostile files
 * (garbage, overflow, missing units, lost and malformed headers, a cut
 * file, a NUL byte, a header longer than the line buffer) and, made at run
 * time, thousands of mappings past procfile's 1 MiB and past the reader's cap.
 */
#include "cunit_main.h"
#include "vmcost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FIX(p) BALLAST_FIXTURES "/" p
#define KB     1024ull
#define MIB    (1024ull * 1024)

static void test_real_qemu(void)
{
    struct vmcost_proc p;
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 4100, 256 * MIB, &p), 0);
    CU_ASSERT_EQUAL(p.parse_errors, 0);
    CU_ASSERT_FALSE(p.truncated);
    CU_ASSERT_TRUE(p.ksm_field);
    CU_ASSERT_EQUAL(p.all.mappings, 315);
    /* Every resident byte is in some mapping: the sum is the kernel's VmRSS. */
    CU_ASSERT_TRUE(p.rss_present);
    CU_ASSERT_EQUAL(p.all.rss_bytes, 137628 * KB);
    CU_ASSERT_EQUAL(p.vm_rss_bytes, 137628 * KB);
    CU_ASSERT_EQUAL(p.all.pss_bytes, 83786 * KB);
    CU_ASSERT_TRUE(p.pte_present);
    CU_ASSERT_EQUAL(p.vm_pte_bytes, 480 * KB);
    /* Guest RAM: the one 256 MiB mergeable mapping; not the 16 MiB rwx TCG
     * buffer, not the 2 MiB mergeable ROM, not the 14.5 MiB glibc arena. */
    CU_ASSERT_TRUE(p.ram_found);
    CU_ASSERT_EQUAL(p.guest_ram.mappings, 1);
    CU_ASSERT_EQUAL(p.guest_ram.size_bytes, 256 * MIB);
    CU_ASSERT_EQUAL(p.guest_ram.rss_bytes, 78924 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.pss_bytes, 36593 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.ksm_bytes, 46596 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.anon_huge_bytes, 0);
    /* A guest said to be twice as big is not found in it. */
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 4100, 512 * MIB, &p), 0);
    CU_ASSERT_FALSE(p.ram_found);
    CU_ASSERT_EQUAL(p.guest_ram.rss_bytes, 0);
    CU_ASSERT_EQUAL(p.all.rss_bytes, 137628 * KB);
}

/* The nine mappings every synthetic QEMU has: 16992 kB resident, Pss 10601 kB. */
#define COMMON_RSS_KB 16992ull
#define COMMON_PSS_KB 10601ull

static void test_tcg_515(void)
{
    /* 160 MiB under TCG on 5.15: the 1 GiB rwx code buffer is bigger than
     * the RAM, the 16 MiB VGA RAM smaller; no KSM line, no "mg". */
    struct vmcost_proc p;
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 4200, 160 * MIB, &p), 0);
    CU_ASSERT_EQUAL(p.parse_errors, 0);
    CU_ASSERT_FALSE(p.ksm_field);
    CU_ASSERT_EQUAL(p.all.mappings, 13);
    CU_ASSERT_TRUE(p.ram_found);
    CU_ASSERT_EQUAL(p.guest_ram.mappings, 1);
    CU_ASSERT_EQUAL(p.guest_ram.size_bytes, 160 * MIB);
    CU_ASSERT_EQUAL(p.guest_ram.rss_bytes, 120000 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.anon_huge_bytes, 40960 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.swap_bytes, 2048 * KB);
    CU_ASSERT_EQUAL(p.all.rss_bytes, (COMMON_RSS_KB + 30000 + 120000 + 900 + 256) * KB);
    CU_ASSERT_EQUAL(p.all.rss_bytes, p.vm_rss_bytes);
    CU_ASSERT_EQUAL(p.all.pss_bytes, (COMMON_PSS_KB + 30000 + 120000 + 900 + 256) * KB);
    CU_ASSERT_EQUAL(p.vm_pte_bytes, 620 * KB);
}

static void test_same_size_decoys(void)
{
    /* A 1 GiB guest beside a 1 GiB rwx TCG buffer and a 1 GiB anonymous
     * reservation with more resident: the mergeable one is guest RAM. */
    struct vmcost_proc p;
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 4300, 1024 * MIB, &p), 0);
    CU_ASSERT_TRUE(p.ram_found);
    CU_ASSERT_EQUAL(p.guest_ram.mappings, 1);
    CU_ASSERT_EQUAL(p.guest_ram.rss_bytes, 300000 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.ksm_bytes, 100000 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.pss_bytes, 212500 * KB);
    CU_ASSERT_EQUAL(p.all.rss_bytes, (COMMON_RSS_KB + 50000 + 500000 + 300000) * KB);
}

static void test_numa(void)
{
    /* Two 80 MiB nodes, mergeable, and a bigger plain anonymous mapping
     * that a largest-first sum would take first. */
    struct vmcost_proc p;
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 4400, 160 * MIB, &p), 0);
    CU_ASSERT_TRUE(p.ram_found);
    CU_ASSERT_EQUAL(p.guest_ram.mappings, 2);
    CU_ASSERT_EQUAL(p.guest_ram.size_bytes, 160 * MIB);
    CU_ASSERT_EQUAL(p.guest_ram.rss_bytes, 70000 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.ksm_bytes, 10000 * KB);
    CU_ASSERT_EQUAL(p.guest_ram.pss_bytes, (33000 + 28250) * KB);
    CU_ASSERT_EQUAL(p.all.pss_bytes, (COMMON_PSS_KB + 60000 + 61250 + 900) * KB);
    /* The same nodes without "mg": the two biggest, not the VGA RAM. */
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 4450, 160 * MIB, &p), 0);
    CU_ASSERT_TRUE(p.ram_found);
    CU_ASSERT_EQUAL(p.guest_ram.mappings, 2);
    CU_ASSERT_EQUAL(p.guest_ram.rss_bytes, 70000 * KB);
    /* Unknown RAM size: nothing is taken for guest RAM, everything counted. */
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 4450, 0, &p), 0);
    CU_ASSERT_FALSE(p.ram_found);
    CU_ASSERT_EQUAL(p.all.rss_bytes, (COMMON_RSS_KB + 40000 + 900 + 30000) * KB);
}

static void test_slack(void)
{
    CU_ASSERT_EQUAL(vmcost_ram_slack_bytes(0), 2 * MIB);
    CU_ASSERT_EQUAL(vmcost_ram_slack_bytes(160 * MIB), 5 * MIB);
    CU_ASSERT_EQUAL(vmcost_ram_slack_bytes(4096 * MIB), 128 * MIB);
}

static void test_hostile(void)
{
    struct vmcost_proc p;
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-hostile/proc"), 5100, 160 * MIB, &p), 0);
    /* Each numbered line of make_fixtures.py's 5100, and the status file's. */
    CU_ASSERT_EQUAL(p.parse_errors, 13);
    CU_ASSERT_EQUAL(p.all.mappings, 7);
    /* Rejected values count nothing; accepted ones everything. */
    CU_ASSERT_EQUAL(p.all.rss_bytes, (400 + 1000 + 512 + 64 + 8192) * KB);
    CU_ASSERT_EQUAL(p.all.pss_bytes, 1000 * KB);
    CU_ASSERT_EQUAL(p.all.size_bytes, (163840 + 4096 + 512 + 1024 + 163840 + 2048) * KB);
    CU_ASSERT_EQUAL(p.all.swap_bytes, 0);
    /* The good mapping is guest RAM; the 160 MiB one after a lost header is not. */
    CU_ASSERT_TRUE(p.ram_found);
    CU_ASSERT_EQUAL(p.guest_ram.mappings, 1);
    CU_ASSERT_EQUAL(p.guest_ram.rss_bytes, 1000 * KB);
    CU_ASSERT_FALSE(p.rss_present);
    CU_ASSERT_TRUE(p.pte_present);
    CU_ASSERT_EQUAL(p.vm_pte_bytes, 24 * KB);

    /* A header longer than the line buffer: its fields are a mapping of
     * their own, never guest RAM. */
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-hostile/proc"), 5200, 160 * MIB, &p), 0);
    CU_ASSERT_EQUAL(p.parse_errors, 1);
    CU_ASSERT_EQUAL(p.all.mappings, 2);
    CU_ASSERT_EQUAL(p.all.rss_bytes, 2100 * KB);
    CU_ASSERT_FALSE(p.ram_found);

    /* Empty smaps, no status: nothing, and no error. */
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-hostile/proc"), 5300, 160 * MIB, &p), 0);
    CU_ASSERT_EQUAL(p.all.mappings, 0);
    CU_ASSERT_EQUAL(p.parse_errors, 0);
    CU_ASSERT_FALSE(p.ram_found);
    CU_ASSERT_FALSE(p.rss_present);
    CU_ASSERT_FALSE(p.pte_present);

    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-hostile/proc"), 5400, 160 * MIB, &p), -EOPNOTSUPP);
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-hostile/proc"), 9999, 160 * MIB, &p), -ESRCH);
    CU_ASSERT_EQUAL(vmcost_read(FIX("no-such-root"), 4100, 160 * MIB, &p), -ESRCH);
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 0, 160 * MIB, &p), -EINVAL);
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), -4, 160 * MIB, &p), -EINVAL);
    CU_ASSERT_EQUAL(vmcost_read(NULL, 4100, 160 * MIB, &p), -EINVAL);
    CU_ASSERT_EQUAL(vmcost_read(FIX("vmcost-qemu/proc"), 4100, 160 * MIB, NULL), -EINVAL);
}

static char root[] = "/tmp/vmcost-XXXXXX";

static int setup(void)
{
    return mkdtemp(root) ? 0 : 1;
}

static int teardown(void)
{
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : 1;
}

/* root/proc/PID/smaps of n 4 KiB mappings of 1 kB resident each, the
 * guest's 160 MiB mapping in the middle; about 800 bytes a mapping. */
static void many_mappings(int pid, unsigned n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/proc/%d", root, pid);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    strcat(path, "/smaps");
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    unsigned long long addr = 0x7f0000000000ull;
    for (unsigned i = 0; i < n; i++) {
        unsigned long long kb = i == n / 2 ? 163840 : 4;
        fprintf(f, "%llx-%llx rw-p 00000000 00:00 0 \n", addr, addr + kb * KB);
        addr += kb * KB + 4 * KB;
        fprintf(f, "Size:           %8llu kB\nKernelPageSize:        4 kB\n", kb);
        fprintf(f, "MMUPageSize:           4 kB\nRss:                   1 kB\n");
        fprintf(f, "Pss:                   1 kB\nPss_Dirty:             1 kB\n");
        static const char *const zero[] = {"Shared_Clean",  "Shared_Dirty",   "Private_Clean",
                                           "Referenced",    "Anonymous",      "KSM",
                                           "LazyFree",      "AnonHugePages",  "ShmemPmdMapped",
                                           "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb",
                                           "Swap",          "SwapPss",        "Locked"};
        for (size_t k = 0; k < sizeof(zero) / sizeof(zero[0]); k++) {
            char key[24];
            snprintf(key, sizeof(key), "%s:", zero[k]);
            fprintf(f, "%-16s%8d kB\n", key, 0);
        }
        fprintf(f, "Private_Dirty:         1 kB\nTHPeligible:           0\n");
        fprintf(f, "VmFlags: rd wr mr mw me ac mg \n");
    }
    fclose(f);
}

static void test_many_mappings(void)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "%s/proc", root);
    struct vmcost_proc p;
    /* 5000 mappings, some 4 MiB of smaps: more than procfile's usual 1 MiB cap. */
    many_mappings(6000, 5000);
    CU_ASSERT_EQUAL(vmcost_read(proc, 6000, 160 * MIB, &p), 0);
    CU_ASSERT_EQUAL(p.all.mappings, 5000);
    CU_ASSERT_EQUAL(p.all.rss_bytes, 5000 * KB);
    CU_ASSERT_EQUAL(p.parse_errors, 0);
    CU_ASSERT_TRUE(p.ram_found);
    CU_ASSERT_EQUAL(p.guest_ram.rss_bytes, 1 * KB);
    /* 12000 mappings pass the reader's cap: cut there, counted, said. */
    many_mappings(6001, 12000);
    CU_ASSERT_EQUAL(vmcost_read(proc, 6001, 160 * MIB, &p), -EFBIG);
    CU_ASSERT_TRUE(p.truncated);
    CU_ASSERT_TRUE(p.parse_errors >= 1);
    CU_ASSERT_TRUE(p.all.mappings > 9000 && p.all.mappings < 12000);
}

static CU_TestInfo read_tests[] = {
    {"a real QEMU's smaps", test_real_qemu},
    {"TCG on 5.15: a code buffer bigger than the RAM", test_tcg_515},
    {"decoys as big as the RAM", test_same_size_decoys},
    {"RAM on two NUMA nodes", test_numa},
    {"the size slack", test_slack},
    {"hostile files", test_hostile},
    {"thousands of mappings, and too many", test_many_mappings},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vmcost read", setup, teardown, NULL, NULL, read_tests},
    CU_SUITE_INFO_NULL,
};
