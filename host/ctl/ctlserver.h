/*
 * ballastd's control sockets: unix stream sockets that read one request
 * line at a time into a fixed buffer and hand it, with the caller's
 * credentials (SO_PEERCRED), to a handler that returns the reply line. The
 * protocol itself is control.h's; this file is the plumbing.
 *
 * Two kinds: the read-write socket, mode 0600, that accepts only root (or
 * ballastd's own user) by SO_PEERCRED; and the read-only socket beside it,
 * mode 0666 (or 0660 and a group), that accepts anyone and marks each
 * request read_only so the handler refuses changes (as libvirt's
 * unix_sock_ro_perms socket does).
 */
#ifndef BALLAST_CTLSERVER_H
#define BALLAST_CTLSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <glib.h>

#include "control.h"

/* At most this many clients at once; more are accepted and closed at once. */
#define CTLSERVER_MAX_CLIENTS 16
/* A reply not fully written after this long drops the client. */
#define CTLSERVER_IDLE_TIMEOUT_MS 30000
/* Out of file descriptors (or kernel memory) for a new client: the listening
 * socket is not watched for this long, then tried again. The connection
 * waits in the backlog meanwhile; accepting it in a loop would spin. */
#define CTLSERVER_ACCEPT_PAUSE_MS 1000

/* Returns the reply line (with its newline), g_malloc'd. peer: who asked, how. */
typedef char *(*ctlserver_handler)(void *ctx, const struct ctl_peer *peer, const char *line,
                                   size_t len);

struct ctlserver_stats {
    guint64 accepted;
    guint64 refused_peer; /* wrong uid */
    guint64 refused_busy; /* too many clients */
    guint64 requests;
    guint64 too_long;
    guint64 accept_pauses; /* accepting paused for CTLSERVER_ACCEPT_PAUSE_MS (EMFILE...) */
};

/* Whether an accept4() errno means "no resources now": pause accepting
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM) rather than retry at once. */
bool ctlserver_accept_pauses(int err);

struct ctlserver;

/*
 * Binds path (a stale socket left by a dead ballastd is replaced; a live one
 * is an error: G_IO_ERROR_ADDRESS_IN_USE) with mode 0600 and starts serving
 * on the default main context.
 */
struct ctlserver *ctlserver_new(const char *path, ctlserver_handler handler, void *ctx,
                                GError **error);
/*
 * The read-only socket at path, beside the read-write socket rw_path (named
 * in refusals): bound as ctlserver_new does (0600 from the start), then
 * given to group (chown) with mode 0660, or mode 0666 when group is
 * (gid_t)-1. Every peer is served; every request is marked read_only.
 */
struct ctlserver *ctlserver_new_ro(const char *path, const char *rw_path, gid_t group,
                                   ctlserver_handler handler, void *ctx, GError **error);
/* Closes every client and the socket, and unlinks path. NULL is fine. */
void ctlserver_free(struct ctlserver *srv);
void ctlserver_get_stats(const struct ctlserver *srv, struct ctlserver_stats *out);

#endif
