/*
 * t_role.c: the role state machine (src/role.c) on its own.
 *
 * Checks every (role, event) pair, the transitions that keep data safe, and
 * random walks against a model of the outside world (lease, writes, service)
 * that asserts the invariants of role.h after every step.
 */
#include "role.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct role_state state_in(enum role role, bool auto_promote, bool lease_held)
{
	struct role_state st;

	role_init(&st, auto_promote);
	st.role = role;
	st.lease_held = lease_held;
	return st;
}

static unsigned step(struct role_state *st, enum role_event ev)
{
	struct role_actions act;
	struct role_state next;

	role_next(st, ev, &next, &act);
	*st = next;
	return act.bits;
}

static void test_every_pair(void)
{
	int defined = 0, total = 0, names = 0;

	for (int r = 0; r < ROLE_COUNT; r++) {
		for (int e = 0; e < ROLE_EVENT_COUNT; e++) {
			for (int ap = 0; ap < 2; ap++) {
				struct role_state st = state_in((enum role)r, ap, r == ROLE_CATCHUP || r == ROLE_ACTIVE);
				struct role_state next;
				struct role_actions act = { .bits = 0xdeadbeef };
				enum role got = role_next(&st, (enum role_event)e, &next, &act);
				total++;
				if ((unsigned)got < ROLE_COUNT && got == next.role &&
				    (act.bits & ~((ROLE_ACT_EXIT << 1) - 1)) == 0)
					defined++;
				else
					tap_diag("%s + %s: undefined outcome", role_name((enum role)r),
					    role_event_name((enum role_event)e));
			}
			if (strcmp(role_event_name((enum role_event)e), "?") != 0)
				names++;
		}
	}
	is_int(defined, total, "every (role, event, auto_promote) has a defined outcome");
	is_int(names, ROLE_COUNT * ROLE_EVENT_COUNT, "every event has a name");
	for (unsigned b = 1; b <= ROLE_ACT_EXIT; b <<= 1)
		if (strcmp(role_action_name((enum role_action)b), "?") == 0)
			ok(0, "action bit %u has no name", b);
}

static void test_important(void)
{
	struct role_state st;
	unsigned bits;

	/* Startup with automatic promotion. */
	st = state_in(ROLE_JOINING, true, false);
	bits = step(&st, ROLE_EV_JOINED);
	is_str(role_name(st.role), "STANDBY", "joined => STANDBY");
	ok(bits & ROLE_ACT_TRY_ACQUIRE, "auto_promote: STANDBY tries to acquire at once");
	ok(!(bits & ROLE_ACT_ACCEPT_WRITES), "STANDBY does not accept writes");
	bits = step(&st, ROLE_EV_LEASE_ACQUIRED);
	is_str(role_name(st.role), "CATCHUP", "lease acquired => CATCHUP");
	ok(bits == ROLE_ACT_START_CATCHUP, "CATCHUP starts catch-up and nothing else (no writes, no service)");
	bits = step(&st, ROLE_EV_CAUGHT_UP);
	is_str(role_name(st.role), "ACTIVE", "caught up => ACTIVE");
	ok((bits & ROLE_ACT_ACCEPT_WRITES) && (bits & ROLE_ACT_START_SERVICE),
	    "ACTIVE accepts writes and starts the service");

	/* Lease loss in ACTIVE. */
	bits = step(&st, ROLE_EV_LEASE_LOST);
	is_str(role_name(st.role), "DEMOTING", "lease lost in ACTIVE => DEMOTING");
	ok((bits & ROLE_ACT_REFUSE_WRITES) && (bits & ROLE_ACT_STOP_SERVICE),
	    "lease lost: refuse writes and stop the service");
	ok((bits & 1u) == ROLE_ACT_REFUSE_WRITES, "lease lost: refusing writes is the first action");
	ok(!(bits & ROLE_ACT_RELEASE_LEASE), "lease lost: nothing to release");
	ok(!st.lease_held, "lease lost: the state no longer holds the lease");
	bits = step(&st, ROLE_EV_SERVICE_STOPPED);
	is_str(role_name(st.role), "STANDBY", "service stopped after lease loss => STANDBY");
	ok(!(bits & ROLE_ACT_RELEASE_LEASE), "no release of a lease already lost");
	ok(bits & ROLE_ACT_ACQUIRE_LATER, "auto: retry acquiring after a hold-off");

	/* Graceful demote: release only after the service stopped. */
	st = state_in(ROLE_ACTIVE, true, true);
	bits = step(&st, ROLE_EV_DEMOTE_REQUESTED);
	is_str(role_name(st.role), "DEMOTING", "demote => DEMOTING");
	ok((bits & ROLE_ACT_REFUSE_WRITES) && (bits & ROLE_ACT_END_EPOCH) &&
	    (bits & ROLE_ACT_STOP_SERVICE), "demote: refuse writes, finish batches, stop service");
	ok(!(bits & ROLE_ACT_RELEASE_LEASE), "demote: lease not released before the service stopped");
	bits = step(&st, ROLE_EV_LEASE_REFUSED);
	ok(!(bits & ROLE_ACT_RELEASE_LEASE) && st.role == ROLE_DEMOTING, "a late reply changes nothing while demoting");
	bits = step(&st, ROLE_EV_SERVICE_STOPPED);
	ok(bits & ROLE_ACT_RELEASE_LEASE, "demote: release once the service stopped");
	ok(!(bits & ROLE_ACT_TRY_ACQUIRE), "demote: no immediate re-acquire (another host takes over)");
	is_str(role_name(st.role), "STANDBY", "demote ends in STANDBY");

	/* Shutdown of an active host: demote, then exit. */
	st = state_in(ROLE_ACTIVE, true, true);
	bits = step(&st, ROLE_EV_SHUTDOWN);
	ok(st.role == ROLE_DEMOTING && (bits & ROLE_ACT_STOP_SERVICE) && !(bits & ROLE_ACT_EXIT),
	    "shutdown in ACTIVE demotes first");
	bits = step(&st, ROLE_EV_SERVICE_STOPPED);
	ok(st.role == ROLE_STOPPED && (bits & ROLE_ACT_RELEASE_LEASE) && (bits & ROLE_ACT_EXIT),
	    "then releases and exits");

	/* Check failures, commit failures, failed start: hand over. */
	enum role_event handover[] = { ROLE_EV_CHECK_FAILED_LIMIT, ROLE_EV_COMMIT_FAILED,
	    ROLE_EV_SERVICE_START_FAILED };
	for (size_t i = 0; i < 3; i++) {
		st = state_in(ROLE_ACTIVE, false, true);
		bits = step(&st, handover[i]);
		ok(st.role == ROLE_DEMOTING && (bits & ROLE_ACT_REFUSE_WRITES),
		    "%s in ACTIVE => DEMOTING, writes refused", role_event_name(handover[i]));
	}

	/* auto_promote = no. */
	st = state_in(ROLE_JOINING, false, false);
	bits = step(&st, ROLE_EV_JOINED);
	ok(!(bits & (ROLE_ACT_TRY_ACQUIRE | ROLE_ACT_ACQUIRE_SOON | ROLE_ACT_ACQUIRE_LATER)),
	    "auto_promote=no: joining does not try to acquire");
	bits = step(&st, ROLE_EV_ACQUIRE_TIMER);
	ok(!(bits & ROLE_ACT_TRY_ACQUIRE), "auto_promote=no: a timer does not acquire");
	bits = step(&st, ROLE_EV_PROMOTE_REQUESTED);
	ok(bits & ROLE_ACT_TRY_ACQUIRE, "auto_promote=no: promote tries to acquire");
	bits = step(&st, ROLE_EV_LEASE_REFUSED);
	ok(!(bits & (ROLE_ACT_TRY_ACQUIRE | ROLE_ACT_ACQUIRE_SOON)),
	    "auto_promote=no: a refused promote is not retried on its own");

	/* CATCHUP that fails gives the lease back. */
	st = state_in(ROLE_CATCHUP, true, true);
	bits = step(&st, ROLE_EV_CATCHUP_FAILED);
	ok(st.role == ROLE_STANDBY && (bits & ROLE_ACT_RELEASE_LEASE) && !(bits & ROLE_ACT_START_SERVICE),
	    "catch-up failure: release, back to STANDBY, no service");

	/* A lease nobody asked for is released. */
	st = state_in(ROLE_JOINING, true, false);
	bits = step(&st, ROLE_EV_LEASE_ACQUIRED);
	ok(st.role == ROLE_JOINING && (bits & ROLE_ACT_RELEASE_LEASE), "unexpected lease is released");

	/* Promote while demoting or joining is rejected. */
	st = state_in(ROLE_DEMOTING, true, true);
	ok(step(&st, ROLE_EV_PROMOTE_REQUESTED) & ROLE_ACT_REJECT, "promote while demoting is rejected");
}

/* The world as the caller sees it, driven by the actions. */
struct world {
	bool lease;             /* we hold the lease */
	bool acquiring;         /* an acquire is under way */
	bool writes;            /* writes accepted */
	int service;            /* 0 stopped, 1 running, 2 stopping */
	bool exited;
};

static int check_invariants(const struct role_state *st, const struct world *w,
    unsigned bits, enum role_event ev, bool auto_promote, char *why, size_t len)
{
	if (w->writes != (st->role == ROLE_ACTIVE))
		return snprintf(why, len, "writes %s in %s", w->writes ? "accepted" : "refused",
		    role_name(st->role)), 0;
	if ((st->role == ROLE_ACTIVE || st->role == ROLE_CATCHUP) && !w->lease)
		return snprintf(why, len, "%s without the lease", role_name(st->role)), 0;
	if (st->lease_held != w->lease)
		return snprintf(why, len, "state lease_held %d, world %d", st->lease_held, w->lease), 0;
	if (st->role == ROLE_ACTIVE && w->service != 1)
		return snprintf(why, len, "ACTIVE without the service"), 0;
	if ((st->role == ROLE_STANDBY || st->role == ROLE_CATCHUP || st->role == ROLE_JOINING) && w->service == 1)
		return snprintf(why, len, "service running in %s", role_name(st->role)), 0;
	if (!auto_promote && (bits & (ROLE_ACT_ACQUIRE_SOON | ROLE_ACT_ACQUIRE_LATER)))
		return snprintf(why, len, "acquire timer armed with auto_promote=no"), 0;
	if (!auto_promote && (bits & ROLE_ACT_TRY_ACQUIRE) && ev != ROLE_EV_PROMOTE_REQUESTED)
		return snprintf(why, len, "acquire without promote on %s", role_event_name(ev)), 0;
	if ((st->role == ROLE_STOPPED) != w->exited)
		return snprintf(why, len, "STOPPED and exit disagree"), 0;
	return 1;
}

/* Applies the actions to the world; returns 0 if an action was unsafe. */
static int apply(struct world *w, unsigned bits, char *why, size_t len)
{
	if (bits & ROLE_ACT_REFUSE_WRITES)
		w->writes = false;
	if ((bits & ROLE_ACT_STOP_SERVICE) && w->service == 1)
		w->service = 2;
	if (bits & ROLE_ACT_RELEASE_LEASE) {
		if (w->service != 0)
			return snprintf(why, len, "lease released while the service %s",
			    w->service == 1 ? "runs" : "is stopping"), 0;
		if (w->writes)
			return snprintf(why, len, "lease released while accepting writes"), 0;
		w->lease = false;
	}
	if (bits & ROLE_ACT_TRY_ACQUIRE)
		w->acquiring = true;
	if (bits & ROLE_ACT_ACCEPT_WRITES) {
		if (!w->lease)
			return snprintf(why, len, "writes accepted without the lease"), 0;
		w->writes = true;
	}
	if (bits & ROLE_ACT_START_SERVICE) {
		if (!w->lease)
			return snprintf(why, len, "service started without the lease"), 0;
		w->service = 1;
	}
	if (bits & ROLE_ACT_EXIT)
		w->exited = true;
	return 1;
}

static void test_random_walks(void)
{
	unsigned seed = 20261121;
	int walks = 2000, steps = 200, failures = 0;
	char why[256];

	for (int walk = 0; walk < walks && failures < 5; walk++) {
		bool auto_promote = walk % 2;
		struct role_state st;
		struct world w = { 0 };

		role_init(&st, auto_promote);
		for (int i = 0; i < steps && st.role != ROLE_STOPPED; i++) {
			enum role_event ev = (enum role_event)(rand_r(&seed) % ROLE_EVENT_COUNT);
			/* The world only answers what was asked. */
			if (ev == ROLE_EV_LEASE_ACQUIRED || ev == ROLE_EV_LEASE_REFUSED) {
				if (!w.acquiring)
					continue;
				w.acquiring = false;
				if (ev == ROLE_EV_LEASE_ACQUIRED)
					w.lease = true;
			}
			/* Losing the lockspace takes the lease with it. */
			if (ev == ROLE_EV_JOIN_FAILED)
				w.lease = false;
			if (ev == ROLE_EV_LEASE_LOST) {
				if (!w.lease)
					continue;
				w.lease = false;
			}
			if (ev == ROLE_EV_SERVICE_STOPPED) {
				if (w.service != 2)
					continue;
				w.service = 0;
			}
			if (ev == ROLE_EV_CAUGHT_UP && st.role != ROLE_CATCHUP)
				continue;
			if (ev == ROLE_EV_JOINED && st.role != ROLE_JOINING)
				continue;
			struct role_state next;
			struct role_actions act;
			enum role before = st.role;
			role_next(&st, ev, &next, &act);
			st = next;
			if (!apply(&w, act.bits, why, sizeof(why)) ||
			    !check_invariants(&st, &w, act.bits, ev, auto_promote, why, sizeof(why))) {
				failures++;
				tap_diag("walk %d step %d: %s + %s -> %s: %s", walk, i,
				    role_name(before), role_event_name(ev), role_name(st.role), why);
				break;
			}
		}
	}
	is_int(failures, 0, "%d random walks of %d steps keep every invariant", walks, steps);
}

int main(void)
{
	test_every_pair();
	test_important();
	test_random_walks();
	return tap_done();
}
