/*
 * fd_group.h — many sockets, one GLib source: the agent channels of a fleet.
 *
 * GLib polls every fd of every source on every wakeup, and adding, removing
 * or changing a watched fd writes its wakeup eventfd (and costs a second
 * loop iteration to read it back). ballastd watches one socket per guest
 * agent; to read a whole fleet's answers to a POLL together it must stop
 * watching all of them for a moment and then read them all. Done per fd,
 * that was 64 eventfd writes per tick with 32 guests. A group keeps its
 * members in one epoll instance and shows GLib a single fd: pausing and
 * resuming the whole group is one change, and GLib's poll set does not
 * grow with the fleet.
 *
 * Members are embedded in their owner's struct (no allocation per member).
 * Callbacks run with the member's fd and epoll events (EPOLLIN, EPOLLHUP,
 * EPOLLERR, EPOLLRDHUP); a callback may remove its own member (and close
 * its fd), never another member of the same group.
 */
#ifndef BALLAST_FD_GROUP_H
#define BALLAST_FD_GROUP_H

#include <stdbool.h>
#include <stdint.h>

struct fd_group_member;
typedef void (*fd_group_func)(struct fd_group_member *m, uint32_t epoll_events);

struct fd_group_member {
    int fd; /* -1 when not in a group */
    fd_group_func func;
    void *data;
};

struct fd_group;

/* A group attached to the default main context; NULL with errno set on failure. */
struct fd_group *fd_group_new(void);
void fd_group_free(struct fd_group *g);
/* Watches fd for input: 0 or -errno. The member must stay put until removed. */
int fd_group_add(struct fd_group *g, struct fd_group_member *m, int fd, fd_group_func func,
                 void *data);
/* Stops watching (call before closing the fd); a member not in the group is ignored. */
void fd_group_remove(struct fd_group *g, struct fd_group_member *m);
/* Paused: the group's fd is out of GLib's poll from the next iteration; input waits. */
void fd_group_pause(struct fd_group *g, bool paused);
/* Runs the callbacks of every member with input now, paused or not (from a
 * GLib dispatch, or by the owner to read what came while paused). */
void fd_group_dispatch(struct fd_group *g);

#endif
