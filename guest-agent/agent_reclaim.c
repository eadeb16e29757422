/*
 * RECLAIM: the host asks the guest to give back reclaimable memory, so that
 * free page reporting or the balloon can take it without pushing the guest
 * into reclaim under pressure later. Proactive reclaim goes through the root
 * cgroup's memory.reclaim (kernel >= 5.19), in steps so that the agent's loop
 * is never stuck for long and never asks for more than the host did; older
 * kernels only have drop_caches (clean page cache, amount not controllable).
 * What was freed is measured, as the rise of MemFree, not assumed.
 */
#include "agent.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool agent_reclaim_has_cgroup(const char *cgroup_root)
{
    int fd = procfile_open(cgroup_root, "memory.reclaim", O_WRONLY);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static int write_number(int fd, uint64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
    /* One write per request; memory.reclaim returns EAGAIN when it fell short. */
    return pwrite(fd, text, (size_t)n, 0) < 0 ? -errno : 0;
}

static uint64_t mem_free(const char *proc_root)
{
    struct meminfo mi;
    if (meminfo_read(proc_root, &mi) < 0 || !MEMINFO_HAS(&mi, MEMINFO_FREE))
        return 0;
    return mi.bytes[MEMINFO_FREE];
}

void agent_reclaim(const char *proc_root, const char *cgroup_root, uint64_t request_bytes,
                   struct proto_reclaim_done *out)
{
    memset(out, 0, sizeof(*out));
    out->requested_bytes = request_bytes;
    uint64_t start_ns = agent_now_ns();
    uint64_t free_before = mem_free(proc_root);

    int fd = procfile_open(cgroup_root, "memory.reclaim", O_WRONLY | O_TRUNC);
    if (fd >= 0) {
        out->method = PROTO_RECLAIM_CGROUP;
        uint64_t asked = 0;
        while (asked < request_bytes) {
            uint64_t step = request_bytes - asked;
            if (step > AGENT_RECLAIM_STEP_BYTES)
                step = AGENT_RECLAIM_STEP_BYTES;
            int rc = write_number(fd, step);
            asked += step;
            if (rc < 0) {
                out->status = rc; /* -EAGAIN: the kernel found less to reclaim */
                break;
            }
            if ((agent_now_ns() - start_ns) / 1000000 >= AGENT_RECLAIM_BUDGET_MS) {
                if (asked < request_bytes)
                    out->status = -ETIMEDOUT;
                break;
            }
        }
        close(fd);
    } else if (request_bytes > 0) {
        int dc = procfile_open(proc_root, "sys/vm/drop_caches", O_WRONLY | O_TRUNC);
        if (dc < 0) {
            out->status = dc;
        } else {
            out->method = PROTO_RECLAIM_DROP_CACHES;
            sync(); /* drop_caches only drops clean pages */
            if (pwrite(dc, "1", 1, 0) < 0)
                out->status = -errno;
            close(dc);
        }
    }

    uint64_t free_after = mem_free(proc_root);
    uint64_t freed = free_after > free_before ? free_after - free_before : 0;
    /* memory.reclaim was never asked for more: what else freed up is not ours. */
    if (out->method == PROTO_RECLAIM_CGROUP && freed > request_bytes)
        freed = request_bytes;
    out->freed_bytes = freed;
    out->duration_us = (agent_now_ns() - start_ns) / 1000;
}
