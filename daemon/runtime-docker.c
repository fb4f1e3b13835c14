/* SPDX-License-Identifier: MIT */
/* runtime-docker.c -- placeholder until the Docker runtime lands (issue 4). */

#include <errno.h>

#include "config.h"
#include "runtime.h"

static int docker_init(Runtime *rt, Error *e)
{
        return error_set(e, ENOTSUP, "runtime_unavailable", "Use runtime = embedded.",
                         "The Docker runtime is not built yet");
}

int runtime_docker_usable(const Config *config, Error *e)
{
        return error_set(e, ENOTSUP, NULL, NULL, "the Docker runtime is not built yet");
}

const RuntimeOps runtime_docker_ops = {
        .name = "docker",
        .init = docker_init,
};
