/*
 * The memory figures of one cgroup v2 directory: what ballastd reads when
 * `memory_cgroup` in ballastd.conf says the fleet lives in a cgroup whose
 * figures stand in for the host's (docs/config.md, docs/policy.md):
 *
 *   memory.current   one number: bytes charged to the cgroup now
 *   memory.max       a number or "max": the hard limit (OOM beyond it)
 *   memory.high      a number or "max": the throttle point (reclaim beyond it)
 *   memory.pressure  "some avg10=… avg60=… avg300=… total=…" and "full …",
 *                    the format of /proc/pressure/memory (psi.h)
 *
 * The directory is a parameter, so tests point the reader at fixture trees.
 * Its content is not trusted: a garbled number, an over-long file or a
 * number past 64 bits fails the read (the caller then falls back to the
 * host's own figures and says so) instead of guessing a limit. No heap:
 * fixed stack buffers only.
 */
#ifndef BALLAST_CGROUP_MEM_H
#define BALLAST_CGROUP_MEM_H

#include <stdint.h>

#include "psi.h"

/* memory.max / memory.high of "max" (and a missing file): no limit. */
#define CGROUP_MEM_UNLIMITED UINT64_MAX

#define CGROUP_MEM_HAS_CURRENT  (1u << 0)
#define CGROUP_MEM_HAS_MAX      (1u << 1) /* memory.max was read (it may say "max") */
#define CGROUP_MEM_HAS_HIGH     (1u << 2)
#define CGROUP_MEM_HAS_PRESSURE (1u << 3) /* memory.pressure has a valid "some" line */

struct cgroup_mem {
    uint64_t current_bytes;
    uint64_t max_bytes;  /* CGROUP_MEM_UNLIMITED when "max" or absent */
    uint64_t high_bytes; /* likewise */
    struct psi pressure; /* pressure.valid 0 when absent, unreadable or garbled */
    uint32_t valid;      /* CGROUP_MEM_HAS_* */
};

/*
 * Parses the text of memory.max or memory.high: "max" or decimal digits,
 * then only white space. Returns 0 (*out_bytes CGROUP_MEM_UNLIMITED for
 * "max"), -EINVAL for anything else, -ERANGE past 64 bits.
 */
int cgroup_mem_parse_limit(const char *text, size_t len, uint64_t *out_bytes);

/*
 * Reads DIR/memory.{current,max,high,pressure}. memory.current is required;
 * an absent memory.max or memory.high means no limit; an absent or garbled
 * memory.pressure only leaves pressure.valid 0 (PSI can be off).
 * Returns 0, or (out zeroed):
 *   -ENOENT           no memory.current: not a cgroup v2 directory, or the
 *                     memory controller is not enabled for it;
 *   -EPROTONOSUPPORT  a cgroup v1 memory directory (memory.usage_in_bytes);
 *   -EINVAL, -ERANGE  garbage, or a number past 64 bits, in a memory file;
 *   -EFBIG            a memory file longer than any the kernel writes;
 *   other -errno      from open/read (-EACCES, -ENAMETOOLONG, ...).
 */
int cgroup_mem_read(const char *dir, struct cgroup_mem *out);

/* The limit that binds first: the lower of memory.max and memory.high
 * (CGROUP_MEM_UNLIMITED when neither limits). */
uint64_t cgroup_mem_limit_bytes(const struct cgroup_mem *m);

/* What a cgroup_mem_read error means, for a status field and a log line. */
const char *cgroup_mem_strerror(int rc);

#endif
