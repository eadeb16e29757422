/* Human-readable sizes; see size.h. Pure functions, no allocation. */
#include "size.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct size_suffix {
    const char *name;
    uint64_t multiplier;
};

static const struct size_suffix suffixes[] = {
    {"", 0}, /* replaced by default_unit_bytes */
    {"b", 1},
    {"k", 1ULL << 10},   {"kb", 1ULL << 10},   {"kib", 1ULL << 10},
    {"m", 1ULL << 20},   {"mb", 1ULL << 20},   {"mib", 1ULL << 20},
    {"g", 1ULL << 30},   {"gb", 1ULL << 30},   {"gib", 1ULL << 30},
    {"t", 1ULL << 40},   {"tb", 1ULL << 40},   {"tib", 1ULL << 40},
};

int size_parse(const char *text, uint64_t default_unit_bytes, uint64_t *out_bytes)
{
    if (!text || !out_bytes || default_unit_bytes == 0)
        return -EINVAL;
    const char *p = text;
    uint64_t whole = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (whole > (UINT64_MAX - d) / 10)
            return -ERANGE;
        whole = whole * 10 + d;
        p++;
        digits++;
    }
    if (digits == 0)
        return -EINVAL; /* ".5", "M", "" */
    /* Up to 9 fractional digits, kept as a fraction of 10^9. */
    uint64_t frac_num = 0, frac_den = 1;
    if (*p == '.') {
        p++;
        int frac_digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (frac_digits < 9) {
                frac_num = frac_num * 10 + (uint64_t)(*p - '0');
                frac_den *= 10;
            }
            frac_digits++;
            p++;
        }
        if (frac_digits == 0)
            return -EINVAL;
    }

    uint64_t mult = 0;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (strcasecmp(p, suffixes[i].name) == 0) {
            mult = i == 0 ? default_unit_bytes : suffixes[i].multiplier;
            break;
        }
    }
    if (mult == 0)
        return -EINVAL;
    if (whole > UINT64_MAX / mult)
        return -ERANGE;
    uint64_t bytes = whole * mult;
    /* frac_num < frac_den <= 1e9 and mult <= 2^40: compute without overflow. */
    uint64_t frac_bytes = (mult / frac_den) * frac_num + (mult % frac_den) * frac_num / frac_den;
    if (bytes > UINT64_MAX - frac_bytes)
        return -ERANGE;
    *out_bytes = bytes + frac_bytes;
    return 0;
}

char *size_format(uint64_t bytes, char *buf, size_t buf_len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (!buf || buf_len == 0)
        return buf;
    if (bytes < 1024) {
        snprintf(buf, buf_len, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    size_t unit = 0;
    double value = (double)bytes;
    while (value >= 1024.0 && unit + 1 < sizeof(units) / sizeof(units[0])) {
        value /= 1024.0;
        unit++;
    }
    snprintf(buf, buf_len, "%.1f %s", value, units[unit]);
    return buf;
}
