/* SPDX-License-Identifier: MIT */
/* runtime.c -- choosing a runtime, plus the checks both runtimes share. */

#include "runtime.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include "config.h"
#include "log.h"

static int runtime_new_with(const RuntimeOps *ops, const Config *config, const char *why, Runtime **ret,
                            Error *e)
{
        Runtime *rt = xcalloc(1, sizeof(Runtime));
        int r;

        rt->ops = ops;
        rt->config = config;
        strlcpy0(rt->why, why, sizeof(rt->why));
        r = ops->init(rt, e);
        if (r < 0) {
                free(rt);
                return r;
        }
        *ret = rt;
        return 0;
}

int runtime_new(const Config *config, Runtime **ret, Error *e)
{
        Error docker_err = ERROR_INIT;
        char why[256];

        if (streq(config->runtime, "embedded"))
                return runtime_new_with(&runtime_embedded_ops, config, "configured: runtime = embedded", ret,
                                        e);
        if (streq(config->runtime, "docker"))
                return runtime_new_with(&runtime_docker_ops, config, "configured: runtime = docker", ret, e);

        /* auto: Docker when it can work here, else the local binaries. */
        if (runtime_docker_usable(config, &docker_err) == 0) {
                snprintf(why, sizeof(why), "auto: Docker engine at %s answers and image %s is usable",
                         config->docker_host, config->image);
                return runtime_new_with(&runtime_docker_ops, config, why, ret, e);
        }
        snprintf(why, sizeof(why), "auto: Docker not usable (%s)", docker_err.message);
        return runtime_new_with(&runtime_embedded_ops, config, why, ret, e);
}

void runtime_free(Runtime *rt)
{
        if (!rt)
                return;
        if (rt->ops->free)
                rt->ops->free(rt);
        free(rt);
}

int runtime_repair_auth(Runtime *rt, Error *e)
{
        const Config *c = rt->config;
        Error inner = ERROR_INIT;
        int r = -EOPNOTSUPP;

        if (rt->ops->repair_auth)
                r = rt->ops->repair_auth(rt, &inner);
        if (r >= 0)
                return 0;
        return error_set(
                e, EACCES, "password_mismatch",
                "Set PGSEED_PG_PASSWORD (or [postgres] password / password_file) back to the password "
                "the data was created with, or start afresh without the old data (`pgseedctl down "
                "--volumes`, which deletes it).",
                "Postgres refuses the configured password for role %s: its data (%s runtime) was "
                "created with another PGSEED_PG_PASSWORD, and pgseedd could not set it (%s)",
                c->pg_user, rt->ops->name, r == -EOPNOTSUPP ? "this runtime cannot" : inner.message);
}

int64_t disk_free_bytes(const char *path)
{
        struct statvfs sv;

        if (statvfs(path, &sv) < 0)
                return -errno;
        return (int64_t) sv.f_bavail * (int64_t) sv.f_frsize;
}

bool runtime_explain_failure(Runtime *rt, const char *failure, char *ret, size_t size)
{
        if (!rt || (failure && strstr(failure, RUNTIME_DISK_FULL)))
                return false;
        if (rt->ops->explain_failure)
                return rt->ops->explain_failure(rt, failure ? failure : "", ret, size);
        /* A runtime that cannot look at the disk itself still recognises the server's words. */
        if (failure && strstr(failure, "No space left on device")) {
                snprintf(ret, size,
                         "No space left on device where Postgres keeps its data (" RUNTIME_DISK_FULL
                         "); free space there (for Docker: the engine's data root or the volume)");
                return true;
        }
        return false;
}

int port_check_free(int port, const char *what, const char *setting, Error *e)
{
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
        int one = 1;

        if (fd < 0)
                return error_set(e, errno, NULL, NULL, "Cannot create a socket: %s", strerror(errno));
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* SO_REUSEADDR as the real listener will use it, so TIME_WAIT leftovers do not count as taken. */
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno == EADDRINUSE)
                        return error_set(
                                e, EADDRINUSE, "port_in_use", NULL,
                                "Port %d on 127.0.0.1 (%s) is already in use. See who holds it with "
                                "`ss -ltnp 'sport = :%d'`, stop it, or set %s to a free port.",
                                port, what, port, setting);
                return error_set(e, errno, NULL, NULL, "Cannot bind 127.0.0.1:%d for %s: %s", port, what,
                                 strerror(errno));
        }
        return 0;
}

int pgconf_load(const char *path, char ***ret, Error *e)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **v = NULL;
        size_t n = 0;
        unsigned lineno = 0;
        int r;

        r = read_full_file(path, &text, NULL);
        if (r < 0)
                return error_set(e, -r, "invalid_config", "Set PGSEED_PG_CONF to an existing file.",
                                 "Cannot read Postgres settings %s: %s", path, strerror(-r));
        v = xcalloc(1, sizeof(char *));
        for (char *line = text, *next; line; line = next) {
                char *eq, *name, *value;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                line = strstrip(line);
                if (!*line || *line == '#')
                        continue;
                eq = strchr(line, '=');
                if (!eq)
                        return error_set(e, EINVAL, "invalid_config", "Write settings as 'name = value'.",
                                         "%s:%u: expected 'name = value', got '%s'", path, lineno, line);
                *eq = '\0';
                name = strstrip(line);
                value = strstrip(eq + 1);
                for (const char *p = name; *p; p++)
                        if (!(isalnum((unsigned char) *p) || *p == '_' || *p == '.'))
                                return error_set(e, EINVAL, "invalid_config", NULL,
                                                 "%s:%u: '%s' is not a setting name", path, lineno, name);
                if (*value == '\'') {
                        /* Single-quoted values: strip the quotes, keep any trailing comment out. */
                        char *end = strchr(value + 1, '\'');
                        if (!end)
                                return error_set(e, EINVAL, "invalid_config", NULL,
                                                 "%s:%u: unterminated quote in value of %s", path, lineno,
                                                 name);
                        *end = '\0';
                        value++;
                } else {
                        char *hash = strchr(value, '#');
                        if (hash)
                                *hash = '\0';
                        value = strstrip(value);
                }
                if (!*name || !*value)
                        return error_set(e, EINVAL, "invalid_config", NULL, "%s:%u: empty name or value",
                                         path, lineno);
                v = xrealloc(v, (n + 2) * sizeof(char *));
                v[n++] = xasprintf("%s=%s", name, value);
                v[n] = NULL;
        }
        *ret = TAKE_PTR(v);
        return 0;
}
