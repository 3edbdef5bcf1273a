/*
 * t_pidfile.c: the pid file lock (src/pidfile.c): a second holder is
 * refused with the first one's pid, a file left by a dead process is taken
 * over, and release removes the file.
 */
#include "pidfile.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	const char *dir = tu_tmpdir("pidfile");
	char path[256], why[512], want[64];

	snprintf(path, sizeof(path), "%s/run/g1.pid", dir);
	int fd = pidfile_acquire(path, why, sizeof(why));
	ok(fd >= 0, "first daemon takes the pid file, making its folder (%s)", fd < 0 ? why : "ok");
	char *text = tu_read_file(path, NULL);
	snprintf(want, sizeof(want), "%d\n", (int)getpid());
	is_str(text, want, "the file holds our pid");
	free(text);

	pid_t child = fork();
	if (child == 0) {
		char cwhy[512];
		int rc = pidfile_acquire(path, cwhy, sizeof(cwhy));
		char expect[64];
		snprintf(expect, sizeof(expect), "locked by pid %d", (int)getppid());
		_exit(rc == -EEXIST && strstr(cwhy, expect) ? 0 : 1);
	}
	int status;
	waitpid(child, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a second daemon is refused, naming the first's pid");
	is_int(pidfile_acquire(path, why, sizeof(why)), -EEXIST, "also from the same process (another open file)");
	text = tu_read_file(path, NULL);
	is_str(text, want, "the refused attempt did not touch the file");
	free(text);

	pidfile_release(fd, path);
	ok(!tu_file_exists(path), "release removes the file");

	/* A daemon that died: its file stays, unlocked. */
	child = fork();
	if (child == 0) {
		char cwhy[512];
		_exit(pidfile_acquire(path, cwhy, sizeof(cwhy)) >= 0 ? 0 : 1);
	}
	waitpid(child, &status, 0);
	ok(tu_file_exists(path), "a dead daemon's pid file remains");
	fd = pidfile_acquire(path, why, sizeof(why));
	ok(fd >= 0, "and is taken over (%s)", fd < 0 ? why : "ok");
	is_int(pidfile_write(fd, 4242), 0, "pidfile_write after a fork");
	text = tu_read_file(path, NULL);
	is_str(text, "4242\n", "rewrites the pid");
	free(text);
	pidfile_release(fd, path);
	return tap_done();
}
