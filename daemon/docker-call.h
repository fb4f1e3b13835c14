/* SPDX-License-Identifier: MIT */
/* docker-call.h -- one HTTP request to the Docker Engine, over its unix socket or TCP with TLS (private to docker*.c). */
#pragma once

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

/* Inspect answers are a few kB; anything this large is not an answer we asked for. */
#define DOCKER_BODY_MAX (16u * 1024 * 1024)

/*
 * Where the engine is, as the docker CLI names it: DOCKER_HOST
 * unix:///PATH, or tcp://HOST:PORT with, when DOCKER_TLS_VERIFY is set, TLS
 * both ways from DOCKER_CERT_PATH's ca.pem, cert.pem and key.pem.
 */
typedef struct DockerEndpoint {
        char address[300]; /* as configured, for messages: "unix:///var/run/docker.sock", "tcp://h:2376" */
        char socket[256];  /* unix: the socket's path; "" over TCP */
        char base[300];    /* what every URL starts with: "http://localhost", "https://h:2376" */
        char host[256];    /* TCP: the engine's host; "" for unix */
        bool tls;
        char ca[512], cert[512], key[512];
} DockerEndpoint;

/*
 * Parses host (unix:///PATH or tcp://HOST:PORT); with tls_verify, finds
 * ca.pem, cert.pem and key.pem in cert_path (default ~/.docker).  Returns 0,
 * or -EINVAL (another kind of address, TLS over a unix socket) or -ENOENT (a
 * certificate file that cannot be read) with e naming it.
 */
int docker_endpoint_parse(const char *host, const char *cert_path, bool tls_verify, DockerEndpoint *ret,
                          Error *e);

typedef struct DockerCall DockerCall;
struct DockerCall {
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
        bool (*sink)(DockerCall *call, const char *p, size_t n);
        void *userdata;
        bool sink_ok;
        long stall_s; /* > 0: give up when fewer than 1 byte/s arrive for this long */
        char errbuf[CURL_ERROR_SIZE]; /* libcurl's own words for a failed transfer (the TLS alert) */
};

/* curl_global_init(), once per process; call before the first docker_call_setup(). */
void docker_call_global_init(void);

/*
 * Makes call->h, a handle for one request to the engine at ep.  url_path
 * is the part after the host, version prefix included.  No body for GET and
 * DELETE; POST sends body (JSON) or an empty body.  headers stay the
 * caller's.  The body of the answer collects in call->body (up to
 * DOCKER_BODY_MAX), or goes to call->sink.  Returns call->h.
 */
CURL *docker_call_setup(DockerCall *call, const DockerEndpoint *ep, const char *method, const char *url_path,
                        const char *body, struct curl_slist *headers, int64_t timeout_ms);

/* Frees the handle and the body; the call may be set up again.  Harmless twice. */
void docker_call_done(DockerCall *call);

/*
 * A transfer that got no HTTP answer (cc from curl_easy_perform): an errno
 * and a message saying what to do (-ECONNREFUSED: no engine there,
 * -EACCES: no permission on the socket, -EPROTO: TLS failed, -ETIMEDOUT,
 * -EIO).
 */
int docker_call_transport_error(const DockerCall *call, const DockerEndpoint *ep, CURLcode cc, Error *e);

/* The engine's error for a non-2xx answer: its "message", and the status mapped to an errno. */
int docker_call_http_error(const DockerCall *call, Error *e);
