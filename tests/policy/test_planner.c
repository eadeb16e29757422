/*
 * The planner (host/policy/planner.h): one test per rule, on structs built
 * on the stack. A "tick" here is the manager's loop over the planner's
 * answers: order, then one planner_actuation per VM, one command of the
 * budget per send.
 */
#include "cunit_main.h"
#include "planner.h"

#include <stdio.h>
#include <string.h>

#define MIB (1024ull * 1024)

/* A managed VM whose target is in force at current_mib, asked for want_mib. */
static struct planner_vm vm_at(uint64_t current_mib, uint64_t want_mib)
{
    struct planner_vm vm = {
        .current_bytes = current_mib * MIB,
        .want_bytes = want_mib * MIB,
        .actuate = true,
        .mode = POLICY_MODE_MANAGED,
        .logged_bytes = current_mib * MIB,
        .last_set_ms = 0,
    };
    return vm;
}

/* The manager's tick: growth first, one command of the budget per send. */
static unsigned run_tick(const struct planner_vm *vms, size_t n, int64_t now_ms,
                         enum planner_act *acts, size_t *order)
{
    unsigned budget = PLANNER_HOST_MAX_SETS_PER_TICK;
    planner_order(vms, n, order);
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        acts[i] = planner_actuation(&vms[i], false, budget, now_ms);
        if (acts[i] == PLANNER_SEND)
            budget--;
    }
    return budget;
}

static void test_growth_first(void)
{
    struct planner_vm vms[] = {vm_at(256, 248), vm_at(128, 192), vm_at(200, 200), vm_at(100, 300),
                               vm_at(180, 170)};
    size_t order[5];
    CU_ASSERT_EQUAL(planner_order(vms, 5, order), 2);
    /* The two growths, in their order, then the rest, in theirs. */
    size_t want[] = {1, 3, 0, 2, 4};
    CU_ASSERT_EQUAL(memcmp(order, want, sizeof(want)), 0);
    CU_ASSERT_TRUE(planner_is_growth(&vms[1]));
    CU_ASSERT_FALSE(planner_is_growth(&vms[2])); /* in force already */
    CU_ASSERT_FALSE(planner_is_growth(&vms[0]));
}

static void test_budget(void)
{
    /* 20 shrinks listed before 2 growths: the growths still go out, the
     * shrinks share what is left and the rest wait for the next tick. */
    struct planner_vm vms[22];
    for (int i = 0; i < 20; i++)
        vms[i] = vm_at(256, 248);
    vms[20] = vm_at(128, 160);
    vms[21] = vm_at(128, 256);
    enum planner_act acts[22];
    size_t order[22];
    CU_ASSERT_EQUAL(run_tick(vms, 22, 100000, acts, order), 0);
    CU_ASSERT_EQUAL(acts[20], PLANNER_SEND);
    CU_ASSERT_EQUAL(acts[21], PLANNER_SEND);
    int sent = 0, waiting = 0;
    for (int i = 0; i < 20; i++) {
        sent += acts[i] == PLANNER_SEND;
        waiting += acts[i] == PLANNER_WAIT_BUDGET;
    }
    CU_ASSERT_EQUAL(sent, PLANNER_HOST_MAX_SETS_PER_TICK - 2);
    CU_ASSERT_EQUAL(waiting, 6);
    /* The first shrinks in list order go; the last ones wait. */
    CU_ASSERT_EQUAL(acts[0], PLANNER_SEND);
    CU_ASSERT_EQUAL(acts[19], PLANNER_WAIT_BUDGET);

    /* The budget binds growth too, but only behind other growths. */
    struct planner_vm grow = vm_at(128, 256);
    CU_ASSERT_EQUAL(planner_actuation(&grow, false, 0, 100000), PLANNER_WAIT_BUDGET);
    CU_ASSERT_EQUAL(planner_actuation(&grow, false, 1, 100000), PLANNER_SEND);
}

static void test_shrink_gap(void)
{
    struct planner_vm vm = vm_at(256, 240);
    vm.last_set_ms = 10000;
    CU_ASSERT_EQUAL(
        planner_actuation(&vm, false, 16, 10000 + PLANNER_VM_MIN_SHRINK_INTERVAL_MS - 1),
        PLANNER_WAIT_GAP);
    CU_ASSERT_EQUAL(planner_actuation(&vm, false, 16, 10000 + PLANNER_VM_MIN_SHRINK_INTERVAL_MS),
                    PLANNER_SEND);
    /* A growth is never held by the gap: 1 ms after the last command. */
    struct planner_vm grow = vm_at(240, 256);
    grow.last_set_ms = 10000;
    CU_ASSERT_EQUAL(planner_actuation(&grow, false, 16, 10001), PLANNER_SEND);
    /* Nothing to do once the target is in force. */
    struct planner_vm held = vm_at(240, 240);
    CU_ASSERT_EQUAL(planner_actuation(&held, false, 16, 99999), PLANNER_NOTHING);
}

static void test_would_move_once(void)
{
    /* Dry run: the move is logged once, then not every tick. */
    struct planner_vm vm = vm_at(256, 248);
    CU_ASSERT_EQUAL(planner_actuation(&vm, true, 16, 1000), PLANNER_WOULD_MOVE);
    CU_ASSERT_STRING_EQUAL(planner_would_move_verb(&vm, true), "dry-run: would move");
    vm.logged_bytes = vm.want_bytes; /* what the manager does on either hands-off answer */
    CU_ASSERT_EQUAL(planner_actuation(&vm, true, 16, 2000), PLANNER_HANDS_OFF);
    CU_ASSERT_EQUAL(planner_actuation(&vm, true, 16, 3000), PLANNER_HANDS_OFF);
    vm.want_bytes = 240 * MIB; /* the engine changes its mind: logged again */
    CU_ASSERT_EQUAL(planner_actuation(&vm, true, 16, 4000), PLANNER_WOULD_MOVE);
    vm.want_bytes = vm.current_bytes; /* back at the target in force: nothing to say */
    CU_ASSERT_EQUAL(planner_actuation(&vm, true, 16, 5000), PLANNER_HANDS_OFF);
    /* No budget or gap in hands-off: nothing is sent. */
    vm.want_bytes = 200 * MIB;
    CU_ASSERT_EQUAL(planner_actuation(&vm, true, 0, 5001), PLANNER_WOULD_MOVE);

    /* Observe and safe mode: the engine does not actuate. */
    struct planner_vm obs = vm_at(256, 248);
    obs.actuate = false;
    obs.mode = POLICY_MODE_OBSERVE;
    CU_ASSERT_EQUAL(planner_actuation(&obs, false, 16, 1000), PLANNER_WOULD_MOVE);
    CU_ASSERT_STRING_EQUAL(planner_would_move_verb(&obs, false), "observe: would move");
    obs.logged_bytes = obs.want_bytes;
    CU_ASSERT_EQUAL(planner_actuation(&obs, false, 16, 2000), PLANNER_HANDS_OFF);
    struct planner_vm safe = obs;
    safe.mode = POLICY_MODE_SAFE;
    safe.logged_bytes = 0;
    CU_ASSERT_EQUAL(planner_actuation(&safe, false, 16, 1000), PLANNER_WOULD_MOVE);
    CU_ASSERT_STRING_EQUAL(planner_would_move_verb(&safe, false), "safe mode: would move");
    /* A dry run says so whatever the mode. */
    CU_ASSERT_STRING_EQUAL(planner_would_move_verb(&safe, true), "dry-run: would move");
}

static void test_event_takes_growth_only(void)
{
    struct policy_vm_out out = {.decision = POLICY_GROW_URGENT, .target_bytes = 192 * MIB};
    CU_ASSERT_TRUE(planner_event_takes(&out, 128 * MIB));
    out.decision = POLICY_GROW;
    CU_ASSERT_TRUE(planner_event_takes(&out, 128 * MIB));
    CU_ASSERT_FALSE(planner_event_takes(&out, 192 * MIB)); /* there already */
    CU_ASSERT_FALSE(planner_event_takes(&out, 200 * MIB));
    out.decision = POLICY_SHRINK;
    out.target_bytes = 120 * MIB;
    CU_ASSERT_FALSE(planner_event_takes(&out, 128 * MIB));
    /* A blind release or a clamp raises the target too, but is not a growth
     * the event path takes: the tick does it. */
    out.decision = POLICY_NO_DATA;
    out.target_bytes = 256 * MIB;
    CU_ASSERT_FALSE(planner_event_takes(&out, 128 * MIB));
    /* The target in force: the last one sent, else actual. */
    CU_ASSERT_EQUAL(planner_current_bytes(0, 128 * MIB), 128 * MIB);
    CU_ASSERT_EQUAL(planner_current_bytes(150 * MIB, 128 * MIB), 150 * MIB);
}

static void test_guarantee(void)
{
    /* No host pressure: every growth as the engine wants it. */
    CU_ASSERT_EQUAL(planner_guarantee_target(0.0, 900 * MIB, 300 * MIB, 400 * MIB), 900 * MIB);
    /* Host pressure: growth up to the guarantee, not past it. */
    CU_ASSERT_EQUAL(planner_guarantee_target(0.5, 900 * MIB, 300 * MIB, 400 * MIB), 400 * MIB);
    CU_ASSERT_EQUAL(planner_guarantee_target(0.5, 350 * MIB, 300 * MIB, 400 * MIB), 350 * MIB);
    /* Already over it: keeps what it has, no more, never less. */
    CU_ASSERT_EQUAL(planner_guarantee_target(1.0, 900 * MIB, 500 * MIB, 400 * MIB), 500 * MIB);
    /* A shrink is not the guarantee's business. */
    CU_ASSERT_EQUAL(planner_guarantee_target(1.0, 200 * MIB, 500 * MIB, 400 * MIB), 200 * MIB);
    /* The default guarantee is max: nothing changes. */
    CU_ASSERT_EQUAL(planner_guarantee_target(1.0, 1024 * MIB, 300 * MIB, 1024 * MIB), 1024 * MIB);
}

static struct planner_balloon_event change(int64_t before_mib, int64_t actual_mib, uint64_t set_mib,
                                           const struct target_history *h)
{
    struct planner_balloon_event ev = {
        .before_bytes = before_mib < 0 ? -1 : before_mib * (int64_t)MIB,
        .actual_bytes = actual_mib * (int64_t)MIB,
        .changed_real_us = 0,
        .target_set_bytes = set_mib * MIB,
        .sent = h,
        .raise_counted_real_us = 0,
    };
    return ev;
}

static void test_change_ours(void)
{
    struct target_history h = {0};
    /* A shrink converging: actual falls toward the target. */
    struct planner_balloon_event ev = change(256, 240, 200, &h);
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
    /* A growth converging: actual rises toward the (higher) target. */
    ev = change(128, 180, 192, &h);
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
    /* Within PLANNER_CONVERGED_BYTES over the target: still ours. */
    ev = change(190, 192, 192, &h);
    ev.actual_bytes += (int64_t)PLANNER_CONVERGED_BYTES - 1;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
    /* The first figures, and a daemon that never sent a target. */
    ev = change(-1, 256, 128, &h);
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
    ev = change(128, 256, 0, &h);
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
}

static void test_change_guest_deflate(void)
{
    struct target_history h = {0};
    /* Unstamped (libvirt, query-balloon): over the current target. */
    struct planner_balloon_event ev = change(148, 180, 148, &h);
    struct planner_balloon_verdict v = planner_classify_balloon(&ev);
    CU_ASSERT_EQUAL(v.change, PLANNER_BALLOON_GUEST_DEFLATE);
    CU_ASSERT_EQUAL(v.raised_over_bytes, 0);
    /* Exactly PLANNER_CONVERGED_BYTES over counts. */
    ev = change(148, 149, 148, &h);
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_GUEST_DEFLATE);
    /* Stamped: over the target in force at the stamp, remembered for the decision. */
    target_history_push(&h, 148 * MIB, 1000);
    ev = change(148, 180, 148, &h);
    ev.changed_real_us = 5000;
    v = planner_classify_balloon(&ev);
    CU_ASSERT_EQUAL(v.change, PLANNER_BALLOON_GUEST_DEFLATE);
    CU_ASSERT_EQUAL(v.raised_over_bytes, 148 * MIB);
}

static void test_change_seen_late(void)
{
    /* The guest deflated 148 -> 200 MiB at t=30000 while ballastd was
     * stalled; it woke, read a PRESSURE report first and grew to 256 MiB at
     * t=60000, then read the event: actual is not above the current target,
     * but it was above the one in force at the stamp. */
    struct target_history h = {0};
    target_history_push(&h, 148 * MIB, 2000);
    target_history_push(&h, 256 * MIB, 60000);
    struct planner_balloon_event ev = change(148, 200, 256, &h);
    ev.changed_real_us = 30000;
    struct planner_balloon_verdict v = planner_classify_balloon(&ev);
    CU_ASSERT_EQUAL(v.change, PLANNER_BALLOON_GUEST_DEFLATE);
    CU_ASSERT_EQUAL(v.raised_over_bytes, 148 * MIB);
    /* A decision at t=40000 counted it: the same stamp is not news again. */
    ev.raise_counted_real_us = 40000;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
    /* Stamped before any target we remember: unknown, claim nothing. */
    ev.raise_counted_real_us = 0;
    ev.changed_real_us = 1000;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);

    /* The log names the target the guest deflated over. */
    struct policy_vm_in in = {
        .target_bytes = 256 * MIB, .actual_bytes = 200 * MIB, .guest_raised_over_bytes = 148 * MIB};
    CU_ASSERT_EQUAL(planner_deflated_over_bytes(&in), 148 * MIB); /* seen late */
    in.target_bytes = 150 * MIB; /* still above the current target: that one */
    CU_ASSERT_EQUAL(planner_deflated_over_bytes(&in), 150 * MIB);
    in.guest_raised_over_bytes = 0; /* unstamped */
    in.target_bytes = 256 * MIB;
    CU_ASSERT_EQUAL(planner_deflated_over_bytes(&in), 256 * MIB);
}

static void test_change_foreign_shrink(void)
{
    struct target_history h = {0};
    /* Unstamped: actual fell under the target in force: a second controller inflated it. */
    struct planner_balloon_event ev = change(256, 150, 200, &h);
    struct planner_balloon_verdict v = planner_classify_balloon(&ev);
    CU_ASSERT_EQUAL(v.change, PLANNER_BALLOON_FOREIGN);
    CU_ASSERT_EQUAL(v.foreign_bytes, 150 * MIB);
    CU_ASSERT_EQUAL(v.raised_over_bytes, 0);
    /* Our own shrink landing a page under the target (QEMU rounds): ours. */
    ev = change(256, 200, 200, &h);
    ev.actual_bytes -= 4096;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
    /* No target of ours (a start, a reconnect): nothing to compare with. */
    ev = change(256, 150, 0, &h);
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
    /* Stamped: 200 in force from t=1000, our 150 sent at t=6000. The fall
     * to 150 stamped t=7000 is ours converging; the same fall stamped
     * t=5000, before our command, was someone else's. */
    target_history_push(&h, 200 * MIB, 1000);
    target_history_push(&h, 150 * MIB, 6000);
    ev = change(256, 150, 150, &h);
    ev.changed_real_us = 7000;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
    ev.changed_real_us = 5000;
    v = planner_classify_balloon(&ev);
    CU_ASSERT_EQUAL(v.change, PLANNER_BALLOON_FOREIGN);
    CU_ASSERT_EQUAL(v.foreign_bytes, 150 * MIB);
}

static void test_change_foreign_rise(void)
{
    struct target_history h = {0};
    /* A rise over our target, and a fresh report without pressure: someone set 180 MiB. */
    struct planner_balloon_event ev = change(148, 180, 148, &h);
    ev.pressure_known = true;
    struct planner_balloon_verdict v = planner_classify_balloon(&ev);
    CU_ASSERT_EQUAL(v.change, PLANNER_BALLOON_FOREIGN);
    CU_ASSERT_EQUAL(v.foreign_bytes, 180 * MIB);
    CU_ASSERT_EQUAL(v.raised_over_bytes, 148 * MIB); /* a rise: settled later */
    /* Calm now, but pressure a moment ago (PRESSURE, then a calm report):
     * its deflate; long ago: someone else's. */
    ev.now_ms = 20000;
    ev.pressure_ms = 20000 - PLANNER_DEFLATE_PRESSURE_MS;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_GUEST_DEFLATE);
    ev.pressure_ms = 19999 - PLANNER_DEFLATE_PRESSURE_MS;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_FOREIGN);
    ev.pressure_ms = 0;
    /* The same rise with the guest under pressure: its deflate on OOM. */
    ev.guest_pressure = true;
    v = planner_classify_balloon(&ev);
    CU_ASSERT_EQUAL(v.change, PLANNER_BALLOON_GUEST_DEFLATE);
    CU_ASSERT_EQUAL(v.foreign_bytes, 0);
    /* Nothing known of the guest (no agent): read as its deflate (it grows). */
    ev.pressure_known = ev.guest_pressure = false;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_GUEST_DEFLATE);
    /* Our own growth converging stays ours whatever the guest says. */
    ev = change(148, 180, 192, &h);
    ev.pressure_known = true;
    CU_ASSERT_EQUAL(planner_classify_balloon(&ev).change, PLANNER_BALLOON_OURS);
}

static void test_guest_pressed(void)
{
    struct policy_tunables t;
    policy_tunables_default(&t);
    struct policy_vm_state s;
    policy_vm_state_init(&s);
    struct policy_vm_in in = {.nominal_bytes = 1024 * MIB};
    policy_vm_params_default(&in.params, 1024 * MIB);
    bool known = true;
    /* No report, no frame: nothing known. */
    CU_ASSERT_FALSE(planner_guest_pressed(&in, &s, &t, &known));
    CU_ASSERT_FALSE(known);
    /* A PRESSURE frame is pressure, report or not. */
    in.pressure_event = true;
    CU_ASSERT_TRUE(planner_guest_pressed(&in, &s, &t, &known));
    CU_ASSERT_TRUE(known);
    in.pressure_event = false;
    /* A fresh, calm report: known, no pressure. */
    in.agent = (struct policy_agent_report){.valid = true,
                                            .age_ms = 500,
                                            .mem_total_bytes = 1000 * MIB,
                                            .mem_available_bytes = 600 * MIB};
    CU_ASSERT_FALSE(planner_guest_pressed(&in, &s, &t, &known));
    CU_ASSERT_TRUE(known);
    /* PSI some at its threshold, PSI full at its, MemAvailable under the floor. */
    in.agent.psi_some_avg10_pct = t.guest_psi_some_pct;
    CU_ASSERT_TRUE(planner_guest_pressed(&in, &s, &t, &known));
    in.agent.psi_some_avg10_pct = 0;
    in.agent.psi_full_avg10_pct = t.guest_psi_full_pct;
    CU_ASSERT_TRUE(planner_guest_pressed(&in, &s, &t, &known));
    in.agent.psi_full_avg10_pct = 0;
    in.agent.mem_available_bytes = 4 * MIB;
    CU_ASSERT_TRUE(planner_guest_pressed(&in, &s, &t, &known));
    in.agent.mem_available_bytes = 600 * MIB;
    /* A threshold of 0 is off, not "any PSI at all". */
    t.guest_psi_some_pct = 0;
    CU_ASSERT_FALSE(planner_guest_pressed(&in, &s, &t, &known));
    policy_tunables_default(&t);
    /* An OOM kill since the last decision. */
    s.oom_kill_seen = true;
    s.last_oom_kill_count = 3;
    in.agent.oom_kill_count = 4;
    CU_ASSERT_TRUE(planner_guest_pressed(&in, &s, &t, &known));
    in.agent.oom_kill_count = 3;
    CU_ASSERT_FALSE(planner_guest_pressed(&in, &s, &t, &known));
    /* A stale report says nothing. */
    in.agent.age_ms = t.agent_stale_ms + 1;
    in.agent.psi_full_avg10_pct = 100;
    CU_ASSERT_FALSE(planner_guest_pressed(&in, &s, &t, &known));
    CU_ASSERT_FALSE(known);
}

static void test_foreign_hold(void)
{
    /* Held at 4096 MiB: the engine's shrink and its calm growth are not sent. */
    CU_ASSERT_EQUAL(planner_foreign_target(POLICY_SHRINK, 1024 * MIB, 4096 * MIB), 4096 * MIB);
    CU_ASSERT_EQUAL(planner_foreign_target(POLICY_GROW, 6144 * MIB, 4096 * MIB), 4096 * MIB);
    CU_ASSERT_EQUAL(planner_foreign_target(POLICY_HOLD, 4096 * MIB, 4096 * MIB), 4096 * MIB);
    /* An urgent growth goes past it: nobody's setting is worth an OOM kill. */
    CU_ASSERT_EQUAL(planner_foreign_target(POLICY_GROW_URGENT, 6144 * MIB, 4096 * MIB), 6144 * MIB);
    /* ... and is not taken back when the pressure ends: a hold never shrinks. */
    CU_ASSERT_EQUAL(planner_foreign_target(POLICY_SHRINK, 4096 * MIB, 6144 * MIB), 6144 * MIB);
}

static void test_foreign_settle(void)
{
    const int64_t w = PLANNER_DEFLATE_PRESSURE_MS;
    /* A fall is someone else's at once, whatever the guest says. */
    CU_ASSERT_EQUAL(planner_foreign_settle(0, 10000, 10000, 10000), PLANNER_FOREIGN_CONFIRMED);
    /* A rise over 148 MiB seen at t=10000, no pressure yet: pending until the window ends. */
    CU_ASSERT_EQUAL(planner_foreign_settle(148 * MIB, 10000, 0, 10000), PLANNER_FOREIGN_PENDING);
    CU_ASSERT_EQUAL(planner_foreign_settle(148 * MIB, 10000, 0, 10000 + w),
                    PLANNER_FOREIGN_PENDING);
    CU_ASSERT_EQUAL(planner_foreign_settle(148 * MIB, 10000, 0, 10001 + w),
                    PLANNER_FOREIGN_CONFIRMED);
    /* Pressure within the window, after the rise or just before it: a deflate. */
    CU_ASSERT_EQUAL(planner_foreign_settle(148 * MIB, 10000, 10000 + w, 10000 + w),
                    PLANNER_FOREIGN_WAS_DEFLATE);
    CU_ASSERT_EQUAL(planner_foreign_settle(148 * MIB, 10000, 10000 - w, 10100),
                    PLANNER_FOREIGN_WAS_DEFLATE);
    /* Too early or too late: the guest's pressure is about something else. */
    CU_ASSERT_EQUAL(planner_foreign_settle(148 * MIB, 10000, 9999 - w, 10100),
                    PLANNER_FOREIGN_PENDING);
    CU_ASSERT_EQUAL(planner_foreign_settle(148 * MIB, 10000, 10001 + w, 10001 + w),
                    PLANNER_FOREIGN_CONFIRMED);
    /* The recent-pressure test the classifier uses. */
    CU_ASSERT_FALSE(planner_pressure_recent(0, 100));
    CU_ASSERT_TRUE(planner_pressure_recent(1000, 1000 + w));
    CU_ASSERT_FALSE(planner_pressure_recent(1000, 1001 + w));
}

/*
 * Orders of events as ballastd reads them, the manager's part played here:
 * each balloon change classified with what is known of the guest then, a
 * FOREIGN rise held and settled (planner_foreign_settle) at every later
 * step. Steps, one letter each at at_ms[i]:
 *   P  a sign of the guest's pressure: a PRESSURE frame, a report under
 *      pressure, an OOM kill count that rose (the latest report pressed)
 *   C  a calm report (the latest report not pressed)
 *   R  actual rises 148 -> 180 MiB over our target of 148 MiB
 *   O  our own growth to 192 MiB, then actual rises 148 -> 180 toward it
 *   F  actual falls 148 -> 100 MiB under our target
 *   T  a tick: only the settle check
 */
/* ORDER_DEFLATE: read as the guest's deflate at once; ORDER_HELD_DEFLATE:
 * held as a rise someone else may have made, then the deflate after all. */
enum order_outcome { ORDER_OURS, ORDER_DEFLATE, ORDER_HELD_DEFLATE, ORDER_FOREIGN, ORDER_PENDING };

struct order_case {
    const char *name;
    const char *steps;
    int64_t at_ms[6];
    enum order_outcome want;
};

struct order_state {
    uint64_t target_mib;
    bool known, pressed, held;
    int64_t pressure_ms, seen_ms;
    uint64_t rose_over_bytes;
    enum order_outcome out;
};

static void order_change(struct order_state *st, int64_t actual_mib, int64_t t)
{
    struct target_history h = {0};
    struct planner_balloon_event ev = change(148, actual_mib, st->target_mib, &h);
    ev.pressure_known = st->known;
    ev.guest_pressure = st->pressed;
    ev.now_ms = t;
    ev.pressure_ms = st->pressure_ms;
    struct planner_balloon_verdict v = planner_classify_balloon(&ev);
    if (v.change == PLANNER_BALLOON_GUEST_DEFLATE) {
        st->out = ORDER_DEFLATE;
    } else if (v.change == PLANNER_BALLOON_FOREIGN) {
        st->held = true;
        st->seen_ms = t;
        st->rose_over_bytes = v.raised_over_bytes;
        st->out = ORDER_PENDING;
    }
}

static enum order_outcome run_order(const struct order_case *c)
{
    struct order_state st = {.target_mib = 148, .out = ORDER_OURS};
    for (size_t i = 0; c->steps[i]; i++) {
        int64_t t = 1000 + c->at_ms[i]; /* the monotonic clock does not start at 0 */
        switch (c->steps[i]) {
        case 'P':
            st.known = st.pressed = true;
            st.pressure_ms = t;
            break;
        case 'C':
            st.known = true;
            st.pressed = false;
            break;
        case 'O':
            st.target_mib = 192;
            order_change(&st, 180, t);
            break;
        case 'R':
            order_change(&st, 180, t);
            break;
        case 'F':
            order_change(&st, 100, t);
            break;
        }
        if (!st.held)
            continue;
        switch (planner_foreign_settle(st.rose_over_bytes, st.seen_ms, st.pressure_ms, t)) {
        case PLANNER_FOREIGN_PENDING:
            break;
        case PLANNER_FOREIGN_CONFIRMED:
            st.out = ORDER_FOREIGN;
            st.held = false;
            break;
        case PLANNER_FOREIGN_WAS_DEFLATE:
            st.out = ORDER_HELD_DEFLATE;
            st.held = false;
            break;
        }
    }
    return st.out;
}

static void test_event_orders(void)
{
    static const struct order_case cases[] = {
        /* The order integration.daemon.restart caught: the fake guest's
         * PRESSURE frame, a calm report, then QEMU's event 300 ms after
         * the frame. Read as foreign before: a foreign hold beside the
         * deflate's, kept over the restart. Now a deflate at once, never
         * held as anyone else's, not even for the window. */
        {"pressure, calm report, rise", "PCR", {0, 100, 300}, ORDER_DEFLATE},
        {"pressure, rise", "PR", {0, 300}, ORDER_DEFLATE},
        {"pressure, rise seconds later",
         "PCR",
         {0, 1000, PLANNER_DEFLATE_PRESSURE_MS},
         ORDER_DEFLATE},
        {"rise, then pressure", "CRP", {0, 100, 600}, ORDER_HELD_DEFLATE},
        {"rise, pressure at the window's end",
         "CRP",
         {0, 100, 100 + PLANNER_DEFLATE_PRESSURE_MS},
         ORDER_HELD_DEFLATE},
        {"rise without pressure",
         "CRT",
         {0, 100, 101 + PLANNER_DEFLATE_PRESSURE_MS},
         ORDER_FOREIGN},
        {"rise, told, pressure later", "CRTP", {0, 100, 5200, 6000}, ORDER_FOREIGN},
        {"rise, not told yet", "CRT", {0, 100, 3000}, ORDER_PENDING},
        {"pressure long before the rise", "PCRT", {0, 100, 5100, 10200}, ORDER_FOREIGN},
        {"rise, nothing known of the guest", "R", {0}, ORDER_DEFLATE},
        {"our own command's echo", "CO", {0, 100}, ORDER_OURS},
        {"our own growth's echo after pressure", "PO", {0, 100}, ORDER_OURS},
        {"a second client's balloon command under our target", "CF", {0, 100}, ORDER_FOREIGN},
        {"a second client's fall while the guest is pressed", "PF", {0, 100}, ORDER_FOREIGN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum order_outcome got = run_order(&cases[i]);
        if (got != cases[i].want)
            fprintf(stderr, "\n  event order \"%s\": got %d, want %d\n", cases[i].name, got,
                    cases[i].want);
        CU_ASSERT_EQUAL(got, cases[i].want);
    }
}

static void test_convergence_watch(void)
{
    CU_ASSERT_FALSE(planner_grow_reached(0, 256 * (int64_t)MIB)); /* nothing watched */
    CU_ASSERT_TRUE(planner_grow_reached(256 * MIB, 255 * (int64_t)MIB));
    CU_ASSERT_FALSE(planner_grow_reached(256 * MIB, 255 * (int64_t)MIB - 1));
    CU_ASSERT_FALSE(planner_grow_reached(256 * MIB, -1));
    CU_ASSERT_EQUAL(planner_watch_step(0, true, 1000, 1050), PLANNER_WATCH_NONE);
    CU_ASSERT_EQUAL(planner_watch_step(256 * MIB, true, 1000, 1050), PLANNER_WATCH_QUERY);
    CU_ASSERT_EQUAL(planner_watch_step(256 * MIB, true, 1000, 1000 + PLANNER_CONVERGE_WATCH_MS),
                    PLANNER_WATCH_QUERY);
    CU_ASSERT_EQUAL(planner_watch_step(256 * MIB, true, 1000, 1000 + PLANNER_CONVERGE_WATCH_MS + 1),
                    PLANNER_WATCH_GIVE_UP);
    CU_ASSERT_EQUAL(planner_watch_step(256 * MIB, false, 1000, 1050), PLANNER_WATCH_GIVE_UP);
    /* Latency is measured from the report that asked, never from the future. */
    CU_ASSERT_EQUAL(planner_grow_trigger_ms(true, 900, 1000), 900);
    CU_ASSERT_EQUAL(planner_grow_trigger_ms(true, 1100, 1000), 1000);
    CU_ASSERT_EQUAL(planner_grow_trigger_ms(false, 900, 1000), 1000);
}

static void test_poll_due(void)
{
    /* Due once the report is half the stale window old. */
    CU_ASSERT_FALSE(planner_poll_due(true, 10000, 15000, 10000 + 7499));
    CU_ASSERT_TRUE(planner_poll_due(true, 10000, 15000, 10000 + 7500));
    CU_ASSERT_TRUE(planner_poll_due(false, 10000, 15000, 10001)); /* no report at all */
    /* After an own shrink: poll as soon as the balloon is there, not before,
     * and only while the report predates the command. */
    CU_ASSERT_TRUE(planner_poll_after_shrink(true, 1000, 2000, -1, 200 * MIB, 200 * MIB, MIB));
    CU_ASSERT_TRUE(
        planner_poll_after_shrink(true, 1000, 2000, -1, 200 * MIB + MIB, 200 * MIB, MIB));
    CU_ASSERT_FALSE(planner_poll_after_shrink(true, 1000, 2000, -1, 220 * MIB, 200 * MIB, MIB));
    CU_ASSERT_TRUE(planner_poll_after_shrink(true, 2500, 2000, -1, 200 * MIB, 200 * MIB, MIB));
    /* A report after the command, made while the balloon was still moving: poll. */
    CU_ASSERT_TRUE(
        planner_poll_after_shrink(true, 2500, 2000, 255 * MIB, 200 * MIB, 200 * MIB, MIB));
    /* A report after the command with the balloon there: the engine has what it needs. */
    CU_ASSERT_FALSE(
        planner_poll_after_shrink(true, 2500, 2000, 200 * MIB, 200 * MIB, 200 * MIB, MIB));
    CU_ASSERT_FALSE(planner_poll_after_shrink(false, 1000, 2000, -1, 200 * MIB, 200 * MIB, MIB));
    CU_ASSERT_FALSE(planner_poll_after_shrink(true, 1000, 2000, -1, 0, 200 * MIB, MIB));
}

static void test_grants(void)
{
    /* Quiet: a heartbeat every 10 intervals + 2 to spare stays fresh. */
    CU_ASSERT_TRUE(planner_quiet_reports_ok(12000, 1000));
    CU_ASSERT_FALSE(planner_quiet_reports_ok(11999, 1000));
    CU_ASSERT_TRUE(planner_quiet_reports_ok(15000, 1000)); /* the defaults */
    /* Polled: an unanswered poll still leaves the report fresh a tick later. */
    CU_ASSERT_TRUE(planner_polled_reports_ok(15000, 1000, 5000)); /* the defaults */
    CU_ASSERT_TRUE(planner_polled_reports_ok(15000, 1000, 7450));
    CU_ASSERT_FALSE(planner_polled_reports_ok(15000, 1000, 7451));
    /* Never without quiet. */
    CU_ASSERT_FALSE(planner_polled_reports_ok(11999, 1000, 1000));
}

static void test_refresh_due(void)
{
    struct planner_refresh r = {
        .has_agent = true,
        .report_valid = true,
        .refresh_each_tick = false,
        .actual_bytes = 128 * (int64_t)MIB,
        .nominal_bytes = 256 * (int64_t)MIB,
        .refresh_ms = 1000,
    };
    bool stats = true;
    /* A fleet VM with an agent: BALLOON_CHANGE keeps it current. */
    CU_ASSERT_FALSE(planner_refresh_due(&r, 6000, &stats));
    CU_ASSERT_FALSE(stats);
    /* ... but a safety net every PLANNER_BALLOON_REFRESH_MS. */
    CU_ASSERT_TRUE(planner_refresh_due(&r, 1000 + PLANNER_BALLOON_REFRESH_MS, &stats));
    CU_ASSERT_FALSE(stats);
    /* No agent report: every tick, with the guest's statistics. */
    r.report_valid = false;
    CU_ASSERT_TRUE(planner_refresh_due(&r, 6000, &stats));
    CU_ASSERT_TRUE(stats);
    r.report_valid = true;
    r.has_agent = false;
    CU_ASSERT_TRUE(planner_refresh_due(&r, 6000, &stats));
    CU_ASSERT_TRUE(stats);
    /* libvirt: its figures come only by asking. */
    r.has_agent = true;
    r.refresh_each_tick = true;
    CU_ASSERT_TRUE(planner_refresh_due(&r, 6000, &stats));
    CU_ASSERT_FALSE(stats);
    /* Figures not known yet. */
    r.refresh_each_tick = false;
    r.actual_bytes = -1;
    CU_ASSERT_TRUE(planner_refresh_due(&r, 6000, &stats));
    r.actual_bytes = 128 * (int64_t)MIB;
    r.nominal_bytes = 0;
    CU_ASSERT_TRUE(planner_refresh_due(&r, 6000, &stats));
}

/* on_exit = release: a VM's max_memory, never below actual, nothing for
 * observe and fixed or a balloon already there. */
static void test_release(void)
{
    const uint64_t M = 1 << 20;
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 256 * M, 128 * M, 130 * M), 256 * M);
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 256 * M, 128 * M, 0), 256 * M);
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_SAFE, 256 * M, 128 * M, 128 * M), 256 * M);
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_OBSERVE, 256 * M, 128 * M, 128 * M), 0);
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_FIXED, 256 * M, 128 * M, 128 * M), 0);
    /* Already there. */
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 256 * M, 256 * M, 256 * M), 0);
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 256 * M, 256 * M - M / 2, 0), 0);
    /* Still inflating toward a lower target: raised, the balloon stops at max at most. */
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 200 * M, 256 * M, 120 * M), 256 * M);
    /* A max under actual (lowered at runtime): never asks the balloon to go lower. */
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 100 * M, 150 * M, 0), 0);
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 100 * M, 150 * M, 150 * M), 0);
    /* Unknown figures: nothing. */
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 0, 150 * M, 0), 0);
    CU_ASSERT_EQUAL(planner_release_bytes(POLICY_MODE_MANAGED, 256 * M, 0, 0), 0);
}

/* A 1 GiB guest with a fresh agent report: balloon at actual_mib, MemAvailable avail_mib. */
static struct policy_vm_in guest_at(uint64_t actual_mib, uint64_t avail_mib, bool pressure)
{
    struct policy_vm_in in = {.name = "vm"};
    policy_vm_params_default(&in.params, 1024 * MIB);
    in.actual_bytes = in.target_bytes = actual_mib * MIB;
    in.nominal_bytes = 1024 * MIB;
    in.pressure_event = pressure;
    in.agent = (struct policy_agent_report){
        .valid = true,
        .age_ms = 100,
        .mem_total_bytes = (actual_mib - 16) * MIB,
        .mem_available_bytes = avail_mib * MIB,
        .mem_free_bytes = avail_mib * MIB,
        .psi_some_avg10_pct = pressure ? 40.0 : 0.0,
    };
    return in;
}

/*
 * Host figures missing: the engine runs on the stand-in host and a guest
 * under pressure is grown at once; an idle guest the engine would shrink
 * is left alone (its answer is not taken) for as long as the figures stay
 * missing.
 */
static void test_host_unknown_grows_only(void)
{
    struct policy_tunables tun;
    policy_tunables_default(&tun);
    struct policy_vm_in in[2] = {guest_at(512, 8, true), guest_at(1024, 900, false)};
    struct policy_vm_state st[2];
    policy_vm_state_init(&st[0]);
    policy_vm_state_init(&st[1]);
    /* Known to the engine from before the outage: one call on a comfortable
     * host, for the idle guest only (its state is what the outage keeps). */
    struct policy_snapshot snap = {
        .now_ms = 1000,
        .host = {.mem_total_bytes = 24 * 1024 * MIB, .mem_available_bytes = 16 * 1024 * MIB},
        .tunables = &tun,
        .vms = &in[1],
        .n_vms = 1};
    struct policy_vm_out warm;
    CU_ASSERT_EQUAL_FATAL(policy_evaluate(&snap, &st[1], &warm, NULL), 0);
    snap.host = planner_host_unknown();
    snap.vms = in;
    snap.n_vms = 2;
    CU_ASSERT_EQUAL(snap.host.mem_total_bytes, 0);
    CU_ASSERT_FALSE(snap.host.psi_valid);
    bool shrink_refused = false;
    for (int call = 1; call <= 12; call++) {
        snap.now_ms = 1000 + call * 5000;
        struct policy_vm_state next[2] = {st[0], st[1]};
        struct policy_vm_out out[2];
        CU_ASSERT_EQUAL_FATAL(policy_evaluate(&snap, next, out, NULL), 0);
        if (call == 1) { /* the pressured guest: grown now, and taken */
            CU_ASSERT_EQUAL(out[0].decision, POLICY_GROW_URGENT);
            CU_ASSERT_TRUE(out[0].target_bytes > in[0].target_bytes);
            CU_ASSERT_TRUE(planner_host_unknown_takes(&out[0], in[0].target_bytes));
        }
        /* The idle guest: whatever the engine says, never a shrink taken. */
        CU_ASSERT_FALSE(planner_host_unknown_takes(&out[1], in[1].target_bytes));
        if (out[1].decision == POLICY_SHRINK)
            shrink_refused = true;
        /* As the manager does: the state of a taken answer only. */
        if (planner_host_unknown_takes(&out[1], in[1].target_bytes))
            st[1] = next[1];
        st[0] = next[0];
        in[0].pressure_event = false;
    }
    /* The engine did want to shrink it: the rule was put to the test. */
    CU_ASSERT_TRUE(shrink_refused);
}

static CU_TestInfo planner_tests[] = {
    {"host figures missing: growth only", test_host_unknown_grows_only},
    {"growth before shrink", test_growth_first},
    {"budget: shrinks wait, growth never waits behind a shrink", test_budget},
    {"shrink gap, never for growth", test_shrink_gap},
    {"dry-run, observe, safe: would move, logged once", test_would_move_once},
    {"event path takes only a growth", test_event_takes_growth_only},
    {"guaranteed memory: no growth past it under host pressure", test_guarantee},
    {"balloon change: our command converging", test_change_ours},
    {"balloon change: guest deflate-on-oom", test_change_guest_deflate},
    {"balloon change: deflate seen late, counted once", test_change_seen_late},
    {"balloon change: foreign shrink (inflated under our target)", test_change_foreign_shrink},
    {"balloon change: foreign rise (no guest pressure)", test_change_foreign_rise},
    {"guest pressure as the classifier reads it", test_guest_pressed},
    {"foreign hold: no shrink, only urgent growth", test_foreign_hold},
    {"foreign rise settled: someone else's, or a deflate after all", test_foreign_settle},
    {"event orders: ours, the guest's deflate, someone else's", test_event_orders},
    {"convergence watch", test_convergence_watch},
    {"poll due, not due", test_poll_due},
    {"quiet and polled reporting grants", test_grants},
    {"refresh due", test_refresh_due},
    {"release on exit", test_release},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"planner", NULL, NULL, NULL, NULL, planner_tests},
    CU_SUITE_INFO_NULL,
};
