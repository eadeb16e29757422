/*
 * libvirt_module.h — ballastd's loader of ballast-libvirt.so (lv_module.h).
 *
 * ballastd does not link libvirt: with --libvirt it loads the module from
 * $BALLAST_LIBVIRT_MODULE when set, else from ../lib/ next to its own
 * executable (build/lib/ for build/bin/ballastd), else from the private
 * library directory it was installed with (lib/ballast/ under the prefix,
 * found relative to the executable first, so a DESTDIR tree works too).
 */
#ifndef BALLAST_LIBVIRT_MODULE_H
#define BALLAST_LIBVIRT_MODULE_H

#include "lv_module.h"

#include <glib.h>

/* Loads the module once (later calls return the same table); NULL with
 * *error set (file, dlerror, ABI mismatch) when it cannot. */
const struct lv_module_api *libvirt_module_load(GError **error);

#endif
