/*
 * wakeup-floor: what one wakeup costs a process that does nothing else, on
 * this host, under the load of the moment. A reference for ballastd's CPU
 * per agent report (scripts/bench-ballastd): the same kind of wakeup (a
 * unix stream socket among N watched ones turns readable, one REPORT-sized
 * read) with none of ballastd's work after it.
 *
 *   wakeup-floor [--fds N] [--rate PER_S] [--seconds S] [--epoll]
 *
 * A child process writes 176 bytes to a random one of N socket pairs RATE
 * times a second, at random instants (exponential gaps, like 32 agents whose
 * phases are unrelated). The parent waits in poll() over all N (or epoll
 * with --epoll), reads what is ready, and counts its wakeups. It prints the
 * parent's time on CPU (schedstat, ns: precise, not clock ticks) per
 * wakeup, in microseconds, as one line "wakeups=W cpu_us=C per_wakeup_us=P".
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS      1024
#define REPORT_BYTES 176

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Time this thread spent on a CPU, ns (first field of schedstat). */
static uint64_t self_cpu_ns(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    unsigned long long ns = 0;
    if (!f || fscanf(f, "%llu", &ns) != 1) {
        fprintf(stderr, "wakeup-floor: cannot read /proc/thread-self/schedstat\n");
        exit(1);
    }
    fclose(f);
    return ns;
}

static void writer(const int *fds, int n, double rate_per_s)
{
    char buf[REPORT_BYTES];
    memset(buf, 'r', sizeof(buf));
    srand48((long)getpid());
    for (;;) {
        /* Exponential gaps: a Poisson stream of reports. */
        double gap_s = -log1p(-drand48()) / rate_per_s;
        struct timespec ts = {.tv_sec = (time_t)gap_s,
                              .tv_nsec = (long)((gap_s - (double)(time_t)gap_s) * 1e9)};
        nanosleep(&ts, NULL);
        if (write(fds[lrand48() % n], buf, sizeof(buf)) < 0 && errno != EAGAIN)
            _exit(0); /* the reader is gone */
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: wakeup-floor [--fds N] [--rate PER_S] [--seconds S] [--epoll]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int n = 64;
    double rate = 5, seconds = 30;
    bool use_epoll = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--fds") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--epoll"))
            use_epoll = true;
        else
            usage();
    }
    if (n < 1 || n > MAX_FDS || !(rate > 0) || !(seconds > 0))
        usage();

    static int rd[MAX_FDS], wr[MAX_FDS];
    for (int i = 0; i < n; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
            perror("wakeup-floor: socketpair");
            return 1;
        }
        rd[i] = sv[0];
        wr[i] = sv[1];
    }
    pid_t child = fork();
    if (child < 0) {
        perror("wakeup-floor: fork");
        return 1;
    }
    if (child == 0)
        writer(wr, n, rate);

    static struct pollfd pfd[MAX_FDS];
    for (int i = 0; i < n; i++)
        pfd[i] = (struct pollfd){.fd = rd[i], .events = POLLIN};
    int ep = -1;
    if (use_epoll) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        for (int i = 0; i < n; i++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, rd[i], &ev) < 0) {
                perror("wakeup-floor: epoll");
                return 1;
            }
        }
    }

    char buf[4096];
    uint64_t wakeups = 0, cpu0 = self_cpu_ns(), end = mono_ns() + (uint64_t)(seconds * 1e9);
    for (uint64_t now = mono_ns(); now < end; now = mono_ns()) {
        int timeout_ms = (int)((end - now) / 1000000u) + 1;
        if (use_epoll) {
            struct epoll_event ev[16];
            int k = epoll_wait(ep, ev, 16, timeout_ms);
            if (k > 0)
                wakeups++;
            for (int j = 0; j < k; j++)
                while (read(rd[ev[j].data.u32], buf, sizeof(buf)) > 0)
                    ;
        } else {
            int k = poll(pfd, (nfds_t)n, timeout_ms);
            if (k > 0)
                wakeups++;
            for (int i = 0; i < n && k > 0; i++)
                if (pfd[i].revents) {
                    k--;
                    while (read(rd[i], buf, sizeof(buf)) > 0)
                        ;
                }
        }
    }
    uint64_t cpu_ns = self_cpu_ns() - cpu0;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    printf("wakeups=%llu cpu_us=%llu per_wakeup_us=%.1f\n", (unsigned long long)wakeups,
           (unsigned long long)(cpu_ns / 1000),
           wakeups ? (double)cpu_ns / 1000.0 / (double)wakeups : 0.0);
    return 0;
}
