/*
 * t_backup_1m: a million keys through dump and restore, offline and online,
 * exact both ways, with the time each step took (TAP diagnostics; the
 * README's backup figures come from here: no time is asserted).
 *
 *  1. the group's store is given 1M keys (about 100 bytes of JSON each, each
 *     at its own version) with store_restore_* directly;
 *  2. `ssfm dump DIR` (offline), `ssfm restore` of it, and an offline dump
 *     of the restored store: byte for byte the same;
 *  3. ssfmd on the store (one host, a real sanlock daemon) loads it and
 *     becomes active; a few writes; `ssfm -s SOCKET dump` (online) holds
 *     1M + those keys at its stated seq; its restore dumps byte for byte as
 *     it; and the online and offline dumps agree on every key they share;
 *     the daemon's log says how long taking the cut held writers.
 */
#include "daemonutil.h"
#include "tap.h"
#include "testutil.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEYS 1000000u
#define STEP_TIMEOUT_MS 300000

static struct dgroup g;
static char ssfm_bin[PATH_MAX];

static double cpu_of_children(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Runs argv with stdout and stderr into out (a new file); returns the exit
 * status (-1: did not exit), the seconds it took in secs[0] and the CPU
 * seconds it used in secs[1] (the machine may be busy with other work). */
static int timed(const char *out, double secs[2], char *const argv[])
{
	uint64_t t0 = tu_now_ms();
	double c0 = cpu_of_children();

	unlink(out);
	int st = tu_run(argv, NULL, out, STEP_TIMEOUT_MS);
	secs[0] = (double)(tu_now_ms() - t0) / 1000.0;
	secs[1] = cpu_of_children() - c0;
	if (st == -1 || !WIFEXITED(st))
		return -1;
	if (WEXITSTATUS(st) != 0)
		dg_file_tail(out, 2000);
	return WEXITSTATUS(st);
}

static int same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = tu_read_file(a, &la), *y = tu_read_file(b, &lb);
	int same = x != NULL && y != NULL && la == lb && memcmp(x, y, la) == 0;

	if (!same)
		tap_diag("%s (%zu bytes) and %s (%zu bytes) differ", a, x ? la : 0, b, y ? lb : 0);
	free(x);
	free(y);
	return same;
}

static off_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* 1M keys "k/NNNNNNN" at versions 1..1M, into the empty store at dir. */
static int fill(const char *dir)
{
	struct store_restore *r;
	struct store_error err = { 0 };
	char key[32], value[128];
	int rc = store_restore_begin(dir, KEYS + 10, &r, &err);

	for (unsigned i = 0; rc == 0 && i < KEYS; i++) {
		int kl = snprintf(key, sizeof(key), "k/%07u", i);
		int vl = snprintf(value, sizeof(value),
		    "{\"n\":%u,\"name\":\"item-%u\",\"tags\":[\"a\",\"b\"],\"ok\":true,\"w\":%u.5}",
		    i, i * 7, i % 1000);
		rc = store_restore_add(r, key, (size_t)kl, value, (size_t)vl, (uint64_t)i + 1, &err);
	}
	if (rc == 0)
		return store_restore_finish(r, &err) == 0 ? 0 : (tap_diag("%s", err.msg), -1);
	tap_diag("%s", err.msg);
	store_restore_abort(r);
	return -1;
}

int main(void)
{
	char d_off[PATH_MAX], d_on[PATH_MAX], r_off[PATH_MAX], r_on[PATH_MAX];
	char d_r_off[PATH_MAX], d_r_on[PATH_MAX], log[PATH_MAX], io[8];
	double t_dump[2], t_restore[2], t_redump[2], t_online[2], t_restore2[2], t_redump2[2];

	unsetenv("SSFM_SOCKET");
	unsetenv("SSFM_GROUP");
	snprintf(ssfm_bin, sizeof(ssfm_bin), "%s/src/ssfm", tu_builddir());
	dg_setup(&g, 1, "b1m");
	snprintf(d_off, sizeof(d_off), "%s/offline.json", g.hs.tmp);
	snprintf(d_on, sizeof(d_on), "%s/online.json", g.hs.tmp);
	snprintf(r_off, sizeof(r_off), "%s/r-offline", g.hs.tmp);
	snprintf(r_on, sizeof(r_on), "%s/r-online", g.hs.tmp);
	snprintf(d_r_off, sizeof(d_r_off), "%s/r-offline.json", g.hs.tmp);
	snprintf(d_r_on, sizeof(d_r_on), "%s/r-online.json", g.hs.tmp);
	snprintf(log, sizeof(log), "%s/restore.log", g.hs.tmp);
	snprintf(io, sizeof(io), "%d", DG_IO_TIMEOUT);

	uint64_t t0 = tu_now_ms();
	int filled = fill(g.hs.store);
	ok(filled == 0, "1M keys put into the group's store (%.1f s)",
	    (double)(tu_now_ms() - t0) / 1000.0);

	/* ---- offline ---- */
	is_int(timed(d_off, t_dump, (char *[]){ ssfm_bin, "dump", g.hs.store, NULL }), 0,
	    "ssfm dump DIR of 1M keys: exit 0");
	is_int(timed(log, t_restore, (char *[]){ ssfm_bin, "restore", "--io-timeout", io,
	    d_off, r_off, NULL }), 0, "ssfm restore of it: exit 0");
	char *text = tu_read_file(log, NULL);
	ok(text != NULL && strstr(text, "restored 1000000 keys at seq 1000010 ") != NULL,
	    "restore says 1000000 keys at seq 1000010");
	free(text);
	is_int(timed(d_r_off, t_redump, (char *[]){ ssfm_bin, "dump", r_off, NULL }), 0,
	    "dump of the restored store: exit 0");
	ok(same_file(d_off, d_r_off), "the round trip is exact: the same dump byte for byte");
	tap_diag("offline, 1M keys, %.1f MB of JSON: dump %.2f s (%.2f s CPU), restore %.2f s (%.2f s CPU), dump of the restored store %.2f s (%.2f s CPU)",
	    (double)file_size(d_off) / 1e6, t_dump[0], t_dump[1], t_restore[0], t_restore[1],
	    t_redump[0], t_redump[1]);

	/* ---- online ---- */
	dg_conf(&g, 0, "snapshot_ops = 0");
	dg_start_all(&g);
	ok(dg_wait_role(&g, 1, "ACTIVE", 120000), "ssfmd loads the 1M keys and becomes active");
	int puts = 0;
	for (int i = 0; i < 5; i++) {
		char key[32];
		snprintf(key, sizeof(key), "new/%d", i);
		puts += dg_put(&g, 1, key, "{\"after\":true}", NULL, NULL) == 0;
	}
	is_int(puts, 5, "5 writes through the daemon");
	is_int(timed(d_on, t_online, (char *[]){ ssfm_bin, "-s", g.d[1].sock, "dump", NULL }), 0,
	    "ssfm -s SOCKET dump of 1M keys: exit 0");
	unlink(log);
	is_int(timed(log, t_restore2, (char *[]){ ssfm_bin, "restore", d_on, r_on, NULL }), 0,
	    "ssfm restore of the online dump: exit 0");
	text = tu_read_file(log, NULL);
	ok(text != NULL && strstr(text, "restored 1000005 keys at seq ") != NULL,
	    "it holds the 1M keys and the 5 new ones");
	free(text);
	is_int(timed(d_r_on, t_redump2, (char *[]){ ssfm_bin, "dump", r_on, NULL }), 0,
	    "dump of that restored store: exit 0");
	ok(same_file(d_on, d_r_on), "the online round trip is exact");
	/* The online dump is the offline one with the 5 new keys (which sort
	 * after "k/") and a later seq and digest: the same first million. */
	char *a = tu_read_file(d_off, NULL), *b = tu_read_file(d_on, NULL);
	char *ka = a ? strstr(a, "\n{") : NULL, *kb = b ? strstr(b, "\n{") : NULL;
	char *ea = ka ? strstr(ka, "\n]}") : NULL;
	ok(ka && kb && ea && strncmp(ka, kb, (size_t)(ea - ka)) == 0 &&
	    strstr(kb + (ea - ka), "\"new/0\"") != NULL,
	    "the online dump holds the same million entries as the offline one, then the new keys");
	free(a);
	free(b);
	tap_diag("online, 1M keys, %.1f MB of JSON: dump %.2f s (%.2f s CPU in ssfm), restore %.2f s (%.2f s CPU), dump of the restored store %.2f s (%.2f s CPU)",
	    (double)file_size(d_on) / 1e6, t_online[0], t_online[1], t_restore2[0], t_restore2[1],
	    t_redump2[0], t_redump2[1]);

	/* How long writers were held: the cut's own time, from the log. */
	char *daemon_log = tu_read_file(g.d[1].log, NULL);
	const char *taken = daemon_log ? strstr(daemon_log, ", taken in ") : NULL;
	ok(taken != NULL, "the daemon logs how long taking the cut held writers");
	if (taken != NULL)
		tap_diag("the cut of 1M keys held writers for %.*s", (int)strcspn(taken + 11, "\n"),
		    taken + 11);
	free(daemon_log);

	dg_stop(&g);
	return tap_done();
}
