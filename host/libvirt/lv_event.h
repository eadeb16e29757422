/*
 * libvirt's event loop on glib's default GMainContext.
 *
 * The libvirt client library needs an event loop for domain events, the
 * close callback and keepalives. Its own default impl is glib-based since
 * 6.1 but libvirt states that this is private and must not be relied upon,
 * and virEventRunDefaultImpl() blocks in its own poll, which would need a
 * second thread. So ballast registers its own impl (virEventRegisterImpl):
 * each libvirt handle is a GSource with a unix fd, each libvirt timer a
 * GSource timeout; everything dispatches on the thread that runs the
 * GMainLoop, like the rest of ballastd. This is what libvirt-glib's
 * gvir_event_register() does; libvirt-glib is not packaged here.
 *
 * Threads: handles and timers are added, updated and removed from whichever
 * thread libvirt runs on — the libvirt source's worker thread (lv_worker.h)
 * makes every call, so the connection's socket handle, the keepalive timer
 * and the event queue's timer are registered from there, and libvirt
 * disables its socket handle from there while the worker reads replies
 * itself. The tables are under one lock, GSources are attached to and
 * destroyed in the default context from any thread (glib allows it), and
 * callbacks run, unlocked, on the main loop only.
 *
 * libvirt's rule for the free callbacks (ff) of removed handles and timers:
 * never call them from inside the remove call (libvirt may hold a lock
 * there), so they run from an idle source afterwards.
 */
#ifndef BALLAST_LV_EVENT_H
#define BALLAST_LV_EVENT_H

/* Registers the impl once per process (later calls do nothing). Call
 * before the first virConnectOpen. */
void lv_event_register(void);

#endif
