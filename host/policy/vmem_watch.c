/* Whether a virtio-mem device follows its requested size (see vmem_watch.h). */
#include "vmem_watch.h"

#include <string.h>

void vmem_watch_init(struct vmem_watch *w)
{
    memset(w, 0, sizeof(*w));
    w->state = VMEM_WATCH_CONVERGED;
}

int64_t vmem_watch_hold_ms(uint32_t stalls)
{
    if (stalls == 0)
        return 0;
    /* 60 s << 5 is past the cap already: no shift overflows. */
    uint32_t shift = stalls - 1 < 6 ? stalls - 1 : 6;
    int64_t hold = (int64_t)VMEM_WATCH_HOLD_MIN_MS << shift;
    return hold < VMEM_WATCH_HOLD_MAX_MS ? hold : VMEM_WATCH_HOLD_MAX_MS;
}

static uint64_t gap_bytes(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* A move starts (or starts again, after a hold): it gets a full stall time. */
static void attempt_start(struct vmem_watch *w, int64_t now_ms)
{
    w->attempt_open = w->requested_bytes != w->size_bytes;
    w->attempt_plug = w->requested_bytes > w->size_bytes;
    w->attempt_moved = false;
    w->progress_ms = now_ms;
}

static bool hold_active(const struct vmem_watch_hold *h, int64_t now_ms)
{
    return h->held && now_ms < h->until_ms;
}

/* The hold that a stalled state stands on; NULL for the other states. */
static struct vmem_watch_hold *state_hold(struct vmem_watch *w)
{
    switch (w->state) {
    case VMEM_WATCH_STALLED_UNPLUG:
        return &w->unplug;
    case VMEM_WATCH_STALLED_PLUG:
    case VMEM_WATCH_DRIVER_MISSING:
        return &w->plug;
    default:
        return NULL;
    }
}

/*
 * Holds that ran out end; a stalled state whose hold ended is over, and a
 * request still pending then is the one retry: it gets a full stall time
 * from now, not the time it already sat there.
 */
static void end_holds(struct vmem_watch *w, int64_t now_ms)
{
    struct vmem_watch_hold *own = state_hold(w);
    if (w->unplug.held && now_ms >= w->unplug.until_ms)
        w->unplug.held = false;
    if (w->plug.held && now_ms >= w->plug.until_ms)
        w->plug.held = false;
    if (own && !own->held) {
        w->state =
            w->requested_bytes == w->size_bytes ? VMEM_WATCH_CONVERGED : VMEM_WATCH_CONVERGING;
        attempt_start(w, now_ms);
    }
}

/* Takes in the new figures: movement, the move under way, a completed move. */
static void observe(struct vmem_watch *w, const struct vmem_watch_input *in)
{
    uint64_t req = in->requested_bytes, size = in->size_bytes;
    bool moved = size != w->size_bytes;
    bool toward = gap_bytes(req, size) < gap_bytes(req, w->size_bytes);
    bool grew = size > w->size_bytes;
    if (moved)
        w->driver_seen = true;
    w->requested_bytes = req;
    w->size_bytes = size;
    if (req == size) {
        /* Reached by moving there (not by the caller giving up and asking
         * for the size it has): that direction works, its doubling ends. */
        if (moved && toward)
            (grew ? &w->plug : &w->unplug)->stalls = 0;
        w->attempt_open = false;
        return;
    }
    if (!w->attempt_open || w->attempt_plug != (req > size)) {
        attempt_start(w, in->now_ms);
        return;
    }
    /* A new requested size in the same direction is not movement: a policy
     * that moves its target every tick must not keep a stuck device
     * "converging" for ever. */
    if (moved && toward) {
        w->progress_ms = in->now_ms;
        w->attempt_moved = true;
    }
}

/* A stall: hold where the device got, for longer each time in a row. */
static void enter_stall(struct vmem_watch *w, int64_t now_ms)
{
    bool plug = w->attempt_plug;
    struct vmem_watch_hold *h = plug ? &w->plug : &w->unplug;
    if (h->stalls < UINT32_MAX)
        h->stalls++;
    h->held = true;
    h->at_bytes = w->size_bytes;
    h->until_ms = now_ms + vmem_watch_hold_ms(h->stalls);
    if (!plug)
        w->state = VMEM_WATCH_STALLED_UNPLUG;
    else
        w->state = w->driver_seen ? VMEM_WATCH_STALLED_PLUG : VMEM_WATCH_DRIVER_MISSING;
    /* Movement from here on, toward a request in the same direction, shows
     * the device was only slow: the hold then ends (next_state). */
    attempt_start(w, now_ms);
}

static enum vmem_watch_state next_state(struct vmem_watch *w, int64_t now_ms)
{
    struct vmem_watch_hold *own = state_hold(w);
    /* The size moved after all: there is a driver, so it was never missing. */
    if (w->state == VMEM_WATCH_DRIVER_MISSING && w->driver_seen) {
        w->plug.held = false;
        w->plug.stalls = 0;
        own = NULL;
        attempt_start(w, now_ms);
    }
    if (own && own->held) {
        bool same_way = w->attempt_plug == (own == &w->plug);
        if (!w->attempt_open || (same_way && !w->attempt_moved))
            return w->state; /* held where it got */
        if (same_way)
            own->held = false; /* it moved: slow, not stuck */
    }
    if (!w->attempt_open)
        return VMEM_WATCH_CONVERGED;
    if (now_ms - w->progress_ms >= VMEM_WATCH_STALL_MS) {
        enter_stall(w, now_ms);
        return w->state;
    }
    return VMEM_WATCH_CONVERGING;
}

enum vmem_watch_state vmem_watch_feed(struct vmem_watch *w, const struct vmem_watch_input *in)
{
    if (in->event == VMEM_WATCH_GONE) {
        vmem_watch_init(w);
        w->started = true;
        w->state = VMEM_WATCH_REMOVED;
        return w->state;
    }
    if (w->state == VMEM_WATCH_REMOVED)
        return w->state;
    if (!w->started) {
        w->started = true;
        w->requested_bytes = in->requested_bytes;
        w->size_bytes = in->size_bytes;
        /* Memory plugged already: a driver plugged it. */
        w->driver_seen = in->size_bytes > 0;
        attempt_start(w, in->now_ms);
        w->state = w->attempt_open ? VMEM_WATCH_CONVERGING : VMEM_WATCH_CONVERGED;
        return w->state;
    }
    end_holds(w, in->now_ms);
    observe(w, in);
    w->state = next_state(w, in->now_ms);
    return w->state;
}

int64_t vmem_watch_stall_due_ms(const struct vmem_watch *w)
{
    if (!w->started || !w->attempt_open || w->state == VMEM_WATCH_REMOVED)
        return 0;
    const struct vmem_watch_hold *own = state_hold((struct vmem_watch *)w);
    if (own && own->held)
        return 0; /* held where it got: the hold's end comes first */
    return w->progress_ms + VMEM_WATCH_STALL_MS;
}

void vmem_watch_restart_clock(struct vmem_watch *w, int64_t now_ms)
{
    if (w->started && w->attempt_open && now_ms > w->progress_ms)
        w->progress_ms = now_ms;
}

static void advise_until(struct vmem_watch_advice *out, int64_t until_ms)
{
    if (out->until_ms == 0 || until_ms < out->until_ms)
        out->until_ms = until_ms;
}

void vmem_watch_advise(const struct vmem_watch *w, int64_t now_ms, struct vmem_watch_advice *out)
{
    memset(out, 0, sizeof(*out));
    out->state = w->state;
    if (w->state == VMEM_WATCH_REMOVED)
        return;
    bool floor = hold_active(&w->unplug, now_ms);
    bool cap = hold_active(&w->plug, now_ms);
    if (floor) {
        out->floor_bytes = w->unplug.at_bytes;
        advise_until(out, w->unplug.until_ms);
    }
    if (cap) {
        out->capped = true;
        out->cap_bytes = w->plug.at_bytes;
        advise_until(out, w->plug.until_ms);
    }
    /* A stalled state whose hold has run out by now is over (the next feed
     * says so too). */
    bool over =
        (w->state == VMEM_WATCH_STALLED_UNPLUG && !floor) ||
        ((w->state == VMEM_WATCH_STALLED_PLUG || w->state == VMEM_WATCH_DRIVER_MISSING) && !cap);
    if (over)
        out->state =
            w->requested_bytes == w->size_bytes ? VMEM_WATCH_CONVERGED : VMEM_WATCH_CONVERGING;
}

static const struct {
    const char *name;
    const char *reason;
} state_text[] = {
    [VMEM_WATCH_CONVERGED] = {"converged", "virtio-mem at its requested size"},
    [VMEM_WATCH_CONVERGING] = {"converging", "virtio-mem moving toward its requested size"},
    [VMEM_WATCH_STALLED_UNPLUG] = {"stalled-unplug",
                                   "virtio-mem unplug stalled: the guest cannot move memory out "
                                   "of the blocks; held where it got"},
    [VMEM_WATCH_STALLED_PLUG] = {"stalled-plug",
                                 "virtio-mem plug stalled: the guest does not add the memory; "
                                 "held where it got"},
    [VMEM_WATCH_DRIVER_MISSING] = {"driver-missing",
                                   "no virtio_mem driver in the guest: the size never moved"},
    [VMEM_WATCH_REMOVED] = {"removed", "virtio-mem device removed from the VM"},
};

const char *vmem_watch_state_name(enum vmem_watch_state s)
{
    if ((unsigned)s >= sizeof(state_text) / sizeof(state_text[0]))
        return "?";
    return state_text[s].name;
}

const char *vmem_watch_reason(enum vmem_watch_state s)
{
    if ((unsigned)s >= sizeof(state_text) / sizeof(state_text[0]))
        return "?";
    return state_text[s].reason;
}
