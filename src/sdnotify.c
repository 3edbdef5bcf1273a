/*
 * sdnotify.c: readiness for systemd's Type=notify without libsystemd.
 *
 * Why not Type=forking: ssfmd without -f returns once its control socket
 * answers, which is before it has joined the sanlock lockspace; ready
 * means "joined, a standby of the group", which only the running daemon
 * knows.  The protocol is one datagram of "KEY=VALUE" lines on the
 * AF_UNIX socket in $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace); systemd takes it from the main process (NotifyAccess=main).
 */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int sdnotify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd, rc = 0;

	if (path == NULL || path[0] == '\0')
		return 0;
	if (path[0] != '/' && path[0] != '@')
		return -EAFNOSUPPORT;
	len = strlen(path);
	memset(&sa, 0, sizeof(sa));
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

void sdnotify_role(const char *before, const char *after)
{
	static int ready_sent, failed;
	char msg[128];
	const char *extra = "";
	int rc;

	if (strcmp(after, "STOPPED") == 0)
		extra = "STOPPING=1\n";
	else if (!ready_sent && strcmp(before, "JOINING") == 0) {
		extra = "READY=1\n";
		ready_sent = 1;
	}
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", extra, after);
	rc = sdnotify_send(msg);
	if (rc < 0 && !failed) {
		failed = 1;
		log_warnx("NOTIFY_SOCKET %s: %s", getenv("NOTIFY_SOCKET"), strerror(-rc));
	}
}
