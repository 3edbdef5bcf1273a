/*
 * fuzz_seed: writes a small store through the real writer (store.h) with
 * every kind of record the format has, for the seed corpus of the batch,
 * seal, snapshot and identity harnesses.  A maintainer's tool, run by
 * `make fuzz-seeds` in tests/, which copies the files it writes into
 * tests/fuzz/corpus/; not a test.
 *
 *   fuzz_seed DIR      DIR must not exist or be empty
 *
 * What it writes: two epochs (two seal batches and epochs/ files, host
 * names of different lengths), puts of every JSON type, nested and
 * escaped values, keys in 1- to 4-byte UTF-8, a key of the maximum length,
 * request ids, compare-and-set puts and deletes, many writes submitted at
 * once (so that group commit makes batches of several records), and a
 * snapshot of the state holding keys and request ids.
 */
#include "store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_seed_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned left;
	int failed;
};

static void fuzz_seed_done(void *arg, const struct store_write_result *res)
{
	struct fuzz_seed_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	if (res->rc < 0) {
		fprintf(stderr, "fuzz_seed: write failed: %s\n", res->msg);
		w->failed = 1;
	}
	w->left--;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static int fuzz_seed_write(struct store *st, enum store_op_kind kind, const char *key,
    const char *value, int64_t expect, const char *reqid)
{
	struct store_write_req req = {
		.kind = kind, .key = key, .key_len = strlen(key),
		.value = value, .value_len = value ? strlen(value) : 0,
		.expected_version = expect,
		.reqid = reqid, .reqid_len = reqid ? strlen(reqid) : 0,
	};
	struct store_write_result res;

	if (store_write(st, &req, &res) < 0) {
		fprintf(stderr, "fuzz_seed: %s: %s\n", key, res.msg);
		return -1;
	}
	return 0;
}

/* Many puts submitted at once: group commit batches them. */
static int fuzz_seed_burst(struct store *st, const char *prefix, unsigned n)
{
	struct fuzz_seed_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, n, 0 };
	char keys[64][64], values[64][64], ids[64][32];

	if (n > 64)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%s%02u", prefix, i);
		snprintf(values[i], sizeof(values[i]), "{\"i\":%u,\"even\":%s}", i,
		    i % 2 ? "false" : "true");
		snprintf(ids[i], sizeof(ids[i]), "burst-%s-%u", prefix, i);
		struct store_write_req req = {
			.kind = STORE_OP_PUT, .key = keys[i], .key_len = strlen(keys[i]),
			.value = values[i], .value_len = strlen(values[i]),
			.expected_version = STORE_ANY_VERSION,
			.reqid = i % 3 ? NULL : ids[i], .reqid_len = i % 3 ? 0 : strlen(ids[i]),
		};
		if (store_submit(st, &req, fuzz_seed_done, &w) < 0) {
			fprintf(stderr, "fuzz_seed: submit of %s refused\n", keys[i]);
			return -1;
		}
	}
	pthread_mutex_lock(&w.lock);
	while (w.left > 0)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	return w.failed ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const char *const values[] = {
		"null", "true", "false", "0", "-1.5e-7", "12345678901234567890",
		"\"\"", "\"caf\xc3\xa9 \\u00e9\\n\\t\\\"\\\\\\/ \\ud83d\\ude00\"",
		"[]", "{}", "[1,[2,[3,[4]]],{\"a\":{\"b\":null}}]",
		"{\"name\":\"svc\",\"port\":8080,\"tags\":[\"a\",\"b\"],\"ratio\":0.25}",
		" [ 1 , 2 ]\n",
	};
	static const char *const keys[] = {
		"k", "caf\xc3\xa9", "\xe2\x82\xac/euro", "\xf0\x9f\x98\x80/smile",
		"a b\tc", "config/service/port",
	};
	struct store_create_params cp = { "fuzz-seed", 3 };
	struct store_error err;
	struct store_seal_info seal;
	struct store *st = NULL;
	char longkey[STORE_KEY_MAX + 1], key[64];
	uint64_t seq;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seed DIR\n");
		return 2;
	}
	if (store_create(argv[1], &cp, &err) < 0 || store_open(argv[1], NULL, &st, &err) < 0) {
		fprintf(stderr, "fuzz_seed: %s\n", err.msg);
		return 1;
	}
	if (store_begin_epoch(st, 1, "a", 1, &seal, &err) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(key, sizeof(key), "value/%02zu", i);
		if (fuzz_seed_write(st, STORE_OP_PUT, key, values[i], STORE_ANY_VERSION, NULL) < 0)
			goto out;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (fuzz_seed_write(st, STORE_OP_PUT, keys[i], "1", 0, NULL) < 0)
			goto out;
	memset(longkey, 'x', STORE_KEY_MAX);
	longkey[STORE_KEY_MAX] = '\0';
	if (fuzz_seed_write(st, STORE_OP_PUT, longkey, "\"longest key\"", STORE_ANY_VERSION,
	    "id-with-a-request-id-of-some-length-0123456789") < 0 ||
	    fuzz_seed_burst(st, "burst1/", 24) < 0 ||
	    fuzz_seed_write(st, STORE_OP_DEL, "k", NULL, STORE_ANY_VERSION, "del-1") < 0)
		goto out;
	store_end_epoch(st);

	if (store_begin_epoch(st, 7, "host-b.example.org", 4000000000u, &seal, &err) < 0)
		goto fail;
	if (fuzz_seed_write(st, STORE_OP_PUT, "value/00", "{\"replaced\":true}", 2, "cas-1") < 0 ||
	    fuzz_seed_write(st, STORE_OP_DEL, "value/01", NULL, 3, NULL) < 0 ||
	    fuzz_seed_burst(st, "burst2/", 7) < 0)
		goto out;
	if (store_snapshot(st, &seq, &err) < 0)
		goto fail;
	if (fuzz_seed_write(st, STORE_OP_PUT, "after/snapshot", "[true]", STORE_ANY_VERSION, "last") < 0)
		goto out;
	store_end_epoch(st);
	printf("fuzz_seed: %s written, snapshot at seq %llu\n", argv[1], (unsigned long long)seq);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "fuzz_seed: %s\n", err.msg);
out:
	store_close(st);
	return rc;
}
