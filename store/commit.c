/*
 * commit.c: the writer.  store_begin_epoch catches up and seals; then one
 * committer thread takes every pending write at once, evaluates
 * compare-and-set in order, writes the batch durably, asks ack_check, applies
 * and answers.  While one batch is being made durable the next one fills
 * the queue (group commit, DESIGN.md invariant 6).
 *
 * While in an epoch only the committer changes the table and the request-id
 * map, so it reads them without the lock; it takes the lock exclusively
 * only to apply a batch that is already durable.
 */
#include "store_int.h"
#include "checksum.h"
#include "fault.h"

#include <errno.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A batch stops growing past this many bytes (values up to 1 MiB each). */
#define COMMIT_BATCH_BYTES_MAX (32u * 1024 * 1024)
/*
 * Gathering: after answering a batch of N writers, the committer waits up
 * to this long for N writes to be queued before it takes the queue.  Without
 * it, writers that were just answered come back a moment after the next
 * batch left, and batches alternate between two half-sized groups (each
 * batch costs two syncs whatever its size).  Bounded, and skipped after a
 * batch of one, so a lone writer's latency does not change.
 */
#define COMMIT_GATHER_US 300
/* Bound on "a previous writer landed a batch first, retry the seal". */
#define COMMIT_SEAL_ATTEMPTS 10000

struct pending {
	struct pending *next;
	struct store_write_req req;
	struct store_write_result res;
	void (*done)(void *arg, const struct store_write_result *res);
	void *arg;
	sem_t *posted;            /* store_write: the waiting caller's */
	/* committer's */
	int answered;             /* res is final without writing */
	int from_map;             /* a duplicate answered from the reqid map */
	int dup_of;               /* index of the op it duplicates, or -1 */
	uint64_t seq;
	struct record *rec;
	struct reqid_entry *rid;  /* its id, remembered once durable */
};

/* ---- failure ---- */

static void commit_fail(struct store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void commit_fail(struct store *st, const char *fmt, ...)
{
	char msg[sizeof(st->failed_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&st->qlock);
	pthread_rwlock_wrlock(&st->lock);
	if (!st->failed) {
		st->failed = 1;
		store_fmt(st->failed_msg, sizeof(st->failed_msg), "%s", msg);
	}
	pthread_rwlock_unlock(&st->lock);
	pthread_mutex_unlock(&st->qlock);
}

/* ---- answering ---- */

/*
 * Answers writers: a callback, or a post to the waiting caller's own
 * semaphore.  Callers wake independently; a shared mutex and condition
 * would make the whole batch's callers queue behind each other for the
 * mutex, on the critical path between two batches.
 */
static void commit_complete_all(struct store *st, struct pending **batch, size_t n)
{
	(void)st;
	for (size_t i = 0; i < n; i++) {
		struct pending *p = batch[i];

		if (p->done) {
			p->done(p->arg, &p->res);
			free(p);
		} else {
			sem_post(p->posted);   /* p may be gone once posted */
		}
		batch[i] = NULL;
	}
}

static void answer(struct pending *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void answer(struct pending *p, int rc, const char *fmt, ...)
{
	va_list ap;

	p->answered = 1;
	p->res.rc = rc;
	va_start(ap, fmt);
	vsnprintf(p->res.msg, sizeof(p->res.msg), fmt, ap);
	va_end(ap);
}

/* ---- the batch index: key -> last op of the batch, reqid -> op ---- */

struct batch_index {
	int *slots;
	size_t mask;
};

static int index_init(struct batch_index *ix, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	ix->slots = FAULT_ALLOC("store/commit/alloc", malloc(cap * sizeof(int)));
	if (!ix->slots)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		ix->slots[i] = -1;
	ix->mask = cap - 1;
	return 0;
}

/* Slot holding the op whose (data, len) equals the one given, or the empty
 * slot where it would go. */
static int *index_slot(struct batch_index *ix, struct pending **batch,
    int reqids, const char *data, size_t len)
{
	size_t i = (size_t)hash64(data, len, reqids) & ix->mask;

	for (;; i = (i + 1) & ix->mask) {
		int j = ix->slots[i];
		const char *d;
		size_t l;

		if (j < 0)
			return &ix->slots[i];
		d = reqids ? batch[j]->req.reqid : batch[j]->req.key;
		l = reqids ? batch[j]->req.reqid_len : batch[j]->req.key_len;
		if (l == len && memcmp(d, data, len) == 0)
			return &ix->slots[i];
	}
}

/* ---- forming a batch ---- */

static void commit_form(struct store *st, struct pending **batch, size_t n,
    struct batch_index *keys, struct batch_index *reqids, uint64_t *next_seq,
    uint64_t *digest)
{
	for (size_t i = 0; i < n; i++) {
		struct pending *p = batch[i];
		const struct store_write_req *q = &p->req;
		uint64_t cur_version = 0, cur_hash = 0, v;
		int *kslot, *rslot = NULL;

		memset(&p->res, 0, sizeof(p->res));
		p->answered = 0;
		p->from_map = 0;
		p->dup_of = -1;
		p->rec = NULL;
		p->rid = NULL;
		if (q->reqid_len) {
			if (reqid_find(&st->state.reqids, q->reqid, q->reqid_len, &v)) {
				answer(p, 0, "duplicate request id: answered from the original write");
				p->res.version = v;
				p->res.duplicate = 1;
				p->from_map = 1;
				continue;
			}
			rslot = index_slot(reqids, batch, 1, q->reqid, q->reqid_len);
			if (*rslot >= 0) {
				p->dup_of = *rslot;
				p->answered = 1;
				p->res.duplicate = 1;
				continue;
			}
		}
		kslot = index_slot(keys, batch, 0, q->key, q->key_len);
		if (*kslot >= 0) {
			struct pending *e = batch[*kslot];
			if (e->rec) {
				cur_version = e->seq;
				cur_hash = e->rec->hash;
			}
		} else {
			struct record *r = table_get(st->state.table, q->key, q->key_len);
			if (r) {
				cur_version = r->version;
				cur_hash = r->hash;
			}
		}
		if (q->expected_version != STORE_ANY_VERSION &&
		    (uint64_t)q->expected_version != cur_version) {
			answer(p, -STORE_ECONFLICT, "key \"%.*s\": expected version %" PRId64 ", found %" PRIu64 "%s",
			    (int)(q->key_len > 100 ? 100 : q->key_len), q->key, q->expected_version,
			    cur_version, cur_version ? "" : " (absent)");
			p->res.current_version = cur_version;
			continue;
		}
		if (q->kind == STORE_OP_DEL && cur_version == 0) {
			answer(p, -STORE_ENOTFOUND, "key \"%.*s\" does not exist",
			    (int)(q->key_len > 100 ? 100 : q->key_len), q->key);
			continue;
		}
		if (q->kind == STORE_OP_PUT) {
			p->rec = record_new(q->key, q->key_len, q->value, q->value_len, *next_seq);
			if (!p->rec) {
				answer(p, -ENOMEM, "key \"%.*s\": out of memory",
				    (int)(q->key_len > 100 ? 100 : q->key_len), q->key);
				continue;
			}
			*digest += p->rec->hash;
		}
		*digest -= cur_hash;
		p->seq = (*next_seq)++;
		*kslot = (int)i;
		if (rslot)
			*rslot = (int)i;
	}
}

/* Before the batch is durable: once it is, remembering its request ids
 * must not fail, or a retry of an acknowledged write would apply twice. */
static int commit_alloc_reqids(struct store *st, struct pending **batch,
    size_t n, uint64_t time_ms)
{
	int rc = 0;

	if (st->state.reqids.nbuckets == 0) {
		pthread_rwlock_wrlock(&st->lock);
		rc = reqid_reserve(&st->state.reqids);
		pthread_rwlock_unlock(&st->lock);
		if (rc < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct pending *p = batch[i];

		if (p->answered || !p->req.reqid_len)
			continue;
		p->rid = reqid_entry_new(p->req.reqid, p->req.reqid_len, p->seq, time_ms);
		if (!p->rid)
			return -ENOMEM;
	}
	return 0;
}

static int commit_encode(struct store *st, struct pending **batch, size_t n,
    const struct batch_header *h, size_t *len)
{
	size_t size = FMT_BATCH_HEADER + FMT_TRAILER;
	unsigned char *p;
	struct batch_header hh = *h;

	for (size_t i = 0; i < n; i++)
		if (!batch[i]->answered)
			size += format_record_size(batch[i]->req.key_len,
			    batch[i]->req.kind == STORE_OP_PUT ? batch[i]->req.value_len : 0,
			    batch[i]->req.reqid_len);
	if (size > st->encbuf_size) {
		unsigned char *b = FAULT_ALLOC("store/commit/alloc", realloc(st->encbuf, size));
		if (!b)
			return -ENOMEM;
		st->encbuf = b;
		st->encbuf_size = size;
	}
	hh.payload_len = size - FMT_BATCH_HEADER - FMT_TRAILER;
	format_batch_header_put(st->encbuf, &hh);
	p = st->encbuf + FMT_BATCH_HEADER;
	for (size_t i = 0; i < n; i++) {
		const struct store_write_req *q = &batch[i]->req;
		struct batch_rec r;

		if (batch[i]->answered)
			continue;
		r.op = q->kind == STORE_OP_PUT ? 1 : 2;
		r.key = q->key;
		r.key_len = (uint32_t)q->key_len;
		r.value = q->value;
		r.value_len = q->kind == STORE_OP_PUT ? (uint32_t)q->value_len : 0;
		r.reqid = q->reqid;
		r.reqid_len = (uint16_t)q->reqid_len;
		p = format_record_put(p, &r);
	}
	format_put32(p, crc32c(0, st->encbuf, size - FMT_TRAILER));
	*len = size;
	return 0;
}

/* The batch's name was taken.  Returns 1 to retry (a stale file was moved
 * away), or a negative code with the failure described in msg. */
static int commit_name_taken(struct store *st, uint64_t seq, int retried,
    char *msg, size_t msg_len)
{
	char path[STORE_PATH_MAX], why[256], name[STORE_NAME_DIGITS + 1];
	struct store_error qerr;
	struct batch_header h;
	unsigned char *buf;
	size_t len;
	int rc;

	journal_path(st, seq, path, sizeof(path));
	rc = journal_read_file(path, &buf, &len);
	if (rc < 0) {
		store_fmt(msg, msg_len, "%s: name taken, and reading it failed: %s", path, strerror(-rc));
		return rc;
	}
	rc = format_batch_check(buf, len, seq, &h, why, sizeof(why));
	free(buf);
	if (rc < 0) {
		store_fmt(msg, msg_len, "%s: name taken by a damaged file (%s)", path, why);
		return -STORE_EDAMAGED;
	}
	if (h.kind == FMT_KIND_SEAL || h.epoch >= st->writer_epoch) {
		store_fmt(msg, msg_len, "fenced: %s was written by epoch %" PRIu64 "%s (ours is %" PRIu64 "): this writer must stop",
		    path, h.epoch, h.kind == FMT_KIND_SEAL ? " as its seal" : "", st->writer_epoch);
		return -STORE_EFENCED;
	}
	/* An older epoch's batch after our seal: only a crafted or corrupted
	 * file can be there. */
	if (retried) {
		store_fmt(msg, msg_len, "%s: name taken again by a stale batch of epoch %" PRIu64, path, h.epoch);
		return -STORE_ESTALE;
	}
	format_name(name, seq);
	rc = journal_quarantine(st, FMT_JOURNAL_DIR, name, "stale", &qerr);
	if (rc < 0) {
		store_fmt(msg, msg_len, "%s", qerr.msg);
		return rc;
	}
	return 1;
}

static void commit_batch(struct store *st, struct pending **batch, size_t n)
{
	struct batch_index keys = { 0 }, reqids = { 0 };
	struct batch_header h;
	struct store_error err;
	char path[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1], msg[sizeof(st->failed_msg)];
	uint64_t first, next, digest;
	size_t len, count = 0;
	int rc = 0, failed_code = 0, flags = 0;
	struct timespec began;

	memset(&err, 0, sizeof(err));
	pthread_mutex_lock(&st->qlock);
	if (st->failed) {
		store_fmt(msg, sizeof(msg), "%s", st->failed_msg);
		pthread_mutex_unlock(&st->qlock);
		for (size_t i = 0; i < n; i++)
			answer(batch[i], -STORE_EFAILED, "%s", msg);
		commit_complete_all(st, batch, n);
		return;
	}
	pthread_mutex_unlock(&st->qlock);

	if (index_init(&keys, n) < 0 || index_init(&reqids, n) < 0) {
		for (size_t i = 0; i < n; i++)
			answer(batch[i], -ENOMEM, "out of memory forming a batch");
		commit_complete_all(st, batch, n);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &began);
	first = next = st->state.applied_seq + 1;
	digest = table_digest(st->state.table);
	commit_form(st, batch, n, &keys, &reqids, &next, &digest);
	count = next - first;
	if (count == 0)
		goto answer_all;

	memset(&h, 0, sizeof(h));
	h.kind = FMT_KIND_OPS;
	h.epoch = st->writer_epoch;
	h.first_seq = first;
	h.last_seq = next - 1;
	h.count = (uint32_t)count;
	h.commit_time_ms = store_realtime_ms();
	h.digest = digest;
	rc = commit_alloc_reqids(st, batch, n, h.commit_time_ms);
	if (rc < 0) {
		failed_code = rc;
		store_fmt(msg, sizeof(msg), "out of memory for the request ids of a batch of %zu operations", count);
		goto answer_all;
	}
	rc = commit_encode(st, batch, n, &h, &len);
	if (rc < 0) {
		failed_code = rc;
		store_fmt(msg, sizeof(msg), "out of memory encoding a batch of %zu operations", count);
		goto answer_all;
	}
	format_name(name, first);
	journal_path(st, first, path, sizeof(path));
	for (int retried = 0;; retried++) {
		rc = durable_write(st->journal_dir, name, "store/commit", st->encbuf, len, &st->link_mode, &flags, &err);
		if (rc != -EEXIST)
			break;
		rc = commit_name_taken(st, first, retried, msg, sizeof(msg));
		if (rc < 0) {
			failed_code = rc;
			commit_fail(st, "writer failed: %s; end and begin the epoch again (or reopen) to write again", msg);
			goto answer_all;
		}
	}
	if (st->encbuf_size > COMMIT_BATCH_BYTES_MAX) {
		free(st->encbuf);
		st->encbuf = NULL;
		st->encbuf_size = 0;
	}
	if (rc < 0 && (flags & DURABLE_TMP_GONE)) {
		failed_code = -STORE_EFENCED;
		store_fmt(msg, sizeof(msg), "fenced: %s", err.msg);
		commit_fail(st, "writer failed: %s; end and begin the epoch again (or reopen) to write again", msg);
		goto answer_all;
	}
	if (rc < 0) {
		failed_code = rc;
		store_fmt(msg, sizeof(msg), "%s", err.msg);
		commit_fail(st, "writer failed after commit error on %s: %s; end and begin the epoch again (or reopen) to write again",
		    path, strerror(-rc));
		goto answer_all;
	}
	pthread_rwlock_wrlock(&st->lock);
	st->committed_seq = h.last_seq;
	pthread_rwlock_unlock(&st->lock);

	if (st->opt.ack_check) {
		char why[256] = "";

		if (st->opt.ack_check(st->opt.ack_arg, st->writer_epoch, why, sizeof(why)) != 0) {
			failed_code = -STORE_ELEASE;
			store_fmt(msg, sizeof(msg), "%s is durable but not acknowledged: lease check refused: %s",
			    path, why[0] ? why : "no reason given");
			commit_fail(st, "writer failed: %s; end and begin the epoch again (or reopen) to write again", msg);
			goto answer_all;
		}
	}

	if (st->opt.on_commit) {
		struct store_commit_stats cs;
		struct timespec ended;

		clock_gettime(CLOCK_MONOTONIC, &ended);
		cs.ops = count;
		cs.bytes = len;
		cs.latency_ns = (uint64_t)(ended.tv_sec - began.tv_sec) * 1000000000u +
		    (uint64_t)ended.tv_nsec - (uint64_t)began.tv_nsec;
		st->opt.on_commit(st->opt.commit_arg, &cs);
	}

	{
		uint64_t now = store_realtime_ms();
		uint64_t keep_ms = (uint64_t)store_reqid_retention(st) * 1000;
		uint64_t horizon = now > keep_ms ? now - keep_ms : 0;

		pthread_rwlock_wrlock(&st->lock);
		for (size_t i = 0; i < n; i++) {
			struct pending *p = batch[i];

			if (p->answered)
				continue;
			if (p->rec) {
				record_unref(table_put(st->state.table, p->rec));
				p->rec = NULL;
			} else {
				record_unref(table_del(st->state.table, p->req.key, p->req.key_len));
			}
			if (p->rid) {
				reqid_insert(&st->state.reqids, p->rid);
				p->rid = NULL;
			}
		}
		reqid_expire(&st->state.reqids, horizon);
		st->state.applied_seq = h.last_seq;
		st->state.last_commit_time_ms = h.commit_time_ms;
		pthread_rwlock_unlock(&st->lock);
	}
	if (st->opt.on_apply) {
		for (size_t i = 0; i < n; i++) {
			struct pending *p = batch[i];
			struct store_applied a;

			if (p->answered)
				continue;
			memset(&a, 0, sizeof(a));
			a.kind = p->req.kind;
			a.seq = p->seq;
			a.epoch = h.epoch;
			a.commit_time_ms = h.commit_time_ms;
			a.key = p->req.key;
			a.key_len = p->req.key_len;
			if (p->req.kind == STORE_OP_PUT) {
				a.value = p->req.value;
				a.value_len = p->req.value_len;
			}
			st->opt.on_apply(st->opt.apply_arg, &a);
		}
	}

answer_all:
	for (size_t i = 0; i < n; i++) {
		struct pending *p = batch[i];

		if (failed_code && !p->from_map)
			answer(p, failed_code, "%s", msg);
		else if (!p->answered)
			p->res.version = p->seq;
		else if (p->dup_of >= 0) {
			p->res.version = batch[p->dup_of]->seq;
			store_fmt(p->res.msg, sizeof(p->res.msg), "duplicate request id within one batch");
		}
	}
	for (size_t i = 0; i < n; i++) {
		record_unref(batch[i]->rec);
		batch[i]->rec = NULL;
		free(batch[i]->rid);
		batch[i]->rid = NULL;
	}
	commit_complete_all(st, batch, n);
out:
	free(keys.slots);
	free(reqids.slots);
}

static void *commit_main(void *arg)
{
	struct store *st = arg;
	size_t max = st->opt.max_batch_ops;
	struct pending *one, **batch = malloc(max * sizeof(*batch));

	if (!batch) {
		/* Out of memory: commit one write at a time rather than none. */
		batch = &one;
		max = 1;
	}
	size_t gather = 0;

	for (;;) {
		size_t n = 0, bytes = 0;

		pthread_mutex_lock(&st->qlock);
		while (!st->qhead && !st->closing)
			pthread_cond_wait(&st->qcond, &st->qlock);
		if (!st->qhead) {
			pthread_mutex_unlock(&st->qlock);
			break;
		}
		if (gather > 1 && !st->closing) {
			struct timespec deadline;

			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_nsec += COMMIT_GATHER_US * 1000L;
			if (deadline.tv_nsec >= 1000000000L) {
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000L;
			}
			if (gather > max)
				gather = max;
			st->gather_want = gather;
			while (st->qlen < gather && !st->closing &&
			    pthread_cond_timedwait(&st->qcond, &st->qlock, &deadline) == 0)
				;
			st->gather_want = 0;
		}
		while (st->qhead && n < max && (n == 0 || bytes < COMMIT_BATCH_BYTES_MAX)) {
			struct pending *p = st->qhead;

			st->qhead = p->next;
			if (!st->qhead)
				st->qtail = NULL;
			st->qlen--;
			p->next = NULL;
			batch[n++] = p;
			bytes += p->req.key_len + p->req.value_len + FMT_RECORD_HEADER;
		}
		pthread_mutex_unlock(&st->qlock);
		if (st->opt.batch_start)
			st->opt.batch_start(st->opt.ack_arg, st->writer_epoch);
		commit_batch(st, batch, n);
		gather = n;
	}
	if (batch != &one)
		free(batch);
	return NULL;
}

/* ---- queueing ---- */

static int commit_validate(struct store *st, const struct store_write_req *req,
    struct store_write_result *res)
{
	struct store_error err;
	int rc = 0;

	memset(&err, 0, sizeof(err));
	if (req->kind != STORE_OP_PUT && req->kind != STORE_OP_DEL) {
		rc = -EINVAL;
		store_seterr(&err, rc, "write kind %d is neither put nor delete", (int)req->kind);
	} else if (req->expected_version < STORE_ANY_VERSION) {
		rc = -EINVAL;
		store_seterr(&err, rc, "expected version %" PRId64 " is invalid (-1: any, 0: absent, > 0: that version)",
		    req->expected_version);
	} else if (req->reqid && req->reqid_len > STORE_REQID_MAX) {
		rc = -EINVAL;
		store_seterr(&err, rc, "request id of %zu bytes is longer than %u bytes", req->reqid_len, STORE_REQID_MAX);
	} else if (!req->key) {
		rc = store_check_key("", 0, &err);
	} else if ((rc = store_check_key(req->key, req->key_len, &err)) < 0) {
		/* message set */
	} else if (req->kind == STORE_OP_PUT) {
		rc = store_check_value(req->value, req->value_len, st->opt.max_value_bytes, &err);
	}
	if (rc < 0) {
		res->rc = rc;
		store_fmt(res->msg, sizeof(res->msg), "%s", err.msg);
	}
	return rc;
}

/* Queues p, or refuses with the reason in res. */
static int commit_enqueue(struct store *st, struct pending *p)
{
	int rc = 0;

	pthread_mutex_lock(&st->qlock);
	if (!st->writer) {
		rc = -STORE_ENOTWRITER;
		store_fmt(p->res.msg, sizeof(p->res.msg), "%s: this store is not the writer (not in an epoch)", st->dir);
	} else if (st->closing || !st->accepting) {
		rc = -STORE_ECLOSING;
		store_fmt(p->res.msg, sizeof(p->res.msg), "%s: the writer is ending epoch %" PRIu64, st->dir, st->writer_epoch);
	} else if (st->failed) {
		rc = -STORE_EFAILED;
		store_fmt(p->res.msg, sizeof(p->res.msg), "%s", st->failed_msg);
	} else {
		p->next = NULL;
		if (st->qtail)
			st->qtail->next = p;
		else
			st->qhead = p;
		st->qtail = p;
		st->qlen++;
		/* Wake the committer only when it waits for this: the first
		 * write, or the last one it is gathering for. */
		if (st->qlen == 1 || st->qlen == st->gather_want)
			pthread_cond_signal(&st->qcond);
	}
	if (rc < 0)
		p->res.rc = rc;   /* before unlocking: a queued p may be answered and freed at once */
	pthread_mutex_unlock(&st->qlock);
	return rc;
}

static void normalize_reqid(struct store_write_req *q)
{
	if (!q->reqid || q->reqid_len == 0) {
		q->reqid = NULL;
		q->reqid_len = 0;
	}
	if (q->kind == STORE_OP_DEL) {
		q->value = NULL;
		q->value_len = 0;
	}
}

int store_write(struct store *st, const struct store_write_req *req,
    struct store_write_result *res)
{
	struct pending p;
	sem_t posted;
	uint64_t v;
	int found;

	memset(res, 0, sizeof(*res));
	if (commit_validate(st, req, res) < 0)
		return res->rc;
	memset(&p, 0, sizeof(p));
	p.req = *req;
	normalize_reqid(&p.req);
	if (p.req.reqid_len) {
		/* Fast path; the committer checks again when forming the batch. */
		pthread_rwlock_rdlock(&st->lock);
		found = st->writer && !st->failed &&
		    reqid_find(&st->state.reqids, p.req.reqid, p.req.reqid_len, &v);
		pthread_rwlock_unlock(&st->lock);
		if (found) {
			res->version = v;
			res->duplicate = 1;
			store_fmt(res->msg, sizeof(res->msg), "duplicate request id: answered from the original write");
			return 0;
		}
	}
	sem_init(&posted, 0, 0);
	p.posted = &posted;
	if (commit_enqueue(st, &p) == 0) {
		while (sem_wait(&posted) < 0 && errno == EINTR)
			;
	}
	sem_destroy(&posted);
	*res = p.res;
	return res->rc;
}

int store_submit(struct store *st, const struct store_write_req *req,
    void (*done)(void *arg, const struct store_write_result *res), void *arg)
{
	struct store_write_result res;
	struct store_write_req q = *req;
	struct pending *p;
	char *data;
	int rc;

	memset(&res, 0, sizeof(res));
	if (commit_validate(st, req, &res) < 0)
		return res.rc;
	normalize_reqid(&q);
	p = FAULT_ALLOC("store/submit/alloc", calloc(1, sizeof(*p) + q.key_len + q.value_len + q.reqid_len + 1));
	if (!p)
		return -ENOMEM;
	data = (char *)(p + 1);
	p->req = q;
	memcpy(data, q.key, q.key_len);
	p->req.key = data;
	data += q.key_len;
	if (q.value_len)
		memcpy(data, q.value, q.value_len);
	p->req.value = q.kind == STORE_OP_PUT ? data : NULL;
	data += q.value_len;
	if (q.reqid_len)
		memcpy(data, q.reqid, q.reqid_len);
	p->req.reqid = q.reqid_len ? data : NULL;
	p->done = done;
	p->arg = arg;
	rc = commit_enqueue(st, p);
	if (rc < 0)
		free(p);
	return rc;
}

static void copy_result(const struct store_write_result *res,
    struct store_error *err)
{
	if (res->rc < 0)
		store_seterr(err, res->rc, "%s", res->msg);
}

int store_put(struct store *st, const char *key, const char *json,
    int64_t expected_version, uint64_t *version, struct store_error *err)
{
	struct store_write_req req;
	struct store_write_result res;

	memset(&req, 0, sizeof(req));
	req.kind = STORE_OP_PUT;
	req.key = key;
	req.key_len = key ? strlen(key) : 0;
	req.value = json;
	req.value_len = json ? strlen(json) : 0;
	req.expected_version = expected_version;
	store_write(st, &req, &res);
	copy_result(&res, err);
	if (res.rc == 0 && version)
		*version = res.version;
	return res.rc;
}

int store_del(struct store *st, const char *key, int64_t expected_version,
    uint64_t *seq, struct store_error *err)
{
	struct store_write_req req;
	struct store_write_result res;

	memset(&req, 0, sizeof(req));
	req.kind = STORE_OP_DEL;
	req.key = key;
	req.key_len = key ? strlen(key) : 0;
	req.expected_version = expected_version;
	store_write(st, &req, &res);
	copy_result(&res, err);
	if (res.rc == 0 && seq)
		*seq = res.version;
	return res.rc;
}

/* ---- epochs ---- */

static int commit_write_seal(struct store *st, uint64_t epoch, const char *host,
    uint32_t host_id, unsigned char *buf, size_t *len, int *flags,
    struct store_error *err)
{
	struct batch_header h;
	struct batch_rec r;
	char idtext[16], name[STORE_NAME_DIGITS + 1];
	unsigned char *p;
	size_t size;

	store_fmt(idtext, sizeof(idtext), "%" PRIu32, host_id);
	memset(&h, 0, sizeof(h));
	h.kind = FMT_KIND_SEAL;
	h.epoch = epoch;
	h.first_seq = h.last_seq = st->state.applied_seq + 1;
	h.count = 1;
	h.commit_time_ms = store_realtime_ms();
	h.digest = table_digest(st->state.table);
	memset(&r, 0, sizeof(r));
	r.op = 3;
	r.key = host;
	r.key_len = (uint32_t)strlen(host);
	r.value = idtext;
	r.value_len = (uint32_t)strlen(idtext);
	size = FMT_BATCH_HEADER + format_record_size(r.key_len, r.value_len, 0) + FMT_TRAILER;
	h.payload_len = size - FMT_BATCH_HEADER - FMT_TRAILER;
	format_batch_header_put(buf, &h);
	p = format_record_put(buf + FMT_BATCH_HEADER, &r);
	format_put32(p, crc32c(0, buf, size - FMT_TRAILER));
	*len = size;
	format_name(name, h.first_seq);
	return durable_write(st->journal_dir, name, "store/seal", buf, size, &st->link_mode, flags, err);
}

static int commit_write_epoch_file(struct store *st, const struct store_seal_info *si,
    uint64_t digest, struct store_error *err)
{
	struct format_seal fs, other;
	unsigned char buf[FMT_SEAL_HEADER + STORE_HOST_MAX + FMT_TRAILER], *old;
	char name[STORE_NAME_DIGITS + 1], path[STORE_PATH_MAX], why[256];
	size_t len, oldlen;
	int rc;

	memset(&fs, 0, sizeof(fs));
	fs.host_id = si->host_id;
	fs.epoch = si->epoch;
	fs.start_seq = si->start_seq;
	fs.time_ms = si->time_ms;
	fs.digest = digest;
	store_fmt(fs.host, sizeof(fs.host), "%s", si->host);
	len = format_seal_encode(&fs, buf);
	format_name(name, si->epoch);
	rc = durable_write(st->epochs_dir, name, "store/seal", buf, len, &st->link_mode, NULL, err);
	if (rc != -EEXIST)
		return rc;
	store_fmt(path, sizeof(path), "%s/%s", st->epochs_dir, name);
	rc = journal_read_file(path, &old, &oldlen);
	if (rc < 0) {
		store_seterr(err, rc, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = format_seal_parse(old, oldlen, &other, why, sizeof(why));
	free(old);
	if (rc == 0 && other.epoch == fs.epoch && other.start_seq == fs.start_seq &&
	    other.host_id == fs.host_id && strcmp(other.host, fs.host) == 0)
		return 0;
	store_seterr(err, -EEXIST, "%s already exists and does not describe the seal at seq %" PRIu64 " (%s)",
	    path, si->start_seq, rc < 0 ? why : "another seal");
	return -EEXIST;
}

int store_begin_epoch(struct store *st, uint64_t epoch, const char *host,
    uint32_t host_id, struct store_seal_info *seal, struct store_error *err)
{
	unsigned char sealbuf[FMT_BATCH_HEADER + FMT_RECORD_HEADER + STORE_HOST_MAX + 16 + FMT_TRAILER];
	struct journal_progress prog;
	struct batch_header h;
	char why[256], path[STORE_PATH_MAX];
	size_t len, host_len = host ? strlen(host) : 0;
	int rc = 0, flags, reloads = 0, digest_ok;

	if (st->writer) {
		store_seterr(err, -EBUSY, "%s: already the writer in epoch %" PRIu64, st->dir, st->writer_epoch);
		return -EBUSY;
	}
	if (st->opt.read_only) {
		store_seterr(err, -EROFS, "%s: opened read-only", st->dir);
		return -EROFS;
	}
	if (host_len == 0 || host_len > STORE_HOST_MAX || epoch == 0) {
		store_seterr(err, -EINVAL, "host name must be 1..%u bytes and the epoch > 0", STORE_HOST_MAX);
		return -EINVAL;
	}
	if (epoch <= st->state.epoch) {
		store_seterr(err, -STORE_EFENCED, "epoch %" PRIu64 " is not newer than epoch %" PRIu64 " sealed by %s at seq %" PRIu64,
		    epoch, st->state.epoch, st->state.last_seal.host, st->state.last_seal.start_seq);
		return -STORE_EFENCED;
	}
	pthread_mutex_lock(&st->qlock);
	pthread_rwlock_wrlock(&st->lock);
	st->failed = 0;
	st->failed_msg[0] = '\0';
	pthread_rwlock_unlock(&st->lock);
	pthread_mutex_unlock(&st->qlock);

	if (st->blocked == -STORE_EDIGEST) {
		/* Our state disagreed with the writer's: never seal on top of
		 * it.  Load again; if it still disagrees, refuse. */
		rc = store_reload(st, err);
		if (rc < 0)
			return rc;
		reloads++;
		if (st->blocked == -STORE_EDIGEST) {
			store_seterr(err, -STORE_EDIGEST, "%s", st->blocked_msg);
			return -STORE_EDIGEST;
		}
	}
	rc = journal_remove_temporaries(st, err);
	if (rc < 0)
		return rc;
	for (int attempt = 0;; attempt++) {
		if (attempt >= COMMIT_SEAL_ATTEMPTS) {
			store_seterr(err, -EAGAIN, "%s: gave up sealing epoch %" PRIu64 " after %d batches landed first",
			    st->journal_dir, epoch, attempt);
			return -EAGAIN;
		}
		memset(&prog, 0, sizeof(prog));
		rc = journal_catch_up(st, &st->state, &st->lock, JOURNAL_RECOVER, epoch, &prog, err);
		if ((rc == -STORE_EGAP || rc == -STORE_EDIGEST) && reloads++ == 0) {
			uint64_t newest = 0;
			/* A gap covered by a snapshot is a compaction we had
			 * not seen; a digest mismatch means our state is
			 * wrong: both are cured by loading again. */
			if (rc == -STORE_EDIGEST ||
			    (snapshot_newest_name(st, 0, &newest, err) == 0 && newest > st->state.applied_seq)) {
				rc = store_reload(st, err);
				if (rc < 0)
					return rc;
				if (st->blocked == -STORE_EDIGEST) {
					store_seterr(err, -STORE_EDIGEST, "%s", st->blocked_msg);
					return -STORE_EDIGEST;
				}
				continue;
			}
		}
		if (rc < 0) {
			pthread_rwlock_wrlock(&st->lock);
			if (prog.blocked)
				store_set_blocked(st, &prog);
			pthread_rwlock_unlock(&st->lock);
			return rc;
		}
		rc = snapshot_quarantine_damaged(st, err);
		if (rc < 0)
			return rc;
		rc = commit_write_seal(st, epoch, host, host_id, sealbuf, &len, &flags, err);
		if (rc == -EEXIST)
			continue;     /* catch-up reads what took the name */
		if (rc < 0 && (flags & DURABLE_TMP_GONE)) {
			store_seterr(err, -STORE_EFENCED, "fenced while sealing epoch %" PRIu64 ": %s", epoch, err->msg);
			return -STORE_EFENCED;
		}
		if (rc < 0)
			return rc;
		break;
	}
	journal_path(st, st->state.applied_seq + 1, path, sizeof(path));
	if (format_batch_check(sealbuf, len, st->state.applied_seq + 1, &h, why, sizeof(why)) < 0) {
		store_seterr(err, -EIO, "%s: the seal we wrote does not check: %s", path, why);
		return -EIO;
	}
	rc = journal_apply_batch(st, &st->state, &st->lock, sealbuf, &h, &digest_ok);
	if (rc < 0) {
		store_seterr(err, rc, "%s: applying our seal: %s", path, strerror(-rc));
		return rc;
	}
	rc = commit_write_epoch_file(st, &st->state.last_seal, h.digest, err);
	if (rc < 0)
		return rc;

	memset(&prog, 0, sizeof(prog));
	pthread_mutex_lock(&st->qlock);
	pthread_rwlock_wrlock(&st->lock);
	store_set_blocked(st, &prog);
	st->writer = 1;
	st->writer_epoch = epoch;
	store_fmt(st->writer_host, sizeof(st->writer_host), "%s", host);
	st->writer_host_id = host_id;
	st->committed_seq = st->state.applied_seq;
	st->accepting = 1;
	st->closing = 0;
	pthread_rwlock_unlock(&st->lock);
	pthread_mutex_unlock(&st->qlock);
	rc = pthread_create(&st->committer, NULL, commit_main, st);
	if (rc != 0) {
		pthread_mutex_lock(&st->qlock);
		pthread_rwlock_wrlock(&st->lock);
		st->writer = 0;
		st->accepting = 0;
		pthread_rwlock_unlock(&st->lock);
		pthread_mutex_unlock(&st->qlock);
		store_seterr(err, -rc, "%s: starting the committer thread: %s", st->dir, strerror(rc));
		return -rc;
	}
	st->committer_running = 1;
	if (seal)
		*seal = st->state.last_seal;
	return 0;
}

void store_end_epoch(struct store *st)
{
	pthread_mutex_lock(&st->qlock);
	st->accepting = 0;
	st->closing = 1;
	pthread_cond_broadcast(&st->qcond);
	pthread_mutex_unlock(&st->qlock);
	if (st->committer_running) {
		pthread_join(st->committer, NULL);
		st->committer_running = 0;
	}
	pthread_mutex_lock(&st->qlock);
	pthread_rwlock_wrlock(&st->lock);
	st->writer = 0;
	st->closing = 0;
	st->committed_seq = st->state.applied_seq;
	pthread_rwlock_unlock(&st->lock);
	pthread_mutex_unlock(&st->qlock);
}

void commit_stop(struct store *st)
{
	if (st->writer || st->committer_running)
		store_end_epoch(st);
}
