/* SPDX-License-Identifier: MIT */
/* docker-client.h -- what the pull and log-stream files use of the client's insides (private to docker*.c). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "docker-call.h"
#include "docker.h"

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
