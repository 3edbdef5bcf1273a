/*
 * restore.c: a new store's state from a backup (`ssfm restore`), written as
 * the store's one snapshot, snapshots/SEQ, with the keys' own versions.
 *
 * Why a snapshot and not writes through the committer: a write takes the
 * next sequence number as the key's version and needs an epoch, while a
 * restore must give back every key at its version and go on from the
 * backup's sequence number; and the lease of the new store starts afresh,
 * so no epoch may be written down before its first writer seals one.  The
 * snapshot records epoch 0: whichever lease version the first active gets,
 * its seal at SEQ + 1 is newer.
 *
 * The file is streamed (memory does not grow with the number of keys); its
 * header, which holds the digest and the count, is written last, in place,
 * and the CRC is then taken over the file as it is on disk.  Nothing is
 * visible under the final name until store_restore_finish has checked
 * everything and made it durable.
 */
#include "store_int.h"
#include "checksum.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESTORE_CHUNK (1u << 20)

struct store_restore {
	struct store st;             /* paths and identity only (store_prepare) */
	struct durable d;
	int open;                    /* d holds a temporary */
	unsigned char *buf;
	size_t len;
	uint64_t seq, count, digest;
	char last[STORE_KEY_MAX];
	size_t last_len;
};

/* 0 if dir holds nothing but "." and "..", else -EEXIST naming what it holds. */
static int restore_dir_empty(const char *dir, struct store_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (d == NULL) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = -EEXIST;
		store_seterr(err, rc, "%s holds %s: a restore goes into a new store only",
		    dir, de->d_name);
		break;
	}
	closedir(d);
	return rc;
}

int store_restore_begin(const char *dir, uint64_t seq,
    struct store_restore **out, struct store_error *err)
{
	struct store_restore *r = calloc(1, sizeof(*r));
	char name[STORE_NAME_DIGITS + 1];
	int rc;

	*out = NULL;
	if (r == NULL) {
		store_seterr(err, -ENOMEM, "%s: out of memory", dir);
		return -ENOMEM;
	}
	r->d.fd = -1;
	r->seq = seq;
	rc = store_prepare(&r->st, dir, err);
	if (rc == 0)
		rc = restore_dir_empty(r->st.journal_dir, err);
	if (rc == 0)
		rc = restore_dir_empty(r->st.snapshots_dir, err);
	if (rc == 0)
		rc = restore_dir_empty(r->st.epochs_dir, err);
	if (rc < 0)
		goto fail;
	r->buf = malloc(RESTORE_CHUNK + FMT_SNAPSHOT_HEADER);
	if (r->buf == NULL) {
		rc = -ENOMEM;
		store_seterr(err, rc, "%s: out of memory", dir);
		goto fail;
	}
	if (seq > 0) {
		format_name(name, seq);
		rc = durable_begin(&r->d, r->st.snapshots_dir, name, "store/restore", err);
		if (rc < 0)
			goto fail;
		r->open = 1;
		/* The header's place; its contents are known at the end. */
		memset(r->buf, 0, FMT_SNAPSHOT_HEADER);
		r->len = FMT_SNAPSHOT_HEADER;
	}
	*out = r;
	return 0;
fail:
	store_restore_abort(r);
	return rc;
}

static int restore_flush(struct store_restore *r, struct store_error *err)
{
	int rc = 0;

	if (r->len > 0)
		rc = durable_append(&r->d, r->buf, r->len, err);
	r->len = 0;
	return rc;
}

int store_restore_add(struct store_restore *r, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version,
    struct store_error *err)
{
	char q[80];
	int rc;

	/* Messages name the key: up to 64 bytes of it. */
	store_fmt(q, sizeof(q), "\"%.*s%s\"", (int)(key_len > 64 ? 64 : key_len), key,
	    key_len > 64 ? "..." : "");
	rc = store_check_key(key, key_len, err);
	if (rc == 0)
		rc = store_check_value(value, value_len, UINT32_MAX, err);
	if (rc < 0) {
		char why[sizeof(err->msg)];
		store_fmt(why, sizeof(why), "%s", err->msg);
		store_seterr(err, rc, "key %s: %s", q, why);
		return rc;
	}
	if (version == 0 || version > r->seq) {
		store_seterr(err, -STORE_EVALUE, "key %s: version %" PRIu64 " is not in 1..%" PRIu64 " (the backup's sequence number)",
		    q, version, r->seq);
		return -STORE_EVALUE;
	}
	if (r->count > 0 && key_compare(r->last, r->last_len, key, key_len) >= 0) {
		store_seterr(err, -STORE_EKEY, "key %s: not after the key before it (keys must be in strictly ascending byte order)",
		    q);
		return -STORE_EKEY;
	}
	memcpy(r->last, key, key_len);
	r->last_len = key_len;

	if (r->len + FMT_SNAPSHOT_ENTRY + key_len + value_len > RESTORE_CHUNK) {
		rc = restore_flush(r, err);
		if (rc < 0)
			return rc;
	}
	unsigned char ent[FMT_SNAPSHOT_ENTRY];
	format_put32(ent, (uint32_t)key_len);
	format_put32(ent + 4, (uint32_t)value_len);
	format_put64(ent + 8, version);
	if (FMT_SNAPSHOT_ENTRY + key_len + value_len > RESTORE_CHUNK) {
		/* A value larger than the buffer goes straight out. */
		if ((rc = durable_append(&r->d, ent, sizeof(ent), err)) < 0 ||
		    (rc = durable_append(&r->d, key, key_len, err)) < 0 ||
		    (rc = durable_append(&r->d, value, value_len, err)) < 0)
			return rc;
	} else {
		memcpy(r->buf + r->len, ent, sizeof(ent));
		memcpy(r->buf + r->len + sizeof(ent), key, key_len);
		memcpy(r->buf + r->len + sizeof(ent) + key_len, value, value_len);
		r->len += sizeof(ent) + key_len + value_len;
	}
	r->count++;
	r->digest += digest_entry(key, key_len, version, value, value_len);
	return 0;
}

uint64_t store_restore_digest(const struct store_restore *r)
{
	return r->digest;
}

uint64_t store_restore_count(const struct store_restore *r)
{
	return r->count;
}

/* The CRC of the whole temporary as it is on disk (read through a
 * descriptor of its own: the durable one is write-only). */
static int restore_crc(struct store_restore *r, uint32_t *crc, struct store_error *err)
{
	int fd = open(r->d.tmp, O_RDONLY | O_CLOEXEC), rc = 0;

	*crc = 0;
	if (fd < 0) {
		rc = -errno;
		store_seterr(err, rc, "%s: open to read back: %s", r->d.tmp, strerror(-rc));
		return rc;
	}
	for (;;) {
		ssize_t n = read(fd, r->buf, RESTORE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			store_seterr(err, rc, "%s: read back: %s", r->d.tmp, strerror(-rc));
			break;
		}
		if (n == 0)
			break;
		*crc = crc32c(*crc, r->buf, (size_t)n);
	}
	close(fd);
	return rc;
}

int store_restore_finish(struct store_restore *r, struct store_error *err)
{
	unsigned char hdr[FMT_SNAPSHOT_HEADER], crcb[FMT_TRAILER];
	uint32_t crc;
	int rc;

	if (!r->open) {
		/* seq 0: the empty state, which needs no file. */
		store_restore_abort(r);
		return 0;
	}
	rc = restore_flush(r, err);
	if (rc < 0)
		goto out;
	memcpy(hdr, FMT_SNAPSHOT_MAGIC, 8);
	format_put32(hdr + 8, FMT_VERSION);
	format_put32(hdr + 12, 0);
	format_put64(hdr + 16, r->seq);
	format_put64(hdr + 24, 0);      /* no epoch yet: see the top of this file */
	format_put64(hdr + 32, store_realtime_ms());
	format_put64(hdr + 40, r->digest);
	format_put64(hdr + 48, r->count);
	format_put64(hdr + 56, 0);      /* request ids belong to the old store */
	ssize_t n = pwrite(r->d.fd, hdr, sizeof(hdr), 0);
	if (n != (ssize_t)sizeof(hdr)) {
		rc = n < 0 ? -errno : -EIO;
		store_seterr(err, rc, "%s: writing the header: %s", r->d.tmp, strerror(-rc));
		goto out;
	}
	rc = restore_crc(r, &crc, err);
	if (rc < 0)
		goto out;
	format_put32(crcb, crc);
	rc = durable_append(&r->d, crcb, sizeof(crcb), err);
	if (rc < 0)
		goto out;
	rc = durable_commit(&r->d, &r->st.link_mode, err);
	r->open = 0;
out:
	store_restore_abort(r);
	return rc;
}

void store_restore_abort(struct store_restore *r)
{
	if (r == NULL)
		return;
	if (r->open)
		durable_abort(&r->d);
	free(r->buf);
	free(r);
}
