/* libvirt_module.c — see libvirt_module.h. */
#include "libvirt_module.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>

static const struct lv_module_api *loaded;

/* <dir of /proc/self/exe>/../lib/LV_MODULE_FILE, or NULL. */
static char *module_path_beside_exe(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    g_autofree char *bin = g_path_get_dirname(exe);
    g_autofree char *prefix = g_path_get_dirname(bin);
    return g_build_filename(prefix, "lib", LV_MODULE_FILE, NULL);
}

const struct lv_module_api *libvirt_module_load(GError **error)
{
    if (loaded)
        return loaded;
    const char *env = g_getenv("BALLAST_LIBVIRT_MODULE");
    g_autofree char *path = env && env[0] ? g_strdup(env) : module_path_beside_exe();
    if (!path) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "libvirt module: cannot locate " LV_MODULE_FILE
                    " (set BALLAST_LIBVIRT_MODULE)");
        return NULL;
    }
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
        !api->reread_policies) {
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
