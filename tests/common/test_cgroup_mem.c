/*
 * The cgroup v2 memory reader on fixture trees (tests/fixtures/cgroup-*):
 * a normal cgroup, an unlimited one ("max"), the root (no memory.current),
 * a cgroup v1 memory directory, and hostile trees: garbage, a number past
 * 64 bits, a negative limit, garbled PSI, a FIFO, a missing directory.
 */
#include "cunit_main.h"
#include "cgroup_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX BALLAST_FIXTURES
#define GIB (1ULL << 30)

static void test_parse_limit(void)
{
    uint64_t v = 0;
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("max\n", 4, &v), 0);
    CU_ASSERT_EQUAL(v, CGROUP_MEM_UNLIMITED);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("max", 3, &v), 0);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("1073741824\n", 11, &v), 0);
    CU_ASSERT_EQUAL(v, GIB);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("0\n", 2, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("18446744073709551615", 20, &v), 0);
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("18446744073709551616", 20, &v), -ERANGE);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("", 0, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("\n", 1, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("Max", 3, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("maxx", 4, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("-1", 2, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("+5", 2, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit(" 5", 2, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("5G", 2, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("0x10", 4, &v), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_parse_limit("1 2", 3, &v), -EINVAL);
}

static void test_normal(void)
{
    struct cgroup_mem m;
    CU_ASSERT_EQUAL_FATAL(cgroup_mem_read(FIX "/cgroup-v2", &m), 0);
    CU_ASSERT_EQUAL(m.valid, CGROUP_MEM_HAS_CURRENT | CGROUP_MEM_HAS_MAX | CGROUP_MEM_HAS_HIGH |
                                 CGROUP_MEM_HAS_PRESSURE);
    CU_ASSERT_EQUAL(m.current_bytes, 4 * GIB);
    CU_ASSERT_EQUAL(m.max_bytes, 6 * GIB);
    CU_ASSERT_EQUAL(m.high_bytes, 5 * GIB);
    CU_ASSERT_EQUAL(cgroup_mem_limit_bytes(&m), 5 * GIB); /* high binds first */
    CU_ASSERT_EQUAL(m.pressure.some.avg10_bp, 150);
    CU_ASSERT_EQUAL(m.pressure.full.avg10_bp, 40);
    CU_ASSERT(m.pressure.valid & PSI_HAS_FULL);
}

static void test_unlimited(void)
{
    struct cgroup_mem m;
    CU_ASSERT_EQUAL_FATAL(cgroup_mem_read(FIX "/cgroup-v2-unlimited", &m), 0);
    CU_ASSERT_EQUAL(m.current_bytes, GIB);
    CU_ASSERT_EQUAL(m.max_bytes, CGROUP_MEM_UNLIMITED);
    CU_ASSERT_EQUAL(m.high_bytes, CGROUP_MEM_UNLIMITED);
    CU_ASSERT(m.valid & CGROUP_MEM_HAS_MAX);
    CU_ASSERT_EQUAL(cgroup_mem_limit_bytes(&m), CGROUP_MEM_UNLIMITED);
    CU_ASSERT(m.valid & CGROUP_MEM_HAS_PRESSURE);
}

/* Not a cgroup v2 memory directory: the root (no memory.current), cgroup
 * v1, nothing there at all. */
static void test_not_v2(void)
{
    struct cgroup_mem m;
    memset(&m, 0xa5, sizeof(m));
    CU_ASSERT_EQUAL(cgroup_mem_read(FIX "/cgroup-root", &m), -ENOENT);
    CU_ASSERT_EQUAL(m.valid, 0);
    CU_ASSERT_EQUAL(m.current_bytes, 0);
    CU_ASSERT_EQUAL(cgroup_mem_read(FIX "/cgroup-v1", &m), -EPROTONOSUPPORT);
    CU_ASSERT(strstr(cgroup_mem_strerror(-EPROTONOSUPPORT), "cgroup v1") != NULL);
    CU_ASSERT_EQUAL(cgroup_mem_read(FIX "/no-such-cgroup", &m), -ENOENT);
    CU_ASSERT_EQUAL(cgroup_mem_read(FIX "/cgroup-v2/memory.current", &m), -ENOTDIR);
    CU_ASSERT_EQUAL(cgroup_mem_read("", &m), -EINVAL);
    CU_ASSERT_EQUAL(cgroup_mem_read(NULL, &m), -EINVAL);
    char deep[400];
    memset(deep, 'a', sizeof(deep) - 1);
    deep[0] = '/';
    deep[sizeof(deep) - 1] = '\0';
    CU_ASSERT_EQUAL(cgroup_mem_read(deep, &m), -ENAMETOOLONG);
}

/* Hostile content fails the whole read: no limit is guessed. */
static void test_hostile(void)
{
    struct cgroup_mem m;
    CU_ASSERT_EQUAL(cgroup_mem_read(FIX "/cgroup-garbage", &m), -EINVAL);
    CU_ASSERT_EQUAL(m.valid, 0);
    CU_ASSERT_EQUAL(cgroup_mem_read(FIX "/cgroup-huge", &m), -ERANGE);
    CU_ASSERT_EQUAL(cgroup_mem_read(FIX "/cgroup-badlimit", &m), -EINVAL);
    CU_ASSERT_EQUAL(m.current_bytes, 0);
    /* Garbled PSI only loses the pressure figure; a 64-bit-max limit is a
     * limit (the budget arithmetic takes the host's RAM when it is lower). */
    CU_ASSERT_EQUAL_FATAL(cgroup_mem_read(FIX "/cgroup-badpsi", &m), 0);
    CU_ASSERT_EQUAL(m.valid & CGROUP_MEM_HAS_PRESSURE, 0);
    CU_ASSERT_EQUAL(m.pressure.valid, 0);
    CU_ASSERT_EQUAL(m.max_bytes, UINT64_MAX);
    CU_ASSERT_EQUAL(m.high_bytes, CGROUP_MEM_UNLIMITED); /* absent */
    CU_ASSERT_EQUAL(m.valid & CGROUP_MEM_HAS_HIGH, 0);
}

/* A FIFO in place of memory.current must not hang the tick, and a file
 * longer than any the kernel writes is refused. */
static void test_fifo_and_long(void)
{
    char dir[] = "/tmp/cgroup-mem-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/memory.current", dir);
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    struct cgroup_mem m;
    CU_ASSERT(cgroup_mem_read(dir, &m) < 0); /* -ESPIPE: pread on a pipe; no hang */
    unlink(path);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 100; i++)
        fputc('1', f);
    fclose(f);
    CU_ASSERT_EQUAL(cgroup_mem_read(dir, &m), -EFBIG);
    unlink(path);
    rmdir(dir);
}

static CU_TestInfo cgroup_tests[] = {
    {"parse limit", test_parse_limit},
    {"normal", test_normal},
    {"unlimited", test_unlimited},
    {"not cgroup v2", test_not_v2},
    {"hostile", test_hostile},
    {"fifo and long", test_fifo_and_long},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"cgroup_mem", NULL, NULL, NULL, NULL, cgroup_tests},
    CU_SUITE_INFO_NULL,
};
