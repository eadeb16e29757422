/*
 * fuzz.libvirt.xml: any bytes as what libvirt hands ballastd — a domain's
 * XML (virDomainGetXMLDesc) or its ballast metadata element
 * (virDomainGetMetadata), chosen by the first byte — through lv_xml.c's
 * GMarkup reader with its namespace stack, then lv_policy.c turning the
 * <ballast:policy> children into per-VM keys through config.h's one parser
 * (sizes, percentages, shares, modes) and the rules between them.
 *
 * Properties (abort on violation): no crash, leak, undefined behaviour or
 * glib critical; a refusal comes with an error and leaves the info cleared;
 * a parsed policy holds matching keys and values, at most
 * LV_POLICY_MAX_KEYS of them, and each error the policy has is counted and
 * said once, with the first one kept. A virtio-mem device is either
 * usable (a template, no error) or not (an error, no template); a usable
 * one's update XML, asked for the device's own requested size rounded to
 * its blocks, parses back inside a domain to the same device with that
 * requested size, and asks for nothing outside the device.
 */
#include "fuzz/fuzz_log.h"
#include "lv_policy.h"
#include "lv_xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cleared(const struct lv_domain_info *info)
{
    static const struct lv_domain_info zero;
    if (memcmp(info, &zero, sizeof(zero)) != 0)
        abort();
}

static void check_vmem(const struct lv_vmem_info *v)
{
    if (!v->present) {
        if (v->count || v->error || v->update_template || v->alias)
            abort();
        return;
    }
    if (!v->count || (v->error == NULL) != (v->update_template != NULL))
        abort();
    if (!v->update_template) {
        if (lv_vmem_update_xml(v, 0, NULL))
            abort();
        return;
    }
    if (!v->block_bytes || v->size_bytes % v->block_bytes || v->requested_bytes > v->size_bytes)
        abort();
    uint64_t want = v->requested_bytes / v->block_bytes * v->block_bytes;
    GError *error = NULL;
    char *upd = lv_vmem_update_xml(v, want, &error);
    if (want % 1024) { /* blocks of a byte count libvirt cannot write in KiB */
        if (upd || !error)
            abort();
        g_clear_error(&error);
        return;
    }
    if (!upd || error)
        abort();
    char *wrapped = g_strdup_printf("<domain><devices>%s</devices></domain>", upd);
    struct lv_domain_info back;
    if (lv_domain_info_parse(wrapped, -1, &back, NULL) < 0 || !back.vmem.present ||
        back.vmem.error || back.vmem.requested_bytes != want ||
        back.vmem.size_bytes != v->size_bytes || back.vmem.block_bytes != v->block_bytes ||
        g_strcmp0(back.vmem.alias, v->alias) != 0)
        abort();
    lv_domain_info_clear(&back);
    g_free(wrapped);
    g_free(upd);
    if (v->size_bytes <= UINT64_MAX - v->block_bytes &&
        lv_vmem_update_xml(v, v->size_bytes + v->block_bytes, NULL))
        abort(); /* never past the device */
}

static void check_policy(const struct lv_domain_info *info)
{
    if (!info->policy_keys || !info->policy_values || !info->policy_errors ||
        info->policy_keys->len != info->policy_values->len ||
        info->policy_keys->len > LV_POLICY_MAX_KEYS)
        abort();
    g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
    struct lv_policy p;
    guint n = lv_policy_from_info(info, &p, errors);
    if (p.present != info->has_policy || n != p.n_errors || errors->len != n ||
        (n > 0) != (p.first_error != NULL) || p.n_keys > info->policy_keys->len)
        abort();
    if (n && strcmp(p.first_error, errors->pdata[0]) != 0)
        abort();
    for (size_t i = 0; i < CONFIG_VM_KEYS_MAX; i++)
        if ((p.keys.set & (1u << i)) && !config_vm_key_at(i))
            abort(); /* a bit set for a key the table does not have */
    lv_policy_clear(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        fuzz_log_fatal(G_LOG_LEVEL_CRITICAL);
        once = true;
    }
    if (size == 0)
        return 0;
    bool metadata = data[0] & 1;
    const char *xml = (const char *)data + 1;
    gssize len = (gssize)size - 1;
    struct lv_domain_info info;
    g_autoptr(GError) error = NULL;
    int rc = metadata ? lv_policy_xml_parse(xml, len, &info, &error)
                      : lv_domain_info_parse(xml, len, &info, &error);
    if ((rc < 0) != (error != NULL))
        abort();
    if (rc < 0) {
        check_cleared(&info);
        return 0;
    }
    if (metadata && !info.has_policy)
        abort();
    check_policy(&info);
    if (info.has_balloon && !info.balloon_model)
        abort();
    check_vmem(&info.vmem);
    lv_domain_info_clear(&info);
    return 0;
}
