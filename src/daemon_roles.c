/*
 * daemon_roles.c: executes what role_next (role.h) decides, one event at a
 * time.  Events raised while actions run (an acquire that succeeded, a
 * catch-up that failed) are queued and fed to role_next after the current
 * step, so every step sees the state the previous one left.
 *
 * Blocking: END_EPOCH waits for the batches in flight (store_end_epoch),
 * START_CATCHUP applies the journal and writes the seal (store_follow,
 * store_begin_epoch), and TRY_ACQUIRE waits for sanlock's paxos ballot.
 * Each is bounded by the storage's speed (a few io_timeouts when it
 * stalls); the loop serves nothing else meanwhile, which is what the role
 * needs anyway: no write is taken before the seal, and none after a demote
 * began.
 */
#include "daemon.h"

#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "sdnotify.h"

void daemon_event(struct daemon *d, enum role_event ev)
{
	if (d->evq_len == DAEMON_EVQ) {
		log_warnx("role: event queue full, dropping %s", role_event_name(ev));
		return;
	}
	d->evq[(d->evq_head + d->evq_len) % DAEMON_EVQ] = ev;
	d->evq_len++;
}

static void daemon_roles_catchup(struct daemon *d)
{
	struct store_follow_result fr;
	struct store_seal_info seal;
	struct store_info info;
	struct store_error err = { 0, "" };
	int rc;

	daemon_snapshot_wait(d);
	store_info(d->st, &info);
	snprintf(d->failover.previous, sizeof(d->failover.previous), "%s", info.last_seal.host);
	if (d->argv_fence != NULL) {
		d->failover.fence_started_ms = daemon_wall_ms();
		rc = daemon_service_fence(d, &info.last_seal);
		if (rc == 0)
			d->failover.fenced_ms = daemon_wall_ms();
		if (rc != 0) {
			log_warnx("catch-up for epoch %" PRIu64 ": fence_hook failed to fence %s: "
			    "not taking over (lease released, trying again later)", d->epoch,
			    info.last_seal.host[0] != '\0' ? info.last_seal.host : "no previous active");
			daemon_event(d, ROLE_EV_CATCHUP_FAILED);
			return;
		}
	}
	/* Apply what exists first, so the timeline tells catching up from sealing. */
	memset(&fr, 0, sizeof(fr));
	rc = store_follow(d->st, &fr, &err);
	if (rc == -STORE_EDIGEST) {
		/* store_begin_epoch reloads from the newest snapshot itself and
		 * refuses if the mismatch persists: count and log it here only. */
		d->digest_mismatches++;
		log_warnx("catch-up: %s: store_begin_epoch reloads from the newest snapshot", err.msg);
	}
	d->failover.caught_up_ms = daemon_wall_ms();
	rc = store_begin_epoch(d->st, d->epoch, d->cfg->host, (uint32_t)d->cfg->host_id,
	    &seal, &err);
	if (rc < 0) {
		log_warnx("catch-up for epoch %" PRIu64 " failed: %s", d->epoch, err.msg);
		atomic_store(&d->ack_epoch, 0);
		daemon_event(d, ROLE_EV_CATCHUP_FAILED);
		return;
	}
	d->failover.sealed_ms = daemon_wall_ms();
	d->failover.seq = seal.start_seq;
	d->failover.epoch = d->epoch;
	d->failovers++;
	log_info("epoch %" PRIu64 " sealed at seq %" PRIu64 " by %s", d->epoch,
	    seal.start_seq, d->cfg->host);
	daemon_event(d, ROLE_EV_CAUGHT_UP);
}

static void daemon_roles_end_epoch(struct daemon *d)
{
	uint64_t now;

	daemon_snapshot_wait(d);
	store_end_epoch(d->st);
	atomic_store(&d->ack_epoch, 0);
	atomic_store(&d->commit_failed, false);
	now = daemon_now_ms();
	if (d->demote_deadline != 0 && now >= d->demote_deadline)
		log_warnx("demote: batches in flight took %" PRIu64 " ms, past demote_timeout "
		    "(%lld ms): the service is not waited for", now - d->demote_started,
		    d->cfg->demote_timeout);
}

static void daemon_roles_act(struct daemon *d, unsigned bit, enum role_event ev)
{
	uint64_t now = daemon_now_ms();

	switch ((enum role_action)bit) {
	case ROLE_ACT_REFUSE_WRITES:
		d->accepting = false;
		break;
	case ROLE_ACT_END_EPOCH:
		daemon_roles_end_epoch(d);
		break;
	case ROLE_ACT_STOP_SERVICE:
		daemon_service_stop(d);
		break;
	case ROLE_ACT_RELEASE_LEASE:
		daemon_lease_release(d);
		break;
	case ROLE_ACT_FOLLOW:
		d->following = true;
		d->poll_at = now;
		break;
	case ROLE_ACT_TRY_ACQUIRE:
		d->promote_asked = ev == ROLE_EV_PROMOTE_REQUESTED;
		daemon_lease_try_acquire(d);
		break;
	case ROLE_ACT_ACQUIRE_SOON: {
		uint64_t wait = (uint64_t)d->cfg->poll_interval;
		if (wait > DAEMON_ACQUIRE_RETRY_MS)
			wait = DAEMON_ACQUIRE_RETRY_MS;
		d->acquire_at = now + wait;
		break;
	}
	case ROLE_ACT_ACQUIRE_LATER:
		d->acquire_at = now + DAEMON_ACQUIRE_HOLDOFF_MS;
		break;
	case ROLE_ACT_START_CATCHUP:
		d->following = false;
		daemon_roles_catchup(d);
		break;
	case ROLE_ACT_ACCEPT_WRITES:
		d->accepting = true;
		break;
	case ROLE_ACT_START_SERVICE:
		daemon_service_start(d);
		break;
	case ROLE_ACT_REJECT:
		/* the promote request answers from the role it sees */
		break;
	case ROLE_ACT_EXIT:
		d->quit = true;
		break;
	}
}

static void daemon_roles_step(struct daemon *d, enum role_event ev)
{
	struct role_state next;
	struct role_actions act;
	enum role before = d->role.role;

	role_next(&d->role, ev, &next, &act);
	if (act.unexpected)
		log_warnx("role %s: unexpected event %s", role_name(before), role_event_name(ev));
	d->role = next;
	if (next.role != before) {
		log_info("role %s -> %s (%s)", role_name(before), role_name(next.role),
		    role_event_name(ev));
		d->role_since_ms = daemon_wall_ms();
		sdnotify_role(role_name(before), role_name(next.role));
		if (before == ROLE_ACTIVE || next.role == ROLE_ACTIVE)
			daemon_requests_end_watches(d, "role");
		if (next.role != ROLE_STANDBY)
			d->following = false;
	} else if (act.bits != 0) {
		log_debug("role %s: %s", role_name(before), role_event_name(ev));
	}
	if (next.role != ROLE_STANDBY)
		d->acquire_at = 0;
	/* Set before the actions: END_EPOCH may already use up the time. */
	if (next.role == ROLE_DEMOTING && before != ROLE_DEMOTING) {
		d->demote_started = daemon_now_ms();
		d->demote_deadline = next.lease_held ?
		    d->demote_started + (uint64_t)d->cfg->demote_timeout : 0;
	} else if (next.role != ROLE_DEMOTING) {
		d->demote_deadline = 0;
	}
	for (unsigned bit = 1; bit <= ROLE_ACT_EXIT; bit <<= 1) {
		if (act.bits & bit) {
			log_debug("role action %s", role_action_name((enum role_action)bit));
			daemon_roles_act(d, bit, ev);
		}
	}
	/* A lease given up as lost that sanlock still lets us hold (a health
	 * check that failed while renewals went on) is released once the
	 * service is stopped, so that the next acquire gets a new epoch. */
	if (!next.lease_held && d->epoch != 0 && before != next.role &&
	    (before == ROLE_CATCHUP || before == ROLE_ACTIVE || before == ROLE_DEMOTING) &&
	    (next.role == ROLE_STANDBY || next.role == ROLE_STOPPED))
		daemon_lease_release(d);
	if (next.role == ROLE_ACTIVE && before != ROLE_ACTIVE)
		d->lease_check_at = daemon_now_ms() + DAEMON_LEASE_CHECK_MS;
	if (next.role != ROLE_ACTIVE && next.role != ROLE_CATCHUP)
		d->lease_check_at = 0;
}

void daemon_run_events(struct daemon *d)
{
	while (d->evq_len > 0) {
		enum role_event ev = d->evq[d->evq_head];
		d->evq_head = (d->evq_head + 1) % DAEMON_EVQ;
		d->evq_len--;
		daemon_roles_step(d, ev);
	}
}
