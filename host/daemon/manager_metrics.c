/*
 * ballastd's metrics: the Prometheus listener of `metrics_listen` (started
 * with the manager, moved or stopped at a SIGHUP that changes the key) and
 * the figures of ballastd itself that status and the metrics carry.
 *
 * The listener is optional and never fatal: a busy port or a bad address
 * is logged once, with the key, and the daemon keeps managing the guests
 * without it — the balloons matter more than their graphs.
 */
#include "manager_private.h"

#include "metrics_http.h"
#include "metrics_text.h"
#include "procfile.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void manager_self_usage(const char *proc_root, struct ctl_host_status *h)
{
    /* statm: size resident shared text lib data dt, in pages. */
    char buf[128];
    size_t len;
    uint64_t size_pages, resident_pages;
    if (procfile_read(proc_root, "self/statm", buf, sizeof(buf), &len) == 0) {
        const char *p = buf, *end = buf + len;
        if (procfile_parse_u64(&p, end, &size_pages) == 0) {
            procfile_skip_blanks(&p, end);
            if (procfile_parse_u64(&p, end, &resident_pages) == 0)
                h->daemon_rss_bytes = (int64_t)(resident_pages * (uint64_t)sysconf(_SC_PAGESIZE));
        }
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        h->daemon_cpu_seconds = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The listener's body: the same rows as `status`, written as exposition text. */
static char *metrics_body(void *data)
{
    return manager_metrics_text(data);
}

void manager_metrics_configure(struct manager *m)
{
    const char *want = m->cfg->daemon.metrics_listen;
    if (m->metrics && strcmp(want, m->metrics_listen) == 0)
        return; /* unchanged: keep the socket (and the clients on it) */
    if (!m->metrics && !want[0] && !m->metrics_listen[0])
        return;
    if (m->metrics)
        g_message("metrics: listener %s closed", m->metrics_listen);
    metrics_http_free(m->metrics);
    m->metrics = NULL;
    g_strlcpy(m->metrics_listen, want, sizeof(m->metrics_listen));
    if (!want[0])
        return;
    struct listen_addr a;
    const char *why;
    if (listen_addr_parse(want, &a, &why) < 0) { /* config.c checked it: cannot happen */
        g_warning("metrics_listen = %s: %s; no metrics listener", want, why);
        return;
    }
    g_autoptr(GError) error = NULL;
    m->metrics = metrics_http_new(&a, metrics_body, m, &error);
    if (!m->metrics) {
        g_warning("metrics_listen = %s: cannot listen: %s; ballastd runs without the metrics "
                  "listener (ballastctl metrics still works)",
                  want, error->message);
        return;
    }
    g_message("metrics: serving http://%s/metrics%s", want,
              a.loopback ? "" : " (not loopback: reachable from the network)");
}

void manager_metrics_stop(struct manager *m)
{
    metrics_http_free(m->metrics);
    m->metrics = NULL;
}
