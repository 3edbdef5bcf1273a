/*
 * journal.c: reading batch files in sequence order and applying them:
 * following (never modifies the directory) and the writer's recovery
 * (quarantines what cannot be applied).
 *
 * A reader never lists journal/ to follow it: after applying a batch ending
 * at T it opens journal/(T+1) by name (DESIGN.md: listings and attributes
 * lie on network filesystems; an open of the exact name does not).
 *
 * RECOVERY (the writer's catch-up in store_begin_epoch; ssfm-store(5)
 * describes the same policy for operators):
 *  - a stale batch (an operations batch of an epoch older than the seal
 *    before it) is moved to quarantine/ and recovery goes on: it was never
 *    acknowledged (its writer collided with the seal or was fenced);
 *  - a damaged file (checksum, structure, an unsealed batch, a seal that
 *    does not raise the epoch) is moved to quarantine/ and recovery refuses
 *    with -STORE_EDAMAGED: if later journal files exist, acknowledged writes
 *    after it cannot be applied and an operator must inspect (ssfm verify);
 *    if it was the last file, the refusal is reported once and the next
 *    store_begin_epoch, finding no damaged file, proceeds;
 *  - a missing sequence number with later files present is a gap:
 *    -STORE_EGAP names the missing file and the next present one, and
 *    nothing is moved (unless a snapshot covers the gap: then the store
 *    reloads from it);
 *  - a seal (or unsealed batch) of the recovering writer's epoch or newer
 *    means a newer writer exists: -STORE_EFENCED.
 * Quarantined files are named "<dir>-<file>.<reason>.<unix_ms>" and are
 * never applied or deleted automatically.
 */
#include "store_int.h"
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int journal_state_init(struct store_state *s)
{
	memset(s, 0, sizeof(*s));
	reqid_init(&s->reqids);
	s->table = table_new();
	return s->table ? 0 : -ENOMEM;
}

void journal_state_free(struct store_state *s)
{
	table_free(s->table);
	reqid_clear(&s->reqids);
	memset(s, 0, sizeof(*s));
}

void journal_path(const struct store *st, uint64_t seq, char *out, size_t size)
{
	char name[STORE_NAME_DIGITS + 1];

	format_name(name, seq);
	store_fmt(out, size, "%s/%s", st->journal_dir, name);
}

/*
 * Reads fd to its end into *buf, a buffer of *cap bytes that grows as
 * needed (realloc).  With no buffer yet (*cap 0) the file's size decides
 * the first one.  On failure the buffer is kept (or freed and *cap 0).
 */
static int read_fd(int fd, unsigned char **buf, size_t *cap, size_t *len)
{
	size_t used = 0;
	unsigned char *nb;

	if (*cap == 0) {
		struct stat sb;

		if (fstat(fd, &sb) < 0)
			return -errno;
		free(*buf);
		*buf = FAULT_ALLOC("store/apply/alloc", malloc((size_t)sb.st_size + 1));
		if (!*buf)
			return -ENOMEM;
		*cap = (size_t)sb.st_size + 1;
	}
	for (;;) {
		ssize_t n;

		if (used == *cap) {
			nb = FAULT_ALLOC("store/apply/alloc", realloc(*buf, *cap * 2));
			if (!nb)
				return -ENOMEM;
			*buf = nb;
			*cap *= 2;
		}
		n = FAULT("store/apply", "read") < 0 ? -1 : read(fd, *buf + used, *cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	*len = used;
	return 0;
}

static int read_path(const char *path, unsigned char **buf, size_t *cap, size_t *len)
{
	int rc = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = durable_open_read(path, "store/apply");
		if (fd < 0) {
			rc = -errno;
		} else {
			rc = read_fd(fd, buf, cap, len);
			close(fd);
		}
		if (rc != -ESTALE)
			break;
	}
	return rc;
}

int journal_read_file(const char *path, unsigned char **buf, size_t *len)
{
	size_t cap = 0;
	int rc;

	*buf = NULL;
	rc = read_path(path, buf, &cap, len);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

/* Batches are read into one buffer the store keeps (st->read_buf): a
 * follower reads a thousand files a second, and a fresh buffer for each
 * cost an allocation, a free and a stat.  A buffer grown past this for a
 * large batch is given back after it. */
#define JOURNAL_READ_BUF_KEEP (1u << 20)

static int journal_read_batch(struct store *st, const char *path, unsigned char **buf,
    size_t *len)
{
	int rc = read_path(path, &st->read_buf, &st->read_cap, len);

	*buf = st->read_buf;
	return rc;
}

static void journal_read_done(struct store *st)
{
	if (st->read_cap > JOURNAL_READ_BUF_KEEP) {
		free(st->read_buf);
		st->read_buf = NULL;
		st->read_cap = 0;
	}
}

/* Whether the batch touched r before; marks it touched. */
static int apply_touch(struct record **touched, size_t mask, struct record *r)
{
	size_t i = (size_t)(((uint64_t)(uintptr_t)r * 0x9E3779B97F4A7C15ull) >> 32) & mask;

	for (; touched[i] != NULL; i = (i + 1) & mask)
		if (touched[i] == r)
			return 1;
	touched[i] = r;
	return 0;
}

int journal_apply_batch(struct store *st, struct store_state *s,
    pthread_rwlock_t *lock, const unsigned char *buf,
    const struct batch_header *h, int *digest_ok)
{
	struct record **recs, **in_place = NULL, **touched = NULL;
	uint64_t *key_hash = NULL;
	struct reqid_entry **rids = NULL;
	struct batch_rec r;
	size_t off = FMT_BATCH_HEADER, touched_mask = 1;
	uint64_t now = store_realtime_ms();
	uint64_t keep_ms = (uint64_t)store_reqid_retention(st) * 1000;
	uint64_t horizon = now > keep_ms ? now - keep_ms : 0;
	int rc = 0;

	while (touched_mask / 2 < h->count)
		touched_mask = touched_mask * 2 + 1;
	/* One allocation for the three record arrays: recs, in_place and
	 * the touched set (an open-addressing set at most half full). */
	recs = FAULT_ALLOC("store/apply/alloc",
	    calloc(2 * (size_t)h->count + touched_mask + 1, sizeof(*recs)));
	rids = FAULT_ALLOC("store/apply/alloc", calloc(h->count, sizeof(*rids)));
	key_hash = FAULT_ALLOC("store/apply/alloc", malloc((h->count ? h->count : 1) * sizeof(*key_hash)));
	if (!recs || !rids || !key_hash) {
		rc = -ENOMEM;
		goto out;
	}
	in_place = recs + h->count;
	touched = in_place + h->count;
	/* Every key's index slot, then every record, fetched ahead (table.h). */
	for (uint32_t i = 0; i < h->count; i++) {
		format_batch_next(buf, &off, &r);
		key_hash[i] = table_key_hash(r.key, r.key_len);
		table_prefetch_slot(s->table, key_hash[i]);
	}
	for (uint32_t i = 0; i < h->count; i++)
		table_prefetch_record(s->table, key_hash[i]);
	off = FMT_BATCH_HEADER;
	/*
	 * Everything allocated before anything changes: a batch applies whole
	 * or not at all.  A put may instead write its value into the record
	 * it replaces (record_overwritable) when it is the batch's first
	 * operation on that key: no allocation, no free, and no change to
	 * the table's shape.  A follower replaces keys all day, and the
	 * allocator was a tenth of its CPU.  This thread is the table's only
	 * writer (store.h: follow, begin_epoch and open never run at once,
	 * and the committer starts after them), so the table read here
	 * without the lock stays as it is; only the references can change
	 * (a cut), and they are looked at again under the lock.
	 */
	for (uint32_t i = 0; i < h->count; i++) {
		format_batch_next(buf, &off, &r);
		if (r.op == 1 || r.op == 2) {
			struct record *cur = table_get_hashed(s->table, r.key, r.key_len, key_hash[i]);
			if (cur != NULL && !apply_touch(touched, touched_mask, cur) &&
			    r.op == 1 && record_overwritable(cur, r.value_len))
				in_place[i] = cur;
		}
		if (r.op == 1 && in_place[i] == NULL) {
			recs[i] = record_new(r.key, r.key_len, r.value, r.value_len,
			    h->first_seq + i);
			if (!recs[i]) {
				rc = -ENOMEM;
				goto out;
			}
		}
		if (r.reqid_len && h->commit_time_ms >= horizon) {
			rids[i] = reqid_entry_new(r.reqid, r.reqid_len, h->first_seq + i, h->commit_time_ms);
			if (!rids[i]) {
				rc = -ENOMEM;
				goto out;
			}
		}
	}
	if (lock)
		pthread_rwlock_wrlock(lock);
	/* A cut taken since holds the record: it gets a copy after all. */
	off = FMT_BATCH_HEADER;
	for (uint32_t i = 0; rc == 0 && i < h->count; i++) {
		format_batch_next(buf, &off, &r);
		if (in_place[i] == NULL || record_overwritable(in_place[i], r.value_len))
			continue;
		in_place[i] = NULL;
		recs[i] = record_new(r.key, r.key_len, r.value, r.value_len, h->first_seq + i);
		if (recs[i] == NULL)
			rc = -ENOMEM;
	}
	if (rc < 0 || reqid_reserve(&s->reqids) < 0) {
		if (lock)
			pthread_rwlock_unlock(lock);
		rc = -ENOMEM;
		goto out;
	}
	off = FMT_BATCH_HEADER;
	for (uint32_t i = 0; i < h->count; i++) {
		uint64_t seq = h->first_seq + i;

		format_batch_next(buf, &off, &r);
		if (r.op == 1 && in_place[i] != NULL) {
			table_overwrite(s->table, in_place[i], r.value, r.value_len, seq);
		} else if (r.op == 1) {
			record_unref(table_put(s->table, recs[i]));
			recs[i] = NULL;
		} else if (r.op == 2) {
			record_unref(table_del(s->table, r.key, r.key_len));
		} else {
			s->epoch = h->epoch;
			s->last_seal.epoch = h->epoch;
			s->last_seal.start_seq = seq;
			s->last_seal.host_id = (uint32_t)format_seal_host_id(&r);
			memcpy(s->last_seal.host, r.key, r.key_len);
			s->last_seal.host[r.key_len] = '\0';
			s->last_seal.time_ms = h->commit_time_ms;
		}
		if (rids[i]) {
			reqid_insert(&s->reqids, rids[i]);
			rids[i] = NULL;
		}
	}
	reqid_expire(&s->reqids, horizon);
	s->applied_seq = h->last_seq;
	s->last_commit_time_ms = h->commit_time_ms;
	*digest_ok = table_digest(s->table) == h->digest;
	if (lock)
		pthread_rwlock_unlock(lock);

	if (st->opt.on_apply) {
		off = FMT_BATCH_HEADER;
		for (uint32_t i = 0; i < h->count; i++) {
			struct store_applied a;

			format_batch_next(buf, &off, &r);
			memset(&a, 0, sizeof(a));
			a.kind = r.op == 1 ? STORE_OP_PUT : r.op == 2 ? STORE_OP_DEL : STORE_OP_SEAL;
			a.seq = h->first_seq + i;
			a.epoch = h->epoch;
			a.commit_time_ms = h->commit_time_ms;
			a.key = r.key;
			a.key_len = r.key_len;
			if (r.op == 1) {
				a.value = r.value;
				a.value_len = r.value_len;
			}
			st->opt.on_apply(st->opt.apply_arg, &a);
		}
	}
out:
	for (uint32_t i = 0; recs && i < h->count; i++)
		record_unref(recs[i]);
	for (uint32_t i = 0; rids && i < h->count; i++)
		free(rids[i]);
	free(recs);
	free(rids);
	free(key_hash);
	return rc;
}

int journal_quarantine(struct store *st, const char *subdir, const char *name,
    const char *reason, struct store_error *err)
{
	char from[STORE_PATH_MAX], to[STORE_PATH_MAX], fromdir[STORE_PATH_MAX];
	int rc;

	store_fmt(fromdir, sizeof(fromdir), "%s/%s", st->dir, subdir);
	store_fmt(from, sizeof(from), "%s/%s", fromdir, name);
	store_fmt(to, sizeof(to), "%s/%s-%s.%s.%" PRIu64, st->quarantine_dir,
	    subdir, name, reason, store_realtime_ms());
	if (rename(from, to) < 0) {
		rc = -errno;
		store_seterr(err, rc, "%s: moving to %s: %s", from, to, strerror(-rc));
		return rc;
	}
	rc = durable_fsync_dir(st->quarantine_dir, "store/quarantine", err);
	if (rc == 0)
		rc = durable_fsync_dir(fromdir, "store/quarantine", err);
	return rc;
}

int journal_next_present(struct store *st, uint64_t after, uint64_t *found,
    struct store_error *err)
{
	DIR *d;
	struct dirent *de;
	uint64_t best = 0, n;
	int rc;

	*found = 0;
	d = durable_opendir(st->journal_dir, "store/apply");
	if (!d) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", st->journal_dir, strerror(-rc));
		return rc;
	}
	while ((rc = durable_readdir(d, &de, "store/apply")) > 0) {
		if (format_parse_name(de->d_name, &n) && n > after && (best == 0 || n < best))
			best = n;
	}
	closedir(d);
	if (rc < 0) {
		/* A gap check that read half the listing would see no gap. */
		store_seterr(err, rc, "%s: listing: %s", st->journal_dir, strerror(-rc));
		return rc;
	}
	*found = best;
	return 0;
}

static int remove_temporaries_in(const char *dir, struct store_error *err)
{
	DIR *d;
	struct dirent *de;
	char path[STORE_PATH_MAX];
	int rc = 0, removed = 0;

	d = durable_opendir(dir, "store/recover");
	if (!d) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	while ((rc = durable_readdir(d, &de, "store/recover")) > 0) {
		if (strncmp(de->d_name, ".tmp-", 5) != 0)
			continue;
		store_fmt(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) < 0 && errno != ENOENT) {
			rc = -errno;
			store_seterr(err, rc, "%s: removing a leftover temporary: %s", path, strerror(-rc));
			break;
		}
		removed++;
	}
	if (rc < 0 && de == NULL)      /* the listing failed, not an unlink */
		store_seterr(err, rc, "%s: listing: %s", dir, strerror(-rc));
	closedir(d);
	if (rc == 0 && removed)
		rc = durable_fsync_dir(dir, "store/recover", err);
	return rc;
}

int journal_remove_temporaries(struct store *st, struct store_error *err)
{
	int rc = remove_temporaries_in(st->journal_dir, err);

	if (rc == 0)
		rc = remove_temporaries_in(st->epochs_dir, err);
	if (rc == 0)
		rc = remove_temporaries_in(st->snapshots_dir, err);
	return rc;
}

static void block(struct journal_progress *prog, int code, const char *file,
    const char *msg)
{
	prog->blocked = code;
	store_fmt(prog->blocked_file, sizeof(prog->blocked_file), "%s", file);
	store_fmt(prog->blocked_msg, sizeof(prog->blocked_msg), "%s", msg);
}

/* In recovery: quarantine a damaged file and decide how to refuse. */
static int recover_damaged(struct store *st, uint64_t seq, const char *path,
    const char *why, const char *reason, struct journal_progress *prog,
    struct store_error *err)
{
	char name[STORE_NAME_DIGITS + 1], later_path[STORE_PATH_MAX];
	uint64_t later;
	int rc;

	format_name(name, seq);
	rc = journal_quarantine(st, FMT_JOURNAL_DIR, name, reason, err);
	if (rc < 0)
		return rc;
	rc = journal_next_present(st, seq, &later, err);
	if (rc < 0)
		return rc;
	if (later) {
		journal_path(st, later, later_path, sizeof(later_path));
		store_seterr(err, -STORE_EDAMAGED,
		    "%s: %s; moved to %s; acknowledged writes after it (from %s on) cannot be applied: an operator must inspect the store (ssfm verify)",
		    path, why, st->quarantine_dir, later_path);
	} else {
		store_seterr(err, -STORE_EDAMAGED,
		    "%s: %s; moved to %s; it was the last journal file, so beginning the epoch again will proceed without it",
		    path, why, st->quarantine_dir);
	}
	block(prog, -STORE_EDAMAGED, path, err->msg);
	return -STORE_EDAMAGED;
}

int journal_catch_up(struct store *st, struct store_state *s,
    pthread_rwlock_t *lock, enum journal_mode mode, uint64_t writer_epoch,
    struct journal_progress *prog, struct store_error *err)
{
	char path[STORE_PATH_MAX], why[384], msg[900];
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	for (;;) {
		uint64_t seq = s->applied_seq + 1, later;
		struct batch_header h;
		int digest_ok;

		journal_path(st, seq, path, sizeof(path));
		rc = journal_read_batch(st, path, &buf, &len);
		if (rc == -ENOENT) {
			if (mode != JOURNAL_RECOVER)
				return 0;
			rc = journal_next_present(st, seq, &later, err);
			if (rc < 0 || later == 0)
				return rc;
			/* A listing taken while a writer adds names may show a
			 * later one and not this one (ext4 lists in hash order,
			 * not name order): only a second look by name, after
			 * the listing, tells a gap from a file written since. */
			struct stat sb;
			if (stat(path, &sb) == 0)
				continue;   /* written since: the loop reads it */
			if (errno != ENOENT) {
				rc = -errno;
				store_seterr(err, rc, "%s: %s", path, strerror(-rc));
				return rc;
			}
			char later_path[STORE_PATH_MAX];
			journal_path(st, later, later_path, sizeof(later_path));
			store_seterr(err, -STORE_EGAP, "%s is missing but %s exists: a gap in the journal (ssfm verify)",
			    path, later_path);
			block(prog, -STORE_EGAP, path, err->msg);
			return -STORE_EGAP;
		}
		if (rc < 0) {
			store_seterr(err, rc, "%s: %s", path, strerror(-rc));
			return rc;
		}
		if (format_batch_check(buf, len, seq, &h, why, sizeof(why)) < 0) {
			journal_read_done(st);
			buf = NULL;
			if (mode == JOURNAL_RECOVER)
				return recover_damaged(st, seq, path, why, "damaged", prog, err);
			store_fmt(msg, sizeof(msg), "%s is damaged: %s", path, why);
			block(prog, -STORE_EDAMAGED, path, msg);
			return 0;
		}
		if (h.kind == FMT_KIND_SEAL && mode == JOURNAL_RECOVER && h.epoch >= writer_epoch) {
			journal_read_done(st);
			store_seterr(err, -STORE_EFENCED, "%s seals epoch %" PRIu64 ", not older than ours (%" PRIu64 "): a newer writer exists",
			    path, h.epoch, writer_epoch);
			return -STORE_EFENCED;
		}
		if (h.kind == FMT_KIND_OPS && mode == JOURNAL_RECOVER && h.epoch >= writer_epoch &&
		    h.epoch > s->epoch) {
			journal_read_done(st);
			store_seterr(err, -STORE_EFENCED, "%s was written by epoch %" PRIu64 ", not older than ours (%" PRIu64 "): a newer writer exists",
			    path, h.epoch, writer_epoch);
			return -STORE_EFENCED;
		}
		if (h.kind == FMT_KIND_SEAL && h.epoch <= s->epoch) {
			journal_read_done(st);
			buf = NULL;
			store_fmt(why, sizeof(why), "seal of epoch %" PRIu64 " does not exceed the current epoch %" PRIu64,
			    h.epoch, s->epoch);
			if (mode == JOURNAL_RECOVER)
				return recover_damaged(st, seq, path, why, "damaged", prog, err);
			store_fmt(msg, sizeof(msg), "%s is damaged: %s", path, why);
			block(prog, -STORE_EDAMAGED, path, msg);
			return 0;
		}
		if (h.kind == FMT_KIND_OPS && h.epoch > s->epoch) {
			journal_read_done(st);
			buf = NULL;
			store_fmt(why, sizeof(why), "batch of epoch %" PRIu64 " was never sealed (current epoch %" PRIu64 ")",
			    h.epoch, s->epoch);
			if (mode == JOURNAL_RECOVER)
				return recover_damaged(st, seq, path, why, "unsealed", prog, err);
			store_fmt(msg, sizeof(msg), "%s: %s", path, why);
			block(prog, -STORE_EDAMAGED, path, msg);
			return 0;
		}
		if (h.kind == FMT_KIND_OPS && h.epoch < s->epoch) {
			char name[STORE_NAME_DIGITS + 1];

			journal_read_done(st);
			buf = NULL;
			store_fmt(msg, sizeof(msg), "%s is stale: written by epoch %" PRIu64 " after the seal of epoch %" PRIu64 " (seq %" PRIu64 ")",
			    path, h.epoch, s->epoch, s->last_seal.start_seq);
			if (mode != JOURNAL_RECOVER) {
				block(prog, -STORE_ESTALE, path, msg);
				return 0;
			}
			format_name(name, seq);
			rc = journal_quarantine(st, FMT_JOURNAL_DIR, name, "stale", err);
			if (rc < 0)
				return rc;
			/* The next name is free again: a gap check decides
			 * whether anything follows it. */
			continue;
		}
		rc = journal_apply_batch(st, s, lock, buf, &h, &digest_ok);
		journal_read_done(st);
		buf = NULL;
		if (rc < 0) {
			store_seterr(err, rc, "%s: applying: %s", path, strerror(-rc));
			return rc;
		}
		prog->batches++;
		prog->ops += h.count;
		if (!digest_ok) {
			store_seterr(err, -STORE_EDIGEST,
			    "%s: state digest after applying it differs from the writer's: the in-memory state must be reloaded",
			    path);
			block(prog, -STORE_EDIGEST, path, err->msg);
			return -STORE_EDIGEST;
		}
	}
}
