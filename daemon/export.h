/* SPDX-License-Identifier: MIT */
/* export.h -- writing the configured dataset to files (for benchmarks and inspection). */
#pragma once

#include "error.h"

typedef struct Config Config;

/*
 * Writes videos.tsv, users.tsv and comments.tsv (COPY text format, the exact
 * rows a seed loads) into dir, creating it.  Returns 0 or -errno with e filled.
 */
int dataset_export(const Config *c, const char *dir, Error *e);
