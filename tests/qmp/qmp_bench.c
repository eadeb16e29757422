/*
 * The QMP benchmark's C half (scripts/bench-qmp runs it against a fleet):
 * from one thread, connects to every QMP socket given, measures the heap
 * each connection costs, then fires query-balloon at all guests at once,
 * ROUNDS times, and prints median/p95 round trips per command and per round.
 *
 *   qmp-bench ROUNDS SOCKET...
 */
#include "qmp.h"
#include "qmp_balloon.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    gint64 sent_us;
    gint64 rtt_us;
    gboolean done;
    gboolean failed;
} Probe;

static int outstanding;

static void on_connect(QmpConn *c, const GError *error, gpointer data)
{
    if (error) {
        fprintf(stderr, "qmp-bench: %s: %s\n", qmp_conn_get_socket_path(c), error->message);
        exit(1);
    }
    outstanding--;
}

static void on_query(QmpConn *c, guint64 actual, const GError *error, gpointer data)
{
    Probe *p = data;
    p->rtt_us = g_get_monotonic_time() - p->sent_us;
    p->done = TRUE;
    p->failed = error != NULL;
    outstanding--;
}

static int cmp_i64(const void *a, const void *b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return x < y ? -1 : x > y;
}

static double pct(gint64 *v, size_t n, double q)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    return (double)v[(size_t)(q * (double)(n - 1))] / 1000.0;
}

static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    if (f)
        fclose(f);
    return rss * 4;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: qmp-bench ROUNDS SOCKET...\n");
        return 2;
    }
    int rounds = atoi(argv[1]);
    int n = argc - 2;
    QmpConn **conns = g_new0(QmpConn *, n);

    /* Warm glib/json-glib up so one-time allocations do not count. */
    QmpConn *warm = qmp_conn_new(argv[2]);
    outstanding = 1;
    qmp_conn_connect_async(warm, 10000, on_connect, NULL);
    while (outstanding)
        g_main_context_iteration(NULL, TRUE);
    qmp_conn_unref(warm);

    struct mallinfo2 before = mallinfo2();
    long rss_before = rss_kib();
    outstanding = n;
    for (int i = 0; i < n; i++) {
        conns[i] = qmp_conn_new(argv[2 + i]);
        qmp_conn_connect_async(conns[i], 10000, on_connect, NULL);
    }
    while (outstanding)
        g_main_context_iteration(NULL, TRUE);
    struct mallinfo2 after = mallinfo2();
    long rss_after = rss_kib();
    double heap_per_conn = (double)(after.uordblks - before.uordblks) / n;

    gint64 *rtts = g_new(gint64, (gsize)n * rounds);
    gint64 *round_us = g_new(gint64, rounds);
    Probe *probes = g_new(Probe, n);
    size_t count = 0;
    int failures = 0;
    for (int r = 0; r < rounds; r++) {
        gint64 t0 = g_get_monotonic_time();
        outstanding = n;
        for (int i = 0; i < n; i++) {
            probes[i] = (Probe){.sent_us = g_get_monotonic_time()};
            qmp_balloon_query_async(conns[i], 5000, on_query, &probes[i]);
        }
        while (outstanding)
            g_main_context_iteration(NULL, TRUE);
        round_us[r] = g_get_monotonic_time() - t0;
        for (int i = 0; i < n; i++) {
            if (probes[i].failed)
                failures++;
            else
                rtts[count++] = probes[i].rtt_us;
        }
        g_usleep(20000); /* let the guests breathe between rounds */
    }
    printf("guests: %d, rounds: %d, failures: %d\n", n, rounds, failures);
    printf("query-balloon round trip, per command: median %.2f ms, p95 %.2f ms, max %.2f ms\n",
           pct(rtts, count, 0.5), pct(rtts, count, 0.95), pct(rtts, count, 1.0));
    printf("all %d guests answered, per round: median %.2f ms, p95 %.2f ms\n", n,
           pct(round_us, rounds, 0.5), pct(round_us, rounds, 0.95));
    printf("heap per connection (READY, idle): %.0f bytes; process RSS growth for %d: %ld KiB\n",
           heap_per_conn, n, rss_after - rss_before);
    for (int i = 0; i < n; i++)
        qmp_conn_unref(conns[i]);
    g_free(conns);
    g_free(rtts);
    g_free(round_us);
    g_free(probes);
    return failures ? 1 : 0;
}
