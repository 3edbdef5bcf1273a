/*
 * store_fill.c: writes N keys into a store through the store API, as the
 * writer of a new epoch, and prints its progress.  A tool for the tests
 * (t_cli.sh) and for scripts/quickstart, not a test itself.
 *
 *   store_fill [--prefix P] [--epoch E] [--snapshot] DIR N
 *
 * Keys are P followed by an 8-digit number (P defaults to "key/"), values
 * {"n":I,"by":"store_fill"}.  --snapshot writes a snapshot after the keys.  The epoch defaults to one more than the last
 * sealed epoch: offline, nothing else holds the lease.  Writes go through
 * store_submit with many in flight, so they are group-committed as the
 * daemon's would be.  Exit status 0 when every write was acknowledged.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

#define FILL_IN_FLIGHT 256u
#define FILL_PREFIX_MAX 512u

struct fill_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned in_flight;
	uint64_t done;
	uint64_t failed;
	char first_error[256];
};

/* Prints "K of N durable" for each tenth of the way passed (stores of 1000
 * keys or more; smaller ones are quick).  Called with fs->lock held. */
static void fill_progress(struct fill_state *fs, uint64_t n, uint64_t *mark)
{
	if (n < 1000)
		return;
	while (*mark <= 9 && fs->done >= n / 10 * *mark) {
		printf("store_fill: %" PRIu64 " of %" PRIu64 " durable\n",
		    fs->done, n);
		fflush(stdout);
		(*mark)++;
	}
}

static void fill_done(void *arg, const struct store_write_result *res)
{
	struct fill_state *fs = arg;

	pthread_mutex_lock(&fs->lock);
	fs->in_flight--;
	fs->done++;
	if (res->rc < 0 && fs->failed++ == 0)
		snprintf(fs->first_error, sizeof(fs->first_error), "%s",
		    res->msg[0] != '\0' ? res->msg : store_strerror(res->rc));
	pthread_cond_signal(&fs->cond);
	pthread_mutex_unlock(&fs->lock);
}

static int fill_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static uint64_t fill_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fill_usage(void)
{
	fprintf(stderr, "usage: store_fill [--prefix P] [--epoch E] [--snapshot] DIR N\n");
}

int main(int argc, char **argv)
{
	enum { OPT_PREFIX = 256, OPT_EPOCH, OPT_SNAPSHOT };
	static const struct option longopts[] = {
		{ "prefix", required_argument, NULL, OPT_PREFIX },
		{ "epoch", required_argument, NULL, OPT_EPOCH },
		{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
		{ NULL, 0, NULL, 0 },
	};
	const char *prefix = "key/";
	uint64_t epoch = 0, n;
	int c, snapshot = 0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PREFIX:
			prefix = optarg;
			break;
		case OPT_EPOCH:
			if (fill_parse_u64(optarg, &epoch) < 0 || epoch == 0) {
				fprintf(stderr, "store_fill: --epoch %s: expected "
				    "a positive number\n", optarg);
				return 2;
			}
			break;
		case OPT_SNAPSHOT:
			snapshot = 1;
			break;
		default:
			fill_usage();
			return 2;
		}
	}
	if (argc - optind != 2 || fill_parse_u64(argv[optind + 1], &n) < 0 ||
	    strlen(prefix) > FILL_PREFIX_MAX) {
		fill_usage();
		return 2;
	}
	const char *dir = argv[optind];

	struct fill_state fs = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	struct store_options opt = { 0 };
	struct store_error err = { 0 };
	struct store *st = NULL;
	struct store_info info;
	struct store_seal_info seal;
	int status = 1, in_epoch = 0;

	int rc = store_open(dir, &opt, &st, &err);
	if (rc < 0) {
		fprintf(stderr, "store_fill: %s\n", err.msg[0] ? err.msg :
		    store_strerror(rc));
		return 1;
	}
	store_info(st, &info);
	if (epoch == 0)
		epoch = (info.epoch > info.last_seal.epoch ? info.epoch :
		    info.last_seal.epoch) + 1;
	rc = store_begin_epoch(st, epoch, "store_fill", 1, &seal, &err);
	if (rc < 0) {
		fprintf(stderr, "store_fill: %s: epoch %" PRIu64 ": %s\n", dir,
		    epoch, err.msg[0] ? err.msg : store_strerror(rc));
		goto out;
	}
	in_epoch = 1;
	printf("store_fill: %s: writer of epoch %" PRIu64 ", sealed at seq %"
	    PRIu64 "; writing %" PRIu64 " keys %s00000000...\n", dir, epoch,
	    seal.start_seq, n, prefix);
	fflush(stdout);

	uint64_t t0 = fill_now_ms(), mark = 1;
	char key[FILL_PREFIX_MAX + 32], value[64];
	for (uint64_t i = 0; i < n; i++) {
		int klen = snprintf(key, sizeof(key), "%s%08" PRIu64, prefix, i);
		int vlen = snprintf(value, sizeof(value),
		    "{\"n\":%" PRIu64 ",\"by\":\"store_fill\"}", i);
		struct store_write_req req = {
			.kind = STORE_OP_PUT,
			.key = key, .key_len = (size_t)klen,
			.value = value, .value_len = (size_t)vlen,
			.expected_version = STORE_ANY_VERSION,
		};
		pthread_mutex_lock(&fs.lock);
		while (fs.in_flight >= FILL_IN_FLIGHT)
			pthread_cond_wait(&fs.cond, &fs.lock);
		fill_progress(&fs, n, &mark);
		fs.in_flight++;
		pthread_mutex_unlock(&fs.lock);
		rc = store_submit(st, &req, fill_done, &fs);
		if (rc < 0) {
			pthread_mutex_lock(&fs.lock);
			fs.in_flight--;
			pthread_mutex_unlock(&fs.lock);
			fprintf(stderr, "store_fill: %s: key %s: %s\n", dir, key,
			    store_strerror(rc));
			goto out;
		}
	}
	pthread_mutex_lock(&fs.lock);
	while (fs.in_flight > 0) {
		pthread_cond_wait(&fs.cond, &fs.lock);
		fill_progress(&fs, n, &mark);
	}
	pthread_mutex_unlock(&fs.lock);
	if (fs.failed > 0) {
		fprintf(stderr, "store_fill: %s: %" PRIu64 " of %" PRIu64
		    " writes failed; the first: %s\n", dir, fs.failed, n,
		    fs.first_error);
		goto out;
	}
	if (snapshot) {
		uint64_t snap_seq;
		rc = store_snapshot(st, &snap_seq, &err);
		if (rc < 0) {
			fprintf(stderr, "store_fill: %s\n", err.msg[0] ? err.msg :
			    store_strerror(rc));
			goto out;
		}
		printf("store_fill: %s: snapshot at seq %" PRIu64 "\n", dir,
		    snap_seq);
	}
	store_info(st, &info);
	printf("store_fill: %s: %" PRIu64 " keys written in %" PRIu64
	    " ms; the store holds %" PRIu64 " keys, seq %" PRIu64 "\n", dir, n,
	    fill_now_ms() - t0, info.keys, info.committed_seq);
	status = 0;
out:
	if (in_epoch) {
		/* Waits for writes still in flight after an early exit. */
		store_end_epoch(st);
	}
	store_close(st);
	return status;
}
