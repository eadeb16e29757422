/*
 * The agent's loop: one poll() over the port and the PSI trigger fds, with
 * the next report (or the next look for a vanished host) as its timeout.
 *
 *   tick        -> sample /proc, REPORT            (every interval; when the
 *                  host granted QUIET, only a material change or every
 *                  PROTO_QUIET_HEARTBEAT_INTERVALS-th interval is sent;
 *                  with POLL granted too, no heartbeat: POLL asks for one)
 *   POLLPRI     -> sample /proc, PRESSURE at once  (a PSI trigger fired)
 *   POLLIN      -> bytes into the stream decoder, whole frames dispatched
 *   POLLHUP     -> the host went away: stop polling the port (a virtio port
 *                  reports POLLHUP for as long as nobody is connected) and
 *                  look again every AGENT_RECONNECT_MS; when it is back, start
 *                  over with HELLO and a fresh decoder.
 *
 * Writes never block: frames go into a small fixed out buffer that is
 * flushed when the port is writable; a report that does not fit, or that is
 * due while nobody listens, is dropped and counted (report_seq shows the
 * gap to the host). Nothing here allocates.
 */
#include "agent.h"

#include "procfile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS_PER_MS 1000000ull

static int enqueue(struct agent *a, struct proto_frame *f)
{
    f->seq = a->tx_seq;
    /* HELLO is a v1 frame for any host; the rest go in the chosen version. */
    f->version = f->type == PROTO_HELLO ? PROTO_VERSION_MIN : a->proto_version;
    int n = proto_encode(f, a->out + a->out_len, sizeof(a->out) - a->out_len);
    if (n < 0)
        return n;
    a->out_len += (size_t)n;
    a->tx_seq++;
    return 0;
}

static void send_hello(struct agent *a)
{
    struct proto_frame f;
    memset(&f, 0, sizeof(f));
    f.type = PROTO_HELLO;
    f.u.hello.agent_version = 0x000100; /* 0.1.0 */
    f.u.hello.page_size_bytes = (uint32_t)sysconf(_SC_PAGESIZE);
    f.u.hello.capabilities = a->capabilities;
    f.u.hello.proto_version_min = PROTO_VERSION_MIN;
    f.u.hello.proto_version_max = PROTO_VERSION_MAX;
    enqueue(a, &f);
}

/*
 * Whether a periodic sample is held back: the host granted QUIET, the last
 * report sent is recent (or the host POLLs for its heartbeat), and nothing
 * moved materially since (proto.h).
 */
static bool hold_report(const struct agent *a, const struct proto_report *r, uint64_t now_ns)
{
    if (!a->quiet || !a->have_last_sent)
        return false;
    if (a->polled)
        return !proto_report_material(&a->last_sent, r);
    uint64_t heartbeat_ns =
        (uint64_t)PROTO_QUIET_HEARTBEAT_INTERVALS * a->config.report_interval_ms * NS_PER_MS;
    if (now_ns - a->last_sent_ns >= heartbeat_ns)
        return false;
    return !proto_report_material(&a->last_sent, r);
}

/* triggers: PRESSURE with these PSI triggers; 0: a REPORT, held back when
 * quiet and nothing moved, unless forced (the answer to a POLL). */
static void send_report_as(struct agent *a, uint32_t triggers, bool force)
{
    if (a->link != AGENT_LINK_UP) {
        a->report_seq++; /* the host sees the gap */
        a->stats.reports_dropped++;
        return;
    }
    struct proto_frame f;
    memset(&f, 0, sizeof(f));
    struct proto_report *r = triggers ? &f.u.pressure.report : &f.u.report;
    agent_sample(a, r);
    /* What this connection's version carries, also for the next material
     * comparison: a host that chose v2 sees the split appear as a change. */
    r->valid_mask &= proto_report_valid_bits(a->proto_version);
    if (!triggers && !force && hold_report(a, r, r->timestamp_ns)) {
        a->stats.reports_held++;
        return;
    }
    a->report_seq++;
    f.type = triggers ? PROTO_PRESSURE : PROTO_REPORT;
    if (triggers)
        f.u.pressure.triggers = triggers;
    if (enqueue(a, &f) < 0) {
        a->stats.reports_dropped++;
        return;
    }
    a->last_sent = *r;
    a->last_sent_ns = r->timestamp_ns;
    a->have_last_sent = true;
    if (triggers)
        a->stats.pressure_sent++;
    else
        a->stats.reports_sent++;
}

static void send_report(struct agent *a, uint32_t triggers)
{
    send_report_as(a, triggers, false);
}

static void answer(struct agent *a, const struct proto_frame *req, int rc)
{
    struct proto_frame f;
    memset(&f, 0, sizeof(f));
    if (rc == 0) {
        f.type = PROTO_ACK;
        f.u.ack.ref_seq = req->seq;
        f.u.ack.ref_type = req->type;
    } else {
        f.type = PROTO_ERROR;
        f.u.error.ref_seq = req->seq;
        f.u.error.ref_type = req->type;
        f.u.error.error = rc;
    }
    enqueue(a, &f);
}

static void close_triggers(struct agent *a)
{
    for (int i = 0; i < 2; i++) {
        if (a->trigger_fd[i] >= 0)
            close(a->trigger_fd[i]);
        a->trigger_fd[i] = -1;
    }
}

int agent_apply_config(struct agent *a, const struct proto_config *c)
{
    int rc = proto_config_check(c);
    if (rc < 0)
        return rc;
    close_triggers(a);
    const uint32_t threshold[2] = {c->psi_some_threshold_us, c->psi_full_threshold_us};
    int result = 0;
    for (int i = 0; i < 2; i++) {
        if (threshold[i] == 0)
            continue;
        int fd = psi_trigger_open(a->opt.proc_root, "memory", i, threshold[i], c->psi_window_us);
        if (fd < 0) {
            agent_log("PSI %s trigger %u/%u us: %s", i ? "full" : "some", threshold[i],
                      c->psi_window_us, strerror(-fd));
            result = fd;
            continue;
        }
        a->trigger_fd[i] = fd;
    }
    if (a->trigger_fd[0] >= 0 || a->trigger_fd[1] >= 0)
        a->capabilities |= PROTO_CAP_PRESSURE;
    else
        a->capabilities &= ~PROTO_CAP_PRESSURE;
    uint64_t now = agent_now_ns();
    if (c->report_interval_ms != a->config.report_interval_ms)
        a->next_report_ns = now + (uint64_t)c->report_interval_ms * NS_PER_MS;
    a->config = *c;
    return result;
}

/* --- frames from the host, by type --- */

typedef void (*frame_handler)(struct agent *a, const struct proto_frame *f);

static void on_welcome(struct agent *a, const struct proto_frame *f)
{
    /* Granted for this connection only: a new host (HELLO again) starts loud. */
    a->quiet = (f->u.welcome.capabilities & PROTO_CAP_QUIET) != 0;
    a->polled = a->quiet && (f->u.welcome.capabilities & PROTO_CAP_POLL) != 0;
    /* A version outside what HELLO offered is the host's mistake: stay v1,
     * which every host reads. */
    uint32_t v = f->u.welcome.proto_version;
    a->proto_version = v >= PROTO_VERSION_MIN && v <= PROTO_VERSION_MAX ? (uint8_t)v : 1;
    if (a->opt.verbose)
        agent_log("WELCOME host %#x caps %#x v%u", f->u.welcome.host_version,
                  f->u.welcome.capabilities, f->u.welcome.proto_version);
}

static void on_config(struct agent *a, const struct proto_frame *f)
{
    int rc = agent_apply_config(a, &f->u.config);
    agent_log("CONFIG interval %u ms, some %u us, full %u us per %u us: %s",
              f->u.config.report_interval_ms, f->u.config.psi_some_threshold_us,
              f->u.config.psi_full_threshold_us, f->u.config.psi_window_us,
              rc ? strerror(-rc) : "applied");
    answer(a, f, rc);
}

static void on_reclaim(struct agent *a, const struct proto_frame *f)
{
    struct proto_frame done;
    memset(&done, 0, sizeof(done));
    done.type = PROTO_RECLAIM_DONE;
    agent_reclaim(a->opt.proc_root, a->opt.cgroup_root, f->u.reclaim.request_bytes,
                  &done.u.reclaim_done);
    done.u.reclaim_done.ref_seq = f->seq;
    agent_log("RECLAIM %llu bytes: freed %llu in %llu us (method %u, status %d)",
              (unsigned long long)f->u.reclaim.request_bytes,
              (unsigned long long)done.u.reclaim_done.freed_bytes,
              (unsigned long long)done.u.reclaim_done.duration_us, done.u.reclaim_done.method,
              done.u.reclaim_done.status);
    enqueue(a, &done);
}

/* The host wants the figures now (its heartbeat when it granted POLL). */
static void on_poll(struct agent *a, const struct proto_frame *f)
{
    (void)f;
    a->stats.polls++;
    send_report_as(a, 0, true);
}

static void on_answer(struct agent *a, const struct proto_frame *f)
{
    if (f->type == PROTO_ERROR) {
        int e = proto_error_errno(f->u.error.error); /* never negate the wire value */
        agent_log("host refused %s seq %u: %s (%d)", proto_type_name(f->u.error.ref_type),
                  f->u.error.ref_seq, e ? strerror(e) : "not an errno", (int)f->u.error.error);
    }
}

static void on_unexpected(struct agent *a, const struct proto_frame *f)
{
    answer(a, f, -ENOTSUP);
}

static const frame_handler handlers[PROTO_TYPE_COUNT] = {
    [PROTO_HELLO] = on_unexpected,
    [PROTO_WELCOME] = on_welcome,
    [PROTO_REPORT] = on_unexpected,
    [PROTO_PRESSURE] = on_unexpected,
    [PROTO_CONFIG] = on_config,
    [PROTO_RECLAIM] = on_reclaim,
    [PROTO_RECLAIM_DONE] = on_unexpected,
    [PROTO_ACK] = on_answer,
    [PROTO_ERROR] = on_answer,
    [PROTO_POLL] = on_poll,
};

/* --- the link to the host --- */

/*
 * "Rss 180 kB, Pss 120 kB" of the agent itself, for the log (footprint).
 * smaps_rollup walks the page tables; VmRSS in status lags by up to 64
 * faults per thread on 6.1 (split RSS counting), which for a process this
 * small means reading almost nothing.
 */
static const char *agent_rss_text(struct agent *a)
{
    static char text[64];
    char buf[1024];
    int fd = procfile_open(a->opt.proc_root, "self/smaps_rollup", O_RDONLY);
    text[0] = '\0';
    if (fd < 0)
        return text;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    const char *rss = strstr(buf, "\nRss:"), *hwm = strstr(buf, "\nPss:");
    unsigned long rss_kb = 0, hwm_kb = 0;
    if (rss)
        rss_kb = strtoul(rss + 6, NULL, 10);
    if (hwm)
        hwm_kb = strtoul(hwm + 6, NULL, 10);
    snprintf(text, sizeof(text), "Rss %lu kB, Pss %lu kB", rss_kb, hwm_kb);
    return text;
}

static void link_up(struct agent *a)
{
    a->link = AGENT_LINK_UP;
    a->stats.connects++;
    proto_stream_reset(&a->in);
    a->out_len = 0;
    a->quiet = false; /* until this host's WELCOME grants it */
    a->polled = false;
    a->proto_version = PROTO_VERSION_MIN; /* until its WELCOME chooses */
    a->have_last_sent = false;
    send_hello(a);
    a->next_report_ns = agent_now_ns(); /* a first report right away */
    agent_log("host connected (%llu); agent %s", (unsigned long long)a->stats.connects,
              agent_rss_text(a));
}

static void link_down(struct agent *a)
{
    if (a->link == AGENT_LINK_UP)
        agent_log("host gone; %llu reports sent, %llu dropped, %llu held (quiet), %llu polls",
                  (unsigned long long)a->stats.reports_sent,
                  (unsigned long long)a->stats.reports_dropped,
                  (unsigned long long)a->stats.reports_held, (unsigned long long)a->stats.polls);
    a->link = AGENT_LINK_DOWN;
    a->out_len = 0; /* half a frame would be garbage to the next host */
    if (a->port_is_socket && a->port_fd >= 0) {
        close(a->port_fd);
        a->port_fd = -1;
    }
    a->next_probe_ns = agent_now_ns() + AGENT_RECONNECT_MS * NS_PER_MS;
}

/* Looks whether a host is there now. */
static void probe(struct agent *a)
{
    if (a->port_fd < 0) {
        int fd;
        if (a->opt.connect_path)
            fd = agent_socket_connect(a->opt.connect_path);
        else if (a->opt.device_path)
            fd = open(a->opt.device_path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        else
            fd = agent_port_open(a->opt.sys_root, a->opt.port_name);
        if (fd < 0)
            return; /* no port, no listener yet: next probe */
        a->port_fd = fd;
        if (a->port_is_socket) {
            link_up(a);
            return;
        }
    }
    /* A virtio port says POLLHUP for as long as the host side is closed. */
    struct pollfd p = {.fd = a->port_fd, .events = POLLIN};
    if (poll(&p, 1, 0) >= 0 && !(p.revents & (POLLHUP | POLLERR | POLLNVAL)))
        link_up(a);
}

static void flush(struct agent *a)
{
    while (a->link == AGENT_LINK_UP && a->out_len > 0) {
        ssize_t n = write(a->port_fd, a->out, a->out_len);
        if (n > 0) {
            memmove(a->out, a->out + n, a->out_len - (size_t)n);
            a->out_len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; /* POLLOUT will tell */
        link_down(a);
    }
}

static void read_port(struct agent *a)
{
    for (;;) {
        size_t room;
        uint8_t *dst = proto_stream_space(&a->in, &room);
        ssize_t n = read(a->port_fd, dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* EOF: the host closed its end */
            link_down(a);
            return;
        }
        proto_stream_commit(&a->in, (size_t)n);
        struct proto_frame f;
        int rc;
        while ((rc = proto_stream_next(&a->in, &f)) != 0) {
            if (rc < 0) {
                if (a->opt.verbose)
                    agent_log("bad frame from host: %s", strerror(-rc));
                continue;
            }
            a->stats.frames_in++;
            if (handlers[f.type])
                handlers[f.type](a, &f);
        }
        if (a->link != AGENT_LINK_UP)
            return;
    }
}

int agent_init(struct agent *a, const struct agent_options *opt)
{
    memset(a, 0, sizeof(*a));
    a->opt = *opt;
    a->meminfo_fd = procfile_open(opt->proc_root, "meminfo", O_RDONLY);
    a->vmstat_fd = procfile_open(opt->proc_root, "vmstat", O_RDONLY);
    a->psi_fd = procfile_open(opt->proc_root, "pressure/memory", O_RDONLY);
    a->trigger_fd[0] = a->trigger_fd[1] = -1;
    a->port_fd = -1;
    a->port_is_socket = opt->connect_path != NULL;
    a->proto_version = PROTO_VERSION_MIN;
    if (a->meminfo_fd < 0) {
        int rc = a->meminfo_fd;
        agent_close(a);
        return rc;
    }
    a->capabilities = PROTO_CAP_RECLAIM | PROTO_CAP_QUIET | PROTO_CAP_POLL;
    if (a->vmstat_fd >= 0)
        a->capabilities |= PROTO_CAP_VMSTAT;
    if (agent_reclaim_has_cgroup(opt->cgroup_root))
        a->capabilities |= PROTO_CAP_CGROUP_RECLAIM;
    proto_stream_init(&a->in);
    struct proto_config c = {
        .report_interval_ms = opt->interval_ms,
        .psi_some_threshold_us = AGENT_DEFAULT_SOME_US,
        .psi_full_threshold_us = 0,
        .psi_window_us = AGENT_DEFAULT_WINDOW_US,
    };
    a->config.report_interval_ms = opt->interval_ms;
    int rc = agent_apply_config(a, &c);
    if (rc == -EINVAL && proto_config_check(&c) < 0) {
        agent_close(a);
        return rc;
    }
    a->link = AGENT_LINK_DOWN;
    a->next_probe_ns = 0;
    a->next_report_ns = agent_now_ns();
    return 0;
}

void agent_close(struct agent *a)
{
    close_triggers(a);
    int *fds[] = {&a->meminfo_fd, &a->vmstat_fd, &a->psi_fd, &a->port_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

int agent_run(struct agent *a)
{
    while (!a->stop) {
        if (a->opt.pid1)
            agent_pid1_reap();
        uint64_t now = agent_now_ns();
        if (a->link == AGENT_LINK_DOWN && now >= a->next_probe_ns) {
            probe(a);
            if (a->link == AGENT_LINK_DOWN)
                a->next_probe_ns = now + AGENT_RECONNECT_MS * NS_PER_MS;
        }
        if (now >= a->next_report_ns) {
            send_report(a, 0);
            uint64_t interval = (uint64_t)a->config.report_interval_ms * NS_PER_MS;
            a->next_report_ns += interval;
            if (a->next_report_ns <= now) /* late (suspended, slow TCG): no burst */
                a->next_report_ns = now + interval;
        }
        flush(a);

        struct pollfd p[3];
        int n = 0, port_slot = -1, trig_slot[2] = {-1, -1};
        if (a->link == AGENT_LINK_UP) {
            port_slot = n;
            p[n++] = (struct pollfd){a->port_fd, (short)(POLLIN | (a->out_len ? POLLOUT : 0)), 0};
        }
        for (int i = 0; i < 2; i++) {
            if (a->trigger_fd[i] >= 0) {
                trig_slot[i] = n;
                p[n++] = (struct pollfd){a->trigger_fd[i], POLLPRI, 0};
            }
        }
        now = agent_now_ns();
        uint64_t wake = a->next_report_ns;
        if (a->link == AGENT_LINK_DOWN && a->next_probe_ns < wake)
            wake = a->next_probe_ns;
        int timeout_ms = wake > now ? (int)((wake - now + NS_PER_MS - 1) / NS_PER_MS) : 0;
        int rc = poll(p, (nfds_t)n, timeout_ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue; /* SIGCHLD: reaped at the top */
            return -errno;
        }
        uint32_t fired = 0;
        for (int i = 0; i < 2; i++) {
            if (trig_slot[i] < 0)
                continue;
            short re = p[trig_slot[i]].revents;
            if (re & POLLPRI)
                fired |= i ? PROTO_TRIGGER_FULL : PROTO_TRIGGER_SOME;
            else if (re & (POLLERR | POLLNVAL)) {
                agent_log("PSI %s trigger failed; disarmed", i ? "full" : "some");
                close(a->trigger_fd[i]);
                a->trigger_fd[i] = -1;
            }
        }
        if (fired)
            send_report(a, fired);
        if (port_slot >= 0) {
            short re = p[port_slot].revents;
            if (re & POLLIN)
                read_port(a);
            if (a->link == AGENT_LINK_UP && (re & (POLLHUP | POLLERR | POLLNVAL)))
                link_down(a);
        }
    }
    return 0;
}
