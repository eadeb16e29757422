/*
 * fuzz.config.load: any bytes as a VM policy file and as ballastd.conf
 * (the first half), through config_load_dir's own parsing steps
 * (config_load_global_text, config_load_vm_text: the line scan, GKeyFile,
 * every key's parser, the rules between keys, safe mode on errors). The
 * bytes go in from memory: writing two files per input (g_file_set_contents
 * syncs them) held this target to about 50 inputs a second, and the reading
 * itself (read_small_file) sees nothing of the content but its size, which
 * the text entry points check the same way. The loader must never crash,
 * leak or hang, and must report an error or give a policy inside the
 * table's ranges.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <glib.h>

#include "config.h"
#include "fuzz/fuzz_log.h"

#define DIR "/etc/ballast"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        fuzz_log_fatal(G_LOG_LEVEL_CRITICAL); /* a critical is a bug, whatever the input */
        once = true;
    }
    struct config *c = config_new_defaults();
    /* First half as the global file, all of it as a VM file. */
    config_load_global_text(c, DIR "/" CONFIG_GLOBAL_FILE, (const char *)data, size / 2);
    config_load_vm_text(c, "vm", DIR "/vm.conf", (const char *)data, size);
    struct policy_vm_params p;
    const char *why = NULL;
    config_vm_params(c, "vm", 1ULL << 30, &p, NULL, &why);
    if (c->errors->len == 0 && (p.max_bytes > (1ULL << 30) || p.shares == 0))
        abort();
    /* A file with errors: safe mode (never shrinks) and a reason. */
    if ((c->n_global_errors || config_find_vm(c, "vm")->n_errors) &&
        (p.mode != POLICY_MODE_SAFE || !why))
        abort();
    config_free(c);
    return 0;
}
