/*
 * table.h: the in-memory state: an ordered map from key to record (private
 * to store/).
 *
 * A record is immutable once made and reference counted, so a snapshot can
 * take a consistent cut by holding references (no copy of the bytes) while
 * writers go on replacing records in the table.  The table itself is not
 * thread-safe: the store serialises access with its own lock.  The tree
 * links live inside the record to save an allocation per key; they belong
 * to the table that holds the record, and a record is in at most one table.
 *
 * Beside the tree, which keeps the order for list and snapshots, a hash
 * index answers point lookups: get, and finding the record a put replaces
 * (which then takes its place through the parent link, without a walk
 * from the root).  A follower replaces keys all day, and walking about
 * twenty tree levels of cold records per key was a third of its CPU.
 */
#ifndef SSFM_STORE_TABLE_H
#define SSFM_STORE_TABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct record {
	atomic_uint refs;
	uint32_t key_len;
	uint32_t value_len;
	int32_t height;              /* table's: AVL height */
	uint64_t version;
	uint64_t hash;               /* digest_entry() of this record */
	struct record *left, *right, *parent; /* table's */
	char data[];                 /* key, NUL, value, NUL */
};

/* New record with one reference, or NULL when out of memory. */
struct record *record_new(const char *key, size_t key_len, const char *value,
    size_t value_len, uint64_t version);
void record_ref(struct record *r);
void record_unref(struct record *r);   /* frees at zero; NULL is fine */
static inline const char *record_key(const struct record *r) { return r->data; }
static inline const char *record_value(const struct record *r) { return r->data + r->key_len + 1; }

/* Bytewise order, a shorter key first when one is a prefix of the other. */
int key_compare(const char *a, size_t alen, const char *b, size_t blen);

struct table;

struct table *table_new(void);
/* Drops the table's reference on every record. */
void table_free(struct table *t);

/* Borrowed pointer (valid while the caller holds the store lock), or NULL. */
struct record *table_get(const struct table *t, const char *key, size_t key_len);

/*
 * Lookups in bulk: the key's hash, a hint to fetch the index slot and then
 * the record a lookup by that hash reads, and the lookup itself.  Applying
 * a batch hints all its keys first, so that their cache misses overlap
 * instead of each lookup waiting for its own.
 */
uint64_t table_key_hash(const char *key, size_t key_len);
void table_prefetch_slot(const struct table *t, uint64_t key_hash);
void table_prefetch_record(const struct table *t, uint64_t key_hash);
struct record *table_get_hashed(const struct table *t, const char *key,
    size_t key_len, uint64_t key_hash);

/*
 * Inserts rec, or replaces the record with the same key.  Takes over the
 * caller's reference on rec.  Returns the replaced record (its reference
 * passes to the caller, who unrefs it) or NULL.  Cannot fail.
 */
struct record *table_put(struct table *t, struct record *rec);

/*
 * Whether table_overwrite may write a value of value_len bytes into r: the
 * length is r's, and only the table references r (no cut holds it; cuts
 * take references under the store's read lock, so under its write lock
 * the answer cannot change to no).
 */
static inline int record_overwritable(const struct record *r, size_t value_len)
{
	return r->value_len == value_len &&
	    atomic_load_explicit(&r->refs, memory_order_acquire) == 1u;
}

/*
 * Gives r, a record of t that record_overwritable() allows, a new value
 * and version in place: no allocation, and r keeps its place in the
 * table.  The caller must exclude every reader of t while it runs.
 */
void table_overwrite(struct table *t, struct record *r, const char *value,
    size_t value_len, uint64_t version);

/* Removes key; returns the removed record (caller unrefs) or NULL. */
struct record *table_del(struct table *t, const char *key, size_t key_len);

size_t table_count(const struct table *t);
/* The state digest (format.h), kept up to date by put and del. */
uint64_t table_digest(const struct table *t);
uint64_t table_key_bytes(const struct table *t);
uint64_t table_value_bytes(const struct table *t);

/*
 * Builds the table from records in strictly ascending key order (a
 * snapshot) in O(n): table must be empty; takes over the references.
 * Returns 0, or -EINVAL (and takes nothing) if the order is not strictly
 * ascending.
 */
int table_load_sorted(struct table *t, struct record **recs, size_t n);

/* In-order iteration from the first key >= start (start NULL: the first). */
#define TABLE_ITER_DEPTH 96
struct table_iter {
	struct record *stack[TABLE_ITER_DEPTH];
	int depth;
};
void table_iter_seek(struct table_iter *it, const struct table *t,
    const char *start, size_t start_len);
/* Next record (borrowed) or NULL at the end. */
struct record *table_iter_next(struct table_iter *it);

/*
 * A consistent cut: references to every record in key order, into a
 * malloc'd array (*out, caller releases with table_cut_free).  O(n) pointer
 * copies: the moment writers are held back.  Returns 0 or -ENOMEM.
 */
int table_cut(const struct table *t, struct record ***out, size_t *n);
void table_cut_free(struct record **recs, size_t n);

#endif
