/* SPDX-License-Identifier: MIT */
/* ctl-process.h -- starting and stopping the local pgseedd for start, stop, restart, down and load-data. */
#pragma once

#include <stdbool.h>

typedef struct Ctl Ctl;

/* The start, wait and stop machinery behind the commands. */
int ctl_start(Ctl *ctl, bool say_ready);
int ctl_stop(Ctl *ctl);
