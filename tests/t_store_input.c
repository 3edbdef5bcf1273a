/*
 * t_store_input: the store refuses bad input without touching the journal,
 * accepts input exactly at the limits, refuses folders that are not stores,
 * fails cleanly (naming the file) on a read-only filesystem, and survives a
 * full filesystem: the failing write is refused and named, the writer enters
 * the failed state and says so, every acknowledged write survives a reopen,
 * and no partial file is left behind.
 *
 * The read-only and full filesystems are small tmpfs mounts in a private
 * mount namespace, so the test must run as root (CI does).
 */
#include "storeutil.h"
#include "format.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp;

static int write_raw(struct store *st, const char *key, size_t key_len,
    const char *value, size_t value_len, struct store_write_result *res)
{
	struct store_write_req req = {
		.kind = STORE_OP_PUT,
		.key = key,
		.key_len = key_len,
		.value = value,
		.value_len = value_len,
		.expected_version = STORE_ANY_VERSION,
	};

	memset(res, 0, sizeof(*res));
	return store_write(st, &req, res);
}

static long journal_files(const char *dir)
{
	char path[PATH_MAX];

	su_path(path, sizeof(path), "%s/%s", dir, FMT_JOURNAL_DIR);
	return su_list_dir(path, NULL, NULL);
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		tap_bail("mkdir %s: %s", path, strerror(errno));
}

static struct store *begin_writer(const char *dir, const struct store_options *opt)
{
	struct store_error err = { 0 };
	struct store *st = su_open(dir, opt);
	int rc = store_begin_epoch(st, 1, "input-host", 1, NULL, &err);

	if (rc < 0)
		tap_bail("store_begin_epoch %s: %s (%s)", dir, store_strerror(rc), err.msg);
	return st;
}

/* 1 if the stored value of key equals value (and prints why not). */
static int stored_equals(struct store *st, const char *key, size_t key_len,
    const char *value, size_t value_len)
{
	char *got = NULL;
	size_t got_len = 0;
	uint64_t version = 0;
	int rc = store_get(st, key, key_len, &got, &got_len, &version);
	int same = rc == 0 && got_len == value_len && memcmp(got, value, value_len) == 0;

	if (!same)
		tap_diag("store_get: rc %d (%s), %zu bytes, want %zu", rc,
		    store_strerror(rc), got_len, value_len);
	free(got);
	return same;
}

struct bad_key {
	const char *what;
	const char *key;
	size_t len;
};

static void test_keys(struct store *st, const char *dir)
{
	static const struct bad_key bad[] = {
		{ "empty key", "", 0 },
		{ "key with NUL", "a\0b", 3 },
		{ "overlong '/' (C0 AF)", "a\xC0\xAF", 3 },
		{ "overlong 3-byte (E0 80 AF)", "\xE0\x80\xAF", 3 },
		{ "lone continuation byte", "a\x80z", 3 },
		{ "UTF-16 surrogate (ED A0 80)", "\xED\xA0\x80", 3 },
		{ "code point above U+10FFFF", "\xF4\x90\x80\x80", 4 },
		{ "truncated sequence", "ab\xE2\x82", 4 },
		{ "byte FF", "\xFF", 1 },
	};
	static char long_key[STORE_KEY_MAX + 2];
	struct store_write_result res;
	struct store_error err;
	struct store_info before, after;
	long files_before = journal_files(dir);
	int rc;

	store_info(st, &before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = write_raw(st, bad[i].key, bad[i].len, "1", 1, &res);
		is_int(rc, -STORE_EKEY, "write with %s is refused with STORE_EKEY", bad[i].what);
		ok(res.rc == rc && res.msg[0] != '\0', "the result of the refused write says why (%s)", res.msg);
		memset(&err, 0, sizeof(err));
		is_int(store_check_key(bad[i].key, bad[i].len, &err), -STORE_EKEY,
		    "store_check_key refuses %s", bad[i].what);
		ok(err.msg[0] != '\0', "store_check_key explains (%s)", err.msg);
	}
	memset(long_key, 'k', sizeof(long_key));
	rc = write_raw(st, long_key, STORE_KEY_MAX + 1, "1", 1, &res);
	is_int(rc, -STORE_EKEY, "a key of %u bytes is refused", STORE_KEY_MAX + 1);
	memset(&err, 0, sizeof(err));
	rc = store_put(st, "", "1", STORE_ANY_VERSION, NULL, &err);
	is_int(rc, -STORE_EKEY, "store_put with an empty key is refused");

	store_info(st, &after);
	is_int(after.committed_seq, before.committed_seq, "refused keys committed nothing");
	is_int(journal_files(dir), files_before, "refused keys wrote no journal file");

	rc = write_raw(st, long_key, STORE_KEY_MAX, "\"max\"", 5, &res);
	is_int(rc, 0, "a key of exactly %u bytes is accepted (%s)", STORE_KEY_MAX, res.msg);
	ok(stored_equals(st, long_key, STORE_KEY_MAX, "\"max\"", 5), "and reads back");

	static const struct bad_key good[] = {
		{ "2-byte UTF-8", "caf\xC3\xA9", 5 },
		{ "3-byte UTF-8 U+FFFD", "\xEF\xBF\xBD", 3 },
		{ "4-byte UTF-8 U+1F600", "\xF0\x9F\x98\x80", 4 },
		{ "U+10FFFF", "\xF4\x8F\xBF\xBF", 4 },
		{ "one byte", "x", 1 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		rc = write_raw(st, good[i].key, good[i].len, "2", 1, &res);
		is_int(rc, 0, "a key in %s is accepted (%s)", good[i].what, res.msg);
		ok(stored_equals(st, good[i].key, good[i].len, "2", 1), "and reads back");
	}
}

static void test_values(struct store *st, const char *dir)
{
	static const char *const bad[] = {
		"", " ", "not json", "{", "{\"a\":1", "[1,]", "{\"a\":1} x", "'str'",
		"nul", "01", "\"tab\there\"", "\"bad \xC0\xAF utf8\"", "NaN", "{a:1}",
		"\"\\x41\"", "[1 2]",
	};
	static const char *const good[] = {
		"1", "-0", "2.5e3", "\"s\"", "null", "true", "false", "[]", "{}",
		" {\"a\": [1, 2.5e-3, -0, \"\\u00e9\\n\", {\"b\": null}]} ",
		"\"caf\xC3\xA9\"",
	};
	struct store_write_result res;
	struct store_info before, after;
	long files_before = journal_files(dir);
	int rc;

	store_info(st, &before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = write_raw(st, "v", 1, bad[i], strlen(bad[i]), &res);
		is_int(rc, -STORE_EVALUE, "value '%s' is refused with STORE_EVALUE", bad[i]);
		ok(res.msg[0] != '\0', "with a reason (%s)", res.msg);
	}
	/* Over the default limit of 1 MiB, and exactly at it. */
	size_t big_len = STORE_VALUE_MAX_DEFAULT + 1;
	char *big = malloc(big_len + 1);
	if (big == NULL)
		tap_bail("out of memory");
	big[0] = '"';
	memset(big + 1, 'b', big_len - 2);
	big[big_len - 1] = '"';
	big[big_len] = '\0';
	rc = write_raw(st, "big", 3, big, big_len, &res);
	is_int(rc, -STORE_ETOOLARGE, "a value of 1 MiB + 1 byte is refused with STORE_ETOOLARGE");
	ok(strstr(res.msg, "big") != NULL || res.msg[0] != '\0', "with a reason (%s)", res.msg);

	store_info(st, &after);
	is_int(after.committed_seq, before.committed_seq, "refused values committed nothing");
	is_int(journal_files(dir), files_before, "refused values wrote no journal file");

	big[big_len - 2] = '"';
	rc = write_raw(st, "big", 3, big, big_len - 1, &res);
	is_int(rc, 0, "a value of exactly 1 MiB is accepted (%s)", res.msg);
	ok(stored_equals(st, "big", 3, big, big_len - 1), "and reads back");
	free(big);

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		rc = write_raw(st, "good", 4, good[i], strlen(good[i]), &res);
		is_int(rc, 0, "value '%s' is accepted (%s)", good[i], res.msg);
		ok(stored_equals(st, "good", 4, good[i], strlen(good[i])), "and reads back unchanged");
	}
}

static void test_small_limit(void)
{
	char dir[PATH_MAX];
	struct store_options opt = { .max_value_bytes = 100 };
	struct store_write_result res;
	struct store_error err = { 0 };
	char value[128];
	struct store *st;
	int rc;

	su_path(dir, sizeof(dir), "%s/small", tmp);
	make_dir(dir);
	su_create(dir);
	st = begin_writer(dir, &opt);
	value[0] = '"';
	memset(value + 1, 's', 99);
	value[100] = '"';
	value[101] = '\0';
	rc = write_raw(st, "s", 1, value, 101, &res);
	is_int(rc, -STORE_ETOOLARGE, "with max_value_bytes 100, 101 bytes are refused");
	value[99] = '"';
	value[100] = '\0';
	rc = write_raw(st, "s", 1, value, 100, &res);
	is_int(rc, 0, "with max_value_bytes 100, 100 bytes are accepted (%s)", res.msg);
	ok(stored_equals(st, "s", 1, value, 100), "and read back");
	is_int(store_check_value(value, 100, 100, &err), 0, "store_check_value accepts 100 of 100");
	is_int(store_check_value(value, 100, 99, &err), -STORE_ETOOLARGE,
	    "store_check_value refuses 100 of 99");
	store_close(st);
}

static void test_not_a_store(void)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct store_options opt = { 0 };
	struct store_create_params p = { .group = "test", .io_timeout = 1 };
	struct store_verify_report rep;
	struct store_error err = { 0 };
	struct store *st = NULL;
	int rc;

	su_path(dir, sizeof(dir), "%s/empty", tmp);
	make_dir(dir);
	rc = store_open(dir, &opt, &st, &err);
	is_int(rc, -STORE_ENOTSTORE, "store_open of an empty folder: STORE_ENOTSTORE");
	ok(strstr(err.msg, dir) != NULL, "the message names the folder (%s)", err.msg);
	memset(&err, 0, sizeof(err));
	memset(&rep, 0, sizeof(rep));
	rc = store_verify(dir, &rep, NULL, NULL, &err);
	is_int(rc, -STORE_ENOTSTORE, "store_verify of an empty folder: STORE_ENOTSTORE");

	su_path(dir, sizeof(dir), "%s/other", tmp);
	make_dir(dir);
	su_path(path, sizeof(path), "%s/notes.txt", dir);
	tu_write_file(path, "hello\n", 6);
	memset(&err, 0, sizeof(err));
	rc = store_open(dir, &opt, &st, &err);
	is_int(rc, -STORE_ENOTSTORE, "store_open of a folder of other files: STORE_ENOTSTORE");
	memset(&err, 0, sizeof(err));
	rc = store_create(dir, &p, &err);
	ok(rc < 0, "store_create refuses a folder that is not empty (%s: %s)",
	    store_strerror(rc), err.msg);
	su_path(path, sizeof(path), "%s/%s", dir, FMT_IDENTITY_NAME);
	ok(!tu_file_exists(path), "and writes no identity file there");

	su_path(dir, sizeof(dir), "%s/twice", tmp);
	make_dir(dir);
	su_create(dir);
	memset(&err, 0, sizeof(err));
	rc = store_create(dir, &p, &err);
	is_int(rc, -EEXIST, "store_create of an existing store: EEXIST");
}

/* A private mount namespace, so our tmpfs mounts vanish with the test. */
static int private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0) {
		tap_diag("unshare(CLONE_NEWNS): %s", strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		tap_diag("making / private: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int mount_tmpfs(const char *path, const char *size)
{
	char opts[64];

	make_dir(path);
	snprintf(opts, sizeof(opts), "size=%s,mode=0755", size);
	if (mount("ssfm-test", path, "tmpfs", 0, opts) < 0) {
		tap_diag("mount tmpfs on %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void test_read_only(void)
{
	char mnt[PATH_MAX], dir[PATH_MAX], empty[PATH_MAX];
	struct store_create_params p = { .group = "test", .io_timeout = 1 };
	struct store_options opt = { 0 };
	struct store_error err = { 0 };
	struct store_info info;
	struct store *st;
	int rc;

	su_path(mnt, sizeof(mnt), "%s/ro", tmp);
	if (!ok(mount_tmpfs(mnt, "4m") == 0,
	    "mount a tmpfs for the read-only case (this test needs root, as in CI)"))
		return;
	su_path(dir, sizeof(dir), "%s/store", mnt);
	su_path(empty, sizeof(empty), "%s/empty", mnt);
	make_dir(dir);
	make_dir(empty);
	su_create(dir);
	st = begin_writer(dir, NULL);
	ok(su_put_keys(st, "ro/", 0, 3, NULL) == 0, "three writes before the filesystem turns read-only");
	store_close(st);

	rc = mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL);
	if (!ok(rc == 0, "remount the tmpfs read-only (%s)", rc ? strerror(errno) : "ok"))
		goto out;

	rc = store_create(empty, &p, &err);
	is_int(rc, -EROFS, "store_create on a read-only filesystem: EROFS");
	ok(strstr(err.msg, empty) != NULL, "the message names the folder or a file in it (%s)", err.msg);

	st = su_open(dir, &opt);
	char *want = su_value("ro/0002", 2, 8);
	ok(stored_equals(st, "ro/0002", 7, want, strlen(want)),
	    "store_open works on a read-only filesystem and reads the data");
	free(want);
	store_info(st, &info);
	is_int(info.keys, 3, "the store opened read-only holds its three keys");
	memset(&err, 0, sizeof(err));
	rc = store_begin_epoch(st, 2, "input-host", 1, NULL, &err);
	is_int(rc, -EROFS, "store_begin_epoch on a read-only filesystem: EROFS");
	ok(strstr(err.msg, dir) != NULL, "the message names the file (%s)", err.msg);
	store_info(st, &info);
	is_int(info.writer, 0, "the store did not become a writer");
	store_close(st);
out:
	umount2(mnt, MNT_DETACH);
}

static void test_full(void)
{
	char mnt[PATH_MAX], dir[PATH_MAX];
	struct su_state acked, got;
	struct store_verify_report rep;
	struct su_lines lines = { 0 };
	struct store_error err = { 0 };
	struct store_info info;
	struct store *st;
	int rc = 0, failed_rc = 0;
	unsigned i, n_acked = 0;
	char failed_msg[1024] = "";

	su_path(mnt, sizeof(mnt), "%s/full", tmp);
	if (!ok(mount_tmpfs(mnt, "2m") == 0,
	    "mount a 2 MiB tmpfs for the full case (this test needs root, as in CI)"))
		return;
	su_path(dir, sizeof(dir), "%s/store", mnt);
	make_dir(dir);
	su_create(dir);
	st = begin_writer(dir, NULL);
	su_state_init(&acked);
	for (i = 0; i < 1000; i++) {
		char key[32];
		char *value;
		uint64_t version = 0;
		snprintf(key, sizeof(key), "full/%04u", i);
		value = su_value(key, i, 48 * 1024);
		memset(&err, 0, sizeof(err));
		rc = store_put(st, key, value, STORE_ANY_VERSION, &version, &err);
		if (rc == 0) {
			su_state_add(&acked, key, strlen(key), value, strlen(value), version);
			n_acked++;
		} else {
			failed_rc = rc;
			snprintf(failed_msg, sizeof(failed_msg), "%s", err.msg);
		}
		free(value);
		if (rc < 0)
			break;
	}
	ok(n_acked > 5, "%u writes of 48 KiB were acknowledged before the filesystem filled", n_acked);
	is_int(failed_rc, -ENOSPC, "the write that does not fit fails with ENOSPC (%s)", failed_msg);
	ok(strstr(failed_msg, dir) != NULL, "its message names the file (%s)", failed_msg);
	store_info(st, &info);
	ok(info.failed == 1, "the writer is in the failed state");
	ok(info.failed_msg[0] != '\0', "and says why (%s)", info.failed_msg);
	memset(&err, 0, sizeof(err));
	rc = store_put(st, "after", "1", STORE_ANY_VERSION, NULL, &err);
	is_int(rc, -STORE_EFAILED, "a later write is refused: STORE_EFAILED (%s)", err.msg);
	store_end_epoch(st);
	store_close(st);

	st = su_open(dir, NULL);
	su_state_init(&got);
	su_state_load(st, &got);
	su_state_reduce(&acked);
	is_int(su_state_diff(&got, &acked, "after ENOSPC"), 0,
	    "after reopening, the state is exactly the acknowledged writes");
	store_info(st, &info);
	is_int(info.blocked, 0, "nothing blocks the journal after ENOSPC");
	store_close(st);
	memset(&rep, 0, sizeof(rep));
	memset(&err, 0, sizeof(err));
	rc = store_verify(dir, &rep, su_lines_add, &lines, &err);
	is_int(rc, 0, "store_verify finds the store clean after ENOSPC");
	if (rc != 0)
		su_lines_print(&lines);
	is_int(rep.damaged + rep.gaps, 0, "no damaged file and no gap");
	is_int(su_count_temporaries(dir), 0, "the failed write left no temporary file behind");
	su_lines_free(&lines);
	su_state_free(&acked);
	su_state_free(&got);
	umount2(mnt, MNT_DETACH);
}

int main(void)
{
	char dir[PATH_MAX];
	struct store *st;
	int mounts_ok;

	/* Before any thread exists: unshare wants a simple process. */
	mounts_ok = private_mounts() == 0;
	tmp = tu_tmpdir("input");
	su_path(dir, sizeof(dir), "%s/main", tmp);
	make_dir(dir);
	su_create(dir);
	st = begin_writer(dir, NULL);
	test_keys(st, dir);
	test_values(st, dir);
	store_close(st);
	test_small_limit();
	test_not_a_store();
	if (ok(mounts_ok, "a private mount namespace (the test needs root, as CI runs it)")) {
		test_read_only();
		test_full();
	}
	return tap_done();
}
