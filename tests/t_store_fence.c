/*
 * t_store_fence: no-clobber commits fence a stale writer.  Two handles on
 * one store: A writes in epoch 1, B seals epoch 2; A's next write is refused
 * with STORE_EFENCED and A stays failed while B's writes succeed.  Then the
 * race, many times over: A's threads keep writing while B seals and starts
 * writing; every sequence number has exactly one writer, each acknowledged
 * write is in the journal under its writer's epoch, the final state is B's
 * view, and a follower agrees.  Everything runs twice: with the default
 * commit and with force_link (link()+unlink(), the path that must work on
 * every filesystem).
 */
#include "storeutil.h"
#include "format.h"
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
#include <sys/stat.h>

#define RACE_ROUNDS 12
#define A_THREADS 4
#define B_THREADS 4

static const char *tmp;

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		tap_bail("mkdir %s: %s", path, strerror(errno));
}

static int present(struct store *st, const char *key)
{
	char *value = NULL;
	size_t len = 0;
	uint64_t version = 0;
	int rc = store_get(st, key, strlen(key), &value, &len, &version);

	free(value);
	return rc == 0;
}

static void test_sequential(int force_link)
{
	struct store_options opt = { .force_link = force_link };
	char dir[PATH_MAX];
	struct store_seal_info seal;
	struct store_error err = { 0 };
	struct store_info ia, ib, ic;
	struct store *a, *b, *c;
	uint64_t va = 0, vb = 0;
	const char *mode = force_link ? "force_link" : "default commit";
	int rc;

	su_path(dir, sizeof(dir), "%s/seq-%d", tmp, force_link);
	make_dir(dir);
	su_create(dir);
	a = su_open(dir, &opt);
	b = su_open(dir, &opt);
	rc = store_begin_epoch(a, 1, "host-a", 1, NULL, &err);
	is_int(rc, 0, "%s: A begins epoch 1 (%s)", mode, err.msg);
	rc = store_put(a, "a1", "1", STORE_ANY_VERSION, &va, &err);
	is_int(rc, 0, "%s: A writes a1", mode);

	memset(&seal, 0, sizeof(seal));
	rc = store_begin_epoch(b, 2, "host-b", 2, &seal, &err);
	is_int(rc, 0, "%s: B begins epoch 2 (%s)", mode, err.msg);
	ok(seal.start_seq > va, "%s: B's seal (seq %" PRIu64 ") follows A's write (seq %" PRIu64 ")",
	    mode, seal.start_seq, va);
	ok(present(b, "a1"), "%s: B caught up with A's write before sealing", mode);

	memset(&err, 0, sizeof(err));
	rc = store_put(a, "a2", "2", STORE_ANY_VERSION, NULL, &err);
	is_int(rc, -STORE_EFENCED, "%s: A's next write is fenced (%s)", mode, err.msg);
	ok(err.msg[0] != '\0', "%s: with a message", mode);
	memset(&err, 0, sizeof(err));
	rc = store_put(a, "a3", "3", STORE_ANY_VERSION, NULL, &err);
	ok(rc == -STORE_EFENCED || rc == -STORE_EFAILED,
	    "%s: A's later write fails too (%s: %s)", mode, store_strerror(rc), err.msg);
	store_info(a, &ia);
	ok(ia.failed == 1 && ia.failed_msg[0] != '\0', "%s: A is in the failed state (%s)",
	    mode, ia.failed_msg);

	rc = store_put(b, "b1", "4", STORE_ANY_VERSION, &vb, &err);
	is_int(rc, 0, "%s: B's write succeeds", mode);
	ok(vb > seal.start_seq, "%s: after its seal", mode);

	c = su_open(dir, &opt);
	ok(present(c, "a1") && present(c, "b1"), "%s: a fresh reader sees a1 and b1", mode);
	ok(!present(c, "a2") && !present(c, "a3"), "%s: and neither of A's refused writes", mode);
	store_info(b, &ib);
	store_info(c, &ic);
	ok(ic.digest == ib.digest && ic.digest == su_store_digest(c),
	    "%s: the reader's digest equals B's and our own", mode);

	store_end_epoch(a);
	memset(&err, 0, sizeof(err));
	rc = store_begin_epoch(a, 1, "host-a", 1, NULL, &err);
	is_int(rc, -STORE_EFENCED, "%s: A cannot begin epoch 1 again (%s)", mode, err.msg);
	store_close(a);
	store_close(b);
	store_close(c);
}

struct racer {
	pthread_t tid;
	struct store *st;
	char role;                /* 'a' or 'b' */
	int id;
	atomic_int *stop;
	struct su_state acked;    /* acknowledged writes, in the order made */
	atomic_uint fails;
	unsigned success_after_fail, odd_errors, fenced;
	int first_error;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	for (uint64_t n = 0; !atomic_load(r->stop); n++) {
		char key[64];
		char *value;
		uint64_t version = 0;
		struct store_error err = { 0 };
		int rc;

		if (n % 3 == 0)
			snprintf(key, sizeof(key), "shared/%" PRIu64, n % 4);
		else
			snprintf(key, sizeof(key), "%c%d/%" PRIu64, r->role, r->id, n % 8);
		value = su_value(key, n, (size_t)(n % 5) * 7);
		rc = store_put(r->st, key, value, STORE_ANY_VERSION, &version, &err);
		if (rc == 0) {
			su_state_add(&r->acked, key, strlen(key), value, strlen(value), version);
			if (r->fails)
				r->success_after_fail++;
		} else {
			if (atomic_fetch_add(&r->fails, 1) == 0)
				r->first_error = rc;
			if (rc == -STORE_EFENCED)
				r->fenced++;
			else if (rc != -STORE_EFAILED) {
				if (r->odd_errors++ == 0 && r->id == 0)
					tap_diag("%c%d: unexpected error %s (%s)", r->role, r->id,
					    store_strerror(rc), err.msg);
			}
			tu_sleep_ms(1);
		}
		free(value);
	}
	return NULL;
}

struct follower {
	pthread_t tid;
	struct store *st;
	atomic_int *stop;
	int errors;
	uint64_t last_seq;
	int out_of_order;
};

static void follower_on_apply(void *arg, const struct store_applied *op)
{
	struct follower *f = arg;

	if (op->seq <= f->last_seq)
		f->out_of_order++;
	f->last_seq = op->seq;
}

static void *follower_main(void *arg)
{
	struct follower *f = arg;

	while (!atomic_load(f->stop)) {
		struct store_follow_result res;
		struct store_error err = { 0 };
		memset(&res, 0, sizeof(res));
		int rc = store_follow(f->st, &res, &err);
		if (rc < 0 || res.blocked) {
			if (f->errors++ == 0)
				tap_diag("follower: %s blocked %d %s (%s)", store_strerror(rc),
				    res.blocked, res.blocked_file, err.msg);
		}
		if (rc == 0)
			tu_sleep_ms(2);
	}
	return NULL;
}

static int all_a_failed(void *arg)
{
	struct racer *a = arg;

	for (int i = 0; i < A_THREADS; i++)
		if (atomic_load(&a[i].fails) == 0)
			return 0;
	return 1;
}

struct journal_map {
	uint64_t n;               /* entries [1, n] */
	uint64_t *epoch;
	char **key;
	unsigned *kind;
};

/* Reads every batch from seq 1 with our own parser. */
static int journal_map_load(const char *dir, struct journal_map *m)
{
	uint64_t seq = 1;

	memset(m, 0, sizeof(*m));
	for (;;) {
		unsigned char *buf;
		size_t len;
		struct su_batch b;
		char why[256], path[PATH_MAX];

		su_journal_path(path, sizeof(path), dir, seq);
		if (!tu_file_exists(path))
			return 0;
		if (su_batch_read(dir, seq, &buf, &len, &b, why, sizeof(why)) < 0) {
			tap_diag("%s", why);
			return -1;
		}
		m->epoch = realloc(m->epoch, (b.last_seq + 1) * sizeof(*m->epoch));
		m->key = realloc(m->key, (b.last_seq + 1) * sizeof(*m->key));
		m->kind = realloc(m->kind, (b.last_seq + 1) * sizeof(*m->kind));
		if (m->epoch == NULL || m->key == NULL || m->kind == NULL)
			tap_bail("out of memory");
		for (size_t i = 0; i < b.nrec; i++) {
			m->epoch[seq + i] = b.epoch;
			m->kind[seq + i] = b.kind;
			m->key[seq + i] = strndup(b.rec[i].key, b.rec[i].key_len);
		}
		m->n = b.last_seq;
		seq = b.last_seq + 1;
		su_batch_free(&b);
		free(buf);
	}
}

static void journal_map_free(struct journal_map *m)
{
	for (uint64_t i = 1; i <= m->n; i++)
		free(m->key[i]);
	free(m->epoch);
	free(m->key);
	free(m->kind);
}

struct round_totals {
	unsigned rounds, seal_failed, a_unrefused, a_first_error_other, a_success_after_fail;
	unsigned a_fenced, b_errors, journal_wrong, state_wrong, digest_wrong, follower_wrong;
	unsigned a_acks, b_acks, a_failed_state;
};

static int follower_caught_up(void *arg)
{
	struct store **pair = arg;
	struct store_info fi, bi;
	struct store_follow_result res;
	struct store_error err;

	memset(&res, 0, sizeof(res));
	store_follow(pair[0], &res, &err);
	store_info(pair[0], &fi);
	store_info(pair[1], &bi);
	return fi.applied_seq == bi.committed_seq;
}

/* Checks one writer's acknowledgements against the journal: every acked
 * version is a record of that key written under the writer's epoch, on the
 * right side of the seal.  Returns the number of violations. */
static unsigned check_acks(const struct racer *r, const struct journal_map *m,
    uint64_t epoch, uint64_t seal_seq)
{
	unsigned bad = 0;

	for (size_t i = 0; i < r->acked.n; i++) {
		const struct su_kv *kv = &r->acked.kv[i];
		int wrong = kv->version == 0 || kv->version > m->n ||
		    m->epoch[kv->version] != epoch ||
		    strcmp(m->key[kv->version], kv->key) != 0 ||
		    (epoch == 1 ? kv->version >= seal_seq : kv->version <= seal_seq);
		if (wrong && bad++ == 0)
			tap_diag("%c%d: write of %s acknowledged at seq %" PRIu64
			    " (seal at %" PRIu64 ") but the journal disagrees", r->role, r->id,
			    kv->key, kv->version, seal_seq);
	}
	return bad;
}

static void race_round(int force_link, int round, struct round_totals *t)
{
	struct store_options opt = { .force_link = force_link };
	struct store_options fopt = { 0 };
	char dir[PATH_MAX];
	struct store_error err = { 0 };
	struct store_seal_info seal;
	struct racer a[A_THREADS], b[B_THREADS];
	struct follower f = { 0 };
	atomic_int stop_a = 0, stop_b = 0, stop_f = 0;
	struct store *sa, *sb, *sc, *sf;
	struct su_state expected, got;
	struct journal_map m;
	struct store_info ib, ic, iF, ia;
	int rc;

	su_path(dir, sizeof(dir), "%s/race-%d-%d", tmp, force_link, round);
	make_dir(dir);
	su_create(dir);
	sa = su_open(dir, &opt);
	sb = su_open(dir, &opt);
	f.stop = &stop_f;
	fopt.on_apply = follower_on_apply;
	fopt.apply_arg = &f;
	sf = su_open(dir, &fopt);
	f.st = sf;
	t->rounds++;

	rc = store_begin_epoch(sa, 1, "host-a", 1, NULL, &err);
	if (rc < 0)
		tap_bail("A: store_begin_epoch: %s (%s)", store_strerror(rc), err.msg);
	pthread_create(&f.tid, NULL, follower_main, &f);
	for (int i = 0; i < A_THREADS; i++) {
		memset(&a[i], 0, sizeof(a[i]));
		a[i].st = sa;
		a[i].role = 'a';
		a[i].id = i;
		a[i].stop = &stop_a;
		su_state_init(&a[i].acked);
		pthread_create(&a[i].tid, NULL, racer_main, &a[i]);
	}
	/* B seals at a different moment of A's stream each round. */
	tu_sleep_ms(5 + (unsigned)(round * 7) % 40);
	memset(&seal, 0, sizeof(seal));
	memset(&err, 0, sizeof(err));
	rc = store_begin_epoch(sb, 2, "host-b", 2, &seal, &err);
	if (rc < 0) {
		t->seal_failed++;
		tap_diag("round %d: B's store_begin_epoch: %s (%s)", round, store_strerror(rc), err.msg);
	}
	for (int i = 0; i < B_THREADS; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].st = sb;
		b[i].role = 'b';
		b[i].id = i;
		b[i].stop = &stop_b;
		su_state_init(&b[i].acked);
		pthread_create(&b[i].tid, NULL, racer_main, &b[i]);
	}
	if (!tu_wait_until(all_a_failed, a, 20000, 5)) {
		t->a_unrefused++;
		tap_diag("round %d: some of A's threads still write 20 s after B's seal", round);
	}
	tu_sleep_ms(30);
	atomic_store(&stop_a, 1);
	atomic_store(&stop_b, 1);
	for (int i = 0; i < A_THREADS; i++)
		pthread_join(a[i].tid, NULL);
	for (int i = 0; i < B_THREADS; i++)
		pthread_join(b[i].tid, NULL);
	atomic_store(&stop_f, 1);
	pthread_join(f.tid, NULL);

	su_state_init(&expected);
	for (int i = 0; i < A_THREADS; i++) {
		t->a_acks += (unsigned)a[i].acked.n;
		t->a_success_after_fail += a[i].success_after_fail;
		t->a_fenced += a[i].fenced;
		if (atomic_load(&a[i].fails) > 0 && a[i].first_error != -STORE_EFENCED &&
		    a[i].first_error != -STORE_EFAILED)
			t->a_first_error_other++;
	}
	for (int i = 0; i < B_THREADS; i++) {
		t->b_acks += (unsigned)b[i].acked.n;
		t->b_errors += atomic_load(&b[i].fails);
	}
	store_info(sa, &ia);
	if (ia.failed)
		t->a_failed_state++;

	/* The journal, read with our own parser, must hold each ack. */
	if (journal_map_load(dir, &m) < 0 || seal.start_seq == 0 || seal.start_seq > m.n ||
	    m.kind[seal.start_seq] != FMT_KIND_SEAL || m.epoch[seal.start_seq] != 2) {
		t->journal_wrong++;
		tap_diag("round %d: no seal of epoch 2 at seq %" PRIu64 " in the journal", round,
		    seal.start_seq);
	} else {
		unsigned bad = 0;
		for (int i = 0; i < A_THREADS; i++)
			bad += check_acks(&a[i], &m, 1, seal.start_seq);
		for (int i = 0; i < B_THREADS; i++)
			bad += check_acks(&b[i], &m, 2, seal.start_seq);
		if (bad)
			t->journal_wrong++;
	}
	journal_map_free(&m);

	for (int i = 0; i < A_THREADS; i++)
		for (size_t j = 0; j < a[i].acked.n; j++) {
			const struct su_kv *kv = &a[i].acked.kv[j];
			su_state_add(&expected, kv->key, kv->key_len, kv->value, kv->value_len, kv->version);
		}
	for (int i = 0; i < B_THREADS; i++)
		for (size_t j = 0; j < b[i].acked.n; j++) {
			const struct su_kv *kv = &b[i].acked.kv[j];
			su_state_add(&expected, kv->key, kv->key_len, kv->value, kv->value_len, kv->version);
		}
	su_state_reduce(&expected);

	sc = su_open(dir, &opt);
	su_state_init(&got);
	su_state_load(sc, &got);
	if (su_state_diff(&got, &expected, "fresh reader") != 0)
		t->state_wrong++;
	su_state_free(&got);
	su_state_init(&got);
	su_state_load(sb, &got);
	if (su_state_diff(&got, &expected, "B") != 0)
		t->state_wrong++;
	su_state_free(&got);

	struct store *pair[2] = { sf, sb };
	if (!tu_wait_until(follower_caught_up, pair, 10000, 5) || f.out_of_order ||
	    f.errors)
		t->follower_wrong++;
	store_info(sb, &ib);
	store_info(sc, &ic);
	store_info(sf, &iF);
	if (ib.digest != ic.digest || ib.digest != iF.digest ||
	    ib.digest != su_state_digest(&expected) || su_store_digest(sf) != ib.digest) {
		t->digest_wrong++;
		tap_diag("round %d: digests B %016" PRIx64 " reader %016" PRIx64 " follower %016" PRIx64
		    " ours %016" PRIx64, round, ib.digest, ic.digest, iF.digest,
		    su_state_digest(&expected));
	}

	su_state_free(&expected);
	for (int i = 0; i < A_THREADS; i++)
		su_state_free(&a[i].acked);
	for (int i = 0; i < B_THREADS; i++)
		su_state_free(&b[i].acked);
	store_end_epoch(sa);
	store_end_epoch(sb);
	store_close(sa);
	store_close(sb);
	store_close(sc);
	store_close(sf);
}

static void test_races(int force_link)
{
	struct round_totals t;
	const char *mode = force_link ? "force_link" : "default commit";

	memset(&t, 0, sizeof(t));
	for (int round = 0; round < RACE_ROUNDS; round++)
		race_round(force_link, round, &t);
	tap_diag("%s: %u rounds, %u writes acknowledged to A, %u to B", mode, t.rounds,
	    t.a_acks, t.b_acks);
	is_int(t.seal_failed, 0, "%s: B's seal succeeded in every round, even with A writing", mode);
	is_int(t.a_unrefused, 0, "%s: each of A's threads was refused after B's seal", mode);
	is_int(t.a_first_error_other, 0, "%s: A's threads were told STORE_EFENCED (or STORE_EFAILED "
	    "after the fence), never another error", mode);
	ok(t.a_fenced > 0, "%s: A's writes got STORE_EFENCED %u times", mode, t.a_fenced);
	is_int(t.a_failed_state, t.rounds, "%s: A was in the failed state at the end of every round", mode);
	is_int(t.a_success_after_fail, 0, "%s: no write of A succeeded after one of its threads was refused", mode);
	is_int(t.b_errors, 0, "%s: B's writes all succeeded", mode);
	is_int(t.journal_wrong, 0, "%s: each acknowledged seq holds that write under its writer's epoch (one writer per seq)", mode);
	is_int(t.state_wrong, 0, "%s: the final state (B's and a fresh reader's) is exactly the acknowledged writes", mode);
	is_int(t.follower_wrong, 0, "%s: the follower caught up in order, never blocked", mode);
	is_int(t.digest_wrong, 0, "%s: B, reader, follower and our digest agree", mode);
	ok(t.a_acks > 0 && t.b_acks > 0, "%s: both writers wrote", mode);
}

int main(void)
{
	tmp = tu_tmpdir("fence");
	test_sequential(0);
	test_sequential(1);
	test_races(0);
	test_races(1);
	return tap_done();
}
