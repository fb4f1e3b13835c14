/* SPDX-License-Identifier: MIT */
/* docker.h -- a small Docker Engine API client over its unix socket (Docker, or Podman's compat API). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

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

/* GET /images/NAME/json into *ret (caller decrefs).  -ENOENT when the image is not present. */
int docker_image_inspect(DockerClient *c, const char *image, json_t **ret, Error *e);

/*
 * Called for every message of a pull's progress stream (a JSON object such as
 * {"status":"Downloading","id":"..."}).  Return 0 to go on, > 0 to stop early
 * and report success (e.g. once the registry answered), < 0 to abort.
 */
typedef int (*DockerPullProgress)(const json_t *msg, void *userdata);

/*
 * Pulls image (POST /images/create) and reads the progress stream to its end.
 * The engine answers 200 and then reports a failure inside the stream, so
 * the stream's last error message is the call's error (-EIO, or -ENOENT when
 * the engine says the image does not exist).  Gives up with -ETIMEDOUT after
 * timeout_ms; closing the connection cancels the pull on the engine's side.
 * progress may be NULL.
 */
int docker_image_pull(DockerClient *c, const char *image, int64_t timeout_ms, DockerPullProgress progress,
                      void *userdata, Error *e);

/* GET /containers/NAME/json into *ret (caller decrefs).  -ENOENT when there is no such container. */
int docker_container_inspect(DockerClient *c, const char *name_or_id, json_t **ret, Error *e);

/*
 * POST /containers/create?name=NAME with spec (Image, Cmd, Env, Labels,
 * HostConfig, ...).  Returns the new container's full ID in *ret_id (caller
 * frees; may be NULL).  -EBUSY when the name is taken, -ENOENT when the
 * image is missing.
 */
int docker_container_create(DockerClient *c, const char *name, json_t *spec, char **ret_id, Error *e);

/* POST /containers/ID/start.  0 also when it already runs. */
int docker_container_start(DockerClient *c, const char *id, Error *e);

/*
 * POST /containers/ID/stop?t=timeout_s: the stop signal, then SIGKILL after
 * timeout_s.  Blocks until the container stopped (bounded by timeout_s plus
 * a margin).  0 also when it was not running.
 */
int docker_container_stop(DockerClient *c, const char *id, int64_t timeout_s, Error *e);

/* POST /containers/ID/kill?signal=SIGNAL ("SIGKILL" when NULL).  -EBUSY when it is not running. */
int docker_container_kill(DockerClient *c, const char *id, const char *signal, Error *e);

/*
 * POST /containers/ID/wait?condition=not-running: waits up to timeout_ms for
 * the container to stop and returns its exit code in *ret_status (may be
 * NULL).  -ETIMEDOUT when it still runs.
 */
int docker_container_wait(DockerClient *c, const char *id, int64_t timeout_ms, int64_t *ret_status,
                          Error *e);

/*
 * DELETE /containers/ID.  force kills a running container first; volumes
 * removes its anonymous volumes (named volumes always stay).  -ENOENT when
 * there is no such container.
 */
int docker_container_remove(DockerClient *c, const char *id, bool force, bool volumes, Error *e);

/* GET /volumes/NAME into *ret (caller decrefs).  -ENOENT when it does not exist. */
/*
 * Runs cmd (a JSON array of strings) in the running container id as user,
 * detached, and waits up to timeout_ms for it to finish; its exit code in
 * *ret_exit.  Output is not collected.  The command line is visible to
 * anyone who may inspect the container: pass no secrets in it.
 */
int docker_exec(DockerClient *c, const char *id, const json_t *cmd, const char *user, int64_t timeout_ms,
                int64_t *ret_exit, Error *e);

int docker_volume_inspect(DockerClient *c, const char *name, json_t **ret, Error *e);
/* POST /volumes/create with Name and labels (an object of strings; may be NULL). */
int docker_volume_create(DockerClient *c, const char *name, json_t *labels, Error *e);
/* DELETE /volumes/NAME.  -ENOENT when it does not exist, -EBUSY while a container uses it. */
int docker_volume_remove(DockerClient *c, const char *name, bool force, Error *e);
