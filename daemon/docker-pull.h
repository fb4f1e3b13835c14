/* SPDX-License-Identifier: MIT */
/* docker-pull.h -- pulling an image (POST /images/create) with its progress stream. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "docker-client.h"
#include "error.h"

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
