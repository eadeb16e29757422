/*
 * planner.h — when and how ballastd acts on the policy engine's answers.
 *
 * The engine (policy.h) says where each balloon should be; the planner says
 * what ballastd does about it, and when: which commands go out this tick
 * and in what order, how a balloon change is read, which agents are polled
 * and which balloons refreshed. Like the engine it is pure: no I/O, no
 * clock (times come in as arguments: monotonic ms, or wall-clock us where
 * QEMU's time stamps are compared), no globals, no allocation. ballastd's
 * manager reads, builds the planner's inputs from its per-VM state, calls
 * the engine and the planner, then sends and logs what they decided.
 *
 * The loop it shapes (docs/policy.md, "The planner"):
 *   actuation   - growth first, then shrinks (a guest never waits for memory
 *                 because shrinks used the budget); at most
 *                 PLANNER_HOST_MAX_SETS_PER_TICK commands a tick host-wide,
 *                 a shrink of one VM at most every
 *                 PLANNER_VM_MIN_SHRINK_INTERVAL_MS; hands-off (dry run,
 *                 observe, safe) logs a move it would make once, not every
 *                 tick; the event path takes only a growth;
 *   balloon     - a change QEMU reports is our own command converging, or
 *                 the guest deflating on OOM (actual rose over the target in
 *                 force when QEMU stamped it, the guest under pressure then
 *                 or within PLANNER_DEFLATE_PRESSURE_MS either way), or
 *                 someone else's (a `virsh setmem`, another QMP client),
 *                 which holds the VM at its target until an operator hands
 *                 it back;
 *                 after a growth, a watch measures when the balloon got there;
 *   schedule    - which quiet agents a tick POLLs, whether quiet and polled
 *                 reporting may be granted, when a tick asks a balloon's
 *                 source for fresh figures.
 */
#ifndef BALLAST_PLANNER_H
#define BALLAST_PLANNER_H

#include "policy.h"
#include "target_history.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- actuation ---------------------------------------------------------------------------- */

/* A shrink of one VM is sent at most this often (growth is never delayed). */
#define PLANNER_VM_MIN_SHRINK_INTERVAL_MS 2000
/* At most this many balloon commands per tick, host-wide (growth goes first). */
#define PLANNER_HOST_MAX_SETS_PER_TICK 16

/* One VM's engine answer as the planner sees it; the manager builds it. */
struct planner_vm {
    uint64_t current_bytes; /* the target in force (planner_current_bytes) */
    uint64_t want_bytes;    /* the engine's target (policy_vm_out.target_bytes) */
    bool actuate;           /* the engine lets it be sent (policy_vm_out.actuate) */
    enum policy_mode mode;  /* the mode it was evaluated in (the "would move" line) */
    uint64_t logged_bytes;  /* the last target logged or sent, 0 = none */
    int64_t last_set_ms;    /* when the last command went out (monotonic), 0 = never */
};

enum planner_act {
    PLANNER_NOTHING,     /* the target is in force already */
    PLANNER_SEND,        /* send want_bytes now: one command of the tick's budget */
    PLANNER_WAIT_GAP,    /* a shrink too soon after the last command: the engine asks again */
    PLANNER_WAIT_BUDGET, /* the tick's commands are spent: the engine asks again */
    PLANNER_HANDS_OFF,   /* not sent (dry run, observe, safe) and nothing new to log */
    PLANNER_WOULD_MOVE,  /* not sent (dry run, observe, safe): log the move, once */
};

/* The target in force: the last one sent, else (none since QEMU (re)connected) the actual. */
uint64_t planner_current_bytes(uint64_t target_set_bytes, uint64_t actual_bytes);

/* Whether the engine's answer raises the VM's target (a growth). */
bool planner_is_growth(const struct planner_vm *vm);

/*
 * The order a tick actuates in: order[] gets the indices of vms[] that grow,
 * in their order, then the others. Returns how many grow. A guest never
 * waits for memory because shrinks used the tick's budget.
 */
size_t planner_order(const struct planner_vm *vms, size_t n, size_t *order);

/*
 * What to do with one VM's answer, budget = commands left this tick. In a
 * dry run, or when the engine does not actuate (observe; safe mode's
 * shrinks), nothing is sent and a move is logged only when the target
 * differs from the one last logged: the manager then sets logged_bytes to
 * want_bytes (for PLANNER_HANDS_OFF as well).
 */
enum planner_act planner_actuation(const struct planner_vm *vm, bool dry_run, unsigned budget,
                                   int64_t now_ms);

/* The verb of a PLANNER_WOULD_MOVE log line: "dry-run: would move", "safe mode: ...", ... */
const char *planner_would_move_verb(const struct planner_vm *vm, bool dry_run);

/*
 * The event path (a PRESSURE frame, a report that wants growth, a deflate on
 * OOM) decides for one VM between ticks and takes only a growth: shrinking
 * and the host's share-out need the whole fleet and wait for the tick.
 */
bool planner_event_takes(const struct policy_vm_out *out, uint64_t current_bytes);

/*
 * guaranteed_memory (docs/policy.md, "Guaranteed memory"): under host
 * pressure (host_pressure > 0: the engine's level, MemAvailable under
 * host_avail_high_pct or host PSI) no VM is grown past its guarantee -
 * growth beyond it would have to come from squeezing the others, and a
 * guest that claims pressure (honestly or not) must live on its own share.
 * Returns the target to send: want_bytes, or cut to max(current_bytes,
 * guaranteed_bytes); never lower than current_bytes (a VM over its
 * guarantee keeps what it has; the engine's pass 2 takes the excess back
 * first). Without host pressure, want_bytes.
 */
uint64_t planner_guarantee_target(double host_pressure, uint64_t want_bytes, uint64_t current_bytes,
                                  uint64_t guaranteed_bytes);

/* --- balloon changes ---------------------------------------------------------------------- */

/* After a growth, query-balloon this often until actual is within
 * PLANNER_CONVERGED_BYTES of the target (logged with the latency), for at
 * most PLANNER_CONVERGE_WATCH_MS. */
#define PLANNER_CONVERGE_POLL_MS  50
#define PLANNER_CONVERGED_BYTES   (1u << 20)
#define PLANNER_CONVERGE_WATCH_MS 10000

/*
 * A deflate on OOM shows on the balloon within this of the guest's pressure,
 * either way round (docs/policy.md, "Other balloon controllers"): the
 * agent's PRESSURE frame travels over virtio-serial and QEMU's
 * BALLOON_CHANGE over QMP, either may be read first; QEMU sends at most one
 * BALLOON_CHANGE a second and the guest's OOM notifier gives pages back a
 * MiB a call, so the rise may trail the frame by a second or more; and a
 * calm report (PSI avg10 is a 10 s average, MemAvailable recovers as soon
 * as the pages are back) may come between them. Five report intervals at
 * the default 1 s. A rise someone else made is held from the moment it is
 * seen; only its warning, its count and the state file wait this long.
 */
#define PLANNER_DEFLATE_PRESSURE_MS 5000

enum planner_balloon_change {
    /* Nothing to act on: the balloon moving toward the target we set (our
     * own command converging), the first figures, or a rise that is not
     * news (counted already, or stamped before any target we remember). */
    PLANNER_BALLOON_OURS,
    /* actual rose at least PLANNER_CONVERGED_BYTES over the target in force,
     * without a command of ours, and the guest shows pressure now or did
     * within PLANNER_DEFLATE_PRESSURE_MS before (or nothing tells): the
     * guest deflated its balloon on OOM (deflate-on-oom). Urgent: decide
     * for this VM now. */
    PLANNER_BALLOON_GUEST_DEFLATE,
    /* Someone else moved the balloon's target: an admin's `virsh setmem
     * --live`, a `balloon` from a second QMP client, MOM or Proxmox on the
     * same host. Either actual fell at least PLANNER_CONVERGED_BYTES under
     * the target in force (nothing but a balloon command inflates a
     * balloon: the guest never does), or it rose over it while a fresh
     * agent report shows no pressure and none was seen for
     * PLANNER_DEFLATE_PRESSURE_MS. Respected: the VM is held at
     * foreign_bytes (planner_foreign_target); a rise is someone else's for
     * good only when no pressure follows either (planner_foreign_settle). */
    PLANNER_BALLOON_FOREIGN,
};

/* A balloon's new figures, with what the manager remembers of its commands. */
struct planner_balloon_event {
    int64_t before_bytes;              /* actual before this change, -1 unknown */
    int64_t actual_bytes;              /* actual now */
    int64_t changed_real_us;           /* QEMU's wall-clock stamp on the change, 0 = none */
    uint64_t target_set_bytes;         /* the target in force now (last sent), 0 = none */
    const struct target_history *sent; /* targets sent, by wall-clock time */
    int64_t raise_counted_real_us;     /* changes stamped before this are counted already */
    /* What the guest says of its pressure (planner_guest_pressed): known =
     * a fresh agent report; without one a rise is read as the guest's
     * deflate, the reading that errs toward giving memory. */
    bool pressure_known;
    bool guest_pressure;
    /* Monotonic ms: now, and the guest's last sign of pressure (a PRESSURE
     * frame, a report under pressure, an OOM kill count that rose), 0 =
     * none seen: a deflate may be read after a calm report that followed
     * the frame (PLANNER_DEFLATE_PRESSURE_MS). */
    int64_t now_ms;
    int64_t pressure_ms;
};

struct planner_balloon_verdict {
    enum planner_balloon_change change;
    /* GUEST_DEFLATE on a stamped change: the target it rose over, for the
     * next decision (policy_vm_in.guest_raised_over_bytes). FOREIGN: the
     * target a rise rose over (planner_foreign_settle), 0 for a fall.
     * Else 0. */
    uint64_t raised_over_bytes;
    /* FOREIGN: the target someone else set, as far as the figures tell (QMP
     * and libvirt events carry only actual: the balloon's size now; a later
     * change of the same command moves it on). Else 0. */
    uint64_t foreign_bytes;
};

/*
 * Classifies a balloon change. A stamped change (QMP BALLOON_CHANGE) is
 * compared with the target in force at its stamp (target_history.h): read
 * late, after a growth of ours, it still shows the guest's own deflate. An
 * unstamped one (libvirt, query-balloon) is compared with the current target.
 */
struct planner_balloon_verdict planner_classify_balloon(const struct planner_balloon_event *ev);

/*
 * Whether the guest shows pressure, for planner_classify_balloon: a
 * PRESSURE frame not decided on yet, or a report no older than
 * agent_stale_ms with PSI some or full at their thresholds, MemAvailable
 * under the guest's floor, or an OOM kill since the last decision.
 * *known: there is such a report (or a PRESSURE frame) to go by.
 */
bool planner_guest_pressed(const struct policy_vm_in *in, const struct policy_vm_state *s,
                           const struct policy_tunables *t, bool *known);

/*
 * A foreign target holds the VM (docs/policy.md, "Other balloon
 * controllers"): ballastd neither shrinks nor grows it past what someone
 * else set, until an operator hands it back (`ballastctl resume VM`). Only
 * an urgent growth (the guest under pressure, or deflating on OOM) goes
 * past it: nobody's setting is worth an OOM kill. Returns the target to
 * send given the engine's answer: want_bytes for an urgent growth over
 * current_bytes, else current_bytes (the foreign target, or an urgent
 * growth of ours since: a hold never shrinks).
 */
uint64_t planner_foreign_target(enum policy_decision decision, uint64_t want_bytes,
                                uint64_t current_bytes);

/* Whether the guest's last sign of pressure (pressure_ms, 0 = none) is
 * recent enough at now_ms for a rise to be its deflate on OOM. */
bool planner_pressure_recent(int64_t pressure_ms, int64_t now_ms);

enum planner_foreign_settle {
    PLANNER_FOREIGN_PENDING,     /* a rise, too recent to tell: held, not said yet */
    PLANNER_FOREIGN_CONFIRMED,   /* someone else's: said, counted, kept over a restart */
    PLANNER_FOREIGN_WAS_DEFLATE, /* the guest's deflate on OOM after all: the hold ends */
};

/*
 * What became of a change classified FOREIGN, seen at seen_ms: a fall
 * (rose_over_bytes 0; no guest inflates its own balloon) is someone
 * else's at once. A rise is the guest's deflate on OOM after all when its
 * pressure (pressure_ms, the last sign, 0 = none) shows within
 * PLANNER_DEFLATE_PRESSURE_MS of it - the PRESSURE frame read after QEMU's
 * event; someone else's once that window has passed without; pending
 * until then.
 */
enum planner_foreign_settle planner_foreign_settle(uint64_t rose_over_bytes, int64_t seen_ms,
                                                   int64_t pressure_ms, int64_t now_ms);

/*
 * The target the guest deflated over, for the log of a decision that
 * counted a deflate: the target in force, or, seen late (actual no longer
 * above it: we grew past the deflated actual already), the one the stamped
 * change rose over.
 */
uint64_t planner_deflated_over_bytes(const struct policy_vm_in *in);

/* When a growth was asked for: the report that asked (never later than now), else now. */
int64_t planner_grow_trigger_ms(bool report_valid, int64_t report_ms, int64_t now_ms);

/* Whether the balloon reached the growth being watched (grow_wait_bytes, 0 = none). */
bool planner_grow_reached(uint64_t grow_wait_bytes, int64_t actual_bytes);

enum planner_watch {
    PLANNER_WATCH_NONE,    /* no growth being watched */
    PLANNER_WATCH_QUERY,   /* ask for fresh figures (query-balloon) */
    PLANNER_WATCH_GIVE_UP, /* not there within PLANNER_CONVERGE_WATCH_MS, or QEMU is gone */
};

/* One step of the convergence watch, every PLANNER_CONVERGE_POLL_MS. */
enum planner_watch planner_watch_step(uint64_t grow_wait_bytes, bool backend_up,
                                      int64_t grow_sent_ms, int64_t now_ms);

/* --- exit -------------------------------------------------------------------------------- */

/* on_exit = release: ballastd waits at most this long for the released balloons. */
#define PLANNER_RELEASE_WAIT_MS 3000

/*
 * on_exit = release (docs/ballastd.md, "On exit"): the target a VM gets
 * before ballastd exits, 0 for none. Its max_memory - the most ballastd
 * would ever give it, the VM's nominal size unless its policy says less -
 * and never below the balloon's actual size: a release only deflates.
 * Observe (hands-off) and fixed (the admin's own size) get nothing, nor a
 * balloon already there (the target in force, or without one the actual
 * within PLANNER_CONVERGED_BYTES). Safe mode is released: it only raises.
 */
uint64_t planner_release_bytes(enum policy_mode mode, uint64_t max_bytes, uint64_t actual_bytes,
                               uint64_t target_set_bytes);

/* --- schedule ----------------------------------------------------------------------------- */

/* At a scheduled tick, quiet agents granted POLL are asked for a report and
 * read together this much later, then the tick decides on their answers. */
#define PLANNER_POLL_COLLECT_MS 100
/* A tick asks a fleet VM with an agent for balloon figures this often at most
 * (BALLOON_CHANGE events do the rest; this is only a safety net). At 30 s the
 * answers were most of an idle 32-guest fleet's wakeups of ballastd. */
#define PLANNER_BALLOON_REFRESH_MS 300000

/*
 * Quiet reports (PROTO_CAP_QUIET): an idle agent then reports once every
 * PROTO_QUIET_HEARTBEAT_INTERVALS intervals instead of every interval; a
 * moving guest as often as before. Granted only while such a report stays
 * fresh for the policy (agent_stale_ms), two intervals to spare for a slow
 * guest. With 64 idle guests it is 6 wakeups of ballastd a second, not 64.
 */
bool planner_quiet_reports_ok(uint64_t agent_stale_ms, uint32_t report_interval_ms);

/*
 * Polled heartbeats (PROTO_CAP_POLL, with QUIET): the agent sends none; a
 * scheduled tick POLLs the quiet agents whose report is due
 * (planner_poll_due), all at once, and reads their answers together after
 * PLANNER_POLL_COLLECT_MS. An idle fleet then wakes ballastd about three
 * times per two ticks instead of once per guest heartbeat. Granted while a
 * poll that goes unanswered still leaves the report fresh at the next tick:
 * under agent_stale_ms / 2 + a tick when due, so agent_stale_ms >= 2 ticks.
 */
bool planner_polled_reports_ok(uint64_t agent_stale_ms, uint32_t report_interval_ms,
                               uint64_t tick_ms);

/*
 * Whether a tick POLLs a quiet agent. A quiet agent sends any material move
 * at once (proto.h: memory by max(1 MiB, MemTotal / 128), PSI by 1 %), so
 * the last report it sent is within that deadband of the truth however old
 * it is; a POLL adds proof of life and a bound on age. It is due once the
 * report is half the stale window old: a decision then never uses a report
 * older than agent_stale_ms / 2 + a tick, which planner_polled_reports_ok
 * keeps under agent_stale_ms. With the defaults (15 s, 5 s tick) an idle
 * fleet is polled every other tick, and the ticks between cost one wakeup
 * and no socket I/O. A guest whose memory moves reports on its own and is
 * not polled at all.
 */
bool planner_poll_due(bool report_valid, int64_t report_ms, uint64_t agent_stale_ms,
                      int64_t now_ms);

/*
 * An own shrink the guest's figures do not show yet (policy_vm_state
 * shrink_unseen) holds the next step until a report made after the balloon
 * reached it arrives (docs/policy.md). A quiet agent's heartbeat comes only
 * every agent_stale_ms / 2, so each step of a shrink would wait ~7.5 s for
 * it: poll at once instead, when the balloon is there (actual within
 * tolerance of the target) and the last report is older than the command
 * or was made with the balloon not there yet (report_actual_bytes, -1
 * unknown).
 */
bool planner_poll_after_shrink(bool shrink_unseen, int64_t report_ms, int64_t last_set_ms,
                               int64_t report_actual_bytes, uint64_t actual_bytes,
                               uint64_t target_bytes, uint64_t tolerance_bytes);

/* What a tick knows of a VM's balloon figures. */
struct planner_refresh {
    bool has_agent;         /* the VM has an agent channel */
    bool report_valid;      /* ... and a report from it */
    bool refresh_each_tick; /* the source's figures come only by asking (libvirt) */
    int64_t actual_bytes;   /* -1 unknown */
    int64_t nominal_bytes;  /* <= 0 unknown */
    int64_t refresh_ms;     /* when a tick last asked (monotonic) */
};

/*
 * Whether a tick asks the VM's source for fresh balloon figures, and with
 * the guest's own statistics (*guest_stats: when there is no agent report
 * to go by). Under the fleet, BALLOON_CHANGE events keep actual current
 * (QEMU rate-limits them to one a second and always delivers the last); a
 * query-balloon is the safety net every PLANNER_BALLOON_REFRESH_MS, or
 * brings guest-stats when there is no agent. That saves a QMP round trip per
 * VM per tick, and a wakeup per answer: the 32 QEMUs of an idle fleet
 * answer at their own moments. libvirt's figures come only by refreshing.
 */
bool planner_refresh_due(const struct planner_refresh *r, int64_t now_ms, bool *guest_stats);

/* --- host figures missing ----------------------------------------------------------------- */

/*
 * When the host's figures cannot be read (<proc>/meminfo gone, unreadable
 * or garbage; docs/policy.md, "Host figures missing"), a guest under
 * pressure must still be grown: its need does not depend on the host's.
 * The engine then runs on this stand-in host - no total, so no host
 * pressure and no deficit to share out, PSI unknown - and of its answers
 * only growth is taken (planner_host_unknown_takes, the event path's rule):
 * a shrink needs the host's figures to be fair and waits for them, with
 * the engine's state for that VM left as it was.
 */
struct policy_host planner_host_unknown(void);
/* Whether an answer made on planner_host_unknown() is acted on: a growth only. */
bool planner_host_unknown_takes(const struct policy_vm_out *out, uint64_t current_bytes);

#endif
