/* SPDX-License-Identifier: MIT */
/* http-tls.c -- HTTPS for the API: the OpenSSL server context and the non-blocking I/O the event loop uses.
 */

#include "http-tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "config.h"
#include "tls.h"
#include "util.h"

/* OpenSSL's first queued error as text ("" when none), and the queue cleared. */
static const char *ssl_error_text(char *buf, size_t size)
{
        unsigned long code = ERR_get_error();

        if (code == 0)
                snprintf(buf, size, "no detail");
        else
                ERR_error_string_n(code, buf, size);
        ERR_clear_error();
        return buf;
}

/* The key must not be readable by others: with it anyone on the machine could impersonate the API. */
static int key_check(const char *key, Error *e)
{
        struct stat st;

        if (stat(key, &st) < 0)
                return error_set(e, errno, "invalid_config", "Check [api] tls_key (PGSEED_API_TLS_KEY).",
                                 "Cannot read the API's TLS key %s: %m", key);
        if (st.st_mode & S_IRWXO)
                return error_set(e, EACCES, "insecure_tls_key",
                                 "chmod 600 it (or 640, with a group of its own), or give another key.",
                                 "Refusing the API's TLS key %s: others may read it (mode %04o)", key,
                                 (unsigned) (st.st_mode & 07777));
        return 0;
}

int http_tls_new(const Config *c, SSL_CTX **ret, Error *e)
{
        _cleanup_free_ char *cert = NULL, *key = NULL, *ca = NULL;
        char detail[256];
        SSL_CTX *ctx;
        int r;

        *ret = NULL;
        if (!config_api_tls_enabled(c))
                return 0;
        r = tls_prepare_api(c, e);
        if (r < 0)
                return r;
        config_api_tls_files(c, &cert, &key, &ca);
        r = key_check(key, e);
        if (r < 0)
                return r;
        ERR_clear_error();
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx)
                return error_set(e, ENOMEM, "tls_failed", NULL, "Cannot make the API's TLS context: %s",
                                 ssl_error_text(detail, sizeof(detail)));
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        /*
         * Renegotiation would let a read need a write (and a write a read) in
         * the middle of a request; nothing needs it.  Partial writes and a
         * moving buffer: conn_flush() retries with what is left of a buffer
         * that may have grown (been reallocated) since.  Idle connections give
         * their record buffers back.
         */
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                         SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                      SSL_MODE_RELEASE_BUFFERS);
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
                error_set(e, EINVAL, "invalid_config",
                          "Give a PEM certificate (its chain after it) in [api] tls_cert "
                          "(PGSEED_API_TLS_CERT).",
                          "Cannot load the API's TLS certificate %s: %s", cert,
                          ssl_error_text(detail, sizeof(detail)));
                goto fail;
        }
        /* Loaded after the certificate, the key is checked against it here. */
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
                if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
                        error_set(e, EINVAL, "invalid_config",
                                  "Give the key that belongs to the certificate.",
                                  "The API's TLS key %s does not match the certificate %s", key, cert);
                        ERR_clear_error();
                } else
                        error_set(e, EINVAL, "invalid_config",
                                  "Give the certificate's PEM private key in [api] tls_key "
                                  "(PGSEED_API_TLS_KEY).",
                                  "Cannot load the API's TLS key %s: %s", key,
                                  ssl_error_text(detail, sizeof(detail)));
                goto fail;
        }
        *ret = ctx;
        return 0;

fail:
        SSL_CTX_free(ctx);
        return -e->errnum;
}

void http_tls_free(SSL_CTX *ctx)
{
        SSL_CTX_free(ctx);
}

SSL *http_tls_accept(SSL_CTX *ctx, int fd)
{
        SSL *ssl = SSL_new(ctx);

        if (!ssl)
                return NULL;
        if (SSL_set_fd(ssl, fd) != 1) {
                SSL_free(ssl);
                ERR_clear_error();
                return NULL;
        }
        SSL_set_accept_state(ssl);
        return ssl;
}

void http_tls_close(SSL *ssl)
{
        if (!ssl)
                return;
        /* Only after a handshake: a close_notify means nothing (and is an error) before one. */
        if (SSL_is_init_finished(ssl))
                (void) SSL_shutdown(ssl);
        ERR_clear_error();
        SSL_free(ssl);
}

/* Maps the outcome of SSL_read()/SSL_write() onto recv()'s and send()'s. */
static ssize_t io_result(SSL *ssl, int n, uint32_t *ret_want)
{
        int err;

        if (n > 0)
                return n;
        err = SSL_get_error(ssl, n);
        ERR_clear_error();
        switch (err) {
        case SSL_ERROR_WANT_READ:
                *ret_want = EPOLLIN;
                errno = EAGAIN;
                return -1;
        case SSL_ERROR_WANT_WRITE:
                *ret_want = EPOLLOUT;
                errno = EAGAIN;
                return -1;
        case SSL_ERROR_ZERO_RETURN:
                return 0;
        case SSL_ERROR_SYSCALL:
                /* The socket's own error (a reset), or an end of file without close_notify. */
                if (errno == 0 || errno == EAGAIN)
                        errno = ECONNRESET;
                return -1;
        default:
                /* A failed handshake (not TLS, no shared cipher, an alert), a bad record. */
                errno = EPROTO;
                return -1;
        }
}

ssize_t http_tls_recv(SSL *ssl, void *buf, size_t len, uint32_t *ret_want)
{
        if (len == 0)
                return 0;
        ERR_clear_error();
        errno = 0;
        return io_result(ssl, SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int) len), ret_want);
}

ssize_t http_tls_send(SSL *ssl, const void *buf, size_t len, uint32_t *ret_want)
{
        if (len == 0)
                return 0;
        ERR_clear_error();
        errno = 0;
        return io_result(ssl, SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int) len), ret_want);
}

bool http_tls_pending(SSL *ssl)
{
        return ssl && SSL_has_pending(ssl);
}
