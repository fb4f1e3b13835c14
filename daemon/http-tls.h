/* SPDX-License-Identifier: MIT */
/* http-tls.h -- HTTPS for the API: the server's OpenSSL context, and non-blocking reads and writes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

typedef struct Config Config;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

/*
 * The API's TLS context when config_api_tls_enabled(c), else 0 with *ret
 * NULL.  Loads the certificate (chain) and key config_api_tls_files() names
 * (making the generated ones first, tls_prepare_api()), TLS 1.2 at least, no
 * renegotiation.  A key file others may read, a missing file, a key that does
 * not match the certificate: -errno with e saying which file and what to do.
 * The caller frees it with http_tls_free().
 */
int http_tls_new(const Config *c, SSL_CTX **ret, Error *e);
void http_tls_free(SSL_CTX *ctx);

/* A server-side connection on fd (non-blocking), its handshake still to come; NULL when out of memory. */
SSL *http_tls_accept(SSL_CTX *ctx, int fd);
/* Sends close_notify if it can without blocking, and frees ssl (NULL is fine). */
void http_tls_close(SSL *ssl);

/*
 * recv() and send() over ssl, for a non-blocking socket: the handshake runs
 * inside them.  Return the bytes moved (> 0); 0 when the peer closed (or the
 * connection broke); -1 with errno EAGAIN when it would block, and then
 * *ret_want says what the loop must wait for (EPOLLIN or EPOLLOUT: a read may
 * need to write, a write to read).  Any other failure: -1 with errno EPROTO.
 */
ssize_t http_tls_recv(SSL *ssl, void *buf, size_t len, uint32_t *ret_want);
ssize_t http_tls_send(SSL *ssl, const void *buf, size_t len, uint32_t *ret_want);
/* True when ssl holds bytes read from the socket but not returned yet (epoll cannot see them). */
bool http_tls_pending(SSL *ssl);
