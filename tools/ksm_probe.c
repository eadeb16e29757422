/*
 * ballast-ksm-probe: prints what the KSM readers see, as key=value lines, for a
 * manual check on a real host and as the sampler of the KSM benchmark.
 *
 *   ballast-ksm-probe [--sysfs DIR] [--proc DIR] [--interval-ms N] [PID...]
 *
 * Host fields first (absent ones are not printed, garbage ones print
 * "invalid"), then ksmd's CPU over --interval-ms (default 1000; 0 skips it),
 * then per-PID KSM state and accounting. Exit: 0 ok, 1 a reader failed,
 * 2 usage.
 */
#include "ksm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void print_host(const struct ksm_host_sample *h)
{
    for (unsigned f = 0; f < KSM_F_COUNT; f++) {
        const char *name = ksm_host_field_name((enum ksm_host_field)f);
        if (h->invalid & KSM_BIT(f)) {
            printf("host.%s=invalid\n", name);
            continue;
        }
        if (!(h->present & KSM_BIT(f)))
            continue;
        switch ((enum ksm_host_field)f) {
        case KSM_F_ADVISOR_MODE:
            printf("host.%s=%s\n", name, ksm_advisor_name(h->advisor_mode));
            break;
        case KSM_F_GENERAL_PROFIT:
            printf("host.%s=%lld\n", name, (long long)h->general_profit_bytes);
            break;
        default: {
            /* Every other field is a uint64_t; the table maps name to member. */
            const uint64_t *vals[KSM_F_COUNT] = {
                [KSM_F_RUN] = &h->run,
                [KSM_F_PAGES_TO_SCAN] = &h->pages_to_scan,
                [KSM_F_SLEEP_MILLISECS] = &h->sleep_ms,
                [KSM_F_USE_ZERO_PAGES] = &h->use_zero_pages,
                [KSM_F_MERGE_ACROSS_NODES] = &h->merge_across_nodes,
                [KSM_F_MAX_PAGE_SHARING] = &h->max_page_sharing,
                [KSM_F_SMART_SCAN] = &h->smart_scan,
                [KSM_F_ADVISOR_MAX_CPU] = &h->advisor_max_cpu_pct,
                [KSM_F_ADVISOR_TARGET_SCAN_TIME] = &h->advisor_target_scan_time_s,
                [KSM_F_ADVISOR_MIN_PAGES_TO_SCAN] = &h->advisor_min_pages_to_scan,
                [KSM_F_ADVISOR_MAX_PAGES_TO_SCAN] = &h->advisor_max_pages_to_scan,
                [KSM_F_PAGES_SHARED] = &h->pages_shared,
                [KSM_F_PAGES_SHARING] = &h->pages_sharing,
                [KSM_F_PAGES_UNSHARED] = &h->pages_unshared,
                [KSM_F_PAGES_VOLATILE] = &h->pages_volatile,
                [KSM_F_PAGES_SCANNED] = &h->pages_scanned,
                [KSM_F_PAGES_SKIPPED] = &h->pages_skipped,
                [KSM_F_FULL_SCANS] = &h->full_scans,
                [KSM_F_KSM_ZERO_PAGES] = &h->ksm_zero_pages,
                [KSM_F_STABLE_NODE_CHAINS] = &h->stable_node_chains,
                [KSM_F_STABLE_NODE_DUPS] = &h->stable_node_dups,
            };
            if (vals[f])
                printf("host.%s=%llu\n", name, (unsigned long long)*vals[f]);
        }
        }
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int probe_ksmd(const char *proc, uint64_t interval_ms)
{
    pid_t pid;
    int rc = ksm_ksmd_find(proc, &pid);
    if (rc < 0) {
        printf("ksmd.error=%s\n", strerror(-rc));
        return rc;
    }
    printf("ksmd.pid=%ld\n", (long)pid);
    uint64_t t0, t1;
    rc = ksm_ksmd_cpu_ticks(proc, pid, &t0);
    if (rc < 0 || interval_ms == 0)
        return rc;
    uint64_t start = now_ms();
    usleep((useconds_t)(interval_ms * 1000));
    rc = ksm_ksmd_cpu_ticks(proc, pid, &t1);
    if (rc < 0)
        return rc;
    double pct;
    rc = ksm_cpu_pct(t0, t1, now_ms() - start, (uint64_t)sysconf(_SC_CLK_TCK), &pct);
    if (rc == 0)
        printf("ksmd.ticks=%llu\nksmd.cpu_pct=%.2f\n", (unsigned long long)t1, pct);
    return rc;
}

int main(int argc, char **argv)
{
    const char *sysfs = KSM_SYSFS_ROOT, *proc = KSM_PROC_ROOT;
    uint64_t interval_ms = 1000;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (i + 1 >= argc) {
            fprintf(stderr, "usage: %s [--sysfs DIR] [--proc DIR] [--interval-ms N] [PID...]\n",
                    argv[0]);
            return 2;
        }
        if (strcmp(argv[i], "--sysfs") == 0)
            sysfs = argv[++i];
        else if (strcmp(argv[i], "--proc") == 0)
            proc = argv[++i];
        else if (strcmp(argv[i], "--interval-ms") == 0)
            interval_ms = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
            return 2;
        }
    }
    int status = 0;
    struct ksm_host_sample host;
    int rc = ksm_read_host(sysfs, &host);
    if (rc < 0) {
        fprintf(stderr, "ksm: %s: %s\n", sysfs, strerror(-rc));
        status = 1;
    }
    if (rc != -ENOENT) {
        print_host(&host);
        struct ksm_host_account acc;
        long page = sysconf(_SC_PAGESIZE);
        if (ksm_account_host(&host, (uint64_t)page, &acc) == 0)
            printf("host.saved_bytes=%llu\nhost.saved_zero_bytes=%llu\n"
                   "host.rmap_cost_bytes=%llu\nhost.net_profit_bytes=%lld\n",
                   (unsigned long long)acc.saved_bytes, (unsigned long long)acc.saved_zero_bytes,
                   (unsigned long long)acc.rmap_cost_bytes, (long long)acc.net_profit_bytes);
    }
    if (probe_ksmd(proc, interval_ms) < 0)
        status = 1;
    for (; i < argc; i++) {
        pid_t pid = (pid_t)atol(argv[i]);
        struct ksm_proc_sample ps;
        rc = ksm_read_proc(proc, pid, &ps);
        if (rc < 0 && rc != -EINVAL) {
            printf("pid.%ld.error=%s\n", (long)pid, strerror(-rc));
            status = 1;
            continue;
        }
        struct ksm_vm_account va;
        ksm_account_vm(&ps, &host, (uint64_t)sysconf(_SC_PAGESIZE), &va);
        printf("pid.%ld.rmap_items=%llu\npid.%ld.merging_pages=%llu\npid.%ld.zero_pages=%llu\n"
               "pid.%ld.saved_sharing_bytes=%llu\npid.%ld.saved_zero_bytes=%llu\n"
               "pid.%ld.net_profit_bytes=%lld\npid.%ld.mergeable=%d\n",
               (long)pid, (unsigned long long)ps.rmap_items, (long)pid,
               (unsigned long long)ps.merging_pages, (long)pid, (unsigned long long)ps.zero_pages,
               (long)pid, (unsigned long long)va.saved_sharing_bytes, (long)pid,
               (unsigned long long)va.saved_zero_bytes, (long)pid, (long long)va.net_profit_bytes,
               (long)pid, ps.mergeable);
        if (rc < 0)
            status = 1;
    }
    return status;
}
