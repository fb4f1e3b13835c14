/* SPDX-License-Identifier: MIT */
/* pg-url.h -- parsing the postgresql:// URL of a server pgseedd attaches to (runtime = external). */
#pragma once

#include "error.h"

typedef struct PgUrl {
        char user[64];    /* "" when the URL names none */
        char host[256];   /* a name, an IPv4 address, or an IPv6 address without brackets */
        int port;         /* 5432 when the URL names none */
        char dbname[64];  /* "" when the URL names none */
        char sslmode[16]; /* from ?sslmode=, "" when not given */
} PgUrl;

/*
 * Parses postgresql://[USER@]HOST[:PORT][/DB][?sslmode=MODE] (postgres://
 * too).  A password in the URL is refused (-EINVAL, hint: password_file), as
 * are percent-escapes, other parameters and several hosts: what pgseedd
 * cannot honour exactly is an error, not a surprise.  Returns 0 or -EINVAL
 * with e saying which part is wrong.
 */
int pg_url_parse(const char *url, PgUrl *ret, Error *e);
