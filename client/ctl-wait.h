/* SPDX-License-Identifier: MIT */
/* ctl-wait.h -- waiting for /health to say ready, with progress, and why a child pgseedd exited meanwhile.
 */
#pragma once

#include <sys/types.h>

#include <jansson.h>

#include "error.h"

typedef struct Ctl Ctl;

typedef struct WaitChild {
        pid_t pid;            /* the pgseedd we spawned, or 0 */
        const char *log_path; /* where its stderr goes */
        off_t log_offset;     /* its output starts here */
} WaitChild;

/*
 * Polls /health until it answers 200 or timeout_s passes, showing progress
 * on stderr.  Returns 0 and the last /health body in *ret (may be NULL);
 * -ETIMEDOUT with e holding the last reason; -ECONNREFUSED when nothing
 * answered; -ECHILD when child (may be NULL) exited, with its error in e.
 */
int ctl_wait_ready(Ctl *ctl, double timeout_s, const WaitChild *child, json_t **ret, Error *e);

/* The error for a child that exited while we waited (wstatus from waitpid), from what it wrote to its log.
 */
int start_failure_describe(const WaitChild *child, int wstatus, Error *e);
