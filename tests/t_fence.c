/*
 * t_fence: fence/ against real sanlock daemons (io_timeout 1): the lease
 * file's error cases, join, acquire/release between two hosts with growing
 * epochs, takeover after the holder is SIGKILLed, lease health, and the kill
 * path run by sanlock when a host's delta lease cannot be renewed.
 */
#include "fence.h"
#include "hosts.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO_TIMEOUT 1

static struct hosts hs;

static int has(const char *text, const char *part)
{
	return text != NULL && strstr(text, part) != NULL;
}

/* ---- lease file errors (no daemon) ---------------------------------------- */

static void check_lease_errors(void)
{
	struct fence_lease_info info;
	struct fence_error err;
	char path[PATH_MAX + 32];
	int rc;

	rc = fence_lease_check(hs.lease, hs.group, &info, &err);
	is_int(rc, 0, "the initialised lease checks: %s", rc ? err.msg : "");
	is_int(info.io_timeout, IO_TIMEOUT, "the lockspace records io_timeout");
	is_str(info.group, hs.group, "the lockspace is named after the group");

	rc = fence_lease_init(hs.lease, hs.group, IO_TIMEOUT, &err);
	is_int(rc, -EEXIST, "init refuses an existing lease file");
	ok(has(err.msg, hs.lease), "... naming it: %s", err.msg);
	snprintf(path, sizeof(path), "%s/bad-io", hs.tmp);
	is_int(fence_lease_init(path, hs.group, 0, &err), -EINVAL, "io_timeout 0 is refused");
	is_int(fence_lease_init(path, hs.group, 61, &err), -EINVAL, "io_timeout 61 is refused");
	ok(has(err.msg, "1..60"), "... saying the range: %s", err.msg);

	snprintf(path, sizeof(path), "%s/missing/lease", hs.tmp);
	rc = fence_lease_check(path, hs.group, NULL, &err);
	is_int(rc, -FENCE_ENOLEASE, "missing lease file");
	ok(has(err.msg, path) && has(err.msg, "ssfm init"), "... message: %s", err.msg);

	snprintf(path, sizeof(path), "%s/zero-lease", hs.tmp);
	char *zeros = calloc(1, FENCE_LEASE_SIZE);
	tu_write_file(path, zeros, FENCE_LEASE_SIZE);
	rc = fence_lease_check(path, hs.group, NULL, &err);
	is_int(rc, -FENCE_EUNINIT, "uninitialised lease file");
	ok(has(err.msg, path) && has(err.msg, "not initialised"), "... message: %s", err.msg);

	snprintf(path, sizeof(path), "%s/small-lease", hs.tmp);
	tu_write_file(path, zeros, FENCE_LEASE_SIZE / 2);
	rc = fence_lease_check(path, hs.group, NULL, &err);
	is_int(rc, -FENCE_ETOOSMALL, "lease file too small");
	ok(has(err.msg, path) && has(err.msg, "too small"), "... message: %s", err.msg);
	free(zeros);

	rc = fence_lease_check(hs.lease, "other-group", NULL, &err);
	is_int(rc, -FENCE_EUNINIT, "lease file of another group");
	ok(has(err.msg, hs.group) && has(err.msg, "other-group"), "... message: %s", err.msg);
}

/* Runs fn in a child and returns what it wrote to the pipe ("CODE MSG"). */
static char *in_child(void (*fn)(int fd, const char *arg), const char *arg)
{
	int p[2];
	pid_t pid;
	char *text = NULL;

	if (pipe(p) < 0)
		return NULL;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		fn(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	if (pid > 0) {
		char buf[2048];
		ssize_t n, len = 0;
		while ((n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
			len += n;
		buf[len] = '\0';
		text = strdup(buf);
		waitpid(pid, NULL, 0);
	}
	close(p[0]);
	return text;
}

static void report(int fd, int rc, const struct fence_error *err)
{
	dprintf(fd, "%d %s", rc, rc < 0 ? err->msg : "");
}

static void child_unprivileged_check(int fd, const char *lease)
{
	struct fence_error err;

	if (setgid(65534) < 0 || setuid(65534) < 0) {
		dprintf(fd, "setuid: %s", strerror(errno));
		return;
	}
	report(fd, fence_lease_check(lease, NULL, NULL, &err), &err);
}

/* ramfs has no O_DIRECT; mount one in a private mount namespace. */
static void child_ramfs_check(int fd, const char *dir)
{
	struct fence_error err;
	char path[PATH_MAX + 16];
	int rc;

	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("none", dir, "ramfs", 0, NULL) < 0) {
		dprintf(fd, "mount namespace with ramfs: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/lease", dir);
	rc = fence_lease_init(path, "g", 1, &err);
	dprintf(fd, "%d %s|", rc, err.msg);
	char *zeros = calloc(1, FENCE_LEASE_SIZE);
	tu_write_file(path, zeros, FENCE_LEASE_SIZE);
	free(zeros);
	report(fd, fence_lease_check(path, NULL, NULL, &err), &err);
}

static void check_privilege_and_odirect_errors(void)
{
	char dir[PATH_MAX + 16], want[64];
	char *text;

	chmod(hs.lease, 0600);
	text = in_child(child_unprivileged_check, hs.lease);
	snprintf(want, sizeof(want), "%d ", -EACCES);
	ok(text != NULL && strncmp(text, want, strlen(want)) == 0 && has(text, "permission denied")
	    && has(text, hs.lease), "permission denied names the lease: %s",
	    text ? text : "(none)");
	free(text);
	chmod(hs.lease, 0660);

	snprintf(dir, sizeof(dir), "%s/ramfs", hs.tmp);
	mkdir(dir, 0755);
	text = in_child(child_ramfs_check, dir);
	snprintf(want, sizeof(want), "%d ", -FENCE_ENODIRECT);
	ok(text != NULL && strncmp(text, want, strlen(want)) == 0 && has(text, "O_DIRECT"),
	    "init on a filesystem without O_DIRECT: %s", text ? text : "(none)");
	char *second = text != NULL ? strchr(text, '|') : NULL;
	ok(second != NULL && strncmp(second + 1, want, strlen(want)) == 0 &&
	    has(second, "O_DIRECT") && has(second, dir), "check on it: %s",
	    second ? second : "(none)");
	free(text);
}

static void check_no_daemon(void)
{
	struct fence *f = NULL;
	struct fence_error err;
	char dir[PATH_MAX + 16];
	int state, rc;

	snprintf(dir, sizeof(dir), "%s/nodaemon", hs.tmp);
	mkdir(dir, 0755);
	setenv("SANLOCK_RUN_DIR", dir, 1);
	rc = fence_open(hs.store, hs.group, 9, "nowhere", &f, &err);
	is_int(rc, 0, "open needs no daemon: %s", rc ? err.msg : "");
	if (f == NULL)
		return;
	fence_join_start(f, &err);
	for (int i = 0; i < 100 && (state = fence_join_poll(f, &err)) == FENCE_JOINING; i++)
		tu_sleep_ms(50);
	is_int(state, FENCE_JOIN_FAILED, "join without a daemon fails");
	is_int(err.code, -FENCE_ENODAEMON, "... as daemon not running");
	ok(has(err.msg, "not running") && has(err.msg, "systemctl start sanlock") &&
	    has(err.msg, dir), "... saying how to start it: %s", err.msg);
	uint64_t epoch;
	rc = fence_acquire(f, &epoch, NULL, &err);
	is_int(rc, -FENCE_ENODAEMON, "acquire without a daemon: %s", err.msg);
	fence_close(f);
	unsetenv("SANLOCK_RUN_DIR");
}

/* ---- with daemons ---------------------------------------------------------- */

static const char *expect_ok(struct agent *a, const char *cmd, int timeout_ms, const char *what)
{
	const char *r = agent_cmd(a, cmd, timeout_ms);

	ok(r != NULL && strncmp(r, "OK", 2) == 0, "%s: %s", what, r ? r : "(no answer)");
	return r;
}

/* Tries to acquire every 50 ms until it works or timeout_ms passes; returns
 * the epoch (0 on failure) and the time it took. */
static uint64_t acquire_within(struct agent *a, int timeout_ms, uint64_t *took_ms)
{
	uint64_t start = tu_now_ms();

	for (;;) {
		const char *r = agent_cmd(a, "acquire", 30000);
		if (r != NULL && strncmp(r, "OK", 2) == 0) {
			*took_ms = tu_now_ms() - start;
			return (uint64_t)answer_num(r, "epoch", 0);
		}
		if (r == NULL || tu_now_ms() - start > (uint64_t)timeout_ms) {
			tap_diag("last answer: %s", r ? r : "(none)");
			*took_ms = tu_now_ms() - start;
			return 0;
		}
		tu_sleep_ms(50);
	}
}

static void join_both(struct agent *a, struct agent *b)
{
	const char *r;

	/* Both join at once: each agent polls its own join. */
	if (write(a->to_fd, "join\n", 5) != 5 || write(b->to_fd, "join\n", 5) != 5)
		tap_bail("agents gone");
	r = agent_cmd(a, NULL, 60000);
	ok(r && has(r, "OK joined"), "host1 joins: %s", r ? r : "(none)");
	tap_diag("host1 join answer: %s", r ? r : "");
	r = agent_cmd(b, NULL, 60000);
	ok(r && has(r, "OK joined"), "host2 joins: %s", r ? r : "(none)");
	ok(answer_num(r, "polls", 0) > 1, "joining was polled, not waited for (%lld polls)",
	    answer_num(r, "polls", 0));
}

/*
 * sanlock may release a lease without writing its leader (when another
 * host wrote the leader last): then only the RELEASED flag in the owner's
 * dblock for that lease version says so, and fence_lease_busy must read it
 * there.  Shown on a copy of the lease (host1 holding) given to a handle of
 * host2's, so the real lease is never touched: the copy's leader names
 * host1, alive in host2's sanlock.
 */
static void check_busy_released(void)
{
	static struct hosts copy;
	struct agent c;
	char path[PATH_MAX + 32];
	unsigned char *lease;
	size_t len = 0;
	const char *r;
	off_t dblock = FENCE_RESOURCE_OFFSET + 2 * 512;   /* host id 1's dblock */
	uint64_t lver;

	copy = hs;
	snprintf(copy.store, sizeof(copy.store), "%s/copy", hs.tmp);
	snprintf(path, sizeof(path), "%s/hosts", copy.store);
	if (mkdir(copy.store, 0755) < 0 || mkdir(path, 0755) < 0) {
		ok(0, "mkdir %s: %s", path, strerror(errno));
		return;
	}
	lease = (unsigned char *)tu_read_file(hs.lease, &len);
	if (lease == NULL || len < FENCE_LEASE_SIZE) {
		ok(0, "read %s", hs.lease);
		free(lease);
		return;
	}
	memcpy(&lver, lease + FENCE_RESOURCE_OFFSET + 48, 8);   /* the leader's lver */
	snprintf(path, sizeof(path), "%s/lease", copy.store);
	tu_write_file(path, lease, len);
	r = agent_start(&c, &copy, &copy.host[2], 2, NULL, NULL);
	is_str(r, "READY", "a handle of host2's on the copy");
	r = agent_cmd(&c, "busy", 5000);
	ok(has(r, "OK busy 1 holder 1"), "the copy: host1 holds it: %s", r);

	/* host1's dblock: inp = 1, lver = the leader's, flags RELEASED. */
	memset(lease + dblock + 16, 0, 8);
	lease[dblock + 16] = 1;
	memcpy(lease + dblock + 40, &lver, 8);
	lease[dblock + 52] |= 1;
	tu_write_file(path, lease, len);
	r = agent_cmd(&c, "busy", 5000);
	ok(has(r, "OK busy 0"), "host1's dblock says it released this lease version: not busy: %s", r);

	/* A release of an older lease version says nothing of this one. */
	lver--;
	memcpy(lease + dblock + 40, &lver, 8);
	tu_write_file(path, lease, len);
	r = agent_cmd(&c, "busy", 5000);
	ok(has(r, "OK busy 1 holder 1"), "a release of the previous lease version does not count: %s", r);
	agent_stop(&c);
	free(lease);
}

int main(void)
{
	struct agent a, b, c;
	const char *r;
	uint64_t e1, e2, took, last;
	char path[PATH_MAX + 32];

	hosts_start(&hs, 3, "fence", IO_TIMEOUT);

	check_lease_errors();
	check_privilege_and_odirect_errors();
	check_no_daemon();

	r = agent_start(&a, &hs, &hs.host[1], 1, NULL, NULL);
	is_str(r, "READY", "agent for host1");
	r = agent_start(&b, &hs, &hs.host[2], 2, NULL, NULL);
	is_str(r, "READY", "agent for host2");
	join_both(&a, &b);
	snprintf(path, sizeof(path), "%s/hosts/1", hs.store);
	char *rec = tu_read_file(path, NULL);
	is_str(rec, "host1\n", "the join recorded host1's name in hosts/1");
	free(rec);

	/* The same host id from another host while host1 lives. */
	r = agent_start(&c, &hs, &hs.host[3], 1, "intruder", NULL);
	r = agent_cmd(&c, "join", 60000);
	is_int(answer_num(r, "code", 0), -FENCE_EHOSTID_BUSY, "host id 1 from host3 is refused");
	ok(has(r, "host id 1") && has(r, "host1") && has(r, "live host"), "... naming host1: %s", r);
	r = agent_cmd(&c, "acquire", 10000);
	is_int(answer_num(r, "code", 0), -FENCE_ENOTJOINED, "acquire without joining is refused");
	ok(has(r, "not joined"), "... saying so: %s", r);
	agent_stop(&c);

	r = expect_ok(&b, "busy", 5000, "host2 looks at the free lease");
	ok(has(r, "OK busy 0"), "... a free lease is not busy: %s", r);
	r = expect_ok(&a, "acquire", 10000, "host1 acquires");
	e1 = (uint64_t)answer_num(r, "epoch", 0);
	ok(e1 > 0, "epoch %llu", (unsigned long long)e1);
	r = agent_cmd(&a, "inquire", 5000);
	ok(has(r, "OK held 1") && (uint64_t)answer_num(r, "epoch", 0) == e1,
	    "inquire reports the epoch: %s", r);
	r = agent_cmd(&b, "acquire", 10000);
	is_int(answer_num(r, "code", 0), -FENCE_EHELD, "host2's try fails while host1 holds");
	is_int(answer_num(r, "holder", 0), 1, "... naming host id 1");
	ok(has(r, "(host1)"), "... and its name: %s", r);
	r = agent_cmd(&b, "release", 5000);
	is_int(answer_num(r, "code", 0), -FENCE_ENOTHELD, "host2 cannot release what it lacks");
	r = agent_cmd(&b, "busy", 5000);
	ok(has(r, "OK busy 1 holder 1 name host1"),
	    "host2's look at the leader finds host1 alive and holding, without a ballot: %s", r);
	check_busy_released();

	r = expect_ok(&a, "health", 5000, "health of the holder");
	ok(answer_num(r, "left_ms", 0) > 0 && answer_num(r, "age_ms", -1) >= 0 &&
	    answer_num(r, "age_ms", 99999) < 8000 * IO_TIMEOUT,
	    "the holder's lease is current: %s", r);
	long long min_left = 1000000, max_age = 0;
	for (int i = 0; i < 20; i++) {
		r = agent_cmd(&a, "health", 5000);
		long long left = answer_num(r, "left_ms", -1), age = answer_num(r, "age_ms", 99999);
		min_left = left < min_left ? left : min_left;
		max_age = age > max_age ? age : max_age;
		tu_sleep_ms(250);
	}
	ok(min_left > 0, "it stays renewed over 5 s: sanlock never about to act (max age %lld ms, "
	    "min left %lld ms)", max_age, min_left);

	expect_ok(&a, "release", 5000, "host1 releases");
	r = agent_cmd(&b, "busy", 5000);
	ok(has(r, "OK busy 0"), "a released lease is not busy, though its last holder lives: %s", r);
	e2 = acquire_within(&b, 5000, &took);
	ok(e2 > e1, "host2 acquires with a greater epoch (%llu > %llu)", (unsigned long long)e2,
	    (unsigned long long)e1);
	tap_diag("MEASURED graceful release takeover: %llu ms", (unsigned long long)took);
	r = agent_cmd(&a, "owner", 5000);
	ok(has(r, "holder 2 held 1") && has(r, "name host2"), "the disk says host2 holds it: %s", r);
	expect_ok(&b, "release", 5000, "host2 releases");

	/* 20 alternating acquisitions. */
	last = e2;
	int increasing = 1;
	for (int i = 0; i < 20; i++) {
		struct agent *who = i % 2 == 0 ? &a : &b;
		uint64_t e = acquire_within(who, 5000, &took);
		if (e <= last) {
			increasing = 0;
			tap_diag("acquisition %d: epoch %llu after %llu", i, (unsigned long long)e,
			    (unsigned long long)last);
		}
		last = e;
		r = agent_cmd(who, "release", 5000);
		if (r == NULL || strncmp(r, "OK", 2) != 0)
			increasing = 0;
	}
	ok(increasing, "epochs strictly increase over 20 alternating acquisitions (last %llu)",
	    (unsigned long long)last);

	/* The holding process dies. */
	r = expect_ok(&a, "acquire", 10000, "host1 acquires again");
	e1 = (uint64_t)answer_num(r, "epoch", 0);
	int status = tu_kill_wait(a.pid, SIGKILL, 5000);
	ok(status != -1 && WIFSIGNALED(status), "host1's holder is SIGKILLed");
	a.pid = 0;
	close(a.to_fd);
	close(a.from_fd);
	r = agent_cmd(&b, "busy", 5000);
	for (int i = 0; i < 40 && !has(r, "OK busy 0"); i++) {
		tu_sleep_ms(50);
		r = agent_cmd(&b, "busy", 5000);
	}
	ok(has(r, "OK busy 0"), "sanlock freed the dead holder's lease: not busy within 2 s: %s", r);
	e2 = acquire_within(&b, 2000, &took);
	ok(e2 > e1 && took <= 2000, "host2 acquires within 2 s (%llu ms, epoch %llu > %llu)",
	    (unsigned long long)took, (unsigned long long)e2, (unsigned long long)e1);
	tap_diag("MEASURED SIGKILL takeover: %llu ms", (unsigned long long)took);
	expect_ok(&b, "release", 5000, "host2 releases");

	/* Kill path: host3 (id 3) holds the lease; its delta lease on disk is
	 * clobbered, so its renewal fails and sanlock runs ssfm-lease-lost. */
	char marker[PATH_MAX + 16], killpath[PATH_MAX], cmd[PATH_MAX + 32];
	snprintf(marker, sizeof(marker), "%s/stopped", hs.host[3].dir);
	const char *extra[] = { "--marker", marker, NULL };
	r = agent_start(&c, &hs, &hs.host[3], 3, NULL, extra);
	is_str(r, "READY", "agent for host3");
	r = agent_cmd(&c, "join", 60000);
	ok(has(r, "OK joined"), "host3 joins: %s", r);
	{
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "%s/fence/ssfm-lease-lost", tu_builddir());
		if (realpath(rel, killpath) == NULL)
			tap_bail("kill path program %s: %s", rel, strerror(errno));
	}
	snprintf(cmd, sizeof(cmd), "killpath %s TERM", killpath);
	expect_ok(&c, cmd, 5000, "host3 registers the kill path");
	r = expect_ok(&c, "acquire", 10000, "host3 acquires");
	uint64_t broken = tu_now_ms();
	{
		int fd = open(hs.lease, O_WRONLY | O_DIRECT);
		void *junk = NULL;
		if (fd < 0 || posix_memalign(&junk, 4096, 512) != 0)
			tap_bail("open %s: %s", hs.lease, strerror(errno));
		memset(junk, 0x5a, 512);
		ok(pwrite(fd, junk, 512, 2 * 512) == 512, "host3's delta lease is clobbered on disk");
		free(junk);
		close(fd);
	}
	ok(tu_wait_until((int (*)(void *))tu_file_exists, marker, 30000, 50),
	    "sanlock ran the kill path: host3's holder stopped in order");
	tap_diag("MEASURED kill path: %llu ms after the delta lease broke",
	    (unsigned long long)(tu_now_ms() - broken));
	status = tu_kill_wait(c.pid, 0, 10000);
	ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "... and exited 0, not by SIGKILL (status 0x%x)", status);
	c.pid = 0;

	agent_stop(&b);
	hosts_stop(&hs);
	return tap_done();
}
