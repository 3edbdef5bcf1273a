/*
 * t_sdnotify: src/sdnotify.c speaks systemd's notify protocol: nothing when
 * NOTIFY_SOCKET is unset, one datagram to a path or an abstract ("@")
 * socket, errors for an unusable address; and sdnotify_role sends READY=1
 * once, on leaving JOINING, STOPPING=1 on STOPPED, STATUS=<role> always.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "tap.h"
#include "testutil.h"

/* A datagram socket bound at path ("@name": abstract); -1 on failure. */
static int listener(const char *path)
{
	struct sockaddr_un sa;
	size_t len = strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || len >= sizeof(sa.sun_path))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* The next datagram, or "" when none came within 2 s. */
static const char *next_message(int fd)
{
	static char buf[512];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* No datagram waiting. */
static int nothing_waiting(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

int main(void)
{
	const char *tmp = tu_tmpdir("sdnotify");
	char path[4200], abstract[64];
	int fd, afd;

	unsetenv("NOTIFY_SOCKET");
	is_int(sdnotify_send("READY=1"), 0, "NOTIFY_SOCKET unset: nothing to do, 0");
	setenv("NOTIFY_SOCKET", "", 1);
	is_int(sdnotify_send("READY=1"), 0, "NOTIFY_SOCKET empty: 0");

	snprintf(path, sizeof(path), "%s/notify", tmp);
	fd = listener(path);
	ok(fd >= 0, "a datagram socket at %s", path);
	setenv("NOTIFY_SOCKET", path, 1);
	is_int(sdnotify_send("READY=1\nSTATUS=x"), 0, "send to a path: 0");
	is_str(next_message(fd), "READY=1\nSTATUS=x", "the listener gets the state as sent");

	snprintf(abstract, sizeof(abstract), "@ssfm-t-sdnotify-%ld", (long)getpid());
	afd = listener(abstract);
	ok(afd >= 0, "an abstract datagram socket %s", abstract);
	setenv("NOTIFY_SOCKET", abstract, 1);
	is_int(sdnotify_send("WATCHDOG=1"), 0, "send to an abstract socket: 0");
	is_str(next_message(afd), "WATCHDOG=1", "the abstract listener gets it");

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	is_int(sdnotify_send("READY=1"), -EAFNOSUPPORT, "a relative NOTIFY_SOCKET: -EAFNOSUPPORT");
	snprintf(path, sizeof(path), "%s/absent", tmp);
	setenv("NOTIFY_SOCKET", path, 1);
	is_int(sdnotify_send("READY=1"), -ENOENT, "no socket at the path: -ENOENT");

	/* The daemon's role changes. */
	snprintf(path, sizeof(path), "%s/notify", tmp);
	setenv("NOTIFY_SOCKET", path, 1);
	sdnotify_role("JOINING", "STANDBY");
	is_str(next_message(fd), "READY=1\nSTATUS=STANDBY", "joined: READY=1 with the role");
	sdnotify_role("STANDBY", "CATCHUP");
	is_str(next_message(fd), "STATUS=CATCHUP", "later changes: the role only");
	sdnotify_role("JOINING", "STANDBY");
	is_str(next_message(fd), "STATUS=STANDBY", "READY=1 is sent once");
	sdnotify_role("DEMOTING", "STOPPED");
	is_str(next_message(fd), "STOPPING=1\nSTATUS=STOPPED", "stopping: STOPPING=1");
	ok(nothing_waiting(fd), "one datagram per change");

	close(fd);
	close(afd);
	return tap_done();
}
