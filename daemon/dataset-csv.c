/* SPDX-License-Identifier: MIT */
/* dataset-csv.c -- normalizes the comment CSV into videos, users and comments, or a stratified subset. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "csv.h"
#include "dataset.h"
#include "util.h"

/* ---- columns and values ---------------------------------------------------- */

typedef enum Column {
        COL_COMMENT_ID,
        COL_VIDEO_ID,
        COL_VIDEO_TITLE,
        COL_AUTHOR_NAME,
        COL_AUTHOR_CHANNEL_ID,
        COL_COMMENT_TEXT,
        COL_SENTIMENT,
        COL_LIKES,
        COL_REPLIES,
        COL_PUBLISHED_AT,
        COL_COUNTRY_CODE,
        COL_CATEGORY_ID,
        _COL_MAX,
} Column;

static const char *const column_names[_COL_MAX] = {
        [COL_COMMENT_ID] = "CommentID",
        [COL_VIDEO_ID] = "VideoID",
        [COL_VIDEO_TITLE] = "VideoTitle",
        [COL_AUTHOR_NAME] = "AuthorName",
        [COL_AUTHOR_CHANNEL_ID] = "AuthorChannelID",
        [COL_COMMENT_TEXT] = "CommentText",
        [COL_SENTIMENT] = "Sentiment",
        [COL_LIKES] = "Likes",
        [COL_REPLIES] = "Replies",
        [COL_PUBLISHED_AT] = "PublishedAt",
        [COL_COUNTRY_CODE] = "CountryCode",
        [COL_CATEGORY_ID] = "CategoryID",
};

/* The schema's varchar limits, in characters. */
#define ID_MAX         255
#define NAME_MAX_CHARS 255
#define CATEGORY_MAX   100
#define SENTIMENT_MAX  50
#define COUNTRY_MAX    10

/* YouTube's video category IDs (videoCategories.list, region US). */
static const struct {
        unsigned id;
        const char *name;
} youtube_categories[] = {
        {1, "Film & Animation"},
        {2, "Autos & Vehicles"},
        {10, "Music"},
        {15, "Pets & Animals"},
        {17, "Sports"},
        {18, "Short Movies"},
        {19, "Travel & Events"},
        {20, "Gaming"},
        {21, "Videoblogging"},
        {22, "People & Blogs"},
        {23, "Comedy"},
        {24, "Entertainment"},
        {25, "News & Politics"},
        {26, "Howto & Style"},
        {27, "Education"},
        {28, "Science & Technology"},
        {29, "Nonprofits & Activism"},
        {30, "Movies"},
        {31, "Anime/Animation"},
        {32, "Action/Adventure"},
        {33, "Classics"},
        {34, "Comedy"},
        {35, "Documentary"},
        {36, "Drama"},
        {37, "Family"},
        {38, "Foreign"},
        {39, "Horror"},
        {40, "Sci-Fi/Fantasy"},
        {41, "Thriller"},
        {42, "Shorts"},
        {43, "Shows"},
        {44, "Trailers"},
};

/* A field's value; s == NULL is SQL NULL. */
typedef struct Value {
        const char *s;
        size_t len;
} Value;

typedef struct ParsedRow {
        Value comment_id, video_id, title, author, channel_id, text, sentiment, country, category;
        int64_t likes, replies;
        char published[20]; /* "YYYY-MM-DD HH:MM:SS", or "" for NULL */
        int year;           /* UTC year of publication, 0 when unknown */
} ParsedRow;

static bool is_blank(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static Value value_trim(const CsvField *f)
{
        const char *s = f->data, *e = f->data + f->len;

        while (s < e && is_blank(*s))
                s++;
        while (e > s && is_blank(e[-1]))
                e--;
        return (Value){s, (size_t) (e - s)};
}

/*
 * Validates UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF).  Returns the character count, -1 for invalid UTF-8 or -2 for a
 * NUL byte (which COPY text cannot carry).
 */
static int64_t utf8_count(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *) s, *e = p + len;
        int64_t n = 0;

        while (p < e) {
                unsigned c = *p;

                if (c >= 0x01 && c < 0x80) {
                        p++;
                } else if (c == 0) {
                        return -2;
                } else if (c >= 0xC2 && c <= 0xDF) {
                        if (e - p < 2 || (p[1] & 0xC0) != 0x80)
                                return -1;
                        p += 2;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        if (e - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
                                return -1;
                        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
                                return -1; /* overlong, or a UTF-16 surrogate */
                        p += 3;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        if (e - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                            (p[3] & 0xC0) != 0x80)
                                return -1;
                        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
                                return -1; /* overlong, or past U+10FFFF */
                        p += 4;
                } else
                        return -1;
                n++;
        }
        return n;
}

/* Copies a value into a short, printable, quotable form for skip details. */
static const char *value_excerpt(Value v, char *buf, size_t size)
{
        size_t n = 0, max = size - 4;

        for (size_t i = 0; i < v.len && n < max; i++)
                buf[n++] = v.s[i] >= 0x20 && v.s[i] < 0x7f && v.s[i] != '\'' ? v.s[i] : '?';
        if (v.len > max) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n] = '\0';
        return buf;
}

/*
 * Likes and Replies: empty is 0, otherwise a non-negative integer that fits
 * int4.  "12.0" is accepted too, because exports that went through pandas
 * write integer columns with missing values as floats.
 */
static int parse_count(Value v, int64_t *ret)
{
        int64_t n = 0;
        size_t i = 0;

        if (v.len == 0) {
                *ret = 0;
                return 0;
        }
        for (; i < v.len && v.s[i] >= '0' && v.s[i] <= '9'; i++) {
                n = n * 10 + (v.s[i] - '0');
                if (n > INT32_MAX)
                        return -ERANGE;
        }
        if (i == 0)
                return -EINVAL;
        if (i < v.len && v.s[i] == '.') {
                for (i++; i < v.len && v.s[i] == '0'; i++)
                        ;
        }
        if (i != v.len)
                return -EINVAL;
        *ret = n;
        return 0;
}

/* Writes v as exactly n decimal digits, zero-padded. */
static void put_digits(char *out, int n, unsigned v)
{
        for (int i = n - 1; i >= 0; i--, v /= 10)
                out[i] = (char) ('0' + v % 10);
}

/* Reads exactly n digits at *p; returns -1 when they are not all there. */
static int digits(const char **p, const char *e, int n)
{
        int v = 0;

        if (e - *p < n)
                return -1;
        for (int i = 0; i < n; i++, (*p)++) {
                if (**p < '0' || **p > '9')
                        return -1;
                v = v * 10 + (**p - '0');
        }
        return v;
}

static bool expect(const char **p, const char *e, char c)
{
        if (*p >= e || **p != c)
                return false;
        (*p)++;
        return true;
}

/*
 * PublishedAt: ISO 8601 as the YouTube API writes it ("2023-05-11T12:34:56Z",
 * optionally with fractional seconds and a Z or +HH:MM offset) or plain
 * "YYYY-MM-DD HH:MM:SS" (taken as UTC).  Writes the UTC time as
 * "YYYY-MM-DD HH:MM:SS"; fractions are dropped, as the seed data never had them.
 */
static int parse_timestamp(Value v, char out[20], int *ret_year)
{
        static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        const char *p = v.s, *e = v.s + v.len;
        int y, mo, d, h, mi, s, off = 0;
        int64_t t, yy;
        unsigned m2, d2;
        bool leap;

        y = digits(&p, e, 4);
        if (y < 1 || !expect(&p, e, '-') || (mo = digits(&p, e, 2)) < 1 || mo > 12 || !expect(&p, e, '-') ||
            (d = digits(&p, e, 2)) < 1)
                return -EINVAL;
        leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (d > mdays[mo - 1] + (mo == 2 && leap))
                return -EINVAL;
        if (p >= e || (*p != 'T' && *p != 't' && *p != ' '))
                return -EINVAL;
        p++;
        if ((h = digits(&p, e, 2)) < 0 || h > 23 || !expect(&p, e, ':') || (mi = digits(&p, e, 2)) < 0 ||
            mi > 59 || !expect(&p, e, ':') || (s = digits(&p, e, 2)) < 0 || s > 59)
                return -EINVAL;
        if (p < e && *p == '.') {
                const char *f = ++p;

                while (p < e && *p >= '0' && *p <= '9')
                        p++;
                if (p == f)
                        return -EINVAL;
        }
        if (p < e && (*p == 'Z' || *p == 'z')) {
                p++;
        } else if (p < e && (*p == '+' || *p == '-')) {
                int sign = *p++ == '-' ? -1 : 1, oh, om = 0;

                if ((oh = digits(&p, e, 2)) < 0 || oh > 23)
                        return -EINVAL;
                if (p < e) {
                        expect(&p, e, ':');
                        if ((om = digits(&p, e, 2)) < 0 || om > 59)
                                return -EINVAL;
                }
                off = sign * (oh * 3600 + om * 60);
        }
        if (p != e)
                return -EINVAL;

        t = days_from_civil(y, (unsigned) mo, (unsigned) d) * 86400 + h * 3600 + mi * 60 + s - off;
        civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &yy, &m2, &d2);
        if (yy < 1 || yy > 9999)
                return -EINVAL;
        s = (int) (t - days_from_civil(yy, m2, d2) * 86400);
        /* By hand: snprintf here was a tenth of the load time. */
        put_digits(out, 4, (unsigned) yy);
        out[4] = '-';
        put_digits(out + 5, 2, m2);
        out[7] = '-';
        put_digits(out + 8, 2, d2);
        out[10] = ' ';
        put_digits(out + 11, 2, (unsigned) s / 3600);
        out[13] = ':';
        put_digits(out + 14, 2, (unsigned) s / 60 % 60);
        out[16] = ':';
        put_digits(out + 17, 2, (unsigned) s % 60);
        out[19] = '\0';
        *ret_year = (int) yy;
        return 0;
}

/* CategoryID: a known numeric ID becomes its name; anything else is kept as written. */
static Value map_category(Value v)
{
        unsigned id = 0;
        size_t i = 0;

        if (v.len == 0)
                return (Value){NULL, 0};
        for (; i < v.len && i < 6 && v.s[i] >= '0' && v.s[i] <= '9'; i++)
                id = id * 10 + (unsigned) (v.s[i] - '0');
        if (i > 0 && i < v.len && v.s[i] == '.')
                for (i++; i < v.len && v.s[i] == '0'; i++)
                        ;
        if (i > 0 && i == v.len)
                for (size_t k = 0; k < ELEMENTSOF(youtube_categories); k++)
                        if (youtube_categories[k].id == id)
                                return (Value){youtube_categories[k].name,
                                               strlen(youtube_categories[k].name)};
        return v;
}

/* ---- hash sets ------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

/* FNV-1a leaves similar short IDs close in the top bits; the finalizer spreads them and stays a bijection.
 */
static uint64_t id_hash(const char *s, size_t len)
{
        return mix64(hash64(s, len, HASH64_INIT));
}

/* A set of 64-bit hashes (open addressing, linear probing); 0 is tracked aside as the empty-slot marker. */
typedef struct U64Set {
        uint64_t *slots;
        size_t mask, n;
        bool has_zero;
} U64Set;

static void u64set_grow(U64Set *s)
{
        size_t cap = s->slots ? (s->mask + 1) * 2 : 1024;
        uint64_t *slots = xcalloc(cap, sizeof(uint64_t));

        for (size_t i = 0; s->slots && i <= s->mask; i++) {
                size_t j = s->slots[i] & (cap - 1);

                if (!s->slots[i])
                        continue;
                while (slots[j])
                        j = (j + 1) & (cap - 1);
                slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->mask = cap - 1;
}

/* Returns true when h was not in the set yet. */
static bool u64set_add(U64Set *s, uint64_t h)
{
        size_t i;

        if (h == 0) {
                bool added = !s->has_zero;
                s->has_zero = true;
                return added;
        }
        if (!s->slots || (s->n + 1) * 2 > s->mask + 1)
                u64set_grow(s);
        for (i = h & s->mask; s->slots[i]; i = (i + 1) & s->mask)
                if (s->slots[i] == h)
                        return false;
        s->slots[i] = h;
        s->n++;
        return true;
}

static void u64set_clear(U64Set *s)
{
        if (s->slots)
                memset(s->slots, 0, (s->mask + 1) * sizeof(uint64_t));
        s->n = 0;
        s->has_zero = false;
}

/*
 * A set of byte strings, numbered in insertion order.  Video and channel IDs
 * are kept exactly (not as hashes): a collision there would leave a comment
 * pointing at a row never emitted, and the foreign keys would fail.  The
 * slots carry the full hash, so a probe only touches the stored bytes on a
 * real match: with a million users, cache misses are the whole cost.
 */
typedef struct StrSlot {
        uint64_t hash;
        size_t off; /* into arena */
        uint32_t len;
        uint32_t idx; /* insertion number + 1; 0 = empty */
} StrSlot;

typedef struct StrSet {
        StrSlot *slots;
        size_t mask, n;
        char *arena;
        size_t arena_len, arena_cap;
} StrSet;

static void strset_grow(StrSet *s)
{
        size_t cap = s->slots ? (s->mask + 1) * 2 : 1024;
        StrSlot *slots = xcalloc(cap, sizeof(StrSlot));

        for (size_t i = 0; s->slots && i <= s->mask; i++) {
                size_t j = s->slots[i].hash & (cap - 1);

                if (!s->slots[i].idx)
                        continue;
                while (slots[j].idx)
                        j = (j + 1) & (cap - 1);
                slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->mask = cap - 1;
}

/*
 * Looks key up; with insert, adds it when missing.  Returns the key's
 * insertion number (0, 1, ...), or -1 when missing and not inserting.
 * *added says whether it was added now.
 */
static int64_t strset_lookup(StrSet *s, const char *key, size_t len, bool insert, bool *added)
{
        uint64_t h = id_hash(key, len);
        size_t i;

        if (added)
                *added = false;
        if (!s->slots || (s->n + 1) * 2 > s->mask + 1)
                strset_grow(s);
        for (i = h & s->mask; s->slots[i].idx; i = (i + 1) & s->mask) {
                const StrSlot *sl = &s->slots[i];

                if (sl->hash == h && sl->len == len && memcmp(s->arena + sl->off, key, len) == 0)
                        return sl->idx - 1;
        }
        if (!insert)
                return -1;

        if (s->arena_cap - s->arena_len < len) {
                size_t cap = s->arena_cap ? s->arena_cap : 16384;

                while (cap - s->arena_len < len)
                        cap *= 2;
                s->arena = xrealloc(s->arena, cap);
                s->arena_cap = cap;
        }
        memcpy(s->arena + s->arena_len, key, len);
        s->slots[i] = (StrSlot){h, s->arena_len, (uint32_t) len, (uint32_t) (s->n + 1)};
        s->arena_len += len;
        if (added)
                *added = true;
        return (int64_t) s->n++;
}

static void strset_done(StrSet *s)
{
        free(s->slots);
        free(s->arena);
        *s = (StrSet){0};
}

/* ---- the loader ------------------------------------------------------------ */

typedef enum Pass {
        PASS_PLAN, /* count valid unique comments per stratum, collect their hashes */
        PASS_EMIT,
} Pass;

typedef struct Stratum {
        int64_t size;    /* valid unique comments */
        int64_t quota;   /* how many to keep */
        uint64_t cutoff; /* keep hashes <= cutoff (when quota > 0) */
} Stratum;

typedef struct Loader {
        const char *path;
        const CsvOptions *opts;
        const RowSink *sink;
        CsvStats *stats;
        size_t n_header;
        size_t col[_COL_MAX]; /* field index of each column */

        U64Set comments; /* hashes of the comment IDs seen in this pass */
        StrSet videos, users;
        StrSet strata_keys; /* "category\0year", numbered like strata[] */
        Stratum *strata;
        size_t strata_cap;
        uint64_t *hashes; /* pass 1: hash and stratum of each valid unique comment */
        uint32_t *hash_strata;
        size_t n_hashes, hashes_cap;
        bool sampling;
        int64_t sample_size;

        RowBuf row;
        char detail[256];
} Loader;

static void loader_done(Loader *l)
{
        free(l->comments.slots);
        strset_done(&l->videos);
        strset_done(&l->users);
        strset_done(&l->strata_keys);
        free(l->strata);
        free(l->hashes);
        free(l->hash_strata);
        rowbuf_free(&l->row);
}

/* Matches header names to the columns; returns -EINVAL naming the first missing or repeated one. */
static int loader_map_header(Loader *l, const CsvRecord *rec, Error *e)
{
        bool seen[_COL_MAX] = {false};

        l->n_header = rec->n_fields;
        for (size_t i = 0; i < rec->n_fields; i++) {
                Value v = value_trim(&rec->fields[i]);

                for (size_t c = 0; c < _COL_MAX; c++) {
                        if (strlen(column_names[c]) != v.len ||
                            strncasecmp(column_names[c], v.s, v.len) != 0)
                                continue;
                        if (seen[c])
                                return error_set(e, EINVAL, "csv_bad_header", NULL,
                                                 "CSV %s: column '%s' appears twice in the header", l->path,
                                                 column_names[c]);
                        seen[c] = true;
                        l->col[c] = i;
                }
        }
        for (size_t c = 0; c < _COL_MAX; c++)
                if (!seen[c])
                        return error_set(
                                e, EINVAL, "csv_missing_column",
                                "The header needs CommentID, VideoID, VideoTitle, AuthorName, "
                                "AuthorChannelID, CommentText, Sentiment, Likes, Replies, PublishedAt, "
                                "CountryCode and CategoryID, in any order.",
                                "CSV %s: no column '%s' in the header", l->path, column_names[c]);
        return 0;
}

/*
 * Checks a record and extracts its values.  Returns -1 when the row is
 * usable, otherwise the reason to drop it with l->detail filled.  The order
 * of checks decides which reason a row with several faults gets: structure,
 * then IDs, then values.
 */
static int loader_parse_row(Loader *l, const CsvRecord *rec, ParsedRow *row)
{
        const CsvField *f = rec->fields;
        char excerpt[48];
        int64_t chars;

        if (rec->n_fields != l->n_header) {
                bufprintf(l->detail, sizeof(l->detail), "expected %zu fields, got %zu", l->n_header,
                          rec->n_fields);
                return DROP_MALFORMED;
        }

        row->comment_id = value_trim(&f[l->col[COL_COMMENT_ID]]);
        row->video_id = value_trim(&f[l->col[COL_VIDEO_ID]]);
        row->channel_id = value_trim(&f[l->col[COL_AUTHOR_CHANNEL_ID]]);
        {
                const struct {
                        Value v;
                        Column col;
                } ids[] = {{row->comment_id, COL_COMMENT_ID},
                           {row->video_id, COL_VIDEO_ID},
                           {row->channel_id, COL_AUTHOR_CHANNEL_ID}};

                for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                        if (ids[i].v.len == 0) {
                                bufprintf(l->detail, sizeof(l->detail), "missing %s",
                                          column_names[ids[i].col]);
                                return DROP_MISSING_ID;
                        }
        }

        /* Every column, even those only parsed as numbers, so details can quote values safely. */
        for (Column c = 0; c < _COL_MAX; c++) {
                const CsvField *fld = &f[l->col[c]];

                chars = utf8_count(fld->data, fld->len);
                if (chars < 0) {
                        bufprintf(l->detail, sizeof(l->detail), "%s: %s", column_names[c],
                                  chars == -2 ? "contains a NUL byte" : "invalid UTF-8");
                        return DROP_BAD_VALUE;
                }
        }

        /* videos.title and comments.comment_text are NOT NULL: an empty one stays an empty string. */
        row->title = (Value){f[l->col[COL_VIDEO_TITLE]].data, f[l->col[COL_VIDEO_TITLE]].len};
        row->author = value_trim(&f[l->col[COL_AUTHOR_NAME]]);
        if (row->author.len == 0)
                row->author = (Value){"Unknown User", strlen("Unknown User")};
        row->text = (Value){f[l->col[COL_COMMENT_TEXT]].data, f[l->col[COL_COMMENT_TEXT]].len};
        row->sentiment = value_trim(&f[l->col[COL_SENTIMENT]]);
        if (row->sentiment.len == 0)
                row->sentiment.s = NULL;
        row->country = value_trim(&f[l->col[COL_COUNTRY_CODE]]);
        if (row->country.len == 0)
                row->country.s = NULL;
        row->category = map_category(value_trim(&f[l->col[COL_CATEGORY_ID]]));

        {
                const struct {
                        Value v;
                        const char *name;
                        int64_t max;
                } limits[] = {
                        {row->comment_id, "CommentID", ID_MAX},
                        {row->video_id, "VideoID", ID_MAX},
                        {row->channel_id, "AuthorChannelID", ID_MAX},
                        {row->author, "AuthorName", NAME_MAX_CHARS},
                        {row->sentiment, "Sentiment", SENTIMENT_MAX},
                        {row->country, "CountryCode", COUNTRY_MAX},
                        {row->category, "CategoryID", CATEGORY_MAX},
                };

                for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
                        if (!limits[i].v.s || (int64_t) limits[i].v.len <= limits[i].max)
                                continue; /* fewer bytes than the limit: fewer characters too */
                        chars = utf8_count(limits[i].v.s, limits[i].v.len);
                        if (chars > limits[i].max) {
                                bufprintf(l->detail, sizeof(l->detail),
                                          "%s longer than %" PRId64 " characters", limits[i].name,
                                          limits[i].max);
                                return DROP_BAD_VALUE;
                        }
                }
        }

        {
                Value likes = value_trim(&f[l->col[COL_LIKES]]),
                      replies = value_trim(&f[l->col[COL_REPLIES]]);

                if (parse_count(likes, &row->likes) < 0) {
                        bufprintf(l->detail, sizeof(l->detail),
                                  "Likes: not a non-negative 32-bit integer: '%s'",
                                  value_excerpt(likes, excerpt, sizeof(excerpt)));
                        return DROP_BAD_VALUE;
                }
                if (parse_count(replies, &row->replies) < 0) {
                        bufprintf(l->detail, sizeof(l->detail),
                                  "Replies: not a non-negative 32-bit integer: '%s'",
                                  value_excerpt(replies, excerpt, sizeof(excerpt)));
                        return DROP_BAD_VALUE;
                }
        }

        {
                Value when = value_trim(&f[l->col[COL_PUBLISHED_AT]]);

                row->published[0] = '\0';
                row->year = 0;
                if (when.len > 0 && parse_timestamp(when, row->published, &row->year) < 0) {
                        bufprintf(l->detail, sizeof(l->detail),
                                  "PublishedAt: not an ISO 8601 timestamp: '%s'",
                                  value_excerpt(when, excerpt, sizeof(excerpt)));
                        return DROP_BAD_VALUE;
                }
        }
        return -1;
}

/* The sampling stratum of a row: its category (NULL and "" alike) and its year of publication. */
static int64_t loader_stratum(Loader *l, const ParsedRow *row, bool insert)
{
        char key[CATEGORY_MAX * 4 + 8];
        size_t n = row->category.s ? row->category.len : 0;
        bool added;
        int64_t k;

        memcpy(key, row->category.s ? row->category.s : "", n);
        key[n++] = '\0';
        put_digits(key + n, 4, (unsigned) row->year);
        n += 4;
        k = strset_lookup(&l->strata_keys, key, n, insert, &added);
        if (added) {
                if ((size_t) k >= l->strata_cap) {
                        l->strata_cap = l->strata_cap ? l->strata_cap * 2 : 64;
                        l->strata = xrealloc(l->strata, l->strata_cap * sizeof(Stratum));
                }
                l->strata[k] = (Stratum){0};
        }
        return k;
}

static void loader_skip(Loader *l, int64_t line, CsvDropReason reason, const char *detail)
{
        l->stats->dropped[reason]++;
        if (reason != DROP_NOT_SAMPLED && l->opts && l->opts->on_skip)
                l->opts->on_skip(l->opts->userdata, line, reason, detail);
}

static int loader_put(Loader *l, DatasetTable table, int64_t line, Error *e)
{
        int r;

        rowbuf_end(&l->row);
        r = l->sink->put(l->sink->userdata, table, l->row.data, l->row.len);
        if (r < 0)
                return error_set(e, r, NULL, NULL, "Failed to emit the %s row for %s:%" PRId64 ": %s",
                                 dataset_table_names[table], l->path, line, strerror(-r));
        l->stats->kept[table]++;
        return 0;
}

static int loader_emit(Loader *l, const ParsedRow *row, int64_t line, Error *e)
{
        bool added;
        int r;

        strset_lookup(&l->videos, row->video_id.s, row->video_id.len, true, &added);
        if (added) {
                rowbuf_reset(&l->row);
                rowbuf_field(&l->row, row->video_id.s, row->video_id.len);
                rowbuf_field(&l->row, row->title.s, row->title.len);
                rowbuf_field(&l->row, row->category.s, row->category.len);
                r = loader_put(l, TABLE_VIDEOS, line, e);
                if (r < 0)
                        return r;
        }

        strset_lookup(&l->users, row->channel_id.s, row->channel_id.len, true, &added);
        if (added) {
                rowbuf_reset(&l->row);
                rowbuf_field(&l->row, row->channel_id.s, row->channel_id.len);
                rowbuf_field(&l->row, row->author.s, row->author.len);
                r = loader_put(l, TABLE_USERS, line, e);
                if (r < 0)
                        return r;
        }

        rowbuf_reset(&l->row);
        rowbuf_field(&l->row, row->comment_id.s, row->comment_id.len);
        rowbuf_field(&l->row, row->video_id.s, row->video_id.len);
        rowbuf_field(&l->row, row->channel_id.s, row->channel_id.len);
        rowbuf_field(&l->row, row->text.s, row->text.len);
        rowbuf_field_int(&l->row, row->likes);
        rowbuf_field_int(&l->row, row->replies);
        rowbuf_field_str(&l->row, row->published[0] ? row->published : NULL);
        rowbuf_field(&l->row, row->sentiment.s, row->sentiment.len);
        rowbuf_field(&l->row, row->country.s, row->country.len);
        return loader_put(l, TABLE_COMMENTS, line, e);
}

/* One pass over the data rows (the header has been read). */
static int loader_pass(Loader *l, CsvReader *reader, Pass pass, Error *e)
{
        for (;;) {
                CsvRecord rec;
                ParsedRow row;
                int r, reason;
                uint64_t h;
                int64_t k;

                r = csv_reader_next(reader, &rec);
                if (r == 0)
                        return 0;
                if (r < 0 && r != -EBADMSG)
                        return error_set(e, r, NULL, NULL, "Failed to read CSV %s: %s", l->path,
                                         strerror(-r));

                if (pass == PASS_EMIT)
                        l->stats->rows_read++;
                if (r == -EBADMSG) {
                        if (pass == PASS_EMIT)
                                loader_skip(l, rec.line, DROP_MALFORMED, rec.detail);
                        continue;
                }
                reason = loader_parse_row(l, &rec, &row);
                if (reason >= 0) {
                        if (pass == PASS_EMIT)
                                loader_skip(l, rec.line, (CsvDropReason) reason, l->detail);
                        continue;
                }

                h = id_hash(row.comment_id.s, row.comment_id.len);
                if (!u64set_add(&l->comments, h)) {
                        if (pass == PASS_EMIT) {
                                char excerpt[48];

                                bufprintf(l->detail, sizeof(l->detail), "duplicate CommentID '%s'",
                                          value_excerpt(row.comment_id, excerpt, sizeof(excerpt)));
                                loader_skip(l, rec.line, DROP_DUPLICATE_COMMENT, l->detail);
                        }
                        continue;
                }

                if (pass == PASS_PLAN) {
                        k = loader_stratum(l, &row, true);
                        l->strata[k].size++;
                        if (l->n_hashes == l->hashes_cap) {
                                l->hashes_cap = l->hashes_cap ? l->hashes_cap * 2 : 4096;
                                l->hashes = xrealloc(l->hashes, l->hashes_cap * sizeof(uint64_t));
                                l->hash_strata = xrealloc(l->hash_strata, l->hashes_cap * sizeof(uint32_t));
                        }
                        l->hashes[l->n_hashes] = h;
                        l->hash_strata[l->n_hashes++] = (uint32_t) k;
                        continue;
                }

                if (l->sampling) {
                        /* An unknown stratum or too many rows: the file changed since pass 1. */
                        k = loader_stratum(l, &row, false);
                        if (k < 0 || l->strata[k].quota == 0 || h > l->strata[k].cutoff ||
                            l->stats->kept[TABLE_COMMENTS] >= l->sample_size) {
                                loader_skip(l, rec.line, DROP_NOT_SAMPLED, NULL);
                                continue;
                        }
                }
                r = loader_emit(l, &row, rec.line, e);
                if (r < 0)
                        return r;
        }
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

typedef struct Remainder {
        uint64_t rem; /* (limit * size) mod total, < total */
        size_t stratum;
} Remainder;

/* Largest remainder first; equal ones in stratum order, so the plan is deterministic. */
static int cmp_remainder(const void *a, const void *b)
{
        const Remainder *x = a, *y = b;

        if (x->rem != y->rem)
                return x->rem > y->rem ? -1 : 1;
        return x->stratum < y->stratum ? -1 : x->stratum > y->stratum;
}

/*
 * Turns pass 1's counts into per-stratum quotas (largest remainder, so they
 * sum to exactly the sample size) and hash cutoffs (the quota-th smallest
 * hash in the stratum, so exactly the quota passes).  Comment hashes are
 * distinct by construction: equal hashes were dropped as duplicates.
 */
static void loader_plan(Loader *l, int64_t limit)
{
        size_t n = l->strata_keys.n;
        int64_t total = (int64_t) l->n_hashes, assigned = 0;
        _cleanup_free_ uint64_t *sorted = NULL;
        _cleanup_free_ size_t *start = NULL, *fill = NULL;
        _cleanup_free_ Remainder *rem = NULL;

        l->sampling = limit > 0 && limit < total;
        l->sample_size = l->sampling ? limit : total;
        if (!l->sampling)
                return;

        rem = xcalloc(n, sizeof(Remainder));
        for (size_t k = 0; k < n; k++) {
                unsigned __int128 x = (unsigned __int128) limit * (uint64_t) l->strata[k].size;

                l->strata[k].quota = (int64_t) (x / (uint64_t) total);
                rem[k] = (Remainder){(uint64_t) (x % (uint64_t) total), k};
                assigned += l->strata[k].quota;
        }
        /*
         * The seats left over (fewer than there are nonzero remainders) go
         * to the largest remainders, ties to the stratum seen first.  As
         * limit < total, every floor is below its stratum's size, so no
         * stratum is given more comments than it has.
         */
        qsort(rem, n, sizeof(Remainder), cmp_remainder);
        for (size_t i = 0; assigned < limit && i < n; i++, assigned++)
                l->strata[rem[i].stratum].quota++;

        /* Group the hashes by stratum, then sort each group to find its cutoff. */
        sorted = xmalloc(l->n_hashes * sizeof(uint64_t));
        start = xcalloc(n + 1, sizeof(size_t));
        fill = xcalloc(n, sizeof(size_t));
        for (size_t k = 0; k < n; k++)
                start[k + 1] = start[k] + (size_t) l->strata[k].size;
        for (size_t i = 0; i < l->n_hashes; i++) {
                uint32_t k = l->hash_strata[i];

                sorted[start[k] + fill[k]++] = l->hashes[i];
        }
        free(l->hashes);
        free(l->hash_strata);
        l->hashes = NULL;
        l->hash_strata = NULL;

        for (size_t k = 0; k < n; k++) {
                Stratum *s = &l->strata[k];

                if (s->quota == 0)
                        continue;
                qsort(sorted + start[k], (size_t) s->size, sizeof(uint64_t), cmp_u64);
                s->cutoff = sorted[start[k] + (size_t) s->quota - 1];
        }
}

int csv_dataset_load(const char *path, const CsvOptions *opts, const RowSink *sink, CsvStats *stats,
                     Error *e)
{
        _cleanup_(loader_done) Loader l = {0};
        _cleanup_(csv_reader_freep) CsvReader *reader = NULL;
        _cleanup_close_ int fd = -1;
        CsvStats local_stats;
        int64_t limit = opts ? opts->limit : 0;
        CsvRecord header;
        int r;

        if (!path || !sink || !sink->put)
                return error_set(e, EINVAL, NULL, NULL, "csv_dataset_load: no path or sink");
        l.path = path;
        l.opts = opts;
        l.sink = sink;
        l.stats = stats ? stats : &local_stats;
        *l.stats = (CsvStats){0};

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                return error_set(e, r, NULL, "Check the dataset setting (csv:PATH).",
                                 "Failed to open CSV %s: %s", path, strerror(-r));
        }
        r = csv_reader_new_fd(fd, 0, &reader);
        if (r < 0)
                return error_set(e, r, NULL, NULL, "Failed to read CSV %s: %s", path, strerror(-r));

        r = csv_reader_next(reader, &header);
        if (r == 0)
                return error_set(e, EINVAL, "csv_empty", NULL, "CSV %s is empty (no header)", path);
        if (r == -EBADMSG)
                return error_set(e, EINVAL, "csv_bad_header", NULL, "CSV %s:%" PRId64 ": bad header: %s",
                                 path, header.line, header.detail);
        if (r < 0)
                return error_set(e, r, NULL, NULL, "Failed to read CSV %s: %s", path, strerror(-r));
        r = loader_map_header(&l, &header, e);
        if (r < 0)
                return r;

        if (limit > 0) {
                r = loader_pass(&l, reader, PASS_PLAN, e);
                if (r < 0)
                        return r;
                loader_plan(&l, limit);
                u64set_clear(&l.comments);

                r = csv_reader_rewind(reader);
                if (r < 0)
                        return error_set(e, r, NULL,
                                         "Sampling reads the file twice; copy it to a regular file.",
                                         "Failed to re-read CSV %s: %s", path, strerror(-r));
                r = csv_reader_next(reader, &header);
                if (r != 1)
                        return error_set(e, EIO, NULL, NULL, "CSV %s changed while loading", path);
        }

        r = loader_pass(&l, reader, PASS_EMIT, e);
        if (r < 0)
                return r;
        if (l.stats->kept[TABLE_COMMENTS] == 0)
                return error_set(
                        e, EINVAL, "csv_no_rows", "Each skipped row was reported with its line number.",
                        "CSV %s has no usable row (%" PRId64 " read, %" PRId64 " malformed, %" PRId64
                        " without an ID, %" PRId64 " duplicates, %" PRId64 " with bad values)",
                        path, l.stats->rows_read, l.stats->dropped[DROP_MALFORMED],
                        l.stats->dropped[DROP_MISSING_ID], l.stats->dropped[DROP_DUPLICATE_COMMENT],
                        l.stats->dropped[DROP_BAD_VALUE]);
        return 0;
}
