/*
 * snapshot.c: full-state files for fast start and for dropping old journal
 * files (DESIGN.md invariant 7).  A snapshot is written and read as a
 * stream in chunks of about 1 MiB, with the CRC computed on the way, so a
 * 300 MB state never needs a 300 MB buffer.
 */
#include "store_int.h"
#include "fault.h"
#include "checksum.h"
#include "jsonv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SNAPSHOT_CHUNK (1024u * 1024u)

/* ---- listing ---- */

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Snapshot seqs by name, newest first (malloc'd). */
static int snapshot_list(struct store *st, uint64_t **out, size_t *count,
    struct store_error *err)
{
	DIR *d;
	struct dirent *de;
	uint64_t *v = NULL, *nv, seq;
	size_t n = 0, cap = 0;
	int rc;

	d = durable_opendir(st->snapshots_dir, "store/load");
	if (!d) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", st->snapshots_dir, strerror(-rc));
		return rc;
	}
	while ((rc = durable_readdir(d, &de, "store/load")) > 0) {
		if (!format_parse_name(de->d_name, &seq))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				store_seterr(err, -ENOMEM, "%s: out of memory", st->snapshots_dir);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = seq;
	}
	closedir(d);
	if (rc < 0) {
		/* Half a listing would pass an older snapshot for the newest. */
		free(v);
		store_seterr(err, rc, "%s: listing: %s", st->snapshots_dir, strerror(-rc));
		return rc;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_desc);
	*out = v;
	*count = n;
	return 0;
}

int snapshot_newest_name(struct store *st, unsigned rank, uint64_t *seq,
    struct store_error *err)
{
	uint64_t *v;
	size_t n;
	int rc = snapshot_list(st, &v, &n, err);

	if (rc < 0)
		return rc;
	*seq = n > rank ? v[rank] : 0;
	free(v);
	return 0;
}

/* ---- reading ---- */

/*
 * The body of a snapshot comes in chunks, either read from a file (fd >= 0,
 * into buf) or taken from memory (mem), so that one decoder serves files
 * of any size and the fuzzing harness alike.
 */
struct sreader {
	int fd;
	unsigned char *buf;       /* the fd's chunk buffer (owned by the caller) */
	const unsigned char *mem; /* the whole file, when reading from memory */
	uint64_t mem_off;
	const unsigned char *chunk;
	size_t pos, len;
	uint64_t body_left;       /* bytes before the CRC not yet taken */
	uint32_t crc;
};

/* Takes n bytes from the source (the fd or memory) into dst. */
static int sr_take(struct sreader *r, unsigned char *dst, size_t n)
{
	if (r->mem == NULL)
		return durable_read_all(r->fd, dst, n, "store/load");
	memcpy(dst, r->mem + r->mem_off, n);
	r->mem_off += n;
	return 0;
}

static int sr_fill(struct sreader *r)
{
	size_t want = r->body_left < SNAPSHOT_CHUNK ? (size_t)r->body_left : SNAPSHOT_CHUNK;
	int rc;

	if (want == 0)
		return -EPROTO;
	if (r->mem != NULL) {
		r->chunk = r->mem + r->mem_off;
		r->mem_off += want;
	} else {
		rc = durable_read_all(r->fd, r->buf, want, "store/load");
		if (rc < 0)
			return rc;
		r->chunk = r->buf;
	}
	r->crc = crc32c(r->crc, r->chunk, want);
	r->body_left -= want;
	r->pos = 0;
	r->len = want;
	return 0;
}

/* Copies n bytes of the body into dst; -EPROTO past the end. */
static int sr_read(struct sreader *r, void *dst, size_t n)
{
	unsigned char *d = dst;

	while (n > 0) {
		size_t k;
		int rc;

		if (r->pos == r->len && (rc = sr_fill(r)) < 0)
			return rc;
		k = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(d, r->chunk + r->pos, k);
		r->pos += k;
		d += k;
		n -= k;
	}
	return 0;
}

static uint64_t sr_left(const struct sreader *r)
{
	return r->body_left + (r->len - r->pos);
}

/* Decodes and checks a snapshot of size bytes from r (snapshot_read). */
static int snapshot_decode(struct sreader *r, uint64_t size,
    struct store_state *s, unsigned reqid_retention_s,
    struct snapshot_summary *sum, char *why, size_t why_len)
{
	struct record **recs = NULL, *prev = NULL;
	unsigned char hdr[FMT_SNAPSHOT_HEADER], ent[FMT_SNAPSHOT_REQID], crcb[4];
	char *kv = NULL, prevkey[STORE_KEY_MAX];
	size_t kv_cap = 0, nrecs = 0, prevlen = 0;
	uint64_t digest = 0, now = store_realtime_ms();
	uint64_t keep_ms = (uint64_t)reqid_retention_s * 1000;
	uint64_t horizon = now > keep_ms ? now - keep_ms : 0;
	int rc = -EPROTO;

	memset(sum, 0, sizeof(*sum));
	if (size < FMT_SNAPSHOT_HEADER + FMT_TRAILER) {
		store_fmt(why, why_len, "truncated: %" PRIu64 " bytes", size);
		goto bad;
	}
	r->body_left = size - FMT_TRAILER;
	if ((rc = sr_read(r, hdr, sizeof(hdr))) < 0)
		goto io;
	if (memcmp(hdr, FMT_SNAPSHOT_MAGIC, 8) != 0 || format_get32(hdr + 8) != FMT_VERSION ||
	    format_get32(hdr + 12) != 0) {
		store_fmt(why, why_len, "bad magic or format version");
		goto bad;
	}
	sum->seq = format_get64(hdr + 16);
	sum->epoch = format_get64(hdr + 24);
	sum->time_ms = format_get64(hdr + 32);
	sum->digest = format_get64(hdr + 40);
	sum->keys = format_get64(hdr + 48);
	sum->reqids = format_get64(hdr + 56);
	if (sum->keys > sr_left(r) / (FMT_SNAPSHOT_ENTRY + 1) ||
	    sum->reqids > sr_left(r) / (FMT_SNAPSHOT_REQID + 1)) {
		store_fmt(why, why_len, "key or request-id count larger than the file allows");
		goto bad;
	}
	if (s) {
		recs = malloc((sum->keys ? sum->keys : 1) * sizeof(*recs));
		if (!recs) {
			rc = -ENOMEM;
			store_fmt(why, why_len, "out of memory");
			goto out;
		}
	}
	for (uint64_t i = 0; i < sum->keys; i++) {
		uint32_t klen, vlen;
		uint64_t version, hash;
		size_t off;
		const char *jwhy;

		if ((rc = sr_read(r, ent, FMT_SNAPSHOT_ENTRY)) < 0)
			goto io;
		klen = format_get32(ent);
		vlen = format_get32(ent + 4);
		version = format_get64(ent + 8);
		if (klen == 0 || klen > STORE_KEY_MAX || vlen > sr_left(r) ||
		    version == 0 || version > sum->seq) {
			store_fmt(why, why_len, "entry %" PRIu64 ": bad key length, value length or version", i);
			goto bad;
		}
		if (klen + (size_t)vlen > kv_cap) {
			char *n = realloc(kv, klen + (size_t)vlen);
			if (!n) {
				rc = -ENOMEM;
				store_fmt(why, why_len, "out of memory");
				goto out;
			}
			kv = n;
			kv_cap = klen + (size_t)vlen;
		}
		if ((rc = sr_read(r, kv, klen + (size_t)vlen)) < 0)
			goto io;
		if (memchr(kv, '\0', klen) || jsonv_utf8(kv, klen, &off) < 0) {
			store_fmt(why, why_len, "entry %" PRIu64 ": invalid key", i);
			goto bad;
		}
		if (jsonv_validate(kv + klen, vlen, &off, &jwhy) < 0) {
			store_fmt(why, why_len, "entry %" PRIu64 ": value is not JSON (%s at byte %zu)", i, jwhy, off);
			goto bad;
		}
		if (s) {
			struct record *rec = record_new(kv, klen, kv + klen, vlen, version);
			if (!rec) {
				rc = -ENOMEM;
				store_fmt(why, why_len, "out of memory");
				goto out;
			}
			recs[nrecs++] = rec;
			if (prev && key_compare(record_key(prev), prev->key_len, kv, klen) >= 0) {
				store_fmt(why, why_len, "entry %" PRIu64 ": keys out of order", i);
				goto bad;
			}
			prev = rec;
			hash = rec->hash;
		} else {
			hash = digest_entry(kv, klen, version, kv + klen, vlen);
			if (i > 0 && key_compare(prevkey, prevlen, kv, klen) >= 0) {
				store_fmt(why, why_len, "entry %" PRIu64 ": keys out of order", i);
				goto bad;
			}
			memcpy(prevkey, kv, klen);
			prevlen = klen;
		}
		digest += hash;
	}
	for (uint64_t i = 0; i < sum->reqids; i++) {
		unsigned char id[STORE_REQID_MAX];
		uint16_t len;
		uint64_t version, time_ms;

		if ((rc = sr_read(r, ent, FMT_SNAPSHOT_REQID)) < 0)
			goto io;
		len = format_get16(ent);
		version = format_get64(ent + 8);
		time_ms = format_get64(ent + 16);
		if (len == 0 || len > STORE_REQID_MAX || format_get16(ent + 2) != 0 ||
		    format_get32(ent + 4) != 0 || version > sum->seq) {
			store_fmt(why, why_len, "request id %" PRIu64 ": bad length or version", i);
			goto bad;
		}
		if ((rc = sr_read(r, id, len)) < 0)
			goto io;
		if (s && time_ms >= horizon &&
		    reqid_add(&s->reqids, (const char *)id, len, version, time_ms) < 0) {
			/* A state without its request ids would apply retries twice. */
			rc = -ENOMEM;
			store_fmt(why, why_len, "out of memory");
			goto out;
		}
	}
	if (sr_left(r) != 0) {
		store_fmt(why, why_len, "%" PRIu64 " bytes after the last entry", sr_left(r));
		goto bad;
	}
	if ((rc = sr_take(r, crcb, sizeof(crcb))) < 0)
		goto io;
	if (format_get32(crcb) != r->crc) {
		store_fmt(why, why_len, "checksum mismatch");
		goto bad;
	}
	if (digest != sum->digest) {
		store_fmt(why, why_len, "digest of the entries %016" PRIx64 " differs from the header's %016" PRIx64,
		    digest, sum->digest);
		goto bad;
	}
	if (s) {
		if (table_load_sorted(s->table, recs, nrecs) < 0) {
			store_fmt(why, why_len, "keys out of order");
			goto bad;
		}
		nrecs = 0;
		s->applied_seq = sum->seq;
		s->epoch = sum->epoch;
		s->last_commit_time_ms = sum->time_ms;
		s->snapshot_seq = sum->seq;
	}
	rc = 0;
	goto out;
io:
	if (rc == -EPROTO || rc == -ENODATA) {
		store_fmt(why, why_len, "truncated (ends inside an entry)");
		rc = -STORE_EDAMAGED;
	} else {
		store_fmt(why, why_len, "%s", strerror(-rc));
	}
	goto out;
bad:
	rc = -STORE_EDAMAGED;
out:
	for (size_t i = 0; i < nrecs; i++)
		record_unref(recs[i]);
	free(recs);
	free(kv);
	return rc;
}

int snapshot_read(const char *path, struct store_state *s,
    unsigned reqid_retention_s, struct snapshot_summary *sum, char *why,
    size_t why_len)
{
	struct sreader r = { .fd = -1 };
	struct stat sb;
	int rc;

	memset(sum, 0, sizeof(*sum));
	for (int attempt = 0; attempt < 2; attempt++) {
		r.fd = durable_open_read(path, "store/load");
		if (r.fd >= 0 || errno != ESTALE)
			break;
	}
	if (r.fd < 0) {
		rc = -errno;
		store_fmt(why, why_len, "%s", strerror(-rc));
		return rc;
	}
	r.buf = FAULT_ALLOC("store/load/alloc", malloc(SNAPSHOT_CHUNK));
	if (!r.buf || fstat(r.fd, &sb) < 0) {
		rc = r.buf ? -errno : -ENOMEM;
		store_fmt(why, why_len, "%s", strerror(-rc));
	} else {
		rc = snapshot_decode(&r, (uint64_t)sb.st_size, s, reqid_retention_s,
		    sum, why, why_len);
	}
	free(r.buf);
	close(r.fd);
	return rc;
}

int snapshot_parse(const unsigned char *buf, size_t len, struct store_state *s,
    unsigned reqid_retention_s, struct snapshot_summary *sum, char *why,
    size_t why_len)
{
	struct sreader r = { .fd = -1, .mem = buf };

	return snapshot_decode(&r, len, s, reqid_retention_s, sum, why, why_len);
}

int snapshot_load_newest(struct store *st, struct store_state *s,
    uint64_t min_seq, char *msg, size_t msg_len, struct store_error *err)
{
	uint64_t *seqs, bad[8];
	size_t n, used = 0;
	unsigned nbad = 0;
	int rc;

	if (msg_len)
		msg[0] = '\0';
	rc = snapshot_list(st, &seqs, &n, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && seqs[i] >= min_seq; i++) {
		struct store_state tmp;
		struct snapshot_summary sum;
		char path[STORE_PATH_MAX], why[256], name[STORE_NAME_DIGITS + 1];

		format_name(name, seqs[i]);
		store_fmt(path, sizeof(path), "%s/%s", st->snapshots_dir, name);
		rc = journal_state_init(&tmp);
		if (rc < 0) {
			store_seterr(err, rc, "%s: out of memory loading it", path);
			break;
		}
		rc = snapshot_read(path, &tmp, store_reqid_retention(st), &sum, why, sizeof(why));
		if (rc == 0 && sum.seq != seqs[i]) {
			store_fmt(why, sizeof(why), "holds seq %" PRIu64 ", not the one in its name", sum.seq);
			rc = -STORE_EDAMAGED;
		}
		if (rc == 0) {
			journal_state_free(s);
			*s = tmp;
			break;
		}
		journal_state_free(&tmp);
		if (rc == -STORE_EDAMAGED && nbad < sizeof(bad) / sizeof(bad[0]))
			bad[nbad++] = seqs[i];
		if (rc == -ENOMEM) {
			store_seterr(err, rc, "%s: out of memory loading it", path);
			break;
		}
		if (used < msg_len) {
			int k = store_fmt(msg + used, msg_len - used, "%s%s: %s (skipped for an older one)",
			    used ? "; " : "", path, why);
			if (k > 0)
				used += (size_t)k;
		}
		rc = 0;
	}
	free(seqs);
	memcpy(s->bad_snapshots, bad, nbad * sizeof(bad[0]));
	s->nbad_snapshots = nbad;
	return rc;
}

int snapshot_quarantine_damaged(struct store *st, struct store_error *err)
{
	struct store_state *s = &st->state;
	int rc = 0;

	for (unsigned i = 0; i < s->nbad_snapshots && rc == 0; i++) {
		char path[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1], why[256];
		struct snapshot_summary sum;

		format_name(name, s->bad_snapshots[i]);
		store_fmt(path, sizeof(path), "%s/%s", st->snapshots_dir, name);
		/* Look again: only a file that is still damaged moves. */
		if (snapshot_read(path, NULL, 1, &sum, why, sizeof(why)) != -STORE_EDAMAGED)
			continue;
		rc = journal_quarantine(st, FMT_SNAPSHOTS_DIR, name, "damaged", err);
	}
	if (rc == 0)
		s->nbad_snapshots = 0;
	return rc;
}

/* ---- writing ---- */

struct swriter {
	struct durable d;
	unsigned char *buf;
	size_t len;
	uint32_t crc;
};

static int sw_flush(struct swriter *w, struct store_error *err)
{
	int rc;

	if (w->len == 0)
		return 0;
	w->crc = crc32c(w->crc, w->buf, w->len);
	rc = durable_append(&w->d, w->buf, w->len, err);
	w->len = 0;
	return rc;
}

static int sw_add(struct swriter *w, const void *data, size_t len,
    struct store_error *err)
{
	int rc;

	if (w->len + len > SNAPSHOT_CHUNK) {
		rc = sw_flush(w, err);
		if (rc < 0)
			return rc;
	}
	if (len > SNAPSHOT_CHUNK) {
		w->crc = crc32c(w->crc, data, len);
		return durable_append(&w->d, data, len, err);
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
	return 0;
}

int store_snapshot(struct store *st, uint64_t *seq, struct store_error *err)
{
	struct record **recs = NULL;
	unsigned char *reqbuf = NULL, hdr[FMT_SNAPSHOT_HEADER], ent[FMT_SNAPSHOT_ENTRY], crcb[4];
	size_t nrecs = 0, reqlen = 0;
	uint64_t reqcount = 0, snap_seq, epoch, digest, time_ms;
	char name[STORE_NAME_DIGITS + 1], path[STORE_PATH_MAX];
	struct swriter w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.d.fd = -1;
	if (st->opt.read_only) {
		store_seterr(err, -EROFS, "%s: opened read-only", st->dir);
		return -EROFS;
	}
	pthread_rwlock_rdlock(&st->lock);
	if (st->blocked == -STORE_EDIGEST) {
		/* Never write down a state that disagrees with the writer's. */
		pthread_rwlock_unlock(&st->lock);
		store_seterr(err, -STORE_EDIGEST, "%s: no snapshot of a state that failed its digest check (%s); reload first",
		    st->snapshots_dir, st->blocked_file);
		return -STORE_EDIGEST;
	}
	rc = table_cut(st->state.table, &recs, &nrecs);
	if (rc == 0)
		rc = reqid_serialize(&st->state.reqids, &reqbuf, &reqlen, &reqcount);
	snap_seq = st->state.applied_seq;
	epoch = st->state.epoch;
	digest = table_digest(st->state.table);
	time_ms = st->state.last_commit_time_ms;
	pthread_rwlock_unlock(&st->lock);
	if (rc < 0) {
		store_seterr(err, rc, "%s: out of memory taking the cut", st->snapshots_dir);
		goto out;
	}
	if (seq)
		*seq = snap_seq;
	if (snap_seq == 0)
		goto out;     /* nothing written yet: the empty state needs no file */
	format_name(name, snap_seq);
	store_fmt(path, sizeof(path), "%s/%s", st->snapshots_dir, name);
	if (access(path, F_OK) == 0)
		goto done;
	w.buf = FAULT_ALLOC("store/snapshot/alloc", malloc(SNAPSHOT_CHUNK));
	if (!w.buf) {
		rc = -ENOMEM;
		store_seterr(err, rc, "%s: out of memory", path);
		goto out;
	}
	rc = durable_begin(&w.d, st->snapshots_dir, name, "store/snapshot", err);
	if (rc < 0)
		goto out;
	memcpy(hdr, FMT_SNAPSHOT_MAGIC, 8);
	format_put32(hdr + 8, FMT_VERSION);
	format_put32(hdr + 12, 0);
	format_put64(hdr + 16, snap_seq);
	format_put64(hdr + 24, epoch);
	format_put64(hdr + 32, time_ms);
	format_put64(hdr + 40, digest);
	format_put64(hdr + 48, nrecs);
	format_put64(hdr + 56, reqcount);
	rc = sw_add(&w, hdr, sizeof(hdr), err);
	for (size_t i = 0; rc == 0 && i < nrecs; i++) {
		struct record *r = recs[i];

		format_put32(ent, r->key_len);
		format_put32(ent + 4, r->value_len);
		format_put64(ent + 8, r->version);
		rc = sw_add(&w, ent, sizeof(ent), err);
		if (rc == 0)
			rc = sw_add(&w, record_key(r), r->key_len, err);
		if (rc == 0)
			rc = sw_add(&w, record_value(r), r->value_len, err);
	}
	if (rc == 0)
		rc = sw_add(&w, reqbuf, reqlen, err);
	if (rc == 0)
		rc = sw_flush(&w, err);
	if (rc == 0) {
		format_put32(crcb, w.crc);
		rc = durable_append(&w.d, crcb, sizeof(crcb), err);
	}
	if (rc < 0) {
		durable_abort(&w.d);
		goto out;
	}
	/* Release the records before the slow part is over: the cut is
	 * written, and the references kept old values alive meanwhile. */
	table_cut_free(recs, nrecs);
	recs = NULL;
	rc = durable_commit(&w.d, &st->link_mode, err);
	if (rc == -EEXIST)
		rc = 0;       /* another host wrote the same cut */
	if (rc < 0)
		goto out;
done:
	pthread_rwlock_wrlock(&st->lock);
	if (snap_seq > st->state.snapshot_seq)
		st->state.snapshot_seq = snap_seq;
	pthread_rwlock_unlock(&st->lock);
out:
	if (recs)
		table_cut_free(recs, nrecs);
	free(reqbuf);
	free(w.buf);
	return rc;
}

/* ---- compaction ---- */

int store_compact(struct store *st, struct store_error *err)
{
	uint64_t *snaps = NULL, valid[2] = { 0, 0 }, bound, now = store_realtime_ms();
	uint64_t retention_ms = (uint64_t)(st->opt.journal_retention_s ? st->opt.journal_retention_s : 60) * 1000;
	unsigned keep = st->opt.snapshot_keep ? st->opt.snapshot_keep : 3;
	size_t n = 0, nvalid = 0;
	DIR *d = NULL;
	struct dirent *de;
	uint64_t *jseqs = NULL;
	size_t jn = 0, jcap = 0;
	int rc, removed = 0, removed_snaps = 0;

	if (!st->writer) {
		store_seterr(err, -STORE_ENOTWRITER, "%s: only the writer compacts", st->dir);
		return -STORE_ENOTWRITER;
	}
	/* The snapshot bounding compaction and the newest one stay, whatever
	 * snapshot_keep says, so a damaged newest one can fall back. */
	if (keep < 2)
		keep = 2;
	rc = snapshot_list(st, &snaps, &n, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && nvalid < 2; i++) {
		struct snapshot_summary sum;
		char path[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1], why[256];

		format_name(name, snaps[i]);
		store_fmt(path, sizeof(path), "%s/%s", st->snapshots_dir, name);
		if (snapshot_read(path, NULL, 1, &sum, why, sizeof(why)) == 0 && sum.seq == snaps[i])
			valid[nvalid++] = snaps[i];
	}
	if (nvalid < 2)
		goto snapshots;
	bound = valid[1];

	d = durable_opendir(st->journal_dir, "store/compact");
	if (!d) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", st->journal_dir, strerror(-rc));
		goto out;
	}
	while ((rc = durable_readdir(d, &de, "store/compact")) > 0) {
		uint64_t seq;

		if (!format_parse_name(de->d_name, &seq) || seq > bound)
			continue;
		if (jn == jcap) {
			uint64_t *nv;
			jcap = jcap ? jcap * 2 : 64;
			nv = realloc(jseqs, jcap * sizeof(*nv));
			if (!nv) {
				rc = -ENOMEM;
				store_seterr(err, rc, "%s: out of memory", st->journal_dir);
				goto out;
			}
			jseqs = nv;
		}
		jseqs[jn++] = seq;
	}
	closedir(d);
	d = NULL;
	if (rc < 0) {
		/* Removing from half a listing could leave a hole in what stays. */
		store_seterr(err, rc, "%s: listing: %s", st->journal_dir, strerror(-rc));
		goto out;
	}
	if (jn > 1)
		qsort(jseqs, jn, sizeof(*jseqs), cmp_desc);   /* jseqs is NULL when jn is 0 */
	/* Oldest first, so what remains is always a contiguous journal. */
	for (size_t i = jn; i-- > 0;) {
		char path[STORE_PATH_MAX], why[256];
		unsigned char hdr[FMT_BATCH_HEADER];
		struct batch_header h;
		int fd;

		journal_path(st, jseqs[i], path, sizeof(path));
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			break;
		rc = durable_read_all(fd, hdr, sizeof(hdr), "store/compact");
		close(fd);
		if (rc < 0 || format_batch_header_check(hdr, jseqs[i], &h, why, sizeof(why)) < 0) {
			rc = 0;
			break;        /* leave anything odd for verify to report */
		}
		if (h.last_seq > bound || now < h.commit_time_ms || now - h.commit_time_ms < retention_ms)
			break;
		if (unlink(path) < 0) {
			rc = -errno;
			store_seterr(err, rc, "%s: removing: %s", path, strerror(-rc));
			goto out;
		}
		removed++;
	}
	if (removed) {
		rc = durable_fsync_dir(st->journal_dir, "store/compact", err);
		if (rc < 0)
			goto out;
	}
snapshots:
	for (size_t i = keep; i < n; i++) {
		char path[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1];

		if (snaps[i] == valid[0] || snaps[i] == valid[1])
			continue;
		/* Only snapshots older than the compaction bound may go: a
		 * journal still reaching below them is not yet removed. */
		if (nvalid < 2 || snaps[i] >= valid[1])
			continue;
		format_name(name, snaps[i]);
		store_fmt(path, sizeof(path), "%s/%s", st->snapshots_dir, name);
		if (unlink(path) < 0) {
			rc = -errno;
			store_seterr(err, rc, "%s: removing: %s", path, strerror(-rc));
			goto out;
		}
		removed_snaps++;
	}
	rc = 0;
	if (removed_snaps) {
		rc = durable_fsync_dir(st->snapshots_dir, "store/compact", err);
		if (rc < 0)
			goto out;
	}
	rc = removed + removed_snaps;
out:
	if (d)
		closedir(d);
	free(jseqs);
	free(snaps);
	return rc;
}
