/*
 * t_daemon_roles: three hosts running the real ssfmd on real sanlock
 * daemons (io_timeout 1).  Exactly one becomes ACTIVE and stays the only
 * one; a standby refuses writes naming the active; graceful switchover
 * (ssfm_demote) hands over to another host, and back; with auto_promote = no
 * nobody is active until ssfm_promote, then exactly that host, in both
 * directions; a failing check hook makes the active hand over; a few hundred
 * malformed and oversized requests leave the daemon serving.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct dgroup g;

/* Polls every host for ms: 1 if exactly `want` was ACTIVE (and no other)
 * at every look. */
static int only_active_for(int want, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)ms;
	int looks = 0;

	while (tu_now_ms() < end) {
		int a = dg_find_active(&g);
		if (a != want) {
			tap_diag("look %d: active is %d, expected host%d; its log:", looks, a, want);
			dg_file_tail(g.d[want].log, 1500);
			return 0;
		}
		looks++;
		tu_sleep_ms(100);
	}
	return looks > 0;
}

static int count_active(void)
{
	int n = 0;

	for (int i = 1; i <= g.n; i++)
		n += dg_has_role(&g, i, "ACTIVE");
	return n;
}

static int write_read(int i, const char *key)
{
	char *value = NULL;
	uint64_t v1 = 0, v2 = 0;
	int rc = dg_put(&g, i, key, "{\"x\":1}", NULL, &v1);

	if (rc != SSFM_OK) {
		tap_diag("put %s on host%d: %s", key, i, ssfm_strerror(rc));
		return 0;
	}
	rc = dg_get(&g, i, key, &value, &v2);
	if (rc != SSFM_OK || v2 != v1) {
		tap_diag("get %s on host%d: %s (version %" PRIu64 ", put said %" PRIu64 ")",
		    key, i, ssfm_strerror(rc), v2, v1);
		free(value);
		return 0;
	}
	free(value);
	return 1;
}

static void restart_all(void)
{
	for (int i = 1; i <= g.n; i++)
		if (g.d[i].pid > 0)
			is_int(dg_signal(&g, i, SIGTERM), 0, "SIGTERM stops host%d's ssfmd with status 0", i);
	for (int i = 1; i <= g.n; i++)
		if (dg_start(&g, i) < 0)
			tap_bail("cannot restart ssfmd on host%d (log %s)", i, g.d[i].log);
}

/* ---- what standbys cost the shared storage -------------------------------- */

/* Bytes a process has read from storage (/proc/PID/io read_bytes), or -1. */
static long long proc_read_bytes(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "read_bytes: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * A standby retries the lease every poll_interval (50 ms here).  Each real
 * try is a sanlock ballot that reads the whole 1 MiB lease area (and
 * naming the holder read it again): about 40 MB/s per standby from the
 * storage the active commits to.  A standby now looks at the leader sector
 * and runs a ballot only when the lease is free or its holder dead (and
 * every 10 s), so its sanlock daemon reads little more than its own delta
 * lease renewals (the 1 MiB lockspace every 2 s at io_timeout 1).
 */
static void check_standby_lease_io(int a)
{
	long long before[HOSTS_MAX + 1], after;
	const int seconds = 5;
	const long long bound = 10LL << 20;

	for (int i = 1; i <= g.n; i++)
		if (i != a)
			dg_wait_role(&g, i, "STANDBY", 30000);
	for (int i = 1; i <= g.n; i++)
		before[i] = proc_read_bytes(g.hs.host[i].sanlock_pid);
	tu_sleep_ms(seconds * 1000);
	for (int i = 1; i <= g.n; i++) {
		after = proc_read_bytes(g.hs.host[i].sanlock_pid);
		if (i == a) {
			tap_diag("MEASURED the active's sanlock read %lld KiB in %d s",
			    (after - before[i]) >> 10, seconds);
			continue;
		}
		ok(before[i] >= 0 && after >= before[i] && after - before[i] < bound,
		    "standby host%d's sanlock read %lld KiB from storage in %d s of waiting for the lease "
		    "(bound %lld KiB)", i, (after - before[i]) >> 10, seconds, bound >> 10);
	}
	ok(dg_find_active(&g) == a, "and host%d stayed active", a);
}

/* ---- roles with auto_promote ---------------------------------------------- */

static int check_auto(void)
{
	int a, s, rc;
	ssfm_client *c = NULL;
	uint64_t v;

	a = dg_wait_active(&g, 0, 60000);
	ok(a > 0, "one host of three becomes ACTIVE (host%d)", a);
	if (a <= 0)
		return 0;
	ok(only_active_for(a, 3000), "host%d stays the only ACTIVE host over 3 s of polling all three", a);
	s = a % g.n + 1;
	ok(dg_wait_role(&g, s, "STANDBY", 20000), "host%d is STANDBY", s);
	ok(write_read(a, "roles/a"), "a put and a get work on the active");

	rc = ssfm_connect(g.d[s].sock, &c);
	if (rc == 0)
		rc = ssfm_put(c, "roles/standby", "1", SSFM_ANY_VERSION, NULL, &v);
	is_int(rc, SSFM_ENOTACTIVE, "a standby refuses a write: not_active");
	is_str(ssfm_error_active_host(c), g.hs.host[a].name, "... naming the active host");
	ssfm_close(c);
	return a;
}

/* ssfm_demote on host a; returns the new active (another host) or 0. */
static int switchover(int a, int promote)
{
	ssfm_client *c = NULL;
	uint64_t t0 = tu_now_ms();
	int rc, b;

	rc = ssfm_connect(g.d[a].sock, &c);
	if (rc == 0)
		rc = ssfm_demote(c);
	is_int(rc, SSFM_OK, "ssfm_demote on host%d: %s", a, rc ? ssfm_errmsg(c) : "");
	ssfm_close(c);
	if (promote > 0) {
		c = NULL;
		rc = ssfm_connect(g.d[promote].sock, &c);
		if (rc == 0)
			rc = ssfm_promote(c, 1, 30000);
		is_int(rc, SSFM_OK, "ssfm_promote --wait on host%d: %s", promote, rc ? ssfm_errmsg(c) : "");
		ssfm_close(c);
	}
	b = dg_wait_active(&g, a, 20000);
	ok(b > 0 && b != a, "switchover: host%d hands over to host%d in %" PRIu64 " ms (bound 20 s)",
	    a, b, tu_now_ms() - t0);
	if (promote > 0)
		is_int(b, promote, "... the promoted host");
	ok(!dg_has_role(&g, a, "ACTIVE"), "host%d is no longer ACTIVE", a);
	return b;
}

/* ---- auto_promote = no ------------------------------------------------------ */

static void check_manual(void)
{
	int none = 1, a, b;
	uint64_t end;
	ssfm_client *c = NULL;
	int rc;

	dg_conf(&g, 0, "auto_promote = no");
	restart_all();
	for (int i = 1; i <= g.n; i++)
		ok(dg_wait_role(&g, i, "STANDBY", 30000), "auto_promote = no: host%d comes up STANDBY", i);
	end = tu_now_ms() + 3000;
	while (tu_now_ms() < end && none) {
		none = count_active() == 0;
		tu_sleep_ms(100);
	}
	ok(none, "auto_promote = no: nobody becomes ACTIVE on its own over 3 s");

	rc = ssfm_connect(g.d[2].sock, &c);
	if (rc == 0)
		rc = ssfm_promote(c, 1, 30000);
	is_int(rc, SSFM_OK, "ssfm_promote --wait on host2: %s", rc ? ssfm_errmsg(c) : "");
	ssfm_close(c);
	a = dg_find_active(&g);
	is_int(a, 2, "then exactly host2 is ACTIVE");
	ok(only_active_for(2, 1000), "... and stays the only one");
	ok(write_read(2, "roles/manual2"), "host2 takes writes");
	b = switchover(2, 3);
	if (b == 3) {
		ok(write_read(3, "roles/manual3"), "host3 takes writes");
		b = switchover(3, 2);
		ok(b == 2 && write_read(2, "roles/manual2b"), "and back: host2 active again, takes writes");
	}
	dg_conf_clear(&g, 0);
}

/* ---- check hook -------------------------------------------------------------- */

static int file_there(void *path)
{
	return tu_file_exists(path);
}

static void check_hook(void)
{
	char script[PATH_MAX], flag[PATH_MAX + 8], ran[PATH_MAX + 8];
	const char text[] = "# check hook for t_daemon_roles: fails while $1 exists\n"
	    ": >\"$1.ran\"\n"
	    "test ! -e \"$1\"\n";
	int a, b;

	snprintf(script, sizeof(script), "%s/check.sh", g.hs.tmp);
	if (tu_write_file(script, text, strlen(text)) < 0)
		tap_bail("cannot write %s", script);
	for (int i = 1; i <= g.n; i++)
		dg_conf(&g, i, "hook_check = /bin/sh %s %s/fail", script, g.hs.host[i].dir);
	dg_conf(&g, 0, "check_interval = 200");
	dg_conf(&g, 0, "check_failures = 2");
	restart_all();
	a = dg_wait_active(&g, 0, 60000);
	ok(a > 0, "with a passing check hook, host%d becomes ACTIVE", a);
	if (a <= 0)
		return;
	snprintf(ran, sizeof(ran), "%s/fail.ran", g.hs.host[a].dir);
	ok(tu_wait_until(file_there, ran, 10000, 50),
	    "the active runs its check hook (%s)", ran);
	snprintf(flag, sizeof(flag), "%s/fail", g.hs.host[a].dir);
	if (tu_write_file(flag, "", 0) < 0)
		tap_bail("cannot write %s", flag);
	b = dg_wait_active(&g, a, 30000);
	ok(b > 0 && b != a, "a failing check hook makes host%d hand over (to host%d)", a, b);
	ok(!dg_has_role(&g, a, "ACTIVE"), "host%d is not ACTIVE", a);
	unlink(flag);
	dg_conf_clear(&g, 0);
}

/* ---- malformed requests ------------------------------------------------------- */

static int raw_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int raw_send(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one reply line (up to 64 KiB kept) within 10 s: 1, 0 on EOF, -1. */
static int raw_line(int fd, char *line, size_t len)
{
	size_t used = 0;
	uint64_t end = tu_now_ms() + 10000;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		char ch;
		int left = (int)(end - tu_now_ms());

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		ssize_t n = recv(fd, &ch, 1, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			return errno == EINTR ? raw_line(fd, line, len) : -1;
		if (ch == '\n') {
			line[used < len ? used : len - 1] = '\0';
			return 1;
		}
		if (used + 1 < len)
			line[used] = ch;
		used++;
	}
}

static void check_malformed(void)
{
	static const char *const bad[] = {
		"{", "}", "[]", "\"op\"", "null", "42", "{\"op\":1}", "{\"op\":\"nosuch\"}",
		"{\"op\":\"put\"}", "{\"op\":\"put\",\"key\":\"k\"}", "{\"op\":\"put\",\"value\":1}",
		"{\"op\":\"put\",\"key\":1,\"value\":1}", "{\"op\":\"put\",\"key\":\"\",\"value\":1}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":1,\"expect\":\"x\"}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":1,\"extra\":true}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":1,\"id\":\"\"}",
		"{\"op\":\"get\"}", "{\"op\":\"get\",\"key\":[1]}", "{\"op\":\"del\",\"key\":{}}",
		"{\"op\":\"list\",\"limit\":-1}", "{\"op\":\"list\",\"limit\":\"x\"}",
		"{\"op\":\"list\",\"limit\":100000000}", "{\"op\":\"watch\",\"from\":\"x\"}",
		"{\"op\":\"status\",\"v\":2}", "{\"op\":\"promote\",\"wait\":\"yes\"}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":}", "{\"op\":\"put\" \"key\":\"k\"}",
		"{\"op\":\"put\",\"key\":\"k\",\"value\":1", "\xff\xfe{}", "{\"op\":\"get\",\"key\":\"\xc3\x28\"}",
	};
	const size_t nbad = sizeof(bad) / sizeof(bad[0]);
	int a = dg_wait_active(&g, 0, 60000);
	char line[65536];
	int fd, errors = 0, sent = 0, replies_ok = 1, status_after = 0;
	size_t big = 3u * 1024u * 1024u;
	char *huge;

	ok(a > 0, "an active host for the malformed requests (host%d)", a);
	if (a <= 0)
		return;
	/* One connection: every malformed line gets an error, and the
	 * connection stays usable. */
	fd = raw_connect(g.d[a].sock);
	ok(fd >= 0, "raw connection to %s", g.d[a].sock);
	for (int round = 0; fd >= 0 && round < 6; round++)
		for (size_t k = 0; k < nbad; k++) {
			char req[256];
			int n = snprintf(req, sizeof(req), "%s\n", bad[k]);

			sent++;
			if (raw_send(fd, req, (size_t)n) < 0 || raw_line(fd, line, sizeof(line)) != 1) {
				tap_diag("no reply to malformed request %zu: %s", k, bad[k]);
				replies_ok = 0;
				break;
			}
			if (strstr(line, "\"ok\":false") != NULL || strstr(line, "\"ok\": false") != NULL)
				errors++;
		}
	ok(replies_ok, "%d malformed requests on one connection each get a reply", sent);
	ok(errors >= sent - 12, "... an error (%d of %d; the few valid ones may succeed)", errors, sent);
	if (fd >= 0 && raw_send(fd, "{\"op\":\"status\"}\n", 16) == 0 &&
	    raw_line(fd, line, sizeof(line)) == 1 && strstr(line, "\"ok\":true") != NULL)
		status_after = 1;
	ok(status_after, "the same connection still answers status");
	if (fd >= 0)
		close(fd);

	/* Oversized lines: 3 MiB with and without a newline, a huge value. */
	huge = malloc(big + 64);
	if (huge == NULL)
		tap_bail("out of memory");
	for (int k = 0; k < 4; k++) {
		size_t len;

		if (k % 2 == 0) {
			memset(huge, 'x', big);
			len = big;
		} else {
			len = (size_t)snprintf(huge, 64, "{\"op\":\"put\",\"key\":\"big\",\"value\":\"");
			memset(huge + len, 'v', big - len - 4);
			memcpy(huge + big - 4, "\"}", 2);
			len = big - 2;
		}
		huge[len++] = '\n';
		fd = raw_connect(g.d[a].sock);
		if (!ok(fd >= 0, "connect for a 3 MiB request (%d)", k))
			continue;
		sent++;
		raw_send(fd, huge, len);
		/* The protocol promises an error and a connection that stays
		 * usable, not a dropped connection. */
		int got = raw_line(fd, line, sizeof(line));
		ok(got == 1 && strstr(line, "too_large") != NULL,
		    "a 3 MiB request (%d) gets too_large: %.80s", k, got == 1 ? line : "(no reply)");
		static const char status_req[] = "{\"op\":\"status\"}\n";
		raw_send(fd, status_req, sizeof(status_req) - 1);
		got = raw_line(fd, line, sizeof(line));
		ok(got == 1 && strstr(line, "\"ok\":true") != NULL,
		    "... and the same connection answers status after it (%d)", k);
		close(fd);
	}
	free(huge);

	/* Binary garbage and half lines, then close. */
	srand(4);
	for (int k = 0; k < 200; k++) {
		char buf[512];
		size_t len = (size_t)(rand() % (int)sizeof(buf)) + 1;

		for (size_t j = 0; j < len; j++)
			buf[j] = (char)(rand() & 0xff);
		if (k % 2 == 1) {
			len = (size_t)snprintf(buf, sizeof(buf), "{\"op\":\"put\",\"key\":\"half%d\",\"va", k);
		}
		fd = raw_connect(g.d[a].sock);
		if (fd < 0)
			continue;
		sent++;
		raw_send(fd, buf, len);
		close(fd);
	}
	/* The daemon must keep accepting while it is fed garbage. */
	ok(sent == 6 * (int)nbad + 4 + 200, "every malformed, oversized, garbage and half request reached host%d (%d sent)", a, sent);
	tap_diag("%d malformed, oversized, garbage and half requests sent to host%d", sent, a);
	ok(g.d[a].pid > 0 && tu_kill_wait(g.d[a].pid, 0, 0) == -1, "host%d's ssfmd is still running", a);
	ok(dg_has_role(&g, a, "ACTIVE"), "host%d still answers status, ACTIVE", a);
	ok(write_read(a, "roles/after-garbage"), "a put and a get still work on host%d", a);
	for (int i = 1; i <= g.n; i++) {
		char *v = NULL;
		uint64_t ver;
		is_int(dg_get(&g, i, "roles/half1", &v, &ver), SSFM_ENOTFOUND,
		    "no half request was applied (host%d)", i);
		free(v);
	}
}

int main(void)
{
	int a, b;

	dg_setup(&g, 3, "droles");
	dg_start_all(&g);
	a = check_auto();
	if (a > 0)
		check_standby_lease_io(a);
	if (a > 0) {
		b = switchover(a, 0);
		if (b > 0) {
			ok(write_read(b, "roles/b"), "the new active takes writes");
			a = switchover(b, 0);
			if (a > 0)
				ok(write_read(a, "roles/c"), "and after switching again, the next one too");
		}
	}
	check_malformed();
	check_manual();
	check_hook();
	dg_stop(&g);
	return tap_done();
}
