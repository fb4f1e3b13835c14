/* SPDX-License-Identifier: MIT */
/* docker-call.c -- one HTTP request to the Docker Engine (unix socket, or TCP with TLS), and its errors in words. */

#include "docker-call.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int cert_file(const char *dir, const char *name, char *ret, size_t size, Error *e)
{
        snprintf(ret, size, "%s/%s", dir, name);
        if (access(ret, R_OK) < 0)
                return error_set(e, ENOENT, "invalid_config",
                                 "DOCKER_CERT_PATH names the directory with the docker CLI's ca.pem, cert.pem "
                                 "and key.pem (default ~/.docker).",
                                 "DOCKER_TLS_VERIFY is set but %s cannot be read: %s", ret, strerror(errno));
        return 0;
}

int docker_endpoint_parse(const char *host, const char *cert_path, bool tls_verify, DockerEndpoint *ret,
                          Error *e)
{
        const char *path = startswith(host ? host : "", "unix://");
        const char *tcp = startswith(host ? host : "", "tcp://");
        int r;

        *ret = (DockerEndpoint){0};
        strlcpy0(ret->address, host ? host : "", sizeof(ret->address));
        if (path && path[0] == '/') {
                if (tls_verify)
                        return error_set(e, EINVAL, "invalid_config",
                                         "Unset DOCKER_TLS_VERIFY, or set DOCKER_HOST=tcp://HOST:PORT.",
                                         "DOCKER_TLS_VERIFY is set, but DOCKER_HOST %s is a unix socket",
                                         host);
                strlcpy0(ret->socket, path, sizeof(ret->socket));
                strlcpy0(ret->base, "http://localhost", sizeof(ret->base));
                return 0;
        }
        if (tcp) {
                const char *colon = strrchr(tcp, ':');
                int64_t port;

                if (!colon || colon == tcp || (size_t) (colon - tcp) >= sizeof(ret->host) ||
                    parse_int64(colon + 1, 1, 65535, &port) < 0 || strpbrk(tcp, "/?#@[]"))
                        return error_set(e, EINVAL, "invalid_config",
                                         "Write it as tcp://HOST:PORT, e.g. tcp://docker.internal:2376.",
                                         "Docker host '%s' is not tcp://HOST:PORT", host);
                memcpy(ret->host, tcp, (size_t) (colon - tcp));
                ret->host[colon - tcp] = '\0';
                ret->tls = tls_verify;
                snprintf(ret->base, sizeof(ret->base), "%s://%s:%lld", tls_verify ? "https" : "http", ret->host,
                         (long long) port);
                if (!tls_verify)
                        return 0;
                if (isempty(cert_path)) {
                        const char *home = getenv("HOME");
                        char dir[400];
                        snprintf(dir, sizeof(dir), "%s/.docker", isempty(home) ? "/root" : home);
                        return docker_endpoint_parse(host, dir, tls_verify, ret, e);
                }
                r = cert_file(cert_path, "ca.pem", ret->ca, sizeof(ret->ca), e);
                if (r == 0)
                        r = cert_file(cert_path, "cert.pem", ret->cert, sizeof(ret->cert), e);
                if (r == 0)
                        r = cert_file(cert_path, "key.pem", ret->key, sizeof(ret->key), e);
                return r;
        }
        return error_set(e, EINVAL, "invalid_config",
                         "Set DOCKER_HOST to unix:///var/run/docker.sock (or Podman's socket), or to "
                         "tcp://HOST:PORT for a remote engine (with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH "
                         "for TLS).",
                         "Docker host '%s' is neither unix:///absolute/path nor tcp://HOST:PORT", host ? host : "");
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
CURL *docker_call_setup(DockerCall *call, const DockerEndpoint *ep, const char *method, const char *url_path,
                        const char *body, struct curl_slist *headers, int64_t timeout_ms)
{
        _cleanup_free_ char *url = xasprintf("%s%s", ep->base, url_path);
        CURL *h = curl_easy_init();

        if (!h)
                abort();
        call->h = h;
        snprintf(call->what, sizeof(call->what), "%s %s", method, url_path);
        if (*ep->socket)
                curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, ep->socket);
        if (ep->tls) {
                /* The docker CLI's model: the engine's certificate signed by ca.pem, ours by what it trusts. */
                curl_easy_setopt(h, CURLOPT_CAINFO, ep->ca);
                curl_easy_setopt(h, CURLOPT_SSLCERT, ep->cert);
                curl_easy_setopt(h, CURLOPT_SSLKEY, ep->key);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
                curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
        }
        call->errbuf[0] = '\0';
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, call->errbuf);
        curl_easy_setopt(h, CURLOPT_URL, url);
        /* http_proxy in the environment would otherwise capture these requests: the engine is the peer. */
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
int docker_call_transport_error(const DockerCall *call, const DockerEndpoint *ep, CURLcode cc, Error *e)
{
        const char *socket = ep->socket, *why = *call->errbuf ? call->errbuf : curl_easy_strerror(cc);
        long os_errno = 0;
        struct stat st;

        (void) curl_easy_getinfo(call->h, CURLINFO_OS_ERRNO, &os_errno);
        if (!*socket && (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST))
                return error_set(e, ECONNREFUSED, "docker_unavailable",
                                 "Check that the engine listens there (dockerd -H tcp://...) and that nothing in "
                                 "between blocks the port, or set runtime = embedded.",
                                 "Nothing answers at the Docker engine %s: %s", ep->address, why);
        /*
         * TLS fails in the handshake (an engine certificate ca.pem did not
         * sign, an engine that does not speak TLS) or, with TLS 1.3, at the
         * first read after it (the engine's alert refusing our certificate).
         */
        if (ep->tls && cc != CURLE_OPERATION_TIMEDOUT && !call->too_large && cc != CURLE_WRITE_ERROR) {
                const char *what;

                if (strstr(why, "wrong version number") || strstr(why, "packet length too long"))
                        what = "the engine does not speak TLS on that port";
                else if (cc == CURLE_PEER_FAILED_VERIFICATION || strstr(why, "certificate problem"))
                        what = "the engine's certificate is not signed by ca.pem (or does not name its host)";
                else if (cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CACERT_BADFILE)
                        what = "cannot use the certificate files in DOCKER_CERT_PATH";
                else if (cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
                         strstr(why, "alert"))
                        what = "the engine ended the connection in the handshake: it does not accept the "
                               "client certificate (cert.pem)";
                else
                        what = "the handshake failed";
                return error_set(e, EPROTO, "docker_tls",
                                 "Check DOCKER_CERT_PATH: ca.pem must have signed the engine's certificate "
                                 "(and name its host), cert.pem and key.pem must be a client certificate the "
                                 "engine's --tlscacert signed; and the engine must listen with --tlsverify.",
                                 "TLS with the Docker engine at %s failed: %s (%s)", ep->address, what, why);
        }
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
        if (!*socket && (cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING || cc == CURLE_SEND_ERROR))
                return error_set(e, EIO, "docker_error",
                                 "Does the engine expect TLS? Set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, "
                                 "cert.pem, key.pem).",
                                 "The Docker engine at %s ended the connection to %s: %s", ep->address,
                                 call->what, why);
        return error_set(e, EIO, "docker_error", NULL, "Docker API call %s failed: %s", call->what, why);
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

