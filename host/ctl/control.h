/*
 * The control protocol between ballastctl and ballastd: one JSON object per
 * line each way over a unix socket (docs/control-protocol.md is the schema).
 *
 * Both ends share this file so the request and the status document are
 * written and read by the same code: ballastd parses requests and serialises
 * results, ballastctl serialises requests and parses results. Parsing is
 * hostile-input safe (length and nesting checked before json-glib sees a
 * byte) and needs no socket, so the unit tests drive it with plain strings.
 */
#ifndef BALLAST_CONTROL_H
#define BALLAST_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "json_writer.h"
#include "latency_hist.h"

#define CTL_PROTOCOL_VERSION 1
/* Where ballastd listens and ballastctl connects when neither is told
 * otherwise (--socket, then $BALLAST_SOCKET); the directory is the
 * service's RuntimeDirectory (dist/systemd/ballastd.service.in). */
#define CTL_DEFAULT_SOCKET_DIR "/run/ballast"
#define CTL_DEFAULT_SOCKET     CTL_DEFAULT_SOCKET_DIR "/ballastd.sock"
#define CTL_SOCKET_ENV         "BALLAST_SOCKET"
/* The read-only socket beside it: "ballastd.sock" -> "ballastd.ro.sock"
 * (ctl_ro_socket_path). Any user may connect (or ro_socket_group's); it
 * answers the read commands and refuses the others. */
#define CTL_RO_SOCKET_SUFFIX ".ro.sock"
/* A request line longer than this is refused and the connection closed. */
#define CTL_MAX_LINE_BYTES 65536
/* Deeper JSON is refused before parsing: no request needs more than 3. */
#define CTL_MAX_JSON_DEPTH 16
#define CTL_VM_NAME_MAX    64
#define CTL_KEY_MAX        64
#define CTL_VALUE_MAX      256
#define CTL_MODE_MAX       16
#define CTL_STATE_MAX      16
#define CTL_REASON_MAX     160
#define CTL_FOREIGN_BY_MAX 48

enum ctl_cmd {
    CTL_CMD_PING,
    CTL_CMD_STATUS,
    CTL_CMD_EXPLAIN,
    CTL_CMD_SET_POLICY,
    CTL_CMD_DRY_RUN,
    CTL_CMD_NOTIFY,
    CTL_CMD_METRICS,
    CTL_CMD_RESUME, /* hands a VM held at a foreign target back to ballastd */
};

/*
 * `notify`: a hint from the libvirt qemu hook (scripts/libvirt/qemu-hook)
 * that a domain is being prepared, has started, has stopped or has been
 * released. ballastd acts on it after replying and never calls libvirt on
 * the hook's path; libvirt's events stay the source of truth.
 */
enum ctl_notify_event {
    CTL_NOTIFY_PREPARE,
    CTL_NOTIFY_STARTED,
    CTL_NOTIFY_STOPPED,
    CTL_NOTIFY_RELEASE,
};

struct ctl_request {
    enum ctl_cmd cmd;
    bool fresh;                  /* status: read every VM's host cost now if old */
    bool top;                    /* status, again and again: `ballastctl top` (never sent) */
    char vm[CTL_VM_NAME_MAX];    /* explain, set-policy, notify, resume */
    char key[CTL_KEY_MAX];       /* set-policy */
    char value[CTL_VALUE_MAX];   /* set-policy */
    bool enabled;                /* dry-run */
    enum ctl_notify_event event; /* notify */
};

/* Error codes of a refused request ("code" in the error object). */
#define CTL_ERR_BAD_REQUEST     "bad-request"
#define CTL_ERR_TOO_LONG        "too-long"
#define CTL_ERR_UNKNOWN_COMMAND "unknown-command"
#define CTL_ERR_NO_SUCH_VM      "no-such-vm"
#define CTL_ERR_BAD_POLICY      "bad-policy"
#define CTL_ERR_INTERNAL        "internal"
#define CTL_ERR_PERMISSION      "permission-denied"

/*
 * Who sent a request (SO_PEERCRED at accept) and over which socket: the
 * handlers refuse a change that came over the read-only socket and log
 * every change with the caller's uid and pid.
 */
struct ctl_peer {
    uid_t uid;
    pid_t pid;
    bool read_only;     /* came over the read-only socket */
    const char *socket; /* the read-write socket's path, for the refusal's message */
};

/* Whether cmd changes anything (set-policy, dry-run, notify): those need the
 * read-write socket, i.e. root. ping, status, explain and metrics only read. */
bool ctl_cmd_is_write(enum ctl_cmd cmd);

/* The read-only socket of control socket `path` (g_free): its name with
 * ".sock" replaced by CTL_RO_SOCKET_SUFFIX, or the suffix appended. */
char *ctl_ro_socket_path(const char *path);

/* The command's wire name ("set-policy"), or NULL for an invalid value. */
const char *ctl_cmd_name(enum ctl_cmd cmd);
/* The notify event's wire name ("started"), or NULL for an invalid value. */
const char *ctl_notify_event_name(enum ctl_notify_event event);
/* "prepare", "started", "stopped", "release" -> *out: 0, or -EINVAL. */
int ctl_notify_event_parse(const char *name, enum ctl_notify_event *out);

/*
 * Parses one request line (without its newline; len bytes, need not be NUL
 * terminated). Returns 0, or -EMSGSIZE (too long), -EINVAL (not JSON, not an
 * object, too deep, missing or mistyped member, over-long string) or
 * -ENOTSUP (unknown command); *err_code and *err_msg (static strings / a
 * g_strdup'd message the caller frees) describe the failure for the reply.
 */
int ctl_request_parse(const char *line, size_t len, struct ctl_request *out, const char **err_code,
                      char **err_msg);

/* The request as one JSON line with its trailing newline (g_free it). */
char *ctl_request_serialise(const struct ctl_request *req);

/*
 * A reply with a result, written as text (json_writer.h), never as a
 * json-glib tree:
 *   ctl_reply_begin(&w, out, cmd);   {"ok":true,"cmd":NAME,"result":
 *   ...                              exactly one value: the result
 *   return ctl_reply_end(&w);        }\n; returns out's text (g_free it)
 * out is a new GString sized for the reply; ctl_reply_end frees it.
 */
void ctl_reply_begin(struct json_writer *w, GString *out, enum ctl_cmd cmd);
char *ctl_reply_end(struct json_writer *w);
/* {"ok":false,"error":{"code":CODE,"message":MSG}}\n */
char *ctl_reply_error(const char *code, const char *message);

/*
 * Parses a reply line. Returns 0 and sets *result (json_node_unref it; NULL
 * when the reply had no result), or -EIO for an error reply (*err_code and
 * *err_msg g_strdup'd) and -EINVAL for a malformed reply.
 */
int ctl_reply_parse(const char *line, JsonNode **result, char **err_code, char **err_msg);

/*
 * The status document. Unknown numbers are -1 (bytes, counts), NAN (pct),
 * CTL_UNKNOWN_S64 (signed figures such as profits, which may be negative) or
 * -1 for a yes/no; they all travel as JSON null. The ksm_* fields come from
 * ballastd's KSM monitor (ksm_monitor.c, docs/ksm.md).
 */
#define CTL_UNKNOWN_S64    INT64_MIN
#define CTL_KSM_REASON_MAX 256
#define CTL_COST_ERROR_MAX 64

/*
 * What a VM costs the host, from its QEMU's smaps (docs/ballastd.md, "Host
 * cost per VM", defines each member; host/vmcost/vmcost.h computes them).
 * host_cost = guest_unique + ksm_shared_charge + qemu_own + page_tables;
 * the others are beside it. -1 = unknown; error says why ("" when known).
 */
struct ctl_vm_cost {
    int64_t age_ms; /* since the figures were read; -1 = never */
    int64_t host_cost_bytes;
    int64_t guest_unique_bytes;
    int64_t ksm_shared_charge_bytes;
    int64_t qemu_own_bytes;
    int64_t page_tables_bytes;
    int64_t guest_ram_resident_bytes;
    int64_t ksm_saved_bytes;
    int64_t zero_pages_bytes;
    int64_t balloon_held_bytes;
    int64_t thp_bytes;
    int64_t swap_bytes;
    char error[CTL_COST_ERROR_MAX];
};

/* The guest's used memory split, from its agent's last report; -1 = unknown.
 * The members after kernel_other need a protocol v2 agent (docs/control-protocol.md). */
struct ctl_guest_mem {
    int64_t age_ms; /* of the report */
    int64_t used_bytes;
    int64_t cache_bytes;
    int64_t anon_bytes; /* shmem included */
    int64_t kernel_other_bytes;
    int64_t shmem_bytes;
    int64_t slab_reclaimable_bytes;
    int64_t slab_unreclaimable_bytes;
    int64_t kernel_stack_bytes;
    int64_t page_tables_bytes;
    int64_t vmalloc_used_bytes;
    int64_t kernel_bytes;  /* page tables + max(vmalloc, stacks): vmap'd stacks counted once */
    int64_t balloon_bytes; /* the balloon's pages counted as used (deflate-on-oom) */
    int64_t other_bytes;   /* kernel_other - slab - kernel - balloon */
    int64_t kernel_reserved_bytes; /* nominal - MemTotal when meaningful (any agent) */
};

/* The fleet's total: each member summed over the VMs that know it. */
struct ctl_fleet_cost {
    int64_t vms;            /* VMs with a known host cost */
    struct ctl_vm_cost sum; /* age_ms: the oldest figures summed */
};

struct ctl_vm_status {
    char name[CTL_VM_NAME_MAX];
    int64_t nominal_bytes;         /* memory the guest was started with */
    int64_t target_bytes;          /* the balloon target ballastd wants */
    int64_t actual_bytes;          /* QEMU's query-balloon "actual" */
    int64_t guest_available_bytes; /* guest MemAvailable (agent, else QEMU stats) */
    double psi_some_avg10_pct;     /* guest memory PSI some avg10 */
    double psi_full_avg10_pct;
    char mode[CTL_MODE_MAX];   /* "auto", "dry-run", "fixed", "off" */
    char qmp[CTL_STATE_MAX];   /* "connected", "connecting", "down" */
    char agent[CTL_STATE_MAX]; /* "connected", "connecting", "down" */
    char last_reason[CTL_REASON_MAX];
    int64_t agent_frames;            /* frames decoded since start */
    int64_t agent_rejects;           /* disconnects for garbage */
    int64_t agent_violations;        /* frames ignored as protocol violations */
    int64_t guest_log_suppressed;    /* lines the guest caused, held back by its budget */
    int64_t ksm_merging_pages;       /* ksm_stat ksm_merging_pages: mapped to KSM pages */
    int64_t ksm_profit_bytes;        /* ksm_stat ksm_process_profit (signed) */
    int64_t ksm_saved_sharing_bytes; /* fair share of the copies saved by sharing */
    int64_t ksm_saved_zero_bytes;    /* merged with the kernel zero page */
    int64_t ksm_rmap_cost_bytes;     /* rmap items ksmd keeps for this VM */
    int64_t ksm_net_profit_bytes;    /* saved_sharing + saved_zero - rmap cost (signed) */
    int ksm_mergeable;               /* ksm_stat ksm_mergeable: 1, 0, -1 unknown */
    int ksm_allowed;                 /* the VM's `ksm` policy key: 1, 0, -1 unknown */

    int64_t guest_deflate_events; /* the guest deflated its balloon on OOM (episodes) */
    int64_t event_decisions;      /* growths decided at once for this VM (PRESSURE, report) */
    int64_t balloon_queries;      /* balloon figures asked of its backend (query-balloon) */
    int64_t balloon_sets;         /* balloon targets sent to its backend */
    /* Balloon commands that failed or timed out (rolled back and retried,
     * docs/policy.md "Failed commands"), the last one's error and age. */
    int64_t balloon_set_failures;
    int64_t last_set_error_age_ms; /* -1: none */
    char last_set_error[CTL_REASON_MAX];
    int64_t grows;   /* of those, growths (target above the current size) */
    int64_t shrinks; /* and shrinks */

    /* Someone else's balloon target, held (docs/policy.md, "Other balloon
     * controllers"): its size, when it was first seen (Unix seconds) and
     * by what ("another QMP client", "libvirt"); -1 / "" when none. */
    int64_t foreign_target_bytes;
    int64_t foreign_since_s;
    char foreign_by[CTL_FOREIGN_BY_MAX];
    int64_t foreign_changes; /* balloon changes not of ours nor the guest's (count) */
    /* Guest RAM its QEMU holds over the balloon's actual for a minute or
     * more (the balloon audit): 0 none, -1 not audited yet. */
    int64_t balloon_unreleased_bytes;
    /* The balloon deflates on OOM (virtio-balloon deflate-on-oom, libvirt
     * autodeflate): 1, 0 (no safety net while ballastd is down), -1 unknown. */
    int deflate_on_oom;

    char source[CTL_STATE_MAX];        /* VM source: "fleet", "libvirt" */
    char policy_source[CTL_STATE_MAX]; /* "file", "metadata" (libvirt), "defaults" */

    struct ctl_vm_cost cost;        /* "cost" */
    struct ctl_guest_mem guest_mem; /* "guest_mem" */
};

/*
 * The fleet memory budget (`memory_budget`, `memory_cgroup`; docs/policy.md):
 * the top-level "budget" object of the status document, also in explain.
 * Unknown numbers are -1, unknown yes/no -1; an empty string travels as null.
 */
#define CTL_BUDGET_TEXT_MAX 256
struct ctl_budget_status {
    char configured[CTL_STATE_MAX];   /* memory_budget as written ("6.0 GiB", "40%"), "" none */
    int64_t configured_bytes;         /* resolved against host RAM, before the clamp */
    int64_t effective_bytes;          /* the budget in force: clamped to host RAM */
    int clamped;                      /* memory_budget was above host RAM */
    char source[CTL_STATE_MAX];       /* whose figures the engine sees: host, budget, cgroup */
    int64_t view_total_bytes;         /* MemTotal the engine sees */
    int64_t view_available_bytes;     /* MemAvailable the engine sees */
    int64_t fleet_cost_bytes;         /* the fleet's host cost (today: sum of balloon actual) */
    int64_t floors_bytes;             /* sum of the guests' floors (working set + tight headroom) */
    int64_t capacity_bytes;           /* what the floors must fit in: budget or cgroup limit */
    int unmet;                        /* the floors do not fit the capacity */
    int64_t short_bytes;              /* by how much (0 when met) */
    char cgroup[CTL_BUDGET_TEXT_MAX]; /* memory_cgroup, "" none */
    char cgroup_error[CTL_BUDGET_TEXT_MAX]; /* why its figures are not used now, "" */
    char error[CTL_BUDGET_TEXT_MAX];        /* a budget configuration error (file:line), "" */
};

struct ctl_host_status {
    int64_t mem_total_bytes;
    int64_t mem_available_bytes;
    double psi_some_avg10_pct;
    double psi_full_avg10_pct;
    bool dry_run;
    int64_t ticks;
    int64_t balloon_changes; /* targets QEMU (or libvirt) took: failed commands not counted */
    int64_t agent_rejects;   /* all VMs, including removed ones */
    /* KSM, host-wide (see docs/control-protocol.md for each member). */
    char ksm_mode[CTL_MODE_MAX];              /* config ksm_mode, "" unknown */
    char ksm_reason[CTL_KSM_REASON_MAX];      /* what the tuner sees now */
    char ksm_last_change[CTL_KSM_REASON_MAX]; /* the last setting it changed, and why */
    int64_t ksm_run, ksm_pages_to_scan, ksm_sleep_ms, ksm_use_zero_pages;
    int64_t ksm_pages_shared, ksm_pages_sharing, ksm_zero_pages, ksm_full_scans;
    int64_t ksm_saved_bytes, ksm_saved_sharing_bytes, ksm_saved_zero_bytes, ksm_rmap_cost_bytes;
    int64_t ksm_net_profit_bytes;     /* signed */
    int64_t ksm_general_profit_bytes; /* signed, the kernel's */
    int64_t ksm_tuner_changes;        /* settings written since start */
    double ksmd_cpu_pct;              /* % of one core over the last tuner interval */
    double ksmd_cpu_avg_pct;          /* % of one core since ballastd started */
    double ksmd_cpu_seconds;          /* ksmd CPU time since ballastd started */
    double ksm_cpu_budget_pct;
    struct ctl_budget_status budget; /* written as the top-level "budget" object */
    /* The yield rule (modes auto and advisor; unknown in the others). */
    char ksm_phase[CTL_STATE_MAX];      /* off, probing, merging, backed-off, external */
    double ksm_yield_mib_per_cpu_s;     /* MiB newly merged per ksmd CPU-second */
    double ksm_min_yield_mib_per_cpu_s; /* the configured minimum */
    int64_t ksm_reprobe_in_s;           /* backed off: to the next probe, at the last decision */
    /* ballastd itself (docs/ballastd.md, "Footprint"). */
    int64_t daemon_rss_bytes;         /* VmRSS of ballastd */
    double daemon_cpu_seconds;        /* user + system CPU since it started */
    bool grow_latency_known;          /* grow_latency below was filled in */
    struct latency_hist grow_latency; /* report -> balloon reached, every growth since start */
    /* The libvirt source's connection: "connected (URI)", "stalled: call X
     * pending for N s ...", "down: ..."; "" (null) without --libvirt. */
    char libvirt[CTL_KSM_REASON_MAX];
};

/* The metrics reply's result: {"format": CTL_METRICS_FORMAT, "text": the
 * exposition text} (metrics_text.h writes it). */
#define CTL_METRICS_FORMAT "prometheus-text-0.0.4"

/* Sets every number of a VM row / host block to "unknown". */
void ctl_vm_status_init(struct ctl_vm_status *vm);
void ctl_host_status_init(struct ctl_host_status *host);

/*
 * The whole status reply line (ctl_reply_begin's envelope, "\n" included;
 * g_free), written as text without a json-glib tree (json_writer.h).
 */
char *ctl_status_reply(const struct ctl_host_status *host, const struct ctl_vm_status *vms,
                       size_t n_vms);
/* The budget object alone (the status document's "budget", explain's). */
void ctl_budget_status_write(struct json_writer *w, const struct ctl_budget_status *b);

/*
 * Reads a status result back; *vms is a g_new array of *n_vms rows (g_free).
 * Missing or null members stay unknown, so newer daemons can add members.
 */
int ctl_status_from_json(JsonNode *result, struct ctl_host_status *host, struct ctl_vm_status **vms,
                         size_t *n_vms);

/*
 * The cost members of the status and explain documents (control_cost.c):
 * init to unknown, write an object's members (the caller opens and closes
 * it, so explain can add its own), read them back (missing or mistyped
 * members stay unknown), and sum the fleet.
 */
void ctl_vm_cost_init(struct ctl_vm_cost *c);
void ctl_guest_mem_init(struct ctl_guest_mem *g);
void ctl_vm_cost_write(struct json_writer *w, const struct ctl_vm_cost *c);
void ctl_guest_mem_write(struct json_writer *w, const struct ctl_guest_mem *g);
void ctl_vm_cost_from_json(JsonObject *o, struct ctl_vm_cost *c);
void ctl_guest_mem_from_json(JsonObject *o, struct ctl_guest_mem *g);
void ctl_fleet_cost_sum(const struct ctl_vm_status *vms, size_t n, struct ctl_fleet_cost *out);
void ctl_fleet_cost_write(struct json_writer *w, const struct ctl_fleet_cost *f);

/* Copies src into a fixed buffer, truncating; always NUL terminates. */
void ctl_copy(char *dst, size_t dst_len, const char *src);

/* The control socket: option when given, else $BALLAST_SOCKET when set and
 * not empty, else CTL_DEFAULT_SOCKET. Both ends ask this. */
const char *ctl_socket_path(const char *option);

/*
 * Whether a peer may use the control socket: root, or the user ballastd runs
 * as (only ever root in production; the same user in tests).
 */
bool ctl_peer_allowed(uid_t peer_uid, uid_t daemon_uid);

/*
 * A member of a reply as a number or a boolean, or def when it is missing,
 * null, or not a scalar. json-glib's *_member_with_default getters raise a
 * glib critical on an object or an array where a scalar was expected (a
 * reply is untrusted: fuzz.ctl.reply found it); these never do.
 */
gint64 ctl_json_int(JsonObject *o, const char *name, gint64 def);
gboolean ctl_json_bool(JsonObject *o, const char *name, gboolean def);
gdouble ctl_json_double(JsonObject *o, const char *name, gdouble def);

#endif
