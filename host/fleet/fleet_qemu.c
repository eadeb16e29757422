/*
 * From a fleet spec to each guest's QEMU argv and kernel command line, and
 * the spec to and from fleet.json. No I/O: process handling is fleet_proc.c.
 */
#include "fleet_qemu.h"
#include "fleet_guest.h"
#include "json_writer.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <string.h>

int fleet_spec_from_options(const struct fleet_options *opts, const char *abs_state_dir,
                            const char *image_dir, const char *qemu, enum fleet_accel accel,
                            uint64_t tsc_khz, struct fleet_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    if (accel == FLEET_ACCEL_AUTO || opts->count == 0 || abs_state_dir[0] != '/')
        return -EINVAL;
    spec->state_dir = g_strdup(abs_state_dir);
    spec->qemu = g_strdup(qemu);
    spec->kernel = g_build_filename(image_dir, "vmlinuz", NULL);
    spec->initrd = g_build_filename(image_dir, "initramfs.cpio.gz", NULL);
    spec->prefix = g_strdup(opts->name_prefix);
    spec->count = opts->count;
    spec->memory_bytes = opts->memory_bytes;
    spec->actuator = opts->actuator;
    spec->boot_memory_bytes = opts->boot_memory_bytes;
    spec->max_memory_bytes = opts->max_memory_bytes;
    spec->cpus = opts->cpus;
    spec->accel = accel;
    spec->tb_size_mib = opts->tb_size_mib;
    spec->disk_mib = opts->disk_mib;
    spec->deflate_on_oom = opts->deflate_on_oom;
    spec->free_page_reporting = opts->free_page_reporting;
    spec->thp = opts->thp;
    spec->kaslr = opts->kaslr;
    spec->tsc_khz = tsc_khz;
    spec->workload = g_strdup(opts->workload);
    spec->append = g_strdup(opts->append);
    spec->cgroup_dir = g_strdup(opts->cgroup_dir);
    spec->merge = g_new0(bool, opts->count);
    for (unsigned i = 0; i < opts->count; i++) {
        g_autofree char *name = fleet_guest_name(opts->name_prefix, i);
        spec->merge[i] = fleet_guest_merge((const char *const *)opts->no_merge, name);
    }
    return 0;
}

void fleet_spec_clear(struct fleet_spec *spec)
{
    g_free(spec->state_dir);
    g_free(spec->qemu);
    g_free(spec->kernel);
    g_free(spec->initrd);
    g_free(spec->prefix);
    g_free(spec->workload);
    g_free(spec->append);
    g_free(spec->merge);
    g_free(spec->cgroup_dir);
    memset(spec, 0, sizeof(*spec));
}

char *fleet_qemu_escape(const char *value)
{
    GString *s = g_string_sized_new(strlen(value) + 8);
    for (const char *p = value; *p; p++) {
        if (*p == ',')
            g_string_append_c(s, ',');
        g_string_append_c(s, *p);
    }
    return g_string_free(s, FALSE);
}

char *fleet_kernel_cmdline(const struct fleet_spec *spec, unsigned index)
{
    g_autofree char *name = fleet_guest_name(spec->prefix, index);
    /* panic=-1 + QEMU's -no-reboot: a guest that panics ends its QEMU. */
    GString *s = g_string_new("console=ttyS0 panic=-1");
    /*
     * Many TCG guests booting at once miss the PIT calibration window and
     * hang ("Unable to calibrate against PIT"): hand the kernel the TSC rate.
     */
    if (spec->tsc_khz)
        g_string_append_printf(s, " tsc_early_khz=%" G_GUINT64_FORMAT, spec->tsc_khz);
    /*
     * Like guests only share their kernel's pages under KSM when the kernel
     * sits at the same address in each: with KASLR every guest relocates its
     * text differently. Measured here (8 x 256 MiB, KSM on): 81 MiB PSS per
     * QEMU with KASLR, 67 without (docs/guest-image.md). The tiny guests run
     * one agent and a test workload; --kaslr keeps it for those that need it.
     */
    if (!spec->kaslr)
        g_string_append(s, " nokaslr");
    /* Only where memory is hot-plugged: a balloon guest's line stays as it was. */
    if (fleet_actuator_has_vmem(spec->actuator))
        g_string_append(s, " " FLEET_VMEM_KERNEL_ARGS);
    g_string_append_printf(s, " ballast.name=%s", name);
    if (spec->workload)
        g_string_append_printf(s, " ballast.workload=%s", spec->workload);
    if (spec->append && spec->append[0])
        g_string_append_printf(s, " %s", spec->append);
    return g_string_free(s, FALSE);
}

static void add(GPtrArray *argv, const char *arg)
{
    g_ptr_array_add(argv, g_strdup(arg));
}

static void addf(GPtrArray *argv, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void addf(GPtrArray *argv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(argv, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

static struct fleet_vmem_sizes vmem_sizes(const struct fleet_spec *spec)
{
    return (struct fleet_vmem_sizes){
        .boot_bytes = spec->boot_memory_bytes,
        .nominal_bytes = spec->memory_bytes,
        .max_bytes = spec->max_memory_bytes,
    };
}

/* The machine: accel, memory, CPUs, and nothing QEMU would add by default. */
static void add_machine(GPtrArray *argv, const struct fleet_spec *spec, unsigned index)
{
    bool vmem = fleet_actuator_has_vmem(spec->actuator);
    /* microvm: no PCI, no firmware; devices are virtio-mmio. virtio-mem is a
     * PCI device only (QEMU 7.2), and microvm has no device memory region:
     * q35 then, whose SeaBIOS boots slower. mem-merge is KSM. */
    add(argv, "-machine");
    addf(argv, "%s,mem-merge=%s", vmem ? "q35" : "microvm", spec->merge[index] ? "on" : "off");
    add(argv, "-accel");
    if (spec->accel == FLEET_ACCEL_KVM) {
        add(argv, "kvm");
        add(argv, "-cpu");
        add(argv, "host");
    } else {
        addf(argv, "tcg,tb-size=%u", spec->tb_size_mib);
    }
    add(argv, "-m");
    if (vmem) {
        struct fleet_vmem_sizes sizes = vmem_sizes(spec);
        g_ptr_array_add(argv, fleet_vmem_memory_arg(&sizes));
    } else {
        addf(argv, "%" G_GUINT64_FORMAT "M", spec->memory_bytes >> 20);
    }
    add(argv, "-smp");
    addf(argv, "%u", spec->cpus);
    /* -nodefaults drops the serial port too: the console is added back below. */
    add(argv, "-nodefaults");
    add(argv, "-no-user-config");
    add(argv, "-display");
    add(argv, "none");
    add(argv, "-no-reboot");
}

/* The serial console into a file, the kernel, its command line. */
static void add_boot(GPtrArray *argv, const struct fleet_spec *spec, unsigned index,
                     const char *console)
{
    g_autofree char *console_esc = fleet_qemu_escape(console);
    g_autofree char *cmdline = fleet_kernel_cmdline(spec, index);
    add(argv, "-chardev");
    addf(argv, "file,id=console,path=%s", console_esc);
    add(argv, "-serial");
    add(argv, "chardev:console");
    add(argv, "-kernel");
    add(argv, spec->kernel);
    add(argv, "-initrd");
    add(argv, spec->initrd);
    add(argv, "-append");
    add(argv, cmdline);
}

/* The suffix of a virtio device's QEMU name: virtio-mmio ("-device") on
 * microvm, PCI on q35 (the machine a virtio-mem actuator needs). */
static const char *virtio_bus(const struct fleet_spec *spec)
{
    return fleet_actuator_has_vmem(spec->actuator) ? "pci" : "device";
}

/* The balloon and the virtio-mem device, as the actuator says. */
static void add_actuators(GPtrArray *argv, const struct fleet_spec *spec, unsigned index)
{
    const char *bus = virtio_bus(spec);
    /* Free page reporting returns memory the guest freed without a balloon move;
     * off (--no-free-page-reporting) is QEMU's and libvirt's default. */
    if (fleet_actuator_has_balloon(spec->actuator)) {
        add(argv, "-device");
        addf(argv, "virtio-balloon-%s,id=balloon0,free-page-reporting=%s%s", bus,
             spec->free_page_reporting ? "on" : "off",
             spec->deflate_on_oom ? ",deflate-on-oom=on" : "");
    }
    if (fleet_actuator_has_vmem(spec->actuator)) {
        struct fleet_vmem_sizes sizes = vmem_sizes(spec);
        fleet_vmem_add_args(argv, &sizes, spec->merge[index]);
    }
    add(argv, "-device");
    addf(argv, "virtio-serial-%s,id=vser0", bus);
}

/*
 * The scratch disk (--disk): DIR/NAME/disk.raw, made by start, the guest's
 * /dev/vda. Why a disk at all: a guest that ran something keeps page cache
 * behind, which free page reporting cannot return (the cache is not free)
 * and KSM cannot merge (its content is the guest's own); only the guest's
 * reclaim gives it back. Workloads (cache=SIZE) write to this disk to leave
 * such cache behind. cache=none opens the file O_DIRECT: the host keeps none
 * of the disk's data in its own page cache, which would otherwise count as
 * host memory beside the guests' (benchmarks measure host memory).
 * aio=threads needs neither io_uring nor libaio in QEMU's build.
 */
static void add_disk(GPtrArray *argv, const struct fleet_spec *spec, const char *disk)
{
    if (spec->disk_mib == 0)
        return;
    g_autofree char *disk_esc = fleet_qemu_escape(disk);
    add(argv, "-drive");
    addf(argv, "file=%s,if=none,id=scratch,format=raw,cache=none,aio=threads", disk_esc);
    add(argv, "-device");
    addf(argv, "virtio-blk-%s,drive=scratch", virtio_bus(spec));
}

/* The agent's port, the QMP monitors, and daemonizing. */
static void add_devices(GPtrArray *argv, const char *agent, const char *qmp, const char *qmp_admin,
                        const char *pidfile)
{
    g_autofree char *agent_esc = fleet_qemu_escape(agent);
    g_autofree char *qmp_esc = fleet_qemu_escape(qmp);
    g_autofree char *admin_esc = fleet_qemu_escape(qmp_admin);
    add(argv, "-chardev");
    addf(argv, "socket,id=agent,path=%s,server=on,wait=off", agent_esc);
    add(argv, "-device");
    add(argv, "virtserialport,chardev=agent,name=" FLEET_AGENT_PORT);
    add(argv, "-chardev");
    addf(argv, "socket,id=qmp,path=%s,server=on,wait=off", qmp_esc);
    add(argv, "-mon");
    add(argv, "chardev=qmp,mode=control");
    /* ballastd holds qmp.sock (one client per monitor): a second monitor
     * for an operator or another tool. */
    add(argv, "-chardev");
    addf(argv, "socket,id=qmp-admin,path=%s,server=on,wait=off", admin_esc);
    add(argv, "-mon");
    add(argv, "chardev=qmp-admin,mode=control");
    /* QEMU's parent exits once the guest runs: start returns when all do. */
    add(argv, "-daemonize");
    add(argv, "-pidfile");
    add(argv, pidfile);
}

GStrv fleet_qemu_argv(const struct fleet_spec *spec, unsigned index)
{
    g_autofree char *name = fleet_guest_name(spec->prefix, index);
    g_autofree char *console = fleet_file_path(spec->state_dir, name, FLEET_FILE_CONSOLE);
    g_autofree char *qmp = fleet_file_path(spec->state_dir, name, FLEET_FILE_QMP);
    g_autofree char *qmp_admin = fleet_file_path(spec->state_dir, name, FLEET_FILE_QMP_ADMIN);
    g_autofree char *agent = fleet_file_path(spec->state_dir, name, FLEET_FILE_AGENT);
    g_autofree char *pidfile = fleet_file_path(spec->state_dir, name, FLEET_FILE_PID);
    g_autofree char *disk = fleet_file_path(spec->state_dir, name, FLEET_FILE_DISK);
    if (!console || !qmp || !qmp_admin || !agent || !pidfile || !disk)
        return NULL; /* a path over its limit: start checks fleet_socket_paths_fit() first */
    GPtrArray *argv = g_ptr_array_new();
    add(argv, spec->qemu);
    add(argv, "-name");
    add(argv, name);
    add_machine(argv, spec, index);
    add_boot(argv, spec, index, console);
    add_actuators(argv, spec, index);
    add_disk(argv, spec, disk);
    add_devices(argv, agent, qmp, qmp_admin, pidfile);
    g_ptr_array_add(argv, NULL);
    return (GStrv)g_ptr_array_free(argv, FALSE);
}

/*
 * fleet.json, indented for people (the version 1 members; json-glib's
 * generator wrote the same members in the same order until json_writer
 * did, so state directories of either read back alike):
 *   {
 *     "version": 1,
 *     "state_dir": "/run/f",
 *     ...
 *     "append": null,
 *     "guests": [
 *       {
 *         "name": "vm0",
 *         "merge": false
 *       }
 *     ]
 *   }
 */
/*
 * What ballastd needs to drive a virtio-mem guest (docs/fleet.md):
 *   "actuator": "virtio-mem", "boot_memory_bytes": 134217728,
 *   "max_memory_bytes": 536870912, "virtio_mem_block_bytes": 2097152,
 *   "virtio_mem_device": "/machine/peripheral/vmem0"
 */
static void write_vmem_json(struct json_writer *w, const struct fleet_spec *spec)
{
    json_writer_member_string(w, "actuator", fleet_actuator_name(spec->actuator));
    json_writer_member_int(w, "boot_memory_bytes", (int64_t)spec->boot_memory_bytes);
    json_writer_member_int(w, "max_memory_bytes", (int64_t)spec->max_memory_bytes);
    json_writer_member_int(w, "virtio_mem_block_bytes", (int64_t)FLEET_VMEM_BLOCK_BYTES);
    json_writer_member_string(w, "virtio_mem_device", FLEET_VMEM_DEVICE_QOM);
}

char *fleet_spec_to_json(const struct fleet_spec *spec)
{
    GString *out = g_string_new(NULL);
    struct json_writer w;
    json_writer_init_pretty(&w, out);
    json_writer_object_begin(&w);
    json_writer_member_int(&w, "version", 1);
    json_writer_member_string(&w, "state_dir", spec->state_dir);
    json_writer_member_string(&w, "qemu", spec->qemu);
    json_writer_member_string(&w, "kernel", spec->kernel);
    json_writer_member_string(&w, "initrd", spec->initrd);
    json_writer_member_string(&w, "name_prefix", spec->prefix);
    json_writer_member_int(&w, "count", spec->count);
    json_writer_member_int(&w, "memory_bytes", (int64_t)spec->memory_bytes);
    json_writer_member_int(&w, "cpus", spec->cpus);
    json_writer_member_string(&w, "accel", fleet_accel_name(spec->accel));
    json_writer_member_int(&w, "tb_size_mib", spec->tb_size_mib);
    if (spec->disk_mib) /* absent: no disk, and fleet.json of a fleet without stays as it was */
        json_writer_member_int(&w, "disk_mib", spec->disk_mib);
    json_writer_member_bool(&w, "deflate_on_oom", spec->deflate_on_oom);
    json_writer_member_bool(&w, "thp", spec->thp);
    json_writer_member_bool(&w, "kaslr", spec->kaslr);
    json_writer_member_bool(&w, "free_page_reporting", spec->free_page_reporting);
    json_writer_member_int(&w, "tsc_khz", (int64_t)spec->tsc_khz);
    json_writer_member_string(&w, "workload", spec->workload);
    json_writer_member_string(&w, "append", spec->append);
    if (spec->cgroup_dir) /* absent otherwise: fleet.json of a fleet without stays as it was */
        json_writer_member_string(&w, "cgroup", spec->cgroup_dir);
    if (spec->actuator != FLEET_ACTUATOR_BALLOON) /* absent: the balloon, as before */
        write_vmem_json(&w, spec);
    json_writer_key(&w, "guests");
    json_writer_array_begin(&w);
    for (unsigned i = 0; i < spec->count; i++) {
        g_autofree char *name = fleet_guest_name(spec->prefix, i);
        json_writer_object_begin(&w);
        json_writer_member_string(&w, "name", name);
        json_writer_member_bool(&w, "merge", spec->merge[i]);
        json_writer_object_end(&w);
    }
    json_writer_array_end(&w);
    json_writer_object_end(&w);
    g_string_append_c(out, '\n');
    return g_string_free(out, FALSE);
}

static int bad(GError **error, const char *what)
{
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "fleet.json: bad or missing %s", what);
    return -EINVAL;
}

static const char *get_str(JsonObject *o, const char *key)
{
    JsonNode *n = json_object_get_member(o, key);
    return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
               ? json_node_get_string(n)
               : NULL;
}

static bool get_int(JsonObject *o, const char *key, gint64 min, gint64 max, gint64 *out)
{
    JsonNode *n = json_object_get_member(o, key);
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
        return false;
    *out = json_node_get_int(n);
    return *out >= min && *out <= max;
}

static bool get_bool(JsonObject *o, const char *key, bool *out)
{
    JsonNode *n = json_object_get_member(o, key);
    if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
        return false;
    *out = json_node_get_boolean(n);
    return true;
}

/* The actuator members (absent: the balloon of a fleet.json from before
 * them), checked as the command line is: a hostile file runs nothing odd. */
static int vmem_from_object(JsonObject *o, struct fleet_spec *spec, GError **error)
{
    spec->actuator = FLEET_ACTUATOR_BALLOON;
    spec->boot_memory_bytes = spec->max_memory_bytes = spec->memory_bytes;
    if (!json_object_has_member(o, "actuator"))
        return 0;
    if (fleet_actuator_from_name(get_str(o, "actuator"), &spec->actuator) != 0)
        return bad(error, "actuator");
    if (!fleet_actuator_has_vmem(spec->actuator))
        return 0;
    gint64 boot, max, block;
    if (!get_int(o, "boot_memory_bytes", 1, G_MAXINT64, &boot) ||
        !get_int(o, "max_memory_bytes", 1, G_MAXINT64, &max))
        return bad(error, "boot_memory_bytes/max_memory_bytes");
    if (!get_int(o, "virtio_mem_block_bytes", 1, G_MAXINT64, &block) ||
        block != (gint64)FLEET_VMEM_BLOCK_BYTES)
        return bad(error, "virtio_mem_block_bytes");
    spec->boot_memory_bytes = (uint64_t)boot;
    spec->max_memory_bytes = (uint64_t)max;
    const struct fleet_vmem_sizes sizes = {(uint64_t)boot, spec->memory_bytes, (uint64_t)max};
    g_autofree char *why = NULL;
    if (fleet_vmem_check(&sizes, FLEET_MIN_MEMORY_BYTES, FLEET_MAX_MEMORY_BYTES, &why) != 0)
        return bad(error, "virtio-mem sizes");
    return 0;
}

static int spec_from_object(JsonObject *o, struct fleet_spec *spec, GError **error)
{
    const char *strs[][2] = {{"state_dir", NULL}, {"qemu", NULL},        {"kernel", NULL},
                             {"initrd", NULL},    {"name_prefix", NULL}, {"accel", NULL}};
    for (size_t i = 0; i < G_N_ELEMENTS(strs); i++) {
        strs[i][1] = get_str(o, strs[i][0]);
        if (!strs[i][1])
            return bad(error, strs[i][0]);
    }
    spec->state_dir = g_strdup(strs[0][1]);
    spec->qemu = g_strdup(strs[1][1]);
    spec->kernel = g_strdup(strs[2][1]);
    spec->initrd = g_strdup(strs[3][1]);
    spec->prefix = g_strdup(strs[4][1]);
    if (fleet_accel_from_name(strs[5][1], &spec->accel) != 0 || spec->accel == FLEET_ACCEL_AUTO)
        return bad(error, "accel");
    if (!fleet_prefix_valid(spec->prefix))
        return bad(error, "name_prefix");
    gint64 v;
    if (!get_int(o, "count", 1, FLEET_MAX_COUNT, &v))
        return bad(error, "count");
    spec->count = (unsigned)v;
    if (!get_int(o, "memory_bytes", 1, G_MAXINT64, &v))
        return bad(error, "memory_bytes");
    spec->memory_bytes = (uint64_t)v;
    if (!get_int(o, "cpus", 1, FLEET_MAX_CPUS, &v))
        return bad(error, "cpus");
    spec->cpus = (unsigned)v;
    if (!get_int(o, "tb_size_mib", 1, FLEET_MAX_TB_SIZE_MIB, &v))
        return bad(error, "tb_size_mib");
    spec->tb_size_mib = (unsigned)v;
    /* fleet.json from before --disk existed (or a fleet without one): no disk. */
    if (json_object_has_member(o, "disk_mib")) {
        if (!get_int(o, "disk_mib", 0, FLEET_MAX_DISK_MIB, &v))
            return bad(error, "disk_mib");
        spec->disk_mib = (unsigned)v;
    }
    if (!get_int(o, "tsc_khz", 0, G_MAXINT64, &v))
        return bad(error, "tsc_khz");
    spec->tsc_khz = (uint64_t)v;
    if (!get_bool(o, "deflate_on_oom", &spec->deflate_on_oom) || !get_bool(o, "thp", &spec->thp))
        return bad(error, "deflate_on_oom/thp");
    /* fleet.json from before --kaslr existed: those guests booted with KASLR. */
    spec->kaslr = true;
    if (json_object_has_member(o, "kaslr") && !get_bool(o, "kaslr", &spec->kaslr))
        return bad(error, "kaslr");
    /* fleet.json from before --no-free-page-reporting existed: it was always on. */
    spec->free_page_reporting = true;
    if (json_object_has_member(o, "free_page_reporting") &&
        !get_bool(o, "free_page_reporting", &spec->free_page_reporting))
        return bad(error, "free_page_reporting");
    spec->workload = g_strdup(get_str(o, "workload"));
    spec->append = g_strdup(get_str(o, "append"));
    spec->cgroup_dir = g_strdup(get_str(o, "cgroup"));
    if (vmem_from_object(o, spec, error) != 0)
        return -EINVAL;

    JsonNode *gn = json_object_get_member(o, "guests");
    if (!gn || !JSON_NODE_HOLDS_ARRAY(gn))
        return bad(error, "guests");
    JsonArray *guests = json_node_get_array(gn);
    if (json_array_get_length(guests) != spec->count)
        return bad(error, "guests (count mismatch)");
    spec->merge = g_new0(bool, spec->count);
    for (unsigned i = 0; i < spec->count; i++) {
        JsonNode *e = json_array_get_element(guests, i);
        if (!JSON_NODE_HOLDS_OBJECT(e))
            return bad(error, "guest entry");
        JsonObject *g = json_node_get_object(e);
        g_autofree char *expected = fleet_guest_name(spec->prefix, i);
        const char *name = get_str(g, "name");
        if (!name || strcmp(name, expected) != 0)
            return bad(error, "guest name");
        if (!get_bool(g, "merge", &spec->merge[i]))
            return bad(error, "guest merge");
    }
    return 0;
}

int fleet_spec_from_json(const char *text, struct fleet_spec *spec, GError **error)
{
    memset(spec, 0, sizeof(*spec));
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, text, -1, error))
        return -EINVAL;
    JsonNode *root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root))
        return bad(error, "top-level object");
    int rc = spec_from_object(json_node_get_object(root), spec, error);
    if (rc != 0)
        fleet_spec_clear(spec);
    return rc;
}
