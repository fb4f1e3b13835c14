/* SPDX-License-Identifier: MIT */
/* error.h -- errors as values: an errno plus the human detail, carried up to whoever reports it. */
#pragma once

#include <stddef.h>

#include "util.h"

/*
 * Functions that can fail return a negative errno and fill the caller's
 * Error.  The errno picks the class of failure (and, at the HTTP layer, the
 * status: EINVAL 400, ENOENT 404, EBUSY 409, EAGAIN/ECONNREFUSED 503,
 * ETIMEDOUT 504, anything else 500); code is a stable machine-readable word,
 * message says what went wrong and hint what to do about it.  Lower layers
 * fill it and return; only the top (HTTP handler, main, pgseedctl) logs or
 * prints it, once.
 */
typedef struct Error {
        int errnum;    /* positive errno */
        char code[48]; /* e.g. "reset_in_progress"; defaults from errnum */
        char message[1024];
        char hint[512];
} Error;

#define ERROR_INIT                                                                                          \
        {                                                                                                   \
                0                                                                                           \
        }

/* Fills e and returns -errnum, so callers can write `return error_set(e, ...)`. e may be NULL. */
int error_set(Error *e, int errnum, const char *code, const char *hint, const char *fmt, ...) _printf_(5, 6);

/* Prefixes the existing message with context ("Failed to seed: " + message); returns -e->errnum. */
int error_prefix(Error *e, const char *fmt, ...) _printf_(2, 3);

/* The default code word for an errno ("invalid_argument", "not_found", ...). */
const char *error_code_for_errno(int errnum);
