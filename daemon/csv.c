/* SPDX-License-Identifier: MIT */
/* csv.c -- streaming RFC 4180 record reader: quoting, line tracking and resynchronisation after errors. */

#include "csv.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "util.h"

/* The smallest read buffer that still holds a whole byte order mark. */
#define CSV_BUFFER_SIZE_MIN 4U
/*
 * Resynchronising after an unterminated quote re-reads the record from its
 * second line.  A file full of stray quotes would make that quadratic, so
 * the total re-read is capped; past it the reader just skips forward.
 */
#define CSV_RESCAN_BUDGET (256U * 1024U * 1024U)

typedef enum CsvSourceKind {
        CSV_SOURCE_FD,
        CSV_SOURCE_FILE,
        CSV_SOURCE_MEMORY,
} CsvSourceKind;

typedef enum ParseState {
        STATE_RECORD_START, /* before a record: blank lines are skipped here */
        STATE_FIELD_START,
        STATE_UNQUOTED,
        STATE_QUOTED,
        STATE_QUOTE_SEEN, /* a '"' inside a quoted field: closes it, or starts a doubled quote */
        STATE_SKIP_LINE,  /* after an error: discarding up to the next line end */
} ParseState;

typedef struct Span {
        size_t start, len;
} Span;

struct CsvReader {
        CsvSourceKind kind;
        int fd;
        FILE *f;
        const char *mem;
        size_t mem_size, mem_pos;
        int64_t base; /* source position at creation, -1 when the source cannot seek */

        char *rbuf;
        size_t rsize, rpos, rlen;
        uint64_t roff; /* input offset (relative to base) of rbuf[0] */
        bool bom_checked;
        int error; /* sticky read error, negative errno */
        bool done; /* end of input reached and reported */

        int64_t line;    /* line of the next unread byte */
        bool pending_cr; /* last byte was '\r': a following '\n' ends the same line */
        bool skip_line;  /* the next call starts by discarding the rest of the line */

        size_t max_record;
        uint64_t rescan_budget;

        /* The current record: field bytes, each followed by a NUL. */
        char *fbuf;
        size_t flen, fcap, rec_bytes;
        Span *spans;
        size_t n_spans, spans_cap;
        CsvField *fields;
        size_t fields_cap;
        char detail[96];
};

static CsvReader *reader_alloc(CsvSourceKind kind, size_t buffer_size)
{
        CsvReader *r = xcalloc(1, sizeof(CsvReader));

        if (buffer_size == 0)
                buffer_size = CSV_BUFFER_SIZE_DEFAULT;
        if (buffer_size < CSV_BUFFER_SIZE_MIN)
                buffer_size = CSV_BUFFER_SIZE_MIN;
        r->kind = kind;
        r->fd = -1;
        r->rsize = buffer_size;
        r->rbuf = xmalloc(buffer_size);
        r->line = 1;
        r->max_record = CSV_RECORD_MAX_DEFAULT;
        r->rescan_budget = CSV_RESCAN_BUDGET;
        return r;
}

int csv_reader_new_fd(int fd, size_t buffer_size, CsvReader **ret)
{
        CsvReader *r;
        off_t pos;

        if (fd < 0 || !ret)
                return -EINVAL;
        r = reader_alloc(CSV_SOURCE_FD, buffer_size);
        r->fd = fd;
        pos = lseek(fd, 0, SEEK_CUR);
        r->base = pos < 0 ? -1 : (int64_t) pos;
        *ret = r;
        return 0;
}

int csv_reader_new_file(FILE *f, size_t buffer_size, CsvReader **ret)
{
        CsvReader *r;
        off_t pos;

        if (!f || !ret)
                return -EINVAL;
        r = reader_alloc(CSV_SOURCE_FILE, buffer_size);
        r->f = f;
        pos = ftello(f);
        r->base = pos < 0 ? -1 : (int64_t) pos;
        *ret = r;
        return 0;
}

int csv_reader_new_memory(const void *data, size_t size, size_t buffer_size, CsvReader **ret)
{
        CsvReader *r;

        if ((!data && size > 0) || !ret)
                return -EINVAL;
        r = reader_alloc(CSV_SOURCE_MEMORY, buffer_size);
        r->mem = data;
        r->mem_size = size;
        r->base = 0;
        *ret = r;
        return 0;
}

void csv_reader_set_max_record(CsvReader *r, size_t max)
{
        r->max_record = max ? max : CSV_RECORD_MAX_DEFAULT;
}

CsvReader *csv_reader_free(CsvReader *r)
{
        if (!r)
                return NULL;
        free(r->rbuf);
        free(r->fbuf);
        free(r->spans);
        free(r->fields);
        free(r);
        return NULL;
}

/* Reads up to n bytes into buf; returns the count, 0 at end of input, or -errno. */
static ssize_t source_read(CsvReader *r, char *buf, size_t n)
{
        switch (r->kind) {
        case CSV_SOURCE_FD:
                for (;;) {
                        ssize_t k = read(r->fd, buf, n);

                        if (k >= 0)
                                return k;
                        if (errno != EINTR)
                                return -errno;
                }
        case CSV_SOURCE_FILE: {
                size_t k = fread(buf, 1, n, r->f);

                if (k == 0 && ferror(r->f))
                        return errno > 0 ? -errno : -EIO;
                return (ssize_t) k;
        }
        case CSV_SOURCE_MEMORY: {
                size_t k = r->mem_size - r->mem_pos;

                if (k > n)
                        k = n;
                memcpy(buf, r->mem + r->mem_pos, k);
                r->mem_pos += k;
                return (ssize_t) k;
        }
        }
        return -EINVAL;
}

/* Positions the source at off (relative to base) and empties the read buffer. */
static int source_seek(CsvReader *r, uint64_t off)
{
        switch (r->kind) {
        case CSV_SOURCE_FD:
                if (r->base < 0)
                        return -ESPIPE;
                if (lseek(r->fd, (off_t) (r->base + (int64_t) off), SEEK_SET) < 0)
                        return -errno;
                break;
        case CSV_SOURCE_FILE:
                if (r->base < 0)
                        return -ESPIPE;
                clearerr(r->f);
                if (fseeko(r->f, (off_t) (r->base + (int64_t) off), SEEK_SET) < 0)
                        return -errno;
                break;
        case CSV_SOURCE_MEMORY:
                if (off > r->mem_size)
                        return -EINVAL;
                r->mem_pos = (size_t) off;
                break;
        }
        r->rpos = r->rlen = 0;
        r->roff = off;
        return 0;
}

/* Refills the (fully consumed) read buffer; returns the byte count, 0 at end of input, or -errno. */
static ssize_t reader_fill(CsvReader *r)
{
        ssize_t k;

        r->roff += r->rlen;
        r->rpos = r->rlen = 0;
        k = source_read(r, r->rbuf, r->rsize);
        if (k > 0)
                r->rlen = (size_t) k;
        return k;
}

/*
 * Skips a UTF-8 byte order mark at the very start.  Short reads (pipes) may
 * deliver fewer than three bytes at a time, so read until there are three.
 */
static int reader_skip_bom(CsvReader *r)
{
        r->bom_checked = true;
        while (r->rlen < 3) {
                ssize_t k = source_read(r, r->rbuf + r->rlen, r->rsize - r->rlen);

                if (k < 0)
                        return (int) k;
                if (k == 0)
                        break;
                r->rlen += (size_t) k;
        }
        if (r->rlen >= 3 && memcmp(r->rbuf, "\xEF\xBB\xBF", 3) == 0)
                r->rpos = 3;
        return 0;
}

int csv_reader_rewind(CsvReader *r)
{
        int k = source_seek(r, 0);

        if (k < 0)
                return k;
        r->bom_checked = false;
        r->error = 0;
        r->done = false;
        r->line = 1;
        r->pending_cr = false;
        r->skip_line = false;
        r->rescan_budget = CSV_RESCAN_BUDGET;
        return 0;
}

/* Counts CR, LF and CRLF each as one line end. */
static void count_line(CsvReader *r, char c)
{
        if (c == '\r' || (c == '\n' && !r->pending_cr))
                r->line++;
        r->pending_cr = c == '\r';
}

static void field_reserve(CsvReader *r, size_t n)
{
        if (r->fcap - r->flen < n) {
                size_t cap = r->fcap ? r->fcap : 256;

                while (cap - r->flen < n)
                        cap *= 2;
                r->fbuf = xrealloc(r->fbuf, cap);
                r->fcap = cap;
        }
}

static void field_append(CsvReader *r, const char *p, size_t n)
{
        field_reserve(r, n + 1);
        memcpy(r->fbuf + r->flen, p, n);
        r->flen += n;
        r->rec_bytes += n;
}

static void field_begin(CsvReader *r)
{
        if (r->n_spans == r->spans_cap) {
                r->spans_cap = r->spans_cap ? r->spans_cap * 2 : 16;
                r->spans = xrealloc(r->spans, r->spans_cap * sizeof(Span));
        }
        r->spans[r->n_spans++] = (Span){.start = r->flen};
}

static void field_end(CsvReader *r)
{
        Span *s = &r->spans[r->n_spans - 1];

        s->len = r->flen - s->start;
        field_reserve(r, 1);
        r->fbuf[r->flen++] = '\0';
}

static int record_finish(CsvReader *r, CsvRecord *ret, int64_t line)
{
        /* fbuf may have moved while growing, so pointers are made only now. */
        if (r->fields_cap < r->n_spans) {
                r->fields_cap = r->n_spans;
                r->fields = xrealloc(r->fields, r->fields_cap * sizeof(CsvField));
        }
        for (size_t i = 0; i < r->n_spans; i++)
                r->fields[i] = (CsvField){r->fbuf + r->spans[i].start, r->spans[i].len};
        *ret = (CsvRecord){.line = line, .n_fields = r->n_spans, .fields = r->fields};
        return 1;
}

static int record_error(CsvReader *r, CsvRecord *ret, int64_t line, const char *detail)
{
        strlcpy0(r->detail, detail, sizeof(r->detail));
        *ret = (CsvRecord){.line = line, .detail = r->detail};
        return -EBADMSG;
}

/*
 * Restarts parsing at resync_off, the start of the second line of a record
 * that turned out to be an unterminated quoted field.  Returns false when
 * that is impossible (no second line, unseekable input, budget spent).
 */
static bool reader_resync(CsvReader *r, uint64_t resync_off, int64_t resync_line, bool resync_cr)
{
        uint64_t pos = r->roff + r->rpos;

        if (resync_off == UINT64_MAX || pos - resync_off > r->rescan_budget)
                return false;
        if (source_seek(r, resync_off) < 0)
                return false;
        r->rescan_budget -= pos - resync_off;
        r->line = resync_line;
        r->pending_cr = resync_cr;
        r->done = false;
        return true;
}

int csv_reader_next(CsvReader *r, CsvRecord *ret)
{
        ParseState state = STATE_RECORD_START;
        int64_t rec_line = r->line, resync_line = 0;
        uint64_t resync_off = UINT64_MAX;
        bool resync_cr = false;

        *ret = (CsvRecord){0};
        if (r->error < 0)
                return r->error;
        if (r->done)
                return 0;
        if (!r->bom_checked) {
                int k = reader_skip_bom(r);

                if (k < 0)
                        return (r->error = k);
        }
        r->flen = r->rec_bytes = r->n_spans = 0;
        if (r->skip_line)
                state = STATE_SKIP_LINE;
        r->skip_line = false;

        for (;;) {
                const char *p, *q, *end;

                if (r->rpos == r->rlen) {
                        ssize_t k = reader_fill(r);

                        if (k < 0)
                                return (r->error = (int) k);
                        if (k == 0)
                                break;
                }
                p = q = r->rbuf + r->rpos;
                end = r->rbuf + r->rlen;

                switch (state) {
                case STATE_SKIP_LINE:
                        while (q < end && *q != '\n' && *q != '\r')
                                q++;
                        if (q > p)
                                r->pending_cr = false;
                        r->rpos += (size_t) (q - p);
                        if (q == end)
                                break;
                        r->rpos++;
                        count_line(r, *q);
                        state = STATE_RECORD_START;
                        break;

                case STATE_RECORD_START:
                        if (*p == '\n' || *p == '\r') {
                                r->rpos++;
                                count_line(r, *p);
                                break;
                        }
                        rec_line = r->line;
                        state = STATE_FIELD_START;
                        break;

                case STATE_FIELD_START:
                        field_begin(r);
                        if (*p == '"') {
                                r->rpos++;
                                r->pending_cr = false;
                                state = STATE_QUOTED;
                        } else
                                state = STATE_UNQUOTED;
                        break;

                case STATE_UNQUOTED:
                        /* Quotes are not special here: `a"b` is kept as is, as most readers do. */
                        while (q < end && *q != ',' && *q != '\n' && *q != '\r')
                                q++;
                        if (q > p) {
                                field_append(r, p, (size_t) (q - p));
                                r->rpos += (size_t) (q - p);
                                r->pending_cr = false;
                                if (r->rec_bytes > r->max_record)
                                        goto too_long;
                        }
                        if (q == end)
                                break;
                        r->rpos++;
                        field_end(r);
                        if (*q == ',') {
                                r->pending_cr = false;
                                state = STATE_FIELD_START;
                                break;
                        }
                        count_line(r, *q);
                        return record_finish(r, ret, rec_line);

                case STATE_QUOTED:
                        while (q < end && *q != '"' && *q != '\n' && *q != '\r')
                                q++;
                        if (q > p) {
                                field_append(r, p, (size_t) (q - p));
                                r->rpos += (size_t) (q - p);
                                r->pending_cr = false;
                        }
                        /*
                         * Check before consuming the byte that ended the run, so the state at
                         * the error (and the recovery) does not depend on where reads split.
                         */
                        if (r->rec_bytes > r->max_record)
                                goto too_long;
                        if (q == end)
                                break;
                        r->rpos++;
                        if (*q == '"') {
                                r->pending_cr = false;
                                state = STATE_QUOTE_SEEN;
                                break;
                        }
                        field_append(r, q, 1);
                        count_line(r, *q);
                        if (resync_off == UINT64_MAX) {
                                resync_off = r->roff + r->rpos;
                                resync_line = r->line;
                                resync_cr = *q == '\r';
                        }
                        if (r->rec_bytes > r->max_record)
                                goto too_long;
                        break;

                case STATE_QUOTE_SEEN:
                        if (*p == '"') {
                                field_append(r, p, 1);
                                r->rpos++;
                                r->pending_cr = false;
                                state = STATE_QUOTED;
                                if (r->rec_bytes > r->max_record)
                                        goto too_long;
                                break;
                        }
                        if (*p == ',') {
                                r->rpos++;
                                r->pending_cr = false;
                                field_end(r);
                                state = STATE_FIELD_START;
                                break;
                        }
                        if (*p == '\n' || *p == '\r') {
                                r->rpos++;
                                count_line(r, *p);
                                field_end(r);
                                return record_finish(r, ret, rec_line);
                        }
                        /* The offending byte stays unread; the skip consumes it with the rest of the line.
                         */
                        r->skip_line = true;
                        return record_error(r, ret, rec_line, "unexpected character after closing quote");
                }
        }

        /* End of input. */
        switch (state) {
        case STATE_SKIP_LINE:
        case STATE_RECORD_START:
                r->done = true;
                return 0;
        case STATE_FIELD_START: /* "a," at the very end: one more, empty, field */
                field_begin(r);
                field_end(r);
                r->done = true;
                return record_finish(r, ret, rec_line);
        case STATE_UNQUOTED:
        case STATE_QUOTE_SEEN:
                field_end(r);
                r->done = true;
                return record_finish(r, ret, rec_line);
        case STATE_QUOTED:
                if (!reader_resync(r, resync_off, resync_line, resync_cr))
                        r->done = true;
                return record_error(r, ret, rec_line, "unterminated quoted field at end of input");
        }
        return 0;

too_long:
        if (state != STATE_QUOTED || !reader_resync(r, resync_off, resync_line, resync_cr))
                r->skip_line = true;
        char detail[sizeof(r->detail)];
        bufprintf(detail, sizeof(detail), "record longer than %zu bytes", r->max_record);
        return record_error(r, ret, rec_line, detail);
}
