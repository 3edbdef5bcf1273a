/* storeutil.c: shared code of the store's acceptance tests (see storeutil.h). */
#include "storeutil.h"
#include "format.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- checksums and digest ------------------------------------------------ */

uint32_t su_crc32c(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return crc ^ 0xFFFFFFFFu;
}

static uint64_t su_rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

uint64_t su_hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ ((uint64_t)len * 0x9E3779B97F4A7C15ull);

	for (size_t off = 0; off < len; off += 8) {
		uint64_t w = 0;
		for (size_t i = 0; i < 8 && off + i < len; i++)
			w |= (uint64_t)p[off + i] << (8 * i);
		h = su_rotl64(h ^ (w * 0xBF58476D1CE4E5B9ull), 31) * 0x94D049BB133111EBull;
	}
	h ^= h >> 30;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 27;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 31;
	return h;
}

uint64_t su_digest_entry(const char *key, size_t key_len, uint64_t version,
    const char *value, size_t value_len)
{
	return su_hash64(value, value_len, su_hash64(key, key_len, version));
}

uint16_t su_get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t su_get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

uint64_t su_get_le64(const unsigned char *p)
{
	return (uint64_t)su_get_le32(p) | (uint64_t)su_get_le32(p + 4) << 32;
}

void su_put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

void su_put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void su_put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void su_fix_crc(unsigned char *buf, size_t len)
{
	if (len >= FMT_TRAILER)
		su_put_le32(buf + len - FMT_TRAILER, su_crc32c(buf, len - FMT_TRAILER));
}

int su_crc_ok(const unsigned char *buf, size_t len)
{
	return len >= FMT_TRAILER &&
	    su_get_le32(buf + len - FMT_TRAILER) == su_crc32c(buf, len - FMT_TRAILER);
}

/* ---- paths ---------------------------------------------------------------- */

void su_seq_name(char *out, size_t out_len, uint64_t seq)
{
	snprintf(out, out_len, "%020" PRIu64, seq);
}

void su_journal_path(char *out, size_t out_len, const char *dir, uint64_t seq)
{
	snprintf(out, out_len, "%s/%s/%020" PRIu64, dir, FMT_JOURNAL_DIR, seq);
}

void su_snapshot_path(char *out, size_t out_len, const char *dir, uint64_t seq)
{
	snprintf(out, out_len, "%s/%s/%020" PRIu64, dir, FMT_SNAPSHOTS_DIR, seq);
}

void su_epoch_path(char *out, size_t out_len, const char *dir, uint64_t epoch)
{
	snprintf(out, out_len, "%s/%s/%020" PRIu64, dir, FMT_EPOCHS_DIR, epoch);
}

void su_path(char *out, size_t out_len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, out_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= out_len)
		tap_bail("path too long: %s...", out);
}

const char *su_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* ---- batch files -------------------------------------------------------- */

static int su_why(char *why, size_t why_len, int code, const char *fmt, ...)
    TAP_PRINTF(4, 5);

static int su_why(char *why, size_t why_len, int code, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && why_len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return code;
}

int su_batch_parse(const unsigned char *buf, size_t len, struct su_batch *b,
    char *why, size_t why_len)
{
	size_t off;

	memset(b, 0, sizeof(*b));
	if (len < FMT_BATCH_HEADER + FMT_TRAILER)
		return su_why(why, why_len, -EBADMSG, "%zu bytes: shorter than a header", len);
	if (memcmp(buf, FMT_BATCH_MAGIC, 8) != 0)
		return su_why(why, why_len, -EBADMSG, "bad magic");
	b->version = su_get_le32(buf + 8);
	b->kind = su_get_le32(buf + 12);
	b->epoch = su_get_le64(buf + 16);
	b->first_seq = su_get_le64(buf + 24);
	b->last_seq = su_get_le64(buf + 32);
	b->count = su_get_le32(buf + 40);
	b->commit_time_ms = su_get_le64(buf + 48);
	b->digest = su_get_le64(buf + 56);
	b->payload_len = su_get_le64(buf + 64);
	if (b->payload_len != len - FMT_BATCH_HEADER - FMT_TRAILER)
		return su_why(why, why_len, -EBADMSG, "size %zu is not 76 + payload_len %" PRIu64,
		    len, b->payload_len);
	if (!su_crc_ok(buf, len))
		return su_why(why, why_len, -EBADMSG, "CRC-32C mismatch");
	if (b->version != FMT_VERSION)
		return su_why(why, why_len, -EBADMSG, "format version %u", b->version);
	if (b->kind != FMT_KIND_OPS && b->kind != FMT_KIND_SEAL)
		return su_why(why, why_len, -EBADMSG, "kind %u", b->kind);
	if (b->count == 0 || b->last_seq != b->first_seq + b->count - 1)
		return su_why(why, why_len, -EBADMSG, "range %" PRIu64 "..%" PRIu64 " with count %u",
		    b->first_seq, b->last_seq, b->count);
	if (b->kind == FMT_KIND_SEAL && b->count != 1)
		return su_why(why, why_len, -EBADMSG, "seal batch with %u records", b->count);
	b->rec = calloc(b->count, sizeof(*b->rec));
	if (b->rec == NULL)
		return -ENOMEM;
	off = FMT_BATCH_HEADER;
	for (uint32_t i = 0; i < b->count; i++) {
		struct su_record *r = &b->rec[i];
		size_t end = len - FMT_TRAILER;
		if (end - off < FMT_RECORD_HEADER) {
			su_batch_free(b);
			return su_why(why, why_len, -EBADMSG, "record %u: header past the payload", i);
		}
		r->op = buf[off];
		r->reqid_len = su_get_le16(buf + off + 2);
		r->key_len = su_get_le32(buf + off + 4);
		r->value_len = su_get_le32(buf + off + 8);
		off += FMT_RECORD_HEADER;
		if (end - off < r->key_len + r->value_len + r->reqid_len) {
			su_batch_free(b);
			return su_why(why, why_len, -EBADMSG, "record %u: data past the payload", i);
		}
		r->key = (const char *)buf + off;
		r->value = (const char *)buf + off + r->key_len;
		r->reqid = (const char *)buf + off + r->key_len + r->value_len;
		off += r->key_len + r->value_len + r->reqid_len;
		if (r->op < 1 || r->op > 3 || (r->op == 3) != (b->kind == FMT_KIND_SEAL)) {
			su_batch_free(b);
			return su_why(why, why_len, -EBADMSG, "record %u: op %u in a batch of kind %u",
			    i, r->op, b->kind);
		}
	}
	b->nrec = b->count;
	if (off != len - FMT_TRAILER) {
		su_batch_free(b);
		return su_why(why, why_len, -EBADMSG, "%zu bytes after the last record",
		    len - FMT_TRAILER - off);
	}
	return 0;
}

void su_batch_free(struct su_batch *b)
{
	free(b->rec);
	b->rec = NULL;
	b->nrec = 0;
}

unsigned char *su_batch_build(const struct su_batch *b, int keep_header_fields,
    size_t *len)
{
	size_t payload = 0, off;
	unsigned char *buf;

	for (size_t i = 0; i < b->nrec; i++)
		payload += FMT_RECORD_HEADER + b->rec[i].key_len +
		    b->rec[i].value_len + b->rec[i].reqid_len;
	*len = FMT_BATCH_HEADER + payload + FMT_TRAILER;
	buf = calloc(1, *len);
	if (buf == NULL)
		tap_bail("out of memory");
	memcpy(buf, FMT_BATCH_MAGIC, 8);
	su_put_le32(buf + 8, b->version ? b->version : FMT_VERSION);
	su_put_le32(buf + 12, b->kind);
	su_put_le64(buf + 16, b->epoch);
	su_put_le64(buf + 24, b->first_seq);
	if (keep_header_fields) {
		su_put_le64(buf + 32, b->last_seq);
		su_put_le32(buf + 40, b->count);
	} else {
		su_put_le64(buf + 32, b->first_seq + b->nrec - 1);
		su_put_le32(buf + 40, (uint32_t)b->nrec);
	}
	su_put_le64(buf + 48, b->commit_time_ms);
	su_put_le64(buf + 56, b->digest);
	su_put_le64(buf + 64, payload);
	off = FMT_BATCH_HEADER;
	for (size_t i = 0; i < b->nrec; i++) {
		const struct su_record *r = &b->rec[i];
		buf[off] = (unsigned char)r->op;
		su_put_le16(buf + off + 2, (uint16_t)r->reqid_len);
		su_put_le32(buf + off + 4, (uint32_t)r->key_len);
		su_put_le32(buf + off + 8, (uint32_t)r->value_len);
		off += FMT_RECORD_HEADER;
		memcpy(buf + off, r->key, r->key_len);
		off += r->key_len;
		if (r->value_len)
			memcpy(buf + off, r->value, r->value_len);
		off += r->value_len;
		if (r->reqid_len)
			memcpy(buf + off, r->reqid, r->reqid_len);
		off += r->reqid_len;
	}
	su_fix_crc(buf, *len);
	return buf;
}

int su_batch_read(const char *dir, uint64_t seq, unsigned char **buf,
    size_t *len, struct su_batch *b, char *why, size_t why_len)
{
	char path[PATH_MAX];
	int rc;

	su_journal_path(path, sizeof(path), dir, seq);
	*buf = (unsigned char *)tu_read_file(path, len);
	if (*buf == NULL)
		return su_why(why, why_len, -errno ? -errno : -EIO, "%s: %s", path, strerror(errno));
	rc = su_batch_parse(*buf, *len, b, why, why_len);
	if (rc == 0 && b->first_seq != seq)
		rc = su_why(why, why_len, -EBADMSG, "%s: first_seq %" PRIu64, path, b->first_seq);
	if (rc < 0) {
		su_batch_free(b);
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

/* ---- states ------------------------------------------------------------- */

void su_state_init(struct su_state *s)
{
	memset(s, 0, sizeof(*s));
}

void su_state_free(struct su_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	su_state_init(s);
}

static char *su_memdup(const char *p, size_t len)
{
	char *c = malloc(len + 1);

	if (c == NULL)
		tap_bail("out of memory");
	if (len)
		memcpy(c, p, len);
	c[len] = '\0';
	return c;
}

void su_state_add(struct su_state *s, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct su_kv *kv = realloc(s->kv, cap * sizeof(*kv));
		if (kv == NULL)
			tap_bail("out of memory");
		s->kv = kv;
		s->cap = cap;
	}
	s->kv[s->n].key = su_memdup(key, key_len);
	s->kv[s->n].key_len = key_len;
	s->kv[s->n].value = value ? su_memdup(value, value_len) : NULL;
	s->kv[s->n].value_len = value ? value_len : 0;
	s->kv[s->n].version = version;
	s->n++;
}

static int su_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int su_kv_cmp(const void *pa, const void *pb)
{
	const struct su_kv *a = pa, *b = pb;
	int c = su_key_cmp(a->key, a->key_len, b->key, b->key_len);

	if (c != 0)
		return c;
	return a->version < b->version ? -1 : a->version > b->version;
}

void su_state_reduce(struct su_state *s)
{
	size_t out = 0;

	qsort(s->kv, s->n, sizeof(*s->kv), su_kv_cmp);
	for (size_t i = 0; i < s->n; i++) {
		int last = i + 1 == s->n ||
		    su_key_cmp(s->kv[i].key, s->kv[i].key_len, s->kv[i + 1].key,
		    s->kv[i + 1].key_len) != 0;
		if (!last || s->kv[i].value == NULL) {
			free(s->kv[i].key);
			free(s->kv[i].value);
			continue;
		}
		s->kv[out++] = s->kv[i];
	}
	s->n = out;
}

const struct su_kv *su_state_find(const struct su_state *s, const char *key,
    size_t key_len)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = su_key_cmp(s->kv[mid].key, s->kv[mid].key_len, key, key_len);
		if (c == 0)
			return &s->kv[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int su_state_load_one(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	su_state_add(arg, key, key_len, value, value_len, version);
	return 0;
}

long su_state_load(struct store *st, struct su_state *s)
{
	return store_list(st, "", 0, NULL, 0, 0, su_state_load_one, s);
}

uint64_t su_state_digest(const struct su_state *s)
{
	uint64_t d = 0;

	for (size_t i = 0; i < s->n; i++)
		d += su_digest_entry(s->kv[i].key, s->kv[i].key_len, s->kv[i].version,
		    s->kv[i].value, s->kv[i].value_len);
	return d;
}

uint64_t su_store_digest(struct store *st)
{
	struct su_state s;
	uint64_t d;

	su_state_init(&s);
	if (su_state_load(st, &s) < 0)
		tap_diag("store_list failed while computing a digest");
	d = su_state_digest(&s);
	su_state_free(&s);
	return d;
}

size_t su_state_diff(const struct su_state *got, const struct su_state *want,
    const char *what)
{
	size_t i = 0, j = 0, diffs = 0;

	while (i < got->n || j < want->n) {
		int c;
		if (i == got->n)
			c = 1;
		else if (j == want->n)
			c = -1;
		else
			c = su_key_cmp(got->kv[i].key, got->kv[i].key_len,
			    want->kv[j].key, want->kv[j].key_len);
		if (c < 0) {
			if (diffs++ < 5)
				tap_diag("%s: unexpected key %s (version %" PRIu64 ")", what,
				    got->kv[i].key, got->kv[i].version);
			i++;
		} else if (c > 0) {
			if (diffs++ < 5)
				tap_diag("%s: missing key %s (version %" PRIu64 ")", what,
				    want->kv[j].key, want->kv[j].version);
			j++;
		} else {
			const struct su_kv *g = &got->kv[i], *w = &want->kv[j];
			if (g->version != w->version || g->value_len != w->value_len ||
			    memcmp(g->value, w->value, g->value_len) != 0) {
				if (diffs++ < 5)
					tap_diag("%s: key %s: got version %" PRIu64 " %.60s, want version %" PRIu64 " %.60s",
					    what, g->key, g->version, g->value, w->version, w->value);
			}
			i++;
			j++;
		}
	}
	if (diffs > 5)
		tap_diag("%s: %zu differences in all", what, diffs);
	return diffs;
}

int64_t su_replay_journal(const char *dir, struct su_state *s, char *why,
    size_t why_len)
{
	uint64_t seq = 1, epoch = 0, last_digest = 0;
	int64_t last = 0;

	for (;;) {
		unsigned char *buf;
		size_t len;
		struct su_batch b;
		char path[PATH_MAX];
		int rc;

		su_journal_path(path, sizeof(path), dir, seq);
		if (!tu_file_exists(path))
			break;
		rc = su_batch_read(dir, seq, &buf, &len, &b, why, why_len);
		if (rc < 0)
			return -1;
		if (b.kind == FMT_KIND_SEAL) {
			if (b.epoch <= epoch) {
				su_why(why, why_len, -1, "%s: seal of epoch %" PRIu64 " after epoch %" PRIu64,
				    path, b.epoch, epoch);
				goto bad;
			}
			epoch = b.epoch;
		} else if (b.epoch != epoch) {
			su_why(why, why_len, -1, "%s: batch of epoch %" PRIu64 " under epoch %" PRIu64,
			    path, b.epoch, epoch);
			goto bad;
		} else {
			for (size_t i = 0; i < b.nrec; i++) {
				const struct su_record *r = &b.rec[i];
				su_state_add(s, r->key, r->key_len, r->op == 1 ? r->value : NULL,
				    r->value_len, b.first_seq + i);
			}
		}
		last_digest = b.digest;
		last = (int64_t)b.last_seq;
		seq = b.last_seq + 1;
		su_batch_free(&b);
		free(buf);
		continue;
bad:
		su_batch_free(&b);
		free(buf);
		return -1;
	}
	su_state_reduce(s);
	if (last > 0 && su_state_digest(s) != last_digest) {
		su_why(why, why_len, -1, "digest of the replayed state %016" PRIx64
		    " differs from the last batch's %016" PRIx64, su_state_digest(s), last_digest);
		return -1;
	}
	return last;
}

/* ---- stores and values ---------------------------------------------------- */

void su_create(const char *dir)
{
	struct store_create_params p = { .group = "test", .io_timeout = 1 };
	struct store_error err = { 0 };
	int rc = store_create(dir, &p, &err);

	if (rc < 0)
		tap_bail("store_create %s: %s (%s)", dir, store_strerror(rc), err.msg);
}

struct store *su_open(const char *dir, const struct store_options *opt)
{
	struct store_options none = { 0 };
	struct store_error err = { 0 };
	struct store *st = NULL;
	int rc = store_open(dir, opt ? opt : &none, &st, &err);

	if (rc < 0)
		tap_bail("store_open %s: %s (%s)", dir, store_strerror(rc), err.msg);
	return st;
}

char *su_value(const char *key, uint64_t n, size_t pad)
{
	size_t cap = strlen(key) + pad + 64;
	char *v = malloc(cap);
	int head;

	if (v == NULL)
		tap_bail("out of memory");
	head = snprintf(v, cap, "{\"k\":\"%s\",\"n\":%" PRIu64 ",\"p\":\"", key, n);
	memset(v + head, 'x', pad);
	memcpy(v + head + pad, "\"}", 3);
	return v;
}

int su_put_keys(struct store *st, const char *prefix, unsigned first,
    unsigned count, uint64_t *versions)
{
	for (unsigned i = first; i < first + count; i++) {
		char key[256];
		struct store_error err = { 0 };
		uint64_t version = 0;
		char *value;
		int rc;

		snprintf(key, sizeof(key), "%s%04u", prefix, i);
		value = su_value(key, i, 8);
		rc = store_put(st, key, value, STORE_ANY_VERSION, &version, &err);
		free(value);
		if (rc < 0) {
			tap_diag("store_put %s: %s (%s)", key, store_strerror(rc), err.msg);
			return rc;
		}
		if (versions != NULL)
			versions[i - first] = version;
	}
	return 0;
}

/* ---- folders -------------------------------------------------------------- */

long su_list_dir(const char *dir, void (*fn)(void *arg, const char *name),
    void *arg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fn != NULL)
			fn(arg, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void su_count_dot(void *arg, const char *name)
{
	if (name[0] == '.')
		(*(long *)arg)++;
}

long su_count_temporaries(const char *dir)
{
	static const char *const sub[] = { FMT_JOURNAL_DIR, FMT_EPOCHS_DIR, FMT_SNAPSHOTS_DIR };
	long n = 0;

	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, sub[i]);
		su_list_dir(path, su_count_dot, &n);
	}
	return n;
}

static int su_tree_holds(const char *path, const void *data, size_t len, int depth)
{
	DIR *d;
	struct dirent *de;
	int found = 0;

	if (depth > 4 || (d = opendir(path)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		char sub[PATH_MAX];
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (lstat(sub, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			found = su_tree_holds(sub, data, len, depth + 1);
		} else if (S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
			size_t got;
			char *content = tu_read_file(sub, &got);
			found = content != NULL && got == len && memcmp(content, data, len) == 0;
			free(content);
		}
	}
	closedir(d);
	return found;
}

int su_quarantine_holds(const char *dir, const void *data, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, FMT_QUARANTINE_DIR);
	return su_tree_holds(path, data, len, 0);
}

/* ---- store_verify lines --------------------------------------------------- */

void su_lines_add(void *arg, const char *text)
{
	struct su_lines *l = arg;
	char **nl = realloc(l->line, (l->n + 1) * sizeof(*nl));

	if (nl == NULL)
		tap_bail("out of memory");
	l->line = nl;
	l->line[l->n++] = su_memdup(text, strlen(text));
}

int su_lines_have(const struct su_lines *l, const char *needle)
{
	for (size_t i = 0; i < l->n; i++)
		if (strstr(l->line[i], needle) != NULL)
			return 1;
	return 0;
}

void su_lines_print(const struct su_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		tap_diag("  verify: %s", l->line[i]);
}

void su_lines_free(struct su_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->line[i]);
	free(l->line);
	l->line = NULL;
	l->n = 0;
}
