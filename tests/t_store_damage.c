/*
 * t_store_damage: every kind of damage is found, named, never applied, and
 * handled by the writer's recovery as ssfm-store(5) RECOVERY says.
 *
 * For each kind of damage to a journal file (bit flip, truncation, an empty
 * file, a value that is not JSON under a correct CRC, a wrong CRC, a wrong
 * sequence range, a missing file, a stale batch after a newer seal):
 *  - a follower's store_follow stops at the file and names it;
 *  - store_open applies what comes before and names the file in
 *    store_info's blocked fields;
 *  - store_verify reports it in a line naming the file and returns 1;
 *  - store_begin_epoch moves it to quarantine/ and then refuses with
 *    STORE_EDAMAGED (damage), refuses with STORE_EGAP naming the missing
 *    file (gap), or goes on and seals (stale);
 *  - the damaged write is never visible through store_get.
 * Then: a damaged newest snapshot falls back to the older one; an identity
 * file of an unknown format version and a folder that is not a store are
 * refused.  Damage is crafted with our own CRC-32C (storeutil.c).
 */
#include "storeutil.h"
#include "format.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *tmp;

enum policy { POLICY_DAMAGED, POLICY_GAP, POLICY_STALE };

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		tap_bail("mkdir %s: %s", path, strerror(errno));
}

static int present(struct store *st, const char *key)
{
	char *value = NULL;
	size_t len = 0;
	uint64_t version = 0;
	int rc = store_get(st, key, strlen(key), &value, &len, &version);

	free(value);
	return rc == 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct store *begin(const char *dir, uint64_t epoch, struct store_seal_info *seal)
{
	struct store_error err = { 0 };
	struct store *st = su_open(dir, NULL);
	int rc = store_begin_epoch(st, epoch, "damage-host", 1, seal, &err);

	if (rc < 0)
		tap_bail("store_begin_epoch %s: %s (%s)", dir, store_strerror(rc), err.msg);
	return st;
}

/* A journal case: the store, a follower that applied everything before the
 * damage, the state before it, and the file that gets damaged. */
struct jcase {
	char dir[PATH_MAX];
	struct store *follower;
	struct su_state before;
	uint64_t target_seq;      /* the batch file that gets damaged */
	char target[PATH_MAX];
	const char *victim_key;   /* a key only the damaged batch writes */
};

/* k0001..k0004 in epoch 1, the follower catches up, then k0005..k0008: one
 * batch each (sequential writes); the target is k0005's batch. */
static void jcase_setup(struct jcase *c, const char *name)
{
	uint64_t v[8];
	struct store *w;

	su_path(c->dir, sizeof(c->dir), "%s/%s", tmp, name);
	make_dir(c->dir);
	su_create(c->dir);
	w = begin(c->dir, 1, NULL);
	if (su_put_keys(w, "k", 1, 4, v) < 0)
		tap_bail("%s: writes failed", name);
	c->follower = su_open(c->dir, NULL);
	su_state_init(&c->before);
	su_state_load(c->follower, &c->before);
	if (su_put_keys(w, "k", 5, 4, v + 4) < 0)
		tap_bail("%s: writes failed", name);
	store_end_epoch(w);
	store_close(w);
	c->target_seq = v[4];
	c->victim_key = "k0005";
	su_journal_path(c->target, sizeof(c->target), c->dir, c->target_seq);
}

/* The stale case: epoch 1 writes k0001..k0004, epoch 2 seals and writes
 * k0005..k0006, then we add a batch of epoch 1 at the next seq with a
 * correct CRC and digest. */
static void jcase_setup_stale(struct jcase *c, const char *name)
{
	struct store_seal_info seal;
	struct store_info info;
	struct su_batch b;
	struct su_record r;
	struct store *w;
	unsigned char *buf;
	size_t len;
	const char *value = "{\"stale\":true}";

	su_path(c->dir, sizeof(c->dir), "%s/%s", tmp, name);
	make_dir(c->dir);
	su_create(c->dir);
	w = begin(c->dir, 1, NULL);
	if (su_put_keys(w, "k", 1, 4, NULL) < 0)
		tap_bail("%s: writes failed", name);
	store_end_epoch(w);
	store_close(w);
	memset(&seal, 0, sizeof(seal));
	w = begin(c->dir, 2, &seal);
	if (su_put_keys(w, "k", 5, 2, NULL) < 0)
		tap_bail("%s: writes failed", name);
	store_info(w, &info);
	store_end_epoch(w);
	store_close(w);
	c->follower = su_open(c->dir, NULL);
	su_state_init(&c->before);
	su_state_load(c->follower, &c->before);

	c->victim_key = "stale";
	c->target_seq = info.applied_seq + 1;
	memset(&b, 0, sizeof(b));
	memset(&r, 0, sizeof(r));
	r.op = 1;
	r.key = c->victim_key;
	r.key_len = strlen(r.key);
	r.value = value;
	r.value_len = strlen(value);
	b.kind = FMT_KIND_OPS;
	b.epoch = 1;
	b.first_seq = c->target_seq;
	b.commit_time_ms = now_ms();
	b.digest = su_state_digest(&c->before) +
	    su_digest_entry(r.key, r.key_len, c->target_seq, r.value, r.value_len);
	b.rec = &r;
	b.nrec = 1;
	buf = su_batch_build(&b, 0, &len);
	su_journal_path(c->target, sizeof(c->target), c->dir, c->target_seq);
	if (tu_write_file(c->target, buf, len) < 0)
		tap_bail("write %s", c->target);
	free(buf);
	ok(info.epoch == 2 && seal.start_seq < c->target_seq,
	    "stale: a batch of epoch 1 at seq %" PRIu64 ", after epoch 2's seal at %" PRIu64,
	    c->target_seq, seal.start_seq);
}

static void jcase_check(struct jcase *c, const char *what, int code, enum policy policy)
{
	const char *name = su_basename(c->target);
	struct store_follow_result res;
	struct store_verify_report rep;
	struct su_lines lines = { 0 };
	struct store_error err = { 0 };
	struct store_seal_info seal;
	struct store_info info;
	struct su_state got;
	unsigned char *content = NULL;
	size_t content_len = 0;
	struct store *st;
	int rc;

	if (policy != POLICY_GAP)
		content = (unsigned char *)tu_read_file(c->target, &content_len);

	/* A follower stops at the file and names it. */
	memset(&res, 0, sizeof(res));
	rc = store_follow(c->follower, &res, &err);
	if (policy == POLICY_GAP) {
		ok(rc >= 0 && res.batches == 0, "%s: the follower applies nothing past the gap", what);
		ok(res.blocked == 0 || res.blocked == -STORE_EGAP,
		    "%s: and, if it says it is blocked, says STORE_EGAP (%d)", what, res.blocked);
		ok(res.blocked == 0 || strstr(res.blocked_file, name) != NULL,
		    "%s: naming the missing file (%s)", what, res.blocked_file);
		memset(&err, 0, sizeof(err));
		is_int(store_check_gap(c->follower, &err), 1, "%s: store_check_gap finds the gap", what);
	} else {
		ok(rc >= 0 && res.batches == 0, "%s: the follower applies nothing (rc %d, %u batches)",
		    what, rc, res.batches);
		is_int(res.blocked, code, "%s: the follower is blocked with %s", what, store_strerror(code));
		ok(strstr(res.blocked_file, name) != NULL, "%s: and names the file (%s)", what,
		    res.blocked_file);
	}
	ok(!present(c->follower, c->victim_key), "%s: the follower does not show %s", what,
	    c->victim_key);
	su_state_init(&got);
	su_state_load(c->follower, &got);
	is_int(su_state_diff(&got, &c->before, what), 0, "%s: the follower's state is the state before", what);
	su_state_free(&got);

	/* store_open applies what comes before and names the file. */
	st = su_open(c->dir, NULL);
	store_info(st, &info);
	is_int(info.blocked, code, "%s: store_open reports %s", what, store_strerror(code));
	ok(strstr(info.blocked_file, name) != NULL, "%s: blocked_file names it (%s)", what,
	    info.blocked_file);
	ok(strstr(info.blocked_msg, name) != NULL, "%s: blocked_msg names it (%s)", what,
	    info.blocked_msg);
	su_state_init(&got);
	su_state_load(st, &got);
	is_int(su_state_diff(&got, &c->before, what), 0, "%s: store_open applied exactly what comes before", what);
	su_state_free(&got);
	ok(!present(st, c->victim_key), "%s: %s is not visible", what, c->victim_key);
	is_int(info.digest, su_state_digest(&c->before), "%s: its digest is that of the state before", what);

	/* store_verify reports it. */
	memset(&rep, 0, sizeof(rep));
	memset(&err, 0, sizeof(err));
	rc = store_verify(c->dir, &rep, su_lines_add, &lines, &err);
	is_int(rc, 1, "%s: store_verify finds a problem", what);
	ok(su_lines_have(&lines, name), "%s: in a line naming %s", what, name);
	if (!su_lines_have(&lines, name))
		su_lines_print(&lines);
	if (policy == POLICY_DAMAGED)
		ok(rep.damaged >= 1, "%s: counted as damaged (%u)", what, rep.damaged);
	else if (policy == POLICY_GAP)
		ok(rep.gaps >= 1, "%s: counted as a gap (%u)", what, rep.gaps);
	else
		ok(rep.stale >= 1, "%s: counted as stale (%u)", what, rep.stale);
	su_lines_free(&lines);

	/* The writer's recovery. */
	memset(&err, 0, sizeof(err));
	memset(&seal, 0, sizeof(seal));
	rc = store_begin_epoch(st, 3, "damage-host", 1, &seal, &err);
	switch (policy) {
	case POLICY_DAMAGED:
		is_int(rc, -STORE_EDAMAGED, "%s: store_begin_epoch refuses with STORE_EDAMAGED", what);
		ok(strstr(err.msg, name) != NULL, "%s: naming the file (%s)", what, err.msg);
		ok(!tu_file_exists(c->target), "%s: the file is gone from journal/", what);
		ok(content != NULL && su_quarantine_holds(c->dir, content, content_len),
		    "%s: and is in quarantine/", what);
		break;
	case POLICY_GAP:
		is_int(rc, -STORE_EGAP, "%s: store_begin_epoch refuses with STORE_EGAP", what);
		ok(strstr(err.msg, name) != NULL, "%s: naming the missing file (%s)", what, err.msg);
		break;
	case POLICY_STALE: {
		unsigned char *buf = NULL;
		size_t len;
		struct su_batch b;
		char why[256] = "";

		is_int(rc, 0, "%s: store_begin_epoch quarantines and goes on (%s)", what, err.msg);
		ok(content != NULL && su_quarantine_holds(c->dir, content, content_len),
		    "%s: the stale file is in quarantine/", what);
		is_int(seal.start_seq, c->target_seq, "%s: the new seal takes the stale file's seq", what);
		rc = su_batch_read(c->dir, c->target_seq, &buf, &len, &b, why, sizeof(why));
		ok(rc == 0 && b.kind == FMT_KIND_SEAL && b.epoch == 3,
		    "%s: journal/%s is now the seal of epoch 3 (%s)", what, name, why);
		if (rc == 0)
			su_batch_free(&b);
		free(buf);
		store_end_epoch(st);

		/* The follower gets past the quarantined file. */
		memset(&res, 0, sizeof(res));
		memset(&err, 0, sizeof(err));
		rc = store_follow(c->follower, &res, &err);
		ok(rc >= 1 && res.blocked == 0, "%s: the follower goes on after the recovery (rc %d, %s)",
		    what, rc, err.msg);
		struct store_info fi;
		store_info(c->follower, &fi);
		store_info(st, &info);
		ok(fi.applied_seq == info.applied_seq && fi.digest == info.digest &&
		    fi.epoch == 3, "%s: and matches the writer (seq %" PRIu64 "/%" PRIu64 ", epoch %" PRIu64 ")",
		    what, fi.applied_seq, info.applied_seq, fi.epoch);
		break;
	}
	}
	ok(!present(st, c->victim_key) && !present(c->follower, c->victim_key),
	    "%s: %s never became visible", what, c->victim_key);
	store_close(st);
	store_close(c->follower);
	su_state_free(&c->before);
	free(content);
}

/* Damage applied to the target batch held in buf/len; returns the new length. */
typedef size_t (*damage_fn)(unsigned char *buf, size_t len);

static size_t value_offset(const unsigned char *buf)
{
	return FMT_BATCH_HEADER + FMT_RECORD_HEADER + su_get_le32(buf + FMT_BATCH_HEADER + 4);
}

static size_t damage_bitflip(unsigned char *buf, size_t len)
{
	buf[value_offset(buf) + 3] ^= 0x10;
	return len;
}

static size_t damage_truncate(unsigned char *buf, size_t len)
{
	(void)buf;
	return len / 2;
}

static size_t damage_empty(unsigned char *buf, size_t len)
{
	(void)buf;
	(void)len;
	return 0;
}

static size_t damage_not_json(unsigned char *buf, size_t len)
{
	buf[value_offset(buf)] = '#';
	su_fix_crc(buf, len);
	return len;
}

static size_t damage_crc(unsigned char *buf, size_t len)
{
	buf[len - 1] ^= 0xA5;
	return len;
}

static size_t damage_first_seq(unsigned char *buf, size_t len)
{
	/* A consistent range, but not the one the file name says. */
	su_put_le64(buf + 24, su_get_le64(buf + 24) + 100);
	su_put_le64(buf + 32, su_get_le64(buf + 32) + 100);
	su_fix_crc(buf, len);
	return len;
}

static size_t damage_last_seq(unsigned char *buf, size_t len)
{
	su_put_le64(buf + 32, su_get_le64(buf + 24) + su_get_le32(buf + 40));
	su_fix_crc(buf, len);
	return len;
}

static size_t damage_count(unsigned char *buf, size_t len)
{
	/* count 0 with last_seq = first_seq - 1: a range of nothing. */
	su_put_le32(buf + 40, 0);
	su_put_le64(buf + 32, su_get_le64(buf + 24) - 1);
	su_fix_crc(buf, len);
	return len;
}

static size_t damage_version(unsigned char *buf, size_t len)
{
	su_put_le32(buf + 8, FMT_VERSION + 1);
	su_fix_crc(buf, len);
	return len;
}

static void test_journal_damage(const char *name, damage_fn fn)
{
	struct jcase c;
	unsigned char *buf;
	size_t len;
	char why[256] = "";
	struct su_batch b;

	jcase_setup(&c, name);
	buf = (unsigned char *)tu_read_file(c.target, &len);
	if (buf == NULL)
		tap_bail("%s: read %s: %s", name, c.target, strerror(errno));
	ok(su_batch_parse(buf, len, &b, why, sizeof(why)) == 0 && b.nrec == 1 &&
	    b.rec[0].key_len == 5 && memcmp(b.rec[0].key, c.victim_key, 5) == 0,
	    "%s: %s holds the write of %s, as our own parser reads it (%s)", name,
	    su_basename(c.target), c.victim_key, why);
	su_batch_free(&b);
	len = fn(buf, len);
	if (tu_write_file(c.target, buf, len) < 0)
		tap_bail("write %s", c.target);
	free(buf);
	jcase_check(&c, name, -STORE_EDAMAGED, POLICY_DAMAGED);
}

static void test_gap(void)
{
	struct jcase c;

	jcase_setup(&c, "gap");
	if (unlink(c.target) < 0)
		tap_bail("unlink %s: %s", c.target, strerror(errno));
	jcase_check(&c, "gap", -STORE_EGAP, POLICY_GAP);
}

static void test_stale(void)
{
	struct jcase c;

	jcase_setup_stale(&c, "stale");
	jcase_check(&c, "stale", -STORE_ESTALE, POLICY_STALE);
}

static void test_snapshot(void)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct store_verify_report rep;
	struct su_lines lines = { 0 };
	struct store_error err = { 0 };
	struct store_info info;
	struct su_state full, got;
	uint64_t s1 = 0, s2 = 0, d2;
	unsigned char *buf;
	size_t len;
	struct store *st;
	int rc;

	su_path(dir, sizeof(dir), "%s/snapshot", tmp);
	make_dir(dir);
	su_create(dir);
	st = begin(dir, 1, NULL);
	su_put_keys(st, "k", 1, 4, NULL);
	rc = store_snapshot(st, &s1, &err);
	is_int(rc, 0, "snapshot: the first snapshot is written (%s)", err.msg);
	su_put_keys(st, "k", 5, 2, NULL);
	store_put(st, "k0001", "\"changed\"", STORE_ANY_VERSION, NULL, &err);
	store_del(st, "k0002", STORE_ANY_VERSION, NULL, &err);
	rc = store_snapshot(st, &s2, &err);
	is_int(rc, 0, "snapshot: the second snapshot is written (%s)", err.msg);
	d2 = su_store_digest(st);
	su_put_keys(st, "k", 7, 1, NULL);
	su_state_init(&full);
	su_state_load(st, &full);
	store_end_epoch(st);
	store_close(st);
	ok(s1 > 0 && s2 > s1, "snapshot: two snapshots, at %" PRIu64 " and %" PRIu64, s1, s2);

	/* The snapshot as format.h describes it. */
	su_snapshot_path(path, sizeof(path), dir, s2);
	buf = (unsigned char *)tu_read_file(path, &len);
	if (buf == NULL)
		tap_bail("snapshot: read %s: %s", path, strerror(errno));
	ok(len >= FMT_SNAPSHOT_HEADER + FMT_TRAILER && memcmp(buf, FMT_SNAPSHOT_MAGIC, 8) == 0 &&
	    su_crc_ok(buf, len), "snapshot: %s has the magic and a correct CRC-32C", path);
	ok(len >= FMT_SNAPSHOT_HEADER && su_get_le64(buf + 16) == s2 && su_get_le64(buf + 40) == d2 &&
	    su_get_le64(buf + 48) == 5, "snapshot: its seq, digest and key count are those of the state");

	/* Damage the newest one. */
	buf[FMT_SNAPSHOT_HEADER + 5] ^= 0x01;
	if (tu_write_file(path, buf, len) < 0)
		tap_bail("write %s", path);

	st = su_open(dir, NULL);
	store_info(st, &info);
	is_int(info.snapshot_seq, s1, "snapshot: store_open falls back to the older snapshot");
	ok(strstr(info.snapshot_msg, su_basename(path)) != NULL,
	    "snapshot: store_info.snapshot_msg names the damaged one (%s)", info.snapshot_msg);
	su_state_init(&got);
	su_state_load(st, &got);
	is_int(su_state_diff(&got, &full, "snapshot fallback"), 0,
	    "snapshot: the state is complete (older snapshot + journal)");
	su_state_free(&got);
	is_int(info.digest, su_state_digest(&full), "snapshot: and its digest is right");

	memset(&rep, 0, sizeof(rep));
	rc = store_verify(dir, &rep, su_lines_add, &lines, &err);
	is_int(rc, 1, "snapshot: store_verify finds the damaged snapshot");
	ok(su_lines_have(&lines, su_basename(path)) && su_lines_have(&lines, "snapshot"),
	    "snapshot: in a line naming it");
	if (!su_lines_have(&lines, su_basename(path)))
		su_lines_print(&lines);
	ok(rep.damaged >= 1, "snapshot: counted as damaged (%u)", rep.damaged);
	su_lines_free(&lines);

	memset(&err, 0, sizeof(err));
	rc = store_begin_epoch(st, 2, "damage-host", 1, NULL, &err);
	is_int(rc, 0, "snapshot: store_begin_epoch goes on: the journal is whole (%s)", err.msg);
	ok(su_quarantine_holds(dir, buf, len), "snapshot: the damaged snapshot is in quarantine/");
	{
		size_t now_len = 0;
		char *now = tu_read_file(path, &now_len);
		ok(now == NULL || now_len != len || memcmp(now, buf, len) != 0,
		    "snapshot: and no longer in snapshots/");
		free(now);
	}
	su_state_init(&got);
	su_state_load(st, &got);
	is_int(su_state_diff(&got, &full, "snapshot after recovery"), 0,
	    "snapshot: the state is unchanged by the recovery");
	su_state_free(&got);
	store_close(st);
	su_state_free(&full);
	free(buf);
}

/* Rewrites the identity file with the first line replaced; fix_crc: give
 * the crc32c line the right value for the new text. */
static void identity_rewrite(const char *dir, const char *first_line, int fix_crc)
{
	char path[PATH_MAX], out[4096];
	char *text, *nl, *crc_line;
	size_t len, body;

	su_path(path, sizeof(path), "%s/%s", dir, FMT_IDENTITY_NAME);
	text = tu_read_file(path, &len);
	if (text == NULL)
		tap_bail("read %s", path);
	nl = strchr(text, '\n');
	crc_line = strstr(text, "crc32c = ");
	if (nl == NULL || crc_line == NULL)
		tap_bail("%s: no first line or no crc32c line", path);
	body = (size_t)snprintf(out, sizeof(out), "%s%.*s", first_line,
	    (int)(crc_line - nl), nl);
	if (fix_crc)
		snprintf(out + body, sizeof(out) - body, "crc32c = %08x\n", su_crc32c(out, body));
	else
		snprintf(out + body, sizeof(out) - body, "%s", crc_line);
	if (tu_write_file(path, out, strlen(out)) < 0)
		tap_bail("write %s", path);
	free(text);
}

static void test_identity(void)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct store_options opt = { 0 };
	struct store_verify_report rep;
	struct store_error err = { 0 };
	struct store *st = NULL;
	char *text, *crc_line;
	size_t len;
	unsigned got_crc = 0;
	int rc;

	su_path(dir, sizeof(dir), "%s/identity", tmp);
	make_dir(dir);
	su_create(dir);
	su_path(path, sizeof(path), "%s/%s", dir, FMT_IDENTITY_NAME);
	text = tu_read_file(path, &len);
	crc_line = text ? strstr(text, "crc32c = ") : NULL;
	static const char head[] = "ssfm-store = 1\ngroup = test\nio_timeout = 1\ncreated = ";
	ok(text != NULL && strncmp(text, head, sizeof(head) - 1) == 0,
	    "identity: the lines of format.h, in order");
	ok(crc_line != NULL && sscanf(crc_line, "crc32c = %8x", &got_crc) == 1 &&
	    got_crc == su_crc32c(text, (size_t)(crc_line - text)),
	    "identity: its crc32c line is the CRC-32C of the lines before it");
	free(text);

	identity_rewrite(dir, "ssfm-store = 2", 1);
	rc = store_open(dir, &opt, &st, &err);
	is_int(rc, -STORE_EFORMAT, "identity: format version 2 is refused with STORE_EFORMAT");
	ok(strstr(err.msg, FMT_IDENTITY_NAME) != NULL, "identity: naming the identity file (%s)", err.msg);
	memset(&err, 0, sizeof(err));
	memset(&rep, 0, sizeof(rep));
	rc = store_verify(dir, &rep, NULL, NULL, &err);
	is_int(rc, -STORE_EFORMAT, "identity: store_verify refuses it too (%s)", err.msg);

	identity_rewrite(dir, "ssfm-store = 1", 0);
	memset(&err, 0, sizeof(err));
	rc = store_open(dir, &opt, &st, &err);
	ok(rc < 0, "identity: a wrong crc32c line is refused (%s: %s)", store_strerror(rc), err.msg);
	ok(strstr(err.msg, FMT_IDENTITY_NAME) != NULL, "identity: naming the identity file");
	if (rc == 0)
		store_close(st);

	su_path(dir, sizeof(dir), "%s/not-a-store", tmp);
	make_dir(dir);
	su_path(path, sizeof(path), "%s/journal", dir);
	make_dir(path);
	su_path(path, sizeof(path), "%s/data.bin", dir);
	tu_write_file(path, "SSFMBAT1", 8);
	memset(&err, 0, sizeof(err));
	rc = store_open(dir, &opt, &st, &err);
	is_int(rc, -STORE_ENOTSTORE, "not a store: store_open says STORE_ENOTSTORE");
	ok(strstr(err.msg, dir) != NULL, "not a store: naming the folder (%s)", err.msg);
	memset(&err, 0, sizeof(err));
	rc = store_verify(dir, &rep, NULL, NULL, &err);
	is_int(rc, -STORE_ENOTSTORE, "not a store: store_verify says STORE_ENOTSTORE");
}

int main(void)
{
	tmp = tu_tmpdir("damage");
	test_journal_damage("bit-flip", damage_bitflip);
	test_journal_damage("truncated", damage_truncate);
	test_journal_damage("empty", damage_empty);
	test_journal_damage("not-json", damage_not_json);
	test_journal_damage("wrong-crc", damage_crc);
	test_journal_damage("first-seq", damage_first_seq);
	test_journal_damage("last-seq", damage_last_seq);
	test_journal_damage("count-0", damage_count);
	test_journal_damage("version-2", damage_version);
	test_gap();
	test_stale();
	test_snapshot();
	test_identity();
	return tap_done();
}
