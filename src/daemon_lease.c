/*
 * daemon_lease.c: this host's part in the lockspace and the "active" lease,
 * through fence.h.
 *
 * Joining runs on fence's own thread; the loop waits for fence_join_fd().
 * A lockspace this host's sanlock already runs for our host id (ssfmd was
 * SIGKILLed and restarted, its sanlock kept renewing) counts as joined at
 * once: fence_join_start asks sanlock first and treats "already there" as
 * success.
 *
 * Lease checks while the lease is held, on the loop:
 *   - every DAEMON_LEASE_CHECK_MS, fence_lease_current and fence_inquire
 *     (no disk I/O): less than FENCE_SAFE_LEFT_MS before sanlock would act,
 *     or a lease sanlock no longer lets us hold, is a lease loss;
 *   - every DAEMON_JOIN_CHECK_MS, fence_join_poll: a lockspace sanlock
 *     removed is a join failure (and the lease with it).
 *
 * And before acknowledging each batch, ack_check on the committer thread.
 * What it must prove: that at the moment the batch's writers are answered,
 * no other host can hold the lease, so that what we acknowledge is what the
 * next active will find.  Two facts give that:
 *   (a) the epoch the batch was written under is still the one this daemon
 *       holds (ack_epoch: cleared by the loop before a release, and on any
 *       loss it sees);
 *   (b) now is before "safe_until": the CLOCK_MONOTONIC time at which our
 *       sanlock would start to act on a missed renewal (FENCE_KILL_AFTER
 *       after the renewal it reported), less FENCE_SAFE_LEFT_MS.  No other
 *       host can acquire before that: sanlock frees a lease of a live
 *       holder only when the holder releases it, its process dies, or its
 *       host has not renewed for FENCE_HOST_DEAD, which is later still.
 *       safe_until comes from a renewal timestamp sanlock reported, so an
 *       older answer only gives an earlier (never a later) safe_until.
 * (b) needs an answer from sanlock, one socket round trip, which used to
 * sit between the batch's fsync and its acknowledgement.  It no longer
 * does: the committer calls batch_start when it takes a batch, which asks
 * the lease-watch thread below for a confirmation, and that round trip runs
 * while the batch is formed and made durable.  ack_check then waits for that
 * confirmation (it has normally arrived: a round trip takes well under a
 * millisecond, the fdatasync and directory fsync longer) and checks (a) and
 * (b) against the clock at that moment.  Requiring a confirmation that
 * started after the batch did, rather than any recent one, keeps the loss
 * that is not a matter of time (sanlock no longer knows our lockspace:
 * fence_lease_health fails with FENCE_ENOTJOINED, and safe_until drops to
 * 0) from being missed by more than the batch it happens during, exactly
 * as when the check ran after the fsync.  A confirmation that fails for
 * another reason (sanlock busy, -EAGAIN) leaves the older safe_until in
 * place, which by (b) stays a valid bound until it runs out.
 *
 * Storage-level fencing (DESIGN.md invariant 4) does not rest on any of
 * this: a batch named after a newer epoch's seal collides with it and fails
 * with STORE_EFENCED whatever the lease check said.  The check is what keeps
 * an active whose lease ran out (a stopped process, a host that cannot
 * renew) from acknowledging, before a newer active has written anything.
 *
 * fence_lease_health reads only fields fixed at fence_open and talks to
 * sanlock on a connection of its own, so the watch thread may run beside
 * the loop's calls.
 */
#include "daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* The lease-watch thread: answers confirmations asked for by batch_start
 * (see the top), one sanlock round trip each. */
static void *daemon_lease_watch_main(void *arg)
{
	struct daemon *d = arg;

	pthread_mutex_lock(&d->lw_lock);
	while (!d->lw_stop) {
		struct fence_health h;
		struct fence_error err = { 0, "" };
		uint64_t asked, t0;
		int rc;

		if (d->lw_done >= d->lw_asked) {
			pthread_cond_wait(&d->lw_cond, &d->lw_lock);
			continue;
		}
		asked = d->lw_asked;
		pthread_mutex_unlock(&d->lw_lock);
		/* Taken before asking: safe_until may only come out early. */
		t0 = daemon_now_ms();
		rc = fence_lease_health(d->fence, &h, &err);
		pthread_mutex_lock(&d->lw_lock);
		if (rc == 0) {
			int64_t until = (int64_t)t0 + h.left_ms -
			    (int64_t)FENCE_SAFE_LEFT_MS(h.io_timeout);
			d->lw_safe_until = until > 0 ? (uint64_t)until : 0;
			d->lw_why[0] = '\0';
		} else {
			if (rc == -FENCE_ENOTJOINED)
				d->lw_safe_until = 0;
			snprintf(d->lw_why, sizeof(d->lw_why), "%s", err.msg);
		}
		d->lw_done = asked;
		pthread_cond_broadcast(&d->lw_cond);
	}
	pthread_mutex_unlock(&d->lw_lock);
	return NULL;
}

static int daemon_lease_watch_start(struct daemon *d)
{
	int rc;

	daemon_lock_init(&d->lw_lock, &d->lw_cond);
	d->lw_stop = false;
	rc = pthread_create(&d->lw_thread, NULL, daemon_lease_watch_main, d);
	if (rc != 0) {
		log_warnx("lease: cannot start the lease-watch thread: %s", strerror(rc));
		pthread_cond_destroy(&d->lw_cond);
		pthread_mutex_destroy(&d->lw_lock);
		return -rc;
	}
	d->lw_running = true;
	return 0;
}

static void daemon_lease_watch_stop(struct daemon *d)
{
	if (!d->lw_running)
		return;
	pthread_mutex_lock(&d->lw_lock);
	d->lw_stop = true;
	pthread_cond_broadcast(&d->lw_cond);
	pthread_mutex_unlock(&d->lw_lock);
	pthread_join(d->lw_thread, NULL);
	pthread_cond_destroy(&d->lw_cond);
	pthread_mutex_destroy(&d->lw_lock);
	d->lw_running = false;
}

int daemon_lease_open(struct daemon *d)
{
	struct fence_error err = { 0, "" };
	int rc;

	rc = fence_open(d->cfg->store, d->cfg->group, (unsigned)d->cfg->host_id, d->cfg->host,
	    &d->fence, &err);
	if (rc < 0) {
		log_warnx("lease: %s", err.msg);
		return rc;
	}
	rc = daemon_lease_watch_start(d);
	if (rc < 0)
		return rc;
	rc = fence_join_start(d->fence, &err);
	if (rc < 0) {
		log_warnx("lease: %s", err.msg);
		return rc;
	}
	if (fence_join_fd(d->fence) >= 0)
		daemon_watch_fd(d, fence_join_fd(d->fence), DAEMON_TAG_JOIN);
	log_info("joining lockspace %s as host id %lld (%s)", d->cfg->group, d->cfg->host_id,
	    d->cfg->host);
	daemon_lease_joined_fd(d);
	return 0;
}

void daemon_lease_joined_fd(struct daemon *d)
{
	struct fence_error err = { 0, "" };
	int state;

	if (d->joined || d->role.role != ROLE_JOINING)
		return;
	state = fence_join_poll(d->fence, &err);
	if (state == FENCE_JOINING)
		return;
	daemon_unwatch_fd(d, fence_join_fd(d->fence));
	if (state == FENCE_JOIN_FAILED) {
		log_warnx("lease: cannot join: %s", err.msg);
		d->exit_code = 1;
		daemon_event(d, ROLE_EV_JOIN_FAILED);
		return;
	}
	if (fence_set_killpath(d->fence, d->cfg->lease_lost_program, "TERM", &err) < 0) {
		log_warnx("lease: %s", err.msg);
		d->exit_code = 1;
		daemon_event(d, ROLE_EV_JOIN_FAILED);
		return;
	}
	d->joined = true;
	d->health_wait_since = daemon_now_ms();
	d->join_check_at = d->health_wait_since;
	log_info("joined lockspace %s as host id %lld; kill path %s", d->cfg->group,
	    d->cfg->host_id, d->cfg->lease_lost_program);
}

/*
 * sanlock answers health questions (sanlock_get_hosts) with -EAGAIN until
 * its first renewal after the join, about a renewal interval later.  A
 * lease acquired before then could not be checked before acknowledging, so
 * the host stays JOINING until health answers.
 */
static void daemon_lease_health_wait(struct daemon *d, uint64_t now)
{
	struct fence_health h;
	struct fence_error err = { 0, "" };
	uint64_t limit = 1000ull * (FENCE_RENEW_INTERVAL((unsigned)d->cfg->io_timeout) * 3 + 5);

	if (fence_lease_health(d->fence, &h, &err) == 0) {
		log_info("lease health: renewed %lld ms ago, %lld ms before sanlock would act",
		    (long long)h.age_ms, (long long)h.left_ms);
		d->health_wait_since = 0;
		d->join_check_at = now + DAEMON_JOIN_CHECK_MS;
		daemon_event(d, ROLE_EV_JOINED);
		return;
	}
	if (now - d->health_wait_since > limit) {
		log_warnx("lease: no health from sanlock %llu ms after joining: %s",
		    (unsigned long long)(now - d->health_wait_since), err.msg);
		d->exit_code = 1;
		d->join_check_at = 0;
		daemon_event(d, ROLE_EV_JOIN_FAILED);
		return;
	}
	d->join_check_at = now + 100;
}

void daemon_lease_try_acquire(struct daemon *d)
{
	struct fence_error err = { 0, "" };
	struct fence_holder holder;
	uint64_t epoch = 0, started = daemon_wall_ms();
	int rc;

	memset(&holder, 0, sizeof(holder));
	/* A failed ballot reads the whole lease area: a few standbys retrying
	 * every poll_interval would read tens of MB/s from the shared storage
	 * the active commits to.  A look at the leader sector tells whether
	 * a live host holds it; a promote request always tries for real. */
	if (!d->promote_asked && d->ballot_at != 0 &&
	    daemon_now_ms() - d->ballot_at < DAEMON_ACQUIRE_BALLOT_MS) {
		rc = fence_lease_busy(d->fence, &holder, &err);
		if (rc == 1) {
			if (holder.name[0] != '\0')
				snprintf(d->lease_holder, sizeof(d->lease_holder), "%s", holder.name);
			daemon_event(d, ROLE_EV_LEASE_REFUSED);
			return;
		}
		if (rc < 0)
			log_debug("lease: cannot tell whether it is free, trying: %s", err.msg);
	}
	d->ballot_at = daemon_now_ms();
	rc = fence_acquire(d->fence, &epoch, &holder, &err);
	if (rc == 0) {
		memset(&d->failover, 0, sizeof(d->failover));
		d->failover.detected_ms = started;
		d->failover.lease_acquired_ms = daemon_wall_ms();
		snprintf(d->failover.reason, sizeof(d->failover.reason), "%s",
		    d->promote_asked ? "promote" : "auto");
		d->epoch = epoch;
		d->lease_error_since = 0;
		atomic_store(&d->ack_epoch, epoch);
		snprintf(d->lease_holder, sizeof(d->lease_holder), "%s", d->cfg->host);
		log_info("lease acquired: epoch %" PRIu64, epoch);
		daemon_event(d, ROLE_EV_LEASE_ACQUIRED);
		return;
	}
	if (rc == -FENCE_EHELD) {
		if (holder.name[0] != '\0')
			snprintf(d->lease_holder, sizeof(d->lease_holder), "%s", holder.name);
		log_debug("lease held elsewhere: %s", err.msg);
	} else {
		log_warnx("lease: acquire failed: %s", err.msg);
	}
	daemon_event(d, ROLE_EV_LEASE_REFUSED);
}

void daemon_lease_release(struct daemon *d)
{
	struct fence_error err = { 0, "" };

	atomic_store(&d->ack_epoch, 0);
	if (fence_release(d->fence, &err) < 0 && err.code != -FENCE_ENOTHELD)
		log_warnx("lease: release of epoch %" PRIu64 " failed: %s", d->epoch, err.msg);
	else
		log_info("lease released (epoch %" PRIu64 ")", d->epoch);
	d->epoch = 0;
	d->lease_holder[0] = '\0';
}

/*
 * sanlock answers a health question with an error now and then (-EAGAIN
 * while it updates its host table, right after a join): that says nothing
 * about the lease, which sanlock keeps renewing, and whose loss it reports
 * through the kill path anyway.  So an error counts as a loss only when it
 * lasts DAEMON_LEASE_ERROR_MS; "too little time left" counts at once.
 */
#define DAEMON_LEASE_ERROR_MS 1000

static void daemon_lease_check(struct daemon *d)
{
	struct fence_error err = { 0, "" };
	int held = 0, rc;
	uint64_t lver = 0, now = daemon_now_ms();

	rc = fence_lease_current(d->fence, 0, &err);
	if (rc < 0) {
		if (d->lease_error_since == 0)
			d->lease_error_since = now;
		if (now - d->lease_error_since < DAEMON_LEASE_ERROR_MS) {
			log_debug("lease: health unknown for now: %s", err.msg);
			return;
		}
	} else {
		d->lease_error_since = 0;
	}
	if (rc <= 0) {
		log_warnx("lease: epoch %" PRIu64 " is no longer safe to use: %s", d->epoch,
		    rc < 0 ? err.msg : "too little time left before sanlock acts");
		atomic_store(&d->ack_epoch, 0);
		daemon_event(d, ROLE_EV_LEASE_LOST);
		return;
	}
	rc = fence_inquire(d->fence, &held, &lver, &err);
	if (rc == 0 && (!held || lver != d->epoch)) {
		log_warnx("lease: sanlock says epoch %" PRIu64 " is no longer held by us", d->epoch);
		atomic_store(&d->ack_epoch, 0);
		daemon_event(d, ROLE_EV_LEASE_LOST);
	}
}

/*
 * A join check that sanlock could not answer (out of file descriptors, a
 * failing call) says nothing about the lockspace, unlike one that says it
 * is gone (or that sanlock is not running): the check is asked again, by
 * joining again (which finds the lockspace there at once), for up to
 * DAEMON_JOIN_UNKNOWN_MS.  The lease meanwhile is guarded by the lease
 * checks, which count such errors as a loss after DAEMON_LEASE_ERROR_MS.
 * Returns 1 while it asks again.
 */
#define DAEMON_JOIN_UNKNOWN_MS 60000

static int daemon_lease_join_unknown(struct daemon *d, uint64_t now, struct fence_error *err)
{
	struct fence_error again = { 0, "" };

	if (err->code == -FENCE_ENOTJOINED || err->code == -FENCE_ENODAEMON || err->code == -ENOENT)
		return 0;
	if (d->join_error_since == 0)
		d->join_error_since = now;
	if (now - d->join_error_since >= DAEMON_JOIN_UNKNOWN_MS)
		return 0;
	log_warnx("lease: %s; asking again", err->msg);
	if (fence_join_start(d->fence, &again) < 0) {
		log_warnx("lease: %s", again.msg);
		return 0;
	}
	return 1;
}

void daemon_lease_tick(struct daemon *d, uint64_t now)
{
	struct fence_error err = { 0, "" };

	if (d->acquire_at != 0 && now >= d->acquire_at) {
		d->acquire_at = 0;
		daemon_event(d, ROLE_EV_ACQUIRE_TIMER);
	}
	if (d->lease_check_at != 0 && now >= d->lease_check_at) {
		d->lease_check_at = now + DAEMON_LEASE_CHECK_MS;
		if (d->role.role == ROLE_ACTIVE && d->role.lease_held)
			daemon_lease_check(d);
	}
	if (d->joined && d->health_wait_since != 0 && d->join_check_at != 0 &&
	    now >= d->join_check_at) {
		daemon_lease_health_wait(d, now);
	} else if (d->joined && d->join_check_at != 0 && now >= d->join_check_at) {
		d->join_check_at = now + DAEMON_JOIN_CHECK_MS;
		int state = fence_join_poll(d->fence, &err);
		if (state == FENCE_JOINED) {
			d->join_error_since = 0;
		} else if (state == FENCE_JOINING || daemon_lease_join_unknown(d, now, &err)) {
			/* asking again (below, or already) */
		} else {
			log_warnx("lease: %s", err.msg);
			d->joined = false;
			d->join_check_at = 0;
			d->exit_code = 1;
			daemon_event(d, ROLE_EV_JOIN_FAILED);
		}
	}
}

void daemon_lease_close(struct daemon *d)
{
	struct fence_error err = { 0, "" };

	if (d->fence == NULL)
		return;
	daemon_lease_watch_stop(d);
	if (d->joined) {
		if (fence_leave(d->fence, &err) < 0)
			log_warnx("lease: leaving the lockspace: %s", err.msg);
		else
			log_info("left lockspace %s", d->cfg->group);
	}
	fence_close(d->fence);
	d->fence = NULL;
}

void daemon_lease_batch_start(void *arg, uint64_t epoch)
{
	struct daemon *d = arg;

	(void)epoch;
	pthread_mutex_lock(&d->lw_lock);
	d->lw_batch = ++d->lw_asked;
	pthread_cond_signal(&d->lw_cond);
	pthread_mutex_unlock(&d->lw_lock);
}

int daemon_lease_ack_check(void *arg, uint64_t epoch, char *why, size_t why_len)
{
	struct daemon *d = arg;
	struct timespec limit;
	uint64_t now, asked;
	int refused = 0;

	if (epoch == 0 || atomic_load(&d->ack_epoch) != epoch) {
		snprintf(why, why_len, "epoch %" PRIu64 " is no longer this host's lease", epoch);
		return 1;
	}
	daemon_deadline(&limit, DAEMON_LEASE_CONFIRM_WAIT_MS);
	pthread_mutex_lock(&d->lw_lock);
	/* Only a caller that skipped batch_start gets here with nothing asked:
	 * then the confirmation starts now, still after the batch did. */
	if (d->lw_batch == 0) {
		d->lw_batch = ++d->lw_asked;
		pthread_cond_signal(&d->lw_cond);
	}
	asked = d->lw_batch;
	while (d->lw_done < asked && !d->lw_stop &&
	    pthread_cond_timedwait(&d->lw_cond, &d->lw_lock, &limit) == 0)
		;
	now = daemon_now_ms();
	if (d->lw_done < asked) {
		snprintf(why, why_len, "lease of epoch %" PRIu64 ": sanlock did not confirm it "
		    "within %d ms", epoch, DAEMON_LEASE_CONFIRM_WAIT_MS);
		refused = 1;
	} else if (now >= d->lw_safe_until) {
		snprintf(why, why_len, "lease of epoch %" PRIu64 " not current: %s", epoch,
		    d->lw_why[0] != '\0' ? d->lw_why :
		    "too little time left before sanlock acts");
		refused = 1;
	}
	d->lw_batch = 0;
	pthread_mutex_unlock(&d->lw_lock);
	return refused;
}
