/* vmcost_audit.c — does a guest hold what its balloon claims to have given?
 * See vmcost.h ("the audit"). Pure: no I/O, no clock, no allocation. */
#include "vmcost.h"

uint64_t vmcost_audit_excess(uint64_t nominal_bytes, uint64_t actual_bytes,
                             uint64_t guest_ram_resident_bytes)
{
    /* No inflation claimed (or a size unknown): nothing to check. */
    if (!nominal_bytes || !actual_bytes || actual_bytes >= nominal_bytes)
        return 0;
    uint64_t tol = (uint64_t)((double)nominal_bytes * VMCOST_AUDIT_TOLERANCE_PCT / 100.0);
    if (tol < VMCOST_AUDIT_TOLERANCE_BYTES)
        tol = VMCOST_AUDIT_TOLERANCE_BYTES;
    if (guest_ram_resident_bytes <= actual_bytes + tol)
        return 0;
    return guest_ram_resident_bytes - actual_bytes;
}

enum vmcost_audit_event vmcost_audit_note(struct vmcost_audit *a, uint64_t nominal_bytes,
                                          uint64_t actual_bytes, uint64_t guest_ram_resident_bytes,
                                          int64_t now_ms)
{
    uint64_t excess = vmcost_audit_excess(nominal_bytes, actual_bytes, guest_ram_resident_bytes);
    if (!excess) {
        bool was = a->flagged;
        *a = (struct vmcost_audit){0};
        return was ? VMCOST_AUDIT_CLEARED : VMCOST_AUDIT_QUIET;
    }
    a->unreleased_bytes = excess;
    if (!a->over) {
        a->over = true;
        a->over_since_ms = now_ms;
    }
    if (a->flagged || now_ms - a->over_since_ms < VMCOST_AUDIT_HOLD_MS)
        return VMCOST_AUDIT_QUIET;
    a->flagged = true;
    return VMCOST_AUDIT_RAISED;
}
