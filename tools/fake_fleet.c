/*
 * A fleet of fake guests for ballastd tests and benchmarks, in one process:
 * N directories DIR/<name>/ each with a qmp.sock that answers what ballastd
 * asks of QEMU (qmp_capabilities, query-balloon, balloon + BALLOON_CHANGE,
 * query-memory-size-summary, qom-list, qom-set, qom-get) and an agent.sock
 * whose "agent" sends HELLO and then a REPORT every --report-ms. No guest
 * boots: 64 of them cost a few MiB and no CPU, so ballastd's own footprint
 * and its cost per report can be measured without the noise of 64 TCG guests.
 *
 *   fake-fleet DIR COUNT [--memory MIB] [--actual MIB] [--used MIB] [--report-ms MS]
 *              [--name-prefix P] [--deflate-on-oom on|off] [--touch MIB]
 *
 * --actual starts every balloon inflated to that size (as a previous ballastd
 * run would have left it). The guests are named P0, P1, ... (P default
 * "fake"; a long P gives the wide names `ballastctl top` must shorten).
 * --deflate-on-oom off: every balloon says it has no deflate-on-oom (qom-get).
 *
 * Each guest directory gets a pid file naming this process, which maps one
 * anonymous region of --memory MiB (1 MiB of it touched, the rest never) and
 * marks it mergeable: ballastd finds "guest RAM" in this process's smaps for
 * every fake guest (the same region for all of them), so its host-cost
 * reads run end to end without a QEMU. --touch MIB touches that much of it
 * instead: guests whose balloons then claim more than they hold (ballastd's
 * balloon audit).
 *
 * Prints "ready" once every socket listens, then reads commands on stdin,
 * one per line, and answers on stdout (each answer ends with "end"):
 *   counts             "<name> <qmp commands> <query-balloon> <balloon> <actual MiB> <reports>"
 *   pressure NAME      NAME's agent sends a PRESSURE frame now
 *   used NAME MIB      NAME's guest uses MIB from now on (reports follow)
 *   deflate NAME MIB   NAME's balloon gives MIB back on its own (deflate-on-oom),
 *                      its agent's PRESSURE frame 300 ms before the event
 *   deflate-late NAME MIB  the same, the other way round: the event first,
 *                      the PRESSURE frame 300 ms later
 *   foreign NAME MIB   NAME's balloon set to MIB by another QMP client (an event, no pressure)
 *   reports on|off     agents send reports or stay silent
 *   balloon NAME ok|fail|hang
 *                      NAME's `balloon` commands work (the default), get a
 *                      QMP error reply and move nothing, or get no reply at
 *                      all and move nothing (ballastd's command times out)
 * Exits on EOF on stdin or SIGTERM.
 */
#include "fleet_layout.h"
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MIB           (1ULL << 20)
#define MAX_VMS       256
#define QMP_BUF_BYTES 8192
#define OVERHEAD      (16 * MIB) /* nominal - MemTotal at full size */

struct fake_vm {
    char name[FLEET_LAYOUT_NAME_MAX + 1];
    int qmp_listen, qmp_fd, agent_listen, agent_fd;
    char qbuf[QMP_BUF_BYTES];
    size_t qlen;
    uint64_t nominal_bytes, actual_bytes, used_bytes;
    uint32_t tx_seq, report_seq;
    uint64_t commands, queries, sets, reports;
    enum { BALLOON_OK, BALLOON_FAIL, BALLOON_HANG } balloon_mode;
};

static struct fake_vm vms[MAX_VMS];
static unsigned n_vms;
static uint64_t report_ms = 1000;
static bool reports_on = true;
static bool deflate_on_oom = true; /* qom-get deflate-on-oom answers this */
static volatile sig_atomic_t stop;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int listen_at(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    /* Blocking writes on a non-blocking socket: fine for a test fake, whose
     * peer (ballastd) always reads. */
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            poll(&(struct pollfd){.fd = fd, .events = POLLOUT}, 1, 100);
            continue;
        }
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void qmp_sendf(struct fake_vm *vm, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void qmp_sendf(struct fake_vm *vm, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || vm->qmp_fd < 0)
        return;
    buf[n++] = '\r';
    buf[n++] = '\n';
    send_all(vm->qmp_fd, buf, (size_t)n);
}

/* The string value of "key" in a flat JSON object text, or "" . */
static void json_str(const char *obj, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = strstr(obj, pat);
    if (!p)
        return;
    p = strchr(p + strlen(pat), '"');
    if (!p)
        return;
    p++;
    size_t i = 0;
    while (*p && *p != '"' && i + 1 < len)
        out[i++] = *p++;
    out[i] = '\0';
}

/* The raw value text of "key" (a number): "" when absent. */
static void json_raw(const char *obj, const char *key, char *out, size_t len)
{
    out[0] = '\0';
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *p = strstr(obj, pat);
    if (!p)
        return;
    p += strlen(pat);
    while (*p == ' ' || *p == ':')
        p++;
    size_t i = 0;
    while (*p && *p != ',' && *p != '}' && i + 1 < len)
        out[i++] = *p++;
    out[i] = '\0';
}

/* Stamped with the wall clock, as QEMU stamps its events: ballastd compares
 * the stamp with the targets it sent (a deflate on OOM read late). */
static void balloon_changed_at(struct fake_vm *vm, const struct timespec *ts)
{
    qmp_sendf(vm,
              "{\"timestamp\": {\"seconds\": %lld, \"microseconds\": %ld}, \"event\": "
              "\"BALLOON_CHANGE\", \"data\": {\"actual\": %" PRIu64 "}}",
              (long long)ts->tv_sec, ts->tv_nsec / 1000, vm->actual_bytes);
}

static void balloon_changed(struct fake_vm *vm)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    balloon_changed_at(vm, &ts);
}

static void qmp_command(struct fake_vm *vm, const char *obj)
{
    char cmd[64], id[32], arg[128];
    json_str(obj, "execute", cmd, sizeof(cmd));
    json_raw(obj, "id", id, sizeof(id));
    if (!id[0])
        strcpy(id, "null");
    vm->commands++;
    if (strcmp(cmd, "query-balloon") == 0) {
        vm->queries++;
        qmp_sendf(vm, "{\"return\": {\"actual\": %" PRIu64 "}, \"id\": %s}", vm->actual_bytes, id);
    } else if (strcmp(cmd, "balloon") == 0) {
        vm->sets++;
        if (vm->balloon_mode == BALLOON_HANG)
            return; /* no reply: the client's timeout is all it gets */
        if (vm->balloon_mode == BALLOON_FAIL) {
            /* As QEMU refuses when the guest has no balloon driver. */
            qmp_sendf(vm,
                      "{\"error\": {\"class\": \"DeviceNotActive\", \"desc\": \"No balloon "
                      "device has been activated\"}, \"id\": %s}",
                      id);
            return;
        }
        json_raw(obj, "value", arg, sizeof(arg));
        uint64_t v = strtoull(arg, NULL, 10);
        qmp_sendf(vm, "{\"return\": {}, \"id\": %s}", id);
        if (v > vm->nominal_bytes)
            v = vm->nominal_bytes;
        if (v && v != vm->actual_bytes) {
            vm->actual_bytes = v;
            balloon_changed(vm);
        }
    } else if (strcmp(cmd, "query-memory-size-summary") == 0) {
        qmp_sendf(vm,
                  "{\"return\": {\"base-memory\": %" PRIu64 ", \"plugged-memory\": 0}, \"id\": %s}",
                  vm->nominal_bytes, id);
    } else if (strcmp(cmd, "qom-list") == 0) {
        qmp_sendf(vm,
                  "{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, {\"name\": "
                  "\"device[0]\", \"type\": \"child<virtio-balloon-device>\"}], \"id\": %s}",
                  id);
    } else if (strcmp(cmd, "qom-get") == 0) {
        json_str(obj, "property", arg, sizeof(arg));
        if (strcmp(arg, "deflate-on-oom") == 0) {
            qmp_sendf(vm, "{\"return\": %s, \"id\": %s}", deflate_on_oom ? "true" : "false", id);
        } else if (strcmp(arg, "guest-stats") == 0) {
            uint64_t total = vm->actual_bytes - OVERHEAD;
            uint64_t avail = total > vm->used_bytes ? total - vm->used_bytes : 0;
            qmp_sendf(vm,
                      "{\"return\": {\"stats\": {\"stat-total-memory\": %" PRIu64
                      ", \"stat-free-memory\": %" PRIu64 ", \"stat-available-memory\": %" PRIu64
                      "}, \"last-update\": %lld}, \"id\": %s}",
                      total, avail, avail, (long long)time(NULL), id);
        } else {
            qmp_sendf(vm, "{\"return\": true, \"id\": %s}", id);
        }
    } else if (cmd[0]) { /* qmp_capabilities, qom-set, anything else */
        qmp_sendf(vm, "{\"return\": {}, \"id\": %s}", id);
    }
}

/* Splits the buffer into whole JSON objects (braces outside strings). */
static void qmp_input(struct fake_vm *vm)
{
    size_t start = 0, depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < vm->qlen; i++) {
        char c = vm->qbuf[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' && depth++ == 0)
            start = i;
        else if (c == '}' && depth > 0 && --depth == 0) {
            char obj[QMP_BUF_BYTES];
            size_t n = i + 1 - start;
            memcpy(obj, vm->qbuf + start, n);
            obj[n] = '\0';
            qmp_command(vm, obj);
            memmove(vm->qbuf, vm->qbuf + i + 1, vm->qlen - i - 1);
            vm->qlen -= i + 1;
            i = (size_t)-1;
            start = 0;
        }
    }
    if (vm->qlen >= sizeof(vm->qbuf) - 1)
        vm->qlen = 0; /* garbage: drop it */
}

static void agent_send(struct fake_vm *vm, struct proto_frame *f)
{
    uint8_t buf[PROTO_MAX_FRAME_BYTES];
    f->seq = ++vm->tx_seq;
    int n = proto_encode(f, buf, sizeof(buf));
    if (n > 0 && vm->agent_fd >= 0)
        send_all(vm->agent_fd, buf, (size_t)n);
}

static void fill_report(struct fake_vm *vm, struct proto_report *r)
{
    memset(r, 0, sizeof(*r));
    uint64_t total = vm->actual_bytes - OVERHEAD;
    uint64_t used = vm->used_bytes < total ? vm->used_bytes : total;
    r->timestamp_ns = now_ms() * 1000000;
    r->report_seq = ++vm->report_seq;
    r->valid_mask = PROTO_R_BIT(PROTO_R_MEM_TOTAL) | PROTO_R_BIT(PROTO_R_MEM_FREE) |
                    PROTO_R_BIT(PROTO_R_MEM_AVAILABLE) | PROTO_R_BIT(PROTO_R_CACHED) |
                    PROTO_R_BIT(PROTO_R_PSI_SOME) | PROTO_R_BIT(PROTO_R_PSI_FULL) |
                    PROTO_R_BIT(PROTO_R_OOM_KILL);
    r->valid_mask |= PROTO_R_BIT(PROTO_R_ACTIVE_FILE) | PROTO_R_BIT(PROTO_R_INACTIVE_FILE) |
                     PROTO_R_BIT(PROTO_R_ACTIVE_ANON) | PROTO_R_BIT(PROTO_R_INACTIVE_ANON);
    r->mem_total_bytes = total;
    r->mem_available_bytes = total - used;
    r->mem_free_bytes = total - used;
    /* What is used: 3/4 anonymous, 3/16 page cache, 1/16 kernel and the rest. */
    r->active_anon_bytes = used / 2;
    r->inactive_anon_bytes = used / 4;
    r->active_file_bytes = used / 8;
    r->inactive_file_bytes = used / 16;
    r->uptime_ms = now_ms();
}

static void agent_report(struct fake_vm *vm, bool pressure)
{
    struct proto_frame f = {.type = pressure ? PROTO_PRESSURE : PROTO_REPORT};
    if (pressure) {
        fill_report(vm, &f.u.pressure.report);
        f.u.pressure.report.psi_some_avg10_bp = 2500;
        f.u.pressure.triggers = PROTO_TRIGGER_SOME;
    } else {
        fill_report(vm, &f.u.report);
    }
    vm->reports++;
    agent_send(vm, &f);
}

static void agent_hello(struct fake_vm *vm)
{
    struct proto_frame f = {.type = PROTO_HELLO};
    f.u.hello.agent_version = 0x000100;
    f.u.hello.page_size_bytes = 4096;
    f.u.hello.capabilities = PROTO_CAP_PRESSURE | PROTO_CAP_RECLAIM | PROTO_CAP_VMSTAT;
    f.u.hello.proto_version_min = f.u.hello.proto_version_max = 1; /* a v1 agent */
    agent_send(vm, &f);
}

static struct fake_vm *find(const char *name)
{
    for (unsigned i = 0; i < n_vms; i++)
        if (strcmp(vms[i].name, name) == 0)
            return &vms[i];
    return NULL;
}

static void command(char *line)
{
    char verb[32] = "", name[FLEET_LAYOUT_NAME_MAX + 1] = "";
    unsigned long long arg = 0;
    int n = sscanf(line, "%31s %63s %llu", verb, name, &arg);
    struct fake_vm *vm = n >= 2 ? find(name) : NULL;
    if (strcmp(verb, "counts") == 0) {
        for (unsigned i = 0; i < n_vms; i++)
            printf("%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", vms[i].name,
                   vms[i].commands, vms[i].queries, vms[i].sets,
                   (uint64_t)(vms[i].actual_bytes / MIB), vms[i].reports);
    } else if (strcmp(verb, "pressure") == 0 && vm) {
        agent_report(vm, true);
    } else if (strcmp(verb, "used") == 0 && vm && n == 3) {
        vm->used_bytes = arg * MIB;
    } else if ((strcmp(verb, "deflate") == 0 || strcmp(verb, "deflate-late") == 0) && vm &&
               n == 3) {
        /* A guest deflates on OOM under pressure: its agent's PRESSURE frame
         * goes out first (read before the balloon's event, 300 ms later),
         * the event is stamped when the guest took the pages back. The two
         * travel apart (virtio-serial, QMP): deflate-late sends the event
         * first and the frame 300 ms later. */
        bool late = strcmp(verb, "deflate-late") == 0;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (!late)
            agent_report(vm, true);
        nanosleep(&(struct timespec){0, 300 * 1000000L}, NULL);
        vm->actual_bytes += arg * MIB;
        if (vm->actual_bytes > vm->nominal_bytes)
            vm->actual_bytes = vm->nominal_bytes;
        balloon_changed_at(vm, &ts);
        if (late) {
            nanosleep(&(struct timespec){0, 300 * 1000000L}, NULL);
            agent_report(vm, true);
        }
    } else if (strcmp(verb, "foreign") == 0 && vm && n == 3 && arg > 0) {
        /* Another QMP client's `balloon` to MIB: the guest under no
         * pressure, QEMU's event all ballastd sees of it. */
        vm->actual_bytes = arg * MIB < vm->nominal_bytes ? arg * MIB : vm->nominal_bytes;
        balloon_changed(vm);
    } else if (strcmp(verb, "balloon") == 0 && vm && sscanf(line, "%*s %*s %31s", verb) == 1) {
        vm->balloon_mode = strcmp(verb, "fail") == 0   ? BALLOON_FAIL
                           : strcmp(verb, "hang") == 0 ? BALLOON_HANG
                                                       : BALLOON_OK;
    } else if (strcmp(verb, "reports") == 0) {
        reports_on = strcmp(name, "on") == 0;
    } else {
        printf("error: %s\n", line);
    }
    printf("end\n");
    fflush(stdout);
}

struct fake_options {
    const char *dir;
    const char *name_prefix;
    uint64_t memory_mib, used_mib, actual_mib, touch_mib;
};

/* argv into o (and report_ms); 0, or the exit code 2 with the reason said. */
static int parse_args(int argc, char **argv, struct fake_options *o)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fake-fleet DIR COUNT [--memory MIB] [--actual MIB] [--used MIB] "
                        "[--report-ms MS] [--name-prefix P]\n");
        return 2;
    }
    *o = (struct fake_options){
        .dir = argv[1], .name_prefix = "fake", .memory_mib = 256, .used_mib = 64};
    n_vms = (unsigned)atoi(argv[2]);
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--memory") == 0)
            o->memory_mib = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--actual") == 0)
            o->actual_mib = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--used") == 0)
            o->used_mib = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--report-ms") == 0)
            report_ms = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--name-prefix") == 0)
            o->name_prefix = argv[i + 1];
        else if (strcmp(argv[i], "--touch") == 0)
            o->touch_mib = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--deflate-on-oom") == 0)
            deflate_on_oom = strcmp(argv[i + 1], "off") != 0;
    }
    if (o->actual_mib == 0)
        o->actual_mib = o->memory_mib;
    if (n_vms == 0 || n_vms > MAX_VMS || o->memory_mib < 64 || report_ms == 0 ||
        o->actual_mib < 32 || o->actual_mib > o->memory_mib ||
        strlen(o->name_prefix) + 3 > FLEET_LAYOUT_NAME_MAX) {
        fprintf(stderr, "fake-fleet: bad arguments\n");
        return 2;
    }
    return 0;
}

/* Guest index's directory and its two listening sockets; 0, or an exit code
 * (2: the paths do not fit, 1: cannot listen) with the reason said. */
static int open_vm(struct fake_vm *vm, unsigned index, const struct fake_options *o)
{
    snprintf(vm->name, sizeof(vm->name), "%s%u", o->name_prefix, index);
    char path[FLEET_LAYOUT_SOCKET_BUF];
    if (!fleet_layout_name_valid(vm->name) ||
        fleet_layout_guest_fits(o->dir, vm->name, NULL) != 0) {
        fprintf(stderr, "fake-fleet: %s/%s: not a guest name, or the path is too long\n", o->dir,
                vm->name);
        return 2;
    }
    fleet_layout_path(path, sizeof(path), o->dir, vm->name, FLEET_FILE_GUEST_DIR);
    mkdir(path, 0755);
    fleet_layout_path(path, sizeof(path), o->dir, vm->name, FLEET_FILE_QMP);
    vm->qmp_listen = listen_at(path);
    fleet_layout_path(path, sizeof(path), o->dir, vm->name, FLEET_FILE_AGENT);
    vm->agent_listen = listen_at(path);
    if (vm->qmp_listen < 0 || vm->agent_listen < 0) {
        fprintf(stderr, "fake-fleet: cannot listen at %s: %s\n", path, strerror(errno));
        return 1;
    }
    fleet_layout_path(path, sizeof(path), o->dir, vm->name, FLEET_FILE_PID);
    FILE *pf = fopen(path, "w");
    if (pf) {
        fprintf(pf, "%d\n", (int)getpid());
        fclose(pf);
    }
    vm->qmp_fd = vm->agent_fd = -1;
    vm->nominal_bytes = o->memory_mib * MIB;
    vm->actual_bytes = o->actual_mib * MIB;
    vm->used_bytes = o->used_mib * MIB;
    return 0;
}

/* stdin first, then per guest: QMP listen, agent listen, QMP, agent. */
static nfds_t fill_pollfds(struct pollfd *pfd)
{
    nfds_t n = 0;
    pfd[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
    for (unsigned i = 0; i < n_vms; i++) {
        struct fake_vm *vm = &vms[i];
        pfd[n++] = (struct pollfd){.fd = vm->qmp_listen, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = vm->agent_listen, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = vm->qmp_fd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = vm->agent_fd, .events = POLLIN};
    }
    return n;
}

/* The commands on stdin (see the top of the file); false at EOF. */
static bool read_commands(void)
{
    static char line[256];
    static size_t line_len;
    ssize_t r = read(0, line + line_len, sizeof(line) - 1 - line_len);
    if (r <= 0)
        return false;
    line_len += (size_t)r;
    char *nl;
    while ((nl = memchr(line, '\n', line_len))) {
        *nl = '\0';
        command(line);
        size_t used = (size_t)(nl + 1 - line);
        memmove(line, nl + 1, line_len - used);
        line_len -= used;
    }
    if (line_len == sizeof(line) - 1)
        line_len = 0;
    return true;
}

/* A new QMP client replaces the old one and is greeted as QEMU 7.2 would. */
static void accept_qmp(struct fake_vm *vm)
{
    int fd = accept4(vm->qmp_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    if (vm->qmp_fd >= 0)
        close(vm->qmp_fd);
    vm->qmp_fd = fd;
    vm->qlen = 0;
    qmp_sendf(vm, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": "
                  "2, \"major\": 7}, \"package\": \"fake\"}, \"capabilities\": "
                  "[]}}");
}

/* A new agent connection replaces the old one and starts with HELLO. */
static void accept_agent(struct fake_vm *vm)
{
    int fd = accept4(vm->agent_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    if (vm->agent_fd >= 0)
        close(vm->agent_fd);
    vm->agent_fd = fd;
    agent_hello(vm);
}

static void read_qmp(struct fake_vm *vm)
{
    ssize_t r = recv(vm->qmp_fd, vm->qbuf + vm->qlen, sizeof(vm->qbuf) - 1 - vm->qlen, 0);
    if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
        close(vm->qmp_fd);
        vm->qmp_fd = -1;
    } else if (r > 0) {
        vm->qlen += (size_t)r;
        qmp_input(vm);
    }
}

/* What ballastd sends the agent is read and dropped. */
static void drain_agent(struct fake_vm *vm)
{
    uint8_t sink[1024];
    ssize_t r = recv(vm->agent_fd, sink, sizeof(sink), 0);
    if (r <= 0 && !(r < 0 && errno == EAGAIN)) {
        close(vm->agent_fd);
        vm->agent_fd = -1;
    }
}

/* One guest's four poll entries, as fill_pollfds laid them out. */
static void serve_vm(struct fake_vm *vm, const struct pollfd *p)
{
    if (p[0].revents & POLLIN)
        accept_qmp(vm);
    if (p[1].revents & POLLIN)
        accept_agent(vm);
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
        read_qmp(vm);
    if (p[3].revents & (POLLIN | POLLHUP | POLLERR))
        drain_agent(vm);
}

/* Every connected agent reports once each report_ms, unless turned off. */
static void send_reports(uint64_t *next_report)
{
    if (now_ms() < *next_report)
        return;
    *next_report += report_ms;
    for (unsigned i = 0; reports_on && i < n_vms; i++)
        if (vms[i].agent_fd >= 0)
            agent_report(&vms[i], false);
}

/* Until EOF on stdin (0), SIGTERM (0) or a failed poll (1). */
static int serve(void)
{
    static struct pollfd pfd[1 + 4 * MAX_VMS];
    uint64_t next_report = now_ms() + report_ms;
    while (!stop) {
        nfds_t n = fill_pollfds(pfd);
        uint64_t now = now_ms();
        int timeout = next_report > now ? (int)(next_report - now) : 0;
        if (poll(pfd, n, timeout) < 0 && errno != EINTR)
            return 1;
        if ((pfd[0].revents & (POLLIN | POLLHUP)) && !read_commands())
            break;
        for (unsigned i = 0; i < n_vms; i++)
            serve_vm(&vms[i], &pfd[1 + 4 * i]);
        send_reports(&next_report);
    }
    return 0;
}

static void remove_sockets(const char *dir)
{
    for (unsigned i = 0; i < n_vms; i++) {
        char path[FLEET_LAYOUT_SOCKET_BUF];
        if (fleet_layout_path(path, sizeof(path), dir, vms[i].name, FLEET_FILE_QMP) == 0)
            unlink(path);
        if (fleet_layout_path(path, sizeof(path), dir, vms[i].name, FLEET_FILE_AGENT) == 0)
            unlink(path);
        if (fleet_layout_path(path, sizeof(path), dir, vms[i].name, FLEET_FILE_PID) == 0)
            unlink(path);
    }
}

/* The fake guests' "guest RAM": --memory MiB mapped as QEMU maps it
 * (anonymous, private, mergeable), touch_bytes of it touched (1 MiB by
 * default, so smaps shows some). */
static void map_guest_ram(uint64_t bytes, uint64_t touch_bytes)
{
    void *ram = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        return;
    madvise(ram, bytes, MADV_MERGEABLE); /* "mg", as QEMU's mem-merge=on; may fail: fine */
    if (touch_bytes == 0)
        touch_bytes = MIB;
    memset(ram, 1, bytes < touch_bytes ? bytes : touch_bytes);
}

int main(int argc, char **argv)
{
    struct fake_options o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc;
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    map_guest_ram(o.memory_mib * MIB, o.touch_mib * MIB);
    for (unsigned i = 0; i < n_vms; i++) {
        rc = open_vm(&vms[i], i, &o);
        if (rc != 0)
            return rc;
    }
    printf("ready\n");
    fflush(stdout);
    rc = serve();
    if (rc != 0)
        return rc; /* a failed poll leaves the sockets, as it always did */
    remove_sockets(o.dir);
    return 0;
}
