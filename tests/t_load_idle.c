/*
 * t_load_idle: 1,000 idle connections on an active ssfmd.  They are all
 * accepted (the test raises its own RLIMIT_NOFILE; the daemon raises its
 * own for max_connections), the daemon keeps answering other clients
 * (status, put, get) and does not spend CPU on them; past max_connections
 * a new connection gets one "unavailable" line naming max_connections, and
 * the daemon's log says so; once they close, the daemon counts none of them
 * and serves new clients.
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

#define IDLE 1000
#define CAP (IDLE + 10)
#define EXTRA 20

static struct dgroup g;

struct conns_wait {
	int64_t at_most;
};

static int conns_down(void *arg)
{
	struct conns_wait *w = arg;
	struct dg_status st;

	return dg_status(&g, 1, &st, 2000) == 0 && st.connections >= 0 &&
	    st.connections <= w->at_most;
}

int main(void)
{
	static int fds[IDLE + EXTRA];
	struct rlimit rl;
	struct dg_status st;
	uint64_t version = 0;
	char *value = NULL, line[8192];
	int opened = 0, unavailable = 0, served = 0, other = 0;
	long rss0, rss1, cpu0, cpu1;

	/* Our own descriptors: 1,020 sockets and the test's own. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		tap_bail("getrlimit: %s", strerror(errno));
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < IDLE + EXTRA + 200)
		tap_bail("the hard RLIMIT_NOFILE (%llu) is below %d: raise it (ulimit -Hn)",
		    (unsigned long long)rl.rlim_max, IDLE + EXTRA + 200);
	if (rl.rlim_cur < IDLE + EXTRA + 200) {
		rl.rlim_cur = IDLE + EXTRA + 200;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			tap_bail("setrlimit: %s", strerror(errno));
	}

	dg_setup(&g, 1, "lidle");
	dg_conf(&g, 1, "max_connections = %d", CAP);
	dg_start_all(&g);
	ok(dg_wait_role(&g, 1, "ACTIVE", 60000), "host1 is ACTIVE");
	rss0 = dg_proc_rss_kb(g.d[1].pid);

	for (int k = 0; k < IDLE; k++) {
		fds[k] = dg_raw_connect(&g, 1);
		if (fds[k] >= 0)
			opened++;
	}
	is_int(opened, IDLE, "%d idle connections open", IDLE);
	{
		int seen = 0;

		for (int tries = 0; tries < 100 && !seen; tries++) {
			seen = dg_status(&g, 1, &st, 5000) == 0 && st.connections >= IDLE;
			if (!seen)
				tu_sleep_ms(50);
		}
		ok(seen, "the daemon counts them (%" PRId64 " connections)", st.connections);
	}

	cpu0 = dg_proc_cpu_ms(g.d[1].pid);
	tu_sleep_ms(2000);
	cpu1 = dg_proc_cpu_ms(g.d[1].pid);
	ok(cpu0 >= 0 && cpu1 - cpu0 < 500,
	    "idle connections cost no CPU: %ld ms in 2 s (bound 500 ms)", cpu1 - cpu0);
	rss1 = dg_proc_rss_kb(g.d[1].pid);
	ok(rss0 > 0 && rss1 - rss0 < 64 * 1024,
	    "memory for %d connections: %ld KiB more (bound 64 MiB)", IDLE, rss1 - rss0);

	{
		uint64_t t0 = tu_now_ms();
		int rc = dg_put(&g, 1, "idle/k", "{\"v\":1}", NULL, &version);
		is_int(rc, SSFM_OK, "a put is served beside them (%" PRIu64 " ms)", tu_now_ms() - t0);
		rc = dg_get(&g, 1, "idle/k", &value, &version);
		ok(rc == SSFM_OK && value != NULL && strstr(value, "1") != NULL,
		    "and a get: %s", value ? value : ssfm_strerror(rc));
		free(value);
	}

	/* Past the cap: each of EXTRA asks for status; those refused get the
	 * unavailable line instead. */
	for (int k = IDLE; k < IDLE + EXTRA; k++) {
		fds[k] = dg_raw_connect(&g, 1);
		if (fds[k] >= 0)
			dg_raw_send(fds[k], "{\"op\":\"status\"}\n", 16);
	}
	for (int k = IDLE; k < IDLE + EXTRA; k++) {
		int n = fds[k] >= 0 ? dg_raw_line(fds[k], line, sizeof(line), 10000) : -2;

		if (n > 0 && strstr(line, "\"unavailable\"") && strstr(line, "max_connections"))
			unavailable++;
		else if (n > 0 && strstr(line, "\"ok\":true"))
			served++;
		else if (other++ == 0)
			tap_diag("connection %d: %d %s", k, n, line);
	}
	ok(unavailable >= EXTRA - (CAP - IDLE) - 1 && unavailable <= EXTRA - (CAP - IDLE) + 1,
	    "past max_connections %d: %d of %d refused with \"unavailable\" naming max_connections",
	    CAP, unavailable, EXTRA);
	is_int(served + unavailable, EXTRA, "the others are served (%d)", served);
	ok(dg_log_count(&g, 1, "max_connections reached") >= 1,
	    "the daemon's log says it refused connections at max_connections");

	for (int k = 0; k < IDLE + EXTRA; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	{
		struct conns_wait w = { 1 };
		ok(tu_wait_until(conns_down, &w, 20000, 50),
		    "once closed, the daemon drops them (%d connection left: this status)", 1);
	}
	ok(dg_put(&g, 1, "idle/k", "{\"v\":2}", NULL, &version) == SSFM_OK,
	    "new clients are served");
	ok(dg_has_role(&g, 1, "ACTIVE"), "host1 is still ACTIVE");
	dg_stop(&g);
	return tap_done();
}
