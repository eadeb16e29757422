/*
 * The fleet memory budget: its arithmetic (the virtual host, the cgroup
 * standing in for the host, the clamp, floors, unmet with its margin, the
 * min_memory error), then the engine driven through it over many ticks with
 * the model guests of sim.h: under a budget idle guests give first, a
 * pressured guest is fed at once, shares weigh between equals, the fleet
 * settles under the budget, and with a budget far too small no guest ever
 * goes under its working-set floor.
 */
#include "budget.h"
#include "cunit_main.h"
#include "policy.h"
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MIB SIM_MIB
#define GIB (1024 * MIB)

static const struct policy_host big_host = {
    .mem_total_bytes = 64 * GIB, .mem_available_bytes = 60 * GIB, .psi_valid = true};

static void test_resolve(void)
{
    CU_ASSERT_EQUAL(budget_resolve_bytes(6 * GIB, 0.0, 64 * GIB), 6 * GIB);
    CU_ASSERT_EQUAL(budget_resolve_bytes(0, 25.0, 64 * GIB), 16 * GIB);
    CU_ASSERT_EQUAL(budget_resolve_bytes(0, 100.0, 64 * GIB), 64 * GIB);
    CU_ASSERT_EQUAL(budget_resolve_bytes(0, 0.0, 64 * GIB), 0);
    CU_ASSERT_STRING_EQUAL(budget_source_name(BUDGET_SOURCE_CGROUP), "cgroup");
    CU_ASSERT_STRING_EQUAL(budget_source_name((enum budget_source)9), "?");
}

/* No budget, no cgroup: the host as measured. */
static void test_view_host(void)
{
    struct budget_in in = {.host = big_host, .fleet_cost_bytes = 100 * GIB};
    struct budget_view v;
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.source, BUDGET_SOURCE_HOST);
    CU_ASSERT_EQUAL(v.host.mem_total_bytes, 64 * GIB);
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 60 * GIB);
    CU_ASSERT_EQUAL(v.budget_bytes, 0);
    CU_ASSERT_EQUAL(v.capacity_bytes, 0);
    CU_ASSERT_FALSE(v.clamped);
}

/* The budget becomes the host when it is tighter; saturates at 0. */
static void test_view_budget(void)
{
    struct budget_in in = {.host = big_host, .budget_bytes = 6 * GIB, .fleet_cost_bytes = 5 * GIB};
    struct budget_view v;
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.source, BUDGET_SOURCE_BUDGET);
    CU_ASSERT_EQUAL(v.host.mem_total_bytes, 6 * GIB);
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 1 * GIB);
    CU_ASSERT_TRUE(v.host.psi_valid); /* measured PSI kept */
    CU_ASSERT_EQUAL(v.capacity_bytes, 6 * GIB);
    in.fleet_cost_bytes = 9 * GIB;
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 0);
    /* The host tighter than the budget: the host wins. */
    in.fleet_cost_bytes = 1 * GIB;         /* budget: 5 of 6 GiB free (83%) */
    in.host.mem_available_bytes = 4 * GIB; /* host: 4 of 64 GiB free (6%) */
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.source, BUDGET_SOURCE_HOST);
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 4 * GIB);
    CU_ASSERT_EQUAL(v.budget_bytes, 6 * GIB);
}

/* A budget above host RAM is cut to it (and said so). */
static void test_view_clamp(void)
{
    struct budget_in in = {
        .host = big_host, .budget_bytes = 100 * GIB, .fleet_cost_bytes = 62 * GIB};
    struct budget_view v;
    budget_view_compute(&in, &v);
    CU_ASSERT_TRUE(v.clamped);
    CU_ASSERT_EQUAL(v.budget_bytes, 64 * GIB);
    CU_ASSERT_EQUAL(v.capacity_bytes, 64 * GIB);
    CU_ASSERT_EQUAL(v.source, BUDGET_SOURCE_BUDGET); /* 2 GiB of 64 left < host's 60 */
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 2 * GIB);
}

static struct budget_cgroup cgroup(uint64_t current, uint64_t limit, double psi_some)
{
    return (struct budget_cgroup){.valid = true,
                                  .current_bytes = current,
                                  .limit_bytes = limit,
                                  .psi_valid = true,
                                  .psi_some_avg10_pct = psi_some};
}

/* The cgroup stands in for the host: its limit, its charge, its PSI. */
static void test_view_cgroup(void)
{
    struct budget_in in = {.host = big_host, .cgroup = cgroup(6 * GIB, 8 * GIB, 12.5)};
    struct budget_view v;
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.source, BUDGET_SOURCE_CGROUP);
    CU_ASSERT_EQUAL(v.host.mem_total_bytes, 8 * GIB);
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 2 * GIB);
    CU_ASSERT_DOUBLE_EQUAL(v.host.psi_some_avg10_pct, 12.5, 1e-9);
    CU_ASSERT_EQUAL(v.capacity_bytes, 8 * GIB);
    /* Unlimited ("max"): the host's RAM; no capacity to fit in. */
    in.cgroup = cgroup(6 * GIB, UINT64_MAX, 0.0);
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.host.mem_total_bytes, 64 * GIB);
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 58 * GIB);
    CU_ASSERT_EQUAL(v.capacity_bytes, 0);
    /* A limit above what the host has free does not promise more. */
    in.cgroup = cgroup(1 * GIB, 32 * GIB, 0.0);
    in.host.mem_available_bytes = 3 * GIB;
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 3 * GIB);
    /* Over its limit (memory.high can be passed): nothing available. */
    in.cgroup = cgroup(9 * GIB, 8 * GIB, 0.0);
    in.host = big_host;
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.host.mem_available_bytes, 0);
    /* A budget tighter than the cgroup: the budget, with the cgroup's PSI. */
    in.cgroup = cgroup(2 * GIB, 8 * GIB, 3.0);
    in.budget_bytes = 4 * GIB;
    in.fleet_cost_bytes = 3800 * MIB;
    budget_view_compute(&in, &v);
    CU_ASSERT_EQUAL(v.source, BUDGET_SOURCE_BUDGET);
    CU_ASSERT_EQUAL(v.capacity_bytes, 4 * GIB);
    CU_ASSERT_DOUBLE_EQUAL(v.host.psi_some_avg10_pct, 3.0, 1e-9);
    /* Without PSI in the cgroup: none (not the host's, which is another scope). */
    in.cgroup.psi_valid = false;
    in.budget_bytes = 0;
    budget_view_compute(&in, &v);
    CU_ASSERT_FALSE(v.host.psi_valid);
}

static struct budget_vm vm_of(uint64_t max, uint64_t min, uint64_t need)
{
    struct budget_vm vm = {.need_known = true, .need_bytes = need, .current_bytes = max};
    policy_vm_params_default(&vm.params, max);
    vm.params.min_bytes = min;
    return vm;
}

static void test_floor(void)
{
    struct policy_tunables t;
    policy_tunables_default(&t);
    /* 1 GiB VM: the growth trigger is the tight headroom max(3%, 8M) = 30.7
     * MiB, but never under the guest floor (2%: 20.5 MiB) + deadband (2%:
     * 20.5 MiB) = 41 MiB; the set point is a deadband above it: 61.4 MiB. */
    struct budget_vm vm = vm_of(1 * GIB, 0, 300 * MIB);
    uint64_t head = (uint64_t)((double)GIB * 0.02) * 3;
    uint64_t want = ((300 * MIB + head) + MIB - 1) & ~(MIB - 1);
    CU_ASSERT_EQUAL(budget_vm_floor(&t, &vm), want);
    /* min_memory above that wins; max caps. */
    vm.params.min_bytes = 512 * MIB;
    CU_ASSERT_EQUAL(budget_vm_floor(&t, &vm), 512 * MIB);
    vm = vm_of(1 * GIB, 0, 2 * GIB);
    CU_ASSERT_EQUAL(budget_vm_floor(&t, &vm), 1 * GIB);
    /* Working set unknown: min_memory. */
    vm = vm_of(1 * GIB, 256 * MIB, 0);
    vm.need_known = false;
    CU_ASSERT_EQUAL(budget_vm_floor(&t, &vm), 256 * MIB);
    /* Fixed: its size. Observe and safe: never shrunk, so what they hold. */
    vm.params.mode = POLICY_MODE_FIXED;
    vm.params.fixed_bytes = 700 * MIB;
    CU_ASSERT_EQUAL(budget_vm_floor(&t, &vm), 700 * MIB);
    vm.params.mode = POLICY_MODE_SAFE;
    vm.current_bytes = 900 * MIB;
    CU_ASSERT_EQUAL(budget_vm_floor(&t, &vm), 900 * MIB);
    vm.params.mode = POLICY_MODE_OBSERVE;
    CU_ASSERT_EQUAL(budget_vm_floor(&t, &vm), 900 * MIB);
}

static void test_unmet(void)
{
    CU_ASSERT_FALSE(budget_unmet_next(false, 0, 100 * GIB)); /* no budget */
    CU_ASSERT_FALSE(budget_unmet_next(true, 0, 100 * GIB));
    CU_ASSERT_FALSE(budget_unmet_next(false, 2 * GIB, 2 * GIB));
    CU_ASSERT_TRUE(budget_unmet_next(false, 2 * GIB, 2 * GIB + 1));
    /* Ends only max(1%, 16 MiB) under the budget: 2 GiB -> 20.5 MiB. */
    CU_ASSERT_TRUE(budget_unmet_next(true, 2 * GIB, 2 * GIB));
    CU_ASSERT_TRUE(budget_unmet_next(true, 2 * GIB, 2 * GIB - 20 * MIB));
    CU_ASSERT_FALSE(budget_unmet_next(true, 2 * GIB, 2 * GIB - 21 * MIB));
    CU_ASSERT_FALSE(budget_unmet_next(true, 512 * MIB, 512 * MIB - 16 * MIB));
    CU_ASSERT_TRUE(budget_unmet_next(true, 512 * MIB, 512 * MIB - 15 * MIB));
    char buf[160];
    budget_unmet_text(buf, sizeof(buf), 2048 * MIB, 2300 * MIB);
    CU_ASSERT_STRING_EQUAL(buf, "budget 2048 MiB < working sets 2300 MiB: stop or move a guest");
    budget_unmet_text(buf, sizeof(buf), 2048 * MIB, 2040 * MIB);
    CU_ASSERT_STRING_EQUAL(
        buf, "budget 2048 MiB barely holds working sets 2040 MiB: stop or move a guest");
}

static void test_min_error(void)
{
    char buf[256] = "untouched";
    CU_ASSERT_FALSE(budget_min_error(buf, sizeof(buf), "d/ballastd.conf:3", 0, 9 * GIB));
    CU_ASSERT_FALSE(budget_min_error(buf, sizeof(buf), "d/ballastd.conf:3", 2 * GIB, 2 * GIB));
    CU_ASSERT_STRING_EQUAL(buf, "untouched");
    CU_ASSERT_TRUE(budget_min_error(buf, sizeof(buf), "d/ballastd.conf:3", 2 * GIB, 2560 * MIB));
    CU_ASSERT_STRING_EQUAL(buf, "d/ballastd.conf:3: memory_budget 2.0 GiB < the VMs' min_memory "
                                "2.5 GiB in all: it can never be met; raise it or lower "
                                "min_memory");
}

/* ---- the engine through the budget ------------------------------------- */

#define N_VMS 4

struct fleet {
    struct sim_guest g[N_VMS];
    struct policy_vm_state st[N_VMS];
    struct policy_vm_in in[N_VMS];
    struct policy_vm_out out[N_VMS];
    uint32_t shares[N_VMS];
    bool pressure[N_VMS]; /* a PRESSURE frame at the next tick */
    struct policy_tunables t;
    struct budget_view view;
    uint64_t budget_bytes;
    int64_t now_ms;
};

/* 1 GiB guests: three idle (100 MiB used, 200 MiB cache), one busy (500 MiB). */
static void fleet_init(struct fleet *f, uint64_t budget_bytes)
{
    memset(f, 0, sizeof(*f));
    policy_tunables_default(&f->t);
    for (int i = 0; i < N_VMS; i++) {
        sim_guest_init(&f->g[i], 1024, i == N_VMS - 1 ? 500 : 100, 200);
        f->shares[i] = 1000;
    }
    f->budget_bytes = budget_bytes;
    f->now_ms = 1000;
}

static uint64_t fleet_cost(const struct fleet *f)
{
    uint64_t sum = 0;
    for (int i = 0; i < N_VMS; i++)
        sum += f->g[i].actual_bytes;
    return sum;
}

/* One tick as ballastd runs it: the budget's view from the balloons'
 * actual sizes, the engine over the fleet, the balloons follow. */
static void fleet_tick(struct fleet *f)
{
    struct budget_in bin = {
        .host = big_host, .budget_bytes = f->budget_bytes, .fleet_cost_bytes = fleet_cost(f)};
    budget_view_compute(&bin, &f->view);
    for (int i = 0; i < N_VMS; i++) {
        sim_guest_input(&f->g[i], "vm", &f->in[i]);
        f->in[i].params.shares = f->shares[i];
        f->in[i].pressure_event = f->pressure[i];
        f->pressure[i] = false;
    }
    struct policy_snapshot snap = {
        .now_ms = f->now_ms, .host = f->view.host, .tunables = &f->t, .vms = f->in, .n_vms = N_VMS};
    CU_ASSERT_EQUAL_FATAL(policy_evaluate(&snap, f->st, f->out, NULL), 0);
    for (int i = 0; i < N_VMS; i++)
        sim_guest_apply(&f->g[i], &f->out[i]);
    f->now_ms += (int64_t)f->t.tick_interval_ms;
}

static uint64_t fleet_floor(const struct fleet *f, int i)
{
    struct budget_vm vm = {.params = f->in[i].params,
                           .need_known = f->st[i].initialized,
                           .need_bytes = f->st[i].need_bytes,
                           .current_bytes = f->g[i].target_bytes};
    return budget_vm_floor(&f->t, &vm);
}

/*
 * 4 GiB of guests under a 2 GiB budget that their floors fit: the idle
 * guests give most from the first tick, the fleet ends under the budget,
 * and there it holds.
 */
static void test_engine_converges_under_budget(void)
{
    struct fleet f;
    fleet_init(&f, 2 * GIB);
    fleet_tick(&f);
    CU_ASSERT_EQUAL(f.view.source, BUDGET_SOURCE_BUDGET);
    uint64_t busy_step = GIB - f.g[N_VMS - 1].actual_bytes;
    for (int i = 0; i < N_VMS - 1; i++) {
        CU_ASSERT_EQUAL(f.out[i].decision, POLICY_SHRINK);
        CU_ASSERT(GIB - f.g[i].actual_bytes > busy_step); /* idle give first */
    }
    for (int t = 0; t < 120; t++)
        fleet_tick(&f);
    uint64_t floors = 0;
    for (int i = 0; i < N_VMS; i++)
        floors += fleet_floor(&f, i);
    CU_ASSERT(floors <= 2 * GIB);
    CU_ASSERT(fleet_cost(&f) <= 2 * GIB);
    CU_ASSERT(fleet_cost(&f) >= floors);
    /* Settled: sixty more ticks change no target. */
    uint64_t before[N_VMS];
    for (int i = 0; i < N_VMS; i++)
        before[i] = f.g[i].target_bytes;
    for (int t = 0; t < 60; t++)
        fleet_tick(&f);
    for (int i = 0; i < N_VMS; i++)
        CU_ASSERT_EQUAL(f.g[i].target_bytes, before[i]);
    /* The same fleet with no budget settles larger: the budget did the work. */
    struct fleet free_f;
    fleet_init(&free_f, 0);
    for (int t = 0; t < 180; t++)
        fleet_tick(&free_f);
    CU_ASSERT(fleet_cost(&free_f) > fleet_cost(&f));
}

/* Over the budget, a guest under pressure is still grown at once, while
 * the others shrink in the same tick: the budget never starves a guest. */
static void test_engine_feeds_pressured_first(void)
{
    struct fleet f;
    fleet_init(&f, 2 * GIB);
    for (int t = 0; t < 120; t++)
        fleet_tick(&f);
    /* The busy guest's working set jumps past its headroom and it stalls. */
    f.g[N_VMS - 1].used_bytes += 200 * MIB;
    f.pressure[N_VMS - 1] = true;
    uint64_t before = f.g[N_VMS - 1].target_bytes;
    fleet_tick(&f);
    CU_ASSERT_EQUAL(f.out[N_VMS - 1].decision, POLICY_GROW_URGENT);
    CU_ASSERT(f.g[N_VMS - 1].target_bytes >= before + 200 * MIB);
    CU_ASSERT(f.out[N_VMS - 1].actuate);
    /* ... and the fleet makes room for it over the next ticks, back under
     * the budget, the busy guest keeping what it needs. */
    for (int t = 0; t < 120; t++)
        fleet_tick(&f);
    CU_ASSERT(fleet_cost(&f) <= 2 * GIB);
    CU_ASSERT(f.g[N_VMS - 1].target_bytes >= fleet_floor(&f, N_VMS - 1));
}

/* Between equals, shares weigh: under the budget's pressure, the part of
 * the deficit the guests' own steps leave is shared out by room / shares,
 * and the guest with half the shares gives twice as much of it. */
static void test_engine_shares(void)
{
    struct fleet f;
    fleet_init(&f, 2560 * MIB);
    for (int i = 0; i < N_VMS; i++) {
        sim_guest_init(&f.g[i], 1024, 150, 300);
        f.g[i].actual_bytes = f.g[i].target_bytes = 700 * MIB;
    }
    f.shares[0] = 500;
    fleet_tick(&f);
    CU_ASSERT_EQUAL(f.view.host.mem_available_bytes, 0); /* 2800 MiB > 2560 MiB */
    uint64_t step[N_VMS];
    for (int i = 0; i < N_VMS; i++) {
        CU_ASSERT_EQUAL(f.out[i].decision, POLICY_SHRINK);
        step[i] = 700 * MIB - f.g[i].actual_bytes;
    }
    CU_ASSERT_EQUAL(step[1], step[2]);
    CU_ASSERT_EQUAL(step[1], step[3]);
    CU_ASSERT(step[0] > step[1] + 20 * MIB);
    CU_ASSERT(strstr(f.out[0].reason, "MiB for host") != NULL);
}

/*
 * A budget far too small (512 MiB for four 1 GiB guests with working sets
 * of 228-628 MiB): the fleet is squeezed as far as it goes and no further.
 * At every tick no target is under the guest's floor, no guest is driven
 * into its own pressure, and the budget is reported unmet.
 */
static void test_engine_never_below_floor(void)
{
    struct fleet f;
    fleet_init(&f, 512 * MIB);
    bool unmet = false;
    for (int t = 0; t < 200; t++) {
        fleet_tick(&f);
        uint64_t floors = 0;
        for (int i = 0; i < N_VMS; i++) {
            uint64_t floor = fleet_floor(&f, i);
            floors += floor;
            CU_ASSERT(f.out[i].target_bytes >= floor);
            CU_ASSERT(f.out[i].decision != POLICY_GROW_URGENT);
            struct policy_agent_report r;
            sim_guest_report(&f.g[i], &r);
            CU_ASSERT(r.mem_available_bytes >= 20 * MIB); /* the guest's pressure floor */
        }
        unmet = budget_unmet_next(unmet, f.view.capacity_bytes, floors);
        CU_ASSERT_TRUE(unmet);
    }
    CU_ASSERT_EQUAL(f.view.host.mem_available_bytes, 0);
    /* Settled at the floors, exactly: nothing more to give. */
    for (int i = 0; i < N_VMS; i++) {
        uint64_t floor = fleet_floor(&f, i);
        CU_ASSERT(f.g[i].target_bytes < floor + 21 * MIB); /* within a deadband */
    }
}

static CU_TestInfo budget_tests[] = {
    {"resolve", test_resolve},
    {"view: host", test_view_host},
    {"view: budget", test_view_budget},
    {"view: clamp to host RAM", test_view_clamp},
    {"view: cgroup", test_view_cgroup},
    {"floor", test_floor},
    {"unmet and its margin", test_unmet},
    {"min_memory error", test_min_error},
    {"engine: converges under the budget", test_engine_converges_under_budget},
    {"engine: pressured guest fed first", test_engine_feeds_pressured_first},
    {"engine: shares between equals", test_engine_shares},
    {"engine: never below the floor", test_engine_never_below_floor},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"budget", NULL, NULL, NULL, NULL, budget_tests},
    CU_SUITE_INFO_NULL,
};
