/* SPDX-License-Identifier: MIT */
/* docker.c -- the Docker Engine API over its unix socket with libcurl: calls, errors, pulls, log streams. */

#include "docker.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

/* Inspect answers are a few kB; anything this large is not an answer we asked for. */
#define BODY_MAX (16u * 1024 * 1024)
/* A log frame is at most one 16 kB message plus its timestamp; anything far larger is a corrupt header. */
#define FRAME_MAX (8u * 1024 * 1024)
/* How much a log stream's thread reads ahead of its reader before it stops reading. */
#define QUEUE_MAX (4u * 1024 * 1024)
/* A pull that sends no progress for this long is stuck (a registry that accepts and never answers). */
#define PULL_STALL_S       120L
#define CONNECT_TIMEOUT_MS 5000L

struct DockerClient {
        char *socket;
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
        /* Not thread-safe in every libcurl: pthread_once makes the first call the only one. */
        (void) curl_global_init(CURL_GLOBAL_DEFAULT);
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
static bool name_is_valid(const char *s)
{
        if (isempty(s) || strlen(s) > 255)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      strchr("._-/:@", *p)))
                        return false;
        return true;
}

static int check_name(const char *what, const char *s, Error *e)
{
        if (!name_is_valid(s))
                return error_set(e, EINVAL, "invalid_config", NULL, "'%s' is not a valid Docker %s name",
                                 strempty(s), what);
        return 0;
}

int docker_client_new(const char *host, DockerClient **ret, Error *e)
{
        const char *path = startswith(host ? host : "", "unix://");
        DockerClient *c;

        if (isempty(path) || path[0] != '/')
                return error_set(
                        e, EINVAL, "invalid_config",
                        "pgseedd talks to the Docker Engine over its unix socket: set DOCKER_HOST to "
                        "unix:///var/run/docker.sock (or Podman's socket).",
                        "Docker host '%s' is not a unix:///absolute/path address", strempty(host));
        pthread_once(&curl_once, curl_init_once);
        c = xcalloc(1, sizeof(DockerClient));
        c->socket = xstrdup(path);
        c->timeout_ms = DOCKER_TIMEOUT_MS;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

void docker_client_free(DockerClient *c)
{
        if (!c)
                return;
        pthread_mutex_destroy(&c->lock);
        free(c->socket);
        free(c);
}

const char *docker_client_socket(const DockerClient *c)
{
        return c->socket;
}

void docker_client_set_timeout(DockerClient *c, int64_t timeout_ms)
{
        c->timeout_ms = timeout_ms > 0 ? timeout_ms : DOCKER_TIMEOUT_MS;
}

/* ---- one HTTP call -------------------------------------------------------- */

typedef struct Call Call;
struct Call {
        CURL *h;
        char what[160]; /* "POST /containers/create", for messages */
        long status;
        Buffer body;
        bool too_large;
        char api_version[16]; /* the Api-Version response header */
        /*
         * Streaming: the body of a 2xx answer goes to sink instead of body.
         * sink returns false to end the transfer early; the call then counts
         * as complete when sink_ok is set, else as aborted.
         */
        bool (*sink)(Call *call, const char *p, size_t n);
        void *userdata;
        bool sink_ok;
        long stall_s; /* > 0: give up when fewer than 1 byte/s arrive for this long */
};

static size_t call_write(char *p, size_t size, size_t nmemb, void *userdata)
{
        Call *call = userdata;
        size_t n = size * nmemb;

        if (call->status == 0)
                (void) curl_easy_getinfo(call->h, CURLINFO_RESPONSE_CODE, &call->status);
        if (call->sink && call->status >= 200 && call->status < 300)
                return call->sink(call, p, n) ? n : 0;
        if (call->body.len + n > BODY_MAX) {
                call->too_large = true;
                return 0;
        }
        buffer_append(&call->body, p, n);
        return n;
}

static size_t call_header(char *p, size_t size, size_t nmemb, void *userdata)
{
        Call *call = userdata;
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

static void call_done(Call *call)
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
static CURL *call_setup(Call *call, const char *socket, const char *method, const char *url_path,
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
static int curl_error(const Call *call, const char *socket, CURLcode cc, Error *e)
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
static int http_error(const Call *call, Error *e)
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

/* Negotiates once per client (under its lock); fills the "/v1.xx" prefix. */
static int client_negotiate_locked(DockerClient *c, Error *e)
{
        DockerVersion v = {0};
        Call call = {0};
        CURLcode cc;
        int engine, min, used, r = 0;

        /*
         * GET /_ping is the documented negotiation: cheap, unversioned, and
         * allowed by socket proxies that deny everything else; its
         * Api-Version header is the engine's highest version.
         */
        call_setup(&call, c->socket, "GET", "/_ping", NULL, NULL,
                   c->timeout_ms < 5000 ? c->timeout_ms : 5000);
        cc = curl_easy_perform(call.h);
        if (cc != CURLE_OK) {
                r = curl_error(&call, c->socket, cc, e);
                call_done(&call);
                return r;
        }
        strlcpy0(v.api_version, call.api_version, sizeof(v.api_version));
        call_done(&call);

        /* /version adds the engine's name and oldest API; an engine hiding it still works from the ping. */
        call = (Call){0};
        call_setup(&call, c->socket, "GET", "/version", NULL, NULL, c->timeout_ms);
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
        call_done(&call);

        engine = api_version_parse(v.api_version);
        if (engine < 0)
                return error_set(e, EPROTONOSUPPORT, "docker_unsupported",
                                 "Is DOCKER_HOST a Docker (or Podman) engine's socket?",
                                 "The engine at %s did not report an API version", c->socket);
        if (engine < api_version_parse(DOCKER_API_MIN))
                return error_set(
                        e, EPROTONOSUPPORT, "docker_unsupported",
                        "Upgrade Docker to 20.10 or newer (or Podman to 3 or newer), or set runtime = "
                        "embedded.",
                        "The Docker engine at %s speaks API %s%s%s, older than %s (Docker 20.10) that "
                        "pgseedd needs",
                        c->socket, v.api_version, *v.version ? ", version " : "", v.version, DOCKER_API_MIN);
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

/* The versioned path for a call: "/v1.41" + the formatted rest. */
static int client_path(DockerClient *c, char **ret, Error *e, const char *fmt, va_list ap)
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

/*
 * Performs one versioned call.  Returns 0 when the engine answered (any
 * status: see call->status), or a negative errno for a transport failure.
 * The caller call_done()s the call either way.
 */
_printf_(7, 8) static int client_call(DockerClient *c, Call *call, const char *method, json_t *body,
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
        call_setup(call, c->socket, method, path, text, headers,
                   timeout_ms > 0 ? timeout_ms : c->timeout_ms);
        cc = curl_easy_perform(call->h);
        curl_slist_free_all(headers);
        if (cc == CURLE_WRITE_ERROR && call->sink_ok)
                return 0;
        if (cc != CURLE_OK)
                return curl_error(call, c->socket, cc, e);
        (void) curl_easy_getinfo(call->h, CURLINFO_RESPONSE_CODE, &call->status);
        return 0;
}

/* A call whose answer is JSON on success (200/201); *ret may be NULL to ignore it. */
_printf_(7, 8) static int client_call_json(DockerClient *c, const char *method, json_t *body, json_t **ret,
                                           int64_t timeout_ms, Error *e, const char *fmt, ...)
{
        _cleanup_free_ char *path = NULL;
        Call call = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        if (vasprintf(&path, fmt, ap) < 0)
                abort();
        va_end(ap);
        r = client_call(c, &call, method, body, timeout_ms, e, "%s", path);
        if (r >= 0 && (call.status < 200 || call.status >= 300))
                r = http_error(&call, e);
        if (r >= 0 && ret) {
                json_error_t err;
                *ret = json_loadb(call.body.data ? call.body.data : "", call.body.len, 0, &err);
                if (!*ret)
                        r = error_set(e, EIO, "docker_error", NULL,
                                      "The Docker engine's answer to %s is not JSON: %s", call.what,
                                      err.text);
        }
        call_done(&call);
        return r;
}

/* A call without an interesting answer: 2xx (and 304 "nothing to do") is success. */
_printf_(5, 6) static int client_call_empty(DockerClient *c, const char *method, int64_t timeout_ms,
                                            Error *e, const char *fmt, ...)
{
        _cleanup_free_ char *path = NULL;
        Call call = {0};
        va_list ap;
        int r;

        va_start(ap, fmt);
        if (vasprintf(&path, fmt, ap) < 0)
                abort();
        va_end(ap);
        r = client_call(c, &call, method, NULL, timeout_ms, e, "%s", path);
        if (r >= 0 && call.status != 304 && (call.status < 200 || call.status >= 300))
                r = http_error(&call, e);
        call_done(&call);
        return r;
}

/* ---- images ---------------------------------------------------------------- */

int docker_image_inspect(DockerClient *c, const char *image, json_t **ret, Error *e)
{
        int r = check_name("image", image, e);

        if (r < 0)
                return r;
        /* The engine routes /images/{name:.*}/json, so a name with '/' needs no escaping. */
        return client_call_json(c, "GET", NULL, ret, 0, e, "/images/%s/json", image);
}

typedef struct Pull {
        DockerPullProgress progress;
        void *userdata;
        Buffer line;
        char error[512];
        bool stopped;
        bool aborted;
} Pull;

/* One line of the progress stream: a JSON object, possibly with "error"/"errorDetail". */
static int pull_message(Pull *p, const char *s, size_t n)
{
        json_auto_t *j = json_loadb(s, n, 0, NULL);
        const char *err;
        int r;

        if (!json_is_object(j))
                return 0;
        err = json_string_value(json_object_get(json_object_get(j, "errorDetail"), "message"));
        if (!err)
                err = json_string_value(json_object_get(j, "error"));
        if (err) {
                strlcpy0(p->error, err, sizeof(p->error));
                return 0;
        }
        if (!p->progress)
                return 0;
        r = p->progress(j, p->userdata);
        if (r > 0)
                p->stopped = true;
        else if (r < 0)
                p->aborted = true;
        return r;
}

static bool pull_sink(Call *call, const char *data, size_t n)
{
        Pull *p = call->userdata;

        buffer_append(&p->line, data, n);
        for (;;) {
                char *nl = memchr(p->line.data, '\n', p->line.len);
                size_t len;
                if (!nl)
                        break;
                len = (size_t) (nl - p->line.data);
                if (pull_message(p, p->line.data, len) != 0) {
                        call->sink_ok = p->stopped;
                        return false;
                }
                buffer_consume(&p->line, len + 1);
        }
        return p->line.len < BODY_MAX;
}

int docker_image_pull(DockerClient *c, const char *image, int64_t timeout_ms, DockerPullProgress progress,
                      void *userdata, Error *e)
{
        _cleanup_free_ char *name = NULL, *from = NULL, *tag = NULL;
        const char *slash, *colon, *at;
        Pull p = {.progress = progress, .userdata = userdata};
        /* The engine reports progress every few seconds while it downloads or extracts; silence means stuck.
         */
        Call call = {.sink = pull_sink, .userdata = &p, .stall_s = PULL_STALL_S};
        int64_t t0 = now_mono_ms();
        CURL *esc;
        int r;

        r = check_name("image", image, e);
        if (r < 0)
                return r;
        /*
         * fromImage without a tag pulls every tag of the repository: always
         * split the reference and pass the tag (or digest) explicitly,
         * defaulting to "latest" as the docker CLI does.
         */
        name = xstrdup(image);
        at = strchr(name, '@');
        slash = strrchr(name, '/');
        colon = strrchr(slash ? slash : name, ':');
        if (at) {
                tag = xstrdup(at + 1);
                name[at - name] = '\0';
        } else if (colon) {
                tag = xstrdup(colon + 1);
                name[colon - name] = '\0';
        } else
                tag = xstrdup("latest");
        esc = curl_easy_init();
        if (!esc)
                abort();
        {
                char *a = curl_easy_escape(esc, name, 0), *b = curl_easy_escape(esc, tag, 0);
                from = xasprintf("fromImage=%s&tag=%s", a, b);
                curl_free(a);
                curl_free(b);
        }
        curl_easy_cleanup(esc);

        r = client_call(c, &call, "POST", NULL, timeout_ms, e, "/images/create?%s", from);
        if (p.aborted)
                r = error_set(e, ECANCELED, NULL, NULL, "Pulling %s was cancelled", image);
        else if (r == -ETIMEDOUT && now_mono_ms() - t0 < timeout_ms - 1000)
                r = error_set(e, ETIMEDOUT, "pull_timeout", NULL,
                              "Pulling %s stalled: the engine reported no progress for %ld s", image,
                              PULL_STALL_S);
        else if (r == -ETIMEDOUT)
                r = error_set(e, ETIMEDOUT, "pull_timeout", NULL, "Pulling %s did not finish within %lld s",
                              image, (long long) (timeout_ms / 1000));
        else if (r >= 0 && (call.status < 200 || call.status >= 300))
                r = http_error(&call, e);
        else if (r >= 0 && !p.stopped && p.line.len > 0)
                (void) pull_message(&p, p.line.data, p.line.len); /* a last message without newline */
        if (r >= 0 && !p.stopped && *p.error) {
                /* The engine answered 200 and then failed: the error is the last message in the stream. */
                bool missing = strstr(p.error, "not found") || strstr(p.error, "does not exist") ||
                               strstr(p.error, "manifest unknown");
                r = error_set(e, missing ? ENOENT : EIO, "pull_failed", NULL, "%s", p.error);
        }
        buffer_free(&p.line);
        call_done(&call);
        return r;
}

/* ---- containers ------------------------------------------------------------ */

int docker_container_inspect(DockerClient *c, const char *name_or_id, json_t **ret, Error *e)
{
        int r = check_name("container", name_or_id, e);

        if (r < 0)
                return r;
        return client_call_json(c, "GET", NULL, ret, 0, e, "/containers/%s/json", name_or_id);
}

int docker_container_create(DockerClient *c, const char *name, json_t *spec, char **ret_id, Error *e)
{
        json_auto_t *answer = NULL;
        const char *id;
        int r = check_name("container", name, e);

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
        int r = check_name("container", id, e);

        if (r < 0)
                return r;
        return client_call_empty(c, "POST", 0, e, "/containers/%s/start", id);
}

int docker_container_stop(DockerClient *c, const char *id, int64_t timeout_s, Error *e)
{
        int r = check_name("container", id, e);

        if (r < 0)
                return r;
        /* The engine answers once the container is down: after up to t seconds, plus the kill. */
        return client_call_empty(c, "POST", (timeout_s + 30) * 1000, e, "/containers/%s/stop?t=%lld", id,
                                 (long long) timeout_s);
}

int docker_container_kill(DockerClient *c, const char *id, const char *signal, Error *e)
{
        int r = check_name("container", id, e);

        if (r < 0)
                return r;
        if (!signal)
                signal = "SIGKILL";
        if (!name_is_valid(signal))
                return error_set(e, EINVAL, NULL, NULL, "'%s' is not a signal name", signal);
        return client_call_empty(c, "POST", 0, e, "/containers/%s/kill?signal=%s", id, signal);
}

int docker_container_wait(DockerClient *c, const char *id, int64_t timeout_ms, int64_t *ret_status, Error *e)
{
        json_auto_t *answer = NULL;
        int r = check_name("container", id, e);

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
        int r = check_name("container", id, e);

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
        Call call = {0};
        int r = check_name("container", id, e);

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
        if (!name_is_valid(exec_id))
                return error_set(e, EIO, "docker_error", NULL,
                                 "The engine created an exec without a usable ID");
        /* Detached: the engine answers at once; the exit code is polled below. */
        start = json_pack("{s:b, s:b}", "Detach", 1, "Tty", 0);
        r = client_call(c, &call, "POST", start, 0, e, "/exec/%s/start", exec_id);
        if (r >= 0 && (call.status < 200 || call.status >= 300))
                r = http_error(&call, e);
        call_done(&call);
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
        int r = check_name("volume", name, e);

        if (r < 0)
                return r;
        return client_call_json(c, "GET", NULL, ret, 0, e, "/volumes/%s", name);
}

int docker_volume_create(DockerClient *c, const char *name, json_t *labels, Error *e)
{
        json_auto_t *body = NULL;
        int r = check_name("volume", name, e);

        if (r < 0)
                return r;
        body = json_pack("{s:s, s:O?}", "Name", name, "Labels", labels);
        if (!body)
                abort();
        return client_call_json(c, "POST", body, NULL, 0, e, "/volumes/create");
}

int docker_volume_remove(DockerClient *c, const char *name, bool force, Error *e)
{
        int r = check_name("volume", name, e);

        if (r < 0)
                return r;
        return client_call_empty(c, "DELETE", 0, e, "/volumes/%s?force=%d", name, force);
}

/* ---- log stream decoding ----------------------------------------------------- */

int docker_parse_time(const char *s, size_t n, int64_t *ret_ms)
{
        char buf[64], *p;
        struct tm tm = {0};
        int64_t ms = 0, off = 0;

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n);
        buf[n] = '\0';
        p = strptime(buf, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                /* Nanoseconds from Docker, fewer digits from others: keep milliseconds. */
                int digits = 0;
                for (p++; *p >= '0' && *p <= '9'; p++, digits++)
                        if (digits < 3)
                                ms = ms * 10 + (*p - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 3; digits++)
                        ms *= 10;
        }
        if (*p == 'Z')
                p++;
        else if (*p == '+' || *p == '-') {
                int hh, mm;
                if (strlen(p) != 6 || sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
                        return -EINVAL;
                off = ((int64_t) hh * 60 + mm) * 60000;
                if (*p == '-')
                        off = -off;
                p += 6;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        *ret_ms = (int64_t) timegm(&tm) * 1000 + ms - off;
        return 0;
}

struct DockerLogDecoder {
        bool tty, timestamps;
        DockerLogEmit emit;
        void *userdata;
        Buffer in;
        /* A line split over frames (stdout, stderr), with the time of its first part. */
        Buffer partial[2];
        int64_t partial_ts[2];
        bool bad;
};

DockerLogDecoder *docker_log_decoder_new(bool tty, bool timestamps, DockerLogEmit emit, void *userdata)
{
        DockerLogDecoder *d = xcalloc(1, sizeof(DockerLogDecoder));

        d->tty = tty;
        d->timestamps = timestamps;
        d->emit = emit;
        d->userdata = userdata;
        return d;
}

void docker_log_decoder_free(DockerLogDecoder *d)
{
        if (!d)
                return;
        buffer_free(&d->in);
        buffer_free(&d->partial[0]);
        buffer_free(&d->partial[1]);
        free(d);
}

static void decoder_emit(DockerLogDecoder *d, int stream, const char *text, size_t n, int64_t ts_ms)
{
        DockerLogLine line = {.stream = stream == 1 ? "stderr" : "stdout", .ts_ms = ts_ms};
        _cleanup_free_ char *copy = NULL;

        /* Lines written through a TTY end in "\r\n". */
        if (n > 0 && text[n - 1] == '\r')
                n--;
        copy = xmalloc(n + 1);
        memcpy(copy, text, n);
        copy[n] = '\0';
        line.text = copy;
        if (ts_ms > 0)
                format_rfc3339_ms(ts_ms, line.ts, sizeof(line.ts));
        d->emit(&line, d->userdata);
}

/*
 * One message: with timestamps the engine put "TIME " in front of it.
 * Splits it into lines; a part without newline waits for the next message
 * of the same stream (the engine cuts lines longer than 16 kB into parts).
 */
static void decoder_message(DockerLogDecoder *d, int stream, const char *p, size_t n)
{
        Buffer *partial = &d->partial[stream];
        int64_t ts = 0;

        if (d->timestamps) {
                const char *sp = memchr(p, ' ', n < 64 ? n : 64);
                if (sp && docker_parse_time(p, (size_t) (sp - p), &ts) == 0) {
                        n -= (size_t) (sp + 1 - p);
                        p = sp + 1;
                } else
                        ts = 0;
        }
        while (n > 0) {
                const char *nl = memchr(p, '\n', n);
                size_t len = nl ? (size_t) (nl - p) : n;

                if (partial->len == 0)
                        d->partial_ts[stream] = ts;
                if (!nl) {
                        buffer_append(partial, p, len);
                        break;
                }
                if (partial->len > 0) {
                        buffer_append(partial, p, len);
                        decoder_emit(d, stream, partial->data, partial->len, d->partial_ts[stream]);
                        partial->len = 0;
                } else
                        decoder_emit(d, stream, p, len, ts);
                p += len + 1;
                n -= len + 1;
        }
}

int docker_log_decoder_feed(DockerLogDecoder *d, const char *data, size_t n)
{
        if (d->bad)
                return -EBADMSG;
        buffer_append(&d->in, data, n);

        if (d->tty) {
                /* Raw stream: each message is one line, led by its timestamp. */
                size_t start = 0;
                for (size_t i = 0; i < d->in.len; i++)
                        if (d->in.data[i] == '\n') {
                                decoder_message(d, 0, d->in.data + start, i + 1 - start);
                                start = i + 1;
                        }
                buffer_consume(&d->in, start);
                return 0;
        }

        /*
         * Multiplexed stream: frames of an 8-byte header -- stream type (0
         * stdin, 1 stdout, 2 stderr), three zero bytes, the payload length as
         * a big-endian uint32 -- and the payload, one log message each.
         */
        for (;;) {
                const unsigned char *h = (const unsigned char *) d->in.data;
                uint32_t len;

                if (d->in.len < 8)
                        break;
                len = (uint32_t) h[4] << 24 | (uint32_t) h[5] << 16 | (uint32_t) h[6] << 8 | (uint32_t) h[7];
                if (h[0] > 2 || h[1] || h[2] || h[3] || len > FRAME_MAX) {
                        d->bad = true;
                        return -EBADMSG;
                }
                if (d->in.len < 8 + (size_t) len)
                        break;
                decoder_message(d, h[0] == 2 ? 1 : 0, d->in.data + 8, len);
                buffer_consume(&d->in, 8 + (size_t) len);
        }
        return 0;
}

void docker_log_decoder_finish(DockerLogDecoder *d)
{
        if (d->tty && d->in.len > 0) {
                decoder_message(d, 0, d->in.data, d->in.len);
                d->in.len = 0;
        }
        for (int i = 0; i < 2; i++)
                if (d->partial[i].len > 0) {
                        decoder_emit(d, i, d->partial[i].data, d->partial[i].len, d->partial_ts[i]);
                        d->partial[i].len = 0;
                }
}

/* ---- log streams ------------------------------------------------------------- */

typedef struct LogItem {
        struct LogItem *next;
        const char *stream;
        char ts[40];
        int64_t ts_ms;
        size_t len;
        char text[];
} LogItem;

struct DockerLogStream {
        Call call;
        char *socket;
        CURLM *multi;
        pthread_t thread;
        bool thread_started;

        pthread_mutex_t lock; /* guards everything below */
        pthread_cond_t cond;  /* signalled on every change: a line, the status, the end, stop, room */
        LogItem *head, *tail;
        size_t queued;
        bool got_status; /* the engine's response headers arrived */
        bool done;       /* the transfer ended; err says how */
        bool stop;       /* the reader closes the stream */
        int errnum;      /* negative errno of a failed transfer, 0 when it ended well */
        Error err;
        DockerLogDecoder *decoder;

        LogItem *current; /* the reader's last line, freed on the next read */
};

/* Called by the decoder with the lock held. */
static void stream_enqueue(const DockerLogLine *line, void *userdata)
{
        DockerLogStream *s = userdata;
        size_t n = strlen(line->text);
        LogItem *it = xmalloc(sizeof(LogItem) + n + 1);

        it->next = NULL;
        it->stream = line->stream;
        memcpy(it->ts, line->ts, sizeof(it->ts));
        it->ts_ms = line->ts_ms;
        it->len = n;
        memcpy(it->text, line->text, n + 1);
        if (s->tail)
                s->tail->next = it;
        else
                s->head = it;
        s->tail = it;
        s->queued += sizeof(LogItem) + n;
        pthread_cond_broadcast(&s->cond);
}

/* The timed wait of this file: absolute CLOCK_MONOTONIC deadlines, as the condition variables use. */
static int cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t deadline_ms)
{
        struct timespec ts;

        if (deadline_ms < 0)
                return pthread_cond_wait(cond, lock);
        ts.tv_sec = (time_t) (deadline_ms / 1000);
        ts.tv_nsec = (long) (deadline_ms % 1000) * 1000000L;
        return pthread_cond_timedwait(cond, lock, &ts);
}

static bool stream_sink(Call *call, const char *p, size_t n)
{
        DockerLogStream *s = call->userdata;
        bool ok;

        pthread_mutex_lock(&s->lock);
        /* Back-pressure: a lagging reader pauses the transfer (and the engine) rather than grow the queue.
         */
        while (s->queued > QUEUE_MAX && !s->stop)
                pthread_cond_wait(&s->cond, &s->lock);
        ok = !s->stop && docker_log_decoder_feed(s->decoder, p, n) >= 0;
        if (!ok && !s->stop && !s->errnum)
                s->errnum = error_set(&s->err, EBADMSG, "docker_error", NULL,
                                      "The Docker engine's log stream is corrupt (bad frame header)");
        pthread_mutex_unlock(&s->lock);
        return ok;
}

static size_t stream_header(char *p, size_t size, size_t nmemb, void *userdata)
{
        DockerLogStream *s = userdata;
        size_t n = size * nmemb;
        long status = 0;

        /* The empty line ends the headers; a 1xx answer is followed by the real one. */
        if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
                (void) curl_easy_getinfo(s->call.h, CURLINFO_RESPONSE_CODE, &status);
                if (status >= 200) {
                        pthread_mutex_lock(&s->lock);
                        s->call.status = status;
                        s->got_status = true;
                        pthread_cond_broadcast(&s->cond);
                        pthread_mutex_unlock(&s->lock);
                }
        }
        return n;
}

static void *stream_thread(void *userdata)
{
        DockerLogStream *s = userdata;
        CURLcode result = CURLE_OK;
        CURLMsg *msg;
        int running = 1, left;
        bool stop = false;

        while (running && !stop) {
                CURLMcode mc = curl_multi_perform(s->multi, &running);
                if (mc == CURLM_OK && running)
                        mc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
                if (mc != CURLM_OK) {
                        result = CURLE_RECV_ERROR;
                        break;
                }
                pthread_mutex_lock(&s->lock);
                stop = s->stop;
                pthread_mutex_unlock(&s->lock);
        }
        while ((msg = curl_multi_info_read(s->multi, &left)))
                if (msg->msg == CURLMSG_DONE)
                        result = msg->data.result;

        pthread_mutex_lock(&s->lock);
        if (!s->stop && !s->errnum) {
                docker_log_decoder_finish(s->decoder);
                if (result != CURLE_OK)
                        s->errnum = curl_error(&s->call, s->socket, result, &s->err);
                else if (s->call.status != 200)
                        s->errnum = http_error(&s->call, &s->err);
        }
        s->done = true;
        s->got_status = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

void docker_log_stream_close(DockerLogStream *s)
{
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        if (s->thread_started) {
                /* Ends curl_multi_poll() at once rather than at its next one-second timeout. */
                curl_multi_wakeup(s->multi);
                pthread_join(s->thread, NULL);
        }
        if (s->multi) {
                curl_multi_remove_handle(s->multi, s->call.h);
                curl_multi_cleanup(s->multi);
        }
        call_done(&s->call);
        while (s->head) {
                LogItem *next = s->head->next;
                free(s->head);
                s->head = next;
        }
        free(s->current);
        docker_log_decoder_free(s->decoder);
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->lock);
        free(s->socket);
        free(s);
}

int docker_logs_open(DockerClient *c, const char *id, const DockerLogsQuery *q, DockerLogStream **ret,
                     Error *e)
{
        _cleanup_(docker_log_stream_closep) DockerLogStream *s = NULL;
        _cleanup_free_ char *path = NULL, *rest = NULL, *tail = NULL;
        pthread_condattr_t attr;
        int64_t deadline;
        int r;

        r = check_name("container", id, e);
        if (r < 0)
                return r;
        tail = q->tail < 0 ? xstrdup("all") : xasprintf("%lld", (long long) q->tail);
        rest = xasprintf("/containers/%s/logs?stdout=1&stderr=1&timestamps=1&follow=%d&tail=%s&since=%lld",
                         id, q->follow, tail, (long long) (q->since_s > 0 ? q->since_s : 0));
        r = docker_version(c, NULL, e);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->lock);
        path = xasprintf("%s%s", c->prefix, rest);
        pthread_mutex_unlock(&c->lock);

        s = xcalloc(1, sizeof(DockerLogStream));
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &attr);
        pthread_condattr_destroy(&attr);
        s->socket = xstrdup(c->socket);
        s->decoder = docker_log_decoder_new(q->tty, true, stream_enqueue, s);
        s->call.sink = stream_sink;
        s->call.userdata = s;
        /* No overall timeout: a followed stream lasts as long as the container runs. */
        call_setup(&s->call, s->socket, "GET", path, NULL, NULL, 0);
        curl_easy_setopt(s->call.h, CURLOPT_HEADERFUNCTION, stream_header);
        curl_easy_setopt(s->call.h, CURLOPT_HEADERDATA, s);
        s->multi = curl_multi_init();
        if (!s->multi)
                abort();
        curl_multi_add_handle(s->multi, s->call.h);
        r = pthread_create(&s->thread, NULL, stream_thread, s);
        if (r != 0)
                return error_set(e, r, NULL, NULL, "Cannot start the log stream's thread: %s", strerror(r));
        s->thread_started = true;

        /*
         * Wait for the status line (and, for an error, the whole short body),
         * so that "no such container" or "logging driver does not support
         * reading" is open's error rather than the first read's.
         */
        deadline = now_mono_ms() + c->timeout_ms;
        pthread_mutex_lock(&s->lock);
        while (!(s->done || (s->got_status && s->call.status == 200)) && now_mono_ms() < deadline)
                (void) cond_wait_until(&s->cond, &s->lock, deadline);
        if (s->got_status && s->call.status == 200 && !s->errnum)
                r = 0;
        else if (s->errnum) {
                r = s->errnum;
                if (e)
                        *e = s->err;
        } else if (!s->done)
                r = error_set(e, ETIMEDOUT, "docker_timeout", NULL,
                              "The Docker engine did not answer %s in time", s->call.what);
        else
                r = error_set(e, EIO, "docker_error", NULL, "Docker API call %s failed (HTTP %ld)",
                              s->call.what, s->call.status);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int docker_log_stream_read(DockerLogStream *s, DockerLogLine *ret, int timeout_ms, Error *e)
{
        int64_t deadline = timeout_ms < 0 ? -1 : now_mono_ms() + timeout_ms;
        int r;

        pthread_mutex_lock(&s->lock);
        free(s->current);
        s->current = NULL;
        while (!s->head && !s->done) {
                if (timeout_ms == 0 || cond_wait_until(&s->cond, &s->lock, deadline) == ETIMEDOUT) {
                        if (s->head || s->done)
                                break;
                        pthread_mutex_unlock(&s->lock);
                        return -EAGAIN;
                }
        }
        if (s->head) {
                LogItem *it = s->head;
                s->head = it->next;
                if (!s->head)
                        s->tail = NULL;
                s->queued -= sizeof(LogItem) + it->len;
                /* The transfer may be waiting for room. */
                pthread_cond_broadcast(&s->cond);
                pthread_mutex_unlock(&s->lock);
                s->current = it;
                *ret = (DockerLogLine){.text = it->text, .stream = it->stream, .ts_ms = it->ts_ms};
                memcpy(ret->ts, it->ts, sizeof(ret->ts));
                return 1;
        }
        r = s->errnum;
        if (r < 0 && e)
                *e = s->err;
        pthread_mutex_unlock(&s->lock);
        return r;
}
