/*
 * Which accelerator the guests get. Hardware KVM only where the host really
 * has it: vmx/svm in /proc/cpuinfo, /dev/kvm usable, and not PVM (a kvm_pvm
 * host exposes /dev/kvm but cannot run a stock guest kernel: it dies in the
 * instruction emulator). Everything else gets TCG.
 */
#ifndef BALLAST_FLEET_ACCEL_H
#define BALLAST_FLEET_ACCEL_H

#include "fleet_options.h"

#include <stdbool.h>

/* What the choice is made from; filled by fleet_accel_probe() or a test. */
struct fleet_accel_facts {
    bool hw_virt;        /* vmx or svm among the cpuinfo flags */
    bool pvm;            /* kvm_pvm loaded */
    bool dev_kvm_usable; /* /dev/kvm opens read-write */
};

/* True when a "flags" line of cpuinfo text names vmx or svm (whole words). */
bool fleet_cpuinfo_has_hw_virt(const char *cpuinfo_text);

/* True when /proc/modules text lists kvm_pvm. */
bool fleet_modules_has_pvm(const char *modules_text);

/*
 * The decision: KVM or TCG (never AUTO), and a short reason for the user
 * ("kvm_pvm loaded: PVM cannot boot a stock kernel"); reason is static text.
 */
enum fleet_accel fleet_accel_choose(const struct fleet_accel_facts *facts, const char **reason);

/*
 * Gathers the facts from <proc_root>/cpuinfo, <proc_root>/modules,
 * <sys_root>/module/kvm_pvm and dev_kvm_path (tests pass fixture trees).
 * A missing file counts as "no": returns 0, or -errno if cpuinfo is unreadable.
 */
int fleet_accel_probe(const char *proc_root, const char *sys_root, const char *dev_kvm_path,
                      struct fleet_accel_facts *facts);

#endif
