/*
 * daemon_snapshot.c: snapshots in the background.  While ACTIVE, every
 * snapshot_ops operations or snapshot_interval (when there were writes), and
 * on a snapshot request on any role, a thread writes store_snapshot and, on
 * the writer, store_compact.
 *
 * store.h forbids store_snapshot/store_compact beside store_follow,
 * store_begin_epoch and store_end_epoch: the loop skips following while the
 * thread runs, and joins it (daemon_snapshot_wait) before beginning or
 * ending an epoch.  Writes go on meanwhile: the store holds writers only
 * while it takes the cut.
 */
#include "daemon.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct daemon_snap_arg {
	struct daemon *d;
	bool compact;
};

static void *daemon_snapshot_main(void *arg)
{
	struct daemon_snap_arg *a = arg;
	struct daemon *d = a->d;
	struct store_error err = { 0, "" };
	uint64_t seq = 0;
	int rc;

	rc = store_snapshot(d->st, &seq, &err);
	d->snap_seq = seq;
	d->snap_rc = rc;
	d->snap_msg[0] = '\0';
	if (rc < 0) {
		snprintf(d->snap_msg, sizeof(d->snap_msg), "%s", err.msg);
	} else if (a->compact) {
		int removed = store_compact(d->st, &err);
		if (removed < 0)
			log_warnx("compaction after snapshot %" PRIu64 ": %s", seq, err.msg);
		else if (removed > 0)
			log_info("compaction after snapshot %" PRIu64 ": %d files removed", seq, removed);
	}
	free(a);
	atomic_store(&d->snap_done, true);
	daemon_wake(d);
	return NULL;
}

static int daemon_snapshot_begin(struct daemon *d)
{
	struct daemon_snap_arg *a;
	int rc;

	if (d->snap_running)
		return 0;
	a = malloc(sizeof(*a));
	if (a == NULL)
		return -1;
	a->d = d;
	a->compact = d->role.role == ROLE_ACTIVE;
	pthread_mutex_lock(&d->watch_lock);
	d->ops_since_snapshot = 0;
	pthread_mutex_unlock(&d->watch_lock);
	atomic_store(&d->snap_done, false);
	rc = pthread_create(&d->snap_thread, NULL, daemon_snapshot_main, a);
	if (rc != 0) {
		free(a);
		log_warnx("snapshot thread: %s", strerror(rc));
		return -rc;
	}
	d->snap_running = true;
	return 0;
}

void daemon_snapshot_reap(struct daemon *d)
{
	if (!d->snap_running || !atomic_load(&d->snap_done))
		return;
	pthread_join(d->snap_thread, NULL);
	d->snap_running = false;
	if (d->snap_rc < 0) {
		log_warnx("snapshot failed: %s", d->snap_msg);
	} else {
		d->snapshots_written++;
		log_info("snapshot at seq %" PRIu64, d->snap_seq);
	}
	for (size_t i = 0; i < d->snap_nreqs; i++) {
		if (d->snap_rc < 0) {
			control_reply_error(d->ctl, d->snap_reqs[i], PROTO_E_INTERNAL, d->snap_msg,
			    NULL, -1);
		} else {
			json_t *o = json_object();
			json_object_set_new(o, "seq", json_integer((json_int_t)d->snap_seq));
			control_reply(d->ctl, d->snap_reqs[i], proto_reply_ok(o));
		}
	}
	d->snap_nreqs = 0;
}

void daemon_snapshot_wait(struct daemon *d)
{
	if (!d->snap_running)
		return;
	while (!atomic_load(&d->snap_done)) {
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	daemon_snapshot_reap(d);
}

int daemon_snapshot_request(struct daemon *d, uint64_t id)
{
	if (d->snap_nreqs == d->snap_cap) {
		size_t cap = d->snap_cap ? d->snap_cap * 2 : 8;
		uint64_t *grown = realloc(d->snap_reqs, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		d->snap_reqs = grown;
		d->snap_cap = cap;
	}
	d->snap_reqs[d->snap_nreqs++] = id;
	if (d->role.role == ROLE_CATCHUP || daemon_snapshot_begin(d) < 0) {
		/* retried by the tick once catch-up is over */
		return 0;
	}
	return 0;
}

void daemon_snapshot_tick(struct daemon *d, uint64_t now)
{
	uint64_t ops;
	bool due;

	if (d->snap_running)
		return;
	if (d->snap_nreqs > 0 && d->role.role != ROLE_CATCHUP) {
		daemon_snapshot_begin(d);
		return;
	}
	if (d->role.role != ROLE_ACTIVE) {
		d->snap_at = 0;
		return;
	}
	if (d->snap_at == 0 && d->cfg->snapshot_interval > 0)
		d->snap_at = now + (uint64_t)d->cfg->snapshot_interval;
	pthread_mutex_lock(&d->watch_lock);
	ops = d->ops_since_snapshot;
	pthread_mutex_unlock(&d->watch_lock);
	due = d->cfg->snapshot_ops > 0 && ops >= (uint64_t)d->cfg->snapshot_ops;
	if (d->snap_at != 0 && now >= d->snap_at) {
		d->snap_at = now + (uint64_t)d->cfg->snapshot_interval;
		due = due || ops > 0;
	}
	if (due)
		daemon_snapshot_begin(d);
}
