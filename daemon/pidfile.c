/* SPDX-License-Identifier: MIT */
/* pidfile.c -- the pidfile that doubles as the state directory's lock. */

#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

/*
 * The classic race of a lock file that is removed on exit: B opens the path
 * while A still holds it, A unlinks and closes, B's flock on the now
 * nameless inode succeeds, and C creates a new file under the name and locks
 * that too: two holders.  So after flock we check that the path still names
 * the inode we locked, and start over when it does not.  The holder unlinks
 * before it closes, so whoever sees the path gone or replaced knows to retry.
 */
int pidfile_acquire(const char *state_dir, int *ret_fd, Error *e)
{
        _cleanup_free_ char *path = xasprintf("%s/pgseedd.pid", state_dir);
        char buf[32];
        int r;

        r = mkdir_p(state_dir, 0755);
        if (r < 0)
                return error_set(e, -r, "state_dir", "Set PGSEED_STATE_DIR to a writable directory.",
                                 "Cannot create state directory %s: %s", state_dir, strerror(-r));
        for (;;) {
                _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
                struct stat by_fd, by_path;

                if (fd < 0)
                        return error_set(e, errno, "state_dir", NULL, "Cannot open %s: %m", path);
                if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
                        buf[n > 0 ? n : 0] = '\0';
                        buf[strcspn(buf, "\n")] = '\0';
                        return error_set(e, EBUSY, "already_running",
                                         "Stop it first (`pgseedctl stop`), or give this one its own "
                                         "PGSEED_STATE_DIR.",
                                         "Another pgseedd (pid %s) is running with state directory %s",
                                         *buf ? buf : "unknown", state_dir);
                }
                if (fstat(fd, &by_fd) < 0)
                        return error_set(e, errno, NULL, NULL, "Cannot stat %s: %m", path);
                if (stat(path, &by_path) < 0 || by_path.st_ino != by_fd.st_ino ||
                    by_path.st_dev != by_fd.st_dev)
                        continue; /* we locked a file its holder just removed: take the new one */
                snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
                if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) < 0)
                        return error_set(e, errno, NULL, NULL, "Cannot write %s: %m", path);
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
}

void pidfile_release(const char *state_dir, int fd)
{
        _cleanup_free_ char *path = NULL;

        if (fd < 0)
                return;
        path = xasprintf("%s/pgseedd.pid", state_dir);
        /* Unlink while still holding the lock: see pidfile_acquire() for why this is safe. */
        unlink(path);
        close(fd);
}
