/*
 * ballastctl's commands (see ctl_argv.h): a table of name, arguments and a
 * parser for what follows the name. A mistake gets its own message, never
 * the bare usage: the usage says what is possible, the message what was
 * wrong.
 */
#include "ctl_argv.h"

#include <errno.h>
#include <string.h>

const char ctl_argv_usage[] =
    "  status                   the host and every VM, one line each\n"
    "  top                      status live, sorted by host cost (--sort, --interval, -n)\n"
    "  explain VM               one VM's decision and why\n"
    "  metrics                  Prometheus text exposition (node_exporter's textfile collector)\n"
    "  set-policy VM KEY=VALUE  a runtime override of a policy key (VALUE default clears it)\n"
    "  resume VM                hand a VM held at a foreign balloon target back to ballastd\n"
    "  dry-run on|off           compute and log, change nothing (host-wide)\n"
    "  ping                     is ballastd there?\n"
    "  notify DOMAIN EVENT      EVENT prepare, started, stopped or release (the libvirt hook)\n";

struct command {
    const char *name;
    const char *args; /* as the usage writes them */
    int nargs;
    enum ctl_cmd cmd;
    /* argv: the arguments; 0, or -EINVAL with *message set */
    int (*parse)(const struct command *c, char *const *argv, struct ctl_request *req,
                 char **message);
};

static int fail(char **message, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static int fail(char **message, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* A VM or domain name ballastd can hold: refused here, never truncated. */
static int take_vm(const struct command *c, const char *name, struct ctl_request *req,
                   char **message)
{
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof(req->vm))
        return fail(message, "%s: a VM name is 1..%zu bytes, not %zu", c->name, sizeof(req->vm) - 1,
                    len);
    memcpy(req->vm, name, len + 1);
    return 0;
}

static int parse_none(const struct command *c, char *const *argv, struct ctl_request *req,
                      char **message)
{
    return 0;
}

static int parse_top(const struct command *c, char *const *argv, struct ctl_request *req,
                     char **message)
{
    req->top = true;
    return 0;
}

static int parse_vm(const struct command *c, char *const *argv, struct ctl_request *req,
                    char **message)
{
    return take_vm(c, argv[0], req, message);
}

static int parse_set_policy(const struct command *c, char *const *argv, struct ctl_request *req,
                            char **message)
{
    const char *kv = argv[1];
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return fail(message, "set-policy: expected KEY=VALUE, not '%s'", kv);
    size_t key_len = (size_t)(eq - kv), value_len = strlen(eq + 1);
    if (key_len >= sizeof(req->key))
        return fail(message, "set-policy: key of %zu bytes: no key is longer than %zu", key_len,
                    sizeof(req->key) - 1);
    if (value_len >= sizeof(req->value))
        return fail(message, "set-policy: value of %zu bytes: at most %zu", value_len,
                    sizeof(req->value) - 1);
    memcpy(req->key, kv, key_len);
    req->key[key_len] = '\0';
    memcpy(req->value, eq + 1, value_len + 1);
    return take_vm(c, argv[0], req, message);
}

static int parse_dry_run(const struct command *c, char *const *argv, struct ctl_request *req,
                         char **message)
{
    if (strcmp(argv[0], "on") != 0 && strcmp(argv[0], "off") != 0)
        return fail(message, "dry-run: expected on or off, not '%s'", argv[0]);
    req->enabled = strcmp(argv[0], "on") == 0;
    return 0;
}

static int parse_notify(const struct command *c, char *const *argv, struct ctl_request *req,
                        char **message)
{
    if (ctl_notify_event_parse(argv[1], &req->event) < 0)
        return fail(message,
                    "notify: unknown event '%s' (expected prepare, started, stopped or release)",
                    argv[1]);
    return take_vm(c, argv[0], req, message);
}

static const struct command commands[] = {
    {"status", "", 0, CTL_CMD_STATUS, parse_none},
    {"top", "", 0, CTL_CMD_STATUS, parse_top},
    {"explain", "VM", 1, CTL_CMD_EXPLAIN, parse_vm},
    {"metrics", "", 0, CTL_CMD_METRICS, parse_none},
    {"set-policy", "VM KEY=VALUE", 2, CTL_CMD_SET_POLICY, parse_set_policy},
    {"resume", "VM", 1, CTL_CMD_RESUME, parse_vm},
    {"dry-run", "on|off", 1, CTL_CMD_DRY_RUN, parse_dry_run},
    {"ping", "", 0, CTL_CMD_PING, parse_none},
    {"notify", "DOMAIN EVENT", 2, CTL_CMD_NOTIFY, parse_notify},
};

#define COMMAND_NAMES "status, top, explain, metrics, set-policy, resume, dry-run, ping or notify"

int ctl_argv_parse(int argc, char *const *argv, struct ctl_request *req, char **message)
{
    memset(req, 0, sizeof(*req));
    *message = NULL;
    if (argc < 1)
        return fail(message, "no command given (" COMMAND_NAMES ")");
    const struct command *c = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(commands) && !c; i++)
        if (strcmp(argv[0], commands[i].name) == 0)
            c = &commands[i];
    if (!c)
        return fail(message, "unknown command '%s' (" COMMAND_NAMES ")", argv[0]);
    if (argc - 1 < c->nargs)
        return fail(message, "%s: expected %s", c->name, c->args);
    if (argc - 1 > c->nargs)
        return fail(message, "%s: unexpected argument '%s'", c->name, argv[c->nargs + 1]);
    req->cmd = c->cmd;
    return c->parse(c, argv + 1, req, message);
}
