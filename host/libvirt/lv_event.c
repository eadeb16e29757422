/*
 * virEventRegisterImpl callbacks backed by GSources; see lv_event.h.
 *
 * libvirt's contract (libvirt-event.h):
 *   - a handle watches fd for VIR_EVENT_HANDLE_{READABLE,WRITABLE}; ERROR
 *     and HANGUP are always reported; events == 0 disables the watch;
 *   - a timeout of frequency -1 is disabled, 0 fires on every loop
 *     iteration, N > 0 every N ms;
 *   - ids are positive and never reused while registered;
 *   - ff(opaque) runs once the handle/timer is gone, not inside remove.
 */
#include "lv_event.h"

#include <stdbool.h>

#include <glib-unix.h>
#include <glib.h>
#include <libvirt/libvirt.h>

struct lv_handle {
    int watch;
    int fd;
    int events; /* VIR_EVENT_HANDLE_* currently wanted */
    virEventHandleCallback cb;
    void *opaque;
    virFreeCallback ff;
    GSource *source; /* NULL while disabled */
    bool removed;
};

struct lv_timer {
    int timer;
    int frequency_ms;
    virEventTimeoutCallback cb;
    void *opaque;
    virFreeCallback ff;
    GSource *source; /* NULL while disabled */
    bool removed;
};

/* libvirt calls in from the worker thread (lv_worker.h) and the main loop. */
static GMutex lock;
static GHashTable *handles; /* watch id -> struct lv_handle * */
static GHashTable *timers;  /* timer id -> struct lv_timer * */
static int next_handle_id = 1;
static int next_timer_id = 1;

static GIOCondition to_gio(int events)
{
    GIOCondition c = 0;
    if (events & VIR_EVENT_HANDLE_READABLE)
        c |= G_IO_IN;
    if (events & VIR_EVENT_HANDLE_WRITABLE)
        c |= G_IO_OUT;
    return c;
}

static int from_gio(GIOCondition c)
{
    int events = 0;
    if (c & G_IO_IN)
        events |= VIR_EVENT_HANDLE_READABLE;
    if (c & G_IO_OUT)
        events |= VIR_EVENT_HANDLE_WRITABLE;
    if (c & G_IO_ERR)
        events |= VIR_EVENT_HANDLE_ERROR;
    if (c & G_IO_HUP)
        events |= VIR_EVENT_HANDLE_HANGUP;
    return events;
}

/* --- handles ------------------------------------------------------------------------------ */

static gboolean on_fd(gint fd, GIOCondition cond, gpointer data)
{
    struct lv_handle *h = data;
    g_mutex_lock(&lock);
    bool live = !h->removed;
    int watch = h->watch;
    virEventHandleCallback cb = h->cb;
    void *opaque = h->opaque;
    g_mutex_unlock(&lock);
    /* The callback may update or remove this very handle: no lock held. */
    if (live)
        cb(watch, fd, from_gio(cond), opaque);
    return G_SOURCE_CONTINUE;
}

/* (Re)creates the GSource for the wanted events; none while disabled. Lock held. */
static void handle_arm(struct lv_handle *h)
{
    if (h->source) {
        g_source_destroy(h->source);
        g_source_unref(h->source);
        h->source = NULL;
    }
    if (h->removed || !h->events)
        return; /* disabled: poll() would still report HUP and spin */
    h->source = g_unix_fd_source_new(h->fd, to_gio(h->events) | G_IO_ERR | G_IO_HUP);
    g_source_set_callback(h->source, (GSourceFunc)(void (*)(void))on_fd, h, NULL);
    /* Not blocked during dispatch (saves two eventfd wakeups per message;
     * see host/daemon/fd_watch.h). libvirt's callbacks never iterate the loop. */
    g_source_set_can_recurse(h->source, TRUE);
    g_source_attach(h->source, NULL);
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
                      virFreeCallback ff)
{
    struct lv_handle *h = g_new0(struct lv_handle, 1);
    g_mutex_lock(&lock);
    h->watch = next_handle_id++;
    h->fd = fd;
    h->events = events;
    h->cb = cb;
    h->opaque = opaque;
    h->ff = ff;
    g_hash_table_insert(handles, GINT_TO_POINTER(h->watch), h);
    handle_arm(h);
    int watch = h->watch;
    g_mutex_unlock(&lock);
    return watch;
}

static void update_handle(int watch, int events)
{
    g_mutex_lock(&lock);
    struct lv_handle *h = g_hash_table_lookup(handles, GINT_TO_POINTER(watch));
    if (h && h->events != events) {
        h->events = events;
        handle_arm(h);
    }
    g_mutex_unlock(&lock);
}

static gboolean handle_free_idle(gpointer data)
{
    struct lv_handle *h = data;
    if (h->ff)
        h->ff(h->opaque);
    g_free(h);
    return G_SOURCE_REMOVE;
}

static int remove_handle(int watch)
{
    g_mutex_lock(&lock);
    struct lv_handle *h = g_hash_table_lookup(handles, GINT_TO_POINTER(watch));
    if (!h) {
        g_mutex_unlock(&lock);
        return -1;
    }
    g_hash_table_remove(handles, GINT_TO_POINTER(watch));
    h->removed = true;
    handle_arm(h); /* destroys the source */
    g_mutex_unlock(&lock);
    g_idle_add(handle_free_idle, h);
    return 0;
}

/* --- timers ------------------------------------------------------------------------------- */

static gboolean on_timer(gpointer data)
{
    struct lv_timer *t = data;
    g_mutex_lock(&lock);
    bool live = !t->removed;
    int id = t->timer;
    virEventTimeoutCallback cb = t->cb;
    void *opaque = t->opaque;
    g_mutex_unlock(&lock);
    if (live)
        cb(id, opaque);
    return G_SOURCE_CONTINUE;
}

static void timer_arm(struct lv_timer *t)
{
    if (t->source) {
        g_source_destroy(t->source);
        g_source_unref(t->source);
        t->source = NULL;
    }
    if (t->removed || t->frequency_ms < 0)
        return;
    /* 0 = "as soon as possible, every iteration": an idle at default priority. */
    t->source =
        t->frequency_ms == 0 ? g_idle_source_new() : g_timeout_source_new((guint)t->frequency_ms);
    g_source_set_priority(t->source, G_PRIORITY_DEFAULT);
    g_source_set_callback(t->source, on_timer, t, NULL);
    g_source_attach(t->source, NULL);
}

static int add_timeout(int frequency_ms, virEventTimeoutCallback cb, void *opaque,
                       virFreeCallback ff)
{
    struct lv_timer *t = g_new0(struct lv_timer, 1);
    g_mutex_lock(&lock);
    t->timer = next_timer_id++;
    t->frequency_ms = frequency_ms;
    t->cb = cb;
    t->opaque = opaque;
    t->ff = ff;
    g_hash_table_insert(timers, GINT_TO_POINTER(t->timer), t);
    timer_arm(t);
    int id = t->timer;
    g_mutex_unlock(&lock);
    return id;
}

static void update_timeout(int timer, int frequency_ms)
{
    g_mutex_lock(&lock);
    struct lv_timer *t = g_hash_table_lookup(timers, GINT_TO_POINTER(timer));
    /* Re-arming restarts the period, as libvirt's own impls do. */
    if (t) {
        t->frequency_ms = frequency_ms;
        timer_arm(t);
    }
    g_mutex_unlock(&lock);
}

static gboolean timer_free_idle(gpointer data)
{
    struct lv_timer *t = data;
    if (t->ff)
        t->ff(t->opaque);
    g_free(t);
    return G_SOURCE_REMOVE;
}

static int remove_timeout(int timer)
{
    g_mutex_lock(&lock);
    struct lv_timer *t = g_hash_table_lookup(timers, GINT_TO_POINTER(timer));
    if (!t) {
        g_mutex_unlock(&lock);
        return -1;
    }
    g_hash_table_remove(timers, GINT_TO_POINTER(timer));
    t->removed = true;
    timer_arm(t);
    g_mutex_unlock(&lock);
    g_idle_add(timer_free_idle, t);
    return 0;
}

void lv_event_register(void)
{
    static gsize once;
    if (g_once_init_enter(&once)) {
        handles = g_hash_table_new(g_direct_hash, g_direct_equal);
        timers = g_hash_table_new(g_direct_hash, g_direct_equal);
        virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout,
                             remove_timeout);
        g_once_init_leave(&once, 1);
    }
}
