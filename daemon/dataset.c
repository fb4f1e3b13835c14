/* SPDX-License-Identifier: MIT */
/* dataset.c -- table metadata and the COPY-text row buffer shared by both row producers. */

#include "dataset.h"

#include <string.h>

#include "util.h"

const char *const dataset_table_names[_TABLE_MAX] = {
        [TABLE_VIDEOS] = "videos",
        [TABLE_USERS] = "users",
        [TABLE_COMMENTS] = "comments",
};

const char *const dataset_table_columns[_TABLE_MAX] = {
        [TABLE_VIDEOS] = "video_id, title, category",
        [TABLE_USERS] = "channel_id, channel_name",
        /* Parenthesized so clang does not take the split literal for a missing comma. */
        [TABLE_COMMENTS] = ("comment_id, video_id, channel_id, comment_text, likes, replies, published_at, "
                            "sentiment_label, country_code"),
};

const char *const csv_drop_reason_names[_DROP_MAX] = {
        [DROP_MALFORMED] = "malformed",
        [DROP_MISSING_ID] = "missing_id",
        [DROP_DUPLICATE_COMMENT] = "duplicate_comment",
        [DROP_BAD_VALUE] = "bad_value",
        [DROP_NOT_SAMPLED] = "not_sampled",
};

/* Makes room for n more bytes plus the NUL that rowbuf_end() writes. */
static char *rowbuf_reserve(RowBuf *b, size_t n)
{
        if (b->cap - b->len < n + 1) {
                size_t cap = b->cap ? b->cap : 256;

                while (cap - b->len < n + 1)
                        cap *= 2;
                b->data = xrealloc(b->data, cap);
                b->cap = cap;
        }
        return b->data + b->len;
}

void rowbuf_reset(RowBuf *b)
{
        b->len = 0;
}

/*
 * Escapes s for COPY text format.  Most values contain nothing to escape, so
 * copy clean runs with memcpy and only stop at the four special bytes.
 */
void rowbuf_field(RowBuf *b, const char *s, size_t len)
{
        char *out;

        if (!s) {
                out = rowbuf_reserve(b, 3);
                memcpy(out, "\\N\t", 3);
                b->len += 3;
                return;
        }

        /* Worst case every byte doubles, plus the separator. */
        out = rowbuf_reserve(b, 2 * len + 1);
        for (size_t i = 0; i < len;) {
                size_t run = i;

                while (run < len && s[run] != '\\' && s[run] != '\t' && s[run] != '\n' && s[run] != '\r')
                        run++;
                memcpy(out, s + i, run - i);
                out += run - i;
                if (run == len)
                        break;
                *out++ = '\\';
                switch (s[run]) {
                case '\t':
                        *out++ = 't';
                        break;
                case '\n':
                        *out++ = 'n';
                        break;
                case '\r':
                        *out++ = 'r';
                        break;
                default:
                        *out++ = '\\';
                        break;
                }
                i = run + 1;
        }
        *out++ = '\t';
        b->len = (size_t) (out - b->data);
}

void rowbuf_field_str(RowBuf *b, const char *s)
{
        rowbuf_field(b, s, s ? strlen(s) : 0);
}

void rowbuf_field_int(RowBuf *b, int64_t v)
{
        char tmp[24], *p = tmp + sizeof(tmp);
        /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
        uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;
        size_t n;
        char *out;

        *--p = '\t';
        do {
                *--p = (char) ('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                *--p = '-';
        n = (size_t) (tmp + sizeof(tmp) - p);
        out = rowbuf_reserve(b, n);
        memcpy(out, p, n);
        b->len += n;
}

void rowbuf_end(RowBuf *b)
{
        if (b->len > 0 && b->data[b->len - 1] == '\t')
                b->data[b->len - 1] = '\n';
        else {
                *rowbuf_reserve(b, 1) = '\n';
                b->len++;
        }
        /* Keep the row a C string as well; the NUL is not part of len. */
        b->data[b->len] = '\0';
}

void rowbuf_free(RowBuf *b)
{
        free(b->data);
        *b = (RowBuf){0};
}
