/*
 * cli_bench.c: `ssfm bench`: N client threads, each with its own connection,
 * put V-byte JSON values through the daemon for T seconds; prints the
 * throughput and the p50/p99/p99.9 latency of an acknowledged write (like
 * `etcdctl check perf`).
 *
 * Each client rewrites its own 256 keys PREFIX/cNNN/kNNN in turn, so the
 * store does not grow with the run's length, and deletes them afterwards
 * (not timed).  A client stops at its first failed write; the run then
 * reports it and exits with that failure's status.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_online.h"

#define CLI_BENCH_KEYS 256u
#define CLI_BENCH_TIMEOUT_MS 30000

struct cli_bench {
	unsigned clients;
	unsigned seconds;
	size_t value_bytes;
	const char *prefix;
	char *value;            /* the JSON string written, value_bytes long */
	/* Clients connect, then wait for every other to be connected. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned ready;
	int go;
	uint64_t start_us;      /* set by the main thread at go */
};

struct cli_bench_client {
	struct cli_bench *b;
	unsigned id;
	pthread_t tid;
	ssfm_client *client;
	int rc;                 /* the first failure, or SSFM_OK */
	uint32_t *lat_us;       /* one latency per acknowledged write */
	size_t n, cap;
	uint64_t end_us;
};

static uint64_t cli_bench_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cli_bench_record(struct cli_bench_client *c, uint64_t us)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		uint32_t *grown = realloc(c->lat_us, cap * sizeof(*grown));
		if (grown == NULL)
			return SSFM_ENOMEM;
		c->lat_us = grown;
		c->cap = cap;
	}
	c->lat_us[c->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return SSFM_OK;
}

static void cli_bench_key(const struct cli_bench_client *c, uint64_t i,
    char *key, size_t len)
{
	snprintf(key, len, "%sc%03u/k%03u", c->b->prefix, c->id,
	    (unsigned)(i % CLI_BENCH_KEYS));
}

static void *cli_bench_thread(void *arg)
{
	struct cli_bench_client *c = arg;
	struct cli_bench *b = c->b;
	char key[1100];
	uint64_t i = 0;

	c->rc = ssfm_connect(cli_socket, &c->client);
	if (c->rc == SSFM_OK)
		ssfm_set_timeout(c->client, CLI_BENCH_TIMEOUT_MS);
	pthread_mutex_lock(&b->lock);
	b->ready++;
	pthread_cond_broadcast(&b->cond);
	while (!b->go)
		pthread_cond_wait(&b->cond, &b->lock);
	uint64_t end = b->start_us + (uint64_t)b->seconds * 1000000u;
	pthread_mutex_unlock(&b->lock);
	while (c->rc == SSFM_OK) {
		uint64_t t0 = cli_bench_now_us();
		if (t0 >= end)
			break;
		cli_bench_key(c, i, key, sizeof(key));
		c->rc = ssfm_put(c->client, key, b->value, SSFM_ANY_VERSION,
		    NULL, NULL);
		if (c->rc == SSFM_OK)
			c->rc = cli_bench_record(c, cli_bench_now_us() - t0);
		i++;
	}
	c->end_us = cli_bench_now_us();
	if (c->rc == SSFM_OK) {
		uint64_t written = i < CLI_BENCH_KEYS ? i : CLI_BENCH_KEYS;
		for (uint64_t k = 0; k < written && c->rc == SSFM_OK; k++) {
			cli_bench_key(c, k, key, sizeof(key));
			c->rc = ssfm_del(c->client, key, SSFM_ANY_VERSION, NULL,
			    NULL);
		}
	}
	return NULL;
}

static int cli_bench_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The latency below which a fraction p of the sorted samples lie. */
static double cli_bench_pct_ms(const uint32_t *sorted, size_t n, double p)
{
	size_t i = (size_t)(p * (double)n + 0.999999);

	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return sorted[i - 1] / 1000.0;
}

static int cli_bench_report(struct cli_bench *b, struct cli_bench_client *cs)
{
	size_t total = 0;
	uint64_t last_end = b->start_us;

	for (unsigned i = 0; i < b->clients; i++) {
		total += cs[i].n;
		if (cs[i].end_us > last_end)
			last_end = cs[i].end_us;
	}
	uint32_t *all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL) {
		cli_errx("bench: out of memory merging %zu latencies", total);
		return CLI_EXIT_SYSTEM;
	}
	size_t off = 0;
	for (unsigned i = 0; i < b->clients; i++) {
		if (cs[i].n > 0)
			memcpy(all + off, cs[i].lat_us, cs[i].n * sizeof(*all));
		off += cs[i].n;
	}
	qsort(all, total, sizeof(*all), cli_bench_cmp);
	double secs = (double)(last_end - b->start_us) / 1e6;
	printf("ssfm bench: %u clients, %u s, %zu-byte values, keys under %s\n",
	    b->clients, b->seconds, b->value_bytes, b->prefix);
	printf("writes:   %zu in %.2f s: %.0f ops/s\n", total, secs,
	    secs > 0 ? (double)total / secs : 0.0);
	if (total > 0)
		printf("latency:  p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, "
		    "max %.3f ms\n", cli_bench_pct_ms(all, total, 0.50),
		    cli_bench_pct_ms(all, total, 0.99),
		    cli_bench_pct_ms(all, total, 0.999), all[total - 1] / 1000.0);
	free(all);
	return cli_flush_stdout();
}

static int cli_bench_run_clients(struct cli_bench *b)
{
	struct cli_bench_client *cs = calloc(b->clients, sizeof(*cs));
	unsigned started = 0;
	int status = CLI_EXIT_OK;

	if (cs == NULL) {
		cli_errx("bench: out of memory for %u clients", b->clients);
		return CLI_EXIT_SYSTEM;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	for (; started < b->clients; started++) {
		cs[started].b = b;
		cs[started].id = started;
		if (pthread_create(&cs[started].tid, NULL, cli_bench_thread,
		    &cs[started]) != 0)
			break;
	}
	pthread_mutex_lock(&b->lock);
	if (started < b->clients) {
		cli_errx("bench: cannot start client thread %u", started);
		status = CLI_EXIT_SYSTEM;
		b->seconds = 0;
	}
	while (b->ready < started)
		pthread_cond_wait(&b->cond, &b->lock);
	b->start_us = cli_bench_now_us();
	b->go = 1;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(cs[i].tid, NULL);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);

	unsigned failed = 0;
	for (unsigned i = 0; i < started; i++) {
		if (cs[i].rc == SSFM_OK)
			continue;
		if (failed++ == 0 && status == CLI_EXIT_OK) {
			char what[64];
			snprintf(what, sizeof(what), "bench: client %u", i);
			status = cs[i].client == NULL ? CLI_EXIT_SYSTEM :
			    cli_online_fail(cs[i].client, cs[i].rc, what);
		}
	}
	if (failed > 0)
		cli_errx("bench: %u of %u clients failed", failed, b->clients);
	int report = cli_bench_report(b, cs);
	if (status == CLI_EXIT_OK)
		status = report;
	for (unsigned i = 0; i < b->clients; i++) {
		ssfm_close(cs[i].client);
		free(cs[i].lat_us);
	}
	free(cs);
	return status;
}

static int cli_bench_run(const struct cli_command *cmd, int argc, char **argv)
{
	enum { OPT_CLIENTS = 256, OPT_SECONDS, OPT_VALUE_BYTES, OPT_PREFIX };
	static const struct option longopts[] = {
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "seconds", required_argument, NULL, OPT_SECONDS },
		{ "value-bytes", required_argument, NULL, OPT_VALUE_BYTES },
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_bench b = { .clients = 16, .seconds = 10, .value_bytes = 256,
	    .prefix = "bench/" };
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CLIENTS:
			if (cli_parse_u64(optarg, 1, 1024, &v) < 0)
				return cli_usage_error(cmd, "--clients %s: expected "
				    "1 to 1024", optarg);
			b.clients = (unsigned)v;
			break;
		case OPT_SECONDS:
			if (cli_parse_u64(optarg, 1, 3600, &v) < 0)
				return cli_usage_error(cmd, "--seconds %s: expected "
				    "1 to 3600", optarg);
			b.seconds = (unsigned)v;
			break;
		case OPT_VALUE_BYTES:
			if (cli_parse_u64(optarg, 2, 1024 * 1024, &v) < 0)
				return cli_usage_error(cmd, "--value-bytes %s: "
				    "expected 2 to 1048576", optarg);
			b.value_bytes = (size_t)v;
			break;
		case OPT_PREFIX:
			b.prefix = optarg;
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return cli_usage_error(cmd, "bench takes no operand");
	int status = cli_check_key_arg("--prefix", b.prefix);
	if (status != CLI_EXIT_OK)
		return status;

	/* A JSON string of exactly value_bytes bytes, quotes included. */
	b.value = malloc(b.value_bytes + 1);
	if (b.value == NULL) {
		cli_errx("bench: out of memory for a %zu-byte value", b.value_bytes);
		return CLI_EXIT_SYSTEM;
	}
	memset(b.value, 'x', b.value_bytes);
	b.value[0] = '"';
	b.value[b.value_bytes - 1] = '"';
	b.value[b.value_bytes] = '\0';
	status = cli_bench_run_clients(&b);
	free(b.value);
	return status;
}

const struct cli_command cli_bench_command = {
	.name = "bench",
	.synopsis = "bench [--clients N] [--seconds T] [--value-bytes V] [--prefix P]",
	.summary = "Write through the daemon for a while; print ops/s and write latency.",
	.options =
	    "      --clients N           client threads, one connection each (default 16)\n"
	    "      --seconds T           how long to write (default 10)\n"
	    "      --value-bytes V       size of each JSON value written (default 256)\n"
	    "      --prefix P            write keys under P (default bench/), deleted after\n",
	.run = cli_bench_run,
};
