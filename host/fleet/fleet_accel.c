/* Accelerator detection: facts from /proc, /sys and /dev, then a pure choice. */
#include "fleet_accel.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>

static bool has_word(const char *line, const char *word)
{
    g_auto(GStrv) words = g_strsplit_set(line, " \t", -1);
    for (size_t i = 0; words[i]; i++) {
        if (strcmp(words[i], word) == 0)
            return true;
    }
    return false;
}

bool fleet_cpuinfo_has_hw_virt(const char *cpuinfo_text)
{
    g_auto(GStrv) lines = g_strsplit(cpuinfo_text ? cpuinfo_text : "", "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        /* "flags\t\t: fpu vme ... vmx ..." (x86); the value follows the colon. */
        if (!g_str_has_prefix(lines[i], "flags"))
            continue;
        const char *colon = strchr(lines[i], ':');
        if (colon && (has_word(colon + 1, "vmx") || has_word(colon + 1, "svm")))
            return true;
    }
    return false;
}

bool fleet_modules_has_pvm(const char *modules_text)
{
    g_auto(GStrv) lines = g_strsplit(modules_text ? modules_text : "", "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        /* "kvm_pvm 65536 0 - Live 0x0000000000000000" */
        if (g_str_has_prefix(lines[i], "kvm_pvm "))
            return true;
    }
    return false;
}

enum fleet_accel fleet_accel_choose(const struct fleet_accel_facts *facts, const char **reason)
{
    if (facts->pvm) {
        *reason = "kvm_pvm loaded: PVM cannot boot a stock guest kernel";
        return FLEET_ACCEL_TCG;
    }
    if (!facts->hw_virt) {
        *reason = "no vmx/svm in /proc/cpuinfo";
        return FLEET_ACCEL_TCG;
    }
    if (!facts->dev_kvm_usable) {
        *reason = "/dev/kvm missing or not usable";
        return FLEET_ACCEL_TCG;
    }
    *reason = "hardware virtualization and a usable /dev/kvm";
    return FLEET_ACCEL_KVM;
}

int fleet_accel_probe(const char *proc_root, const char *sys_root, const char *dev_kvm_path,
                      struct fleet_accel_facts *facts)
{
    memset(facts, 0, sizeof(*facts));
    g_autofree char *cpuinfo_path = g_build_filename(proc_root, "cpuinfo", NULL);
    g_autofree char *cpuinfo = NULL;
    GError *err = NULL;
    if (!g_file_get_contents(cpuinfo_path, &cpuinfo, NULL, &err)) {
        int rc = err->domain == G_FILE_ERROR && err->code == G_FILE_ERROR_NOENT ? -ENOENT : -EIO;
        g_error_free(err);
        return rc;
    }
    facts->hw_virt = fleet_cpuinfo_has_hw_virt(cpuinfo);

    g_autofree char *modules_path = g_build_filename(proc_root, "modules", NULL);
    g_autofree char *modules = NULL;
    if (g_file_get_contents(modules_path, &modules, NULL, NULL))
        facts->pvm = fleet_modules_has_pvm(modules);
    /* A built-in kvm_pvm is absent from /proc/modules but present in /sys/module. */
    g_autofree char *pvm_dir = g_build_filename(sys_root, "module", "kvm_pvm", NULL);
    if (g_file_test(pvm_dir, G_FILE_TEST_IS_DIR))
        facts->pvm = true;

    int fd = open(dev_kvm_path, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        facts->dev_kvm_usable = true;
        close(fd);
    }
    return 0;
}
