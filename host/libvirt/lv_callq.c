/* lv_callq.c — the libvirt worker's call queue; see lv_callq.h. */
#include "lv_callq.h"

#include <string.h>

static const char *const call_names[LV_CALL_KINDS] = {
    [LV_CALL_CONNECT] = "virConnectOpen",
    [LV_CALL_LIST] = "virConnectListAllDomains",
    [LV_CALL_METADATA] = "virDomainGetMetadata",
    [LV_CALL_SET] = "virDomainSetMemoryFlags",
    [LV_CALL_STATS] = "virDomainMemoryStats",
    [LV_CALL_DISCONNECT] = "virConnectClose",
    [LV_CALL_VMEM_SET] = "virDomainUpdateDeviceFlags",
    [LV_CALL_XML] = "virDomainGetXMLDesc",
};

const char *lv_call_name(enum lv_call_kind kind)
{
    return (unsigned)kind < LV_CALL_KINDS ? call_names[kind] : "?";
}

bool lv_call_is_domain(enum lv_call_kind kind)
{
    return kind == LV_CALL_METADATA || kind == LV_CALL_SET || kind == LV_CALL_STATS ||
           kind == LV_CALL_VMEM_SET || kind == LV_CALL_XML;
}

bool lv_call_merge(struct lv_call *queued, const struct lv_call *incoming)
{
    if (queued->kind != incoming->kind)
        return false;
    if (incoming->kind == LV_CALL_LIST) {
        queued->merged++;
        return true;
    }
    if (!lv_call_is_domain(incoming->kind) || strcmp(queued->uuid, incoming->uuid) != 0)
        return false;
    queued->value_bytes = incoming->value_bytes; /* the newest value wins */
    queued->answer_only = incoming->answer_only;
    if (incoming->kind == LV_CALL_SET && !incoming->step) {
        queued->target_bytes = incoming->target_bytes; /* the newest target wins */
        queued->step = false;                          /* and is answered */
    }
    queued->merged++;
    return true;
}

void lv_callq_init(struct lv_callq *q)
{
    g_queue_init(&q->calls);
}

void lv_callq_clear(struct lv_callq *q)
{
    g_queue_clear_full(&q->calls, g_free);
}

bool lv_callq_push(struct lv_callq *q, const struct lv_call *c)
{
    /* From the newest back to the last connection call: only those may take it. */
    for (GList *l = q->calls.tail; l; l = l->prev) {
        struct lv_call *queued = l->data;
        if (queued->kind == LV_CALL_CONNECT || queued->kind == LV_CALL_DISCONNECT)
            break;
        /* A domain's set goes after its virtio-mem request queued before
         * it (plug first; without a balloon the set is that request's
         * answer): never folded into a set ahead of that request. */
        if (c->kind == LV_CALL_SET && queued->kind == LV_CALL_VMEM_SET &&
            strcmp(queued->uuid, c->uuid) == 0)
            break;
        if (lv_call_merge(queued, c))
            return true;
    }
    struct lv_call *copy = g_new(struct lv_call, 1);
    *copy = *c;
    copy->merged = 0;
    g_queue_push_tail(&q->calls, copy);
    return false;
}

bool lv_callq_pop(struct lv_callq *q, struct lv_call *out)
{
    struct lv_call *c = g_queue_pop_head(&q->calls);
    if (!c)
        return false;
    *out = *c;
    g_free(c);
    return true;
}

guint lv_callq_length(const struct lv_callq *q)
{
    return q->calls.length;
}

guint lv_callq_drop_domain_calls(struct lv_callq *q)
{
    guint n = 0;
    GList *l = q->calls.head;
    while (l) {
        GList *next = l->next;
        struct lv_call *c = l->data;
        if (lv_call_is_domain(c->kind)) {
            g_free(c);
            g_queue_delete_link(&q->calls, l);
            n++;
        }
        l = next;
    }
    return n;
}

int64_t lv_call_stalled_s(int64_t started_us, int64_t now_us, int64_t stall_ms)
{
    if (started_us <= 0 || now_us < started_us)
        return 0;
    int64_t pending_ms = (now_us - started_us) / 1000;
    if (pending_ms < stall_ms)
        return 0;
    /* At least 1: a stall bound under a second still reads as stalled. */
    return MAX(pending_ms / 1000, 1);
}
