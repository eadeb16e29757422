/*
 * Metadata policy (lv_policy.c): the keys of config.c's table with its
 * syntax and ranges, errors that force safe mode, and, through the
 * resolver (vm_policy.h), the precedence file > metadata > [defaults].
 * (That files, metadata and set-policy agree value by value:
 * unit.policy.keys.)
 */
#include "cunit_main.h"
#include "lv_policy.h"
#include "vmsource_libvirt.h"
#include "vm_policy.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NS "https://ballast.dev/xmlns/policy/1"

/* Parses `<b:policy xmlns:b=NS>inner</b:policy>`. */
static guint from_inner(const char *inner, struct lv_policy *out, GPtrArray *errors)
{
    g_autofree char *xml = g_strdup_printf("<b:policy xmlns:b='" NS "'>%s</b:policy>", inner);
    struct lv_domain_info info;
    CU_ASSERT_EQUAL_FATAL(lv_policy_xml_parse(xml, -1, &info, NULL), 0);
    guint n = lv_policy_from_info(&info, out, errors);
    lv_domain_info_clear(&info);
    return n;
}

/* The metadata's keys over the built-in [defaults]. */
static struct config_vm_policy over_builtin(const struct lv_policy *p)
{
    g_autoptr(BallastConfig) c = config_new_defaults();
    struct config_vm_policy v = c->defaults;
    config_vm_layer_apply(&p->keys, &v);
    return v;
}

static bool csize_eq(const struct config_size *a, const struct config_size *b)
{
    return a->kind == b->kind && a->bytes == b->bytes && a->pct == b->pct;
}

/* Field by field: struct padding is not part of the value. */
static bool policy_eq(const struct config_vm_policy *a, const struct config_vm_policy *b)
{
    return csize_eq(&a->min_memory, &b->min_memory) && csize_eq(&a->max_memory, &b->max_memory) &&
           csize_eq(&a->fixed_memory, &b->fixed_memory) &&
           csize_eq(&a->guaranteed_memory, &b->guaranteed_memory) && a->shares == b->shares &&
           a->mode == b->mode && a->agent_required == b->agent_required &&
           a->reclaim_allowed == b->reclaim_allowed && a->ksm == b->ksm;
}

static void test_all_keys(void)
{
    struct lv_policy p;
    CU_ASSERT_EQUAL(from_inner("<b:min_memory>64M</b:min_memory>"
                               "<b:max_memory>75%</b:max_memory>"
                               "<b:fixed_memory>100M</b:fixed_memory>"
                               "<b:guaranteed_memory>50%</b:guaranteed_memory>"
                               "<b:shares>2500</b:shares>"
                               "<b:mode>observe</b:mode>"
                               "<b:agent_required>yes</b:agent_required>"
                               "<b:reclaim_allowed>false</b:reclaim_allowed>"
                               "<b:ksm>0</b:ksm>",
                               &p, NULL),
                    0);
    CU_ASSERT_TRUE(p.present);
    CU_ASSERT_EQUAL(p.n_keys, 9);
    CU_ASSERT_EQUAL(p.keys.set, 0x1ff);
    const struct config_vm_policy *v = &p.keys.v;
    CU_ASSERT_EQUAL(v->min_memory.kind, CONFIG_SIZE_BYTES);
    CU_ASSERT_EQUAL(v->min_memory.bytes, 64ULL << 20);
    CU_ASSERT_EQUAL(v->max_memory.kind, CONFIG_SIZE_PCT);
    CU_ASSERT_DOUBLE_EQUAL(v->max_memory.pct, 75.0, 1e-9);
    CU_ASSERT_EQUAL(v->fixed_memory.bytes, 100ULL << 20);
    CU_ASSERT_EQUAL(v->guaranteed_memory.kind, CONFIG_SIZE_PCT);
    CU_ASSERT_DOUBLE_EQUAL(v->guaranteed_memory.pct, 50.0, 1e-9);
    CU_ASSERT_EQUAL(v->shares, 2500);
    CU_ASSERT_EQUAL(v->mode, POLICY_MODE_OBSERVE);
    CU_ASSERT_TRUE(v->agent_required);
    CU_ASSERT_FALSE(v->reclaim_allowed);
    CU_ASSERT_FALSE(v->ksm);
    lv_policy_clear(&p);
}

static void test_every_config_key_supported(void)
{
    /* A per-VM key config.c's table allows in metadata is accepted there. */
    const struct config_key_info *k;
    for (size_t i = 0; (k = config_key_at(i)); i++) {
        if (strcmp(k->group, "vm") != 0 || !(k->where & CONFIG_IN_METADATA))
            continue;
        g_autofree char *inner =
            g_strdup_printf("<b:%s>%s</b:%s>", k->name, k->default_text, k->name);
        struct lv_policy p;
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        guint n = from_inner(inner, &p, errors);
        if (n)
            fprintf(stderr, "key %s: %s\n", k->name, (char *)errors->pdata[0]);
        CU_ASSERT_EQUAL(n, 0);
        CU_ASSERT_EQUAL(p.n_keys, 1);
        lv_policy_clear(&p);
    }
}

static void test_defaults_unchanged(void)
{
    /* Writing every default changes nothing: the table's text and the struct agree. */
    GString *inner = g_string_new(NULL);
    const struct config_key_info *k;
    for (size_t i = 0; (k = config_key_at(i)); i++)
        if (strcmp(k->group, "vm") == 0)
            g_string_append_printf(inner, "<b:%s>%s</b:%s>", k->name, k->default_text, k->name);
    struct lv_policy p;
    CU_ASSERT_EQUAL(from_inner(inner->str, &p, NULL), 0);
    g_autoptr(BallastConfig) c = config_new_defaults();
    struct config_vm_policy v = over_builtin(&p);
    CU_ASSERT_TRUE(policy_eq(&v, &c->defaults));
    lv_policy_clear(&p);
    g_string_free(inner, TRUE);
}

static void test_errors(void)
{
    static const struct {
        const char *inner;
        const char *needle;
    } cases[] = {
        {"<b:min_memory>lots</b:min_memory>", "bad size"},
        {"<b:min_memory>101%</b:min_memory>", "out of range"},
        {"<b:max_memory>-5%</b:max_memory>", "bad percentage"},
        {"<b:shares>0</b:shares>", "out of range"},
        {"<b:shares>1.5</b:shares>", "whole number"},
        {"<b:shares>0x10</b:shares>", "whole number"},
        {"<b:mode>turbo</b:mode>", "unknown mode"},
        {"<b:ksm>maybe</b:ksm>", "true or false"},
        {"<b:min>256M</b:min>", "unknown key"},
        {"<b:tick_interval_ms>100</b:tick_interval_ms>", "unknown key"},
        {"<b:shares></b:shares>", "empty value"},
        {"<b:min_memory>512M</b:min_memory><b:max_memory>256M</b:max_memory>",
         "min_memory 512.0 MiB > max_memory 256.0 MiB"},
        {"<b:shares>5000000</b:shares>", "<shares> = 5000000: out of range [1, 1000000]"},
        {"<b:mode>fixed</b:mode><b:fixed_memory>90%</b:fixed_memory>"
         "<b:max_memory>50%</b:max_memory>",
         "fixed_memory 90% outside"},
        {"<b:shares>1</b:shares><b:shares>2</b:shares>", "twice"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct lv_policy p;
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        guint n = from_inner(cases[i].inner, &p, errors);
        CU_ASSERT_TRUE(n >= 1);
        CU_ASSERT_EQUAL(errors->len, n);
        CU_ASSERT_PTR_NOT_NULL(p.first_error);
        if (p.first_error && !strstr(p.first_error, cases[i].needle)) {
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, p.first_error, cases[i].needle);
            CU_FAIL("error text");
        }
        CU_ASSERT_TRUE(p.first_error && g_str_has_prefix(p.first_error, "metadata: "));
        lv_policy_clear(&p);
    }
    /* Sizes in mixed kinds cannot be compared here: accepted (the engine clamps). */
    struct lv_policy p;
    CU_ASSERT_EQUAL(
        from_inner("<b:min_memory>600M</b:min_memory><b:max_memory>50%</b:max_memory>", &p, NULL),
        0);
    lv_policy_clear(&p);
}

static char *write_config_dir(const char *vm_file_name, const char *vm_text)
{
    char *dir = g_dir_make_tmp("lvpolicy-XXXXXX", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    g_autofree char *g = g_build_filename(dir, "ballastd.conf", NULL);
    CU_ASSERT_TRUE(
        g_file_set_contents(g, "[defaults]\nshares = 300\nmin_memory = 10%\n", -1, NULL));
    if (vm_file_name) {
        g_autofree char *v = g_build_filename(dir, vm_file_name, NULL);
        CU_ASSERT_TRUE(g_file_set_contents(v, vm_text, -1, NULL));
    }
    return dir;
}

static void remove_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, n, NULL);
        unlink(p);
    }
    if (d)
        g_dir_close(d);
    rmdir(dir);
}

/* Through the resolver, on a real config directory. */
static void resolve(const struct config *c, const char *name, const struct lv_policy *meta,
                    struct vm_policy *out)
{
    struct vm_policy_in in = {
        .cfg = c,
        .name = name,
        .nominal_bytes = 1ULL << 30,
        .meta = meta && meta->present ? &meta->keys : NULL,
        .meta_error = meta && meta->present ? meta->first_error : NULL,
    };
    vm_policy_resolve(&in, out);
}

static void test_precedence(void)
{
    g_autofree char *dir = write_config_dir("web.conf", "[vm]\nshares = 7\n");
    g_autoptr(BallastConfig) c = config_load_dir(dir);
    CU_ASSERT_EQUAL_FATAL(c->errors->len, 0);

    /* Metadata over [defaults]: shares from the metadata, min_memory from [defaults]. */
    struct lv_policy meta;
    CU_ASSERT_EQUAL(
        from_inner("<b:shares>4000</b:shares><b:max_memory>512M</b:max_memory>", &meta, NULL), 0);
    struct vm_policy r;
    resolve(c, "db", &meta, &r);
    CU_ASSERT_STRING_EQUAL(vm_policy_source_name(r.source), "metadata");
    CU_ASSERT_EQUAL(r.params.shares, 4000);
    CU_ASSERT_EQUAL(r.params.max_bytes, 512ULL << 20);
    CU_ASSERT_EQUAL(r.params.min_bytes, (1ULL << 30) / 10); /* [defaults] 10% of nominal */
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_MANAGED);
    CU_ASSERT_PTR_NULL(r.config_error);
    CU_ASSERT_TRUE(r.ksm);
    vm_policy_clear(&r);

    /* The VM's own file wins over its metadata. */
    resolve(c, "web", &meta, &r);
    CU_ASSERT_STRING_EQUAL(vm_policy_source_name(r.source), "file");
    CU_ASSERT_EQUAL(r.params.shares, 7);
    CU_ASSERT_EQUAL(r.params.max_bytes, 1ULL << 30);
    vm_policy_clear(&r);

    /* No metadata: [defaults]. */
    resolve(c, "db", NULL, &r);
    CU_ASSERT_STRING_EQUAL(vm_policy_source_name(r.source), "defaults");
    CU_ASSERT_EQUAL(r.params.shares, 300);
    vm_policy_clear(&r);

    /* Metadata with an error: safe mode (never shrinks, still grows), with the reason. */
    struct lv_policy bad;
    CU_ASSERT_EQUAL(from_inner("<b:shares>many</b:shares>", &bad, NULL), 1);
    resolve(c, "db", &bad, &r);
    CU_ASSERT_EQUAL(r.params.mode, POLICY_MODE_SAFE);
    CU_ASSERT_STRING_EQUAL(r.config_error,
                           "metadata: <shares>: bad number 'many' (expected a whole number)");
    vm_policy_clear(&r);

    lv_policy_clear(&bad);
    lv_policy_clear(&meta);
    remove_dir(dir);
}

static void test_absent(void)
{
    struct lv_domain_info info;
    CU_ASSERT_EQUAL_FATAL(lv_domain_info_parse("<domain><name>x</name></domain>", -1, &info, NULL),
                          0);
    struct lv_policy p;
    CU_ASSERT_EQUAL(lv_policy_from_info(&info, &p, NULL), 0);
    CU_ASSERT_FALSE(p.present);
    CU_ASSERT_EQUAL(p.keys.set, 0);
    lv_domain_info_clear(&info);
    lv_policy_clear(&p);
}

/* How long a hung libvirtd can hold ballastd's loop: keepalive's bound,
 * and the source's settings within LV_CALL_STALL_MAX_MS. */
static void test_keepalive_bound(void)
{
    CU_ASSERT_EQUAL(lv_keepalive_stall_ms(5, 3), 20000); /* ballastd's settings until December */
    CU_ASSERT_EQUAL(lv_keepalive_stall_ms(5, 6), 35000); /* virsh's */
    CU_ASSERT_EQUAL(lv_keepalive_stall_ms(2, 0), 2000);
    CU_ASSERT_TRUE(lv_keepalive_stall_ms(LV_KEEPALIVE_INTERVAL_S, LV_KEEPALIVE_COUNT) <=
                   LV_CALL_STALL_MAX_MS);
}

static CU_TestInfo policy_tests[] = {
    {"keepalive bounds a hung libvirtd", test_keepalive_bound},
    {"all keys", test_all_keys},
    {"every config vm key supported", test_every_config_key_supported},
    {"defaults unchanged", test_defaults_unchanged},
    {"errors", test_errors},
    {"precedence file > metadata > defaults", test_precedence},
    {"absent", test_absent},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"libvirt policy", NULL, NULL, NULL, NULL, policy_tests},
    CU_SUITE_INFO_NULL,
};
