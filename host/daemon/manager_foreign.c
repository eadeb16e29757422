/*
 * manager_foreign.c — other balloon controllers, in ballastd (docs/policy.md,
 * "Other balloon controllers").
 *
 * ballastd is not always alone with a balloon: an admin runs `virsh setmem
 * DOM 4G --live`, a second QMP client sends `balloon`, MOM or Proxmox run
 * on the same host. Such a change used to be read as the guest deflating on
 * OOM: a WARNING, a growth past the admin's value, a 300 s hold, then a
 * shrink back - ballastd fighting the admin. The planner now tells the
 * three apart (planner_classify_balloon); this file does what a FOREIGN
 * change asks:
 *   seen     the other controller's target becomes the target in force
 *            (target_set_bytes and the history its later events are read
 *            against) and the VM is held there at once;
 *   settled  a fall is someone else's at once (no guest inflates its
 *            balloon). A rise is someone else's only when the guest's
 *            pressure does not follow within PLANNER_DEFLATE_PRESSURE_MS
 *            (planner_foreign_settle: the PRESSURE frame and QEMU's event
 *            travel apart, either may be read first); until then it is
 *            held but not said, counted or kept in the state file. If the
 *            pressure does follow, it was the guest's deflate on OOM: the
 *            hold ends and the next decision counts the deflate;
 *   said     once confirmed: a WARNING with who it was as far as known;
 *   decided  every answer of the engine for a held VM becomes the hold's
 *            (planner_foreign_target): no shrink, no growth past it, except
 *            an urgent growth - nobody's setting is worth an OOM kill;
 *   resumed  `ballastctl resume VM`: the hold ends, the next tick decides
 *            from the target in force as usual.
 *   kept     a confirmed hold is in the state file (manager_state.c): a
 *            restart of ballastd puts it back into the same QEMU (not into
 *            another process under the name: that guest is new, and so is
 *            its balloon).
 */
#include "manager_private.h"

#include "planner.h"
#include "size.h"

/* Who moved the balloon, as far as the source can tell. */
static const char *foreign_who(const struct bd_vm *vm)
{
    return vm->libvirt ? "libvirt (virsh setmem or another libvirt client)" : "another QMP client";
}

/* The hold is someone else's for good: said once, counted, kept. */
static void foreign_confirm(struct bd_vm *vm)
{
    vm->foreign_confirmed = true;
    vm->foreign_changes++;
    char sz[32];
    g_log_structured(
        G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "VM", vm->name, "FOREIGN_BY", vm->foreign_by, "MESSAGE",
        "%s: balloon moved to %s by %s, not by ballastd and not by the guest: "
        "holding it there (no shrink, growth only under guest pressure) until "
        "`ballastctl resume %s`",
        vm->name, size_format(vm->foreign_bytes, sz, sizeof(sz)), vm->foreign_by, vm->name);
    manager_state_note(vm->m); /* kept across a restart */
}

void manager_foreign_seen(struct bd_vm *vm, uint64_t foreign_bytes, int64_t changed_real_us,
                          uint64_t rose_over_bytes)
{
    bool first = vm->foreign_bytes == 0;
    gint64 now_us = g_get_real_time();
    vm->foreign_bytes = foreign_bytes;
    /* Theirs is the target in force now: its later events (the same
     * command converging) are read against it, never as a deflate. The
     * history stays in time order: an event read late is placed now. */
    int64_t at = changed_real_us > vm->sent.sent_real_us[0] ? changed_real_us : now_us;
    vm->target_set_bytes = foreign_bytes;
    target_history_push(&vm->sent, foreign_bytes, at);
    vm->logged_target = foreign_bytes;
    vm->grow_wait_bytes = 0; /* a growth of ours being watched is overtaken */
    if (first) {
        vm->foreign_real_us = now_us;
        vm->foreign_seen_ms = now_ms();
        vm->foreign_rose_over = rose_over_bytes;
        vm->foreign_by = foreign_who(vm);
        vm->foreign_confirmed = false;
    } else if (!rose_over_bytes) {
        vm->foreign_rose_over = 0; /* a fall: nobody's deflate, whatever came before */
    }
    if (vm->foreign_confirmed) {
        vm->foreign_changes++;
        g_debug("%s: foreign balloon target moved on to %" G_GUINT64_FORMAT " bytes", vm->name,
                foreign_bytes);
        return;
    }
    manager_foreign_settle(vm); /* a fall: said now; a rise waits for the window */
}

void manager_foreign_apply(struct bd_vm *vm)
{
    if (!vm->foreign_bytes)
        return;
    struct policy_vm_out *out = &vm->out;
    uint64_t cur = planner_current_bytes(vm->target_set_bytes, vm->in.actual_bytes);
    uint64_t held = planner_foreign_target(out->decision, out->target_bytes, cur);
    out->reclaim_bytes = 0; /* no RECLAIM (a shrink's or an idle one) while held */
    if (held == out->target_bytes && out->decision == POLICY_GROW_URGENT)
        return; /* the guest under pressure: its growth passes */
    char a[32];
    out->target_bytes = held;
    out->decision = POLICY_HOLD;
    out->cause = POLICY_CAUSE_NONE;
    if (vm->foreign_confirmed)
        g_snprintf(out->reason, sizeof(out->reason),
                   "held at the foreign target %s set by %s (`ballastctl resume` hands it back)",
                   size_format(vm->foreign_bytes, a, sizeof(a)), vm->foreign_by);
    else
        g_snprintf(out->reason, sizeof(out->reason),
                   "held at %s, a rise with the guest calm: someone else's unless the guest's "
                   "pressure shows within %d ms",
                   size_format(vm->foreign_bytes, a, sizeof(a)), PLANNER_DEFLATE_PRESSURE_MS);
}

void manager_foreign_restore(struct bd_vm *vm, uint64_t foreign_bytes, int64_t since_s)
{
    vm->foreign_bytes = foreign_bytes;
    vm->foreign_real_us = since_s * G_USEC_PER_SEC;
    vm->foreign_seen_ms = 0;
    vm->foreign_rose_over = 0; /* long settled: not the guest's deflate */
    vm->foreign_by = foreign_who(vm);
    vm->foreign_confirmed = true;
}

/* Ends the hold, without a word: the callers say why. */
static void foreign_clear(struct bd_vm *vm)
{
    vm->foreign_bytes = 0;
    vm->foreign_real_us = 0;
    vm->foreign_seen_ms = 0;
    vm->foreign_rose_over = 0;
    vm->foreign_by = NULL;
    vm->foreign_confirmed = false;
    vm->logged_target = 0;
}

bool manager_foreign_resume(struct bd_vm *vm)
{
    if (!vm->foreign_bytes)
        return false;
    char sz[32];
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                     "%s: foreign target %s handed back to ballastd (ballastctl resume)", vm->name,
                     size_format(vm->foreign_bytes, sz, sizeof(sz)));
    foreign_clear(vm);
    return true;
}

void manager_foreign_settle(struct bd_vm *vm)
{
    if (!vm->foreign_bytes || vm->foreign_confirmed)
        return;
    switch (planner_foreign_settle(vm->foreign_rose_over, vm->foreign_seen_ms, vm->pressure_seen_ms,
                                   now_ms())) {
    case PLANNER_FOREIGN_PENDING:
        return;
    case PLANNER_FOREIGN_CONFIRMED:
        foreign_confirm(vm);
        return;
    case PLANNER_FOREIGN_WAS_DEFLATE:
        break;
    }
    char a[32], b[32];
    g_log_structured(G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VM", vm->name, "MESSAGE",
                     "%s: the rise to %s over %s came with the guest's pressure: its deflate on "
                     "OOM, not someone else's",
                     vm->name, size_format(vm->foreign_bytes, a, sizeof(a)),
                     size_format(vm->foreign_rose_over, b, sizeof(b)));
    vm->guest_raised_over_bytes = vm->foreign_rose_over;
    foreign_clear(vm);
}
