/* SPDX-License-Identifier: MIT */
/* csv.h -- streaming RFC 4180 record reader over a fixed-size read buffer. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The reader accepts RFC 4180 plus what real exports contain: LF, CRLF or
 * bare CR line ends, a UTF-8 byte order mark at the start, quotes inside
 * unquoted fields (kept literally) and blank lines (skipped, not records).
 * It holds one read buffer of a fixed size and the current record's fields,
 * never the whole input.
 */
typedef struct CsvReader CsvReader;

typedef struct CsvField {
        const char *data; /* also NUL-terminated, but may contain NUL bytes: len is authoritative */
        size_t len;
} CsvField;

typedef struct CsvRecord {
        int64_t line; /* physical line (1-based) where the record starts */
        size_t n_fields;
        const CsvField *fields; /* valid until the next csv_reader_next(), _rewind() or _free() */
        const char *detail;     /* on -EBADMSG: what is wrong with the record; NULL otherwise */
} CsvRecord;

#define CSV_BUFFER_SIZE_DEFAULT (64U * 1024U)
/* A YouTube comment is at most 10,000 characters, so a megabyte is a broken record, not data. */
#define CSV_RECORD_MAX_DEFAULT (1024U * 1024U)

/*
 * Constructors.  The reader borrows fd, f or data (the caller keeps
 * ownership and must keep them alive until csv_reader_free()).  buffer_size
 * is the read buffer (0 = CSV_BUFFER_SIZE_DEFAULT; tiny values are raised to
 * a small minimum).  Input is read from the current position of fd or f.
 * They return 0 and the reader in *ret, or -EINVAL.
 */
int csv_reader_new_fd(int fd, size_t buffer_size, CsvReader **ret);
int csv_reader_new_file(FILE *f, size_t buffer_size, CsvReader **ret);
int csv_reader_new_memory(const void *data, size_t size, size_t buffer_size, CsvReader **ret);

/* Records whose field bytes exceed max are malformed (0 = CSV_RECORD_MAX_DEFAULT). */
void csv_reader_set_max_record(CsvReader *r, size_t max);

/*
 * Reads the next record into *ret.  Returns 1 with a record, 0 at the end of
 * input, -EBADMSG for a malformed record (ret->line and ret->detail say
 * where and what; no fields), or another -errno when reading fails (sticky).
 * After -EBADMSG the next call continues at the next line: after garbage
 * following a closing quote, at the line after that garbage; after an
 * unterminated quoted field (at end of input, or running past max_record),
 * at the line after the one where the record started when the input can be
 * re-read (memory, regular files), so one stray quote costs one record.
 */
int csv_reader_next(CsvReader *r, CsvRecord *ret);

/*
 * Starts over at the position the reader was created at (BOM and line
 * numbers included).  Returns 0, or -ESPIPE when the input cannot seek.
 */
int csv_reader_rewind(CsvReader *r);

/* Frees the reader (not the fd, FILE or memory it reads); NULL is fine.  Returns NULL. */
CsvReader *csv_reader_free(CsvReader *r);
static inline void csv_reader_freep(CsvReader **r)
{
        csv_reader_free(*r);
}
