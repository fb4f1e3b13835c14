/* SPDX-License-Identifier: MIT */
/* ctl-http.h -- the API over HTTP(S): one request, a streamed body, an upload, the token and CA, errors. */
#pragma once

#include <stdio.h>
#include <stddef.h>

#include <jansson.h>

#include "error.h"

/* What to do when nothing answers at the API URL. */
#define CTL_UNREACHABLE_HINT                                                                                \
        "Start it with `make start` (or `pgseedctl start`); if it listens elsewhere pass --url or set "     \
        "PGSEED_URL."

typedef struct CtlResponse {
        long status; /* HTTP status */
        char *body;  /* NUL-terminated */
        size_t len;
} CtlResponse;

void ctl_response_done(CtlResponse *r);

/*
 * One request to the API: method on base_url + path (path includes the query
 * string, already escaped).  Returns 0 for any HTTP answer (check ret->status),
 * -ECONNREFUSED/-EHOSTUNREACH when nothing answered, or -ETIMEDOUT when the
 * answer took longer than timeout_s; e says which and what to do.
 */
int ctl_http_request(const char *base_url, const char *method, const char *path, double timeout_s,
                     CtlResponse *ret, Error *e);

/*
 * GET base_url + path and copy a successful (2xx) body to out as it arrives,
 * flushing each piece (for /logs?follow=1).  timeout_s <= 0 means no limit on
 * the transfer.  Returns 0 when the server ends the body, -errno as above, or
 * -EIO with e filled from the API's error JSON when it answered 4xx/5xx.
 */
int ctl_http_stream(const char *base_url, const char *path, double timeout_s, FILE *out, Error *e);

/* POST base_url + path with the regular file in as the body (application/octet-stream); as ctl_http_request.
 */
int ctl_http_upload(const char *base_url, const char *path, double timeout_s, FILE *in, CtlResponse *ret,
                    Error *e);

/*
 * The bearer token every later request sends (NULL: none), and where it came
 * from ("PGSEED_TOKEN", a file's path) for messages.  problem, when not NULL,
 * says why a configured token could not be read; a 401 answer repeats it.
 * Copies all three.  Not thread-safe: pgseedctl sets it once, before any request.
 */
void ctl_http_set_token(const char *token, const char *source, const char *problem);

/* The CA certificate file every later https:// request verifies pgseedd with (NULL: the system's CAs).
 * Copies it.  Not thread-safe, like ctl_http_set_token(). */
void ctl_http_set_ca(const char *path);

/* URL-encodes one query value (curl_easy_escape).  Returns a new string. */
char *ctl_http_escape(const char *s);

/*
 * Turns an API error answer into e: message and hint from
 * {"error": {"code", "message", "hint"}}, or the status and the start of the
 * body when it has another shape.  The errno reflects the status (409 EBUSY,
 * 404 ENOENT, 400 EINVAL, 401 EACCES, 403 EPERM, 501 ENOSYS, 503 EAGAIN, else
 * EIO).  A 401's hint says which token was sent, if any.  Returns -errno.
 */
int ctl_api_error(const CtlResponse *r, Error *e);

/* Parses r's body as JSON; returns 0 and a new reference, or -EBADMSG with e filled. */
int ctl_response_json(const CtlResponse *r, json_t **ret, Error *e);
