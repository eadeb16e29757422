/*
 * Library-internal hooks of qmp.c: for the fuzz target and unit tests, a
 * connection without a socket that is fed bytes as if QEMU had sent them,
 * through the same framing and dispatch code; for the vocabulary files
 * (qmp_memdev.c), a command refused before it is sent.
 */
#ifndef BALLAST_QMP_PRIVATE_H
#define BALLAST_QMP_PRIVATE_H

#include "qmp.h"

/* A connection in CONNECTING state (awaiting the greeting) with no socket;
 * what it would send is discarded. */
QmpConn *qmp_conn_new_detached(void);
/* Runs bytes through framing + dispatch; callbacks fire from here. */
void qmp_conn_feed(QmpConn *conn, const char *bytes, gsize len);

/* Completes cb with error (owned) from the next dispatch, as qmp.h's
 * contract wants (never from inside the call that started it, and before
 * the last unref returns); nothing is sent. For a command its vocabulary
 * refuses, e.g. a virtio-mem size outside the device's range. */
void qmp_conn_fail_async(QmpConn *conn, QmpReplyFunc cb, gpointer user_data, GError *error);

#endif
