/*
 * ssfm-lease-lost: the kill path ssfmd registers with sanlock.
 *
 *     ssfm-lease-lost [SIGNAL] PID
 *
 * sanlock runs it (about once a second, for up to its kill grace of 40 s,
 * before it falls back to SIGKILL) when this host cannot renew its lease in
 * time; sanlock appends the PID of the process that holds the lease.  It
 * sends that process SIGNAL (TERM by default; also USR1, USR2, INT), which
 * for ssfmd means: the lease is lost or about to be, stop acknowledging
 * writes, stop the managed service, release and exit in order.  It logs to
 * syslog, and exits 0 when the signal was sent or the process is already
 * gone, 1 otherwise.  It depends on nothing else of ssfm.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static int lease_lost_signal(const char *name)
{
	if (strcmp(name, "TERM") == 0)
		return SIGTERM;
	if (strcmp(name, "USR1") == 0)
		return SIGUSR1;
	if (strcmp(name, "USR2") == 0)
		return SIGUSR2;
	if (strcmp(name, "INT") == 0)
		return SIGINT;
	return -1;
}

int main(int argc, char **argv)
{
	const char *signame = "TERM";
	char *end;
	long pid;
	int sig;

	openlog("ssfm-lease-lost", LOG_PID, LOG_DAEMON);
	if (argc == 3)
		signame = argv[1];
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: ssfm-lease-lost [TERM|USR1|USR2|INT] PID\n");
		return 1;
	}
	sig = lease_lost_signal(signame);
	errno = 0;
	pid = strtol(argv[argc - 1], &end, 10);
	if (sig < 0 || errno != 0 || *end != '\0' || pid <= 1 || pid > INT_MAX) {
		syslog(LOG_ERR, "bad arguments: signal %s, pid %s", signame, argv[argc - 1]);
		fprintf(stderr, "ssfm-lease-lost: bad signal %s or pid %s\n", signame,
		    argv[argc - 1]);
		return 1;
	}
	if (kill((pid_t)pid, sig) < 0) {
		if (errno == ESRCH)
			return 0;
		syslog(LOG_ERR, "lease lost: cannot signal pid %ld: %m", pid);
		return 1;
	}
	syslog(LOG_CRIT, "lease lost: sent SIG%s to pid %ld to stop its service and exit",
	    signame, pid);
	return 0;
}
