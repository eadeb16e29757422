/*
 * When ballastd reads each VM's host cost (cost_monitor.h): at a scheduled
 * tick, the few VMs the pure vmcost_due says are due (each once a minute,
 * about n x tick / 60 s of them a tick, oldest first), and for a control
 * request that wants it fresh. A read walks the QEMU's page tables (1-3 ms
 * for a small guest), so it is never done for every VM at every tick.
 * Each read also audits the balloon (vmcost_audit_note): a guest whose QEMU
 * keeps more guest RAM than the balloon's actual for a minute is flagged,
 * in status and with one log line.
 */
#include "manager_private.h"

#include "size.h"

/* The read just made, against what the balloon claims (vmcost.h, "the audit"). */
static void audit_balloon(struct bd_vm *vm, gint64 now)
{
    const struct cost_monitor_vm *c = &vm->cost;
    if (!c->valid || !c->cost.balloon_known || vm->balloon.actual_bytes <= 0 ||
        vm->balloon.nominal_bytes <= 0)
        return;
    uint64_t nominal = (uint64_t)vm->balloon.nominal_bytes;
    uint64_t actual = (uint64_t)vm->balloon.actual_bytes;
    uint64_t resident = c->cost.guest_ram_resident_bytes;
    vm->audited = true;
    char a[32], n[32], r[32], x[32], t[32];
    switch (vmcost_audit_note(&vm->audit, nominal, actual, resident, now)) {
    case VMCOST_AUDIT_QUIET:
        break;
    case VMCOST_AUDIT_RAISED:
        g_log_structured(
            G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "VM", vm->name, "MESSAGE",
            "%s: the balloon claims %s given back (actual %s of %s), but its QEMU has held "
            "%s of guest RAM for %d s, %s more than actual: the guest does not release its "
            "balloon's pages, or transparent huge pages keep them (%s THP-backed)",
            vm->name, size_format(nominal - actual, x, sizeof(x)),
            size_format(actual, a, sizeof(a)), size_format(nominal, n, sizeof(n)),
            size_format(resident, r, sizeof(r)), VMCOST_AUDIT_HOLD_MS / 1000,
            size_format(vm->audit.unreleased_bytes, x, sizeof(x)),
            size_format(c->cost.thp_bytes, t, sizeof(t)));
        break;
    case VMCOST_AUDIT_CLEARED:
        g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                         "%s: guest RAM back within the balloon's actual (%s resident, actual %s)",
                         vm->name, size_format(resident, r, sizeof(r)),
                         size_format(actual, a, sizeof(a)));
        break;
    }
}

/* Reads vm's cost now. */
static void cost_read(struct manager *m, struct bd_vm *vm, gint64 now)
{
    struct cost_monitor_in in = {
        .proc_root = m->proc_root,
        .name = vm->name,
        .pid = vm->src->ops->vm_pid(vm->src, vm->handle),
        .nominal_bytes = vm->balloon.nominal_bytes,
        .actual_bytes = vm->balloon.actual_bytes,
        .ksm_host = m->ksm.host_valid ? &m->ksm.cur : NULL,
        .page_size = m->ksm.page_size,
        .now_ms = now,
    };
    cost_monitor_read(&vm->cost, &in);
    audit_balloon(vm, now);
}

/* Due only once QEMU is up and has said how big the guest is: the pid is
 * asked of the source when a read is due, not at every tick (libvirt's
 * lookup reads /proc). */
static int64_t read_ms_of(const struct bd_vm *vm)
{
    if (!vm->backend_up || vm->balloon.nominal_bytes <= 0)
        return VMCOST_NOT_ELIGIBLE;
    return vm->cost.read_ms;
}

void manager_cost_tick(struct manager *m, gint64 now)
{
    size_t n = m->vms->len;
    if (n == 0)
        return;
    /* On the stack for the fleets there are; the heap (once a tick) beyond. */
    int64_t read_stack[128];
    uint8_t due_stack[128];
    int64_t *read = n <= 128 ? read_stack : g_new(int64_t, n);
    uint8_t *due = n <= 128 ? due_stack : g_new(uint8_t, n);
    for (size_t i = 0; i < n; i++)
        read[i] = read_ms_of(m->vms->pdata[i]);
    if (vmcost_due(read, n, now, VMCOST_PERIOD_MS, m->tick_ms, due) > 0) {
        for (size_t i = 0; i < n; i++)
            if (due[i])
                cost_read(m, m->vms->pdata[i], now);
    }
    if (read != read_stack) {
        g_free(read);
        g_free(due);
    }
}

void manager_cost_fresh(struct manager *m, struct bd_vm *vm)
{
    gint64 now = now_ms();
    if (read_ms_of(vm) == VMCOST_NOT_ELIGIBLE)
        return;
    if (vm->cost.read_ms != VMCOST_NEVER_READ && now - vm->cost.read_ms < MANAGER_COST_FRESH_MS)
        return;
    cost_read(m, vm, now);
}
