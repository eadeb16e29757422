/*
 * fuzz.ctl.request: any bytes as one control request line, through the
 * parser ballastd runs on every line its control socket reads
 * (ctl_request_parse: length, NUL, depth, then json-glib and the members).
 *
 * Properties (abort on violation): no crash, leak, undefined behaviour or
 * glib critical; a refusal always has a code and a message, and its error
 * reply (ctl_reply_error, what ballastd sends back) reads back through
 * ballastctl's reply parser as that code and message; an accepted request
 * serialises (ctl_request_serialise, ballastctl's side) to a line that
 * parses to the same request.
 */
#include "fuzz/fuzz_log.h"
#include "control.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_request(const struct ctl_request *a, const struct ctl_request *b)
{
    return a->cmd == b->cmd && a->fresh == b->fresh && a->enabled == b->enabled &&
           a->event == b->event && !strcmp(a->vm, b->vm) && !strcmp(a->key, b->key) &&
           !strcmp(a->value, b->value);
}

/* ballastd's error reply for this refusal, as ballastctl reads it. */
static void check_error_reply(const char *code, const char *msg)
{
    if (!code || !msg)
        abort();
    g_autofree char *reply = ctl_reply_error(code, msg);
    JsonNode *result = NULL;
    g_autofree char *got_code = NULL, *got_msg = NULL;
    if (ctl_reply_parse(reply, &result, &got_code, &got_msg) != -EIO || result)
        abort();
    if (strcmp(got_code, code) != 0)
        abort();
    /* Bytes that are not UTF-8 travel as U+FFFD: only valid text comes back as it was. */
    if (g_utf8_validate(msg, -1, NULL) && strcmp(got_msg, msg) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        fuzz_log_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
        once = true;
    }
    struct ctl_request req;
    const char *code = NULL;
    char *msg = NULL;
    if (ctl_request_parse((const char *)data, size, &req, &code, &msg) < 0) {
        check_error_reply(code, msg);
        g_free(msg);
        return 0;
    }
    if (code || msg)
        abort();
    g_autofree char *line = ctl_request_serialise(&req);
    size_t len = strlen(line);
    if (len == 0 || line[len - 1] != '\n')
        abort();
    struct ctl_request again;
    if (ctl_request_parse(line, len - 1, &again, &code, &msg) < 0 || !same_request(&req, &again))
        abort();
    return 0;
}
