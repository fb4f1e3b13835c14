/* SPDX-License-Identifier: MIT */
/* ctl-daemon.c -- the local pgseedd: where its binary is, its configuration, whether it runs, why it gave
 * up. */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "ctl-daemon.h"
#include "util.h"

/* ---- finding pgseedd ------------------------------------------------------- */

static bool is_executable(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *pgseedd_find(void)
{
        const char *env = getenv("PGSEEDD"), *path;
        char self[PATH_MAX];
        ssize_t n;

        /* An explicit choice is kept even when it is wrong, so that running it reports the mistake. */
        if (!isempty(env))
                return xstrdup(env);

        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                const char *dir = dirname(self);
                /* build/client/pgseedctl sits next to build/daemon/pgseedd; installed, both are in bin/. */
                const char *const rel[] = {"../daemon/pgseedd", "pgseedd"};
                for (size_t i = 0; i < ELEMENTSOF(rel); i++) {
                        _cleanup_free_ char *p = xasprintf("%s/%s", dir, rel[i]);
                        if (is_executable(p))
                                return TAKE_PTR(p);
                }
        }

        path = getenv("PATH");
        if (isempty(path))
                path = "/usr/local/bin:/usr/bin:/bin";
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *p = xasprintf("%s/pgseedd", *d ? d : ".");
                if (is_executable(p))
                        return TAKE_PTR(p);
        }
        return NULL;
}

/* ---- running pgseedd for an answer ------------------------------------------------ */

/* Reads fd to EOF into a growing buffer; returns false on a read error other than EINTR. */
static bool buffer_fill(int fd, char **buf, size_t *len, size_t *cap, bool *eof)
{
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0)
                return errno == EINTR || errno == EAGAIN;
        if (n == 0) {
                *eof = true;
                return true;
        }
        if (*len + (size_t) n + 1 > *cap) {
                *cap = (*len + (size_t) n + 1) * 2;
                *buf = xrealloc(*buf, *cap);
        }
        memcpy(*buf + *len, chunk, (size_t) n);
        *len += (size_t) n;
        (*buf)[*len] = '\0';
        return true;
}

/*
 * Runs argv (no shell; the environment passes through) with stdin from
 * /dev/null, collecting stdout and stderr.  Returns 0 with the wait status,
 * or -errno when it could not be run at all.
 */
static int run_capture(char *const argv[], char **ret_out, char **ret_err, int *ret_status, Error *e)
{
        int out[2] = {-1, -1}, err[2] = {-1, -1}, status = 0;
        _cleanup_free_ char *obuf = xstrdup(""), *ebuf = xstrdup("");
        size_t olen = 0, ocap = 1, elen = 0, ecap = 1;
        bool oeof = false, eeof = false;
        pid_t pid;

        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                int r = errno;
                if (out[0] >= 0) {
                        close(out[0]);
                        close(out[1]);
                }
                return error_set(e, r, NULL, NULL, "Cannot create a pipe: %s", strerror(r));
        }
        pid = fork();
        if (pid < 0) {
                int r = errno;
                close(out[0]), close(out[1]), close(err[0]), close(err[1]);
                return error_set(e, r, NULL, NULL, "Cannot fork: %s", strerror(r));
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY);
                if (null >= 0)
                        dup2(null, STDIN_FILENO);
                dup2(out[1], STDOUT_FILENO);
                dup2(err[1], STDERR_FILENO);
                execv(argv[0], argv);
                dprintf(STDERR_FILENO, "pgseedd: cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(out[1]);
        close(err[1]);

        /* Both pipes at once: a child that fills one while we block on the other would hang us both. */
        while (!oeof || !eeof) {
                struct pollfd p[2] = {{.fd = oeof ? -1 : out[0], .events = POLLIN},
                                      {.fd = eeof ? -1 : err[0], .events = POLLIN}};
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                        break;
                if (!oeof && p[0].revents && !buffer_fill(out[0], &obuf, &olen, &ocap, &oeof))
                        oeof = true;
                if (!eeof && p[1].revents && !buffer_fill(err[0], &ebuf, &elen, &ecap, &eeof))
                        eeof = true;
        }
        close(out[0]);
        close(err[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(e, errno, NULL, NULL, "Cannot wait for %s: %m", argv[0]);
        *ret_out = TAKE_PTR(obuf);
        *ret_err = TAKE_PTR(ebuf);
        *ret_status = status;
        return 0;
}

int start_error_parse(const char *text, Error *e)
{
        const char *line = text, *msg = NULL, *hint = NULL;
        size_t msg_len = 0, hint_len = 0;

        while (line && *line) {
                const char *end = strchrnul(line, '\n'), *p;
                if ((p = startswith(line, "pgseedd: "))) {
                        msg = p;
                        msg_len = (size_t) (end - p);
                        hint = NULL;
                } else if (msg && !hint && (p = startswith(line, "  hint: "))) {
                        hint = p;
                        hint_len = (size_t) (end - p);
                }
                line = *end ? end + 1 : NULL;
        }
        if (!msg)
                return -ENOENT;
        error_set(e, EIO, "pgseedd_failed", NULL, "%.*s", (int) msg_len, msg);
        if (hint)
                bufprintf(e->hint, sizeof(e->hint), "%.*s", (int) hint_len, hint);
        return 0;
}

int pgseedd_print_config(const char *pgseedd, json_t **ret, Error *e)
{
        char *argv[] = {(char *) pgseedd, "--print-config=json", NULL};
        _cleanup_free_ char *out = NULL, *err = NULL;
        json_error_t jerr;
        json_t *j;
        int status, r;

        r = run_capture(argv, &out, &err, &status, e);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                Error inner = ERROR_INIT;
                if (start_error_parse(err, &inner) < 0)
                        error_set(&inner, EIO, NULL, NULL, "%s",
                                  isempty(strstrip(err)) ? "no message" : err);
                *e = inner;
                e->errnum = WIFEXITED(status) && WEXITSTATUS(status) == 2 ? EINVAL : EIO;
                if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                        return error_prefix(e, "Cannot use %s (PGSEEDD?): ", pgseedd);
                return error_prefix(e, "pgseedd cannot read its configuration: ");
        }
        j = json_loads(out, 0, &jerr);
        if (!json_is_object(j)) {
                json_decref(j);
                return error_set(e, EBADMSG, NULL, "Is PGSEEDD pointing at pgseedd?",
                                 "`%s --print-config=json` did not print a JSON object", pgseedd);
        }
        *ret = j;
        return 0;
}

char *api_url_from_listen(const char *listen)
{
        return config_listen_url(listen, false);
}

/* ---- the pidfile ------------------------------------------------------------ */

int pgseedd_running(const char *state_dir, pid_t *ret_pid)
{
        _cleanup_free_ char *path = xasprintf("%s/pgseedd.pid", state_dir);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[32];
        int64_t pid = 0;
        ssize_t n;

        *ret_pid = 0;
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        /* pgseedd holds LOCK_EX for its lifetime; if a shared lock is free, the file is left over. */
        if (flock(fd, LOCK_SH | LOCK_NB) == 0)
                return 0;
        if (errno != EWOULDBLOCK)
                return -errno;
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        if (parse_int64(strstrip(buf), 1, INT_MAX, &pid) == 0)
                *ret_pid = (pid_t) pid;
        return 1;
}
