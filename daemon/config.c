/* SPDX-License-Identifier: MIT */
/* config.c -- one table of keys; parsers for the INI file, the environment and flags. */

#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "pg-url.h"

#ifndef PGSEED_SOURCE_ROOT
#define PGSEED_SOURCE_ROOT "."
#endif
#ifndef PGSEED_DATADIR
#define PGSEED_DATADIR "/usr/local/share/pgseed"
#endif
#ifndef PGSEED_SYSCONFDIR
#define PGSEED_SYSCONFDIR "/etc"
#endif

typedef enum ConfigType {
        CT_STRING,
        CT_SECRET, /* never printed */
        CT_PATH,
        CT_PORT,
        CT_INT,
        CT_ENUM,
        CT_LISTEN,
        CT_IDENT,
        CT_DATASET,
        CT_BOOL,
} ConfigType;

typedef struct ConfigKey {
        const char *section;
        const char *key;
        const char *env;
        const char *flag;
        ConfigType type;
        size_t offset;
        const char *def;            /* "" = unset / resolved automatically */
        const char *const *choices; /* CT_ENUM */
        int64_t min, max;           /* CT_INT */
        bool allow_empty;
        const char *help;
} ConfigKey;

static const char *const runtime_choices[] = {"auto", "embedded", "docker", "external", NULL};
static const char *const pull_choices[] = {"missing", "always", "never", NULL};
static const char *const level_choices[] = {"debug", "info", "warning", "error", NULL};
static const char *const auth_choices[] = {"mutating", "all", NULL};
static const char *const tls_choices[] = {"off", "on", "require", NULL};
static const char *const api_tls_choices[] = {"off", "on", NULL};
static const char *const pool_mode_choices[] = {"session", "transaction", "statement", NULL};

#define F(field) offsetof(Config, field)

static const ConfigKey keys[] = {
        {"pgseed", "runtime", "PGSEED_RUNTIME", "runtime", CT_ENUM, F(runtime), "auto", runtime_choices, 0,
         0, false,
         "where Postgres runs: docker, embedded (a local child process), external (a server someone else "
         "runs, at PGSEED_PG_URL), or auto (external when a URL is set, else docker when usable)"},
        {"pgseed", "state_dir", "PGSEED_STATE_DIR", "state-dir", CT_PATH, F(state_dir), "", NULL, 0, 0, true,
         "pidfile, logs and the embedded PGDATA (default /var/lib/pgseed/INSTANCE as root, else "
         "$XDG_STATE_HOME/pgseed/INSTANCE)"},
        {"pgseed", "instance", "PGSEED_INSTANCE", "instance", CT_IDENT, F(instance), "pgseed", NULL, 0, 0,
         false, "instance name: names the container, the volume and the state directory"},
        {"pgseed", "log_level", "PGSEED_LOG_LEVEL", "log-level", CT_ENUM, F(log_level), "info",
         level_choices, 0, 0, false, "debug, info, warning or error"},
        {"api", "listen", "PGSEED_LISTEN", "listen", CT_LISTEN, F(listen), "127.0.0.1:7432", NULL, 0, 0,
         false, "HTTP API address, HOST:PORT (HOST a numeric address or localhost)"},
        {"api", "cors_origin", "PGSEED_CORS_ORIGIN", "cors-origin", CT_STRING, F(cors_origin), "", NULL, 0,
         0, true,
         "browser origins (comma-separated, e.g. http://localhost:8080) allowed to read every endpoint "
         "and to reset, besides pgseedd's own; '*' lets any page read (never reset); by default other "
         "pages may read /health and /metrics only"},
        {"api", "allowed_hosts", "PGSEED_ALLOWED_HOSTS", "allowed-hosts", CT_STRING, F(allowed_hosts), "",
         NULL, 0, 0, true,
         "Host names (comma-separated, NAME[:PORT]) served besides 127.0.0.1, localhost and [::1]; other "
         "Host headers get 421 (DNS rebinding)"},
        {"api", "token_file", "PGSEED_TOKEN_FILE", "token-file", CT_PATH, F(token_file), "", NULL, 0, 0,
         true,
         "file (mode 0600) holding the API bearer token; when set, POST and DELETE need "
         "'Authorization: Bearer TOKEN' (default none)"},
        {"api", "auth", "PGSEED_API_AUTH", "api-auth", CT_ENUM, F(api_auth), "mutating", auth_choices, 0, 0,
         false, "which requests need the token: mutating (POST, DELETE) or all (every endpoint)"},
        {"api", "allow_insecure_remote", "PGSEED_ALLOW_INSECURE_REMOTE", "allow-insecure-remote", CT_BOOL,
         F(allow_insecure_remote), "false", NULL, 0, 0, false,
         "serve a non-loopback listen address without a token (anyone who reaches it may reset)"},
        {"api", "tls", "PGSEED_API_TLS", "api-tls", CT_ENUM, F(api_tls), "off", api_tls_choices, 0, 0, false,
         "serve the API over HTTPS (TLS 1.2 or later): on uses tls_cert and tls_key when set, else "
         "Postgres's certificate ([postgres] tls_cert_file, or the one made in STATE_DIR/tls for "
         "localhost and 127.0.0.1)"},
        {"api", "tls_cert", "PGSEED_API_TLS_CERT", "api-tls-cert", CT_PATH, F(api_tls_cert), "", NULL, 0, 0,
         true,
         "HTTPS certificate (PEM, the chain after it); set with tls_key, it turns HTTPS on (default none)"},
        {"api", "tls_key", "PGSEED_API_TLS_KEY", "api-tls-key", CT_PATH, F(api_tls_key), "", NULL, 0, 0,
         true, "its private key (PEM; not readable by others: refused otherwise) (default none)"},
        {"postgres", "url", "PGSEED_PG_URL", "pg-url", CT_STRING, F(pg_url), "", NULL, 0, 0, true,
         "external runtime: the server to attach to, postgresql://USER@HOST:PORT/DATABASE (sets user, "
         "host, port and database; the password comes from password or password_file)"},
        {"postgres", "host", "PGSEED_PG_HOST", "pg-host", CT_STRING, F(pg_host), "127.0.0.1", NULL, 0, 0,
         false,
         "where pgseedd connects to Postgres (the embedded and local Docker servers listen on 127.0.0.1)"},
        {"postgres", "advertise_host", "PGSEED_ADVERTISE_HOST", "advertise-host", CT_STRING,
         F(advertise_host), "", NULL, 0, 0, true,
         "the host named in the connection URLs pgseedd gives out (/health, clones, pgseedctl start) when "
         "clients reach Postgres by another name than pgseedd does (a remote engine, a NAT); default host"},
        {"postgres", "port", "PGSEED_PG_PORT", "pg-port", CT_PORT, F(pg_port), "5432", NULL, 0, 0, false,
         "Postgres port"},
        {"postgres", "user", "PGSEED_PG_USER", "pg-user", CT_IDENT, F(pg_user), "app", NULL, 0, 0, false,
         "database superuser that pgseedd creates and connects as"},
        {"postgres", "password", "PGSEED_PG_PASSWORD", "pg-password", CT_SECRET, F(pg_password), "app", NULL,
         0, 0, false, "its password"},
        {"postgres", "password_file", "PGSEED_PG_PASSWORD_FILE", "pg-password-file", CT_PATH,
         F(pg_password_file), "", NULL, 0, 0, true,
         "read the password from this file instead (wins over password; default none)"},
        {"postgres", "database", "PGSEED_PG_DB", "pg-db", CT_IDENT, F(pg_db), "app", NULL, 0, 0, false,
         "the working database; its pristine copy is DATABASE_template"},
        {"postgres", "conf", "PGSEED_PG_CONF", "pg-conf", CT_PATH, F(pg_conf), "", NULL, 0, 0, true,
         "postgresql.conf settings passed to the server (default config/postgresql.conf)"},
        {"postgres", "bindir", "PGSEED_PG_BINDIR", "pg-bindir", CT_PATH, F(pg_bindir), "", NULL, 0, 0, true,
         "embedded runtime: directory with initdb and postgres (default the newest "
         "/usr/lib/postgresql/*/bin)"},
        {"postgres", "memory", "PGSEED_PG_MEMORY", "pg-memory", CT_STRING, F(pg_memory), "", NULL, 0, 0,
         true,
         "memory for Postgres (512MB, 2GB, or auto: a quarter of the machine): sizes shared_buffers, "
         "effective_cache_size, maintenance_work_mem and work_mem (default: config/postgresql.conf's)"},
        {"postgres", "wal_archive_dir", "PGSEED_PG_WAL_ARCHIVE_DIR", "pg-wal-archive-dir", CT_PATH,
         F(pg_wal_archive_dir), "", NULL, 0, 0, true,
         "archive every WAL segment into this directory (archive_mode = on), for backups (default none)"},
        {"postgres", "tls", "PGSEED_PG_TLS", "pg-tls", CT_ENUM, F(pg_tls), "off", tls_choices, 0, 0, false,
         "TLS for Postgres: off, on (ssl = on, a certificate for localhost and 127.0.0.1 from a private CA "
         "made in STATE_DIR/tls) or require (TCP clients without TLS are refused)"},
        {"postgres", "tls_cert_file", "PGSEED_PG_TLS_CERT_FILE", "pg-tls-cert-file", CT_PATH,
         F(pg_tls_cert_file), "", NULL, 0, 0, true,
         "your own server certificate (PEM) instead of the generated one (default none)"},
        {"postgres", "tls_key_file", "PGSEED_PG_TLS_KEY_FILE", "pg-tls-key-file", CT_PATH,
         F(pg_tls_key_file), "", NULL, 0, 0, true, "its private key (default none)"},
        {"postgres", "tls_ca_file", "PGSEED_PG_TLS_CA_FILE", "pg-tls-ca-file", CT_PATH, F(pg_tls_ca_file),
         "", NULL, 0, 0, true, "the CA certificate clients verify your certificate with (default none)"},
        {"roles", "app_user", "PGSEED_APP_USER", "app-user", CT_IDENT, F(app_user), "app_rw", NULL, 0, 0,
         true, "application role: SELECT, INSERT, UPDATE, DELETE on the seeded tables, no DDL ('' = none)"},
        {"roles", "app_password", "PGSEED_APP_PASSWORD", "app-password", CT_SECRET, F(app_password), "",
         NULL, 0, 0, true, "its password (default: the role's name)"},
        {"roles", "app_password_file", "PGSEED_APP_PASSWORD_FILE", "app-password-file", CT_PATH,
         F(app_password_file), "", NULL, 0, 0, true, "read it from this file (wins over app_password)"},
        {"roles", "readonly_user", "PGSEED_READONLY_USER", "readonly-user", CT_IDENT, F(readonly_user),
         "app_ro", NULL, 0, 0, true, "read-only role: SELECT on the seeded tables ('' = none)"},
        {"roles", "readonly_password", "PGSEED_READONLY_PASSWORD", "readonly-password", CT_SECRET,
         F(readonly_password), "", NULL, 0, 0, true, "its password (default: the role's name)"},
        {"roles", "readonly_password_file", "PGSEED_READONLY_PASSWORD_FILE", "readonly-password-file",
         CT_PATH, F(readonly_password_file), "", NULL, 0, 0, true, "read it from this file"},
        {"roles", "replication_user", "PGSEED_REPLICATION_USER", "replication-user", CT_IDENT,
         F(replication_user), "debezium", NULL, 0, 0, true,
         "replication role for CDC (Debezium): REPLICATION and SELECT ('' = none)"},
        {"roles", "replication_password", "PGSEED_REPLICATION_PASSWORD", "replication-password", CT_SECRET,
         F(replication_password), "", NULL, 0, 0, true, "its password (default: the role's name)"},
        {"roles", "replication_password_file", "PGSEED_REPLICATION_PASSWORD_FILE",
         "replication-password-file", CT_PATH, F(replication_password_file), "", NULL, 0, 0, true,
         "read it from this file"},
        {"dataset", "source", "PGSEED_DATASET", "dataset", CT_DATASET, F(dataset), "synthetic", NULL, 0, 0,
         false,
         "synthetic (deterministic generator), csv:PATH (the YouTube comment sentiment CSV), or none (only "
         "what the SQL files insert)"},
        {"dataset", "comments", "PGSEED_COMMENTS", "comments", CT_INT, F(comments), "500000", NULL, 1,
         100000000, false, "number of comments to load; videos and users scale with it"},
        {"dataset", "seed", "PGSEED_SEED", "seed", CT_INT, F(seed), "42", NULL, 0, INT64_MAX, false,
         "generator seed: the same seed gives byte-identical rows"},
        {"dataset", "sql_dir", "PGSEED_SQL_DIR", "sql-dir", CT_PATH, F(sql_dir), "", NULL, 0, 0, true,
         "directory of numbered .sql files that define the schema (default sql/)"},
        {"dataset", "migrations_dir", "PGSEED_MIGRATIONS_DIR", "migrations-dir", CT_PATH, F(migrations_dir),
         "", NULL, 0, 0, true,
         "directory of NNN-name.sql migrations applied in order, each once, recorded in pgseed_migrations "
         "(default SQL_DIR/migrations when it exists)"},
        {"dataset", "publication", "PGSEED_PUBLICATION", "publication", CT_IDENT, F(publication), "pgseed",
         NULL, 0, 0, false, "logical replication publication covering every loaded table (for Debezium)"},
        {"dataset", "spares", "PGSEED_SPARES", "spares", CT_INT, F(spares), "3", NULL, 1, 32, false,
         "prepared copies of the template kept so that back-to-back resets are renames, not copies"},
        {"clones", "pool", "PGSEED_CLONES_POOL", "clones-pool", CT_INT, F(clones_pool), "2", NULL, 0, 256,
         false, "ready clones kept for POST /clones (0: each lease waits for a new copy)"},
        {"clones", "max", "PGSEED_CLONES_MAX", "clones-max", CT_INT, F(clones_max), "100", NULL, 0, 10000,
         false, "most clones at once, leased and ready; beyond it POST /clones is 503 clone_limit"},
        {"clones", "ttl", "PGSEED_CLONES_TTL", "clones-ttl", CT_INT, F(clones_ttl), "3600", NULL, 1,
         30 * 86400, false, "default lease in seconds (POST /clones?ttl=S); expired clones are dropped"},
        {"clones", "min_free_mb", "PGSEED_CLONES_MIN_FREE_MB", "clones-min-free-mb", CT_INT,
         F(clones_min_free_mb), "512", NULL, 0, INT64_MAX, false,
         "no new clone while the state directory's file system has less free space (507 disk_full)"},
        {"pgbouncer", "enabled", "PGSEED_PGBOUNCER", "pgbouncer", CT_BOOL, F(pgbouncer), "false", NULL, 0, 0,
         false, "supervise a PgBouncer in front of Postgres (Debian's pgbouncer package)"},
        {"pgbouncer", "port", "PGSEED_PGBOUNCER_PORT", "pgbouncer-port", CT_PORT, F(pgbouncer_port), "6432",
         NULL, 0, 0, false, "PgBouncer's port on 127.0.0.1"},
        {"pgbouncer", "pool_mode", "PGSEED_PGBOUNCER_POOL_MODE", "pgbouncer-pool-mode", CT_ENUM,
         F(pgbouncer_pool_mode), "transaction", pool_mode_choices, 0, 0, false,
         "session, transaction or statement pooling"},
        {"pgbouncer", "default_pool_size", "PGSEED_PGBOUNCER_POOL_SIZE", "pgbouncer-pool-size", CT_INT,
         F(pgbouncer_pool_size), "20", NULL, 1, 10000, false, "server connections per database and user"},
        {"pgbouncer", "max_client_conn", "PGSEED_PGBOUNCER_MAX_CLIENT_CONN", "pgbouncer-max-client-conn",
         CT_INT, F(pgbouncer_max_client_conn), "200", NULL, 1, 100000, false, "most client connections"},
        {"pgbouncer", "binary", "PGSEED_PGBOUNCER_BIN", "pgbouncer-bin", CT_PATH, F(pgbouncer_bin),
         "/usr/sbin/pgbouncer", NULL, 0, 0, false, "the pgbouncer executable"},
        {"pgbouncer", "image", "PGSEED_PGBOUNCER_IMAGE", "pgbouncer-image", CT_STRING, F(pgbouncer_image),
         "pgseed/pgbouncer:1", NULL, 0, 0, false,
         "PgBouncer's image on the Docker runtime (compose/build-local-images.sh builds it)"},
        {"docker", "host", "DOCKER_HOST", "docker-host", CT_STRING, F(docker_host),
         "unix:///var/run/docker.sock", NULL, 0, 0, false,
         "Docker Engine: unix://PATH, or tcp://HOST:PORT for a remote one (Postgres's host is then HOST "
         "unless PGSEED_PG_HOST says otherwise)"},
        {"docker", "tls_verify", "DOCKER_TLS_VERIFY", "docker-tls-verify", CT_BOOL, F(docker_tls_verify),
         "false", NULL, 0, 0, false, "tcp:// engine: TLS both ways with the certificates in cert_path"},
        {"docker", "cert_path", "DOCKER_CERT_PATH", "docker-cert-path", CT_PATH, F(docker_cert_path), "",
         NULL, 0, 0, true, "directory with ca.pem, cert.pem and key.pem (default ~/.docker)"},
        {"docker", "image", "PGSEED_IMAGE", "image", CT_STRING, F(image), "postgres:16", NULL, 0, 0, false,
         "Postgres image (the official image's contract: POSTGRES_USER/PASSWORD/DB, PGDATA)"},
        {"docker", "pull", "PGSEED_PULL", "pull", CT_ENUM, F(pull), "missing", pull_choices, 0, 0, false,
         "when to pull the image: missing, always or never"},
        {"docker", "network", "PGSEED_NETWORK", "network", CT_STRING, F(network), "bridge", NULL, 0, 0,
         false, "bridge (publish the port on 127.0.0.1) or host (share the host's network)"},
        {"docker", "stop_timeout", "PGSEED_STOP_TIMEOUT", "stop-timeout", CT_INT, F(stop_timeout), "10",
         NULL, 1, 600, false, "seconds Postgres gets to shut down before it is killed"},
};

#undef F

/* Ports, numbers and booleans are stored by value; everything else as a string the Config owns. */
static bool key_holds_string(const ConfigKey *k)
{
        return k->type != CT_PORT && k->type != CT_INT && k->type != CT_BOOL;
}

static char **str_field(Config *c, const ConfigKey *k)
{
        return (char **) ((char *) c + k->offset);
}

static const ConfigKey *key_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char full[64];
                snprintf(full, sizeof(full), "%s.%s", keys[i].section, keys[i].key);
                if (streq(name, full) || streq(name, keys[i].flag))
                        return &keys[i];
        }
        return NULL;
}

bool config_flag_is_known(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(name, keys[i].flag))
                        return true;
        return false;
}

static bool is_ident(const char *s)
{
        if (!(isalpha((unsigned char) *s) || *s == '_'))
                return false;
        for (const char *p = s; *p; p++)
                if (!(isalnum((unsigned char) *p) || *p == '_' || *p == '-'))
                        return false;
        return strlen(s) <= 48;
}

static int parse_listen(const char *v, char **ret_host, int *ret_port)
{
        _cleanup_free_ char *host = NULL;
        const char *colon = strrchr(v, ':');
        int64_t port;
        unsigned char buf[16];

        if (!colon)
                return -EINVAL;
        if (parse_int64(colon + 1, 1, 65535, &port) < 0)
                return -ERANGE;
        host = strndup(v, (size_t) (colon - v));
        if (!host)
                abort();
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = '\0';
        }
        if (isempty(host) || streq(host, "localhost")) {
                free(host);
                host = xstrdup("127.0.0.1");
        }
        if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
                return -EINVAL;
        *ret_host = TAKE_PTR(host);
        *ret_port = (int) port;
        return 0;
}

/* Checks value against k's type; on success stores it.  origin says where it came from, for errors. */
static int key_apply(Config *c, const ConfigKey *k, const char *value, const char *origin, Error *e)
{
        char **field = NULL;
        int64_t n;

        if (isempty(value) && !k->allow_empty)
                return error_set(e, EINVAL, "invalid_config",
                                 "Give it a value, or remove the line to use the default.",
                                 "%s: %s must not be empty", origin, k->key);

        switch (k->type) {
        case CT_PORT:
                if (parse_int64(value, 1, 65535, &n) < 0)
                        return error_set(e, EINVAL, "invalid_config",
                                         "Use a TCP port number from 1 to 65535.",
                                         "%s: %s = '%s' is not a port number", origin, k->key, value);
                *(int *) ((char *) c + k->offset) = (int) n;
                return 0;
        case CT_INT:
                if (parse_int64(value, k->min, k->max, &n) < 0)
                        return error_set(e, EINVAL, "invalid_config", NULL,
                                         "%s: %s = '%s' is not a whole number from %lld to %lld", origin,
                                         k->key, value, (long long) k->min, (long long) k->max);
                *(int64_t *) ((char *) c + k->offset) = n;
                return 0;
        case CT_BOOL: {
                bool b;
                if (parse_bool(value, &b) < 0)
                        return error_set(e, EINVAL, "invalid_config", "Use 1/0, true/false or yes/no.",
                                         "%s: %s = '%s' is not a boolean", origin, k->key, value);
                *(bool *) ((char *) c + k->offset) = b;
                return 0;
        }
        case CT_ENUM: {
                char allowed[128] = "";
                for (const char *const *ch = k->choices; *ch; ch++) {
                        if (streq(*ch, value))
                                goto store;
                        snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s",
                                 *allowed ? ", " : "", *ch);
                }
                return error_set(e, EINVAL, "invalid_config", NULL, "%s: %s = '%s' is not one of: %s",
                                 origin, k->key, value, allowed);
        }
        case CT_LISTEN: {
                _cleanup_free_ char *host = NULL;
                int port;
                if (parse_listen(value, &host, &port) < 0)
                        return error_set(e, EINVAL, "invalid_config",
                                         "Use HOST:PORT with a numeric address, e.g. 127.0.0.1:7432.",
                                         "%s: %s = '%s' is not a listen address", origin, k->key, value);
                goto store;
        }
        case CT_IDENT:
                if (isempty(value))
                        goto store; /* allow_empty was checked above */
                if (!is_ident(value))
                        return error_set(
                                e, EINVAL, "invalid_config",
                                "Use letters, digits, '_' and '-', starting with a letter, at most 48.",
                                "%s: %s = '%s' is not a valid name", origin, k->key, value);
                goto store;
        case CT_DATASET:
                if (!streq(value, "synthetic") && !streq(value, "none") &&
                    isempty(startswith(value, "csv:")))
                        return error_set(
                                e, EINVAL, "invalid_config",
                                "Use 'synthetic', 'csv:/path/to/comments.csv' or 'none' (only what the SQL "
                                "files insert).",
                                "%s: %s = '%s' is not a dataset source", origin, k->key, value);
                goto store;
        case CT_STRING:
        case CT_SECRET:
        case CT_PATH:
                goto store;
        }
        return -EINVAL;

store:
        field = str_field(c, k);
        free(*field);
        *field = xstrdup(value);
        return 0;
}

int config_set(Config *c, const char *key, const char *value, ValueSource source, const char *origin,
               Error *e)
{
        const ConfigKey *k = key_find(key);
        int r;

        if (!k)
                return error_set(e, EINVAL, "invalid_config", "Run 'pgseedd --help' for the list of keys.",
                                 "%s: unknown key '%s'", origin, key);
        r = key_apply(c, k, value, origin, e);
        if (r < 0)
                return r;
        c->sources[k - keys] = source;
        return 0;
}

Config *config_new_defaults(void)
{
        Config *c = xcalloc(1, sizeof(Config));

        c->sources = xcalloc(ELEMENTSOF(keys), sizeof(ValueSource));
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                Error e = ERROR_INIT;
                /* Defaults are valid by construction; an assert here would be a programming error. */
                if (!key_holds_string(&keys[i]) || !isempty(keys[i].def))
                        (void) key_apply(c, &keys[i], keys[i].def, "default", &e);
                else
                        *str_field(c, &keys[i]) = xstrdup("");
        }
        return c;
}

void config_free(Config *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (key_holds_string(&keys[i]))
                        free(*str_field(c, &keys[i]));
        free(c->listen_host);
        free(c->pg_sslmode);
        free(c->sources);
        free(c->config_path);
        free(c);
}

/*
 * INI: "[section]" lines, "key = value" lines (value optionally in double
 * quotes), '#' or ';' comments on their own lines, blank lines.
 */
int config_parse_text(Config *c, const char *text, const char *origin, Error *e)
{
        _cleanup_free_ char *copy = xstrdup(text);
        char section[64] = "";
        unsigned lineno = 0;

        for (char *line = copy, *next; line; line = next) {
                char where[512], full[160], *eq, *key, *value;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                line = strstrip(line);
                if (!*line || *line == '#' || *line == ';')
                        continue;
                snprintf(where, sizeof(where), "%s:%u", origin, lineno);

                if (*line == '[') {
                        char *end = strchr(line, ']');
                        if (!end || end[1] != '\0' || end == line + 1)
                                return error_set(e, EINVAL, "invalid_config", "Write sections as [name].",
                                                 "%s: malformed section header '%s'", where, line);
                        *end = '\0';
                        if (!streq(line + 1, "pgseed") && !streq(line + 1, "api") &&
                            !streq(line + 1, "postgres") && !streq(line + 1, "dataset") &&
                            !streq(line + 1, "clones") && !streq(line + 1, "docker") &&
                            !streq(line + 1, "roles") && !streq(line + 1, "pgbouncer"))
                                return error_set(e, EINVAL, "invalid_config",
                                                 "Known sections: [pgseed], [api], [postgres], [roles], "
                                                 "[dataset], [clones], [pgbouncer], [docker].",
                                                 "%s: unknown section [%s]", where, line + 1);
                        strlcpy0(section, line + 1, sizeof(section));
                        continue;
                }

                eq = strchr(line, '=');
                if (!eq)
                        return error_set(e, EINVAL, "invalid_config", "Write settings as 'key = value'.",
                                         "%s: expected 'key = value', got '%s'", where, line);
                *eq = '\0';
                key = strstrip(line);
                value = strstrip(eq + 1);
                if (*value != '"') {
                        /* An unquoted value ends at an inline comment: whitespace, then '#' or ';'. */
                        for (char *p = value; *p; p++)
                                if ((*p == '#' || *p == ';') && p > value &&
                                    isspace((unsigned char) p[-1])) {
                                        *p = '\0';
                                        value = strstrip(value);
                                        break;
                                }
                } else {
                        size_t n = strlen(value);
                        if (n < 2 || value[n - 1] != '"')
                                return error_set(e, EINVAL, "invalid_config",
                                                 "Close the quoted value with '\"'.",
                                                 "%s: unterminated quoted value for %s", where, key);
                        value[n - 1] = '\0';
                        value++;
                }
                if (!*section)
                        return error_set(e, EINVAL, "invalid_config",
                                         "Put it under a section, e.g. [postgres].",
                                         "%s: key '%s' appears before any [section]", where, key);
                snprintf(full, sizeof(full), "%s.%s", section, key);
                if (!key_find(full) || strchr(key, '-'))
                        return error_set(e, EINVAL, "invalid_config",
                                         "Run 'pgseedd --help' for the list of keys.",
                                         "%s: unknown key '%s' in section [%s]", where, key, section);
                if (config_set(c, full, value, SOURCE_FILE, where, e) < 0)
                        return -EINVAL;
        }
        return 0;
}

static char *default_config_path(void)
{
        const char *candidates[] = {PGSEED_SOURCE_ROOT "/config/pgseedd.conf",
                                    PGSEED_SYSCONFDIR "/pgseed/pgseedd.conf"};

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (access(candidates[i], R_OK) == 0)
                        return xstrdup(candidates[i]);
        return NULL;
}

static int load_file(Config *c, const char *path, Error *e)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return error_set(e, r == -ENOENT ? ENOENT : -r, "invalid_config",
                                 "Check the path given to --config (or $PGSEED_CONFIG).",
                                 "Cannot read config file %s: %s", path, strerror(-r));
        c->config_path = xstrdup(path);
        return config_parse_text(c, text, path, e);
}

/*
 * PGSEED_* variables that are not daemon settings: pgseedctl's own, the test
 * harness's.  pgseedctl passes its whole environment through to the daemon it
 * starts, so they reach pgseedd and must not count as typos.
 */
static const char *const env_not_settings[] = {
        "PGSEED_URL",        /* pgseedctl: the API's URL */
        "PGSEED_TOKEN",      /* pgseedctl: the API token */
        "PGSEED_CA",         /* pgseedctl: the CA certificate an https:// API is verified with */
        "PGSEED_TOKEN_FILE", /* pgseedctl (and the daemon once access control reads it) */
        "PGSEED_CONFIG",     /* the config file, read by config_load() itself */
        "PGSEED_BUILD_DIR",  /* tests: where the binaries are */
        NULL,
};
static const char *const env_not_settings_prefixes[] = {"PGSEED_TEST_", NULL};

/* Levenshtein distance, for "did you mean"; names are short (< 64). */
static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), prev[65], cur[65];

        if (la > 64 || lb > 64)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                prev[j] = j;
        for (size_t i = 1; i <= la; i++) {
                cur[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
                        size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
                        cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
                }
                memcpy(prev, cur, sizeof(prev));
        }
        return prev[lb];
}

static bool env_is_known(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(name, keys[i].env))
                        return true;
        for (const char *const *n = env_not_settings; *n; n++)
                if (streq(name, *n))
                        return true;
        for (const char *const *p = env_not_settings_prefixes; *p; p++)
                if (startswith(name, *p))
                        return true;
        return false;
}

int config_check_environment(char *const *envp, Error *e)
{
        for (char *const *v = envp; v && *v; v++) {
                char name[128];
                const char *best = NULL;
                size_t best_d = SIZE_MAX, n = strcspn(*v, "=");

                if (!startswith(*v, "PGSEED_") || n >= sizeof(name))
                        continue;
                memcpy(name, *v, n);
                name[n] = '\0';
                if (env_is_known(name))
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        size_t d = edit_distance(name, keys[i].env);
                        if (d < best_d) {
                                best_d = d;
                                best = keys[i].env;
                        }
                }
                /* A suggestion only when it is plausibly the same word: a few edits away. */
                if (best && best_d <= 3) {
                        char hint[160];
                        snprintf(hint, sizeof(hint), "Did you mean %s? Run 'pgseedd --help' for the list.",
                                 best);
                        return error_set(e, EINVAL, "invalid_config", hint,
                                         "unknown environment variable %s (did you mean %s?)", name, best);
                }
                return error_set(
                        e, EINVAL, "invalid_config",
                        "Unset it, or run 'pgseedd --help' for the PGSEED_* variables pgseedd reads.",
                        "unknown environment variable %s", name);
        }
        return 0;
}

static int load_env(Config *c, Error *e)
{
        extern char **environ;
        int r = config_check_environment(environ, e);

        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *v = getenv(keys[i].env);
                char origin[80];

                /* An empty variable counts as unset, as compose .env files leave them. */
                if (isempty(v))
                        continue;
                snprintf(origin, sizeof(origin), "environment %s", keys[i].env);
                if (key_apply(c, &keys[i], v, origin, e) < 0)
                        return -EINVAL;
                c->sources[i] = SOURCE_ENV;
        }
        return 0;
}

static int load_flags(Config *c, char **flags, Error *e)
{
        for (char **f = flags; f && *f; f++) {
                _cleanup_free_ char *name = xstrdup(*f);
                char *eq = strchr(name, '='), origin[96];

                if (!eq)
                        return error_set(e, EINVAL, "invalid_config", NULL, "flag --%s needs a value", name);
                *eq = '\0';
                snprintf(origin, sizeof(origin), "flag --%s", name);
                if (!config_flag_is_known(name))
                        return error_set(e, EINVAL, "invalid_config", "Run 'pgseedd --help'.",
                                         "unknown flag --%s", name);
                if (config_set(c, name, eq + 1, SOURCE_FLAG, origin, e) < 0)
                        return -EINVAL;
        }
        return 0;
}

/* The newest /usr/lib/postgresql/N/bin that holds a postgres binary, or NULL. */
static char *find_pg_bindir(void)
{
        _cleanup_(closedirp) DIR *d = opendir("/usr/lib/postgresql");
        struct dirent *de;
        long best = -1;

        if (!d)
                return NULL;
        while ((de = readdir(d))) {
                char path[512];
                char *end;
                long v = strtol(de->d_name, &end, 10);

                if (*end || v <= best)
                        continue;
                snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/postgres", de->d_name);
                if (access(path, X_OK) == 0)
                        best = v;
        }
        return best < 0 ? NULL : xasprintf("/usr/lib/postgresql/%ld/bin", best);
}

static char *first_existing(const char *a, const char *b)
{
        if (access(a, F_OK) == 0)
                return xstrdup(a);
        return xstrdup(b);
}

/*
 * runtime = external takes the server from PGSEED_PG_URL: its user, host,
 * port and database replace the separate settings.  A URL for another
 * runtime, or external without one, is a mistake worth stopping for.
 */
static int config_apply_url(Config *c, Error *e)
{
        PgUrl u;
        int r;

        free(c->pg_sslmode);
        c->pg_sslmode = NULL;
        if (isempty(c->pg_url)) {
                if (streq(c->runtime, "external"))
                        return error_set(e, EINVAL, "invalid_config",
                                         "Set PGSEED_PG_URL=postgresql://USER@HOST:PORT/DATABASE.",
                                         "runtime = external needs the server's URL (PGSEED_PG_URL)");
                return 0;
        }
        if (streq(c->runtime, "docker") || streq(c->runtime, "embedded"))
                return error_set(e, EINVAL, "invalid_config",
                                 "Unset PGSEED_PG_URL, or set PGSEED_RUNTIME=external (or auto).",
                                 "PGSEED_PG_URL names a server someone else runs, but runtime = %s starts "
                                 "its own",
                                 c->runtime);
        r = pg_url_parse(c->pg_url, &u, e);
        if (r < 0)
                return r;
        if (*u.user) {
                if (!is_ident(u.user))
                        return error_set(e, EINVAL, "invalid_config", NULL,
                                         "PGSEED_PG_URL: role '%s' is not a plain identifier", u.user);
                free(c->pg_user);
                c->pg_user = xstrdup(u.user);
        }
        if (*u.dbname) {
                if (!is_ident(u.dbname))
                        return error_set(e, EINVAL, "invalid_config", NULL,
                                         "PGSEED_PG_URL: database '%s' is not a plain identifier", u.dbname);
                free(c->pg_db);
                c->pg_db = xstrdup(u.dbname);
        }
        free(c->pg_host);
        c->pg_host = xstrdup(u.host);
        c->pg_port = u.port;
        if (*u.sslmode)
                c->pg_sslmode = xstrdup(u.sslmode);
        return 0;
}

/*
 * A remote engine (tcp://HOST:PORT) runs Postgres on HOST: that is where
 * pgseedd connects, unless PGSEED_PG_HOST was set.  The address itself is
 * checked here so that a typo stops pgseedd at once.
 */
static int config_apply_docker_host(Config *c, Error *e)
{
        const char *tcp = startswith(c->docker_host, "tcp://"), *colon;
        const ConfigKey *host_key = key_find("postgres.host");

        if (startswith(c->docker_host, "unix://"))
                return 0;
        colon = tcp ? strrchr(tcp, ':') : NULL;
        if (!tcp || !colon || colon == tcp)
                return error_set(e, EINVAL, "invalid_config",
                                 "Use unix:///path (the local engine's socket) or tcp://HOST:PORT (a remote "
                                 "engine).",
                                 "docker host '%s' is neither unix:///path nor tcp://HOST:PORT",
                                 c->docker_host);
        /* The URL (runtime = external, or auto with one) already named the server's host. */
        if (!isempty(c->pg_url) || (c->sources && c->sources[host_key - keys] != SOURCE_DEFAULT))
                return 0;
        free(c->pg_host);
        c->pg_host = strndup(tcp, (size_t) (colon - tcp));
        if (!c->pg_host)
                abort();
        return 0;
}

/* Reads a one-line secret from path into *field (replacing it); key names the setting in errors. */
static int read_secret_file(const char *path, const char *key, char **field, Error *e)
{
        _cleanup_free_ char *pw = NULL;
        int r = read_full_file(path, &pw, NULL);

        if (r < 0)
                return error_set(e, ENOENT, "invalid_config", "Create the file, or set the password itself.",
                                 "Cannot read %s %s: %s", key, path, strerror(-r));
        pw[strcspn(pw, "\r\n")] = '\0';
        if (!*pw)
                return error_set(e, EINVAL, "invalid_config", NULL, "%s %s is empty", key, path);
        free(*field);
        *field = TAKE_PTR(pw);
        return 0;
}

/*
 * The [roles] users: "none" (for the environment, where an empty value means
 * unset) turns a role off like ""; a password file wins over the password; a
 * role without a password gets its own name, as the default user does (app,
 * app).  Names must differ from each other and from [postgres] user.
 */
static int finish_roles(Config *c, Error *e)
{
        struct {
                char **user, **password, **file;
                const char *key;
        } roles[] = {
                {&c->app_user, &c->app_password, &c->app_password_file, "app_user"},
                {&c->readonly_user, &c->readonly_password, &c->readonly_password_file, "readonly_user"},
                {&c->replication_user, &c->replication_password, &c->replication_password_file,
                 "replication_user"},
        };
        /* A server someone else runs gets no roles it was not asked for: its owner manages them. */
        bool external = streq(c->runtime, "external") || (streq(c->runtime, "auto") && !isempty(c->pg_url));
        int r;

        for (size_t i = 0; i < ELEMENTSOF(roles); i++) {
                _cleanup_free_ char *name = xasprintf("roles.%s", roles[i].key);
                const ConfigKey *k = key_find(name);

                if (external && k && (!c->sources || c->sources[k - keys] == SOURCE_DEFAULT)) {
                        free(*roles[i].user);
                        *roles[i].user = xstrdup("");
                }
                if (streq(*roles[i].user, "none")) {
                        free(*roles[i].user);
                        *roles[i].user = xstrdup("");
                }
                if (isempty(*roles[i].user))
                        continue;
                if (streq(*roles[i].user, c->pg_user))
                        return error_set(e, EINVAL, "invalid_config",
                                         "Give each role its own name, or 'none' to create none.",
                                         "[roles] %s = '%s' is also [postgres] user", roles[i].key,
                                         *roles[i].user);
                for (size_t j = 0; j < i; j++)
                        if (streq(*roles[i].user, *roles[j].user))
                                return error_set(e, EINVAL, "invalid_config", "Give each role its own name.",
                                                 "[roles] %s and %s are both '%s'", roles[j].key,
                                                 roles[i].key, *roles[i].user);
                if (!isempty(*roles[i].file)) {
                        r = read_secret_file(*roles[i].file, roles[i].key, roles[i].password, e);
                        if (r < 0)
                                return r;
                }
                if (isempty(*roles[i].password)) {
                        free(*roles[i].password);
                        *roles[i].password = xstrdup(*roles[i].user);
                }
        }
        return 0;
}

#define MEMORY_MIN_MB 64

/* MemTotal from /proc/meminfo in MB, or -1. */
static int64_t machine_memory_mb(void)
{
        _cleanup_free_ char *text = NULL;
        const char *p;
        long long kb;

        if (read_full_file("/proc/meminfo", &text, NULL) < 0)
                return -1;
        p = strstr(text, "MemTotal:");
        if (!p || sscanf(p, "MemTotal: %lld kB", &kb) != 1)
                return -1;
        return kb / 1024;
}

int config_parse_memory(const char *value, int64_t *ret_mb)
{
        char *end;
        long long n;
        int64_t mb;

        *ret_mb = 0;
        if (isempty(value))
                return 0;
        if (streq(value, "auto")) {
                int64_t total = machine_memory_mb();
                if (total < 0)
                        return -EINVAL;
                /* The database shares the machine with whatever is developed on it. */
                *ret_mb = total / 4 < MEMORY_MIN_MB ? MEMORY_MIN_MB : total / 4;
                return 0;
        }
        errno = 0;
        n = strtoll(value, &end, 10);
        /* At most 2^40 of any unit: a petabyte in MB stays far from overflowing. */
        if (errno || n <= 0 || end == value || n > INT64_C(1) << 40)
                return -EINVAL;
        while (*end == ' ')
                end++;
        if (!strcasecmp(end, "kB"))
                mb = n / 1024;
        else if (!strcasecmp(end, "MB"))
                mb = n;
        else if (!strcasecmp(end, "GB"))
                mb = n * 1024;
        else if (!strcasecmp(end, "TB") && n <= INT64_C(1) << 20)
                mb = n * 1024 * 1024;
        else
                return -EINVAL;
        if (mb < MEMORY_MIN_MB || mb > INT64_C(1) << 40)
                return -EINVAL;
        *ret_mb = mb;
        return 0;
}

bool config_tls_enabled(const Config *c)
{
        return !streq(c->pg_tls, "off");
}

bool config_api_tls_enabled(const Config *c)
{
        return streq(c->api_tls, "on") || !isempty(c->api_tls_cert);
}

void config_api_tls_files(const Config *c, char **ret_cert, char **ret_key, char **ret_ca)
{
        if (!isempty(c->api_tls_cert)) {
                *ret_cert = xstrdup(c->api_tls_cert);
                *ret_key = xstrdup(c->api_tls_key);
                *ret_ca = NULL;
        } else if (!isempty(c->pg_tls_cert_file)) {
                *ret_cert = xstrdup(c->pg_tls_cert_file);
                *ret_key = xstrdup(c->pg_tls_key_file);
                *ret_ca = isempty(c->pg_tls_ca_file) ? NULL : xstrdup(c->pg_tls_ca_file);
        } else {
                *ret_cert = xasprintf("%s/tls/server.crt", c->state_dir);
                *ret_key = xasprintf("%s/tls/server.key", c->state_dir);
                *ret_ca = xasprintf("%s/tls/ca.crt", c->state_dir);
        }
}

char *config_listen_url(const char *listen, bool https)
{
        _cleanup_free_ char *host = NULL;
        const char *colon, *scheme = https ? "https" : "http";
        int64_t port;

        if (isempty(listen) || !(colon = strrchr(listen, ':')))
                return NULL;
        if (parse_int64(colon + 1, 1, 65535, &port) < 0)
                return NULL;
        host = strndup(listen, (size_t) (colon - listen));
        if (!host)
                abort();
        if (host[0] == '[' && strlen(host) >= 2 && host[strlen(host) - 1] == ']') {
                memmove(host, host + 1, strlen(host));
                host[strlen(host) - 1] = '\0';
        }
        /* A wildcard address is where the daemon listens, not where to connect: use loopback. */
        if (isempty(host) || streq(host, "0.0.0.0")) {
                free(host);
                host = xstrdup("127.0.0.1");
        } else if (streq(host, "::")) {
                free(host);
                host = xstrdup("::1");
        }
        if (strchr(host, ':'))
                return xasprintf("%s://[%s]:%d", scheme, host, (int) port);
        return xasprintf("%s://%s:%d", scheme, host, (int) port);
}

int config_finish(Config *c, Error *e)
{
        int r;

        free(c->listen_host);
        c->listen_host = NULL;
        r = parse_listen(c->listen, &c->listen_host, &c->listen_port);
        if (r < 0)
                return error_set(e, EINVAL, "invalid_config", NULL, "listen = '%s' is not HOST:PORT",
                                 c->listen);

        if (!isempty(c->pg_password_file)) {
                _cleanup_free_ char *pw = NULL;
                r = read_full_file(c->pg_password_file, &pw, NULL);
                if (r < 0)
                        return error_set(e, ENOENT, "invalid_config",
                                         "Create the file, or set PGSEED_PG_PASSWORD instead.",
                                         "Cannot read password_file %s: %s", c->pg_password_file,
                                         strerror(-r));
                pw[strcspn(pw, "\r\n")] = '\0';
                if (!*pw)
                        return error_set(e, EINVAL, "invalid_config", NULL, "password_file %s is empty",
                                         c->pg_password_file);
                free(c->pg_password);
                c->pg_password = TAKE_PTR(pw);
        }

        r = finish_roles(c, e);
        if (r < 0)
                return r;
        int64_t memory_mb;
        if (config_parse_memory(c->pg_memory, &memory_mb) < 0)
                return error_set(
                        e, EINVAL, "invalid_config",
                        "Use a size of at least 64MB such as 512MB or 2GB, or auto (a quarter of the "
                        "machine's memory).",
                        "[postgres] memory = '%s' is not a memory size", c->pg_memory);
        if (isempty(c->pg_tls_cert_file) != isempty(c->pg_tls_key_file))
                return error_set(
                        e, EINVAL, "invalid_config",
                        "Set both tls_cert_file and tls_key_file, or neither (a certificate is made).",
                        "[postgres] tls_cert_file and tls_key_file go together");
        if (isempty(c->api_tls_cert) != isempty(c->api_tls_key))
                return error_set(
                        e, EINVAL, "invalid_config",
                        "Set both [api] tls_cert and tls_key (PGSEED_API_TLS_CERT, PGSEED_API_TLS_KEY), "
                        "or neither.",
                        "[api] tls_cert and tls_key go together");
        if (c->pgbouncer && c->pgbouncer_port == c->pg_port)
                return error_set(e, EINVAL, "invalid_config", "Give PgBouncer its own port.",
                                 "[pgbouncer] port %d is also [postgres] port", c->pgbouncer_port);

        if (isempty(c->state_dir)) {
                const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
                free(c->state_dir);
                if (geteuid() == 0)
                        c->state_dir = xasprintf("/var/lib/pgseed/%s", c->instance);
                else if (!isempty(xdg))
                        c->state_dir = xasprintf("%s/pgseed/%s", xdg, c->instance);
                else
                        c->state_dir = xasprintf("%s/.local/state/pgseed/%s", isempty(home) ? "/tmp" : home,
                                                 c->instance);
        }
        if (isempty(c->sql_dir)) {
                free(c->sql_dir);
                c->sql_dir = first_existing(PGSEED_SOURCE_ROOT "/sql", PGSEED_DATADIR "/sql");
        }
        if (isempty(c->pg_conf)) {
                free(c->pg_conf);
                c->pg_conf = first_existing(PGSEED_SOURCE_ROOT "/config/postgresql.conf",
                                            PGSEED_DATADIR "/postgresql.conf");
        }
        if (isempty(c->pg_bindir)) {
                char *b = find_pg_bindir();
                if (b) {
                        free(c->pg_bindir);
                        c->pg_bindir = b;
                }
        }
        r = config_apply_url(c, e);
        if (r < 0)
                return r;
        r = config_apply_docker_host(c, e);
        if (r < 0)
                return r;
        if (streq(c->runtime, "embedded") && !streq(c->pg_host, "127.0.0.1") &&
            !streq(c->pg_host, "localhost"))
                return error_set(e, EINVAL, "invalid_config",
                                 "Unset PGSEED_PG_HOST, or use runtime = external for a server elsewhere.",
                                 "runtime = embedded runs Postgres on 127.0.0.1, but PGSEED_PG_HOST is %s",
                                 c->pg_host);
        if (!isempty(c->advertise_host) &&
            (strlen(c->advertise_host) > 253 ||
             strspn(c->advertise_host,
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") !=
                     strlen(c->advertise_host)))
                return error_set(e, EINVAL, "invalid_config",
                                 "Set a bare host name or address, such as db.internal, 10.0.0.5 or fd00::5 "
                                 "(no scheme, port, brackets or path).",
                                 "advertise_host = '%s' is not a host name or IP address",
                                 c->advertise_host);
        if (!streq(c->network, "bridge") && !streq(c->network, "host"))
                return error_set(e, EINVAL, "invalid_config", NULL,
                                 "network = '%s' is not one of: bridge, host", c->network);
        return 0;
}

int config_load(const char *path, char **flags, Config **ret, Error *e)
{
        _cleanup_(config_freep) Config *c = config_new_defaults();
        _cleanup_free_ char *auto_path = NULL;
        int r;

        if (!path)
                path = getenv("PGSEED_CONFIG");
        if (isempty(path))
                path = auto_path = default_config_path();
        if (path) {
                r = load_file(c, path, e);
                if (r < 0)
                        return r;
        }
        r = load_env(c, e);
        if (r < 0)
                return r;
        r = load_flags(c, flags, e);
        if (r < 0)
                return r;
        r = config_finish(c, e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static const char *source_name(ValueSource s)
{
        static const char *const names[] = {"default", "file", "env", "flag"};
        return names[s];
}

static void value_string(const Config *c, const ConfigKey *k, char *buf, size_t size)
{
        if (k->type == CT_PORT)
                snprintf(buf, size, "%d", *(const int *) ((const char *) c + k->offset));
        else if (k->type == CT_INT)
                snprintf(buf, size, "%lld", (long long) *(const int64_t *) ((const char *) c + k->offset));
        else if (k->type == CT_BOOL)
                snprintf(buf, size, "%s", *(const bool *) ((const char *) c + k->offset) ? "true" : "false");
        else if (k->type == CT_SECRET)
                snprintf(buf, size, "********");
        else
                snprintf(buf, size, "%s", *(char *const *) ((const char *) c + k->offset));
}

char *config_format(const Config *c, bool json)
{
        if (json) {
                json_auto_t *o = json_object();
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        char v[1024], name[64];
                        value_string(c, &keys[i], v, sizeof(v));
                        snprintf(name, sizeof(name), "%s.%s", keys[i].section, keys[i].key);
                        if (keys[i].type == CT_PORT || keys[i].type == CT_INT)
                                json_object_set_new(o, name, json_integer(strtoll(v, NULL, 10)));
                        else if (keys[i].type == CT_BOOL)
                                json_object_set_new(o, name, json_boolean(streq(v, "true")));
                        else
                                json_object_set_new(o, name, json_string(v));
                }
                json_object_set_new(o, "config_file",
                                    c->config_path ? json_string(c->config_path) : json_null());
                _cleanup_free_ char *url = config_connection_url(c);
                json_object_set_new(o, "connection_url", json_string(url));
                _cleanup_free_ char *api_url = config_listen_url(c->listen, config_api_tls_enabled(c));
                json_object_set_new(o, "api_url", api_url ? json_string(api_url) : json_null());
                _cleanup_free_ char *cert = NULL, *key = NULL, *ca = NULL;
                if (config_api_tls_enabled(c))
                        config_api_tls_files(c, &cert, &key, &ca);
                json_object_set_new(o, "api_ca_file", ca ? json_string(ca) : json_null());
                return json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        }

        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        const char *section = "";

        fprintf(f, "# effective pgseedd configuration (config file: %s)\n",
                c->config_path ? c->config_path : "none");
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                char v[1024];
                if (!streq(section, keys[i].section)) {
                        section = keys[i].section;
                        fprintf(f, "\n[%s]\n", section);
                }
                value_string(c, &keys[i], v, sizeof(v));
                fprintf(f, "%-14s = %-40s # %s, %s\n", keys[i].key, v, source_name(c->sources[i]),
                        keys[i].env);
        }
        _cleanup_free_ char *api_url = config_listen_url(c->listen, config_api_tls_enabled(c));
        _cleanup_free_ char *cert = NULL, *key = NULL, *ca = NULL;
        if (config_api_tls_enabled(c))
                config_api_tls_files(c, &cert, &key, &ca);
        fprintf(f, "\n# API URL: %s\n", api_url ? api_url : c->listen);
        if (cert)
                fprintf(f, "# API certificate: %s (CA certificate for clients: %s)\n", cert,
                        ca ? ca : "the one that signed it");
        fclose(f);
        return out;
}

void config_print_help(void)
{
        /* Keys without a fixed default say what they default to in their help text. */
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                printf("  --%-18s %-24s [%s] %s%s%s%s\n", keys[i].flag, keys[i].env, keys[i].section,
                       keys[i].help,
                       isempty(keys[i].def) ? "" : " (default: ", isempty(keys[i].def) ? "" : keys[i].def,
                       isempty(keys[i].def) ? "" : ")");
}

char **config_changed_keys(const Config *a, const Config *b)
{
        char **v = xcalloc(ELEMENTSOF(keys) + 1, sizeof(char *));
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const ConfigKey *k = &keys[i];
                bool same;

                if (k->type == CT_PORT)
                        same = *(const int *) ((const char *) a + k->offset) ==
                               *(const int *) ((const char *) b + k->offset);
                else if (k->type == CT_INT)
                        same = *(const int64_t *) ((const char *) a + k->offset) ==
                               *(const int64_t *) ((const char *) b + k->offset);
                else if (k->type == CT_BOOL)
                        same = *(const bool *) ((const char *) a + k->offset) ==
                               *(const bool *) ((const char *) b + k->offset);
                else
                        same = streq_ptr(*(char *const *) ((const char *) a + k->offset),
                                         *(char *const *) ((const char *) b + k->offset));
                if (!same)
                        v[n++] = xasprintf("%s.%s", k->section, k->key);
        }
        return v;
}

void config_adopt_reloadable(Config *c, const Config *next, const char *const *names)
{
        for (const char *const *name = names; name && *name; name++) {
                const ConfigKey *k = key_find(*name);

                if (!k)
                        continue;
                if (k->type == CT_PORT)
                        *(int *) ((char *) c + k->offset) = *(const int *) ((const char *) next + k->offset);
                else if (k->type == CT_INT)
                        *(int64_t *) ((char *) c + k->offset) =
                                *(const int64_t *) ((const char *) next + k->offset);
                else if (k->type == CT_BOOL)
                        *(bool *) ((char *) c + k->offset) = *(const bool *) ((const char *) next + k->offset);
                else {
                        char **field = str_field(c, k);
                        free(*field);
                        *field = xstrdup(*(char *const *) ((const char *) next + k->offset));
                }
                c->sources[k - keys] = next->sources[k - keys];
        }
}

const char *config_advertised_host(const Config *c)
{
        return isempty(c->advertise_host) ? c->pg_host : c->advertise_host;
}

char *config_database_url(const Config *c, const char *user, const char *db)
{
        const char *host = config_advertised_host(c);
        bool v6 = strchr(host, ':') != NULL;

        return xasprintf("postgresql://%s@%s%s%s:%d/%s", user, v6 ? "[" : "", host, v6 ? "]" : "",
                         c->pg_port, db);
}

char *config_connection_url(const Config *c)
{
        return config_database_url(c, c->pg_user, c->pg_db);
}
