/* SPDX-License-Identifier: MIT */
/* sqlfile.c -- reading and splitting the schema files. */

#include "sqlfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>

static int cmp_files(const void *a, const void *b)
{
        return strcmp(((const SqlFile *) a)->name, ((const SqlFile *) b)->name);
}

void sqldir_free(SqlDir *d)
{
        for (size_t i = 0; i < d->n_files; i++) {
                free(d->files[i].name);
                free(d->files[i].text);
        }
        free(d->files);
        free(d->path);
        *d = (SqlDir){0};
}

int sqldir_load(const char *path, SqlDir *ret, Error *e)
{
        _cleanup_(closedirp) DIR *dir = opendir(path);
        SqlDir d = {.path = xstrdup(path)};
        struct dirent *de;
        int r;

        if (!dir) {
                r = error_set(e, errno, "sql_dir",
                              "Set PGSEED_SQL_DIR to the directory holding the schema files.",
                              "Cannot open SQL directory %s: %m", path);
                goto fail;
        }
        while ((de = readdir(dir))) {
                size_t n = strlen(de->d_name);
                SqlFile f = {0};
                char *full, *end;

                if (de->d_name[0] == '.' || n < 5 || !streq(de->d_name + n - 4, ".sql"))
                        continue;
                if (!isdigit((unsigned char) de->d_name[0])) {
                        r = error_set(e, EINVAL, "sql_dir",
                                      "Name schema files NN-what.sql: the number orders them, and files "
                                      "from 50 on "
                                      "run after the data is loaded.",
                                      "%s/%s: SQL file names must start with a number", path, de->d_name);
                        goto fail;
                }
                f.number = (int) strtol(de->d_name, &end, 10);
                f.after_load = f.number >= SQL_AFTER_LOAD_FROM;
                f.name = xstrdup(de->d_name);
                full = xasprintf("%s/%s", path, de->d_name);
                r = read_full_file(full, &f.text, NULL);
                free(full);
                if (r < 0) {
                        free(f.name);
                        r = error_set(e, -r, "sql_dir", NULL, "Cannot read %s/%s: %s", path, de->d_name,
                                      strerror(-r));
                        goto fail;
                }
                d.files = xrealloc(d.files, (d.n_files + 1) * sizeof(SqlFile));
                d.files[d.n_files++] = f;
        }
        if (d.n_files == 0) {
                r = error_set(e, ENOENT, "sql_dir",
                              "Point PGSEED_SQL_DIR at a directory of NN-name.sql files.",
                              "No .sql files in %s", path);
                goto fail;
        }
        qsort(d.files, d.n_files, sizeof(SqlFile), cmp_files);
        d.hash = HASH64_INIT;
        for (size_t i = 0; i < d.n_files; i++) {
                d.hash = hash64(d.files[i].name, strlen(d.files[i].name) + 1, d.hash);
                d.hash = hash64(d.files[i].text, strlen(d.files[i].text) + 1, d.hash);
        }
        *ret = d;
        return 0;

fail:
        sqldir_free(&d);
        return r;
}

/* Length of a dollar-quote tag at p ("$$" or "$tag$"), or 0 when p does not start one. */
static size_t dollar_tag(const char *p)
{
        const char *q = p + 1;

        if (*p != '$')
                return 0;
        if (*q == '$')
                return 2;
        if (!(isalpha((unsigned char) *q) || *q == '_'))
                return 0;
        while (isalnum((unsigned char) *q) || *q == '_')
                q++;
        return *q == '$' ? (size_t) (q - p) + 1 : 0;
}

static void push_statement(char ***v, size_t *n, const char *start, const char *end)
{
        _cleanup_free_ char *s = strndup(start, (size_t) (end - start));
        const char *p;
        bool only_comments = true;

        if (!s)
                abort();
        /* Keep a statement only if something other than comments and space remains. */
        for (p = s; *p;) {
                if (isspace((unsigned char) *p))
                        p++;
                else if (p[0] == '-' && p[1] == '-') {
                        p += strcspn(p, "\n");
                } else if (p[0] == '/' && p[1] == '*') {
                        const char *c = strstr(p + 2, "*/");
                        p = c ? c + 2 : p + strlen(p);
                } else {
                        only_comments = false;
                        break;
                }
        }
        if (only_comments)
                return;
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = xstrdup(strstrip(s));
        (*v)[*n] = NULL;
}

char **sql_split(const char *text)
{
        char **v = xcalloc(1, sizeof(char *));
        size_t n = 0;
        const char *start = text, *p = text;

        while (*p) {
                size_t tag;

                if (p[0] == '-' && p[1] == '-') {
                        p += strcspn(p, "\n");
                } else if (p[0] == '/' && p[1] == '*') {
                        /* Block comments nest in Postgres. */
                        int depth = 1;
                        p += 2;
                        while (*p && depth > 0) {
                                if (p[0] == '/' && p[1] == '*') {
                                        depth++;
                                        p += 2;
                                } else if (p[0] == '*' && p[1] == '/') {
                                        depth--;
                                        p += 2;
                                } else
                                        p++;
                        }
                } else if (*p == '\'' || *p == '"') {
                        /*
                         * A doubled quote inside is an escaped quote and keeps us
                         * inside; so is a backslash-escaped one in E'...' strings.
                         */
                        bool escapes = *p == '\'' && p > text && (p[-1] == 'E' || p[-1] == 'e') &&
                                       (p - 1 == text || !(isalnum((unsigned char) p[-2]) || p[-2] == '_'));
                        char q = *p++;
                        while (*p) {
                                if (escapes && *p == '\\' && p[1])
                                        p += 2;
                                else if (*p == q && p[1] == q)
                                        p += 2;
                                else if (*p == q) {
                                        p++;
                                        break;
                                } else
                                        p++;
                        }
                } else if ((tag = dollar_tag(p)) > 0) {
                        const char *close;
                        _cleanup_free_ char *t = strndup(p, tag);
                        close = strstr(p + tag, t);
                        p = close ? close + tag : p + strlen(p);
                } else if (*p == ';') {
                        push_statement(&v, &n, start, p);
                        start = ++p;
                } else
                        p++;
        }
        push_statement(&v, &n, start, p);
        return v;
}
