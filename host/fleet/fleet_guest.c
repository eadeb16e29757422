/* Guest names, per-guest paths and the per-guest KSM decision (pure). */
#include "fleet_guest.h"
#include "config.h"

#include <glib.h>
#include <string.h>

char *fleet_guest_name(const char *prefix, unsigned index)
{
    return g_strdup_printf("%s%u", prefix, index);
}

char *fleet_file_path(const char *state_dir, const char *name, enum fleet_file file)
{
    char buf[FLEET_LAYOUT_PATH_MAX];
    if (fleet_layout_path(buf, sizeof(buf), state_dir, name, file) != 0)
        return NULL;
    return g_strdup(buf);
}

bool fleet_guest_merge(const char *const *no_merge, const char *name)
{
    for (size_t i = 0; no_merge && no_merge[i]; i++) {
        if (strcmp(no_merge[i], "all") == 0 || strcmp(no_merge[i], name) == 0)
            return false;
    }
    return true;
}

bool fleet_socket_paths_fit(const char *state_dir, const char *prefix, unsigned count,
                            unsigned *longest)
{
    if (count == 0) {
        *longest = 0;
        return true;
    }
    /* The last guest has the longest name. */
    g_autofree char *name = fleet_guest_name(prefix, count - 1);
    size_t len;
    bool fit = fleet_layout_guest_fits(state_dir, name, &len) == 0;
    *longest = (unsigned)len;
    return fit;
}

/* Calls match(value) on the argument after each "-pidfile"; stops on true. */
static bool pidfile_arg_matches(const char *cmdline, size_t len,
                                bool (*match)(const char *arg, const char *want), const char *want)
{
    const char *end = cmdline + len;
    const char *prev = NULL;
    for (const char *p = cmdline; p < end;) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            break; /* an unterminated last argument cannot be trusted */
        if (prev && strcmp(prev, "-pidfile") == 0 && match(p, want))
            return true;
        prev = p;
        p = nul + 1;
    }
    return false;
}

static bool equals(const char *arg, const char *want)
{
    return strcmp(arg, want) == 0;
}

static bool in_dir(const char *arg, const char *dir)
{
    return fleet_layout_is_guest_file(arg, dir, FLEET_FILE_PID);
}

bool fleet_cmdline_has_pidfile(const char *cmdline, size_t len, const char *pidfile)
{
    return pidfile_arg_matches(cmdline, len, equals, pidfile);
}

bool fleet_cmdline_in_state_dir(const char *cmdline, size_t len, const char *state_dir)
{
    return pidfile_arg_matches(cmdline, len, in_dir, state_dir);
}

void fleet_guest_apply_ksm_policy(const struct config *cfg, const char *prefix, unsigned count,
                                  uint64_t memory_bytes, bool *merge)
{
    if (!cfg)
        return;
    for (unsigned i = 0; i < count; i++) {
        g_autofree char *name = fleet_guest_name(prefix, i);
        struct policy_vm_params params;
        bool ksm = true;
        config_vm_params(cfg, name, memory_bytes, &params, &ksm, NULL);
        if (!ksm)
            merge[i] = false;
    }
}
