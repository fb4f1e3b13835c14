/* SPDX-License-Identifier: MIT */
/* ctl-daemon.h -- the local pgseedd: where its binary is, its configuration, whether it runs, why it gave
 * up. */
#pragma once

#include <sys/types.h>

#include <jansson.h>

#include "error.h"

/*
 * Finds the pgseedd binary: $PGSEEDD, else next to this binary (the build
 * tree's ../daemon/pgseedd, or the same directory when installed), else PATH.
 * Returns a new path, or NULL when there is none.
 */
char *pgseedd_find(void);

/* Runs `pgseedd --print-config=json` (the environment passes through).  Returns 0 and a new object, or
 * -errno. */
int pgseedd_print_config(const char *pgseedd, json_t **ret, Error *e);

/* The URL for an api.listen value ("127.0.0.1:7432", "0.0.0.0:80", "[::]:7432").  NULL if unparseable;
 * caller frees. */
char *api_url_from_listen(const char *listen);

/*
 * Whether a pgseedd runs on state_dir: it holds a lock on the pidfile while
 * it lives, so a pidfile nobody locks is stale.  Returns 1 and the pid (0 when
 * the file is still empty) when one runs, 0 when none does, or -errno.
 */
int pgseedd_running(const char *state_dir, pid_t *ret_pid);

/*
 * From the text pgseedd wrote to its log, the error it gave up with: the last
 * `pgseedd: MESSAGE` line and the `  hint: HINT` after it.  Returns 0 with e
 * filled, or -ENOENT when there is none.
 */
int start_error_parse(const char *log_text, Error *e);
