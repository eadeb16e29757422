/*
 * ballast-agent's main: arguments, PID 1 set-up, then the loop forever.
 * Exit codes (service mode only; as PID 1 it never exits): 0 stopped,
 * 1 could not start (no /proc/meminfo), 2 bad arguments.
 *
 *   ballast-agent [--pid1] [--interval-ms N] [--port NAME] [--device PATH]
 *                 [--connect SOCKET] [--proc DIR] [--sys DIR] [--cgroup DIR]
 *                 [--verbose] [--bench-reports N]
 *   ballast-agent --version | --help
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct agent agent; /* static: the agent's whole state, no heap */

static void on_sigchld(int sig)
{
    (void)sig; /* only to interrupt poll(); reaping happens in the loop */
}

/*
 * --bench-reports N: the CPU cost of one report (sample /proc, encode, write
 * to /dev/null) averaged over N, in process CPU time. scripts/bench-agent.
 */
static int bench_reports(const struct agent_options *opt, unsigned n)
{
    int rc = agent_init(&agent, opt);
    if (rc < 0)
        return rc;
    int out = open("/dev/null", O_WRONLY);
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (unsigned i = 0; i < n; i++) {
        struct proto_frame f;
        memset(&f, 0, sizeof(f));
        f.type = PROTO_REPORT;
        agent_sample(&agent, &f.u.report);
        uint8_t wire[PROTO_MAX_FRAME_BYTES];
        int len = proto_encode(&f, wire, sizeof(wire));
        if (len < 0 || write(out, wire, (size_t)len) != len)
            return -EIO;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    char line[96];
    int len =
        snprintf(line, sizeof(line), "cpu_per_report_us=%.2f reports=%u\n", ns / n / 1000.0, n);
    ssize_t w = write(STDOUT_FILENO, line, (size_t)len);
    (void)w;
    close(out);
    agent_close(&agent);
    return 0;
}

static void usage(int fd)
{
    static const char text[] =
        "usage: ballast-agent [--pid1] [--interval-ms N] [--port NAME] [--device PATH]\n"
        "                     [--connect SOCKET] [--proc DIR] [--sys DIR] [--cgroup DIR]\n"
        "                     [--verbose] [--version] [--help]\n";
    ssize_t w = write(fd, text, sizeof(text) - 1);
    (void)w;
}

/* --help, --version: 0 after printing, -1 when arg is neither. */
static int info_option(const char *arg)
{
    if (strcmp(arg, "--help") == 0) {
        usage(STDOUT_FILENO);
        return 0;
    }
    if (strcmp(arg, "--version") == 0) {
        static const char text[] = "ballast-agent " BALLAST_VERSION "\n";
        ssize_t w = write(STDOUT_FILENO, text, sizeof(text) - 1);
        (void)w;
        return 0;
    }
    return -1;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct agent_options opt = {
        .proc_root = "/proc",
        .sys_root = "/sys",
        .cgroup_root = "/sys/fs/cgroup",
        .port_name = AGENT_PORT_NAME,
        .interval_ms = AGENT_DEFAULT_INTERVAL_MS,
    };
    uint32_t bench_n = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--pid1") == 0) {
            opt.pid1 = true;
        } else if (strcmp(arg, "--verbose") == 0) {
            opt.verbose = true;
        } else if (val && strcmp(arg, "--interval-ms") == 0) {
            if (parse_u32(val, &opt.interval_ms) < 0) {
                usage(STDERR_FILENO);
                return 2;
            }
            i++;
        } else if (val && strcmp(arg, "--bench-reports") == 0) {
            if (parse_u32(val, &bench_n) < 0 || bench_n == 0) {
                usage(STDERR_FILENO);
                return 2;
            }
            i++;
        } else if (val && strcmp(arg, "--port") == 0) {
            opt.port_name = argv[++i];
        } else if (val && strcmp(arg, "--device") == 0) {
            opt.device_path = argv[++i];
        } else if (val && strcmp(arg, "--connect") == 0) {
            opt.connect_path = argv[++i];
        } else if (val && strcmp(arg, "--proc") == 0) {
            opt.proc_root = argv[++i];
        } else if (val && strcmp(arg, "--sys") == 0) {
            opt.sys_root = argv[++i];
        } else if (val && strcmp(arg, "--cgroup") == 0) {
            opt.cgroup_root = argv[++i];
        } else if (info_option(arg) == 0) {
            return 0;
        } else {
            usage(STDERR_FILENO);
            return 2;
        }
    }
    if (bench_n)
        return bench_reports(&opt, bench_n) < 0 ? 1 : 0;
    if (getpid() == 1)
        opt.pid1 = true;

    struct sigaction sa = {.sa_handler = on_sigchld};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a vanished host is an EPIPE, not a death */

    if (opt.pid1) {
        agent_pid1_mounts();
        agent_pid1_start_workload(opt.proc_root);
    }
    for (;;) {
        int rc = agent_init(&agent, &opt);
        if (rc == 0) {
            agent_log("started: port %s, interval %u ms, caps %#x",
                      opt.connect_path ? opt.connect_path : opt.port_name, opt.interval_ms,
                      agent.capabilities);
            rc = agent_run(&agent);
            agent_close(&agent);
            if (rc == 0)
                return 0;
        }
        agent_log("%s", strerror(-rc));
        if (!opt.pid1)
            return 1;
        /* PID 1 must not exit: reap, wait, try again. */
        for (int i = 0; i < 10; i++) {
            agent_pid1_reap();
            sleep(1);
        }
    }
}
