/*
 * Policy files: one GKeyFile per VM (`<dir>/<vm-name>.conf`, group [vm]) and
 * a global `<dir>/ballastd.conf` (group [ballastd]: host-wide tunables;
 * group [defaults]: per-VM keys applied to every VM). Every key, its unit,
 * default, range and where else it may be given (libvirt metadata,
 * set-policy) is in one table (config.c) and in docs/config.md.
 *
 * Loading never fails as a whole: it returns the effective configuration and
 * every error as "file:line: message". A VM whose file has an error runs in
 * safe mode (and says why); a global file with an error puts every VM in
 * safe mode, because ballastd cannot know what the admin meant. Safe mode
 * (POLICY_MODE_SAFE) never shrinks but still gives memory back to a guest
 * that needs it: refusing to act at all could leave a guest whose balloon an
 * earlier run inflated to be OOM-killed.
 *
 * Reload = load the directory again and swap the struct config; the engine's
 * per-VM controller state (policy_vm_state) lives in the daemon, not here.
 */
#ifndef BALLAST_CONFIG_H
#define BALLAST_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "policy.h"

#define CONFIG_GLOBAL_FILE    "ballastd.conf"
#define CONFIG_MAX_FILE_BYTES (64 * 1024)

/* A size as written: absolute ("256M") or a percentage of nominal ("50%"). */
enum config_size_kind {
    CONFIG_SIZE_UNSET = 0,
    CONFIG_SIZE_BYTES,
    CONFIG_SIZE_PCT,
};

struct config_size {
    enum config_size_kind kind;
    uint64_t bytes; /* CONFIG_SIZE_BYTES */
    double pct;     /* CONFIG_SIZE_PCT, 0..100 */
};

/* Per-VM keys as written (before resolving against the nominal size). */
struct config_vm_policy {
    struct config_size min_memory;
    struct config_size max_memory;
    struct config_size fixed_memory;
    struct config_size guaranteed_memory; /* host pressure: growth past it is the VM's own */
    uint32_t shares;
    enum policy_mode mode;
    bool agent_required;
    bool reclaim_allowed;
    bool ksm; /* let KSM merge this VM's memory (fleet launcher / KSM work) */
};

struct config_vm {
    char *name; /* file name without ".conf" */
    char *path;
    struct config_vm_policy policy; /* defaults merged with the file; safe mode on error */
    guint n_errors;                 /* errors in this VM's file */
    char *first_error;              /* "file:line: message", NULL when none */
};

/*
 * [ballastd] keys of ballastd's KSM monitor (host/daemon/ksm_monitor.c), not
 * read by the balloon engine. mode indexes config_ksm_mode_name(), which
 * lists host/ksm's enum ksm_mode in order (a unit test checks they agree).
 */
struct config_ksm {
    uint32_t mode;                  /* off, auto, advisor, fixed, observe */
    double cpu_budget_pct;          /* ksmd CPU ceiling, % of one core */
    uint64_t interval_ms;           /* between two tuner decisions */
    uint32_t start_commit_pct;      /* start ksmd when guests' RAM >= this % of host RAM */
    uint32_t stop_commit_pct;       /* stop under this (and memory plentiful) */
    double min_yield_mib_per_cpu_s; /* keep merging while ksmd saves this per CPU-second */
};

/*
 * [ballastd] keys of the fleet memory budget (host/policy/budget.h: the
 * budget becomes a virtual host that the engine's host-pressure loop keeps
 * the fleet inside; host/daemon/budget_monitor.c reads and applies them).
 */
#define CONFIG_CGROUP_PATH_MAX 200 /* room for "/memory.pressure" under PROCFILE_PATH_MAX */
struct config_budget {
    /* memory_budget: bytes ("6G"), or a percentage of host MemTotal ("40%",
     * pct); CONFIG_SIZE_UNSET for "none", the default: no budget. */
    struct config_size size;
    /* memory_cgroup: a cgroup v2 directory whose figures stand in for the
     * host's; "" for "none", the default. */
    char cgroup[CONFIG_CGROUP_PATH_MAX];
};

/*
 * [ballastd] keys of ballastd itself, outside the engine: where it keeps the
 * state a restart must not lose (host/daemon/state_file.c).
 */
struct config_daemon {
    /* state_file: an absolute path; "auto" (the default: beside the control
     * socket, CTL.state.json) or "none" (nothing kept across a restart). */
    char state_file[CONFIG_CGROUP_PATH_MAX];
    /* on_exit: what SIGTERM does to the balloons, CONFIG_ON_EXIT_*. */
    uint32_t on_exit;
    /* metrics_listen: the Prometheus listener's address as listen_addr_format
     * writes it ("127.0.0.1:9464"); "" for "off", the default. */
    char metrics_listen[CONFIG_CGROUP_PATH_MAX];
    /* ro_socket_group: the group that may use the read-only control socket
     * (mode 0660); "" for "none", the default: anyone may (mode 0666). */
    char ro_socket_group[CONFIG_CGROUP_PATH_MAX];
    /* vmem_peak_hold_ms: how long a virtio-mem guest's recent peak stays
     * plugged as its deflate-on-OOM net (vmem_drive.h); 0 = one block. */
    uint64_t vmem_peak_hold_ms;
};
enum config_on_exit {
    CONFIG_ON_EXIT_KEEP = 0, /* leave every balloon where it is (the default) */
    CONFIG_ON_EXIT_RELEASE,  /* give every managed VM its max_memory back first */
};
/* "keep", "release"; NULL past the end. */
const char *config_on_exit_name(uint32_t v);

/* "off", "auto", ... for a config_ksm mode; NULL past the end. */
const char *config_ksm_mode_name(uint32_t mode);

struct config {
    char *dir;                       /* NULL for config_new_defaults() */
    struct policy_tunables tunables; /* [ballastd], built-in defaults where unset */
    struct config_ksm ksm;           /* [ballastd] ksm_* keys */
    struct config_budget budget;     /* [ballastd] memory_budget, memory_cgroup */
    struct config_daemon daemon;     /* [ballastd] state_file, on_exit, metrics_listen, ... */
    /* "DIR/ballastd.conf:LINE" of memory_budget, NULL when not given: the
     * daemon's budget errors and warnings point at it. */
    char *budget_where;
    uint64_t tick_interval_ms;        /* == tunables.tick_interval_ms */
    struct config_vm_policy defaults; /* [defaults]: VMs without a file get these */
    guint n_global_errors;            /* errors in ballastd.conf (or the directory) */
    char *global_error;               /* first of them, NULL when none */
    GPtrArray *vms;                   /* struct config_vm *, sorted by name */
    GPtrArray *errors;                /* char *, every error of every file, in order */
};

/* Built-in defaults only (no directory). Never NULL. */
struct config *config_new_defaults(void);

/*
 * Loads dir/ballastd.conf (optional) and dir/ *.conf. Never NULL. A missing
 * or unreadable directory, a bad file, a bad key: all land in ->errors.
 * Files not ending in ".conf" and hidden files are ignored (editor backups).
 */
struct config *config_load_dir(const char *dir);

/*
 * config_load_dir's own steps for a text already in memory (fuzz.config.load
 * feeds its bytes here, without files): the global file's text, then each
 * VM file's text, parsed and reported exactly as the file `path` would be
 * (errors name `path`; a text over CONFIG_MAX_FILE_BYTES is refused as too
 * large; it needs no NUL). The global text first: its [defaults] are the
 * base of the VMs loaded after it. Start from config_new_defaults().
 */
void config_load_global_text(struct config *c, const char *path, const char *text, size_t len);
void config_load_vm_text(struct config *c, const char *name, const char *path, const char *text,
                         size_t len);

void config_free(struct config *c);
/* g_autoptr(BallastConfig) c = config_load_dir(dir); */
typedef struct config BallastConfig;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BallastConfig, config_free)

/* The VM's own file, or NULL when it has none (it then gets ->defaults). */
const struct config_vm *config_find_vm(const struct config *c, const char *name);

/*
 * Effective engine parameters for a VM of this nominal size from the
 * policy files alone: vm_policy_resolve() (vm_policy.h) without metadata
 * or runtime overrides, i.e. its file or the defaults, percentages
 * resolved, max capped at nominal, min and fixed at max, safe mode forced
 * when its file or the global file had errors. *why (may be NULL) gets the
 * first error responsible for a forced safe mode, or NULL; it points into c.
 * Returns the VM's ksm setting through *ksm when ksm != NULL.
 */
void config_vm_params(const struct config *c, const char *name, uint64_t nominal_bytes,
                      struct policy_vm_params *out, bool *ksm, const char **why);

/* The error that forces VM `name`'s policy from files into safe mode: the
 * global file's first error, else its own file's, else NULL (points into c). */
const char *config_vm_error(const struct config *c, const char *name);

/*
 * For `ballastd --check-config DIR`: loads DIR and returns how many errors it
 * has; *errors_out (may be NULL) receives them ("file:line: message", owned
 * by the caller, free with g_ptr_array_unref).
 */
guint config_check_dir(const char *dir, GPtrArray **errors_out);

/* The key table, for docs and tests. */
enum config_key_type {
    CONFIG_KEY_SIZE,          /* "256M"; bare number = bytes */
    CONFIG_KEY_SIZE_PCT,      /* "256M" or "25%" of nominal */
    CONFIG_KEY_UINT,          /* integer */
    CONFIG_KEY_PCT,           /* number, percent */
    CONFIG_KEY_DOUBLE,        /* number */
    CONFIG_KEY_BOOL,          /* true/false */
    CONFIG_KEY_MODE,          /* managed/observe/fixed */
    CONFIG_KEY_KSM_MODE,      /* off/auto/advisor/fixed/observe */
    CONFIG_KEY_HOST_SIZE_PCT, /* "6G", "40%" of host MemTotal (1% .. 100%), or "none" */
    CONFIG_KEY_PATH,          /* an absolute directory, or "none" */
    CONFIG_KEY_FILE,          /* an absolute file path, "auto" or "none" */
    CONFIG_KEY_ON_EXIT,       /* keep/release */
    CONFIG_KEY_LISTEN,        /* ADDRESS:PORT, PORT (loopback) or off (listen_addr.h) */
    CONFIG_KEY_GROUP,         /* a group name, or none */
};

/*
 * Where a key may be given. Every key goes in a policy file; a per-VM key
 * may also be allowed in a libvirt domain's <ballast:policy> metadata
 * (host/libvirt/lv_policy.c) and at runtime (`ballastctl set-policy`,
 * vm_override.c). The table says which, one flag per key: those front ends
 * read it, so there is no second list to drift.
 */
enum config_key_where {
    CONFIG_IN_FILE = 1u << 0,
    CONFIG_IN_METADATA = 1u << 1,
    CONFIG_IN_RUNTIME = 1u << 2,
};

struct config_key_info {
    const char *group; /* "ballastd", or "vm" (also valid in [defaults]) */
    const char *name;
    enum config_key_type type;
    const char *unit;
    const char *default_text;
    double min, max; /* range (for sizes: bytes; CONFIG_KEY_SIZE_PCT also 0% .. 100%) */
    unsigned where;  /* enum config_key_where bits */
    const char *doc;
};

/* The i-th key of the table (ballastd keys first, then vm keys); NULL past
 * the end. */
const struct config_key_info *config_key_at(size_t i);

/* ---- per-VM keys outside policy files ----------------------------------- */

/* The i-th per-VM key (the table's "vm" rows, in order); NULL past the end. */
const struct config_key_info *config_vm_key_at(size_t i);

/* The index of per-VM key `name` (as config_vm_key_at), or -1. */
int config_vm_key_index(const char *name);

/*
 * Some per-VM keys, as a metadata policy or runtime overrides give them:
 * the keys whose bit is set in `set`, with their values in `v` (the other
 * members of v are zero and mean nothing). Applied over a whole policy with
 * config_vm_layer_apply.
 */
struct config_vm_layer {
    struct config_vm_policy v;
    uint32_t set; /* bit i: config_vm_key_at(i) is given */
};
#define CONFIG_VM_KEYS_MAX 32 /* bits of config_vm_layer.set (unit.policy.keys checks) */

/*
 * Parses `value` for the i-th per-VM key into l (and sets its bit), with the
 * syntax, range and messages of a policy file: one parser for files,
 * metadata and set-policy. Surrounding white space is ignored. `label`
 * names the key in messages (NULL: its name; metadata says "<shares>").
 * Whether the key may be given where the caller reads it (the key's
 * `where`) is the caller's check. Returns 0, or -EINVAL with *msg
 * ("shares = 0: out of range [1, 1000000]"; g_free it) and l unchanged.
 */
int config_vm_layer_set(struct config_vm_layer *l, size_t i, const char *label, const char *value,
                        char **msg);

/* Forgets the i-th per-VM key. */
void config_vm_layer_unset(struct config_vm_layer *l, size_t i);

/* Copies the given keys of l over p. */
void config_vm_layer_apply(const struct config_vm_layer *l, struct config_vm_policy *p);

/* Appends "key=value" for each given key of l, in table order, g_strdup'd:
 * "min_memory=64.0 MiB", "max_memory=75%", "shares=300", "mode=observe". */
void config_vm_layer_list(const struct config_vm_layer *l, GPtrArray *out);

/*
 * The i-th key's value in l as text that parses back to the same value
 * (sizes in bytes, "268435456"; percentages with 17 decimals, trailing
 * zeros cut, "33.33333333333333570%"; "300"; "observe"; "true"), for
 * ballastd's state file. False when the key is not set in l.
 */
bool config_vm_layer_exact(const struct config_vm_layer *l, size_t i, char *buf, size_t len);

/*
 * The rules between per-VM keys: min_memory <= max_memory, and in mode
 * fixed min_memory <= fixed_memory <= max_memory, checked where the sizes
 * are of one kind (bytes, or % of nominal; mixed kinds are only known per
 * VM and clamped then). Calls report once per broken rule with the key it
 * is about (min_memory, fixed_memory), the key to point at when that one
 * was not given (max_memory, mode) and the message
 * ("min_memory 2.0 GiB > max_memory 1.0 GiB"). Returns how many.
 */
typedef void (*config_check_fn)(void *ctx, const char *key, const char *other_key, const char *msg);
guint config_vm_policy_check(const struct config_vm_policy *p, config_check_fn report, void *ctx);

#endif
