/* SPDX-License-Identifier: MIT */
/* runtime-common.h -- checks and parsers the runtimes share, below runtime.c (which names no runtime). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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

/*
 * What a server pgseedd starts (initdb, postgres, pgbouncer) inherits:
 * pgseedd's environment minus its secrets and settings (PGSEED_*, among them
 * PGSEED_PG_PASSWORD; PGPASSWORD, PGPASSFILE), readable by anyone who may read
 * /proc/PID/environ of the child, and minus the systemd protocol variables,
 * which belong to pgseedd alone (a postgres built with systemd support would
 * otherwise send its own READY=1 to pgseedd's notify socket).  A new
 * NULL-terminated vector (strv_free).
 */
char **child_environment(void);

/*
 * In a forked child, before exec: undoes what exec keeps of pgseedd's (its
 * blocked termination signals, an ignored SIGPIPE), reads stdin from
 * /dev/null, writes stdout and stderr to out_fd, becomes uid/gid when drop
 * (exits 126 when it cannot), and takes a process group of its own, so that
 * a Ctrl-C on pgseedd's terminal reaches only pgseedd, which stops it in
 * order.
 */
void child_setup(int out_fd, bool drop, uid_t uid, gid_t gid);
