/* SPDX-License-Identifier: MIT */
/* tls.c -- the server certificate: a private CA made once with the openssl command, or the user's files. */

#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define CERT_DAYS "825" /* what browsers and most clients accept for a server certificate */
#define CA_DAYS   "3650"

static char *tls_dir(const Config *c)
{
        return xasprintf("%s/tls", c->state_dir);
}

char *tls_cert_path(const Config *c)
{
        return xasprintf("%s/tls/server.crt", c->state_dir);
}

char *tls_key_path(const Config *c)
{
        return xasprintf("%s/tls/server.key", c->state_dir);
}

char *tls_ca_path(const Config *c)
{
        if (!isempty(c->pg_tls_ca_file))
                return xstrdup(c->pg_tls_ca_file);
        if (!isempty(c->pg_tls_cert_file))
                return NULL;
        return xasprintf("%s/tls/ca.crt", c->state_dir);
}

static char *hba_path(const Config *c)
{
        return xasprintf("%s/tls/pg_hba.conf", c->state_dir);
}

size_t tls_server_files(const Config *c, const char *ret[TLS_SERVER_FILES_MAX])
{
        size_t n = 0;

        if (!config_tls_enabled(c))
                return 0;
        ret[n++] = "server.crt";
        ret[n++] = "server.key";
        if (streq(c->pg_tls, "require"))
                ret[n++] = "pg_hba.conf";
        return n;
}

char **tls_postgres_settings(const Config *c, const char *dir)
{
        char **v = xcalloc(5, sizeof(char *));
        _cleanup_free_ char *own = dir ? NULL : tls_dir(c);
        size_t n = 0;

        if (!config_tls_enabled(c))
                return v;
        if (!dir)
                dir = own;
        v[n++] = xstrdup("ssl=on");
        v[n++] = xasprintf("ssl_cert_file=%s/server.crt", dir);
        v[n++] = xasprintf("ssl_key_file=%s/server.key", dir);
        if (streq(c->pg_tls, "require"))
                v[n++] = xasprintf("hba_file=%s/pg_hba.conf", dir);
        return v;
}

/* Runs openssl with argv (argv[0] "openssl"), output appended to log; 0 or -errno with e. */
static int run_openssl(char *const argv[], const char *log, Error *e)
{
        _cleanup_close_ int out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int status;
        pid_t pid;

        if (out < 0)
                return error_set(e, errno, NULL, NULL, "Cannot open %s: %m", log);
        pid = fork();
        if (pid < 0)
                return error_set(e, errno, NULL, NULL, "fork: %m");
        if (pid == 0) {
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                dup2(out, STDOUT_FILENO);
                dup2(out, STDERR_FILENO);
                execvp(argv[0], argv);
                dprintf(STDERR_FILENO, "pgseedd: cannot execute openssl: %m\n");
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(e, errno, NULL, NULL, "waitpid: %m");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return error_set(
                        e, ENOENT, "openssl_missing",
                        "Install it (Debian: apt-get install openssl), or give your own certificate "
                        "with PGSEED_PG_TLS_CERT_FILE and PGSEED_PG_TLS_KEY_FILE.",
                        "Cannot make a TLS certificate: the openssl command is not installed");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return error_set(e, EIO, "tls_failed", NULL, "openssl %s failed (its output is in %s)",
                                 argv[1], log);
        return 0;
}

/* A CA and a server certificate it signs, made in dir (a new, empty directory). */
static int make_certificates(const Config *c, const char *dir, Error *e)
{
        _cleanup_free_ char *ca_key = xasprintf("%s/ca.key", dir), *ca_crt = xasprintf("%s/ca.crt", dir);
        _cleanup_free_ char *key = xasprintf("%s/server.key", dir), *csr = xasprintf("%s/server.csr", dir);
        _cleanup_free_ char *crt = xasprintf("%s/server.crt", dir), *ext = xasprintf("%s/server.ext", dir);
        _cleanup_free_ char *log = xasprintf("%s/openssl.log", dir), *serial = xasprintf("%s/ca.srl", dir);
        _cleanup_free_ char *ca_subject = xasprintf("/CN=pgseed private CA (%s)", c->instance);
        static const char ext_text[] = "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n"
                                       "basicConstraints = critical, CA:FALSE\n"
                                       "keyUsage = critical, digitalSignature, keyEncipherment\n"
                                       "extendedKeyUsage = serverAuth\n";
        /* P-256 keys: made in milliseconds, accepted by every libpq and JDBC driver. */
        char *ca_argv[] = {"openssl",
                           "req",
                           "-x509",
                           "-new",
                           "-newkey",
                           "ec",
                           "-pkeyopt",
                           "ec_paramgen_curve:prime256v1",
                           "-nodes",
                           "-keyout",
                           ca_key,
                           "-out",
                           ca_crt,
                           "-days",
                           CA_DAYS,
                           "-subj",
                           ca_subject,
                           "-addext",
                           "basicConstraints=critical,CA:TRUE",
                           "-addext",
                           "keyUsage=critical,keyCertSign,cRLSign",
                           NULL};
        char *csr_argv[] = {
                "openssl", "req",     "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes",  "-keyout", key,    "-out",    csr,  "-subj",    "/CN=localhost",
                NULL};
        char *sign_argv[] = {"openssl", "x509",   "-req",  "-in",       csr,       "-CA",
                             ca_crt,    "-CAkey", ca_key,  "-CAserial", serial,    "-CAcreateserial",
                             "-out",    crt,      "-days", CERT_DAYS,   "-sha256", "-extfile",
                             ext,       NULL};
        int r;

        r = write_file_atomic(ext, ext_text, strlen(ext_text), 0600);
        if (r < 0)
                return error_set(e, -r, NULL, NULL, "Cannot write %s: %s", ext, strerror(-r));
        if ((r = run_openssl(ca_argv, log, e)) < 0 || (r = run_openssl(csr_argv, log, e)) < 0 ||
            (r = run_openssl(sign_argv, log, e)) < 0)
                return r;
        unlink(csr);
        unlink(ext);
        return 0;
}

/* Copies src to dst with mode (for the user's own certificate and key). */
static int copy_file(const char *src, const char *dst, unsigned mode, Error *e)
{
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = read_full_file(src, &text, &len);

        if (r < 0)
                return error_set(e, -r, "invalid_config", "Check [postgres] tls_cert_file and tls_key_file.",
                                 "Cannot read %s: %s", src, strerror(-r));
        r = write_file_atomic(dst, text, len, mode);
        explicit_bzero(text, len);
        if (r < 0)
                return error_set(e, -r, NULL, NULL, "Cannot write %s: %s", dst, strerror(-r));
        return 0;
}

/* The private CA and the server certificate in STATE_DIR/tls, made unless both are there already. */
static int generate_if_missing(const Config *c, Error *e)
{
        _cleanup_free_ char *dir = tls_dir(c), *cert = tls_cert_path(c);
        _cleanup_free_ char *ca = xasprintf("%s/ca.crt", dir);
        int r;

        if (access(ca, F_OK) == 0 && access(cert, F_OK) == 0)
                return 0;
        _cleanup_free_ char *tmp = xasprintf("%s.new", dir);
        rm_rf(tmp);
        r = mkdir_p(tmp, 0700);
        if (r < 0)
                return error_set(e, -r, "state_dir", NULL, "Cannot create %s: %s", tmp, strerror(-r));
        r = make_certificates(c, tmp, e);
        if (r < 0)
                return r;
        rm_rf(dir);
        /* Only a complete set gets the real name. */
        if (rename(tmp, dir) < 0)
                return error_set(e, errno, NULL, NULL, "Cannot rename %s to %s: %m", tmp, dir);
        log_info("tls", "Made a private CA (%s) and a certificate for localhost and 127.0.0.1", ca);
        return 0;
}

int tls_prepare_api(const Config *c, Error *e)
{
        _cleanup_free_ char *dir = tls_dir(c), *key = tls_key_path(c);
        int r;

        if (!config_api_tls_enabled(c) || !isempty(c->api_tls_cert) || !isempty(c->pg_tls_cert_file))
                return 0;
        r = generate_if_missing(c, e);
        if (r < 0)
                return r;
        /* Clients read ca.crt: the directory is open, the key in it is not. */
        if (chmod(dir, 0755) < 0 || chmod(key, 0600) < 0)
                return error_set(e, errno, "tls_failed", NULL, "Cannot chmod the TLS files in %s: %m", dir);
        return 0;
}

int tls_prepare(const Config *c, const char *runtime, Error *e)
{
        _cleanup_free_ char *dir = tls_dir(c), *cert = tls_cert_path(c), *key = tls_key_path(c);
        _cleanup_free_ char *hba = hba_path(c);
        uid_t uid = geteuid();
        gid_t gid = getegid();
        /* A container's server reads copies that its entrypoint hands to its own postgres user. */
        bool container = streq(runtime, "docker");
        int r;

        if (!config_tls_enabled(c))
                return 0;
        /* The server (and PgBouncer) read the key as the postgres user when pgseedd runs as root. */
        if (uid == 0) {
                struct passwd *pw = getpwnam("postgres");
                if (pw) {
                        uid = pw->pw_uid;
                        gid = pw->pw_gid;
                }
        }
        if (isempty(c->pg_tls_cert_file)) {
                r = generate_if_missing(c, e);
                if (r < 0)
                        return r;
        }
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return error_set(e, -r, "state_dir", NULL, "Cannot create %s: %s", dir, strerror(-r));
        if (!isempty(c->pg_tls_cert_file)) {
                r = copy_file(c->pg_tls_cert_file, cert, 0644, e);
                if (r == 0)
                        r = copy_file(c->pg_tls_key_file, key, 0600, e);
                if (r < 0)
                        return r;
        }
        if (streq(c->pg_tls, "require")) {
                /* Local (socket) connections stay trusted: the embedded runtime repairs passwords that way.
                 */
                static const char text[] =
                        "# Written by pgseedd ([postgres] tls = require): TCP clients only over TLS.\n"
                        "local   all          all                  trust\n"
                        "local   replication  all                  trust\n"
                        "hostssl all          all   127.0.0.1/32   scram-sha-256\n"
                        "hostssl all          all   ::1/128        scram-sha-256\n"
                        "hostssl replication  all   127.0.0.1/32   scram-sha-256\n"
                        "hostssl replication  all   ::1/128        scram-sha-256\n";
                /*
                 * In a container the server listens where the runtime lets it
                 * (the host's loopback, or the container's interfaces behind a
                 * port published on the loopback): clients of a published port
                 * come from the bridge's gateway.
                 */
                static const char container_text[] =
                        "# Written by pgseedd ([postgres] tls = require): TCP clients only over TLS.\n"
                        "local   all          all                  trust\n"
                        "local   replication  all                  trust\n"
                        "hostssl all          all   all            scram-sha-256\n"
                        "hostssl replication  all   all            scram-sha-256\n";
                const char *t = container ? container_text : text;
                r = write_file_atomic(hba, t, strlen(t), 0600);
                if (r < 0)
                        return error_set(e, -r, NULL, NULL, "Cannot write %s: %s", hba, strerror(-r));
        }
        /* Clients read ca.crt: the directory is open, the keys in it are not. */
        if (chmod(dir, 0755) < 0)
                return error_set(e, errno, "tls_failed", NULL, "Cannot chmod %s: %m", dir);
        /* Postgres wants its key owned by itself (or root) and 0600. */
        if (chmod(key, 0600) < 0 || chown(key, uid, gid) < 0 || chown(cert, uid, gid) < 0 ||
            (streq(c->pg_tls, "require") && chown(hba, uid, gid) < 0) || chown(dir, uid, gid) < 0)
                return error_set(e, errno, "tls_failed", NULL,
                                 "Cannot hand the TLS files in %s to uid %u: %m", dir, (unsigned) uid);
        return 0;
}
