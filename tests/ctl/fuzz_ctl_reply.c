/*
 * fuzz.ctl.reply: any bytes as the reply line ballastd sends, through what
 * ballastctl does with it: ctl_reply_parse, then, as main() does, --json's
 * printer or the printer of each command (the status table, explain's
 * lines, notify's action).
 *
 * ballastctl.c is compiled in here, its main() renamed: the printers are
 * static functions of ballastctl itself, and this way the fuzzer runs the
 * very code the program runs, not a copy. Its output goes to /dev/null.
 *
 * Properties (abort on violation): no crash, leak, undefined behaviour or
 * glib critical or warning (json-glib's getters warn on a member of the
 * wrong type: a reply must be read with checked lookups); an error reply
 * always gives a code and a message (ballastctl prints both).
 */
int ballastctl_main(int argc, char **argv);
#define main ballastctl_main
#include "fuzz/fuzz_log.h"
#include "../../host/ctl/ballastctl.c"
#undef main

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        fuzz_log_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
        if (!freopen("/dev/null", "w", stdout))
            abort();
        once = true;
    }
    /* ballastctl reads the reply into a GString and parses its C string. */
    g_autofree char *line = g_strndup((const char *)data, size);
    JsonNode *result = NULL;
    g_autofree char *err_code = NULL, *err_msg = NULL;
    int rc = ctl_reply_parse(line, &result, &err_code, &err_msg);
    if (rc == -EIO && (!err_code || !err_msg))
        abort();
    if (rc < 0) {
        if (result)
            abort();
        return 0;
    }
    static const enum ctl_cmd cmds[] = {CTL_CMD_PING,       CTL_CMD_STATUS,  CTL_CMD_EXPLAIN,
                                        CTL_CMD_SET_POLICY, CTL_CMD_DRY_RUN, CTL_CMD_NOTIFY};
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        /* A result that is no object is "malformed status", said on stderr: skip the noise. */
        if (cmds[i] == CTL_CMD_STATUS && !(result && JSON_NODE_HOLDS_OBJECT(result)))
            continue;
        struct ctl_request req = {.cmd = cmds[i], .vm = "vm0", .key = "shares", .value = "2"};
        print_result(&req, result);
    }
    if (result)
        print_json(result);
    fflush(stdout);
    if (result)
        json_node_unref(result);
    return 0;
}
