/*
 * t_load_fds: the daemon short of file descriptors, its RLIMIT_NOFILE
 * lowered from outside with prlimit(2) (the soft limit only, so it can be
 * raised back).
 *
 *  1. Just above what it has open (fewer than the 64 it keeps for the
 *     store and sanlock): new connections get "unavailable" naming the
 *     file descriptors and are closed, the log says so, and clients
 *     connected before go on reading and writing.
 *  2. Below what it has open (3: stdin, stdout and stderr are open, so
 *     every new descriptor fails), so that accept(2) fails with EMFILE:
 *     the daemon does not spin (its CPU time, from /proc/PID/stat, stays
 *     low), does not crash, and answers the clients connected before.
 *     Nor can it ask sanlock about its lease (that needs a socket): it
 *     stops being ACTIVE, as it must, but stays up.
 *  3. The limit back: the connections that waited in the backlog are
 *     served, new ones too, the host is ACTIVE again and writes are
 *     acknowledged.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define OLD_CLIENTS 4
#define NEW_CONNS 30
#define WAITING 10
#define STATUS_REQ "{\"op\":\"status\"}\n"

static struct dgroup g;
static ssfm_client *old[OLD_CLIENTS];

static int set_soft_limit(pid_t pid, rlim_t soft, struct rlimit *before)
{
	struct rlimit cur, want;

	if (prlimit(pid, RLIMIT_NOFILE, NULL, &cur) < 0)
		return -errno;
	if (before != NULL)
		*before = cur;
	want.rlim_cur = soft;
	want.rlim_max = cur.rlim_max;
	return prlimit(pid, RLIMIT_NOFILE, &want, NULL) < 0 ? -errno : 0;
}

/* Each old client asks for status; how many were answered. */
static int old_clients_status(void)
{
	int answered = 0;

	for (int k = 0; k < OLD_CLIENTS; k++) {
		char *json = NULL;

		if (ssfm_status(old[k], &json) == SSFM_OK)
			answered++;
		free(json);
	}
	return answered;
}

static int active_again(void *arg)
{
	(void)arg;
	return dg_has_role(&g, 1, "ACTIVE");
}

int main(void)
{
	struct rlimit saved;
	pid_t pid;
	int n, refused = 0, other = 0, waiting[WAITING], served = 0, len;
	long cpu0, cpu1;
	char line[8192];
	uint64_t version;

	dg_setup(&g, 1, "lfds");
	dg_start_all(&g);
	ok(dg_wait_role(&g, 1, "ACTIVE", 60000), "host1 is ACTIVE");
	pid = g.d[1].pid;
	for (int k = 0; k < OLD_CLIENTS; k++) {
		if (ssfm_connect(g.d[1].sock, &old[k]) != SSFM_OK)
			tap_bail("cannot connect to host1");
		ssfm_set_timeout(old[k], 5000);
	}
	is_int(old_clients_status(), OLD_CLIENTS, "%d clients connected and served", OLD_CLIENTS);

	/* 1: short of the reserve. */
	n = dg_proc_fds(pid);
	ok(n > 0 && set_soft_limit(pid, (rlim_t)n + 40, &saved) == 0,
	    "the daemon's soft RLIMIT_NOFILE set to %d (%d open)", n + 40, n);
	for (int k = 0; k < NEW_CONNS; k++) {
		int fd = dg_raw_connect(&g, 1);

		len = -2;
		line[0] = '\0';
		/* The refusal may come before the request is sent (EPIPE): the
		 * line is read either way. */
		if (fd >= 0) {
			dg_raw_send(fd, STATUS_REQ, strlen(STATUS_REQ));
			len = dg_raw_line(fd, line, sizeof(line), 5000);
		}
		if (len > 0 && strstr(line, "\"unavailable\"") && strstr(line, "file descriptors"))
			refused++;
		else if (other++ == 0)
			tap_diag("new connection %d: %d %.200s", k, len, line);
		if (fd >= 0)
			close(fd);
	}
	is_int(refused, NEW_CONNS, "new connections get \"unavailable\" naming the file descriptors");
	ok(dg_log_count(&g, 1, "RLIMIT_NOFILE") >= 1, "the daemon's log says why it refuses them");
	is_int(old_clients_status(), OLD_CLIENTS, "the clients connected before are served");
	ok(ssfm_put(old[0], "fds/a", "{\"v\":1}", SSFM_ANY_VERSION, NULL, &version) == SSFM_OK,
	    "and their writes acknowledged (the reserve leaves descriptors for commits): %s",
	    ssfm_errmsg(old[0]));

	/* 2: accept fails with EMFILE. */
	n = dg_proc_fds(pid);
	ok(n > 0 && set_soft_limit(pid, 3, NULL) == 0,
	    "the daemon's soft RLIMIT_NOFILE set to 3 (%d open)", n);
	for (int k = 0; k < WAITING; k++) {
		waiting[k] = dg_raw_connect(&g, 1);
		if (waiting[k] >= 0)
			dg_raw_send(waiting[k], STATUS_REQ, strlen(STATUS_REQ));
	}
	cpu0 = dg_proc_cpu_ms(pid);
	tu_sleep_ms(2000);
	cpu1 = dg_proc_cpu_ms(pid);
	ok(cpu0 >= 0 && cpu1 - cpu0 < 400,
	    "with accept failing (EMFILE) the daemon does not spin: %ld ms CPU in 2 s (bound 400 ms)",
	    cpu1 - cpu0);
	ok(dg_running(&g, 1), "and does not crash");
	is_int(old_clients_status(), OLD_CLIENTS, "the clients connected before are answered");
	ok(dg_log_count(&g, 1, "Too many open files") >= 1, "the daemon's log says accept fails");

	/* 3: the limit back. */
	ok(set_soft_limit(pid, saved.rlim_cur, NULL) == 0, "the soft limit back to %llu",
	    (unsigned long long)saved.rlim_cur);
	for (int k = 0; k < WAITING; k++) {
		len = waiting[k] >= 0 ? dg_raw_line(waiting[k], line, sizeof(line), 10000) : -2;
		if (len > 0 && strstr(line, "\"ok\":true"))
			served++;
		else
			tap_diag("waiting connection %d: %d %.200s", k, len, line);
		if (waiting[k] >= 0)
			close(waiting[k]);
	}
	is_int(served, WAITING, "the connections that waited in the backlog are served");
	ok(tu_wait_until(active_again, NULL, 30000, 100), "host1 is ACTIVE");
	ok(dg_put(&g, 1, "fds/b", "{\"v\":2}", NULL, &version) == SSFM_OK,
	    "a new client's write is acknowledged");
	is_int(old_clients_status(), OLD_CLIENTS, "the clients connected before are still served");
	for (int k = 0; k < OLD_CLIENTS; k++)
		ssfm_close(old[k]);
	dg_stop(&g);
	return tap_done();
}
