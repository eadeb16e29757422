/*
 * The agent's loop end to end on the host: the real agent code runs in a
 * child process against a copy of a fixture /proc, connected to a unix
 * socket this test listens on, and the test plays ballastd: HELLO first,
 * REPORTs with the fixture's numbers, CONFIG answered, RECLAIM through
 * memory.reclaim answered, garbage survived, a host restart answered with a
 * fresh HELLO while report numbering carries on, v1 reports until a WELCOME
 * chooses v2 (and again after a reconnect). Also the pure pieces:
 * report building, the kernel command line, the workload schedule.
 */
#include "agent.h"
#include "client.h"
#include "cunit_main.h"
#include "workload_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];
static char path_buf[256];

static const char *tmp(const char *rel)
{
    snprintf(path_buf, sizeof(path_buf), "%s/%s", tmpdir, rel);
    return path_buf;
}

/* A shell command from a literal format (kept literal for -Wformat). */
#define SH(...)                                                                                    \
    ({                                                                                             \
        char cmd_[1024];                                                                           \
        snprintf(cmd_, sizeof(cmd_), __VA_ARGS__);                                                 \
        system(cmd_);                                                                              \
    })

static int listen_on(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0)
        return -1;
    return fd;
}

static int accept_within(int lfd, int timeout_ms)
{
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static void read_text(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
}

/* The host's WELCOME with these capabilities and protocol version, then
 * CONFIG at 100 ms: 1 once the agent acknowledged the CONFIG (so the grant
 * is in force, and every report after the ACK was sampled under it). */
static int grant(struct client *c, uint32_t caps, uint32_t version)
{
    struct proto_frame f;
    memset(&f, 0, sizeof(f));
    f.type = PROTO_WELCOME;
    f.u.welcome = (struct proto_welcome){0x000100, caps, version};
    client_send(c, &f);
    memset(&f, 0, sizeof(f));
    f.type = PROTO_CONFIG;
    f.u.config = (struct proto_config){100, 0, 0, 0};
    client_send(c, &f);
    return client_wait_type(c, PROTO_ACK, &f, 2000);
}

static void test_loop_against_fake_host(void)
{
    strcpy(tmpdir, "/tmp/ballast-agent-test.XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpdir));
    char proc[300], cgroup[300], sock[300];
    snprintf(proc, sizeof(proc), "%s", tmp("proc"));
    snprintf(cgroup, sizeof(cgroup), "%s", tmp("cgroup"));
    snprintf(sock, sizeof(sock), "%s", tmp("agent.sock"));
    CU_ASSERT_EQUAL_FATAL(SH("cp -r %s %s", BALLAST_FIXTURES "/proc-normal", proc), 0);
    CU_ASSERT_EQUAL_FATAL(SH("mkdir -p %s && : > %s/memory.reclaim", cgroup, cgroup), 0);
    int lfd = listen_on(sock);
    CU_ASSERT_FATAL(lfd >= 0);

    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        static struct agent a;
        struct agent_options opt = {.proc_root = proc,
                                    .sys_root = "/nonexistent",
                                    .cgroup_root = cgroup,
                                    .connect_path = sock,
                                    .interval_ms = 100};
        if (agent_init(&a, &opt) < 0)
            _exit(3);
        agent_run(&a);
        _exit(0);
    }

    struct client c;
    struct proto_frame f;
    int fd = accept_within(lfd, 5000);
    CU_ASSERT_FATAL(fd >= 0);
    client_attach(&c, fd);

    /* HELLO first, then a report with the fixture's numbers. */
    CU_ASSERT_EQUAL_FATAL(client_next(&c, &f, 3000), 1);
    CU_ASSERT_EQUAL(f.type, PROTO_HELLO);
    CU_ASSERT_EQUAL(f.seq, 0);
    CU_ASSERT(f.u.hello.capabilities & PROTO_CAP_RECLAIM);
    CU_ASSERT(f.u.hello.capabilities & PROTO_CAP_CGROUP_RECLAIM);
    CU_ASSERT(f.u.hello.capabilities & PROTO_CAP_VMSTAT);
    CU_ASSERT_EQUAL(f.u.hello.page_size_bytes, (uint32_t)sysconf(_SC_PAGESIZE));
    CU_ASSERT_EQUAL(f.u.hello.proto_version_min, 1);
    CU_ASSERT_EQUAL(f.u.hello.proto_version_max, 2);
    CU_ASSERT_EQUAL(f.version, 1); /* HELLO is a v1 frame for any host */
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 3000), 1);
    /* No WELCOME yet (an old host may never send one): v1 reports. */
    CU_ASSERT_EQUAL(f.version, 1);
    CU_ASSERT_EQUAL(f.u.report.valid_mask & ~proto_report_valid_bits(1), 0);
    CU_ASSERT_EQUAL(f.u.report.shmem_bytes, 0);
    CU_ASSERT_EQUAL(f.u.report.mem_total_bytes, 219136ULL * 1024);
    CU_ASSERT_EQUAL(f.u.report.mem_available_bytes, 170000ULL * 1024);
    CU_ASSERT_EQUAL(f.u.report.pgscan, 246);
    CU_ASSERT_EQUAL(f.u.report.psi_some_avg10_bp, 150);
    CU_ASSERT(f.u.report.valid_mask & PROTO_R_BIT(PROTO_R_PSI_FULL));
    uint32_t first_report = f.u.report.report_seq;

    /* Reports keep coming at the configured interval (100 ms). */
    uint64_t t0 = client_now_ms();
    int reports = 0;
    while (client_now_ms() - t0 < 1000)
        if (client_wait_type(&c, PROTO_REPORT, &f, 200) == 1)
            reports++;
    CU_ASSERT(reports >= 6 && reports <= 13);

    /* A WELCOME choosing a version HELLO did not offer: the agent stays v1. */
    CU_ASSERT_EQUAL_FATAL(grant(&c, 0, 9), 1);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 1000), 1);
    CU_ASSERT_EQUAL(f.version, 1);
    /* A host that chose v2: reports carry the used memory by kind. */
    CU_ASSERT_EQUAL_FATAL(grant(&c, 0, 2), 1);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 1000), 1);
    CU_ASSERT_EQUAL(f.version, 2);
    CU_ASSERT_EQUAL(f.payload_bytes, 224);
    const uint32_t v2_only = proto_report_valid_bits(2) & ~proto_report_valid_bits(1);
    CU_ASSERT_EQUAL(f.u.report.valid_mask & v2_only, v2_only);
    CU_ASSERT_EQUAL(f.u.report.mem_total_bytes, 219136ULL * 1024);
    CU_ASSERT_EQUAL(f.u.report.shmem_bytes, 2458ULL * 1024);
    CU_ASSERT_EQUAL(f.u.report.slab_reclaimable_bytes, 9216ULL * 1024);
    CU_ASSERT_EQUAL(f.u.report.slab_unreclaimable_bytes, 5120ULL * 1024);
    CU_ASSERT_EQUAL(f.u.report.kernel_stack_bytes, 720ULL * 1024);
    CU_ASSERT_EQUAL(f.u.report.page_tables_bytes, 64ULL * 1024);
    CU_ASSERT_EQUAL(f.u.report.vmalloc_used_bytes, 7168ULL * 1024);

    /* The balloon inflates: the next report shows the smaller MemTotal. */
    CU_ASSERT_EQUAL(SH("cp %s/meminfo %s/meminfo", BALLAST_FIXTURES "/proc-balloon", proc), 0);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 1000), 1);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 1000), 1);
    CU_ASSERT_EQUAL(f.u.report.mem_total_bytes, 120832ULL * 1024);

    /* An invalid CONFIG is refused, a valid one acknowledged. */
    memset(&f, 0, sizeof(f));
    f.type = PROTO_CONFIG;
    f.u.config = (struct proto_config){10, 0, 0, 0};
    int64_t seq = client_send(&c, &f);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_ERROR, &f, 2000), 1);
    CU_ASSERT_EQUAL(f.u.error.ref_seq, (uint32_t)seq);
    CU_ASSERT_EQUAL(f.u.error.error, -EINVAL);
    memset(&f, 0, sizeof(f));
    f.type = PROTO_CONFIG;
    f.u.config = (struct proto_config){500, 0, 0, 0};
    seq = client_send(&c, &f);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_ACK, &f, 2000), 1);
    CU_ASSERT_EQUAL(f.u.ack.ref_seq, (uint32_t)seq);
    CU_ASSERT_EQUAL(f.u.ack.ref_type, PROTO_CONFIG);

    /* Garbage first, then a RECLAIM: done in 16 MiB memory.reclaim steps. */
    static const char junk[] = "BLST\x01\x99garbage\xff\xff";
    CU_ASSERT_EQUAL(write(c.fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
    memset(&f, 0, sizeof(f));
    f.type = PROTO_RECLAIM;
    f.u.reclaim.request_bytes = 40ULL << 20;
    seq = client_send(&c, &f);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_RECLAIM_DONE, &f, 3000), 1);
    CU_ASSERT_EQUAL(f.u.reclaim_done.ref_seq, (uint32_t)seq);
    CU_ASSERT_EQUAL(f.u.reclaim_done.method, PROTO_RECLAIM_CGROUP);
    CU_ASSERT_EQUAL(f.u.reclaim_done.status, 0);
    CU_ASSERT_EQUAL(f.u.reclaim_done.requested_bytes, 40ULL << 20);
    CU_ASSERT_EQUAL(f.u.reclaim_done.freed_bytes, 0); /* a fixture frees nothing */
    char text[64];
    read_text(tmp("cgroup/memory.reclaim"), text, sizeof(text));
    /* 16 + 16 + 8 MiB, each written at offset 0: the last step is on top. */
    CU_ASSERT_STRING_EQUAL(text, "83886086");

    /* A frame the agent does not take is refused, and it keeps going. */
    memset(&f, 0, sizeof(f));
    f.type = PROTO_REPORT;
    seq = client_send(&c, &f);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_ERROR, &f, 2000), 1);
    CU_ASSERT_EQUAL(f.u.error.error, -ENOTSUP);
    CU_ASSERT_EQUAL(f.u.error.ref_seq, (uint32_t)seq);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 2000), 1);
    uint32_t before_restart = f.u.report.report_seq;
    CU_ASSERT(before_restart > first_report);

    /* ballastd restarts: the agent comes back with HELLO, numbering goes on. */
    client_close(&c);
    close(lfd);
    unlink(sock);
    usleep(1200 * 1000); /* reports fall due while nobody listens */
    lfd = listen_on(sock);
    CU_ASSERT_FATAL(lfd >= 0);
    fd = accept_within(lfd, 5000);
    CU_ASSERT_FATAL(fd >= 0);
    client_attach(&c, fd);
    CU_ASSERT_EQUAL_FATAL(client_next(&c, &f, 3000), 1);
    CU_ASSERT_EQUAL(f.type, PROTO_HELLO);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 3000), 1);
    CU_ASSERT(f.u.report.report_seq > before_restart + 1); /* the gap shows the drops */
    CU_ASSERT_EQUAL(f.version, 1);                         /* a new host: v1 until its WELCOME */

    /* This host grants QUIET: an unchanged guest reports only every
     * PROTO_QUIET_HEARTBEAT_INTERVALS intervals (10 x 100 ms), not every one. */
    CU_ASSERT_EQUAL_FATAL(grant(&c, PROTO_CAP_QUIET, 1), 1); /* a host that chose v1 */
    t0 = client_now_ms();
    reports = 0;
    uint64_t last_report_ms = 0;
    while (client_now_ms() - t0 < 2500)
        if (client_wait_type(&c, PROTO_REPORT, &f, 200) == 1) {
            reports++;
            last_report_ms = client_now_ms();
        }
    CU_ASSERT(reports >= 1 && reports <= 4); /* 25 if it were loud */
    /* Right after a heartbeat, a material change (MemTotal back to 214 MiB,
     * the balloon deflated) is sent at the next interval, not at the next
     * heartbeat 1 s later. */
    if (last_report_ms == 0 || client_now_ms() - last_report_ms > 300) {
        CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 2000), 1);
    }
    uint64_t changed_ms = client_now_ms();
    CU_ASSERT_EQUAL(SH("cp %s/meminfo %s/meminfo", BALLAST_FIXTURES "/proc-normal", proc), 0);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 2000), 1);
    CU_ASSERT(client_now_ms() - changed_ms < 600);
    CU_ASSERT_EQUAL(f.u.report.mem_total_bytes, 219136ULL * 1024);

    /* This host grants POLL too: no heartbeat at all (15 intervals pass,
     * more than a quiet agent's 10), a REPORT at once for each POLL, and a
     * material change still sent at the next interval. */
    CU_ASSERT_EQUAL_FATAL(grant(&c, PROTO_CAP_QUIET | PROTO_CAP_POLL, 1), 1);
    t0 = client_now_ms();
    reports = 0;
    while (client_now_ms() - t0 < 1500)
        if (client_wait_type(&c, PROTO_REPORT, &f, 200) == 1)
            reports++;
    CU_ASSERT_EQUAL(reports, 0);
    uint32_t seq_before_poll = f.u.report.report_seq;
    memset(&f, 0, sizeof(f));
    f.type = PROTO_POLL;
    uint64_t polled_ms = client_now_ms();
    client_send(&c, &f);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 1000), 1);
    CU_ASSERT(client_now_ms() - polled_ms < 500);
    CU_ASSERT(f.u.report.report_seq > seq_before_poll);
    CU_ASSERT_EQUAL(f.u.report.mem_total_bytes, 219136ULL * 1024);
    changed_ms = client_now_ms();
    CU_ASSERT_EQUAL(SH("cp %s/meminfo %s/meminfo", BALLAST_FIXTURES "/proc-balloon", proc), 0);
    CU_ASSERT_EQUAL_FATAL(client_wait_type(&c, PROTO_REPORT, &f, 2000), 1);
    CU_ASSERT(client_now_ms() - changed_ms < 600);
    CU_ASSERT_EQUAL(f.u.report.mem_total_bytes, 120832ULL * 1024);

    client_close(&c);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFSIGNALED(status)); /* it was still running: it never gave up */
    close(lfd);
    SH("rm -rf %s", tmpdir);
}

static void test_fill_report(void)
{
    struct meminfo mi;
    struct vmstat vs;
    struct psi psi;
    CU_ASSERT_EQUAL_FATAL(meminfo_read(BALLAST_FIXTURES "/proc-hostile", &mi), 0);
    memset(&vs, 0, sizeof(vs));
    memset(&psi, 0, sizeof(psi));
    struct proto_report r;
    agent_fill_report(&mi, &vs, &psi, 5, 7, &r);
    CU_ASSERT_EQUAL(r.valid_mask,
                    PROTO_R_BIT(PROTO_R_MEM_FREE) | PROTO_R_BIT(PROTO_R_INACTIVE_ANON) |
                        PROTO_R_BIT(PROTO_R_SLAB_UNRECLAIMABLE) | PROTO_R_BIT(PROTO_R_UPTIME));
    CU_ASSERT_EQUAL(r.slab_unreclaimable_bytes, 5120ULL * 1024);
    CU_ASSERT_EQUAL(r.shmem_bytes, 0);
    CU_ASSERT_EQUAL(r.mem_free_bytes, 150000ULL * 1024);
    CU_ASSERT_EQUAL(r.mem_total_bytes, 0);
    CU_ASSERT_EQUAL(r.timestamp_ns, 5);
    CU_ASSERT_EQUAL(r.uptime_ms, 7);
    /* Every meminfo field lands in its own member, with its own bit. */
    CU_ASSERT_EQUAL_FATAL(meminfo_read(BALLAST_FIXTURES "/proc-normal", &mi), 0);
    agent_fill_report(&mi, &vs, &psi, 0, 0, &r);
    CU_ASSERT_EQUAL(r.valid_mask, proto_report_valid_bits(2) & ~PROTO_R_BIT(PROTO_R_PSI_SOME) &
                                      ~PROTO_R_BIT(PROTO_R_PSI_FULL) &
                                      ~PROTO_R_BIT(PROTO_R_PGMAJFAULT) &
                                      ~PROTO_R_BIT(PROTO_R_PGSCAN) & ~PROTO_R_BIT(PROTO_R_PGSTEAL) &
                                      ~PROTO_R_BIT(PROTO_R_OOM_KILL));
    CU_ASSERT_EQUAL(r.mem_total_bytes, 219136ULL * 1024);
    CU_ASSERT_EQUAL(r.inactive_anon_bytes, 4000ULL * 1024);
    CU_ASSERT_EQUAL(r.shmem_bytes, 2458ULL * 1024);
    CU_ASSERT_EQUAL(r.slab_reclaimable_bytes, 9216ULL * 1024);
    CU_ASSERT_EQUAL(r.slab_unreclaimable_bytes, 5120ULL * 1024);
    CU_ASSERT_EQUAL(r.kernel_stack_bytes, 720ULL * 1024);
    CU_ASSERT_EQUAL(r.page_tables_bytes, 64ULL * 1024);
    CU_ASSERT_EQUAL(r.vmalloc_used_bytes, 7168ULL * 1024);
    /* Contradictions arrive clamped. */
    CU_ASSERT_EQUAL_FATAL(meminfo_read(BALLAST_FIXTURES "/proc-contradict", &mi), 0);
    agent_fill_report(&mi, &vs, &psi, 0, 0, &r);
    CU_ASSERT(r.mem_available_bytes <= r.mem_total_bytes);
    CU_ASSERT(r.mem_free_bytes <= r.mem_total_bytes);
}

static void test_cmdline(void)
{
    char v[32];
    const char *cl = "console=ttyS0 ballast.workloadx=no ballast.workload=spike:peak=64M,after=5s "
                     "quiet\n";
    CU_ASSERT_EQUAL(agent_cmdline_value(cl, "ballast.workload", v, sizeof(v)), 0);
    CU_ASSERT_STRING_EQUAL(v, "spike:peak=64M,after=5s");
    CU_ASSERT_EQUAL(agent_cmdline_value("a=1 b", "ballast.workload", v, sizeof(v)), -ENOENT);
    CU_ASSERT_EQUAL(
        agent_cmdline_value("ballast.workload=steady:64M\n", "ballast.workload", v, sizeof(v)), 0);
    CU_ASSERT_STRING_EQUAL(v, "steady:64M");
    CU_ASSERT_EQUAL(
        agent_cmdline_value("k=0123456789012345678901234567890123456789", "k", v, sizeof(v)),
        -ENAMETOOLONG);
}

static void test_workload_spec(void)
{
    struct workload_spec s;
    const uint64_t M = 1 << 20;
    CU_ASSERT_EQUAL(workload_spec_parse("steady:64M", &s), 0);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 0), 64 * M);
    CU_ASSERT_EQUAL(workload_spec_parse("steady:size=64M,start=10s", &s), 0);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 9999), 0);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 10000), 64 * M);

    CU_ASSERT_EQUAL(workload_spec_parse("spike:base=16M,peak=96M,after=5s,hold=2s,every=10s", &s),
                    0);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 4999), 16 * M);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 5000), 96 * M);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 6999), 96 * M);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 7000), 16 * M);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 15500), 96 * M); /* repeats */
    CU_ASSERT_EQUAL(workload_spec_parse("spike:32M,after=1s,high=24M", &s), 0);
    CU_ASSERT_EQUAL(s.high_bytes, 24 * M);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 100000), 0); /* once, base 0 */

    CU_ASSERT_EQUAL(workload_spec_parse("sawtooth:min=8M,max=32M,step=8M,tick=500ms", &s), 0);
    const uint64_t expect[] = {8, 16, 24, 32, 8, 16};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(workload_target_bytes(&s, (uint64_t)i * 500 + 10), expect[i] * M);

    CU_ASSERT_EQUAL(workload_spec_parse("idle", &s), 0);
    CU_ASSERT_EQUAL(workload_target_bytes(&s, 5000), 0);
    const char *bad[] = {"",
                         "boom:1M",
                         "steady:1Q",
                         "spike:peak=1M,base=2M",
                         "sawtooth:max=8M",
                         "steady:size=",
                         "spike:after=5x",
                         "spike:after=5h",
                         "spike:peak=8M,after=5s,hold=5s,every=6s",
                         "steady:zzz=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT_EQUAL(workload_spec_parse(bad[i], &s), -EINVAL);
}

/* cache=: when the workload leaves page cache behind (after a drop, or once for steady). */
static void test_workload_cache(void)
{
    struct workload_spec s;
    const uint64_t M = 1 << 20;
    CU_ASSERT_EQUAL(
        workload_spec_parse("spike:base=16M,peak=144M,after=20s,hold=30s,cache=64M", &s), 0);
    CU_ASSERT_EQUAL(s.cache_bytes, 64 * M);
    CU_ASSERT_FALSE(workload_cache_due(&s, UINT64_MAX, 16 * M, 1, 0)); /* the start: nothing ran */
    CU_ASSERT_FALSE(workload_cache_due(&s, 16 * M, 144 * M, 1, 0));    /* the burst begins */
    CU_ASSERT_FALSE(workload_cache_due(&s, 144 * M, 16 * M, 0, 0));    /* not yet back at base */
    CU_ASSERT_TRUE(workload_cache_due(&s, 144 * M, 16 * M, 1, 0));     /* the burst is over */
    CU_ASSERT_TRUE(workload_cache_due(&s, 144 * M, 16 * M, 1, 3));     /* and after every burst */
    CU_ASSERT_FALSE(workload_cache_due(&s, 16 * M, 16 * M, 1, 1));     /* idling at base */

    CU_ASSERT_EQUAL(workload_spec_parse("steady:64M,cache=8M", &s), 0);
    CU_ASSERT_FALSE(workload_cache_due(&s, UINT64_MAX, 64 * M, 0, 0)); /* still growing */
    CU_ASSERT_TRUE(workload_cache_due(&s, UINT64_MAX, 64 * M, 1, 0));  /* held: once */
    CU_ASSERT_FALSE(workload_cache_due(&s, 64 * M, 64 * M, 1, 1));

    CU_ASSERT_EQUAL(workload_spec_parse("spike:base=16M,peak=144M,after=1s", &s), 0);
    CU_ASSERT_EQUAL(s.cache_bytes, 0);
    CU_ASSERT_FALSE(workload_cache_due(&s, 144 * M, 16 * M, 1, 0)); /* no cache= */
    CU_ASSERT_EQUAL(workload_spec_parse("spike:peak=8M,cache=", &s), -EINVAL);
    CU_ASSERT_EQUAL(workload_spec_parse("spike:peak=8M,cache=1Q", &s), -EINVAL);
}

static CU_TestInfo loop_tests[] = {
    {"loop against a fake host", test_loop_against_fake_host},
    {"report from hostile readings", test_fill_report},
    {"kernel command line", test_cmdline},
    {"workload schedule", test_workload_spec},
    {"workload page cache left behind", test_workload_cache},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"agent", NULL, NULL, NULL, NULL, loop_tests},
    CU_SUITE_INFO_NULL,
};
