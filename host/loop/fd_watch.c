/* fd_watch.c — see fd_watch.h. */
#include "fd_watch.h"

guint fd_watch_add(int fd, GIOCondition cond, GUnixFDSourceFunc func, gpointer data)
{
    GSource *s = g_unix_fd_source_new(fd, cond);
    g_source_set_can_recurse(s, TRUE);
    g_source_set_callback(s, (GSourceFunc)(void (*)(void))func, data, NULL);
    guint id = g_source_attach(s, NULL);
    g_source_unref(s);
    return id;
}
