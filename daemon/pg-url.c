/* SPDX-License-Identifier: MIT */
/* pg-url.c -- parsing the postgresql:// URL of a server pgseedd attaches to (runtime = external). */

#include "pg-url.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#include "util.h"

#define URL_HINT "Write it as postgresql://USER@HOST:PORT/DATABASE, e.g. postgresql://app@db.internal:5432/app."

static bool is_name_char(char ch)
{
        return isalnum((unsigned char) ch) || ch == '_' || ch == '-' || ch == '.';
}

/* Copies [p, p+n) into dst when every character passes ok; false when one does not or it is too long. */
static bool take(char *dst, size_t size, const char *p, size_t n, bool (*ok)(char))
{
        if (n >= size)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!ok(p[i]))
                        return false;
        memcpy(dst, p, n);
        dst[n] = '\0';
        return true;
}

static bool is_ipv6_char(char ch)
{
        return isxdigit((unsigned char) ch) || ch == ':' || ch == '.';
}

int pg_url_parse(const char *url, PgUrl *ret, Error *e)
{
        const char *p = startswith(url ? url : "", "postgresql://"), *at, *end, *slash, *q;
        int64_t port = 5432;

        *ret = (PgUrl){.port = 5432};
        if (!p)
                p = startswith(url ? url : "", "postgres://");
        if (!p)
                return error_set(e, EINVAL, "invalid_config", URL_HINT,
                                 "PGSEED_PG_URL does not start with postgresql://");
        if (strchr(p, '%'))
                return error_set(e, EINVAL, "invalid_config", URL_HINT,
                                 "PGSEED_PG_URL has a percent-escape; pgseedd takes plain names only");
        q = strchr(p, '?');
        end = q ? q : p + strlen(p);
        slash = memchr(p, '/', (size_t) (end - p));
        if (!slash)
                slash = end;
        at = memchr(p, '@', (size_t) (slash - p));
        if (at) {
                if (memchr(p, ':', (size_t) (at - p)))
                        return error_set(e, EINVAL, "invalid_config",
                                         "Put the password into PGSEED_PG_PASSWORD or a file named by "
                                         "PGSEED_PG_PASSWORD_FILE; the URL is shown in /health and logs.",
                                         "PGSEED_PG_URL carries a password");
                if (!take(ret->user, sizeof(ret->user), p, (size_t) (at - p), is_name_char) || !*ret->user)
                        return error_set(e, EINVAL, "invalid_config", URL_HINT,
                                         "PGSEED_PG_URL: '%.*s' is not a role name", (int) (at - p), p);
                p = at + 1;
        }
        /* The host: [v6] or a name; then an optional :PORT. */
        {
                const char *host = p, *host_end, *colon;
                bool ok;

                if (*p == '[') {
                        const char *close = memchr(p, ']', (size_t) (slash - p));
                        if (!close)
                                return error_set(e, EINVAL, "invalid_config", URL_HINT,
                                                 "PGSEED_PG_URL: unterminated [ in the host");
                        ok = take(ret->host, sizeof(ret->host), p + 1, (size_t) (close - p - 1), is_ipv6_char);
                        host_end = close + 1;
                } else {
                        colon = memchr(p, ':', (size_t) (slash - p));
                        host_end = colon ? colon : slash;
                        ok = take(ret->host, sizeof(ret->host), p, (size_t) (host_end - p), is_name_char);
                }
                if (!ok || !*ret->host)
                        return error_set(e, EINVAL, "invalid_config", URL_HINT,
                                         "PGSEED_PG_URL: '%.*s' is not one host name or address (several "
                                         "hosts and unix sockets are not supported)",
                                         (int) (slash - host), host);
                if (host_end < slash) {
                        char buf[8];
                        if (*host_end != ':' || !take(buf, sizeof(buf), host_end + 1,
                                                      (size_t) (slash - host_end - 1), is_name_char) ||
                            parse_int64(buf, 1, 65535, &port) < 0)
                                return error_set(e, EINVAL, "invalid_config", URL_HINT,
                                                 "PGSEED_PG_URL: '%.*s' is not a port (1-65535)",
                                                 (int) (slash - host_end), host_end);
                }
                ret->port = (int) port;
        }
        if (slash < end && !take(ret->dbname, sizeof(ret->dbname), slash + 1, (size_t) (end - slash - 1),
                                 is_name_char))
                return error_set(e, EINVAL, "invalid_config", URL_HINT,
                                 "PGSEED_PG_URL: '%.*s' is not a database name", (int) (end - slash - 1),
                                 slash + 1);
        if (q) {
                const char *mode = startswith(q + 1, "sslmode=");
                if (!mode || strchr(mode, '&') ||
                    !take(ret->sslmode, sizeof(ret->sslmode), mode, strlen(mode), is_name_char))
                        return error_set(e, EINVAL, "invalid_config",
                                         "Only ?sslmode=disable|allow|prefer|require|verify-ca|verify-full "
                                         "is understood.",
                                         "PGSEED_PG_URL: unsupported parameters '%s'", q + 1);
        }
        return 0;
}
