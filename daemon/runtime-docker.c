/* SPDX-License-Identifier: MIT */
/* runtime-docker.c -- Postgres in a Docker container that pgseedd creates, adopts and supervises itself. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>

#include "access.h"
#include "config.h"
#include "docker-logstream.h"
#include "docker-pull.h"
#include "docker.h"
#include "log.h"
#include "pg.h"
#include "runtime-common.h"
#include "runtime.h"
#include "tls.h"
#include "tuning.h"

/* The official image's data directory; PGDATA is below it, so a mount's lost+found never bothers initdb. */
#define DATA_MOUNT "/var/lib/postgresql/data"
#define PGDATA_DIR DATA_MOUNT "/pgdata"
/* Parallel index builds use dynamic shared memory in /dev/shm: Docker's 64 MiB default is too small. */
#define SHM_SIZE    (256LL * 1024 * 1024)
#define INITDB_ARGS "--encoding=UTF8 --locale=C.UTF-8"

#define LABEL_MANAGED  "io.pgseed.managed"
#define LABEL_INSTANCE "io.pgseed.instance"
#define LABEL_HASH     "io.pgseed.config-hash"
/* Part of the config hash: bump it when the create body changes, so existing containers get recreated. */
#define SPEC_VERSION 2

/* A pull downloads hundreds of MB; past this it is a hang, not a slow registry. */
#define PULL_TIMEOUT_MS (15 * 60 * 1000)
/* Status runs every supervisor tick, logs_open on HTTP threads: short bounds for both. */
#define QUICK_TIMEOUT_MS 5000
/* docker_usable() decides runtime = auto at start-up: it must answer within seconds. */
#define USABLE_TIMEOUT_MS    3000
#define USABLE_PULL_PROBE_MS 5000

/* clang-format off */
#define IMAGE_HINT \
        "Without registry access, build the local images with `make images` (runs " \
        "compose/build-local-images.sh) and set PGSEED_IMAGE=pgseed/postgres:15, " \
        "or load a saved image with `docker load -i FILE`."
/* clang-format on */

typedef struct DockerRuntime {
        DockerClient *client; /* calls that may take long: pull, create, stop */
        DockerClient *quick;  /* status and logs: short timeout */
        char *container;      /* "<instance>-postgres" */
        char *volume;         /* "<instance>-data" */
        char **settings;      /* the pg_conf fragment as "name=value" */
        json_t *spec;         /* the create body, built by prepare (the hash includes the image's ID) */
        char hash[24];
        bool stopped_by_us; /* the container is down because stop() stopped it */
        int64_t auth_repaired_mono; /* when repair_auth last set the role's password, 0 = never */

        pthread_mutex_t lock; /* guards id: logs_open runs on HTTP threads */
        char id[80];          /* our container's full ID once known */
} DockerRuntime;

static const char *strempty(const char *s)
{
        return s ? s : "";
}

static DockerRuntime *impl(Runtime *rt)
{
        return rt->impl;
}

static void id_get(DockerRuntime *d, char *buf, size_t size)
{
        pthread_mutex_lock(&d->lock);
        strlcpy0(buf, d->id, size);
        pthread_mutex_unlock(&d->lock);
}

static void id_set(DockerRuntime *d, const char *id)
{
        pthread_mutex_lock(&d->lock);
        strlcpy0(d->id, id ? id : "", sizeof(d->id));
        pthread_mutex_unlock(&d->lock);
}

static const char *json_str(const json_t *o, const char *path0, const char *path1)
{
        const json_t *v = json_object_get(o, path0);

        if (path1)
                v = json_object_get(v, path1);
        return json_string_value(v);
}

static const char *container_label(const json_t *info, const char *key)
{
        return json_string_value(
                json_object_get(json_object_get(json_object_get(info, "Config"), "Labels"), key));
}

static bool labels_are_ours(const json_t *labels, const char *instance)
{
        return streq_ptr(json_string_value(json_object_get(labels, LABEL_MANAGED)), "true") &&
               streq_ptr(json_string_value(json_object_get(labels, LABEL_INSTANCE)), instance);
}

static bool container_running(const json_t *info)
{
        const json_t *state = json_object_get(info, "State");

        return json_is_true(json_object_get(state, "Running")) &&
               !json_is_true(json_object_get(state, "Paused")) &&
               !json_is_true(json_object_get(state, "Restarting"));
}

static int foreign_container_error(DockerRuntime *d, const Config *config, const json_t *info, Error *e)
{
        const char *image = json_str(info, "Config", "Image");
        char hint[512];

        snprintf(hint, sizeof(hint),
                 "pgseedd never stops, removes or starts containers it did not create. Remove or rename it "
                 "(`docker rm -f %s` or `docker rename %s OTHER`), or set PGSEED_INSTANCE to another name.",
                 d->container, d->container);
        return error_set(
                e, EBUSY, "container_conflict", hint,
                "A container named %s (image %s) already exists and is not managed by pgseed instance %s",
                d->container, image ? image : "unknown", config->instance);
}

/*
 * Finds our container: by the ID we know, else by name.  Returns 0 with its
 * inspect answer in *ret, -ENOENT when there is none, -EBUSY when the name
 * belongs to a container pgseed does not manage (which is never touched).
 */
static int container_lookup(DockerRuntime *d, DockerClient *client, const Config *config, json_t **ret,
                            Error *e)
{
        json_auto_t *info = NULL;
        char id[sizeof(d->id)];
        int r;

        id_get(d, id, sizeof(id));
        if (*id) {
                r = docker_container_inspect(client, id, &info, e);
                if (r >= 0) {
                        *ret = TAKE_PTR(info);
                        return 0;
                }
                if (r != -ENOENT)
                        return r;
                /* Removed behind our back; a container of that name may have been made since. */
                id_set(d, NULL);
        }
        r = docker_container_inspect(client, d->container, &info, e);
        if (r < 0)
                return r;
        if (!labels_are_ours(json_object_get(json_object_get(info, "Config"), "Labels"), config->instance))
                return foreign_container_error(d, config, info, e);
        id_set(d, json_str(info, "Id", NULL));
        *ret = TAKE_PTR(info);
        return 0;
}

/*
 * Podman lowers its own nproc limit to its default for containers (32768)
 * at start, and the OCI runtime it spawns cannot raise it again.
 */
#define PODMAN_NPROC_MAX 32768

/*
 * The limits of this process (the host's), as HostConfig.Ulimits; nproc no
 * higher than Podman's own; unlimited ones are left out.
 */
static json_t *host_ulimits(void)
{
        static const struct {
                int resource;
                const char *name;
                rlim_t max;
        } limits[] = {{RLIMIT_NOFILE, "nofile", RLIM_INFINITY}, {RLIMIT_NPROC, "nproc", PODMAN_NPROC_MAX}};
        json_t *list = json_array();

        for (size_t i = 0; i < ELEMENTSOF(limits); i++) {
                struct rlimit rl;

                if (getrlimit(limits[i].resource, &rl) < 0)
                        continue;
                if (rl.rlim_max > limits[i].max)
                        rl.rlim_max = limits[i].max;
                if (rl.rlim_cur > rl.rlim_max)
                        rl.rlim_cur = rl.rlim_max;
                if (rl.rlim_max == RLIM_INFINITY || rl.rlim_cur == RLIM_INFINITY)
                        continue;
                json_array_append_new(list,
                                      json_pack("{s:s, s:I, s:I}", "Name", limits[i].name, "Soft",
                                                (json_int_t) rl.rlim_cur, "Hard", (json_int_t) rl.rlim_max));
        }
        return list;
}

/* Builds the create body and its hash from the config, the image's ID and the engine. */
/*
 * A local engine's Postgres listens on (or publishes its port to) the
 * loopback only.  A remote engine's (tcp://HOST:PORT) must be reachable from
 * here: on the engine host's interfaces, as Testcontainers does; the password
 * guards it.
 */
static bool pg_is_local(const Config *config)
{
        return streq(config->pg_host, "127.0.0.1") || streq(config->pg_host, "localhost") ||
               streq(config->pg_host, "::1");
}

/* Where the host's TLS files appear in the container, read-only, for the entrypoint to copy. */
#define TLS_MOUNT "/run/pgseed/tls"

/*
 * What the server needs from the host besides its data: the TLS files and
 * the WAL archive directory ([postgres] tls, wal_archive_dir), as bind
 * mounts in binds (an array of "HOST:CONTAINER[:ro]"), and a script the
 * container runs as root before the image's entrypoint (NULL when there is
 * nothing to mount).  Postgres accepts a key only when it is owned by its
 * own user (or root) and not readable by others, and the container's
 * postgres user (999 in the official image and ours) is not the host's: so
 * the key is copied inside the container, owned by the container's user,
 * at every start, rather than mounted where the server reads it.  The
 * archive directory is handed to that user the same way.  The CA's key is
 * never mounted.
 */
static char *host_mounts(const Config *config, json_t *binds)
{
        const char *files[TLS_SERVER_FILES_MAX];
        size_t n = tls_server_files(config, files);
        _cleanup_free_ char *script = NULL;
        size_t len = 0;
        FILE *f;

        if (n == 0 && isempty(config->pg_wal_archive_dir))
                return NULL;
        f = open_memstream(&script, &len);
        if (!f)
                abort();
        fputs("set -e\n", f);
        if (n > 0) {
                fputs("rm -rf " TLS_CONTAINER_DIR "\nmkdir -m 0700 " TLS_CONTAINER_DIR "\n", f);
                for (size_t i = 0; i < n; i++) {
                        json_array_append_new(binds, json_sprintf("%s/tls/%s:" TLS_MOUNT "/%s:ro",
                                                                  config->state_dir, files[i], files[i]));
                        fprintf(f, "cp " TLS_MOUNT "/%s " TLS_CONTAINER_DIR "/%s\n", files[i], files[i]);
                }
                fputs("chmod 0600 " TLS_CONTAINER_DIR "/*\n", f);
                fputs("if [ \"$(id -u)\" = 0 ]; then chown -R postgres:postgres " TLS_CONTAINER_DIR "; fi\n",
                      f);
        }
        if (!isempty(config->pg_wal_archive_dir)) {
                /* tuning.c checked that the path is plain (no characters a shell or Docker would mind). */
                json_array_append_new(
                        binds, json_sprintf("%s:" TUNING_CONTAINER_ARCHIVE_DIR, config->pg_wal_archive_dir));
                fputs("if [ \"$(id -u)\" = 0 ]; then chown postgres:postgres " TUNING_CONTAINER_ARCHIVE_DIR
                      "; fi\n",
                      f);
        }
        fputs("exec \"$@\"\n", f);
        fclose(f);
        return TAKE_PTR(script);
}

/*
 * TLS, WAL archiving and PgBouncer mount this machine's files into
 * containers: the engine must run here.  A TCP engine on a loopback address
 * is this machine's too (a TLS front before the local engine).  what: the
 * settings that need it, for the message.
 */
static int engine_is_here(DockerRuntime *d, const Config *config, const char *what, Error *e)
{
        const DockerEndpoint *ep = docker_client_endpoint(d->client);

        if (!*ep->socket && !access_host_is_loopback(ep->host))
                return error_set(
                        e, ENOTSUP, "host_mounts_not_supported",
                        "Run pgseedd on the engine's machine, or turn them off for a remote engine.",
                        "%s need a Docker engine on this machine (they mount files from %s), not one "
                        "at %s",
                        what, config->state_dir, ep->address);
        return 0;
}

static int host_mounts_check(DockerRuntime *d, const Config *config, Error *e)
{
        if (!config_tls_enabled(config) && isempty(config->pg_wal_archive_dir))
                return 0;
        return engine_is_here(d, config, "[postgres] tls and wal_archive_dir", e);
}

static void spec_build(DockerRuntime *d, const Config *config, const char *image_id,
                       const json_t *entrypoint, const DockerVersion *v)
{
        bool host = streq(config->network, "host"), local = pg_is_local(config);
        json_t *env = json_array(), *cmd = json_array(), *labels, *host_config;
        json_auto_t *hashed = NULL, *binds = json_array();
        _cleanup_free_ char *text = NULL, *script = host_mounts(config, binds);
        char port[16];

        snprintf(port, sizeof(port), "%d", config->pg_port);
        json_array_append_new(env, json_sprintf("POSTGRES_USER=%s", config->pg_user));
        json_array_append_new(env, json_sprintf("POSTGRES_DB=%s", config->pg_db));
        json_array_append_new(env, json_string("POSTGRES_INITDB_ARGS=" INITDB_ARGS));
        json_array_append_new(env, json_string("PGDATA=" PGDATA_DIR));
        /* On the host's network the server listens on pg_port: `docker exec ... psql` finds it by PGPORT. */
        if (host)
                json_array_append_new(env, json_sprintf("PGPORT=%d", config->pg_port));

        json_array_append_new(cmd, json_string("postgres"));
        for (char **s = d->settings; s && *s; s++) {
                json_array_append_new(cmd, json_string("-c"));
                json_array_append_new(cmd, json_string(*s));
        }
        /*
         * The host's network: listen on the host's loopback only, on pg_port.
         * Bridge: listen on the container's interfaces at 5432, reachable from
         * the host only through the port published on 127.0.0.1.
         */
        json_array_append_new(cmd, json_string("-c"));
        json_array_append_new(
                cmd, json_string(host && local ? "listen_addresses=127.0.0.1" : "listen_addresses=*"));
        if (host) {
                json_array_append_new(cmd, json_string("-c"));
                json_array_append_new(cmd, json_sprintf("port=%d", config->pg_port));
        }

        /* The script runs first and execs the image's entrypoint with the server's arguments. */
        for (size_t i = 0; script && i < json_array_size(entrypoint); i++)
                json_array_insert(cmd, i, json_array_get(entrypoint, i));

        hashed = json_pack("{s:i, s:s, s:s, s:O, s:O, s:s, s:i}", "spec", SPEC_VERSION, "image",
                           config->image, "image_id", image_id, "env", env, "cmd", cmd, "network",
                           config->network, "port", config->pg_port);
        /* Only when there are any: containers made without them keep their hash. */
        if (script) {
                json_object_set_new(hashed, "entrypoint", json_string(script));
                json_object_set(hashed, "binds", binds);
        }
        /* Podman's limits in the hash: its containers made before they were set cannot start, so renew them.
         */
        if (v->podman && local)
                json_object_set_new(hashed, "ulimits", host_ulimits());
        text = json_dumps(hashed, JSON_COMPACT | JSON_SORT_KEYS);
        if (!text)
                abort();
        snprintf(d->hash, sizeof(d->hash), "%016llx",
                 (unsigned long long) hash64(text, strlen(text), HASH64_INIT));
        /*
         * The password, after hashing: only a first start (initdb on an
         * empty volume) uses it, and a changed one is set by repair_auth, so
         * it must not force a new container.  The container's environment,
         * which anyone who may `docker inspect` reads, holds a SCRAM verifier
         * instead of the password: initdb stores a password that already is
         * one as it is, so the role still has the configured password.
         */
        _cleanup_free_ char *verifier = pg_password_verifier(config->pg_user, config->pg_password);
        if (!verifier)
                abort();
        json_array_append_new(env, json_sprintf("POSTGRES_PASSWORD=%s", verifier));

        labels = json_pack("{s:s, s:s, s:s}", LABEL_MANAGED, "true", LABEL_INSTANCE, config->instance,
                           LABEL_HASH, d->hash);
        /* No restart policy: pgseedd restarts Postgres itself, with backoff, and knows why it went down. */
        host_config = json_pack("{s:s, s:[s+], s:I, s:{s:s}}", "NetworkMode", host ? "host" : "bridge",
                                "Binds", d->volume, ":" DATA_MOUNT, "ShmSize", (json_int_t) SHM_SIZE,
                                "RestartPolicy", "Name", "no");
        /*
         * Docker's init as PID 1: the kernel drops signals without a handler
         * that are sent to PID 1, so a stop that arrives while the image's
         * entrypoint script still runs (before it traps signals or execs
         * postgres) would be lost and end in the kill after stop_timeout.  A
         * non-PID-1 entrypoint just dies of it.  Podman's equivalent
         * (catatonit) is an optional package there, so only for Docker.
         */
        if (!v->podman)
                json_object_set_new(host_config, "Init", json_true());
        /*
         * Podman (4.3) gives a container nofile and nproc limits (its own
         * defaults, or containers.conf's) that may exceed the host's hard
         * limits, and the OCI runtime then fails: runc with "error setting
         * rlimit type 7", crun with "setrlimit `RLIMIT_NPROC`: Operation not
         * permitted".  The host's own limits always fit.
         */
        if (v->podman && local)
                json_object_set_new(host_config, "Ulimits", host_ulimits());
        if (!host)
                json_object_set_new(host_config, "PortBindings",
                                    json_pack("{s:[{s:s, s:s}]}", "5432/tcp", "HostIp",
                                              local ? "127.0.0.1" : "0.0.0.0", "HostPort", port));

        json_decref(d->spec);
        /*
         * SIGINT is Postgres's fast shutdown; the default SIGTERM is "smart"
         * and waits for every client (ours included) to disconnect, so a stop
         * would always run into the kill.  StopTimeout gives a manual
         * `docker stop` the same grace as ours.
         */
        d->spec = json_pack("{s:s, s:o, s:o, s:o, s:s, s:I, s:o}", "Image", config->image, "Env", env, "Cmd",
                            cmd, "Labels", labels, "StopSignal", "SIGINT", "StopTimeout",
                            (json_int_t) config->stop_timeout, "HostConfig", host_config);
        if (!d->spec)
                abort();
        if (!host)
                json_object_set_new(d->spec, "ExposedPorts", json_pack("{s:{}}", "5432/tcp"));
        if (script) {
                json_array_extend(json_object_get(host_config, "Binds"), binds);
                json_object_set_new(d->spec, "Entrypoint",
                                    json_pack("[s, s, s, s]", "/bin/sh", "-c", script, "pgseed-entrypoint"));
        }
}

/* Makes sure the image is present, pulling it as config->pull says.  Returns its ID in *ret_id. */
static int image_ensure(DockerRuntime *d, const Config *config, char **ret_id, Error *e)
{
        json_auto_t *info = NULL;
        bool present;
        int r;

        r = docker_image_inspect(d->client, config->image, &info, e);
        if (r < 0 && r != -ENOENT)
                return error_prefix(e, "Cannot inspect image %s: ", config->image);
        present = r >= 0;

        if (!present && streq(config->pull, "never"))
                return error_set(e, ENOENT, "image_missing", IMAGE_HINT,
                                 "Image %s is not present on the Docker engine and pull = never",
                                 config->image);
        if (!present || streq(config->pull, "always")) {
                int64_t t0 = now_mono_ms();
                log_info("docker_pull", "Pulling image %s (pull = %s)", config->image, config->pull);
                r = docker_image_pull(d->client, config->image, PULL_TIMEOUT_MS, NULL, NULL, e);
                if (r < 0) {
                        strlcpy0(e->hint,
                                 present ? "The image is present locally: set PGSEED_PULL=missing to use it "
                                           "without pulling."
                                         : IMAGE_HINT,
                                 sizeof(e->hint));
                        return error_prefix(e, "Cannot pull image %s: ", config->image);
                }
                log_info("docker_pull", "Pulled image %s in %.1f s", config->image,
                         (now_mono_ms() - t0) / 1000.0);
                json_decref(info);
                info = NULL;
                r = docker_image_inspect(d->client, config->image, &info, e);
                if (r < 0)
                        return error_prefix(e, "Cannot inspect image %s after pulling it: ", config->image);
        }
        *ret_id = xstrdup(json_str(info, "Id", NULL) ? json_str(info, "Id", NULL) : config->image);
        return 0;
}

/* Makes sure our data volume exists; refuses one of that name that pgseed did not create. */
static int volume_ensure(DockerRuntime *d, const Config *config, Error *e)
{
        json_auto_t *info = NULL, *labels = NULL;
        int r;

        r = docker_volume_inspect(d->client, d->volume, &info, e);
        if (r >= 0) {
                if (!labels_are_ours(json_object_get(info, "Labels"), config->instance))
                        return error_set(
                                e, EBUSY, "volume_conflict",
                                "Remove or rename that volume, or set PGSEED_INSTANCE to another name.",
                                "A volume named %s already exists and is not managed by pgseed instance "
                                "%s; pgseedd will not put its data into it",
                                d->volume, config->instance);
                return 0;
        }
        if (r != -ENOENT)
                return error_prefix(e, "Cannot inspect volume %s: ", d->volume);
        labels = json_pack("{s:s, s:s}", LABEL_MANAGED, "true", LABEL_INSTANCE, config->instance);
        r = docker_volume_create(d->client, d->volume, labels, e);
        if (r < 0)
                return error_prefix(e, "Cannot create volume %s: ", d->volume);
        log_info("docker_volume", "Created volume %s", d->volume);
        return 0;
}

static int port_check(const Config *config, Error *e)
{
        /* A remote engine's ports are its host's: this machine's say nothing about them. */
        if (!pg_is_local(config))
                return 0;
        return port_check_free(config->pg_port, "Postgres", "PGSEED_PG_PORT", e);
}

/* Creates our container from d->spec (volume first); remembers its ID. */
static int container_create(DockerRuntime *d, const Config *config, Error *e)
{
        _cleanup_free_ char *id = NULL;
        int r;

        r = volume_ensure(d, config, e);
        if (r < 0)
                return r;
        r = docker_container_create(d->client, d->container, d->spec, &id, e);
        if (r < 0)
                return error_prefix(e, "Cannot create container %s: ", d->container);
        id_set(d, id);
        log_info("docker_create", "Created container %s (%.12s) from %s", d->container, id, config->image);
        return 0;
}

/* Stops (gracefully) and removes our container, given its inspect answer. */
static int container_destroy(DockerRuntime *d, const Config *config, const json_t *info, Error *e)
{
        const char *id = json_str(info, "Id", NULL);
        int r;

        if (!id)
                return error_set(e, EIO, "docker_error", NULL, "Container %s has no ID", d->container);
        if (container_running(info)) {
                r = docker_container_stop(d->client, id, config->stop_timeout, e);
                if (r < 0 && r != -ENOENT)
                        return error_prefix(e, "Cannot stop container %s: ", d->container);
        }
        /* v=1 takes anonymous volumes (an image's VOLUME lines) along; the named data volume stays. */
        r = docker_container_remove(d->client, id, true, true, e);
        if (r < 0 && r != -ENOENT)
                return error_prefix(e, "Cannot remove container %s: ", d->container);
        id_set(d, NULL);
        return 0;
}

static void docker_free(Runtime *rt);

static int docker_init(Runtime *rt, Error *e)
{
        const Config *config = rt->config;
        DockerRuntime *d;
        int r;

        d = xcalloc(1, sizeof(DockerRuntime));
        pthread_mutex_init(&d->lock, NULL);
        rt->impl = d;
        d->container = xasprintf("%s-postgres", config->instance);
        d->volume = xasprintf("%s-data", config->instance);
        r = docker_client_new_tls(config->docker_host, config->docker_cert_path, config->docker_tls_verify,
                                  &d->client, e);
        if (r >= 0)
                r = docker_client_new_tls(config->docker_host, config->docker_cert_path,
                                          config->docker_tls_verify, &d->quick, e);
        if (r >= 0)
                docker_client_set_timeout(d->quick, QUICK_TIMEOUT_MS);
        if (r >= 0 && !isempty(config->pg_conf))
                r = pgconf_load(config->pg_conf, &d->settings, e);
        /* [postgres] memory (tuning.c), after the file's so that it wins. */
        if (r >= 0)
                r = tuning_append_settings(config, true, &d->settings, e);
        if (r < 0)
                docker_free(rt);
        return r;
}

static void docker_free(Runtime *rt)
{
        DockerRuntime *d = impl(rt);

        if (!d)
                return;
        docker_client_free(d->client);
        docker_client_free(d->quick);
        free(d->container);
        free(d->volume);
        strv_free(d->settings);
        json_decref(d->spec);
        pthread_mutex_destroy(&d->lock);
        free(d);
        rt->impl = NULL;
}

static int docker_prepare(Runtime *rt, Error *e)
{
        DockerRuntime *d = impl(rt);
        const Config *config = rt->config;
        _cleanup_free_ char *image_id = NULL;
        json_auto_t *info = NULL, *image = NULL;
        const json_t *entrypoint;
        DockerVersion v;
        bool running = false;
        int r;

        r = docker_version(d->client, &v, e);
        if (r < 0)
                return r;
        log_debug("docker_engine", "Docker engine %s%s, API %s (talking %s)", v.podman ? "Podman " : "",
                  v.version, v.api_version, v.used_api_version);

        r = host_mounts_check(d, config, e);
        if (r < 0)
                return r;
        r = image_ensure(d, config, &image_id, e);
        if (r < 0)
                return r;
        r = docker_image_inspect(d->client, config->image, &image, e);
        if (r < 0)
                return error_prefix(e, "Cannot inspect image %s: ", config->image);
        entrypoint = json_object_get(json_object_get(image, "Config"), "Entrypoint");
        spec_build(d, config, image_id, json_is_array(entrypoint) ? entrypoint : NULL, &v);

        r = container_lookup(d, d->client, config, &info, e);
        if (r == -EBUSY)
                return r;
        if (r < 0 && r != -ENOENT)
                return error_prefix(e, "Cannot inspect container %s: ", d->container);
        if (info && streq_ptr(container_label(info, LABEL_HASH), d->hash)) {
                running = container_running(info);
                log_info("docker_adopt", "Adopted container %s (%.12s, %s)", d->container,
                         json_str(info, "Id", NULL), running ? "running" : "stopped");
        } else if (info) {
                /* Image, settings, credentials, network or port changed: a new container, same volume. */
                log_info("docker_recreate",
                         "Recreating container %s: its configuration changed (hash %s -> %s)", d->container,
                         strempty(container_label(info, LABEL_HASH)), d->hash);
                r = container_destroy(d, config, info, e);
                if (r < 0)
                        return r;
                json_decref(info);
                info = NULL;
        }

        /* Our own running container holds the port; anything else holding it would make Postgres fail. */
        if (!running) {
                r = port_check(config, e);
                if (r < 0)
                        return r;
        }
        if (!info)
                return container_create(d, config, e);
        return 0;
}

static int docker_start(Runtime *rt, Error *e)
{
        DockerRuntime *d = impl(rt);
        const Config *config = rt->config;
        json_auto_t *info = NULL;
        char id[sizeof(d->id)];
        int r;

        if (!d->spec)
                return error_set(e, EINVAL, NULL, NULL, "The Docker runtime was not prepared");
        r = container_lookup(d, d->client, config, &info, e);
        if (r == -EBUSY)
                return r;
        if (r < 0 && r != -ENOENT)
                return error_prefix(e, "Cannot inspect container %s: ", d->container);
        if (info && container_running(info))
                return 0;
        r = port_check(config, e);
        if (r < 0)
                return r;
        if (!info) {
                /* Removed behind our back (docker rm, docker system prune): make it again, same volume. */
                r = container_create(d, config, e);
                if (r < 0)
                        return r;
        }
        id_get(d, id, sizeof(id));
        r = docker_container_start(d->client, id, e);
        if (r < 0)
                return error_prefix(e, "Cannot start container %s: ", d->container);
        d->stopped_by_us = false;
        return 0;
}

static int docker_stop(Runtime *rt, Error *e)
{
        DockerRuntime *d = impl(rt);
        const Config *config = rt->config;
        json_auto_t *info = NULL;
        const char *id;
        int r;

        r = container_lookup(d, d->client, config, &info, e);
        /* Nothing of ours to stop: no container, or the name now belongs to someone else's. */
        if (r == -ENOENT || r == -EBUSY)
                return 0;
        if (r < 0)
                return error_prefix(e, "Cannot inspect container %s: ", d->container);
        if (!container_running(info))
                return 0;
        id = json_str(info, "Id", NULL);
        d->stopped_by_us = true;
        r = docker_container_stop(d->client, id, config->stop_timeout, e);
        if (r < 0 && r != -ENOENT)
                return error_prefix(e, "Cannot stop container %s: ", d->container);
        return 0;
}

/* Why a container that exists is not running, in words for /health. */
static void describe_state(DockerRuntime *d, const json_t *info, char *buf, size_t size)
{
        const json_t *state = json_object_get(info, "State");
        const char *status = strempty(json_string_value(json_object_get(state, "Status")));
        const char *error = json_string_value(json_object_get(state, "Error"));
        long long code = json_integer_value(json_object_get(state, "ExitCode"));
        char what[256];

        if (json_is_true(json_object_get(state, "Paused")))
                bufprintf(what, sizeof(what), "paused by someone else (`docker unpause %s`)", d->container);
        else if (json_is_true(json_object_get(state, "Restarting")))
                bufprintf(what, sizeof(what), "restarting");
        else if (streq(status, "created"))
                bufprintf(what, sizeof(what), "created but not started");
        else if (streq(status, "removing"))
                bufprintf(what, sizeof(what), "being removed");
        else if (json_is_true(json_object_get(state, "OOMKilled")))
                bufprintf(what, sizeof(what), "exited with code %lld (OOM-killed)", code);
        else if (d->stopped_by_us)
                bufprintf(what, sizeof(what), "stopped by pgseedd");
        else if (code == 137)
                /* 128 + SIGKILL: `docker kill`, or the kernel without Docker noticing an OOM. */
                bufprintf(what, sizeof(what), "killed (exit code 137, SIGKILL)");
        else if (code == 0 || code == 130 || code == 143)
                /* A clean shutdown that pgseedd did not ask for: `docker stop` or a signal from outside. */
                bufprintf(what, sizeof(what), "stopped by someone else (exit code %lld)", code);
        else
                bufprintf(what, sizeof(what), "exited with code %lld", code);
        if (!isempty(error))
                bufprintf(buf, size, "container %s %s: %s", d->container, what, error);
        else
                bufprintf(buf, size, "container %s %s", d->container, what);
}

static int docker_status(Runtime *rt, RuntimeStatus *ret)
{
        DockerRuntime *d = impl(rt);
        json_auto_t *info = NULL;
        Error e = ERROR_INIT;
        int r;

        memset(ret, 0, sizeof(*ret));
        r = container_lookup(d, d->quick, rt->config, &info, &e);
        if (r == -ENOENT) {
                bufprintf(ret->detail, sizeof(ret->detail), "container %s was removed", d->container);
                return 0;
        }
        if (r == -EBUSY) {
                bufprintf(ret->detail, sizeof(ret->detail),
                          "container %s was replaced by a container pgseed does not manage", d->container);
                return 0;
        }
        if (r < 0) {
                /* Unknown rather than down, but the supervisor can only act on "not running". */
                bufprintf(ret->detail, sizeof(ret->detail), "cannot ask the Docker engine: %s", e.message);
                return r;
        }
        bufprintf(ret->id, sizeof(ret->id), "%.12s", strempty(json_str(info, "Id", NULL)));
        ret->running = container_running(info);
        if (!ret->running)
                describe_state(d, info, ret->detail, sizeof(ret->detail));
        return 0;
}

/*
 * The image's contract (the official one's, and compose/postgres's) trusts
 * local connections on the unix socket in /var/run/postgresql, reachable
 * only inside the container: a changed password is set there with psql,
 * through the Engine's exec.  The command line carries a SCRAM verifier
 * computed here, never the password (exec command lines can be inspected).
 */
static int docker_repair_auth(Runtime *rt, Error *e)
{
        DockerRuntime *d = impl(rt);
        const Config *c = rt->config;
        _cleanup_free_ char *verifier = NULL, *sql = NULL;
        json_auto_t *cmd = NULL;
        char id[sizeof(d->id)];
        int64_t now = now_mono_ms(), status = -1;
        int r;

        if (d->auth_repaired_mono > 0 && now - d->auth_repaired_mono < 10000)
                return error_set(
                        e, EACCES, NULL, NULL,
                        "authentication still fails right after pgseedd set the password; check the "
                        "image's pg_hba.conf");
        id_get(d, id, sizeof(id));
        if (!*id)
                return error_set(e, ENOENT, NULL, NULL, "no container yet");
        verifier = pg_password_verifier(c->pg_user, c->pg_password);
        if (!verifier)
                return error_set(e, ENOMEM, NULL, NULL, "cannot compute the password verifier");
        /* A verifier is [A-Za-z0-9+/=$:] only, so it needs no escaping; make sure. */
        for (const char *p = verifier; *p; p++)
                if (*p == '\'' || *p == '\\')
                        return error_set(e, EIO, NULL, NULL, "unexpected character in the verifier");
        /* pg_user is an identifier by the config's rules (letters, digits, '_', '-'): quote it as one. */
        sql = xasprintf("ALTER ROLE \"%s\" PASSWORD '%s'", c->pg_user, verifier);
        cmd = json_pack("[s, s, s, s, s, s, s, s, s, s, s, s]", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        "-h", "/var/run/postgresql", "-U", c->pg_user, "-d", "postgres", "-c");
        json_array_append_new(cmd, json_string(sql));
        r = docker_exec(d->client, id, cmd, "postgres", 30000, &status, e);
        if (r < 0)
                return error_prefix(e, "running psql in container %s: ", d->container);
        if (status != 0)
                return error_set(
                        e, EIO, NULL, NULL,
                        "psql in container %s exited with status %lld (no local trust in the image?)",
                        d->container, (long long) status);
        d->auth_repaired_mono = now;
        return 0;
}

static int docker_remove(Runtime *rt, bool volumes, Error *e)
{
        DockerRuntime *d = impl(rt);
        const Config *config = rt->config;
        json_auto_t *info = NULL, *vol = NULL;
        int r;

        r = container_lookup(d, d->client, config, &info, e);
        if (r >= 0) {
                r = container_destroy(d, config, info, e);
                if (r < 0)
                        return r;
                log_info("docker_remove", "Removed container %s", d->container);
        } else if (r != -ENOENT && r != -EBUSY)
                /* -EBUSY: the name is someone else's container, which stays; ours is gone already. */
                return error_prefix(e, "Cannot inspect container %s: ", d->container);
        if (!volumes)
                return 0;

        r = docker_volume_inspect(d->client, d->volume, &vol, e);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_prefix(e, "Cannot inspect volume %s: ", d->volume);
        if (!labels_are_ours(json_object_get(vol, "Labels"), config->instance))
                return error_set(e, EBUSY, "volume_conflict", "Remove it yourself if it is not needed.",
                                 "Volume %s is not managed by pgseed instance %s: left alone", d->volume,
                                 config->instance);
        r = docker_volume_remove(d->client, d->volume, false, e);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_prefix(e, "Cannot remove volume %s: ", d->volume);
        log_info("docker_remove", "Removed volume %s", d->volume);
        return 0;
}

/* ---- logs --------------------------------------------------------------- */

typedef struct ContainerLogStream {
        LogStream base;
        DockerLogStream *s;
        int64_t since_ms;
} ContainerLogStream;

static int container_log_read_line(LogStream *base, LogLine *ret, int timeout_ms)
{
        ContainerLogStream *s = (ContainerLogStream *) base;
        int64_t deadline = now_mono_ms() + timeout_ms;

        for (;;) {
                DockerLogLine line;
                int left = timeout_ms < 0
                                   ? -1
                                   : (int) (deadline - now_mono_ms() > 0 ? deadline - now_mono_ms() : 0);
                int r = docker_log_stream_read(s->s, &line, left, NULL);

                if (r <= 0)
                        return r;
                line.ts_ms = docker_log_refine_ms(line.text, line.ts_ms);
                if (line.ts_ms > 0)
                        format_rfc3339_ms(line.ts_ms, line.ts, sizeof(line.ts));
                /* The engine's since= has whole seconds: drop the lines earlier in that second. */
                if (s->since_ms > 0 && line.ts_ms > 0 && line.ts_ms < s->since_ms)
                        continue;
                ret->text = line.text;
                ret->stream = line.stream;
                memcpy(ret->ts, line.ts, sizeof(ret->ts));
                return 1;
        }
}

static void container_log_close(LogStream *base)
{
        ContainerLogStream *s = (ContainerLogStream *) base;

        docker_log_stream_close(s->s);
        free(s);
}

static int docker_logs_open_op(Runtime *rt, const LogQuery *q, LogStream **ret, Error *e)
{
        DockerRuntime *d = impl(rt);
        json_auto_t *info = NULL;
        DockerLogsQuery dq = {.tail = q->tail, .since_s = q->since_ms / 1000, .follow = q->follow};
        DockerLogStream *stream = NULL;
        ContainerLogStream *s;
        int r;

        r = container_lookup(d, d->quick, rt->config, &info, e);
        if (r == -ENOENT)
                return error_set(e, ENOENT, "no_logs", "Postgres has not been started yet.",
                                 "There is no container %s (yet)", d->container);
        if (r < 0)
                return r;
        /* A TTY turns the multiplexed stream into raw text; our containers have none, others might. */
        dq.tty = json_is_true(json_object_get(json_object_get(info, "Config"), "Tty"));
        r = docker_logs_open(d->quick, json_str(info, "Id", NULL), &dq, &stream, e);
        if (r < 0)
                return error_prefix(e, "Cannot read the logs of container %s: ", d->container);
        s = xcalloc(1, sizeof(ContainerLogStream));
        s->base.read_line = container_log_read_line;
        s->base.close = container_log_close;
        s->s = stream;
        s->since_ms = q->since_ms;
        *ret = &s->base;
        return 0;
}

/* ---- PgBouncer -------------------------------------------------------------- */

/* clang-format off */
#define POOLER_IMAGE_HINT \
        "Build it with `make images` (runs compose/build-local-images.sh, which makes " \
        "pgseed/pgbouncer:1 from Debian's pgbouncer package), or set PGSEED_PGBOUNCER_IMAGE."
/* clang-format on */
#define POOLER_STOP_TIMEOUT_S 5

static char *pooler_name(const Config *config)
{
        return xasprintf("%s-pgbouncer", config->instance);
}

/*
 * Our PgBouncer container's inspect answer in *ret: -ENOENT when there is
 * none, -EBUSY when the name is someone else's container.
 */
static int pooler_lookup(DockerRuntime *d, const Config *config, const char *name, json_t **ret, Error *e)
{
        json_auto_t *info = NULL;
        int r = docker_container_inspect(d->quick, name, &info, e);

        if (r < 0)
                return r;
        if (!labels_are_ours(json_object_get(json_object_get(info, "Config"), "Labels"), config->instance))
                return error_set(
                        e, EBUSY, "container_conflict",
                        "pgseedd never touches containers it did not create: remove or rename it, "
                        "or set PGSEED_INSTANCE to another name.",
                        "A container named %s already exists and is not managed by pgseed instance %s", name,
                        config->instance);
        *ret = TAKE_PTR(info);
        return 0;
}

static int docker_pooler_stop(Runtime *rt, Error *e)
{
        DockerRuntime *d = impl(rt);
        _cleanup_free_ char *name = pooler_name(rt->config);
        json_auto_t *info = NULL;
        const char *id;
        int r;

        r = pooler_lookup(d, rt->config, name, &info, e);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        id = json_str(info, "Id", NULL);
        if (container_running(info)) {
                r = docker_container_stop(d->client, id, POOLER_STOP_TIMEOUT_S, e);
                if (r < 0 && r != -ENOENT)
                        return error_prefix(e, "Cannot stop container %s: ", name);
        }
        r = docker_container_remove(d->client, id, true, true, e);
        if (r < 0 && r != -ENOENT)
                return error_prefix(e, "Cannot remove container %s: ", name);
        return 0;
}

/*
 * PgBouncer in its own container: on the host's network (it listens on the
 * host's 127.0.0.1 and reaches Postgres there, whichever network Postgres
 * has), as the user that owns the files pgseedd wrote, which are mounted
 * read-only at their own paths, so that pgbouncer.ini needs no rewriting.
 * No restart policy: pgbouncer.c restarts it, as pgseedd restarts Postgres.
 * A new container at every start: PgBouncer keeps no state worth adopting.
 */
static int docker_pooler_start(Runtime *rt, const PoolerSpec *spec, char *ret_id, size_t size, Error *e)
{
        DockerRuntime *d = impl(rt);
        const Config *config = rt->config;
        _cleanup_free_ char *name = pooler_name(config), *id = NULL;
        json_auto_t *image = NULL, *body = NULL;
        json_t *binds = json_array(), *host_config;
        DockerVersion v;
        int r;

        r = engine_is_here(d, config, "[pgbouncer] enabled", e);
        if (r < 0)
                return r;
        r = docker_image_inspect(d->client, config->pgbouncer_image, &image, e);
        if (r == -ENOENT)
                return error_set(e, ENOENT, "image_missing", POOLER_IMAGE_HINT,
                                 "PgBouncer's image %s is not present on the Docker engine",
                                 config->pgbouncer_image);
        if (r < 0)
                return error_prefix(e, "Cannot inspect image %s: ", config->pgbouncer_image);
        r = docker_pooler_stop(rt, e);
        if (r < 0)
                return r;
        for (const char *const *m = spec->mounts; *m; m++)
                json_array_append_new(binds, json_sprintf("%s:%s:ro", *m, *m));
        host_config = json_pack("{s:s, s:o, s:{s:s}}", "NetworkMode", "host", "Binds", binds,
                                "RestartPolicy", "Name", "no");
        /* As for Postgres: Docker's init as PID 1 passes the stop signal on (Podman has none). */
        if (docker_version_cached(d->client, &v) >= 0 && !v.podman)
                json_object_set_new(host_config, "Init", json_true());
        body = json_pack("{s:s, s:[s], s:{s:s, s:s, s:s}, s:s, s:I, s:o}", "Image", config->pgbouncer_image,
                         "Cmd", spec->config_file, "Labels", LABEL_MANAGED, "true", LABEL_INSTANCE,
                         config->instance, "io.pgseed.role", "pgbouncer", "StopSignal", "SIGINT",
                         "StopTimeout", (json_int_t) POOLER_STOP_TIMEOUT_S, "HostConfig", host_config);
        if (!body)
                abort();
        json_object_set_new(body, "User", json_sprintf("%u:%u", (unsigned) spec->uid, (unsigned) spec->gid));
        r = docker_container_create(d->client, name, body, &id, e);
        if (r < 0)
                return error_prefix(e, "Cannot create container %s: ", name);
        r = docker_container_start(d->client, id, e);
        if (r < 0) {
                Error ignored = ERROR_INIT;
                docker_container_remove(d->client, id, true, true, &ignored);
                return error_prefix(e, "Cannot start container %s: ", name);
        }
        bufprintf(ret_id, size, "%.12s", id);
        return 0;
}

/* The last line a container wrote (PgBouncer's FATAL when it would not start) into buf; "" when none. */
static void container_last_line(DockerRuntime *d, const char *id, char *buf, size_t size)
{
        DockerLogsQuery q = {.tail = 1};
        DockerLogStream *s = NULL;
        DockerLogLine line;
        Error e = ERROR_INIT;

        *buf = '\0';
        if (docker_logs_open(d->quick, id, &q, &s, &e) < 0)
                return;
        while (docker_log_stream_read(s, &line, QUICK_TIMEOUT_MS, NULL) > 0)
                strlcpy0(buf, line.text, size);
        docker_log_stream_close(s);
}

static int docker_pooler_status(Runtime *rt, RuntimeStatus *ret)
{
        DockerRuntime *d = impl(rt);
        _cleanup_free_ char *name = pooler_name(rt->config);
        json_auto_t *info = NULL;
        Error e = ERROR_INIT;
        const json_t *state;
        long long code;
        char last[256], what[200];
        int r;

        memset(ret, 0, sizeof(*ret));
        r = pooler_lookup(d, rt->config, name, &info, &e);
        if (r == -ENOENT) {
                bufprintf(ret->detail, sizeof(ret->detail), "container %s was removed", name);
                return 0;
        }
        if (r < 0) {
                bufprintf(ret->detail, sizeof(ret->detail), "%s", e.message);
                return r;
        }
        bufprintf(ret->id, sizeof(ret->id), "%.12s", strempty(json_str(info, "Id", NULL)));
        ret->running = container_running(info);
        if (ret->running)
                return 0;
        state = json_object_get(info, "State");
        code = json_integer_value(json_object_get(state, "ExitCode"));
        if (json_is_true(json_object_get(state, "OOMKilled")))
                bufprintf(what, sizeof(what), "exited with code %lld (OOM-killed)", code);
        else if (code == 137)
                bufprintf(what, sizeof(what), "was killed (exit code 137, SIGKILL)");
        else
                bufprintf(what, sizeof(what), "exited with code %lld%s%s", code,
                          isempty(json_str(info, "State", "Error")) ? "" : ": ",
                          strempty(json_str(info, "State", "Error")));
        container_last_line(d, json_str(info, "Id", NULL), last, sizeof(last));
        bufprintf(ret->detail, sizeof(ret->detail), "container %s %s%s%s", name, what,
                  *last ? "; last log line: " : "", last);
        return 0;
}

/* ---- runtime = auto ---------------------------------------------------- */

/* Stops a probing pull as soon as the registry has answered: then a real pull would plausibly work. */
static int pull_probe_progress(const json_t *msg, void *userdata)
{
        const char *status = strempty(json_string_value(json_object_get(msg, "status")));

        /*
         * Docker says "Pulling from ..." once it has the manifest and then
         * reports layers (with an "id"); Podman's first "Trying to pull ..."
         * comes before it contacts the registry, so that one proves nothing.
         */
        if (json_object_get(msg, "id") || startswith(status, "Pulling from") ||
            startswith(status, "Digest:") || startswith(status, "Status:") ||
            startswith(status, "Getting image source") || startswith(status, "Copying"))
                return 1;
        return 0;
}

static int docker_usable(const Config *config, char *why, size_t size, Error *e)
{
        _cleanup_(docker_client_freep) DockerClient *c = NULL;
        json_auto_t *info = NULL;
        int r;

        r = docker_client_new_tls(config->docker_host, config->docker_cert_path, config->docker_tls_verify,
                                  &c, e);
        if (r < 0)
                return r;
        docker_client_set_timeout(c, USABLE_TIMEOUT_MS);
        r = docker_version(c, NULL, e);
        if (r < 0)
                return r;
        r = docker_image_inspect(c, config->image, &info, e);
        if (r >= 0) {
                snprintf(why, size, "Docker engine at %s answers and image %s is usable",
                         config->docker_host, config->image);
                return 0;
        }
        if (r != -ENOENT)
                return error_prefix(e, "cannot inspect image %s: ", config->image);
        if (streq(config->pull, "never"))
                return error_set(e, ENOENT, "image_missing", IMAGE_HINT,
                                 "image %s is not present and pull = never", config->image);
        /*
         * Try the pull for a few seconds: an offline machine fails fast (or
         * times out here), a reachable registry starts sending layers.  The
         * probe's connection closes early, which cancels it; prepare pulls.
         */
        r = docker_image_pull(c, config->image, USABLE_PULL_PROBE_MS, pull_probe_progress, NULL, e);
        if (r < 0)
                return error_prefix(e, "image %s is not present and cannot be pulled: ", config->image);
        snprintf(why, size, "Docker engine at %s answers and image %s is usable", config->docker_host,
                 config->image);
        return 0;
}

/* /health: which engine (Docker or Podman), its version and where it is. */
static void docker_describe(Runtime *rt, json_t *o)
{
        DockerRuntime *d = impl(rt);
        DockerVersion v;

        json_object_set_new(o, "engine_host", json_string(rt->config->docker_host));
        if (docker_version_cached(d->quick, &v) < 0 && docker_version_cached(d->client, &v) < 0)
                return;
        json_object_set_new(o, "engine", json_string(v.podman ? "Podman" : "Docker"));
        if (*v.version)
                json_object_set_new(o, "engine_version", json_string(v.version));
        json_object_set_new(o, "api_version", json_string(v.used_api_version));
}

/*
 * The volume is on the engine's host, which may be another machine: only the
 * container sees its file system, so ask there, with stat(1) (coreutils or
 * busybox, in every Postgres image): "AVAILABLE-BLOCKS BLOCK-SIZE".
 */
static int docker_disk_free(Runtime *rt, int64_t *ret, char *where, size_t size, Error *e)
{
        DockerRuntime *d = impl(rt);
        json_auto_t *cmd = json_pack("[s, s, s, s, s]", "stat", "-f", "-c", "%a %S", DATA_MOUNT);
        _cleanup_free_ char *out = NULL;
        char id[sizeof(d->id)];
        long long blocks, bsize;
        int r;

        id_get(d, id, sizeof(id));
        if (!*id)
                return error_set(e, ENOENT, NULL, NULL, "no container yet");
        r = docker_exec_output(d->quick, id, cmd, "postgres", 10000, &out, e);
        if (r < 0)
                return error_prefix(e, "asking container %s for its free space: ", d->container);
        if (sscanf(out, "%lld %lld", &blocks, &bsize) != 2 || blocks < 0 || bsize <= 0)
                return error_set(e, EIO, NULL, NULL, "`stat -f %s` in container %s said: %.80s", DATA_MOUNT,
                                 d->container, out);
        *ret = (int64_t) blocks * bsize;
        snprintf(where, size, "the volume %s on the Docker engine's host", d->volume);
        return 0;
}

const RuntimeOps runtime_docker_ops = {
        .name = "docker",
        .owns_server = true,
        .usable = docker_usable,
        .init = docker_init,
        .prepare = docker_prepare,
        .start = docker_start,
        .stop = docker_stop,
        .status = docker_status,
        .logs_open = docker_logs_open_op,
        .remove = docker_remove,
        .disk_free = docker_disk_free,
        .repair_auth = docker_repair_auth,
        .describe = docker_describe,
        .pooler_start = docker_pooler_start,
        .pooler_status = docker_pooler_status,
        .pooler_stop = docker_pooler_stop,
        .free = docker_free,
};
