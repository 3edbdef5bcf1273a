/*
 * reqid.c: request ids remembered for reqid_retention_s, so that a client
 * retrying a write whose answer it lost gets the original version instead
 * of a second write.  A hash map for lookup plus a list in commit order so
 * that expiry only looks at the oldest entries.
 */
#include "store_int.h"
#include "checksum.h"
#include "fault.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct reqid_entry {
	struct reqid_entry *hnext;    /* hash chain */
	struct reqid_entry *qnext;    /* commit order */
	uint64_t version;
	uint64_t time_ms;
	uint16_t len;
	char id[];
};

void reqid_init(struct reqid_map *m)
{
	memset(m, 0, sizeof(*m));
}

void reqid_clear(struct reqid_map *m)
{
	struct reqid_entry *e = m->head, *next;

	for (; e; e = next) {
		next = e->qnext;
		free(e);
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

static size_t reqid_bucket(const struct reqid_map *m, const char *id, size_t len)
{
	return (size_t)hash64(id, len, 0x5265714964ull) & (m->nbuckets - 1);
}

static struct reqid_entry **reqid_slot(const struct reqid_map *m,
    const char *id, size_t len)
{
	struct reqid_entry **pp;

	if (m->nbuckets == 0)
		return NULL;
	for (pp = &m->buckets[reqid_bucket(m, id, len)]; *pp; pp = &(*pp)->hnext)
		if ((*pp)->len == len && memcmp((*pp)->id, id, len) == 0)
			return pp;
	return NULL;
}

int reqid_find(const struct reqid_map *m, const char *id, size_t len,
    uint64_t *version)
{
	struct reqid_entry **pp = reqid_slot(m, id, len);

	if (!pp)
		return 0;
	*version = (*pp)->version;
	return 1;
}

static int reqid_grow(struct reqid_map *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
	struct reqid_entry **b = FAULT_ALLOC("store/reqid/alloc", calloc(n, sizeof(*b)));
	struct reqid_entry *e;

	if (!b)
		return -ENOMEM;
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
	for (e = m->head; e; e = e->qnext) {
		size_t i = reqid_bucket(m, e->id, e->len);
		e->hnext = b[i];
		b[i] = e;
	}
	return 0;
}

int reqid_reserve(struct reqid_map *m)
{
	return m->nbuckets > 0 ? 0 : reqid_grow(m);
}

struct reqid_entry *reqid_entry_new(const char *id, size_t len,
    uint64_t version, uint64_t time_ms)
{
	struct reqid_entry *e = FAULT_ALLOC("store/reqid/alloc", malloc(sizeof(*e) + len));

	if (!e)
		return NULL;
	e->version = version;
	e->time_ms = time_ms;
	e->len = (uint16_t)len;
	memcpy(e->id, id, len);
	return e;
}

/* A reqid seen again (a journal replayed over a snapshot that carries it)
 * keeps its first record: the version the client was first answered with.
 * Buckets that cannot grow make longer chains: never a forgotten id. */
void reqid_insert(struct reqid_map *m, struct reqid_entry *e)
{
	size_t i;

	if (reqid_slot(m, e->id, e->len)) {
		free(e);
		return;
	}
	if (m->count >= m->nbuckets)
		(void)reqid_grow(m);
	i = reqid_bucket(m, e->id, e->len);
	e->hnext = m->buckets[i];
	m->buckets[i] = e;
	e->qnext = NULL;
	if (m->tail)
		m->tail->qnext = e;
	else
		m->head = e;
	m->tail = e;
	m->count++;
}

int reqid_add(struct reqid_map *m, const char *id, size_t len,
    uint64_t version, uint64_t time_ms)
{
	struct reqid_entry *e;

	if (reqid_slot(m, id, len))
		return 0;
	if (reqid_reserve(m) < 0 || (e = reqid_entry_new(id, len, version, time_ms)) == NULL)
		return -ENOMEM;
	reqid_insert(m, e);
	return 0;
}

void reqid_expire(struct reqid_map *m, uint64_t older_than_ms)
{
	struct reqid_entry *e, **pp;

	while ((e = m->head) && e->time_ms < older_than_ms) {
		pp = reqid_slot(m, e->id, e->len);
		if (pp)
			*pp = e->hnext;
		m->head = e->qnext;
		if (!m->head)
			m->tail = NULL;
		m->count--;
		free(e);
	}
}

int reqid_serialize(const struct reqid_map *m, unsigned char **out,
    size_t *len, uint64_t *count)
{
	const struct reqid_entry *e;
	size_t size = 0;
	unsigned char *buf, *p;

	for (e = m->head; e; e = e->qnext)
		size += FMT_SNAPSHOT_REQID + e->len;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	p = buf;
	for (e = m->head; e; e = e->qnext) {
		format_put16(p, e->len);
		format_put16(p + 2, 0);
		format_put32(p + 4, 0);
		format_put64(p + 8, e->version);
		format_put64(p + 16, e->time_ms);
		memcpy(p + FMT_SNAPSHOT_REQID, e->id, e->len);
		p += FMT_SNAPSHOT_REQID + e->len;
	}
	*out = buf;
	*len = size;
	*count = m->count;
	return 0;
}
