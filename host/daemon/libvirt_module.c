/* libvirt_module.c — see libvirt_module.h. */
#include "libvirt_module.h"

#include <dlfcn.h>
#include <errno.h>
#include <unistd.h>

static const struct lv_module_api *loaded;

/*
 * Where the module is; the first that exists wins:
 *   <dir of the executable>/../lib/        the build tree (build/bin/ -> build/lib/)
 *   <dir of the executable>/MODULE_RELDIR  installed (sbin/ -> lib/ballast/), also
 *                                          in a DESTDIR tree or a moved prefix
 *   MODULE_DIR                             installed, where CMake put it
 * When none exists, MODULE_DIR: the error names where it belongs.
 */
static char *module_path_find(void)
{
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *bin = exe ? g_path_get_dirname(exe) : NULL;
    const char *beside[] = {"../lib", BALLAST_MODULE_RELDIR};
    for (size_t i = 0; bin && i < G_N_ELEMENTS(beside); i++) {
        g_autofree char *rel = g_build_filename(bin, beside[i], LV_MODULE_FILE, NULL);
        if (access(rel, F_OK) == 0)
            return g_canonicalize_filename(rel, NULL);
    }
    return g_build_filename(BALLAST_MODULE_DIR, LV_MODULE_FILE, NULL);
}

const struct lv_module_api *libvirt_module_load(GError **error)
{
    if (loaded)
        return loaded;
    const char *env = g_getenv("BALLAST_LIBVIRT_MODULE");
    g_autofree char *path = env && env[0] ? g_strdup(env) : module_path_find();
    /* RTLD_LOCAL: the module's copies of the pure helpers stay its own. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "libvirt module: %s", dlerror());
        return NULL;
    }
    lv_module_entry_fn entry = (lv_module_entry_fn)dlsym(h, LV_MODULE_ENTRY);
    const struct lv_module_api *api = entry ? entry() : NULL;
    if (!api || api->abi_version != LV_MODULE_ABI_VERSION ||
        api->options_size != sizeof(struct vmsource_libvirt_options) ||
        api->policy_size != sizeof(struct lv_policy) ||
        api->layer_size != sizeof(struct config_vm_layer) || !api->source_new || !api->vm_machine ||
        !api->reread_policies || !api->describe) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                    "libvirt module %s: not a module of this ballastd build (ABI %u, want %u)",
                    path, api ? api->abi_version : 0, LV_MODULE_ABI_VERSION);
        dlclose(h);
        return NULL;
    }
    /* Never unloaded: libvirt keeps threads and atexit handlers. */
    g_debug("libvirt module loaded from %s", path);
    loaded = api;
    return loaded;
}
