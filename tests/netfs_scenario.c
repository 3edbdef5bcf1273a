/*
 * netfs_scenario: ssfmd on real shared storage, each simulated host
 * reaching the store through its own client mount, as real hosts do.
 * Run by t_netfs_tuned.sh, t_netfs_default.sh and t_cephfs.sh
 * (netfs_scenario.sh), which bring the storage up.
 *
 *   netfs_scenario --storage NAME --mnt-a DIR --mnt-b DIR
 *       [--fence-hook "PROGRAM ARGS"] [--lag-samples N] [--kills N]
 *
 * host1 runs its ssfmd and its sanlock lease I/O through mount A, host2
 * through mount B (tests/hosts.h: real sanlock daemons).  In order:
 *   0. the storage refuses renameat2(RENAME_NOREPLACE), so the store's
 *      link() fallback carries every commit; link() says EEXIST;
 *   1. election: one ACTIVE, one STANDBY, following by poll (watch = auto
 *      must see the network filesystem);
 *   2. switchover (demote): the other host takes over with every write;
 *   3. standby lag: writes on the active, the time until the standby has
 *      applied each (MEASURED);
 *   4. SIGKILL of the active: takeover time (MEASURED), every write kept;
 *   5. zero loss: 4 writers with request ids across --kills SIGKILLs
 *      (default 3) of the active, then the
 *      audit on both hosts and on the store itself (tests/daemonutil.h);
 *   6. with --fence-hook: the standby is restarted with it, the active is
 *      SIGKILLed, the new active's hook fences the old one's client, and a
 *      write through the old host's (still running) mount must fail; that
 *      mount is then made again and the old host's ssfmd restarted as a
 *      standby;
 *   7. host death with its mount cut off: the active's client is killed
 *      while 4 writers run; the active must stop on its own (its I/O and
 *      its sanlock renewals fail), then the host dies (SIGKILL of its
 *      sanlock and ssfmd).  The other host may take over only 8 *
 *      io_timeout + 60 s after the last renewal (MEASURED), and the audit
 *      finds every acknowledged write.
 * Cutting and mounting are the storage harness's (tests/netfs.sh,
 * tests/cephfs.sh): this program asks for them one line at a time on fd 3
 * ("cut A", "mount A") and reads "ok" or "fail" on fd 4.
 */
#include "daemonutil.h"
#include "fence.h"
#include "ssfm.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NS_CTL_OUT 3
#define NS_CTL_IN 4
#define NS_WRITERS 4
/* Generous bounds (the machine is shared; these are not speed targets). */
#define NS_ELECTION_MS 60000
#define NS_TAKEOVER_MS 40000
#define NS_LAG_BOUND_MS 60000
/* 8 * io_timeout + 60 s after the last renewal, and room for a slow disk. */
#define NS_CUT_TAKEOVER_MS ((FENCE_HOST_DEAD(DG_IO_TIMEOUT) + 60) * 1000)

struct ns {
	struct dgroup g;
	const char *storage;
	const char *mnt[3];              /* [1] A, [2] B */
	char store[3][PATH_MAX - 128];   /* host i's path to the store */
	const char *fence_hook;
	int lag_samples;
	int kills;
	uint64_t kill_takeover_max;
};

static struct ns ns;

static char ns_mount_name(int i)
{
	return i == 1 ? 'A' : 'B';
}

/* ---- the harness on the other end of fds 3 and 4 ---------------------- */

static int ns_ctl(const char *op, int i)
{
	char line[64], answer[64];
	size_t got = 0;
	uint64_t deadline = tu_now_ms() + 120000;
	int len = snprintf(line, sizeof(line), "%s %c\n", op, ns_mount_name(i));

	if (write(NS_CTL_OUT, line, (size_t)len) != len) {
		tap_diag("asking the harness to %s %c: %s", op, ns_mount_name(i), strerror(errno));
		return -1;
	}
	while (got < sizeof(answer) - 1) {
		struct pollfd p = { NS_CTL_IN, POLLIN, 0 };
		uint64_t now = tu_now_ms();

		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			break;
		ssize_t n = read(NS_CTL_IN, answer + got, 1);
		if (n <= 0)
			break;
		if (answer[got] == '\n')
			break;
		got += (size_t)n;
	}
	answer[got] = '\0';
	if (strcmp(answer, "ok") != 0) {
		tap_diag("the harness could not %s mount %c (answer \"%s\")", op, ns_mount_name(i),
		    answer);
		return -1;
	}
	return 0;
}

/* ---- hosts whose store is behind their own mount ------------------------ */

static int ns_write_conf(int i)
{
	struct dhost *d = &ns.g.d[i];
	FILE *f = fopen(d->conf, "w");

	if (f == NULL) {
		tap_diag("cannot write %s: %s", d->conf, strerror(errno));
		return -1;
	}
	fprintf(f, "# written by tests/netfs_scenario.c\n");
	fprintf(f, "group = %s\nhost = %s\nhost_id = %d\nstore = %s\n", ns.g.hs.group,
	    d->h->name, d->h->id, ns.store[i]);
	fprintf(f, "socket = %s\npid_file = %s\n", d->sock, d->pid_file);
	fprintf(f, "io_timeout = %d\npoll_interval = 50\nlog_level = info\n", DG_IO_TIMEOUT);
	fprintf(f, "lease_lost_program = %s\n", ns.g.lease_lost);
	for (int k = 0; k < d->nlines; k++)
		fprintf(f, "%s\n", d->lines[k]);
	if (fclose(f) != 0) {
		tap_diag("cannot write %s: %s", d->conf, strerror(errno));
		return -1;
	}
	return 0;
}

struct ns_wait {
	int i;
};

static int ns_answers(void *arg)
{
	struct ns_wait *w = arg;
	struct dg_status st;

	if (!dg_running(&ns.g, w->i))
		return -1;
	return dg_status(&ns.g, w->i, &st, 1000) == 0;
}

/* dg_start with host i's own store path: ssfmd -f -c CONF on host i. */
static int ns_start(int i)
{
	struct dhost *d = &ns.g.d[i];
	char *argv[] = { ns.g.ssfmd, "-f", "-c", d->conf, NULL };
	struct ns_wait w = { i };
	int rc;

	if (ns_write_conf(i) < 0)
		return -1;
	d->pid = host_spawn(d->h, argv, d->log);
	if (d->pid < 0) {
		d->pid = 0;
		return -1;
	}
	rc = tu_wait_until(ns_answers, &w, 30000, 20);
	if (rc != 1) {
		dg_file_tail(d->log, 2000);
		tap_diag("ssfmd of %s %s (log %s)", d->h->name,
		    rc < 0 ? "exited at start" : "does not answer status within 30 s", d->log);
		return -1;
	}
	return 0;
}

static int ns_other(int i)
{
	return i == 1 ? 2 : 1;
}

/* The store as the offline audit reads it: through host i's mount. */
static void ns_audit_through(int i)
{
	memcpy(ns.g.hs.store, ns.store[i], sizeof(ns.store[i]));
}

static int ns_log_has(int i, const char *what)
{
	char *text = tu_read_file(ns.g.d[i].log, NULL);
	int found = text != NULL && strstr(text, what) != NULL;

	free(text);
	return found;
}

/* What the store's no-clobber commit finds on this storage (DESIGN.md,
 * invariant 1): renameat2(RENAME_NOREPLACE) to a free name is refused with
 * EINVAL on ceph-fuse and sshfs, so every commit in this run goes through
 * link(), which must say EEXIST when the name is taken. */
static void check_no_clobber(const char *dir)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	int rc, err;

	snprintf(a, sizeof(a), "%.4000s/.probe-a", dir);
	snprintf(b, sizeof(b), "%.4000s/probe-b", dir);
	snprintf(c, sizeof(c), "%.4000s/probe-c", dir);
	if (tu_write_file(a, "a", 1) < 0 || tu_write_file(b, "b", 1) < 0) {
		ok(0, "probe files in %s", dir);
		return;
	}
	rc = renameat2(AT_FDCWD, a, AT_FDCWD, c, RENAME_NOREPLACE);
	err = errno;
	ok(rc < 0 && err == EINVAL, "%s refuses renameat2(RENAME_NOREPLACE) (%s): the store "
	    "commits with link()", ns.storage, rc < 0 ? strerror(err) : "it worked");
	if (rc == 0)
		rename(c, a);
	rc = link(a, b);
	err = errno;
	ok(rc < 0 && err == EEXIST, "%s: link() onto a taken name fails with EEXIST (%s)",
	    ns.storage, rc < 0 ? strerror(err) : "it worked");
	ok(link(a, c) == 0, "%s: link() to a free name works", ns.storage);
	unlink(a);
	unlink(b);
	unlink(c);
}

static void ns_setup(void)
{
	struct store_create_params p;
	struct store_error serr;
	struct fence_error ferr;
	char dir[PATH_MAX], lease[PATH_MAX + 16];
	const char *base = strrchr(ns.g.hs.tmp, '/');

	/* The shared store: made through mount A, as `ssfm init` on host1
	 * would.  Named after this test's own folder, so runs never meet. */
	base = base != NULL ? base + 1 : ns.g.hs.tmp;
	for (int i = 1; i <= 2; i++)
		snprintf(ns.store[i], sizeof(ns.store[i]), "%s/%s", ns.mnt[i], base);
	snprintf(dir, sizeof(dir), "%s", ns.store[1]);
	if (mkdir(dir, 0755) < 0)
		tap_bail("mkdir %s: %s", dir, strerror(errno));
	if (fence_lease_path(dir, lease, sizeof(lease)) < 0 ||
	    fence_lease_init(lease, ns.g.hs.group, DG_IO_TIMEOUT, &ferr) < 0)
		tap_bail("lease on %s: %s", ns.storage, ferr.msg);
	memset(&p, 0, sizeof(p));
	p.group = ns.g.hs.group;
	p.io_timeout = DG_IO_TIMEOUT;
	if (store_create(dir, &p, &serr) < 0)
		tap_bail("store_create %s: %s", dir, serr.msg);
	ns_audit_through(2);
	tap_diag("%s: host1 uses %s, host2 uses %s", ns.storage, ns.store[1], ns.store[2]);
	check_no_clobber(ns.store[2]);
}

/* ---- 1. election ------------------------------------------------------------ */

static int check_election(void)
{
	int a;

	ok(ns_start(1) == 0, "host1's ssfmd starts on %s", ns.store[1]);
	ok(ns_start(2) == 0, "host2's ssfmd starts on %s", ns.store[2]);
	a = dg_wait_active(&ns.g, 0, NS_ELECTION_MS);
	ok(a > 0, "%s: one host is elected ACTIVE (host%d)", ns.storage, a);
	if (a <= 0)
		return 0;
	ok(dg_wait_role(&ns.g, ns_other(a), "STANDBY", 30000), "host%d is STANDBY", ns_other(a));
	for (int i = 1; i <= 2; i++)
		ok(ns_log_has(i, "where inotify misses other hosts' changes"),
		    "host%d: watch = auto follows by polling on %s", i, ns.storage);
	return a;
}

/* ---- 2. standby lag ------------------------------------------------------- */

struct ns_applied {
	int i;
	uint64_t seq;
};

static int ns_has_applied(void *arg)
{
	struct ns_applied *w = arg;
	struct dg_status st;

	return dg_status(&ns.g, w->i, &st, 1000) == 0 && st.applied_seq >= w->seq;
}

static int ns_cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static void check_lag(int a)
{
	uint64_t lag[64], spent = tu_now_ms();
	int n = 0, s = ns_other(a), late = 0;

	for (int k = 0; k < ns.lag_samples && k < 64 && tu_now_ms() - spent < 60000; k++) {
		char key[32];
		uint64_t version = 0, t0;
		struct ns_applied w;

		snprintf(key, sizeof(key), "lag/%02d", k);
		if (dg_put(&ns.g, a, key, "{\"lag\":true}", NULL, &version) != SSFM_OK) {
			tap_diag("put %s on host%d failed", key, a);
			late++;
			continue;
		}
		t0 = tu_now_ms();
		w.i = s;
		w.seq = version;
		if (!tu_wait_until(ns_has_applied, &w, NS_LAG_BOUND_MS, 2)) {
			late++;
			continue;
		}
		lag[n++] = tu_now_ms() - t0;
	}
	is_int(late, 0, "the standby applies every write within %d s", NS_LAG_BOUND_MS / 1000);
	if (n == 0)
		return;
	qsort(lag, (size_t)n, sizeof(lag[0]), ns_cmp_u64);
	tap_diag("MEASURED %s standby lag over %d writes: median %" PRIu64 " ms, max %" PRIu64
	    " ms", ns.storage, n, lag[n / 2], lag[n - 1]);
}

/* ---- writes that must survive ---------------------------------------------- */

struct ns_batch {
	const char *prefix;
	int count;
	uint64_t version[50];
};

static int ns_put_batch(struct ns_batch *b, int a)
{
	int acked = 0;

	for (int k = 0; k < b->count && k < 50; k++) {
		char key[64], val[64];

		snprintf(key, sizeof(key), "%s/%02d", b->prefix, k);
		snprintf(val, sizeof(val), "{\"k\":%d}", k);
		if (dg_put(&ns.g, a, key, val, NULL, &b->version[k]) == SSFM_OK)
			acked++;
		else
			b->version[k] = 0;
	}
	return acked;
}

static int ns_batch_held(struct ns_batch *b, int i)
{
	int held = 0;

	for (int k = 0; k < b->count && k < 50; k++) {
		char key[64], val[64], *v = NULL;
		uint64_t ver = 0;

		if (b->version[k] == 0)
			continue;
		snprintf(key, sizeof(key), "%s/%02d", b->prefix, k);
		snprintf(val, sizeof(val), "{\"k\":%d}", k);
		if (dg_get(&ns.g, i, key, &v, &ver) == SSFM_OK && strcmp(v, val) == 0 &&
		    ver == b->version[k])
			held++;
		else
			tap_diag("%s on host%d: %s version %" PRIu64 ", acknowledged %s version %"
			    PRIu64, key, i, v ? v : "(none)", ver, val, b->version[k]);
		free(v);
	}
	return held;
}

/* ---- 3. switchover -------------------------------------------------------- */

static int check_switchover(int a)
{
	struct ns_batch b = { "switch", 20, { 0 } };
	ssfm_client *c = NULL;
	uint64_t t0, took;
	int acked, n, rc;

	acked = ns_put_batch(&b, a);
	is_int(acked, 20, "20 writes acknowledged by host%d", a);
	t0 = tu_now_ms();
	rc = ssfm_connect(ns.g.d[a].sock, &c);
	if (rc == SSFM_OK) {
		ssfm_set_timeout(c, 60000);
		rc = ssfm_demote(c);
	}
	ssfm_close(c);
	is_int(rc, SSFM_OK, "host%d demotes on request", a);
	n = dg_wait_active(&ns.g, a, NS_TAKEOVER_MS);
	took = tu_now_ms() - t0;
	ok(n == ns_other(a), "after the switchover host%d is ACTIVE (%" PRIu64 " ms)", n, took);
	if (n <= 0)
		return a;
	tap_diag("MEASURED %s switchover: %" PRIu64 " ms", ns.storage, took);
	is_int(ns_batch_held(&b, n), acked, "host%d holds every write of host%d", n, a);
	ok(dg_wait_role(&ns.g, a, "STANDBY", 30000), "host%d follows as STANDBY", a);
	return n;
}

/* ---- 4. SIGKILL takeover ------------------------------------------------------- */

static int check_kill(int a)
{
	struct ns_batch b = { "kill", 20, { 0 } };
	uint64_t t0, took;
	int acked, n;

	acked = ns_put_batch(&b, a);
	is_int(acked, 20, "20 writes acknowledged by host%d", a);
	t0 = tu_now_ms();
	dg_signal(&ns.g, a, SIGKILL);
	n = dg_wait_active(&ns.g, a, NS_TAKEOVER_MS);
	took = tu_now_ms() - t0;
	ok(n == ns_other(a), "after SIGKILL of host%d's ssfmd, host%d is ACTIVE in %" PRIu64
	    " ms (bound %d ms)", a, n, took, NS_TAKEOVER_MS);
	if (n <= 0)
		return 0;
	tap_diag("MEASURED %s takeover after SIGKILL of the active: %" PRIu64 " ms", ns.storage,
	    took);
	is_int(ns_batch_held(&b, n), acked, "host%d holds every acknowledged write", n);
	ok(ns_start(a) == 0 && dg_wait_role(&ns.g, a, "STANDBY", 30000),
	    "host%d restarts as a STANDBY", a);
	return n;
}

/* ---- 5. zero loss ---------------------------------------------------------- */

static void ns_writers_report(struct dwriters *w)
{
	uint64_t lost = 0, errors = 0, retries = 0, longest = 0;

	for (int t = 0; t < w->nthreads; t++) {
		lost += w->t[t].gave_up;
		errors += w->t[t].errors;
		retries += w->t[t].retries;
		if (w->t[t].max_ack_ms > longest)
			longest = w->t[t].max_ack_ms;
		if (w->t[t].errors)
			tap_diag("thread %d: %s", t, w->t[t].first_error);
	}
	tap_diag("%s: %" PRIu64 " acknowledged writes (%" PRIu64 " retries, longest %" PRIu64
	    " ms)", w->prefix, dw_acks(w), retries, longest);
	is_int(lost, 0, "%s: no write was left without an acknowledgement", w->prefix);
	is_int(errors, 0, "%s: no write got an error other than a failover's", w->prefix);
}

static void ns_audit_all(struct dwriters *w, int live[3])
{
	uint64_t keys = 0;

	int problems;

	for (int i = 1; i <= 2; i++) {
		if (!live[i])
			continue;
		problems = dw_audit(w, i, &keys);
		is_int(problems, 0, "%s audit on host%d: every acknowledged write, nothing else (%"
		    PRIu64 " keys)", w->prefix, i, keys);
	}
	problems = dw_audit(w, 0, &keys);
	is_int(problems, 0, "%s audit of the store through %s (%" PRIu64 " keys)", w->prefix,
	    ns.g.hs.store, keys);
}

static int check_zero_loss(struct dwriters *w, int a)
{
	char log[PATH_MAX];
	int kills = 0, live[3] = { 0, 1, 1 };

	snprintf(log, sizeof(log), "%s/acks-zl.log", ns.g.hs.tmp);
	if (dw_start(w, &ns.g, NS_WRITERS, "zl", log, 120000) < 0)
		tap_bail("cannot start writers");
	w->hint = a;
	ok(dw_wait_acks(w, 50, 30000), "4 writers get acknowledgements from host%d", a);
	for (int k = 0; k < ns.kills; k++) {
		uint64_t t0, took;
		int n;

		a = dg_wait_active(&ns.g, 0, NS_TAKEOVER_MS);
		if (a <= 0)
			break;
		dw_wait_acks(w, dw_acks(w) + 30, 30000);
		t0 = tu_now_ms();
		dg_signal(&ns.g, a, SIGKILL);
		kills++;
		n = dg_wait_active(&ns.g, a, NS_TAKEOVER_MS);
		took = tu_now_ms() - t0;
		if (took > ns.kill_takeover_max)
			ns.kill_takeover_max = took;
		if (n <= 0)
			tap_diag("kill %d: no new active within %d ms of killing host%d", k,
			    NS_TAKEOVER_MS, a);
		if (ns_start(a) < 0 || !dg_wait_role(&ns.g, a, "STANDBY", 30000))
			tap_diag("kill %d: host%d did not come back as a STANDBY", k, a);
	}
	is_int(kills, ns.kills, "the active was SIGKILLed %d times under writes", ns.kills);
	ok(dw_wait_acks(w, dw_acks(w) + 30, 30000), "writes are acknowledged after the last kill");
	dw_stop(w);
	tap_diag("MEASURED %s longest takeover under writes: %" PRIu64 " ms", ns.storage,
	    ns.kill_takeover_max);
	ns_writers_report(w);
	a = dg_wait_active(&ns.g, 0, NS_TAKEOVER_MS);
	ok(a > 0 && dg_wait_caught_up(&ns.g, a, 60000),
	    "the standby has applied what host%d committed", a);
	ns_audit_all(w, live);
	return a;
}

/* ---- 6. the fence hook ----------------------------------------------------- */

/* 1 when host h's sanlock daemon runs no lockspace of the group. */
static int ns_lockspace_gone(void *arg)
{
	struct host *h = arg;
	char *argv[] = { "/usr/sbin/sanlock", "client", "status", NULL };
	char *out = NULL, want[64];
	int status, gone;

	snprintf(want, sizeof(want), "s %s:", ns.g.hs.group);
	status = tu_capture(argv, host_env(h), 5000, &out, NULL);
	gone = status == 0 && out != NULL && strstr(out, want) == NULL;
	free(out);
	return gone;
}

/* A durable write of a new file through host i's mount: 0 or -errno. */
static int ns_write_through(int i, const char *name)
{
	char path[PATH_MAX + 64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", ns.store[i], name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, "fenced?\n", 8) != 8 || fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	unlink(path);
	return rc;
}

static int check_fence_hook(int a)
{
	struct ns_batch b = { "fence", 10, { 0 } };
	int s = ns_other(a), n, rc, acked;
	uint64_t t0, took;

	if (ns.fence_hook == NULL)
		return a;
	is_int(ns_write_through(a, "probe-before"), 0,
	    "before fencing, a write through host%d's mount %c works", a, ns_mount_name(a));
	/* The standby gets the hook; the active is killed while its mount and
	 * sanlock live on (a host whose daemon died, or hangs). */
	dg_signal(&ns.g, s, SIGTERM);
	dg_conf(&ns.g, s, "fence_hook = %s", ns.fence_hook);
	ok(ns_start(s) == 0 && dg_wait_role(&ns.g, s, "STANDBY", 30000),
	    "host%d restarts with fence_hook = %s", s, ns.fence_hook);
	acked = ns_put_batch(&b, a);
	dg_wait_caught_up(&ns.g, a, 30000);
	t0 = tu_now_ms();
	dg_signal(&ns.g, a, SIGKILL);
	n = dg_wait_active(&ns.g, a, NS_TAKEOVER_MS);
	took = tu_now_ms() - t0;
	ok(n == s, "after SIGKILL of host%d, host%d fences it and is ACTIVE in %" PRIu64 " ms", a,
	    n, took);
	if (n != s)
		return 0;
	tap_diag("MEASURED %s takeover with the fence hook: %" PRIu64 " ms", ns.storage, took);
	ok(ns_log_has(s, "fence_hook: exited with status 0"),
	    "host%d's log shows the fence hook succeeded", s);
	is_int(ns_batch_held(&b, s), acked, "host%d holds every acknowledged write", s);
	rc = ns_write_through(a, "probe-after");
	ok(rc < 0, "after fencing, a write through host%d's mount %c fails at the storage (%s)",
	    a, ns_mount_name(a), rc < 0 ? strerror(-rc) : "it worked");
	/* host a again, through a new client.  Its sanlock still runs the
	 * lockspace whose lease I/O now fails, until it gives it up (8 *
	 * io_timeout); a join before then would count as joined and end with
	 * it.  The same sanlock daemon then takes its host id back at once,
	 * where a new one would wait for the old delta lease to expire. */
	ok(ns_ctl("mount", a) == 0, "mount %c is made again", ns_mount_name(a));
	t0 = tu_now_ms();
	ok(tu_wait_until(ns_lockspace_gone, ns.g.d[a].h, 60000, 200),
	    "host%d's sanlock gives up the lockspace of the fenced mount (%" PRIu64 " ms)", a,
	    tu_now_ms() - t0);
	ok(ns_start(a) == 0 && dg_wait_role(&ns.g, a, "STANDBY", 60000),
	    "host%d comes back as a STANDBY (%" PRIu64 " ms)", a, tu_now_ms() - t0);
	return s;
}

/* ---- 7. the active's mount cut off ------------------------------------------- */

static int ns_not_active(void *arg)
{
	int *i = arg;

	return !dg_has_role(&ns.g, *i, "ACTIVE");
}

static void check_cut(struct dwriters *zl, int a)
{
	struct dwriters w;
	char log[PATH_MAX];
	uint64_t t0, took, acks_at_cut;
	int n, s = ns_other(a), live[3] = { 0, 0, 0 };

	snprintf(log, sizeof(log), "%s/acks-cut.log", ns.g.hs.tmp);
	if (dw_start(&w, &ns.g, NS_WRITERS, "cut", log, (int)NS_CUT_TAKEOVER_MS + 60000) < 0)
		tap_bail("cannot start writers");
	w.hint = a;
	ok(dw_wait_acks(&w, 50, 30000), "4 writers get acknowledgements from host%d", a);
	ok(ns_ctl("cut", a) == 0, "host%d's mount %c is cut off", a, ns_mount_name(a));
	t0 = tu_now_ms();
	acks_at_cut = dw_acks(&w);
	{
		int stopped = tu_wait_until(ns_not_active, &a, 30000, 50);
		ok(stopped, "host%d stops being ACTIVE on its own (%" PRIu64 " ms after the cut)",
		    a, tu_now_ms() - t0);
	}
	/* Then the host dies: nothing of it renews or releases any more. */
	if (dg_running(&ns.g, a))
		dg_signal(&ns.g, a, SIGKILL);
	host_sanlock_kill(ns.g.d[a].h, SIGKILL);
	n = dg_wait_active(&ns.g, a, (int)NS_CUT_TAKEOVER_MS);
	took = tu_now_ms() - t0;
	ok(n == s, "host%d takes over %" PRIu64 " ms after host%d's mount was cut (bound %u ms)",
	    n, took, a, (unsigned)NS_CUT_TAKEOVER_MS);
	tap_diag("MEASURED %s takeover after the active's mount was cut: %" PRIu64 " ms "
	    "(sanlock: 8 * io_timeout + 60 s = %u s after the last renewal)", ns.storage, took,
	    FENCE_HOST_DEAD(DG_IO_TIMEOUT));
	tap_diag("%" PRIu64 " writes were acknowledged at the cut; the end of host%d's log:",
	    acks_at_cut, a);
	dg_file_tail(ns.g.d[a].log, 1200);
	if (n == s)
		ok(dw_wait_acks(&w, dw_acks(&w) + 30, 60000), "host%d acknowledges writes", s);
	dw_stop(&w);
	ns_writers_report(&w);
	if (n != s) {
		dw_free(&w);
		return;
	}
	live[s] = 1;
	ns_audit_through(s);
	ns_audit_all(&w, live);
	ns_audit_all(zl, live);
	dw_free(&w);
}

/* ---- main ------------------------------------------------------------------ */

static void ns_usage(void)
{
	tap_bail("usage: netfs_scenario --storage NAME --mnt-a DIR --mnt-b DIR "
	    "[--fence-hook \"PROGRAM ARGS\"] [--lag-samples N] [--kills N]");
}

int main(int argc, char **argv)
{
	struct dwriters zl;
	uint64_t t0;
	char tag[32];
	int a;

	memset(&zl, 0, sizeof(zl));
	ns.lag_samples = 20;
	ns.kills = 3;
	for (int k = 1; k < argc; k++) {
		if (k + 1 >= argc)
			ns_usage();
		if (strcmp(argv[k], "--storage") == 0)
			ns.storage = argv[++k];
		else if (strcmp(argv[k], "--mnt-a") == 0)
			ns.mnt[1] = argv[++k];
		else if (strcmp(argv[k], "--mnt-b") == 0)
			ns.mnt[2] = argv[++k];
		else if (strcmp(argv[k], "--fence-hook") == 0)
			ns.fence_hook = argv[++k];
		else if (strcmp(argv[k], "--lag-samples") == 0)
			ns.lag_samples = atoi(argv[++k]);
		else if (strcmp(argv[k], "--kills") == 0)
			ns.kills = atoi(argv[++k]);
		else
			ns_usage();
	}
	if (ns.storage == NULL || ns.mnt[1] == NULL || ns.mnt[2] == NULL)
		ns_usage();
	if (fcntl(NS_CTL_OUT, F_SETFD, FD_CLOEXEC) < 0 || fcntl(NS_CTL_IN, F_SETFD, FD_CLOEXEC) < 0)
		tap_bail("fds 3 and 4 must lead to the storage harness (netfs_scenario.sh)");
	snprintf(tag, sizeof(tag), "ns-%.20s", ns.storage);
	dg_setup(&ns.g, 2, tag);
	ns_setup();

	t0 = tu_now_ms();
	a = check_election();
	if (a > 0) {
		a = check_switchover(a);
		check_lag(a);
		/* The demoted host does not try to acquire for 3 s (ssfmd(8),
		 * CATCHUP): a pause, so that the takeover below measures the
		 * failover and not that hold-off. */
		tu_sleep_ms(3500);
		a = check_kill(a);
	}
	tap_diag("%s: election to SIGKILL takeover took %" PRIu64 " s", ns.storage,
	    (tu_now_ms() - t0) / 1000);
	t0 = tu_now_ms();
	if (a > 0)
		a = check_zero_loss(&zl, a);
	else
		ok(0, "no active host: zero-loss, fencing and cut checks not run");
	tap_diag("%s: zero loss took %" PRIu64 " s", ns.storage, (tu_now_ms() - t0) / 1000);
	t0 = tu_now_ms();
	if (a > 0)
		a = check_fence_hook(a);
	if (ns.fence_hook != NULL)
		tap_diag("%s: fencing took %" PRIu64 " s", ns.storage, (tu_now_ms() - t0) / 1000);
	t0 = tu_now_ms();
	if (a > 0)
		check_cut(&zl, a);
	tap_diag("%s: the cut took %" PRIu64 " s", ns.storage, (tu_now_ms() - t0) / 1000);
	if (zl.g != NULL)
		dw_free(&zl);
	dg_stop(&ns.g);
	return tap_done();
}
