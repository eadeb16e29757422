/*
 * Guest names, the per-guest KSM decision, each guest's QEMU argv and kernel
 * command line, fleet.json round trips, and recognising our QEMU by its
 * /proc/PID/cmdline.
 */
#include "cunit_main.h"
#include "fleet_guest.h"
#include "fleet_qemu.h"
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <errno.h>
#include <string.h>

static void test_names(void)
{
    char *n = fleet_guest_name("vm", 0);
    CU_ASSERT_STRING_EQUAL(n, "vm0");
    g_free(n);
    n = fleet_guest_name("web-", 15);
    CU_ASSERT_STRING_EQUAL(n, "web-15");
    g_free(n);
    n = fleet_file_path("/s", "vm3", FLEET_FILE_QMP);
    CU_ASSERT_STRING_EQUAL(n, "/s/vm3/qmp.sock");
    g_free(n);
    n = fleet_file_path("/s", "vm3", FLEET_FILE_GUEST_DIR);
    CU_ASSERT_STRING_EQUAL(n, "/s/vm3");
    g_free(n);
}

static void test_merge_decision(void)
{
    const char *none[] = {NULL};
    const char *all[] = {"all", NULL};
    const char *some[] = {"vm1", "vm3", NULL};
    CU_ASSERT_TRUE(fleet_guest_merge(NULL, "vm0"));
    CU_ASSERT_TRUE(fleet_guest_merge(none, "vm0"));
    CU_ASSERT_FALSE(fleet_guest_merge(all, "vm0"));
    CU_ASSERT_FALSE(fleet_guest_merge(all, "vm7"));
    CU_ASSERT_TRUE(fleet_guest_merge(some, "vm0"));
    CU_ASSERT_FALSE(fleet_guest_merge(some, "vm1"));
    CU_ASSERT_FALSE(fleet_guest_merge(some, "vm3"));
    CU_ASSERT_TRUE(fleet_guest_merge(some, "vm13")); /* no prefix match */
}

static void test_socket_paths(void)
{
    unsigned longest;
    CU_ASSERT_TRUE(fleet_socket_paths_fit("/tmp/f", "vm", 16, &longest));
    CU_ASSERT_EQUAL(longest, strlen("/tmp/f/vm15/qmp-admin.sock"));
    char *deep = g_strnfill(100, 'd');
    deep[0] = '/';
    CU_ASSERT_FALSE(fleet_socket_paths_fit(deep, "vm", 1, &longest));
    CU_ASSERT_TRUE(longest > FLEET_LAYOUT_SOCKET_MAX);
    g_free(deep);
}

static void make_spec(struct fleet_spec *spec, const char *const *no_merge, bool deflate,
                      enum fleet_accel accel)
{
    struct fleet_options o = {
        .command = FLEET_CMD_START,
        .count = 4,
        .memory_bytes = 128ULL << 20,
        .boot_memory_bytes = 128ULL << 20, /* the balloon boots with all of it */
        .max_memory_bytes = 128ULL << 20,
        .cpus = 2,
        .tb_size_mib = 16,
        .deflate_on_oom = deflate,
        .free_page_reporting = true,
        .name_prefix = (char *)"vm",
        .no_merge = (char **)no_merge,
        .workload = (char *)"anon:32M",
        .append = (char *)"loglevel=4",
    };
    CU_ASSERT_EQUAL_FATAL(
        fleet_spec_from_options(&o, "/run/f", "/img", "/usr/bin/qemu", accel, 2600000, spec), 0);
}

/* Index of the argument after flag whose value starts with prefix, or -1. */
static int find_opt(char **argv, const char *flag, const char *prefix)
{
    for (int i = 0; argv[i] && argv[i + 1]; i++) {
        if (strcmp(argv[i], flag) == 0 && g_str_has_prefix(argv[i + 1], prefix))
            return i + 1;
    }
    return -1;
}

static bool has_arg(char **argv, const char *arg)
{
    return g_strv_contains((const char *const *)argv, arg);
}

/*
 * The whole argv of the default actuator (the balloon), word for word: every
 * option added to the launcher must leave a balloon fleet's QEMU command line
 * byte-identical (docs/fleet.md shows the same line).
 */
static const char golden_balloon_tcg[] =
    "/usr/bin/qemu\n-name\nvm1\n-machine\nmicrovm,mem-merge=on\n-accel\ntcg,tb-size=16\n"
    "-m\n128M\n-smp\n2\n-nodefaults\n-no-user-config\n-display\nnone\n-no-reboot\n"
    "-chardev\nfile,id=console,path=/run/f/vm1/console.log\n-serial\nchardev:console\n"
    "-kernel\n/img/vmlinuz\n-initrd\n/img/initramfs.cpio.gz\n"
    "-append\nconsole=ttyS0 panic=-1 tsc_early_khz=2600000 nokaslr ballast.name=vm1 "
    "ballast.workload=anon:32M loglevel=4\n"
    "-device\nvirtio-balloon-device,id=balloon0,free-page-reporting=on,deflate-on-oom=on\n"
    "-device\nvirtio-serial-device,id=vser0\n"
    "-chardev\nsocket,id=agent,path=/run/f/vm1/agent.sock,server=on,wait=off\n"
    "-device\nvirtserialport,chardev=agent,name=org.ballast.agent.0\n"
    "-chardev\nsocket,id=qmp,path=/run/f/vm1/qmp.sock,server=on,wait=off\n"
    "-mon\nchardev=qmp,mode=control\n"
    "-chardev\nsocket,id=qmp-admin,path=/run/f/vm1/qmp-admin.sock,server=on,wait=off\n"
    "-mon\nchardev=qmp-admin,mode=control\n"
    "-daemonize\n-pidfile\n/run/f/vm1/pid";

static const char golden_balloon_kvm_head[] =
    "/usr/bin/qemu\n-name\nvm0\n-machine\nmicrovm,mem-merge=off\n-accel\nkvm\n-cpu\nhost\n"
    "-m\n128M\n-smp\n2\n-nodefaults\n";

static void test_argv_golden_balloon(void)
{
    struct fleet_spec spec;
    make_spec(&spec, NULL, true, FLEET_ACCEL_TCG);
    char **argv = fleet_qemu_argv(&spec, 1);
    g_autofree char *joined = g_strjoinv("\n", argv);
    CU_ASSERT_STRING_EQUAL(joined, golden_balloon_tcg);
    g_strfreev(argv);
    fleet_spec_clear(&spec);

    const char *all[] = {"all", NULL};
    make_spec(&spec, all, true, FLEET_ACCEL_KVM);
    argv = fleet_qemu_argv(&spec, 0);
    g_autofree char *kvm = g_strjoinv("\n", argv);
    CU_ASSERT_TRUE(g_str_has_prefix(kvm, golden_balloon_kvm_head));
    /* Under KVM only the accel words differ from TCG's line. */
    g_autofree char *tail = g_strdup(strstr(kvm, "\n-no-user-config"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(tail);
    g_autofree char *tcg_tail = g_strdup(strstr(golden_balloon_tcg, "\n-no-user-config"));
    g_autoptr(GString) want = g_string_new(tcg_tail);
    g_string_replace(want, "vm1", "vm0", 0);
    CU_ASSERT_STRING_EQUAL(tail, want->str);
    g_strfreev(argv);
    fleet_spec_clear(&spec);
}

/* A state directory too deep for the sockets gives no argv at all, not a QEMU
 * that fails to bind. */
static void test_argv_too_deep(void)
{
    struct fleet_spec spec;
    make_spec(&spec, NULL, true, FLEET_ACCEL_TCG);
    g_free(spec.state_dir);
    spec.state_dir = g_strnfill(100, 'd');
    spec.state_dir[0] = '/';
    CU_ASSERT_PTR_NULL(fleet_qemu_argv(&spec, 0));
    spec.state_dir[89] = '\0'; /* "/ddd.../vm0/qmp-admin.sock": 108 bytes */
    CU_ASSERT_PTR_NULL(fleet_qemu_argv(&spec, 0));
    spec.state_dir[88] = '\0'; /* 107 bytes: the longest socket fits */
    char **argv = fleet_qemu_argv(&spec, 0);
    CU_ASSERT_PTR_NOT_NULL(argv);
    g_strfreev(argv);
    fleet_spec_clear(&spec);
}

static void test_argv_tcg(void)
{
    const char *no_merge[] = {"vm2", NULL};
    struct fleet_spec spec;
    make_spec(&spec, no_merge, false, FLEET_ACCEL_TCG);
    char **argv = fleet_qemu_argv(&spec, 1);
    CU_ASSERT_STRING_EQUAL(argv[0], "/usr/bin/qemu");
    int i = find_opt(argv, "-machine", "microvm");
    CU_ASSERT_FATAL(i > 0);
    CU_ASSERT_STRING_EQUAL(argv[i], "microvm,mem-merge=on");
    CU_ASSERT(find_opt(argv, "-accel", "tcg,tb-size=16") > 0);
    CU_ASSERT(find_opt(argv, "-cpu", "host") < 0);
    i = find_opt(argv, "-m", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "128M");
    i = find_opt(argv, "-smp", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "2");
    i = find_opt(argv, "-name", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "vm1");
    CU_ASSERT(find_opt(argv, "-chardev", "file,id=console,path=/run/f/vm1/console.log") > 0);
    CU_ASSERT(find_opt(argv, "-serial", "chardev:console") > 0);
    CU_ASSERT(find_opt(argv, "-chardev",
                       "socket,id=qmp,path=/run/f/vm1/qmp.sock,server=on,wait=off") > 0);
    CU_ASSERT(find_opt(argv, "-mon", "chardev=qmp,mode=control") > 0);
    CU_ASSERT(find_opt(argv, "-chardev",
                       "socket,id=qmp-admin,path=/run/f/vm1/qmp-admin.sock,server=on,wait=off") >
              0);
    CU_ASSERT(find_opt(argv, "-mon", "chardev=qmp-admin,mode=control") > 0);
    CU_ASSERT(find_opt(argv, "-chardev",
                       "socket,id=agent,path=/run/f/vm1/agent.sock,server=on,wait=off") > 0);
    CU_ASSERT(find_opt(argv, "-device", "virtserialport,chardev=agent,name=org.ballast.agent.0") >
              0);
    i = find_opt(argv, "-device", "virtio-balloon-device");
    CU_ASSERT_FATAL(i > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(argv[i], "free-page-reporting=on"));
    CU_ASSERT_PTR_NULL(strstr(argv[i], "deflate-on-oom"));
    i = find_opt(argv, "-pidfile", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "/run/f/vm1/pid");
    i = find_opt(argv, "-kernel", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "/img/vmlinuz");
    i = find_opt(argv, "-initrd", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "/img/initramfs.cpio.gz");
    CU_ASSERT_TRUE(has_arg(argv, "-daemonize"));
    CU_ASSERT_TRUE(has_arg(argv, "-nodefaults"));
    CU_ASSERT_TRUE(has_arg(argv, "-no-reboot"));
    i = find_opt(argv, "-display", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "none");
    g_strfreev(argv);

    /* The opted-out guest, alone. */
    argv = fleet_qemu_argv(&spec, 2);
    i = find_opt(argv, "-machine", "microvm");
    CU_ASSERT_STRING_EQUAL(argv[i], "microvm,mem-merge=off");
    g_strfreev(argv);
    fleet_spec_clear(&spec);
}

static void test_argv_kvm_deflate(void)
{
    const char *all[] = {"all", NULL};
    struct fleet_spec spec;
    make_spec(&spec, all, true, FLEET_ACCEL_KVM);
    for (unsigned g = 0; g < spec.count; g++) {
        char **argv = fleet_qemu_argv(&spec, g);
        int i = find_opt(argv, "-machine", "microvm");
        CU_ASSERT_STRING_EQUAL(argv[i], "microvm,mem-merge=off");
        i = find_opt(argv, "-accel", "");
        CU_ASSERT_STRING_EQUAL(argv[i], "kvm");
        i = find_opt(argv, "-cpu", "");
        CU_ASSERT_STRING_EQUAL(argv[i], "host");
        i = find_opt(argv, "-device", "virtio-balloon-device");
        CU_ASSERT_PTR_NOT_NULL(strstr(argv[i], ",deflate-on-oom=on"));
        g_strfreev(argv);
    }
    fleet_spec_clear(&spec);
}

static void test_kernel_cmdline(void)
{
    struct fleet_spec spec;
    make_spec(&spec, NULL, false, FLEET_ACCEL_TCG);
    char *c = fleet_kernel_cmdline(&spec, 3);
    CU_ASSERT_STRING_EQUAL(c, "console=ttyS0 panic=-1 tsc_early_khz=2600000 nokaslr "
                              "ballast.name=vm3 ballast.workload=anon:32M loglevel=4");
    g_free(c);
    /* No measured TSC, no workload, no append: none of them appear. */
    spec.tsc_khz = 0;
    g_clear_pointer(&spec.workload, g_free);
    g_clear_pointer(&spec.append, g_free);
    c = fleet_kernel_cmdline(&spec, 0);
    CU_ASSERT_STRING_EQUAL(c, "console=ttyS0 panic=-1 nokaslr ballast.name=vm0");
    g_free(c);
    /* --kaslr: the kernel keeps its randomization. */
    spec.kaslr = true;
    c = fleet_kernel_cmdline(&spec, 0);
    CU_ASSERT_STRING_EQUAL(c, "console=ttyS0 panic=-1 ballast.name=vm0");
    g_free(c);
    spec.kaslr = false;
    char **argv = fleet_qemu_argv(&spec, 0);
    int i = find_opt(argv, "-append", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "console=ttyS0 panic=-1 nokaslr ballast.name=vm0");
    g_strfreev(argv);
    fleet_spec_clear(&spec);
}

static void test_comma_escaping(void)
{
    char *e = fleet_qemu_escape("/tmp/a,b/c");
    CU_ASSERT_STRING_EQUAL(e, "/tmp/a,,b/c");
    g_free(e);
    struct fleet_options o = {.count = 1,
                              .memory_bytes = 96ULL << 20,
                              .cpus = 1,
                              .tb_size_mib = 8,
                              .name_prefix = (char *)"vm"};
    struct fleet_spec spec;
    CU_ASSERT_EQUAL_FATAL(
        fleet_spec_from_options(&o, "/tmp/x,y", "/img", "/q", FLEET_ACCEL_TCG, 0, &spec), 0);
    char **argv = fleet_qemu_argv(&spec, 0);
    CU_ASSERT(find_opt(argv, "-chardev", "socket,id=qmp,path=/tmp/x,,y/vm0/qmp.sock,") > 0);
    /* -pidfile takes a plain path: not escaped. */
    int i = find_opt(argv, "-pidfile", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "/tmp/x,y/vm0/pid");
    g_strfreev(argv);
    fleet_spec_clear(&spec);
}

/* --no-free-page-reporting: the balloon says off (QEMU's default, spelt out),
 * deflate-on-oom stays as it was, and nothing else in argv moves. */
static void test_argv_no_free_page_reporting(void)
{
    struct fleet_spec spec;
    make_spec(&spec, NULL, true, FLEET_ACCEL_TCG);
    char **on = fleet_qemu_argv(&spec, 0);
    spec.free_page_reporting = false;
    char **off = fleet_qemu_argv(&spec, 0);
    int i = find_opt(off, "-device", "virtio-balloon-device");
    CU_ASSERT_FATAL(i > 0);
    CU_ASSERT_STRING_EQUAL(off[i], "virtio-balloon-device,id=balloon0,free-page-reporting=off,"
                                   "deflate-on-oom=on");
    i = find_opt(on, "-device", "virtio-balloon-device");
    CU_ASSERT_STRING_EQUAL(on[i], "virtio-balloon-device,id=balloon0,free-page-reporting=on,"
                                  "deflate-on-oom=on");
    CU_ASSERT_EQUAL(g_strv_length(on), g_strv_length(off));
    for (unsigned k = 0; on[k] && off[k]; k++) {
        if ((int)k != i)
            CU_ASSERT_STRING_EQUAL(on[k], off[k]);
    }
    g_strfreev(on);
    g_strfreev(off);
    fleet_spec_clear(&spec);
}

/* The -drive of --disk, word for word: the guest's own file, QEMU-escaped,
 * cache=none (no copy in the host's page cache). */
#define DISK_DRIVE(path) "file=" path ",if=none,id=scratch,format=raw,cache=none,aio=threads"

/* argv[i..] is exactly want (NULL-terminated), or i < 0. */
static void assert_words_at(char **argv, int i, const char *const *want)
{
    CU_ASSERT_FATAL(i >= 0);
    for (size_t k = 0; want[k]; k++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(argv[i + (int)k]);
        CU_ASSERT_STRING_EQUAL(argv[i + (int)k], want[k]);
    }
}

/* Index of word in argv, or -1. */
static int index_of(char **argv, const char *word)
{
    for (int i = 0; argv[i]; i++) {
        if (strcmp(argv[i], word) == 0)
            return i;
    }
    return -1;
}

/*
 * --disk adds exactly four words to guest idx's line: -drive DRIVE -device
 * BLK,drive=scratch, right after the serial controller (before its port),
 * and nothing else moves; the other transport's virtio-blk never appears.
 * Without --disk: no -drive at all (the golden line).
 */
static void assert_disk_inserted(struct fleet_spec *spec, unsigned idx, const char *drive,
                                 const char *blk, const char *other_blk, const char *serial)
{
    spec->disk_mib = 0;
    char **none = fleet_qemu_argv(spec, idx);
    CU_ASSERT_EQUAL(index_of(none, "-drive"), -1);
    CU_ASSERT(find_opt(none, "-device", "virtio-blk") < 0);
    spec->disk_mib = 64;
    char **disk = fleet_qemu_argv(spec, idx);
    int at = index_of(disk, "-drive");
    char *dev = g_strdup_printf("%s,drive=scratch", blk);
    const char *const want[] = {"-drive", drive, "-device", dev, NULL};
    assert_words_at(disk, at, want);
    CU_ASSERT_STRING_EQUAL(disk[at - 1], serial);
    CU_ASSERT(find_opt(disk, "-device", other_blk) < 0);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(disk), g_strv_length(none) + 4);
    for (int k = 0; none[k]; k++)
        CU_ASSERT_STRING_EQUAL(none[k], disk[k < at ? k : k + 4]);
    g_free(dev);
    g_strfreev(none);
    g_strfreev(disk);
}

/* --disk on microvm: a virtio-mmio virtio-blk, under TCG and KVM alike. */
static void test_argv_disk_microvm(void)
{
    struct fleet_spec spec;
    make_spec(&spec, NULL, true, FLEET_ACCEL_TCG);
    CU_ASSERT_EQUAL(spec.disk_mib, 0);
    assert_disk_inserted(&spec, 1, DISK_DRIVE("/run/f/vm1/disk.raw"), "virtio-blk-device",
                         "virtio-blk-pci", "virtio-serial-device,id=vser0");
    spec.accel = FLEET_ACCEL_KVM;
    assert_disk_inserted(&spec, 0, DISK_DRIVE("/run/f/vm0/disk.raw"), "virtio-blk-device",
                         "virtio-blk-pci", "virtio-serial-device,id=vser0");
    fleet_spec_clear(&spec);
}

/* A comma in the state directory is doubled in -drive file= like the other paths. */
static void test_argv_disk_escaped(void)
{
    struct fleet_options o = {.count = 1,
                              .memory_bytes = 96ULL << 20,
                              .cpus = 1,
                              .tb_size_mib = 8,
                              .disk_mib = 16,
                              .name_prefix = (char *)"vm"};
    struct fleet_spec spec;
    CU_ASSERT_EQUAL_FATAL(
        fleet_spec_from_options(&o, "/tmp/x,y", "/img", "/q", FLEET_ACCEL_TCG, 0, &spec), 0);
    CU_ASSERT_EQUAL(spec.disk_mib, 16);
    char **argv = fleet_qemu_argv(&spec, 0);
    int i = find_opt(argv, "-drive", "");
    CU_ASSERT_FATAL(i > 0);
    CU_ASSERT_STRING_EQUAL(argv[i], DISK_DRIVE("/tmp/x,,y/vm0/disk.raw"));
    g_strfreev(argv);
    fleet_spec_clear(&spec);
}

/* A balloon spec turned into a virtio-mem one: 128M at boot, 256M nominal, 512M max. */
static void make_vmem_spec(struct fleet_spec *spec, enum fleet_actuator actuator)
{
    const char *no_merge[] = {"vm2", NULL};
    make_spec(spec, no_merge, true, FLEET_ACCEL_TCG);
    spec->actuator = actuator;
    spec->memory_bytes = 256ULL << 20;
    spec->boot_memory_bytes = 128ULL << 20;
    spec->max_memory_bytes = 512ULL << 20;
}

/* --actuator virtio-mem: q35, -m BOOT,maxmem=MAX, the backend and device,
 * PCI virtio, no balloon, the onlining policy on the kernel command line. */
static void test_argv_vmem(void)
{
    struct fleet_spec spec;
    make_vmem_spec(&spec, FLEET_ACTUATOR_VIRTIO_MEM);
    char **argv = fleet_qemu_argv(&spec, 1);
    int i = find_opt(argv, "-machine", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "q35,mem-merge=on");
    i = find_opt(argv, "-m", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "128M,maxmem=512M");
    i = find_opt(argv, "-object", "memory-backend-ram");
    CU_ASSERT_FATAL(i > 0);
    CU_ASSERT_STRING_EQUAL(argv[i], "memory-backend-ram,id=vmem0mem,size=384M,merge=on");
    CU_ASSERT_STRING_EQUAL(argv[i + 1], "-device");
    CU_ASSERT_STRING_EQUAL(argv[i + 2], "virtio-mem-pci,id=vmem0,memdev=vmem0mem,block-size=2M,"
                                        "requested-size=128M");
    CU_ASSERT(find_opt(argv, "-device", "virtio-balloon") < 0);
    CU_ASSERT(find_opt(argv, "-device", "virtio-serial-device") < 0);
    CU_ASSERT(find_opt(argv, "-device", "virtio-serial-pci,id=vser0") > 0);
    CU_ASSERT(find_opt(argv, "-device", "virtserialport,chardev=agent,name=org.ballast.agent.0") >
              0);
    i = find_opt(argv, "-append", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "console=ttyS0 panic=-1 tsc_early_khz=2600000 nokaslr "
                                    "memhp_default_state=online_movable swiotlb=noforce "
                                    "sysctl.vm.lowmem_reserve_ratio=\"256 8\" "
                                    "ballast.name=vm1 "
                                    "ballast.workload=anon:32M loglevel=4");
    CU_ASSERT_TRUE(has_arg(argv, "-daemonize"));
    g_strfreev(argv);
    /* The guest out of KSM: its plugged memory too. */
    argv = fleet_qemu_argv(&spec, 2);
    i = find_opt(argv, "-machine", "");
    CU_ASSERT_STRING_EQUAL(argv[i], "q35,mem-merge=off");
    CU_ASSERT(find_opt(argv, "-object", "memory-backend-ram,id=vmem0mem,size=384M,merge=off") > 0);
    g_strfreev(argv);
    fleet_spec_clear(&spec);
}

/* --actuator both: the same q35 line plus the balloon, on PCI, with its options. */
static void test_argv_both(void)
{
    struct fleet_spec spec;
    make_vmem_spec(&spec, FLEET_ACTUATOR_BOTH);
    spec.free_page_reporting = false;
    char **both = fleet_qemu_argv(&spec, 0);
    int i = find_opt(both, "-device", "virtio-balloon");
    CU_ASSERT_FATAL(i > 0);
    CU_ASSERT_STRING_EQUAL(both[i], "virtio-balloon-pci,id=balloon0,free-page-reporting=off,"
                                    "deflate-on-oom=on");
    CU_ASSERT(find_opt(both, "-device", "virtio-mem-pci,id=vmem0,") > 0);
    /* Without the balloon's two words it is the virtio-mem line. */
    spec.actuator = FLEET_ACTUATOR_VIRTIO_MEM;
    char **vmem = fleet_qemu_argv(&spec, 0);
    CU_ASSERT_EQUAL_FATAL(g_strv_length(both), g_strv_length(vmem) + 2);
    for (int k = 0, j = 0; vmem[j]; k++) {
        if (k == i - 1) {
            k++; /* skip "-device" and the balloon */
            continue;
        }
        CU_ASSERT_STRING_EQUAL(both[k], vmem[j]);
        j++;
    }
    g_strfreev(both);
    g_strfreev(vmem);
    fleet_spec_clear(&spec);
}

/* --disk on q35 (virtio-mem or both): the same -drive, a PCI virtio-blk. */
static void test_argv_disk_q35(void)
{
    const enum fleet_actuator actuators[] = {FLEET_ACTUATOR_VIRTIO_MEM, FLEET_ACTUATOR_BOTH};
    for (size_t a = 0; a < G_N_ELEMENTS(actuators); a++) {
        struct fleet_spec spec;
        make_vmem_spec(&spec, actuators[a]);
        assert_disk_inserted(&spec, 2, DISK_DRIVE("/run/f/vm2/disk.raw"), "virtio-blk-pci",
                             "virtio-blk-device", "virtio-serial-pci,id=vser0");
        fleet_spec_clear(&spec);
    }
}

/* fleet.json keeps the actuator and sizes (what ballastd reads); a balloon
 * fleet's file has none of the new members. */
static void test_json_vmem(void)
{
    struct fleet_spec a, b;
    make_vmem_spec(&a, FLEET_ACTUATOR_BOTH);
    g_autofree char *json = fleet_spec_to_json(&a);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"actuator\": \"both\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"boot_memory_bytes\": 134217728"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"max_memory_bytes\": 536870912"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"virtio_mem_block_bytes\": 2097152"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"virtio_mem_device\": \"/machine/peripheral/vmem0\""));
    GError *err = NULL;
    CU_ASSERT_EQUAL_FATAL(fleet_spec_from_json(json, &b, &err), 0);
    CU_ASSERT_EQUAL(b.actuator, FLEET_ACTUATOR_BOTH);
    CU_ASSERT_EQUAL(b.boot_memory_bytes, 128ULL << 20);
    CU_ASSERT_EQUAL(b.memory_bytes, 256ULL << 20);
    CU_ASSERT_EQUAL(b.max_memory_bytes, 512ULL << 20);
    for (unsigned g = 0; g < 4; g++) {
        char **x = fleet_qemu_argv(&a, g), **y = fleet_qemu_argv(&b, g);
        CU_ASSERT_TRUE(g_strv_equal((const char *const *)x, (const char *const *)y));
        g_strfreev(x);
        g_strfreev(y);
    }
    fleet_spec_clear(&b);
    /* Hostile: sizes that the command line would refuse never run. */
    const char *const edits[][2] = {
        {"\"max_memory_bytes\": 536870912", "\"max_memory_bytes\": 134217728"},
        {"\"boot_memory_bytes\": 134217728", "\"boot_memory_bytes\": 135266304"},
        {"\"boot_memory_bytes\": 134217728", "\"boot_memory_bytes\": \"128M\""},
        {"\"virtio_mem_block_bytes\": 2097152", "\"virtio_mem_block_bytes\": 4194304"},
        {"\"actuator\": \"both\"", "\"actuator\": \"dimm\""},
        {"\"max_memory_bytes\": 536870912,", ""},
    };
    for (size_t k = 0; k < G_N_ELEMENTS(edits); k++) {
        g_autoptr(GString) bad = g_string_new(json);
        CU_ASSERT_EQUAL_FATAL(g_string_replace(bad, edits[k][0], edits[k][1], 1), 1);
        CU_ASSERT_NOT_EQUAL(fleet_spec_from_json(bad->str, &b, &err), 0);
        CU_ASSERT_PTR_NOT_NULL(err);
        CU_ASSERT_PTR_NULL(b.state_dir);
        g_clear_error(&err);
    }
    fleet_spec_clear(&a);
    /* The balloon: nothing new in fleet.json, and it reads back as the balloon. */
    make_spec(&a, NULL, true, FLEET_ACCEL_TCG);
    g_autofree char *plain = fleet_spec_to_json(&a);
    CU_ASSERT_PTR_NULL(strstr(plain, "actuator"));
    CU_ASSERT_PTR_NULL(strstr(plain, "virtio_mem"));
    CU_ASSERT_EQUAL_FATAL(fleet_spec_from_json(plain, &b, &err), 0);
    CU_ASSERT_EQUAL(b.actuator, FLEET_ACTUATOR_BALLOON);
    CU_ASSERT_EQUAL(b.boot_memory_bytes, b.memory_bytes);
    CU_ASSERT_EQUAL(b.max_memory_bytes, b.memory_bytes);
    fleet_spec_clear(&a);
    fleet_spec_clear(&b);
}

static void test_spec_rejects(void)
{
    struct fleet_options o = {.count = 1, .name_prefix = (char *)"vm"};
    struct fleet_spec spec;
    CU_ASSERT_EQUAL(fleet_spec_from_options(&o, "/s", "/i", "/q", FLEET_ACCEL_AUTO, 0, &spec),
                    -EINVAL);
    CU_ASSERT_EQUAL(fleet_spec_from_options(&o, "rel", "/i", "/q", FLEET_ACCEL_TCG, 0, &spec),
                    -EINVAL);
}

static void test_json_round_trip(void)
{
    const char *no_merge[] = {"vm0", "vm3", NULL};
    struct fleet_spec a, b;
    make_spec(&a, no_merge, true, FLEET_ACCEL_TCG);
    char *json = fleet_spec_to_json(&a);
    GError *err = NULL;
    CU_ASSERT_EQUAL_FATAL(fleet_spec_from_json(json, &b, &err), 0);
    CU_ASSERT_STRING_EQUAL(b.state_dir, "/run/f");
    CU_ASSERT_STRING_EQUAL(b.qemu, "/usr/bin/qemu");
    CU_ASSERT_STRING_EQUAL(b.kernel, "/img/vmlinuz");
    CU_ASSERT_STRING_EQUAL(b.prefix, "vm");
    CU_ASSERT_EQUAL(b.count, 4);
    CU_ASSERT_EQUAL(b.memory_bytes, 128ULL << 20);
    CU_ASSERT_EQUAL(b.cpus, 2);
    CU_ASSERT_EQUAL(b.accel, FLEET_ACCEL_TCG);
    CU_ASSERT_TRUE(b.deflate_on_oom);
    CU_ASSERT_TRUE(b.free_page_reporting);
    CU_ASSERT_EQUAL(b.tsc_khz, 2600000);
    CU_ASSERT_STRING_EQUAL(b.workload, "anon:32M");
    CU_ASSERT_FALSE(b.merge[0]);
    CU_ASSERT_TRUE(b.merge[1]);
    CU_ASSERT_TRUE(b.merge[2]);
    CU_ASSERT_FALSE(b.merge[3]);
    /* Same spec, same argv. */
    for (unsigned g = 0; g < 4; g++) {
        char **x = fleet_qemu_argv(&a, g), **y = fleet_qemu_argv(&b, g);
        CU_ASSERT_TRUE(g_strv_equal((const char *const *)x, (const char *const *)y));
        g_strfreev(x);
        g_strfreev(y);
    }
    CU_ASSERT_PTR_NULL(b.cgroup_dir);
    CU_ASSERT_PTR_NULL(strstr(json, "cgroup")); /* without --cgroup, fleet.json as before */
    g_free(json);
    fleet_spec_clear(&b);
    /* --cgroup DIR is kept, so that stop removes the guests' cgroups. */
    a.cgroup_dir = g_strdup("/sys/fs/cgroup/ballast.slice");
    json = fleet_spec_to_json(&a);
    CU_ASSERT_EQUAL_FATAL(fleet_spec_from_json(json, &b, &err), 0);
    CU_ASSERT_STRING_EQUAL(b.cgroup_dir, "/sys/fs/cgroup/ballast.slice");
    CU_ASSERT_TRUE(b.free_page_reporting);
    g_free(json);
    fleet_spec_clear(&b);
    /* --no-free-page-reporting is kept too: status and a restart see what runs. */
    a.free_page_reporting = false;
    json = fleet_spec_to_json(&a);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"free_page_reporting\": false"));
    CU_ASSERT_EQUAL_FATAL(fleet_spec_from_json(json, &b, &err), 0);
    CU_ASSERT_FALSE(b.free_page_reporting);
    for (unsigned g = 0; g < 4; g++) {
        char **x = fleet_qemu_argv(&a, g), **y = fleet_qemu_argv(&b, g);
        CU_ASSERT_TRUE(g_strv_equal((const char *const *)x, (const char *const *)y));
        g_strfreev(x);
        g_strfreev(y);
    }
    g_free(json);
    fleet_spec_clear(&b);
    /* --disk is kept: stop, status and a restart see the guests' disks. */
    CU_ASSERT_EQUAL(a.disk_mib, 0);
    json = fleet_spec_to_json(&a);
    CU_ASSERT_PTR_NULL(strstr(json, "disk")); /* without --disk, fleet.json as before */
    g_free(json);
    a.disk_mib = 80;
    json = fleet_spec_to_json(&a);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"disk_mib\": 80"));
    CU_ASSERT_EQUAL_FATAL(fleet_spec_from_json(json, &b, &err), 0);
    CU_ASSERT_EQUAL(b.disk_mib, 80);
    for (unsigned g = 0; g < 4; g++) {
        char **x = fleet_qemu_argv(&a, g), **y = fleet_qemu_argv(&b, g);
        CU_ASSERT_TRUE(g_strv_equal((const char *const *)x, (const char *const *)y));
        CU_ASSERT(find_opt(y, "-drive", "file=/run/f/vm") > 0);
        g_strfreev(x);
        g_strfreev(y);
    }
    fleet_spec_clear(&b);
    /* Hostile: a disk the command line would refuse never runs. */
    const char *const bad_disks[] = {"\"disk_mib\": -1", "\"disk_mib\": 65537",
                                     "\"disk_mib\": \"80\"", "\"disk_mib\": null"};
    for (size_t k = 0; k < G_N_ELEMENTS(bad_disks); k++) {
        g_autoptr(GString) bad = g_string_new(json);
        CU_ASSERT_EQUAL_FATAL(g_string_replace(bad, "\"disk_mib\": 80", bad_disks[k], 1), 1);
        CU_ASSERT_NOT_EQUAL(fleet_spec_from_json(bad->str, &b, &err), 0);
        CU_ASSERT_PTR_NOT_NULL(err);
        CU_ASSERT_PTR_NULL(b.state_dir);
        g_clear_error(&err);
    }
    /* Written as 0 by hand: no disk either. */
    g_autoptr(GString) zero = g_string_new(json);
    g_string_replace(zero, "\"disk_mib\": 80", "\"disk_mib\": 0", 1);
    CU_ASSERT_EQUAL_FATAL(fleet_spec_from_json(zero->str, &b, &err), 0);
    CU_ASSERT_EQUAL(b.disk_mib, 0);
    fleet_spec_clear(&b);
    g_free(json);
    fleet_spec_clear(&a);
}

/* The same JSON, member order included, whatever the whitespace. */
static void assert_same_json(const char *a, const char *b)
{
    g_autoptr(JsonNode) na = json_from_string(a, NULL);
    g_autoptr(JsonNode) nb = json_from_string(b, NULL);
    CU_ASSERT_FATAL(na && nb);
    g_autofree char *ca = json_to_string(na, FALSE);
    g_autofree char *cb = json_to_string(nb, FALSE);
    CU_ASSERT_STRING_EQUAL(ca, cb);
}

/* A state directory of the previous version: its fleet.json, as json-glib's
 * generator wrote it (fixtures/fleet-json-glib.json), still reads, and what
 * is written now is the same JSON in another layout. */
static void test_json_previous_version(void)
{
    g_autofree char *path = g_build_filename(FLEET_FIXTURES, "fleet-json-glib.json", NULL);
    g_autofree char *old = NULL;
    CU_ASSERT_TRUE_FATAL(g_file_get_contents(path, &old, NULL, NULL));
    struct fleet_spec s;
    GError *err = NULL;
    CU_ASSERT_EQUAL_FATAL(fleet_spec_from_json(old, &s, &err), 0);
    CU_ASSERT_STRING_EQUAL(s.state_dir, "/run/f");
    CU_ASSERT_EQUAL(s.count, 4);
    CU_ASSERT_EQUAL(s.accel, FLEET_ACCEL_TCG);
    CU_ASSERT_EQUAL(s.tsc_khz, 2600000);
    CU_ASSERT_PTR_NULL(s.append);
    CU_ASSERT_FALSE(s.merge[0]);
    CU_ASSERT_TRUE(s.merge[1]);
    CU_ASSERT_TRUE(s.kaslr);               /* before --kaslr existed, guests booted with KASLR */
    CU_ASSERT_TRUE(s.free_page_reporting); /* and free page reporting was always on */
    CU_ASSERT_EQUAL(s.disk_mib, 0);        /* and there was no --disk */

    const char *no_merge[] = {"vm0", "vm3", NULL};
    struct fleet_spec now;
    make_spec(&now, no_merge, true, FLEET_ACCEL_TCG);
    g_free(now.append);
    now.append = NULL; /* as the fixture was made */
    g_autofree char *text = fleet_spec_to_json(&now);
    /* The members added since: "kaslr" after "thp", "free_page_reporting" after it. */
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "\"thp\": false,\n  \"kaslr\": false,\n  \"free_page_reporting\": true,\n"));
    g_autoptr(GString) older = g_string_new(text);
    g_string_replace(older, "\n  \"kaslr\": false,", "", 1);
    g_string_replace(older, "\n  \"free_page_reporting\": true,", "", 1);
    assert_same_json(old, older->str);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\n  \"version\": 1,\n")); /* indented for people */
    fleet_spec_clear(&now);
    fleet_spec_clear(&s);
}

static void test_json_rejects(void)
{
    const char *bad[] = {
        "",
        "[]",
        "{\"state_dir\":\"/s\"}",
        /* guest list does not match count */
        "{\"state_dir\":\"/s\",\"qemu\":\"/q\",\"kernel\":\"/k\",\"initrd\":\"/i\","
        "\"name_prefix\":\"vm\",\"accel\":\"tcg\",\"count\":2,\"memory_bytes\":1,\"cpus\":1,"
        "\"tb_size_mib\":16,\"tsc_khz\":0,\"deflate_on_oom\":false,\"thp\":false,"
        "\"guests\":[{\"name\":\"vm0\",\"merge\":true}]}",
        /* a guest named out of order */
        "{\"state_dir\":\"/s\",\"qemu\":\"/q\",\"kernel\":\"/k\",\"initrd\":\"/i\","
        "\"name_prefix\":\"vm\",\"accel\":\"tcg\",\"count\":1,\"memory_bytes\":1,\"cpus\":1,"
        "\"tb_size_mib\":16,\"tsc_khz\":0,\"deflate_on_oom\":false,\"thp\":false,"
        "\"guests\":[{\"name\":\"vm9\",\"merge\":true}]}",
        /* accel auto is never stored */
        "{\"state_dir\":\"/s\",\"qemu\":\"/q\",\"kernel\":\"/k\",\"initrd\":\"/i\","
        "\"name_prefix\":\"vm\",\"accel\":\"auto\",\"count\":1,\"memory_bytes\":1,\"cpus\":1,"
        "\"tb_size_mib\":16,\"tsc_khz\":0,\"deflate_on_oom\":false,\"thp\":false,"
        "\"guests\":[{\"name\":\"vm0\",\"merge\":true}]}",
        /* count as a string */
        "{\"state_dir\":\"/s\",\"qemu\":\"/q\",\"kernel\":\"/k\",\"initrd\":\"/i\","
        "\"name_prefix\":\"vm\",\"accel\":\"tcg\",\"count\":\"1\",\"memory_bytes\":1,\"cpus\":1,"
        "\"tb_size_mib\":16,\"tsc_khz\":0,\"deflate_on_oom\":false,\"thp\":false,"
        "\"guests\":[{\"name\":\"vm0\",\"merge\":true}]}",
        /* free_page_reporting present but not a bool */
        "{\"state_dir\":\"/s\",\"qemu\":\"/q\",\"kernel\":\"/k\",\"initrd\":\"/i\","
        "\"name_prefix\":\"vm\",\"accel\":\"tcg\",\"count\":1,\"memory_bytes\":1,\"cpus\":1,"
        "\"tb_size_mib\":16,\"tsc_khz\":0,\"deflate_on_oom\":false,\"thp\":false,"
        "\"free_page_reporting\":\"off\",\"guests\":[{\"name\":\"vm0\",\"merge\":true}]}",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        struct fleet_spec s;
        GError *err = NULL;
        CU_ASSERT_NOT_EQUAL(fleet_spec_from_json(bad[i], &s, &err), 0);
        CU_ASSERT_PTR_NOT_NULL(err);
        CU_ASSERT_PTR_NULL(s.state_dir); /* cleared on failure */
        g_clear_error(&err);
    }
}

static void test_cmdline_match(void)
{
    static const char ours[] = "qemu-system-x86_64\0-name\0vm1\0-pidfile\0/s/vm1/pid\0";
    size_t n = sizeof(ours) - 1; /* /proc/PID/cmdline ends with the last NUL */
    CU_ASSERT_TRUE(fleet_cmdline_has_pidfile(ours, n, "/s/vm1/pid"));
    CU_ASSERT_FALSE(fleet_cmdline_has_pidfile(ours, n, "/s/vm10/pid"));
    CU_ASSERT_FALSE(fleet_cmdline_has_pidfile(ours, n, "/s/vm1/pi"));
    CU_ASSERT_TRUE(fleet_cmdline_in_state_dir(ours, n, "/s"));
    CU_ASSERT_FALSE(fleet_cmdline_in_state_dir(ours, n, "/s/vm1"));
    CU_ASSERT_FALSE(fleet_cmdline_in_state_dir(ours, n, "/"));
    /* A sibling directory sharing a prefix is another fleet. */
    static const char sibling[] = "qemu\0-pidfile\0/s2/vm0/pid\0";
    CU_ASSERT_FALSE(fleet_cmdline_in_state_dir(sibling, sizeof(sibling) - 1, "/s"));
    /* The path merely mentioned elsewhere (not after -pidfile) does not count. */
    static const char mention[] = "vi\0/s/vm1/pid\0";
    CU_ASSERT_FALSE(fleet_cmdline_has_pidfile(mention, sizeof(mention) - 1, "/s/vm1/pid"));
    CU_ASSERT_FALSE(fleet_cmdline_in_state_dir(mention, sizeof(mention) - 1, "/s"));
    /* Truncated: the last argument has no NUL. */
    CU_ASSERT_FALSE(fleet_cmdline_has_pidfile(ours, n - 1, "/s/vm1/pid"));
    CU_ASSERT_FALSE(fleet_cmdline_has_pidfile("", 0, "/s/vm1/pid"));
}

/* The per-VM `ksm` key of ballastd's policy files turns mem-merge off for
 * that guest only, and never turns it back on over --no-merge. */
static void test_ksm_policy(void)
{
    g_autofree char *dir = g_dir_make_tmp("fleet-ksm-XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    g_autofree char *vm1 = g_build_filename(dir, "vm1.conf", NULL);
    g_autofree char *vm2 = g_build_filename(dir, "vm2.conf", NULL);
    CU_ASSERT_TRUE(g_file_set_contents(vm1, "[vm]\nksm = false\n", -1, NULL));
    CU_ASSERT_TRUE(g_file_set_contents(vm2, "[vm]\nksm = true\n", -1, NULL));
    g_autoptr(BallastConfig) cfg = config_load_dir(dir);
    CU_ASSERT_EQUAL(cfg->errors->len, 0);

    bool merge[4] = {true, true, true, false}; /* vm3 opted out by --no-merge */
    fleet_guest_apply_ksm_policy(cfg, "vm", 4, 128ULL << 20, merge);
    CU_ASSERT_TRUE(merge[0]);  /* no file: the default, ksm = true */
    CU_ASSERT_FALSE(merge[1]); /* ksm = false */
    CU_ASSERT_TRUE(merge[2]);
    CU_ASSERT_FALSE(merge[3]); /* the policy cannot override --no-merge */

    /* [defaults] ksm = false opts every guest without its own file out. */
    g_autofree char *global = g_build_filename(dir, "ballastd.conf", NULL);
    CU_ASSERT_TRUE(g_file_set_contents(global, "[defaults]\nksm = false\n", -1, NULL));
    g_autoptr(BallastConfig) cfg2 = config_load_dir(dir);
    CU_ASSERT_EQUAL(cfg2->errors->len, 0);
    bool merge2[3] = {true, true, true};
    fleet_guest_apply_ksm_policy(cfg2, "vm", 3, 128ULL << 20, merge2);
    CU_ASSERT_FALSE(merge2[0]);
    CU_ASSERT_FALSE(merge2[1]);
    CU_ASSERT_TRUE(merge2[2]); /* its own file says true */

    bool merge3[2] = {true, true};
    fleet_guest_apply_ksm_policy(NULL, "vm", 2, 128ULL << 20, merge3);
    CU_ASSERT_TRUE(merge3[0] && merge3[1]);

    g_unlink(vm1);
    g_unlink(vm2);
    g_unlink(global);
    g_rmdir(dir);
}

static CU_TestInfo qemu_tests[] = {
    {"guest names and paths", test_names},
    {"per-guest merge decision", test_merge_decision},
    {"ksm opt-out from policy files", test_ksm_policy},
    {"socket paths fit sun_path", test_socket_paths},
    {"argv under tcg, mem-merge per guest", test_argv_tcg},
    {"balloon argv word for word", test_argv_golden_balloon},
    {"argv with --actuator virtio-mem", test_argv_vmem},
    {"argv with --actuator both", test_argv_both},
    {"fleet.json with an actuator", test_json_vmem},
    {"argv refused for a too deep state directory", test_argv_too_deep},
    {"argv under kvm, deflate-on-oom", test_argv_kvm_deflate},
    {"argv with --no-free-page-reporting", test_argv_no_free_page_reporting},
    {"argv with --disk on microvm, none without", test_argv_disk_microvm},
    {"argv with --disk on q35", test_argv_disk_q35},
    {"--disk path escaped", test_argv_disk_escaped},
    {"kernel command line", test_kernel_cmdline},
    {"commas in paths", test_comma_escaping},
    {"spec rejects", test_spec_rejects},
    {"fleet.json round trip", test_json_round_trip},
    {"fleet.json of the previous version", test_json_previous_version},
    {"fleet.json rejects", test_json_rejects},
    {"recognise our qemu", test_cmdline_match},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"fleet qemu", NULL, NULL, NULL, NULL, qemu_tests},
    CU_SUITE_INFO_NULL,
};
