/* SPDX-License-Identifier: MIT */
/* sqlfile.h -- the numbered schema files: reading a directory, ordering, splitting into statements. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Files numbered below this run before the rows are loaded, the rest after. */
#define SQL_AFTER_LOAD_FROM 50

typedef struct SqlFile {
        char *name; /* "50-keys-and-indexes.sql" */
        char *text;
        int number; /* the leading number: 50 */
        bool after_load;
} SqlFile;

typedef struct SqlDir {
        char *path;
        SqlFile *files; /* sorted by name */
        size_t n_files;
        uint64_t hash; /* of every file's name and content: part of the template's fingerprint */
} SqlDir;

/*
 * Reads every *.sql file in path.  Each name must start with a number
 * ("01-tables.sql"); anything else is -EINVAL naming the file.  An empty or
 * missing directory is an error too.
 */
int sqldir_load(const char *path, SqlDir *ret, Error *e);
void sqldir_free(SqlDir *d);

/*
 * Splits SQL text into statements at top-level semicolons, keeping quoted
 * strings, quoted identifiers, dollar-quoted bodies ($$...$$, $tag$...$tag$)
 * and comments intact.  Statements are trimmed; empty ones (only comments or
 * space) are dropped.  Returns a NULL-terminated vector (strv_free).
 */
char **sql_split(const char *text);
