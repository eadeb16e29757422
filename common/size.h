/*
 * Human sizes ("128M", "1.5GiB", "4096") to bytes and back. Used by the fleet
 * launcher's --memory, config files (min/max memory) and ballastctl output.
 */
#ifndef BALLAST_SIZE_H
#define BALLAST_SIZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a size: a decimal number with an optional fraction, then an optional
 * binary suffix K, M, G, T (also KiB/MiB/GiB/TiB, KB/MB/GB/TB, case-blind; all
 * mean powers of 1024 as QEMU's -m does) or B. A bare number is bytes unless
 * default_unit_bytes says otherwise (QEMU's -m takes MiB: pass 1 << 20).
 * Returns 0, or -EINVAL for anything malformed (empty, sign, garbage, a
 * trailing character) and -ERANGE when the value does not fit in 64 bits.
 */
int size_parse(const char *text, uint64_t default_unit_bytes, uint64_t *out_bytes);

/* Formats bytes as "128.0 MiB"-style text into buf; returns buf. */
char *size_format(uint64_t bytes, char *buf, size_t buf_len);

#endif
