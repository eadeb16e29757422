/*
 * fuzz.config.load: any bytes as a VM policy file and as ballastd.conf. The
 * loader must never crash, leak or hang, and must report an error or give a
 * policy inside the table's ranges.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"

static char *dir;

static void write_to(const char *name, const uint8_t *data, size_t size)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);
    if (!g_file_set_contents(p, (const char *)data, (gssize)size, NULL))
        abort();
}

static void cleanup(void)
{
    const char *names[] = {"ballastd.conf", "vm.conf"};
    for (size_t i = 0; i < 2; i++) {
        g_autofree char *p = g_build_filename(dir, names[i], NULL);
        g_unlink(p);
    }
    g_rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir) {
        dir = g_dir_make_tmp("ballast-fuzz-config-XXXXXX", NULL);
        if (!dir)
            abort();
        atexit(cleanup);
    }
    /* First half as the global file, all of it as a VM file. */
    write_to("ballastd.conf", data, size / 2);
    write_to("vm.conf", data, size);
    struct config *c = config_load_dir(dir);
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
