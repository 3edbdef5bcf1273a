/*
 * cut.c: a consistent cut of the applied state for readers outside the
 * store (ssfmd's online dump).  Taken like a snapshot's (snapshot.c): the
 * shared lock is held only while references to every record are copied, so
 * writers wait for that moment alone; the records then stay alive, unchanged,
 * for as long as the cut is held, whatever writers do to the table.
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct store_cut {
	struct record **recs;
	size_t n;
};

int store_cut_take(struct store *st, struct store_cut **out,
    struct store_cut_info *info, struct store_error *err)
{
	struct store_cut *cut = calloc(1, sizeof(*cut));
	int rc;

	*out = NULL;
	if (cut == NULL) {
		store_seterr(err, -ENOMEM, "%s: out of memory taking a cut", st->dir);
		return -ENOMEM;
	}
	pthread_rwlock_rdlock(&st->lock);
	if (st->blocked == -STORE_EDIGEST) {
		/* Never hand out a state that disagrees with the writer's. */
		pthread_rwlock_unlock(&st->lock);
		free(cut);
		store_seterr(err, -STORE_EDIGEST, "%s: the state failed its digest check (%s): no cut until it is reloaded",
		    st->dir, st->blocked_file);
		return -STORE_EDIGEST;
	}
	rc = table_cut(st->state.table, &cut->recs, &cut->n);
	memset(info, 0, sizeof(*info));
	store_fmt(info->group, sizeof(info->group), "%s", st->id.group);
	info->io_timeout = st->id.io_timeout;
	info->seq = st->state.applied_seq;
	info->epoch = st->state.epoch;
	info->digest = table_digest(st->state.table);
	info->keys = cut->n;
	pthread_rwlock_unlock(&st->lock);
	if (rc < 0) {
		free(cut);
		store_seterr(err, rc, "%s: out of memory taking a cut", st->dir);
		return rc;
	}
	*out = cut;
	return 0;
}

size_t store_cut_count(const struct store_cut *cut)
{
	return cut->n;
}

void store_cut_entry(const struct store_cut *cut, size_t i, const char **key,
    size_t *key_len, const char **value, size_t *value_len, uint64_t *version)
{
	const struct record *r = cut->recs[i];

	*key = record_key(r);
	*key_len = r->key_len;
	*value = record_value(r);
	*value_len = r->value_len;
	*version = r->version;
}

void store_cut_free(struct store_cut *cut)
{
	if (cut == NULL)
		return;
	table_cut_free(cut->recs, cut->n);
	free(cut);
}
