/*
 * The per-VM policy resolver (vm_policy.c) on a config built on the stack:
 * the precedence file > metadata > [defaults], safe mode forced by a
 * config or metadata error, runtime overrides (vm_override.c) on top, and
 * the cache's invalidation.
 */
#include "cunit_main.h"
#include "vm_override.h"
#include "vm_policy.h"

#include <errno.h>
#include <string.h>

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

/* ballastd.conf with [defaults] shares = 300, min_memory = 10%, and one
 * file, web.conf: shares = 7. */
struct fixture {
    struct config cfg;
    struct config_vm web;
};

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    g_autoptr(BallastConfig) builtin = config_new_defaults();
    f->cfg.tunables = builtin->tunables;
    f->cfg.defaults = builtin->defaults;
    f->cfg.defaults.shares = 300;
    f->cfg.defaults.min_memory = (struct config_size){CONFIG_SIZE_PCT, 0, 10.0};
    f->web.name = "web";
    f->web.policy = f->cfg.defaults;
    f->web.policy.shares = 7;
    f->cfg.vms = g_ptr_array_new();
    g_ptr_array_add(f->cfg.vms, &f->web);
}

static void fixture_clear(struct fixture *f)
{
    g_ptr_array_unref(f->cfg.vms);
}

static void set_key(struct config_vm_layer *l, const char *key, const char *value)
{
    g_autofree char *msg = NULL;
    int i = config_vm_key_index(key);
    CU_ASSERT_TRUE_FATAL(i >= 0);
    CU_ASSERT_EQUAL_FATAL(config_vm_layer_set(l, (size_t)i, NULL, value, &msg), 0);
}

static void resolve(const struct config *c, const char *name, const struct config_vm_layer *meta,
                    const char *meta_error, const struct config_vm_layer *ovr,
                    struct vm_policy *out)
{
    struct vm_policy_in in = {
        .cfg = c,
        .name = name,
        .nominal_bytes = GIB,
        .meta = meta,
        .meta_error = meta_error,
        .overrides = ovr,
    };
    vm_policy_resolve(&in, out);
}

static void test_precedence(void)
{
    struct fixture f;
    fixture_init(&f);
    struct config_vm_layer meta = {0};
    set_key(&meta, "shares", "4000");
    set_key(&meta, "max_memory", "512M");
    struct vm_policy r;

    /* No file, no metadata: [defaults]. */
    resolve(&f.cfg, "db", NULL, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.source, VM_POLICY_DEFAULTS);
    CU_ASSERT_STRING_EQUAL(vm_policy_source_name(r.source), "defaults");
    CU_ASSERT_EQUAL(r.params.shares, 300);
    CU_ASSERT_EQUAL(r.params.min_bytes, GIB / 10);
    CU_ASSERT_EQUAL(r.params.max_bytes, GIB);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_MANAGED);
    CU_ASSERT_TRUE(r.ksm);
    CU_ASSERT_PTR_NULL(r.config_error);
    vm_policy_clear(&r);

    /* Metadata over [defaults]: its keys, [defaults] for the others. */
    resolve(&f.cfg, "db", &meta, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.source, VM_POLICY_METADATA);
    CU_ASSERT_STRING_EQUAL(vm_policy_source_name(r.source), "metadata");
    CU_ASSERT_EQUAL(r.params.shares, 4000);
    CU_ASSERT_EQUAL(r.params.max_bytes, 512 * MIB);
    CU_ASSERT_EQUAL(r.params.min_bytes, GIB / 10);
    CU_ASSERT_PTR_NULL(r.config_error);
    vm_policy_clear(&r);

    /* The VM's own file wins over its metadata. */
    resolve(&f.cfg, "web", &meta, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.source, VM_POLICY_FILE);
    CU_ASSERT_STRING_EQUAL(vm_policy_source_name(r.source), "file");
    CU_ASSERT_EQUAL(r.params.shares, 7);
    CU_ASSERT_EQUAL(r.params.max_bytes, GIB);
    vm_policy_clear(&r);
    fixture_clear(&f);
}

/* A config error forces safe mode (never shrinks, still grows); the other keys still apply. */
static void test_config_error(void)
{
    struct fixture f;
    fixture_init(&f);
    f.web.n_errors = 1;
    f.web.first_error =
        (char *)"web.conf:3: mode: unknown mode 'observ' (expected managed, observe or fixed)";
    f.web.policy.mode = POLICY_MODE_SAFE; /* as config_load_dir leaves it */
    struct vm_policy r;
    resolve(&f.cfg, "web", NULL, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_SAFE);
    CU_ASSERT_EQUAL(r.params.shares, 7);
    CU_ASSERT_STRING_EQUAL(r.config_error, f.web.first_error);
    CU_ASSERT_PTR_NOT_EQUAL(r.config_error, f.web.first_error); /* a copy: outlives a reload */
    vm_policy_clear(&r);

    /* A bad ballastd.conf: every VM, whatever its source, with the global error. */
    f.cfg.n_global_errors = 1;
    f.cfg.global_error =
        (char *)"ballastd.conf:2: tick_interval_ms = 5: out of range [100, 600000]";
    struct config_vm_layer meta = {0};
    set_key(&meta, "mode", "observe");
    const char *names[] = {"web", "db", "db"};
    const struct config_vm_layer *metas[] = {NULL, NULL, &meta};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        resolve(&f.cfg, names[i], metas[i], "metadata: <shares>: empty value", NULL, &r);
        CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_SAFE);
        CU_ASSERT_STRING_EQUAL(r.config_error, f.cfg.global_error);
        vm_policy_clear(&r);
    }
    fixture_clear(&f);
}

/* A fleet error (memory_budget under the VMs' min_memory in all, seen at
 * run time) puts every VM in safe mode like a bad ballastd.conf, whatever
 * its source; a global file error still comes first; set-policy's mode
 * still wins, as over any forced safe mode. */
static void test_fleet_error(void)
{
    struct fixture f;
    fixture_init(&f);
    const char *fleet = "d/ballastd.conf:3: memory_budget 1.0 GiB < the VMs' min_memory 2.0 GiB "
                        "in all: it can never be met; raise it or lower min_memory";
    struct config_vm_layer meta = {0};
    set_key(&meta, "mode", "observe");
    const char *names[] = {"web", "db", "db"};
    const struct config_vm_layer *metas[] = {NULL, NULL, &meta};
    struct vm_policy r;
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        struct vm_policy_in in = {.cfg = &f.cfg,
                                  .name = names[i],
                                  .nominal_bytes = GIB,
                                  .meta = metas[i],
                                  .fleet_error = fleet};
        vm_policy_resolve(&in, &r);
        CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_SAFE);
        CU_ASSERT_STRING_EQUAL(r.config_error, fleet);
        CU_ASSERT_EQUAL(r.params.min_bytes,
                        (uint64_t)((double)GIB * 0.10)); /* its keys still apply */
        vm_policy_clear(&r);
    }
    struct config_vm_layer ovr = {0};
    set_key(&ovr, "mode", "managed");
    struct vm_policy_in in = {.cfg = &f.cfg,
                              .name = "web",
                              .nominal_bytes = GIB,
                              .overrides = &ovr,
                              .fleet_error = fleet};
    vm_policy_resolve(&in, &r);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_MANAGED);
    vm_policy_clear(&r);
    f.cfg.n_global_errors = 1;
    f.cfg.global_error = (char *)"ballastd.conf:2: tick_interval_ms = 5: out of range";
    in.overrides = NULL;
    vm_policy_resolve(&in, &r);
    CU_ASSERT_STRING_EQUAL(r.config_error, f.cfg.global_error);
    vm_policy_clear(&r);
    fixture_clear(&f);
}

static void test_metadata_errors(void)
{
    struct fixture f;
    fixture_init(&f);
    struct vm_policy r;

    /* Metadata with an error: safe mode, its first error, its valid keys kept. */
    struct config_vm_layer meta = {0};
    set_key(&meta, "shares", "2000");
    const char *err = "metadata: <mode>: unknown mode 'turbo' (expected managed, observe or fixed)";
    resolve(&f.cfg, "db", &meta, err, NULL, &r);
    CU_ASSERT_EQUAL(r.source, VM_POLICY_METADATA);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_SAFE);
    CU_ASSERT_EQUAL(r.params.shares, 2000);
    CU_ASSERT_STRING_EQUAL(r.config_error, err);
    vm_policy_clear(&r);

    /* A file wins, and the metadata's error is not the VM's then. */
    resolve(&f.cfg, "web", &meta, err, NULL, &r);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_MANAGED);
    CU_ASSERT_PTR_NULL(r.config_error);
    vm_policy_clear(&r);

    /* Keys fine alone, broken over [defaults] (min 10% > max 5%): safe mode too. */
    struct config_vm_layer low = {0};
    set_key(&low, "max_memory", "5%");
    resolve(&f.cfg, "db", &low, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_SAFE);
    CU_ASSERT_STRING_EQUAL(r.config_error, "metadata: min_memory 10% > max_memory 5%");
    vm_policy_clear(&r);
    fixture_clear(&f);
}

static void test_overrides_on_top(void)
{
    struct fixture f;
    fixture_init(&f);
    struct vm_override o = {0};
    g_autofree char *msg = NULL;
    CU_ASSERT_EQUAL(vm_override_set(&o, "min-memory", "64M", &msg), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "shares", "900", &msg), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "mode", "observe", &msg), 0);
    struct config_vm_layer meta = {0};
    set_key(&meta, "shares", "4000");
    struct vm_policy r;

    /* Over a file, over metadata: the override wins either way. */
    const char *names[] = {"web", "db"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        resolve(&f.cfg, names[i], &meta, NULL, &o.layer, &r);
        CU_ASSERT_EQUAL(r.params.min_bytes, 64 * MIB);
        CU_ASSERT_EQUAL(r.params.shares, 900);
        CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_OBSERVE);
        CU_ASSERT_EQUAL(r.params.max_bytes, GIB);
        vm_policy_clear(&r);
    }

    /* An override's mode replaces even a forced safe mode (the error stays known). */
    f.web.n_errors = 1;
    f.web.first_error = (char *)"web.conf:2: shares = 0: out of range [1, 1000000]";
    resolve(&f.cfg, "web", NULL, NULL, &o.layer, &r);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_OBSERVE);
    CU_ASSERT_STRING_EQUAL(r.config_error, f.web.first_error);
    vm_policy_clear(&r);
    CU_ASSERT_EQUAL(vm_override_set(&o, "mode", "default", &msg), 0);
    resolve(&f.cfg, "web", NULL, NULL, &o.layer, &r);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_SAFE);
    vm_policy_clear(&r);

    /* min above max and max above nominal are clamped, never passed to the engine. */
    f.web.n_errors = 0;
    CU_ASSERT_EQUAL(vm_override_set(&o, "min_memory", "2G", &msg), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "max_memory", "3G", &msg), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "fixed_memory", "4G", &msg), 0);
    resolve(&f.cfg, "web", NULL, NULL, &o.layer, &r);
    CU_ASSERT_EQUAL(r.params.max_bytes, GIB);
    CU_ASSERT_EQUAL(r.params.min_bytes, GIB);
    CU_ASSERT_EQUAL(r.params.fixed_bytes, GIB);
    vm_policy_clear(&r);
    fixture_clear(&f);
}

static void test_override_set_list_clear(void)
{
    struct vm_override o = {0};
    g_autofree char *msg = NULL;
    CU_ASSERT_EQUAL(vm_override_set(&o, "min_memory", "64M", &msg), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "max-memory", "75%", &msg), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "mode", "observe", &msg), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "shares", "300", &msg), 0);
    CU_ASSERT_EQUAL(vm_override_set(&o, "reclaim_allowed", "true", &msg), 0);
    CU_ASSERT_PTR_NULL(msg);
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
    vm_override_list(&o, list);
    const char *want[] = {"min_memory=64.0 MiB", "max_memory=75%", "shares=300", "mode=observe",
                          "reclaim_allowed=true"};
    CU_ASSERT_EQUAL_FATAL(list->len, G_N_ELEMENTS(want));
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        CU_ASSERT_STRING_EQUAL(list->pdata[i], want[i]);

    /* "default" clears. */
    CU_ASSERT_EQUAL(vm_override_set(&o, "mode", "default", &msg), 0);
    g_ptr_array_set_size(list, 0);
    vm_override_list(&o, list);
    CU_ASSERT_EQUAL(list->len, G_N_ELEMENTS(want) - 1);
}

static void test_override_rejects(void)
{
    struct vm_override o = {0};
    char *msg = NULL;
    CU_ASSERT_EQUAL(vm_override_set(&o, "colour", "blue", &msg), -ENOENT);
    CU_ASSERT_TRUE(msg && strstr(msg, "unknown key 'colour'") && strstr(msg, "reclaim_allowed"));
    g_free(msg);
    /* ksm is decided when QEMU starts: files and metadata only (the table says so). */
    CU_ASSERT_EQUAL(vm_override_set(&o, "ksm", "false", &msg), -ENOENT);
    CU_ASSERT_TRUE(msg && strstr(msg, "key 'ksm' cannot be set at runtime"));
    g_free(msg);
    CU_ASSERT_EQUAL(vm_override_set(&o, "tick_interval_ms", "1000", &msg), -ENOENT);
    g_free(msg);
    static const struct {
        const char *key, *value, *msg;
    } bad[] = {
        {"min_memory", "lots", "min_memory: bad size 'lots' (expected e.g. 256M or 25%)"},
        {"max_memory", "150%", "max_memory = 150%: out of range [0%, 100%]"},
        {"shares", "0", "shares = 0: out of range [1, 1000000]"},
        {"shares", "1000001", "shares = 1000001: out of range [1, 1000000]"},
        {"shares", "-3", "shares: bad number '-3' (expected a whole number)"},
        {"mode", "turbo", "mode: unknown mode 'turbo' (expected managed, observe or fixed)"},
        {"mode", "safe", "mode: unknown mode 'safe' (expected managed, observe or fixed)"},
        {"agent_required", "2", "agent_required: expected true or false, not '2'"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        CU_ASSERT_EQUAL(vm_override_set(&o, bad[i].key, bad[i].value, &msg), -EINVAL);
        CU_ASSERT_STRING_EQUAL(msg, bad[i].msg);
        g_free(msg);
    }
    CU_ASSERT_EQUAL(o.layer.set, 0); /* nothing bad was kept */
}

static void test_cache(void)
{
    struct fixture f;
    fixture_init(&f);
    struct config_vm_layer meta = {0};
    set_key(&meta, "shares", "4000");
    g_autofree char *meta_error = g_strdup("metadata: <mode>: empty value");
    struct vm_policy_in in = {
        .cfg = &f.cfg, .name = "db", .nominal_bytes = GIB, .meta = &meta, .meta_error = meta_error};
    struct vm_policy_cache c = {0};

    const struct vm_policy *p = vm_policy_cache_get(&c, &in);
    CU_ASSERT_EQUAL(p->params.shares, 4000);
    CU_ASSERT_EQUAL(p->params.mode, POLICY_MODE_SAFE);
    CU_ASSERT_STRING_EQUAL(p->config_error, "metadata: <mode>: empty value");

    /* An input changes: nothing shows until the cache is told (resolved once per change). */
    set_key(&meta, "shares", "5000");
    meta_error[0] = 'X'; /* the cache holds its own copy */
    in.meta_error = NULL;
    p = vm_policy_cache_get(&c, &in);
    CU_ASSERT_EQUAL(p->params.shares, 4000);
    CU_ASSERT_STRING_EQUAL(p->config_error, "metadata: <mode>: empty value");
    vm_policy_cache_invalidate(&c);
    p = vm_policy_cache_get(&c, &in);
    CU_ASSERT_EQUAL(p->params.shares, 5000);
    CU_ASSERT_EQUAL(p->params.mode, POLICY_MODE_MANAGED);
    CU_ASSERT_PTR_NULL(p->config_error);

    /* A new nominal size is an input the cache sees by itself (percentages, the cap). */
    CU_ASSERT_EQUAL(p->params.min_bytes, GIB / 10);
    in.nominal_bytes = 2 * GIB;
    p = vm_policy_cache_get(&c, &in);
    CU_ASSERT_EQUAL(p->params.min_bytes, 2 * GIB / 10);
    CU_ASSERT_EQUAL(p->params.max_bytes, 2 * GIB);

    vm_policy_cache_clear(&c);
    CU_ASSERT_FALSE(c.valid);
    CU_ASSERT_PTR_NULL(c.policy.config_error);
    fixture_clear(&f);
}

/* config_vm_params is the resolver without metadata or overrides. */
static void test_config_vm_params_same(void)
{
    struct fixture f;
    fixture_init(&f);
    f.web.n_errors = 1;
    f.web.first_error = (char *)"web.conf:9: ksm: expected true or false, not 'maybe'";
    const char *names[] = {"web", "db"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        struct vm_policy r;
        resolve(&f.cfg, names[i], NULL, NULL, NULL, &r);
        struct policy_vm_params p;
        bool ksm = false;
        const char *why = NULL;
        config_vm_params(&f.cfg, names[i], GIB, &p, &ksm, &why);
        CU_ASSERT_TRUE(p.min_bytes == r.params.min_bytes && p.max_bytes == r.params.max_bytes &&
                       p.fixed_bytes == r.params.fixed_bytes && p.shares == r.params.shares &&
                       p.mode == r.params.mode && p.agent_required == r.params.agent_required &&
                       p.reclaim_allowed == r.params.reclaim_allowed);
        CU_ASSERT_EQUAL(ksm, r.ksm);
        CU_ASSERT_STRING_EQUAL(why ? why : "-", r.config_error ? r.config_error : "-");
        vm_policy_clear(&r);
    }
    fixture_clear(&f);
}

static CU_TestInfo resolver_tests[] = {
    {"precedence file > metadata > defaults", test_precedence},
    {"config error forces safe mode", test_config_error},
    {"fleet error forces safe mode", test_fleet_error},
    {"metadata errors", test_metadata_errors},
    {"overrides on top", test_overrides_on_top},
    {"cache and invalidation", test_cache},
    {"config_vm_params is the resolver", test_config_vm_params_same},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo override_tests[] = {
    {"set, list, clear", test_override_set_list_clear},
    {"rejects", test_override_rejects},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"vm_policy", NULL, NULL, NULL, NULL, resolver_tests},
    {"vm_override", NULL, NULL, NULL, NULL, override_tests},
    CU_SUITE_INFO_NULL,
};
