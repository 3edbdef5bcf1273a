/*
 * pidfile.c: a locked pid file (pidfile.h).
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int pidfile_make_folder(const char *path)
{
	char dir[4096];

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	char *slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int pidfile_write(int fd, pid_t pid)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d\n", (int)pid);

	if (ftruncate(fd, 0) < 0)
		return -errno;
	if (pwrite(fd, text, (size_t)n, 0) != n)
		return errno ? -errno : -EIO;
	return 0;
}

int pidfile_acquire(const char *path, char *why, size_t why_len)
{
	int rc = pidfile_make_folder(path);

	if (rc < 0) {
		snprintf(why, why_len, "pid file %s: cannot make its folder: %s", path, strerror(-rc));
		return rc;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, why_len, "pid file %s: %s", path, strerror(errno));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		if (errno == EWOULDBLOCK) {
			char text[32] = "";
			ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
			text[n > 0 ? n : 0] = '\0';
			text[strcspn(text, "\n")] = '\0';
			snprintf(why, why_len, "pid file %s is locked by pid %s: another ssfmd runs for this group on this host",
			    path, text[0] ? text : "(unknown)");
			rc = -EEXIST;
		} else {
			snprintf(why, why_len, "pid file %s: flock: %s", path, strerror(errno));
		}
		close(fd);
		return rc;
	}
	rc = pidfile_write(fd, getpid());
	if (rc < 0) {
		snprintf(why, why_len, "pid file %s: write: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

void pidfile_release(int fd, const char *path)
{
	if (fd < 0)
		return;
	/* Unlinked while still locked: a daemon starting now either sees the
	 * old file locked or makes a new one. */
	unlink(path);
	close(fd);
}
