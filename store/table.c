/*
 * table.c: the in-memory state as an AVL tree whose links live in the
 * records themselves, so a key costs one allocation (header, key, value).
 * Heights are bounded (an AVL tree of n nodes is under 1.45 log2(n + 2)
 * high), so insert and delete recurse at most about 93 levels even for
 * 2^64 nodes; iteration keeps its own stack.  A hash index beside the
 * tree finds a key in O(1) for get, put and del (table.h says why).
 */
#include "table.h"
#include "checksum.h"
#include "fault.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Seeds the index's hash of a key; not part of any format. */
#define TABLE_KEY_SEED 0x9e3779b97f4a7c15ull
#define TABLE_INDEX_MIN_SLOTS 64

struct table_slot {
	uint64_t key_hash;
	struct record *rec;          /* NULL: an empty slot */
};

struct table {
	struct record *root;
	size_t count;
	uint64_t digest;
	uint64_t key_bytes;
	uint64_t value_bytes;
	/*
	 * The index: open addressing with linear probing, kept at most half
	 * full, so a lookup reads one or two slots and one record.  If it
	 * cannot grow (no memory) it is dropped and lookups walk the tree
	 * until a put, once the table has doubled, manages to build it again:
	 * the index only ever makes the table faster, never fail.
	 */
	struct table_slot *slots;
	size_t slot_mask;            /* number of slots - 1 */
	size_t index_retry_count;    /* without an index: when to try again */
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
	r->left = r->right = r->parent = NULL;
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

uint64_t table_key_hash(const char *key, size_t key_len)
{
	return hash64(key, key_len, TABLE_KEY_SEED);
}

/* The slot that holds key, or SIZE_MAX.  The index must exist. */
static size_t index_find(const struct table *t, const char *key, size_t key_len,
    uint64_t h)
{
	for (size_t i = h & t->slot_mask; t->slots[i].rec != NULL; i = (i + 1) & t->slot_mask) {
		const struct record *r = t->slots[i].rec;
		if (t->slots[i].key_hash == h && r->key_len == key_len &&
		    (key_len == 0 || memcmp(record_key(r), key, key_len) == 0))
			return i;
	}
	return SIZE_MAX;
}

static void index_place(struct table_slot *slots, size_t mask, uint64_t h,
    struct record *r)
{
	size_t i = h & mask;

	while (slots[i].rec != NULL)
		i = (i + 1) & mask;
	slots[i].key_hash = h;
	slots[i].rec = r;
}

/*
 * Empties slot i.  Later slots of the same probe run move back into the
 * hole when their home slot allows it, so that no lookup stops early at
 * an empty slot (no tombstones to clean up later).
 */
static void index_remove_at(struct table *t, size_t i)
{
	size_t mask = t->slot_mask, j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (t->slots[j].rec == NULL)
			break;
		size_t home = t->slots[j].key_hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].rec = NULL;
	t->slots[i].key_hash = 0;
}

/* Builds an index for want_count keys from the old index or the tree. */
static void index_rebuild(struct table *t, size_t want_count)
{
	size_t n = TABLE_INDEX_MIN_SLOTS;
	struct table_slot *slots;

	while (n / 2 < want_count && n < SIZE_MAX / 4 / sizeof(*slots))
		n *= 2;
	slots = FAULT_ALLOC("store/table/index", calloc(n, sizeof(*slots)));
	if (slots == NULL) {
		free(t->slots);
		t->slots = NULL;
		t->slot_mask = 0;
		t->index_retry_count = want_count * 2;
		return;
	}
	if (t->slots != NULL) {
		for (size_t i = 0; i <= t->slot_mask; i++)
			if (t->slots[i].rec != NULL)
				index_place(slots, n - 1, t->slots[i].key_hash, t->slots[i].rec);
		free(t->slots);
	} else {
		struct table_iter it;
		struct record *r;

		table_iter_seek(&it, t, NULL, 0);
		while ((r = table_iter_next(&it)) != NULL)
			index_place(slots, n - 1, table_key_hash(record_key(r), r->key_len), r);
	}
	t->slots = slots;
	t->slot_mask = n - 1;
}

/* Room in the index for one more key (or no index at all). */
static void index_reserve_one(struct table *t)
{
	if (t->slots != NULL) {
		if ((t->count + 1) * 2 > t->slot_mask + 1)
			index_rebuild(t, t->count + 1);
	} else if (t->count + 1 >= t->index_retry_count) {
		index_rebuild(t, t->count + 1);
	}
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
	free(t->slots);
	free(t);
}

static struct record *table_walk(const struct table *t, const char *key, size_t key_len)
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

struct record *table_get_hashed(const struct table *t, const char *key,
    size_t key_len, uint64_t key_hash)
{
	size_t i;

	if (t->slots == NULL)
		return table_walk(t, key, key_len);
	i = index_find(t, key, key_len, key_hash);
	return i != SIZE_MAX ? t->slots[i].rec : NULL;
}

struct record *table_get(const struct table *t, const char *key, size_t key_len)
{
	return table_get_hashed(t, key, key_len, t->slots != NULL ? table_key_hash(key, key_len) : 0);
}

void table_prefetch_slot(const struct table *t, uint64_t key_hash)
{
	if (t->slots != NULL)
		__builtin_prefetch(&t->slots[key_hash & t->slot_mask]);
}

void table_prefetch_record(const struct table *t, uint64_t key_hash)
{
	const struct table_slot *slot;

	if (t->slots == NULL)
		return;
	slot = &t->slots[key_hash & t->slot_mask];
	if (slot->rec != NULL && slot->key_hash == key_hash) {
		/* The header, and the key that follows it (compared next). */
		__builtin_prefetch(slot->rec);
		__builtin_prefetch(slot->rec->data);
	}
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

/*
 * The rotations keep the parent links inside the subtree and give its new
 * root the old root's parent.  Whoever stores the returned subtree sets
 * its parent again, which also mends a parent that was stale on the way.
 */
static struct record *table_rotate_right(struct record *r)
{
	struct record *l = r->left;
	r->left = l->right;
	if (r->left != NULL)
		r->left->parent = r;
	l->right = r;
	l->parent = r->parent;
	r->parent = l;
	table_fix_height(r);
	table_fix_height(l);
	return l;
}

static struct record *table_rotate_left(struct record *r)
{
	struct record *rt = r->right;
	r->right = rt->left;
	if (r->right != NULL)
		r->right->parent = r;
	rt->left = r;
	rt->parent = r->parent;
	r->parent = rt;
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

/* Inserts rec, whose key the subtree does not hold. */
static struct record *table_insert(struct record *node, struct record *rec)
{
	if (node == NULL) {
		rec->left = rec->right = rec->parent = NULL;
		rec->height = 1;
		return rec;
	}
	if (table_rec_compare(record_key(rec), rec->key_len, node) < 0) {
		node->left = table_insert(node->left, rec);
		node->left->parent = node;
	} else {
		node->right = table_insert(node->right, rec);
		node->right->parent = node;
	}
	return table_rebalance(node);
}

/* rec takes old's place in the tree: same links, same shape. */
static void table_replace_node(struct table *t, struct record *old, struct record *rec)
{
	rec->left = old->left;
	rec->right = old->right;
	rec->parent = old->parent;
	rec->height = old->height;
	if (rec->left != NULL)
		rec->left->parent = rec;
	if (rec->right != NULL)
		rec->right->parent = rec;
	if (rec->parent == NULL)
		t->root = rec;
	else if (rec->parent->left == old)
		rec->parent->left = rec;
	else
		rec->parent->right = rec;
	old->left = old->right = old->parent = NULL;
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
	uint64_t h = table_key_hash(record_key(rec), rec->key_len);
	struct record *old;
	size_t slot = SIZE_MAX;

	if (t->slots != NULL) {
		slot = index_find(t, record_key(rec), rec->key_len, h);
		old = slot != SIZE_MAX ? t->slots[slot].rec : NULL;
	} else {
		old = table_walk(t, record_key(rec), rec->key_len);
	}
	if (old != NULL) {
		table_replace_node(t, old, rec);
		if (slot != SIZE_MAX)
			t->slots[slot].rec = rec;
		table_account(t, old, -1);
		table_account(t, rec, +1);
		return old;
	}
	index_reserve_one(t);
	t->root = table_insert(t->root, rec);
	t->root->parent = NULL;
	if (t->slots != NULL)
		index_place(t->slots, t->slot_mask, h, rec);
	table_account(t, rec, +1);
	return NULL;
}

void table_overwrite(struct table *t, struct record *r, const char *value,
    size_t value_len, uint64_t version)
{
	table_account(t, r, -1);
	if (value_len > 0)
		memcpy(r->data + r->key_len + 1, value, value_len);
	r->version = version;
	r->hash = digest_entry(record_key(r), r->key_len, version, value, value_len);
	table_account(t, r, +1);
}

/* Detaches the smallest node of the subtree into *min; returns the new subtree. */
static struct record *table_take_min(struct record *node, struct record **min)
{
	if (node->left == NULL) {
		*min = node;
		return node->right;
	}
	node->left = table_take_min(node->left, min);
	if (node->left != NULL)
		node->left->parent = node;
	return table_rebalance(node);
}

static struct record *table_remove(struct record *node, const char *key,
    size_t key_len, struct record **removed)
{
	if (node == NULL)
		return NULL;
	int c = table_rec_compare(key, key_len, node);
	if (c < 0) {
		node->left = table_remove(node->left, key, key_len, removed);
		if (node->left != NULL)
			node->left->parent = node;
	} else if (c > 0) {
		node->right = table_remove(node->right, key, key_len, removed);
		if (node->right != NULL)
			node->right->parent = node;
	} else {
		struct record *repl;
		*removed = node;
		if (node->left == NULL || node->right == NULL)
			repl = node->left != NULL ? node->left : node->right;
		else {
			struct record *rest = table_take_min(node->right, &repl);
			repl->right = rest;
			if (rest != NULL)
				rest->parent = repl;
			repl->left = node->left;
			repl->left->parent = repl;
			repl = table_rebalance(repl);
		}
		node->left = node->right = node->parent = NULL;
		return repl;
	}
	if (*removed == NULL)
		return node;
	return table_rebalance(node);
}

struct record *table_del(struct table *t, const char *key, size_t key_len)
{
	struct record *removed = NULL;

	if (t->slots != NULL) {
		size_t slot = index_find(t, key, key_len, table_key_hash(key, key_len));
		if (slot == SIZE_MAX)
			return NULL;
		index_remove_at(t, slot);
	}
	t->root = table_remove(t->root, key, key_len, &removed);
	if (t->root != NULL)
		t->root->parent = NULL;
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
	if (r->left != NULL)
		r->left->parent = r;
	r->right = table_build(recs, mid + 1, hi);
	if (r->right != NULL)
		r->right->parent = r;
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
	if (t->root != NULL)
		t->root->parent = NULL;
	for (size_t i = 0; i < n; i++)
		table_account(t, recs[i], +1);
	index_rebuild(t, n);
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
