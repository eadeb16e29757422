/*
 * ballast-agent: the guest side of ballast (docs/agent.md). It reads the
 * guest's /proc into fixed buffers, sends a REPORT every interval and a
 * PRESSURE the moment a PSI trigger fires, and answers CONFIG and RECLAIM
 * from ballastd over a virtio-serial port. Everything it needs is allocated
 * in struct agent before the loop starts: nothing on the heap after that.
 *
 * The pieces, one file each: agent_report.c (sampling), agent_port.c
 * (finding and watching the port), agent_reclaim.c (giving memory back),
 * agent_loop.c (the poll loop and frame dispatch), agent_pid1.c (init
 * duties in the tiny guest), agent_main.c (arguments).
 */
#ifndef BALLAST_AGENT_H
#define BALLAST_AGENT_H

#include "meminfo.h"
#include "proto.h"
#include "psi.h"
#include "vmstat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AGENT_PORT_NAME           PROTO_AGENT_PORT_NAME
#define AGENT_DEFAULT_INTERVAL_MS 1000
/* PSI "some" trigger by default: 100 ms of stall within 1 s. */
#define AGENT_DEFAULT_SOME_US   100000
#define AGENT_DEFAULT_WINDOW_US 1000000
/* How often a disconnected agent looks for the host coming back. */
#define AGENT_RECONNECT_MS 250
/* Frames waiting to be written; a report that does not fit is dropped. */
#define AGENT_OUT_BYTES (4 * PROTO_MAX_FRAME_BYTES)
/* RECLAIM: memory.reclaim in steps of at most this, for at most this long. */
#define AGENT_RECLAIM_STEP_BYTES (16u << 20)
#define AGENT_RECLAIM_BUDGET_MS  1000

struct agent_options {
    const char *proc_root;    /* "/proc" */
    const char *sys_root;     /* "/sys" */
    const char *cgroup_root;  /* "/sys/fs/cgroup" */
    const char *port_name;    /* virtio-serial port name */
    const char *device_path;  /* open this instead of looking the port up */
    const char *connect_path; /* a unix socket instead of a port (tests, bench) */
    uint32_t interval_ms;
    bool pid1;
    bool verbose;
};

struct agent_stats {
    uint64_t reports_sent;
    uint64_t reports_dropped; /* nobody listening, or the out buffer full */
    uint64_t reports_held;    /* quiet: sampled, not material, not sent */
    uint64_t polls;           /* POLL frames answered */
    uint64_t pressure_sent;
    uint64_t frames_in;
    uint64_t connects;
};

enum agent_link {
    AGENT_LINK_DOWN, /* nobody on the host side (or the socket is closed) */
    AGENT_LINK_UP,
};

struct agent {
    struct agent_options opt;
    int meminfo_fd, vmstat_fd, psi_fd; /* kept open, re-read with pread */
    int trigger_fd[2];                 /* PSI triggers: [0] some, [1] full */
    int port_fd;
    bool port_is_socket;
    enum agent_link link;
    uint64_t next_probe_ns; /* when a DOWN link is looked at again */
    uint64_t next_report_ns;
    struct proto_config config;
    uint32_t capabilities; /* PROTO_CAP_* as sent in HELLO */
    /* Protocol version of this connection's frames (HELLO aside): 1 until
     * the host's WELCOME chooses one (docs/protocol.md, "Versioning"). */
    uint8_t proto_version;
    /* Quiet reporting (PROTO_CAP_QUIET granted by this connection's WELCOME):
     * the last report sent and when, to hold back the ones that say nothing new. */
    bool quiet;
    bool polled; /* PROTO_CAP_POLL granted too: no heartbeat, the host POLLs */
    bool have_last_sent;
    uint64_t last_sent_ns;
    struct proto_report last_sent;
    uint32_t tx_seq;
    uint32_t report_seq;
    struct proto_stream in;
    uint8_t out[AGENT_OUT_BYTES];
    size_t out_len;
    struct agent_stats stats;
    volatile int stop; /* tests stop the loop; PID 1 never does */
};

/* Logging to stderr (the console when PID 1); printf-style. */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t agent_now_ns(void);

/* --- agent_report.c --- */

/* Builds a report from what the readers returned; pure (tests call it). */
void agent_fill_report(const struct meminfo *mi, const struct vmstat *vs, const struct psi *psi,
                       uint64_t timestamp_ns, uint64_t uptime_ms, struct proto_report *out);

/* Reads /proc now and fills *out (report_seq: the agent's next, not taken). */
void agent_sample(struct agent *a, struct proto_report *out);

/* --- agent_reclaim.c --- */

/*
 * Gives back up to request_bytes: memory.reclaim under cgroup_root in steps,
 * else drop_caches under proc_root. Fills *out (ref_seq left to the caller).
 */
void agent_reclaim(const char *proc_root, const char *cgroup_root, uint64_t request_bytes,
                   struct proto_reclaim_done *out);

/* Whether memory.reclaim exists under cgroup_root. */
bool agent_reclaim_has_cgroup(const char *cgroup_root);

/* --- agent_port.c --- */

/*
 * Finds the virtio-serial port named name under SYS_ROOT/class/virtio-ports
 * and opens its device (creating the node from its major:minor when /dev
 * lacks it). Returns an O_NONBLOCK fd or -errno (-ENOENT: no such port yet).
 */
int agent_port_open(const char *sys_root, const char *name);

/* Non-blocking connect to a unix socket; returns the fd or -errno. */
int agent_socket_connect(const char *path);

/* --- agent_loop.c --- */

/* Opens /proc files, triggers and the port; returns 0 or -errno. */
int agent_init(struct agent *a, const struct agent_options *opt);

/* Runs until a->stop is set (never, as PID 1). Returns 0 or -errno. */
int agent_run(struct agent *a);

void agent_close(struct agent *a);

/* Applies a CONFIG: re-arms the PSI triggers. Returns 0 or -errno. */
int agent_apply_config(struct agent *a, const struct proto_config *c);

/* --- agent_pid1.c --- */

/* Mounts /proc, /sys, /dev, cgroup2 unless already there. */
void agent_pid1_mounts(void);

/* Starts the workload named by ballast.workload= on the kernel command line. */
void agent_pid1_start_workload(const char *proc_root);

/* Reaps every exited child; logs the workload's end. Safe to call often. */
void agent_pid1_reap(void);

/*
 * Finds KEY=VALUE in a kernel command line; copies VALUE into out.
 * Returns 0, -ENOENT or -ENAMETOOLONG. Pure (tests call it).
 */
int agent_cmdline_value(const char *cmdline, const char *key, char *out, size_t out_len);

#endif
