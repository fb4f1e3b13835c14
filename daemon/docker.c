/* SPDX-License-Identifier: MIT */
/* docker.c -- the Docker Engine API calls pgseedd makes: images, containers, exec, volumes. */

#include "docker.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const char *strempty(const char *s)
{
        return s ? s : "";
}

/* A call whose answer is JSON on success (200/201); *ret may be NULL to ignore it. */
_printf_(7, 8) static int client_call_json(DockerClient *c, const char *method, json_t *body, json_t **ret,
                                           int64_t timeout_ms, Error *e, const char *fmt, ...)
{
        _cleanup_free_ char *path = NULL;
        DockerCall call = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        if (vasprintf(&path, fmt, ap) < 0)
                abort();
        va_end(ap);
        r = docker_client_call(c, &call, method, body, timeout_ms, e, "%s", path);
        if (r >= 0 && (call.status < 200 || call.status >= 300))
                r = docker_call_http_error(&call, e);
        if (r >= 0 && ret) {
                json_error_t err;
                *ret = json_loadb(call.body.data ? call.body.data : "", call.body.len, 0, &err);
                if (!*ret)
                        r = error_set(e, EIO, "docker_error", NULL,
                                      "The Docker engine's answer to %s is not JSON: %s", call.what,
                                      err.text);
        }
        docker_call_done(&call);
        return r;
}

/* A call without an interesting answer: 2xx (and 304 "nothing to do") is success. */
_printf_(5, 6) static int client_call_empty(DockerClient *c, const char *method, int64_t timeout_ms,
                                            Error *e, const char *fmt, ...)
{
        _cleanup_free_ char *path = NULL;
        DockerCall call = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        if (vasprintf(&path, fmt, ap) < 0)
                abort();
        va_end(ap);
        r = docker_client_call(c, &call, method, NULL, timeout_ms, e, "%s", path);
        if (r >= 0 && call.status != 304 && (call.status < 200 || call.status >= 300))
                r = docker_call_http_error(&call, e);
        docker_call_done(&call);
        return r;
}

/* ---- images ---------------------------------------------------------------- */

int docker_image_inspect(DockerClient *c, const char *image, json_t **ret, Error *e)
{
        int r = docker_check_name("image", image, e);

        if (r < 0)
                return r;
        /* The engine routes /images/{name:.*}/json, so a name with '/' needs no escaping. */
        return client_call_json(c, "GET", NULL, ret, 0, e, "/images/%s/json", image);
}
/* ---- containers ------------------------------------------------------------ */

int docker_container_inspect(DockerClient *c, const char *name_or_id, json_t **ret, Error *e)
{
        int r = docker_check_name("container", name_or_id, e);

        if (r < 0)
                return r;
        return client_call_json(c, "GET", NULL, ret, 0, e, "/containers/%s/json", name_or_id);
}

int docker_container_create(DockerClient *c, const char *name, json_t *spec, char **ret_id, Error *e)
{
        json_auto_t *answer = NULL;
        const char *id;
        int r = docker_check_name("container", name, e);

        if (r < 0)
                return r;
        r = client_call_json(c, "POST", spec, &answer, 0, e, "/containers/create?name=%s", name);
        if (r < 0)
                return r;
        id = json_string_value(json_object_get(answer, "Id"));
        if (isempty(id))
                return error_set(e, EIO, "docker_error", NULL,
                                 "The engine created container %s but sent no ID", name);
        if (ret_id)
                *ret_id = xstrdup(id);
        return 0;
}

int docker_container_start(DockerClient *c, const char *id, Error *e)
{
        int r = docker_check_name("container", id, e);

        if (r < 0)
                return r;
        return client_call_empty(c, "POST", 0, e, "/containers/%s/start", id);
}

int docker_container_stop(DockerClient *c, const char *id, int64_t timeout_s, Error *e)
{
        int r = docker_check_name("container", id, e);

        if (r < 0)
                return r;
        /* The engine answers once the container is down: after up to t seconds, plus the kill. */
        return client_call_empty(c, "POST", (timeout_s + 30) * 1000, e, "/containers/%s/stop?t=%lld", id,
                                 (long long) timeout_s);
}

int docker_container_kill(DockerClient *c, const char *id, const char *signal, Error *e)
{
        int r = docker_check_name("container", id, e);

        if (r < 0)
                return r;
        if (!signal)
                signal = "SIGKILL";
        if (!docker_name_is_valid(signal))
                return error_set(e, EINVAL, NULL, NULL, "'%s' is not a signal name", signal);
        return client_call_empty(c, "POST", 0, e, "/containers/%s/kill?signal=%s", id, signal);
}

int docker_container_wait(DockerClient *c, const char *id, int64_t timeout_ms, int64_t *ret_status, Error *e)
{
        json_auto_t *answer = NULL;
        int r = docker_check_name("container", id, e);

        if (r < 0)
                return r;
        r = client_call_json(c, "POST", NULL, &answer, timeout_ms, e,
                             "/containers/%s/wait?condition=not-running", id);
        if (r == -ETIMEDOUT)
                return error_set(e, ETIMEDOUT, NULL, NULL, "Container %s still runs after %lld ms", id,
                                 (long long) timeout_ms);
        if (r < 0)
                return r;
        if (ret_status)
                *ret_status = json_integer_value(json_object_get(answer, "StatusCode"));
        return 0;
}

int docker_container_remove(DockerClient *c, const char *id, bool force, bool volumes, Error *e)
{
        int r = docker_check_name("container", id, e);

        if (r < 0)
                return r;
        return client_call_empty(c, "DELETE", 0, e, "/containers/%s?force=%d&v=%d", id, force, volumes);
}

/* ---- exec ------------------------------------------------------------------ */

/* POST /containers/ID/exec: a new exec of cmd as user, stdout attached when attach is set; its ID in *ret.
 */
static int exec_create(DockerClient *c, const char *id, const json_t *cmd, const char *user, bool attach,
                       char **ret, Error *e)
{
        json_auto_t *body = NULL, *created = NULL;
        int r = docker_check_name("container", id, e);

        if (r < 0)
                return r;
        body = json_pack("{s:O, s:s, s:b, s:b, s:b, s:b}", "Cmd", cmd, "User", user, "AttachStdin", 0,
                         "AttachStdout", attach, "AttachStderr", 0, "Tty", attach);
        if (!body)
                abort();
        r = client_call_json(c, "POST", body, &created, 0, e, "/containers/%s/exec", id);
        if (r < 0)
                return r;
        *ret = xstrdup(strempty(json_string_value(json_object_get(created, "Id"))));
        if (!docker_name_is_valid(*ret))
                return error_set(e, EIO, "docker_error", NULL,
                                 "The engine created an exec without a usable ID");
        return 0;
}

/* POST /exec/ID/start: detached answers at once; attached, the body is the command's output until it ends.
 */
static int exec_start(DockerClient *c, const char *exec_id, bool detach, int64_t timeout_ms,
                      DockerCall *call, Error *e)
{
        json_auto_t *start = json_pack("{s:b, s:b}", "Detach", detach, "Tty", !detach);
        int r = docker_client_call(c, call, "POST", start, timeout_ms, e, "/exec/%s/start", exec_id);

        if (r >= 0 && (call->status < 200 || call->status >= 300))
                r = docker_call_http_error(call, e);
        return r;
}

int docker_exec(DockerClient *c, const char *id, const json_t *cmd, const char *user, int64_t timeout_ms,
                int64_t *ret_exit, Error *e)
{
        _cleanup_free_ char *exec_id = NULL;
        int64_t deadline = now_mono_ms() + timeout_ms;
        DockerCall call = {0};
        int r = exec_create(c, id, cmd, user, false, &exec_id, e);

        if (r < 0)
                return r;
        /* Detached: the engine answers at once; the exit code is polled below. */
        r = exec_start(c, exec_id, true, 0, &call, e);
        docker_call_done(&call);
        if (r < 0)
                return r;
        for (;;) {
                json_auto_t *info = NULL;

                r = client_call_json(c, "GET", NULL, &info, 0, e, "/exec/%s/json", exec_id);
                if (r < 0)
                        return r;
                if (!json_is_true(json_object_get(info, "Running"))) {
                        if (ret_exit)
                                *ret_exit = json_integer_value(json_object_get(info, "ExitCode"));
                        return 0;
                }
                if (now_mono_ms() >= deadline)
                        return error_set(e, ETIMEDOUT, NULL, NULL,
                                         "The command in container %s still runs after %lld ms", id,
                                         (long long) timeout_ms);
                sleep_ms(100);
        }
}

int docker_exec_output(DockerClient *c, const char *id, const json_t *cmd, const char *user,
                       int64_t timeout_ms, char **ret_output, Error *e)
{
        _cleanup_free_ char *exec_id = NULL;
        DockerCall call = {0};
        int r = exec_create(c, id, cmd, user, true, &exec_id, e);

        if (r < 0)
                return r;
        /*
         * Attached without an Upgrade header, the engine answers 200, writes
         * the output raw (a TTY: no stream framing) and closes the connection
         * when the command ends, so the body is the whole output.
         */
        r = exec_start(c, exec_id, false, timeout_ms, &call, e);
        if (r >= 0)
                *ret_output = xasprintf("%.*s", (int) call.body.len, call.body.data ? call.body.data : "");
        docker_call_done(&call);
        return r < 0 ? r : 0;
}

/* ---- volumes --------------------------------------------------------------- */

int docker_volume_inspect(DockerClient *c, const char *name, json_t **ret, Error *e)
{
        int r = docker_check_name("volume", name, e);

        if (r < 0)
                return r;
        return client_call_json(c, "GET", NULL, ret, 0, e, "/volumes/%s", name);
}

int docker_volume_create(DockerClient *c, const char *name, json_t *labels, Error *e)
{
        json_auto_t *body = NULL;
        int r = docker_check_name("volume", name, e);

        if (r < 0)
                return r;
        body = json_pack("{s:s, s:O?}", "Name", name, "Labels", labels);
        if (!body)
                abort();
        return client_call_json(c, "POST", body, NULL, 0, e, "/volumes/create");
}

int docker_volume_remove(DockerClient *c, const char *name, bool force, Error *e)
{
        int r = docker_check_name("volume", name, e);

        if (r < 0)
                return r;
        return client_call_empty(c, "DELETE", 0, e, "/volumes/%s?force=%d", name, force);
}
