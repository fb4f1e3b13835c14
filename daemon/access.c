/* SPDX-License-Identifier: MIT */
/* access.c -- who may use the API: Host (DNS rebinding), Origin (cross-site requests) and the bearer token.
 */

#include "access.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"

#define MAX_TOKEN_BYTES 4096

typedef struct AllowedHost {
        char name[256]; /* lower case, IPv6 without brackets */
        unsigned port;  /* 0 = any */
} AllowedHost;

/* Everything a check reads; replaced as a whole on reload. */
typedef struct PolicyData {
        char *token; /* NULL = no token configured */
        size_t token_len;
        char token_file[512];
        bool auth_all;
        unsigned api_port;
        bool api_https;     /* [api] tls: the daemon's own pages come from https:// origins */
        char bind_host[64]; /* a non-loopback, non-wildcard listen address served with a token; else "" */
        bool cors_any;      /* cors_origin has "*": any origin may read */
        AccessOrigin *origins;
        size_t n_origins;
        AllowedHost *hosts;
        size_t n_hosts;
} PolicyData;

struct AccessPolicy {
        pthread_rwlock_t lock; /* readers: access_check; writer: reload */
        PolicyData data;
};

/* ---- parsers ------------------------------------------------------------ */

static void lower(char *s)
{
        for (; *s; s++)
                *s = (char) tolower((unsigned char) *s);
}

/* A DNS name as browsers send it: letters, digits, '-', '_' and '.', not empty. */
static bool is_reg_name(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
                        return false;
        return true;
}

static int parse_port(const char *s, size_t n, unsigned *ret)
{
        unsigned v = 0;

        if (n == 0 || n > 5)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return -EINVAL;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        if (v == 0 || v > 65535)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "host[:port]" or "[v6][:port]" occupying exactly s[0..n). */
static int hostport_parse(const char *s, size_t n, char *host, size_t size, unsigned *ret_port)
{
        const char *h = s, *colon = NULL;
        size_t hn;
        unsigned char buf[16];

        *ret_port = 0;
        if (n > 0 && s[0] == '[') {
                const char *close = memchr(s, ']', n);
                if (!close)
                        return -EINVAL;
                h = s + 1;
                hn = (size_t) (close - h);
                if (close + 1 < s + n) {
                        if (close[1] != ':')
                                return -EINVAL;
                        colon = close + 1;
                }
                if (hn == 0 || hn >= size)
                        return -EINVAL;
                memcpy(host, h, hn);
                host[hn] = '\0';
                if (inet_pton(AF_INET6, host, buf) != 1)
                        return -EINVAL;
        } else {
                colon = memchr(s, ':', n);
                hn = colon ? (size_t) (colon - s) : n;
                if (!is_reg_name(s, hn) || hn >= size)
                        return -EINVAL;
                memcpy(host, s, hn);
                host[hn] = '\0';
        }
        if (colon && parse_port(colon + 1, (size_t) (s + n - colon - 1), ret_port) < 0)
                return -EINVAL;
        lower(host);
        return 0;
}

int access_host_parse(const char *s, char *host, size_t size, unsigned *ret_port)
{
        if (!s)
                return -EINVAL;
        return hostport_parse(s, strlen(s), host, size, ret_port);
}

int access_origin_parse(const char *s, AccessOrigin *ret)
{
        const char *rest;
        AccessOrigin o = {0};

        if (!s)
                return -EINVAL;
        /* The scheme is case-insensitive (RFC 3986); browsers send it in lower case anyway. */
        if (strncasecmp(s, "http://", 7) == 0) {
                strlcpy0(o.scheme, "http", sizeof(o.scheme));
                rest = s + 7;
        } else if (strncasecmp(s, "https://", 8) == 0) {
                strlcpy0(o.scheme, "https", sizeof(o.scheme));
                rest = s + 8;
        } else
                return -EINVAL;
        /* No userinfo ("http://127.0.0.1@evil.example"), path, query or fragment: an origin is just that. */
        if (strpbrk(rest, "@/?#\\ \t"))
                return -EINVAL;
        if (hostport_parse(rest, strlen(rest), o.host, sizeof(o.host), &o.port) < 0)
                return -EINVAL;
        if (o.port == 0)
                o.port = streq(o.scheme, "https") ? 443 : 80;
        *ret = o;
        return 0;
}

bool access_host_is_loopback(const char *host)
{
        struct in_addr a4;
        struct in6_addr a6;

        if (!host)
                return false;
        /* Exact: "localhost." is an absolute DNS name that a resolver may send elsewhere. */
        if (strcasecmp(host, "localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, host, &a6) == 1) {
                if (IN6_IS_ADDR_LOOPBACK(&a6))
                        return true;
                return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
        }
        return false;
}

static bool host_is_wildcard(const char *host)
{
        return streq(host, "0.0.0.0") || streq(host, "::");
}

/* ---- building ----------------------------------------------------------- */

static void policy_data_done(PolicyData *d)
{
        if (d->token) {
                /* explicit_bzero: a plain memset before free may be optimised away. */
                explicit_bzero(d->token, d->token_len);
                free(d->token);
        }
        free(d->origins);
        free(d->hosts);
        *d = (PolicyData){0};
}

static int token_read(const char *path, PolicyData *d, Error *e)
{
        _cleanup_close_ int fd = -1;
        struct stat st;
        char *buf;
        ssize_t n;
        size_t len;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set(
                        e, errno == ENOENT ? ENOENT : EACCES, "invalid_token_file",
                        "Create it with `umask 077; head -c 32 /dev/urandom | base64 > FILE`, or unset "
                        "PGSEED_TOKEN_FILE.",
                        "Cannot open the API token file %s (PGSEED_TOKEN_FILE): %m", path);
        if (fstat(fd, &st) < 0)
                return error_set(e, errno, "invalid_token_file", NULL, "Cannot stat %s: %m", path);
        if (!S_ISREG(st.st_mode))
                return error_set(e, EINVAL, "invalid_token_file",
                                 "Point PGSEED_TOKEN_FILE at a regular file.",
                                 "The API token file %s is not a regular file", path);
        if (st.st_mode & 077)
                return error_set(
                        e, EACCES, "insecure_token_file",
                        "Run `chmod 600 FILE` (the owner alone may read it), then start pgseedd again.",
                        "The API token file %s is readable by group or others (mode %04o): other local "
                        "users could read the token",
                        path, (unsigned) (st.st_mode & 07777));
        buf = xmalloc(MAX_TOKEN_BYTES + 1);
        n = read(fd, buf, MAX_TOKEN_BYTES + 1);
        if (n < 0 || n > MAX_TOKEN_BYTES) {
                int err = n < 0 ? errno : EFBIG;
                free(buf);
                return error_set(e, err == EFBIG ? EINVAL : err, "invalid_token_file", NULL,
                                 "Cannot read the API token from %s: %s", path,
                                 err == EFBIG ? "larger than 4 KiB" : strerror(err));
        }
        len = (size_t) n;
        if (len > 0 && buf[len - 1] == '\n')
                len--;
        if (len > 0 && buf[len - 1] == '\r')
                len--;
        buf[len] = '\0';
        for (size_t i = 0; i < len; i++)
                if (buf[i] <= ' ' || buf[i] > '~') {
                        explicit_bzero(buf, len);
                        free(buf);
                        return error_set(e, EINVAL, "invalid_token_file",
                                         "Use printable ASCII without spaces, e.g. base64 of random bytes.",
                                         "The API token in %s holds a space, control or non-ASCII character",
                                         path);
                }
        if (len == 0) {
                free(buf);
                return error_set(e, EINVAL, "invalid_token_file",
                                 "Write a secret into it: `head -c 32 /dev/urandom | base64 > FILE`.",
                                 "The API token file %s is empty", path);
        }
        d->token = buf;
        d->token_len = len;
        strlcpy0(d->token_file, path, sizeof(d->token_file));
        return 0;
}

/* Calls f(item, len, userdata) for each non-empty comma-separated, trimmed item of list. */
static int list_foreach(const char *list, int (*f)(const char *item, size_t len, void *userdata),
                        void *userdata)
{
        const char *p = list ? list : "";

        while (*p) {
                size_t n = strcspn(p, ",");
                const char *item = p, *end = p + n;
                int r;

                while (item < end && isspace((unsigned char) *item))
                        item++;
                while (end > item && isspace((unsigned char) end[-1]))
                        end--;
                if (end > item) {
                        r = f(item, (size_t) (end - item), userdata);
                        if (r < 0)
                                return r;
                }
                p += n;
                if (*p == ',')
                        p++;
        }
        return 0;
}

typedef struct ListCtx {
        PolicyData *d;
        Error *e;
} ListCtx;

static int origin_add(const char *item, size_t len, void *userdata)
{
        ListCtx *c = userdata;
        char buf[512];
        AccessOrigin o;

        if (len == 1 && *item == '*') {
                c->d->cors_any = true;
                return 0;
        }
        if (len >= sizeof(buf))
                return error_set(c->e, EINVAL, "invalid_config", NULL, "cors_origin: an entry is too long");
        memcpy(buf, item, len);
        buf[len] = '\0';
        if (access_origin_parse(buf, &o) < 0)
                return error_set(
                        c->e, EINVAL, "invalid_config",
                        "List origins as SCHEME://HOST[:PORT] separated by commas, e.g. "
                        "http://localhost:8080 (no path, no trailing slash), or '*' to let any page "
                        "read (never reset).",
                        "cors_origin: '%s' is not an origin", buf);
        c->d->origins = xrealloc(c->d->origins, (c->d->n_origins + 1) * sizeof(AccessOrigin));
        c->d->origins[c->d->n_origins++] = o;
        return 0;
}

static int host_add(const char *item, size_t len, void *userdata)
{
        ListCtx *c = userdata;
        AllowedHost h = {0};

        if (hostport_parse(item, len, h.name, sizeof(h.name), &h.port) < 0)
                return error_set(c->e, EINVAL, "invalid_config",
                                 "List host names as NAME[:PORT] separated by commas, e.g. "
                                 "pgseed.internal,10.0.0.5:7432.",
                                 "allowed_hosts: '%.*s' is not a host name", (int) (len < 200 ? len : 200),
                                 item);
        c->d->hosts = xrealloc(c->d->hosts, (c->d->n_hosts + 1) * sizeof(AllowedHost));
        c->d->hosts[c->d->n_hosts++] = h;
        return 0;
}

static int listen_check(const char *host, int port, bool has_token, bool allow_insecure, Error *e)
{
        if (access_host_is_loopback(host) || has_token || allow_insecure)
                return 0;
        return error_set(e, EINVAL, "insecure_listen",
                         "Set PGSEED_TOKEN_FILE to a file (mode 0600) holding a secret token, or listen on "
                         "127.0.0.1.  PGSEED_ALLOW_INSECURE_REMOTE=1 (--allow-insecure-remote=1) overrides "
                         "this.",
                         "Refusing to serve the API on %s:%d without a token: anyone who can reach that "
                         "address could read and reset the database",
                         host, port);
}

static int policy_data_build(const Config *c, PolicyData *d, Error *e)
{
        ListCtx ctx = {.d = d, .e = e};
        int r;

        *d = (PolicyData){0};
        d->api_port = (unsigned) c->listen_port;
        d->api_https = config_api_tls_enabled(c);
        d->auth_all = streq_ptr(c->api_auth, "all");
        if (!isempty(c->token_file)) {
                r = token_read(c->token_file, d, e);
                if (r < 0)
                        goto fail;
        }
        if (d->auth_all && !d->token) {
                r = error_set(e, EINVAL, "invalid_config",
                              "Set PGSEED_TOKEN_FILE to a file holding the token, or use auth = mutating.",
                              "auth = all needs a token, but no token_file is set");
                goto fail;
        }
        r = list_foreach(c->cors_origin, origin_add, &ctx);
        if (r < 0)
                goto fail;
        r = list_foreach(c->allowed_hosts, host_add, &ctx);
        if (r < 0)
                goto fail;
        if (!access_host_is_loopback(c->listen_host)) {
                r = listen_check(c->listen_host, c->listen_port, d->token != NULL, c->allow_insecure_remote,
                                 e);
                if (r < 0)
                        goto fail;
                if (d->token && !host_is_wildcard(c->listen_host))
                        strlcpy0(d->bind_host, c->listen_host, sizeof(d->bind_host));
                lower(d->bind_host);
        }
        return 0;
fail:
        policy_data_done(d);
        return r;
}

int access_policy_new(const Config *c, AccessPolicy **ret, Error *e)
{
        AccessPolicy *p = xcalloc(1, sizeof(AccessPolicy));
        int r;

        r = policy_data_build(c, &p->data, e);
        if (r < 0) {
                free(p);
                return r;
        }
        pthread_rwlock_init(&p->lock, NULL);
        *ret = p;
        return 0;
}

int access_policy_reload(AccessPolicy *p, const Config *c, Error *e)
{
        PolicyData fresh, old;
        int r;

        r = policy_data_build(c, &fresh, e);
        if (r < 0)
                return r;
        pthread_rwlock_wrlock(&p->lock);
        old = p->data;
        p->data = fresh;
        pthread_rwlock_unlock(&p->lock);
        policy_data_done(&old);
        return 0;
}

void access_policy_free(AccessPolicy *p)
{
        if (!p)
                return;
        policy_data_done(&p->data);
        pthread_rwlock_destroy(&p->lock);
        free(p);
}

int access_policy_check_address(const AccessPolicy *p, const Config *c, const char *host, int port, Error *e)
{
        return listen_check(host, port, access_policy_has_token(p), c->allow_insecure_remote, e);
}

bool access_policy_has_token(const AccessPolicy *p)
{
        AccessPolicy *m = (AccessPolicy *) p; /* the lock is not part of the policy's value */
        bool has;

        pthread_rwlock_rdlock(&m->lock);
        has = m->data.token != NULL;
        pthread_rwlock_unlock(&m->lock);
        return has;
}

/* ---- checking ----------------------------------------------------------- */

typedef enum OriginKind {
        ORIGIN_NONE,     /* no Origin header: not a browser's cross-origin request */
        ORIGIN_OWN,      /* the daemon's own loopback origin, or one listed in cors_origin */
        ORIGIN_READONLY, /* allowed to read only (cors_origin = *) */
        ORIGIN_FOREIGN,
} OriginKind;

static OriginKind origin_classify(const PolicyData *d, const char *origin)
{
        AccessOrigin o;

        if (!origin)
                return ORIGIN_NONE;
        if (access_origin_parse(origin, &o) < 0)
                return d->cors_any ? ORIGIN_READONLY : ORIGIN_FOREIGN;
        if (streq(o.scheme, d->api_https ? "https" : "http") && o.port == d->api_port &&
            (streq(o.host, "127.0.0.1") || streq(o.host, "localhost") || streq(o.host, "::1") ||
             (*d->bind_host && streq(o.host, d->bind_host))))
                return ORIGIN_OWN;
        for (size_t i = 0; i < d->n_origins; i++)
                if (streq(o.scheme, d->origins[i].scheme) && streq(o.host, d->origins[i].host) &&
                    o.port == d->origins[i].port)
                        return ORIGIN_OWN;
        return d->cors_any ? ORIGIN_READONLY : ORIGIN_FOREIGN;
}

static bool host_allowed(const PolicyData *d, const char *name, unsigned port)
{
        if (access_host_is_loopback(name))
                return true;
        if (*d->bind_host && streq(name, d->bind_host))
                return true;
        for (size_t i = 0; i < d->n_hosts; i++)
                if (streq(name, d->hosts[i].name) && (d->hosts[i].port == 0 || d->hosts[i].port == port))
                        return true;
        return false;
}

/* Compares in time that depends only on the lengths, so the token cannot be guessed byte by byte. */
static bool token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
        volatile unsigned char diff = (unsigned char) (alen != blen);

        for (size_t i = 0; i < alen; i++)
                diff |= (unsigned char) (a[i] ^ (blen ? b[i % blen] : 0));
        return diff == 0;
}

/* The token from "Bearer TOKEN" (scheme case-insensitive, RFC 6750), or NULL. */
static const char *bearer_token(const char *authorization, size_t *ret_len)
{
        const char *p = authorization, *end;

        if (!p || strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
                return NULL;
        p += 6;
        p += strspn(p, " \t");
        end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        if (end == p)
                return NULL;
        *ret_len = (size_t) (end - p);
        return p;
}

static bool is_safe_method(const char *m)
{
        return streq_ptr(m, "GET") || streq_ptr(m, "HEAD");
}

static void deny(AccessVerdict *v, unsigned status, const char *code, const char *hint, const char *fmt, ...)
        _printf_(5, 6);
static void deny(AccessVerdict *v, unsigned status, const char *code, const char *hint, const char *fmt, ...)
{
        va_list ap;

        v->status = status;
        strlcpy0(v->code, code, sizeof(v->code));
        strlcpy0(v->hint, hint ? hint : "", sizeof(v->hint));
        va_start(ap, fmt);
        vsnprintf(v->message, sizeof(v->message), fmt, ap);
        va_end(ap);
}

/* Request text goes into messages cut short and without control characters (they end up in JSON and logs).
 */
static void quote_input(char *out, size_t size, const char *in)
{
        size_t n = 0;

        for (const char *p = in ? in : ""; *p && n + 1 < size && n < 100; p++)
                out[n++] = (unsigned char) *p < ' ' || *p == 0x7f ? '?' : *p;
        out[n] = '\0';
}

static void check_locked(const PolicyData *d, const AccessRequest *r, AccessVerdict *v)
{
        char name[256], shown[128];
        unsigned port = 0;
        OriginKind ok;
        bool preflight = r->preflight_method && streq_ptr(r->method, "OPTIONS");
        bool safe = preflight ? is_safe_method(r->preflight_method) : is_safe_method(r->method);
        bool needs_token;

        /* Host first: a rebinding page's requests carry its own name, whatever the rest looks like. */
        if (r->host_repeated) {
                deny(v, 400, "invalid_host", "Send exactly one Host header.",
                     "The request has more than one Host header");
                return;
        }
        if (!r->host) {
                if (r->http11) {
                        deny(v, 400, "missing_host",
                             "HTTP/1.1 requests must carry a Host header (RFC 9112).",
                             "The request has no Host header");
                        return;
                }
        } else if (access_host_parse(r->host, name, sizeof(name), &port) < 0) {
                quote_input(shown, sizeof(shown), r->host);
                deny(v, 400, "invalid_host", "Send Host: 127.0.0.1:PORT (or localhost:PORT).",
                     "Host header '%s' is not a host name", shown);
                return;
        } else if (!host_allowed(d, name, port)) {
                quote_input(shown, sizeof(shown), r->host);
                deny(v, 421, "host_not_allowed",
                     "pgseedd answers to loopback names only (127.0.0.1, localhost, [::1]), so that a web "
                     "page "
                     "cannot reach it through DNS rebinding. Add the name to PGSEED_ALLOWED_HOSTS "
                     "([api] allowed_hosts) to serve it.",
                     "Host '%s' is not served here", shown);
                return;
        }

        /* Origin: only browsers send it, and they let the answer be read only when we say so. */
        ok = origin_classify(d, r->origin);
        if (r->cors == ROUTE_CORS_PRIVATE)
                v->vary_origin = true;
        if (r->cors == ROUTE_CORS_PUBLIC && safe)
                strlcpy0(v->allow_origin, "*", sizeof(v->allow_origin));
        else if (ok == ORIGIN_OWN || (ok == ORIGIN_READONLY && safe)) {
                AccessOrigin o;
                /* Echo only what parsed (no header injection); "null" and garbage under '*' get '*'. */
                strlcpy0(v->allow_origin, access_origin_parse(r->origin, &o) == 0 ? r->origin : "*",
                         sizeof(v->allow_origin));
                v->vary_origin = true;
        } else if (ok != ORIGIN_NONE) {
                char method[32];
                quote_input(shown, sizeof(shown), r->origin);
                quote_input(method, sizeof(method), preflight ? r->preflight_method : r->method);
                deny(v, 403, "cross_origin",
                     "Web pages may not use this endpoint. Send it from the command line (pgseedctl, curl), "
                     "or list the page's origin in PGSEED_CORS_ORIGIN ([api] cors_origin).",
                     "%s %s from origin '%s' refused", preflight ? "Preflight for" : "Request", method,
                     shown);
                return;
        }
        if (preflight) {
                /* Browsers send preflights without credentials: they are answered before the token check. */
                v->status = 204;
                v->preflight = true;
                strlcpy0(v->allow_methods,
                         ok == ORIGIN_OWN ? "GET, HEAD, POST, DELETE, OPTIONS" : "GET, HEAD, OPTIONS",
                         sizeof(v->allow_methods));
                return;
        }

        /* The token. */
        /*
         * With auth = all the page must still load to ask for the token: its
         * shell and assets are the same bytes for everyone and carry no data.
         */
        needs_token =
                d->token && (r->auth == ROUTE_AUTH_MUTATE || (d->auth_all && r->auth != ROUTE_AUTH_NONE));
        if (needs_token) {
                size_t len = 0;
                const char *given = bearer_token(r->authorization, &len);

                if (!given || !token_equal(given, len, d->token, d->token_len)) {
                        deny(v, 401, "unauthorized",
                             "Send 'Authorization: Bearer TOKEN' with the token from the API token file "
                             "(PGSEED_TOKEN_FILE); pgseedctl reads it from PGSEED_TOKEN or that file.",
                             given              ? "The API token is wrong"
                             : r->authorization ? "The Authorization header is not 'Bearer TOKEN'"
                                                : "This endpoint needs the API token");
                        v->www_authenticate = true;
                        return;
                }
        }
        v->status = 0;
}

void access_check(const AccessPolicy *p, const AccessRequest *r, AccessVerdict *ret)
{
        AccessPolicy *m = (AccessPolicy *) p; /* the lock is not part of the policy's value */

        *ret = (AccessVerdict){0};
        pthread_rwlock_rdlock(&m->lock);
        check_locked(&m->data, r, ret);
        pthread_rwlock_unlock(&m->lock);
}
