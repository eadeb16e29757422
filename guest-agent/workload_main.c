/*
 * ballast-workload: a memory exerciser for the tiny guest. It allocates,
 * touches and frees memory on the schedule given as its one argument (the
 * ballast.workload= value the agent passes on), so tests and benchmarks can
 * make a guest use a known amount at a known time. Memory is taken in 1 MiB
 * mmap chunks and every page is written with a value unique to it (and to
 * this run: a random salt), so it is really resident and KSM cannot merge
 * it, within a guest or across like guests; freeing is munmap, so the pages
 * go back to the guest at once. With high=SIZE it first moves itself into
 * its own cgroup with that memory.high: going over it then throttles the
 * workload in reclaim, which is memory pressure (PSI) without an OOM kill.
 * With cache=SIZE, after each burst it writes SIZE of unique data to the
 * guest's disk (/dev/vda, the launcher's --disk) through the page cache
 * and syncs it: the clean page cache a guest keeps after it ran something,
 * which free page reporting and KSM cannot give back, only reclaim can.
 */
#include "workload_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES (1u << 20)
#define MAX_CHUNKS  16384 /* 16 GiB */
#define CGROUP      "/sys/fs/cgroup"
#define CACHE_DISK  "/dev/vda"

static void *chunks[MAX_CHUNKS];
static size_t chunk_count;
/* Mixed into every page's word. The serial alone (or with the PID, which is
 * the same in every tiny guest: the boot is deterministic) would give like
 * guests the same pages, and KSM would merge what is meant to be each
 * guest's own memory. */
static uint64_t salt;

static void init_salt(void)
{
    if (getrandom(&salt, sizeof(salt), GRND_NONBLOCK) == (ssize_t)sizeof(salt))
        return;
    struct timespec ts; /* no entropy yet: the boot's nanoseconds differ too */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    salt = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 48);
}

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
        uint64_t v = ++page_serial ^ salt;
        memcpy((char *)p + off, &v, sizeof(v));
    }
    chunks[chunk_count++] = p;
    return 0;
}

/*
 * cache=SIZE: SIZE bytes from offset 0 of the disk, one unique word per page
 * (KSM cannot merge them, as with the anonymous chunks), then fdatasync so
 * the pages are clean cache, reclaimable without I/O. The same range each
 * time: the cache left behind stays SIZE, it does not grow. Returns 0 or
 * -errno; a guest without the disk says so once and goes on without.
 */
static int write_cache(uint64_t bytes)
{
    static char buf[CHUNK_BYTES];
    static uint64_t serial;
    /* Held open for good: the kernel drops a block device's whole page cache
     * when its last opener closes it (as a mounted file system never does). */
    static int fd = -1;
    if (fd < 0)
        fd = open(CACHE_DISK, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    long page = sysconf(_SC_PAGESIZE);
    int rc = 0;
    for (uint64_t off = 0; off < bytes && rc == 0; off += CHUNK_BYTES) {
        size_t n = bytes - off < CHUNK_BYTES ? (size_t)(bytes - off) : CHUNK_BYTES;
        for (size_t p = 0; p < n; p += (size_t)page) {
            uint64_t v = ++serial ^ salt ^ (1ull << 63);
            memcpy(buf + p, &v, sizeof(v));
        }
        ssize_t w = pwrite(fd, buf, n, (off_t)off);
        if (w < 0)
            rc = -errno;
        else if ((size_t)w != n)
            rc = -ENOSPC; /* the disk is smaller than cache= */
    }
    if (rc == 0 && fdatasync(fd) < 0)
        rc = -errno;
    return rc;
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
    init_salt();
    if (spec.high_bytes)
        own_cgroup(spec.high_bytes);
    uint64_t t0 = now_ms();
    size_t announced = (size_t)-1;
    uint64_t prev_target = UINT64_MAX, target = UINT64_MAX;
    unsigned cache_writes = 0;
    int cache_failed = 0;
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
        if ((uint64_t)want * CHUNK_BYTES != target) {
            prev_target = target;
            target = (uint64_t)want * CHUNK_BYTES;
        }
        if (!cache_failed &&
            workload_cache_due(&spec, prev_target, target, chunk_count == want, cache_writes)) {
            int rc = write_cache(spec.cache_bytes);
            if (rc < 0) {
                fprintf(stderr, "ballast-workload: cache=: writing %s: %s (going on without)\n",
                        CACHE_DISK, strerror(-rc));
                cache_failed = 1;
            } else {
                printf("ballast-workload: t=%llu ms left %llu MiB of page cache on %s\n",
                       (unsigned long long)(now_ms() - t0),
                       (unsigned long long)(spec.cache_bytes >> 20), CACHE_DISK);
            }
            cache_writes++;
            prev_target = target; /* once per drop */
        }
        if (chunk_count == want) {
            struct timespec nap = {0, 50 * 1000000};
            nanosleep(&nap, NULL);
        }
    }
}
