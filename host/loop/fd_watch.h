/* fd_watch.h — g_unix_fd_add without GLib's per-dispatch self-wakeup. */
#ifndef BALLAST_FD_WATCH_H
#define BALLAST_FD_WATCH_H

#include <glib-unix.h>

/*
 * Like g_unix_fd_add(), for a callback that never iterates the main loop.
 *
 * GLib blocks a source while its callback runs (unless it may recurse), and
 * blocking and unblocking an fd source each signal the context's wakeup
 * eventfd: every dispatch costs two write()s, one read() and a second poll()
 * over every fd of the daemon. With one agent report a second from each of
 * 64 guests that doubled ballastd's wakeups (docs/benchmarks/ballastd.md).
 * A source allowed to recurse is never blocked; our callbacks never run a
 * nested loop, so recursion cannot happen.
 */
guint fd_watch_add(int fd, GIOCondition cond, GUnixFDSourceFunc func, gpointer data);

#endif
