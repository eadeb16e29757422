/* What of a VM's state survives a restart (see vm_saved.h). */
#include "vm_saved.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#define MIB (1ULL << 20)

void vm_saved_capture(struct vm_saved *r, const char *name, const struct policy_vm_state *s,
                      uint64_t target_bytes, const struct config_vm_layer *overrides,
                      int64_t qemu_pid, uint64_t qemu_start_ticks)
{
    memset(r, 0, sizeof(*r));
    g_strlcpy(r->name, name, sizeof(r->name));
    r->qemu_pid = qemu_pid > 0 ? qemu_pid : 0;
    r->qemu_start_ticks = qemu_pid > 0 ? qemu_start_ticks : 0;
    r->target_bytes = target_bytes;
    if (s->grown) {
        r->grown = true;
        r->grow_ms = s->last_grow_ms;
    }
    if (s->deflate_held) {
        r->deflate_held = true;
        r->deflate_hold_until_ms = s->deflate_hold_until_ms;
    }
    r->guest_deflate_events = s->guest_deflate_events;
    if (s->stalled_at_bytes) {
        r->stalled_at_bytes = s->stalled_at_bytes;
        r->stalled_until_ms = s->stalled_until_ms;
    }
    if (overrides)
        memcpy(&r->overrides, overrides, sizeof(r->overrides));
}

uint64_t vm_saved_hash(const struct vm_saved *r)
{
    /* FNV-1a: the record is a few hundred bytes, hashed once per VM per decision. */
    const unsigned char *p = (const unsigned char *)r;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < sizeof(*r); i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int64_t add_sat_s64(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

void vm_saved_shift(struct vm_saved *r, int64_t delta_ms)
{
    if (r->grown)
        r->grow_ms = add_sat_s64(r->grow_ms, delta_ms);
    if (r->deflate_held)
        r->deflate_hold_until_ms = add_sat_s64(r->deflate_hold_until_ms, delta_ms);
    if (r->stalled_at_bytes)
        r->stalled_until_ms = add_sat_s64(r->stalled_until_ms, delta_ms);
}

/* 1..63 bytes of UTF-8, no control characters: a name ballastd manages. */
static bool name_ok(const char *name, size_t max)
{
    size_t len = strnlen(name, max);
    if (len == 0 || len >= max || !g_utf8_validate(name, (gssize)len, NULL))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* Only keys set-policy takes, each with its bit. */
static bool overrides_ok(const struct config_vm_layer *l)
{
    const struct config_key_info *k;
    uint32_t known = 0;
    for (size_t i = 0; (k = config_vm_key_at(i)); i++)
        if (k->where & CONFIG_IN_RUNTIME)
            known |= 1u << i;
    return (l->set & ~known) == 0;
}

const char *vm_saved_check(const struct vm_saved *r, int64_t now_ms)
{
    if (!name_ok(r->name, sizeof(r->name)))
        return "bad VM name";
    if (r->qemu_pid < 0 || r->qemu_pid > VM_SAVED_MAX_PID)
        return "qemu_pid out of range";
    if (!r->qemu_pid && r->qemu_start_ticks)
        return "qemu_start_ticks without qemu_pid";
    if (r->target_bytes > VM_SAVED_MAX_BYTES || r->stalled_at_bytes > VM_SAVED_MAX_BYTES ||
        r->foreign_bytes > VM_SAVED_MAX_BYTES)
        return "size out of range";
    if (r->foreign_since_s < 0 || (r->foreign_since_s && !r->foreign_bytes))
        return "foreign_since_s out of range or without foreign_bytes";
    if (r->guest_deflate_events > (1ULL << 53))
        return "guest_deflate_events out of range";
    const int64_t ahead =
        now_ms > INT64_MAX - VM_SAVED_MAX_AHEAD_MS ? INT64_MAX : now_ms + VM_SAVED_MAX_AHEAD_MS;
    if (r->grown && (r->grow_ms < 0 || r->grow_ms > now_ms))
        return "growth time out of range";
    if (r->deflate_held && (r->deflate_hold_until_ms < 0 || r->deflate_hold_until_ms > ahead))
        return "deflate hold-down out of range";
    if (r->stalled_at_bytes && (r->stalled_until_ms < 0 || r->stalled_until_ms > ahead))
        return "stall deadline out of range";
    if (!overrides_ok(&r->overrides))
        return "override of a key set-policy does not take";
    return NULL;
}

enum vm_saved_match vm_saved_match(const struct vm_saved *r, int64_t qemu_pid,
                                   uint64_t qemu_start_ticks)
{
    if (r->qemu_pid <= 0 || qemu_pid <= 0 || !r->qemu_start_ticks || !qemu_start_ticks)
        return VM_SAVED_UNKNOWN;
    return r->qemu_pid == qemu_pid && r->qemu_start_ticks == qemu_start_ticks ? VM_SAVED_SAME
                                                                              : VM_SAVED_OTHER;
}

uint64_t vm_saved_foreign(const struct vm_saved *r, enum vm_saved_match match)
{
    return match == VM_SAVED_SAME ? r->foreign_bytes : 0;
}

static int64_t min_s64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Appends ", what" (or "what" first) to text. */
__attribute__((format(printf, 3, 4))) static void said(char *text, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(text, len);
    if (used + 3 >= len)
        return;
    if (used) {
        memcpy(text + used, ", ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text + used, len - used, fmt, ap);
    va_end(ap);
}

/* The hold-downs and the stall still running at now, each at most as long
 * as the configuration holds now. */
static void restore_holds(const struct vm_saved *r, int64_t now, const struct policy_tunables *t,
                          struct policy_vm_state *s, char *text, size_t len)
{
    if (r->grown && r->grow_ms > now - (int64_t)t->grow_hold_ms) {
        s->grown = true;
        s->last_grow_ms = min_s64(r->grow_ms, now);
        said(text, len, "growth hold %llds",
             (long long)(s->last_grow_ms + (int64_t)t->grow_hold_ms - now + 999) / 1000);
    }
    if (r->deflate_held && r->deflate_hold_until_ms > now) {
        s->deflate_held = true;
        s->deflate_hold_until_ms =
            min_s64(r->deflate_hold_until_ms, now + (int64_t)t->deflate_hold_ms);
        said(text, len, "deflate hold %llds",
             (long long)(s->deflate_hold_until_ms - now + 999) / 1000);
    }
    if (r->stalled_at_bytes && r->stalled_until_ms > now) {
        s->stalled_at_bytes = r->stalled_at_bytes;
        s->stalled_until_ms = min_s64(r->stalled_until_ms, now + (int64_t)t->stall_retry_ms);
        said(text, len, "stall at %llu MiB", (unsigned long long)(r->stalled_at_bytes / MIB));
    }
}

const char *vm_saved_restore(const struct vm_saved *r, enum vm_saved_match match, int64_t now_ms,
                             const struct policy_tunables *t, struct policy_vm_state *s,
                             uint64_t *target_bytes, char *text, size_t text_len)
{
    *target_bytes = 0;
    if (text_len)
        text[0] = '\0';
    if (match == VM_SAVED_OTHER)
        return text;
    restore_holds(r, now_ms, t, s, text, text_len);
    s->guest_deflate_events = r->guest_deflate_events;
    if (match == VM_SAVED_SAME && r->target_bytes) {
        *target_bytes = r->target_bytes;
        said(text, text_len, "target %llu MiB", (unsigned long long)(r->target_bytes / MIB));
    }
    return text;
}
