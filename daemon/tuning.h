/* SPDX-License-Identifier: MIT */
/* tuning.h -- server settings derived from pgseedd's configuration: memory sizing, WAL archiving, TLS. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef struct Config Config;

/*
 * Parses [postgres] memory: "" (none: the settings file decides), "auto" (a
 * quarter of the machine's RAM) or a size such as 512MB, 2GB (kB, MB, GB, TB;
 * at least 64MB).  *ret_mb is the budget in MB, 0 for "".  Returns 0 or
 * -EINVAL.
 */
int tuning_parse_memory(const char *value, int64_t *ret_mb);

/*
 * Appends the derived "name=value" settings to *settings (a strv, possibly
 * NULL): shared_buffers, effective_cache_size, maintenance_work_mem and
 * work_mem from [postgres] memory; archive_mode and archive_command for
 * [postgres] wal_archive_dir (the directory is created, owned by the user the
 * server runs as); ssl and its files for [postgres] tls (tls.c).  They come
 * after the settings file's, so they win.  in_container: the Docker runtime,
 * where a WAL archive directory on the host is refused (-ENOTSUP) for now.
 * Returns 0 or -errno with e filled.
 */
int tuning_append_settings(const Config *c, bool in_container, char ***settings, Error *e);
