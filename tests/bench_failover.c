/*
 * bench_failover: the daemon's figures for `make bench` (not a test: the
 * targets are printed as met / NOT met, never asserted).  Three simulated
 * hosts (real sanlock, io_timeout 1, local disk):
 *   - switchover time: ssfm_demote on the active until another host
 *     acknowledges a write (median of 10);
 *   - SIGKILL takeover time: SIGKILL of the active ssfmd until another host
 *     acknowledges a write (median of 10);
 *   - standby lag: from a put's acknowledgement until the key is readable
 *     on a standby (p50/p99), and the standby's reported lag_ms;
 *   - throughput with 64 clients, with two standbys following and with none.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 10
#define CLIENTS 64

static struct dgroup g;
static double run_seconds = 5.0;
static int rounds = ROUNDS;
static int lag_samples = 500;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	k = (size_t)(p * (double)(n - 1) + 0.5);
	return v[k < n ? k : n - 1];
}

/* Puts through whichever host is active, following not_active answers,
 * until one acknowledges; returns the host, 0 after timeout_ms. */
static int put_anywhere(int start, const char *key, int timeout_ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
	int target = start;

	while (tu_now_ms() < end) {
		ssfm_client *c = NULL;
		uint64_t v;
		int rc, next = 0;

		if (target < 1 || target > g.n || g.d[target].pid <= 0)
			target = target % g.n + 1;
		rc = ssfm_connect(g.d[target].sock, &c);
		if (rc == 0) {
			ssfm_set_timeout(c, 2000);
			rc = ssfm_put(c, key, "1", SSFM_ANY_VERSION, key, &v);
			if (rc == SSFM_ENOTACTIVE)
				next = dg_host_index(&g, ssfm_error_active_host(c));
		}
		ssfm_close(c);
		if (rc == SSFM_OK)
			return target;
		if (next == 0 || next == target) {
			next = target % g.n + 1;
			tu_sleep_ms(2);
		}
		target = next;
	}
	return 0;
}

static void bench_switchover(uint64_t *median_ms, int kill_it)
{
	uint64_t t[ROUNDS];
	int n = 0;

	for (int r = 0; r < rounds; r++) {
		int a = dg_wait_active(&g, 0, 60000), b;
		char key[64];
		uint64_t t0;

		if (a <= 0)
			break;
		for (int i = 1; i <= g.n; i++)
			if (i != a)
				dg_wait_role(&g, i, "STANDBY", 30000);
		snprintf(key, sizeof(key), "bench/%s/%d", kill_it ? "kill" : "switch", r);
		t0 = tu_now_ms();
		if (kill_it) {
			dg_signal(&g, a, SIGKILL);
		} else {
			ssfm_client *c = NULL;
			if (ssfm_connect(g.d[a].sock, &c) == 0)
				ssfm_demote(c);
			ssfm_close(c);
		}
		b = put_anywhere(a % g.n + 1, key, 60000);
		if (b > 0 && b != a)
			t[n++] = tu_now_ms() - t0;
		else
			printf("  round %d: no other host took a write within 60 s\n", r);
		if (kill_it && dg_start(&g, a) == 0)
			dg_wait_role(&g, a, "STANDBY", 30000);
	}
	*median_ms = n > 0 ? pct(t, (size_t)n, 0.5) : UINT64_MAX;
	printf("  %-28s median %" PRIu64 " ms over %d rounds (min %" PRIu64 ", max %" PRIu64 ")\n",
	    kill_it ? "SIGKILL takeover:" : "switchover (demote):",
	    *median_ms, n, n ? t[0] : 0, n ? t[n - 1] : 0);
}

static void bench_lag(uint64_t *p50, uint64_t *p99)
{
	int a = dg_wait_active(&g, 0, 60000), s = a % g.n + 1;
	ssfm_client *ca = NULL, *cs = NULL;
	uint64_t *lag = calloc((size_t)lag_samples, sizeof(*lag));
	int n = 0;
	struct dg_status st;

	*p50 = *p99 = UINT64_MAX;
	if (a <= 0 || lag == NULL || ssfm_connect(g.d[a].sock, &ca) != 0 ||
	    ssfm_connect(g.d[s].sock, &cs) != 0) {
		printf("  standby lag: could not run\n");
		goto out;
	}
	for (int k = 0; k < lag_samples; k++) {
		char key[64], *v = NULL;
		uint64_t ver = 0, got = 0, t0, end;

		snprintf(key, sizeof(key), "bench/lag/%d", k % 50);
		if (ssfm_put(ca, key, "{\"lag\":1}", SSFM_ANY_VERSION, NULL, &ver) != 0)
			continue;
		t0 = now_us();
		end = t0 + 5000000;
		while (now_us() < end) {
			if (ssfm_get(cs, key, &v, &got) == 0 && got >= ver) {
				free(v);
				break;
			}
			free(v);
			v = NULL;
		}
		if (got >= ver)
			lag[n++] = now_us() - t0;
	}
	*p50 = pct(lag, (size_t)n, 0.50);
	*p99 = pct(lag, (size_t)n, 0.99);
	dg_status(&g, s, &st, 2000);
	printf("  standby lag (ack to readable on host%d): p50 %.2f ms  p99 %.2f ms over %d puts"
	    " (its lag_ms now %" PRId64 ")\n", s, (double)*p50 / 1000.0, (double)*p99 / 1000.0, n,
	    st.lag_ms);
out:
	ssfm_close(ca);
	ssfm_close(cs);
	free(lag);
}

struct tp_client {
	pthread_t tid;
	int id, host;
	volatile int *stop;
	uint64_t ops, errors;
	uint64_t *lat;          /* microseconds */
	size_t nlat, cap;
};

static void *tp_main(void *arg)
{
	struct tp_client *c = arg;
	ssfm_client *cl = NULL;
	char key[64], val[300];

	if (ssfm_connect(g.d[c->host].sock, &cl) != 0) {
		c->errors++;
		ssfm_close(cl);
		return NULL;
	}
	memset(val, 0, sizeof(val));
	snprintf(val, sizeof(val), "\"%0240d\"", c->id);
	for (uint64_t n = 0; !*c->stop; n++) {
		uint64_t t0 = now_us(), v;

		snprintf(key, sizeof(key), "bench/tp/%02d/%08" PRIu64, c->id, n % 1000);
		if (ssfm_put(cl, key, val, SSFM_ANY_VERSION, NULL, &v) != 0) {
			c->errors++;
			continue;
		}
		c->ops++;
		if (c->nlat < c->cap)
			c->lat[c->nlat++] = now_us() - t0;
	}
	ssfm_close(cl);
	return NULL;
}

static double bench_throughput(const char *what, uint64_t *p50, uint64_t *p99)
{
	static struct tp_client c[CLIENTS];
	volatile int stop = 0;
	int a = dg_wait_active(&g, 0, 60000);
	uint64_t ops = 0, errors = 0, t0, t1, *all;
	size_t nall = 0;
	double rate;

	if (a <= 0)
		return 0;
	for (int k = 0; k < CLIENTS; k++) {
		memset(&c[k], 0, sizeof(c[k]));
		c[k].id = k;
		c[k].host = a;
		c[k].stop = &stop;
		c[k].cap = 200000;
		c[k].lat = malloc(c[k].cap * sizeof(uint64_t));
		if (c[k].lat == NULL || pthread_create(&c[k].tid, NULL, tp_main, &c[k]) != 0) {
			fprintf(stderr, "bench_failover: cannot start client %d\n", k);
			exit(1);
		}
	}
	t0 = now_us();
	tu_sleep_ms((unsigned)(run_seconds * 1000.0));
	stop = 1;
	for (int k = 0; k < CLIENTS; k++)
		pthread_join(c[k].tid, NULL);
	t1 = now_us();
	all = malloc(CLIENTS * c[0].cap * sizeof(uint64_t));
	for (int k = 0; k < CLIENTS; k++) {
		ops += c[k].ops;
		errors += c[k].errors;
		if (all != NULL)
			for (size_t j = 0; j < c[k].nlat; j++)
				all[nall++] = c[k].lat[j];
		free(c[k].lat);
	}
	rate = (double)ops / ((double)(t1 - t0) / 1e6);
	*p50 = pct(all, nall, 0.50);
	*p99 = pct(all, nall, 0.99);
	free(all);
	printf("  64 clients, %-20s %10.0f ops/s   p50 %.3f ms   p99 %.3f ms%s\n", what, rate,
	    (double)*p50 / 1000.0, (double)*p99 / 1000.0, errors ? "   (errors)" : "");
	return rate;
}

static void target(const char *what, int have, int met, const char *fig)
{
	printf("  %-44s %s  %s\n", what, !have ? "NOT met (no figure)" : met ? "met" : "NOT met", fig);
}

int main(int argc, char **argv)
{
	uint64_t sw = 0, kl = 0, l50, l99, p50, p99;
	double with2, with0;
	char fig[160];

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--quick") == 0) {
			run_seconds = 2.0;
			rounds = 3;
			lag_samples = 100;
		} else if (strcmp(argv[k], "--seconds") == 0 && k + 1 < argc) {
			run_seconds = strtod(argv[++k], NULL);
			if (!(run_seconds > 0 && run_seconds <= 3600)) {
				fprintf(stderr, "bench_failover: --seconds wants (0, 3600]\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: bench_failover [--quick] [--seconds N]\n");
			return 2;
		}
	}
	printf("bench_failover: 3 simulated hosts, real sanlock (io_timeout %d), ssfmd, local disk\n",
	    DG_IO_TIMEOUT);
	fflush(stdout);
	dg_setup(&g, 3, "bench");
	dg_start_all(&g);
	if (dg_wait_active(&g, 0, 60000) <= 0) {
		printf("  no host became active in 60 s\n");
		dg_stop(&g);
		return 1;
	}
	bench_switchover(&sw, 0);
	bench_switchover(&kl, 1);
	bench_lag(&l50, &l99);
	with2 = bench_throughput("2 standbys following:", &p50, &p99);
	for (int i = 1; i <= g.n; i++)
		if (!dg_has_role(&g, i, "ACTIVE"))
			dg_signal(&g, i, SIGTERM);
	with0 = bench_throughput("no standby:", &p50, &p99);
	printf("targets:\n");
	snprintf(fig, sizeof(fig), "(median %" PRIu64 " ms)", sw);
	target("switchover <= 0.5 s", sw != UINT64_MAX, sw <= 500, fig);
	snprintf(fig, sizeof(fig), "(median %" PRIu64 " ms)", kl);
	target("SIGKILL takeover <= 1.5 s", kl != UINT64_MAX, kl <= 1500, fig);
	snprintf(fig, sizeof(fig), "(p99 %.2f ms)", (double)l99 / 1000.0);
	target("standby lag p99 <= 20 ms", l99 != UINT64_MAX, l99 <= 20000, fig);
	snprintf(fig, sizeof(fig), "(%.0f ops/s with two, %.0f with none: %.1f%% cost)", with2, with0,
	    with0 > 0 ? 100.0 * (with0 - with2) / with0 : 0.0);
	target("standbys cost the active <= 5%", with0 > 0 && with2 > 0, with2 >= 0.95 * with0, fig);
	printf("  (throughput at 64 clients >= 50%% of bench_store's 64-thread figure: compare above)\n");
	dg_stop(&g);
	return 0;
}
