/* SPDX-License-Identifier: MIT */
/* config.h -- pgseedd's configuration: defaults, then the config file, then the environment, then flags. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef enum ValueSource {
        SOURCE_DEFAULT,
        SOURCE_FILE,
        SOURCE_ENV,
        SOURCE_FLAG,
} ValueSource;

typedef struct Config {
        /* [pgseed] */
        char *runtime;   /* "auto", "embedded", "docker" or "external" */
        char *state_dir; /* pidfile, logs, embedded PGDATA */
        char *instance;  /* names the container, volume and state subdirectory */
        char *log_level;

        /* [api] */
        char *listen; /* "HOST:PORT" as given; parsed into the two below */
        char *listen_host;
        int listen_port;
        char *cors_origin; /* comma-separated browser origins allowed besides our own; "*" = any may read */
        char *allowed_hosts;        /* comma-separated Host names served besides loopback ones */
        char *token_file;           /* API bearer token; "" = none */
        char *api_auth;             /* "mutating" or "all": which routes need the token */
        bool allow_insecure_remote; /* serve a non-loopback address without a token */
        char *api_tls;      /* "off" or "on" (HTTPS; the certificate below, else the generated one) */
        char *api_tls_cert; /* HTTPS certificate (PEM, chain); "" = none; set, it turns HTTPS on */
        char *api_tls_key;

        /* [postgres] */
        char *pg_url;  /* runtime = external: the server's URL; its parts fill the fields below */
        char *pg_host; /* where pgseedd connects (127.0.0.1 for the runtimes that start a server) */
        char *advertise_host; /* the host clients are told to use; "" = pg_host */
        int pg_port;
        char *pg_user;
        char *pg_password;
        char *pg_password_file;
        char *pg_db;
        char *pg_conf;   /* postgresql.conf fragment passed to the server as -c settings */
        char *pg_bindir; /* embedded runtime: directory with initdb and postgres */
        char *pg_memory; /* "" (the settings file's), "auto" or a size: sizes the memory settings */
        char *pg_wal_archive_dir; /* archive WAL segments into this directory; "" = no archiving */
        char *pg_tls;             /* "off", "on" (ssl = on) or "require" (hostssl only for TCP clients) */
        char *pg_tls_cert_file;   /* the user's server certificate; "" = generated in STATE_DIR/tls */
        char *pg_tls_key_file;
        char *pg_tls_ca_file; /* the CA that signed the user's certificate, printed for clients */

        /* [roles] least-privilege roles (roles.c); a user "" is not created */
        char *app_user; /* DML on the seeded tables, no DDL */
        char *app_password;
        char *app_password_file;
        char *readonly_user; /* SELECT only */
        char *readonly_password;
        char *readonly_password_file;
        char *replication_user; /* REPLICATION + SELECT (Debezium) */
        char *replication_password;
        char *replication_password_file;

        /* [dataset] */
        char *dataset; /* "synthetic" or "csv:PATH" */
        int64_t comments;
        int64_t seed;
        char *sql_dir;
        char *migrations_dir; /* "" = SQL_DIR/migrations when it exists */
        char *publication;
        int64_t spares; /* prepared copies of the template kept for resets */

        /* [clones] */
        int64_t clones_pool;        /* ready clones kept for POST /clones */
        int64_t clones_max;         /* most clones (leased plus ready) at once */
        int64_t clones_ttl;         /* default lease, seconds */
        int64_t clones_min_free_mb; /* no new clone below this much free disk */

        /* [pgbouncer] (pgbouncer.c) */
        bool pgbouncer;            /* supervise a PgBouncer in front of Postgres */
        int pgbouncer_port;        /* on 127.0.0.1 */
        char *pgbouncer_pool_mode; /* session, transaction or statement */
        int64_t pgbouncer_pool_size;
        int64_t pgbouncer_max_client_conn;
        char *pgbouncer_bin;
        char *pgbouncer_image; /* the Docker runtime runs PgBouncer in a container of this image */

        /* [docker] */
        char *docker_host; /* unix:///var/run/docker.sock, or tcp://HOST:PORT */
        bool docker_tls_verify;
        char *docker_cert_path; /* ca.pem, cert.pem, key.pem; "" = ~/.docker */
        char *image;
        char *pull;    /* missing|always|never */
        char *network; /* "bridge" (publish on 127.0.0.1) or "host" */
        int64_t stop_timeout;

        char *pg_sslmode; /* from PGSEED_PG_URL's ?sslmode=, or NULL: derived, not a key */

        /* Where each entry's value came from, indexed like the key table (for --print-config). */
        ValueSource *sources;
        char *config_path; /* the file read, or NULL */
} Config;

/*
 * Loads the configuration.  Reads the file named by --config (or $PGSEED_CONFIG;
 * otherwise config/pgseedd.conf next to the sources, or /etc/pgseed/pgseedd.conf,
 * when they exist), then the PGSEED_* environment variables, then the
 * --key=value flags in argv (argv[0] and non-config options are the caller's:
 * pass only what config_flag_is_known() accepted).
 *
 * Returns 0 and a new Config in *ret, or -EINVAL/-ENOENT with e naming the
 * file, line and key (or variable, or flag) and what is accepted.
 */
int config_load(const char *path, char **flags, Config **ret, Error *e);

/*
 * Refuses PGSEED_* variables in envp ("NAME=value" strings, NULL-terminated)
 * that are neither a setting nor one of the few that pgseedctl and the tests
 * use (PGSEED_URL, PGSEED_TOKEN, PGSEED_CONFIG, PGSEED_BUILD_DIR,
 * PGSEED_TEST_*): a typo such as PGSEED_PG_PASWORD would otherwise be
 * ignored silently.  Returns 0, or -EINVAL with e naming the variable and
 * the closest known name.  config_load() calls it on the environment.
 */
int config_check_environment(char *const *envp, Error *e);

/* Parses one source of text in INI form into c; `origin` names it in errors ("pgseedd.conf"). */
int config_parse_text(Config *c, const char *text, const char *origin, Error *e);

/* A Config holding only the defaults.  Never fails. */
Config *config_new_defaults(void);

/* Applies one key (as "section.key" or the flag name) from the given source; checks the value. */
int config_set(Config *c, const char *key, const char *value, ValueSource source, const char *origin,
               Error *e);

/* Resolves derived values (listen host/port, password file, auto paths); call after all sources. */
int config_finish(Config *c, Error *e);

/* Writes the effective configuration (password masked) as INI (json=false) or as one JSON object. */
char *config_format(const Config *c, bool json);

/* Prints the flag reference (one line per key: flag, env var, default, description). */
void config_print_help(void);

/* True when name (without leading dashes) is a configuration flag. */
bool config_flag_is_known(const char *name);

/*
 * The keys ("section.key") whose values differ between a and b, as a new
 * NULL-terminated vector (strv_free it); secrets are compared, never copied
 * into the result.
 */
char **config_changed_keys(const Config *a, const Config *b);

/*
 * Copies the values of the named keys ("section.key") from next into c (a
 * SIGHUP reload).  String values are replaced and the old ones freed: only
 * for keys that no other thread reads through c (pgseed.log_level is read at
 * start-up only); settings read per request need their own swap.
 */
void config_adopt_reloadable(Config *c, const Config *next, const char *const *names);

void config_free(Config *c);
static inline void config_freep(Config **c)
{
        config_free(*c);
}

/* The host clients should connect to: [postgres] advertise_host, else pg_host.  Never NULL. */
const char *config_advertised_host(const Config *c);

/* "postgresql://USER@HOST:PORT/DB" (no password) on the advertised host, IPv6 in brackets; caller frees. */
char *config_database_url(const Config *c, const char *user, const char *db);

/* config_database_url() for pg_user and pg_db; caller frees. */
char *config_connection_url(const Config *c);

/*
 * Parses [postgres] memory: "" (none: the settings file decides), "auto" (a
 * quarter of the machine's RAM) or a size such as 512MB, 2GB (kB, MB, GB, TB;
 * at least 64MB).  *ret_mb is the budget in MB, 0 for "".  Returns 0 or
 * -EINVAL.
 */
int config_parse_memory(const char *value, int64_t *ret_mb);

/* True when the server runs with TLS ([postgres] tls = on or require). */
bool config_tls_enabled(const Config *c);

/* True when the API serves HTTPS ([api] tls = on, or tls_cert and tls_key set). */
bool config_api_tls_enabled(const Config *c);

/*
 * The API's certificate, key and the CA certificate a client verifies them
 * with (new strings; *ret_ca NULL when unknown, as for the user's own files).
 * [api] tls_cert/tls_key when set, else the Postgres server's: the user's
 * [postgres] tls_cert_file/tls_key_file, else the ones pgseedd generates in
 * STATE_DIR/tls (tls_prepare_api() makes them).  Only meaningful when
 * config_api_tls_enabled().
 */
void config_api_tls_files(const Config *c, char **ret_cert, char **ret_key, char **ret_ca);

/*
 * The URL a client on this machine reaches an API listening on listen
 * ("HOST:PORT") at: http:// or, with https, https://; a wildcard address
 * becomes loopback, an IPv6 address gets brackets.  New string, or NULL when
 * listen is not HOST:PORT.
 */
char *config_listen_url(const char *listen, bool https);
