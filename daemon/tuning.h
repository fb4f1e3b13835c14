/* SPDX-License-Identifier: MIT */
/* tuning.h -- server settings derived from pgseedd's configuration: memory sizing, WAL archiving, TLS. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct Config Config;

/* Where a container's server sees [postgres] wal_archive_dir (the Docker runtime mounts it there). */
#define TUNING_CONTAINER_ARCHIVE_DIR "/var/lib/postgresql/wal-archive"

/*
 * Appends the derived "name=value" settings to *settings (a strv, possibly
 * NULL): shared_buffers, effective_cache_size, maintenance_work_mem and
 * work_mem from [postgres] memory; archive_mode and archive_command for
 * [postgres] wal_archive_dir (the directory is created, owned by the user the
 * server runs as); ssl and its files for [postgres] tls (tls.c).  They come
 * after the settings file's, so they win.  in_container: the Docker runtime,
 * which mounts the archive directory at TUNING_CONTAINER_ARCHIVE_DIR and
 * copies the TLS files to TLS_CONTAINER_DIR (tls.h): the settings name those
 * paths.  Returns 0 or -errno with e filled.
 */
int tuning_append_settings(const Config *c, bool in_container, char ***settings, Error *e);
