/*
 * role.h: the role state machine of DESIGN.md "Roles", as a pure function.
 *
 * role_next() takes the current state and one event and returns the next
 * state and the actions the caller must take.  It does no I/O, keeps no
 * hidden state and never blocks, so tests/t_role.c can check every
 * (role, event) pair and random walks.
 *
 * The caller executes the actions of one step in the order of their bits
 * (lowest first): writes are refused before anything else, the service is
 * stopped before the lease is released (the release itself waits for the
 * event service_stopped, in a later step), and the lease is acquired before
 * catch-up starts (catch-up starts on the event lease_acquired).  Hooks run
 * one at a time in the order they were asked for, so a start never overtakes
 * a stop still running.
 *
 *   role        lease held  writes    service
 *   JOINING     no          refused   stopped
 *   STANDBY     no          refused   stopped
 *   CATCHUP     yes         refused   stopped
 *   ACTIVE      yes         accepted  started (or starting)
 *   DEMOTING    yes or no   refused   stopping
 *   STOPPED     no          refused   stopped (terminal: the daemon exits)
 */
#ifndef SSFM_ROLE_H
#define SSFM_ROLE_H

#include <stdbool.h>

enum role {
	ROLE_JOINING,
	ROLE_STANDBY,
	ROLE_CATCHUP,
	ROLE_ACTIVE,
	ROLE_DEMOTING,
	ROLE_STOPPED,
};
#define ROLE_COUNT 6

enum role_event {
	ROLE_EV_JOINED,               /* joined the lockspace, store open */
	ROLE_EV_JOIN_FAILED,          /* could not join, or lost, the lockspace (and with it any lease) */
	ROLE_EV_ACQUIRE_TIMER,        /* the timer armed by ROLE_ACT_ACQUIRE_* fired */
	ROLE_EV_LEASE_ACQUIRED,       /* the acquire asked for succeeded */
	ROLE_EV_LEASE_REFUSED,        /* ... failed: another host holds it */
	ROLE_EV_CAUGHT_UP,            /* journal applied to its end, seal written */
	ROLE_EV_CATCHUP_FAILED,       /* fenced by a newer epoch, damaged journal, I/O */
	ROLE_EV_PROMOTE_REQUESTED,    /* ssfm promote */
	ROLE_EV_DEMOTE_REQUESTED,     /* ssfm demote, SIGTERM without exit */
	ROLE_EV_LEASE_LOST,           /* the lease is no longer ours */
	ROLE_EV_CHECK_FAILED_LIMIT,   /* hook_check failed check_failures times in a row */
	ROLE_EV_COMMIT_FAILED,        /* the store's writer failed or was fenced */
	ROLE_EV_SERVICE_START_FAILED, /* hook_start exited non-zero */
	ROLE_EV_SERVICE_STOPPED,      /* hook_stop ended (whatever its status) */
	ROLE_EV_SHUTDOWN,             /* SIGTERM/SIGINT: demote if active, then exit */
};
#define ROLE_EVENT_COUNT 15

/* Actions, as bits; executed lowest bit first. */
enum role_action {
	ROLE_ACT_REFUSE_WRITES  = 1u << 0,  /* new writes get not_active at once */
	ROLE_ACT_END_EPOCH      = 1u << 1,  /* finish batches in flight; store back to following */
	ROLE_ACT_STOP_SERVICE   = 1u << 2,  /* run hook_stop; report service_stopped */
	ROLE_ACT_RELEASE_LEASE  = 1u << 3,
	ROLE_ACT_FOLLOW         = 1u << 4,  /* follow the journal as a standby */
	ROLE_ACT_TRY_ACQUIRE    = 1u << 5,  /* ask for the lease; report acquired/refused */
	ROLE_ACT_ACQUIRE_SOON   = 1u << 6,  /* arm the acquire timer (a short retry interval) */
	ROLE_ACT_ACQUIRE_LATER  = 1u << 7,  /* arm it after a hold-off, so another host wins */
	ROLE_ACT_START_CATCHUP  = 1u << 8,  /* fence hook, then store_begin_epoch */
	ROLE_ACT_ACCEPT_WRITES  = 1u << 9,
	ROLE_ACT_START_SERVICE  = 1u << 10, /* run hook_start; start the check timer */
	ROLE_ACT_REJECT         = 1u << 11, /* the request (promote) cannot be done now */
	ROLE_ACT_EXIT           = 1u << 12, /* the daemon exits */
};

struct role_state {
	enum role role;
	bool auto_promote;
	bool lease_held;     /* maintained by role_next */
	bool exiting;        /* shutdown asked while demoting: exit at the end */
};

struct role_actions {
	unsigned bits;       /* enum role_action */
	bool unexpected;     /* the event makes no sense in this role (log it) */
};

/* The initial state: JOINING. */
void role_init(struct role_state *st, bool auto_promote);

/* Computes *next and *act from *cur and ev (next may equal cur).  Returns
 * next->role. */
enum role role_next(const struct role_state *cur, enum role_event ev,
    struct role_state *next, struct role_actions *act);

const char *role_name(enum role role);              /* "STANDBY" */
const char *role_event_name(enum role_event ev);    /* "lease_lost" */
const char *role_action_name(enum role_action a);   /* "refuse_writes" */

#endif
