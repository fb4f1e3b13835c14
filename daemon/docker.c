/* SPDX-License-Identifier: MIT */
/* docker.c -- the Docker Engine API client: version negotiation, images, containers, exec, volumes. */

#include "docker.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "docker-client.h"

struct DockerClient {
        DockerEndpoint ep;
        int64_t timeout_ms;
        pthread_mutex_t lock; /* guards the negotiation below */
        bool negotiated;
        DockerVersion version;
        char prefix[24]; /* "/v1.41" */
};

static const char *strempty(const char *s)
{
        return s ? s : "";
}

/* "1.41" -> 1041; -1 when not a version. */
static int api_version_parse(const char *s)
{
        unsigned major, minor;
        char tail;

        if (isempty(s) || sscanf(s, "%u.%u%c", &major, &minor, &tail) != 2 || major > 99 || minor > 999)
                return -1;
        return (int) (major * 1000 + minor);
}

/* Image, container and volume names and IDs go into URL paths: only the characters they can contain. */
bool docker_name_is_valid(const char *s)
{
        if (isempty(s) || strlen(s) > 255)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("._-/:@", *p)))
                        return false;
        return true;
}

int docker_check_name(const char *what, const char *s, Error *e)
{
        if (!docker_name_is_valid(s))
                return error_set(e, EINVAL, "invalid_config", NULL, "'%s' is not a valid Docker %s name",
                                 strempty(s), what);
        return 0;
}

int docker_client_new_tls(const char *host, const char *cert_path, bool tls_verify, DockerClient **ret,
                         Error *e)
{
        DockerEndpoint ep;
        DockerClient *c;
        int r = docker_endpoint_parse(host, cert_path, tls_verify, &ep, e);

        if (r < 0)
                return r;
        docker_call_global_init();
        c = xcalloc(1, sizeof(DockerClient));
        c->ep = ep;
        c->timeout_ms = DOCKER_TIMEOUT_MS;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

int docker_client_new(const char *host, DockerClient **ret, Error *e)
{
        return docker_client_new_tls(host, NULL, false, ret, e);
}

void docker_client_free(DockerClient *c)
{
        if (!c)
                return;
        pthread_mutex_destroy(&c->lock);
        free(c);
}

const DockerEndpoint *docker_client_endpoint(const DockerClient *c)
{
        return &c->ep;
}

void docker_client_set_timeout(DockerClient *c, int64_t timeout_ms)
{
        c->timeout_ms = timeout_ms > 0 ? timeout_ms : DOCKER_TIMEOUT_MS;
}

/* Negotiates once per client (under its lock); fills the "/v1.xx" prefix. */
static int client_negotiate_locked(DockerClient *c, Error *e)
{
        DockerVersion v = {0};
        DockerCall call = {0};
        CURLcode cc;
        int engine, min, used, r = 0;

        /*
         * GET /_ping is the documented negotiation: cheap, unversioned, and
         * allowed by socket proxies that deny everything else; its
         * Api-Version header is the engine's highest version.
         */
        docker_call_setup(&call, &c->ep, "GET", "/_ping", NULL, NULL,
                   c->timeout_ms < 5000 ? c->timeout_ms : 5000);
        cc = curl_easy_perform(call.h);
        if (cc != CURLE_OK) {
                r = docker_call_transport_error(&call, &c->ep, cc, e);
                docker_call_done(&call);
                return r;
        }
        strlcpy0(v.api_version, call.api_version, sizeof(v.api_version));
        docker_call_done(&call);

        /* /version adds the engine's name and oldest API; an engine hiding it still works from the ping. */
        call = (DockerCall){0};
        docker_call_setup(&call, &c->ep, "GET", "/version", NULL, NULL, c->timeout_ms);
        cc = curl_easy_perform(call.h);
        if (cc == CURLE_OK)
                (void) curl_easy_getinfo(call.h, CURLINFO_RESPONSE_CODE, &call.status);
        if (cc == CURLE_OK && call.status == 200 && call.body.len > 0) {
                json_auto_t *j = json_loadb(call.body.data, call.body.len, 0, NULL);
                json_t *comps = json_object_get(j, "Components");
                size_t i;

                strlcpy0(v.version, strempty(json_string_value(json_object_get(j, "Version"))),
                         sizeof(v.version));
                if (isempty(v.api_version))
                        strlcpy0(v.api_version,
                                 strempty(json_string_value(json_object_get(j, "ApiVersion"))),
                                 sizeof(v.api_version));
                strlcpy0(v.min_api_version, strempty(json_string_value(json_object_get(j, "MinAPIVersion"))),
                         sizeof(v.min_api_version));
                /* Podman's compat API names itself only in Components ("Podman Engine"). */
                for (i = 0; i < json_array_size(comps); i++) {
                        const char *name =
                                json_string_value(json_object_get(json_array_get(comps, i), "Name"));
                        if (name && strstr(name, "Podman"))
                                v.podman = true;
                }
        }
        docker_call_done(&call);

        engine = api_version_parse(v.api_version);
        if (engine < 0)
                return error_set(e, EPROTONOSUPPORT, "docker_unsupported",
                                 "Is DOCKER_HOST a Docker (or Podman) engine's socket?",
                                 "The engine at %s did not report an API version%s", c->ep.address,
                                 !c->ep.tls && *c->ep.host ? " (does it expect TLS? set DOCKER_TLS_VERIFY=1)" : "");
        if (engine < api_version_parse(DOCKER_API_MIN))
                return error_set(
                        e, EPROTONOSUPPORT, "docker_unsupported",
                        "Upgrade Docker to 20.10 or newer (or Podman to 3 or newer), or set runtime = "
                        "embedded.",
                        "The Docker engine at %s speaks API %s%s%s, older than %s (Docker 20.10) that "
                        "pgseedd needs",
                        c->ep.address, v.api_version, *v.version ? ", version " : "", v.version, DOCKER_API_MIN);
        used = engine < api_version_parse(DOCKER_API_MAX) ? engine : api_version_parse(DOCKER_API_MAX);
        min = api_version_parse(v.min_api_version);
        /*
         * An engine newer than this client may refuse versions below its own
         * minimum (Docker 29 refuses anything older than 1.44).  The calls made
         * here have kept their shape across versions, so talk its minimum
         * rather than fail.
         */
        if (min > used)
                used = min;
        snprintf(v.used_api_version, sizeof(v.used_api_version), "%d.%d", used / 1000, used % 1000);
        snprintf(c->prefix, sizeof(c->prefix), "/v%s", v.used_api_version);
        c->version = v;
        c->negotiated = true;
        return 0;
}

int docker_version(DockerClient *c, DockerVersion *ret, Error *e)
{
        int r = 0;

        pthread_mutex_lock(&c->lock);
        if (!c->negotiated)
                r = client_negotiate_locked(c, e);
        if (r >= 0 && ret)
                *ret = c->version;
        pthread_mutex_unlock(&c->lock);
        return r;
}

int docker_version_cached(DockerClient *c, DockerVersion *ret)
{
        int r = -EAGAIN;

        pthread_mutex_lock(&c->lock);
        if (c->negotiated) {
                *ret = c->version;
                r = 0;
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}

/* The versioned path for a call: "/v1.41" + the formatted rest. */
_printf_(4, 0) static int client_path(DockerClient *c, char **ret, Error *e, const char *fmt, va_list ap)
{
        char prefix[sizeof(c->prefix)];
        _cleanup_free_ char *rest = NULL;
        int r;

        r = docker_version(c, NULL, e);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        memcpy(prefix, c->prefix, sizeof(prefix));
        pthread_mutex_unlock(&c->lock);
        if (vasprintf(&rest, fmt, ap) < 0)
                abort();
        *ret = xasprintf("%s%s", prefix, rest);
        return 0;
}

_printf_(4, 5) int docker_client_path(DockerClient *c, char **ret, Error *e, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = client_path(c, ret, e, fmt, ap);
        va_end(ap);
        return r;
}

int64_t docker_client_timeout(const DockerClient *c)
{
        return c->timeout_ms;
}

/*
 * Performs one versioned call.  Returns 0 when the engine answered (any
 * status: see call->status), or a negative errno for a transport failure.
 * The caller docker_call_done()s the call either way.
 */
_printf_(7, 8) int docker_client_call(DockerClient *c, DockerCall *call, const char *method, json_t *body,
                                      int64_t timeout_ms, Error *e, const char *fmt, ...)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        struct curl_slist *headers = NULL;
        va_list ap;
        CURLcode cc;
        int r;

        va_start(ap, fmt);
        r = client_path(c, &path, e, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text)
                        abort();
                headers = curl_slist_append(headers, "Content-Type: application/json");
        }
        /* libcurl would otherwise send "Expect: 100-continue" for larger bodies and wait a second for it. */
        headers = curl_slist_append(headers, "Expect:");
        docker_call_setup(call, &c->ep, method, path, text, headers,
                   timeout_ms > 0 ? timeout_ms : c->timeout_ms);
        cc = curl_easy_perform(call->h);
        curl_slist_free_all(headers);
        if (cc == CURLE_WRITE_ERROR && call->sink_ok)
                return 0;
        if (cc != CURLE_OK)
                return docker_call_transport_error(call, &c->ep, cc, e);
        (void) curl_easy_getinfo(call->h, CURLINFO_RESPONSE_CODE, &call->status);
        return 0;
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

int docker_exec(DockerClient *c, const char *id, const json_t *cmd, const char *user, int64_t timeout_ms,
                int64_t *ret_exit, Error *e)
{
        json_auto_t *body = NULL, *created = NULL, *start = NULL;
        _cleanup_free_ char *exec_id = NULL;
        int64_t deadline = now_mono_ms() + timeout_ms;
        DockerCall call = {0};
        int r = docker_check_name("container", id, e);

        if (r < 0)
                return r;
        body = json_pack("{s:O, s:s, s:b, s:b, s:b}", "Cmd", cmd, "User", user, "AttachStdin", 0,
                         "AttachStdout", 0, "AttachStderr", 0);
        if (!body)
                abort();
        r = client_call_json(c, "POST", body, &created, 0, e, "/containers/%s/exec", id);
        if (r < 0)
                return r;
        exec_id = xstrdup(strempty(json_string_value(json_object_get(created, "Id"))));
        if (!docker_name_is_valid(exec_id))
                return error_set(e, EIO, "docker_error", NULL,
                                 "The engine created an exec without a usable ID");
        /* Detached: the engine answers at once; the exit code is polled below. */
        start = json_pack("{s:b, s:b}", "Detach", 1, "Tty", 0);
        r = docker_client_call(c, &call, "POST", start, 0, e, "/exec/%s/start", exec_id);
        if (r >= 0 && (call.status < 200 || call.status >= 300))
                r = docker_call_http_error(&call, e);
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

