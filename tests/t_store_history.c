/*
 * t_store_history.c: store_history_read gives back exactly the operations
 * in (from, to], in order, with their kind, key, value and epoch, across
 * batches and epochs (seals included), and says -STORE_EGAP when the
 * journal no longer holds from + 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"
#include "testutil.h"

struct seen {
	uint64_t seq[64];
	int kind[64];
	uint64_t epoch[64];
	char key[64][32];
	char value[64][32];
	int n;
};

static void collect(void *arg, const struct store_applied *op)
{
	struct seen *s = arg;

	if (s->n == 64)
		return;
	s->seq[s->n] = op->seq;
	s->kind[s->n] = op->kind;
	s->epoch[s->n] = op->epoch;
	snprintf(s->key[s->n], sizeof(s->key[0]), "%.*s", (int)op->key_len, op->key);
	snprintf(s->value[s->n], sizeof(s->value[0]), "%.*s", (int)op->value_len,
	    op->value ? op->value : "");
	s->n++;
}

int main(void)
{
	const char *tmp = tu_tmpdir("hist");
	char dir[4096], path[4200];
	struct store_create_params cp = { "g-hist", 1 };
	struct store_options opt;
	struct store_seal_info seal;
	struct store_error err;
	struct store *st = NULL;
	struct seen s;
	uint64_t v;
	long long n;

	snprintf(dir, sizeof(dir), "%s/store", tmp);
	if (store_create(dir, &cp, &err) < 0)
		tap_bail("store_create: %s", err.msg);
	memset(&opt, 0, sizeof(opt));
	if (store_open(dir, &opt, &st, &err) < 0)
		tap_bail("store_open: %s", err.msg);
	/* seq 1 seal (epoch 1), 2..6 puts, 7 del, 8 seal (epoch 2), 9..10 puts */
	if (store_begin_epoch(st, 1, "hostA", 1, &seal, &err) < 0)
		tap_bail("begin 1: %s", err.msg);
	for (int i = 0; i < 5; i++) {
		char key[16], val[16];
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "%d", i);
		store_put(st, key, val, STORE_ANY_VERSION, &v, &err);
	}
	store_del(st, "k0", STORE_ANY_VERSION, &v, &err);
	store_end_epoch(st);
	if (store_begin_epoch(st, 2, "hostB", 2, &seal, &err) < 0)
		tap_bail("begin 2: %s", err.msg);
	store_put(st, "k9", "\"nine\"", STORE_ANY_VERSION, &v, &err);
	store_put(st, "k10", "[10]", STORE_ANY_VERSION, &v, &err);
	is_int(v, 10, "ten operations written");

	memset(&s, 0, sizeof(s));
	n = store_history_read(st, 0, 10, collect, &s, &err);
	is_int(n, 10, "from 0 to 10: ten operations: %s", n < 0 ? err.msg : "");
	int in_order = s.n == 10;
	for (int i = 0; i < s.n; i++)
		in_order = in_order && s.seq[i] == (uint64_t)i + 1;
	ok(in_order, "in sequence order, 1..10");
	is_int(s.kind[0], STORE_OP_SEAL, "seq 1 is the first seal");
	is_str(s.key[0], "hostA", "... by hostA");
	is_int(s.kind[2], STORE_OP_PUT, "seq 3 is a put");
	is_str(s.key[2], "k1", "... of k1");
	is_str(s.value[2], "1", "... with its value");
	is_int(s.kind[6], STORE_OP_DEL, "seq 7 is the delete");
	is_int(s.kind[7], STORE_OP_SEAL, "seq 8 is the second seal");
	is_int(s.epoch[8], 2, "seq 9 carries epoch 2");
	is_str(s.value[9], "[10]", "seq 10's value");

	memset(&s, 0, sizeof(s));
	n = store_history_read(st, 4, 8, collect, &s, &err);
	is_int(n, 4, "from 4 to 8: four operations");
	ok(s.n == 4 && s.seq[0] == 5 && s.seq[3] == 8, "... seqs 5..8");

	memset(&s, 0, sizeof(s));
	is_int(store_history_read(st, 10, 10, collect, &s, &err), 0, "an empty range passes nothing");

	/* The journal no longer holding from + 1. */
	char name[64];
	snprintf(name, sizeof(name), "%020d", 1);
	snprintf(path, sizeof(path), "%s/journal/%s", dir, name);
	if (access(path, F_OK) != 0)
		tap_diag("journal file %s not found: names differ", path);
	ok(unlink(path) == 0, "journal file of seq 1 removed");
	n = store_history_read(st, 0, 10, collect, &s, &err);
	is_int(n, -STORE_EGAP, "from 0 once the first file is gone: -STORE_EGAP");
	ok(strstr(err.msg, "journal") != NULL, "... naming the journal: %s", err.msg);

	store_end_epoch(st);
	store_close(st);
	return tap_done();
}
