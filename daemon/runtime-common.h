/* SPDX-License-Identifier: MIT */
/* runtime-common.h -- checks and parsers the runtimes share; below runtime.c, which never calls a runtime by name. */
#pragma once

#include <stdint.h>

#include "error.h"

/* Free bytes for unprivileged users on the file system holding path (statvfs), or -errno. */
int64_t disk_free_bytes(const char *path);

/*
 * Checks that nothing listens on 127.0.0.1:port by binding it briefly.
 * Returns 0, or -EADDRINUSE with e naming the port, what it was for, and how
 * to find who holds it.  what: "Postgres" or "the API".
 */
int port_check_free(int port, const char *what, const char *setting, Error *e);

/*
 * The settings of the postgresql.conf fragment at path as "name=value"
 * strings (for -c arguments), NULL-terminated.  Returns -ENOENT/-EINVAL with
 * e naming the file and line.
 */
int pgconf_load(const char *path, char ***ret, Error *e);
