/*
 * t_store_threads: 64 threads write at once for a couple of seconds: unique
 * keys, keys each thread overwrites, and keys all threads share (plain puts
 * and deletes, and compare-and-set ones).  Every acknowledged write is
 * recorded.  Then:
 *  - after store_close and store_open the state is exactly what the
 *    acknowledged writes make (per key, the one with the highest version);
 *  - a follower that called store_follow in a loop all along ends with
 *    exactly the writer's state (store_info digest and our own digest from
 *    store_list, on both), having applied every operation in order;
 *  - versions are unique per key and grow with each thread's own writes.
 */
#include "storeutil.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITERS 64
#define RUN_MS 2000
#define SHARED_KEYS 16
#define OWN_KEYS 4

struct writer {
	pthread_t tid;
	struct store *st;
	int id;
	atomic_int *stop;
	struct su_state acked;    /* puts with values, deletes with NULL */
	unsigned puts, dels, cas_ok, cas_conflict, notfound;
	unsigned errors, own_not_increasing;
	uint64_t own_last[OWN_KEYS];
};

static int64_t current_version(struct store *st, const char *key)
{
	char *value = NULL;
	size_t len = 0;
	uint64_t version = 0;
	int rc = store_get(st, key, strlen(key), &value, &len, &version);

	free(value);
	return rc == 0 ? (int64_t)version : 0;
}

static void writer_error(struct writer *w, const char *op, const char *key, int rc,
    const char *msg)
{
	if (w->errors++ < 3)
		tap_diag("thread %d: %s %s: %s (%s)", w->id, op, key, store_strerror(rc), msg);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned seed = (unsigned)w->id * 2654435761u;

	for (uint64_t n = 0; !atomic_load(w->stop); n++) {
		char key[64];
		char *value;
		uint64_t version = 0;
		struct store_error err = { 0 };
		unsigned pick = rand_r(&seed) % 10;
		int rc;

		if (pick < 3) {
			/* A key no one else writes, written once. */
			snprintf(key, sizeof(key), "u/%02d/%06" PRIu64, w->id, n);
			value = su_value(key, n, rand_r(&seed) % 64);
			rc = store_put(w->st, key, value, STORE_ANY_VERSION, &version, &err);
		} else if (pick < 5) {
			/* This thread's own keys, overwritten: versions must grow. */
			unsigned k = (unsigned)(n % OWN_KEYS);
			snprintf(key, sizeof(key), "o/%02d/%u", w->id, k);
			value = su_value(key, n, rand_r(&seed) % 32);
			rc = store_put(w->st, key, value, STORE_ANY_VERSION, &version, &err);
			if (rc == 0) {
				if (version <= w->own_last[k] && w->own_not_increasing++ < 3)
					tap_diag("thread %d: %s got version %" PRIu64 " after %" PRIu64,
					    w->id, key, version, w->own_last[k]);
				w->own_last[k] = version;
			}
		} else {
			snprintf(key, sizeof(key), "s/%02u", rand_r(&seed) % SHARED_KEYS);
			value = su_value(key, n, rand_r(&seed) % 16);
			if (pick < 7) {
				rc = store_put(w->st, key, value, STORE_ANY_VERSION, &version, &err);
			} else if (pick < 8) {
				int64_t expected = current_version(w->st, key);
				rc = store_put(w->st, key, value, expected, &version, &err);
				if (rc == 0) {
					w->cas_ok++;
					if ((int64_t)version <= expected && w->own_not_increasing++ < 3)
						tap_diag("thread %d: CAS put of %s expecting %" PRId64 " got version %" PRIu64,
						    w->id, key, expected, version);
				}
			} else if (pick < 9) {
				free(value);
				value = NULL;
				rc = store_del(w->st, key, STORE_ANY_VERSION, &version, &err);
			} else {
				int64_t expected = current_version(w->st, key);
				free(value);
				value = NULL;
				if (expected == 0)
					expected = STORE_ANY_VERSION;
				rc = store_del(w->st, key, expected, &version, &err);
				if (rc == 0 && expected != STORE_ANY_VERSION)
					w->cas_ok++;
			}
		}
		if (rc == 0) {
			su_state_add(&w->acked, key, strlen(key), value, value ? strlen(value) : 0,
			    version);
			if (value)
				w->puts++;
			else
				w->dels++;
		} else if (rc == -STORE_ECONFLICT) {
			w->cas_conflict++;
		} else if (rc == -STORE_ENOTFOUND && value == NULL) {
			w->notfound++;
		} else {
			writer_error(w, value ? "put" : "del", key, rc, err.msg);
		}
		free(value);
	}
	return NULL;
}

struct follower {
	pthread_t tid;
	struct store *st;
	atomic_int *stop;
	unsigned calls, errors, out_of_order;
	uint64_t last_seq, applied_ops;
};

static void follower_on_apply(void *arg, const struct store_applied *op)
{
	struct follower *f = arg;

	if (op->seq <= f->last_seq)
		f->out_of_order++;
	f->last_seq = op->seq;
	f->applied_ops++;
}

static void follow_once(struct follower *f)
{
	struct store_follow_result res;
	struct store_error err = { 0 };
	int rc;

	memset(&res, 0, sizeof(res));
	rc = store_follow(f->st, &res, &err);
	f->calls++;
	if ((rc < 0 || res.blocked) && f->errors++ < 3)
		tap_diag("follower: %s, blocked %d at %s (%s)", store_strerror(rc), res.blocked,
		    res.blocked_file, err.msg);
}

static void *follower_main(void *arg)
{
	struct follower *f = arg;

	while (!atomic_load(f->stop)) {
		follow_once(f);
		tu_sleep_ms(1);
	}
	return NULL;
}

struct catch_up {
	struct follower *f;
	uint64_t target;
};

static int follower_at(void *arg)
{
	struct catch_up *c = arg;
	struct store_info info;

	follow_once(c->f);
	store_info(c->f->st, &info);
	return info.applied_seq == c->target;
}

static int kv_version_cmp(const void *pa, const void *pb)
{
	const struct su_kv *a = pa, *b = pb;
	int c = strcmp(a->key, b->key);

	if (c != 0)
		return c;
	return a->version < b->version ? -1 : a->version > b->version;
}

static int u64_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a < b ? -1 : a > b;
}

int main(void)
{
	const char *tmp = tu_tmpdir("threads");
	static struct writer w[WRITERS];
	struct follower f;
	struct store_options fopt = { 0 };
	struct store_error err = { 0 };
	struct store_info wi, fi, ri;
	struct su_state all, expected, got;
	atomic_int stop_writers = 0, stop_follower = 0;
	struct store *st, *fst, *reopened;
	unsigned puts = 0, dels = 0, cas_ok = 0, conflicts = 0, errors = 0, not_increasing = 0;
	unsigned duplicate_versions = 0;
	int rc;

	su_create(tmp);
	st = su_open(tmp, NULL);
	rc = store_begin_epoch(st, 1, "threads-host", 1, NULL, &err);
	if (rc < 0)
		tap_bail("store_begin_epoch: %s (%s)", store_strerror(rc), err.msg);

	memset(&f, 0, sizeof(f));
	f.stop = &stop_follower;
	fopt.on_apply = follower_on_apply;
	fopt.apply_arg = &f;
	fst = su_open(tmp, &fopt);
	f.st = fst;
	pthread_create(&f.tid, NULL, follower_main, &f);

	for (int i = 0; i < WRITERS; i++) {
		w[i].st = st;
		w[i].id = i;
		w[i].stop = &stop_writers;
		su_state_init(&w[i].acked);
		if (pthread_create(&w[i].tid, NULL, writer_main, &w[i]) != 0)
			tap_bail("pthread_create: %s", strerror(errno));
	}
	tu_sleep_ms(RUN_MS);
	atomic_store(&stop_writers, 1);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i].tid, NULL);
	atomic_store(&stop_follower, 1);
	pthread_join(f.tid, NULL);

	su_state_init(&all);
	for (int i = 0; i < WRITERS; i++) {
		puts += w[i].puts;
		dels += w[i].dels;
		cas_ok += w[i].cas_ok;
		conflicts += w[i].cas_conflict;
		errors += w[i].errors;
		not_increasing += w[i].own_not_increasing;
		for (size_t j = 0; j < w[i].acked.n; j++) {
			const struct su_kv *kv = &w[i].acked.kv[j];
			su_state_add(&all, kv->key, kv->key_len, kv->value, kv->value_len, kv->version);
		}
		su_state_free(&w[i].acked);
	}
	tap_diag("%u puts, %u deletes acknowledged; %u compare-and-set writes won, %u conflicts",
	    puts, dels, cas_ok, conflicts);
	ok(puts > 64 && dels > 0, "the writers wrote (%u puts, %u deletes)", puts, dels);
	is_int(errors, 0, "no write failed other than by a CAS conflict or deleting an absent key");
	is_int(not_increasing, 0, "each thread's successive writes of a key got growing versions, "
	    "and a CAS write a version above the one it expected");

	{
		size_t zero = 0;
		for (size_t i = 0; i < all.n; i++)
			if (all.kv[i].version == 0 && zero++ < 5)
				tap_diag("%s of %s acknowledged (rc 0) with version 0",
				    all.kv[i].value ? "put" : "delete", all.kv[i].key);
		is_int(zero, 0, "every acknowledged write has a version (> 0)");
	}

	/* Versions are unique per key (and across keys: one seq, one write). */
	qsort(all.kv, all.n, sizeof(*all.kv), kv_version_cmp);
	for (size_t i = 1; i < all.n; i++)
		if (strcmp(all.kv[i].key, all.kv[i - 1].key) == 0 && all.kv[i].version != 0 &&
		    all.kv[i].version == all.kv[i - 1].version)
			duplicate_versions++;
	is_int(duplicate_versions, 0, "no two acknowledged writes of a key share a version");
	{
		/* One seq is one operation: no version is shared even across keys. */
		uint64_t *v = malloc((all.n + 1) * sizeof(*v));
		size_t shared = 0;
		if (v == NULL)
			tap_bail("out of memory");
		for (size_t i = 0; i < all.n; i++)
			v[i] = all.kv[i].version;
		qsort(v, all.n, sizeof(*v), u64_cmp);
		for (size_t i = 1; i < all.n; i++) {
			if (v[i] != v[i - 1] || v[i] == 0)
				continue;
			if (shared++ < 3 && (i + 1 == all.n || v[i + 1] != v[i]))
				for (size_t j = 0; j < all.n; j++)
					if (all.kv[j].version == v[i])
						tap_diag("seq %" PRIu64 " acknowledged for %s %s", v[i],
						    all.kv[j].value ? "put of" : "delete of", all.kv[j].key);
		}
		is_int(shared, 0, "no two acknowledged writes share a sequence number");
		free(v);
	}

	su_state_init(&expected);
	for (size_t i = 0; i < all.n; i++)
		su_state_add(&expected, all.kv[i].key, all.kv[i].key_len, all.kv[i].value,
		    all.kv[i].value_len, all.kv[i].version);
	su_state_reduce(&expected);

	store_info(st, &wi);
	su_state_init(&got);
	su_state_load(st, &got);
	is_int(su_state_diff(&got, &expected, "writer"), 0,
	    "the writer's state is exactly what the acknowledged writes make");
	su_state_free(&got);

	struct catch_up cu = { &f, wi.committed_seq };
	ok(tu_wait_until(follower_at, &cu, 20000, 2),
	    "the follower reaches the writer's last seq %" PRIu64, wi.committed_seq);
	store_info(fst, &fi);
	is_int(f.errors, 0, "the follower was never blocked (%u store_follow calls)", f.calls);
	is_int(f.out_of_order, 0, "the follower applied every operation in sequence order");
	ok(f.applied_ops >= puts + dels, "the follower applied every acknowledged operation (%" PRIu64 " ops)",
	    f.applied_ops);
	is_int(fi.applied_seq, wi.committed_seq, "follower and writer are at the same seq");
	ok(fi.digest == wi.digest, "follower and writer have the same store_info digest (%016" PRIx64 ")",
	    wi.digest);
	is_int(su_store_digest(fst), su_store_digest(st), "and the same digest computed from store_list");
	is_int(su_store_digest(st), wi.digest, "our digest from store_list equals store_info's");
	su_state_init(&got);
	su_state_load(fst, &got);
	is_int(su_state_diff(&got, &expected, "follower"), 0,
	    "the follower's state is exactly what the acknowledged writes make");
	su_state_free(&got);

	store_end_epoch(st);
	store_close(st);
	store_close(fst);

	reopened = su_open(tmp, NULL);
	store_info(reopened, &ri);
	su_state_init(&got);
	su_state_load(reopened, &got);
	is_int(su_state_diff(&got, &expected, "reopened"), 0,
	    "after close and open, every acknowledged write is there with its value and version");
	su_state_free(&got);
	is_int(ri.applied_seq, wi.committed_seq, "the reopened store is at the writer's last seq");
	ok(ri.digest == wi.digest && su_store_digest(reopened) == wi.digest,
	    "the reopened store has the writer's digest");
	is_int(ri.blocked, 0, "nothing blocks the journal");
	store_close(reopened);

	su_state_free(&expected);
	su_state_free(&all);
	return tap_done();
}
