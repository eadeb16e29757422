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

struct lv_domain_info {
    char *name;
    char *uuid;            /* "xxxxxxxx-xxxx-..." as written, NULL when absent */
    char *domain_type;     /* <domain type=...>: "kvm", "qemu" */
    char *machine;         /* <os><type machine=...>: "pc-q35-7.2", "microvm"; NULL when absent */
    uint64_t memory_bytes; /* <memory>: the maximum (boot) size; 0 when absent */
    uint64_t current_memory_bytes; /* <currentMemory>; 0 when absent */

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

/* True when the machine type is microvm (virtio devices are virtio-mmio there). */
bool lv_machine_is_microvm(const char *machine);

#endif
