/* SPDX-License-Identifier: MIT */
/* ctl-render.h -- text for the terminal: counts, durations, widths, tables, /health, /schema, /sample; pure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Formats n with thousands separators ("1,234,567") into buf; returns buf. */
char *format_count(int64_t n, char *buf, size_t size);
/* Formats a duration compactly ("84 ms", "3.1s", "2m 05s", "1h 02m") into buf; returns buf. */
char *format_duration_ms(int64_t ms, char *buf, size_t size);

/*
 * Terminal columns that UTF-8 text takes: wide characters count 2, combining
 * marks 0, anything undecodable 1 per byte.  Needs an LC_CTYPE with Unicode
 * tables (pgseedctl's main() makes sure of that).
 */
size_t text_width(const char *s);
/* The longest prefix of s (in bytes) that takes at most width columns. */
size_t text_prefix_for_width(const char *s, size_t width);

/*
 * One table cell as readable text: null as NULL, strings with newlines,
 * tabs and other control characters escaped (\n, \t, \x1b), numbers and
 * booleans as JSON writes them, arrays and objects as compact JSON.  Never
 * NULL; caller frees.
 */
char *render_value(const json_t *v);

/* Terminal width for tables: stdout's when it is a terminal, else $COLUMNS, else 120. */
int terminal_width(void);

/*
 * Aligned text table in psql's style ("a | b", a "--+--" rule), every line at
 * most width columns when that is possible: the widest columns are narrowed
 * first and cut cells end in "…"; columns that would get fewer than 10 are
 * left out from the right.  cells holds n_rows * n_cols strings, row by row;
 * right[i] right-aligns column i (numbers) and may be NULL.  Each line starts
 * with indent spaces.  Returns how many columns (from the left) it showed.
 */
size_t render_table(FILE *f, size_t n_cols, const char *const *headers, const bool *right, size_t n_rows,
                    const char *const *cells, int width, int indent);

/* `status: reason (PostgreSQL 15.4, 895,000 rows in 3 tables)`, from a /health body.  Caller frees. */
char *render_health_line(const json_t *health);

/*
 * The progress line for /health's "seeding" object, fitting width columns:
 * `[#######.....]  57%  seeding: copy  512,340/895,000 rows  3.1s`.  Caller frees.
 */
char *render_progress_line(const json_t *seeding, int width);

/* Everything in a /health body, one fact per line, for `pgseedctl status`. */
void render_status(FILE *f, const json_t *health);

/* A /schema body (all tables, or {"table": ...}) as headers, column tables, keys, indexes and triggers. */
void render_schema(FILE *f, const json_t *schema, int width);

/*
 * A /sample body (one sample, or {"tables": [...]}) as one aligned table per
 * table.  counts is /health's "tables" array (for "of N rows"), or NULL.
 */
void render_sample(FILE *f, const json_t *sample, const json_t *counts, int width);

/* `reset (template) in 84 ms: comments 500,000, users 391,000, videos 4,500`.  Caller frees. */
char *render_reset(const json_t *reset);
