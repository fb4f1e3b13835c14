/* SPDX-License-Identifier: MIT */
/* tls.h -- TLS for Postgres: a private CA and a server certificate for localhost, or the user's own. */
#pragma once

#include "error.h"

typedef struct Config Config;

/*
 * Makes the server's certificate and key ready in STATE_DIR/tls when
 * [postgres] tls is on or require: the user's files (tls_cert_file,
 * tls_key_file) copied in, or, at the first start, a private CA (ca.crt,
 * ca.key) and a certificate it signs for localhost, 127.0.0.1 and ::1, made
 * with the openssl command.  Keys are 0600, owned by the user the server
 * runs as.  With require, also a pg_hba.conf that admits TCP clients over
 * TLS only.  runtime: the runtime's name; for the Docker runtime, which
 * copies the files into its container (TLS_CONTAINER_DIR) and hands them to
 * the container's own postgres user there, the pg_hba.conf admits TLS
 * clients from any address (a published port's clients come from the
 * bridge's gateway).  Harmless when tls is off.
 */
int tls_prepare(const Config *c, const char *runtime, Error *e);

/*
 * Makes the generated certificate ready for the API when [api] tls = on
 * without files of its own or Postgres's (config_api_tls_files() names it):
 * the same private CA and server certificate as tls_prepare() makes, key
 * 0600.  Harmless otherwise.  Returns 0 or -errno with e.
 */
int tls_prepare_api(const Config *c, Error *e);

/* The files the server reads (server.crt, server.key, pg_hba.conf when required), in STATE_DIR/tls. */
#define TLS_SERVER_FILES_MAX 3
size_t tls_server_files(const Config *c, const char *ret[TLS_SERVER_FILES_MAX]);

/* Where a container's server reads them: the Docker runtime copies them there at each start. */
#define TLS_CONTAINER_DIR "/var/lib/postgresql/pgseed-tls"

/*
 * The server's "name=value" settings for TLS (ssl, ssl_cert_file, ...);
 * NULL-terminated, new; none when off.  dir: where the server finds the
 * files, NULL for STATE_DIR/tls.
 */
char **tls_postgres_settings(const Config *c, const char *dir);

/* Paths in the state directory (new strings): the certificate and key the server uses. */
char *tls_cert_path(const Config *c);
char *tls_key_path(const Config *c);

/* The CA certificate clients verify the server with (new string), or NULL when unknown (own cert, no CA). */
char *tls_ca_path(const Config *c);
