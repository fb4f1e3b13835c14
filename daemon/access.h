/* SPDX-License-Identifier: MIT */
/* access.h -- who may use the API: Host, Origin and token checks, independent of the HTTP transport. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct Config Config;

/* What a route needs from the caller when a token is configured. */
typedef enum RouteAuth {
        ROUTE_AUTH_NONE,   /* the page's shell and assets (/, /ui.js, /ui.css): no data, never a token */
        ROUTE_AUTH_OPEN,   /* /health, /metrics, /openapi.json: the token only with auth = all */
        ROUTE_AUTH_READ,   /* /schema, /sample, /logs: the token only with auth = all */
        ROUTE_AUTH_MUTATE, /* POST, DELETE: the token whenever one is configured */
} RouteAuth;

/* Which browser origins may read a route's answers. */
typedef enum RouteCors {
        ROUTE_CORS_PRIVATE, /* the daemon's own loopback origins and cors_origin only */
        ROUTE_CORS_PUBLIC,  /* any origin may GET/HEAD (/health, /metrics) */
} RouteCors;

/* The header value to send with a 401 when AccessVerdict.www_authenticate is set. */
#define ACCESS_WWW_AUTHENTICATE "Bearer realm=\"pgseed\""
/* Access-Control-Allow-Headers for an accepted preflight. */
#define ACCESS_ALLOW_HEADERS "Authorization, X-Request-Id"
/* Access-Control-Max-Age for an accepted preflight (seconds). */
#define ACCESS_MAX_AGE "600"

typedef struct AccessPolicy AccessPolicy;

/*
 * Builds the policy from c: reads and checks the token file (a regular file,
 * not group/world-readable, a non-empty printable token; one trailing newline
 * is dropped), parses cors_origin and allowed_hosts, and refuses a
 * non-loopback listen address without a token unless allow_insecure_remote.
 * Copies what it needs: c may be freed afterwards.  Returns 0 and a new
 * policy, or -EINVAL/-EACCES/-ENOENT with e saying what to fix (pgseedd exits
 * 2 on it).
 */
int access_policy_new(const Config *c, AccessPolicy **ret, Error *e);

/*
 * Replaces the policy's token, origins, hosts and auth scope with those from c
 * (SIGHUP).  On error the old policy stays in force.  Safe to call while other
 * threads run access_check() on p.
 */
int access_policy_reload(AccessPolicy *p, const Config *c, Error *e);

void access_policy_free(AccessPolicy *p);
static inline void access_policy_freep(AccessPolicy **p)
{
        access_policy_free(*p);
}

/*
 * The listen check of access_policy_new() for an address found elsewhere (a
 * socket systemd passed): -EINVAL with e filled when host is not loopback and
 * there is neither a token nor allow_insecure_remote in c.
 */
int access_policy_check_address(const AccessPolicy *p, const Config *c, const char *host, int port,
                                Error *e);

/* True when a token is configured (mutating requests need it). */
bool access_policy_has_token(const AccessPolicy *p);

/* True when host (a listen address or Host name, without port or brackets) is a loopback name or address. */
bool access_host_is_loopback(const char *host);

/* One request, as the transport saw it.  Absent headers are NULL. */
typedef struct AccessRequest {
        const char *method;           /* "GET", "POST", "OPTIONS", ... */
        const char *host;             /* Host header */
        const char *origin;           /* Origin header */
        const char *authorization;    /* Authorization header */
        const char *preflight_method; /* Access-Control-Request-Method of an OPTIONS, else NULL */
        bool http11;                  /* HTTP/1.1 or later: Host is required */
        bool host_repeated;           /* more than one Host header (RFC 9112 asks for a 400) */
        RouteAuth auth;               /* of the route asked for (for a preflight: of preflight_method) */
        RouteCors cors;
} AccessRequest;

/*
 * The decision.  status 0: proceed to the handler.  status 204 with preflight
 * set: answer the CORS preflight with an empty 204 and the allow_* headers.
 * Anything else: reply {"error": {code, message, hint}} with that status.  In
 * every case send Access-Control-Allow-Origin: allow_origin when it is not
 * empty, Vary: Origin when vary_origin, and WWW-Authenticate:
 * ACCESS_WWW_AUTHENTICATE when www_authenticate.
 */
typedef struct AccessVerdict {
        unsigned status;
        char code[48];
        char message[300];
        char hint[300];
        char allow_origin[256];
        bool vary_origin;
        bool www_authenticate;
        bool preflight;
        char allow_methods[64]; /* Access-Control-Allow-Methods of an accepted preflight */
} AccessVerdict;

/* Decides r against p.  Pure apart from a read lock on p; never fails. */
void access_check(const AccessPolicy *p, const AccessRequest *r, AccessVerdict *ret);

/* ---- parsers, exposed for the tests ------------------------------------- */

typedef struct AccessOrigin {
        char scheme[8]; /* "http" or "https" */
        char host[256]; /* lower case; IPv6 without brackets */
        unsigned port;  /* explicit, or 80/443 */
} AccessOrigin;

/*
 * Parses an Origin ("scheme://host[:port]", nothing else: no userinfo, path,
 * query or fragment; "null" is not an origin).  Returns 0, or -EINVAL.
 */
int access_origin_parse(const char *s, AccessOrigin *ret);

/*
 * Parses a Host header ("name", "name:port", "1.2.3.4:port", "[::1]:port")
 * into a lower-case host without brackets and a port (0 when absent).
 * Returns 0, or -EINVAL for anything else.
 */
int access_host_parse(const char *s, char *host, size_t size, unsigned *ret_port);
