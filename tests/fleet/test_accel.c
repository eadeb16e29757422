/*
 * Accelerator choice on fixture hosts (tests/fleet/fixtures/<host>/{proc,sys,dev}):
 * KVM only with vmx/svm, a usable /dev/kvm and no PVM; TCG otherwise.
 */
#include "cunit_main.h"
#include "fleet_accel.h"

#include <errno.h>
#include <glib.h>
#include <unistd.h>

static enum fleet_accel choose_on(const char *host, const char *dev_kvm,
                                  struct fleet_accel_facts *facts)
{
    g_autofree char *root = g_build_filename(FLEET_FIXTURES, host, NULL);
    g_autofree char *proc = g_build_filename(root, "proc", NULL);
    g_autofree char *sys = g_build_filename(root, "sys", NULL);
    g_autofree char *kvm = g_build_filename(root, dev_kvm, NULL);
    CU_ASSERT_EQUAL_FATAL(fleet_accel_probe(proc, sys, kvm, facts), 0);
    const char *reason = NULL;
    enum fleet_accel a = fleet_accel_choose(facts, &reason);
    CU_ASSERT_PTR_NOT_NULL(reason);
    return a;
}

static void test_intel_kvm_host(void)
{
    struct fleet_accel_facts f;
    CU_ASSERT_EQUAL(choose_on("kvm-host", "dev/kvm", &f), FLEET_ACCEL_KVM);
    CU_ASSERT_TRUE(f.hw_virt);
    CU_ASSERT_FALSE(f.pvm);
    CU_ASSERT_TRUE(f.dev_kvm_usable);
}

static void test_amd_builtin_kvm(void)
{
    struct fleet_accel_facts f;
    /* No /proc/modules at all (everything built in): still KVM. */
    CU_ASSERT_EQUAL(choose_on("amd-host", "dev/kvm", &f), FLEET_ACCEL_KVM);
    CU_ASSERT_TRUE(f.hw_virt);
}

static void test_kvm_host_without_dev_kvm(void)
{
    struct fleet_accel_facts f;
    CU_ASSERT_EQUAL(choose_on("kvm-host", "dev/nonexistent", &f), FLEET_ACCEL_TCG);
    CU_ASSERT_TRUE(f.hw_virt);
    CU_ASSERT_FALSE(f.dev_kvm_usable);
}

static void test_pvm_host(void)
{
    struct fleet_accel_facts f;
    /* This machine's kind: /dev/kvm opens, but it is PVM (built in, /sys only). */
    CU_ASSERT_EQUAL(choose_on("pvm-host", "dev/kvm", &f), FLEET_ACCEL_TCG);
    CU_ASSERT_TRUE(f.pvm);
    CU_ASSERT_FALSE(f.hw_virt);
    CU_ASSERT_TRUE(f.dev_kvm_usable);
}

static void test_pvm_module_with_vmx(void)
{
    struct fleet_accel_facts f;
    /* kvm_pvm listed in /proc/modules wins over vmx in cpuinfo. */
    CU_ASSERT_EQUAL(choose_on("pvm-module-vmx", "dev/kvm", &f), FLEET_ACCEL_TCG);
    CU_ASSERT_TRUE(f.pvm);
    CU_ASSERT_TRUE(f.hw_virt);
}

static void test_no_vmx(void)
{
    struct fleet_accel_facts f;
    CU_ASSERT_EQUAL(choose_on("no-vmx", "dev/kvm", &f), FLEET_ACCEL_TCG);
    CU_ASSERT_FALSE(f.hw_virt);
    CU_ASSERT_FALSE(f.dev_kvm_usable);
}

static void test_lookalike_flags(void)
{
    struct fleet_accel_facts f;
    /* "vmx_fake", "nosvm" and a "vmx flags" line are not VT-x. */
    CU_ASSERT_EQUAL(choose_on("lookalike", "dev/kvm", &f), FLEET_ACCEL_TCG);
    CU_ASSERT_FALSE(f.hw_virt);
}

static void test_missing_cpuinfo(void)
{
    struct fleet_accel_facts f;
    CU_ASSERT_EQUAL(
        fleet_accel_probe("/nonexistent/proc", "/nonexistent/sys", "/nonexistent/kvm", &f),
        -ENOENT);
}

static void test_text_parsers(void)
{
    CU_ASSERT_TRUE(fleet_cpuinfo_has_hw_virt("flags\t\t: fpu vmx sse\n"));
    CU_ASSERT_TRUE(fleet_cpuinfo_has_hw_virt("flags\t: svm\n"));
    CU_ASSERT_FALSE(fleet_cpuinfo_has_hw_virt("flags\t\t: fpu sse\nvmx flags\t: vnmi\n"));
    CU_ASSERT_FALSE(fleet_cpuinfo_has_hw_virt("model name\t: vmx svm\n"));
    CU_ASSERT_FALSE(fleet_cpuinfo_has_hw_virt(""));
    CU_ASSERT_FALSE(fleet_cpuinfo_has_hw_virt(NULL));
    CU_ASSERT_TRUE(fleet_modules_has_pvm("kvm 1 0 - Live 0x0\nkvm_pvm 655 0 - Live 0x0\n"));
    CU_ASSERT_FALSE(fleet_modules_has_pvm("kvm_pvmx 1 0 - Live 0x0\nkvm_intel 1 0\n"));
    CU_ASSERT_FALSE(fleet_modules_has_pvm(NULL));
}

static void test_choose_table(void)
{
    static const struct {
        struct fleet_accel_facts facts;
        enum fleet_accel want;
    } cases[] = {
        {{.hw_virt = true, .pvm = false, .dev_kvm_usable = true}, FLEET_ACCEL_KVM},
        {{.hw_virt = true, .pvm = true, .dev_kvm_usable = true}, FLEET_ACCEL_TCG},
        {{.hw_virt = false, .pvm = false, .dev_kvm_usable = true}, FLEET_ACCEL_TCG},
        {{.hw_virt = true, .pvm = false, .dev_kvm_usable = false}, FLEET_ACCEL_TCG},
        {{.hw_virt = false, .pvm = true, .dev_kvm_usable = false}, FLEET_ACCEL_TCG},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *reason = NULL;
        CU_ASSERT_EQUAL(fleet_accel_choose(&cases[i].facts, &reason), cases[i].want);
        CU_ASSERT_PTR_NOT_NULL(reason);
    }
}

static void test_this_machine(void)
{
    /* Whatever the host is, a kvm_pvm in /sys/module must never give KVM. */
    struct fleet_accel_facts f;
    if (fleet_accel_probe("/proc", "/sys", "/dev/kvm", &f) != 0)
        return;
    const char *reason;
    enum fleet_accel a = fleet_accel_choose(&f, &reason);
    if (access("/sys/module/kvm_pvm", F_OK) == 0) {
        CU_ASSERT_TRUE(f.pvm);
        CU_ASSERT_EQUAL(a, FLEET_ACCEL_TCG);
    }
}

static CU_TestInfo accel_tests[] = {
    {"intel kvm host", test_intel_kvm_host},
    {"amd host, kvm built in", test_amd_builtin_kvm},
    {"kvm host without /dev/kvm", test_kvm_host_without_dev_kvm},
    {"pvm host", test_pvm_host},
    {"pvm module despite vmx", test_pvm_module_with_vmx},
    {"no vmx", test_no_vmx},
    {"lookalike flags", test_lookalike_flags},
    {"missing cpuinfo", test_missing_cpuinfo},
    {"text parsers", test_text_parsers},
    {"decision table", test_choose_table},
    {"this machine", test_this_machine},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet accel", NULL, NULL, NULL, NULL, accel_tests},
    CU_SUITE_INFO_NULL,
};
