/* SPDX-License-Identifier: MIT */
/* error.c -- filling and decorating Error values. */

#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const char *error_code_for_errno(int errnum)
{
        switch (errnum) {
        case EINVAL:
                return "invalid_argument";
        case ENOENT:
                return "not_found";
        case EBUSY:
                return "conflict";
        case EAGAIN:
        case ECONNREFUSED:
                return "unavailable";
        case ETIMEDOUT:
                return "timeout";
        case EADDRINUSE:
                return "address_in_use";
        case EACCES:
        case EPERM:
                return "permission_denied";
        case ENOMEM:
                return "out_of_memory";
        default:
                return "internal";
        }
}

int error_set(Error *e, int errnum, const char *code, const char *hint, const char *fmt, ...)
{
        va_list ap;

        if (errnum < 0)
                errnum = -errnum;
        if (errnum == 0)
                errnum = EIO;
        if (!e)
                return -errnum;

        e->errnum = errnum;
        strlcpy0(e->code, code ? code : error_code_for_errno(errnum), sizeof(e->code));
        strlcpy0(e->hint, hint ? hint : "", sizeof(e->hint));
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return -errnum;
}

int error_prefix(Error *e, const char *fmt, ...)
{
        char prefix[512], old[sizeof(e->message)];
        va_list ap;

        if (e->errnum == 0)
                e->errnum = EIO;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, e->message, sizeof(old));
        snprintf(e->message, sizeof(e->message), "%s%s", prefix, old);
        return -e->errnum;
}
