/*
 * The host's state for ballastd's tick (see hostmem.h), on the shared
 * common/meminfo and common/psi readers (fixed buffers, no allocation).
 */
#include "hostmem.h"

#include "meminfo.h"
#include "psi.h"

#include <errno.h>

int hostmem_read(const char *proc_root, struct policy_host *out)
{
    struct meminfo mi;
    int rc = meminfo_read(proc_root, &mi);
    if (rc < 0)
        return rc;
    if (!MEMINFO_HAS(&mi, MEMINFO_TOTAL) || !MEMINFO_HAS(&mi, MEMINFO_AVAILABLE) ||
        mi.bytes[MEMINFO_TOTAL] == 0)
        return -EINVAL;
    out->mem_total_bytes = mi.bytes[MEMINFO_TOTAL];
    out->mem_available_bytes = mi.bytes[MEMINFO_AVAILABLE];

    struct psi psi;
    out->psi_valid = psi_read(proc_root, "memory", &psi) == 0 && (psi.valid & PSI_HAS_SOME);
    out->psi_some_avg10_pct = out->psi_valid ? psi.some.avg10_bp / 100.0 : 0;
    out->psi_full_avg10_pct =
        out->psi_valid && (psi.valid & PSI_HAS_FULL) ? psi.full.avg10_bp / 100.0 : 0;
    return 0;
}
