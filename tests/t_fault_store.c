/*
 * t_fault_store.c: every fault point of the store (store/fault.h) turned on
 * with EIO, ENOSPC, EINTR and short writes, while threads write.
 *
 * For each case, in a fresh store under tu_tmpdir:
 *  - an error (EIO, ENOSPC, ENOMEM) reaches the writer whose batch it hit,
 *    with that code; EINTR and short writes reach nobody (retried,
 *    completed);
 *  - no file is ever committed short: a short write then ENOSPC fails the
 *    batch;
 *  - afterwards a new epoch recovers (a new store handle, as after a
 *    restart), every acknowledged write is there with its value and
 *    version, no temporary is left, and store_verify finds nothing wrong;
 *  - reads (recovery, following, loading a snapshot) that fail make the
 *    caller fail: a new writer never seals over a journal it could not read
 *    to its end, and a follower never applies part of a file.
 */
#include "tap.h"
#include "testutil.h"

#include "fault.h"
#include "store.h"
#include "table.h"

#include <dirent.h>
#include <errno.h>
#include <fiu-control.h>
#include <fiu.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITERS 4
#define WRITES_MAX 4000

enum kind { K_EIO, K_ENOSPC, K_EINTR, K_SHORT, K_SHORT_ENOSPC, K_ENOMEM };
static const char *kind_names[] = { "EIO", "ENOSPC", "EINTR", "short write",
	"short write then ENOSPC", "ENOMEM" };

/* tap_diag for "if (!check) diag(...)": says more when a check failed. */
static int diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int diag(const char *fmt, ...)
{
	char buf[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tap_diag("%s", buf);
	return 0;
}

/* ---- firing points ------------------------------------------------------ */

static atomic_int fires_left;
static atomic_int fired;

/* Fires fires_left times with the failinfo given at enable time. */
static int fire_count(const char *name, int *failnum, void **failinfo,
    unsigned *flags)
{
	(void)name; (void)failnum; (void)failinfo; (void)flags;
	if (atomic_fetch_sub(&fires_left, 1) <= 0)
		return 0;
	atomic_fetch_add(&fired, 1);
	return 1;
}

/* First a short write, then ENOSPC, then nothing. */
static int fire_short_then_enospc(const char *name, int *failnum,
    void **failinfo, unsigned *flags)
{
	(void)name; (void)failnum; (void)flags;
	int left = atomic_fetch_sub(&fires_left, 1);

	if (left <= 0)
		return 0;
	atomic_fetch_add(&fired, 1);
	*failinfo = (void *)(intptr_t)(left == 2 ? FAULT_SHORT : ENOSPC);
	return 1;
}

/* Errors fire until disabled; EINTR fires a few times (retries must end);
 * short writes fire until disabled (each write is cut in half). */
static void fault_on(const char *point, enum kind k)
{
	int rc;

	atomic_store(&fired, 0);
	switch (k) {
	case K_EINTR:
		atomic_store(&fires_left, 3);
		rc = fiu_enable_external(point, 1, (void *)(intptr_t)EINTR, 0, fire_count);
		break;
	case K_SHORT_ENOSPC:
		atomic_store(&fires_left, 2);
		rc = fiu_enable_external(point, 1, NULL, 0, fire_short_then_enospc);
		break;
	default:
		atomic_store(&fires_left, 1 << 30);
		rc = fiu_enable_external(point, 1,
		    (void *)(intptr_t)(k == K_EIO ? EIO : k == K_ENOSPC ? ENOSPC :
		    k == K_ENOMEM ? ENOMEM : FAULT_SHORT), 0, fire_count);
		break;
	}
	if (rc != 0)
		tap_bail("fiu_enable_external %s failed", point);
}

static void fault_off(const char *point)
{
	fiu_disable(point);
}

static int expected_errno(enum kind k)
{
	switch (k) {
	case K_EIO: return -EIO;
	case K_ENOSPC: case K_SHORT_ENOSPC: return -ENOSPC;
	case K_ENOMEM: return -ENOMEM;
	default: return 0;
	}
}

/* ---- writers ------------------------------------------------------------ */

struct writer {
	pthread_t tid;
	int id;
	struct store *st;
	atomic_int *stop;
	uint64_t version[WRITES_MAX];  /* acked version of write n, 0: none */
	int n;                         /* writes attempted */
	atomic_int acked;
	atomic_int errors;
	int first_error;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	while (!atomic_load(w->stop) && w->n < WRITES_MAX) {
		char key[64], val[64];
		struct store_error err;
		uint64_t v = 0;
		int rc;

		snprintf(key, sizeof(key), "w%d/%d", w->id, w->n);
		snprintf(val, sizeof(val), "\"w%d-%d\"", w->id, w->n);
		rc = store_put(w->st, key, val, STORE_ANY_VERSION, &v, &err);
		if (rc == 0) {
			w->version[w->n] = v;
			atomic_fetch_add(&w->acked, 1);
		} else {
			if (atomic_fetch_add(&w->errors, 1) == 0)
				w->first_error = rc;
			tu_sleep_ms(1);
		}
		w->n++;
	}
	return NULL;
}

struct crowd {
	struct writer w[WRITERS];
	atomic_int stop;
};

static void crowd_start(struct crowd *c, struct store *st)
{
	atomic_store(&c->stop, 0);
	for (int i = 0; i < WRITERS; i++) {
		memset(&c->w[i], 0, sizeof(c->w[i]));
		c->w[i].id = i;
		c->w[i].st = st;
		c->w[i].stop = &c->stop;
		if (pthread_create(&c->w[i].tid, NULL, writer_main, &c->w[i]) != 0)
			tap_bail("pthread_create");
	}
}

static void crowd_stop(struct crowd *c)
{
	atomic_store(&c->stop, 1);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(c->w[i].tid, NULL);
}

static int crowd_acked(struct crowd *c)
{
	int n = 0;

	for (int i = 0; i < WRITERS; i++)
		n += atomic_load(&c->w[i].acked);
	return n;
}

static int crowd_errors(struct crowd *c)
{
	int n = 0;

	for (int i = 0; i < WRITERS; i++)
		n += atomic_load(&c->w[i].errors);
	return n;
}

struct acks_at_least { struct crowd *c; int n; };

static int acks_reached(void *arg)
{
	struct acks_at_least *a = arg;

	return crowd_acked(a->c) >= a->n;
}

static int some_error(void *arg)
{
	return crowd_errors(arg) > 0;
}

/* 1 if some writer's first error was code (others may see the writer's
 * failure that followed it, -STORE_EFAILED). */
static int error_seen(struct crowd *c, int code)
{
	for (int i = 0; i < WRITERS; i++)
		if (atomic_load(&c->w[i].errors) && c->w[i].first_error == code)
			return 1;
	return 0;
}

/* ---- checks ------------------------------------------------------------- */

static int count_temporaries(const char *dir)
{
	const char *subs[] = { "journal", "epochs", "snapshots" };
	int n = 0;

	for (size_t i = 0; i < 3; i++) {
		char path[4096];
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, ".tmp-", 5) == 0)
				n++;
		closedir(d);
	}
	return n;
}

static void verify_line(void *arg, const char *text)
{
	(void)arg;
	tap_diag("verify: %s", text);
}

/* Every acked write of the crowd, through st: its value, its version (or
 * a later write of the key, which these writers never make). */
static int audit(struct store *st, struct crowd *c)
{
	int missing = 0;

	for (int i = 0; i < WRITERS; i++) {
		struct writer *w = &c->w[i];

		for (int n = 0; n < w->n; n++) {
			char key[64], want[64], *value = NULL;
			uint64_t version = 0;

			if (!w->version[n])
				continue;
			snprintf(key, sizeof(key), "w%d/%d", w->id, n);
			snprintf(want, sizeof(want), "\"w%d-%d\"", w->id, n);
			if (store_get(st, key, strlen(key), &value, NULL, &version) != 0 ||
			    strcmp(value, want) != 0 || version != w->version[n]) {
				if (missing++ < 3)
					tap_diag("acknowledged %s=%s v%" PRIu64 " is missing or different (%s v%" PRIu64 ")",
					    key, want, w->version[n], value ? value : "absent", version);
			}
			free(value);
		}
	}
	return missing;
}

/* A fresh handle (as after a restart) begins epoch `epoch`: recovery must
 * succeed, hold every acked write, leave no temporary; verify is clean. */
static void recover_and_check(const char *dir, const char *what,
    struct crowd *c, uint64_t epoch)
{
	struct store_options opt;
	struct store_verify_report rep;
	struct store_error err;
	struct store *st = NULL;
	int rc;

	memset(&opt, 0, sizeof(opt));
	rc = store_open(dir, &opt, &st, &err);
	if (!ok(rc == 0, "%s: store opens again", what))
		diag("%s", err.msg);
	if (rc != 0)
		return;
	rc = store_begin_epoch(st, epoch, "h2", 2, NULL, &err);
	if (!ok(rc == 0, "%s: a new epoch recovers", what))
		diag("%s", err.msg);
	if (c)
		is_int(audit(st, c), 0, "%s: every acknowledged write is there", what);
	is_int(count_temporaries(dir), 0, "%s: no temporary left after recovery", what);
	store_close(st);
	memset(&rep, 0, sizeof(rep));
	rc = store_verify(dir, &rep, NULL, NULL, &err);
	if (rc > 0)
		store_verify(dir, &rep, verify_line, NULL, &err);
	if (!ok(rc == 0 && rep.damaged == 0, "%s: store_verify is clean", what))
		diag("rc %d damaged %u gaps %u stale %u unsealed %u: %s", rc, rep.damaged,
		rep.gaps, rep.stale, rep.unsealed, rc < 0 ? err.msg : "");
}

static struct store *fresh_store(const char *base, const char *name,
    int force_link, char *dir, size_t dirlen)
{
	struct store_create_params p = { .group = "fault", .io_timeout = 1 };
	struct store_options opt;
	struct store_error err;
	struct store *st = NULL;

	snprintf(dir, dirlen, "%s/%s", base, name);
	if (store_create(dir, &p, &err) != 0)
		tap_bail("store_create %s: %s", dir, err.msg);
	memset(&opt, 0, sizeof(opt));
	opt.force_link = force_link;
	if (store_open(dir, &opt, &st, &err) != 0)
		tap_bail("store_open %s: %s", dir, err.msg);
	return st;
}

/* ---- the commit path ---------------------------------------------------- */

static void case_commit(const char *base, const char *call, enum kind k)
{
	char point[64], what[160], dir[4096], name[64];
	struct store_error err;
	struct crowd *c = calloc(1, sizeof(*c));
	struct store *st;
	struct acks_at_least a;
	int want = expected_errno(k), before;

	snprintf(point, sizeof(point), "store/%s", call);
	snprintf(what, sizeof(what), "%s %s", point, kind_names[k]);
	snprintf(name, sizeof(name), "c-%s-%d", call, (int)k);
	for (char *s = name; *s; s++)
		if (*s == '/')
			*s = '-';
	st = fresh_store(base, name, strcmp(call, "commit/link") == 0, dir, sizeof(dir));
	if (store_begin_epoch(st, 1, "h1", 1, NULL, &err) != 0)
		tap_bail("begin_epoch: %s", err.msg);
	crowd_start(c, st);
	a.c = c;
	a.n = 20;
	ok(tu_wait_until(acks_reached, &a, 30000, 5), "%s: writes acknowledged before", what);
	before = crowd_acked(c);
	fault_on(point, k);
	if (want) {
		ok(tu_wait_until(some_error, c, 30000, 5), "%s: a writer gets an error", what);
		ok(error_seen(c, want), "%s: the error is the one injected (%s)", what, strerror(-want));
	} else {
		a.n = before + 20;
		ok(tu_wait_until(acks_reached, &a, 30000, 5), "%s: writes still acknowledged", what);
		ok(atomic_load(&fired) > 0, "%s: the point fired", what);
		is_int(crowd_errors(c), 0, "%s: no writer saw an error", what);
	}
	fault_off(point);
	crowd_stop(c);
	store_end_epoch(st);
	store_close(st);
	recover_and_check(dir, what, c, 2);
	free(c);
}

/* ---- the seal ----------------------------------------------------------- */

static void case_seal(const char *base, const char *call, enum kind k)
{
	char point[64], what[160], dir[4096], name[64];
	struct store_error err;
	struct store *st;
	uint64_t v;
	int want = expected_errno(k), rc;

	snprintf(point, sizeof(point), "store/seal/%s", call);
	snprintf(what, sizeof(what), "%s %s", point, kind_names[k]);
	snprintf(name, sizeof(name), "s-%s-%d", call, (int)k);
	st = fresh_store(base, name, strcmp(call, "link") == 0, dir, sizeof(dir));
	/* A first epoch with data, so the seal under test follows a journal. */
	if (store_begin_epoch(st, 1, "h1", 1, NULL, &err) != 0 ||
	    store_put(st, "k", "1", STORE_ANY_VERSION, &v, &err) != 0)
		tap_bail("first epoch: %s", err.msg);
	store_end_epoch(st);
	fault_on(point, k);
	rc = store_begin_epoch(st, 2, "h1", 1, NULL, &err);
	fault_off(point);
	if (want) {
		ok(rc < 0, "%s: beginning the epoch fails", what);
		if (rc < 0) {
			ok(strstr(err.msg, strerror(-want)) != NULL, "%s: the message says why: %s", what, err.msg);
		} else {
			store_end_epoch(st);
		}
	} else {
		if (!is_int(rc, 0, "%s: beginning the epoch succeeds", what))
			diag("%s", err.msg);
		if (rc == 0) {
			ok(store_put(st, "k", "2", STORE_ANY_VERSION, &v, &err) == 0, "%s: writes go on", what);
			store_end_epoch(st);
		}
	}
	store_close(st);
	recover_and_check(dir, what, NULL, 3);
}

/* ---- snapshots ---------------------------------------------------------- */

static void case_snapshot(const char *base, const char *call, enum kind k)
{
	char point[64], what[160], dir[4096], name[64], path[4200];
	struct store_error err;
	struct store *st;
	uint64_t v, seq = 0;
	int want = expected_errno(k), rc;

	snprintf(point, sizeof(point), "store/snapshot/%s", call);
	snprintf(what, sizeof(what), "%s %s", point, kind_names[k]);
	snprintf(name, sizeof(name), "n-%s-%d", call, (int)k);
	st = fresh_store(base, name, strcmp(call, "link") == 0, dir, sizeof(dir));
	if (store_begin_epoch(st, 1, "h1", 1, NULL, &err) != 0)
		tap_bail("begin: %s", err.msg);
	for (int i = 0; i < 50; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%d", i);
		if (store_put(st, key, "{\"v\": \"a value long enough to matter\"}", STORE_ANY_VERSION, &v, &err) != 0)
			tap_bail("put: %s", err.msg);
	}
	fault_on(point, k);
	rc = store_snapshot(st, &seq, &err);
	fault_off(point);
	snprintf(path, sizeof(path), "%s/snapshots/%020" PRIu64, dir, seq);
	if (want) {
		if (!is_int(rc, want, "%s: the snapshot fails with it", what))
			diag("%s", err.msg);
		if (strcmp(call, "fsync") != 0)
			ok(!tu_file_exists(path), "%s: no snapshot file under its final name", what);
	} else {
		if (!is_int(rc, 0, "%s: the snapshot is written", what))
			diag("%s", err.msg);
		ok(tu_file_exists(path), "%s: snapshot file present", what);
	}
	if (!ok(store_put(st, "after", "1", STORE_ANY_VERSION, &v, &err) == 0,
	    "%s: the writer carries on", what))
		diag("%s", err.msg);
	store_end_epoch(st);
	store_close(st);
	recover_and_check(dir, what, NULL, 2);
}

/* ---- reading: recovery, following, loading -------------------------------- */

/* A store with journal files (and a snapshot when with_snapshot).  *early
 * (if not NULL) receives a handle opened before anything was written: it
 * has all of the journal still to read. */
static void filled_store(const char *base, const char *name, int with_snapshot,
    char *dir, size_t dirlen, uint64_t *digest, struct store **early)
{
	struct store_options opt;
	struct store_error err;
	struct store_info info;
	struct store *st = fresh_store(base, name, 0, dir, dirlen);
	uint64_t v;

	memset(&opt, 0, sizeof(opt));
	if (early && store_open(dir, &opt, early, &err) != 0)
		tap_bail("open: %s", err.msg);

	if (store_begin_epoch(st, 1, "h1", 1, NULL, &err) != 0)
		tap_bail("begin: %s", err.msg);
	for (int i = 0; i < 30; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%d", i);
		if (store_put(st, key, "[1,2,3]", STORE_ANY_VERSION, &v, &err) != 0)
			tap_bail("put: %s", err.msg);
		if (with_snapshot && i == 15 && store_snapshot(st, NULL, &err) != 0)
			tap_bail("snapshot: %s", err.msg);
	}
	store_info(st, &info);
	*digest = info.digest;
	store_end_epoch(st);
	store_close(st);
}

/* Recovery that cannot read the journal must refuse to seal. */
static void case_recover_read(const char *base, const char *point, enum kind k)
{
	char what[160], dir[4096], name[64];
	struct store_error err;
	struct store_info info;
	struct store *st = NULL;
	uint64_t digest;
	int rc;

	snprintf(what, sizeof(what), "recovery with %s %s", point, kind_names[k]);
	snprintf(name, sizeof(name), "r-%s-%d", point + 6, (int)k);
	for (char *s = name; *s; s++)
		if (*s == '/')
			*s = '-';
	filled_store(base, name, 0, dir, sizeof(dir), &digest, &st);
	fault_on(point, k);
	rc = store_begin_epoch(st, 2, "h2", 2, NULL, &err);
	fault_off(point);
	ok(atomic_load(&fired) > 0, "%s: the point fired", what);
	store_info(st, &info);
	if (expected_errno(k)) {
		if (!ok(rc < 0, "%s: the new epoch is refused", what))
			diag("sealed at %" PRIu64, info.last_seal.start_seq);
		if (rc < 0)
			ok(info.last_seal.epoch != 2, "%s: no seal of the new epoch", what);
	} else {
		if (!is_int(rc, 0, "%s: the new epoch begins", what))
			diag("%s", err.msg);
		is_int(info.digest, digest, "%s: with the whole state", what);
	}
	if (rc == 0)
		store_end_epoch(st);
	store_close(st);
	recover_and_check(dir, what, NULL, 3);
}

/*
 * A batch that a listing missed is not a gap.  A listing taken while the
 * writer adds names can show a later name and not the next one (ext4 lists
 * in hash order), once seen as a gap that refused the new epoch under
 * t_store_fence's racing writers.  Made certain here: the first open of the
 * next batch says ENOENT, the listing shows the batches after it; recovery
 * must look at the name again and go on, not refuse the epoch.
 */
static void case_recover_missed_name(const char *base)
{
	char dir[4096];
	struct store_error err;
	struct store_info info;
	struct store *st = NULL;
	uint64_t digest;
	int rc;

	filled_store(base, "r-missed-name", 0, dir, sizeof(dir), &digest, &st);
	atomic_store(&fired, 0);
	atomic_store(&fires_left, 1);
	if (fiu_enable_external("store/apply/open", 1, (void *)(intptr_t)ENOENT, 0, fire_count) != 0)
		tap_bail("fiu_enable_external store/apply/open failed");
	rc = store_begin_epoch(st, 2, "h2", 2, NULL, &err);
	fault_off("store/apply/open");
	is_int(atomic_load(&fired), 1, "missed name: the first open of the next batch said ENOENT");
	if (!is_int(rc, 0, "missed name: the new epoch begins, no gap claimed"))
		diag("%s", err.msg);
	store_info(st, &info);
	is_int(info.digest, digest, "missed name: with the whole state");
	if (rc == 0)
		store_end_epoch(st);
	store_close(st);
}

/*
 * A follower replacing keys with values of the same length writes them into
 * the records it has: with record allocation failing it still applies them.
 * A value of another length needs a record, so the same fault then refuses
 * the batch whole, and the follower applies it once memory is back.
 */
static void case_follow_in_place(const char *base)
{
	char dir[4096];
	struct store_options opt;
	struct store_error err;
	struct store_follow_result fr;
	struct store_info wi, fi;
	struct store *st = NULL, *f = NULL;
	uint64_t digest;
	int rc, bad = 0;

	/* 30 keys of "[1,2,3]" by epoch 1; the follower opened before them. */
	filled_store(base, "follow-in-place", 0, dir, sizeof(dir), &digest, &f);
	rc = store_follow(f, &fr, &err);
	store_info(f, &fi);
	ok(rc >= 0 && fi.digest == digest, "follow in place: 30 keys followed");
	memset(&opt, 0, sizeof(opt));
	if (store_open(dir, &opt, &st, &err) != 0 ||
	    store_begin_epoch(st, 2, "h2", 2, NULL, &err) != 0)
		tap_bail("writer for epoch 2: %s", err.msg);
	for (int i = 0; i < 30; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%d", i);
		bad += store_put(st, key, "[4,5,6]", STORE_ANY_VERSION, NULL, &err) != 0;
	}
	fault_on("store/table/alloc", K_ENOMEM);
	rc = store_follow(f, &fr, &err);
	fault_off("store/table/alloc");
	store_info(st, &wi);
	store_info(f, &fi);
	/* 30 batches, and the seal of epoch 2 before them */
	ok(bad == 0 && rc >= 0 && fr.batches == 31 && fi.applied_seq == wi.applied_seq &&
	    fi.digest == wi.digest,
	    "follow in place: 30 same-length replacements applied with no record allocation (%d: %s)",
	    rc, rc < 0 ? err.msg : "ok");
	is_int(atomic_load(&fired), 0, "follow in place: and none was tried");

	bad += store_put(st, "k0", "[4,5,6,7]", STORE_ANY_VERSION, NULL, &err) != 0;
	fault_on("store/table/alloc", K_ENOMEM);
	rc = store_follow(f, &fr, &err);
	fault_off("store/table/alloc");
	{
		struct store_info before = fi;
		store_info(f, &fi);
		ok(bad == 0 && rc == -ENOMEM && fi.applied_seq == before.applied_seq &&
		    fi.digest == before.digest && atomic_load(&fired) > 0,
		    "follow in place: a longer value needs a record; the fault refuses the batch whole (%d)", rc);
	}
	rc = store_follow(f, &fr, &err);
	store_info(st, &wi);
	store_info(f, &fi);
	ok(rc >= 0 && fi.applied_seq == wi.applied_seq && fi.digest == wi.digest,
	    "follow in place: applied once memory is back");
	store_close(f);
	store_end_epoch(st);
	store_close(st);
}

/* Opening (loading a snapshot, reading the journal) fails or is whole. */
static void case_open_read(const char *base, const char *point, enum kind k)
{
	char what[160], dir[4096], name[64];
	struct store_options opt;
	struct store_error err;
	struct store_info info;
	struct store *st = NULL;
	uint64_t digest;
	int rc;

	snprintf(what, sizeof(what), "open with %s %s", point, kind_names[k]);
	snprintf(name, sizeof(name), "o-%s-%d", point + 6, (int)k);
	for (char *s = name; *s; s++)
		if (*s == '/')
			*s = '-';
	filled_store(base, name, 1, dir, sizeof(dir), &digest, NULL);
	memset(&opt, 0, sizeof(opt));
	opt.read_only = 1;
	fault_on(point, k);
	rc = store_open(dir, &opt, &st, &err);
	if (rc == 0) {
		/* What a follower does next: catch up. */
		struct store_follow_result res;
		store_follow(st, &res, &err);
	}
	fault_off(point);
	if (rc == 0) {
		struct store_follow_result res;

		store_info(st, &info);
		ok(info.applied_seq == 0 || info.digest != 0, "%s: a state was loaded", what);
		/* Whatever loading went through, following afterwards reaches
		 * the whole state: nothing half applied stays behind. */
		rc = store_follow(st, &res, &err);
		if (rc < 0 || res.blocked)
			rc = store_reload(st, &err);
		store_info(st, &info);
		if (!is_int(info.digest, digest, "%s: following afterwards reaches the writer's state", what))
			diag("applied %" PRIu64 " blocked %d %s", info.applied_seq, info.blocked, err.msg);
		store_close(st);
	} else {
		ok(expected_errno(k) != 0, "%s: open fails only for an error (%s)", what, err.msg);
		ok(rc < 0, "%s: open reports it", what);
	}
	recover_and_check(dir, what, NULL, 2);
}

/* ---- compaction ------------------------------------------------------------ */

static int retention_passed(void *arg)
{
	return tu_now_ms() >= *(uint64_t *)arg;
}

/* Compaction that cannot list, read or sync fails, and leaves a journal
 * that still loads whole; the next one does the work. */
static void case_compact(const char *base, const char *point, enum kind k)
{
	struct store_create_params p = { .group = "fault", .io_timeout = 1 };
	struct store_options opt;
	struct store_error err;
	struct store_info info;
	struct store *st = NULL, *again = NULL;
	char what[160], dir[4096];
	uint64_t v, digest, ready;
	int rc;

	snprintf(what, sizeof(what), "compaction with %s %s", point, kind_names[k]);
	snprintf(dir, sizeof(dir), "%s/m-%s-%d", base, point + 14, (int)k);
	memset(&opt, 0, sizeof(opt));
	opt.journal_retention_s = 1;
	if (store_create(dir, &p, &err) != 0 || store_open(dir, &opt, &st, &err) != 0 ||
	    store_begin_epoch(st, 1, "h1", 1, NULL, &err) != 0)
		tap_bail("%s: %s", dir, err.msg);
	for (int i = 0; i < 30; i++) {
		char key[32];
		snprintf(key, sizeof(key), "k%d", i % 7);
		if (store_put(st, key, "1", STORE_ANY_VERSION, &v, &err) != 0)
			tap_bail("put: %s", err.msg);
		if (i % 10 == 9 && store_snapshot(st, NULL, &err) != 0)
			tap_bail("snapshot: %s", err.msg);
	}
	ready = tu_now_ms() + 1100;
	tu_wait_until(retention_passed, &ready, 5000, 50);
	fault_on(point, k);
	rc = store_compact(st, &err);
	fault_off(point);
	if (expected_errno(k))
		ok(rc <= 0, "%s: compaction fails or removes nothing (%d)", what, rc);
	else
		ok(rc > 0, "%s: compaction removes files (%d)", what, rc);
	ok(store_compact(st, &err) >= 0, "%s: the next compaction works", what);
	store_info(st, &info);
	digest = info.digest;
	store_end_epoch(st);
	store_close(st);
	memset(&opt, 0, sizeof(opt));
	opt.read_only = 1;
	rc = store_open(dir, &opt, &again, &err);
	if (rc == 0)
		store_info(again, &info);
	ok(rc == 0 && info.digest == digest && !info.blocked, "%s: the store loads whole", what);
	store_close(again);
	recover_and_check(dir, what, NULL, 2);
}

/* ---- verification ---------------------------------------------------------- */

/* A verification that could not list the files never says clean. */
static void case_verify(const char *base, const char *point, enum kind k)
{
	struct store_verify_report rep;
	struct store_error err;
	char what[160], dir[4096], name[64];
	uint64_t digest;
	int rc;

	snprintf(what, sizeof(what), "verify with %s %s", point, kind_names[k]);
	snprintf(name, sizeof(name), "v-%s-%d", point + 13, (int)k);
	filled_store(base, name, 1, dir, sizeof(dir), &digest, NULL);
	memset(&rep, 0, sizeof(rep));
	fault_on(point, k);
	rc = store_verify(dir, &rep, NULL, NULL, &err);
	fault_off(point);
	ok(atomic_load(&fired) > 0, "%s: the point fired", what);
	if (expected_errno(k))
		ok(rc < 0, "%s: store_verify cannot check, and says so (%d: %s)", what, rc, rc < 0 ? err.msg : "");
	else
		is_int(rc, 0, "%s: store_verify is clean", what);
	memset(&rep, 0, sizeof(rep));
	is_int(store_verify(dir, &rep, NULL, NULL, &err), 0, "%s: clean afterwards", what);
}

/* ---- creating a store ------------------------------------------------------ */

/* store_create (ssfm init) that fails part way can be run again. */
static void case_init(const char *base, const char *call, enum kind k)
{
	struct store_create_params p = { .group = "fault", .io_timeout = 1 };
	struct store_options opt;
	struct store_error err;
	struct store *st = NULL;
	char point[64], what[160], dir[4096];
	int rc, again;

	snprintf(point, sizeof(point), "store/init/%s", call);
	snprintf(what, sizeof(what), "%s %s", point, kind_names[k]);
	snprintf(dir, sizeof(dir), "%s/i-%s-%d", base, call, (int)k);
	fault_on(point, k);
	rc = store_create(dir, &p, &err);
	fault_off(point);
	if (expected_errno(k))
		is_int(rc, expected_errno(k), "%s: store_create fails with it", what);
	else
		is_int(rc, 0, "%s: store_create succeeds", what);
	again = store_create(dir, &p, &err);
	ok(rc == 0 ? again == -EEXIST : again == 0 || again == -EEXIST,
	    "%s: store_create again makes the store (or finds it made): %d", what, again);
	if (again < 0 && again != -EEXIST)
		diag("%s", err.msg);
	memset(&opt, 0, sizeof(opt));
	is_int(store_open(dir, &opt, &st, &err), 0, "%s: the store opens", what);
	store_close(st);
	recover_and_check(dir, what, NULL, 1);
}

/* ---- request ids ---------------------------------------------------------- */

static int put_reqid(struct store *st, const char *key, const char *reqid,
    struct store_write_result *res)
{
	struct store_write_req req;

	memset(&req, 0, sizeof(req));
	req.kind = STORE_OP_PUT;
	req.key = key;
	req.key_len = strlen(key);
	req.value = "\"v\"";
	req.value_len = 3;
	req.expected_version = STORE_ANY_VERSION;
	req.reqid = reqid;
	req.reqid_len = strlen(reqid);
	return store_write(st, &req, res);
}

/*
 * A write acknowledged with a request id is remembered, whatever memory
 * allows: when the id cannot be remembered the write is refused (the
 * writer), or the batch is not applied (a follower): never a retry applied
 * twice.
 */
static void case_reqid(const char *base)
{
	const char *what = "store/reqid/alloc ENOMEM";
	char dir[4096];
	struct store_options opt;
	struct store_write_result res, again;
	struct store_follow_result fr;
	struct store_error err;
	struct store_info info;
	struct store *w, *f = NULL;
	uint64_t before;
	int rc;

	w = fresh_store(base, "reqid", 0, dir, sizeof(dir));
	memset(&opt, 0, sizeof(opt));
	if (store_open(dir, &opt, &f, &err) != 0 || store_begin_epoch(w, 1, "h1", 1, NULL, &err) != 0)
		tap_bail("%s", err.msg);
	/* The map starts empty: the first id needs its buckets too. */
	fault_on("store/reqid/alloc", K_ENOMEM);
	rc = put_reqid(w, "r/1", "id-1", &res);
	fault_off("store/reqid/alloc");
	put_reqid(w, "r/1", "id-1", &again);
	if (rc == 0)
		ok(again.duplicate && again.version == res.version,
		    "%s: an acknowledged write's retry is answered from its record (v%" PRIu64 ", retry v%" PRIu64 " dup %d)",
		    what, res.version, again.version, again.duplicate);
	else
		ok(rc == -ENOMEM && again.rc == 0 && !again.duplicate,
		    "%s: the write is refused, and its retry applies once (%d, %s)", what, rc, res.msg);
	fault_on("store/reqid/alloc", K_ENOMEM);
	rc = put_reqid(w, "r/2", "id-2", &res);
	fault_off("store/reqid/alloc");
	put_reqid(w, "r/2", "id-2", &again);
	if (rc == 0)
		ok(again.duplicate && again.version == res.version,
		    "%s: with buckets, an acknowledged write's retry is answered from its record", what);
	else
		ok(rc == -ENOMEM && again.rc == 0 && !again.duplicate,
		    "%s: with buckets, the write is refused and its retry applies once (%d)", what, rc);

	/* A follower that cannot remember the ids does not apply the batch. */
	if (put_reqid(w, "r/3", "id-3", &res) != 0)
		tap_bail("put r/3: %s", res.msg);
	store_info(f, &info);
	before = info.applied_seq;
	fault_on("store/reqid/alloc", K_ENOMEM);
	rc = store_follow(f, &fr, &err);
	fault_off("store/reqid/alloc");
	store_info(f, &info);
	ok(rc < 0 || info.applied_seq < res.version || fr.blocked,
	    "%s: a follower does not apply what it cannot remember (rc %d, applied %" PRIu64 " of %" PRIu64 ", from %" PRIu64 ")",
	    what, rc, info.applied_seq, res.version, before);
	store_follow(f, &fr, &err);
	store_end_epoch(w);
	store_close(w);
	rc = store_begin_epoch(f, 2, "h2", 2, NULL, &err);
	is_int(rc, 0, "%s: the follower becomes the writer", what);
	put_reqid(f, "r/3", "id-3", &again);
	ok(again.rc == 0 && again.duplicate && again.version == res.version,
	    "%s: after the failover, a retry of id-3 is answered from its record (v%" PRIu64 " dup %d)",
	    what, again.version, again.duplicate);
	store_end_epoch(f);
	store_close(f);
	recover_and_check(dir, what, NULL, 3);
}

static struct record *index_case_record(size_t i, uint64_t version)
{
	char key[32];
	int n = snprintf(key, sizeof(key), "idx/%06zu", i);
	struct record *r = record_new(key, (size_t)n, "1", 1, version);

	if (r == NULL)
		tap_bail("out of memory");
	return r;
}

/* Keys i in [0, n) with i % step == 0 must be there, the rest absent. */
static int index_case_misses(const struct table *t, size_t n, size_t step)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		char key[32];
		int len = snprintf(key, sizeof(key), "idx/%06zu", i);
		struct record *r = table_get(t, key, (size_t)len);
		bad += (i % step == 0) != (r != NULL);
	}
	return bad;
}

/*
 * The table's hash index cannot be allocated (at the first put, and later
 * when it must grow): the table goes on without it, every put, get and
 * del still right, and the index comes back once memory does.
 */
static void case_table_index(void)
{
	struct table *t = table_new();
	uint64_t v = 0;
	int bad;

	if (t == NULL)
		tap_bail("out of memory");
	fault_on("store/table/index", K_ENOMEM);
	for (size_t i = 0; i < 3000; i++)
		record_unref(table_put(t, index_case_record(i, ++v)));
	ok(atomic_load(&fired) > 0, "table index: its allocation failed (%d times)", atomic_load(&fired));
	bad = index_case_misses(t, 3000, 1);
	for (size_t i = 0; i < 3000; i += 2)
		record_unref(table_put(t, index_case_record(i, ++v)));
	record_unref(table_del(t, "idx/000001", 10));
	/* The one miss is the deleted key. */
	is_int(bad + index_case_misses(t, 3000, 1) + (table_count(t) != 2999),
	    1, "table index: without it, every key found and the one deleted gone");
	fault_off("store/table/index");
	for (size_t i = 3000; i < 7000; i++)
		record_unref(table_put(t, index_case_record(i, ++v)));
	for (size_t i = 0; i < 7000; i += 2)
		record_unref(table_put(t, index_case_record(i, ++v)));
	for (size_t i = 1; i < 7000; i += 2) {
		char key[32];
		int len = snprintf(key, sizeof(key), "idx/%06zu", i);
		record_unref(table_del(t, key, (size_t)len));
	}
	is_int(index_case_misses(t, 7000, 2) + (table_count(t) != 3500), 0,
	    "table index: built again once memory is back, puts and dels right");
	fault_on("store/table/index", K_ENOMEM);
	for (size_t i = 7000; i < 20000; i += 2)
		record_unref(table_put(t, index_case_record(i, ++v)));
	fault_off("store/table/index");
	is_int(index_case_misses(t, 20000, 2) + (table_count(t) != 10000), 0,
	    "table index: a growth that fails drops it, and lookups still find every key");
	table_free(t);
}

int main(void)
{
	const char *base = tu_tmpdir("fault");
	static const char *commit_calls[] = { "commit/open", "commit/write", "commit/fdatasync",
		"commit/close", "commit/rename", "commit/link", "commit/fsync" };
	static const char *seal_calls[] = { "open", "write", "fdatasync", "close", "rename", "link", "fsync" };
	static const char *snapshot_calls[] = { "open", "write", "fdatasync", "close", "rename", "link", "fsync" };
	static const enum kind io_kinds[] = { K_EIO, K_ENOSPC, K_EINTR, K_SHORT, K_SHORT_ENOSPC };

	if (fiu_init(0) != 0)
		tap_bail("fiu_init failed (libfiu-dev)");
	for (size_t i = 0; i < sizeof(commit_calls) / sizeof(*commit_calls); i++)
		for (size_t j = 0; j < sizeof(io_kinds) / sizeof(*io_kinds); j++) {
			int is_write = strcmp(commit_calls[i], "commit/write") == 0;
			if ((io_kinds[j] == K_SHORT || io_kinds[j] == K_SHORT_ENOSPC) && !is_write)
				continue;
			case_commit(base, commit_calls[i], io_kinds[j]);
		}
	case_commit(base, "commit/alloc", K_ENOMEM);
	case_commit(base, "table/alloc", K_ENOMEM);
	case_table_index();
	for (size_t i = 0; i < sizeof(seal_calls) / sizeof(*seal_calls); i++)
		for (size_t j = 0; j < sizeof(io_kinds) / sizeof(*io_kinds); j++) {
			if ((io_kinds[j] == K_SHORT || io_kinds[j] == K_SHORT_ENOSPC) && strcmp(seal_calls[i], "write") != 0)
				continue;
			case_seal(base, seal_calls[i], io_kinds[j]);
		}
	for (size_t i = 0; i < sizeof(snapshot_calls) / sizeof(*snapshot_calls); i++)
		for (size_t j = 0; j < sizeof(io_kinds) / sizeof(*io_kinds); j++) {
			if ((io_kinds[j] == K_SHORT || io_kinds[j] == K_SHORT_ENOSPC) && strcmp(snapshot_calls[i], "write") != 0)
				continue;
			case_snapshot(base, snapshot_calls[i], io_kinds[j]);
		}
	case_snapshot(base, "alloc", K_ENOMEM);
	{
		static const char *points[] = { "store/apply/open", "store/apply/read",
			"store/apply/readdir", "store/apply/opendir" };
		static const enum kind rk[] = { K_EIO, K_EINTR };
		for (size_t i = 0; i < sizeof(points) / sizeof(*points); i++)
			for (size_t j = 0; j < 2; j++)
				case_recover_read(base, points[i], rk[j]);
		case_recover_read(base, "store/apply/alloc", K_ENOMEM);
		case_recover_read(base, "store/table/alloc", K_ENOMEM);
		case_recover_missed_name(base);
		case_follow_in_place(base);
	}
	{
		static const char *points[] = { "store/load/open", "store/load/read",
			"store/load/readdir", "store/apply/open", "store/apply/read" };
		static const enum kind rk[] = { K_EIO, K_EINTR };
		for (size_t i = 0; i < sizeof(points) / sizeof(*points); i++)
			for (size_t j = 0; j < 2; j++)
				case_open_read(base, points[i], rk[j]);
		case_open_read(base, "store/load/alloc", K_ENOMEM);
	}
	case_reqid(base);
	case_verify(base, "store/verify/readdir", K_EIO);
	case_verify(base, "store/verify/readdir", K_EINTR);
	case_verify(base, "store/verify/opendir", K_EIO);
	{
		static const char *points[] = { "store/compact/readdir", "store/compact/opendir",
			"store/compact/read", "store/compact/fsync", "store/load/read" };
		for (size_t i = 0; i < sizeof(points) / sizeof(*points); i++) {
			case_compact(base, points[i], K_EIO);
			case_compact(base, points[i], K_EINTR);
		}
	}
	{
		static const char *calls[] = { "open", "write", "fdatasync", "close", "rename", "fsync" };
		static const enum kind ik[] = { K_EIO, K_EINTR };
		for (size_t i = 0; i < sizeof(calls) / sizeof(*calls); i++)
			for (size_t j = 0; j < 2; j++)
				case_init(base, calls[i], ik[j]);
	}
	return tap_done();
}
