/* SPDX-License-Identifier: MIT */
/* docker.h -- the Docker Engine API calls pgseedd makes: images, containers, exec, volumes. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "docker-client.h"
#include "error.h"

/* GET /images/NAME/json into *ret (caller decrefs).  -ENOENT when the image is not present. */
int docker_image_inspect(DockerClient *c, const char *image, json_t **ret, Error *e);

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

/*
 * Runs cmd in the running container id as user with a TTY and waits up to
 * timeout_ms for it to end; its output (stdout, "\r\n" line ends) in
 * *ret_output, the caller's to free.  The exit code is not checked: callers
 * parse the output.  No secrets in cmd, as for docker_exec().
 */
int docker_exec_output(DockerClient *c, const char *id, const json_t *cmd, const char *user,
                       int64_t timeout_ms, char **ret_output, Error *e);

int docker_volume_inspect(DockerClient *c, const char *name, json_t **ret, Error *e);
/* POST /volumes/create with Name and labels (an object of strings; may be NULL). */
int docker_volume_create(DockerClient *c, const char *name, json_t *labels, Error *e);
/* DELETE /volumes/NAME.  -ENOENT when it does not exist, -EBUSY while a container uses it. */
int docker_volume_remove(DockerClient *c, const char *name, bool force, Error *e);
