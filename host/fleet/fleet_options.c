/*
 * ballast-fleet's command line: one GOptionContext per command, then checks
 * of every value against what QEMU and the guest image can actually run,
 * with a message that says why. Pure: no file is looked at here.
 */
#include "fleet_options.h"
#include "fleet_guest.h"
#include "size.h"

#include <errno.h>
#include <string.h>

/* Room kept on the kernel command line for what the launcher itself adds. */
#define FLEET_CMDLINE_RESERVED 256

static const char usage_text[] =
    "usage: ballast-fleet start --count N --memory SIZE --state DIR [options]\n"
    "       ballast-fleet stop --state DIR [--timeout SEC]\n"
    "       ballast-fleet status --state DIR [--json]\n"
    "       ballast-fleet path [--state DIR] [NAME] FILE\n"
    "       ballast-fleet --version | --help\n"
    "\n"
    "start options:\n"
    "  --count N              guests to start (1..1024), named <prefix>0..<prefix>N-1\n"
    "  --memory SIZE          RAM per guest (e.g. 128M; bare number = MiB; at least 80M)\n"
    "  --state DIR            per-guest sockets, logs and pid files go to DIR/<name>/\n"
    "  --cpus N               vCPUs per guest (default 1)\n"
    "  --accel auto|kvm|tcg   default auto: kvm on hardware virtualization, tcg otherwise\n"
    "  --tb-size MIB          TCG code cache per guest (default 8)\n"
    "  --disk MIB             a scratch disk per guest (1..65536 MiB; default 0, none):\n"
    "                         a fresh sparse DIR/NAME/disk.raw, the guest's /dev/vda,\n"
    "                         cache=none (no host page cache); workloads write to it\n"
    "                         to leave guest page cache behind\n"
    "  --no-deflate-on-oom    balloon without deflate-on-oom (default: on, the guest\n"
    "                         takes pages back from the balloon before it OOM-kills)\n"
    "  --no-free-page-reporting\n"
    "                         balloon without free-page-reporting (default: on, the\n"
    "                         guest hands the pages it frees back to the host; off is\n"
    "                         libvirt's default, for comparisons)\n"
    "  --no-merge all|NAMES   mem-merge=off (no KSM) for all or these guests (a,b,...)\n"
    "  --thp                  leave transparent huge pages on for QEMU (default off)\n"
    "  --kaslr                keep the guest kernel's address randomization (default:\n"
    "                         nokaslr, so that like guests' kernels merge under KSM)\n"
    "  --image DIR            guest image (default <build>/guest)\n"
    "  --qemu PATH            QEMU binary (default qemu-system-x86_64 in PATH)\n"
    "  --name-prefix P        guest name prefix (default vm)\n"
    "  --workload SPEC        ballast.workload=SPEC on the guest kernel command line\n"
    "  --append TEXT          more kernel command line\n"
    "  --config-dir DIR       ballastd policy files: a VM whose policy says\n"
    "                         ksm = false gets mem-merge=off (KSM opt-out)\n"
    "  --tsc-khz KHZ          guest tsc_early_khz (default: measured on the host)\n"
    "  --actuator A           balloon (default, microvm), virtio-mem or both (q35): what\n"
    "                         resizes the guests (docs/virtio-mem.md)\n"
    "  --boot-memory SIZE     virtio-mem: RAM present at boot (default 128M); the guest\n"
    "                         plugs the rest of --memory at boot, in 2 MiB blocks\n"
    "  --max-memory SIZE      virtio-mem: most the guest may grow to (default --memory)\n"
    "  --cgroup DIR           run each guest's QEMU in the cgroup v2 directory DIR/NAME\n"
    "                         (DIR must have the memory controller; ballastd's\n"
    "                         memory_cgroup = DIR then budgets the fleet by DIR's limits)\n"
    "  --wait                 return once every guest printed its ready marker\n"
    "                         (\"guests ready n/N\" on stderr as they come up)\n"
    "  --timeout SEC          with --wait: give up after SEC (default 300)\n"
    "stop: SIGTERM, then SIGKILL after --timeout SEC (default 10).\n"
    "path: prints where a file of the state directory is, without looking:\n"
    "  FILE dir, qmp, qmp-admin, agent, pid, console, qemu-log, disk: DIR/NAME[/file]\n"
    "    (NAME required)\n"
    "  FILE state, lock: DIR/fleet.json, DIR/.lock\n"
    "  without --state: the file's name alone (qmp.sock, ...)\n"
    "See docs/fleet.md.\n";

const char *fleet_usage(void)
{
    return usage_text;
}

static const char *const accel_names[] = {
    [FLEET_ACCEL_AUTO] = "auto",
    [FLEET_ACCEL_KVM] = "kvm",
    [FLEET_ACCEL_TCG] = "tcg",
};

const char *fleet_accel_name(enum fleet_accel accel)
{
    return (unsigned)accel < G_N_ELEMENTS(accel_names) ? accel_names[accel] : "?";
}

int fleet_accel_from_name(const char *name, enum fleet_accel *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(accel_names); i++) {
        if (name && strcmp(name, accel_names[i]) == 0) {
            *out = (enum fleet_accel)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool fleet_prefix_valid(const char *prefix)
{
    size_t len = prefix ? strlen(prefix) : 0;
    if (len == 0 || len > FLEET_MAX_PREFIX_LEN || !g_ascii_isalpha(prefix[0]))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isalnum(prefix[i]) && prefix[i] != '_' && prefix[i] != '-')
            return false;
    }
    return true;
}

void fleet_options_clear(struct fleet_options *opts)
{
    g_clear_pointer(&opts->state_dir, g_free);
    g_clear_pointer(&opts->no_merge, g_strfreev);
    g_clear_pointer(&opts->image_dir, g_free);
    g_clear_pointer(&opts->qemu, g_free);
    g_clear_pointer(&opts->name_prefix, g_free);
    g_clear_pointer(&opts->workload, g_free);
    g_clear_pointer(&opts->append, g_free);
    g_clear_pointer(&opts->config_dir, g_free);
    g_clear_pointer(&opts->cgroup_dir, g_free);
    g_clear_pointer(&opts->guest_name, g_free);
}

static int fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static int fail(GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, msg);
    return -EINVAL;
}

/* Raw values as GOption stores them; checked and converted afterwards. */
struct raw_options {
    char *state;
    int count;
    char *memory;
    int cpus;
    char *accel;
    int tb_size;
    int disk;
    gboolean deflate_on_oom; /* the default; still accepted */
    gboolean no_deflate_on_oom;
    gboolean no_free_page_reporting;
    gboolean thp;
    gboolean kaslr;
    char **no_merge;
    char *image;
    char *qemu;
    char *prefix;
    char *workload;
    char *append;
    char *config_dir;
    char *cgroup;
    char *tsc_khz;
    char *actuator;
    char *boot_memory;
    char *max_memory;
    gboolean wait;
    int timeout;
    gboolean json;
    char **args; /* path: what GOption left, [NAME] FILE */
};

static void raw_clear(struct raw_options *r)
{
    g_free(r->state);
    g_free(r->memory);
    g_free(r->accel);
    g_strfreev(r->no_merge);
    g_free(r->image);
    g_free(r->qemu);
    g_free(r->prefix);
    g_free(r->workload);
    g_free(r->append);
    g_free(r->config_dir);
    g_free(r->cgroup);
    g_free(r->tsc_khz);
    g_free(r->actuator);
    g_free(r->boot_memory);
    g_free(r->max_memory);
    g_strfreev(r->args);
}

/* --no-merge may repeat and each value may be a comma list: flatten it. */
static char **split_names(char **values)
{
    GPtrArray *names = g_ptr_array_new();
    for (size_t i = 0; values && values[i]; i++) {
        g_auto(GStrv) parts = g_strsplit(values[i], ",", -1);
        for (size_t j = 0; parts[j]; j++) {
            if (parts[j][0] != '\0')
                g_ptr_array_add(names, g_strdup(parts[j]));
        }
    }
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(names, FALSE);
}

/* ballast.workload=SPEC is one kernel command line word: no blanks or quotes. */
static bool workload_valid(const char *spec)
{
    if (spec[0] == '\0')
        return false;
    for (const char *p = spec; *p; p++) {
        if (!g_ascii_isgraph(*p) || *p == '"' || *p == '\'')
            return false;
    }
    return true;
}

/* --count, --memory, --cpus, --accel, --tb-size, --disk: what QEMU and the guest image can run. */
static int check_machine(const struct raw_options *r, struct fleet_options *opts, GError **error)
{
    if (r->count == 0)
        return fail(error, "--count is required and must be at least 1");
    if (r->count < 0 || r->count > FLEET_MAX_COUNT)
        return fail(error, "--count %d is out of range 1..%d", r->count, FLEET_MAX_COUNT);
    opts->count = (unsigned)r->count;

    if (!r->memory)
        return fail(error, "--memory is required (RAM per guest, e.g. --memory 128M)");
    if (size_parse(r->memory, 1ULL << 20, &opts->memory_bytes) != 0)
        return fail(error, "--memory '%s' is not a size (e.g. 128M, 1G; a bare number is MiB)",
                    r->memory);
    if (opts->memory_bytes < FLEET_MIN_MEMORY_BYTES)
        return fail(error,
                    "--memory %s is too small: the guest kernel needs at least %llu MiB "
                    "to boot (measured; see docs/guest-image.md)",
                    r->memory, FLEET_MIN_MEMORY_BYTES >> 20);
    if (opts->memory_bytes % (1ULL << 20) != 0)
        return fail(error, "--memory %s is not a whole number of MiB", r->memory);
    if (opts->memory_bytes > FLEET_MAX_MEMORY_BYTES)
        return fail(error, "--memory %s is more than 1 TiB per guest", r->memory);

    if (r->cpus < 1 || r->cpus > FLEET_MAX_CPUS)
        return fail(error, "--cpus %d is out of range 1..%d", r->cpus, FLEET_MAX_CPUS);
    opts->cpus = (unsigned)r->cpus;

    if (fleet_accel_from_name(r->accel, &opts->accel) != 0)
        return fail(error, "--accel '%s' is not one of auto, kvm, tcg", r->accel);
    if (r->tb_size < 1 || r->tb_size > FLEET_MAX_TB_SIZE_MIB)
        return fail(error, "--tb-size %d is out of range 1..%d (MiB)", r->tb_size,
                    FLEET_MAX_TB_SIZE_MIB);
    opts->tb_size_mib = (unsigned)r->tb_size;
    if (r->disk < 0 || r->disk > FLEET_MAX_DISK_MIB)
        return fail(error, "--disk %d is out of range 1..%d (MiB; 0 for no disk)", r->disk,
                    FLEET_MAX_DISK_MIB);
    opts->disk_mib = (unsigned)r->disk;
    return 0;
}

/* --name-prefix, then --no-merge against the names it gives. */
static int check_names(const struct raw_options *r, struct fleet_options *opts, GError **error)
{
    if (!fleet_prefix_valid(r->prefix))
        return fail(error,
                    "--name-prefix '%s' is not valid: a letter, then letters, digits, '_' "
                    "or '-', at most %d characters",
                    r->prefix, FLEET_MAX_PREFIX_LEN);
    opts->name_prefix = g_strdup(r->prefix);

    opts->no_merge = split_names(r->no_merge);
    for (size_t i = 0; opts->no_merge[i]; i++) {
        const char *n = opts->no_merge[i];
        if (strcmp(n, "all") == 0)
            continue;
        bool known = false;
        for (unsigned g = 0; g < opts->count && !known; g++) {
            g_autofree char *name = fleet_guest_name(opts->name_prefix, g);
            known = strcmp(name, n) == 0;
        }
        if (!known)
            return fail(error, "--no-merge '%s' is not a guest of this fleet (%s0..%s%u) or 'all'",
                        n, opts->name_prefix, opts->name_prefix, opts->count - 1);
    }
    return 0;
}

/* --workload, --append, --tsc-khz: what goes on the guest kernel command line. */
static int check_kernel(const struct raw_options *r, struct fleet_options *opts, GError **error)
{
    if (r->workload && !workload_valid(r->workload))
        return fail(error,
                    "--workload '%s' must be one word without blanks or quotes "
                    "(it goes on the kernel command line)",
                    r->workload);
    size_t extra = (r->workload ? strlen(r->workload) : 0) + (r->append ? strlen(r->append) : 0);
    if (extra + FLEET_CMDLINE_RESERVED >= FLEET_MAX_CMDLINE_LEN)
        return fail(error,
                    "--workload and --append are too long for the kernel command line "
                    "(%d bytes in all)",
                    FLEET_MAX_CMDLINE_LEN);
    opts->workload = g_strdup(r->workload);
    opts->append = g_strdup(r->append);

    if (r->tsc_khz) {
        uint64_t khz;
        if (size_parse(r->tsc_khz, 1, &khz) != 0 || khz == 0 || khz > 100000000)
            return fail(error, "--tsc-khz '%s' is not a frequency in kHz (e.g. 2600000)",
                        r->tsc_khz);
        opts->tsc_khz = khz;
    }
    return 0;
}

/* A size option in whole MiB (a bare number is MiB); 0 or fails saying which option. */
static int parse_mib(const char *option, const char *text, uint64_t *out, GError **error)
{
    if (size_parse(text, 1ULL << 20, out) != 0)
        return fail(error, "%s '%s' is not a size (e.g. 128M, 1G; a bare number is MiB)", option,
                    text);
    if (*out % (1ULL << 20) != 0)
        return fail(error, "%s %s is not a whole number of MiB", option, text);
    return 0;
}

/*
 * --actuator, --boot-memory, --max-memory (fleet_vmem.h). A balloon guest
 * boots with all of --memory, so boot = nominal = max and the sizes are
 * refused; a virtio-mem guest without a balloon refuses the balloon's options.
 */
static int check_actuator(const struct raw_options *r, struct fleet_options *opts, GError **error)
{
    if (fleet_actuator_from_name(r->actuator, &opts->actuator) != 0)
        return fail(error, "--actuator '%s' is not one of balloon, virtio-mem, both", r->actuator);
    opts->boot_memory_bytes = opts->max_memory_bytes = opts->memory_bytes;
    if (!fleet_actuator_has_vmem(opts->actuator)) {
        if (r->boot_memory || r->max_memory)
            return fail(error,
                        "%s needs --actuator virtio-mem or both (a balloon guest boots with all "
                        "of --memory)",
                        r->boot_memory ? "--boot-memory" : "--max-memory");
        return 0;
    }
    if (!fleet_actuator_has_balloon(opts->actuator) &&
        (r->deflate_on_oom || r->no_deflate_on_oom || r->no_free_page_reporting))
        return fail(error,
                    "%s is a balloon option and --actuator virtio-mem has no balloon "
                    "(--actuator both keeps it)",
                    r->no_free_page_reporting ? "--no-free-page-reporting"
                    : r->no_deflate_on_oom    ? "--no-deflate-on-oom"
                                              : "--deflate-on-oom");
    opts->boot_memory_bytes = FLEET_VMEM_DEFAULT_BOOT_BYTES;
    if (r->boot_memory &&
        parse_mib("--boot-memory", r->boot_memory, &opts->boot_memory_bytes, error) != 0)
        return -EINVAL;
    if (r->max_memory &&
        parse_mib("--max-memory", r->max_memory, &opts->max_memory_bytes, error) != 0)
        return -EINVAL;
    const struct fleet_vmem_sizes sizes = {
        .boot_bytes = opts->boot_memory_bytes,
        .nominal_bytes = opts->memory_bytes,
        .max_bytes = opts->max_memory_bytes,
    };
    g_autofree char *why = NULL;
    if (fleet_vmem_check(&sizes, FLEET_MIN_MEMORY_BYTES, FLEET_MAX_MEMORY_BYTES, &why) != 0)
        return fail(error, "%s", why);
    return 0;
}

static int check_start(const struct raw_options *r, struct fleet_options *opts, GError **error)
{
    if (r->count == 0 && !r->memory && !r->state)
        return fail(error, "start needs --count N --memory SIZE --state DIR");
    int rc = check_machine(r, opts, error);
    if (rc == 0)
        rc = check_actuator(r, opts, error);
    if (rc == 0)
        rc = check_names(r, opts, error);
    if (rc == 0)
        rc = check_kernel(r, opts, error);
    if (rc != 0)
        return rc;
    opts->config_dir = g_strdup(r->config_dir);
    /* Only the form here; whether DIR is a cgroup v2 directory with the
     * memory controller is the machine's business (fleet_main.c). */
    if (r->cgroup &&
        (r->cgroup[0] != '/' || strstr(r->cgroup, "/../") || g_str_has_suffix(r->cgroup, "/..")))
        return fail(error,
                    "--cgroup '%s' must be an absolute path without '..' "
                    "(e.g. /sys/fs/cgroup/ballast.slice)",
                    r->cgroup);
    opts->cgroup_dir = g_strdup(r->cgroup);
    /* On by default: the guest's balloon driver then gives pages back before
     * its OOM killer runs, the safety net under ballastd's growth (a workload
     * jump bigger than the headroom, a daemon that is stopped or slow). */
    if (r->deflate_on_oom && r->no_deflate_on_oom)
        return fail(error, "--deflate-on-oom and --no-deflate-on-oom contradict each other");
    opts->deflate_on_oom = !r->no_deflate_on_oom;
    /* On by default: memory the guest frees goes back to the host without a
     * balloon move. Off is what libvirt does unless <memballoon
     * freePageReporting='on'>: the baseline of docs/benchmarks/density.md. */
    opts->free_page_reporting = !r->no_free_page_reporting;
    opts->thp = r->thp;
    opts->kaslr = r->kaslr;
    opts->image_dir = g_strdup(r->image);
    opts->qemu = g_strdup(r->qemu);
    opts->wait = r->wait;
    return 0;
}

static const struct {
    const char *name;
    enum fleet_command command;
} commands[] = {
    {"start", FLEET_CMD_START},
    {"stop", FLEET_CMD_STOP},
    {"status", FLEET_CMD_STATUS},
    {"path", FLEET_CMD_PATH},
};

static int command_from_name(const char *name, enum fleet_command *out)
{
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            *out = commands[i].command;
            return 0;
        }
    }
    return -EINVAL;
}

static void add_start_entries(GOptionContext *ctx, struct raw_options *r)
{
    const GOptionEntry entries[] = {
        {"count", 0, 0, G_OPTION_ARG_INT, &r->count, "Guests to start", "N"},
        {"memory", 0, 0, G_OPTION_ARG_STRING, &r->memory, "RAM per guest", "SIZE"},
        {"cpus", 0, 0, G_OPTION_ARG_INT, &r->cpus, "vCPUs per guest", "N"},
        {"accel", 0, 0, G_OPTION_ARG_STRING, &r->accel, "auto, kvm or tcg", "A"},
        {"tb-size", 0, 0, G_OPTION_ARG_INT, &r->tb_size, "TCG code cache (MiB)", "MIB"},
        {"disk", 0, 0, G_OPTION_ARG_INT, &r->disk, "Scratch disk per guest (MiB)", "MIB"},
        {"deflate-on-oom", 0, 0, G_OPTION_ARG_NONE, &r->deflate_on_oom,
         "Balloon deflate-on-oom (the default)", NULL},
        {"no-deflate-on-oom", 0, 0, G_OPTION_ARG_NONE, &r->no_deflate_on_oom,
         "Balloon without deflate-on-oom", NULL},
        {"no-free-page-reporting", 0, 0, G_OPTION_ARG_NONE, &r->no_free_page_reporting,
         "Balloon without free-page-reporting", NULL},
        {"thp", 0, 0, G_OPTION_ARG_NONE, &r->thp, "Leave THP on for QEMU", NULL},
        {"kaslr", 0, 0, G_OPTION_ARG_NONE, &r->kaslr, "Keep the guest kernel's KASLR", NULL},
        {"no-merge", 0, 0, G_OPTION_ARG_STRING_ARRAY, &r->no_merge, "mem-merge=off", "all|NAMES"},
        {"image", 0, 0, G_OPTION_ARG_FILENAME, &r->image, "Guest image directory", "DIR"},
        {"qemu", 0, 0, G_OPTION_ARG_FILENAME, &r->qemu, "QEMU binary", "PATH"},
        {"name-prefix", 0, 0, G_OPTION_ARG_STRING, &r->prefix, "Guest name prefix", "P"},
        {"workload", 0, 0, G_OPTION_ARG_STRING, &r->workload, "ballast.workload=SPEC", "SPEC"},
        {"append", 0, 0, G_OPTION_ARG_STRING, &r->append, "More kernel command line", "TEXT"},
        {"config-dir", 0, 0, G_OPTION_ARG_FILENAME, &r->config_dir,
         "ballastd policy files (ksm key)", "DIR"},
        {"tsc-khz", 0, 0, G_OPTION_ARG_STRING, &r->tsc_khz, "Guest tsc_early_khz", "KHZ"},
        {"actuator", 0, 0, G_OPTION_ARG_STRING, &r->actuator, "balloon, virtio-mem or both", "A"},
        {"boot-memory", 0, 0, G_OPTION_ARG_STRING, &r->boot_memory,
         "virtio-mem: RAM present at boot", "SIZE"},
        {"max-memory", 0, 0, G_OPTION_ARG_STRING, &r->max_memory,
         "virtio-mem: most RAM the guest may grow to", "SIZE"},
        {"cgroup", 0, 0, G_OPTION_ARG_FILENAME, &r->cgroup, "cgroup v2 directory for the guests",
         "DIR"},
        {"wait", 0, 0, G_OPTION_ARG_NONE, &r->wait, "Wait for every ready marker", NULL},
        {"timeout", 0, 0, G_OPTION_ARG_INT, &r->timeout, "Seconds to wait", "SEC"},
        G_OPTION_ENTRY_NULL,
    };
    g_option_context_add_main_entries(ctx, entries, NULL); /* copies the table */
}

/* The options of command (and --state, which every command takes) into r. */
static GOptionContext *command_context(enum fleet_command command, struct raw_options *r)
{
    const GOptionEntry common_entries[] = {
        {"state", 0, 0, G_OPTION_ARG_FILENAME, &r->state, "State directory", "DIR"},
        G_OPTION_ENTRY_NULL,
    };
    const GOptionEntry stop_entries[] = {
        {"timeout", 0, 0, G_OPTION_ARG_INT, &r->timeout, "Seconds before SIGKILL", "SEC"},
        G_OPTION_ENTRY_NULL,
    };
    const GOptionEntry status_entries[] = {
        {"json", 0, 0, G_OPTION_ARG_NONE, &r->json, "JSON output", NULL},
        G_OPTION_ENTRY_NULL,
    };
    GOptionContext *ctx = g_option_context_new(NULL);
    g_option_context_set_summary(ctx, usage_text);
    g_option_context_add_main_entries(ctx, common_entries, NULL);
    if (command == FLEET_CMD_START)
        add_start_entries(ctx, r);
    else if (command == FLEET_CMD_STOP)
        g_option_context_add_main_entries(ctx, stop_entries, NULL);
    else if (command == FLEET_CMD_STATUS)
        g_option_context_add_main_entries(ctx, status_entries, NULL);
    return ctx;
}

/* GOption over argv[2..] (argv[1] is the command) into r; only path takes arguments. */
static int parse_argv(int argc, char *const *argv, enum fleet_command command,
                      struct raw_options *r, GError **error)
{
    const char *cmd = argv[1];
    GOptionContext *ctx = command_context(command, r);
    /* GOption edits the vector it parses: give it a copy without the command. */
    char **args = g_new0(char *, (size_t)argc);
    args[0] = g_strdup(argv[0]);
    for (int i = 2; i < argc; i++)
        args[i - 1] = g_strdup(argv[i]);
    GError *perr = NULL;
    int rc = 0;
    if (!g_option_context_parse_strv(ctx, &args, &perr)) {
        rc = fail(error, "%s: %s", cmd, perr->message);
        g_error_free(perr);
    } else if (command == FLEET_CMD_PATH) {
        r->args = g_strdupv(args + 1);
    } else if (args[1]) {
        rc = fail(error, "%s: unexpected argument '%s'", cmd, args[1]);
    }
    g_strfreev(args);
    g_option_context_free(ctx);
    return rc;
}

/* "dir, qmp, agent, ...": every FILE `path` knows, from the layout's table. */
static char *file_keys(void)
{
    GString *s = g_string_new(NULL);
    for (unsigned f = 0; f < FLEET_FILE_COUNT; f++)
        g_string_append_printf(s, "%s%s", f ? ", " : "", fleet_layout_file(f)->key);
    return g_string_free(s, FALSE);
}

/* path [--state DIR] [NAME] FILE: which forms make sense (docs/fleet.md). */
static int check_path(const struct raw_options *r, struct fleet_options *opts, GError **error)
{
    guint n = r->args ? g_strv_length(r->args) : 0;
    g_autofree char *keys = file_keys();
    if (n == 0)
        return fail(error, "path: which FILE? (%s)", keys);
    if (n > 2)
        return fail(error, "path: unexpected argument '%s'", r->args[2]);
    const char *key = r->args[n - 1];
    const char *name = n == 2 ? r->args[0] : NULL;
    if (fleet_layout_file_from_key(key, &opts->file) != 0)
        return fail(error, "path: unknown FILE '%s' (%s)", key, keys);
    const struct fleet_file_info *info = fleet_layout_file(opts->file);
    if (!r->state && name)
        return fail(error, "path: NAME needs --state DIR");
    if (!r->state && !info->name)
        return fail(error, "path: %s needs --state DIR and NAME", key);
    if (r->state && info->per_guest && !name)
        return fail(error, "path: %s is a guest's file: give the guest's NAME before it", key);
    if (!info->per_guest && name)
        return fail(error, "path: %s is the fleet's own file: it takes no NAME", key);
    if (name && !fleet_layout_name_valid(name))
        return fail(error,
                    "path: '%s' is not a guest name (1..%d letters, digits, '.', '_' or '-', "
                    "not starting with '.')",
                    name, FLEET_LAYOUT_NAME_MAX);
    opts->guest_name = g_strdup(name);
    return 0;
}

/* --state and --timeout, which every command shares; fills the rest of opts. */
static int check_common(const struct raw_options *r, struct fleet_options *opts, const char *cmd,
                        GError **error)
{
    if (!r->state && opts->command != FLEET_CMD_PATH)
        return fail(error, "%s: --state DIR is required", cmd);
    if (r->state && r->state[0] == '\0')
        return fail(error, "%s: --state must not be empty", cmd);
    if (r->timeout != -1 && (r->timeout < 1 || r->timeout > 86400))
        return fail(error, "--timeout %d is out of range 1..86400 (seconds)", r->timeout);
    opts->state_dir = g_strdup(r->state);
    opts->json = r->json;
    if (r->timeout != -1)
        opts->timeout_s = (unsigned)r->timeout;
    else
        opts->timeout_s =
            opts->command == FLEET_CMD_START ? FLEET_DEFAULT_WAIT_S : FLEET_DEFAULT_STOP_S;
    return 0;
}

int fleet_options_parse(int argc, char *const *argv, struct fleet_options *opts, GError **error)
{
    memset(opts, 0, sizeof(*opts));
    if (argc < 2)
        return fail(error, "no command given (start, stop, status or path)");
    const char *cmd = argv[1];
    if (command_from_name(cmd, &opts->command) != 0)
        return fail(error, "unknown command '%s' (start, stop, status or path)", cmd);

    struct raw_options r = {
        .cpus = 1,
        .tb_size = FLEET_DEFAULT_TB_SIZE_MIB,
        .timeout = -1,
    };
    int rc = parse_argv(argc, argv, opts->command, &r, error);
    /*
     * String defaults are filled in after parsing: GOption keeps (and never
     * frees) a string option's previous value when the option is given.
     */
    if (!r.accel)
        r.accel = g_strdup("auto");
    if (!r.actuator)
        r.actuator = g_strdup("balloon");
    if (!r.prefix)
        r.prefix = g_strdup(FLEET_DEFAULT_PREFIX);
    if (rc == 0 && opts->command == FLEET_CMD_START)
        rc = check_start(&r, opts, error);
    if (rc == 0 && opts->command == FLEET_CMD_PATH)
        rc = check_path(&r, opts, error);
    if (rc == 0)
        rc = check_common(&r, opts, cmd, error);
    raw_clear(&r);
    return rc;
}
