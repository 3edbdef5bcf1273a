/*
 * role.c: the transitions.
 *
 * Every (role, event) pair has an outcome; the ones not listed keep the role,
 * take no action and are marked unexpected (the caller logs them), except
 * that a lease acquired when none was asked for is released at once.
 * "auto" below means: only when auto_promote is set.
 *
 * role      event                    next      actions
 * --------  -----------------------  --------  -------------------------------
 * JOINING   joined                   STANDBY   follow, try_acquire (auto)
 * JOINING   join_failed, shutdown    STOPPED   exit
 * JOINING   promote_requested        JOINING   reject (not ready)
 * JOINING   demote_requested         JOINING   (nothing: not active)
 * STANDBY   acquire_timer            STANDBY   try_acquire (auto)
 * STANDBY   promote_requested        STANDBY   try_acquire (also without auto)
 * STANDBY   lease_acquired           CATCHUP   start_catchup
 * STANDBY   lease_refused            STANDBY   acquire_soon (auto)
 * STANDBY   demote_requested         STANDBY   (nothing: not active)
 * STANDBY   join_failed, shutdown    STOPPED   exit
 * CATCHUP   caught_up                ACTIVE    accept_writes, start_service
 * CATCHUP   catchup_failed,          STANDBY   end_epoch, release_lease, follow,
 *           commit_failed,                     acquire_later (auto)
 *           demote_requested
 * CATCHUP   lease_lost               STANDBY   end_epoch, follow, acquire_later (auto)
 * CATCHUP   join_failed, shutdown    STOPPED   end_epoch, release_lease, exit
 * CATCHUP   promote_requested        CATCHUP   (nothing: under way)
 * ACTIVE    lease_lost               DEMOTING  refuse_writes, end_epoch, stop_service
 *                                              (the lease is gone: nothing to release)
 * ACTIVE    demote_requested,        DEMOTING  refuse_writes, end_epoch, stop_service
 *           check_failed_limit,
 *           commit_failed,
 *           service_start_failed
 * ACTIVE    join_failed              DEMOTING  as lease_lost, then exit
 * ACTIVE    shutdown                 DEMOTING  as demote, then exit
 * ACTIVE    promote_requested        ACTIVE    (nothing: already active)
 * DEMOTING  service_stopped          STANDBY   release_lease (if held), follow,
 *                                              acquire_later (auto)
 *                                    STOPPED   release_lease (if held), exit
 *                                              (when exiting)
 * DEMOTING  lease_lost               DEMOTING  (lease no longer held)
 * DEMOTING  shutdown, join_failed    DEMOTING  (exit once stopped)
 * DEMOTING  promote_requested        DEMOTING  reject
 * DEMOTING  demote_requested         DEMOTING  (nothing: under way)
 * STOPPED   any                      STOPPED   (nothing; promote: reject)
 * not STANDBY, lease not held: lease_acquired => release_lease
 *
 * Events that are late or duplicated replies (lease_refused outside
 * STANDBY, service_stopped outside DEMOTING, check_failed_limit outside
 * ACTIVE...) are expected in a real event loop but change nothing.
 */
#include "role.h"

#include <stddef.h>

void role_init(struct role_state *st, bool auto_promote)
{
	st->role = ROLE_JOINING;
	st->auto_promote = auto_promote;
	st->lease_held = false;
	st->exiting = false;
}

/* Leaving ACTIVE: writes first, then the batches in flight, then the service. */
#define ROLE_DEMOTE_ACTS (ROLE_ACT_REFUSE_WRITES | ROLE_ACT_END_EPOCH | ROLE_ACT_STOP_SERVICE)

static unsigned role_auto(const struct role_state *st, unsigned bits)
{
	return st->auto_promote ? bits : 0;
}

/* Late replies: harmless in these roles, no log needed. */
static bool role_late_reply(enum role_event ev)
{
	return ev == ROLE_EV_LEASE_REFUSED || ev == ROLE_EV_SERVICE_STOPPED ||
	    ev == ROLE_EV_CHECK_FAILED_LIMIT || ev == ROLE_EV_ACQUIRE_TIMER ||
	    ev == ROLE_EV_SERVICE_START_FAILED || ev == ROLE_EV_COMMIT_FAILED;
}

enum role role_next(const struct role_state *cur, enum role_event ev,
    struct role_state *next, struct role_actions *act)
{
	struct role_state st = *cur;
	unsigned bits = 0;
	bool unexpected = false;

	switch (cur->role) {
	case ROLE_JOINING:
		switch (ev) {
		case ROLE_EV_JOINED:
			st.role = ROLE_STANDBY;
			bits = ROLE_ACT_FOLLOW | role_auto(cur, ROLE_ACT_TRY_ACQUIRE);
			break;
		case ROLE_EV_JOIN_FAILED:
		case ROLE_EV_SHUTDOWN:
			st.role = ROLE_STOPPED;
			bits = ROLE_ACT_EXIT;
			break;
		case ROLE_EV_PROMOTE_REQUESTED:
			bits = ROLE_ACT_REJECT;
			break;
		case ROLE_EV_DEMOTE_REQUESTED:
			break;
		default:
			unexpected = !role_late_reply(ev);
			break;
		}
		break;

	case ROLE_STANDBY:
		switch (ev) {
		case ROLE_EV_ACQUIRE_TIMER:
			bits = role_auto(cur, ROLE_ACT_TRY_ACQUIRE);
			break;
		case ROLE_EV_PROMOTE_REQUESTED:
			bits = ROLE_ACT_TRY_ACQUIRE;
			break;
		case ROLE_EV_LEASE_ACQUIRED:
			st.role = ROLE_CATCHUP;
			st.lease_held = true;
			bits = ROLE_ACT_START_CATCHUP;
			break;
		case ROLE_EV_LEASE_REFUSED:
			bits = role_auto(cur, ROLE_ACT_ACQUIRE_SOON);
			break;
		case ROLE_EV_DEMOTE_REQUESTED:
			break;
		case ROLE_EV_JOIN_FAILED:
		case ROLE_EV_SHUTDOWN:
			st.role = ROLE_STOPPED;
			bits = ROLE_ACT_EXIT;
			break;
		default:
			unexpected = !role_late_reply(ev);
			break;
		}
		break;

	case ROLE_CATCHUP:
		switch (ev) {
		case ROLE_EV_CAUGHT_UP:
			st.role = ROLE_ACTIVE;
			bits = ROLE_ACT_ACCEPT_WRITES | ROLE_ACT_START_SERVICE;
			break;
		case ROLE_EV_CATCHUP_FAILED:
		case ROLE_EV_COMMIT_FAILED:
		case ROLE_EV_DEMOTE_REQUESTED:
			st.role = ROLE_STANDBY;
			st.lease_held = false;
			bits = ROLE_ACT_END_EPOCH | ROLE_ACT_RELEASE_LEASE | ROLE_ACT_FOLLOW |
			    role_auto(cur, ROLE_ACT_ACQUIRE_LATER);
			break;
		case ROLE_EV_LEASE_LOST:
			st.role = ROLE_STANDBY;
			st.lease_held = false;
			bits = ROLE_ACT_END_EPOCH | ROLE_ACT_FOLLOW |
			    role_auto(cur, ROLE_ACT_ACQUIRE_LATER);
			break;
		case ROLE_EV_JOIN_FAILED:
		case ROLE_EV_SHUTDOWN:
			st.role = ROLE_STOPPED;
			st.lease_held = false;
			bits = ROLE_ACT_END_EPOCH | ROLE_ACT_RELEASE_LEASE | ROLE_ACT_EXIT;
			break;
		case ROLE_EV_PROMOTE_REQUESTED:
			break;
		default:
			unexpected = !role_late_reply(ev);
			break;
		}
		break;

	case ROLE_ACTIVE:
		switch (ev) {
		case ROLE_EV_LEASE_LOST:
			st.role = ROLE_DEMOTING;
			st.lease_held = false;
			bits = ROLE_DEMOTE_ACTS;
			break;
		case ROLE_EV_JOIN_FAILED:
			st.role = ROLE_DEMOTING;
			st.lease_held = false;
			st.exiting = true;
			bits = ROLE_DEMOTE_ACTS;
			break;
		case ROLE_EV_DEMOTE_REQUESTED:
		case ROLE_EV_CHECK_FAILED_LIMIT:
		case ROLE_EV_COMMIT_FAILED:
		case ROLE_EV_SERVICE_START_FAILED:
			st.role = ROLE_DEMOTING;
			bits = ROLE_DEMOTE_ACTS;
			break;
		case ROLE_EV_SHUTDOWN:
			st.role = ROLE_DEMOTING;
			st.exiting = true;
			bits = ROLE_DEMOTE_ACTS;
			break;
		case ROLE_EV_PROMOTE_REQUESTED:
			break;
		default:
			unexpected = !role_late_reply(ev);
			break;
		}
		break;

	case ROLE_DEMOTING:
		switch (ev) {
		case ROLE_EV_SERVICE_STOPPED:
			if (cur->lease_held)
				bits |= ROLE_ACT_RELEASE_LEASE;
			st.lease_held = false;
			if (cur->exiting) {
				st.role = ROLE_STOPPED;
				bits |= ROLE_ACT_EXIT;
			} else {
				st.role = ROLE_STANDBY;
				bits |= ROLE_ACT_FOLLOW | role_auto(cur, ROLE_ACT_ACQUIRE_LATER);
			}
			break;
		case ROLE_EV_LEASE_LOST:
			st.lease_held = false;
			break;
		case ROLE_EV_JOIN_FAILED:
			st.lease_held = false;
			st.exiting = true;
			break;
		case ROLE_EV_SHUTDOWN:
			st.exiting = true;
			break;
		case ROLE_EV_PROMOTE_REQUESTED:
			bits = ROLE_ACT_REJECT;
			break;
		case ROLE_EV_DEMOTE_REQUESTED:
			break;
		default:
			unexpected = !role_late_reply(ev);
			break;
		}
		break;

	case ROLE_STOPPED:
		if (ev == ROLE_EV_PROMOTE_REQUESTED)
			bits = ROLE_ACT_REJECT;
		break;
	}

	/* A lease we did not ask for (or no longer want) is given back. */
	if (ev == ROLE_EV_LEASE_ACQUIRED && cur->role != ROLE_STANDBY) {
		if (!cur->lease_held)
			bits |= ROLE_ACT_RELEASE_LEASE;
		unexpected = cur->role != ROLE_STOPPED;
	}

	*next = st;
	act->bits = bits;
	act->unexpected = unexpected;
	return st.role;
}

const char *role_name(enum role role)
{
	static const char *const names[ROLE_COUNT] = {
		"JOINING", "STANDBY", "CATCHUP", "ACTIVE", "DEMOTING", "STOPPED",
	};
	return (unsigned)role < ROLE_COUNT ? names[role] : "?";
}

const char *role_event_name(enum role_event ev)
{
	static const char *const names[ROLE_EVENT_COUNT] = {
		"joined", "join_failed", "acquire_timer", "lease_acquired",
		"lease_refused", "caught_up", "catchup_failed", "promote_requested",
		"demote_requested", "lease_lost", "check_failed_limit",
		"commit_failed", "service_start_failed", "service_stopped",
		"shutdown",
	};
	return (unsigned)ev < ROLE_EVENT_COUNT ? names[ev] : "?";
}

const char *role_action_name(enum role_action a)
{
	switch (a) {
	case ROLE_ACT_REFUSE_WRITES: return "refuse_writes";
	case ROLE_ACT_END_EPOCH: return "end_epoch";
	case ROLE_ACT_STOP_SERVICE: return "stop_service";
	case ROLE_ACT_RELEASE_LEASE: return "release_lease";
	case ROLE_ACT_FOLLOW: return "follow";
	case ROLE_ACT_TRY_ACQUIRE: return "try_acquire";
	case ROLE_ACT_ACQUIRE_SOON: return "acquire_soon";
	case ROLE_ACT_ACQUIRE_LATER: return "acquire_later";
	case ROLE_ACT_START_CATCHUP: return "start_catchup";
	case ROLE_ACT_ACCEPT_WRITES: return "accept_writes";
	case ROLE_ACT_START_SERVICE: return "start_service";
	case ROLE_ACT_REJECT: return "reject";
	case ROLE_ACT_EXIT: return "exit";
	}
	return "?";
}
