/* SPDX-License-Identifier: MIT */
/* ctl-http.c -- pgseedd's API over libcurl: requests, streamed bodies, errors a person can act on. */

#include <curl/curl.h>
#include <errno.h>
#include <sys/stat.h>

#include "ctl-http.h"

/* Connecting to a local daemon takes microseconds; a few seconds means nothing is there to answer. */
#define CONNECT_TIMEOUT_MS 3000L
/* Bodies larger than this are not something pgseedd sends; stop rather than eat memory. */
#define MAX_BODY (256u * 1024u * 1024u)

/* Set once by ctl_url() before the first request; see ctl_http_set_token(). */
static char *api_token, *api_token_source, *api_token_problem;

void ctl_http_set_token(const char *token, const char *source, const char *problem)
{
        free(api_token);
        free(api_token_source);
        free(api_token_problem);
        api_token = isempty(token) ? NULL : xstrdup(token);
        api_token_source = source ? xstrdup(source) : NULL;
        api_token_problem = problem ? xstrdup(problem) : NULL;
}

static char *api_ca;

void ctl_http_set_ca(const char *path)
{
        free(api_ca);
        api_ca = isempty(path) ? NULL : xstrdup(path);
}

static void curl_easy_cleanupp(CURL **c)
{
        if (*c)
                curl_easy_cleanup(*c);
}

static void curl_slist_free_allp(struct curl_slist **l)
{
        if (*l)
                curl_slist_free_all(*l);
}

void ctl_response_done(CtlResponse *r)
{
        free(r->body);
        *r = (CtlResponse){0};
}

typedef struct Sink {
        CURL *curl;
        FILE *out;      /* streaming: successful bodies go here */
        bool streaming; /* decided on the first piece, once the status is known */
        bool decided;
        char *buf; /* everything else is collected */
        size_t len, cap;
        bool too_big;
} Sink;

static size_t sink_write(char *data, size_t size, size_t n, void *userdata)
{
        Sink *s = userdata;
        size_t bytes = size * n;

        if (s->out && !s->decided) {
                long status = 0;
                curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
                /* Only a successful body is the caller's output; an error body is JSON to turn into a
                 * message. */
                s->streaming = status >= 200 && status < 300;
                s->decided = true;
        }
        if (s->streaming) {
                if (fwrite(data, 1, bytes, s->out) != bytes)
                        return 0;
                fflush(s->out);
                return bytes;
        }
        if (s->len + bytes + 1 > MAX_BODY) {
                s->too_big = true;
                return 0;
        }
        if (s->len + bytes + 1 > s->cap) {
                s->cap = (s->len + bytes + 1) * 2;
                s->buf = xrealloc(s->buf, s->cap);
        }
        memcpy(s->buf + s->len, data, bytes);
        s->len += bytes;
        s->buf[s->len] = '\0';
        return bytes;
}

/* Fills e for a transfer that failed, and returns the -errno that says whether anything answered. */
static int transfer_error(CURL *curl, CURLcode code, const char *url, const char *detail, double timeout_s,
                          Error *e)
{
        double connect_time = 0;
        long os_errno = 0;
        const char *what = *detail ? detail : curl_easy_strerror(code);

        curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
        switch (code) {
        case CURLE_COULDNT_CONNECT:
                /* curl's own text ("Failed to connect to ... after 0 ms: Couldn't connect to server") hides
                 * the one word that matters; the socket's errno has it. */
                if (os_errno > 0)
                        what = strerror((int) os_errno);
                return error_set(e, ECONNREFUSED, "unreachable", CTL_UNREACHABLE_HINT,
                                 "pgseedd is not answering at %s (%s)", url, what);
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_SSL_CONNECT_ERROR:
                return error_set(e, EHOSTUNREACH, "unreachable", CTL_UNREACHABLE_HINT,
                                 "pgseedd is not answering at %s (%s)", url, what);
        case CURLE_PEER_FAILED_VERIFICATION:
                return error_set(
                        e, EPERM, "untrusted_certificate",
                        "Pass the CA certificate that signed it with --cacert FILE or PGSEED_CA=FILE "
                        "(pgseedd's own is STATE_DIR/tls/ca.crt; `pgseedd --print-config` names "
                        "it).",
                        "The certificate of %s is not trusted (%s)", url, what);
        case CURLE_SSL_CACERT_BADFILE:
                return error_set(e, ENOENT, "bad_ca_file", "Check --cacert / PGSEED_CA.",
                                 "Cannot use the CA certificate %s (%s)", api_ca ? api_ca : "?", what);
        case CURLE_OPERATION_TIMEDOUT:
                curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME, &connect_time);
                /* Timing out before the connection was up is "nobody there", not "slow to answer". */
                if (connect_time <= 0)
                        return error_set(e, EHOSTUNREACH, "unreachable", CTL_UNREACHABLE_HINT,
                                         "pgseedd is not answering at %s (no connection within %g s)", url,
                                         timeout_s < CONNECT_TIMEOUT_MS / 1000.0
                                                 ? timeout_s
                                                 : CONNECT_TIMEOUT_MS / 1000.0);
                return error_set(e, ETIMEDOUT, "timeout", "Give it longer with --timeout S.",
                                 "pgseedd at %s did not answer within %g s", url, timeout_s);
        case CURLE_WRITE_ERROR:
                return error_set(e, EIO, NULL, NULL, "Cannot write the answer from %s", url);
        default:
                return error_set(e, EIO, NULL, NULL, "Request to %s failed: %s", url, what);
        }
}

/* One transfer, shared by requests and streams.  out == NULL collects the whole body into ret. */
static int transfer(const char *base_url, const char *method, const char *path, double timeout_s, FILE *out,
                    FILE *in, CtlResponse *ret, Error *e)
{
        _cleanup_(curl_easy_cleanupp) CURL *curl = curl_easy_init();
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_free_ char *url = xasprintf("%s%s", base_url, path), *auth = NULL;
        char detail[CURL_ERROR_SIZE] = "";
        Sink sink = {.curl = curl, .out = out};
        CURLcode code;
        long status = 0;

        if (!curl)
                return error_set(e, ENOMEM, NULL, NULL, "Cannot initialize libcurl");
        headers = curl_slist_append(headers, "User-Agent: pgseedctl/" PGSEED_VERSION);
        /* A POST without a body would otherwise get "Content-Type: application/x-www-form-urlencoded". */
        headers =
                curl_slist_append(headers, in ? "Content-Type: application/octet-stream" : "Content-Type:");
        /* No 100-continue round trip before a body: pgseedd reads it at once. */
        if (in)
                headers = curl_slist_append(headers, "Expect:");
        if (api_token) {
                auth = xasprintf("Authorization: Bearer %s", api_token);
                headers = curl_slist_append(headers, auth);
        }
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink_write);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
        /* No signals from libcurl: pgseedctl's own SIGINT/SIGALRM behaviour stays the default. */
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        if (timeout_s > 0)
                curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) (timeout_s * 1000));
        /* A proxy from http_proxy must not sit between us and a daemon on this machine. */
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1,[::1]");
        if (api_ca)
                curl_easy_setopt(curl, CURLOPT_CAINFO, api_ca);
        if (streq(method, "POST") && in) {
                struct stat st;
                if (fstat(fileno(in), &st) < 0 || !S_ISREG(st.st_mode))
                        return error_set(e, EINVAL, NULL, NULL, "The body to send must be a regular file");
                curl_easy_setopt(curl, CURLOPT_POST, 1L);
                curl_easy_setopt(curl, CURLOPT_READDATA, in);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) st.st_size);
        } else if (streq(method, "POST")) {
                curl_easy_setopt(curl, CURLOPT_POST, 1L);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
        } else if (!streq(method, "GET"))
                curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);

        code = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (sink.too_big) {
                free(sink.buf);
                return error_set(e, EFBIG, NULL, NULL, "The answer from %s is larger than %u MiB", url,
                                 MAX_BODY >> 20);
        }
        if (code != CURLE_OK) {
                free(sink.buf);
                return transfer_error(curl, code, base_url, detail, timeout_s, e);
        }
        ret->status = status;
        ret->body = sink.buf ? sink.buf : xstrdup("");
        ret->len = sink.len;
        return 0;
}

int ctl_http_request(const char *base_url, const char *method, const char *path, double timeout_s,
                     CtlResponse *ret, Error *e)
{
        *ret = (CtlResponse){0};
        return transfer(base_url, method, path, timeout_s, NULL, NULL, ret, e);
}

int ctl_http_upload(const char *base_url, const char *path, double timeout_s, FILE *in, CtlResponse *ret,
                    Error *e)
{
        *ret = (CtlResponse){0};
        return transfer(base_url, "POST", path, timeout_s, NULL, in, ret, e);
}

int ctl_http_stream(const char *base_url, const char *path, double timeout_s, FILE *out, Error *e)
{
        CtlResponse resp = {0};
        int r;

        r = transfer(base_url, "GET", path, timeout_s, out, NULL, &resp, e);
        if (r < 0)
                return r;
        if (resp.status < 200 || resp.status >= 300)
                r = ctl_api_error(&resp, e);
        ctl_response_done(&resp);
        return r;
}

char *ctl_http_escape(const char *s)
{
        char *esc = curl_easy_escape(NULL, s, 0);
        char *copy;

        if (!esc)
                abort();
        copy = xstrdup(esc);
        curl_free(esc);
        return copy;
}

static int errno_for_status(long status)
{
        switch (status) {
        case 400:
                return EINVAL;
        case 401:
                return EACCES;
        case 403:
                return EPERM;
        case 404:
                return ENOENT;
        case 409:
                return EBUSY;
        case 501:
                return ENOSYS;
        case 503:
                return EAGAIN;
        case 504:
                return ETIMEDOUT;
        default:
                return EIO;
        }
}

int ctl_api_error(const CtlResponse *r, Error *e)
{
        json_auto_t *body = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
        json_t *err = json_object_get(body, "error");
        const char *message = json_string_value(json_object_get(err, "message"));
        const char *hint = json_string_value(json_object_get(err, "hint"));
        const char *code = json_string_value(json_object_get(err, "code"));
        int errnum = errno_for_status(r->status);

        if (message && r->status == 401) {
                char why[768];
                if (api_token_problem)
                        bufprintf(why, sizeof(why), "No token was sent: %s.", api_token_problem);
                else if (api_token)
                        bufprintf(why, sizeof(why),
                                  "The token from %s was refused: check that it matches pgseedd's "
                                  "token_file.",
                                  api_token_source ? api_token_source : "PGSEED_TOKEN");
                else
                        bufprintf(why, sizeof(why),
                                  "No token was sent: set PGSEED_TOKEN, or PGSEED_TOKEN_FILE to pgseedd's "
                                  "token file.");
                return error_set(e, errnum, code, why, "%s", message);
        }
        if (message)
                return error_set(e, errnum, code, hint, "%s", message);

        /* Not pgseedd's error shape (a proxy, another server on the port): show what came back. */
        char start[160] = "";
        if (r->body) {
                size_t n = strcspn(r->body, "\r\n");
                bufprintf(start, sizeof(start), ": %.*s", (int) (n < 120 ? n : 120), r->body);
        }
        return error_set(e, errnum, NULL, "Is the URL pgseedd's API? Check --url / PGSEED_URL.",
                         "Unexpected answer HTTP %ld%s", r->status, start);
}

int ctl_response_json(const CtlResponse *r, json_t **ret, Error *e)
{
        json_error_t jerr;
        json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &jerr);

        if (!j)
                return error_set(e, EBADMSG, NULL, "Is the URL pgseedd's API? Check --url / PGSEED_URL.",
                                 "The answer is not JSON (line %d: %s)", jerr.line, jerr.text);
        *ret = j;
        return 0;
}
