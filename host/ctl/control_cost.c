/*
 * The host-cost members of the control documents (see control.h and
 * docs/control-protocol.md): each VM's "cost" and "guest_mem" objects, the
 * status document's "fleet_cost", written as text and read back with
 * json-glib. One table per object, so the schema is read off in one place.
 */
#include "control.h"

#include <stddef.h>
#include <string.h>

struct member {
    const char *name;
    size_t offset;
};

#define COST(m)                                                                                    \
    {                                                                                              \
#m, offsetof(struct ctl_vm_cost, m)                                                        \
    }
/* In the order they are written: the sum, its parts, what is beside it. */
static const struct member cost_members[] = {
    COST(age_ms),
    COST(host_cost_bytes),
    COST(guest_unique_bytes),
    COST(ksm_shared_charge_bytes),
    COST(qemu_own_bytes),
    COST(page_tables_bytes),
    COST(guest_ram_resident_bytes),
    COST(ksm_saved_bytes),
    COST(zero_pages_bytes),
    COST(balloon_held_bytes),
    COST(thp_bytes),
    COST(swap_bytes),
};

#define GUEST(m)                                                                                   \
    {                                                                                              \
#m, offsetof(struct ctl_guest_mem, m)                                                      \
    }
/* The sum, its v1 parts, then what a v2 agent splits them into. */
static const struct member guest_members[] = {
    GUEST(age_ms),
    GUEST(used_bytes),
    GUEST(cache_bytes),
    GUEST(anon_bytes),
    GUEST(kernel_other_bytes),
    GUEST(shmem_bytes),
    GUEST(slab_reclaimable_bytes),
    GUEST(slab_unreclaimable_bytes),
    GUEST(kernel_stack_bytes),
    GUEST(page_tables_bytes),
    GUEST(vmalloc_used_bytes),
    GUEST(kernel_bytes),
    GUEST(balloon_bytes),
    GUEST(other_bytes),
    GUEST(kernel_reserved_bytes),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int64_t *at(void *base, const struct member *m)
{
    return (int64_t *)((char *)base + m->offset);
}

static void init(void *base, const struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *at(base, &m[i]) = -1;
}

/* Negative numbers are unknown: null. */
static void write_members(struct json_writer *w, const void *base, const struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t v = *at((void *)base, &m[i]);
        json_writer_key(w, m[i].name);
        if (v < 0)
            json_writer_null(w);
        else
            json_writer_int(w, v);
    }
}

static void read_members(JsonObject *o, void *base, const struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        JsonNode *node = json_object_get_member(o, m[i].name);
        if (node && JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_INT64 &&
            json_node_get_int(node) >= 0)
            *at(base, &m[i]) = json_node_get_int(node);
    }
}

void ctl_vm_cost_init(struct ctl_vm_cost *c)
{
    memset(c, 0, sizeof(*c));
    init(c, cost_members, N(cost_members));
}

void ctl_guest_mem_init(struct ctl_guest_mem *g)
{
    init(g, guest_members, N(guest_members));
}

void ctl_vm_cost_write(struct json_writer *w, const struct ctl_vm_cost *c)
{
    write_members(w, c, cost_members, N(cost_members));
    json_writer_member_string(w, "error", c->error[0] ? c->error : NULL);
}

void ctl_guest_mem_write(struct json_writer *w, const struct ctl_guest_mem *g)
{
    write_members(w, g, guest_members, N(guest_members));
}

void ctl_vm_cost_from_json(JsonObject *o, struct ctl_vm_cost *c)
{
    ctl_vm_cost_init(c);
    read_members(o, c, cost_members, N(cost_members));
    JsonNode *e = json_object_get_member(o, "error");
    if (e && JSON_NODE_HOLDS_VALUE(e) && json_node_get_value_type(e) == G_TYPE_STRING)
        ctl_copy(c->error, sizeof(c->error), json_node_get_string(e));
}

void ctl_guest_mem_from_json(JsonObject *o, struct ctl_guest_mem *g)
{
    ctl_guest_mem_init(g);
    read_members(o, g, guest_members, N(guest_members));
}

void ctl_fleet_cost_sum(const struct ctl_vm_status *vms, size_t n, struct ctl_fleet_cost *out)
{
    out->vms = 0;
    ctl_vm_cost_init(&out->sum);
    for (size_t i = 0; i < n; i++) {
        const struct ctl_vm_cost *c = &vms[i].cost;
        if (c->host_cost_bytes < 0)
            continue;
        out->vms++;
        /* Each member over the VMs that know it (the balloon may not). */
        for (size_t k = 0; k < N(cost_members); k++) {
            int64_t v = *at((void *)c, &cost_members[k]);
            int64_t *sum = at(&out->sum, &cost_members[k]);
            if (v < 0)
                continue;
            if (cost_members[k].offset == offsetof(struct ctl_vm_cost, age_ms))
                *sum = v > *sum ? v : *sum; /* the oldest */
            else
                *sum = *sum < 0 ? v : (v > INT64_MAX - *sum ? INT64_MAX : *sum + v);
        }
    }
}

void ctl_fleet_cost_write(struct json_writer *w, const struct ctl_fleet_cost *f)
{
    json_writer_member_int(w, "vms", f->vms);
    write_members(w, &f->sum, cost_members, N(cost_members));
}
