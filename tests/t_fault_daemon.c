/*
 * t_fault_daemon: faults injected into a running ssfmd (two hosts, real
 * sanlock) through fiu-ctrl, the way an operator of libfiu would: the
 * daemons run with SSFM_FAULT_FIFO set, so each listens on its own control
 * fifo.
 *
 *  - A watcher whose event cannot be queued (ssfmd/watch/alloc) ends with
 *    reason "error"; the write itself is acknowledged, and a new watch from
 *    the last event seen gets the operation it missed.
 *  - Into the active's commit path, while four client threads write with
 *    request ids: EIO and ENOSPC on write, fdatasync, rename, the directory
 *    fsync, and ENOMEM forming a batch: a client sees an error, the daemon
 *    keeps running (it demotes itself and a host takes over, or it answers
 *    the next write); EINTR and short writes: nobody sees anything.
 *  - At the end every acknowledged write is on every host and on disk,
 *    nothing else is, and `ssfm verify` finds the store clean.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FIU_CTRL
#error "FIU_CTRL (the path of fiu-ctrl) must be defined by the build"
#endif

static struct dgroup g;
static char fifo_base[PATH_MAX];

/* fiu-ctrl -f BASE -c CMD PID; 0 when it ran and said nothing (it reports
 * an unknown pid or a refused command on stdout and still exits 0). */
static int fault_ctrl(int i, const char *cmd)
{
	char pid[32], *out = NULL, *err = NULL;
	char *argv[] = { FIU_CTRL, "-f", fifo_base, "-c", (char *)cmd, pid, NULL };
	int st;

	snprintf(pid, sizeof(pid), "%ld", (long)g.d[i].pid);
	st = tu_capture(argv, NULL, 10000, &out, &err);
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || (out && out[0])) {
		tap_diag("%s -c '%s' %s: status %d: %s%s (install fiu-utils)", FIU_CTRL, cmd, pid, st,
		    out ? out : "", err ? err : "");
		st = -1;
	} else {
		st = 0;
	}
	free(out);
	free(err);
	return st;
}

/* ---- the watcher's allocation ------------------------------------------- */

struct watch {
	int host;
	int64_t from;
	atomic_int events;
	atomic_int done;
	atomic_llong last_seq;
	int rc;
	char msg[256];
	char first_key[64];
	int stop_after_first;
	pthread_t tid;
};

static int watch_event(void *arg, const struct ssfm_event *ev)
{
	struct watch *w = arg;

	if (ev->kind == SSFM_EVENT_PUT && atomic_load(&w->events) == 0)
		snprintf(w->first_key, sizeof(w->first_key), "%s", ev->key);
	atomic_store(&w->last_seq, (long long)ev->seq);
	atomic_fetch_add(&w->events, 1);
	return w->stop_after_first;
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	ssfm_client *c = NULL;

	w->rc = ssfm_connect(g.d[w->host].sock, &c);
	if (w->rc == SSFM_OK)
		w->rc = ssfm_watch(c, w->from, "w/", watch_event, w);
	snprintf(w->msg, sizeof(w->msg), "%s", c ? ssfm_errmsg(c) : "");
	ssfm_close(c);
	atomic_store(&w->done, 1);
	return NULL;
}

static int watch_has_events(void *arg)
{
	return atomic_load(&((struct watch *)arg)->events) > 0;
}

static int watch_ended(void *arg)
{
	return atomic_load(&((struct watch *)arg)->done);
}

/* Joins a watch thread that ended; one that did not (a daemon that never
 * ends the stream: the failure is reported already) is left to end when
 * the daemons stop, rather than hanging the test. */
static void watch_join(struct watch *w)
{
	if (atomic_load(&w->done))
		pthread_join(w->tid, NULL);
	else
		pthread_detach(w->tid);
}

static void check_watcher_oom(int a)
{
	static struct watch w1, w2, w3, w4;
	uint64_t v0 = 0, v1 = 0;
	int seen;

	memset(&w1, 0, sizeof(w1));
	w1.host = a;
	w1.from = -1;
	pthread_create(&w1.tid, NULL, watch_main, &w1);
	/* The watch is registered once it has streamed an operation. */
	for (int t = 0; t < 20 && !atomic_load(&w1.events); t++) {
		dg_put(&g, a, "w/0", "0", NULL, &v0);
		tu_wait_until(watch_has_events, &w1, 500, 10);
	}
	seen = atomic_load(&w1.events);
	ok(seen > 0, "a watcher on host%d streams w/0", a);
	ok(fault_ctrl(a, "enable name=ssfmd/watch/alloc,failinfo=12") == 0,
	    "fiu-ctrl enables ssfmd/watch/alloc in host%d's ssfmd", a);
	is_int(dg_put(&g, a, "w/1", "1", NULL, &v1), SSFM_OK,
	    "a put while the watcher's queue cannot grow is still acknowledged");
	ok(tu_wait_until(watch_ended, &w1, 10000, 10), "the watcher's stream ends");
	fault_ctrl(a, "disable name=ssfmd/watch/alloc");
	watch_join(&w1);
	is_int(atomic_load(&w1.done) ? w1.rc : 0, SSFM_EUNAVAILABLE, "the watch ends as unavailable");
	ok(atomic_load(&w1.done) && strstr(w1.msg, "error") != NULL, "with reason error: %s",
	    atomic_load(&w1.done) ? w1.msg : "(still streaming)");
	is_int(atomic_load(&w1.events), seen, "without the operation it could not queue");

	/* Resuming from the last event seen gets what was missed. */
	memset(&w2, 0, sizeof(w2));
	w2.host = a;
	w2.from = (int64_t)atomic_load(&w1.last_seq);
	w2.stop_after_first = 1;
	pthread_create(&w2.tid, NULL, watch_main, &w2);
	ok(tu_wait_until(watch_ended, &w2, 10000, 10), "a new watch from seq %" PRId64 " streams", w2.from);
	watch_join(&w2);
	is_str(atomic_load(&w2.done) ? w2.first_key : "", "w/1", "starting with the operation the first one missed");
	ok(dg_running(&g, a), "host%d's ssfmd runs on", a);

	/* The event line itself cannot be made: every watcher ends, and what
	 * the daemon keeps in memory starts after that operation; a watch from
	 * before it reads the journal instead. */
	memset(&w3, 0, sizeof(w3));
	w3.host = a;
	w3.from = -1;
	pthread_create(&w3.tid, NULL, watch_main, &w3);
	for (int t = 0; t < 20 && !atomic_load(&w3.events); t++) {
		dg_put(&g, a, "w/2", "2", NULL, &v0);
		tu_wait_until(watch_has_events, &w3, 500, 10);
	}
	seen = atomic_load(&w3.events);
	ok(seen > 0, "another watcher on host%d streams w/2", a);
	ok(fault_ctrl(a, "enable name=ssfmd/watch/event") == 0, "fiu-ctrl enables ssfmd/watch/event");
	is_int(dg_put(&g, a, "w/3", "3", NULL, &v1), SSFM_OK, "a put whose event cannot be made is acknowledged");
	ok(tu_wait_until(watch_ended, &w3, 10000, 10), "the watcher's stream ends");
	fault_ctrl(a, "disable name=ssfmd/watch/event");
	watch_join(&w3);
	ok(atomic_load(&w3.done) && w3.rc == SSFM_EUNAVAILABLE && strstr(w3.msg, "error") != NULL,
	    "with reason error: %s", atomic_load(&w3.done) ? w3.msg : "(still streaming)");
	is_int(atomic_load(&w3.events), seen, "without the operation");
	memset(&w4, 0, sizeof(w4));
	w4.host = a;
	w4.from = (int64_t)atomic_load(&w3.last_seq);
	w4.stop_after_first = 1;
	pthread_create(&w4.tid, NULL, watch_main, &w4);
	ok(tu_wait_until(watch_ended, &w4, 10000, 10), "a new watch from seq %" PRId64 " streams", w4.from);
	watch_join(&w4);
	is_str(atomic_load(&w4.done) ? w4.first_key : "", "w/3",
	    "starting with the operation the first one missed");
}

/* ---- the commit path ----------------------------------------------------- */

struct fault_case {
	const char *point;
	const char *info;       /* failinfo: an errno, or FAULT_SHORT (21320) */
	int onetime;
	int errors;             /* 1: a client must see an error */
};

static const struct fault_case cases[] = {
	{ "store/commit/write", "5", 0, 1 },          /* EIO */
	{ "store/commit/write", "28", 0, 1 },         /* ENOSPC */
	{ "store/commit/fdatasync", "5", 0, 1 },
	{ "store/commit/fdatasync", "28", 0, 1 },
	{ "store/commit/rename", "5", 0, 1 },
	{ "store/commit/fsync", "5", 0, 1 },
	{ "store/commit/alloc", "12", 1, 1 },         /* ENOMEM, once */
	{ "store/commit/write", "21320", 0, 0 },      /* short writes */
	{ "store/commit/fdatasync", "4", 1, 0 },      /* EINTR, once */
	{ "store/commit/write", "4", 1, 0 },
};

static int probe_put(int a, int k, int *rc)
{
	char key[64];

	snprintf(key, sizeof(key), "probe/%d", k);
	*rc = dg_put(&g, a, key, "{\"probe\":true}", NULL, NULL);
	return *rc == SSFM_OK;
}

static int snapshot_on(int i, uint64_t *seq)
{
	ssfm_client *c = NULL;
	int rc = ssfm_connect(g.d[i].sock, &c);

	if (rc == SSFM_OK)
		rc = ssfm_snapshot(c, seq);
	ssfm_close(c);
	return rc;
}

/* While the writers go on: a standby that cannot read the journal for a
 * while catches up afterwards; a snapshot that cannot be made durable is an
 * error for whoever asked, and nothing more. */
/* Host i's log size, and how often needle occurs in it from offset on. */
static size_t log_size(int i)
{
	size_t len = 0;
	char *text = tu_read_file(g.d[i].log, &len);

	free(text);
	return text != NULL ? len : 0;
}

static int log_count(int i, size_t from, const char *needle)
{
	size_t len = 0;
	char *text = tu_read_file(g.d[i].log, &len);
	int n = 0;

	for (const char *p = text != NULL && from < len ? text + from : NULL;
	    p != NULL && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(text);
	return n;
}

/* The number after the first needle in host i's log from offset on, or -1. */
static long long log_number_after(int i, size_t from, const char *needle)
{
	size_t len = 0;
	char *text = tu_read_file(g.d[i].log, &len);
	const char *p = text != NULL && from < len ? strstr(text + from, needle) : NULL;
	long long n = p != NULL ? strtoll(p + strlen(needle), NULL, 10) : -1;

	free(text);
	return n;
}

static void check_standby_and_snapshot(struct dwriters *w)
{
	int a = dg_wait_active(&g, 0, 30000), s = a == 1 ? 2 : 1, rc, warnings;
	long long failed;
	uint64_t acks, seq = 0;
	size_t log_from;

	if (a <= 0)
		return;
	acks = dw_acks(w);
	log_from = log_size(s);
	ok(fault_ctrl(s, "enable name=store/apply/read,failinfo=5") == 0,
	    "host%d (standby): store/apply/read fails with EIO", s);
	ok(dw_wait_acks(w, acks + 30, 30000), "the active goes on acknowledging");
	/* Some 40 looks (poll_interval 50 ms) fail meanwhile. */
	tu_sleep_ms(2000);
	ok(fault_ctrl(s, "disable name=store/apply/read") == 0, "host%d: store/apply/read disabled", s);
	ok(dg_running(&g, s), "host%d's ssfmd is still running", s);
	ok(dg_wait_caught_up(&g, a, 30000), "host%d catches up with host%d afterwards", s, a);
	warnings = log_count(s, log_from, "warning: follow: ");
	ok(warnings == 1, "host%d warned of its failed looks once, not once per look (%d)", s,
	    warnings);
	failed = log_number_after(s, log_from, "follow: reading the journal again after ");
	ok(failed > 1, "host%d logged that it reads the journal again, after %lld failed looks", s,
	    failed);

	ok(fault_ctrl(a, "enable name=store/snapshot/fdatasync,failinfo=5") == 0,
	    "host%d: store/snapshot/fdatasync fails with EIO", a);
	rc = snapshot_on(a, &seq);
	ok(rc != SSFM_OK, "a snapshot asked of host%d fails (%s)", a, ssfm_strerror(rc));
	fault_ctrl(a, "disable name=store/snapshot/fdatasync");
	ok(dg_has_role(&g, a, "ACTIVE"), "host%d is still ACTIVE", a);
	rc = snapshot_on(a, &seq);
	is_int(rc, SSFM_OK, "the next snapshot succeeds (seq %" PRIu64 ")", seq);
	acks = dw_acks(w);
	ok(dw_wait_acks(w, acks + 30, 30000), "writes go on being acknowledged");
}

static int host_active(void *arg)
{
	return dg_has_role(&g, *(int *)arg, "ACTIVE");
}

/* A takeover whose seal cannot be made durable: the host does not become
 * ACTIVE while it cannot seal, keeps running, and takes over once it can. */
static void check_seal_fault(struct dwriters *w)
{
	int a = dg_wait_active(&g, 0, 30000), s = a == 1 ? 2 : 1;
	uint64_t acks;

	if (a <= 0)
		return;
	ok(fault_ctrl(s, "enable name=store/seal/fdatasync,failinfo=5") == 0,
	    "host%d (standby): store/seal/fdatasync fails with EIO", s);
	dg_signal(&g, a, SIGTERM);
	ok(!tu_wait_until(host_active, &s, 3000, 50), "host%d does not become ACTIVE while it cannot seal", s);
	ok(dg_running(&g, s), "host%d's ssfmd is still running", s);
	{
		char *log = tu_read_file(g.d[s].log, NULL);
		ok(log && strstr(log, "fdatasync: Input/output error"), "host%d logged why its catch-up failed", s);
		free(log);
	}
	ok(fault_ctrl(s, "disable name=store/seal/fdatasync") == 0, "host%d: store/seal/fdatasync disabled", s);
	ok(tu_wait_until(host_active, &s, 30000, 50), "then host%d takes over", s);
	acks = dw_acks(w);
	ok(dw_wait_acks(w, acks + 30, 30000), "and acknowledges writes");
	ok(dg_start(&g, a) == 0 && dg_wait_role(&g, a, "STANDBY", 30000), "host%d comes back as a STANDBY", a);
}

static void check_commit_faults(void)
{
	struct dwriters w;
	char log[PATH_MAX], cmd[256];
	uint64_t keys = 0;

	snprintf(log, sizeof(log), "%s/acks.log", g.hs.tmp);
	if (dw_start(&w, &g, 4, "fi", log, 60000) < 0)
		tap_bail("cannot start writers");
	w.hint = dg_wait_active(&g, 0, 30000);
	ok(dw_wait_acks(&w, 50, 30000), "4 writers get acknowledgements");
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct fault_case *c = &cases[k];
		int a = dg_wait_active(&g, 0, 30000), b, rc = 0;
		uint64_t acks;

		if (a <= 0) {
			ok(0, "%s=%s: an active host to inject into", c->point, c->info);
			continue;
		}
		acks = dw_acks(&w);
		snprintf(cmd, sizeof(cmd), "enable name=%s,failinfo=%s%s", c->point, c->info,
		    c->onetime ? ",onetime" : "");
		ok(fault_ctrl(a, cmd) == 0, "host%d: %s", a, cmd);
		if (c->errors) {
			int failed = 0;
			/* A onetime fault may be taken by a writer's batch first. */
			for (int t = 0; t < 20 && !failed; t++)
				failed = !probe_put(a, (int)k, &rc);
			ok(failed || c->onetime, "%s=%s: a client gets an error (%s)", c->point, c->info,
			    ssfm_strerror(rc));
		} else {
			ok(probe_put(a, (int)k, &rc), "%s=%s: writes are acknowledged (%s)", c->point, c->info,
			    ssfm_strerror(rc));
		}
		snprintf(cmd, sizeof(cmd), "disable name=%s", c->point);
		if (dg_running(&g, a))
			fault_ctrl(a, cmd);
		ok(dg_running(&g, a), "%s=%s: host%d's ssfmd is still running", c->point, c->info, a);
		b = dg_wait_active(&g, 0, 30000);
		ok(b > 0, "%s=%s: host%d is active afterwards", c->point, c->info, b);
		if (!c->errors)
			is_int(b, a, "%s=%s: the same host (nothing to fail over for)", c->point, c->info);
		ok(dw_wait_acks(&w, acks + 30, 30000), "%s=%s: writes acknowledged again", c->point, c->info);
	}
	check_standby_and_snapshot(&w);
	check_seal_fault(&w);
	dw_stop(&w);
	{
		uint64_t lost = 0;
		for (int t = 0; t < w.nthreads; t++)
			lost += w.t[t].gave_up;
		is_int(lost, 0, "no write was left without an acknowledgement");
		tap_diag("%" PRIu64 " acknowledged writes", dw_acks(&w));
	}
	{
		int a = dg_wait_active(&g, 0, 30000);
		ok(a > 0 && dg_wait_caught_up(&g, a, 30000), "every standby caught up with host%d", a);
	}
	for (int i = 0; i <= g.n; i++) {
		int problems = dw_audit(&w, i, &keys);
		is_int(problems, 0, "audit of %s%.0d: every acknowledged write, nothing else (%" PRIu64 " keys)",
		    i ? "host" : "the store on disk", i, keys);
	}
	dw_free(&w);
}

static void check_verify(void)
{
	char ssfm[PATH_MAX], *out = NULL, *err = NULL;
	char *argv[] = { ssfm, "verify", g.hs.store, NULL };
	int st;

	snprintf(ssfm, sizeof(ssfm), "%s/src/ssfm", tu_builddir());
	st = tu_capture(argv, NULL, 60000, &out, &err);
	ok(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "ssfm verify finds the store clean");
	if (!(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0))
		tap_diag("ssfm verify: status %d\n%s%s", st, out ? out : "", err ? err : "");
	free(out);
	free(err);
}

int main(void)
{
	int a;

	dg_setup(&g, 2, "fiud");
	snprintf(fifo_base, sizeof(fifo_base), "%s/fiu", g.hs.tmp);
	if (setenv("SSFM_FAULT_FIFO", fifo_base, 1) != 0)
		tap_bail("setenv");
	if (access(FIU_CTRL, X_OK) != 0)
		tap_bail("%s: %s: install fiu-utils", FIU_CTRL, strerror(errno));
	dg_start_all(&g);
	a = dg_wait_active(&g, 0, 60000);
	ok(a > 0, "host%d is ACTIVE", a);
	if (a > 0)
		check_watcher_oom(a);
	check_commit_faults();
	dg_stop(&g);
	check_verify();
	return tap_done();
}
