/*
 * daemon_follow.c: a standby's hot copy.  It applies new journal batches
 * (store_follow) when inotify reports a change in journal/ or epochs/, and
 * in any case every poll_interval: inotify never reports another client's
 * changes on NFS or CephFS (DESIGN.md), so the poll of the next expected
 * file is the mechanism and inotify a speed-up.
 *
 * watch = poll: no inotify; inotify: inotify required (start fails without
 * it); auto: the poll alone when the store is on a network or FUSE
 * filesystem (where inotify sees only this host's own changes: a thread
 * for nothing), else inotify when it can be set up, else the poll alone.
 *
 * libinotifytools hides its descriptor and blocks in its own wait, so a
 * thread of ours waits in inotifytools_next_events (1 s at a time, to notice
 * the stop flag) and only wakes the loop through its eventfd.
 *
 * While writes stream in, one look per batch would cost the active more
 * than the hot copy is worth: on a host shared with the active (or a disk
 * shared with it) every wake of a standby takes a core or a queue slot the
 * active's commit pipeline was about to use.  So the looks are spaced at
 * least follow_delay apart: after waking the loop the thread waits out
 * follow_delay (the loop looks meanwhile), and reads the next events only
 * once the loop has looked.  A look then applies every batch that appeared
 * meanwhile, and a standby wakes about once per follow_delay, not once per
 * batch.  A write after a quiet spell is still seen at once: the thread is
 * waiting for events, not out the delay.
 *
 * The loop does not signal the thread while it waits out the delay (the
 * wait ends by its clock, or by a stop): each signal would be two more
 * context switches per look, and with the delay at 5 ms those switches
 * were a quarter of what following cost a standby.  Only when the loop
 * was too busy to look within the delay does the thread ask to be told.
 *
 * Lag, as reported by status:
 *   lag_ms   the time this host applied the last batch minus the batch's
 *            commit time (the writer's CLOCK_REALTIME: clocks must agree).
 *   lag_seq  how many operations the last look at the journal found waiting
 *            and applied; 0 when the last look found nothing new.  A
 *            standby cannot know the writer's newest sequence number without
 *            reading the journal, so "behind by" is what it last caught up.
 */
#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <time.h>

#include <inotifytools/inotifytools.h>

#include "log.h"

/* After waking the loop: wait out follow_delay, then (1 s at a time, for
 * the stop flag) until the loop has looked. */
static void follow_wait_for_look(struct daemon *d)
{
	struct timespec until;

	pthread_mutex_lock(&d->inotify_lock);
	daemon_deadline(&until, d->cfg->follow_delay);
	while (d->cfg->follow_delay > 0 && !atomic_load(&d->inotify_stop) &&
	    pthread_cond_timedwait(&d->inotify_cond, &d->inotify_lock, &until) != ETIMEDOUT)
		;
	d->inotify_waiting = true;
	while (atomic_load(&d->inotify_woke) && !atomic_load(&d->inotify_stop)) {
		daemon_deadline(&until, 1000);
		pthread_cond_timedwait(&d->inotify_cond, &d->inotify_lock, &until);
	}
	d->inotify_waiting = false;
	pthread_mutex_unlock(&d->inotify_lock);
}

static void *daemon_follow_inotify_main(void *arg)
{
	struct daemon *d = arg;

	while (!atomic_load(&d->inotify_stop)) {
		struct inotify_event *ev = inotifytools_next_events(1, 1);
		if (ev == NULL)
			continue;
		/* A writer's temporary file (".tmp-...") is of no use to a
		 * reader, which looks at final names only: only the final name
		 * (IN_CREATE by link, IN_MOVED_TO by rename) wakes the loop,
		 * once per batch rather than once per step of the commit. */
		if (ev->len > 0 && ev->name[0] == '.')
			continue;
		/* The loop's look starts after it clears inotify_woke, so it
		 * reads every name reported before then: one wake, then no
		 * reading of events until that look. */
		atomic_store(&d->inotify_woke, true);
		daemon_wake(d);
		follow_wait_for_look(d);
	}
	return NULL;
}

/* statfs f_type values (linux/magic.h) of filesystems shared between
 * hosts, where inotify reports no other client's change. */
#define FOLLOW_FUSE_MAGIC 0x65735546L   /* ceph-fuse, sshfs, ... */
#define FOLLOW_NFS_MAGIC 0x6969L
#define FOLLOW_CEPH_MAGIC 0x00c36400L   /* the kernel CephFS client */
#define FOLLOW_SMB_MAGIC 0x517bL
#define FOLLOW_CIFS_MAGIC 0xff534d42L
#define FOLLOW_SMB2_MAGIC 0xfe534d42L
#define FOLLOW_GFS2_MAGIC 0x01161970L
#define FOLLOW_OCFS2_MAGIC 0x7461636fL
#define FOLLOW_AFS_MAGIC 0x5346414fL

/* The name of the shared filesystem dir is on, or NULL when it is not one
 * (or statfs fails: then inotify is tried as before). */
static const char *daemon_follow_network_fs(const char *dir)
{
	static const struct { long magic; const char *name; } types[] = {
		{ FOLLOW_FUSE_MAGIC, "FUSE (ceph-fuse, sshfs)" },
		{ FOLLOW_NFS_MAGIC, "NFS" },
		{ FOLLOW_CEPH_MAGIC, "CephFS" },
		{ FOLLOW_SMB_MAGIC, "SMB" },
		{ FOLLOW_CIFS_MAGIC, "CIFS" },
		{ FOLLOW_SMB2_MAGIC, "SMB2" },
		{ FOLLOW_GFS2_MAGIC, "GFS2" },
		{ FOLLOW_OCFS2_MAGIC, "OCFS2" },
		{ FOLLOW_AFS_MAGIC, "AFS" },
	};
	struct statfs sf;

	if (statfs(dir, &sf) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((unsigned long)sf.f_type == (unsigned long)types[i].magic)
			return types[i].name;
	return NULL;
}

void daemon_follow_init(struct daemon *d)
{
	daemon_lock_init(&d->inotify_lock, &d->inotify_cond);
}

void daemon_follow_free(struct daemon *d)
{
	pthread_cond_destroy(&d->inotify_cond);
	pthread_mutex_destroy(&d->inotify_lock);
}

int daemon_follow_start(struct daemon *d)
{
	char journal[4096], epochs[4096];
	const char *fs;
	int rc;

	if (d->cfg->watch == CONF_WATCH_POLL) {
		log_info("following by polling every %lld ms", d->cfg->poll_interval);
		return 0;
	}
	fs = daemon_follow_network_fs(d->cfg->store);
	if (d->cfg->watch == CONF_WATCH_AUTO && fs != NULL) {
		log_info("store %s is on %s, where inotify misses other hosts' changes: "
		    "following by polling every %lld ms", d->cfg->store, fs, d->cfg->poll_interval);
		return 0;
	}
	snprintf(journal, sizeof(journal), "%s/journal", d->cfg->store);
	snprintf(epochs, sizeof(epochs), "%s/epochs", d->cfg->store);
	if (!inotifytools_initialize() ||
	    !inotifytools_watch_file(journal, IN_MOVED_TO | IN_CREATE) ||
	    !inotifytools_watch_file(epochs, IN_MOVED_TO | IN_CREATE)) {
		rc = inotifytools_error();
		inotifytools_cleanup();
		if (d->cfg->watch == CONF_WATCH_INOTIFY) {
			log_warnx("watch = inotify: cannot watch %s and %s: %s", journal, epochs,
			    strerror(rc));
			return rc > 0 ? -rc : -EIO;
		}
		log_info("inotify on %s unavailable (%s): following by polling every %lld ms",
		    journal, strerror(rc), d->cfg->poll_interval);
		return 0;
	}
	atomic_store(&d->inotify_stop, false);
	atomic_store(&d->inotify_woke, false);
	rc = pthread_create(&d->inotify_thread, NULL, daemon_follow_inotify_main, d);
	if (rc != 0) {
		inotifytools_cleanup();
		log_warnx("inotify thread: %s", strerror(rc));
		return d->cfg->watch == CONF_WATCH_INOTIFY ? -rc : 0;
	}
	d->inotify_running = true;
	log_info("following by inotify on %s and a poll every %lld ms", journal,
	    d->cfg->poll_interval);
	return 0;
}

void daemon_follow_stop(struct daemon *d)
{
	if (!d->inotify_running)
		return;
	pthread_mutex_lock(&d->inotify_lock);
	atomic_store(&d->inotify_stop, true);
	pthread_cond_signal(&d->inotify_cond);
	pthread_mutex_unlock(&d->inotify_lock);
	pthread_join(d->inotify_thread, NULL);
	inotifytools_cleanup();
	d->inotify_running = false;
}

/* A storage that stays unreadable fails every look (every poll_interval):
 * the first failure is logged at once, then a warning at most every
 * DAEMON_FOLLOW_WARN_MS, saying how many looks failed meanwhile. */
static void daemon_follow_failed(struct daemon *d, const char *why)
{
	uint64_t now = daemon_now_ms();

	d->follow_failures++;
	if (d->follow_failures > 1 && now < d->follow_warn_at)
		return;
	if (d->follow_failures == 1)
		log_warnx("follow: %s", why);
	else
		log_warnx("follow: %s (%" PRIu64 " looks failed since the last warning; "
		    "warning at most every %d s)", why,
		    d->follow_failures - d->follow_failures_logged, DAEMON_FOLLOW_WARN_MS / 1000);
	d->follow_failures_logged = d->follow_failures;
	d->follow_warn_at = now + DAEMON_FOLLOW_WARN_MS;
}

void daemon_follow_now(struct daemon *d)
{
	struct store_follow_result fr;
	struct store_error err = { 0, "" };
	int rc;

	if (!d->following || d->snap_running)
		return;
	d->journal_looks++;
	memset(&fr, 0, sizeof(fr));
	rc = store_follow(d->st, &fr, &err);
	if (rc == -STORE_EDIGEST) {
		d->digest_mismatches++;
		log_warnx("follow: %s: reloading from the newest snapshot (mismatch %" PRIu64 ")",
		    err.msg, d->digest_mismatches);
		if (store_reload(d->st, &err) < 0)
			log_warnx("follow: reload failed: %s", err.msg);
		return;
	}
	if (rc < 0) {
		daemon_follow_failed(d, err.msg);
		return;
	}
	if (d->follow_failures > 0) {
		log_info("follow: reading the journal again after %" PRIu64 " failed looks",
		    d->follow_failures);
		d->follow_failures = d->follow_failures_logged = 0;
	}
	if (fr.batches > 0) {
		uint64_t now = daemon_wall_ms();
		d->lag_ms = now > fr.last_commit_time_ms ? now - fr.last_commit_time_ms : 0;
		d->lag_seq = fr.ops;
	} else {
		d->lag_seq = 0;
	}
	if (fr.blocked != 0 && strcmp(fr.blocked_file, d->blocked_file) != 0) {
		log_warnx("follow: stopped at %s: %s (the next active quarantines it)",
		    fr.blocked_file, store_strerror(fr.blocked));
		snprintf(d->blocked_file, sizeof(d->blocked_file), "%s", fr.blocked_file);
	} else if (fr.blocked == 0) {
		d->blocked_file[0] = '\0';
	}
}

void daemon_follow_woken(struct daemon *d)
{
	if (!atomic_load(&d->inotify_woke))
		return;
	pthread_mutex_lock(&d->inotify_lock);
	atomic_store(&d->inotify_woke, false);
	if (d->inotify_waiting)
		pthread_cond_signal(&d->inotify_cond);
	pthread_mutex_unlock(&d->inotify_lock);
	daemon_follow_now(d);
}

void daemon_follow_tick(struct daemon *d, uint64_t now)
{
	if (!d->following || now < d->poll_at)
		return;
	d->poll_at = now + (uint64_t)d->cfg->poll_interval;
	daemon_follow_now(d);
}
