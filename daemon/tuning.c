/* SPDX-License-Identifier: MIT */
/* tuning.c -- memory sizing and WAL archiving as server settings, after the settings file's. */

#include "tuning.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "tls.h"
#include "util.h"

static void strv_push(char ***v, char *s)
{
        size_t n = 0;

        while (*v && (*v)[n])
                n++;
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = s;
        (*v)[n + 1] = NULL;
}

/* archive_command is run by a shell: only plain path characters, so nothing needs quoting. */
static bool plain_path(const char *p)
{
        if (*p != '/')
                return false;
        for (; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("/._-", *p))
                        return false;
        return true;
}

int tuning_append_settings(const Config *c, bool in_container, char ***settings, Error *e)
{
        int64_t mb;
        int r;

        if (config_parse_memory(c->pg_memory, &mb) < 0)
                return error_set(e, EINVAL, "invalid_config", "Use a size such as 512MB or 2GB, or auto.",
                                 "[postgres] memory = '%s' is not a memory size", c->pg_memory);
        if (mb > 0) {
                /*
                 * The usual split of a budget: a quarter for shared buffers, what the
                 * planner may assume cached, an eighth (at most 2 GB) for index builds
                 * and VACUUM, and per-sort memory that 16 busy sessions can afford.
                 */
                int64_t maint = mb / 8 > 2048 ? 2048 : mb / 8, work = mb / 64 < 4 ? 4 : mb / 64;
                strv_push(settings, xasprintf("shared_buffers=%lldMB", (long long) (mb / 4)));
                strv_push(settings, xasprintf("effective_cache_size=%lldMB", (long long) (mb * 3 / 4)));
                strv_push(settings, xasprintf("maintenance_work_mem=%lldMB", (long long) maint));
                strv_push(settings, xasprintf("work_mem=%lldMB", (long long) work));
        }
        if (!isempty(c->pg_wal_archive_dir)) {
                const char *dir = c->pg_wal_archive_dir;
                if (!plain_path(dir))
                        return error_set(e, EINVAL, "invalid_config",
                                         "Use an absolute path of letters, digits and / . _ - only.",
                                         "[postgres] wal_archive_dir = '%s' is not a plain absolute path",
                                         dir);
                r = mkdir_p(dir, 0700);
                if (r < 0)
                        return error_set(e, -r, "state_dir", NULL, "Cannot create %s: %s", dir,
                                         strerror(-r));
                /* A container's entrypoint hands its mount of the directory to its own postgres user. */
                if (geteuid() == 0 && !in_container) {
                        struct passwd *pw = getpwnam("postgres");
                        if (pw && chown(dir, pw->pw_uid, pw->pw_gid) < 0)
                                return error_set(e, errno, "state_dir", NULL,
                                                 "Cannot hand %s to the postgres user: %m", dir);
                }
                if (in_container)
                        dir = TUNING_CONTAINER_ARCHIVE_DIR;
                strv_push(settings, xstrdup("archive_mode=on"));
                /* Never overwrite a segment already archived: a second copy would hide a bug. */
                strv_push(settings,
                          xasprintf("archive_command=test ! -f %s/%%f && cp %%p %s/%%f", dir, dir));
        }
        _cleanup_strv_free_ char **tls = tls_postgres_settings(c, in_container ? TLS_CONTAINER_DIR : NULL);
        for (char **s = tls; *s; s++)
                strv_push(settings, xstrdup(*s));
        return 0;
}
