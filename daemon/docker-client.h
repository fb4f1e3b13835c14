/* SPDX-License-Identifier: MIT */
/* docker-client.h -- a client of one Docker Engine (unix socket or TCP/TLS): negotiation, versioned calls.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "docker-call.h"
#include "error.h"

/*
 * The API versions this client speaks.  It talks min(engine's version,
 * DOCKER_API_MAX) and refuses engines older than DOCKER_API_MIN (Docker
 * 20.10).  1.44 is the ceiling because Docker 29 refuses every client below
 * it; nothing this client uses changed between 1.41 and 1.44.
 */
#define DOCKER_API_MIN "1.41"
#define DOCKER_API_MAX "1.44"

/* Default bound for one ordinary API call (inspect, create, start, ...). */
#define DOCKER_TIMEOUT_MS 30000

typedef struct DockerClient DockerClient;

typedef struct DockerVersion {
        char version[64];     /* engine version, "20.10.24" or "4.3.1"; "" when /version is not served */
        char api_version[16]; /* the engine's highest API version, "1.41" */
        char min_api_version[16];
        char used_api_version[16]; /* what this client talks to it */
        bool podman;               /* Podman's Docker-compatible API */
} DockerVersion;

/*
 * Makes a client for host, "unix:///path/to/docker.sock" or
 * "tcp://HOST:PORT"; over TCP with tls_verify, TLS both ways with
 * cert_path's ca.pem, cert.pem and key.pem (the docker CLI's
 * DOCKER_TLS_VERIFY and DOCKER_CERT_PATH; cert_path NULL: ~/.docker).  No
 * I/O beyond checking the files: the engine is contacted (and the API
 * version negotiated) on the first call.  Returns -EINVAL for any other kind
 * of address, -ENOENT for a certificate file it cannot read.  The client may
 * be shared by threads; each call uses its own connection.
 */
int docker_client_new_tls(const char *host, const char *cert_path, bool tls_verify, DockerClient **ret,
                          Error *e);
/* The same without TLS. */
int docker_client_new(const char *host, DockerClient **ret, Error *e);
void docker_client_free(DockerClient *c);
static inline void docker_client_freep(DockerClient **c)
{
        docker_client_free(*c);
}

/* Bound for one ordinary call in ms (default DOCKER_TIMEOUT_MS).  Not thread-safe: set it before sharing. */
void docker_client_set_timeout(DockerClient *c, int64_t timeout_ms);

/*
 * Contacts the engine (GET /_ping, then /version) and fixes the API version.
 * Later calls reuse the result; a failed attempt is retried on the next call.
 * Returns -ECONNREFUSED when the socket is missing or nobody listens (hint:
 * start Docker or use the embedded runtime), -EACCES without permission on
 * the socket, -EPROTONOSUPPORT for an engine older than DOCKER_API_MIN.
 * ret may be NULL.
 */
int docker_version(DockerClient *c, DockerVersion *ret, Error *e);

/* What docker_version() found, without I/O: -EAGAIN before the first successful contact. */
int docker_version_cached(DockerClient *c, DockerVersion *ret);

/* ---- for the docker*.c files that make calls ---------------------------------- */

/* Image, container and volume names and IDs go into URL paths: only the characters they can contain. */
bool docker_name_is_valid(const char *s);
/* 0, or -EINVAL naming what ("image", "container", "volume") is not a valid name. */
int docker_check_name(const char *what, const char *s, Error *e);

/*
 * The versioned path for a call, "/v1.41" + the formatted rest, into *ret
 * (caller frees).  Negotiates the API version first when needed; returns its
 * error when the engine cannot be reached.
 */
_printf_(4, 5) int docker_client_path(DockerClient *c, char **ret, Error *e, const char *fmt, ...);

/* Where the client's engine is (for calls made outside docker.c). */
const DockerEndpoint *docker_client_endpoint(const DockerClient *c);

/* The bound for one ordinary call, in ms. */
int64_t docker_client_timeout(const DockerClient *c);

/*
 * Performs one versioned call (method, JSON body or NULL, timeout_ms or 0 for
 * the client's).  Returns 0 when the engine answered (any status: see
 * call->status), or a negative errno for a transport failure.  The caller
 * docker_call_done()s the call either way.
 */
_printf_(7, 8) int docker_client_call(DockerClient *c, DockerCall *call, const char *method, json_t *body,
                                      int64_t timeout_ms, Error *e, const char *fmt, ...);
