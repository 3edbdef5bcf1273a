/*
 * store.c: creating, opening and closing a store, following it, and the
 * reads.  The rwlock guards the applied state; only the thread that
 * applies (the committer while in an epoch, else the caller of
 * store_follow/store_reload) takes it exclusively, and never across I/O.
 */
#include "store_int.h"
#include "checksum.h"
#include "jsonv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How often a follower whose next file is missing lists snapshots/ to see
 * whether the journal was compacted past it. */
#define FOLLOW_SNAPSHOT_CHECK_MS 1000

void store_seterr(struct store_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int store_fmt(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return n;
}

uint64_t store_realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t store_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int store_check_key(const char *key, size_t len, struct store_error *err)
{
	size_t off;

	if (len == 0) {
		store_seterr(err, -STORE_EKEY, "empty key");
		return -STORE_EKEY;
	}
	if (len > STORE_KEY_MAX) {
		store_seterr(err, -STORE_EKEY, "key of %zu bytes is longer than %u bytes", len, STORE_KEY_MAX);
		return -STORE_EKEY;
	}
	if (memchr(key, '\0', len)) {
		store_seterr(err, -STORE_EKEY, "key contains a NUL byte at offset %zu",
		    (size_t)((const char *)memchr(key, '\0', len) - key));
		return -STORE_EKEY;
	}
	if (jsonv_utf8(key, len, &off) < 0) {
		store_seterr(err, -STORE_EKEY, "key is not valid UTF-8 (byte %zu)", off);
		return -STORE_EKEY;
	}
	return 0;
}

int store_check_value(const char *json, size_t len, size_t max_bytes,
    struct store_error *err)
{
	size_t off;
	const char *why;

	if (max_bytes == 0)
		max_bytes = STORE_VALUE_MAX_DEFAULT;
	if (len > max_bytes) {
		store_seterr(err, -STORE_ETOOLARGE, "value of %zu bytes is larger than the limit of %zu bytes",
		    len, max_bytes);
		return -STORE_ETOOLARGE;
	}
	if (!json || jsonv_validate(json, len, &off, &why) < 0) {
		if (!json) {
			off = 0;
			why = "no value";
		}
		store_seterr(err, -STORE_EVALUE, "value is not valid JSON: %s at byte %zu", why, off);
		return -STORE_EVALUE;
	}
	return 0;
}

unsigned store_reqid_retention(const struct store *st)
{
	return st->opt.reqid_retention_s ? st->opt.reqid_retention_s : 600;
}

/* ---- creating ---- */

/* 1 if dir/name is an empty directory. */
static int subdir_is_empty(const char *dir, const char *name)
{
	char path[STORE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int empty = 1;

	store_fmt(path, sizeof(path), "%s/%s", dir, name);
	d = opendir(path);
	if (!d)
		return 0;
	while (empty && (de = readdir(d)) != NULL)
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/* What a store_create that failed part way leaves: its empty folders and
 * the temporary of its identity file.  A second try must not refuse it. */
static int left_by_create(const char *dir, const char *name)
{
	static const char *const subdirs[] = { FMT_JOURNAL_DIR, FMT_EPOCHS_DIR,
		FMT_SNAPSHOTS_DIR, FMT_QUARANTINE_DIR };
	char tmp_prefix[64];

	store_fmt(tmp_prefix, sizeof(tmp_prefix), ".tmp-%s-", FMT_IDENTITY_NAME);
	if (!strncmp(name, tmp_prefix, strlen(tmp_prefix)))
		return 1;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (!strcmp(name, subdirs[i]))
			return subdir_is_empty(dir, name);
	return 0;
}

static int dir_is_empty(const char *dir, struct store_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		/* The lease file is fence/'s, and `ssfm init` may write it
		 * first; lost+found comes with a fresh filesystem. */
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, FMT_LEASE_NAME) || !strcmp(de->d_name, "lost+found") ||
		    left_by_create(dir, de->d_name))
			continue;
		rc = -ENOTEMPTY;
		store_seterr(err, rc, "%s is not empty (it holds %s): a store is made in an empty directory",
		    dir, de->d_name);
		break;
	}
	closedir(d);
	return rc;
}

int store_create(const char *dir, const struct store_create_params *p,
    struct store_error *err)
{
	static const char *const subdirs[] = { FMT_JOURNAL_DIR, FMT_EPOCHS_DIR,
		FMT_SNAPSHOTS_DIR, FMT_QUARANTINE_DIR };
	struct format_identity id;
	char path[STORE_PATH_MAX], text[512];
	atomic_int link_mode = 0;
	int rc, len;

	if (!p || !p->group || format_check_group(p->group) < 0) {
		store_seterr(err, -EINVAL, "group name \"%s\" must be 1..%u bytes of [A-Za-z0-9._-]",
		    p && p->group ? p->group : "", STORE_GROUP_MAX);
		return -EINVAL;
	}
	if (p->io_timeout < 1 || p->io_timeout > 60) {
		store_seterr(err, -EINVAL, "io_timeout %u is outside 1..60 seconds", p->io_timeout);
		return -EINVAL;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		store_seterr(err, rc, "%s: mkdir: %s", dir, strerror(-rc));
		return rc;
	}
	store_fmt(path, sizeof(path), "%s/%s", dir, FMT_IDENTITY_NAME);
	if (access(path, F_OK) == 0) {
		store_seterr(err, -EEXIST, "%s is already an ssfm store (%s exists)", dir, path);
		return -EEXIST;
	}
	rc = dir_is_empty(dir, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		store_fmt(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			store_seterr(err, rc, "%s: mkdir: %s", path, strerror(-rc));
			return rc;
		}
	}
	rc = durable_fsync_dir(dir, "store/init", err);
	if (rc < 0)
		return rc;
	memset(&id, 0, sizeof(id));
	id.version = FMT_VERSION;
	store_fmt(id.group, sizeof(id.group), "%s", p->group);
	id.io_timeout = p->io_timeout;
	id.created_ms = store_realtime_ms();
	len = format_identity_encode(&id, text, sizeof(text));
	if (len < 0) {
		store_seterr(err, len, "%s: identity too long", dir);
		return len;
	}
	/* The identity is written last: a directory is a store only once its
	 * folders exist. */
	rc = durable_write(dir, FMT_IDENTITY_NAME, "store/init", text, (size_t)len, &link_mode, NULL, err);
	if (rc == -EEXIST)
		store_seterr(err, rc, "%s is already an ssfm store (created concurrently)", dir);
	return rc;
}

/* ---- opening ---- */

static int store_read_identity(struct store *st, struct store_error *err)
{
	char path[STORE_PATH_MAX], why[256];
	unsigned char *buf;
	size_t len;
	struct stat sb;
	int rc;

	if (stat(st->dir, &sb) < 0) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", st->dir, strerror(-rc));
		return rc;
	}
	store_fmt(path, sizeof(path), "%s/%s", st->dir, FMT_IDENTITY_NAME);
	rc = journal_read_file(path, &buf, &len);
	if (rc == -ENOENT) {
		store_seterr(err, -STORE_ENOTSTORE,
		    "%s is not an ssfm store: no %s; create one with `ssfm init`", st->dir, path);
		return -STORE_ENOTSTORE;
	}
	if (rc < 0) {
		store_seterr(err, rc, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = format_identity_parse((const char *)buf, len, &st->id, why, sizeof(why));
	free(buf);
	if (rc < 0)
		store_seterr(err, rc, "%s: %s", path, why);
	return rc;
}

int store_load(struct store *st, struct store_state *s, char *snapmsg,
    size_t snapmsg_len, struct journal_progress *prog,
    struct store_error *err)
{
	int rc;

	memset(prog, 0, sizeof(*prog));
	rc = snapshot_load_newest(st, s, 0, snapmsg, snapmsg_len, err);
	if (rc < 0)
		return rc;
	rc = journal_catch_up(st, s, NULL, JOURNAL_FOLLOW, 0, prog, err);
	if (rc == -STORE_EDIGEST)
		rc = 0;       /* reported through prog->blocked */
	if (rc == 0 && !prog->blocked) {
		/* Loading is rare enough to afford a listing: a file after
		 * the missing next one is a gap to report. */
		uint64_t later;
		char path[STORE_PATH_MAX], later_path[STORE_PATH_MAX];

		rc = journal_next_present(st, s->applied_seq, &later, err);
		if (rc == 0 && later > s->applied_seq + 1) {
			journal_path(st, s->applied_seq + 1, path, sizeof(path));
			journal_path(st, later, later_path, sizeof(later_path));
			prog->blocked = -STORE_EGAP;
			store_fmt(prog->blocked_file, sizeof(prog->blocked_file), "%s", path);
			store_fmt(prog->blocked_msg, sizeof(prog->blocked_msg),
			    "%s is missing but %s exists: a gap in the journal (ssfm verify)", path, later_path);
		}
	}
	return rc;
}

void store_set_blocked(struct store *st, const struct journal_progress *p)
{
	st->blocked = p->blocked;
	if (p->blocked) {
		store_fmt(st->blocked_file, sizeof(st->blocked_file), "%s", p->blocked_file);
		store_fmt(st->blocked_msg, sizeof(st->blocked_msg), "%s", p->blocked_msg);
	} else {
		st->blocked_file[0] = '\0';
		st->blocked_msg[0] = '\0';
	}
}

static int store_paths(struct store *st, const char *dir, struct store_error *err)
{
	if (strlen(dir) + 128 >= sizeof(st->dir)) {
		store_seterr(err, -ENAMETOOLONG, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	store_fmt(st->dir, sizeof(st->dir), "%s", dir);
	store_fmt(st->journal_dir, sizeof(st->journal_dir), "%s/%s", dir, FMT_JOURNAL_DIR);
	store_fmt(st->epochs_dir, sizeof(st->epochs_dir), "%s/%s", dir, FMT_EPOCHS_DIR);
	store_fmt(st->snapshots_dir, sizeof(st->snapshots_dir), "%s/%s", dir, FMT_SNAPSHOTS_DIR);
	store_fmt(st->quarantine_dir, sizeof(st->quarantine_dir), "%s/%s", dir, FMT_QUARANTINE_DIR);
	return 0;
}

int store_prepare(struct store *st, const char *dir, struct store_error *err)
{
	int rc = store_paths(st, dir, err);

	if (rc == 0)
		rc = store_read_identity(st, err);
	return rc;
}

int store_open(const char *dir, const struct store_options *opt,
    struct store **out, struct store_error *err)
{
	struct store *st;
	struct journal_progress prog;
	int rc;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st) {
		store_seterr(err, -ENOMEM, "%s: out of memory", dir);
		return -ENOMEM;
	}
	if (opt)
		st->opt = *opt;
	if (st->opt.max_batch_ops == 0)
		st->opt.max_batch_ops = 4096;
	if (st->opt.max_value_bytes == 0)
		st->opt.max_value_bytes = STORE_VALUE_MAX_DEFAULT;
	atomic_init(&st->link_mode, st->opt.force_link ? 1 : 0);
	pthread_rwlock_init(&st->lock, NULL);
	pthread_mutex_init(&st->qlock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&st->qcond, &ca);
		pthread_condattr_destroy(&ca);
	}
	rc = store_prepare(st, dir, err);
	if (rc < 0)
		goto fail;
	rc = journal_state_init(&st->state);
	if (rc < 0) {
		store_seterr(err, rc, "%s: out of memory", dir);
		goto fail;
	}
	rc = store_load(st, &st->state, st->snapshot_msg, sizeof(st->snapshot_msg), &prog, err);
	if (rc < 0)
		goto fail;
	store_set_blocked(st, &prog);
	st->committed_seq = st->state.applied_seq;
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	commit_stop(st);
	journal_state_free(&st->state);
	free(st->encbuf);
	free(st->read_buf);
	pthread_rwlock_destroy(&st->lock);
	pthread_mutex_destroy(&st->qlock);
	pthread_cond_destroy(&st->qcond);
	free(st);
}

/* ---- following ---- */

int store_reload(struct store *st, struct store_error *err)
{
	struct store_state fresh, old;
	struct journal_progress prog;
	char snapmsg[sizeof(st->snapshot_msg)] = "";
	int rc;

	if (st->writer) {
		store_seterr(err, -EBUSY, "%s: the writer does not reload; end the epoch first", st->dir);
		return -EBUSY;
	}
	rc = journal_state_init(&fresh);
	if (rc < 0) {
		store_seterr(err, rc, "%s: out of memory", st->dir);
		return rc;
	}
	rc = store_load(st, &fresh, snapmsg, sizeof(snapmsg), &prog, err);
	if (rc < 0) {
		journal_state_free(&fresh);
		return rc;
	}
	pthread_rwlock_wrlock(&st->lock);
	old = st->state;
	st->state = fresh;
	st->committed_seq = fresh.applied_seq;
	store_fmt(st->snapshot_msg, sizeof(st->snapshot_msg), "%s", snapmsg);
	store_set_blocked(st, &prog);
	pthread_rwlock_unlock(&st->lock);
	journal_state_free(&old);
	return 0;
}

/*
 * When the next file is missing, it may have been compacted away: that is
 * possible only if the second-newest snapshot is at or past it (compaction
 * keeps every file above the second-newest valid snapshot), and then the
 * store reloads.  A follower merely behind a new file (a CephFS or NFS
 * lookup delay) is never reloaded by the newest snapshot alone.
 */
static int follow_check_compacted(struct store *st, int *reloaded,
    struct store_error *err)
{
	uint64_t now = store_monotonic_ms(), second;
	int rc;

	*reloaded = 0;
	if (st->last_snapshot_check_ms && now - st->last_snapshot_check_ms < FOLLOW_SNAPSHOT_CHECK_MS)
		return 0;
	st->last_snapshot_check_ms = now;
	rc = snapshot_newest_name(st, 1, &second, err);
	if (rc < 0 || second <= st->state.applied_seq)
		return rc;
	rc = store_reload(st, err);
	if (rc == 0)
		*reloaded = 1;
	return rc;
}

int store_follow(struct store *st, struct store_follow_result *res,
    struct store_error *err)
{
	struct journal_progress prog;
	uint64_t before = st->state.applied_seq;
	int rc = 0, reloaded = 0;

	memset(res, 0, sizeof(*res));
	memset(&prog, 0, sizeof(prog));
	if (!st->writer) {
		rc = journal_catch_up(st, &st->state, &st->lock, JOURNAL_FOLLOW, 0, &prog, err);
		if (rc == 0 && prog.batches == 0 && !prog.blocked) {
			rc = follow_check_compacted(st, &reloaded, err);
			if (rc == 0 && reloaded) {
				memset(&prog, 0, sizeof(prog));
				rc = journal_catch_up(st, &st->state, &st->lock, JOURNAL_FOLLOW, 0, &prog, err);
			}
		}
		pthread_rwlock_wrlock(&st->lock);
		if (rc == 0 || rc == -STORE_EDIGEST)
			store_set_blocked(st, &prog);
		st->committed_seq = st->state.applied_seq;
		pthread_rwlock_unlock(&st->lock);
	}
	pthread_rwlock_rdlock(&st->lock);
	res->batches = prog.batches;
	res->ops = prog.ops;
	res->applied_seq = st->state.applied_seq;
	res->last_commit_time_ms = st->state.last_commit_time_ms;
	res->blocked = st->blocked;
	store_fmt(res->blocked_file, sizeof(res->blocked_file), "%s", st->blocked_file);
	pthread_rwlock_unlock(&st->lock);
	/* A reload past a compacted journal counts as progress. */
	if (reloaded && res->applied_seq > before && res->batches == 0)
		res->batches = 1;
	if (rc < 0)
		return rc;
	return (int)res->batches;
}

int store_check_gap(struct store *st, struct store_error *err)
{
	uint64_t next, found;
	char path[STORE_PATH_MAX], found_path[STORE_PATH_MAX];
	struct stat sb;
	int rc;

	pthread_rwlock_rdlock(&st->lock);
	next = st->state.applied_seq + 1;
	pthread_rwlock_unlock(&st->lock);
	rc = journal_next_present(st, next - 1, &found, err);
	if (rc < 0)
		return rc;
	if (found == 0 || found == next)
		return 0;
	/* The listing may predate the next file: look at it by name. */
	journal_path(st, next, path, sizeof(path));
	if (stat(path, &sb) == 0)
		return 0;
	journal_path(st, found, found_path, sizeof(found_path));
	store_seterr(err, -STORE_EGAP, "%s is missing but %s exists (a gap, or a compaction past this reader)",
	    path, found_path);
	pthread_rwlock_wrlock(&st->lock);
	if (!st->blocked) {
		st->blocked = -STORE_EGAP;
		store_fmt(st->blocked_file, sizeof(st->blocked_file), "%s", path);
		store_fmt(st->blocked_msg, sizeof(st->blocked_msg), "%s", err->msg);
	}
	pthread_rwlock_unlock(&st->lock);
	return 1;
}

/* ---- reading ---- */

int store_get(struct store *st, const char *key, size_t key_len,
    char **value, size_t *value_len, uint64_t *version)
{
	struct record *r;
	int rc = 0;

	*value = NULL;
	pthread_rwlock_rdlock(&st->lock);
	r = table_get(st->state.table, key, key_len);
	if (!r) {
		rc = -STORE_ENOTFOUND;
		goto out;
	}
	*value = malloc(r->value_len + 1);
	if (!*value) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*value, record_value(r), r->value_len + 1);
	if (value_len)
		*value_len = r->value_len;
	if (version)
		*version = r->version;
out:
	pthread_rwlock_unlock(&st->lock);
	return rc;
}

long store_list(struct store *st, const char *prefix, size_t prefix_len,
    const char *start, size_t start_len, size_t limit, store_list_fn fn,
    void *arg)
{
	struct table_iter it;
	struct record *r;
	long n = 0;

	if (!prefix)
		prefix_len = 0;
	if (!start || key_compare(start, start_len, prefix, prefix_len) < 0) {
		start = prefix_len ? prefix : NULL;
		start_len = prefix_len;
	}
	pthread_rwlock_rdlock(&st->lock);
	table_iter_seek(&it, st->state.table, start, start_len);
	while ((limit == 0 || (size_t)n < limit) && (r = table_iter_next(&it)) != NULL) {
		if (r->key_len < prefix_len || (prefix_len && memcmp(record_key(r), prefix, prefix_len) != 0))
			break;
		n++;
		if (fn(arg, record_key(r), r->key_len, record_value(r), r->value_len, r->version))
			break;
	}
	pthread_rwlock_unlock(&st->lock);
	return n;
}

void store_info(struct store *st, struct store_info *info)
{
	memset(info, 0, sizeof(*info));
	pthread_rwlock_rdlock(&st->lock);
	store_fmt(info->group, sizeof(info->group), "%s", st->id.group);
	info->format = st->id.version;
	info->io_timeout = st->id.io_timeout;
	info->applied_seq = st->state.applied_seq;
	info->committed_seq = st->writer ? st->committed_seq : st->state.applied_seq;
	info->epoch = st->state.epoch;
	info->digest = table_digest(st->state.table);
	info->keys = table_count(st->state.table);
	info->key_bytes = table_key_bytes(st->state.table);
	info->value_bytes = table_value_bytes(st->state.table);
	info->last_commit_time_ms = st->state.last_commit_time_ms;
	info->snapshot_seq = st->state.snapshot_seq;
	info->writer = st->writer;
	info->failed = st->failed;
	store_fmt(info->failed_msg, sizeof(info->failed_msg), "%s", st->failed_msg);
	info->last_seal = st->state.last_seal;
	info->blocked = st->blocked;
	store_fmt(info->blocked_file, sizeof(info->blocked_file), "%s", st->blocked_file);
	store_fmt(info->blocked_msg, sizeof(info->blocked_msg), "%s", st->blocked_msg);
	store_fmt(info->snapshot_msg, sizeof(info->snapshot_msg), "%s", st->snapshot_msg);
	pthread_rwlock_unlock(&st->lock);
}
