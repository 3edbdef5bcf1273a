/*
 * t_metrics: metrics_file (ssfmd(8) METRICS) on two real hosts.
 *
 * prom_check.py, a strict reader of the Prometheus text format, first
 * refuses broken files (so a pass means something), then reads each host's
 * metrics_file: it must parse, every family must be in ssfmd(8), and every
 * sample must equal the field of `ssfm status --json` it comes from.  The
 * figures must tell what happened: host1 takes over at start (one
 * failover), commits the puts (committed_seq, batch-size and commit-latency
 * histograms counting every put), its hook_stop fails when it is demoted
 * (hook_failures_total{hook="hook_stop"} 1); host2, whose metrics_interval
 * is an hour, rewrites its file at the role change alone, and shows the
 * takeover with every phase, fence hook included, adding up to the total.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define PUTS 40

static struct dgroup g;
static char checker[4096], man_page[4096], ssfm_bin[4096];

static void metrics_path(int i, char *out, size_t len)
{
	snprintf(out, len, "%s/metrics.prom", g.hs.host[i].dir);
}

/* Runs prom_check.py on files; returns its exit status (-1: did not run) and
 * its stdout parsed in *samples (NULL if not JSON).  Its complaints become
 * TAP diagnostics when show is set. */
static int run_checker(const char *metrics, const char *status, const char *man, int show,
    json_t **samples)
{
	char *argv[] = { "python3", checker, (char *)metrics, (char *)status, (char *)man, NULL };
	char *out = NULL, *err = NULL;
	char python[] = "/usr/bin/python3";
	int st;

	argv[0] = python;
	if (status == NULL)
		argv[3] = NULL;
	else if (man == NULL)
		argv[4] = NULL;
	st = tu_capture(argv, NULL, 30000, &out, &err);
	if (samples != NULL)
		*samples = out ? json_loads(out, 0, NULL) : NULL;
	if (show && err != NULL && err[0] != '\0')
		tap_diag("prom_check: %s", err);
	free(out);
	free(err);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void checker_is_strict(void)
{
	static const struct { const char *what, *text; } bad[] = {
		{ "a sample before its TYPE", "x 1\n# HELP x h\n# TYPE x gauge\n" },
		{ "a bad escape in a label value",
		  "# HELP x h\n# TYPE x gauge\nx{a=\"\\q\"} 1\n" },
		{ "buckets that are not cumulative",
		  "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n"
		  "h_sum 1\nh_count 2\n" },
		{ "a histogram without +Inf",
		  "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n" },
		{ "a value that is not a number", "# HELP x h\n# TYPE x gauge\nx one\n" },
		{ "a duplicate series", "# HELP x h\n# TYPE x gauge\nx 1\nx 2\n" },
		{ "a counter without _total", "# HELP x h\n# TYPE x counter\nx 1\n" },
		{ "no final newline", "# HELP x h\n# TYPE x gauge\nx 1" },
	};
	const char *good = "# HELP x h\n# TYPE x gauge\nx{a=\"q\\\"\\\\\\n\"} 1.5e3\n";
	char path[4200];

	snprintf(path, sizeof(path), "%s/bad.prom", g.hs.tmp);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_write_file(path, bad[i].text, strlen(bad[i].text));
		is_int(run_checker(path, NULL, NULL, 0, NULL), 1, "prom_check refuses %s",
		    bad[i].what);
	}
	tu_write_file(path, good, strlen(good));
	is_int(run_checker(path, NULL, NULL, 1, NULL), 0, "prom_check takes escaped label values");
}

/* `ssfm -s SOCK status --json` into file; 0 on success. */
static int status_json(int i, const char *file)
{
	char *argv[] = { ssfm_bin, (char *)"-s", g.d[i].sock, (char *)"status", (char *)"--json",
		NULL };
	char *out = NULL;
	int st = tu_capture(argv, NULL, 30000, &out, NULL);
	int rc = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && out != NULL ?
	    tu_write_file(file, out, strlen(out)) : -1;

	free(out);
	return rc;
}

static double sample(json_t *samples, const char *key)
{
	json_t *v = json_object_get(samples, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

struct metrics_wait {
	int host;
	const char *key;
	double want;
};

static int metrics_show(void *arg)
{
	struct metrics_wait *w = arg;
	char path[4200];
	json_t *s = NULL;
	int found;

	metrics_path(w->host, path, sizeof(path));
	if (!tu_file_exists(path) || run_checker(path, NULL, NULL, 0, &s) != 0) {
		json_decref(s);
		return 0;
	}
	found = sample(s, w->key) == w->want;
	json_decref(s);
	return found;
}

/* Reads host i's metrics (after waiting for key == want) and its status;
 * checks they agree.  Returns the samples (caller decrefs) or NULL. */
static json_t *agreeing_metrics(int i, const char *key, double want)
{
	struct metrics_wait w = { i, key, want };
	char metrics[4200], status[4200];
	json_t *samples = NULL;

	metrics_path(i, metrics, sizeof(metrics));
	snprintf(status, sizeof(status), "%s/status.json", g.hs.host[i].dir);
	ok(tu_wait_until(metrics_show, &w, 20000, 100), "host%d: metrics_file shows %s = %g", i,
	    key, want);
	ok(status_json(i, status) == 0, "host%d: ssfm status --json", i);
	is_int(run_checker(metrics, status, man_page, 1, &samples), 0,
	    "host%d: metrics_file parses strictly, is documented in ssfmd(8), and agrees with "
	    "status --json", i);
	return samples;
}

int main(void)
{
	char key[64], line[4300];
	json_t *s1, *s2;
	double new_epoch;
	uint64_t version = 0;
	int rc;

	snprintf(checker, sizeof(checker), "%s/tests/prom_check.py", tu_srcdir());
	snprintf(man_page, sizeof(man_page), "%s/man/ssfmd.8", tu_srcdir());
	snprintf(ssfm_bin, sizeof(ssfm_bin), "%s/src/ssfm", tu_builddir());
	if (!tu_file_exists("/usr/bin/python3"))
		tap_bail("python3 is missing: install python3");
	dg_setup(&g, 2, "metrics");
	checker_is_strict();

	for (int i = 1; i <= 2; i++) {
		metrics_path(i, line, sizeof(line));
		dg_conf(&g, i, "metrics_file = %s", line);
		dg_conf(&g, i, "fence_hook = /bin/true");
	}
	dg_conf(&g, 1, "metrics_interval = 200");
	dg_conf(&g, 1, "hook_stop = /bin/false");
	dg_conf(&g, 2, "metrics_interval = 1h");

	if (dg_start(&g, 1) < 0 || !dg_wait_role(&g, 1, "ACTIVE", 30000))
		tap_bail("host1 did not become active");
	for (int n = 0; n < PUTS; n++) {
		snprintf(key, sizeof(key), "m/%d", n);
		rc = dg_put(&g, 1, key, "{\"n\":1}", NULL, &version);
		if (rc != SSFM_OK) {
			tap_diag("put %s: %d", key, rc);
			break;
		}
	}
	ok(version > 0, "host1 took %d puts (last version %llu)", PUTS, (unsigned long long)version);

	s1 = agreeing_metrics(1, "ssfm_committed_seq", (double)version);
	is_int((int)sample(s1, "ssfm_role{role=\"ACTIVE\"}"), 1, "host1: ssfm_role ACTIVE is 1");
	is_int((int)sample(s1, "ssfm_failovers_total"), 1, "host1: one takeover (at start)");
	ok(sample(s1, "ssfm_batch_size_sum") >= PUTS, "host1: batch_size_sum %g counts every put",
	    sample(s1, "ssfm_batch_size_sum"));
	ok(sample(s1, "ssfm_commit_latency_seconds_count") >= 1 &&
	    sample(s1, "ssfm_commit_latency_seconds_count") <= PUTS + 1 &&
	    sample(s1, "ssfm_commit_latency_seconds_sum") > 0,
	    "host1: commit latency histogram counts the batches (%g, %g s)",
	    sample(s1, "ssfm_commit_latency_seconds_count"),
	    sample(s1, "ssfm_commit_latency_seconds_sum"));
	ok(sample(s1, "ssfm_lease_renewal_age_seconds") >= 0, "host1: lease renewal age %g s",
	    sample(s1, "ssfm_lease_renewal_age_seconds"));
	is_int((int)sample(s1, "ssfm_quarantined_files"), 0, "host1: no quarantined file");
	json_decref(s1);

	if (dg_start(&g, 2) < 0 || !dg_wait_role(&g, 2, "STANDBY", 30000))
		tap_bail("host2 did not become standby");
	ok(dg_wait_caught_up(&g, 1, 30000), "host2 caught up");

	/* Hand over: host1's hook_stop fails, host2 takes over with its fence hook. */
	ssfm_client *c = NULL;
	rc = ssfm_connect(g.d[1].sock, &c);
	if (rc == SSFM_OK)
		rc = ssfm_demote(c);
	is_int(rc, SSFM_OK, "demote host1");
	ssfm_close(c);
	is_int(dg_wait_active(&g, 1, 60000), 2, "host2 took over");

	s2 = agreeing_metrics(2, "ssfm_role{role=\"ACTIVE\"}", 1);
	is_int((int)sample(s2, "ssfm_failovers_total"), 1, "host2: one takeover");
	is_int((int)sample(s2, "ssfm_committed_seq"), (int)version + 1,
	    "host2: committed_seq is host1's last write plus host2's seal");
	{
		static const char *const phases[] = { "lease_acquire", "fence_hook", "catch_up",
			"seal", "service_start" };
		double sum = 0, total = sample(s2, "ssfm_last_failover_phase_seconds{phase=\"total\"}");
		int all = 1;

		for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
			snprintf(line, sizeof(line), "ssfm_last_failover_phase_seconds{phase=\"%s\"}",
			    phases[i]);
			double v = sample(s2, line);
			if (isnan(v) || v < 0) {
				tap_diag("no phase %s", phases[i]);
				all = 0;
			}
			sum += v;
		}
		ok(all, "host2: the takeover's phases are all there (fence hook included)");
		ok(fabs(sum - total) < 1e-6 && total < 60, "host2: phases add up to %g s (%g)",
		    total, sum);
	}
	new_epoch = sample(s2, "ssfm_epoch");
	json_decref(s2);

	/* host1's file says STANDBY as soon as it demotes, before host2's seal
	 * exists: wait until it has applied that seal, so that the file and
	 * status describe the same state. */
	s1 = agreeing_metrics(1, "ssfm_epoch", new_epoch);
	is_int((int)sample(s1, "ssfm_role{role=\"STANDBY\"}"), 1, "host1: a standby");
	is_int((int)sample(s1, "ssfm_hook_failures_total{hook=\"hook_stop\"}"), 1,
	    "host1: the failed hook_stop is counted");
	is_int((int)sample(s1, "ssfm_hook_failures_total{hook=\"hook_start\"}"), 0,
	    "host1: no other hook failed");
	is_int((int)sample(s1, "ssfm_accepting_writes"), 0, "host1: not accepting writes");
	json_decref(s1);

	dg_stop(&g);
	return tap_done();
}
