/*
 * Writes ksmd's settings under /sys/kernel/mm/ksm (or a test's copy of it).
 * The order matters to the kernel (mm/ksm.c): pages_to_scan is refused with
 * EINVAL while the scan-time advisor runs, and changing advisor_mode resets
 * pages_to_scan (to 100 for none, to advisor_min_pages_to_scan for
 * scan-time). So: stop first, leave the advisor before touching
 * pages_to_scan, set the advisor's limits before entering it, start last.
 */
#include "ksm.h"
#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const setting_files[KSM_S_COUNT] = {
    [KSM_S_RUN] = "run",
    [KSM_S_PAGES_TO_SCAN] = "pages_to_scan",
    [KSM_S_SLEEP_MS] = "sleep_millisecs",
    [KSM_S_USE_ZERO_PAGES] = "use_zero_pages",
    [KSM_S_ADVISOR_MODE] = "advisor_mode",
    [KSM_S_ADVISOR_MAX_CPU] = "advisor_max_cpu",
    [KSM_S_ADVISOR_TARGET_SCAN_TIME] = "advisor_target_scan_time",
};

const char *ksm_setting_name(enum ksm_setting s)
{
    return (unsigned)s < KSM_S_COUNT ? setting_files[s] : NULL;
}

/* sysfs takes one write(2) per value; a short write is an error. */
static int write_value(const char *root, enum ksm_setting s, const char *text)
{
    /* No O_CREAT: a file the kernel lacks is an error, not a new file. */
    int fd = procfile_open(root, setting_files[s], O_WRONLY | O_TRUNC | O_NOCTTY);
    if (fd < 0)
        return fd;
    size_t len = strlen(text);
    ssize_t w;
    do {
        w = write(fd, text, len);
    } while (w < 0 && errno == EINTR);
    int rc = w < 0 ? -errno : ((size_t)w != len ? -EIO : 0);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

static int write_setting(const char *root, const struct ksm_settings *st, enum ksm_setting s)
{
    char text[32];
    uint64_t v = 0;
    switch (s) {
    case KSM_S_RUN:
        if (st->run > 2)
            return -EINVAL;
        v = st->run;
        break;
    case KSM_S_PAGES_TO_SCAN:
        if (st->pages_to_scan == 0 || st->pages_to_scan > UINT_MAX)
            return -EINVAL;
        v = st->pages_to_scan;
        break;
    case KSM_S_SLEEP_MS:
        if (st->sleep_ms > UINT_MAX)
            return -EINVAL;
        v = st->sleep_ms;
        break;
    case KSM_S_USE_ZERO_PAGES:
        if (st->use_zero_pages > 1)
            return -EINVAL;
        v = st->use_zero_pages;
        break;
    case KSM_S_ADVISOR_MODE:
        if (st->advisor_mode != KSM_ADVISOR_NONE && st->advisor_mode != KSM_ADVISOR_SCAN_TIME)
            return -EINVAL;
        return write_value(root, s, ksm_advisor_name(st->advisor_mode));
    case KSM_S_ADVISOR_MAX_CPU:
        if (st->advisor_max_cpu_pct == 0 || st->advisor_max_cpu_pct > 100)
            return -EINVAL;
        v = st->advisor_max_cpu_pct;
        break;
    case KSM_S_ADVISOR_TARGET_SCAN_TIME:
        if (st->advisor_target_scan_time_s == 0 || st->advisor_target_scan_time_s > UINT_MAX)
            return -EINVAL;
        v = st->advisor_target_scan_time_s;
        break;
    default:
        return -EINVAL;
    }
    snprintf(text, sizeof(text), "%llu", (unsigned long long)v);
    return write_value(root, s, text);
}

int ksm_apply(const char *sysfs_root, const struct ksm_settings *settings, enum ksm_setting *failed)
{
    if (!settings)
        return -EINVAL;
    const char *root = sysfs_root ? sysfs_root : KSM_SYSFS_ROOT;
    const uint32_t m = settings->mask;
    bool stop = (m & KSM_BIT(KSM_S_RUN)) && settings->run != 1;
    bool start = (m & KSM_BIT(KSM_S_RUN)) && settings->run == 1;
    bool leave_advisor =
        (m & KSM_BIT(KSM_S_ADVISOR_MODE)) && settings->advisor_mode == KSM_ADVISOR_NONE;
    bool enter_advisor =
        (m & KSM_BIT(KSM_S_ADVISOR_MODE)) && settings->advisor_mode != KSM_ADVISOR_NONE;

    /* The order explained at the top of this file; each step only if asked. */
    struct {
        enum ksm_setting s;
        bool wanted;
    } steps[] = {
        {KSM_S_RUN, stop},
        {KSM_S_ADVISOR_MODE, leave_advisor},
        {KSM_S_USE_ZERO_PAGES, m & KSM_BIT(KSM_S_USE_ZERO_PAGES)},
        {KSM_S_SLEEP_MS, m & KSM_BIT(KSM_S_SLEEP_MS)},
        {KSM_S_PAGES_TO_SCAN, m & KSM_BIT(KSM_S_PAGES_TO_SCAN)},
        {KSM_S_ADVISOR_MAX_CPU, m & KSM_BIT(KSM_S_ADVISOR_MAX_CPU)},
        {KSM_S_ADVISOR_TARGET_SCAN_TIME, m & KSM_BIT(KSM_S_ADVISOR_TARGET_SCAN_TIME)},
        {KSM_S_ADVISOR_MODE, enter_advisor},
        {KSM_S_RUN, start},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (!steps[i].wanted)
            continue;
        int rc = write_setting(root, settings, steps[i].s);
        if (rc < 0) {
            if (failed)
                *failed = steps[i].s;
            return rc;
        }
    }
    return 0;
}
