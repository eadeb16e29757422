/*
 * Library-internal hooks of qmp.c for the fuzz target and unit tests: a
 * connection without a socket that is fed bytes as if QEMU had sent them,
 * through the same framing and dispatch code.
 */
#ifndef BALLAST_QMP_PRIVATE_H
#define BALLAST_QMP_PRIVATE_H

#include "qmp.h"

/* A connection in CONNECTING state (awaiting the greeting) with no socket;
 * what it would send is discarded. */
QmpConn *qmp_conn_new_detached(void);
/* Runs bytes through framing + dispatch; callbacks fire from here. */
void qmp_conn_feed(QmpConn *conn, const char *bytes, gsize len);

#endif
