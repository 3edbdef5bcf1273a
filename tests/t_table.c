/*
 * t_table: the AVL table against a sorted array doing the same operations,
 * with the tree's invariants (heights, balance, order, count) checked by
 * walking the records' links; seek at every kind of position; building from
 * a sorted array; and cuts that keep their records readable while the table
 * changes.  Run under AddressSanitizer this also proves there are no leaks
 * or uses after free in the reference counting.
 */
#include "table.h"
#include "checksum.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static struct record *mkrec(const char *key, const char *value, uint64_t version)
{
	struct record *r = record_new(key, strlen(key), value, strlen(value), version);
	if (r == NULL)
		tap_bail("out of memory");
	return r;
}

/* ---- invariants, by walking the links ------------------------------------ */

struct walk {
	const struct record *prev;
	size_t nodes;
	int errors;
	int32_t max_height;
};

static int32_t walk_node(const struct record *r, const struct record *parent,
    struct walk *w, int depth)
{
	if (r == NULL)
		return 0;
	if (depth > 100) {
		w->errors++;
		return 0;
	}
	if (r->parent != parent) {
		if (w->errors++ < 5)
			tap_diag("key '%s': parent link is wrong", record_key(r));
	}
	int32_t hl = walk_node(r->left, r, w, depth + 1);
	if (w->prev != NULL && key_compare(record_key(w->prev), w->prev->key_len,
	    record_key(r), r->key_len) >= 0) {
		if (w->errors++ < 5)
			tap_diag("order broken at key '%s'", record_key(r));
	}
	w->prev = r;
	w->nodes++;
	int32_t hr = walk_node(r->right, r, w, depth + 1);
	int32_t h = (hl > hr ? hl : hr) + 1;
	if (r->height != h) {
		if (w->errors++ < 5)
			tap_diag("key '%s': height %d, subtrees say %d", record_key(r), r->height, h);
	}
	if (hl - hr > 1 || hr - hl > 1) {
		if (w->errors++ < 5)
			tap_diag("key '%s': unbalanced (%d vs %d)", record_key(r), hl, hr);
	}
	return h;
}

/* The root is the one record whose height is above all others'. */
static const struct record *find_root(const struct table *t)
{
	struct table_iter it;
	struct record *r, *root = NULL;

	table_iter_seek(&it, t, NULL, 0);
	while ((r = table_iter_next(&it)) != NULL)
		if (root == NULL || r->height > root->height)
			root = r;
	return root;
}

/* 0 when the table is a valid AVL tree holding table_count() records, each
 * linked to its parent. */
static int avl_check(const struct table *t, int32_t *height)
{
	struct walk w = { NULL, 0, 0, 0 };
	int32_t h = walk_node(find_root(t), NULL, &w, 0);
	if (w.nodes != table_count(t)) {
		tap_diag("walk found %zu records, count says %zu", w.nodes, table_count(t));
		w.errors++;
	}
	if (height != NULL)
		*height = h;
	return w.errors;
}

/* ---- the reference: a sorted array --------------------------------------- */

struct ref_entry {
	char key[8];
	size_t key_len;
	uint64_t version;
	char value[48];
	size_t value_len;
};

struct ref {
	struct ref_entry *e;
	size_t n, cap;
};

/* Index of the first entry >= key. */
static size_t ref_lower(const struct ref *rf, const char *key, size_t len)
{
	size_t lo = 0, hi = rf->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_compare(rf->e[mid].key, rf->e[mid].key_len, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int ref_found(const struct ref *rf, size_t i, const char *key, size_t len)
{
	return i < rf->n && key_compare(rf->e[i].key, rf->e[i].key_len, key, len) == 0;
}

static void ref_put(struct ref *rf, const char *key, size_t len, const char *value,
    uint64_t version)
{
	size_t i = ref_lower(rf, key, len);
	if (!ref_found(rf, i, key, len)) {
		if (rf->n == rf->cap) {
			rf->cap = rf->cap ? rf->cap * 2 : 64;
			rf->e = realloc(rf->e, rf->cap * sizeof(*rf->e));
			if (rf->e == NULL)
				tap_bail("out of memory");
		}
		memmove(rf->e + i + 1, rf->e + i, (rf->n - i) * sizeof(*rf->e));
		rf->n++;
		memcpy(rf->e[i].key, key, len);
		rf->e[i].key[len] = '\0';
		rf->e[i].key_len = len;
	}
	rf->e[i].version = version;
	rf->e[i].value_len = strlen(value);
	memcpy(rf->e[i].value, value, rf->e[i].value_len + 1);
}

static int ref_del(struct ref *rf, const char *key, size_t len)
{
	size_t i = ref_lower(rf, key, len);
	if (!ref_found(rf, i, key, len))
		return 0;
	memmove(rf->e + i, rf->e + i + 1, (rf->n - i - 1) * sizeof(*rf->e));
	rf->n--;
	return 1;
}

static int same_entry(const struct record *r, const struct ref_entry *e)
{
	return r->key_len == e->key_len && memcmp(record_key(r), e->key, e->key_len) == 0 &&
	    record_key(r)[r->key_len] == '\0' &&
	    r->value_len == e->value_len && memcmp(record_value(r), e->value, e->value_len) == 0 &&
	    record_value(r)[r->value_len] == '\0' && r->version == e->version;
}

/* Compares everything observable; returns the number of differences. */
static int compare_with_ref(const struct table *t, const struct ref *rf)
{
	int bad = 0;
	uint64_t digest = 0, kb = 0, vb = 0;
	struct table_iter it;
	struct record *r;
	size_t i = 0;

	for (size_t k = 0; k < rf->n; k++) {
		digest += digest_entry(rf->e[k].key, rf->e[k].key_len, rf->e[k].version,
		    rf->e[k].value, rf->e[k].value_len);
		kb += rf->e[k].key_len;
		vb += rf->e[k].value_len;
	}
	if (table_count(t) != rf->n || table_digest(t) != digest ||
	    table_key_bytes(t) != kb || table_value_bytes(t) != vb) {
		tap_diag("count %zu/%zu digest %016llx/%016llx bytes %llu+%llu/%llu+%llu",
		    table_count(t), rf->n, (unsigned long long)table_digest(t),
		    (unsigned long long)digest, (unsigned long long)table_key_bytes(t),
		    (unsigned long long)table_value_bytes(t), (unsigned long long)kb,
		    (unsigned long long)vb);
		bad++;
	}
	table_iter_seek(&it, t, NULL, 0);
	while ((r = table_iter_next(&it)) != NULL) {
		if (i >= rf->n || !same_entry(r, &rf->e[i]))
			bad++;
		i++;
	}
	if (i != rf->n)
		bad++;
	return bad;
}

static const char key_alphabet[] = "ab\x01\xff";

static size_t random_key(char *key)
{
	size_t len = 1 + rng_next() % 5;
	for (size_t i = 0; i < len; i++)
		key[i] = key_alphabet[rng_next() % (sizeof(key_alphabet) - 1)];
	key[len] = '\0';
	return len;
}

static void check_random_ops(void)
{
	struct table *t = table_new();
	struct ref rf = { NULL, 0, 0 };
	int get_bad = 0, put_bad = 0, del_bad = 0, state_bad = 0, avl_bad = 0, seek_bad = 0;
	uint64_t version = 0;
	const int ops = 100000, batch = 1000;

	if (t == NULL)
		tap_bail("table_new failed");
	for (int op = 1; op <= ops; op++) {
		char key[8];
		size_t len = random_key(key);
		unsigned kind = (unsigned)(rng_next() % 10);

		if (kind < 5) {
			char value[40];
			size_t vlen = rng_next() % 30;
			for (size_t i = 0; i < vlen; i++)
				value[i] = (char)('0' + rng_next() % 10);
			value[vlen] = '\0';
			int existed = ref_found(&rf, ref_lower(&rf, key, len), key, len);
			struct record *old = table_put(t, record_new(key, len, value, vlen, ++version));
			if ((old != NULL) != existed ||
			    (old != NULL && (old->left != NULL || old->right != NULL)))
				put_bad++;
			record_unref(old);
			ref_put(&rf, key, len, value, version);
		} else if (kind < 8) {
			struct record *gone = table_del(t, key, len);
			int existed = ref_del(&rf, key, len);
			if ((gone != NULL) != existed ||
			    (gone != NULL && key_compare(record_key(gone), gone->key_len, key, len) != 0))
				del_bad++;
			record_unref(gone);
		} else {
			struct record *r = table_get(t, key, len);
			size_t i = ref_lower(&rf, key, len);
			if (ref_found(&rf, i, key, len) ? r == NULL || !same_entry(r, &rf.e[i]) : r != NULL)
				get_bad++;
		}
		if (op % batch == 0) {
			state_bad += compare_with_ref(t, &rf) != 0;
			avl_bad += avl_check(t, NULL) != 0;
			for (int s = 0; s < 20; s++) {
				struct table_iter it;
				char start[8];
				size_t slen = rng_next() % 4 == 0 ? 0 : random_key(start);
				table_iter_seek(&it, t, slen ? start : NULL, slen);
				for (size_t i = slen ? ref_lower(&rf, start, slen) : 0; ; i++) {
					struct record *r = table_iter_next(&it);
					if (i == rf.n) {
						seek_bad += r != NULL;
						break;
					}
					if (r == NULL || !same_entry(r, &rf.e[i])) {
						seek_bad++;
						break;
					}
				}
			}
		}
	}
	is_int(put_bad, 0, "put returns the replaced record exactly when the key existed");
	is_int(del_bad, 0, "del returns the removed record exactly when the key existed");
	is_int(get_bad, 0, "get agrees with the reference");
	is_int(state_bad, 0, "count, digest, key and value bytes and in-order contents agree after each of %d batches", ops / batch);
	is_int(avl_bad, 0, "AVL invariants hold after each batch");
	is_int(seek_bad, 0, "seek from random starts iterates what the reference has from its lower bound");
	tap_diag("random ops: %zu keys at the end, %llu versions", rf.n, (unsigned long long)version);

	/* Empty it completely, checking the shape as it shrinks. */
	int drain_bad = 0;
	while (rf.n > 0) {
		size_t i = rng_next() % rf.n;
		char key[8];
		size_t len = rf.e[i].key_len;
		memcpy(key, rf.e[i].key, len);
		struct record *gone = table_del(t, key, len);
		ref_del(&rf, key, len);
		if (gone == NULL)
			drain_bad++;
		record_unref(gone);
		if (rf.n % 97 == 0 && (avl_check(t, NULL) != 0 || compare_with_ref(t, &rf) != 0))
			drain_bad++;
	}
	is_int(drain_bad, 0, "deleting every key in random order keeps the tree valid");
	ok(table_count(t) == 0 && table_digest(t) == 0 && table_key_bytes(t) == 0 &&
	    table_value_bytes(t) == 0, "the empty table has digest 0 and no bytes");
	ok(table_del(t, "a", 1) == NULL && table_get(t, "a", 1) == NULL, "get and del on the empty table");
	table_free(t);
	free(rf.e);
}

static void check_sequential_height(void)
{
	struct table *t = table_new();
	char key[16];
	int32_t h;
	const int n = 100000;

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%08d", i);
		record_unref(table_put(t, mkrec(key, "1", (uint64_t)i + 1)));
	}
	is_int(avl_check(t, &h), 0, "ascending inserts of %d keys: valid AVL tree", n);
	/* An AVL tree of n nodes is under 1.4405 log2(n + 2) - 0.3277 high. */
	ok(h <= 24, "its height %d is within the AVL bound (24 for 100000 keys)", h);
	for (int i = n - 1; i >= 0; i -= 2) {
		snprintf(key, sizeof(key), "%08d", i);
		record_unref(table_del(t, key, strlen(key)));
	}
	is_int(avl_check(t, &h), 0, "after deleting every other key from the top: valid");
	is_int(table_count(t), n / 2, "half the keys left");
	table_free(t);
}

/* Keys with bytes such as 0xFF, written as \xff so the TAP output stays text. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t p = 0;
	for (; *s != '\0' && p + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f)
			buf[p++] = (char)c;
		else
			p += (size_t)snprintf(buf + p, len - p, "\\x%02x", c);
	}
	buf[p] = '\0';
	return buf;
}

static void check_seek(void)
{
	static const char *const keys[] = { "a", "ab", "abc", "b", "ba", "c", "c\xff" };
	const size_t nkeys = sizeof(keys) / sizeof(keys[0]);
	struct table *t = table_new();
	struct table_iter it;
	struct record *r;

	table_iter_seek(&it, t, NULL, 0);
	ok(table_iter_next(&it) == NULL, "iterating an empty table ends at once");
	table_iter_seek(&it, t, "a", 1);
	ok(table_iter_next(&it) == NULL, "seeking in an empty table ends at once");

	for (size_t i = nkeys; i-- > 0;)
		record_unref(table_put(t, mkrec(keys[i], "0", 1)));

	static const struct {
		const char *start;
		size_t len;
		const char *first;   /* NULL: nothing */
	} seeks[] = {
		{ NULL, 0, "a" },
		{ "", 0, "a" },
		{ "\x01", 1, "a" },
		{ "a", 1, "a" },
		{ "a\x01", 2, "ab" },
		{ "aa", 2, "ab" },
		{ "ab", 2, "ab" },
		{ "abc", 3, "abc" },
		{ "abca", 4, "b" },
		{ "abd", 3, "b" },
		{ "b", 1, "b" },
		{ "bz", 2, "c" },
		{ "c", 1, "c" },
		{ "c\x01", 2, "c\xff" },
		{ "c\xff", 2, "c\xff" },
		{ "c\xff\x01", 3, NULL },
		{ "d", 1, NULL },
		{ "\xff", 1, NULL },
	};
	for (size_t i = 0; i < sizeof(seeks) / sizeof(seeks[0]); i++) {
		table_iter_seek(&it, t, seeks[i].start, seeks[i].len);
		r = table_iter_next(&it);
		if (seeks[i].first == NULL)
			ok(r == NULL, "seek %zu: past the last key gives nothing", i);
		else {
			char want[32], got[32];
			ok(r != NULL && strcmp(record_key(r), seeks[i].first) == 0,
			    "seek %zu: first record is '%s' (got '%s')", i,
			    printable(seeks[i].first, want, sizeof(want)),
			    r ? printable(record_key(r), got, sizeof(got)) : "(none)");
		}
	}

	size_t n = 0;
	int order_ok = 1;
	table_iter_seek(&it, t, "ab", 2);
	while ((r = table_iter_next(&it)) != NULL) {
		order_ok &= strcmp(record_key(r), keys[1 + n]) == 0;
		n++;
	}
	ok(order_ok && n == nkeys - 1, "from 'ab' the rest come in order");

	ok(key_compare("a", 1, "ab", 2) < 0 && key_compare("ab", 2, "a", 1) > 0,
	    "a prefix sorts first");
	ok(key_compare("ab", 2, "a\xff", 2) < 0, "bytes compare unsigned");
	ok(key_compare("a", 1, "a", 1) == 0 && key_compare("", 0, "", 0) == 0, "equal keys compare 0");
	ok(key_compare("", 0, "a", 1) < 0, "the empty key sorts first");
	table_free(t);
}

static void check_records(void)
{
	struct record *r = record_new("key", 3, "{\"v\":1}", 7, 42);

	ok(r != NULL, "record_new");
	is_str(record_key(r), "key", "record key, NUL-terminated");
	is_str(record_value(r), "{\"v\":1}", "record value, NUL-terminated");
	ok(r->key_len == 3 && r->value_len == 7 && r->version == 42, "record lengths and version");
	is_int(r->hash, digest_entry("key", 3, 42, "{\"v\":1}", 7), "record hash is digest_entry");
	is_int(atomic_load(&r->refs), 1, "a new record has one reference");
	record_ref(r);
	is_int(atomic_load(&r->refs), 2, "record_ref adds one");
	record_unref(r);
	is_int(atomic_load(&r->refs), 1, "record_unref takes one");
	record_unref(r);
	record_unref(NULL);

	struct record *empty = record_new("k", 1, NULL, 0, 1);
	ok(empty != NULL && record_value(empty)[0] == '\0' && empty->value_len == 0,
	    "a record with an empty value");
	record_unref(empty);
}

static struct record **sorted_records(size_t n)
{
	struct record **recs = malloc((n ? n : 1) * sizeof(*recs));
	char key[32], value[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%07zu", i * 3);
		snprintf(value, sizeof(value), "[%zu]", i);
		recs[i] = mkrec(key, value, i + 1);
	}
	return recs;
}

static int32_t floor_log2_plus1(size_t n)
{
	int32_t h = 0;
	while (n > 0) {
		h++;
		n >>= 1;
	}
	return h;
}

static void check_load_sorted(void)
{
	int bad = 0;

	for (size_t n = 0; n <= 300; n++) {
		struct table *t = table_new();
		struct record **recs = sorted_records(n);
		uint64_t digest = 0, vb = 0;
		int32_t h;

		for (size_t i = 0; i < n; i++) {
			digest += recs[i]->hash;
			vb += recs[i]->value_len;
		}
		if (table_load_sorted(t, recs, n) != 0 || avl_check(t, &h) != 0 ||
		    h != floor_log2_plus1(n) || table_count(t) != n ||
		    table_digest(t) != digest || table_key_bytes(t) != n * 8 ||
		    table_value_bytes(t) != vb)
			bad++;
		/* And it stays a working AVL tree afterwards. */
		record_unref(table_put(t, mkrec("k0000001", "1", 9)));
		record_unref(table_del(t, "k0000000", 8));
		if (avl_check(t, NULL) != 0)
			bad++;
		free(recs);
		table_free(t);
	}
	is_int(bad, 0, "load_sorted of 0..300 records: minimal height, counts, digest, bytes");

	const size_t big = 1u << 20;
	struct record **recs = sorted_records(big - 1);
	struct table *t = table_new();
	int32_t h = 0;
	is_int(table_load_sorted(t, recs, big - 1), 0, "load_sorted of 2^20 - 1 records");
	int avl_errors = avl_check(t, &h);
	ok(avl_errors == 0 && h == 20, "a perfect tree of height 20 (got %d)", h);
	struct table_iter it;
	table_iter_seek(&it, t, "k0000004", 8);
	struct record *r = table_iter_next(&it);
	ok(r != NULL && strcmp(record_key(r), "k0000006") == 0, "seek in a loaded table");
	/* Every key is found through the index the load built, and keys put
	 * in place of others keep the tree whole. */
	int missed = 0, wrong = 0;
	for (size_t i = 0; i < big - 1; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%07zu", i * 3);
		if (table_get(t, key, 8) != recs[i])
			missed++;
		snprintf(key, sizeof(key), "k%07zu", i * 3 + 1);
		if (i % 4096 == 0 && table_get(t, key, 8) != NULL)
			wrong++;
	}
	is_int(missed + wrong, 0, "every loaded key found, absent keys not");
	for (size_t i = 0; i < big - 1; i += 997) {
		char key[32];
		snprintf(key, sizeof(key), "k%07zu", i * 3);
		struct record *nr = mkrec(key, "\"new\"", 2 * big + i);
		struct record *old = table_put(t, nr);
		if (old != recs[i] || table_get(t, key, 8) != nr || old->parent != NULL ||
		    old->left != NULL || old->right != NULL)
			wrong++;
		record_unref(old);
	}
	ok(wrong == 0 && avl_check(t, NULL) == 0 && table_count(t) == big - 1,
	    "1052 keys replaced in a loaded table: the new records in their place");
	free(recs);
	table_free(t);

	recs = sorted_records(10);
	struct record *tmp = recs[3];
	recs[3] = recs[4];
	recs[4] = tmp;
	t = table_new();
	is_int(table_load_sorted(t, recs, 10), -EINVAL, "load_sorted refuses records out of order");
	is_int(table_count(t), 0, "and takes none of them");
	recs[4] = recs[3];
	record_ref(recs[4]);
	record_unref(tmp);
	is_int(table_load_sorted(t, recs, 10), -EINVAL, "load_sorted refuses a duplicate key");
	is_int(table_count(t), 0, "and takes none of them");
	for (size_t i = 0; i < 10; i++)
		record_unref(recs[i]);
	free(recs);

	recs = sorted_records(3);
	record_unref(table_put(t, mkrec("z", "0", 1)));
	is_int(table_load_sorted(t, recs, 3), -EINVAL, "load_sorted refuses a table that is not empty");
	for (size_t i = 0; i < 3; i++)
		record_unref(recs[i]);
	free(recs);
	table_free(t);
}

static void check_cut(void)
{
	struct table *t = table_new();
	const size_t n = 2000;
	char key[32], value[32];
	struct record **cut = NULL;
	size_t cut_n = 0;

	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key%05zu", (i * 7919) % n);
		snprintf(value, sizeof(value), "\"old %zu\"", (i * 7919) % n);
		record_unref(table_put(t, mkrec(key, value, i + 1)));
	}
	uint64_t digest_before = table_digest(t);
	is_int(table_cut(t, &cut, &cut_n), 0, "table_cut");
	is_int(cut_n, n, "the cut has every record");

	int order_ok = 1, refs_ok = 1;
	for (size_t i = 0; i < cut_n; i++) {
		snprintf(key, sizeof(key), "key%05zu", i);
		order_ok &= strcmp(record_key(cut[i]), key) == 0;
		refs_ok &= atomic_load(&cut[i]->refs) == 2;
	}
	ok(order_ok, "the cut is in key order");
	ok(refs_ok, "each record is held by the table and the cut");

	/* Writers go on: replace the even keys, delete the odd ones. */
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "key%05zu", i);
		if (i % 2 == 0)
			record_unref(table_put(t, mkrec(key, "\"new\"", n + i + 1)));
		else
			record_unref(table_del(t, key, strlen(key)));
	}
	is_int(table_count(t), n / 2, "the table changed underneath");

	int intact = 1;
	uint64_t digest = 0;
	for (size_t i = 0; i < cut_n; i++) {
		snprintf(key, sizeof(key), "key%05zu", i);
		snprintf(value, sizeof(value), "\"old %zu\"", i);
		intact &= strcmp(record_key(cut[i]), key) == 0 &&
		    strcmp(record_value(cut[i]), value) == 0 &&
		    atomic_load(&cut[i]->refs) == 1;
		digest += cut[i]->hash;
	}
	ok(intact, "the cut's records are unchanged and now held only by the cut");
	is_int(digest, digest_before, "the cut still sums to the digest at the time it was taken");
	table_cut_free(cut, cut_n);

	struct table *empty = table_new();
	is_int(table_cut(empty, &cut, &cut_n), 0, "cut of an empty table");
	is_int(cut_n, 0, "has no records");
	table_cut_free(cut, cut_n);
	table_free(empty);
	table_free(t);
}

int main(void)
{
	check_records();
	check_seek();
	check_random_ops();
	check_sequential_height();
	check_load_sorted();
	check_cut();
	return tap_done();
}
