/*
 * ballastctl's command line after the options: the command and its
 * arguments into a control request, with one message for each way it can be
 * wrong. Pure (no socket, no output), so tests/ctl/test_ctl_argv.c holds
 * every message.
 */
#ifndef BALLAST_CTL_ARGV_H
#define BALLAST_CTL_ARGV_H

#include "control.h"

/* The commands and their arguments, one line each (ballastctl's usage). */
extern const char ctl_argv_usage[];

/*
 * argv[0..argc-1]: the command and its arguments (no program name, no
 * options). 0 with *req filled; else -EINVAL and *message (g_free it): what
 * is wrong, e.g. "unknown command 'frobnicate'" or "set-policy: expected
 * KEY=VALUE, not 'shares'".
 */
int ctl_argv_parse(int argc, char *const *argv, struct ctl_request *req, char **message);

#endif
