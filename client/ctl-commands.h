/* SPDX-License-Identifier: MIT */
/* ctl-commands.h -- the commands pgseedctl.c's table dispatches to, by the file that defines each. */
#pragma once

typedef struct Ctl Ctl;

/* Every command gets argv from its own name on and returns pgseedctl's exit code. */
typedef int (*CommandFunc)(Ctl *ctl, int argc, char **argv);

/* ctl-inspect.c */
int cmd_health(Ctl *ctl, int argc, char **argv);
int cmd_status(Ctl *ctl, int argc, char **argv);
int cmd_metrics(Ctl *ctl, int argc, char **argv);
int cmd_schema(Ctl *ctl, int argc, char **argv);
int cmd_sample(Ctl *ctl, int argc, char **argv);
int cmd_logs(Ctl *ctl, int argc, char **argv);
/* ctl-wait.c */
int cmd_wait(Ctl *ctl, int argc, char **argv);
/* ctl-process.c */
int cmd_start(Ctl *ctl, int argc, char **argv);
int cmd_stop(Ctl *ctl, int argc, char **argv);
int cmd_restart(Ctl *ctl, int argc, char **argv);
int cmd_down(Ctl *ctl, int argc, char **argv);
int cmd_load_data(Ctl *ctl, int argc, char **argv);
/* ctl-reset.c */
int cmd_reset(Ctl *ctl, int argc, char **argv);
int cmd_restore(Ctl *ctl, int argc, char **argv);
/* ctl-clone.c */
int cmd_clone(Ctl *ctl, int argc, char **argv);
int cmd_clones(Ctl *ctl, int argc, char **argv);
int cmd_unclone(Ctl *ctl, int argc, char **argv);
/* ctl-workload.c */
int cmd_workload(Ctl *ctl, int argc, char **argv);
/* ctl-snapshot.c */
int cmd_snapshot(Ctl *ctl, int argc, char **argv);
int cmd_snapshots(Ctl *ctl, int argc, char **argv);
int cmd_unsnapshot(Ctl *ctl, int argc, char **argv);
int cmd_snapshot_dump(Ctl *ctl, int argc, char **argv);
int cmd_snapshot_load(Ctl *ctl, int argc, char **argv);
