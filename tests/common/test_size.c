/* size_parse / size_format: what --memory and config files accept. */
#include "cunit_main.h"
#include "size.h"

#include <errno.h>
#include <stdint.h>

static uint64_t parsed(const char *text, uint64_t unit, int *rc)
{
    uint64_t v = 0xdeadbeef;
    *rc = size_parse(text, unit, &v);
    return v;
}

static void test_suffixes(void)
{
    int rc;
    CU_ASSERT_EQUAL(parsed("128M", 1, &rc), 128ULL << 20);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(parsed("128mib", 1, &rc), 128ULL << 20);
    CU_ASSERT_EQUAL(parsed("2G", 1, &rc), 2ULL << 30);
    CU_ASSERT_EQUAL(parsed("2GB", 1, &rc), 2ULL << 30);
    CU_ASSERT_EQUAL(parsed("4k", 1, &rc), 4096);
    CU_ASSERT_EQUAL(parsed("1T", 1, &rc), 1ULL << 40);
    CU_ASSERT_EQUAL(parsed("512B", 1, &rc), 512);
    CU_ASSERT_EQUAL(parsed("1.5G", 1, &rc), 3ULL << 29);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(parsed("0.25M", 1, &rc), 256ULL << 10);
}

static void test_default_unit(void)
{
    int rc;
    /* QEMU's -m convention: a bare number is MiB. */
    CU_ASSERT_EQUAL(parsed("256", 1ULL << 20, &rc), 256ULL << 20);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(parsed("4096", 1, &rc), 4096);
    CU_ASSERT_EQUAL(parsed("0", 1, &rc), 0);
    CU_ASSERT_EQUAL(rc, 0);
}

static void test_rejects(void)
{
    const char *bad[] = {"", "M", "-1M", "+1M", "12X", "12 M", " 12M", "1..5G",
                         "1.G", "12MM", "0x10", "1e9", ".5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 42;
        CU_ASSERT_EQUAL(size_parse(bad[i], 1, &v), -EINVAL);
        CU_ASSERT_EQUAL(v, 42); /* untouched on error */
    }
    uint64_t v;
    CU_ASSERT_EQUAL(size_parse(NULL, 1, &v), -EINVAL);
    CU_ASSERT_EQUAL(size_parse("1", 0, &v), -EINVAL);
}

static void test_overflow(void)
{
    uint64_t v = 7;
    CU_ASSERT_EQUAL(size_parse("18446744073709551615", 1, &v), 0);
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_EQUAL(size_parse("18446744073709551616", 1, &v), -ERANGE);
    CU_ASSERT_EQUAL(size_parse("16777216T", 1, &v), -ERANGE);
    CU_ASSERT_EQUAL(size_parse("16777215.9999T", 1, &v), 0);
    CU_ASSERT_EQUAL(size_parse("99999999999999999999999999", 1, &v), -ERANGE);
}

static void test_format(void)
{
    char buf[32];
    CU_ASSERT_STRING_EQUAL(size_format(0, buf, sizeof(buf)), "0 B");
    CU_ASSERT_STRING_EQUAL(size_format(1023, buf, sizeof(buf)), "1023 B");
    CU_ASSERT_STRING_EQUAL(size_format(128ULL << 20, buf, sizeof(buf)), "128.0 MiB");
    CU_ASSERT_STRING_EQUAL(size_format(3ULL << 29, buf, sizeof(buf)), "1.5 GiB");
    CU_ASSERT_STRING_EQUAL(size_format(UINT64_MAX, buf, sizeof(buf)), "16.0 EiB");
}

static CU_TestInfo size_tests[] = {
    {"suffixes", test_suffixes},
    {"default unit", test_default_unit},
    {"rejects malformed", test_rejects},
    {"overflow", test_overflow},
    {"format", test_format},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"size", NULL, NULL, NULL, NULL, size_tests},
    CU_SUITE_INFO_NULL,
};
