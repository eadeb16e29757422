/*
 * fleet_vmem: the actuator's names, the size rules of a virtio-mem guest
 * (each refusal on its own, with the message naming the rule), and the
 * QEMU arguments, word for word.
 */
#include "cunit_main.h"
#include "fleet_vmem.h"

#include <errno.h>
#include <string.h>

#define MIB(n)   ((uint64_t)(n) << 20)
#define MIN_BOOT MIB(80)
#define LIMIT    (1ULL << 40)

static void test_actuator_names(void)
{
    enum fleet_actuator a;
    CU_ASSERT_EQUAL(fleet_actuator_from_name("balloon", &a), 0);
    CU_ASSERT_EQUAL(a, FLEET_ACTUATOR_BALLOON);
    CU_ASSERT_EQUAL(fleet_actuator_from_name("virtio-mem", &a), 0);
    CU_ASSERT_EQUAL(a, FLEET_ACTUATOR_VIRTIO_MEM);
    CU_ASSERT_EQUAL(fleet_actuator_from_name("both", &a), 0);
    CU_ASSERT_EQUAL(a, FLEET_ACTUATOR_BOTH);
    CU_ASSERT_EQUAL(fleet_actuator_from_name("virtio_mem", &a), -EINVAL);
    CU_ASSERT_EQUAL(fleet_actuator_from_name("Balloon", &a), -EINVAL);
    CU_ASSERT_EQUAL(fleet_actuator_from_name("", &a), -EINVAL);
    CU_ASSERT_EQUAL(fleet_actuator_from_name(NULL, &a), -EINVAL);
    for (enum fleet_actuator x = FLEET_ACTUATOR_BALLOON; x <= FLEET_ACTUATOR_BOTH; x++) {
        CU_ASSERT_EQUAL(fleet_actuator_from_name(fleet_actuator_name(x), &a), 0);
        CU_ASSERT_EQUAL(a, x);
    }
    CU_ASSERT_STRING_EQUAL(fleet_actuator_name((enum fleet_actuator)7), "?");
    CU_ASSERT_TRUE(fleet_actuator_has_balloon(FLEET_ACTUATOR_BALLOON));
    CU_ASSERT_FALSE(fleet_actuator_has_vmem(FLEET_ACTUATOR_BALLOON));
    CU_ASSERT_FALSE(fleet_actuator_has_balloon(FLEET_ACTUATOR_VIRTIO_MEM));
    CU_ASSERT_TRUE(fleet_actuator_has_vmem(FLEET_ACTUATOR_VIRTIO_MEM));
    CU_ASSERT_TRUE(fleet_actuator_has_balloon(FLEET_ACTUATOR_BOTH));
    CU_ASSERT_TRUE(fleet_actuator_has_vmem(FLEET_ACTUATOR_BOTH));
}

static void expect_ok(uint64_t boot, uint64_t nominal, uint64_t max)
{
    const struct fleet_vmem_sizes s = {boot, nominal, max};
    char *why = (char *)"untouched";
    CU_ASSERT_EQUAL(fleet_vmem_check(&s, MIN_BOOT, LIMIT, &why), 0);
    CU_ASSERT_PTR_NULL(why);
}

/* Must be refused, with a message that names the rule. */
static void expect_refused(uint64_t boot, uint64_t nominal, uint64_t max, const char *needle)
{
    const struct fleet_vmem_sizes s = {boot, nominal, max};
    char *why = NULL;
    CU_ASSERT_EQUAL(fleet_vmem_check(&s, MIN_BOOT, LIMIT, &why), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    if (!strstr(why, needle)) {
        fprintf(stderr, "\n  message '%s' lacks '%s'\n", why, needle);
        CU_FAIL("message does not say why");
    }
    g_free(why);
}

static void test_sizes_accepted(void)
{
    expect_ok(MIB(128), MIB(256), MIB(256));  /* the defaults with --memory 256M */
    expect_ok(MIB(128), MIB(128), MIB(1024)); /* starts at boot size, may grow */
    expect_ok(MIB(80), MIB(80), MIB(82));     /* the smallest: one block to plug */
    expect_ok(MIB(128), MIB(512), LIMIT);     /* up to the limit */
}

static void test_sizes_refused(void)
{
    /* Each size off the 2 MiB block, alone. */
    expect_refused(MIB(129), MIB(256), MIB(256), "--boot-memory 129 MiB is not a multiple");
    expect_refused(MIB(128), MIB(257), MIB(512), "--memory 257 MiB is not a multiple");
    expect_refused(MIB(128), MIB(256), MIB(513), "--max-memory 513 MiB is not a multiple");
    expect_refused(MIB(128) + 4096, MIB(256), MIB(512), "--boot-memory");
    /* Order: boot <= nominal <= max. */
    expect_refused(MIB(256), MIB(128), MIB(512), "--boot-memory 256 MiB is more than --memory");
    expect_refused(MIB(128), MIB(512), MIB(256), "--memory 512 MiB is more than --max-memory");
    /* Too small to boot, one block under the floor. */
    expect_refused(MIB(78), MIB(256), MIB(256), "too small");
    expect_refused(0, MIB(256), MIB(256), "too small");
    /* Nothing to plug. */
    expect_refused(MIB(128), MIB(128), MIB(128), "nothing to plug");
    /* Over the per-guest limit. */
    expect_refused(MIB(128), MIB(256), LIMIT + MIB(2), "more than");
}

static void test_derived_sizes(void)
{
    const struct fleet_vmem_sizes s = {MIB(128), MIB(256), MIB(1024)};
    CU_ASSERT_EQUAL(fleet_vmem_region_bytes(&s), MIB(896));
    CU_ASSERT_EQUAL(fleet_vmem_requested_bytes(&s), MIB(128));
    char *m = fleet_vmem_memory_arg(&s);
    CU_ASSERT_STRING_EQUAL(m, "128M,maxmem=1024M");
    g_free(m);
    const struct fleet_vmem_sizes at_boot = {MIB(128), MIB(128), MIB(256)};
    CU_ASSERT_EQUAL(fleet_vmem_requested_bytes(&at_boot), 0); /* starts unplugged */
}

static void test_args(void)
{
    const struct fleet_vmem_sizes s = {MIB(128), MIB(256), MIB(512)};
    GPtrArray *argv = g_ptr_array_new_with_free_func(g_free);
    fleet_vmem_add_args(argv, &s, true);
    CU_ASSERT_EQUAL_FATAL(argv->len, 4);
    CU_ASSERT_STRING_EQUAL(argv->pdata[0], "-object");
    CU_ASSERT_STRING_EQUAL(argv->pdata[1], "memory-backend-ram,id=vmem0mem,size=384M,merge=on");
    CU_ASSERT_STRING_EQUAL(argv->pdata[2], "-device");
    CU_ASSERT_STRING_EQUAL(argv->pdata[3], "virtio-mem-pci,id=vmem0,memdev=vmem0mem,"
                                           "block-size=2M,requested-size=128M");
    g_ptr_array_set_size(argv, 0);
    fleet_vmem_add_args(argv, &s, false); /* a guest out of KSM: its plugged memory too */
    CU_ASSERT_STRING_EQUAL(argv->pdata[1], "memory-backend-ram,id=vmem0mem,size=384M,merge=off");
    g_ptr_array_unref(argv);
    CU_ASSERT_STRING_EQUAL(FLEET_VMEM_DEVICE_QOM, "/machine/peripheral/vmem0");
}

static CU_TestInfo vmem_tests[] = {
    {"actuator names", test_actuator_names},
    {"sizes accepted", test_sizes_accepted},
    {"sizes refused, each rule", test_sizes_refused},
    {"region, requested size, -m", test_derived_sizes},
    {"backend and device arguments", test_args},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet vmem", NULL, NULL, NULL, NULL, vmem_tests},
    CU_SUITE_INFO_NULL,
};
