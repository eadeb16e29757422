/*
 * The /proc readers (common/meminfo, vmstat, psi, procfile) on fixture trees
 * under tests/fixtures/proc-*: a normal guest, hostile garbage, missing
 * fields, self-contradicting values and a guest whose MemTotal shrank under
 * an inflated balloon.
 */
#include "cunit_main.h"
#include "meminfo.h"
#include "procfile.h"
#include "psi.h"
#include "vmstat.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#define FIX(name) BALLAST_FIXTURES "/" name

static void test_meminfo_normal(void)
{
    struct meminfo mi;
    CU_ASSERT_EQUAL_FATAL(meminfo_read(FIX("proc-normal"), &mi), 0);
    CU_ASSERT_EQUAL(mi.valid, (1u << MEMINFO_FIELD_COUNT) - 1);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_TOTAL], 219136ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_FREE], 150000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_AVAILABLE], 170000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_CACHED], 30000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_BUFFERS], 1000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_SWAP_TOTAL], 65536ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_SWAP_FREE], 60000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_ACTIVE_FILE], 12000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_INACTIVE_FILE], 11000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_ACTIVE_ANON], 8000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_INACTIVE_ANON], 4000ULL * 1024);
    /* The used memory by kind (REPORT v2), among lines the reader skips
     * (Slab, KReclaimable, SecPageTables, VmallocTotal...). */
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_SHMEM], 2458ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_SLAB_RECLAIMABLE], 9216ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_SLAB_UNRECLAIMABLE], 5120ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_KERNEL_STACK], 720ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_PAGE_TABLES], 64ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_VMALLOC_USED], 7168ULL * 1024);
    CU_ASSERT_FALSE(mi.clamped);
}

static void test_meminfo_hostile(void)
{
    struct meminfo mi;
    CU_ASSERT_EQUAL_FATAL(meminfo_read(FIX("proc-hostile"), &mi), 0);
    /* Only the three well-formed lines survive; nothing is guessed. */
    CU_ASSERT_EQUAL(mi.valid, (1u << MEMINFO_FREE) | (1u << MEMINFO_INACTIVE_ANON) |
                                  (1u << MEMINFO_SLAB_UNRECLAIMABLE));
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_FREE], 150000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_INACTIVE_ANON], 4000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_TOTAL], 0);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_ACTIVE_ANON], 0); /* kB * 1024 would overflow */
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_CACHED], 0);      /* line longer than the buffer */
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_SLAB_UNRECLAIMABLE], 5120ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_SHMEM], 0);            /* "12 MB", then "Shmem\0\0\0" */
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_SLAB_RECLAIMABLE], 0); /* a garbled repeat */
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_KERNEL_STACK], 0);     /* negative */
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_PAGE_TABLES], 0);      /* only SecPageTables, " PageTables" */
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_VMALLOC_USED], 0);     /* kB * 1024 would overflow */
    CU_ASSERT_FALSE(mi.clamped);
}

static void test_meminfo_missing_and_contradict(void)
{
    struct meminfo mi;
    CU_ASSERT_EQUAL(meminfo_read(FIX("proc-missing"), &mi), 0);
    CU_ASSERT_EQUAL(mi.valid, (1u << MEMINFO_TOTAL) | (1u << MEMINFO_FREE));
    CU_ASSERT_FALSE(MEMINFO_HAS(&mi, MEMINFO_AVAILABLE));

    CU_ASSERT_EQUAL(meminfo_read(FIX("proc-contradict"), &mi), 0);
    CU_ASSERT_TRUE(mi.clamped);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_FREE], 100000ULL * 1024);
    CU_ASSERT_EQUAL(mi.bytes[MEMINFO_AVAILABLE], 100000ULL * 1024);

    CU_ASSERT_EQUAL(meminfo_read(FIX("no-such-tree"), &mi), -ENOENT);
    CU_ASSERT_EQUAL(mi.valid, 0);
    const char empty[] = "";
    CU_ASSERT_EQUAL(meminfo_parse(empty, 0, &mi), -ENODATA);
}

/* The balloon inflates: the same reader on the same fd sees MemTotal shrink. */
static void test_meminfo_shrinks(void)
{
    struct meminfo before, after;
    CU_ASSERT_EQUAL_FATAL(meminfo_read(FIX("proc-normal"), &before), 0);
    CU_ASSERT_EQUAL_FATAL(meminfo_read(FIX("proc-balloon"), &after), 0);
    CU_ASSERT(after.bytes[MEMINFO_TOTAL] < before.bytes[MEMINFO_TOTAL]);
    CU_ASSERT_EQUAL(after.bytes[MEMINFO_TOTAL], 120832ULL * 1024);
    CU_ASSERT_FALSE(after.clamped);
}

static void test_vmstat(void)
{
    struct vmstat vs;
    CU_ASSERT_EQUAL_FATAL(vmstat_read(FIX("proc-normal"), &vs), 0);
    CU_ASSERT_EQUAL(vs.valid, (1u << VMSTAT_FIELD_COUNT) - 1);
    CU_ASSERT_EQUAL(vs.count[VMSTAT_PGMAJFAULT], 42);
    /* kswapd + direct + khugepaged; not _anon/_file (same pages), not throttle. */
    CU_ASSERT_EQUAL(vs.count[VMSTAT_PGSCAN], 246);
    CU_ASSERT_EQUAL(vs.count[VMSTAT_PGSTEAL], 123);
    CU_ASSERT_EQUAL(vs.count[VMSTAT_OOM_KILL], 2);

    CU_ASSERT_EQUAL_FATAL(vmstat_read(FIX("proc-hostile"), &vs), 0);
    CU_ASSERT_FALSE(VMSTAT_HAS(&vs, VMSTAT_PGMAJFAULT));
    CU_ASSERT_FALSE(VMSTAT_HAS(&vs, VMSTAT_OOM_KILL));
    CU_ASSERT_EQUAL(vs.count[VMSTAT_PGSCAN], UINT64_MAX); /* saturated, not wrapped */
    CU_ASSERT_EQUAL(vs.count[VMSTAT_PGSTEAL], 7);         /* after the 9000-byte line */

    CU_ASSERT_EQUAL(vmstat_read(FIX("proc-missing"), &vs), -ENODATA);
}

static void test_psi(void)
{
    struct psi psi;
    CU_ASSERT_EQUAL_FATAL(psi_read(FIX("proc-normal"), "memory", &psi), 0);
    CU_ASSERT_EQUAL(psi.valid, PSI_HAS_SOME | PSI_HAS_FULL);
    CU_ASSERT_EQUAL(psi.some.avg10_bp, 150);
    CU_ASSERT_EQUAL(psi.some.avg60_bp, 25);
    CU_ASSERT_EQUAL(psi.some.avg300_bp, 1);
    CU_ASSERT_EQUAL(psi.some.total_us, 123456);
    CU_ASSERT_EQUAL(psi.full.avg10_bp, 50);
    CU_ASSERT_EQUAL(psi.full.total_us, 7890);

    CU_ASSERT_EQUAL(psi_read(FIX("proc-hostile"), "memory", &psi), -ENODATA);
    CU_ASSERT_EQUAL(psi.valid, 0);
    CU_ASSERT_EQUAL(psi_read(FIX("proc-missing"), "memory", &psi), -ENOENT);

    static const char text[] = "some avg10=5 avg60=0.5 avg300=0.129 total=1\n"
                               "full avg10=100.00 avg60=100.01 avg300=0 total=2\n";
    CU_ASSERT_EQUAL(psi_parse(text, sizeof(text) - 1, &psi), 0);
    CU_ASSERT_EQUAL(psi.valid, PSI_HAS_SOME); /* 100.01 % is garbage */
    CU_ASSERT_EQUAL(psi.some.avg10_bp, 500);
    CU_ASSERT_EQUAL(psi.some.avg60_bp, 50);
    CU_ASSERT_EQUAL(psi.some.avg300_bp, 12);
    static const char bad[] = "some avg10=1.0 avg60=1.0 avg300=1.0 total=1 extra=3\n"
                              "some avg10=1. avg60=1 avg300=1 total=1\n"
                              "some avg10=1 avg60=1 avg300=1 total=-1\n";
    CU_ASSERT_EQUAL(psi_parse(bad, sizeof(bad) - 1, &psi), -ENODATA);
}

struct lines {
    unsigned count;
    size_t bytes;
};

static void count_line(const char *line, size_t len, void *ctx)
{
    struct lines *l = ctx;
    (void)line;
    l->count++;
    l->bytes += len;
}

/* Tiny buffers split lines anywhere; the result must not depend on it. */
static void test_procfile_buffer_sizes(void)
{
    struct lines ref = {0}, l;
    char buf[4096];
    CU_ASSERT_EQUAL_FATAL(
        procfile_scan(FIX("proc-normal"), "meminfo", buf, sizeof(buf), count_line, &ref), 0);
    CU_ASSERT_EQUAL(ref.count, 39);
    for (size_t size = 32; size < 200; size += 13) {
        memset(&l, 0, sizeof(l));
        CU_ASSERT_EQUAL(procfile_scan(FIX("proc-normal"), "meminfo", buf, size, count_line, &l), 0);
        CU_ASSERT_EQUAL(l.count, ref.count);
        CU_ASSERT_EQUAL(l.bytes, ref.bytes);
    }
    char longpath[PROCFILE_PATH_MAX + 8];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    CU_ASSERT_EQUAL(procfile_open(longpath, "meminfo", O_RDONLY), -ENAMETOOLONG);
    /* An endless "file" stops at the cap instead of reading forever. */
    memset(&l, 0, sizeof(l));
    CU_ASSERT_EQUAL(procfile_scan("/dev", "zero", buf, sizeof(buf), count_line, &l), -EFBIG);
}

/* On the real kernel when it has PSI: a trigger opens and polls. */
static void test_psi_trigger_real(void)
{
    CU_ASSERT_EQUAL(psi_trigger_open("/proc", "memory", 0, 0, 1000000), -EINVAL);
    CU_ASSERT_EQUAL(psi_trigger_open("/proc", "memory", 0, 2000000, 1000000), -EINVAL);
    if (access("/proc/pressure/memory", W_OK) != 0) {
        fprintf(stderr, "SKIP part of psi trigger test: /proc/pressure/memory not writable\n");
        return;
    }
    int fd = psi_trigger_open("/proc", "memory", 0, 150000, 1000000);
    CU_ASSERT_FATAL(fd >= 0);
    struct pollfd pfd = {.fd = fd, .events = POLLPRI};
    CU_ASSERT(poll(&pfd, 1, 0) >= 0);
    CU_ASSERT_EQUAL(pfd.revents & (POLLERR | POLLNVAL), 0);
    close(fd);
    /* The kernel refuses a window under 500 ms (and over 10 s). */
    fd = psi_trigger_open("/proc", "memory", 1, 1000, 100000);
    CU_ASSERT_EQUAL(fd, -EINVAL);
    if (fd >= 0)
        close(fd);
    fd = psi_trigger_open("/proc", "memory", 1, 1000, 20000000);
    CU_ASSERT_EQUAL(fd, -EINVAL);
    if (fd >= 0)
        close(fd);
}

static CU_TestInfo reader_tests[] = {
    {"meminfo normal", test_meminfo_normal},
    {"meminfo hostile", test_meminfo_hostile},
    {"meminfo missing, contradicting", test_meminfo_missing_and_contradict},
    {"meminfo MemTotal shrinks", test_meminfo_shrinks},
    {"vmstat", test_vmstat},
    {"psi", test_psi},
    {"procfile buffer sizes", test_procfile_buffer_sizes},
    {"psi trigger (real kernel)", test_psi_trigger_real},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"readers", NULL, NULL, NULL, NULL, reader_tests},
    CU_SUITE_INFO_NULL,
};
