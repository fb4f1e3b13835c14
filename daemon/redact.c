/* SPDX-License-Identifier: MIT */
/* redact.c -- masks passwords in Postgres server log lines (failed ALTER ROLE statements, conninfo). */

#include "redact.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static bool is_ident_char(char c)
{
        return isalnum((unsigned char) c) || c == '_' || (unsigned char) c >= 0x80;
}

/*
 * Skips the body of an open literal starting at p (after its opening quote),
 * through its closing quote.  Returns the position after it, or the end of
 * the line with st->quote still set when it does not close on this line.
 */
static const char *literal_skip(const char *p, RedactState *st)
{
        size_t taglen = strlen(st->tag);

        for (; *p; p++) {
                if (st->quote == '$') {
                        if (strncmp(p, st->tag, taglen) == 0) {
                                st->quote = 0;
                                return p + taglen;
                        }
                        continue;
                }
                if (st->escapes && *p == '\\' && p[1]) {
                        p++;
                        continue;
                }
                if (*p == st->quote) {
                        /* A doubled quote is an escaped one. */
                        if (p[1] == st->quote) {
                                p++;
                                continue;
                        }
                        st->quote = 0;
                        return p + 1;
                }
        }
        return p;
}

/*
 * If a literal opens at p, appends its redacted form to out and returns the
 * position after it; else returns NULL.
 */
static const char *literal_redact(const char *p, RedactState *st, Buffer *out)
{
        const char *q = p;

        st->escapes = false;
        if ((*q == 'E' || *q == 'e') && q[1] == '\'') {
                st->escapes = true;
                q++;
        } else if ((*q == 'U' || *q == 'u') && q[1] == '&' && q[2] == '\'')
                q += 2;
        if (*q == '\'' || *q == '"') {
                st->quote = *q;
                st->tag[0] = '\0';
                buffer_append(out, p, (size_t) (q - p) + 1);
                buffer_appends(out, REDACTED);
                q = literal_skip(q + 1, st);
                if (!st->quote)
                        buffer_append(out, q - 1, 1);
                return q;
        }
        if (*q == '$') {
                size_t n = 1;
                while (n < sizeof(st->tag) - 2 && is_ident_char(q[n]) &&
                       !(n == 1 && isdigit((unsigned char) q[n])))
                        n++;
                if (q[n] != '$')
                        return NULL;
                memcpy(st->tag, q, n + 1);
                st->tag[n + 1] = '\0';
                st->quote = '$';
                buffer_appends(out, st->tag);
                buffer_appends(out, REDACTED);
                q = literal_skip(q + n + 1, st);
                if (!st->quote)
                        buffer_appends(out, st->tag);
                return q;
        }
        return NULL;
}

/* The end of an unquoted conninfo/KEY=value value: up to white space, a quote or a separator. */
static const char *bare_value_end(const char *p)
{
        while (*p && !isspace((unsigned char) *p) && !strchr("'\"&;,)", *p))
                p++;
        return p;
}

/* p points at "password" (any case): redacts what follows it, if it is a secret.  Returns the new position.
 */
static const char *after_keyword(const char *start, const char *p, RedactState *st, Buffer *out)
{
        bool left_boundary = p == start || !is_ident_char(p[-1]);
        const char *q = p + 8, *r;

        buffer_append(out, p, 8);
        if (is_ident_char(*q))
                return q;
        r = q + strspn(q, " \t");
        if (*r == '=') {
                /* password=VALUE, password = 'VALUE' (conninfo quoting: backslash escapes). */
                r++;
                r += strspn(r, " \t");
                buffer_append(out, q, (size_t) (r - q));
                if (*r == '\'') {
                        st->quote = '\'';
                        st->escapes = true;
                        st->tag[0] = '\0';
                        buffer_append(out, "'" REDACTED, 1 + strlen(REDACTED));
                        r = literal_skip(r + 1, st);
                        if (!st->quote)
                                buffer_append(out, "'", 1);
                        return r;
                }
                q = bare_value_end(r);
                if (q > r)
                        buffer_appends(out, REDACTED);
                return q;
        }
        if (!left_boundary)
                return q;
        /* The SQL keyword: PASSWORD 'literal'. */
        if (!*r) {
                buffer_append(out, q, (size_t) (r - q));
                st->keyword = true;
                return r;
        }
        buffer_append(out, q, (size_t) (r - q));
        q = literal_redact(r, st, out);
        return q ? q : r;
}

/* p points at "://": masks the password of a user:password@ that follows.  Returns the new position. */
static const char *after_scheme(const char *p, Buffer *out)
{
        const char *auth = p + 3, *end = auth, *colon;

        while (*end && !strchr("/?#@ \t'\"", *end))
                end++;
        buffer_append(out, p, 3);
        if (*end != '@')
                return auth;
        colon = memchr(auth, ':', (size_t) (end - auth));
        if (!colon)
                return auth;
        buffer_append(out, auth, (size_t) (colon - auth) + 1);
        buffer_appends(out, REDACTED);
        return end;
}

char *redact_secrets(const char *line, RedactState *st)
{
        RedactState local = {0};
        Buffer out = {0};
        const char *p = line ? line : "";

        if (!st)
                st = &local;
        /* A literal left open by the previous line. */
        if (st->quote) {
                const char *q = literal_skip(p, st);
                buffer_appends(&out, REDACTED);
                if (!st->quote)
                        buffer_appends(&out, *st->tag ? st->tag : (char[]){q[-1], '\0'});
                p = q;
        } else if (st->keyword) {
                const char *r = p + strspn(p, " \t"), *q;
                st->keyword = false;
                buffer_append(&out, p, (size_t) (r - p));
                q = literal_redact(r, st, &out);
                p = q ? q : r;
        }
        while (*p) {
                if (strncasecmp(p, "password", 8) == 0)
                        p = after_keyword(line, p, st, &out);
                else if (strncmp(p, "://", 3) == 0)
                        p = after_scheme(p, &out);
                else
                        buffer_append(&out, p++, 1);
        }
        buffer_append(&out, "", 0);
        return out.data;
}

char **env_without_secrets(char *const *env)
{
        size_t n = 0, k = 0;
        char **out;

        for (char *const *e = env; e && *e; e++)
                n++;
        out = xcalloc(n + 1, sizeof(char *));
        for (char *const *e = env; e && *e; e++)
                if (!startswith(*e, "PGSEED_") && !startswith(*e, "PGPASSWORD="))
                        out[k++] = *e;
        out[k] = NULL;
        return out;
}
