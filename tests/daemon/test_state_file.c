/*
 * ballastd's state file (state_file.h): a round trip, then everything a
 * hostile or broken file can be - truncated at every byte, too large, too
 * deep, another format, another version, another boot, members of the
 * wrong type or range, unknown members, names twice, too many VMs, VMs
 * ballastd does not know - each refused as a whole, with the kind of error
 * the daemon logs once; then the file itself: written atomically with mode
 * 0600, refused when it is not a regular file of ours.
 */
#include "cunit_main.h"
#include "state_file.h"
#include "vm_override.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define MIB   (1ULL << 20)
#define BOOT  "5c1d2e3f-aaaa-bbbb-cccc-0123456789ab"
#define NOW   1000000 /* CLOCK_BOOTTIME ms of the reader */
#define OTHER "00000000-0000-0000-0000-000000000000"

static char *tmpdir;

static int setup(void)
{
    tmpdir = g_dir_make_tmp("ballast-state-XXXXXX", NULL);
    return tmpdir ? 0 : -1;
}

static int teardown(void)
{
    g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(tmpdir, n, NULL);
        g_remove(p);
    }
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return 0;
}

/* Two VMs: one with everything, one with nothing but its name. */
static void two_records(struct vm_saved *a, struct vm_saved *b)
{
    struct policy_vm_state s = {0};
    s.grown = true;
    s.last_grow_ms = NOW - 5000;
    s.deflate_held = true;
    s.deflate_hold_until_ms = NOW + 200000;
    s.guest_deflate_events = 3;
    s.stalled_at_bytes = 300 * MIB;
    s.stalled_until_ms = NOW + 100000;
    struct vm_override o = {0};
    static const char *const kv[][2] = {
        {"min_memory", "256M"},
        {"max_memory", "33.333333%"},
        {"shares", "300"},
        {"mode", "observe"},
        {"agent_required", "true"},
        {"reclaim_allowed", "false"},
        {"fixed_memory", "1073741823"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(kv); i++) {
        char *msg = NULL;
        CU_ASSERT_EQUAL(vm_override_set(&o, kv[i][0], kv[i][1], &msg), 0);
        g_free(msg);
    }
    vm_saved_capture(a, "web-1.example", &s, 384 * MIB, &o.layer, 4242, 77777);
    a->foreign_bytes = 4096 * MIB; /* an admin's virsh setmem, held */
    a->foreign_since_s = 1796463012;
    struct policy_vm_state none = {0};
    vm_saved_capture(b, "db", &none, 0, NULL, 0, 0);
}

static char *good_text(size_t *len)
{
    struct vm_saved a, b;
    two_records(&a, &b);
    struct vm_saved *recs[] = {&a, &b};
    return state_file_encode(recs, 2, BOOT, len);
}

static void test_round_trip(void)
{
    struct vm_saved a, b;
    two_records(&a, &b);
    struct vm_saved *recs[] = {&a, &b};
    size_t len;
    g_autofree char *text = state_file_encode(recs, 2, BOOT, &len);
    g_autoptr(GPtrArray) out = NULL;
    g_autofree char *why = NULL;
    int rc = state_file_decode(text, len, BOOT, NOW, &out, &why);
    if (rc < 0)
        fprintf(stderr, "%s\n%s\n", why, text);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_PTR_NULL(why);
    CU_ASSERT_EQUAL_FATAL(out->len, 2);
    /* Byte for byte: the overrides' exact text parses back to the same values. */
    CU_ASSERT_EQUAL(memcmp(out->pdata[0], &a, sizeof(a)), 0);
    CU_ASSERT_EQUAL(memcmp(out->pdata[1], &b, sizeof(b)), 0);
    CU_ASSERT_EQUAL(vm_saved_hash(out->pdata[0]), vm_saved_hash(&a));
    /* Empty fleet. */
    g_autofree char *empty = state_file_encode(NULL, 0, BOOT, &len);
    g_autoptr(GPtrArray) none = NULL;
    g_autofree char *why2 = NULL;
    CU_ASSERT_EQUAL(state_file_decode(empty, len, BOOT, NOW, &none, &why2), 0);
    CU_ASSERT_EQUAL(none->len, 0);
}

/* Decodes text; the error code, with *why set exactly when it fails. */
static int decode(const char *text, GPtrArray **out)
{
    char *why = NULL;
    int rc = state_file_decode(text, strlen(text), BOOT, NOW, out, &why);
    CU_ASSERT_EQUAL(rc < 0, why != NULL);
    CU_ASSERT_EQUAL(rc == 0, *out != NULL);
    g_free(why);
    return rc;
}

static void test_truncated(void)
{
    size_t len;
    g_autofree char *text = good_text(&len);
    for (size_t cut = 0; cut < len - 1; cut++) { /* the last byte is a newline */
        GPtrArray *out = NULL;
        char *why = NULL;
        int rc = state_file_decode(text, cut, BOOT, NOW, &out, &why);
        CU_ASSERT_TRUE(rc < 0);
        CU_ASSERT_PTR_NULL(out);
        if (rc == 0) {
            fprintf(stderr, "accepted cut at %zu\n", cut);
            g_ptr_array_unref(out);
        }
        g_free(why);
    }
}

/* Documents around one VM object: {"format":..., "vms": [VM]}. */
static char *doc(const char *vm)
{
    return g_strdup_printf("{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"%s\", "
                           "\"vms\": [%s]}",
                           BOOT, vm);
}

static void test_hostile_members(void)
{
    static const char *const bad_vms[] = {
        "{}",                        /* no name */
        "{\"name\": \"\"}",          /* empty name */
        "{\"name\": 7}",             /* not a string */
        "{\"name\": \"a\\u0001b\"}", /* a control character */
        "{\"name\": \"a\\nb\"}",     /* a newline */
        ("{\"name\": \""             /* 64 bytes */
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}"),
        "{\"name\": \"vm\", \"colour\": 1}",                    /* unknown member */
        "{\"name\": \"vm\", \"target_bytes\": -1}",             /* negative */
        "{\"name\": \"vm\", \"target_bytes\": 0}",              /* 0 is written as absent */
        "{\"name\": \"vm\", \"target_bytes\": 70368744177665}", /* over 64 TiB */
        "{\"name\": \"vm\", \"target_bytes\": 1e6}",            /* not an integer */
        "{\"name\": \"vm\", \"target_bytes\": \"384M\"}",       /* a string */
        "{\"name\": \"vm\", \"target_bytes\": 1e400}",          /* overflows a double */
        "{\"name\": \"vm\", \"target_bytes\": 99999999999999999999999}",
        "{\"name\": \"vm\", \"qemu_pid\": 4194305}",   /* past PID_MAX_LIMIT */
        "{\"name\": \"vm\", \"qemu_pid\": 0}",         /* 0 is written as absent */
        "{\"name\": \"vm\", \"qemu_start_ticks\": 5}", /* without its pid (found by fuzzing) */
        "{\"name\": \"vm\", \"grow_ms\": 1000001}",    /* a growth after now */
        "{\"name\": \"vm\", \"grow_ms\": -1}",
        "{\"name\": \"vm\", \"deflate_hold_until_ms\": 87400001}", /* more than a day ahead */
        "{\"name\": \"vm\", \"deflate_hold_until_ms\": null}",
        "{\"name\": \"vm\", \"guest_deflate_events\": 9007199254740993}",
        "{\"name\": \"vm\", \"stalled_at_bytes\": 1048576}", /* without its deadline */
        "{\"name\": \"vm\", \"stalled_until_ms\": 5}",       /* without its size */
        "{\"name\": \"vm\", \"foreign_since_s\": 5}",        /* without its size */
        "{\"name\": \"vm\", \"foreign_bytes\": 0}",          /* 0 is written as absent */
        "{\"name\": \"vm\", \"overrides\": []}",
        "{\"name\": \"vm\", \"overrides\": {\"shares\": 300}}",     /* not a string */
        "{\"name\": \"vm\", \"overrides\": {\"shares\": \"0\"}}",   /* out of range */
        "{\"name\": \"vm\", \"overrides\": {\"ksm\": \"false\"}}",  /* not a set-policy key */
        "{\"name\": \"vm\", \"overrides\": {\"colour\": \"red\"}}", /* no such key */
        "{\"name\": \"vm\", \"overrides\": {\"mode\": \"safe\"}}",  /* never chosen */
        "{\"name\": \"vm\", \"overrides\": {\"max_memory\": \"1e3%\"}}",
        "{\"name\": \"vm\"}, {\"name\": \"vm\"}", /* twice */
        "[]",
        "\"vm\"",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_vms); i++) {
        g_autofree char *text = doc(bad_vms[i]);
        GPtrArray *out = NULL;
        int rc = decode(text, &out);
        CU_ASSERT_EQUAL(rc, -EINVAL);
        if (rc != -EINVAL)
            fprintf(stderr, "hostile VM %zu: rc %d: %s\n", i, rc, bad_vms[i]);
        if (out)
            g_ptr_array_unref(out);
    }
    /* A VM ballastd does not manage (yet) is no error: the daemon keeps it
     * aside until it appears or the grace ends. */
    g_autofree char *unknown = doc("{\"name\": \"never-seen\", \"deflate_hold_until_ms\": 1000}");
    GPtrArray *out = NULL;
    CU_ASSERT_EQUAL(decode(unknown, &out), 0);
    if (out)
        g_ptr_array_unref(out);
}

static void test_hostile_documents(void)
{
    static const struct {
        const char *text;
        int rc;
    } bad[] = {
        {"", -EPROTONOSUPPORT},
        {"null", -EPROTONOSUPPORT},
        {"[1, 2]", -EPROTONOSUPPORT},
        {"{}", -EPROTONOSUPPORT},
        {"{\"format\": \"ballastd-status\", \"version\": 1}", -EPROTONOSUPPORT},
        {"{\"format\": \"ballastd-state\", \"version\": 3, \"boot_id\": \"" BOOT "\", \"vms\": []}",
         -EPROTONOSUPPORT},
        {"{\"format\": \"ballastd-state\", \"version\": 0, \"boot_id\": \"" BOOT "\", \"vms\": []}",
         -EPROTONOSUPPORT},
        {"{\"format\": \"ballastd-state\", \"version\": \"1\", \"boot_id\": \"" BOOT
         "\", \"vms\": []}",
         -EPROTONOSUPPORT},
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"vms\": []}", -EINVAL},
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" OTHER
         "\", \"vms\": []}",
         -ESTALE},
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" BOOT "\", \"vms\": {}}",
         -EINVAL},
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" BOOT
         "\", \"vms\": [], \"extra\": 1}",
         -EINVAL},
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" BOOT
         "\", \"vms\": [[[[[]]]]]}",
         -EINVAL}, /* deeper than the format */
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" BOOT "\", \"vms\": []}"
         "{\"format\": \"ballastd-state\"}",
         -EINVAL}, /* two documents (json-glib 1.6 read the first, leaked the second) */
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" BOOT "\", \"vms\": [",
         -EINVAL},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GPtrArray *out = NULL;
        int rc = decode(bad[i].text, &out);
        CU_ASSERT_EQUAL(rc, bad[i].rc);
        if (rc != bad[i].rc)
            fprintf(stderr, "document %zu: rc %d, want %d\n", i, rc, bad[i].rc);
        if (out)
            g_ptr_array_unref(out);
    }
    /* 100,000 '[': refused before json-glib recurses. */
    GString *deep = g_string_new(NULL);
    for (int i = 0; i < 100000; i++)
        g_string_append_c(deep, '[');
    GPtrArray *out = NULL;
    CU_ASSERT_EQUAL(decode(deep->str, &out), -EINVAL);
    g_string_free(deep, TRUE);
    /* Over the cap: refused before parsing. */
    size_t big = STATE_FILE_MAX_BYTES + 1;
    char *huge = g_malloc(big);
    memset(huge, ' ', big);
    char *why = NULL;
    CU_ASSERT_EQUAL(state_file_decode(huge, big, BOOT, NOW, &out, &why), -EFBIG);
    g_free(why);
    g_free(huge);
    /* A NUL inside. */
    size_t len;
    g_autofree char *text = good_text(&len);
    text[10] = '\0';
    why = NULL;
    CU_ASSERT_EQUAL(state_file_decode(text, len, BOOT, NOW, &out, &why), -EINVAL);
    g_free(why);
    /* Too many VMs. */
    GString *many = g_string_new(
        "{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" BOOT "\", \"vms\": [");
    for (int i = 0; i <= STATE_FILE_MAX_VMS; i++)
        g_string_append_printf(many, "%s{\"name\": \"v%d\"}", i ? "," : "", i);
    g_string_append(many, "]}");
    CU_ASSERT_EQUAL(decode(many->str, &out), -EINVAL);
    g_string_free(many, TRUE);
}

static char *path_in(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static void test_write_read(void)
{
    size_t len;
    g_autofree char *text = good_text(&len);
    g_autofree char *path = path_in("ctl.state.json");
    CU_ASSERT_EQUAL_FATAL(state_file_write(path, text, len), 0);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    CU_ASSERT_FALSE(g_file_test(tmp, G_FILE_TEST_EXISTS));
    g_autoptr(GPtrArray) out = NULL;
    g_autofree char *why = NULL;
    CU_ASSERT_EQUAL(state_file_read(path, BOOT, NOW, &out, &why), 0);
    CU_ASSERT_EQUAL(out ? out->len : 0, 2);
    /* Rewritten over a tmp file someone left world-writable: still 0600. */
    int fd = open(tmp, O_WRONLY | O_CREAT, 0666);
    CU_ASSERT_TRUE(fd >= 0);
    fchmod(fd, 0666);
    close(fd);
    CU_ASSERT_EQUAL(state_file_write(path, text, len), 0);
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

    /* None yet: a first start. */
    g_autofree char *missing = path_in("missing.json");
    GPtrArray *o2 = NULL;
    char *w2 = NULL;
    CU_ASSERT_EQUAL(state_file_read(missing, BOOT, NOW, &o2, &w2), -ENOENT);
    CU_ASSERT_PTR_NULL(w2);
    /* Writable by others: not ours. */
    CU_ASSERT_EQUAL(chmod(path, 0666), 0);
    CU_ASSERT_EQUAL(state_file_read(path, BOOT, NOW, &o2, &w2), -EPERM);
    CU_ASSERT_PTR_NOT_NULL(w2);
    g_free(w2);
    w2 = NULL;
    chmod(path, 0600);
    /* A symbolic link to it: refused. */
    g_autofree char *link = path_in("link.json");
    CU_ASSERT_EQUAL(symlink(path, link), 0);
    CU_ASSERT_EQUAL(state_file_read(link, BOOT, NOW, &o2, &w2), -EPERM);
    g_free(w2);
    w2 = NULL;
    /* A FIFO: refused without blocking. */
    g_autofree char *fifo = path_in("fifo.json");
    CU_ASSERT_EQUAL(mkfifo(fifo, 0600), 0);
    CU_ASSERT_EQUAL(state_file_read(fifo, BOOT, NOW, &o2, &w2), -EPERM);
    g_free(w2);
    w2 = NULL;
    /* Larger than the cap: refused by its size, nothing read. */
    g_autofree char *huge = path_in("huge.json");
    fd = open(huge, O_WRONLY | O_CREAT, 0600);
    CU_ASSERT_EQUAL(ftruncate(fd, STATE_FILE_MAX_BYTES + 1), 0);
    close(fd);
    CU_ASSERT_EQUAL(state_file_read(huge, BOOT, NOW, &o2, &w2), -EFBIG);
    g_free(w2);
    /* Into a directory that is not there: an error, nothing left behind. */
    g_autofree char *nodir = path_in("no/such/dir/state.json");
    CU_ASSERT_EQUAL(state_file_write(nodir, text, len), -ENOENT);
}

static void test_paths(void)
{
    g_autofree char *a = state_file_default_path("/run/ballast/ctl.sock");
    CU_ASSERT_STRING_EQUAL(a, "/run/ballast/ctl.state.json");
    g_autofree char *b = state_file_default_path("/tmp/x/control");
    CU_ASSERT_STRING_EQUAL(b, "/tmp/x/control.state.json");

    g_autofree char *root = path_in("proc");
    g_autofree char *dir = g_build_filename(root, "sys/kernel/random", NULL);
    CU_ASSERT_EQUAL(g_mkdir_with_parents(dir, 0700), 0);
    g_autofree char *file = g_build_filename(dir, "boot_id", NULL);
    CU_ASSERT_TRUE(g_file_set_contents(file, BOOT "\n", -1, NULL));
    char id[STATE_FILE_BOOT_ID_MAX];
    state_file_boot_id(root, id, sizeof(id));
    CU_ASSERT_STRING_EQUAL(id, BOOT);
    CU_ASSERT_TRUE(g_file_set_contents(file, "\"}, {\"x\n", -1, NULL));
    state_file_boot_id(root, id, sizeof(id));
    CU_ASSERT_STRING_EQUAL(id, "");
    g_remove(file);
    state_file_boot_id(root, id, sizeof(id));
    CU_ASSERT_STRING_EQUAL(id, "");
    g_rmdir(dir);
    g_autofree char *k = g_build_filename(root, "sys/kernel", NULL);
    g_autofree char *s = g_build_filename(root, "sys", NULL);
    g_rmdir(k);
    g_rmdir(s);
    g_rmdir(root);
}

/*
 * The host part (version 2): ksmd started by ballastd this boot. Written
 * only when true, read back; a version 1 file is read (no such member),
 * and refused when it has one; anything but a boolean is refused.
 */
static void test_host_part(void)
{
    struct vm_saved a, b;
    two_records(&a, &b);
    struct vm_saved *recs[] = {&a, &b};
    const struct state_file_host ours = {.ksmd_started = true};
    size_t len;
    g_autofree char *text = state_file_encode_host(recs, 2, BOOT, &ours, &len);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"version\": 2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"ksmd_started\": true"));
    g_autoptr(GPtrArray) out = NULL;
    g_autofree char *why = NULL;
    struct state_file_host back = {0};
    CU_ASSERT_EQUAL_FATAL(state_file_decode_host(text, len, BOOT, NOW, &out, &back, &why), 0);
    CU_ASSERT_TRUE(back.ksmd_started);
    CU_ASSERT_EQUAL(out->len, 2);
    /* Not started by us: not written, read as false. */
    const struct state_file_host theirs = {.ksmd_started = false};
    g_autofree char *plain = state_file_encode_host(recs, 2, BOOT, &theirs, &len);
    CU_ASSERT_PTR_NULL(strstr(plain, "ksmd_started"));
    g_autoptr(GPtrArray) out2 = NULL;
    back.ksmd_started = true;
    CU_ASSERT_EQUAL(state_file_decode_host(plain, len, BOOT, NOW, &out2, &back, &why), 0);
    CU_ASSERT_FALSE(back.ksmd_started);

    static const struct {
        const char *text;
        int rc;
        bool started;
    } docs[] = {
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" BOOT "\", \"vms\": []}",
         0, false},
        {"{\"format\": \"ballastd-state\", \"version\": 2, \"boot_id\": \"" BOOT
         "\", \"ksmd_started\": false, \"vms\": []}",
         0, false},
        {"{\"format\": \"ballastd-state\", \"version\": 2, \"boot_id\": \"" BOOT
         "\", \"ksmd_started\": true, \"vms\": []}",
         0, true},
        {"{\"format\": \"ballastd-state\", \"version\": 1, \"boot_id\": \"" BOOT
         "\", \"ksmd_started\": true, \"vms\": []}",
         -EINVAL, false},
        {"{\"format\": \"ballastd-state\", \"version\": 2, \"boot_id\": \"" BOOT
         "\", \"ksmd_started\": 1, \"vms\": []}",
         -EINVAL, false},
        {"{\"format\": \"ballastd-state\", \"version\": 2, \"boot_id\": \"" BOOT
         "\", \"ksmd_started\": \"yes\", \"vms\": []}",
         -EINVAL, false},
        /* All or nothing: a bad VM and the host part is not believed either. */
        {"{\"format\": \"ballastd-state\", \"version\": 2, \"boot_id\": \"" BOOT
         "\", \"ksmd_started\": true, \"vms\": [{\"name\": 7}]}",
         -EINVAL, false},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(docs); i++) {
        GPtrArray *o = NULL;
        char *w = NULL;
        struct state_file_host h = {.ksmd_started = !docs[i].started};
        int rc = state_file_decode_host(docs[i].text, strlen(docs[i].text), BOOT, NOW, &o, &h, &w);
        CU_ASSERT_EQUAL(rc, docs[i].rc);
        CU_ASSERT_EQUAL(h.ksmd_started, docs[i].started);
        if (rc != docs[i].rc)
            fprintf(stderr, "host document %zu: rc %d, want %d (%s)\n", i, rc, docs[i].rc,
                    w ? w : "");
        if (o)
            g_ptr_array_unref(o);
        g_free(w);
    }
}

static CU_TestInfo state_file_tests[] = {
    {"round trip", test_round_trip},
    {"host part: ksmd started by ballastd", test_host_part},
    {"truncated at every byte", test_truncated},
    {"hostile members", test_hostile_members},
    {"hostile documents", test_hostile_documents},
    {"write atomically, read with suspicion", test_write_read},
    {"paths and boot id", test_paths},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"state_file", setup, teardown, NULL, NULL, state_file_tests},
    CU_SUITE_INFO_NULL,
};
