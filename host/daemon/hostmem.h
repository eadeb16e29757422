/*
 * The host's memory state each tick: MemTotal/MemAvailable from
 * <proc>/meminfo and memory PSI from <proc>/pressure/memory, read into fixed
 * stack buffers (no allocation per tick). The root is a parameter so tests
 * point it at fixture trees.
 */
#ifndef BALLAST_HOSTMEM_H
#define BALLAST_HOSTMEM_H

#include "policy.h"

/*
 * Fills out (psi_valid false when the PSI file is absent or unreadable).
 * Returns 0, or -errno / -EINVAL when meminfo is unreadable or lacks
 * MemTotal/MemAvailable (out then unchanged).
 */
int hostmem_read(const char *proc_root, struct policy_host *out);

#endif
