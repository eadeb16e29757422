/*
 * Domain XML inspection on GMarkup; see lv_xml.h. One pass keeps a stack of
 * element local names (the "path") and of xmlns declarations, and picks the
 * few things ballastd needs as they go by.
 */
#include "lv_xml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"

struct ns_decl {
    guint depth;  /* element depth that declared it (1 = root) */
    char *prefix; /* "" for a default namespace */
    char *uri;
};

struct parse_state {
    struct lv_domain_info *out;
    bool policy_only;   /* lv_policy_xml_parse: the root is the policy element */
    bool root_seen;     /* GMarkup takes a document of comments and PIs alone */
    GPtrArray *path;    /* char * local names, root first */
    GArray *ns;         /* struct ns_decl */
    GString *text;      /* text of the current leaf */
    char *memory_unit;  /* unit of <memory>/<currentMemory> being read */
    guint policy_depth; /* depth of our policy element, 0 = not inside */
    char *policy_key;   /* the key element being read, depth policy_depth + 1 */
    bool policy_key_nested_reported;
    /* The <channel> being read. */
    bool in_channel;
    bool channel_unix;
    char *channel_path;
    char *channel_mode;
    char *channel_target_type;
    char *channel_target_name;
    /* The first virtio-mem <memory> being read (lv_vmem_info). */
    guint vmem_depth;       /* its depth, 0 = not inside */
    GString *vmem_rec;      /* the element re-written as read; NULL once refused */
    bool vmem_in_requested; /* its <requested>: the text is the mark */
    char *vmem_unit;        /* unit of the figure being read */
    char *memdev_unit;      /* unit of any memory device's <target><size> being read */
};

/* Stands for the requested size in lv_vmem_info.update_template. XML 1.0
 * text cannot hold U+0001 and g_markup_escape_text writes it as a character
 * reference, so no recorded text or attribute value can contain it. */
#define VMEM_MARK "\x01"

static const char *attr(const char **names, const char **values, const char *want)
{
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], want) == 0)
            return values[i];
    return NULL;
}

static const char *local_name(const char *qname)
{
    const char *colon = strchr(qname, ':');
    return colon ? colon + 1 : qname;
}

/* The namespace URI of a qualified name, from the innermost declaration. */
static const char *ns_uri(const struct parse_state *st, const char *qname)
{
    const char *colon = strchr(qname, ':');
    size_t plen = colon ? (size_t)(colon - qname) : 0;
    for (guint i = st->ns->len; i-- > 0;) {
        const struct ns_decl *d = &g_array_index(st->ns, struct ns_decl, i);
        if (strlen(d->prefix) == plen && strncmp(d->prefix, qname, plen) == 0)
            return d->uri[0] ? d->uri : NULL; /* xmlns="" undeclares */
    }
    return NULL;
}

/* True when the current path (after the push) is exactly the given names. */
static bool path_is(const struct parse_state *st, const char *const *names, guint n)
{
    if (st->path->len != n)
        return false;
    for (guint i = 0; i < n; i++)
        if (strcmp(st->path->pdata[i], names[i]) != 0)
            return false;
    return true;
}

#define PATH_IS(st, ...)                                                                           \
    path_is(st, (const char *const[]){__VA_ARGS__},                                                \
            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

G_GNUC_PRINTF(2, 3) static void policy_error(struct parse_state *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(st->out->policy_errors, msg);
}

G_GNUC_PRINTF(2, 3) static void vmem_error(struct parse_state *st, const char *fmt, ...)
{
    if (st->out->vmem.error)
        return; /* the first reason is the one to show */
    va_list ap;
    va_start(ap, fmt);
    st->out->vmem.error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

/* Appends to the recorded element; past LV_VMEM_XML_MAX the record is
 * dropped and the device cannot be driven (no real one comes close). */
static void vmem_record(struct parse_state *st, const char *text, size_t len)
{
    if (!st->vmem_rec)
        return;
    if (st->vmem_rec->len + len > LV_VMEM_XML_MAX) {
        vmem_error(st, "its XML is over %d bytes", LV_VMEM_XML_MAX);
        g_string_free(st->vmem_rec, TRUE);
        st->vmem_rec = NULL;
        return;
    }
    g_string_append_len(st->vmem_rec, text, (gssize)len);
}

/* The <target> child of the recorded <memory> being read ("size",
 * "requested", ...), or NULL. Inside the record the path starts with
 * domain/devices/memory (vmem_on_start). */
static const char *vmem_target_child(const struct parse_state *st)
{
    if (st->path->len != 5 || strcmp(st->path->pdata[3], "target") != 0)
        return NULL;
    return st->path->pdata[4];
}

static void vmem_start(struct parse_state *st, const char *element, const char **names,
                       const char **values)
{
    struct lv_vmem_info *v = &st->out->vmem;
    if (st->vmem_in_requested)
        vmem_error(st, "<requested> holds <%s>: it must hold a number alone", element);
    const char *child = vmem_target_child(st);
    bool requested = g_strcmp0(child, "requested") == 0;
    g_autoptr(GString) tag = g_string_new("<");
    g_string_append(tag, element);
    if (requested) {
        /* Always written in KiB: the unit goes with the number ballastd puts in. */
        g_string_append(tag, " unit='KiB'>" VMEM_MARK);
    } else {
        for (size_t i = 0; names[i]; i++) {
            g_autofree char *value = g_markup_escape_text(values[i], -1);
            g_string_append_printf(tag, " %s='%s'", names[i], value);
        }
        g_string_append_c(tag, '>');
    }
    vmem_record(st, tag->str, tag->len);
    st->vmem_in_requested = requested;

    if (child) {
        g_free(st->vmem_unit);
        st->vmem_unit = g_strdup(attr(names, values, "unit"));
    } else if (PATH_IS(st, "domain", "devices", "memory", "alias")) {
        g_free(v->alias);
        v->alias = g_strdup(attr(names, values, "name"));
    }
}

/* The end of an element inside the recorded <memory> (its end tag is
 * recorded by the caller): a <target> figure is read. */
static void vmem_end(struct parse_state *st, const char *element)
{
    struct lv_vmem_info *v = &st->out->vmem;
    const char *child = vmem_target_child(st);
    g_autofree char *t = child ? g_strstrip(g_strdup(st->text->str)) : NULL;
    uint64_t *field = NULL;
    if (!child) {
        /* not a figure */
    } else if (strcmp(child, "size") == 0) {
        field = &v->size_bytes;
    } else if (strcmp(child, "block") == 0) {
        field = &v->block_bytes;
    } else if (strcmp(child, "requested") == 0) {
        field = &v->requested_bytes;
    } else if (strcmp(child, "current") == 0) {
        field = &v->current_bytes;
        v->has_current = true;
    } else if (strcmp(child, "node") == 0) {
        guint64 node;
        if (g_ascii_string_to_unsigned(t, 10, 0, G_MAXINT32, &node, NULL))
            v->node = (int32_t)node;
        else
            vmem_error(st, "<node>%s</node> is not a NUMA node number", t);
    }
    if (field && lv_memory_to_bytes(t, st->vmem_unit, field) < 0)
        vmem_error(st, "<%s>%s</%s> unit '%s' is not a memory size", element, t, element,
                   st->vmem_unit ? st->vmem_unit : "KiB");
    if (child) /* an element nested in a figure leaves the figure's unit */
        g_clear_pointer(&st->vmem_unit, g_free);
    st->vmem_in_requested = false;
}

/* The end of the recorded <memory> (its end tag recorded): the figures
 * ballastd needs are there and the template has exactly one place for the
 * requested size. */
static void vmem_done(struct parse_state *st)
{
    struct lv_vmem_info *v = &st->out->vmem;
    char *rec = st->vmem_rec ? g_string_free(st->vmem_rec, FALSE) : NULL;
    st->vmem_rec = NULL;
    st->vmem_depth = 0;
    size_t marks = 0;
    for (const char *p = rec; p && (p = strstr(p, VMEM_MARK)); p++)
        marks++;
    if (v->size_bytes == 0)
        vmem_error(st, "no <size> in its <target>");
    else if (v->block_bytes == 0)
        vmem_error(st, "no <block> in its <target>");
    else if (marks != 1)
        vmem_error(st, "%s <requested> in its <target>", marks ? "more than one" : "no");
    else if (v->requested_bytes > v->size_bytes ||
             (v->has_current && v->current_bytes > v->size_bytes))
        vmem_error(st, "requested or current size over its size of %" PRIu64 " bytes",
                   v->size_bytes);
    else if (v->size_bytes % v->block_bytes)
        vmem_error(st, "size of %" PRIu64 " bytes is not a whole number of %" PRIu64 "-byte blocks",
                   v->size_bytes, v->block_bytes);
    if (v->error)
        g_free(rec);
    else
        v->update_template = rec;
}

/* A virtio-mem <memory> begins, or an element inside the first one: true
 * when it is the device's (recorded and read by vmem_start). */
static bool vmem_on_start(struct parse_state *st, const char *element, const char **names,
                          const char **values, guint depth)
{
    struct lv_domain_info *out = st->out;
    if (PATH_IS(st, "domain", "devices", "memory") &&
        g_strcmp0(attr(names, values, "model"), "virtio-mem") == 0) {
        out->vmem.count++;
        if (!out->vmem.present) {
            out->vmem.present = true;
            out->vmem.node = -1;
            st->vmem_depth = depth;
            st->vmem_rec = g_string_new(NULL);
        }
    }
    if (!st->vmem_depth)
        return false;
    vmem_start(st, element, names, values);
    return true;
}

/* <cell id='0' cpus='0' memory='131072' unit='KiB'/>: added to the boot
 * memory. A cell that cannot be read makes it unknown, never a guess. */
static void numa_cell(struct parse_state *st, const char **names, const char **values)
{
    struct lv_domain_info *out = st->out;
    uint64_t bytes;
    if (lv_memory_to_bytes(attr(names, values, "memory"), attr(names, values, "unit"), &bytes) <
            0 ||
        bytes > UINT64_MAX - out->numa_memory_bytes)
        out->numa_invalid = true;
    else
        out->numa_memory_bytes += bytes;
}

/* The end of any memory device's <target><size> (the text is read). */
static void memdev_size_done(struct parse_state *st)
{
    struct lv_domain_info *out = st->out;
    g_autofree char *v = g_strstrip(g_strdup(st->text->str));
    uint64_t bytes;
    if (lv_memory_to_bytes(v, st->memdev_unit, &bytes) < 0 ||
        bytes > UINT64_MAX - out->memory_devices_bytes)
        out->memory_devices_invalid = true;
    else
        out->memory_devices_bytes += bytes;
    g_clear_pointer(&st->memdev_unit, g_free);
}

/* The domain's own elements ballastd reads (not the policy, not the
 * virtio-mem device's). */
static void domain_element(struct parse_state *st, const char *element, const char **names,
                           const char **values)
{
    struct lv_domain_info *out = st->out;
    if (PATH_IS(st, "domain")) {
        g_free(out->domain_type);
        out->domain_type = g_strdup(attr(names, values, "type"));
    } else if (PATH_IS(st, "domain", "os", "type")) {
        g_free(out->machine);
        out->machine = g_strdup(attr(names, values, "machine"));
    } else if (PATH_IS(st, "domain", "memory") || PATH_IS(st, "domain", "currentMemory")) {
        g_free(st->memory_unit);
        st->memory_unit = g_strdup(attr(names, values, "unit"));
    } else if (PATH_IS(st, "domain", "devices", "memballoon")) {
        const char *model = attr(names, values, "model");
        g_free(out->balloon_model);
        out->balloon_model = g_strdup(model ? model : "");
        out->has_balloon = model && g_str_has_prefix(model, "virtio");
        out->free_page_reporting = g_strcmp0(attr(names, values, "freePageReporting"), "on") == 0;
        out->autodeflate = g_strcmp0(attr(names, values, "autodeflate"), "on") == 0;
    } else if (PATH_IS(st, "domain", "devices", "memballoon", "stats")) {
        const char *p = attr(names, values, "period");
        guint64 v = 0;
        if (p && g_ascii_string_to_unsigned(p, 10, 0, G_MAXUINT32, &v, NULL))
            out->stats_period_s = (uint32_t)v;
    } else if (PATH_IS(st, "domain", "devices", "memballoon", "address")) {
        out->balloon_virtio_mmio = g_strcmp0(attr(names, values, "type"), "virtio-mmio") == 0;
    } else if (PATH_IS(st, "domain", "devices", "channel")) {
        st->in_channel = true;
        st->channel_unix = g_strcmp0(attr(names, values, "type"), "unix") == 0;
    } else if (st->in_channel && PATH_IS(st, "domain", "devices", "channel", "source")) {
        g_free(st->channel_path);
        g_free(st->channel_mode);
        st->channel_path = g_strdup(attr(names, values, "path"));
        st->channel_mode = g_strdup(attr(names, values, "mode"));
    } else if (st->in_channel && PATH_IS(st, "domain", "devices", "channel", "target")) {
        g_free(st->channel_target_type);
        g_free(st->channel_target_name);
        st->channel_target_type = g_strdup(attr(names, values, "type"));
        st->channel_target_name = g_strdup(attr(names, values, "name"));
    }
}

static void on_start(GMarkupParseContext *ctx, const char *element, const char **names,
                     const char **values, gpointer data, GError **error)
{
    struct parse_state *st = data;
    struct lv_domain_info *out = st->out;
    g_ptr_array_add(st->path, g_strdup(local_name(element)));
    guint depth = st->path->len;
    for (size_t i = 0; names[i]; i++) {
        if (strcmp(names[i], "xmlns") == 0 || g_str_has_prefix(names[i], "xmlns:")) {
            struct ns_decl d = {depth, g_strdup(names[i][5] ? names[i] + 6 : ""),
                                g_strdup(values[i])};
            g_array_append_val(st->ns, d);
        }
    }
    g_string_truncate(st->text, 0);
    if (depth == 1)
        st->root_seen = true;

    if (depth == 1 && !st->policy_only && strcmp(element, "domain") != 0) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "root element is <%s>, not <domain>", element);
        return;
    }

    /* The root of a virDomainGetMetadata reply is ours whatever it says: libvirt
     * selected it by our namespace URI and strips the namespace from it. */
    if (st->policy_only && depth == 1) {
        out->has_policy = true;
        st->policy_depth = depth;
        if (strcmp(local_name(element), LV_POLICY_ELEMENT) != 0)
            policy_error(st, "<%s> in namespace %s: expected <%s>", element, LV_POLICY_NS_URI,
                         LV_POLICY_ELEMENT);
        return;
    }
    /* Our policy element under <domain><metadata>. */
    if (st->policy_depth == 0 && strcmp(local_name(element), LV_POLICY_ELEMENT) == 0 &&
        g_strcmp0(ns_uri(st, element), LV_POLICY_NS_URI) == 0 &&
        PATH_IS(st, "domain", "metadata", LV_POLICY_ELEMENT)) {
        if (out->has_policy) {
            policy_error(st, "more than one <%s> element in namespace %s", LV_POLICY_ELEMENT,
                         LV_POLICY_NS_URI);
        }
        out->has_policy = true;
        st->policy_depth = depth;
        return;
    }
    if (st->policy_depth) {
        if (depth == st->policy_depth + 1) {
            g_free(st->policy_key);
            st->policy_key = g_strdup(local_name(element));
            st->policy_key_nested_reported = false;
        } else if (!st->policy_key_nested_reported) {
            policy_error(st, "<%s> must hold text, not elements", st->policy_key);
            st->policy_key_nested_reported = true;
        }
        return;
    }
    if (st->policy_only)
        return;

    if (PATH_IS(st, "domain", "devices", "memory", "target", "size")) {
        g_free(st->memdev_unit);
        st->memdev_unit = g_strdup(attr(names, values, "unit"));
    }
    if (vmem_on_start(st, element, names, values, depth))
        return;
    if (PATH_IS(st, "domain", "cpu", "numa", "cell")) {
        numa_cell(st, names, values);
        return;
    }

    domain_element(st, element, names, values);
}

static void channel_done(struct parse_state *st)
{
    struct lv_domain_info *out = st->out;
    if (st->channel_unix && g_strcmp0(st->channel_target_type, "virtio") == 0 &&
        g_strcmp0(st->channel_target_name, LV_AGENT_PORT_NAME) == 0 && !out->has_agent_channel) {
        out->has_agent_channel = true;
        out->agent_socket_path = g_steal_pointer(&st->channel_path);
        /* libvirt's default for a unix channel source is bind (QEMU listens). */
        out->agent_source_mode =
            st->channel_mode ? g_steal_pointer(&st->channel_mode) : g_strdup("bind");
    }
    st->in_channel = false;
    st->channel_unix = false;
    g_clear_pointer(&st->channel_path, g_free);
    g_clear_pointer(&st->channel_mode, g_free);
    g_clear_pointer(&st->channel_target_type, g_free);
    g_clear_pointer(&st->channel_target_name, g_free);
}

static void policy_key_done(struct parse_state *st)
{
    struct lv_domain_info *out = st->out;
    char *key = g_steal_pointer(&st->policy_key);
    if (st->policy_key_nested_reported) {
        g_free(key);
        return;
    }
    for (guint i = 0; i < out->policy_keys->len; i++) {
        if (strcmp(out->policy_keys->pdata[i], key) == 0) {
            policy_error(st, "<%s> given twice", key);
            g_free(key);
            return;
        }
    }
    if (out->policy_keys->len >= LV_POLICY_MAX_KEYS) {
        policy_error(st, "more than %d keys", LV_POLICY_MAX_KEYS);
        g_free(key);
        return;
    }
    if (st->text->len > LV_POLICY_MAX_VALUE) {
        policy_error(st, "<%s>: value longer than %d bytes", key, LV_POLICY_MAX_VALUE);
        g_free(key);
        return;
    }
    g_ptr_array_add(out->policy_keys, key);
    g_ptr_array_add(out->policy_values, g_strstrip(g_strdup(st->text->str)));
}

static void on_end(GMarkupParseContext *ctx, const char *element, gpointer data, GError **error)
{
    struct parse_state *st = data;
    struct lv_domain_info *out = st->out;
    guint depth = st->path->len;

    if (!st->policy_only && PATH_IS(st, "domain", "devices", "memory", "target", "size"))
        memdev_size_done(st);
    if (st->policy_depth) {
        if (depth == st->policy_depth)
            st->policy_depth = 0;
        else if (depth == st->policy_depth + 1 && st->policy_key)
            policy_key_done(st);
    } else if (st->vmem_depth) {
        g_autofree char *tag = g_strdup_printf("</%s>", element);
        vmem_record(st, tag, strlen(tag));
        if (depth == st->vmem_depth)
            vmem_done(st);
        else
            vmem_end(st, element);
    } else if (!st->policy_only) {
        if (PATH_IS(st, "domain", "name")) {
            g_free(out->name);
            out->name = g_strstrip(g_strdup(st->text->str));
        } else if (PATH_IS(st, "domain", "uuid")) {
            g_free(out->uuid);
            out->uuid = g_strstrip(g_strdup(st->text->str));
        } else if (PATH_IS(st, "domain", "memory") || PATH_IS(st, "domain", "currentMemory")) {
            g_autofree char *v = g_strstrip(g_strdup(st->text->str));
            uint64_t bytes;
            if (lv_memory_to_bytes(v, st->memory_unit, &bytes) < 0) {
                g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                            "<%s>%s</%s> unit '%s': not a memory size", element, v, element,
                            st->memory_unit ? st->memory_unit : "KiB");
                return;
            }
            if (strcmp(element, "memory") == 0)
                out->memory_bytes = bytes;
            else
                out->current_memory_bytes = bytes;
        } else if (PATH_IS(st, "domain", "devices", "channel")) {
            channel_done(st);
        }
    }

    while (st->ns->len && g_array_index(st->ns, struct ns_decl, st->ns->len - 1).depth == depth) {
        struct ns_decl *d = &g_array_index(st->ns, struct ns_decl, st->ns->len - 1);
        g_free(d->prefix);
        g_free(d->uri);
        g_array_set_size(st->ns, st->ns->len - 1);
    }
    g_ptr_array_remove_index(st->path, st->path->len - 1);
    g_string_truncate(st->text, 0);
}

static void on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                    GError **error)
{
    struct parse_state *st = data;
    if (st->vmem_depth && !st->vmem_in_requested) {
        g_autofree char *escaped = g_markup_escape_text(text, (gssize)len);
        vmem_record(st, escaped, strlen(escaped));
    }
    /* Only leaf text is ever used; cap what a hostile value can make us hold. */
    if (st->text->len < LV_POLICY_MAX_VALUE * 4)
        g_string_append_len(st->text, text, (gssize)MIN(len, LV_POLICY_MAX_VALUE * 4));
}

static const GMarkupParser parser = {on_start, on_end, on_text, NULL, NULL};

void lv_domain_info_clear(struct lv_domain_info *info)
{
    g_free(info->name);
    g_free(info->uuid);
    g_free(info->domain_type);
    g_free(info->machine);
    g_free(info->balloon_model);
    g_free(info->agent_socket_path);
    g_free(info->agent_source_mode);
    if (info->policy_keys)
        g_ptr_array_unref(info->policy_keys);
    if (info->policy_values)
        g_ptr_array_unref(info->policy_values);
    if (info->policy_errors)
        g_ptr_array_unref(info->policy_errors);
    g_free(info->vmem.alias);
    g_free(info->vmem.error);
    g_free(info->vmem.update_template);
    memset(info, 0, sizeof(*info));
}

static int parse(const char *xml, gssize len, bool policy_only, struct lv_domain_info *out,
                 GError **error)
{
    memset(out, 0, sizeof(*out));
    out->policy_keys = g_ptr_array_new_with_free_func(g_free);
    out->policy_values = g_ptr_array_new_with_free_func(g_free);
    out->policy_errors = g_ptr_array_new_with_free_func(g_free);
    size_t n = len < 0 ? strlen(xml) : (size_t)len;
    if (n > LV_XML_MAX_BYTES) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "XML of %zu bytes (max %u)", n, LV_XML_MAX_BYTES);
        lv_domain_info_clear(out);
        return -EINVAL;
    }
    struct parse_state st = {
        .out = out,
        .policy_only = policy_only,
        .path = g_ptr_array_new_with_free_func(g_free),
        .ns = g_array_new(FALSE, TRUE, sizeof(struct ns_decl)),
        .text = g_string_new(NULL),
    };
    GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &st, NULL);
    bool ok = g_markup_parse_context_parse(ctx, xml, (gssize)n, error) &&
              g_markup_parse_context_end_parse(ctx, error);
    /* "<?xml version='1.0'?>" alone parses: without a root it is no domain,
     * and no metadata element either (fuzz.libvirt.xml). */
    if (ok && !st.root_seen) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_EMPTY, "no root element");
        ok = false;
    }
    g_markup_parse_context_free(ctx);
    for (guint i = 0; i < st.ns->len; i++) {
        g_free(g_array_index(st.ns, struct ns_decl, i).prefix);
        g_free(g_array_index(st.ns, struct ns_decl, i).uri);
    }
    g_array_unref(st.ns);
    g_ptr_array_unref(st.path);
    g_string_free(st.text, TRUE);
    g_free(st.memory_unit);
    g_free(st.policy_key);
    g_free(st.channel_path);
    g_free(st.channel_mode);
    g_free(st.channel_target_type);
    g_free(st.channel_target_name);
    if (st.vmem_rec)
        g_string_free(st.vmem_rec, TRUE);
    g_free(st.vmem_unit);
    g_free(st.memdev_unit);
    if (!ok) {
        lv_domain_info_clear(out);
        return -EINVAL;
    }
    return 0;
}

int lv_domain_info_parse(const char *xml, gssize len, struct lv_domain_info *out, GError **error)
{
    return parse(xml, len, false, out, error);
}

int lv_policy_xml_parse(const char *xml, gssize len, struct lv_domain_info *out, GError **error)
{
    return parse(xml, len, true, out, error);
}

/* libvirt's units (formatdomain "memory", virScaleInteger): "b"/"bytes";
 * otherwise a letter k, m, g, t, p, e (any case), then nothing or "iB" for
 * powers of 1024, or "B" for powers of 1000. No unit means KiB. */
int lv_memory_to_bytes(const char *value, const char *unit, uint64_t *out_bytes)
{
    uint64_t mult;
    if (!unit)
        unit = "KiB";
    if (g_ascii_strcasecmp(unit, "b") == 0 || g_ascii_strcasecmp(unit, "bytes") == 0) {
        mult = 1;
    } else {
        const char *letters = "kmgtpe";
        const char *pos = unit[0] ? strchr(letters, g_ascii_tolower(unit[0])) : NULL;
        if (!pos)
            return -EINVAL;
        const char *suffix = unit + 1;
        uint64_t base;
        if (!suffix[0] || g_ascii_strcasecmp(suffix, "iB") == 0)
            base = 1024;
        else if (g_ascii_strcasecmp(suffix, "B") == 0)
            base = 1000;
        else
            return -EINVAL;
        mult = 1;
        for (const char *p = letters; p <= pos; p++)
            mult *= base;
    }
    if (!value || !g_ascii_isdigit(value[0]))
        return -EINVAL;
    guint64 v;
    g_autoptr(GError) err = NULL;
    if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &v, &err))
        return g_error_matches(err, G_NUMBER_PARSER_ERROR, G_NUMBER_PARSER_ERROR_OUT_OF_BOUNDS)
                   ? -ERANGE
                   : -EINVAL;
    if (v > UINT64_MAX / mult)
        return -ERANGE;
    *out_bytes = v * mult;
    return 0;
}

char *lv_vmem_update_xml(const struct lv_vmem_info *vmem, uint64_t requested_bytes, GError **error)
{
    if (!vmem->present || !vmem->update_template) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "no usable virtio-mem device%s%s", vmem->error ? ": " : "",
                    vmem->error ? vmem->error : "");
        return NULL;
    }
    if (requested_bytes > vmem->size_bytes || requested_bytes % vmem->block_bytes ||
        requested_bytes % 1024) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "requested size %" PRIu64 " bytes: not whole %" PRIu64
                    "-byte blocks within the device's %" PRIu64 " bytes",
                    requested_bytes, vmem->block_bytes, vmem->size_bytes);
        return NULL;
    }
    char kib[24];
    snprintf(kib, sizeof(kib), "%" PRIu64, requested_bytes / 1024);
    g_auto(GStrv) parts = g_strsplit(vmem->update_template, VMEM_MARK, 0);
    return g_strjoinv(kib, parts);
}

bool lv_machine_is_microvm(const char *machine)
{
    return machine && (strcmp(machine, "microvm") == 0 || g_str_has_prefix(machine, "microvm-"));
}
