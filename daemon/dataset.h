/* SPDX-License-Identifier: MIT */
/* dataset.h -- where the seed rows come from: the synthetic generator or the normalized CSV. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * The three tables of the YouTube comment dataset.  Rows are produced already
 * encoded in PostgreSQL COPY text format, columns in this order:
 *   videos:   video_id, title, category
 *   users:    channel_id, channel_name
 *   comments: comment_id, video_id, channel_id, comment_text, likes, replies,
 *             published_at, sentiment_label, country_code
 * (tab-separated, \N for NULL, backslash/tab/newline/CR escaped, one '\n'
 * per row).  created_at and updated_at take their column defaults.
 */
typedef enum DatasetTable {
        TABLE_VIDEOS,
        TABLE_USERS,
        TABLE_COMMENTS,
        _TABLE_MAX,
} DatasetTable;

extern const char *const dataset_table_names[_TABLE_MAX];
/* The column list for COPY, e.g. "video_id, title, category". */
extern const char *const dataset_table_columns[_TABLE_MAX];

/*
 * A consumer of rows.  put() gets one complete COPY-text row (with its
 * trailing newline); it returns 0, or a negative errno to abort production
 * (the producer then returns that value).
 */
typedef struct RowSink {
        int (*put)(void *userdata, DatasetTable table, const char *row, size_t len);
        void *userdata;
} RowSink;

/* Appends s to a growing row buffer, COPY-text escaped; NULL appends \N. */
typedef struct RowBuf {
        char *data;
        size_t len, cap;
} RowBuf;
void rowbuf_reset(RowBuf *b);
void rowbuf_field(RowBuf *b, const char *s, size_t len); /* s==NULL: \N */
void rowbuf_field_str(RowBuf *b, const char *s);         /* NUL-terminated or NULL */
void rowbuf_field_int(RowBuf *b, int64_t v);
void rowbuf_end(RowBuf *b); /* replaces the trailing tab by '\n' */
void rowbuf_free(RowBuf *b);

/* ---- synthetic ---------------------------------------------------------- */

typedef struct SyntheticSpec {
        int64_t comments; /* default 500000 */
        uint64_t seed;
} SyntheticSpec;

/* Row counts for a spec: videos = max(1, round(0.009 * comments)), users = round(0.782 * comments). */
void synthetic_counts(const SyntheticSpec *spec, int64_t counts[_TABLE_MAX]);

/*
 * Emits rows [begin, end) of table into sink.  Row i of a table depends only
 * on (seed, table, i), so ranges can be generated in parallel and in any
 * order; the same spec gives byte-identical rows.  Every user writes at least
 * one comment and every comment's video and channel exist.
 */
int synthetic_generate(const SyntheticSpec *spec, DatasetTable table, int64_t begin, int64_t end,
                       const RowSink *sink);

/* ---- CSV ---------------------------------------------------------------- */

typedef enum CsvDropReason {
        DROP_MALFORMED,         /* wrong field count, unterminated quote, ... */
        DROP_MISSING_ID,        /* no comment, video or channel ID */
        DROP_DUPLICATE_COMMENT, /* comment ID seen before */
        DROP_BAD_VALUE,         /* invalid UTF-8, bad number or date, over-long field */
        DROP_NOT_SAMPLED,       /* valid, but outside the N-comment subset */
        _DROP_MAX,
} CsvDropReason;

extern const char *const csv_drop_reason_names[_DROP_MAX];

typedef struct CsvStats {
        int64_t rows_read; /* data rows (records) after the header */
        int64_t kept[_TABLE_MAX];
        int64_t dropped[_DROP_MAX];
} CsvStats;

typedef struct CsvOptions {
        int64_t limit; /* keep at most this many comments (stratified subset); <=0 = all */
        /* Called for each skipped record (not for DROP_NOT_SAMPLED); may be NULL. */
        void (*on_skip)(void *userdata, int64_t line, CsvDropReason reason, const char *detail);
        void *userdata;
} CsvOptions;

/*
 * Streams the CSV at path into sink, normalized: videos and users
 * deduplicated (first occurrence wins), duplicate comment IDs and rows without
 * a comment, video or channel ID dropped, empty channel names become
 * 'Unknown User', values validated so COPY cannot fail on them.  Reads the file
 * twice when a subset is requested (first to plan the sample, then to emit),
 * never writing it elsewhere.  Returns 0, or -ENOENT/-EINVAL (missing file,
 * missing header columns, no usable row) with e filled.
 */
int csv_dataset_load(const char *path, const CsvOptions *opts, const RowSink *sink, CsvStats *stats,
                     Error *e);
