/*
 * pidfile.h: the daemon's pid file, locked while it runs, so that a second
 * ssfmd for the same group on the same host refuses to start.
 *
 * The lock is flock(2) on the open file: the kernel drops it when the
 * daemon dies however it dies, so a pid file left by a crashed daemon is
 * simply taken over (its pid is not trusted: pids are reused).
 */
#ifndef SSFM_PIDFILE_H
#define SSFM_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Opens and locks path (creating its folder, one level, mode 0755, when
 * missing) and writes our pid.  Returns the open descriptor (keep it open
 * while running; it is close-on-exec), or a negative errno with why filled:
 * -EEXIST when another process holds the lock (why names its pid).
 */
int pidfile_acquire(const char *path, char *why, size_t why_len);
/* Rewrites the pid, for a daemon that forked after pidfile_acquire. */
int pidfile_write(int fd, pid_t pid);
/* Removes the file and drops the lock. */
void pidfile_release(int fd, const char *path);

#endif
