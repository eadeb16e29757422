/*
 * A scripted fake QMP server on a real unix socket, driven by the test's own
 * GMainContext (same thread as the client under test). Modelled on libvirt's
 * tests/qemumonitortestutils.c: the script lists what the client must send
 * and what "QEMU" answers, error replies, events, garbage and hang-ups
 * included. Any deviation is recorded as a failure the test asserts on.
 */
#ifndef BALLAST_FAKE_QMP_H
#define BALLAST_FAKE_QMP_H

#include <glib.h>

typedef enum {
    FAKE_END = 0,    /* script done; any further command is a failure */
    FAKE_ACCEPT,     /* wait for the client to connect */
    FAKE_SEND,       /* write text as is (greeting, events, garbage) */
    FAKE_SEND_SPLIT, /* write text one byte per main-loop turn */
    FAKE_SEND_BIG,   /* write a {"return": "xxx..."} line of n bytes (no id) */
    FAKE_EXPECT,     /* next command must be `command` with an integer id and
                      * `args` as its "arguments" (compared as JSON; NULL: no
                      * "arguments" member), and be the exact bytes `line`
                      * (without the newline) when that is set; answer `text`
                      * with the command's id added, or hold it unanswered
                      * when text is NULL */
    FAKE_REPLY_HELD, /* answer held command number n (0 = first held) */
    FAKE_DELAY,      /* wait n ms */
    FAKE_CLOSE,      /* hang up once queued output is written */
} FakeStepKind;

typedef struct {
    FakeStepKind kind;
    const char *command;
    const char *args;
    const char *line;
    const char *text;
    guint n;
} FakeStep;

#define FAKE_GREETING                                                                              \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "             \
    "\"package\": "                                                                                \
    "\"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"

/* Accept, greet, and answer qmp_capabilities as QEMU 7.2 does. */
#define FAKE_HANDSHAKE                                                                             \
    {.kind = FAKE_ACCEPT}, {.kind = FAKE_SEND, .text = FAKE_GREETING},                             \
    {                                                                                              \
        FAKE_EXPECT, .command = "qmp_capabilities", .text = "{\"return\": {}}"                     \
    }

typedef struct FakeQmp FakeQmp;

/* Listens on a fresh socket in a fresh temp dir; steps must outlive it. */
FakeQmp *fake_qmp_new(const FakeStep *steps);
void fake_qmp_free(FakeQmp *fake);
const char *fake_qmp_socket_path(FakeQmp *fake);
gboolean fake_qmp_finished(FakeQmp *fake);   /* reached FAKE_END */
const char *fake_qmp_failure(FakeQmp *fake); /* NULL when all went to script */
guint fake_qmp_accepted(FakeQmp *fake);      /* connections accepted so far */

/* Iterates the default main context until *flag is TRUE or timeout_ms
 * passed; returns *flag. */
gboolean fake_run_until(const gboolean *flag, guint timeout_ms);
/* Same for fake_qmp_finished(). */
gboolean fake_run_until_finished(FakeQmp *fake, guint timeout_ms);

#endif
