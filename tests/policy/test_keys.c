/*
 * One key table, three front ends: a per-VM key given in a policy file
 * (config.c), in a libvirt domain's metadata (host/libvirt/lv_policy.c) or
 * at runtime (`ballastctl set-policy`, vm_override.c) is parsed by the one
 * parser of config.c's table. For every per-VM key and a spread of values,
 * good and bad: a value one front end accepts, every front end that takes
 * the key accepts, with the same result; a value one refuses, every one
 * refuses, with the same message but for how it names the key ("<shares>"
 * in metadata). Keys the table keeps out of metadata or runtime are
 * refused there whatever the value.
 */
#include "cunit_main.h"
#include "lv_policy.h"
#include "vm_override.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define NS "https://ballast.dev/xmlns/policy/1"

/* Good and bad values for one key or another (the test adds one longer than
 * the 40 characters a message quotes). */
static const char *const values[] = {
    "0",       "1",       "1.5",        "300",    "10000", "10001",
    "1000000", "1000001", "4294967296", "-1",     "+5",    "0x10",
    "1e3",     "abc",     "",           " 7 ",    "0%",    "50%",
    "33.3%",   "100%",    "100.5%",     "-5%",    "nan%",  "1e1%",
    "%",       "256M",    "1.5G",       "64T",    "65T",   "99999999999999999999999",
    "true",    "false",   "yes",        "no",     "maybe", "managed",
    "observe", "fixed",   "safe",       "Managed"};

/* What one front end made of KEY = VALUE: refused with a message (the key
 * named as in a file), or the key's value in an otherwise zeroed policy. */
struct outcome {
    bool ok;
    char *msg;
    struct config_vm_policy v;
};

static void outcome_clear(struct outcome *o)
{
    g_free(o->msg);
}

static bool size_eq(const struct config_size *a, const struct config_size *b)
{
    return a->kind == b->kind && a->bytes == b->bytes && a->pct == b->pct;
}

static bool policy_eq(const struct config_vm_policy *a, const struct config_vm_policy *b)
{
    return size_eq(&a->min_memory, &b->min_memory) && size_eq(&a->max_memory, &b->max_memory) &&
           size_eq(&a->fixed_memory, &b->fixed_memory) &&
           size_eq(&a->guaranteed_memory, &b->guaranteed_memory) && a->shares == b->shares &&
           a->mode == b->mode && a->agent_required == b->agent_required &&
           a->reclaim_allowed == b->reclaim_allowed && a->ksm == b->ksm;
}

/* Only the key's own member of v, as a layer of that key applied on zero. */
static struct config_vm_policy only_key(size_t i, const struct config_vm_policy *v)
{
    struct config_vm_layer l = {.v = *v, .set = 1u << i};
    struct config_vm_policy out;
    memset(&out, 0, sizeof(out));
    config_vm_layer_apply(&l, &out);
    return out;
}

static void rm_dir(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, n, NULL);
        g_unlink(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}

/* A policy file: [defaults] min_memory = 0% keeps the cross-key rules
 * (min <= max) out of the way, so only the value's own errors show. */
static struct outcome from_file(size_t i, const char *value)
{
    const struct config_key_info *k = config_vm_key_at(i);
    g_autofree char *dir = g_dir_make_tmp("ballast-keys-XXXXXX", NULL);
    g_autofree char *global = g_build_filename(dir, "ballastd.conf", NULL);
    g_autofree char *vm = g_build_filename(dir, "vm.conf", NULL);
    g_autofree char *text = g_strdup_printf("[vm]\n%s = %s\n", k->name, value);
    CU_ASSERT_TRUE(g_file_set_contents(global, "[defaults]\nmin_memory = 0%\n", -1, NULL));
    CU_ASSERT_TRUE(g_file_set_contents(vm, text, -1, NULL));
    g_autoptr(BallastConfig) c = config_load_dir(dir);
    struct outcome o = {.ok = c->errors->len == 0};
    if (!o.ok) {
        g_autofree char *prefix = g_strdup_printf("%s:2: ", vm);
        const char *e = c->errors->pdata[0];
        CU_ASSERT_TRUE(g_str_has_prefix(e, prefix));
        o.msg = g_strdup(g_str_has_prefix(e, prefix) ? e + strlen(prefix) : e);
    } else {
        o.v = only_key(i, &config_find_vm(c, "vm")->policy);
    }
    rm_dir(dir);
    return o;
}

/* <policy xmlns=NS><KEY>VALUE</KEY></policy>; messages say "metadata: <KEY>...". */
static struct outcome from_metadata(size_t i, const char *value)
{
    const struct config_key_info *k = config_vm_key_at(i);
    g_autofree char *escaped = g_markup_escape_text(value, -1);
    g_autofree char *xml =
        g_strdup_printf("<policy xmlns='" NS "'><%s>%s</%s></policy>", k->name, escaped, k->name);
    struct lv_domain_info info;
    CU_ASSERT_EQUAL_FATAL(lv_policy_xml_parse(xml, -1, &info, NULL), 0);
    struct lv_policy p;
    lv_policy_from_info(&info, &p, NULL);
    lv_domain_info_clear(&info);
    struct outcome o = {.ok = p.n_errors == 0};
    if (!o.ok) {
        g_autofree char *label = g_strdup_printf("<%s>", k->name);
        const char *e = p.first_error;
        CU_ASSERT_TRUE(g_str_has_prefix(e, "metadata: "));
        e += g_str_has_prefix(e, "metadata: ") ? strlen("metadata: ") : 0;
        if (g_str_has_prefix(e, label))
            o.msg = g_strconcat(k->name, e + strlen(label), NULL);
        else
            o.msg = g_strdup(e);
    } else {
        CU_ASSERT_EQUAL(p.keys.set, 1u << i);
        o.v = only_key(i, &p.keys.v);
    }
    lv_policy_clear(&p);
    return o;
}

static struct outcome from_set_policy(size_t i, const char *value, int *rc)
{
    struct vm_override ovr = {0};
    struct outcome o = {0};
    *rc = vm_override_set(&ovr, config_vm_key_at(i)->name, value, &o.msg);
    o.ok = *rc == 0;
    if (o.ok)
        o.v = only_key(i, &ovr.layer.v);
    return o;
}

static void check_same(const char *what, const char *key, const char *value,
                       const struct outcome *file, const struct outcome *other)
{
    bool same = file->ok == other->ok &&
                (file->ok ? policy_eq(&file->v, &other->v) : !g_strcmp0(file->msg, other->msg));
    if (!same)
        fprintf(stderr, "\n%s = '%s': file %s '%s', %s %s '%s'\n", key, value,
                file->ok ? "accepts" : "refuses", file->msg ? file->msg : "", what,
                other->ok ? "accepts" : "refuses", other->msg ? other->msg : "");
    CU_ASSERT_TRUE(same);
}

static void test_front_ends_agree(void)
{
    const struct config_key_info *k;
    unsigned accepted = 0, refused = 0;
    for (size_t i = 0; (k = config_vm_key_at(i)); i++) {
        for (size_t j = 0; j <= G_N_ELEMENTS(values); j++) {
            g_autofree char *longest = g_strnfill(60, '7');
            const char *v = j < G_N_ELEMENTS(values) ? values[j] : longest;
            struct outcome file = from_file(i, v);
            struct outcome meta = from_metadata(i, v);
            int rc;
            struct outcome runtime = from_set_policy(i, v, &rc);
            if (k->where & CONFIG_IN_METADATA)
                check_same("metadata", k->name, v, &file, &meta);
            else
                CU_ASSERT_TRUE(!meta.ok && strstr(meta.msg, "not allowed in metadata"));
            if (k->where & CONFIG_IN_RUNTIME)
                check_same("set-policy", k->name, v, &file, &runtime);
            else
                CU_ASSERT_EQUAL(rc, -ENOENT);
            if (file.ok)
                accepted++;
            else
                refused++;
            outcome_clear(&file);
            outcome_clear(&meta);
            outcome_clear(&runtime);
        }
    }
    /* The spread of values does reach both answers. */
    CU_ASSERT_TRUE(accepted >= 20);
    CU_ASSERT_TRUE(refused >= 100);
}

/* The bits of struct config_vm_layer cover every per-VM key, in table order. */
static void test_vm_keys_fit_layer(void)
{
    size_t n_vm = 0;
    const struct config_key_info *k;
    for (size_t i = 0; (k = config_key_at(i)); i++) {
        if (strcmp(k->group, "vm") != 0)
            continue;
        CU_ASSERT_PTR_EQUAL(config_vm_key_at(n_vm), k);
        CU_ASSERT_EQUAL(config_vm_key_index(k->name), (int)n_vm);
        CU_ASSERT_TRUE(k->where & CONFIG_IN_FILE);
        n_vm++;
    }
    CU_ASSERT_PTR_NULL(config_vm_key_at(n_vm));
    CU_ASSERT_TRUE(n_vm >= 8 && n_vm <= CONFIG_VM_KEYS_MAX);
    CU_ASSERT_EQUAL(config_vm_key_index("tick_interval_ms"), -1);
    /* Host-wide keys go in ballastd.conf only. */
    for (size_t i = 0; (k = config_key_at(i)); i++)
        if (strcmp(k->group, "vm") != 0)
            CU_ASSERT_EQUAL(k->where, CONFIG_IN_FILE);
}

/* The exact text the state file keeps reads back as the same value, small
 * percentages too (fuzz.config.value found 17 decimals were not enough). */
static void test_exact_text(void)
{
    int i = config_vm_key_index("min_memory");
    CU_ASSERT_FATAL(i >= 0);
    const char *texts[] = {"0.0000303444444444444444%",
                           "33.333333333333333%",
                           "1e-3%",
                           "0.000000000000000001%",
                           "100%",
                           "0%",
                           "268435456",
                           "1.5G"};
    for (size_t v = 0; v < sizeof(texts) / sizeof(texts[0]); v++) {
        struct config_vm_layer l = {0}, again = {0};
        char *msg = NULL;
        if (config_vm_layer_set(&l, (size_t)i, NULL, texts[v], &msg) < 0) {
            g_free(msg); /* "1e-3%": no exponents; refused, nothing to keep */
            continue;
        }
        char buf[48];
        CU_ASSERT_FATAL(config_vm_layer_exact(&l, (size_t)i, buf, sizeof(buf)));
        CU_ASSERT_EQUAL_FATAL(config_vm_layer_set(&again, (size_t)i, NULL, buf, &msg), 0);
        CU_ASSERT_EQUAL(l.v.min_memory.kind, again.v.min_memory.kind);
        CU_ASSERT_EQUAL(l.v.min_memory.bytes, again.v.min_memory.bytes);
        if (l.v.min_memory.pct != again.v.min_memory.pct)
            fprintf(stderr, "\n%s kept as %s\n", texts[v], buf);
        CU_ASSERT(l.v.min_memory.pct == again.v.min_memory.pct);
    }
}

static CU_TestInfo key_tests[] = {
    {"per-VM keys fit the layer", test_vm_keys_fit_layer},
    {"file, metadata and set-policy agree", test_front_ends_agree},
    {"exact text reads back", test_exact_text},
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo ballast_test_suites[] = {
    {"keys", NULL, NULL, NULL, NULL, key_tests},
    CU_SUITE_INFO_NULL,
};
