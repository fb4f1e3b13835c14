/* SPDX-License-Identifier: MIT */
/* runtime-common.c -- what the runtimes share below the registry: port and disk checks, pg_conf. */

#include "runtime-common.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util.h"

int64_t disk_free_bytes(const char *path)
{
        struct statvfs sv;

        if (statvfs(path, &sv) < 0)
                return -errno;
        return (int64_t) sv.f_bavail * (int64_t) sv.f_frsize;
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

char **child_environment(void)
{
        extern char **environ;
        static const char *const dropped_prefixes[] = {"PGSEED_",        "PGPASSWORD=",     "PGPASSFILE=",
                                                       "NOTIFY_SOCKET=", "WATCHDOG_",       "LISTEN_FDS=",
                                                       "LISTEN_PID=",    "LISTEN_FDNAMES=", NULL};
        size_t n = 0;
        char **v;

        for (char **p = environ; p && *p; p++)
                n++;
        v = xcalloc(n + 1, sizeof(char *));
        n = 0;
        for (char **p = environ; p && *p; p++) {
                bool drop = false;
                for (const char *const *d = dropped_prefixes; *d && !drop; d++)
                        drop = startswith(*p, *d) != NULL;
                if (!drop)
                        v[n++] = xstrdup(*p);
        }
        return v;
}

void child_setup(int out_fd, bool drop, uid_t uid, gid_t gid)
{
        sigset_t none;
        int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

        /* pgseedd blocks its termination signals in every thread (they go to sigwait); undo that. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);

        if (devnull >= 0)
                dup2(devnull, STDIN_FILENO);
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);

        if (drop && (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)) {
                dprintf(STDERR_FILENO, "pgseedd: cannot switch to uid %u: %m\n", (unsigned) uid);
                _exit(126);
        }
        setpgid(0, 0);
}
