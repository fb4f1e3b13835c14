/* SPDX-License-Identifier: MIT */
/* docker-pull.c -- pulling an image: POST /images/create and its progress stream, whose last error is the pull's. */

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>

#include "docker-client.h"

/* A pull that sends no progress for this long is stuck (a registry that accepts and never answers). */
#define PULL_STALL_S 120L


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

static bool pull_sink(DockerCall *call, const char *data, size_t n)
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
        return p->line.len < DOCKER_BODY_MAX;
}

int docker_image_pull(DockerClient *c, const char *image, int64_t timeout_ms, DockerPullProgress progress,
                      void *userdata, Error *e)
{
        _cleanup_free_ char *name = NULL, *from = NULL, *tag = NULL;
        const char *slash, *colon, *at;
        Pull p = {.progress = progress, .userdata = userdata};
        /* The engine reports progress every few seconds while it downloads or extracts; silence means stuck.
         */
        DockerCall call = {.sink = pull_sink, .userdata = &p, .stall_s = PULL_STALL_S};
        int64_t t0 = now_mono_ms();
        CURL *esc;
        int r;

        r = docker_check_name("image", image, e);
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

        r = docker_client_call(c, &call, "POST", NULL, timeout_ms, e, "/images/create?%s", from);
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
                r = docker_call_http_error(&call, e);
        else if (r >= 0 && !p.stopped && p.line.len > 0)
                (void) pull_message(&p, p.line.data, p.line.len); /* a last message without newline */
        if (r >= 0 && !p.stopped && *p.error) {
                /* The engine answered 200 and then failed: the error is the last message in the stream. */
                bool missing = strstr(p.error, "not found") || strstr(p.error, "does not exist") ||
                               strstr(p.error, "manifest unknown");
                r = error_set(e, missing ? ENOENT : EIO, "pull_failed", NULL, "%s", p.error);
        }
        buffer_free(&p.line);
        docker_call_done(&call);
        return r;
}

