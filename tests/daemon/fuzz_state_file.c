/*
 * libFuzzer target for ballastd's state file reader (state_file.h):
 * arbitrary bytes through state_file_decode. Properties checked (abort on
 * violation): no crash or out-of-bounds access (ASan), no failure without a
 * reason and no success with one, every accepted record passes
 * vm_saved_check, and an accepted document re-encodes to one that decodes
 * to exactly the same records (the writer and the reader agree), and no
 * glib critical (a member of the wrong kind read with a getter that warns:
 * crash-format-not-scalar).
 */
#include "fuzz/fuzz_log.h"
#include "state_file.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BOOT "5c1d2e3f-aaaa-bbbb-cccc-0123456789ab"
#define NOW  1000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool once;
    if (!once) {
        fuzz_log_fatal(G_LOG_LEVEL_CRITICAL);
        once = true;
    }
    GPtrArray *out = NULL;
    char *why = NULL;
    int rc = state_file_decode((const char *)data, size, BOOT, NOW, &out, &why);
    if ((rc < 0) != (why != NULL) || (rc == 0) != (out != NULL))
        abort();
    g_free(why);
    if (rc < 0)
        return 0;
    for (guint i = 0; i < out->len; i++)
        if (vm_saved_check(out->pdata[i], NOW))
            abort();
    size_t len;
    char *text = state_file_encode((struct vm_saved *const *)out->pdata, out->len, BOOT, &len);
    GPtrArray *again = NULL;
    if (state_file_decode(text, len, BOOT, NOW, &again, &why) != 0 || again->len != out->len)
        abort();
    for (guint i = 0; i < out->len; i++)
        if (memcmp(out->pdata[i], again->pdata[i], sizeof(struct vm_saved)) != 0)
            abort();
    g_ptr_array_unref(again);
    g_free(text);
    g_ptr_array_unref(out);
    return 0;
}
