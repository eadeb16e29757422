/*
 * ballast-workload: a memory exerciser for the tiny guest. It allocates,
 * touches and frees memory on the schedule given as its one argument (the
 * ballast.workload= value the agent passes on), so tests and benchmarks can
 * make a guest use a known amount at a known time. Memory is taken in 1 MiB
 * mmap chunks and every page is written with a value unique to it, so it is
 * really resident and KSM cannot merge it; freeing is munmap, so the pages
 * go back to the guest at once. With high=SIZE it first moves itself into
 * its own cgroup with that memory.high: going over it then throttles the
 * workload in reclaim, which is memory pressure (PSI) without an OOM kill.
 */
#include "workload_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (1u << 20)
#define MAX_CHUNKS  16384 /* 16 GiB */
#define CGROUP      "/sys/fs/cgroup"

static void *chunks[MAX_CHUNKS];
static size_t chunk_count;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = write(fd, text, strlen(text)) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static void own_cgroup(uint64_t high_bytes)
{
    char text[32];
    int rc = write_file(CGROUP "/cgroup.subtree_control", "+memory");
    if (rc == 0 && mkdir(CGROUP "/ballast-workload", 0755) < 0 && errno != EEXIST)
        rc = -errno;
    if (rc == 0)
        rc = write_file(CGROUP "/ballast-workload/cgroup.procs", "0");
    snprintf(text, sizeof(text), "%llu", (unsigned long long)high_bytes);
    if (rc == 0)
        rc = write_file(CGROUP "/ballast-workload/memory.high", text);
    if (rc < 0)
        fprintf(stderr, "ballast-workload: memory.high %s: %s (going on without)\n", text,
                strerror(-rc));
}

static int grow(void)
{
    void *p = mmap(NULL, CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    static uint64_t page_serial;
    long page = sysconf(_SC_PAGESIZE);
    for (size_t off = 0; off < CHUNK_BYTES; off += (size_t)page) {
        uint64_t v = ++page_serial ^ ((uint64_t)getpid() << 40);
        memcpy((char *)p + off, &v, sizeof(v));
    }
    chunks[chunk_count++] = p;
    return 0;
}

static void shrink(void)
{
    munmap(chunks[--chunk_count], CHUNK_BYTES);
}

int main(int argc, char **argv)
{
    struct workload_spec spec;
    if (argc != 2 || workload_spec_parse(argv[1], &spec) < 0) {
        fprintf(stderr, "usage: ballast-workload SPEC   (see docs/agent.md; got '%s')\n",
                argc > 1 ? argv[1] : "");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    if (spec.high_bytes)
        own_cgroup(spec.high_bytes);
    uint64_t t0 = now_ms();
    size_t announced = (size_t)-1;
    for (;;) {
        uint64_t elapsed = now_ms() - t0;
        size_t want = (size_t)(workload_target_bytes(&spec, elapsed) / CHUNK_BYTES);
        if (want > MAX_CHUNKS)
            want = MAX_CHUNKS;
        if (want != announced) {
            printf("ballast-workload: t=%llu ms target %zu MiB (holding %zu)\n",
                   (unsigned long long)elapsed, want, chunk_count);
            announced = want;
        }
        /* Grow a chunk at a time, re-checking the clock: the spike may end meanwhile. */
        uint64_t slice_end = now_ms() + 100;
        while (chunk_count < want && now_ms() < slice_end) {
            int rc = grow();
            if (rc < 0) {
                fprintf(stderr, "ballast-workload: mmap: %s\n", strerror(-rc));
                break;
            }
            if (chunk_count == want)
                printf("ballast-workload: t=%llu ms holding %zu MiB\n",
                       (unsigned long long)(now_ms() - t0), chunk_count);
        }
        while (chunk_count > want)
            shrink();
        if (chunk_count == want) {
            struct timespec nap = {0, 50 * 1000000};
            nanosleep(&nap, NULL);
        }
    }
}
