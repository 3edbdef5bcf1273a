/*
 * lockspace.c: joining and leaving the group's lockspace with this host's
 * id, and the health of this host's delta lease.
 *
 * sanlock's add_lockspace takes seconds (it must see the host id's delta
 * lease unchanged for a while), and with SANLK_ADD_ASYNC its reason for
 * failing is lost.  So the join runs the synchronous call on a thread of its
 * own and keeps sanlock's answer: the caller polls fence_join_poll() or waits
 * on fence_join_fd() from its event loop and gets the real reason (host id
 * busy, daemon gone, permission) when it fails.
 */
#include "fence_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <sanlock.h>
#include <sanlock_admin.h>
#include <sanlock_rv.h>

#define LOCKSPACE_INQ_POLL_MS 100

static void lockspace_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void lockspace_join_fail(struct fence *f, int rv, struct fence_error *err)
{
	char holder[FENCE_HOST_NAME_MAX + 1];

	if (rv == SANLK_HOSTID_BUSY) {
		if (fence_host_name(f->store_dir, f->host_id, holder, sizeof(holder)) < 0)
			snprintf(holder, sizeof(holder), "no name recorded in hosts/%u", f->host_id);
		fence_fail(err, -FENCE_EHOSTID_BUSY, "lease %s: host id %u is already used by "
		    "a live host (%s): give host %s a host id of its own", f->lease_path,
		    f->host_id, holder, f->host_name);
		return;
	}
	fence_fail_sanlock(err, rv, "lease %s: joining lockspace %s as host id %u (%s)",
	    f->lease_path, f->group, f->host_id, f->host_name);
}

/*
 * sanlock refuses a host id whose delta lease another live host renews, but
 * only after watching it for 8 * io_timeout + 60 s.  A live user renews every
 * 2 * io_timeout, so watching the lease on disk for two renewal intervals
 * tells at once.  A host id held in this very daemon (a restarted ssfmd) is
 * already joined and is not watched.
 */
static int lockspace_id_in_use(struct fence *f, const struct sanlk_lockspace *ls)
{
	struct sanlk_lockspace q = *ls;
	uint64_t first = 0, now = 0;
	unsigned watch_ms = (2 * FENCE_RENEW_INTERVAL(f->io_timeout) + 1) * 1000;

	if (sanlock_inq_lockspace(&q, 0) == 0)
		return 0;
	if (lease_read_delta_timestamp(f->lease_path, f->host_id, &first) < 0 || first == 0)
		return 0;
	for (unsigned waited = 0; waited < watch_ms; waited += 250) {
		lockspace_sleep_ms(250);
		if (lease_read_delta_timestamp(f->lease_path, f->host_id, &now) < 0)
			return 0;
		if (now != first)
			return 1;
	}
	return 0;
}

static void *lockspace_join_main(void *arg)
{
	struct fence *f = arg;
	struct sanlk_lockspace ls;
	struct fence_error err = { 0, "" };
	uint64_t one = 1;
	int rv;

	lease_fill_lockspace(&ls, f->lease_path, f->group, f->host_id);
	if (lockspace_id_in_use(f, &ls))
		rv = SANLK_HOSTID_BUSY;
	else
		rv = sanlock_add_lockspace_timeout(&ls, 0, f->io_timeout);
	if (rv == -EEXIST)
		rv = 0;	/* this daemon already runs it for this host */
	while (rv == -EINPROGRESS) {
		/* Someone else's add of the same lockspace: wait for its outcome. */
		lockspace_sleep_ms(LOCKSPACE_INQ_POLL_MS);
		rv = sanlock_inq_lockspace(&ls, 0);
		if (rv == -ENOENT)
			rv = SANLK_ERROR;
	}
	if (rv == 0) {
		int w = hostrec_write(f->store_dir, f->host_id, f->host_name);
		(void)w;	/* informational: a lost record only makes messages vaguer */
	} else {
		lockspace_join_fail(f, rv, &err);
	}

	pthread_mutex_lock(&f->lock);
	f->join_rc = rv;
	f->join_err = err;
	f->join_state = rv == 0 ? FENCE_JOINED : FENCE_JOIN_FAILED;
	pthread_mutex_unlock(&f->lock);
	if (write(f->join_fd, &one, sizeof(one)) < 0) {
		/* eventfd counter cannot overflow with one write; nothing to do */
	}
	return NULL;
}

int fence_join_start(struct fence *f, struct fence_error *err)
{
	int state, rc;

	pthread_mutex_lock(&f->lock);
	state = f->join_state;
	pthread_mutex_unlock(&f->lock);
	if (state == FENCE_JOINING || state == FENCE_JOINED)
		return 0;
	if (f->join_thread_live) {
		pthread_join(f->join_thread, NULL);
		f->join_thread_live = 0;
	}
	if (f->join_fd < 0) {
		f->join_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (f->join_fd < 0)
			return fence_fail(err, -errno, "host id %u: eventfd: %s", f->host_id,
			    strerror(errno));
	}
	f->join_state = FENCE_JOINING;
	f->join_err.code = 0;
	f->join_err.msg[0] = '\0';
	rc = pthread_create(&f->join_thread, NULL, lockspace_join_main, f);
	if (rc != 0) {
		f->join_state = FENCE_JOIN_FAILED;
		return fence_fail(err, -rc, "host id %u: cannot start the join thread: %s",
		    f->host_id, strerror(rc));
	}
	f->join_thread_live = 1;
	return 0;
}

int fence_join_fd(const struct fence *f)
{
	return f->join_fd;
}

int fence_join_poll(struct fence *f, struct fence_error *err)
{
	struct sanlk_lockspace ls;
	int state, rv;
	uint64_t count;

	pthread_mutex_lock(&f->lock);
	state = f->join_state;
	if (state == FENCE_JOIN_FAILED && err != NULL)
		*err = f->join_err;
	pthread_mutex_unlock(&f->lock);
	if (state == FENCE_JOINED || state == FENCE_JOIN_FAILED) {
		if (f->join_thread_live) {
			pthread_join(f->join_thread, NULL);
			f->join_thread_live = 0;
			while (read(f->join_fd, &count, sizeof(count)) > 0)
				;
		}
	}
	if (state != FENCE_JOINED)
		return state;

	lease_fill_lockspace(&ls, f->lease_path, f->group, f->host_id);
	rv = sanlock_inq_lockspace(&ls, 0);
	if (rv == 0)
		return FENCE_JOINED;
	if (rv == -ENOENT)
		fence_fail(err, -FENCE_ENOTJOINED, "lease %s: lockspace %s is gone for host id %u "
		    "(%s): sanlock removed it (renewal failed, or it was removed by hand)",
		    f->lease_path, f->group, f->host_id, f->host_name);
	else
		fence_fail_sanlock(err, rv, "lease %s: asking about lockspace %s", f->lease_path,
		    f->group);
	pthread_mutex_lock(&f->lock);
	f->join_state = FENCE_JOIN_FAILED;
	if (err != NULL)
		f->join_err = *err;
	pthread_mutex_unlock(&f->lock);
	return FENCE_JOIN_FAILED;
}

int fence_leave(struct fence *f, struct fence_error *err)
{
	struct sanlk_lockspace ls;
	int state, rv;

	pthread_mutex_lock(&f->lock);
	state = f->join_state;
	pthread_mutex_unlock(&f->lock);
	if (state == FENCE_JOINING)
		return fence_fail(err, -EBUSY, "host id %u: still joining lockspace %s; leave "
		    "once fence_join_poll() says it is done", f->host_id, f->group);
	if (f->join_thread_live) {
		pthread_join(f->join_thread, NULL);
		f->join_thread_live = 0;
	}
	lease_fill_lockspace(&ls, f->lease_path, f->group, f->host_id);
	rv = sanlock_rem_lockspace(&ls, 0);
	f->join_state = FENCE_JOIN_IDLE;
	if (rv < 0 && rv != -ENOENT)
		return fence_fail_sanlock(err, rv, "lease %s: leaving lockspace %s as host id %u",
		    f->lease_path, f->group, f->host_id);
	return 0;
}

static int64_t lockspace_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int fence_lease_health(struct fence *f, struct fence_health *h, struct fence_error *err)
{
	struct sanlk_host *hss = NULL;
	int count = 0, rv;

	rv = sanlock_get_hosts(f->group, f->host_id, &hss, &count, 0);
	if (rv == -ENOENT || rv == -ENOSPC) {
		rv = fence_fail(err, -FENCE_ENOTJOINED, "lease %s: host id %u is not in "
		    "lockspace %s", f->lease_path, f->host_id, f->group);
		goto out;
	}
	if (rv < 0) {
		rv = fence_fail_sanlock(err, rv, "lease %s: health of host id %u", f->lease_path,
		    f->host_id);
		goto out;
	}
	if (count < 1 || hss == NULL || hss[0].timestamp == 0) {
		rv = fence_fail(err, -FENCE_ENOTJOINED, "lease %s: sanlock has no renewal for "
		    "host id %u yet", f->lease_path, f->host_id);
		goto out;
	}
	/* sanlock's timestamps are CLOCK_MONOTONIC seconds of this host. */
	h->io_timeout = hss[0].io_timeout ? hss[0].io_timeout : f->io_timeout;
	h->age_ms = lockspace_now_ms() - (int64_t)hss[0].timestamp * 1000;
	if (h->age_ms < 0)
		h->age_ms = 0;
	h->left_ms = (int64_t)FENCE_KILL_AFTER(h->io_timeout) * 1000 - h->age_ms;
	rv = 0;
out:
	free(hss);
	return rv;
}

int fence_lease_current(struct fence *f, int64_t min_left_ms, struct fence_error *err)
{
	struct fence_health h;
	int rc = fence_lease_health(f, &h, err);

	if (rc < 0)
		return rc;
	if (min_left_ms <= 0)
		min_left_ms = FENCE_SAFE_LEFT_MS(h.io_timeout);
	return h.left_ms >= min_left_ms;
}
