/* SPDX-License-Identifier: MIT */
/* docker-call.c -- one HTTP request to the Docker Engine over its unix socket, and its errors in words. */

#include "docker-call.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#define CONNECT_TIMEOUT_MS 5000L

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
        /* Not thread-safe in every libcurl: pthread_once makes the first call the only one. */
        (void) curl_global_init(CURL_GLOBAL_DEFAULT);
}

void docker_call_global_init(void)
{
        pthread_once(&curl_once, curl_init_once);
}


static size_t call_write(char *p, size_t size, size_t nmemb, void *userdata)
{
        DockerCall *call = userdata;
        size_t n = size * nmemb;

        if (call->status == 0)
                (void) curl_easy_getinfo(call->h, CURLINFO_RESPONSE_CODE, &call->status);
        if (call->sink && call->status >= 200 && call->status < 300)
                return call->sink(call, p, n) ? n : 0;
        if (call->body.len + n > DOCKER_BODY_MAX) {
                call->too_large = true;
                return 0;
        }
        buffer_append(&call->body, p, n);
        return n;
}

static size_t call_header(char *p, size_t size, size_t nmemb, void *userdata)
{
        DockerCall *call = userdata;
        size_t n = size * nmemb;
        const char *name = "api-version:";
        size_t k = strlen(name);

        /* Docker sends "Api-Version", Podman "API-Version": header names are case-insensitive. */
        if (n > k && strncasecmp(p, name, k) == 0) {
                char v[32];
                size_t m = n - k < sizeof(v) - 1 ? n - k : sizeof(v) - 1;
                memcpy(v, p + k, m);
                v[m] = '\0';
                strlcpy0(call->api_version, strstrip(v), sizeof(call->api_version));
        }
        return n;
}

void docker_call_done(DockerCall *call)
{
        if (call->h)
                curl_easy_cleanup(call->h);
        call->h = NULL;
        buffer_free(&call->body);
}

/*
 * A handle for one request to the engine.  url_path is the part after the
 * host, version prefix included.  No body for GET and DELETE; POST sends
 * body (JSON) or an empty body.
 */
CURL *docker_call_setup(DockerCall *call, const char *socket, const char *method, const char *url_path,
                        const char *body, struct curl_slist *headers, int64_t timeout_ms)
{
        _cleanup_free_ char *url = xasprintf("http://localhost%s", url_path);
        CURL *h = curl_easy_init();

        if (!h)
                abort();
        call->h = h;
        snprintf(call->what, sizeof(call->what), "%s %s", method, url_path);
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, socket);
        curl_easy_setopt(h, CURLOPT_URL, url);
        /* http_proxy in the environment would otherwise capture these requests: the socket is the peer. */
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
        /* libcurl's SIGALRM-based DNS timeouts are not thread-safe; there is no DNS over a unix socket. */
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        if (timeout_ms > 0)
                curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
        if (call->stall_s > 0) {
                curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
                curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, call->stall_s);
        }
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, call_write);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, call);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, call_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, call);
        if (headers)
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
        if (streq(method, "POST")) {
                curl_easy_setopt(h, CURLOPT_POST, 1L);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long) (body ? strlen(body) : 0));
        } else if (!streq(method, "GET"))
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        return h;
}

/* Maps a failed transfer (no HTTP answer) to an errno and a message that says what to do. */
int docker_call_transport_error(const DockerCall *call, const char *socket, CURLcode cc, Error *e)
{
        long os_errno = 0;
        struct stat st;

        (void) curl_easy_getinfo(call->h, CURLINFO_OS_ERRNO, &os_errno);
        if (cc == CURLE_COULDNT_CONNECT) {
                if (stat(socket, &st) < 0)
                        return error_set(
                                e, ECONNREFUSED, "docker_unavailable",
                                "Start Docker (e.g. `systemctl start docker`), point DOCKER_HOST at its "
                                "socket, or set runtime = embedded.",
                                "The Docker socket %s does not exist: is the Docker engine running?",
                                socket);
                if (os_errno == EACCES || os_errno == EPERM)
                        return error_set(e, EACCES, "docker_permission_denied",
                                         "Run pgseedd as root or as a member of the docker group, or set "
                                         "runtime = embedded.",
                                         "Permission denied on the Docker socket %s", socket);
                return error_set(
                        e, ECONNREFUSED, "docker_unavailable",
                        "Start Docker (e.g. `systemctl start docker`), or set runtime = embedded.",
                        "Nothing answers on the Docker socket %s (%s): is the Docker engine running?",
                        socket, os_errno ? strerror((int) os_errno) : curl_easy_strerror(cc));
        }
        if (cc == CURLE_OPERATION_TIMEDOUT)
                return error_set(e, ETIMEDOUT, "docker_timeout", "Check the engine with `docker info`.",
                                 "The Docker engine did not answer %s in time", call->what);
        if (call->too_large)
                return error_set(e, EIO, NULL, NULL, "The Docker engine's answer to %s is too large",
                                 call->what);
        return error_set(e, EIO, "docker_error", NULL, "Docker API call %s failed: %s", call->what,
                         curl_easy_strerror(cc));
}

static int status_to_errno(long status)
{
        switch (status) {
        case 400:
                return EINVAL;
        case 401:
        case 403:
                return EACCES;
        case 404:
                return ENOENT;
        case 409:
                return EBUSY;
        default:
                return status >= 500 ? EIO : EINVAL;
        }
}

/*
 * The engine's error for a non-2xx answer.  Docker and Podman both put a
 * human sentence into "message" (Podman adds "cause"); proxies in between
 * may answer with plain text.
 */
int docker_call_http_error(const DockerCall *call, Error *e)
{
        const char *msg = NULL;
        json_auto_t *j = NULL;
        char text[512];

        if (call->body.len > 0) {
                j = json_loadb(call->body.data, call->body.len, 0, NULL);
                msg = json_string_value(json_object_get(j, "message"));
                if (!msg) {
                        strlcpy0(text, call->body.data, sizeof(text));
                        msg = strstrip(text);
                }
        }
        if (isempty(msg))
                msg = "no message";
        return error_set(e, status_to_errno(call->status), NULL, NULL, "%s (HTTP %ld)", msg, call->status);
}

