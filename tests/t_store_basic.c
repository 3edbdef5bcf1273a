/*
 * t_store_basic: the store's API end to end on a real directory: round
 * trip, versions, compare-and-set, delete, list by prefix with paging,
 * reopen, seals and fencing between epochs, a follower, snapshots with
 * fallback, compaction, request-id deduplication, the ack_check refusal,
 * recovery of a damaged file, and verify.
 */
#include "store.h"
#include "checksum.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char base[1024];

static const char *path_in(const char *dir, const char *rel)
{
	static char buf[4][2048];
	static int which;
	char *p = buf[which++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, rel);
	return p;
}

static void make_store(const char *dir)
{
	struct store_create_params p = { .group = "grp1", .io_timeout = 2 };
	struct store_error err;

	if (store_create(dir, &p, &err) != 0)
		tap_bail("store_create %s: %s", dir, err.msg);
}

static struct store *open_store(const char *dir, const struct store_options *opt)
{
	struct store *st = NULL;
	struct store_error err;

	if (store_open(dir, opt, &st, &err) != 0)
		tap_bail("store_open %s: %s", dir, err.msg);
	return st;
}

static int count_dir(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && (!prefix || !strncmp(de->d_name, prefix, strlen(prefix))))
			n++;
	closedir(d);
	return n;
}

static int flip_byte(const char *path, size_t at)
{
	size_t len;
	char *buf = tu_read_file(path, &len);
	int rc;

	if (!buf || at >= len) {
		free(buf);
		return -1;
	}
	buf[at] ^= 0x20;
	/* Replace through a new file: the writer's files are read-only in spirit. */
	unlink(path);
	rc = tu_write_file(path, buf, len);
	free(buf);
	return rc;
}

static int get_is(struct store *st, const char *key, const char *want, uint64_t want_version)
{
	char *v = NULL;
	size_t len = 0;
	uint64_t ver = 0;
	int rc = store_get(st, key, strlen(key), &v, &len, &ver);
	int good = rc == 0 && len == strlen(want) && !strcmp(v, want) &&
	    (want_version == 0 || ver == want_version);

	if (!good)
		tap_diag("get %s: rc %d value %s version %" PRIu64, key, rc, v ? v : "(null)", ver);
	free(v);
	return good;
}

/* ---- list ---- */

struct list_acc {
	char keys[16][64];
	int n;
};

static int list_cb(void *arg, const char *key, size_t key_len, const char *value,
    size_t value_len, uint64_t version)
{
	struct list_acc *a = arg;

	(void)value;
	(void)value_len;
	(void)version;
	if (a->n < 16)
		snprintf(a->keys[a->n++], sizeof(a->keys[0]), "%.*s", (int)key_len, key);
	return 0;
}

static void test_create_open(void)
{
	char dir[1200], notstore[1200];
	struct store_create_params p = { .group = "grp1", .io_timeout = 2 };
	struct store_error err;
	struct store *st = NULL;
	int rc;

	snprintf(dir, sizeof(dir), "%s/create", base);
	make_store(dir);
	ok(tu_file_exists(path_in(dir, "ssfm-store")), "identity file written");
	ok(tu_file_exists(path_in(dir, "journal")) && tu_file_exists(path_in(dir, "quarantine")),
	    "journal/ and quarantine/ made");
	rc = store_create(dir, &p, &err);
	is_int(rc, -EEXIST, "store_create on an existing store: -EEXIST");

	snprintf(notstore, sizeof(notstore), "%s/notstore", base);
	mkdir(notstore, 0755);
	rc = store_open(notstore, NULL, &st, &err);
	is_int(rc, -STORE_ENOTSTORE, "open of a directory without identity: ENOTSTORE");
	ok(strstr(err.msg, "ssfm init") != NULL && strstr(err.msg, notstore) != NULL,
	    "message names the directory and `ssfm init`: %s", err.msg);

	/* A future format version. */
	{
		char fdir[1200];
		const char *text = "ssfm-store = 7\ngroup = g\nio_timeout = 1\ncreated = 1\ncrc32c = 00000000\n";
		snprintf(fdir, sizeof(fdir), "%s/future", base);
		mkdir(fdir, 0755);
		tu_write_file(path_in(fdir, "ssfm-store"), text, strlen(text));
		rc = store_open(fdir, NULL, &st, &err);
		is_int(rc, -STORE_EFORMAT, "unknown format version: EFORMAT");
		ok(strstr(err.msg, "7") && strstr(err.msg, "1"), "names both versions: %s", err.msg);
	}
	p.group = "bad/name";
	snprintf(notstore, sizeof(notstore), "%s/badgroup", base);
	is_int(store_create(notstore, &p, &err), -EINVAL, "group with '/' refused");
}

static void test_writes(void)
{
	char dir[1200];
	struct store *st, *st2;
	struct store_error err;
	struct store_seal_info seal;
	struct store_write_req req;
	struct store_write_result res;
	struct store_info info, info2;
	struct list_acc acc;
	uint64_t v1, v2, seq;
	int rc;

	snprintf(dir, sizeof(dir), "%s/writes", base);
	make_store(dir);
	st = open_store(dir, NULL);

	rc = store_put(st, "k", "1", STORE_ANY_VERSION, &v1, &err);
	is_int(rc, -STORE_ENOTWRITER, "put before begin_epoch: ENOTWRITER");

	rc = store_begin_epoch(st, 1, "hostA", 1, &seal, &err);
	is_int(rc, 0, "begin_epoch 1: %s", rc ? err.msg : "ok");
	is_int(seal.start_seq, 1, "seal takes seq 1");
	ok(tu_file_exists(path_in(dir, "epochs/00000000000000000001")), "epochs/ file written");

	rc = store_put(st, "a/1", "{\"x\":1}", STORE_ANY_VERSION, &v1, &err);
	is_int(rc, 0, "put a/1");
	is_int(v1, 2, "version is the seq (2, after the seal)");
	ok(get_is(st, "a/1", "{\"x\":1}", 2), "get a/1 round trip");

	rc = store_put(st, "a/1", "2", 0, &v2, &err);
	is_int(rc, -STORE_ECONFLICT, "put with expected 0 on an existing key: conflict");
	memset(&req, 0, sizeof(req));
	req.kind = STORE_OP_PUT;
	req.key = "a/1";
	req.key_len = 3;
	req.value = "3";
	req.value_len = 1;
	req.expected_version = 99;
	rc = store_write(st, &req, &res);
	is_int(rc, -STORE_ECONFLICT, "put with a wrong expected version: conflict");
	is_int(res.current_version, v1, "conflict reports the current version");
	req.expected_version = (int64_t)v1;
	rc = store_write(st, &req, &res);
	is_int(rc, 0, "put with the right expected version");
	is_int(res.version, v1 + 1, "new version");
	ok(get_is(st, "a/1", "3", v1 + 1), "value replaced");

	rc = store_del(st, "nope", STORE_ANY_VERSION, &seq, &err);
	is_int(rc, -STORE_ENOTFOUND, "delete of an absent key: ENOTFOUND");
	rc = store_del(st, "a/1", 1, &seq, &err);
	is_int(rc, -STORE_ECONFLICT, "delete with a wrong version: conflict");
	store_info(st, &info);
	rc = store_del(st, "a/1", (int64_t)(v1 + 1), &seq, &err);
	is_int(rc, 0, "delete with the right version");
	is_int(seq, info.applied_seq + 1, "delete takes the next seq");
	{
		char *v = NULL;
		is_int(store_get(st, "a/1", 3, &v, NULL, NULL), -STORE_ENOTFOUND, "deleted key is gone");
		free(v);
	}
	rc = store_put(st, "a/1", "true", 0, &v2, &err);
	is_int(rc, 0, "put with expected 0 on an absent key");

	/* Validation before queueing. */
	is_int(store_put(st, "", "1", -1, NULL, &err), -STORE_EKEY, "empty key");
	is_int(store_put(st, "\xff\xfe", "1", -1, NULL, &err), -STORE_EKEY, "non-UTF-8 key");
	is_int(store_put(st, "k", "{bad", -1, NULL, &err), -STORE_EVALUE, "invalid JSON");
	{
		char *big = malloc(STORE_VALUE_MAX_DEFAULT + 3);
		memset(big, ' ', STORE_VALUE_MAX_DEFAULT + 2);
		big[0] = '1';
		big[STORE_VALUE_MAX_DEFAULT + 2] = '\0';
		is_int(store_put(st, "k", big, -1, NULL, &err), -STORE_ETOOLARGE, "value over the limit");
		free(big);
	}
	{
		char longkey[STORE_KEY_MAX + 2];
		memset(longkey, 'k', sizeof(longkey) - 1);
		longkey[sizeof(longkey) - 1] = '\0';
		is_int(store_put(st, longkey, "1", -1, NULL, &err), -STORE_EKEY, "key over 1024 bytes");
	}

	/* List by prefix with paging. */
	store_put(st, "a/2", "2", -1, NULL, &err);
	store_put(st, "a/3", "3", -1, NULL, &err);
	store_put(st, "a/4", "4", -1, NULL, &err);
	store_put(st, "b/1", "5", -1, NULL, &err);
	store_put(st, "a", "6", -1, NULL, &err);
	memset(&acc, 0, sizeof(acc));
	is_int(store_list(st, "a/", 2, NULL, 0, 2, list_cb, &acc), 2, "first page of 2");
	ok(acc.n == 2 && !strcmp(acc.keys[0], "a/1") && !strcmp(acc.keys[1], "a/2"), "a/1, a/2 in order");
	memset(&acc, 0, sizeof(acc));
	is_int(store_list(st, "a/", 2, "a/2\x01", 4, 10, list_cb, &acc), 2, "next page from after a/2");
	ok(acc.n == 2 && !strcmp(acc.keys[0], "a/3") && !strcmp(acc.keys[1], "a/4"), "a/3, a/4; b/1 not listed");
	memset(&acc, 0, sizeof(acc));
	is_int(store_list(st, NULL, 0, NULL, 0, 0, list_cb, &acc), 6, "list everything");
	ok(!strcmp(acc.keys[0], "a") && !strcmp(acc.keys[5], "b/1"), "bytewise order");

	/* A follower opened now sees everything; after more writes it follows. */
	st2 = open_store(dir, NULL);
	store_info(st, &info);
	store_info(st2, &info2);
	is_int(info2.applied_seq, info.applied_seq, "second open loads up to the writer's seq");
	ok(info2.digest == info.digest && info2.keys == info.keys, "same digest and key count");
	is_int(info2.epoch, 1, "follower knows epoch 1");
	store_put(st, "c", "[1,2]", -1, &v1, &err);
	store_del(st, "b/1", -1, NULL, &err);
	{
		struct store_follow_result fr;
		rc = store_follow(st2, &fr, &err);
		is_int(rc, 2, "follower applies the two new batches");
		is_int(fr.applied_seq, v1 + 1, "follower at the writer's seq");
		is_int(fr.blocked, 0, "not blocked");
		rc = store_follow(st2, &fr, &err);
		is_int(rc, 0, "nothing more to follow");
	}
	ok(get_is(st2, "c", "[1,2]", v1), "follower reads the new key with its version");
	store_info(st, &info);
	store_info(st2, &info2);
	ok(info.digest == info2.digest, "digests agree after following");

	/* Seals and fencing: the follower becomes writer of epoch 2. */
	rc = store_begin_epoch(st2, 1, "hostB", 2, &seal, &err);
	is_int(rc, -STORE_EFENCED, "begin_epoch with an epoch not newer: EFENCED");
	rc = store_begin_epoch(st2, 2, "hostB", 2, &seal, &err);
	is_int(rc, 0, "hostB begins epoch 2: %s", rc ? err.msg : "ok");
	is_int(seal.start_seq, info.applied_seq + 1, "its seal takes the next seq");
	rc = store_put(st, "stale", "1", -1, NULL, &err);
	is_int(rc, -STORE_EFENCED, "old writer's next write: EFENCED");
	ok(strstr(err.msg, "epoch 2") != NULL, "message names the newer epoch: %s", err.msg);
	rc = store_put(st, "stale", "1", -1, NULL, &err);
	is_int(rc, -STORE_EFAILED, "and then EFAILED");
	store_info(st, &info);
	ok(info.failed && strstr(info.failed_msg, "begin the epoch again"), "info.failed with the reason: %s",
	    info.failed_msg);
	rc = store_put(st2, "new", "1", -1, &v2, &err);
	is_int(rc, 0, "new writer writes");
	store_end_epoch(st);
	rc = store_put(st, "x", "1", -1, NULL, &err);
	is_int(rc, -STORE_ENOTWRITER, "after end_epoch: ENOTWRITER");
	{
		struct store_follow_result fr;
		rc = store_follow(st, &fr, &err);
		ok(rc >= 2, "old writer follows the seal and the new batch (%d)", rc);
	}
	ok(get_is(st, "new", "1", v2), "old writer sees the new writer's write");
	store_info(st, &info);
	is_int(info.epoch, 2, "epoch 2 applied");
	is_str(info.last_seal.host, "hostB", "last seal by hostB");
	rc = store_begin_epoch(st, 2, "hostA", 1, &seal, &err);
	is_int(rc, -STORE_EFENCED, "epoch 2 again: EFENCED");

	/* Reopen. */
	store_info(st2, &info2);
	store_close(st2);
	st2 = open_store(dir, NULL);
	store_info(st2, &info);
	ok(info.applied_seq == info2.applied_seq && info.digest == info2.digest, "reopen: same seq and digest");
	ok(get_is(st2, "c", "[1,2]", 0), "reopen: values back");
	store_close(st2);
	store_close(st);

	{
		struct store_verify_report rep;
		rc = store_verify(dir, &rep, NULL, NULL, &err);
		is_int(rc, 0, "verify: clean");
		is_int(rep.seals, 2, "verify: 2 seals");
		is_int(rep.damaged + rep.gaps + rep.stale + rep.unsealed, 0, "verify: no problem");
	}
}

/* ---- request ids ---- */

/* Answers to store_submit: how many, how many failed, the first four. */
struct async_done {
	pthread_mutex_t mu;
	int n, failed, want;
	struct store_write_result res[4];
};

static void on_done(void *arg, const struct store_write_result *res)
{
	struct async_done *a = arg;

	pthread_mutex_lock(&a->mu);
	if (a->n < 4)
		a->res[a->n] = *res;
	a->n++;
	a->failed += res->rc != 0;
	pthread_mutex_unlock(&a->mu);
}

/* Whether a->want answers came. */
static int all_done(void *arg)
{
	struct async_done *a = arg;
	int n;

	pthread_mutex_lock(&a->mu);
	n = a->n;
	pthread_mutex_unlock(&a->mu);
	return n >= a->want;
}

static void test_reqids(void)
{
	char dir[1200];
	struct store *st, *st2;
	struct store_error err;
	struct store_write_req req;
	struct store_write_result res, res2;
	struct store_info info;
	struct async_done ad = { .mu = PTHREAD_MUTEX_INITIALIZER, .want = 2 };
	int rc;

	snprintf(dir, sizeof(dir), "%s/reqid", base);
	make_store(dir);
	st = open_store(dir, NULL);
	store_begin_epoch(st, 5, "h", 1, NULL, &err);
	memset(&req, 0, sizeof(req));
	req.kind = STORE_OP_PUT;
	req.key = "k";
	req.key_len = 1;
	req.value = "1";
	req.value_len = 1;
	req.expected_version = 0;
	req.reqid = "req-1";
	req.reqid_len = 5;
	rc = store_write(st, &req, &res);
	is_int(rc, 0, "write with a request id");
	store_info(st, &info);
	rc = store_write(st, &req, &res2);
	is_int(rc, 0, "the same request again succeeds (not a conflict)");
	ok(res2.duplicate == 1 && res2.version == res.version, "answered as a duplicate with the original version");
	{
		struct store_info after;
		store_info(st, &after);
		is_int(after.applied_seq, info.applied_seq, "nothing written");
	}
	/* Two copies in flight at once. */
	req.reqid = "req-2";
	req.expected_version = STORE_ANY_VERSION;
	req.value = "2";
	ok(store_submit(st, &req, on_done, &ad) == 0 && store_submit(st, &req, on_done, &ad) == 0,
	    "two async submissions with one request id");
	ok(tu_wait_until(all_done, &ad, 10000, 5), "both answered");
	ok(ad.res[0].rc == 0 && ad.res[1].rc == 0 && ad.res[0].version == ad.res[1].version,
	    "same version for both");
	is_int(ad.res[0].duplicate + ad.res[1].duplicate, 1, "exactly one is the duplicate");

	/* A second store rebuilds the map from the journal. */
	store_end_epoch(st);
	st2 = open_store(dir, NULL);
	rc = store_begin_epoch(st2, 6, "h2", 2, NULL, &err);
	is_int(rc, 0, "second store begins epoch 6");
	req.reqid = "req-1";
	req.value = "1";
	rc = store_write(st2, &req, &res2);
	ok(rc == 0 && res2.duplicate && res2.version == res.version,
	    "request id remembered from the journal by another store");
	/* And through a snapshot. */
	{
		uint64_t sseq;
		struct store *st3;

		is_int(store_snapshot(st2, &sseq, &err), 0, "snapshot");
		store_end_epoch(st2);
		/* Drop the journal's proof: only the snapshot carries req-1. */
		for (uint64_t q = 1; q <= sseq; q++) {
			char jp[64];
			snprintf(jp, sizeof(jp), "journal/%020" PRIu64, q);
			unlink(path_in(dir, jp));
		}
		st3 = open_store(dir, NULL);
		rc = store_begin_epoch(st3, 7, "h3", 3, NULL, &err);
		is_int(rc, 0, "third store begins epoch 7");
		rc = store_write(st3, &req, &res2);
		ok(rc == 0 && res2.duplicate && res2.version == res.version, "request id carried by the snapshot");
		store_close(st3);
	}
	store_close(st2);
	store_close(st);
}

/* ---- ack_check ---- */

static int refuse_ack(void *arg, uint64_t epoch, char *why, size_t why_len)
{
	int *refuse = arg;

	(void)epoch;
	if (*refuse)
		snprintf(why, why_len, "lease lost in test");
	return *refuse;
}

static void test_ack_check(void)
{
	char dir[1200];
	struct store_options opt;
	struct store *st, *f;
	struct store_error err;
	struct store_info info;
	struct store_follow_result fr;
	uint64_t v;
	int refuse = 0, rc;

	snprintf(dir, sizeof(dir), "%s/ack", base);
	make_store(dir);
	memset(&opt, 0, sizeof(opt));
	opt.ack_check = refuse_ack;
	opt.ack_arg = &refuse;
	opt.force_link = 1;
	st = open_store(dir, &opt);
	f = open_store(dir, NULL);
	store_begin_epoch(st, 1, "h", 1, NULL, &err);
	is_int(store_put(st, "a", "1", -1, &v, &err), 0, "write passes the ack check (link() path forced)");
	refuse = 1;
	rc = store_put(st, "b", "2", -1, &v, &err);
	is_int(rc, -STORE_ELEASE, "refused ack: ELEASE");
	ok(strstr(err.msg, "lease lost in test") != NULL, "reason passed on: %s", err.msg);
	refuse = 0;
	rc = store_put(st, "c", "3", -1, &v, &err);
	is_int(rc, -STORE_EFAILED, "writer failed afterwards");
	store_info(st, &info);
	ok(info.failed, "info.failed set");
	{
		char *val = NULL;
		is_int(store_get(st, "b", 1, &val, NULL, NULL), -STORE_ENOTFOUND, "refused write not applied by the writer");
		free(val);
	}
	store_follow(f, &fr, &err);
	ok(get_is(f, "b", "2", 0), "but it is durable: a follower applies it");
	store_end_epoch(st);
	rc = store_begin_epoch(st, 2, "h", 1, NULL, &err);
	is_int(rc, 0, "end + begin again writes again: %s", rc ? err.msg : "ok");
	ok(get_is(st, "b", "2", 0), "the new epoch caught up with the durable batch");
	is_int(store_put(st, "c", "3", -1, &v, &err), 0, "writes work again");
	store_close(f);
	store_close(st);
}

/* ---- snapshots and compaction ---- */

struct compact_arg {
	struct store *st;
	int removed;
	const char *gone;         /* a file that compaction must remove */
};

static int compacted(void *arg)
{
	struct compact_arg *c = arg;
	struct store_error err;
	int rc = store_compact(c->st, &err);

	if (rc > 0)
		c->removed += rc;
	return c->removed > 0 && !tu_file_exists(c->gone);
}

static void test_snapshots(void)
{
	char dir[1200], name[64];
	struct store_options opt;
	struct store *st, *lag, *re;
	struct store_error err;
	struct store_info info, info2;
	uint64_t s1, s2, s3;
	int rc;

	snprintf(dir, sizeof(dir), "%s/snap", base);
	make_store(dir);
	memset(&opt, 0, sizeof(opt));
	opt.journal_retention_s = 1;
	st = open_store(dir, &opt);
	store_begin_epoch(st, 1, "h", 1, NULL, &err);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "key%d", i);
		store_put(st, name, "{\"n\":1}", -1, NULL, &err);
	}
	lag = open_store(dir, NULL);     /* a standby that will fall behind */
	rc = store_snapshot(st, &s1, &err);
	is_int(rc, 0, "snapshot 1");
	ok(tu_file_exists(path_in(dir, "snapshots/00000000000000000006")), "snapshots/SEQ written (seq %" PRIu64 ")", s1);
	is_int(store_snapshot(st, &s1, &err), 0, "snapshot of the same seq again: left alone");
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "more%d", i);
		store_put(st, name, "[true]", -1, NULL, &err);
	}
	store_del(st, "key0", -1, NULL, &err);
	is_int(store_snapshot(st, &s2, &err), 0, "snapshot 2");
	store_put(st, "after", "null", -1, NULL, &err);
	store_info(st, &info);

	re = open_store(dir, NULL);
	store_info(re, &info2);
	is_int(info2.snapshot_seq, s2, "open loads the newest snapshot");
	ok(info2.applied_seq == info.applied_seq && info2.digest == info.digest, "and the journal after it");
	store_put(st, "after2", "{}", -1, NULL, &err);
	store_info(st, &info);
	is_int(store_reload(re, &err), 0, "store_reload");
	store_info(re, &info2);
	ok(info2.applied_seq == info.applied_seq && info2.digest == info.digest && info2.snapshot_seq == s2,
	    "reload: snapshot plus the journal to the end");
	store_close(re);

	/* Damage the newest snapshot: open falls back to the older one. */
	{
		char sp[64];
		snprintf(sp, sizeof(sp), "snapshots/%020" PRIu64, s2);
		ok(flip_byte(path_in(dir, sp), 80) == 0, "damaged snapshot %s", sp);
	}
	re = open_store(dir, NULL);
	store_info(re, &info2);
	is_int(info2.snapshot_seq, s1, "fell back to the older snapshot");
	ok(info2.applied_seq == info.applied_seq && info2.digest == info.digest, "same state through the journal");
	ok(strstr(info2.snapshot_msg, "snapshots/") != NULL, "the bad snapshot is reported: %s", info2.snapshot_msg);
	store_close(re);
	{
		struct store_verify_report rep;
		rc = store_verify(dir, &rep, NULL, NULL, &err);
		is_int(rc, 1, "verify reports the damaged snapshot");
		is_int(rep.damaged, 1, "one damaged file");
	}
	/* Two good snapshots again, then compaction. */
	store_put(st, "x1", "1", -1, NULL, &err);
	is_int(store_snapshot(st, &s3, &err), 0, "snapshot 3");
	store_put(st, "x2", "2", -1, NULL, &err);
	{
		uint64_t s4;
		is_int(store_snapshot(st, &s4, &err), 0, "snapshot 4");
		/* s3 is now the second-newest valid: files at or below it go
		 * once older than the retention. */
		struct compact_arg c = { st, 0, path_in(dir, "journal/00000000000000000001") };
		ok(tu_wait_until(compacted, &c, 10000, 200), "compaction removed %d files", c.removed);
		ok(!tu_file_exists(path_in(dir, "journal/00000000000000000001")), "journal/1 removed");
		char jp[64];
		snprintf(jp, sizeof(jp), "journal/%020" PRIu64, s3 + 1);
		ok(tu_file_exists(path_in(dir, jp)), "the file after the bound kept");
	}
	store_info(st, &info);
	{
		struct store_follow_result fr;
		rc = store_follow(lag, &fr, &err);
		ok(rc >= 0, "lagging standby follows: %s", rc < 0 ? err.msg : "ok");
		store_info(lag, &info2);
		ok(info2.applied_seq == info.applied_seq && info2.digest == info.digest,
		    "it reloaded from a snapshot past the compacted journal (%" PRIu64 "/%" PRIu64 ")",
		    info2.applied_seq, info.applied_seq);
	}
	re = open_store(dir, NULL);
	store_info(re, &info2);
	ok(info2.applied_seq == info.applied_seq && info2.digest == info.digest && !info2.blocked,
	    "open after compaction: same state, not blocked");
	store_close(re);
	{
		struct store_verify_report rep;
		int lines = 0;
		rc = store_verify(dir, &rep, NULL, NULL, &err);
		is_int(rc, 1, "verify still reports the damaged old snapshot");
		(void)lines;
	}
	store_close(lag);
	store_close(st);
}

/* ---- damage and recovery ---- */

static void count_line(void *arg, const char *text)
{
	int *n = arg;

	(*n)++;
	tap_diag("verify: %s", text);
}

static void test_damage(void)
{
	char dir[1200];
	struct store *st, *f;
	struct store_error err;
	struct store_info info;
	struct store_follow_result fr;
	struct store_verify_report rep;
	int rc, lines = 0;

	snprintf(dir, sizeof(dir), "%s/damage", base);
	make_store(dir);
	st = open_store(dir, NULL);
	store_begin_epoch(st, 1, "h", 1, NULL, &err);
	store_put(st, "a", "1", -1, NULL, &err);
	store_put(st, "b", "2", -1, NULL, &err);
	store_end_epoch(st);
	store_close(st);

	rc = store_verify(dir, &rep, count_line, &lines, &err);
	is_int(rc, 0, "verify clean before damage");
	ok(lines >= 1, "a summary line");
	is_int(rep.batches, 2, "2 operation batches");
	is_int(rep.seals, 1, "1 seal");
	is_int(rep.last_seq, 3, "last seq 3");

	/* Damage the last batch; leave a temporary behind. */
	ok(flip_byte(path_in(dir, "journal/00000000000000000003"), 20) == 0, "flip a byte in journal/3");
	tu_write_file(path_in(dir, "journal/.tmp-00000000000000000004-1-x"), "junk", 4);
	lines = 0;
	rc = store_verify(dir, &rep, count_line, &lines, &err);
	is_int(rc, 1, "verify finds problems");
	is_int(rep.damaged, 1, "one damaged file");
	is_int(rep.temporaries, 1, "one temporary");

	f = open_store(dir, NULL);
	store_info(f, &info);
	is_int(info.applied_seq, 2, "open stops before the damaged file");
	is_int(info.blocked, -STORE_EDAMAGED, "blocked: EDAMAGED");
	ok(strstr(info.blocked_file, "journal/00000000000000000003") != NULL, "names the file: %s", info.blocked_file);
	rc = store_follow(f, &fr, &err);
	is_int(fr.blocked, -STORE_EDAMAGED, "follow reports it too");
	ok(tu_file_exists(path_in(dir, "journal/00000000000000000003")), "the follower left it in place");

	rc = store_begin_epoch(f, 2, "h2", 2, NULL, &err);
	is_int(rc, -STORE_EDAMAGED, "writer's recovery refuses once: %s", err.msg);
	ok(!tu_file_exists(path_in(dir, "journal/00000000000000000003")), "the damaged file was moved");
	is_int(count_dir(path_in(dir, "quarantine"), "journal-00000000000000000003.damaged."), 1, "into quarantine/");
	is_int(count_dir(path_in(dir, "journal"), ".tmp-"), 0, "temporary removed");
	rc = store_begin_epoch(f, 2, "h2", 2, NULL, &err);
	is_int(rc, 0, "the next begin_epoch proceeds: %s", rc ? err.msg : "ok");
	store_info(f, &info);
	is_int(info.last_seal.start_seq, 3, "seal took seq 3");
	is_int(store_put(f, "c", "3", -1, NULL, &err), 0, "and writes");
	store_close(f);
	lines = 0;
	rc = store_verify(dir, &rep, count_line, &lines, &err);
	is_int(rc, 0, "verify clean again (quarantine is only counted)");
	is_int(rep.quarantined, 1, "one quarantined file");

	/* A damaged file with later files: refused with a gap behind it. */
	ok(flip_byte(path_in(dir, "journal/00000000000000000002"), 20) == 0, "damage journal/2");
	f = open_store(dir, NULL);
	store_info(f, &info);
	is_int(info.blocked, -STORE_EDAMAGED, "open blocked at journal/2");
	rc = store_begin_epoch(f, 3, "h3", 3, NULL, &err);
	is_int(rc, -STORE_EDAMAGED, "recovery refuses");
	ok(strstr(err.msg, "cannot be applied") != NULL, "and says later writes cannot be applied: %s", err.msg);
	rc = store_begin_epoch(f, 3, "h3", 3, NULL, &err);
	is_int(rc, -STORE_EGAP, "then it is a gap: %s", err.msg);
	store_close(f);
}

/* ---- gaps and on_apply ---- */

struct applied_count {
	int puts, dels, seals;
	uint64_t last_seq;
	int in_order;
};

static void on_apply(void *arg, const struct store_applied *op)
{
	struct applied_count *c = arg;

	if (op->kind == STORE_OP_PUT)
		c->puts++;
	else if (op->kind == STORE_OP_DEL)
		c->dels++;
	else
		c->seals++;
	if (op->seq != c->last_seq + 1)
		c->in_order = 0;
	c->last_seq = op->seq;
}

static void test_gap(void)
{
	char dir[1200];
	struct store_options opt;
	struct store *st, *f;
	struct store_error err;
	struct store_info info;
	struct store_verify_report rep;
	struct applied_count wc = { .in_order = 1 }, fc = { .in_order = 1 };
	int rc;

	snprintf(dir, sizeof(dir), "%s/gap", base);
	make_store(dir);
	memset(&opt, 0, sizeof(opt));
	opt.on_apply = on_apply;
	opt.apply_arg = &wc;
	st = open_store(dir, &opt);
	store_begin_epoch(st, 3, "h", 1, NULL, &err);
	store_put(st, "a", "1", -1, NULL, &err);
	store_put(st, "b", "2", -1, NULL, &err);
	store_del(st, "a", -1, NULL, &err);
	store_put(st, "c", "3", -1, NULL, &err);
	store_close(st);
	ok(wc.puts == 3 && wc.dels == 1 && wc.seals == 1 && wc.in_order, "writer's on_apply: every op once, in order");
	opt.apply_arg = &fc;
	f = open_store(dir, &opt);
	ok(fc.puts == 3 && fc.dels == 1 && fc.seals == 1 && fc.in_order, "opener's on_apply: the same");
	store_close(f);

	ok(unlink(path_in(dir, "journal/00000000000000000003")) == 0, "remove journal/3");
	f = open_store(dir, NULL);
	store_info(f, &info);
	is_int(info.applied_seq, 2, "open stops before the gap");
	is_int(info.blocked, -STORE_EGAP, "blocked: EGAP");
	ok(strstr(info.blocked_msg, "00000000000000000003") && strstr(info.blocked_msg, "00000000000000000004"),
	    "names the missing and the next file: %s", info.blocked_msg);
	is_int(store_check_gap(f, &err), 1, "store_check_gap sees it");
	rc = store_begin_epoch(f, 4, "h", 1, NULL, &err);
	is_int(rc, -STORE_EGAP, "recovery refuses a gap: %s", err.msg);
	is_int(count_dir(path_in(dir, "quarantine"), NULL), 0, "nothing quarantined for a gap");
	store_close(f);
	is_int(store_verify(dir, &rep, NULL, NULL, &err), 1, "verify reports it");
	is_int(rep.gaps, 1, "one gap");
}

/* ---- a batch whose recorded digest disagrees with the replay ---- */

static void test_digest(void)
{
	char dir[1200];
	const char *path;
	struct store *st, *f;
	struct store_error err;
	struct store_info info;
	struct store_follow_result fr;
	struct store_verify_report rep;
	unsigned char *buf;
	size_t len;
	uint32_t crc;
	int rc;

	snprintf(dir, sizeof(dir), "%s/digest", base);
	make_store(dir);
	st = open_store(dir, NULL);
	store_begin_epoch(st, 1, "h", 1, NULL, &err);
	store_put(st, "a", "1", -1, NULL, &err);
	f = open_store(dir, NULL);
	store_put(st, "b", "2", -1, NULL, &err);
	store_close(st);

	/* Rewrite journal/3 with another digest and a correct CRC. */
	path = path_in(dir, "journal/00000000000000000003");
	buf = (unsigned char *)tu_read_file(path, &len);
	ok(buf != NULL && len > 76, "read journal/3");
	if (!buf)
		return;
	buf[56] ^= 0x55;
	crc = crc32c(0, buf, len - 4);
	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (unsigned char)(crc >> (8 * i));
	unlink(path);
	tu_write_file(path, buf, len);
	free(buf);

	rc = store_follow(f, &fr, &err);
	is_int(rc, -STORE_EDIGEST, "follower: EDIGEST");
	is_int(fr.blocked, -STORE_EDIGEST, "reported as blocked");
	ok(strstr(err.msg, "00000000000000000003") != NULL, "names the file: %s", err.msg);
	{
		uint64_t sseq;
		is_int(store_snapshot(f, &sseq, &err), -STORE_EDIGEST, "no snapshot of a disagreeing state");
	}
	rc = store_begin_epoch(f, 2, "h2", 2, NULL, &err);
	is_int(rc, -STORE_EDIGEST, "begin_epoch never seals on a disagreeing state");
	store_info(f, &info);
	is_int(info.writer, 0, "not the writer");
	store_close(f);
	is_int(store_verify(dir, &rep, NULL, NULL, &err), 1, "verify reports it");
}

/* ---- a stale file in the committer's way ---- */

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* One put record "stale" = 1 as a batch of epoch at seq. */
static void craft_batch(const char *path, uint64_t epoch, uint64_t seq)
{
	unsigned char b[72 + 12 + 5 + 1 + 4];
	uint32_t crc;

	memset(b, 0, sizeof(b));
	memcpy(b, "SSFMBAT1", 8);
	put_le(b + 8, 1, 4);
	put_le(b + 12, 1, 4);
	put_le(b + 16, epoch, 8);
	put_le(b + 24, seq, 8);
	put_le(b + 32, seq, 8);
	put_le(b + 40, 1, 4);
	put_le(b + 48, 1, 8);
	put_le(b + 56, 0, 8);
	put_le(b + 64, 12 + 6, 8);
	b[72] = 1;
	put_le(b + 76, 5, 4);
	put_le(b + 80, 1, 4);
	memcpy(b + 84, "stale1", 6);
	crc = crc32c(0, b, sizeof(b) - 4);
	put_le(b + sizeof(b) - 4, crc, 4);
	tu_write_file(path, b, sizeof(b));
}

static void test_stale_in_the_way(void)
{
	char dir[1200], jp[64];
	struct store *st;
	struct store_error err;
	struct store_info info;
	uint64_t v;
	int rc;

	snprintf(dir, sizeof(dir), "%s/stale", base);
	make_store(dir);
	st = open_store(dir, NULL);
	store_begin_epoch(st, 1, "h", 1, NULL, &err);
	store_put(st, "a", "1", -1, NULL, &err);
	store_end_epoch(st);
	store_begin_epoch(st, 2, "h", 1, NULL, &err);
	store_info(st, &info);
	snprintf(jp, sizeof(jp), "journal/%020" PRIu64, info.applied_seq + 1);
	craft_batch(path_in(dir, jp), 1, info.applied_seq + 1);
	rc = store_put(st, "b", "2", -1, &v, &err);
	is_int(rc, 0, "a stale batch in the committer's way is moved and the write goes on: %s", rc ? err.msg : "ok");
	is_int(v, info.applied_seq + 1, "at the seq the stale file took");
	is_int(count_dir(path_in(dir, "quarantine"), "journal-"), 1, "the stale file is in quarantine/");
	{
		char *val = NULL;
		is_int(store_get(st, "stale", 5, &val, NULL, NULL), -STORE_ENOTFOUND, "never applied");
		free(val);
	}
	store_close(st);
	/* And in recovery: a stale file at the next seq is moved, the seal goes on. */
	st = open_store(dir, NULL);
	store_info(st, &info);
	snprintf(jp, sizeof(jp), "journal/%020" PRIu64, info.applied_seq + 1);
	craft_batch(path_in(dir, jp), 1, info.applied_seq + 1);
	{
		struct store *f = open_store(dir, NULL);
		struct store_info fi;
		store_info(f, &fi);
		is_int(fi.blocked, -STORE_ESTALE, "a reader is blocked by it: ESTALE");
		store_close(f);
	}
	rc = store_begin_epoch(st, 3, "h", 1, NULL, &err);
	is_int(rc, 0, "recovery quarantines it and seals: %s", rc ? err.msg : "ok");
	is_int(count_dir(path_in(dir, "quarantine"), "journal-"), 2, "two stale files in quarantine/");
	store_info(st, &info);
	is_int(info.epoch, 3, "sealed epoch 3");
	store_close(st);
}

/*
 * A reader leaves the access time of what it reads alone (O_NOATIME): under
 * relatime, reading a file whose atime is not newer than its mtime updates
 * it, an inode write for nothing beside the writer's fsyncs, for every
 * batch and every follower.  The batch's atime is set back first, so that
 * relatime would update it on the next read.
 */
static void test_reader_atime(void)
{
	char dir[1200];
	const char *batch;
	struct store *st, *reader;
	struct store_error err;
	struct store_seal_info seal;
	struct store_follow_result fr;
	struct timespec times[2];
	struct stat before, after;
	uint64_t v;
	int rc;

	snprintf(dir, sizeof(dir), "%s/atime", base);
	make_store(dir);
	st = open_store(dir, NULL);
	reader = open_store(dir, NULL);
	rc = store_begin_epoch(st, 1, "hostA", 1, &seal, &err);
	is_int(rc, 0, "atime: begin_epoch 1: %s", rc ? err.msg : "ok");
	rc = store_put(st, "t/1", "1", STORE_ANY_VERSION, &v, &err);
	is_int(rc, 0, "atime: put t/1 (seq %llu)", (unsigned long long)v);
	batch = path_in(dir, "journal/00000000000000000002");
	ok(stat(batch, &before) == 0, "atime: the batch %s exists", batch);
	times[0].tv_sec = before.st_mtim.tv_sec - 3600;
	times[0].tv_nsec = 0;
	times[1].tv_sec = 0;
	times[1].tv_nsec = UTIME_OMIT;
	ok(utimensat(AT_FDCWD, batch, times, 0) == 0 && stat(batch, &before) == 0,
	    "atime: set an hour before its mtime");
	rc = store_follow(reader, &fr, &err);
	ok(rc >= 1, "atime: the reader applied it (%d): %s", rc, rc < 0 ? err.msg : "ok");
	memset(&after, 0, sizeof(after));
	rc = stat(batch, &after);
	ok(rc == 0 && after.st_atim.tv_sec == before.st_atim.tv_sec &&
	    after.st_atim.tv_nsec == before.st_atim.tv_nsec,
	    "atime: reading it left its access time alone (%lld, was %lld)",
	    (long long)after.st_atim.tv_sec, (long long)before.st_atim.tv_sec);
	store_close(reader);
	store_end_epoch(st);
	store_close(st);
}

/* ---- a follower writes same-length values into the records it replaces ---- */

/* The writer's and the follower's values and versions agree for every key. */
static int states_differ(struct store *a, struct store *b, int keys)
{
	int bad = 0;

	for (int k = 0; k < keys; k++) {
		char key[32], *va = NULL, *vb = NULL;
		size_t la = 0, lb = 0;
		uint64_t xa = 0, xb = 0;
		int n = snprintf(key, sizeof(key), "ip/%02d", k);
		int ra = store_get(a, key, (size_t)n, &va, &la, &xa);
		int rb = store_get(b, key, (size_t)n, &vb, &lb, &xb);

		if (ra != rb || xa != xb || la != lb || (ra == 0 && memcmp(va, vb, la) != 0)) {
			if (bad++ == 0)
				tap_diag("%s: writer rc %d v%" PRIu64 " %s, follower rc %d v%" PRIu64 " %s",
				    key, ra, xa, va ? va : "-", rb, xb, vb ? vb : "-");
		}
		free(va);
		free(vb);
	}
	return bad;
}

/* Puts value into keys ip/FROM .. ip/TO-1; returns how many failed. */
static int put_ip_keys(struct store *st, int from, int to, const char *value)
{
	struct store_error err;
	int bad = 0;

	for (int k = from; k < to; k++) {
		char key[32];
		snprintf(key, sizeof(key), "ip/%02d", k);
		bad += store_put(st, key, value, STORE_ANY_VERSION, NULL, &err) != 0;
	}
	return bad;
}

static void test_follow_in_place(void)
{
	static const char *const values[] = { "\"aa\"", "\"bb\"", "\"cccc\"", "[1,2]" };
	char dir[1200];
	struct store *st, *f;
	struct store_error err;
	struct store_follow_result fr;
	struct store_cut *cut = NULL;
	struct store_cut_info ci;
	struct store_info wi;
	struct async_done m = { .mu = PTHREAD_MUTEX_INITIALIZER, .want = 600 };
	int rc, bad = 0, files;

	snprintf(dir, sizeof(dir), "%s/inplace", base);
	make_store(dir);
	st = open_store(dir, NULL);
	f = open_store(dir, NULL);
	rc = store_begin_epoch(st, 1, "hostA", 1, NULL, &err);
	is_int(rc, 0, "in place: begin_epoch: %s", rc ? err.msg : "ok");
	bad += put_ip_keys(st, 0, 40, "\"00\"");
	rc = store_follow(f, &fr, &err);
	ok(bad == 0 && rc >= 0 && states_differ(st, f, 40) == 0, "in place: 40 keys written and followed");

	/* 600 writes in flight at once, group-committed into few batches, so a
	 * batch touches a key several times: same-length puts, puts of
	 * another length, and deletes, in every order. */
	for (int i = 0; i < 600; i++) {
		struct store_write_req req;
		char key[32];

		memset(&req, 0, sizeof(req));
		snprintf(key, sizeof(key), "ip/%02d", (i * 7) % 20);
		req.kind = i % 11 == 5 ? STORE_OP_DEL : STORE_OP_PUT;
		req.key = key;
		req.key_len = strlen(key);
		if (req.kind == STORE_OP_PUT) {
			req.value = values[(i / 3) % 4];
			req.value_len = strlen(req.value);
		}
		req.expected_version = STORE_ANY_VERSION;
		if (store_submit(st, &req, on_done, &m) != 0)
			bad++;
	}
	ok(bad == 0 && tu_wait_until(all_done, &m, 30000, 5) && m.failed == 0,
	    "in place: 600 writes submitted and answered");
	store_info(st, &wi);
	files = count_dir(path_in(dir, "journal"), "0");
	ok(files < 300, "in place: they went into %d batch files, so batches held many", files);
	rc = store_follow(f, &fr, &err);
	ok(rc >= 0 && fr.blocked == 0 && states_differ(st, f, 40) == 0,
	    "in place: the follower agrees with the writer on every key and digest (%s)", rc < 0 ? err.msg : "ok");

	/* A cut holds the records: the follower must not write into them. */
	rc = store_cut_take(f, &cut, &ci, &err);
	is_int(rc, 0, "in place: the follower takes a cut");
	bad += put_ip_keys(st, 20, 40, "\"11\"");
	rc = store_follow(f, &fr, &err);
	ok(bad == 0 && rc >= 0 && states_differ(st, f, 40) == 0, "in place: 20 same-length puts followed under the cut");
	if (cut != NULL) {
		int changed = 0, seen = 0;
		for (size_t i = 0; i < store_cut_count(cut); i++) {
			const char *key, *value;
			size_t key_len, value_len;
			uint64_t version;
			store_cut_entry(cut, i, &key, &key_len, &value, &value_len, &version);
			if (strncmp(key, "ip/", 3) == 0 && atoi(key + 3) >= 20) {
				seen++;
				changed += strcmp(value, "\"00\"") != 0 || version > ci.seq;
			}
		}
		ok(seen == 20 && changed == 0, "in place: the cut still shows the 20 old values (%d of %d changed)",
		    changed, seen);
		store_cut_free(cut);
	}
	/* With the cut gone, the same records take new values again. */
	bad += put_ip_keys(st, 20, 40, "\"22\"");
	rc = store_follow(f, &fr, &err);
	ok(bad == 0 && rc >= 0 && states_differ(st, f, 40) == 0, "in place: and after the cut is freed");
	store_close(f);
	store_end_epoch(st);
	store_close(st);
}

/* A follower reads batches into a buffer it keeps: a batch larger than
 * the buffer (and than what it keeps, 1 MiB) and small ones after it. */
static void test_follow_big_batch(void)
{
	char dir[1200], *big;
	struct store_options opt;
	struct store *st, *f;
	struct store_error err;
	struct store_follow_result fr;
	const size_t big_len = 3u << 20;
	int rc, good = 1;

	snprintf(dir, sizeof(dir), "%s/bigbatch", base);
	make_store(dir);
	memset(&opt, 0, sizeof(opt));
	opt.max_value_bytes = 4u << 20;
	st = open_store(dir, &opt);
	f = open_store(dir, NULL);
	big = malloc(big_len + 1);
	if (big == NULL)
		tap_bail("out of memory");
	memset(big, 'x', big_len);
	big[0] = big[big_len - 2] = '"';
	big[big_len - 1] = '\0';
	rc = store_begin_epoch(st, 1, "hostA", 1, NULL, &err);
	for (int round = 0; rc == 0 && round < 3; round++) {
		rc = store_put(st, "big/small", "[1]", STORE_ANY_VERSION, NULL, &err);
		if (rc == 0)
			rc = store_follow(f, &fr, &err) < 0 ? -1 : 0;
		good &= rc == 0 && get_is(f, "big/small", "[1]", 0);
		big[1] = (char)('a' + round);
		if (rc == 0)
			rc = store_put(st, "big/big", big, STORE_ANY_VERSION, NULL, &err);
		if (rc == 0)
			rc = store_follow(f, &fr, &err) < 0 ? -1 : 0;
		good &= rc == 0 && get_is(f, "big/big", big, 0);
	}
	ok(rc == 0 && good, "big batch: a follower reads 3 MiB batches between small ones (%s)",
	    rc ? err.msg : "ok");
	free(big);
	store_close(f);
	store_end_epoch(st);
	store_close(st);
}

int main(void)
{
	const char *t = tu_tmpdir("stbasic");

	snprintf(base, sizeof(base), "%s", t);
	test_create_open();
	test_writes();
	test_reqids();
	test_ack_check();
	test_snapshots();
	test_damage();
	test_gap();
	test_digest();
	test_stale_in_the_way();
	test_reader_atime();
	test_follow_in_place();
	test_follow_big_batch();
	return tap_done();
}
