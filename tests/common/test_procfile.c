/*
 * procfile's whole-file reader and whole-value parser, the two pieces
 * host/ksm reads sysfs and /proc/PID files with: exact fits, one byte too
 * many, NUL bytes, endless files, and values with signs, blanks, garbage
 * and overflow. (The line scanner is tested with the agent's readers; its
 * byte cap here.)
 */
#include "cunit_main.h"
#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[] = "/tmp/procfile-XXXXXX";

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

static void put(const char *name, const char *data, size_t len)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", root, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_read(void)
{
    char buf[8];
    size_t len = 99;
    put("value", "1234\n", 5);
    CU_ASSERT_EQUAL(procfile_read(root, "value", buf, sizeof(buf), &len), 0);
    CU_ASSERT_STRING_EQUAL(buf, "1234\n");
    CU_ASSERT_EQUAL(len, 5);
    put("empty", "", 0);
    CU_ASSERT_EQUAL(procfile_read(root, "empty", buf, sizeof(buf), &len), 0);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_STRING_EQUAL(buf, "");
    /* 7 bytes fill an 8-byte buffer exactly; 8 do not. */
    put("seven", "1234567", 7);
    CU_ASSERT_EQUAL(procfile_read(root, "seven", buf, sizeof(buf), NULL), 0);
    CU_ASSERT_STRING_EQUAL(buf, "1234567");
    put("eight", "12345678", 8);
    CU_ASSERT_EQUAL(procfile_read(root, "eight", buf, sizeof(buf), &len), -EFBIG);
    /* A NUL byte is nothing a kernel file prints. */
    put("nul",
        "12\0"
        "34",
        5);
    CU_ASSERT_EQUAL(procfile_read(root, "nul", buf, sizeof(buf), NULL), -EINVAL);
    CU_ASSERT_EQUAL(procfile_read(root, "missing", buf, sizeof(buf), NULL), -ENOENT);
    /* An endless file stops at the buffer. */
    CU_ASSERT_EQUAL(procfile_read("/dev", "zero", buf, sizeof(buf), NULL), -EFBIG);
    char deep[PROCFILE_PATH_MAX + 8];
    memset(deep, 'd', sizeof(deep) - 1);
    deep[0] = '/';
    deep[sizeof(deep) - 1] = '\0';
    CU_ASSERT_EQUAL(procfile_read(deep, "x", buf, sizeof(buf), NULL), -ENAMETOOLONG);
    CU_ASSERT_EQUAL(procfile_read_fd(-1, buf, sizeof(buf), NULL), -EINVAL);
}

static void test_parse_value(void)
{
    static const struct {
        const char *text;
        int rc;
        uint64_t v;
    } cases[] = {
        {"42", 0, 42},
        {"42\n", 0, 42},
        {"0 \t\n", 0, 0},
        {"18446744073709551615\n", 0, UINT64_MAX},
        {"18446744073709551616", -ERANGE, 0},
        {"", -EINVAL, 0},
        {"\n", -EINVAL, 0},
        {" 42", -EINVAL, 0},
        {"+42", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"42x", -EINVAL, 0},
        {"4 2", -EINVAL, 0},
        {"0x10", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 7;
        int rc = procfile_parse_u64_value(cases[i].text, strlen(cases[i].text), &v);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        CU_ASSERT_EQUAL(v, rc == 0 ? cases[i].v : 7); /* untouched on failure */
    }
    /* Only text[0..len) counts. */
    uint64_t v;
    CU_ASSERT_EQUAL(procfile_parse_u64_value("123x", 3, &v), 0);
    CU_ASSERT_EQUAL(v, 123);
}

static void count_line(const char *line, size_t len, void *ctx)
{
    (void)line;
    (void)len;
    (*(unsigned *)ctx)++;
}

/* Scans root/name with a byte cap: the return code, *lines the lines seen. */
static int scan_capped(const char *name, size_t max_bytes, unsigned *lines)
{
    char buf[16];
    *lines = 0;
    int fd = procfile_open(root, name, O_RDONLY);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    int rc = procfile_scan_fd_max(fd, buf, sizeof(buf), max_bytes, count_line, lines);
    close(fd);
    return rc;
}

/* /proc/PID/stat fields, counted after the last ')': a comm with spaces and
 * parentheses, the start time (22), lines that are not stat lines. */
static void test_stat_field(void)
{
    static const char line[] =
        "4242 (qemu (x) y) S 1 4242 4242 0 -1 4194560 3340 0 0 0 12 34 0 0 20 0 5 0 "
        "77777 1073741824 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";
    uint64_t v = 0;
    CU_ASSERT_EQUAL(procfile_stat_field(line, strlen(line), 22, &v), 0);
    CU_ASSERT_EQUAL(v, 77777);
    CU_ASSERT_EQUAL(procfile_stat_field(line, strlen(line), 14, &v), 0);
    CU_ASSERT_EQUAL(v, 12);
    CU_ASSERT_EQUAL(procfile_stat_field(line, strlen(line), 4, &v), 0);
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_EQUAL(procfile_stat_field(line, strlen(line), 3, &v), -EINVAL); /* the state */
    CU_ASSERT_EQUAL(procfile_stat_field(line, strlen(line), 99, &v), -EINVAL);
    static const char *const bad[] = {
        "", "4242 qemu S 1", "4242 (qemu) S", "4242 (q) S x", "4242 (q) S -1", ") S 1 2 3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(procfile_stat_field(bad[i], strlen(bad[i]), 4, &v), -EINVAL);
}

static void test_scan_cap(void)
{
    char text[200];
    for (size_t i = 0; i < sizeof(text); i += 2)
        memcpy(text + i, "x\n", 2);
    put("lines", text, sizeof(text));
    unsigned lines;
    /* A file exactly as long as the cap is whole; one byte more is not. */
    CU_ASSERT_EQUAL(scan_capped("lines", 200, &lines), 0);
    CU_ASSERT_EQUAL(lines, 100);
    CU_ASSERT_EQUAL(scan_capped("lines", 1000, &lines), 0);
    CU_ASSERT_EQUAL(lines, 100);
    CU_ASSERT_EQUAL(scan_capped("lines", 199, &lines), -EFBIG);
    /* The whole lines before the cap were passed on, nothing after it. */
    CU_ASSERT_EQUAL(lines, 99);
    CU_ASSERT_EQUAL(scan_capped("lines", 51, &lines), -EFBIG);
    CU_ASSERT_EQUAL(lines, 25);
    /* An endless file stops at the cap. */
    char buf[16];
    unsigned n = 0;
    int fd = open("/dev/zero", O_RDONLY);
    CU_ASSERT_EQUAL(procfile_scan_fd_max(fd, buf, sizeof(buf), 4096, count_line, &n), -EFBIG);
    close(fd);
}

static CU_TestInfo procfile_tests[] = {
    {"read a whole small file", test_read},
    {"scan with a byte cap", test_scan_cap},
    {"parse a whole value", test_parse_value},
    {"a /proc/PID/stat field", test_stat_field},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"procfile", setup, teardown, NULL, NULL, procfile_tests},
    CU_SUITE_INFO_NULL,
};
