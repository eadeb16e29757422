/*
 * ballast-sim: runs the policy engine over a synthetic fleet (1000 VMs by
 * default) and, for comparison, models of MOM's and Proxmox's balloon loops
 * (formulas in docs/policy.md), on the same workload. No guests, no QEMU:
 * each guest is a model (kernel overhead, working set, page cache) behind a
 * balloon that follows its target at once. Numbers for docs/policy.md.
 *
 *   ballast-sim [--vms N] [--minutes M] [--seed S] [--host-pct P] [--controller NAME]
 *               [--check]
 *
 * --check (used by ctest) exits 1 unless ballast starved no guest, fit every
 * spike within one tick, kept idle guests smaller than MOM's model did, and
 * never overcommitted the host after the warm-up.
 *
 * Workload: every guest idles at 20-35% of its nominal size, plus page
 * cache; at random (about once per 30 minutes each) its working set jumps by
 * 30-50% of nominal within one second and stays up for 1-5 minutes.
 * A guest whose working set exceeds its MemTotal is "starved" (it would
 * thrash or OOM-kill) for as long as that lasts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "size.h"

#define MIB     (1ULL << 20)
#define TICK_MS 5000

struct vm {
    uint64_t nominal, overhead, base_used, used, cache;
    uint64_t actual;     /* balloon actual = target, balloon moves at once */
    uint64_t oom_kills;  /* starved ticks, reported as the agent's oom_kill */
    int spike_left;      /* ticks of spike remaining */
    int spike_started;   /* tick the spike began, -1 when none pending */
    double mom_free_avg; /* MOM: MemFree averaged over 10 samples */
};

struct result {
    const char *name;
    double mean_actual_pct, idle_actual_pct, min_host_avail_pct;
    uint64_t starved_vm_s, host_overcommit_s, balloon_ops, spikes;
    double mean_response_s, max_response_s;
};

static uint64_t rng_state = 42;

static uint64_t rng(void)
{
    /* xorshift64*: reproducible across libcs, unlike rand(). */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static double rng_unit(void)
{
    return (double)(rng() >> 11) / 9007199254740992.0;
}

static uint64_t mem_total(const struct vm *v)
{
    return v->actual > v->overhead ? v->actual - v->overhead : 0;
}

static uint64_t mem_available(const struct vm *v)
{
    uint64_t t = mem_total(v);
    return v->used < t ? t - v->used : 0;
}

static uint64_t mem_free(const struct vm *v)
{
    uint64_t avail = mem_available(v);
    return v->cache < avail ? avail - v->cache : 0;
}

enum controller { CTL_BALLAST, CTL_MOM, CTL_PROXMOX, CTL_NONE };
static const char *const ctl_names[] = {"ballast", "mom", "proxmox", "none"};

/* MOM 0.6 balloon policy (every 10 s here: every 2nd tick). host_free below
 * 20%: shrink each guest toward used + 20% of its size, at most 5% of the
 * current size per pass; above: grow by up to 5%. Guest "used" comes from
 * MemFree averaged over 10 samples. */
static void mom_round(struct vm *vms, size_t n, double host_free_pct, uint64_t *ops)
{
    for (size_t i = 0; i < n; i++) {
        struct vm *v = &vms[i];
        uint64_t cur = v->actual;
        uint64_t step = cur / 20;
        uint64_t target = cur;
        if (host_free_pct < 20.0) {
            double used = (double)mem_total(v) - v->mom_free_avg + (double)v->overhead;
            uint64_t want = (uint64_t)(used + 0.20 * (double)cur);
            if (want < cur)
                target = cur - step < want ? want : cur - step;
        } else {
            target = cur + step > v->nominal ? v->nominal : cur + step;
        }
        if (target < v->nominal / 4)
            target = v->nominal / 4; /* balloon_min */
        uint64_t diff = target > cur ? target - cur : cur - target;
        if (diff * 400 >= cur) { /* changes under 0.25% skipped */
            v->actual = target;
            (*ops)++;
        }
    }
}

/* Proxmox VE autoballoon (every 10 s): keep host usage at 80%; move each VM
 * by at most 100 MiB per round; grow pressured VMs first, shrink comfortable
 * ones (MemFree > 25% of their floor) first; deadband 10 MiB. */
static void proxmox_round(struct vm *vms, size_t n, uint64_t host_total, uint64_t host_used,
                          uint64_t *ops)
{
    int64_t goal = (int64_t)(host_total * 8 / 10) - (int64_t)host_used;
    for (size_t i = 0; i < n && (goal > (int64_t)(10 * MIB) || goal < -(int64_t)(10 * MIB)); i++) {
        struct vm *v = &vms[i];
        uint64_t floor = v->nominal / 4;
        if (goal > 0 && v->actual < v->nominal) {
            uint64_t step = 100 * MIB;
            if (v->actual + step > v->nominal)
                step = v->nominal - v->actual;
            if ((int64_t)step > goal)
                step = (uint64_t)goal;
            v->actual += step;
            goal -= (int64_t)step;
            (*ops)++;
        } else if (goal < 0 && mem_free(v) > floor / 4 && v->actual > floor) {
            uint64_t step = 100 * MIB;
            if (v->actual - step < floor)
                step = v->actual - floor;
            if ((int64_t)step > -goal)
                step = (uint64_t)-goal;
            v->actual -= step;
            goal += (int64_t)step;
            (*ops)++;
        }
    }
}

/* One run: the fleet, the host it lives on, and the sums its result is
 * made of. */
struct sim {
    size_t n;
    struct vm *vms;
    struct policy_vm_in *in; /* the engine's arrays, one entry per VM */
    struct policy_vm_state *st;
    struct policy_vm_out *out;
    struct policy_tunables tun;
    uint64_t nominal_sum, host_base, host_total;
    double actual_pct_sum, idle_pct_sum, response_sum_s;
    uint64_t idle_samples, responses;
};

/* A fleet of n guests of 256 MiB - 2 GiB, idle at 20-35% of nominal plus
 * page cache, all balloons at full size, on a host that holds host_pct% of
 * their nominal memory (+1 GiB for itself): guests fit only if idle ones
 * give memory back. */
static void sim_init(struct sim *sim, size_t n, uint64_t seed, double host_pct)
{
    memset(sim, 0, sizeof(*sim));
    sim->n = n;
    sim->vms = calloc(n, sizeof(*sim->vms));
    sim->in = calloc(n, sizeof(*sim->in));
    sim->st = calloc(n, sizeof(*sim->st));
    sim->out = calloc(n, sizeof(*sim->out));
    if (!sim->vms || !sim->in || !sim->st || !sim->out) {
        fprintf(stderr, "ballast-sim: out of memory\n");
        exit(1);
    }
    rng_state = seed ? seed : 42;
    static const uint64_t sizes_mib[] = {256, 512, 1024, 2048};
    for (size_t i = 0; i < n; i++) {
        struct vm *v = &sim->vms[i];
        v->nominal = sizes_mib[rng() % 4] * MIB;
        v->overhead = v->nominal / 8 < 30 * MIB ? 30 * MIB : v->nominal / 8;
        v->base_used = (uint64_t)((0.20 + 0.15 * rng_unit()) * (double)v->nominal);
        v->used = v->base_used;
        v->cache = v->nominal / 10;
        v->actual = v->nominal;
        v->spike_started = -1;
        v->mom_free_avg = (double)mem_free(v);
        sim->nominal_sum += v->nominal;
    }
    sim->host_base = 1024 * MIB;
    sim->host_total = (uint64_t)((double)sim->nominal_sum * host_pct / 100.0) + sim->host_base;
    policy_tunables_default(&sim->tun);
}

static void sim_free(struct sim *sim)
{
    free(sim->vms);
    free(sim->in);
    free(sim->st);
    free(sim->out);
}

static uint64_t sim_actual_sum(const struct sim *sim)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < sim->n; i++)
        sum += sim->vms[i].actual;
    return sum;
}

/* The workload: a spike ends, or (about once per 30 minutes) begins: the
 * working set jumps by 30-50% of nominal and stays up for 1-5 minutes. */
static void workload_step(struct sim *sim, int t, struct result *res)
{
    for (size_t i = 0; i < sim->n; i++) {
        struct vm *v = &sim->vms[i];
        if (v->spike_left > 0) {
            if (--v->spike_left == 0)
                v->used = v->base_used;
        } else if (rng() % 360 == 0) { /* ~ once per 30 minutes */
            v->used = v->base_used + (uint64_t)((0.30 + 0.20 * rng_unit()) * (double)v->nominal);
            if (v->used > v->nominal - v->overhead - 8 * MIB)
                v->used = v->nominal - v->overhead - 8 * MIB;
            v->spike_left = 12 + (int)(rng() % 49);
            v->spike_started = t;
            res->spikes++;
        }
    }
}

/* What ballastd would hand the engine for this guest: its balloon, the
 * agent's fresh report, and a PRESSURE frame when the guest stalls. */
static void ballast_input(const struct vm *v, struct policy_vm_in *x)
{
    memset(x, 0, sizeof(*x));
    policy_vm_params_default(&x->params, v->nominal);
    x->actual_bytes = v->actual;
    x->target_bytes = v->actual;
    x->agent.valid = true;
    x->agent.age_ms = 1000;
    x->agent.mem_total_bytes = mem_total(v);
    x->agent.mem_available_bytes = mem_available(v);
    x->agent.mem_free_bytes = mem_free(v);
    x->agent.oom_kill_count = v->oom_kills;
    /* The agent's PSI trigger fires when reclaim stalls: the cache is gone
     * and MemAvailable is nearly spent. */
    x->pressure_event = mem_available(v) < v->nominal / 20;
}

/* One round per tick, and again at once (a second apart, up to 4 times)
 * while some agent still sends PRESSURE: ballastd runs the engine on every
 * PRESSURE frame, not at the next tick. */
static void ballast_round(struct sim *sim, int t, struct result *res)
{
    for (int sub = 0; sub < 5; sub++) {
        size_t pressured = 0;
        uint64_t actual_sum = 0;
        for (size_t i = 0; i < sim->n; i++) {
            ballast_input(&sim->vms[i], &sim->in[i]);
            pressured += sim->in[i].pressure_event;
            actual_sum += sim->vms[i].actual;
        }
        if (sub > 0 && pressured == 0)
            break;
        uint64_t host_used = sim->host_base + actual_sum;
        uint64_t host_avail = host_used < sim->host_total ? sim->host_total - host_used : 0;
        struct policy_snapshot snap = {
            .now_ms = (int64_t)t * TICK_MS + sub * 1000,
            .host = {.mem_total_bytes = sim->host_total, .mem_available_bytes = host_avail},
            .tunables = &sim->tun,
            .vms = sim->in,
            .n_vms = sim->n,
        };
        policy_evaluate(&snap, sim->st, sim->out, NULL);
        for (size_t i = 0; i < sim->n; i++) {
            if (sim->out[i].actuate) {
                sim->vms[i].actual = sim->out[i].target_bytes;
                res->balloon_ops++;
            }
        }
    }
}

/* The controller's turn: ballast every tick (and on PRESSURE), the MOM and
 * Proxmox models every 10 s. */
static void control_step(struct sim *sim, enum controller ctl, int t, struct result *res)
{
    uint64_t host_used = sim->host_base + sim_actual_sum(sim);
    uint64_t host_avail = host_used < sim->host_total ? sim->host_total - host_used : 0;
    if (ctl == CTL_BALLAST)
        ballast_round(sim, t, res);
    else if (ctl == CTL_MOM && t % 2 == 0)
        mom_round(sim->vms, sim->n, (double)host_avail * 100.0 / (double)sim->host_total,
                  &res->balloon_ops);
    else if (ctl == CTL_PROXMOX && t % 2 == 0)
        proxmox_round(sim->vms, sim->n, sim->host_total, host_used, &res->balloon_ops);
}

/* One guest after the controller's turn: starved (working set over
 * MemTotal, counted as an OOM kill), spike fitted, idle size. */
static void measure_vm(struct sim *sim, struct vm *v, int t, int ticks, struct result *res)
{
    v->mom_free_avg = 0.9 * v->mom_free_avg + 0.1 * (double)mem_free(v);
    bool starved = v->used > mem_total(v);
    if (starved) {
        res->starved_vm_s += TICK_MS / 1000;
        v->oom_kills++;
    }
    if (v->spike_started >= 0 && !starved) {
        double s = (double)(t - v->spike_started) * TICK_MS / 1000.0;
        sim->response_sum_s += s;
        if (s > res->max_response_s)
            res->max_response_s = s;
        sim->responses++;
        v->spike_started = -1;
    }
    if (v->spike_left == 0 && t > ticks / 4) {
        sim->idle_pct_sum += (double)v->actual * 100.0 / (double)v->nominal;
        sim->idle_samples++;
    }
}

/* Every guest, then the host: overcommitted and its lowest MemAvailable,
 * both after the warm-up (the first quarter of the run). */
static void measure_step(struct sim *sim, int t, int ticks, struct result *res)
{
    uint64_t actual_sum = 0;
    for (size_t i = 0; i < sim->n; i++) {
        actual_sum += sim->vms[i].actual;
        measure_vm(sim, &sim->vms[i], t, ticks, res);
    }
    uint64_t host_used = sim->host_base + actual_sum;
    if (host_used > sim->host_total && t >= ticks / 4)
        res->host_overcommit_s += TICK_MS / 1000; /* after the warm-up */
    double avail_pct = host_used < sim->host_total
                           ? (double)(sim->host_total - host_used) * 100.0 / (double)sim->host_total
                           : 0.0;
    if (avail_pct < res->min_host_avail_pct && t >= ticks / 4)
        res->min_host_avail_pct = avail_pct;
    sim->actual_pct_sum += (double)actual_sum * 100.0 / (double)sim->nominal_sum;
}

static void run(enum controller ctl, size_t n, int ticks, uint64_t seed, double host_pct,
                struct result *res)
{
    struct sim sim;
    sim_init(&sim, n, seed, host_pct);
    memset(res, 0, sizeof(*res));
    res->name = ctl_names[ctl];
    res->min_host_avail_pct = 100.0;
    for (int t = 0; t < ticks; t++) {
        workload_step(&sim, t, res);
        control_step(&sim, ctl, t, res);
        measure_step(&sim, t, ticks, res);
    }
    res->mean_actual_pct = sim.actual_pct_sum / ticks;
    res->idle_actual_pct = sim.idle_samples ? sim.idle_pct_sum / (double)sim.idle_samples : 0;
    res->mean_response_s = sim.responses ? sim.response_sum_s / (double)sim.responses : 0;
    sim_free(&sim);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ballast-sim [--vms N] [--minutes M] [--seed S] [--host-pct P] "
               "[--controller ballast|mom|proxmox|none|all] [--check]\n");
}

struct options {
    long vms, minutes;
    unsigned long long seed;
    double host_pct;
    const char *which; /* a controller's name, or "all" */
    bool check;
};

/* false when main should exit at once with *exit_code (--help: 0, a bad
 * option: 2). */
static bool parse_options(int argc, char **argv, struct options *o, int *exit_code)
{
    static const struct option opts[] = {
        {"vms", required_argument, NULL, 'n'},
        {"minutes", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'},
        {"host-pct", required_argument, NULL, 'p'},
        {"controller", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.vms = 1000, .minutes = 60, .seed = 42, .host_pct = 70.0, .which = "all"};
    int c;
    while ((c = getopt_long(argc, argv, "n:m:s:p:c:kh", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'n':
            o->vms = strtol(optarg, &end, 10);
            break;
        case 'm':
            o->minutes = strtol(optarg, &end, 10);
            break;
        case 's':
            o->seed = strtoull(optarg, &end, 10);
            break;
        case 'p':
            o->host_pct = strtod(optarg, &end);
            break;
        case 'c':
            o->which = optarg;
            end = optarg + strlen(optarg);
            break;
        case 'k':
            o->check = true;
            end = (char *)"";
            break;
        case 'h':
            usage(stdout);
            *exit_code = 0;
            return false;
        default:
            usage(stderr);
            *exit_code = 2;
            return false;
        }
        if (!end || *end || o->vms < 1 || o->vms > 1000000 || o->minutes < 1 ||
            o->minutes > 10080 || !(o->host_pct > 1.0 && o->host_pct <= 1000.0)) {
            fprintf(stderr, "ballast-sim: bad option value\n");
            usage(stderr);
            *exit_code = 2;
            return false;
        }
    }
    return true;
}

static void print_row(const struct result *r)
{
    printf("| %s | %.1f | %.1f | %.1f | %llu | %llu | %llu | %.1f / %.0f | %llu |\n", r->name,
           r->mean_actual_pct, r->idle_actual_pct, r->min_host_avail_pct,
           (unsigned long long)r->host_overcommit_s, (unsigned long long)r->spikes,
           (unsigned long long)r->starved_vm_s, r->mean_response_s, r->max_response_s,
           (unsigned long long)r->balloon_ops);
}

int main(int argc, char **argv)
{
    struct options o;
    int exit_code = 0;
    if (!parse_options(argc, argv, &o, &exit_code))
        return exit_code;
    int ticks = (int)(o.minutes * 60000 / TICK_MS);
    printf("fleet: %ld VMs, %ld min at %d s ticks, host RAM = %.0f%% of the fleet's nominal, "
           "seed %llu\n\n",
           o.vms, o.minutes, TICK_MS / 1000, o.host_pct, o.seed);
    printf("| controller | mean balloon (%% of nominal) | idle VMs (%% of nominal) | min host "
           "avail %% | host overcommitted (s) | spikes | starved VM-s | mean / max time to "
           "fit a spike (s) | balloon ops |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    struct result results[4] = {0};
    for (int k = 0; k < 4; k++) {
        if (!o.check && strcmp(o.which, "all") != 0 && strcmp(o.which, ctl_names[k]) != 0)
            continue;
        run((enum controller)k, (size_t)o.vms, ticks, o.seed, o.host_pct, &results[k]);
        print_row(&results[k]);
    }
    if (o.check) {
        const struct result *b = &results[CTL_BALLAST], *m = &results[CTL_MOM];
        bool ok = b->starved_vm_s == 0 && b->max_response_s <= TICK_MS / 1000 &&
                  b->idle_actual_pct < m->idle_actual_pct && b->host_overcommit_s == 0;
        fprintf(ok ? stdout : stderr, "\ncheck: %s\n", ok ? "ok" : "FAILED");
        return ok ? 0 : 1;
    }
    return 0;
}
