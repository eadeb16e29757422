/*
 * What ballastd needs to know from a libvirt domain XML, read by pure
 * functions on strings (no libvirt call, no I/O): does the domain have a
 * virtio memballoon (and with which stats period), where is the host end of
 * its ballast agent channel, which machine type and domain type it runs, how
 * much memory it was given, and the ballast policy in its <metadata>.
 *
 * The XML comes from libvirt (virDomainGetXMLDesc, virDomainGetMetadata) and
 * is parsed with GMarkup: libvirt writes plain, well-formed XML without a
 * DOCTYPE, which is all GMarkup needs. Namespace prefixes are resolved by
 * hand (a small stack of xmlns declarations), so <b:policy xmlns:b='URI'>
 * and <policy xmlns='URI'> are the same element, whatever the prefix.
 */
#ifndef BALLAST_LV_XML_H
#define BALLAST_LV_XML_H

#include "proto.h"

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

/* The virtio-serial port name of the ballast agent (same as the fleet's). */
#define LV_AGENT_PORT_NAME PROTO_AGENT_PORT_NAME

/* The namespace of ballast's <metadata> element, and its local name. */
#define LV_POLICY_NS_URI    "https://ballast.dev/xmlns/policy/1"
#define LV_POLICY_ELEMENT   "policy"
#define LV_POLICY_NS_PREFIX "ballast"  /* the prefix ballast writes; any prefix is read */
#define LV_POLICY_MAX_KEYS  32         /* more children than this: refused */
#define LV_POLICY_MAX_VALUE 256        /* bytes of one value */
#define LV_XML_MAX_BYTES    (4u << 20) /* a domain XML larger than this is refused */
#define LV_VMEM_XML_MAX     8192       /* bytes of one virtio-mem element kept for updates */

/*
 * The domain's first <memory model='virtio-mem'> device, as libvirt prints
 * it (docs/virtio-mem.md, "libvirt"). ballastd drives one device per guest,
 * the first, as the fleet source does; the others are counted so status can
 * say they are left alone. A device whose figures cannot be read leaves the
 * domain usable (its balloon is still driven) and says why in error.
 */
struct lv_vmem_info {
    bool present;             /* a virtio-mem device was found */
    uint32_t count;           /* virtio-mem devices in the domain */
    char *alias;              /* <alias name=...> ("virtiomem0"); NULL in an inactive XML */
    int32_t node;             /* <target><node>; -1 when absent */
    uint64_t size_bytes;      /* <target><size>: the most it can plug */
    uint64_t block_bytes;     /* <target><block> */
    uint64_t requested_bytes; /* <target><requested> */
    uint64_t current_bytes;   /* <target><current>: plugged now (live XML, libvirt >= 7.9) */
    bool has_current;
    char *error; /* why the device cannot be driven; NULL when it can */
    /* The element as read, its <requested> text replaced by a mark that no
     * escaped text can contain: lv_vmem_update_xml's template. NULL with error. */
    char *update_template;
};

struct lv_domain_info {
    char *name;
    char *uuid;            /* "xxxxxxxx-xxxx-..." as written, NULL when absent */
    char *domain_type;     /* <domain type=...>: "kvm", "qemu" */
    char *machine;         /* <os><type machine=...>: "pc-q35-7.2", "microvm"; NULL when absent */
    uint64_t memory_bytes; /* <memory>: the maximum (boot) size; 0 when absent */
    uint64_t current_memory_bytes; /* <currentMemory>; 0 when absent */
    /* The sum of <cpu><numa><cell memory=...>: with memory devices, the
     * memory the guest has at boot (libvirt's initial memory, QEMU's -m);
     * 0 when there is no cell or one cannot be read (numa_invalid). */
    uint64_t numa_memory_bytes;
    bool numa_invalid;
    /* The sum of every <devices><memory><target><size>, any model: <memory>
     * less it is the boot memory too; memory_devices_invalid when one of
     * them cannot be read. */
    uint64_t memory_devices_bytes;
    bool memory_devices_invalid;

    bool has_balloon;         /* a <memballoon> of a virtio model */
    char *balloon_model;      /* as written ("virtio", "none", "xen"...); NULL when no element */
    uint32_t stats_period_s;  /* <memballoon><stats period=...>; 0 = off or absent */
    bool free_page_reporting; /* freePageReporting='on' */
    bool autodeflate;         /* autodeflate='on' */
    bool balloon_virtio_mmio; /* <address type='virtio-mmio'/> (microvm) */

    /* The <channel type='unix'> whose virtio target is LV_AGENT_PORT_NAME. */
    bool has_agent_channel;
    char *agent_socket_path; /* <source path=...>, NULL when libvirt has not chosen one yet */
    char *agent_source_mode; /* "bind" (QEMU listens: what ballast wants) or "connect" */

    /* The ballast <metadata> element, as key -> text (unvalidated). */
    bool has_policy;
    GPtrArray *policy_keys;   /* char *, in document order */
    GPtrArray *policy_values; /* char *, same index */
    GPtrArray *policy_errors; /* char *: structure errors found while collecting */

    struct lv_vmem_info vmem;
};

void lv_domain_info_clear(struct lv_domain_info *info);

/*
 * Parses a domain XML (len -1 = NUL-terminated). On success fills *out
 * (clear it with lv_domain_info_clear) and returns 0; malformed XML, a root
 * that is not <domain>, or text over LV_XML_MAX_BYTES: -EINVAL with *error
 * set, *out left cleared.
 */
int lv_domain_info_parse(const char *xml, gssize len, struct lv_domain_info *out, GError **error);

/*
 * Parses the text virDomainGetMetadata(ELEMENT, LV_POLICY_NS_URI) returns:
 * the policy element alone, which libvirt hands back without its namespace
 * (it picked the element by namespace already). Fills only the policy_*
 * fields of *out; has_policy is true, and a root other than <policy> is a
 * policy error. 0 or -EINVAL (malformed XML).
 */
int lv_policy_xml_parse(const char *xml, gssize len, struct lv_domain_info *out, GError **error);

/*
 * Converts a libvirt memory value with its unit attribute ("KiB" when unit
 * is NULL: libvirt's default) to bytes. 0 or -EINVAL (unknown unit, not a
 * number) / -ERANGE (overflow).
 */
int lv_memory_to_bytes(const char *value, const char *unit, uint64_t *out_bytes);

/*
 * The device XML for virDomainUpdateDeviceFlags(VIR_DOMAIN_AFFECT_LIVE)
 * asking the domain's virtio-mem device for requested_bytes: the element
 * as libvirt printed it with only <requested> changed (in KiB). libvirt
 * finds the device to update by comparing the rest of the element, which
 * is why it is sent back as it came (virsh update-memory-device does the
 * same). The last gate before libvirt: NULL with *error when there is no
 * usable device, or requested_bytes is over the device's size or not a
 * whole number of its blocks.
 */
char *lv_vmem_update_xml(const struct lv_vmem_info *vmem, uint64_t requested_bytes, GError **error);

/* True when the machine type is microvm (virtio devices are virtio-mmio there). */
bool lv_machine_is_microvm(const char *machine);

#endif
