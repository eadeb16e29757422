/*
 * Policy files; see config.h. Every key is one row of `keys[]` below (name,
 * type, unit, default, range, where it may be given, doc, where it lands):
 * parsing, validation, docs/config.md and the tests all walk that one
 * table. Its one value parser (parse_key) serves policy files, libvirt
 * metadata and `ballastctl set-policy` alike (config_vm_layer_set).
 *
 * GKeyFile parses values but reports no line numbers and silently takes the
 * last of two duplicate keys, so each file is first scanned line by line
 * here: that scan knows the line of every key (for "file:line: message"),
 * and catches duplicates, unknown groups and keys, and binary garbage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "actuator.h"
#include "listen_addr.h"
#include "size.h"
#include "vm_policy.h"

#define GROUP_GLOBAL   "ballastd"
#define GROUP_DEFAULTS "defaults"
#define GROUP_VM       "vm"

/* Where a parsed value is stored. */
enum field {
    FIELD_U64,
    FIELD_U32,
    FIELD_DOUBLE,
    FIELD_BOOL,
    FIELD_MODE,
    FIELD_CSIZE, /* struct config_size */
    FIELD_PATH,  /* char[CONFIG_CGROUP_PATH_MAX], "" for none */
};

/* Which struct a global key is stored in. */
enum global_store {
    IN_TUNABLES = 0, /* struct policy_tunables */
    IN_KSM,          /* struct config_ksm */
    IN_BUDGET,       /* struct config_budget */
    IN_DAEMON,       /* struct config_daemon */
};

struct key_def {
    struct config_key_info info;
    bool global; /* stored in struct policy_tunables, else config_vm_policy */
    enum field field;
    size_t offset;
    enum global_store store; /* global keys: where they land */
};

#define TUN(name, type, unit, def, lo, hi, field, member, doc)                                     \
    {                                                                                              \
        {GROUP_GLOBAL, name, type, unit, def, lo, hi, CONFIG_IN_FILE, doc}, true, field,           \
            offsetof(struct policy_tunables, member), IN_TUNABLES                                  \
    }
#define KSMK(name, type, unit, def, lo, hi, field, member, doc)                                    \
    {                                                                                              \
        {GROUP_GLOBAL, name, type, unit, def, lo, hi, CONFIG_IN_FILE, doc}, true, field,           \
            offsetof(struct config_ksm, member), IN_KSM                                            \
    }
#define BUDK(name, type, unit, def, lo, hi, field, member, doc)                                    \
    {                                                                                              \
        {GROUP_GLOBAL, name, type, unit, def, lo, hi, CONFIG_IN_FILE, doc}, true, field,           \
            offsetof(struct config_budget, member), IN_BUDGET                                      \
    }
#define DMK(name, type, unit, def, lo, hi, field, member, doc)                                     \
    {                                                                                              \
        {GROUP_GLOBAL, name, type, unit, def, lo, hi, CONFIG_IN_FILE, doc}, true, field,           \
            offsetof(struct config_daemon, member), IN_DAEMON                                      \
    }
/* Per-VM keys: `where` says if metadata and set-policy may give them too. */
#define VMK(name, type, unit, def, lo, hi, where, field, member, doc)                              \
    {                                                                                              \
        {GROUP_VM, name, type, unit, def, lo, hi, CONFIG_IN_FILE | (where), doc}, false, field,    \
            offsetof(struct config_vm_policy, member), IN_TUNABLES                                 \
    }
#define META    CONFIG_IN_METADATA
#define RUNTIME CONFIG_IN_RUNTIME

#define TIB_F 1099511627776.0 /* 1 TiB as a range bound */

/* Defaults here are the text a user would write; a unit test checks that
 * each parses to the built-in default of policy_tunables_default(). */
static const struct key_def keys[] = {
    TUN("tick_interval_ms", CONFIG_KEY_UINT, "ms", "5000", 100, 600000, FIELD_U64, tick_interval_ms,
        "Time between two policy rounds (a PRESSURE frame also starts one)."),
    TUN("host_avail_low_pct", CONFIG_KEY_PCT, "% of host MemTotal", "10", 0, 100, FIELD_DOUBLE,
        host_avail_low_pct, "Host MemAvailable at or under this: full host pressure."),
    TUN("host_avail_high_pct", CONFIG_KEY_PCT, "% of host MemTotal", "20", 0, 100, FIELD_DOUBLE,
        host_avail_high_pct,
        "Host MemAvailable at or above this: no host pressure; linear in between."),
    TUN("host_psi_some_pct", CONFIG_KEY_PCT, "% (avg10)", "10", 0, 100, FIELD_DOUBLE,
        host_psi_some_pct, "Host memory PSI some avg10 at or over this: full pressure. 0 = off."),
    TUN("guest_psi_some_pct", CONFIG_KEY_PCT, "% (avg10)", "10", 0, 100, FIELD_DOUBLE,
        guest_psi_some_pct, "Guest PSI some avg10 at or over this: urgent growth. 0 = off."),
    TUN("guest_psi_full_pct", CONFIG_KEY_PCT, "% (avg10)", "5", 0, 100, FIELD_DOUBLE,
        guest_psi_full_pct, "Guest PSI full avg10 at or over this: grow straight to max. 0 = off."),
    TUN("guest_avail_floor_pct", CONFIG_KEY_PCT, "% of max", "2", 0, 100, FIELD_DOUBLE,
        guest_avail_floor_pct,
        "Guest MemAvailable under max(this, guest_avail_floor): urgent growth."),
    TUN("guest_avail_floor", CONFIG_KEY_SIZE, "bytes", "8M", 0, TIB_F, FIELD_U64,
        guest_avail_floor_bytes, "Absolute part of the guest MemAvailable floor."),
    TUN("urgent_step_pct", CONFIG_KEY_PCT, "% of max", "25", 0, 100, FIELD_DOUBLE, urgent_step_pct,
        "Smallest urgent growth step."),
    TUN("headroom_pct", CONFIG_KEY_PCT, "% of max", "10", 0, 100, FIELD_DOUBLE, headroom_pct,
        "Free memory left above the working set, host comfortable: max(this, headroom)."),
    TUN("headroom", CONFIG_KEY_SIZE, "bytes", "32M", 0, TIB_F, FIELD_U64, headroom_bytes,
        "Absolute part of the headroom, host comfortable."),
    TUN("pressure_headroom_pct", CONFIG_KEY_PCT, "% of max", "3", 0, 100, FIELD_DOUBLE,
        pressure_headroom_pct, "Headroom at full host pressure: max(this, pressure_headroom)."),
    TUN("pressure_headroom", CONFIG_KEY_SIZE, "bytes", "8M", 0, TIB_F, FIELD_U64,
        pressure_headroom_bytes, "Absolute part of the headroom at full host pressure."),
    TUN("shrink_gain_pct", CONFIG_KEY_PCT, "% of the gap per round", "25", 1, 100, FIELD_DOUBLE,
        shrink_gain_pct, "Share of the distance to the goal closed by one shrink step."),
    TUN("vm_shrink_per_s", CONFIG_KEY_SIZE, "bytes/s", "8M", 0, TIB_F, FIELD_U64,
        vm_shrink_rate_bytes_per_s, "Per-VM shrink rate limit (times the round's duration)."),
    TUN("vm_shrink_step_max", CONFIG_KEY_SIZE, "bytes", "64M", 0, TIB_F, FIELD_U64,
        vm_shrink_step_max_bytes, "Per-VM largest shrink step in one round."),
    TUN("host_shrink_per_s", CONFIG_KEY_SIZE, "bytes/s", "256M", 0, TIB_F, FIELD_U64,
        host_shrink_rate_bytes_per_s, "Whole-fleet shrink rate limit."),
    TUN("pressure_step_factor", CONFIG_KEY_DOUBLE, "factor", "4", 1, 100, FIELD_DOUBLE,
        pressure_step_factor, "Shrink limits are multiplied by up to this under host pressure."),
    TUN("deadband_pct", CONFIG_KEY_PCT, "% of max", "2", 0, 50, FIELD_DOUBLE, deadband_pct,
        "Target changes under max(this, deadband) are skipped."),
    TUN("deadband", CONFIG_KEY_SIZE, "bytes", "4M", 0, TIB_F, FIELD_U64, deadband_bytes,
        "Absolute part of the deadband."),
    TUN("grow_hold_ms", CONFIG_KEY_UINT, "ms", "60000", 0, 86400000, FIELD_U64, grow_hold_ms,
        "No shrink for this long after a growth."),
    TUN("stall_tolerance", CONFIG_KEY_SIZE, "bytes", "1M", 0, TIB_F, FIELD_U64,
        stall_tolerance_bytes,
        "Balloon within this of its target has converged; moving less is not moving."),
    TUN("stall_ticks", CONFIG_KEY_UINT, "rounds", "3", 1, 1000, FIELD_U32, stall_ticks,
        "Rounds without progress before a shrink is declared stalled."),
    TUN("stall_retry_ms", CONFIG_KEY_UINT, "ms", "300000", 0, 86400000, FIELD_U64, stall_retry_ms,
        "A stalled VM is held at the size reached for this long, then retried."),
    TUN("agent_stale_ms", CONFIG_KEY_UINT, "ms", "15000", 100, 86400000, FIELD_U64, agent_stale_ms,
        "Agent reports older than this are ignored."),
    TUN("stats_stale_ms", CONFIG_KEY_UINT, "ms", "30000", 100, 86400000, FIELD_U64, stats_stale_ms,
        "QEMU guest-stats older than this are ignored."),
    TUN("blind_release_ms", CONFIG_KEY_UINT, "ms", "120000", 0, 86400000, FIELD_U64,
        blind_release_ms, "No guest data for this long: grow back to max. 0 = never."),
    TUN("idle_reclaim_after_ms", CONFIG_KEY_UINT, "ms", "30000", 0, 86400000, FIELD_U64,
        idle_reclaim_after_ms,
        "A VM held this long without guest memory pressure is asked to RECLAIM its cold page "
        "cache (Inactive(file)), which free page reporting then returns. 0 = off."),
    TUN("idle_reclaim_min", CONFIG_KEY_SIZE, "bytes", "4M", 0, TIB_F, FIELD_U64,
        idle_reclaim_min_bytes, "Cold page cache under this is not worth an idle RECLAIM."),
    KSMK("ksm_mode", CONFIG_KEY_KSM_MODE, "enum", "auto", 0, 0, FIELD_U32, mode,
         "KSM tuning: auto (on while it yields or memory is needed, scan rate within the CPU "
         "budget), advisor (the kernel's scan-time advisor paces), fixed, off, or observe "
         "(measure only)."),
    KSMK("ksm_cpu_budget_pct", CONFIG_KEY_PCT, "% of one core", "10", 0.1, 100, FIELD_DOUBLE,
         cpu_budget_pct, "ksmd CPU ceiling in modes auto and advisor."),
    KSMK("ksm_interval_ms", CONFIG_KEY_UINT, "ms", "10000", 1000, 600000, FIELD_U64, interval_ms,
         "Time between two KSM tuner decisions (ksmd CPU is measured over it)."),
    KSMK("ksm_start_commit_pct", CONFIG_KEY_UINT, "% of host MemTotal", "50", 1, 1000, FIELD_U32,
         start_commit_pct,
         "Start ksmd when the guests' nominal RAM reaches this share of host RAM."),
    KSMK("ksm_stop_commit_pct", CONFIG_KEY_UINT, "% of host MemTotal", "35", 0, 999, FIELD_U32,
         stop_commit_pct,
         "Under this (if host memory is plentiful) the yield decides; below the start."),
    KSMK("ksm_min_yield_mib_per_cpu_s", CONFIG_KEY_DOUBLE, "MiB per ksmd CPU-second", "4", 0,
         100000, FIELD_DOUBLE, min_yield_mib_per_cpu_s,
         "Keep ksmd merging while it saves this much per CPU-second; below, stop and re-probe "
         "after a back-off (10 min, doubling to 2 h). 0 = never stop for it."),
    /* The budget is a virtual host for the engine's host-pressure loop
     * (budget.h); "none" is the default so that writing every default
     * changes nothing. */
    BUDK("memory_budget", CONFIG_KEY_HOST_SIZE_PCT, "bytes or % of host MemTotal", "none", 1048576,
         TIB_F * 64, FIELD_CSIZE, size,
         "The fleet's memory budget: the guests are kept inside it as inside a host of this "
         "size. Above host RAM: cut to it."),
    BUDK("memory_cgroup", CONFIG_KEY_PATH, "directory", "none", 0, 0, FIELD_PATH, cgroup,
         "A cgroup v2 directory whose memory.current, memory.max/high and memory.pressure "
         "stand in for the host's figures."),
    /* What a restart must not lose (hold-downs, stalls, set-policy
     * overrides, the last target sent): host/daemon/state_file.c. */
    DMK("state_file", CONFIG_KEY_FILE, "file", "auto", 0, 0, FIELD_PATH, state_file,
        "Where ballastd keeps what a restart must not lose: auto = beside the control socket "
        "(CTL.state.json), none = nothing kept. --state-file overrides it."),
    /* keep by default: docs/ballastd.md, "On exit", says why. */
    DMK("on_exit", CONFIG_KEY_ON_EXIT, "enum", "keep", 0, 0, FIELD_U32, on_exit,
        "What SIGTERM does to the balloons: keep them where they are, or release (deflate "
        "every managed VM to its max_memory) before exiting."),
    /* Off by default: a listener is a port someone must decide to open. A
     * bare port is loopback, so turning it on exposes nothing by itself. */
    DMK("metrics_listen", CONFIG_KEY_LISTEN, "address", "off", 0, 0, FIELD_PATH, metrics_listen,
        "Serve Prometheus metrics (GET /metrics) on this TCP address: 127.0.0.1:9464, "
        "[::1]:9464, or a bare port (loopback). off = no listener."),
    /* none: the read-only socket is for monitoring as any user, as libvirt's
     * unix_sock_ro_perms = 0777 is by default. */
    DMK("ro_socket_group", CONFIG_KEY_GROUP, "group", "none", 0, 0, FIELD_PATH, ro_socket_group,
        "Only this group may use the read-only control socket (mode 0660); none = every user "
        "(mode 0666). Read at start."),
    /* 5 minutes, as the planner's hold-down after a deflate-on-OOM:
     * docs/virtio-mem.md, rules 5 and 5b. */
    DMK("vmem_peak_hold_ms", CONFIG_KEY_UINT, "ms", "300000", 0, 86400000, FIELD_U64,
        vmem_peak_hold_ms,
        "A virtio-mem guest keeps the most memory it was given plugged for this long to twice as "
        "long: with a deflate-on-OOM balloon the part above its target in the balloon, for it to "
        "take back by itself in a burst; without one (or without deflate-on-OOM) free in the "
        "guest (docs/virtio-mem.md, rules 5 and 5b). 0 = one block in a deflate-on-OOM balloon, "
        "else none. Read at start."),

    VMK("min_memory", CONFIG_KEY_SIZE_PCT, "bytes or % of nominal", "25%", 0, TIB_F * 64,
        META | RUNTIME, FIELD_CSIZE, min_memory, "Never set the balloon target below this."),
    VMK("max_memory", CONFIG_KEY_SIZE_PCT, "bytes or % of nominal", "100%", 0, TIB_F * 64,
        META | RUNTIME, FIELD_CSIZE, max_memory,
        "Never above this; capped at the VM's nominal size."),
    VMK("fixed_memory", CONFIG_KEY_SIZE_PCT, "bytes or % of nominal", "100%", 0, TIB_F * 64,
        META | RUNTIME, FIELD_CSIZE, fixed_memory, "The target in mode = fixed."),
    /* 100% by default: every VM may grow to its max under host pressure,
     * as before the key existed (docs/policy.md, "Guaranteed memory"). */
    VMK("guaranteed_memory", CONFIG_KEY_SIZE_PCT, "bytes or % of nominal", "100%", 0, TIB_F * 64,
        META | RUNTIME, FIELD_CSIZE, guaranteed_memory,
        "Under host pressure, no growth past this (the VM lives on what it has), and the host "
        "takes back what VMs hold over theirs before it squeezes VMs within theirs."),
    /* The engine only divides by shares, in doubles (policy.c, the host
     * pressure pass: weight = reclaimable bytes / shares): no integer
     * product to overflow, and a 1,000,000 : 1 ratio is still exact enough.
     * So files, metadata and set-policy all take 1 .. 1,000,000. */
    VMK("shares", CONFIG_KEY_UINT, "weight", "1000", 1, 1000000, META | RUNTIME, FIELD_U32, shares,
        "Under host pressure, VMs give memory in inverse proportion to shares."),
    VMK("mode", CONFIG_KEY_MODE, "enum", "managed", 0, 0, META | RUNTIME, FIELD_MODE, mode,
        "managed: ballastd moves the balloon; observe: explain only; fixed: hold fixed_memory."),
    VMK("agent_required", CONFIG_KEY_BOOL, "bool", "false", 0, 1, META | RUNTIME, FIELD_BOOL,
        agent_required,
        "Never shrink without a fresh report from ballast-agent (guest-stats are not enough)."),
    VMK("reclaim_allowed", CONFIG_KEY_BOOL, "bool", "true", 0, 1, META | RUNTIME, FIELD_BOOL,
        reclaim_allowed,
        "ballastd may ask the agent to RECLAIM: before a shrink step, at a stall, and an idle "
        "guest's cold page cache."),
    /* Not at runtime: whether QEMU registers the VM's RAM with KSM is
     * decided when QEMU starts (the fleet launcher's mem-merge=off). */
    VMK("ksm", CONFIG_KEY_BOOL, "bool", "true", 0, 1, META, FIELD_BOOL, ksm,
        "Let KSM merge this VM's memory; false opts it out."),
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

const struct config_key_info *config_key_at(size_t i)
{
    return i < N_KEYS ? &keys[i].info : NULL;
}

static const char *const ksm_mode_names[] = {"off", "auto", "advisor", "fixed", "observe"};
static const char *const on_exit_names[] = {"keep", "release"}; /* enum config_on_exit */

const char *config_on_exit_name(uint32_t v)
{
    return v < G_N_ELEMENTS(on_exit_names) ? on_exit_names[v] : NULL;
}

const char *config_ksm_mode_name(uint32_t mode)
{
    return mode < G_N_ELEMENTS(ksm_mode_names) ? ksm_mode_names[mode] : NULL;
}

static void ksm_builtin(struct config_ksm *k)
{
    /*
     * auto by default: ballastd is the host's memory manager. Two guards keep
     * it from fighting others over the host-wide ksmd: it only observes while
     * ksmtuned or MOM runs, and never stops a ksmd it did not start.
     */
    *k = (struct config_ksm){.mode = 1, /* "auto" in ksm_mode_names (enum ksm_mode) */
                             .cpu_budget_pct = 10.0,
                             .interval_ms = 10000,
                             .start_commit_pct = 50,
                             .stop_commit_pct = 35,
                             .min_yield_mib_per_cpu_s = 4.0};
}

static const struct key_def *find_key(bool global, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].global == global && strcmp(keys[i].info.name, name) == 0)
            return &keys[i];
    return NULL;
}

static void vm_policy_builtin(struct config_vm_policy *p)
{
    *p = (struct config_vm_policy){
        .min_memory = {CONFIG_SIZE_PCT, 0, 25.0},
        .max_memory = {CONFIG_SIZE_PCT, 0, 100.0},
        .fixed_memory = {CONFIG_SIZE_PCT, 0, 100.0},
        .guaranteed_memory = {CONFIG_SIZE_PCT, 0, 100.0},
        .shares = 1000,
        .mode = POLICY_MODE_MANAGED,
        .agent_required = false,
        .reclaim_allowed = true,
        .ksm = true,
    };
}

/* ---- values: one parser for files, metadata and set-policy ---------- */

static bool is_plain_number(const char *s)
{
    /* digits, optional fraction; no sign, exponent, hex, inf or nan. */
    size_t i = 0, digits = 0;
    while (g_ascii_isdigit(s[i])) {
        i++;
        digits++;
    }
    if (s[i] == '.') {
        i++;
        size_t frac = 0;
        while (g_ascii_isdigit(s[i])) {
            i++;
            frac++;
        }
        if (frac == 0)
            return false;
    }
    return digits > 0 && s[i] == '\0';
}

/* One value being parsed: the key, how messages name it, the text (trimmed)
 * and the same cut to 40 characters for messages (a hostile file may hold a
 * 60 KiB line), and where the result goes. */
struct value_in {
    const struct key_def *k;
    const char *label;
    const char *text;
    char shown[48];
    void *dst; /* the member of the key's struct */
};

G_GNUC_PRINTF(3, 4)
static int value_error(const struct value_in *v, char **msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *body = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    *msg = g_strconcat(v->label, body, NULL);
    return -EINVAL;
}

/* A range bound as messages show it: 100, 1000000, 0.1. */
static const char *bound_text(double x, char *buf, size_t len)
{
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(buf, len, "%.0f", x);
    else
        snprintf(buf, len, "%g", x);
    return buf;
}

/* Stores a size with its padding zeroed: a struct assigned from a compound
 * literal may carry any bytes there (clang's do), and vm_saved_hash()
 * hashes an override's bytes to tell whether the state file must be
 * rewritten (fuzz.daemon.state_file). */
static void set_size(void *dst, enum config_size_kind kind, uint64_t bytes, double pct)
{
    struct config_size *sz = dst;
    memset(sz, 0, sizeof(*sz));
    sz->kind = kind;
    sz->bytes = bytes;
    sz->pct = pct;
}

/* "25%" of a CONFIG_KEY_SIZE_PCT key. */
static int parse_percent(const struct value_in *v, size_t len, char **msg)
{
    g_autofree char *num = g_strndup(v->text, len - 1);
    if (!is_plain_number(num))
        return value_error(v, msg, ": bad percentage '%s'", v->shown);
    double pct = g_ascii_strtod(num, NULL);
    /* A budget of 0% of the host would squeeze every guest to its floor:
     * surely a typo, so a host percentage starts at 1%. */
    double lo = v->k->info.type == CONFIG_KEY_HOST_SIZE_PCT ? 1.0 : 0.0;
    if (!(pct >= lo && pct <= 100.0))
        return value_error(v, msg, " = %s: out of range [%g%%, 100%%]", v->shown, lo);
    set_size(v->dst, CONFIG_SIZE_PCT, 0, pct);
    return 0;
}

/* The example a bad size message gives. */
static const char *size_example(enum config_key_type type)
{
    switch (type) {
    case CONFIG_KEY_SIZE_PCT:
        return "256M or 25%";
    case CONFIG_KEY_HOST_SIZE_PCT:
        return "6G, 40% or none";
    default:
        return "256M";
    }
}

/* "256M" (or "25%" where the key takes a percentage of nominal or of the
 * host, or "none" where it may be unset). */
static int parse_size(const struct value_in *v, char **msg)
{
    const struct config_key_info *ki = &v->k->info;
    size_t len = strlen(v->text);
    bool pct_ok = ki->type == CONFIG_KEY_SIZE_PCT || ki->type == CONFIG_KEY_HOST_SIZE_PCT;
    if (ki->type == CONFIG_KEY_HOST_SIZE_PCT && strcmp(v->text, "none") == 0) {
        set_size(v->dst, CONFIG_SIZE_UNSET, 0, 0);
        return 0;
    }
    if (pct_ok && len > 1 && v->text[len - 1] == '%')
        return parse_percent(v, len, msg);
    uint64_t bytes;
    int rc = size_parse(v->text, 1, &bytes);
    if (rc == -ERANGE || (rc == 0 && (double)bytes > ki->max)) {
        char lim[32];
        return value_error(v, msg, " = %s: too large (max %s)", v->shown,
                           size_format((uint64_t)ki->max, lim, sizeof(lim)));
    }
    if (rc < 0)
        return value_error(v, msg, ": bad size '%s' (expected e.g. %s)", v->shown,
                           size_example(ki->type));
    if ((double)bytes < ki->min) {
        char lim[32];
        return value_error(v, msg, " = %s: too small (min %s)", v->shown,
                           size_format((uint64_t)ki->min, lim, sizeof(lim)));
    }
    if (v->k->field == FIELD_CSIZE)
        set_size(v->dst, CONFIG_SIZE_BYTES, bytes, 0);
    else
        *(uint64_t *)v->dst = bytes;
    return 0;
}

/* Integers, percents and plain numbers, within the key's range. */
static int parse_number(const struct value_in *v, char **msg)
{
    const struct config_key_info *ki = &v->k->info;
    bool whole = ki->type == CONFIG_KEY_UINT;
    if (!is_plain_number(v->text) || (whole && strchr(v->text, '.')))
        return value_error(v, msg, ": bad number '%s'%s", v->shown,
                           whole ? " (expected a whole number)" : "");
    double x = g_ascii_strtod(v->text, NULL);
    if (!(x >= ki->min && x <= ki->max)) {
        char lo[32], hi[32];
        return value_error(v, msg, " = %s: out of range [%s, %s]", v->shown,
                           bound_text(ki->min, lo, sizeof(lo)),
                           bound_text(ki->max, hi, sizeof(hi)));
    }
    if (v->k->field == FIELD_U64)
        *(uint64_t *)v->dst = (uint64_t)x;
    else if (v->k->field == FIELD_U32)
        *(uint32_t *)v->dst = (uint32_t)x;
    else
        *(double *)v->dst = x;
    return 0;
}

static int parse_bool(const struct value_in *v, char **msg)
{
    const char *t = v->text;
    if (strcmp(t, "true") == 0 || strcmp(t, "yes") == 0 || strcmp(t, "1") == 0)
        *(bool *)v->dst = true;
    else if (strcmp(t, "false") == 0 || strcmp(t, "no") == 0 || strcmp(t, "0") == 0)
        *(bool *)v->dst = false;
    else
        return value_error(v, msg, ": expected true or false, not '%s'", v->shown);
    return 0;
}

/* memory_cgroup: an absolute directory, or "none"; state_file: an absolute
 * file, "auto" or "none" (kept as written). Nothing is looked at here (the
 * daemon reads them, and says so when it cannot); only what can never be
 * such a path is refused. */
static int parse_path(const struct value_in *v, char **msg)
{
    char *dst = v->dst;
    const char *t = v->text;
    size_t len = strlen(t);
    bool file = v->k->info.type == CONFIG_KEY_FILE;
    if (strcmp(t, "none") == 0 || (file && strcmp(t, "auto") == 0)) {
        g_strlcpy(dst, file ? t : "", CONFIG_CGROUP_PATH_MAX);
        return 0;
    }
    if (t[0] != '/')
        return value_error(v, msg, ": '%s' is not an absolute path (expected e.g. %s)", v->shown,
                           file ? "/run/ballast/state.json, auto or none"
                                : "/sys/fs/cgroup/machine.slice, or none");
    if (len >= CONFIG_CGROUP_PATH_MAX)
        return value_error(v, msg, ": path longer than %d bytes", CONFIG_CGROUP_PATH_MAX - 1);
    for (size_t i = 0; i < len; i++)
        if (g_ascii_iscntrl(t[i]))
            return value_error(v, msg, ": control character in the path");
    if (strstr(t, "/../") || g_str_has_suffix(t, "/.."))
        return value_error(v, msg, ": '..' in the path '%s'", v->shown);
    memcpy(dst, t, len + 1);
    return 0;
}

/* metrics_listen: "off" (or "none"), or an address listen_addr_parse takes,
 * stored in its normal form. Whether the port is free is the daemon's to
 * find out: a busy port is no configuration error. */
static int parse_listen(const struct value_in *v, char **msg)
{
    char *dst = v->dst;
    if (strcmp(v->text, "off") == 0 || strcmp(v->text, "none") == 0) {
        dst[0] = '\0';
        return 0;
    }
    struct listen_addr a;
    const char *why;
    if (listen_addr_parse(v->text, &a, &why) < 0)
        return value_error(v, msg,
                           " = %s: %s (expected e.g. 127.0.0.1:9464, [::1]:9464, 9464 or off)",
                           v->shown, why);
    listen_addr_format(&a, dst, CONFIG_CGROUP_PATH_MAX);
    return 0;
}

/* ro_socket_group: "none", or a name as useradd takes it; whether the group
 * exists is looked up by the daemon at start (NSS is no parser's business). */
static int parse_group_name(const struct value_in *v, char **msg)
{
    char *dst = v->dst;
    const char *t = v->text;
    if (strcmp(t, "none") == 0) {
        dst[0] = '\0';
        return 0;
    }
    size_t len = strlen(t);
    bool ok = len <= 32 && (g_ascii_isalpha(t[0]) || t[0] == '_');
    for (size_t i = 1; ok && i < len; i++)
        ok = g_ascii_isalnum(t[i]) || t[i] == '_' || t[i] == '-' || t[i] == '.';
    if (!ok)
        return value_error(v, msg, " = %s: not a group name (letters, digits, _ - .; or none)",
                           v->shown);
    memcpy(dst, t, len + 1);
    return 0;
}

/* One of names[]; its index into *dst. */
static int parse_name(const struct value_in *v, const char *const *names, size_t n, char **msg,
                      const char *expected)
{
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(v->text, names[i]) == 0) {
            *(uint32_t *)v->dst = i;
            return 0;
        }
    }
    return value_error(v, msg, ": unknown %s '%s' (expected %s)",
                       v->k->info.type == CONFIG_KEY_ON_EXIT ? "value" : "mode", v->shown,
                       expected);
}

/* mode (managed/observe/fixed; "safe" is forced, never chosen), ksm_mode, on_exit. */
static int parse_enum(const struct value_in *v, char **msg)
{
    if (v->k->info.type == CONFIG_KEY_MODE) {
        enum policy_mode m;
        if (policy_mode_parse(v->text, &m) < 0)
            return value_error(v, msg, ": unknown mode '%s' (expected managed, observe or fixed)",
                               v->shown);
        *(enum policy_mode *)v->dst = m;
        return 0;
    }
    if (v->k->info.type == CONFIG_KEY_ON_EXIT)
        return parse_name(v, on_exit_names, G_N_ELEMENTS(on_exit_names), msg, "keep or release");
    return parse_name(v, ksm_mode_names, G_N_ELEMENTS(ksm_mode_names), msg,
                      "off, auto, advisor, fixed or observe");
}

/*
 * Parses `text` for key k into the key's member of *base (a struct
 * policy_tunables, config_ksm, config_budget or config_vm_policy, as the key says). 0, or
 * -EINVAL with *msg ("LABEL: ..." or "LABEL = VALUE: ...", g_free'd by the
 * caller) and *base unchanged.
 */
static int parse_key(const struct key_def *k, const char *label, const char *text, void *base,
                     char **msg)
{
    g_autofree char *trimmed = g_strstrip(g_strdup(text));
    struct value_in v = {k, label ? label : k->info.name, trimmed, "", (char *)base + k->offset};
    if (trimmed[0] == '\0')
        return value_error(&v, msg, ": empty value");
    if (strlen(trimmed) > 40)
        snprintf(v.shown, sizeof(v.shown), "%.37s...", trimmed);
    else
        snprintf(v.shown, sizeof(v.shown), "%s", trimmed);
    switch (k->info.type) {
    case CONFIG_KEY_SIZE:
    case CONFIG_KEY_SIZE_PCT:
    case CONFIG_KEY_HOST_SIZE_PCT:
        return parse_size(&v, msg);
    case CONFIG_KEY_PATH:
    case CONFIG_KEY_FILE:
        return parse_path(&v, msg);
    case CONFIG_KEY_UINT:
    case CONFIG_KEY_PCT:
    case CONFIG_KEY_DOUBLE:
        return parse_number(&v, msg);
    case CONFIG_KEY_BOOL:
        return parse_bool(&v, msg);
    case CONFIG_KEY_MODE:
    case CONFIG_KEY_KSM_MODE:
    case CONFIG_KEY_ON_EXIT:
        return parse_enum(&v, msg);
    case CONFIG_KEY_LISTEN:
        return parse_listen(&v, msg);
    case CONFIG_KEY_GROUP:
        return parse_group_name(&v, msg);
    }
    return value_error(&v, msg, ": unsupported key type");
}

/* ---- rules between per-VM keys --------------------------------------- */

/* Sizes of the same kind can be compared at load time; mixed kinds are
 * only known per VM, where min and fixed are clamped to max (vm_policy.c). */
static bool size_gt(const struct config_size *a, const struct config_size *b)
{
    if (a->kind != b->kind)
        return false;
    return a->kind == CONFIG_SIZE_BYTES ? a->bytes > b->bytes : a->pct > b->pct;
}

static void size_text(const struct config_size *s, char *buf, size_t len)
{
    if (s->kind == CONFIG_SIZE_PCT)
        snprintf(buf, len, "%g%%", s->pct);
    else
        size_format(s->bytes, buf, len);
}

guint config_vm_policy_check(const struct config_vm_policy *p, config_check_fn report, void *ctx)
{
    char a[32], b[32], msg[96];
    guint n = 0;
    if (size_gt(&p->min_memory, &p->max_memory)) {
        size_text(&p->min_memory, a, sizeof(a));
        size_text(&p->max_memory, b, sizeof(b));
        snprintf(msg, sizeof(msg), "min_memory %s > max_memory %s", a, b);
        report(ctx, "min_memory", "max_memory", msg);
        n++;
    }
    if (p->mode == POLICY_MODE_FIXED &&
        (size_gt(&p->fixed_memory, &p->max_memory) || size_gt(&p->min_memory, &p->fixed_memory))) {
        size_text(&p->fixed_memory, a, sizeof(a));
        snprintf(msg, sizeof(msg), "fixed_memory %s outside [min_memory, max_memory]", a);
        report(ctx, "fixed_memory", "mode", msg);
        n++;
    }
    return n;
}

/* ---- per-VM keys outside files (metadata, set-policy) ---------------- */

/* The per-VM keys are the table's last rows, in the order of
 * config_vm_key_at (the bits of struct config_vm_layer). */
static const struct key_def *vm_key_def(size_t i)
{
    if (i >= CONFIG_VM_KEYS_MAX)
        return NULL;
    size_t n = 0;
    for (size_t k = 0; k < N_KEYS; k++)
        if (!keys[k].global && n++ == i)
            return &keys[k];
    return NULL;
}

const struct config_key_info *config_vm_key_at(size_t i)
{
    const struct key_def *k = vm_key_def(i);
    return k ? &k->info : NULL;
}

int config_vm_key_index(const char *name)
{
    const struct config_key_info *k;
    for (size_t i = 0; (k = config_vm_key_at(i)); i++)
        if (strcmp(k->name, name) == 0)
            return (int)i;
    return -1;
}

static size_t field_size(enum field f)
{
    switch (f) {
    case FIELD_U64:
        return sizeof(uint64_t);
    case FIELD_U32:
        return sizeof(uint32_t);
    case FIELD_DOUBLE:
        return sizeof(double);
    case FIELD_BOOL:
        return sizeof(bool);
    case FIELD_MODE:
        return sizeof(enum policy_mode);
    case FIELD_CSIZE:
        return sizeof(struct config_size);
    case FIELD_PATH:
        return CONFIG_CGROUP_PATH_MAX;
    }
    return 0;
}

int config_vm_layer_set(struct config_vm_layer *l, size_t i, const char *label, const char *value,
                        char **msg)
{
    const struct key_def *k = vm_key_def(i);
    if (!k) {
        *msg = g_strdup("no such key");
        return -EINVAL;
    }
    int rc = parse_key(k, label, value, &l->v, msg);
    if (rc == 0)
        l->set |= 1u << i;
    return rc;
}

void config_vm_layer_unset(struct config_vm_layer *l, size_t i)
{
    if (i < CONFIG_VM_KEYS_MAX)
        l->set &= ~(1u << i);
}

void config_vm_layer_apply(const struct config_vm_layer *l, struct config_vm_policy *p)
{
    const struct key_def *k;
    for (size_t i = 0; (k = vm_key_def(i)); i++)
        if (l->set & (1u << i))
            memcpy((char *)p + k->offset, (const char *)&l->v + k->offset, field_size(k->field));
}

/* A per-VM key's value as set-policy and explain show it. */
static void vm_value_text(const struct key_def *k, const struct config_vm_policy *p, char *buf,
                          size_t len)
{
    const char *v = (const char *)p + k->offset;
    switch (k->field) {
    case FIELD_CSIZE:
        size_text((const struct config_size *)v, buf, len);
        return;
    case FIELD_U32:
        snprintf(buf, len, "%u", *(const uint32_t *)v);
        return;
    case FIELD_MODE:
        snprintf(buf, len, "%s", policy_mode_name(*(const enum policy_mode *)v));
        return;
    case FIELD_BOOL:
        snprintf(buf, len, "%s", *(const bool *)v ? "true" : "false");
        return;
    case FIELD_U64:
    case FIELD_DOUBLE:
    case FIELD_PATH:
        break; /* no per-VM key is stored so */
    }
    snprintf(buf, len, "?");
}

/* A percentage as a plain number that parses back: 17 significant digits,
 * or, where that needs an exponent (the parser takes none), the fewest
 * decimals from 17 on that read back as the same double, trailing zeros
 * cut. 17 decimals alone turned 0.0000303444...% into 0.00003034444444444%
 * (fuzz.config.value). Only a percentage too small for buf (under ~1e-25 %
 * with the state file's 48 bytes: no byte of any VM) is left the closest. */
static void exact_pct(double pct, char *buf, size_t len)
{
    snprintf(buf, len, "%.17g", pct);
    if (strchr(buf, 'e') || strchr(buf, 'E')) {
        int max_decimals = len > 21 ? (int)len - 4 : 17; /* "0." digits "%" NUL */
        for (int decimals = 17; decimals <= max_decimals; decimals++) {
            snprintf(buf, len, "%.*f", decimals, pct);
            if (g_ascii_strtod(buf, NULL) == pct)
                break;
        }
    }
    if (!strchr(buf, '.')) {
        if (strlen(buf) + 2 <= len)
            strcat(buf, "%");
        return;
    }
    char *end = buf + strlen(buf);
    while (end > buf + 1 && end[-1] == '0' && end[-2] != '.')
        *--end = '\0';
    if ((size_t)(end - buf) + 2 <= len)
        memcpy(end, "%", 2);
}

bool config_vm_layer_exact(const struct config_vm_layer *l, size_t i, char *buf, size_t len)
{
    const struct key_def *k = vm_key_def(i);
    if (!k || !(l->set & (1u << i)) || len == 0)
        return false;
    const char *v = (const char *)&l->v + k->offset;
    if (k->field == FIELD_CSIZE) {
        const struct config_size *sz = (const struct config_size *)v;
        if (sz->kind == CONFIG_SIZE_PCT)
            exact_pct(sz->pct, buf, len);
        else
            snprintf(buf, len, "%llu", (unsigned long long)sz->bytes);
        return true;
    }
    vm_value_text(k, &l->v, buf, len);
    return true;
}

void config_vm_layer_list(const struct config_vm_layer *l, GPtrArray *out)
{
    const struct key_def *k;
    char buf[40];
    for (size_t i = 0; (k = vm_key_def(i)); i++) {
        if (!(l->set & (1u << i)))
            continue;
        vm_value_text(k, &l->v, buf, sizeof(buf));
        g_ptr_array_add(out, g_strdup_printf("%s=%s", k->info.name, buf));
    }
}

/* ---- one file -------------------------------------------------------- */

/* One file being loaded: its text, where each key sits, its errors. */
struct file_ctx {
    const char *path;
    bool global;
    GPtrArray *errors; /* the config's list; this file appends */
    guint n_errors;
    char *first_error;
    GHashTable *key_lines; /* "group\nkey" -> line (GUINT_TO_POINTER) */
};

G_GNUC_PRINTF(3, 4) static void file_error(struct file_ctx *f, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *full = line ? g_strdup_printf("%s:%u: %s", f->path, line, msg)
                      : g_strdup_printf("%s: %s", f->path, msg);
    if (!f->first_error)
        f->first_error = g_strdup(full);
    f->n_errors++;
    g_ptr_array_add(f->errors, full);
}

static unsigned key_line(struct file_ctx *f, const char *group, const char *key)
{
    g_autofree char *k = g_strdup_printf("%s\n%s", group, key);
    return GPOINTER_TO_UINT(g_hash_table_lookup(f->key_lines, k));
}

static bool group_allowed(const struct file_ctx *f, const char *group)
{
    if (f->global)
        return strcmp(group, GROUP_GLOBAL) == 0 || strcmp(group, GROUP_DEFAULTS) == 0;
    return strcmp(group, GROUP_VM) == 0;
}

/* Reads at most CONFIG_MAX_FILE_BYTES + 1 bytes. Non-blocking open: a FIFO
 * planted in the directory must not hang the daemon. */
static int read_small_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    if (st.st_size > CONFIG_MAX_FILE_BYTES) {
        close(fd);
        return -EFBIG;
    }
    char *buf = g_malloc(CONFIG_MAX_FILE_BYTES + 2);
    size_t got = 0;
    while (got <= CONFIG_MAX_FILE_BYTES) {
        ssize_t n = read(fd, buf + got, CONFIG_MAX_FILE_BYTES + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = -errno;
            close(fd);
            g_free(buf);
            return e;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got > CONFIG_MAX_FILE_BYTES) {
        g_free(buf);
        return -EFBIG;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* A "[group]" line: the group it opens (*group), unknown and duplicate
 * groups. Returns false when it is malformed (GKeyFile would refuse it). */
static bool scan_group(struct file_ctx *f, const char *line, unsigned line_no, char **group,
                       GHashTable *group_lines)
{
    size_t l = strlen(line);
    if (line[l - 1] != ']' || l < 3) {
        file_error(f, line_no, "malformed group header '%s'", line);
        return false;
    }
    g_free(*group);
    *group = g_strndup(line + 1, l - 2);
    if (!group_allowed(f, *group)) {
        file_error(f, line_no, "unknown group [%s] (expected %s)", *group,
                   f->global ? "[" GROUP_GLOBAL "] or [" GROUP_DEFAULTS "]" : "[" GROUP_VM "]");
        return true;
    }
    gpointer first = g_hash_table_lookup(group_lines, *group);
    if (first)
        file_error(f, line_no, "duplicate group [%s] (first at line %u)", *group,
                   GPOINTER_TO_UINT(first));
    else
        g_hash_table_insert(group_lines, g_strdup(*group), GUINT_TO_POINTER(line_no));
    return true;
}

/* A "key = value" line in `group` (NULL: before any): the key's line in
 * f->key_lines, or why not. Returns false when GKeyFile would refuse it. */
static bool scan_key(struct file_ctx *f, char *line, unsigned line_no, const char *group)
{
    char *eq = strchr(line, '=');
    if (!eq) {
        file_error(f, line_no, "expected 'key = value' or '[group]'");
        return false;
    }
    *eq = '\0';
    g_strstrip(line);
    if (line[0] == '\0') {
        file_error(f, line_no, "empty key name");
        return false;
    }
    if (!group) {
        file_error(f, line_no, "key '%s' outside any group", line);
        return false;
    }
    if (!group_allowed(f, group))
        return true; /* already reported at the group header */
    bool global_key = strcmp(group, GROUP_GLOBAL) == 0;
    if (!find_key(global_key, line)) {
        /* A per-VM key in [ballastd] or a host key in a VM file is a
         * common slip: say where it belongs. */
        if (find_key(!global_key, line))
            file_error(f, line_no, "key '%s' does not belong in [%s] (it goes in %s)", line, group,
                       global_key ? "[" GROUP_DEFAULTS "] or a VM's [" GROUP_VM "]"
                                  : "[" GROUP_GLOBAL "] of " CONFIG_GLOBAL_FILE);
        else
            file_error(f, line_no, "unknown key '%s' in [%s]", line, group);
        return true;
    }
    g_autofree char *k = g_strdup_printf("%s\n%s", group, line);
    gpointer first = g_hash_table_lookup(f->key_lines, k);
    if (first)
        file_error(f, line_no, "duplicate key '%s' (first at line %u)", line,
                   GPOINTER_TO_UINT(first));
    else
        g_hash_table_insert(f->key_lines, g_steal_pointer(&k), GUINT_TO_POINTER(line_no));
    return true;
}

/* The line scan: structure, groups, keys, duplicates, garbage. Returns false
 * when the text cannot be handed to GKeyFile at all. */
static bool scan_lines(struct file_ctx *f, const char *text, size_t len)
{
    bool parsable = true;
    unsigned line_no = 0;
    g_autofree char *group = NULL;
    g_autoptr(GHashTable) group_lines =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    size_t pos = 0;
    while (pos < len) {
        line_no++;
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - start) : len - pos;
        pos += line_len + (nl ? 1 : 0);

        if (memchr(start, '\0', line_len)) {
            file_error(f, line_no, "binary data (NUL byte)");
            parsable = false;
            continue;
        }
        if (!g_utf8_validate(start, (gssize)line_len, NULL)) {
            file_error(f, line_no, "not valid UTF-8");
            parsable = false;
            continue;
        }
        g_autofree char *line = g_strstrip(g_strndup(start, line_len));
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (!(line[0] == '[' ? scan_group(f, line, line_no, &group, group_lines)
                             : scan_key(f, line, line_no, group)))
            parsable = false;
    }
    return parsable;
}

/* A file's value: parsed as everywhere, errors at the key's line. */
static void parse_value(struct file_ctx *f, const struct key_def *k, unsigned line,
                        const char *value, void *dst)
{
    g_autofree char *msg = NULL;
    if (parse_key(k, NULL, value, dst, &msg) < 0)
        file_error(f, line, "%s", msg);
}

/* Where a global file's values go: one struct per enum global_store. */
struct global_dst {
    struct policy_tunables *tun;
    struct config_ksm *ksm;
    struct config_budget *budget;
    struct config_daemon *daemon;
    char **budget_where; /* "file:line" of memory_budget */
};

static void *global_member_base(const struct global_dst *g, const struct key_def *k)
{
    switch (k->store) {
    case IN_KSM:
        return g->ksm;
    case IN_BUDGET:
        return g->budget;
    case IN_DAEMON:
        return g->daemon;
    case IN_TUNABLES:
        break;
    }
    return g->tun;
}

/* Every key of `group` present in the file goes through parse_value: the
 * global keys into g's structs, the per-VM keys into vm_dst. */
static void parse_group(struct file_ctx *f, GKeyFile *kf, const char *group, bool global_keys,
                        const struct global_dst *g, struct config_vm_policy *vm_dst)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        if (k->global != global_keys)
            continue;
        unsigned line = key_line(f, group, k->info.name);
        if (!line)
            continue; /* absent, or rejected by the scan */
        g_autoptr(GError) err = NULL;
        g_autofree char *value = g_key_file_get_string(kf, group, k->info.name, &err);
        if (!value) {
            file_error(f, line, "%s: %s", k->info.name, err ? err->message : "unreadable");
            continue;
        }
        parse_value(f, k, line, value, global_keys ? global_member_base(g, k) : vm_dst);
    }
}

/* A broken rule of a file's policy, at the line of the key it is about. */
struct check_ctx {
    struct file_ctx *f;
    const char *group;
};

static void report_at_line(void *data, const char *key, const char *other_key, const char *msg)
{
    struct check_ctx *c = data;
    unsigned line = key_line(c->f, c->group, key);
    if (!line)
        line = key_line(c->f, c->group, other_key);
    file_error(c->f, line, "%s", msg);
}

static void check_vm_policy(struct file_ctx *f, const char *group, const struct config_vm_policy *p)
{
    struct check_ctx c = {f, group};
    config_vm_policy_check(p, report_at_line, &c);
}

static void check_ksm(struct file_ctx *f, const struct config_ksm *k)
{
    if (k->stop_commit_pct >= k->start_commit_pct) {
        unsigned line = key_line(f, GROUP_GLOBAL, "ksm_stop_commit_pct");
        if (!line)
            line = key_line(f, GROUP_GLOBAL, "ksm_start_commit_pct");
        file_error(f, line, "ksm_stop_commit_pct %u >= ksm_start_commit_pct %u", k->stop_commit_pct,
                   k->start_commit_pct);
    }
}

static void check_tunables(struct file_ctx *f, const struct policy_tunables *t)
{
    if (t->host_avail_low_pct > t->host_avail_high_pct) {
        unsigned line = key_line(f, GROUP_GLOBAL, "host_avail_low_pct");
        if (!line)
            line = key_line(f, GROUP_GLOBAL, "host_avail_high_pct");
        file_error(f, line, "host_avail_low_pct %g > host_avail_high_pct %g", t->host_avail_low_pct,
                   t->host_avail_high_pct);
    }
}

/* memory_budget's "file:line", for the errors and warnings the daemon can
 * only find at run time (a budget above host RAM, under the VMs' minimum). */
static void note_budget_where(struct file_ctx *f, char **where)
{
    unsigned line = key_line(f, GROUP_GLOBAL, "memory_budget");
    g_free(*where);
    *where = line ? g_strdup_printf("%s:%u", f->path, line) : NULL;
}

/* Loads one file's text (read_rc: how reading `path` went, 0 or -errno):
 * a global file (g != NULL) into g's structs and the [defaults] in
 * vm_policy, a VM's file into vm_policy. Returns the number of errors it
 * added. */
static guint load_file(const char *path, int read_rc, const char *text, size_t len,
                       const struct global_dst *g, GPtrArray *errors,
                       struct config_vm_policy *vm_policy, char **first_error)
{
    bool global = g != NULL;
    struct file_ctx f = {
        .path = path,
        .global = global,
        .errors = errors,
        .key_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
    };
    int rc = read_rc;
    if (rc == -EFBIG)
        file_error(&f, 0, "file too large (max %d bytes)", CONFIG_MAX_FILE_BYTES);
    else if (rc == -EINVAL)
        file_error(&f, 0, "not a regular file");
    else if (rc < 0)
        file_error(&f, 0, "cannot read: %s", g_strerror(-rc));
    if (rc == 0 && scan_lines(&f, text, len)) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) err = NULL;
        if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &err)) {
            file_error(&f, 0, "%s", err->message);
        } else if (global) {
            parse_group(&f, kf, GROUP_GLOBAL, true, g, NULL);
            parse_group(&f, kf, GROUP_DEFAULTS, false, NULL, vm_policy);
            check_tunables(&f, g->tun);
            check_ksm(&f, g->ksm);
            check_vm_policy(&f, GROUP_DEFAULTS, vm_policy);
            note_budget_where(&f, g->budget_where);
        } else {
            parse_group(&f, kf, GROUP_VM, false, NULL, vm_policy);
            check_vm_policy(&f, GROUP_VM, vm_policy);
        }
    }
    g_hash_table_unref(f.key_lines);
    *first_error = f.first_error;
    return f.n_errors;
}

/* ---- directory ------------------------------------------------------- */

static void config_vm_free(gpointer p)
{
    struct config_vm *vm = p;
    g_free(vm->name);
    g_free(vm->path);
    g_free(vm->first_error);
    g_free(vm);
}

static struct config *config_alloc(void)
{
    struct config *c = g_new0(struct config, 1);
    policy_tunables_default(&c->tunables);
    c->tick_interval_ms = c->tunables.tick_interval_ms;
    ksm_builtin(&c->ksm);
    g_strlcpy(c->daemon.state_file, "auto", sizeof(c->daemon.state_file));
    c->daemon.vmem_peak_hold_ms = ACTUATOR_NET_PEAK_MS;
    vm_policy_builtin(&c->defaults);
    c->vms = g_ptr_array_new_with_free_func(config_vm_free);
    c->errors = g_ptr_array_new_with_free_func(g_free);
    return c;
}

struct config *config_new_defaults(void)
{
    return config_alloc();
}

/* The global file, read (read_rc 0) or not: the base of every VM after it. */
static void load_global(struct config *c, const char *path, int read_rc, const char *text,
                        size_t len)
{
    struct global_dst g = {&c->tunables, &c->ksm, &c->budget, &c->daemon, &c->budget_where};
    c->n_global_errors =
        load_file(path, read_rc, text, len, &g, c->errors, &c->defaults, &c->global_error);
    c->tick_interval_ms = c->tunables.tick_interval_ms;
}

/* One VM's file, read or not, on top of the defaults; safe mode on errors. */
static void load_vm(struct config *c, const char *name, const char *path, int read_rc,
                    const char *text, size_t len)
{
    struct config_vm *vm = g_new0(struct config_vm, 1);
    vm->name = g_strdup(name);
    vm->path = g_strdup(path);
    vm->policy = c->defaults;
    vm->n_errors =
        load_file(path, read_rc, text, len, NULL, c->errors, &vm->policy, &vm->first_error);
    if (vm->n_errors)
        vm->policy.mode = POLICY_MODE_SAFE;
    g_ptr_array_add(c->vms, vm);
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct config *config_load_dir(const char *dir)
{
    struct config *c = config_alloc();
    if (!dir) {
        g_ptr_array_add(c->errors, g_strdup("(null): no configuration directory"));
        c->n_global_errors = 1;
        c->global_error = g_strdup(c->errors->pdata[0]);
        return c;
    }
    c->dir = g_strdup(dir);

    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &err);
    if (!d) {
        char *msg = g_strdup_printf("%s: cannot open directory: %s", dir, err->message);
        g_ptr_array_add(c->errors, msg);
        c->n_global_errors = 1;
        c->global_error = g_strdup(msg);
        return c;
    }

    /* The global file first: its [defaults] are the base of every VM. */
    g_autofree char *global_path = g_build_filename(dir, CONFIG_GLOBAL_FILE, NULL);
    if (g_file_test(global_path, G_FILE_TEST_EXISTS)) {
        g_autofree char *text = NULL;
        size_t len = 0;
        int rc = read_small_file(global_path, &text, &len);
        load_global(c, global_path, rc, text, len);
    }

    /* Sorted, so errors and VMs come out in a stable order. */
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        if (name[0] == '.' || !g_str_has_suffix(name, ".conf") ||
            strcmp(name, CONFIG_GLOBAL_FILE) == 0)
            continue;
        g_ptr_array_add(names, g_strdup(name));
    }
    g_ptr_array_sort(names, cmp_str);

    for (guint i = 0; i < names->len; i++) {
        const char *file = names->pdata[i];
        g_autofree char *vm_name = g_strndup(file, strlen(file) - strlen(".conf"));
        g_autofree char *path = g_build_filename(dir, file, NULL);
        g_autofree char *text = NULL;
        size_t len = 0;
        int rc = read_small_file(path, &text, &len);
        load_vm(c, vm_name, path, rc, text, len);
    }
    return c;
}

void config_load_global_text(struct config *c, const char *path, const char *text, size_t len)
{
    load_global(c, path, len > CONFIG_MAX_FILE_BYTES ? -EFBIG : 0, text, len);
}

void config_load_vm_text(struct config *c, const char *name, const char *path, const char *text,
                         size_t len)
{
    load_vm(c, name, path, len > CONFIG_MAX_FILE_BYTES ? -EFBIG : 0, text, len);
}

void config_free(struct config *c)
{
    if (!c)
        return;
    g_free(c->dir);
    g_free(c->global_error);
    g_free(c->budget_where);
    g_ptr_array_unref(c->vms);
    g_ptr_array_unref(c->errors);
    g_free(c);
}

const struct config_vm *config_find_vm(const struct config *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (guint i = 0; i < c->vms->len; i++) {
        const struct config_vm *vm = c->vms->pdata[i];
        if (strcmp(vm->name, name) == 0)
            return vm;
    }
    return NULL;
}

const char *config_vm_error(const struct config *c, const char *name)
{
    if (c->n_global_errors)
        return c->global_error;
    const struct config_vm *vm = config_find_vm(c, name);
    return vm && vm->n_errors ? vm->first_error : NULL;
}

void config_vm_params(const struct config *c, const char *name, uint64_t nominal_bytes,
                      struct policy_vm_params *out, bool *ksm, const char **why)
{
    struct vm_policy_in in = {.cfg = c, .name = name, .nominal_bytes = nominal_bytes};
    struct vm_policy r;
    vm_policy_resolve(&in, &r);
    *out = r.params;
    if (ksm)
        *ksm = r.ksm;
    if (why)
        *why = config_vm_error(c, name);
    vm_policy_clear(&r);
}

guint config_check_dir(const char *dir, GPtrArray **errors_out)
{
    g_autoptr(BallastConfig) c = config_load_dir(dir);
    guint n = c->errors->len;
    if (errors_out)
        *errors_out = g_ptr_array_ref(c->errors);
    return n;
}
