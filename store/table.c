/*
 * table.c: the in-memory state as an AVL tree whose links live in the
 * records themselves, so a key costs one allocation (header, key, value).
 * Heights are bounded (an AVL tree of n nodes is under 1.45 log2(n + 2)
 * high), so insert and delete recurse at most about 93 levels even for
 * 2^64 nodes; iteration keeps its own stack.
 */
#include "table.h"
#include "checksum.h"
#include "fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct table {
	struct record *root;
	size_t count;
	uint64_t digest;
	uint64_t key_bytes;
	uint64_t value_bytes;
};

struct record *record_new(const char *key, size_t key_len, const char *value,
    size_t value_len, uint64_t version)
{
	struct record *r;

	if (key_len > UINT32_MAX || value_len > UINT32_MAX) {
		errno = EOVERFLOW;
		return NULL;
	}
	r = FAULT_ALLOC("store/table/alloc", malloc(sizeof(*r) + key_len + 1 + value_len + 1));
	if (r == NULL)
		return NULL;
	atomic_init(&r->refs, 1u);
	r->key_len = (uint32_t)key_len;
	r->value_len = (uint32_t)value_len;
	r->height = 1;
	r->version = version;
	r->left = r->right = NULL;
	if (key_len > 0)
		memcpy(r->data, key, key_len);
	r->data[key_len] = '\0';
	if (value_len > 0)
		memcpy(r->data + key_len + 1, value, value_len);
	r->data[key_len + 1 + value_len] = '\0';
	r->hash = digest_entry(key, key_len, version, value, value_len);
	return r;
}

void record_ref(struct record *r)
{
	atomic_fetch_add_explicit(&r->refs, 1u, memory_order_relaxed);
}

void record_unref(struct record *r)
{
	if (r == NULL)
		return;
	/* Release so this thread's reads of the record happen before the
	 * free by whichever thread drops the last reference (acquire). */
	if (atomic_fetch_sub_explicit(&r->refs, 1u, memory_order_release) == 1u) {
		atomic_thread_fence(memory_order_acquire);
		free(r);
	}
}

int key_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int table_rec_compare(const char *key, size_t key_len, const struct record *r)
{
	return key_compare(key, key_len, record_key(r), r->key_len);
}

struct table *table_new(void)
{
	return calloc(1, sizeof(struct table));
}

static void table_free_subtree(struct record *r)
{
	/* Unlink as we go so that the loop needs no stack: rotate the left
	 * child up until there is none, then drop the node. */
	while (r != NULL) {
		if (r->left != NULL) {
			struct record *l = r->left;
			r->left = l->right;
			l->right = r;
			r = l;
		} else {
			struct record *next = r->right;
			r->right = NULL;
			record_unref(r);
			r = next;
		}
	}
}

void table_free(struct table *t)
{
	if (t == NULL)
		return;
	table_free_subtree(t->root);
	free(t);
}

struct record *table_get(const struct table *t, const char *key, size_t key_len)
{
	struct record *r = t->root;

	while (r != NULL) {
		int c = table_rec_compare(key, key_len, r);
		if (c == 0)
			return r;
		r = c < 0 ? r->left : r->right;
	}
	return NULL;
}

static int32_t table_height(const struct record *r)
{
	return r != NULL ? r->height : 0;
}

static void table_fix_height(struct record *r)
{
	int32_t hl = table_height(r->left), hr = table_height(r->right);
	r->height = (hl > hr ? hl : hr) + 1;
}

static struct record *table_rotate_right(struct record *r)
{
	struct record *l = r->left;
	r->left = l->right;
	l->right = r;
	table_fix_height(r);
	table_fix_height(l);
	return l;
}

static struct record *table_rotate_left(struct record *r)
{
	struct record *rt = r->right;
	r->right = rt->left;
	rt->left = r;
	table_fix_height(r);
	table_fix_height(rt);
	return rt;
}

/* Restores the AVL balance at r after one of its subtrees changed height by one. */
static struct record *table_rebalance(struct record *r)
{
	int32_t bal = table_height(r->left) - table_height(r->right);

	if (bal > 1) {
		if (table_height(r->left->left) < table_height(r->left->right))
			r->left = table_rotate_left(r->left);
		return table_rotate_right(r);
	}
	if (bal < -1) {
		if (table_height(r->right->right) < table_height(r->right->left))
			r->right = table_rotate_right(r->right);
		return table_rotate_left(r);
	}
	table_fix_height(r);
	return r;
}

static struct record *table_insert(struct record *node, struct record *rec,
    struct record **replaced)
{
	if (node == NULL) {
		rec->left = rec->right = NULL;
		rec->height = 1;
		return rec;
	}
	int c = table_rec_compare(record_key(rec), rec->key_len, node);
	if (c == 0) {
		rec->left = node->left;
		rec->right = node->right;
		rec->height = node->height;
		node->left = node->right = NULL;
		*replaced = node;
		return rec;
	}
	if (c < 0)
		node->left = table_insert(node->left, rec, replaced);
	else
		node->right = table_insert(node->right, rec, replaced);
	if (*replaced != NULL)
		return node;   /* the shape did not change */
	return table_rebalance(node);
}

static void table_account(struct table *t, const struct record *r, int sign)
{
	if (sign > 0) {
		t->count++;
		t->digest += r->hash;
		t->key_bytes += r->key_len;
		t->value_bytes += r->value_len;
	} else {
		t->count--;
		t->digest -= r->hash;
		t->key_bytes -= r->key_len;
		t->value_bytes -= r->value_len;
	}
}

struct record *table_put(struct table *t, struct record *rec)
{
	struct record *replaced = NULL;

	t->root = table_insert(t->root, rec, &replaced);
	if (replaced != NULL)
		table_account(t, replaced, -1);
	table_account(t, rec, +1);
	return replaced;
}

/* Detaches the smallest node of the subtree into *min; returns the new subtree. */
static struct record *table_take_min(struct record *node, struct record **min)
{
	if (node->left == NULL) {
		*min = node;
		return node->right;
	}
	node->left = table_take_min(node->left, min);
	return table_rebalance(node);
}

static struct record *table_remove(struct record *node, const char *key,
    size_t key_len, struct record **removed)
{
	if (node == NULL)
		return NULL;
	int c = table_rec_compare(key, key_len, node);
	if (c < 0)
		node->left = table_remove(node->left, key, key_len, removed);
	else if (c > 0)
		node->right = table_remove(node->right, key, key_len, removed);
	else {
		struct record *repl;
		*removed = node;
		if (node->left == NULL || node->right == NULL)
			repl = node->left != NULL ? node->left : node->right;
		else {
			struct record *rest = table_take_min(node->right, &repl);
			repl->right = rest;
			repl->left = node->left;
			repl = table_rebalance(repl);
		}
		node->left = node->right = NULL;
		return repl;
	}
	if (*removed == NULL)
		return node;
	return table_rebalance(node);
}

struct record *table_del(struct table *t, const char *key, size_t key_len)
{
	struct record *removed = NULL;

	t->root = table_remove(t->root, key, key_len, &removed);
	if (removed != NULL)
		table_account(t, removed, -1);
	return removed;
}

size_t table_count(const struct table *t)
{
	return t->count;
}

uint64_t table_digest(const struct table *t)
{
	return t->digest;
}

uint64_t table_key_bytes(const struct table *t)
{
	return t->key_bytes;
}

uint64_t table_value_bytes(const struct table *t)
{
	return t->value_bytes;
}

/*
 * Perfectly balanced tree of recs[lo, hi): the middle record is the root.
 * Both halves differ in size by at most one, so their heights differ by at
 * most one and every node is AVL-balanced.  Recursion depth is log2(n).
 */
static struct record *table_build(struct record **recs, size_t lo, size_t hi)
{
	if (lo >= hi)
		return NULL;
	size_t mid = lo + (hi - lo) / 2;
	struct record *r = recs[mid];
	r->left = table_build(recs, lo, mid);
	r->right = table_build(recs, mid + 1, hi);
	table_fix_height(r);
	return r;
}

int table_load_sorted(struct table *t, struct record **recs, size_t n)
{
	if (t->root != NULL)
		return -EINVAL;
	for (size_t i = 1; i < n; i++)
		if (key_compare(record_key(recs[i - 1]), recs[i - 1]->key_len,
		    record_key(recs[i]), recs[i]->key_len) >= 0)
			return -EINVAL;
	t->root = table_build(recs, 0, n);
	for (size_t i = 0; i < n; i++)
		table_account(t, recs[i], +1);
	return 0;
}

void table_iter_seek(struct table_iter *it, const struct table *t,
    const char *start, size_t start_len)
{
	struct record *r = t->root;

	it->depth = 0;
	/* Keep on the stack exactly the nodes >= start on the search path:
	 * each is the next one after everything in its left part. */
	while (r != NULL) {
		if (start == NULL || table_rec_compare(start, start_len, r) <= 0) {
			it->stack[it->depth++] = r;
			r = r->left;
		} else
			r = r->right;
	}
}

struct record *table_iter_next(struct table_iter *it)
{
	if (it->depth == 0)
		return NULL;
	struct record *r = it->stack[--it->depth];
	for (struct record *n = r->right; n != NULL; n = n->left)
		it->stack[it->depth++] = n;
	return r;
}

int table_cut(const struct table *t, struct record ***out, size_t *n)
{
	struct record **recs = malloc((t->count > 0 ? t->count : 1) * sizeof(*recs));
	struct table_iter it;
	struct record *r;
	size_t i = 0;

	if (recs == NULL)
		return -ENOMEM;
	table_iter_seek(&it, t, NULL, 0);
	while ((r = table_iter_next(&it)) != NULL) {
		record_ref(r);
		recs[i++] = r;
	}
	*out = recs;
	*n = i;
	return 0;
}

void table_cut_free(struct record **recs, size_t n)
{
	if (recs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		record_unref(recs[i]);
	free(recs);
}
