/* backend.c: opening backends by name.  The GPU backends join this table;
 * nothing falls back to another backend silently. */
#include <string.h>

#include "jc_internal.h"

jc_backend *jc_backend_open(const char *name, const char *options, jc_error *err)
{
    if (!name || strcmp(name, "cpu") == 0)
        return jc_cpu_backend_new(options, err);
    jc_error_set(err, JC_ERR_UNSUPPORTED, "unknown backend '%s' (available: cpu)", name);
    return NULL;
}

void jc_backend_free(jc_backend *be)
{
    if (be)
        be->iface->free(be);
}

const char *jc_backend_name(const jc_backend *be) { return be->name; }

void jc_backend_device_info(const jc_backend *be, jc_device_info *info) { be->iface->device_info(be, info); }
