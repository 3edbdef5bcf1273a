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
 *   - throughput with 64 clients (--clients N: fewer), with two standbys
 *     following and with none,
 *     and what following costs: the standbys' CPU time per 1000 batches
 *     (read from /proc), next to the active's;
 *   - the store-level figure of the same run: 64 threads calling store_put
 *     on a store of their own in the same folder (bench_store's "store"
 *     line), so that the daemon's share of it is a ratio of one run.
 * The daemon-only and store-only runs alternate (PAIRS pairs) and the pair
 * with the median ratio is reported: the machine may be shared, and a burst
 * of other work during one run should not decide the ratio.  What the
 * standbys cost is measured in slices of a second with the standbys
 * following and stopped (SIGSTOP) in turns while the clients write on
 * (bench_follow_cost says why); an uncounted warm-up run first creates the
 * keys the runs then rewrite.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 10
#define CLIENTS 64
static int nclients = CLIENTS;   /* --clients: fewer, to see one write's latency */
/* Daemon-only and store-only throughput runs, alternating. */
#define PAIRS 5
/* bench_store's value size, so that the two figures compare. */
#define VALUE_BYTES 250

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

/* A demoted host waits this long before it tries to acquire again (the
 * daemon's DAEMON_ACQUIRE_HOLDOFF_MS, and a little more). */
#define HOLDOFF_MS 3200

static void bench_switchover(uint64_t *median_ms, int kill_it)
{
	uint64_t t[ROUNDS], last = 0;
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
		/* Back-to-back demotes would leave every other host in its
		 * holdoff after its own demote: measure a switchover to a
		 * standby that may take over, as in a group at rest. */
		if (last != 0 && tu_now_ms() - last < HOLDOFF_MS)
			tu_sleep_ms((unsigned)(HOLDOFF_MS - (tu_now_ms() - last)));
		t0 = tu_now_ms();
		last = t0;
		if (kill_it) {
			dg_signal(&g, a, SIGKILL);
		} else {
			ssfm_client *c = NULL;
			if (ssfm_connect(g.d[a].sock, &c) == 0)
				ssfm_demote(c);
			ssfm_close(c);
		}
		b = put_anywhere(a % g.n + 1, key, 60000);
		if (b > 0 && b != a) {
			t[n] = tu_now_ms() - t0;
			printf("    round %d: host%d to host%d in %" PRIu64 " ms\n", r, a, b, t[n]);
			n++;
		}
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

/* A JSON string of exactly VALUE_BYTES bytes. */
static void bench_value(char *val, int id)
{
	snprintf(val, VALUE_BYTES + 1, "\"%0*d\"", VALUE_BYTES - 2, id);
}

/* CPU time (user + system) of a process so far, in ms; 0 if unknown. */
static uint64_t proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, stime = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after "pid (comm) ": state is field 3, utime 14, stime 15 */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &stime) != 2)
		return 0;
	return (ut + stime) * 1000ull / (unsigned long long)sysconf(_SC_CLK_TCK);
}

/* Batch files in the shared journal whose first seq is in (from, to]. */
static uint64_t journal_batches(uint64_t from, uint64_t to)
{
	char path[PATH_MAX + 16];
	struct dirent *de;
	uint64_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/journal", g.hs.store);
	dir = opendir(path);
	if (dir == NULL)
		return 0;
	while ((de = readdir(dir)) != NULL) {
		char *end;
		unsigned long long first;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		first = strtoull(de->d_name, &end, 10);
		if (*end == '\0' && first > from && first <= to)
			n++;
	}
	closedir(dir);
	return n;
}

struct tp_client {
	pthread_t tid;
	int id, host;
	volatile int *stop;
	_Atomic uint64_t ops;   /* read while the client runs (cost slices) */
	uint64_t errors;
	uint64_t *lat;          /* microseconds */
	size_t nlat, cap;
};

static void *tp_main(void *arg)
{
	struct tp_client *c = arg;
	ssfm_client *cl = NULL;
	char key[64], val[VALUE_BYTES + 1];

	if (ssfm_connect(g.d[c->host].sock, &cl) != 0) {
		c->errors++;
		ssfm_close(cl);
		return NULL;
	}
	bench_value(val, c->id);
	for (uint64_t n = 0; !*c->stop; n++) {
		uint64_t t0 = now_us(), v;

		snprintf(key, sizeof(key), "bench/tp/%02d/%08" PRIu64, c->id, n % 1000);
		if (ssfm_put(cl, key, val, SSFM_ANY_VERSION, NULL, &v) != 0) {
			c->errors++;
			continue;
		}
		atomic_fetch_add_explicit(&c->ops, 1, memory_order_relaxed);
		if (c->nlat < c->cap)
			c->lat[c->nlat++] = now_us() - t0;
	}
	ssfm_close(cl);
	return NULL;
}

/* nclients clients writing to host until tp_stop. */
struct tp_run {
	struct tp_client c[CLIENTS];
	volatile int stop;
	uint64_t t0;
};

static void tp_start(struct tp_run *run, int host)
{
	run->stop = 0;
	for (int k = 0; k < nclients; k++) {
		struct tp_client *c = &run->c[k];

		memset(c, 0, sizeof(*c));
		c->id = k;
		c->host = host;
		c->stop = &run->stop;
		c->cap = 200000;
		c->lat = malloc(c->cap * sizeof(uint64_t));
		if (c->lat == NULL || pthread_create(&c->tid, NULL, tp_main, c) != 0) {
			fprintf(stderr, "bench_failover: cannot start client %d\n", k);
			exit(1);
		}
	}
	run->t0 = now_us();
}

/* Operations acknowledged so far. */
static uint64_t tp_ops(struct tp_run *run)
{
	uint64_t ops = 0;

	for (int k = 0; k < nclients; k++)
		ops += atomic_load_explicit(&run->c[k].ops, memory_order_relaxed);
	return ops;
}

/* Stops the clients; ops/s since tp_start, latency percentiles. */
static double tp_stop(struct tp_run *run, uint64_t *p50, uint64_t *p99, uint64_t *errors)
{
	uint64_t ops = 0, t1, *all;
	size_t nall = 0;

	run->stop = 1;
	for (int k = 0; k < nclients; k++)
		pthread_join(run->c[k].tid, NULL);
	t1 = now_us();
	all = malloc((size_t)nclients * run->c[0].cap * sizeof(uint64_t));
	*errors = 0;
	for (int k = 0; k < nclients; k++) {
		struct tp_client *c = &run->c[k];

		ops += atomic_load(&c->ops);
		*errors += c->errors;
		if (all != NULL)
			for (size_t j = 0; j < c->nlat; j++)
				all[nall++] = c->lat[j];
		free(c->lat);
	}
	*p50 = pct(all, nall, 0.50);
	*p99 = pct(all, nall, 0.99);
	free(all);
	return (double)ops / ((double)(t1 - run->t0) / 1e6);
}

static double bench_throughput(const char *what, uint64_t *p50, uint64_t *p99)
{
	static struct tp_run run;
	int a = dg_wait_active(&g, 0, 60000);
	uint64_t errors;
	double rate;

	if (a <= 0)
		return 0;
	tp_start(&run, a);
	tu_sleep_ms((unsigned)(run_seconds * 1000.0));
	rate = tp_stop(&run, p50, p99, &errors);
	printf("  %d clients, %-20s %10.0f ops/s   p50 %.3f ms   p99 %.3f ms%s\n", nclients, what, rate,
	    (double)*p50 / 1000.0, (double)*p99 / 1000.0, errors ? "   (errors)" : "");
	return rate;
}

/* ---- the store-level figure ---- */

struct sl_worker {
	pthread_t tid;
	int id;
	struct store *st;
	volatile int *stop;
	uint64_t ops;
	int failed;
};

static void *sl_main(void *arg)
{
	struct sl_worker *w = arg;
	struct store_error err;
	char key[64], val[VALUE_BYTES + 1];
	uint64_t version;

	bench_value(val, w->id);
	for (uint64_t n = 0; !*w->stop; n++) {
		snprintf(key, sizeof(key), "bench/sl/%02d/%010" PRIu64, w->id, n);
		if (store_put(w->st, key, val, STORE_ANY_VERSION, &version, &err) < 0) {
			if (w->failed++ == 0)
				fprintf(stderr, "bench_failover: store_put %s: %s\n", key, err.msg);
			break;
		}
		w->ops++;
	}
	return NULL;
}

/* nclients threads of store_put on a fresh store beside the group's: ops/s. */
static double bench_store_level(int round)
{
	static struct sl_worker w[CLIENTS];
	struct store_create_params cp = { "benchstore", DG_IO_TIMEOUT };
	struct store_options opt;
	struct store_error err;
	struct store_seal_info seal;
	struct store *st = NULL;
	volatile int stop = 0;
	char dir[PATH_MAX];
	uint64_t ops = 0, t0, t1;
	int failed = 0;
	double rate = 0;

	memset(&opt, 0, sizeof(opt));
	snprintf(dir, sizeof(dir), "%s/sl%d", g.hs.tmp, round);
	if (mkdir(dir, 0755) < 0 || store_create(dir, &cp, &err) < 0 ||
	    store_open(dir, &opt, &st, &err) < 0 ||
	    store_begin_epoch(st, 1, "bench-host", 1, &seal, &err) < 0) {
		printf("  store level: cannot set up %s: %s\n", dir,
		    errno != 0 ? strerror(errno) : err.msg);
		goto out;
	}
	t0 = now_us();
	for (int k = 0; k < nclients; k++) {
		memset(&w[k], 0, sizeof(w[k]));
		w[k].id = k;
		w[k].st = st;
		w[k].stop = &stop;
		if (pthread_create(&w[k].tid, NULL, sl_main, &w[k]) != 0) {
			fprintf(stderr, "bench_failover: cannot start store thread %d\n", k);
			exit(1);
		}
	}
	tu_sleep_ms((unsigned)(run_seconds * 1000.0));
	stop = 1;
	for (int k = 0; k < nclients; k++) {
		pthread_join(w[k].tid, NULL);
		ops += w[k].ops;
		failed += w[k].failed;
	}
	t1 = now_us();
	rate = (double)ops / ((double)(t1 - t0) / 1e6);
	printf("  %d threads, store_put (store level): %10.0f ops/s%s\n", nclients, rate,
	    failed ? "   (errors)" : "");
	store_end_epoch(st);
out:
	store_close(st);
	tu_rmtree(dir);
	return rate;
}

static void target(const char *what, int have, int met, const char *fig)
{
	printf("  %-44s %s  %s\n", what, !have ? "NOT met (no figure)" : met ? "met" : "NOT met", fig);
}

/* What following costs: CPU of each host, and the batches it saw. */
struct follow_cost {
	uint64_t cpu_ms[HOSTS_MAX + 1];
	uint64_t seq;
};

static void follow_cost_mark(struct follow_cost *fc, int active)
{
	struct dg_status st;

	memset(fc, 0, sizeof(*fc));
	for (int i = 1; i <= g.n; i++)
		if (g.d[i].pid > 0)
			fc->cpu_ms[i] = proc_cpu_ms(g.d[i].pid);
	if (dg_status(&g, active, &st, 5000) == 0)
		fc->seq = st.committed_seq;
}

/* Prints CPU ms per 1000 batches for each host, from the CPU and
 * sequence numbers used over some time (delta) in which the journal got
 * batches files; returns the standbys' mean (UINT64_MAX when unknown). */
static uint64_t follow_cost_report(const struct follow_cost *delta, uint64_t batches,
    int active)
{
	uint64_t sum = 0;
	int standbys = 0;

	if (batches == 0) {
		printf("  CPU per batch: no batch files counted\n");
		return UINT64_MAX;
	}
	printf("  CPU per 1000 batches (%" PRIu64 " batches of %.1f operations on average):",
	    batches, (double)delta->seq / (double)batches);
	for (int i = 1; i <= g.n; i++) {
		uint64_t ms = delta->cpu_ms[i] * 1000 / batches;

		if (g.d[i].pid <= 0)
			continue;
		printf("  host%d (%s) %" PRIu64 " ms", i, i == active ? "active" : "standby", ms);
		if (i != active) {
			sum += ms;
			standbys++;
		}
	}
	printf("\n");
	return standbys > 0 ? sum / (uint64_t)standbys : UINT64_MAX;
}

/* The index of the median of v[0..n) (n odd). */
static int median_index(const double *v, int n)
{
	for (int r = 0; r < n; r++) {
		int below = 0, above = 0;

		for (int q = 0; q < n; q++) {
			below += v[q] < v[r];
			above += v[q] > v[r];
		}
		if (below <= n / 2 && above <= n / 2)
			return r;
	}
	return 0;
}

/* SIGSTOP or SIGCONT to every host but the active. */
static void standbys_signal(int active, int sig)
{
	for (int i = 1; i <= g.n; i++)
		if (i != active)
			dg_signal(&g, i, sig);
}

/*
 * What two following standbys cost the active.  The clients write without
 * a break while the standbys are continued and stopped (SIGSTOP) in turns
 * of COST_SLICE_MS, in the order following, stopped, stopped, following,
 * and again, so that a machine that speeds up or slows down over the run
 * favours neither side.  Before each following slice the standbys catch
 * up on what they missed while stopped, outside the slice.  Each pair of
 * neighbouring slices gives a cost, and the figure is their median: on a
 * shared machine whole seconds go slow at random (runs of 5 s each side
 * saw the same setting differ by 25%), and slices a second apart see the
 * same machine.  Returns the cost in percent; the mean ops/s of each side
 * and the standbys' CPU per 1000 batches (UINT64_MAX: unknown) come back
 * through the pointers.
 */
#define COST_PAIRS 25
#define COST_SLICE_MS 1000

static double bench_follow_cost(int active, double *following, double *stopped,
    uint64_t *standby_cpu)
{
	static struct tp_run run;
	double rate[2 * COST_PAIRS], cost[COST_PAIRS], sum_f = 0, sum_s = 0;
	struct follow_cost m0, m1, used;
	uint64_t batches = 0, p50, p99, errors;
	int mid;

	memset(&used, 0, sizeof(used));
	tp_start(&run, active);
	tu_sleep_ms(COST_SLICE_MS);   /* every client connected and writing */
	for (int k = 0; k < 2 * COST_PAIRS; k++) {
		int follow = k % 4 == 0 || k % 4 == 3;
		uint64_t o0, o1, t0, t1;

		if (follow) {
			standbys_signal(active, SIGCONT);
			dg_wait_caught_up(&g, active, 30000);
			follow_cost_mark(&m0, active);
		} else {
			standbys_signal(active, SIGSTOP);
		}
		o0 = tp_ops(&run);
		t0 = now_us();
		tu_sleep_ms(COST_SLICE_MS);
		o1 = tp_ops(&run);
		t1 = now_us();
		rate[k] = (double)(o1 - o0) / ((double)(t1 - t0) / 1e6);
		if (follow) {
			follow_cost_mark(&m1, active);
			batches += journal_batches(m0.seq, m1.seq);
			for (int i = 1; i <= g.n; i++)
				used.cpu_ms[i] += m1.cpu_ms[i] - m0.cpu_ms[i];
			used.seq += m1.seq - m0.seq;
			sum_f += rate[k];
		} else {
			sum_s += rate[k];
		}
	}
	standbys_signal(active, SIGCONT);
	dg_wait_caught_up(&g, active, 30000);
	tp_stop(&run, &p50, &p99, &errors);
	printf("  %d clients, %d pairs of %d ms slices, two standbys following / stopped (ops/s):\n",
	    nclients, COST_PAIRS, COST_SLICE_MS);
	for (int j = 0; j < COST_PAIRS; j++) {
		double f = j % 2 == 0 ? rate[2 * j] : rate[2 * j + 1];
		double st = j % 2 == 0 ? rate[2 * j + 1] : rate[2 * j];

		cost[j] = st > 0 ? 100.0 * (st - f) / st : 0.0;
		printf("    pair %2d: %8.0f / %8.0f  %5.1f%%\n", j + 1, f, st, cost[j]);
	}
	*following = sum_f / COST_PAIRS;
	*stopped = sum_s / COST_PAIRS;
	printf("    all slices: %.0f / %.0f ops/s, %.1f%% less%s\n", *following, *stopped,
	    *stopped > 0 ? 100.0 * (*stopped - *following) / *stopped : 0.0,
	    errors ? "   (errors)" : "");
	*standby_cpu = follow_cost_report(&used, batches, active);
	mid = median_index(cost, COST_PAIRS);
	return cost[mid];
}

int main(int argc, char **argv)
{
	uint64_t sw = 0, kl = 0, l50, l99, p50, p99, standby_cpu;
	double with2 = 0, with0 = 0, with0_stopped = 0, store0 = 0, ratio = 0, cost = 0;
	double pair_ratio[PAIRS], pair_d[PAIRS], pair_s[PAIRS];
	int r_ratio;
	char fig[240];
	int a, failover = 1, throughput = 1;

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--quick") == 0) {
			run_seconds = 2.0;
			rounds = 3;
			lag_samples = 100;
		} else if (strcmp(argv[k], "--clients") == 0 && k + 1 < argc) {
			char *end;
			long n = strtol(argv[++k], &end, 10);

			nclients = (int)n;
			if (*end != '\0' || n < 1 || n > CLIENTS) {
				fprintf(stderr, "bench_failover: --clients wants 1..%d\n", CLIENTS);
				return 2;
			}
		} else if (strcmp(argv[k], "--throughput-only") == 0) {
			failover = 0;
		} else if (strcmp(argv[k], "--failover-only") == 0) {
			throughput = 0;
		} else if (strcmp(argv[k], "--seconds") == 0 && k + 1 < argc) {
			run_seconds = strtod(argv[++k], NULL);
			if (!(run_seconds > 0 && run_seconds <= 3600)) {
				fprintf(stderr, "bench_failover: --seconds wants (0, 3600]\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: bench_failover [--quick] [--seconds N] [--clients N] [--throughput-only | --failover-only]\n");
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
	sw = kl = l50 = l99 = UINT64_MAX;
	if (failover) {
		bench_switchover(&sw, 0);
		bench_switchover(&kl, 1);
		bench_lag(&l50, &l99);
	}
	standby_cpu = UINT64_MAX;
	if (throughput) {
		a = dg_wait_active(&g, 0, 60000);
		/* The first run creates the clients' keys (tree inserts on
		 * every host) and the later ones rewrite them: a warm-up run
		 * so that no pair carries the creation on one side only. */
		bench_throughput("warm-up (not counted):", &p50, &p99);
		cost = bench_follow_cost(a, &with2, &with0_stopped, &standby_cpu);
		for (int i = 1; i <= g.n; i++)
			if (i != a)
				dg_signal(&g, i, SIGTERM);
		for (int r = 0; r < PAIRS; r++) {
			double d0 = bench_throughput("no standby:", &p50, &p99);
			double s0 = bench_store_level(r);

			pair_ratio[r] = s0 > 0 ? 100.0 * d0 / s0 : 0.0;
			pair_d[r] = d0;
			pair_s[r] = s0;
		}
		/* the pair with the median ratio gives every figure */
		r_ratio = median_index(pair_ratio, PAIRS);
		ratio = pair_ratio[r_ratio];
		with0 = pair_d[r_ratio];
		store0 = pair_s[r_ratio];
	}
	printf("targets:\n");
	if (failover) {
		snprintf(fig, sizeof(fig), "(median %" PRIu64 " ms)", sw);
		target("switchover <= 0.5 s", sw != UINT64_MAX, sw <= 500, fig);
		snprintf(fig, sizeof(fig), "(median %" PRIu64 " ms)", kl);
		target("SIGKILL takeover <= 1.5 s", kl != UINT64_MAX, kl <= 1500, fig);
		snprintf(fig, sizeof(fig), "(p99 %.2f ms)", (double)l99 / 1000.0);
		target("standby lag p99 <= 20 ms", l99 != UINT64_MAX, l99 <= 20000, fig);
	}
	if (throughput) {
		snprintf(fig, sizeof(fig), "%.1f%% (target >= 50%%: %.0f ops/s through the daemon, "
		    "%.0f store_put; the median of %d pairs)", ratio, with0, store0, PAIRS);
		target("daemon/store at 64 clients >= 50%", with0 > 0 && store0 > 0, ratio >= 50.0, fig);
		if (standby_cpu != UINT64_MAX)
			snprintf(fig, sizeof(fig), "%.1f%% (target <= 5%%: the median of %d pairs of %d ms "
			    "slices; %.0f ops/s with two following, %.0f with them stopped; a standby used %"
			    PRIu64 " ms CPU per 1000 batches)", cost, COST_PAIRS, COST_SLICE_MS, with2,
			    with0_stopped, standby_cpu);
		else
			snprintf(fig, sizeof(fig), "%.1f%% (target <= 5%%: the median of %d pairs of %d ms "
			    "slices; %.0f ops/s with two following, %.0f with them stopped)", cost,
			    COST_PAIRS, COST_SLICE_MS, with2, with0_stopped);
		target("standbys cost the active <= 5%", with0_stopped > 0 && with2 > 0, cost <= 5.0, fig);
	}
	dg_stop(&g);
	return 0;
}
