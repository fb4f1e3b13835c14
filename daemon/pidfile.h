/* SPDX-License-Identifier: MIT */
/* pidfile.h -- STATE_DIR/pgseedd.pid: the lock that keeps one pgseedd per state directory. */
#pragma once

#include "error.h"

/*
 * Creates state_dir if needed, then opens and locks (flock, non-blocking)
 * state_dir/pgseedd.pid and writes our pid into it.  The lock lives as long
 * as *ret_fd stays open.  Returns 0, or -EBUSY (code already_running) naming
 * the pid of the holder, or another -errno.  Thread-safe (tests race it).
 */
int pidfile_acquire(const char *state_dir, int *ret_fd, Error *e);

/* Removes the pidfile and drops the lock (in that order, see pidfile.c).  fd < 0 is a no-op. */
void pidfile_release(const char *state_dir, int fd);
