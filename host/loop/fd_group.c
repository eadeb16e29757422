/* fd_group.c — see fd_group.h. */
#include "fd_group.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <glib.h>

/* Events taken per epoll_wait: more stay ready for the next round. */
#define FD_GROUP_BATCH 64

struct fd_group {
    GSource source;
    int epfd;
    /* Added with g_source_add_poll, not g_source_add_unix_fd: GLib copies
     * pfd.events into its poll set at every iteration, so pausing is a store
     * here. g_source_modify_unix_fd() would write the context's wakeup
     * eventfd and cost a loop iteration (a poll over every fd of the daemon,
     * and a read of that eventfd) for each pause and each resume. */
    GPollFD pfd;
    bool paused;
};

void fd_group_dispatch(struct fd_group *g)
{
    struct epoll_event ev[FD_GROUP_BATCH];
    /* A full batch may mean more: take up to 16 batches (1024 members). */
    for (int round = 0; round < 16; round++) {
        int n = epoll_wait(g->epfd, ev, FD_GROUP_BATCH, 0);
        for (int i = 0; i < n; i++) {
            struct fd_group_member *m = ev[i].data.ptr;
            m->func(m, ev[i].events);
        }
        if (n < FD_GROUP_BATCH)
            break;
    }
}

static gboolean group_check(GSource *source)
{
    struct fd_group *g = (struct fd_group *)source;
    return !g->paused && (g->pfd.revents & G_IO_IN);
}

static gboolean group_dispatch(GSource *source, GSourceFunc cb, gpointer data)
{
    (void)cb;
    (void)data;
    struct fd_group *g = (struct fd_group *)source;
    if (!g->paused) /* paused by a source dispatched before us in this iteration */
        fd_group_dispatch(g);
    return G_SOURCE_CONTINUE;
}

static void group_finalize(GSource *source)
{
    struct fd_group *g = (struct fd_group *)source;
    if (g->epfd >= 0)
        close(g->epfd);
}

static GSourceFuncs group_funcs = {
    .check = group_check,
    .dispatch = group_dispatch,
    .finalize = group_finalize,
};

struct fd_group *fd_group_new(void)
{
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return NULL;
    GSource *s = g_source_new(&group_funcs, sizeof(struct fd_group));
    struct fd_group *g = (struct fd_group *)s;
    g->epfd = epfd;
    g->paused = false;
    g->pfd = (GPollFD){.fd = epfd, .events = G_IO_IN};
    g_source_add_poll(s, &g->pfd);
    /* Our callbacks never iterate the loop: no blocking, no self-wakeup (fd_watch.h). */
    g_source_set_can_recurse(s, TRUE);
    g_source_attach(s, NULL);
    return g;
}

void fd_group_free(struct fd_group *g)
{
    if (!g)
        return;
    g_source_destroy(&g->source);
    g_source_unref(&g->source);
}

int fd_group_add(struct fd_group *g, struct fd_group_member *m, int fd, fd_group_func func,
                 void *data)
{
    m->fd = fd;
    m->func = func;
    m->data = data;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = m};
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = errno;
        m->fd = -1;
        return -err;
    }
    return 0;
}

void fd_group_remove(struct fd_group *g, struct fd_group_member *m)
{
    if (m->fd < 0)
        return;
    epoll_ctl(g->epfd, EPOLL_CTL_DEL, m->fd, NULL);
    m->fd = -1;
}

void fd_group_pause(struct fd_group *g, bool paused)
{
    if (g->paused == paused)
        return;
    g->paused = paused;
    g->pfd.events = paused ? 0 : G_IO_IN;
}
