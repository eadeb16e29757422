/*
 * Policy files: good, bad (every error kind, exact file:line), hostile
 * (binary, huge, FIFO, directory, missing), global + per-VM merging,
 * safe-mode-on-error, and the key table against docs/config.md.
 */
#include "cunit_main.h"
#include "actuator.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define FIX BALLAST_FIXTURES

#define SAME(field) (a->field == b->field)
static bool tunables_equal(const struct policy_tunables *a, const struct policy_tunables *b)
{
    return SAME(tick_interval_ms) && SAME(host_avail_low_pct) && SAME(host_avail_high_pct) &&
           SAME(host_psi_some_pct) && SAME(guest_psi_some_pct) && SAME(guest_psi_full_pct) &&
           SAME(guest_avail_floor_pct) && SAME(guest_avail_floor_bytes) && SAME(urgent_step_pct) &&
           SAME(headroom_pct) && SAME(headroom_bytes) && SAME(pressure_headroom_pct) &&
           SAME(pressure_headroom_bytes) && SAME(shrink_gain_pct) &&
           SAME(vm_shrink_rate_bytes_per_s) && SAME(vm_shrink_step_max_bytes) &&
           SAME(host_shrink_rate_bytes_per_s) && SAME(pressure_step_factor) && SAME(deadband_pct) &&
           SAME(deadband_bytes) && SAME(grow_hold_ms) && SAME(stall_tolerance_bytes) &&
           SAME(stall_ticks) && SAME(stall_retry_ms) && SAME(agent_stale_ms) &&
           SAME(stats_stale_ms) && SAME(blind_release_ms);
}

static bool params_equal(const struct policy_vm_params *a, const struct policy_vm_params *b)
{
    return SAME(min_bytes) && SAME(max_bytes) && SAME(fixed_bytes) && SAME(guaranteed_bytes) &&
           SAME(shares) && SAME(mode) && SAME(agent_required) && SAME(reclaim_allowed);
}
#undef SAME

static bool has_error(const struct config *c, const char *exact)
{
    for (guint i = 0; i < c->errors->len; i++)
        if (strcmp(c->errors->pdata[i], exact) == 0)
            return true;
    fprintf(stderr, "\nmissing error: %s\nerrors were:\n", exact);
    for (guint i = 0; i < c->errors->len; i++)
        fprintf(stderr, "  %s\n", (char *)c->errors->pdata[i]);
    return false;
}

static void test_good_dir(void)
{
    g_autoptr(BallastConfig) c = config_load_dir(FIX "/config-good");
    for (guint i = 0; i < c->errors->len; i++)
        fprintf(stderr, "unexpected: %s\n", (char *)c->errors->pdata[i]);
    CU_ASSERT_EQUAL(c->errors->len, 0);
    CU_ASSERT_EQUAL(c->n_global_errors, 0);
    CU_ASSERT_PTR_NULL(c->global_error);
    /* global values read */
    CU_ASSERT_EQUAL(c->tick_interval_ms, 2000);
    CU_ASSERT_EQUAL(c->tunables.tick_interval_ms, 2000);
    CU_ASSERT_DOUBLE_EQUAL(c->tunables.host_avail_low_pct, 8.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(c->tunables.host_avail_high_pct, 25.5, 1e-9);
    CU_ASSERT_EQUAL(c->tunables.headroom_bytes, 48 * MIB);
    CU_ASSERT_EQUAL(c->tunables.vm_shrink_rate_bytes_per_s, 16 * MIB);
    /* untouched keys keep the built-in defaults */
    struct policy_tunables def;
    policy_tunables_default(&def);
    CU_ASSERT_EQUAL(c->tunables.stall_ticks, def.stall_ticks);
    CU_ASSERT_EQUAL(c->tunables.grow_hold_ms, def.grow_hold_ms);
    /* VMs: sorted, ignored files skipped (README, web.conf~, .hidden.conf) */
    CU_ASSERT_EQUAL_FATAL(c->vms->len, 4);
    const char *names[] = {"db", "empty", "small", "web"};
    for (guint i = 0; i < 4; i++)
        CU_ASSERT_STRING_EQUAL(((struct config_vm *)c->vms->pdata[i])->name, names[i]);
    CU_ASSERT_PTR_NULL(config_find_vm(c, "README"));
    CU_ASSERT_PTR_NULL(config_find_vm(c, "hidden"));
}

/* [defaults] under the VM's own keys; percentages resolved; max capped. */
static void test_merge_and_resolve(void)
{
    g_autoptr(BallastConfig) c = config_load_dir(FIX "/config-good");
    struct policy_vm_params p;
    bool ksm = true;
    const char *why = "x";

    config_vm_params(c, "web", 4 * GIB, &p, &ksm, &why);
    CU_ASSERT_EQUAL(p.min_bytes, 256 * MIB);
    CU_ASSERT_EQUAL(p.max_bytes, 2 * GIB);
    CU_ASSERT_EQUAL(p.shares, 2000);
    CU_ASSERT_TRUE(p.agent_required);
    CU_ASSERT_FALSE(p.reclaim_allowed); /* from [defaults] */
    CU_ASSERT_EQUAL(p.mode, POLICY_MODE_MANAGED);
    CU_ASSERT_FALSE(ksm);
    CU_ASSERT_PTR_NULL(why);
    /* max_memory 2G on a 1 GiB VM: capped at nominal */
    config_vm_params(c, "web", 1 * GIB, &p, NULL, NULL);
    CU_ASSERT_EQUAL(p.max_bytes, 1 * GIB);

    config_vm_params(c, "small", 1 * GIB, &p, &ksm, NULL);
    CU_ASSERT_EQUAL(p.max_bytes, 512 * MIB);
    CU_ASSERT_EQUAL(p.min_bytes, (uint64_t)(0.30 * (double)GIB)); /* [defaults] 30% */
    CU_ASSERT_EQUAL(p.shares, 500);
    CU_ASSERT_EQUAL(p.mode, POLICY_MODE_OBSERVE);
    CU_ASSERT_EQUAL(p.guaranteed_bytes, 384 * MIB);
    CU_ASSERT_TRUE(ksm);
    /* guaranteed_memory 384M on a 256 MiB VM: capped at max */
    config_vm_params(c, "small", 256 * MIB, &p, NULL, NULL);
    CU_ASSERT_EQUAL(p.guaranteed_bytes, 128 * MIB);
    /* not given: 100%, the VM's max */
    config_vm_params(c, "web", 4 * GIB, &p, NULL, NULL);
    CU_ASSERT_EQUAL(p.guaranteed_bytes, 2 * GIB);

    config_vm_params(c, "db", 4 * GIB, &p, NULL, NULL);
    CU_ASSERT_EQUAL(p.mode, POLICY_MODE_FIXED);
    CU_ASSERT_EQUAL(p.fixed_bytes, 3 * GIB);

    /* an empty file and no file at all both mean [defaults] */
    struct policy_vm_params q;
    config_vm_params(c, "empty", 1 * GIB, &p, NULL, NULL);
    config_vm_params(c, "no-such-vm", 1 * GIB, &q, NULL, &why);
    CU_ASSERT_TRUE(params_equal(&p, &q));
    CU_ASSERT_EQUAL(q.shares, 500);
    CU_ASSERT_EQUAL(q.max_bytes, 1 * GIB);
    CU_ASSERT_PTR_NULL(why);
}

static void test_bad_files(void)
{
    g_autoptr(BallastConfig) c = config_load_dir(FIX "/config-bad");
    const char *expected[] = {
        FIX "/config-bad/unknown-key.conf:3: unknown key 'colour' in [vm]",
        FIX "/config-bad/bad-size.conf:2: min_memory: bad size '12X' (expected e.g. 256M or 25%)",
        FIX "/config-bad/min-above-max.conf:4: min_memory 2.0 GiB > max_memory 1.0 GiB",
        FIX "/config-bad/mode-typo.conf:2: mode: unknown mode 'observ' (expected managed, "
            "observe or fixed)",
        FIX "/config-bad/out-of-range.conf:2: shares = 0: out of range [1, 1000000]",
        FIX "/config-bad/out-of-range.conf:3: min_memory = 150%: out of range [0%, 100%]",
        FIX "/config-bad/duplicate-key.conf:4: duplicate key 'shares' (first at line 2)",
        FIX "/config-bad/duplicate-group.conf:3: duplicate group [vm] (first at line 1)",
        FIX "/config-bad/unknown-group.conf:1: unknown group [virtual-machine] (expected [vm])",
        FIX "/config-bad/garbage-line.conf:2: expected 'key = value' or '[group]'",
        FIX "/config-bad/outside-group.conf:1: key 'shares' outside any group",
        FIX "/config-bad/bad-bool.conf:2: ksm: expected true or false, not 'maybe'",
        FIX "/config-bad/huge.conf:2: max_memory = 99999999999999999999999: too large (max "
            "64.0 TiB)",
        FIX "/config-bad/wrong-group.conf:2: key 'tick_interval_ms' does not belong in [vm] (it "
            "goes in [ballastd] of ballastd.conf)",
        FIX "/config-bad/fractional.conf:2: shares: bad number '1.5' (expected a whole number)",
    };
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        CU_ASSERT_TRUE(has_error(c, expected[i]));
    CU_ASSERT_EQUAL(c->errors->len, sizeof(expected) / sizeof(expected[0]));
    CU_ASSERT_EQUAL(c->n_global_errors, 0);

    /* every bad VM is in safe mode (never shrinks, still grows), with its first
     * error as the reason; a valid `mode = observe` (small.conf above) is not */
    for (guint i = 0; i < c->vms->len; i++) {
        const struct config_vm *vm = c->vms->pdata[i];
        struct policy_vm_params p;
        const char *why = NULL;
        config_vm_params(c, vm->name, 1 * GIB, &p, NULL, &why);
        if (strcmp(vm->name, "fine") == 0) {
            CU_ASSERT_EQUAL(vm->n_errors, 0);
            CU_ASSERT_EQUAL(p.mode, POLICY_MODE_MANAGED);
            CU_ASSERT_EQUAL(p.shares, 100);
            CU_ASSERT_PTR_NULL(why);
        } else {
            CU_ASSERT(vm->n_errors > 0);
            CU_ASSERT_EQUAL(p.mode, POLICY_MODE_SAFE);
            CU_ASSERT_PTR_NOT_NULL_FATAL(why);
            CU_ASSERT_STRING_EQUAL(why, vm->first_error);
            CU_ASSERT(strstr(why, vm->name) != NULL);
        }
    }
    const struct config_vm *oor = config_find_vm(c, "out-of-range");
    CU_ASSERT_PTR_NOT_NULL_FATAL(oor);
    CU_ASSERT_EQUAL(oor->n_errors, 2);
}

/* A bad global file: every VM goes to safe mode, and says why. */
static void test_bad_global(void)
{
    g_autoptr(BallastConfig) c = config_load_dir(FIX "/config-badglobal");
    CU_ASSERT_TRUE(
        has_error(c, FIX "/config-badglobal/ballastd.conf:2: tick_interval_ms = 5: out of range "
                         "[100, 600000]"));
    CU_ASSERT_TRUE(has_error(c, FIX "/config-badglobal/ballastd.conf:3: host_avail_low_pct 30 > "
                                    "host_avail_high_pct 20"));
    CU_ASSERT_EQUAL(c->n_global_errors, 2);
    CU_ASSERT_EQUAL(c->tick_interval_ms, 5000); /* bad value: default kept */
    struct policy_vm_params p;
    const char *why = NULL;
    config_vm_params(c, "vm1", 1 * GIB, &p, NULL, &why);
    CU_ASSERT_EQUAL(p.mode, POLICY_MODE_SAFE);
    CU_ASSERT_EQUAL(p.shares, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(why);
    CU_ASSERT(strstr(why, "ballastd.conf:2:") != NULL);
    config_vm_params(c, "unlisted", 1 * GIB, &p, NULL, &why);
    CU_ASSERT_EQUAL(p.mode, POLICY_MODE_SAFE);
}

static char *tmpdir(void)
{
    char *d = g_dir_make_tmp("ballast-config-XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d;
}

static void rm_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *n;
        while ((n = g_dir_read_name(d))) {
            g_autofree char *p = g_build_filename(dir, n, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
                rm_tree(p);
            else
                g_unlink(p);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);
    CU_ASSERT_TRUE_FATAL(g_file_set_contents(p, data, (gssize)len, NULL));
}

static void test_hostile(void)
{
    g_autofree char *d = tmpdir();
    /* binary garbage with NUL bytes */
    unsigned char junk[512];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    write_file(d, "binary.conf", junk, sizeof(junk));
    /* invalid UTF-8, no NUL */
    static const char latin1[] = "[vm]\n# caf\xe9\nshares = 5\n";
    write_file(d, "latin1.conf", latin1, strlen(latin1));
    /* too large */
    size_t big_len = CONFIG_MAX_FILE_BYTES + 10;
    g_autofree char *big = g_malloc(big_len);
    memset(big, '#', big_len);
    write_file(d, "big.conf", big, big_len);
    /* a directory and a FIFO named like policy files (must not hang) */
    g_autofree char *sub = g_build_filename(d, "dir.conf", NULL);
    CU_ASSERT_EQUAL(g_mkdir(sub, 0700), 0);
    g_autofree char *fifo = g_build_filename(d, "fifo.conf", NULL);
    CU_ASSERT_EQUAL(mkfifo(fifo, 0600), 0);
    /* a very long line of a huge number */
    GString *s = g_string_new("[vm]\nshares = ");
    for (int i = 0; i < 5000; i++)
        g_string_append_c(s, '9');
    g_string_append_c(s, '\n');
    write_file(d, "long.conf", s->str, s->len);
    g_string_free(s, TRUE);
    /* negative and exotic numbers */
    static const char exotic[] = "[vm]\nshares = -5\nmin_memory = nan%\nmax_memory = 0x10\n";
    write_file(d, "exotic.conf", exotic, strlen(exotic));

    g_autoptr(BallastConfig) c = config_load_dir(d);
    CU_ASSERT_EQUAL(c->vms->len, 7);
    for (guint i = 0; i < c->vms->len; i++) {
        const struct config_vm *vm = c->vms->pdata[i];
        CU_ASSERT(vm->n_errors > 0);
        CU_ASSERT_EQUAL(vm->policy.mode, POLICY_MODE_SAFE);
    }
    g_autofree char *e1 = g_strdup_printf("%s/binary.conf:1: not valid UTF-8", d);
    g_autofree char *e2 = g_strdup_printf("%s/latin1.conf:2: not valid UTF-8", d);
    g_autofree char *e3 = g_strdup_printf("%s/big.conf: file too large (max 65536 bytes)", d);
    g_autofree char *e4 = g_strdup_printf("%s/dir.conf: cannot read: Is a directory", d);
    g_autofree char *e5 = g_strdup_printf("%s/fifo.conf: not a regular file", d);
    g_autofree char *e6 =
        g_strdup_printf("%s/exotic.conf:2: shares: bad number '-5' (expected a whole number)", d);
    g_autofree char *e7 =
        g_strdup_printf("%s/exotic.conf:3: min_memory: bad percentage 'nan%%'", d);
    g_autofree char *e8 = g_strdup_printf(
        "%s/exotic.conf:4: max_memory: bad size '0x10' (expected e.g. 256M or 25%%)", d);
    const char *all[] = {e1, e2, e3, e4, e5, e6, e7, e8};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        CU_ASSERT_TRUE(has_error(c, all[i]));
    const struct config_vm *lng = config_find_vm(c, "long");
    CU_ASSERT_PTR_NOT_NULL_FATAL(lng);
    CU_ASSERT(strstr(lng->first_error, "long.conf:2: shares = 9999") != NULL);
    CU_ASSERT(strstr(lng->first_error, "999...: out of range [1, 1000000]") != NULL);
    CU_ASSERT(strlen(lng->first_error) < strlen(d) + 120); /* the value is cut */
    CU_ASSERT(strstr(lng->first_error, "out of range") != NULL);
    rm_tree(d);
}

static void test_missing_dir(void)
{
    g_autoptr(BallastConfig) c = config_load_dir("/nonexistent/ballast-config");
    CU_ASSERT_EQUAL(c->errors->len, 1);
    CU_ASSERT_EQUAL(c->n_global_errors, 1);
    CU_ASSERT(g_str_has_prefix(c->errors->pdata[0],
                               "/nonexistent/ballast-config: cannot open directory: "));
    struct policy_vm_params p;
    config_vm_params(c, "any", 1 * GIB, &p, NULL, NULL);
    CU_ASSERT_EQUAL(p.mode, POLICY_MODE_SAFE);

    g_autoptr(BallastConfig) n = config_load_dir(NULL);
    CU_ASSERT_EQUAL(n->errors->len, 1);
}

static void test_empty_dir_is_defaults(void)
{
    g_autofree char *d = tmpdir();
    g_autoptr(BallastConfig) c = config_load_dir(d);
    g_autoptr(BallastConfig) b = config_new_defaults();
    CU_ASSERT_EQUAL(c->errors->len, 0);
    CU_ASSERT_EQUAL(c->vms->len, 0);
    struct policy_tunables def;
    policy_tunables_default(&def);
    CU_ASSERT_TRUE(tunables_equal(&c->tunables, &def));
    CU_ASSERT_TRUE(tunables_equal(&b->tunables, &def));
    struct policy_vm_params p, q;
    config_vm_params(c, "x", 1 * GIB, &p, NULL, NULL);
    policy_vm_params_default(&q, 1 * GIB);
    CU_ASSERT_TRUE(params_equal(&p, &q));
    rm_tree(d);
}

/* Writing every key with its documented default changes nothing: the table's
 * default_text and the built-in defaults agree. */
static void test_defaults_match_table(void)
{
    GString *g = g_string_new("[ballastd]\n");
    GString *v = g_string_new("[defaults]\n");
    for (size_t i = 0; config_key_at(i); i++) {
        const struct config_key_info *k = config_key_at(i);
        GString *to = strcmp(k->group, "ballastd") == 0 ? g : v;
        g_string_append_printf(to, "%s = %s\n", k->name, k->default_text);
    }
    g_string_append(g, v->str);
    g_autofree char *d = tmpdir();
    write_file(d, "ballastd.conf", g->str, g->len);
    write_file(d, "vm.conf", "[vm]\n", 5);
    g_string_free(g, TRUE);
    g_string_free(v, TRUE);
    g_autoptr(BallastConfig) c = config_load_dir(d);
    for (guint i = 0; i < c->errors->len; i++)
        fprintf(stderr, "unexpected: %s\n", (char *)c->errors->pdata[i]);
    CU_ASSERT_EQUAL(c->errors->len, 0);
    struct policy_tunables def;
    policy_tunables_default(&def);
    CU_ASSERT_TRUE(tunables_equal(&c->tunables, &def));
    struct policy_vm_params p, q;
    config_vm_params(c, "vm", 3 * GIB, &p, NULL, NULL);
    policy_vm_params_default(&q, 3 * GIB);
    CU_ASSERT_TRUE(params_equal(&p, &q));
    rm_tree(d);
}

/* A size bound as docs/config.md writes it: 0, 1T, 64T, 8M. */
static void doc_size(double bytes, char *buf, size_t len)
{
    static const char units[] = "TGMK";
    uint64_t b = (uint64_t)bytes;
    for (int i = 0; b && i < 4; i++) {
        uint64_t unit = 1ULL << (10 * (4 - i));
        if (b % unit == 0) {
            snprintf(buf, len, "%llu%c", (unsigned long long)(b / unit), units[i]);
            return;
        }
    }
    snprintf(buf, len, "%llu", (unsigned long long)b);
}

/* A number bound as docs/config.md writes it: 100, 86400000, 0.1. */
static void doc_number(double x, char *buf, size_t len)
{
    if (x == floor(x))
        snprintf(buf, len, "%.0f", x);
    else
        snprintf(buf, len, "%g", x);
}

/* The "type" and "range" cells of a key's row, from the table. */
static void doc_type_range(const struct config_key_info *k, const char **type, char *range,
                           size_t len)
{
    char lo[32], hi[32];
    switch (k->type) {
    case CONFIG_KEY_SIZE:
    case CONFIG_KEY_SIZE_PCT:
        doc_size(k->min, lo, sizeof(lo));
        doc_size(k->max, hi, sizeof(hi));
        *type = k->type == CONFIG_KEY_SIZE ? "size" : "size or %";
        snprintf(range, len, "%s .. %s%s", lo, hi,
                 k->type == CONFIG_KEY_SIZE ? "" : ", or 0% .. 100%");
        return;
    case CONFIG_KEY_UINT:
    case CONFIG_KEY_PCT:
    case CONFIG_KEY_DOUBLE:
        doc_number(k->min, lo, sizeof(lo));
        doc_number(k->max, hi, sizeof(hi));
        *type = k->type == CONFIG_KEY_UINT  ? "integer"
                : k->type == CONFIG_KEY_PCT ? "percent"
                                            : "number";
        snprintf(range, len, "%s .. %s", lo, hi);
        return;
    case CONFIG_KEY_BOOL:
        *type = "bool";
        snprintf(range, len, "true/false");
        return;
    case CONFIG_KEY_MODE:
        *type = "mode";
        snprintf(range, len, "managed, observe, fixed");
        return;
    case CONFIG_KEY_KSM_MODE:
        *type = "KSM mode";
        snprintf(range, len, "off, auto, advisor, fixed, observe");
        return;
    case CONFIG_KEY_HOST_SIZE_PCT:
        doc_size(k->min, lo, sizeof(lo));
        doc_size(k->max, hi, sizeof(hi));
        *type = "size or % of host";
        snprintf(range, len, "%s .. %s, or 1%% .. 100%%, or none", lo, hi);
        return;
    case CONFIG_KEY_PATH:
        *type = "path";
        snprintf(range, len, "absolute path, or none");
        return;
    case CONFIG_KEY_ON_EXIT:
        *type = "on exit";
        snprintf(range, len, "keep, release");
        return;
    case CONFIG_KEY_FILE:
        *type = "file";
        snprintf(range, len, "absolute path, auto or none");
        return;
    case CONFIG_KEY_LISTEN:
        *type = "address";
        snprintf(range, len, "ADDRESS:PORT, PORT (loopback) or off");
        return;
    case CONFIG_KEY_GROUP:
        *type = "group";
        snprintf(range, len, "group name, or none");
        return;
    }
    *type = "?";
    snprintf(range, len, "?");
}

/* The cells of key `name`'s row in docs/config.md ("| `name` | ... |"), trimmed. */
static gchar **doc_row(const char *doc, const char *name)
{
    g_autofree char *needle = g_strdup_printf("\n| `%s` |", name);
    const char *row = strstr(doc, needle);
    if (!row)
        return NULL;
    row++;
    const char *eol = strchr(row, '\n');
    g_autofree char *line = g_strndup(row, eol ? (size_t)(eol - row) : strlen(row));
    gchar **cells = g_strsplit(line, "|", -1);
    for (gchar **c = cells; *c; c++)
        g_strstrip(*c);
    return cells;
}

static bool cell_is(const char *key, const char *what, const char *doc_cell, const char *want)
{
    if (g_strcmp0(doc_cell, want) == 0)
        return true;
    fprintf(stderr, "docs/config.md, `%s`: %s is '%s', the table says '%s'\n", key, what,
            doc_cell ? doc_cell : "(missing)", want);
    return false;
}

/*
 * Every key of the table has its row in docs/config.md, and the row says
 * what the table says: type, unit, default, range, and for per-VM keys
 * whether libvirt metadata and `ballastctl set-policy` take it.
 * Cells: "", key, type, unit, default, range, [metadata, set-policy,] meaning, "".
 */
static void test_keys_documented(void)
{
    g_autofree char *doc = NULL;
    CU_ASSERT_TRUE_FATAL(g_file_get_contents(FIX "/../../docs/config.md", &doc, NULL, NULL));
    size_t n = 0;
    for (size_t i = 0; config_key_at(i); i++, n++) {
        const struct config_key_info *k = config_key_at(i);
        CU_ASSERT(k->doc && k->doc[0]);
        CU_ASSERT(k->unit && k->unit[0]);
        g_auto(GStrv) cells = doc_row(doc, k->name);
        if (!cells)
            fprintf(stderr, "docs/config.md lacks a row for `%s`\n", k->name);
        bool vm = strcmp(k->group, "vm") == 0;
        CU_ASSERT_FATAL(cells && g_strv_length(cells) == (vm ? 10u : 8u));
        const char *type;
        char range[96];
        doc_type_range(k, &type, range, sizeof(range));
        CU_ASSERT(cell_is(k->name, "type", cells[2], type));
        CU_ASSERT(cell_is(k->name, "unit", cells[3], k->unit));
        CU_ASSERT(cell_is(k->name, "default", cells[4], k->default_text));
        CU_ASSERT(cell_is(k->name, "range", cells[5], range));
        if (vm) {
            CU_ASSERT(cell_is(k->name, "metadata", cells[6],
                              k->where & CONFIG_IN_METADATA ? "yes" : "no"));
            CU_ASSERT(cell_is(k->name, "set-policy", cells[7],
                              k->where & CONFIG_IN_RUNTIME ? "yes" : "no"));
        }
    }
    CU_ASSERT(n >= 30);
}

/* memory_budget and memory_cgroup: good values, and where the key is. */
static void test_budget_keys(void)
{
    g_autofree char *d = tmpdir();
    static const char conf[] = "[ballastd]\n"
                               "# the fleet gets 6 GiB\n"
                               "memory_budget = 6144M\n"
                               "memory_cgroup = /sys/fs/cgroup/machine.slice\n";
    write_file(d, "ballastd.conf", conf, strlen(conf));
    g_autoptr(BallastConfig) c = config_load_dir(d);
    CU_ASSERT_EQUAL(c->errors->len, 0);
    CU_ASSERT_EQUAL(c->budget.size.kind, CONFIG_SIZE_BYTES);
    CU_ASSERT_EQUAL(c->budget.size.bytes, 6 * GIB);
    CU_ASSERT_STRING_EQUAL(c->budget.cgroup, "/sys/fs/cgroup/machine.slice");
    g_autofree char *where = g_strdup_printf("%s/ballastd.conf:3", d);
    CU_ASSERT_STRING_EQUAL(c->budget_where, where);

    static const char pct[] = "[ballastd]\nmemory_budget = 40%\nmemory_cgroup = none\n";
    write_file(d, "ballastd.conf", pct, strlen(pct));
    g_autoptr(BallastConfig) p = config_load_dir(d);
    CU_ASSERT_EQUAL(p->errors->len, 0);
    CU_ASSERT_EQUAL(p->budget.size.kind, CONFIG_SIZE_PCT);
    CU_ASSERT_DOUBLE_EQUAL(p->budget.size.pct, 40.0, 1e-9);
    CU_ASSERT_STRING_EQUAL(p->budget.cgroup, "");

    /* Not given, or "none": no budget, nowhere to point at. */
    static const char none[] = "[ballastd]\nmemory_budget = none\n";
    write_file(d, "ballastd.conf", none, strlen(none));
    g_autoptr(BallastConfig) n = config_load_dir(d);
    CU_ASSERT_EQUAL(n->budget.size.kind, CONFIG_SIZE_UNSET);
    g_autoptr(BallastConfig) dflt = config_new_defaults();
    CU_ASSERT_EQUAL(dflt->budget.size.kind, CONFIG_SIZE_UNSET);
    CU_ASSERT_STRING_EQUAL(dflt->budget.cgroup, "");
    CU_ASSERT_PTR_NULL(dflt->budget_where);
    rm_tree(d);
}

/* state_file: auto (the default), none, an absolute path; anything else is
 * an error with file:line that leaves the default. */
static void test_daemon_keys(void)
{
    g_autoptr(BallastConfig) dflt = config_new_defaults();
    CU_ASSERT_STRING_EQUAL(dflt->daemon.state_file, "auto");
    CU_ASSERT_EQUAL(dflt->daemon.on_exit, CONFIG_ON_EXIT_KEEP);
    g_autofree char *d = tmpdir();
    static const char *const good[][2] = {
        {"auto", "auto"},
        {"none", "none"},
        {" /run/ballast/state.json ", "/run/ballast/state.json"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *conf = g_strdup_printf("[ballastd]\nstate_file = %s\n", good[i][0]);
        write_file(d, "ballastd.conf", conf, strlen(conf));
        g_autoptr(BallastConfig) c = config_load_dir(d);
        CU_ASSERT_EQUAL(c->errors->len, 0);
        CU_ASSERT_STRING_EQUAL(c->daemon.state_file, good[i][1]);
    }
    static const char *const bad[][2] = {
        {"state.json", "state_file: 'state.json' is not an absolute path (expected e.g. "
                       "/run/ballast/state.json, auto or none)"},
        {"/run/../etc/shadow", "state_file: '..' in the path '/run/../etc/shadow'"},
        {"", "state_file: empty value"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *conf = g_strdup_printf("[ballastd]\nstate_file = %s\n", bad[i][0]);
        write_file(d, "ballastd.conf", conf, strlen(conf));
        g_autoptr(BallastConfig) c = config_load_dir(d);
        g_autofree char *want = g_strdup_printf("%s/ballastd.conf:2: %s", d, bad[i][1]);
        CU_ASSERT_TRUE(has_error(c, want));
        if (!has_error(c, want))
            fprintf(stderr, "expected: %s\n", want);
        CU_ASSERT_STRING_EQUAL(c->daemon.state_file, "auto");
    }
    /* on_exit: keep or release, nothing else. */
    static const char release[] = "[ballastd]\non_exit = release\n";
    write_file(d, "ballastd.conf", release, strlen(release));
    g_autoptr(BallastConfig) r = config_load_dir(d);
    CU_ASSERT_EQUAL(r->errors->len, 0);
    CU_ASSERT_EQUAL(r->daemon.on_exit, CONFIG_ON_EXIT_RELEASE);
    CU_ASSERT_STRING_EQUAL(config_on_exit_name(r->daemon.on_exit), "release");
    static const char bad_exit[] = "[ballastd]\non_exit = deflate\n";
    write_file(d, "ballastd.conf", bad_exit, strlen(bad_exit));
    g_autoptr(BallastConfig) b = config_load_dir(d);
    g_autofree char *want = g_strdup_printf(
        "%s/ballastd.conf:2: on_exit: unknown value 'deflate' (expected keep or release)", d);
    CU_ASSERT_TRUE(has_error(b, want));
    CU_ASSERT_EQUAL(b->daemon.on_exit, CONFIG_ON_EXIT_KEEP);
    rm_tree(d);
}

/* metrics_listen and ro_socket_group: off/none by default, the address kept
 * in its normal form, every bad value an error with file:line. */
static void test_access_keys(void)
{
    g_autoptr(BallastConfig) dflt = config_new_defaults();
    CU_ASSERT_STRING_EQUAL(dflt->daemon.metrics_listen, "");
    CU_ASSERT_STRING_EQUAL(dflt->daemon.ro_socket_group, "");
    g_autofree char *d = tmpdir();
    static const char *const good[][2] = {
        {"off", ""},
        {"none", ""},
        {"9464", "127.0.0.1:9464"},
        {"127.0.0.1:9464", "127.0.0.1:9464"},
        {"0.0.0.0:80", "0.0.0.0:80"},
        {"[::1]:9464", "[::1]:9464"},
        {"[0:0::1]:65535", "[::1]:65535"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *conf = g_strdup_printf("[ballastd]\nmetrics_listen = %s\n", good[i][0]);
        write_file(d, "ballastd.conf", conf, strlen(conf));
        g_autoptr(BallastConfig) c = config_load_dir(d);
        CU_ASSERT_EQUAL(c->errors->len, 0);
        CU_ASSERT_STRING_EQUAL(c->daemon.metrics_listen, good[i][1]);
    }
    static const char *const bad[][2] = {
        {"localhost:9464", "metrics_listen = localhost:9464: not an IPv4 address (names are not "
                           "resolved: write 127.0.0.1, not localhost)"},
        {"127.0.0.1:0", "metrics_listen = 127.0.0.1:0: port must be 1 .. 65535"},
        {"127.0.0.1:65536", "metrics_listen = 127.0.0.1:65536: port must be 1 .. 65535"},
        {"127.0.0.1:+80", "metrics_listen = 127.0.0.1:+80: port must be 1 .. 65535"},
        {"::1:9464", "metrics_listen = ::1:9464: an IPv6 address goes in brackets: [::1]:PORT"},
        {"[::1]9464", "metrics_listen = [::1]9464: expected [IPv6]:PORT"},
        {"300.1.1.1:80", "metrics_listen = 300.1.1.1:80: not an IPv4 address (names are not "
                         "resolved: write 127.0.0.1, not localhost)"},
        {"on", "metrics_listen = on: port must be 1 .. 65535"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *conf = g_strdup_printf("[ballastd]\nmetrics_listen = %s\n", bad[i][0]);
        write_file(d, "ballastd.conf", conf, strlen(conf));
        g_autoptr(BallastConfig) c = config_load_dir(d);
        g_autofree char *want = g_strdup_printf(
            "%s/ballastd.conf:2: %s (expected e.g. 127.0.0.1:9464, [::1]:9464, 9464 or off)", d,
            bad[i][1]);
        CU_ASSERT_TRUE(has_error(c, want));
        if (!has_error(c, want))
            fprintf(stderr, "expected: %s\n", want);
        CU_ASSERT_STRING_EQUAL(c->daemon.metrics_listen, "");
    }
    static const char group[] = "[ballastd]\nro_socket_group = ballast-ro\n";
    write_file(d, "ballastd.conf", group, strlen(group));
    g_autoptr(BallastConfig) g = config_load_dir(d);
    CU_ASSERT_EQUAL(g->errors->len, 0);
    CU_ASSERT_STRING_EQUAL(g->daemon.ro_socket_group, "ballast-ro");
    static const char bad_group[] = "[ballastd]\nro_socket_group = ../wheel\n";
    write_file(d, "ballastd.conf", bad_group, strlen(bad_group));
    g_autoptr(BallastConfig) b = config_load_dir(d);
    g_autofree char *want = g_strdup_printf("%s/ballastd.conf:2: ro_socket_group = ../wheel: not a "
                                            "group name (letters, digits, _ - .; or none)",
                                            d);
    CU_ASSERT_TRUE(has_error(b, want));
    CU_ASSERT_STRING_EQUAL(b->daemon.ro_socket_group, "");
    rm_tree(d);
}

/* vmem_peak_hold_ms: 5 minutes by default (the actuator plan's), 0 allowed
 * (a one-block net), a bad value an error with file:line that keeps the
 * default. */
static void test_vmem_peak_hold(void)
{
    g_autoptr(BallastConfig) dflt = config_new_defaults();
    CU_ASSERT_EQUAL(dflt->daemon.vmem_peak_hold_ms, ACTUATOR_NET_PEAK_MS);
    CU_ASSERT_EQUAL(dflt->daemon.vmem_peak_hold_ms, 300000);
    g_autofree char *d = tmpdir();
    static const char *const good[][2] = {{"20000", "20000"}, {"0", "0"}, {"86400000", "86400000"}};
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *conf = g_strdup_printf("[ballastd]\nvmem_peak_hold_ms = %s\n", good[i][0]);
        write_file(d, "ballastd.conf", conf, strlen(conf));
        g_autoptr(BallastConfig) c = config_load_dir(d);
        CU_ASSERT_EQUAL(c->errors->len, 0);
        CU_ASSERT_EQUAL(c->daemon.vmem_peak_hold_ms, g_ascii_strtoull(good[i][1], NULL, 10));
    }
    static const char *const bad[] = {"-1", "5m", "86400001"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *conf = g_strdup_printf("[ballastd]\nvmem_peak_hold_ms = %s\n", bad[i]);
        write_file(d, "ballastd.conf", conf, strlen(conf));
        g_autoptr(BallastConfig) c = config_load_dir(d);
        g_autofree char *where = g_strdup_printf("%s/ballastd.conf:2: ", d);
        bool said = false;
        for (guint e = 0; e < c->errors->len; e++)
            said |= g_str_has_prefix(c->errors->pdata[e], where) &&
                    strstr(c->errors->pdata[e], "vmem_peak_hold_ms") != NULL;
        CU_ASSERT_TRUE(said);
        CU_ASSERT_EQUAL(c->daemon.vmem_peak_hold_ms, 300000);
    }
    rm_tree(d);
}

/* Bad budgets are errors with file:line, like every other key: the global
 * file then puts every VM in safe mode and the budget stays unset. */
static void test_budget_errors(void)
{
    static const char *const bad[][2] = {
        {"0", "memory_budget = 0: too small (min 1.0 MiB)"},
        {"-1G", "memory_budget: bad size '-1G' (expected e.g. 6G, 40% or none)"},
        {"abc", "memory_budget: bad size 'abc' (expected e.g. 6G, 40% or none)"},
        {"150%", "memory_budget = 150%: out of range [1%, 100%]"},
        {"0%", "memory_budget = 0%: out of range [1%, 100%]"},
        {"-5%", "memory_budget: bad percentage '-5%'"},
        {"1e3", "memory_budget: bad size '1e3' (expected e.g. 6G, 40% or none)"},
        {"65T", "memory_budget = 65T: too large (max 64.0 TiB)"},
        {"", "memory_budget: empty value"},
    };
    g_autofree char *d = tmpdir();
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *conf =
            g_strdup_printf("[ballastd]\ntick_interval_ms = 5000\nmemory_budget = %s\n", bad[i][0]);
        write_file(d, "ballastd.conf", conf, strlen(conf));
        g_autoptr(BallastConfig) c = config_load_dir(d);
        g_autofree char *want = g_strdup_printf("%s/ballastd.conf:3: %s", d, bad[i][1]);
        CU_ASSERT_TRUE(has_error(c, want));
        CU_ASSERT_EQUAL(c->n_global_errors, 1);
        CU_ASSERT_EQUAL(c->budget.size.kind, CONFIG_SIZE_UNSET);
        struct policy_vm_params p;
        config_vm_params(c, "any", GIB, &p, NULL, NULL);
        CU_ASSERT_EQUAL(p.mode, POLICY_MODE_SAFE);
    }
    static const char *const bad_cgroup[][2] = {
        {"machine.slice", "memory_cgroup: 'machine.slice' is not an absolute path (expected e.g. "
                          "/sys/fs/cgroup/machine.slice, or none)"},
        {"/sys/fs/cgroup/../etc", "memory_cgroup: '..' in the path '/sys/fs/cgroup/../etc'"},
        {"/sys/fs/cgroup/a/..", "memory_cgroup: '..' in the path '/sys/fs/cgroup/a/..'"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_cgroup); i++) {
        g_autofree char *conf =
            g_strdup_printf("[ballastd]\nmemory_cgroup = %s\n", bad_cgroup[i][0]);
        write_file(d, "ballastd.conf", conf, strlen(conf));
        g_autoptr(BallastConfig) c = config_load_dir(d);
        g_autofree char *want = g_strdup_printf("%s/ballastd.conf:2: %s", d, bad_cgroup[i][1]);
        CU_ASSERT_TRUE(has_error(c, want));
        CU_ASSERT_STRING_EQUAL(c->budget.cgroup, "");
    }
    GString *lng = g_string_new("[ballastd]\nmemory_cgroup = /");
    for (int i = 0; i < CONFIG_CGROUP_PATH_MAX; i++)
        g_string_append_c(lng, 'a');
    g_string_append_c(lng, '\n');
    write_file(d, "ballastd.conf", lng->str, lng->len);
    g_string_free(lng, TRUE);
    g_autoptr(BallastConfig) c = config_load_dir(d);
    g_autofree char *want = g_strdup_printf("%s/ballastd.conf:2: memory_cgroup: path longer than "
                                            "199 bytes",
                                            d);
    CU_ASSERT_TRUE(has_error(c, want));
    /* A per-VM file cannot set a budget. */
    write_file(d, "ballastd.conf", "", 0);
    write_file(d, "vm1.conf", "[vm]\nmemory_budget = 1G\n", 25);
    g_autoptr(BallastConfig) v = config_load_dir(d);
    g_autofree char *want_vm = g_strdup_printf("%s/vm1.conf:2: key 'memory_budget' does not "
                                               "belong in [vm] (it goes in [ballastd] of "
                                               "ballastd.conf)",
                                               d);
    CU_ASSERT_TRUE(has_error(v, want_vm));
    rm_tree(d);
}

static void test_check_dir(void)
{
    GPtrArray *errors = NULL;
    CU_ASSERT_EQUAL(config_check_dir(FIX "/config-good", &errors), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(errors);
    CU_ASSERT_EQUAL(errors->len, 0);
    g_ptr_array_unref(errors);
    CU_ASSERT_EQUAL(config_check_dir(FIX "/config-bad", &errors), 15);
    CU_ASSERT_EQUAL(errors->len, 15);
    CU_ASSERT(strstr(errors->pdata[0], "config-bad/") != NULL);
    g_ptr_array_unref(errors);
    CU_ASSERT_EQUAL(config_check_dir(FIX "/config-badglobal", NULL), 2);
}

/* Reload: a new struct config for the same directory reflects the edit. */
static void test_reload(void)
{
    g_autofree char *d = tmpdir();
    write_file(d, "a.conf", "[vm]\nshares = 10\n", 17);
    g_autoptr(BallastConfig) c1 = config_load_dir(d);
    write_file(d, "a.conf", "[vm]\nshares = 20\nmode = bogus\n", 30);
    g_autoptr(BallastConfig) c2 = config_load_dir(d);
    struct policy_vm_params p1, p2;
    config_vm_params(c1, "a", GIB, &p1, NULL, NULL);
    config_vm_params(c2, "a", GIB, &p2, NULL, NULL);
    CU_ASSERT_EQUAL(p1.shares, 10);
    CU_ASSERT_EQUAL(p1.mode, POLICY_MODE_MANAGED);
    CU_ASSERT_EQUAL(p2.shares, 20);
    CU_ASSERT_EQUAL(p2.mode, POLICY_MODE_SAFE);
    rm_tree(d);
}

static CU_TestInfo config_tests[] = {
    {"good dir", test_good_dir},
    {"merge and resolve", test_merge_and_resolve},
    {"bad files", test_bad_files},
    {"bad global", test_bad_global},
    {"hostile", test_hostile},
    {"missing dir", test_missing_dir},
    {"empty dir is defaults", test_empty_dir_is_defaults},
    {"defaults match table", test_defaults_match_table},
    {"keys documented", test_keys_documented},
    {"budget keys", test_budget_keys},
    {"daemon keys", test_daemon_keys},
    {"access keys (metrics_listen, ro_socket_group)", test_access_keys},
    {"vmem_peak_hold_ms: default, 0, bad values", test_vmem_peak_hold},
    {"budget errors", test_budget_errors},
    {"check dir", test_check_dir},
    {"reload", test_reload},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"config", NULL, NULL, NULL, NULL, config_tests},
    CU_SUITE_INFO_NULL,
};
