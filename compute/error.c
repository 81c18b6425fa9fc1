/* error.c: errors are values carried in a jc_error the caller owns. */
#include <stdarg.h>
#include <stdio.h>

#include "jc.h"

const char *jc_status_name(jc_status s)
{
    switch (s) {
    case JC_OK: return "ok";
    case JC_ERR_INVALID: return "invalid argument";
    case JC_ERR_NOMEM: return "out of memory";
    case JC_ERR_IO: return "I/O error";
    case JC_ERR_FORMAT: return "bad format";
    case JC_ERR_UNSUPPORTED: return "unsupported";
    case JC_ERR_DEVICE: return "device error";
    case JC_ERR_NUMERIC: return "numeric error";
    }
    return "unknown error";
}

jc_status jc_error_set(jc_error *err, jc_status code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void jc_error_clear(jc_error *err)
{
    if (err) {
        err->code = JC_OK;
        err->msg[0] = 0;
    }
}
