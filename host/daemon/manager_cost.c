/*
 * When ballastd reads each VM's host cost (cost_monitor.h): at a scheduled
 * tick, the few VMs the pure vmcost_due says are due (each once a minute,
 * about n x tick / 60 s of them a tick, oldest first), and for a control
 * request that wants it fresh. A read walks the QEMU's page tables (1-3 ms
 * for a small guest), so it is never done for every VM at every tick.
 */
#include "manager_private.h"

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
