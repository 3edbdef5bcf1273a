/*
 * t_chaos: three hosts (real sanlock daemons, ssfmd each), eight writers
 * with request ids logging every acknowledgement, and a random action
 * every 0.5 to 3 s:
 *
 *   kill-active      SIGKILL of the active ssfmd (its sanlock releases
 *                    the dead process's lease: a quick takeover), when a
 *                    standby is ready to take over
 *   freeze-active    SIGSTOP of the active ssfmd and its sanlock daemon,
 *                    past its lease (the watchdog is off: -w 0); thawed
 *                    with SIGCONT once another host is ACTIVE (about
 *                    8 * io_timeout + 60 s later, DESIGN.md "Fencing"), when a
 *                    standby is ready to take over
 *   kill-standby     SIGKILL of a standby ssfmd (at most every 10 s)
 *   switchover       ssfm demote on the active (graceful)
 *   sanlock-death    SIGKILL of a standby host's sanlock daemon (of any
 *                    host in runs of 300 s or more), only while every host
 *                    is up and none frozen, and not in the last minute:
 *                    the host rejoins only once its old delta lease
 *                    expired, a minute later, and on the active the lease
 *                    is free only then
 *   restart          a host whose ssfmd or sanlock is down comes back
 *                    (sanlock first); also done at once whenever fewer
 *                    than two hosts are up
 *
 * The first round holds each action once (sanlock-death and freeze-active
 * first, so that their long waits overlap the others), in an order drawn
 * from the seed;
 * after that actions are drawn by weight among those that apply.  Every
 * action is printed with its time, and the seed at the start, so that a
 * failing run can be replayed with --seed (the order of choices is the
 * seed's; timings are the machine's).
 *
 * At the end, with every host back: the audit of daemonutil on every host
 * and on the store on disk (every acknowledged write present with its
 * value and version, no value that was never written, versions rising per
 * key), the same applied_seq and state digest on every host and on disk,
 * and store_verify finds no damaged batch and no gap.  It prints how many
 * failovers (lease acquisitions: the epoch's growth) and acknowledged
 * writes it saw.
 *
 *   t_chaos [--seed N] [--duration SECONDS]     (default: a fresh seed, 120 s)
 * or CHAOS_SEED and CHAOS_DURATION in the environment (make chaos
 * DURATION=600 SEED=...).  The run takes the duration plus about a minute
 * (start, the wait for a frozen host's lease, the audit).
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOSTS 3
#define WRITERS 8
#define FREEZE_LIMIT_MS 150000
#define WRITE_TIMEOUT_MS 300000

enum chaos_action {
	CHAOS_KILL_ACTIVE,
	CHAOS_FREEZE_ACTIVE,
	CHAOS_KILL_STANDBY,
	CHAOS_SWITCHOVER,
	CHAOS_SANLOCK_DEATH,
	CHAOS_RESTART,
	CHAOS_NACTIONS
};

static const char *const chaos_names[CHAOS_NACTIONS] = {
	"kill-active", "freeze-active", "kill-standby", "switchover", "sanlock-death", "restart",
};
/* Weights after the first round. */
static const unsigned chaos_weights[CHAOS_NACTIONS] = { 4, 1, 3, 3, 1, 4 };

struct chaos_host {
	int sanlock_dead;                /* we killed its sanlock daemon */
	int frozen;                      /* ssfmd and sanlock stopped */
};

struct chaos {
	struct dgroup g;
	struct chaos_host h[HOSTS + 1];
	uint64_t rng;
	uint64_t seed;
	unsigned duration_s;
	uint64_t start_ms;
	FILE *log;
	int frozen_host;                 /* 0: none */
	uint64_t frozen_at;
	unsigned done[CHAOS_NACTIONS];
	unsigned actions;
	unsigned active_changes;
	int last_active;
	uint64_t longest_takeover_ms;
	uint64_t last_kill_standby;
	uint64_t end_ms;
	int takeovers_missed;
};

static struct chaos C;

/* splitmix64: the whole run's choices come from the seed. */
static uint64_t chaos_rand(void)
{
	uint64_t z = (C.rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static unsigned chaos_below(unsigned n)
{
	return n ? (unsigned)(chaos_rand() % n) : 0;
}

static void chaos_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line per event, with the wall clock and the time into the run. */
static void chaos_say(const char *fmt, ...)
{
	char msg[512], when[32];
	struct timespec ts;
	struct tm tm;
	uint64_t since = tu_now_ms() - C.start_ms;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	tap_diag("%s.%03ld +%4" PRIu64 ".%03" PRIu64 "s %s", when, ts.tv_nsec / 1000000,
	    since / 1000, since % 1000, msg);
	if (C.log != NULL) {
		fprintf(C.log, "%s.%03ld +%" PRIu64 ".%03" PRIu64 "s %s\n", when, ts.tv_nsec / 1000000,
		    since / 1000, since % 1000, msg);
		fflush(C.log);
	}
}

/* ---- the hosts' state ------------------------------------------------------ */

static int chaos_ssfmd_up(int i)
{
	return C.g.d[i].pid > 0 && dg_running(&C.g, i);
}

/* Up: ssfmd runs, its sanlock too, neither frozen. */
static int chaos_up(int i)
{
	return !C.h[i].frozen && !C.h[i].sanlock_dead && chaos_ssfmd_up(i);
}

static int chaos_count_up(void)
{
	int n = 0;

	for (int i = 1; i <= HOSTS; i++)
		n += chaos_up(i);
	return n;
}

/* The one ACTIVE host among those up (never asks a frozen one: it would
 * not answer), 0 if none or several. */
static int chaos_active(void)
{
	int found = 0;

	for (int i = 1; i <= HOSTS; i++)
		if (chaos_up(i) && dg_has_role(&C.g, i, "ACTIVE")) {
			if (found != 0)
				return 0;
			found = i;
		}
	return found;
}

static void chaos_note_active(int a)
{
	if (a > 0 && a != C.last_active) {
		if (C.last_active != 0)
			C.active_changes++;
		chaos_say("host%d is ACTIVE", a);
		C.last_active = a;
	}
}

struct chaos_wait {
	int not;
	int found;
};

static int chaos_other_active(void *arg)
{
	struct chaos_wait *w = arg;

	w->found = chaos_active();
	return w->found > 0 && w->found != w->not;
}

/* After an action that ends host not's activity: time to a new active. */
static void chaos_takeover(int not, uint64_t t0, int timeout_ms)
{
	struct chaos_wait w = { not, 0 };
	int before = C.last_active;

	if (tu_wait_until(chaos_other_active, &w, timeout_ms, 50)) {
		uint64_t took = tu_now_ms() - t0;
		if (took > C.longest_takeover_ms)
			C.longest_takeover_ms = took;
		chaos_note_active(w.found);
		chaos_say("  %s host%d in %" PRIu64 " ms", w.found == before ? "ACTIVE again:" : "takeover by",
		    w.found, took);
	} else {
		C.takeovers_missed++;
		chaos_say("  no other host ACTIVE within %d ms", timeout_ms);
	}
}

/* Picks one of the hosts for which want(i) holds, 0 if none. */
static int chaos_pick(int (*want)(int))
{
	int cand[HOSTS], n = 0;

	for (int i = 1; i <= HOSTS; i++)
		if (want(i))
			cand[n++] = i;
	return n ? cand[chaos_below((unsigned)n)] : 0;
}

static int chaos_is_standby(int i)
{
	return chaos_up(i) && i != chaos_active();
}

/* Standbys are killed at most every 10 s: during a freeze nothing else
 * applies, and the run would be nothing but that. */
static int chaos_standby_target(int i)
{
	return tu_now_ms() - C.last_kill_standby >= 10000 && chaos_is_standby(i);
}

/* A standby that could take over now: up and joined. */
static int chaos_standby_ready(int not)
{
	for (int i = 1; i <= HOSTS; i++)
		if (i != not && chaos_up(i) && dg_has_role(&C.g, i, "STANDBY"))
			return 1;
	return 0;
}

static int chaos_is_down(int i)
{
	return !C.h[i].frozen && (C.h[i].sanlock_dead || !chaos_ssfmd_up(i));
}

/* A host's sanlock dies only while every host is up: rejoining takes it
 * more than a minute (its old delta lease must expire first), and a group
 * with a frozen active and no standby ready could not take over. */
static int chaos_sanlock_target(int i)
{
	if (C.frozen_host != 0 || chaos_count_up() < HOSTS || tu_now_ms() + 60000 > C.end_ms)
		return 0;
	return C.duration_s >= 300 || i != chaos_active();
}

/* ---- actions ----------------------------------------------------------------- */

static int chaos_restart(int i, const char *why)
{
	struct host *h = C.g.d[i].h;
	int rc = 0;

	if (C.h[i].sanlock_dead) {
		/* Its ssfmd lost the lockspace with it: it ends on its own
		 * (join check); one still running is stopped first, as an
		 * operator restarting the host would. */
		uint64_t t0 = tu_now_ms();

		while (chaos_ssfmd_up(i) && tu_now_ms() - t0 < 5000)
			tu_sleep_ms(50);
		if (chaos_ssfmd_up(i)) {
			chaos_say("  host%d's ssfmd still runs 5 s after its sanlock died: SIGKILL", i);
			dg_signal(&C.g, i, SIGKILL);
		}
		if (host_sanlock_start(&C.g.hs, h) < 0) {
			chaos_say("restart host%d (%s): sanlock does not start", i, why);
			return -1;
		}
		C.h[i].sanlock_dead = 0;
	}
	if (!chaos_ssfmd_up(i))
		rc = dg_start(&C.g, i);
	chaos_say("restart host%d (%s)%s", i, why, rc < 0 ? ": ssfmd does not start" : "");
	return rc;
}

static void chaos_thaw(const char *why)
{
	int i = C.frozen_host;

	if (i == 0)
		return;
	host_sanlock_kill(C.g.d[i].h, SIGCONT);
	dg_signal(&C.g, i, SIGCONT);
	C.h[i].frozen = 0;
	C.frozen_host = 0;
	chaos_say("thaw host%d after %" PRIu64 " ms frozen (%s)", i, tu_now_ms() - C.frozen_at, why);
}

/* A frozen host is thawed once another host is ACTIVE (its lease is
 * past), or after FREEZE_LIMIT_MS whatever happened. */
static void chaos_freeze_check(void)
{
	int a;

	if (C.frozen_host == 0)
		return;
	a = chaos_active();
	if (a > 0 && a != C.frozen_host) {
		uint64_t took = tu_now_ms() - C.frozen_at;
		if (took > C.longest_takeover_ms)
			C.longest_takeover_ms = took;
		chaos_note_active(a);
		chaos_say("  takeover by host%d in %" PRIu64 " ms after the freeze", a, took);
		chaos_thaw("another host is ACTIVE");
	} else if (tu_now_ms() - C.frozen_at > FREEZE_LIMIT_MS) {
		C.takeovers_missed++;
		chaos_thaw("no takeover within the limit");
	}
}

/* Returns 1 when the action ran, 0 when it did not apply. */
static int chaos_act(enum chaos_action act)
{
	int i, a;
	uint64_t t0;

	switch (act) {
	case CHAOS_KILL_ACTIVE:
		/* Only with a standby ready: killing the last host up tests
		 * nothing but the harness's patience. */
		if ((a = chaos_active()) == 0 || !chaos_standby_ready(a))
			return 0;
		chaos_note_active(a);
		chaos_say("kill-active: SIGKILL ssfmd of host%d", a);
		t0 = tu_now_ms();
		dg_signal(&C.g, a, SIGKILL);
		chaos_takeover(a, t0, 30000);
		return 1;
	case CHAOS_FREEZE_ACTIVE:
		if (C.frozen_host != 0 || (a = chaos_active()) == 0 || !chaos_standby_ready(a))
			return 0;
		chaos_note_active(a);
		chaos_say("freeze-active: SIGSTOP ssfmd and sanlock of host%d, until its lease is past", a);
		dg_signal(&C.g, a, SIGSTOP);
		host_sanlock_kill(C.g.d[a].h, SIGSTOP);
		C.h[a].frozen = 1;
		C.frozen_host = a;
		C.frozen_at = tu_now_ms();
		return 1;
	case CHAOS_KILL_STANDBY:
		if ((i = chaos_pick(chaos_standby_target)) == 0)
			return 0;
		C.last_kill_standby = tu_now_ms();
		chaos_say("kill-standby: SIGKILL ssfmd of host%d", i);
		dg_signal(&C.g, i, SIGKILL);
		return 1;
	case CHAOS_SWITCHOVER: {
		ssfm_client *c = NULL;
		int rc;

		if ((a = chaos_active()) == 0 || chaos_count_up() < 2)
			return 0;
		chaos_note_active(a);
		chaos_say("switchover: ssfm demote on host%d", a);
		t0 = tu_now_ms();
		rc = ssfm_connect(C.g.d[a].sock, &c);
		if (rc == SSFM_OK) {
			ssfm_set_timeout(c, 60000);
			rc = ssfm_demote(c);
		}
		if (rc != SSFM_OK)
			chaos_say("  demote on host%d: %s: %s", a, ssfm_strerror(rc), ssfm_errmsg(c));
		ssfm_close(c);
		/* With no other host ready (joining, down), the same host
		 * takes the lease back after its hold-off: that is fine too. */
		chaos_takeover(0, t0, 30000);
		return 1;
	}
	case CHAOS_SANLOCK_DEATH:
		if ((i = chaos_pick(chaos_sanlock_target)) == 0)
			return 0;
		a = chaos_active();
		chaos_say("sanlock-death: SIGKILL sanlock daemon of host%d%s", i,
		    i == a ? " (the active)" : "");
		t0 = tu_now_ms();
		host_sanlock_kill(C.g.d[i].h, SIGKILL);
		C.h[i].sanlock_dead = 1;
		if (i == a)
			chaos_takeover(a, t0, FREEZE_LIMIT_MS);
		return 1;
	case CHAOS_RESTART:
		if ((i = chaos_pick(chaos_is_down)) == 0)
			return 0;
		chaos_restart(i, "action");
		return 1;
	case CHAOS_NACTIONS:
		break;
	}
	return 0;
}

static enum chaos_action chaos_draw(void)
{
	unsigned total = 0, r;

	for (int k = 0; k < CHAOS_NACTIONS; k++)
		total += chaos_weights[k];
	r = chaos_below(total);
	for (int k = 0; k < CHAOS_NACTIONS; k++) {
		if (r < chaos_weights[k])
			return (enum chaos_action)k;
		r -= chaos_weights[k];
	}
	return CHAOS_RESTART;
}

static void chaos_run(void)
{
	enum chaos_action round[CHAOS_NACTIONS];
	unsigned next_in_round = 0;
	uint64_t end = C.start_ms + (uint64_t)C.duration_s * 1000;

	C.end_ms = end;

	/* First round: the two slow ones first (a sanlock death and a freeze
	 * each take a minute to recover from, so they overlap each other and
	 * the rest), then the others shuffled. */
	round[0] = CHAOS_SANLOCK_DEATH;
	round[1] = CHAOS_FREEZE_ACTIVE;
	for (int k = 2, v = 0; v < CHAOS_NACTIONS; v++)
		if (v != CHAOS_FREEZE_ACTIVE && v != CHAOS_SANLOCK_DEATH)
			round[k++] = (enum chaos_action)v;
	for (int k = CHAOS_NACTIONS - 1; k > 2; k--) {
		int j = 2 + (int)chaos_below((unsigned)k - 1);
		enum chaos_action t = round[k];
		round[k] = round[j];
		round[j] = t;
	}
	while (tu_now_ms() < end) {
		tu_sleep_ms(500 + chaos_below(2501));
		chaos_freeze_check();
		/* Keep two hosts up, so that the group can go on. */
		while (chaos_count_up() < 2) {
			int i = chaos_pick(chaos_is_down);
			if (i == 0 || chaos_restart(i, "fewer than two hosts up") < 0)
				break;
		}
		if (next_in_round < CHAOS_NACTIONS) {
			/* The first of the round's actions left that applies now
			 * runs; the others wait for a later step. */
			int ran = 0;

			for (unsigned k = next_in_round; k < CHAOS_NACTIONS && !ran; k++) {
				enum chaos_action act = round[k];
				if (!chaos_act(act))
					continue;
				C.done[act]++;
				C.actions++;
				round[k] = round[next_in_round];
				round[next_in_round++] = act;
				ran = 1;
			}
			if (ran)
				continue;
			/* None applies now (no active during a freeze): a drawn one. */
		}
		for (int tries = 0; tries < 8; tries++) {
			enum chaos_action act = chaos_draw();
			if (act == CHAOS_FREEZE_ACTIVE && tu_now_ms() + FREEZE_LIMIT_MS > end + 60000)
				continue;       /* too late in the run for a 70 s freeze */
			if (chaos_act(act)) {
				C.done[act]++;
				C.actions++;
				break;
			}
		}
	}
}

/* ---- the end ------------------------------------------------------------------- */

static void verify_line(void *arg, const char *text)
{
	(void)arg;
	tap_diag("store_verify: %s", text);
}

/* ACTIVE, STANDBY, or ended. */
static int chaos_host_settled(void *arg)
{
	int i = *(int *)arg;

	return !chaos_ssfmd_up(i) || dg_has_role(&C.g, i, "ACTIVE") ||
	    dg_has_role(&C.g, i, "STANDBY");
}

static void chaos_settle(void)
{
	uint64_t t0 = tu_now_ms();

	chaos_say("end of actions: settling");
	while (C.frozen_host != 0) {
		chaos_freeze_check();
		if (C.frozen_host != 0)
			tu_sleep_ms(200);
	}
	/* A host just thawed finds its lease gone: it goes back to STANDBY,
	 * or its sanlock ends it (kill path); give it time to do either. */
	for (int i = 1; i <= HOSTS; i++)
		if (!tu_wait_until(chaos_host_settled, &i, 20000, 50))
			chaos_say("  host%d is neither STANDBY nor ACTIVE 20 s after the end", i);
	for (int i = 1; i <= HOSTS; i++)
		if (chaos_is_down(i))
			chaos_restart(i, "end of the run");
	{
		struct chaos_wait w = { 0, 0 };
		if (tu_wait_until(chaos_other_active, &w, 120000, 100))
			chaos_note_active(w.found);
	}
	for (int i = 1; i <= HOSTS; i++)
		if (!tu_wait_until(chaos_host_settled, &i, 120000, 100) || !chaos_ssfmd_up(i))
			chaos_say("  host%d did not come back as a STANDBY", i);
	chaos_say("settled in %" PRIu64 " ms", tu_now_ms() - t0);
}

static void chaos_usage(void)
{
	fprintf(stderr, "usage: t_chaos [--seed N] [--duration SECONDS]\n");
	exit(2);
}

static uint64_t chaos_number(const char *text, const char *what)
{
	char *end;
	unsigned long long v;

	if (text == NULL || *text == '\0')
		chaos_usage();
	v = strtoull(text, &end, 0);
	if (*end != '\0') {
		fprintf(stderr, "t_chaos: %s: not a number: %s\n", what, text);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct dwriters w;
	char log[PATH_MAX];
	const char *env;
	uint64_t epoch0 = 0, epoch1 = 0, acks, lost = 0, errors = 0, retries = 0, max_ack = 0;
	int a, missing = 0;

	C.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	C.duration_s = 120;
	if ((env = getenv("CHAOS_SEED")) != NULL && *env != '\0')
		C.seed = chaos_number(env, "CHAOS_SEED");
	if ((env = getenv("CHAOS_DURATION")) != NULL && *env != '\0')
		C.duration_s = (unsigned)chaos_number(env, "CHAOS_DURATION");
	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--seed") == 0 && k + 1 < argc)
			C.seed = chaos_number(argv[++k], "--seed");
		else if (strcmp(argv[k], "--duration") == 0 && k + 1 < argc)
			C.duration_s = (unsigned)chaos_number(argv[++k], "--duration");
		else
			chaos_usage();
	}
	if (C.duration_s < 10)
		C.duration_s = 10;
	C.rng = C.seed;

	dg_setup(&C.g, HOSTS, "chaos");
	dg_start_all(&C.g);
	snprintf(log, sizeof(log), "%s/chaos.log", C.g.hs.tmp);
	C.log = fopen(log, "w");
	C.start_ms = tu_now_ms();
	chaos_say("seed %" PRIu64 ", %u s of actions (replay: t_chaos --seed %" PRIu64
	    " --duration %u); actions also in %s (kept after a failure with SSFM_TEST_KEEP=1)",
	    C.seed, C.duration_s, C.seed, C.duration_s, log);
	a = dg_wait_active(&C.g, 0, 60000);
	ok(a > 0, "host%d is ACTIVE", a);
	if (a <= 0) {
		dg_stop(&C.g);
		return tap_done();
	}
	chaos_note_active(a);
	{
		struct dg_status st;
		if (dg_status(&C.g, a, &st, 5000) == 0)
			epoch0 = st.epoch;
	}
	snprintf(log, sizeof(log), "%s/acks.log", C.g.hs.tmp);
	if (dw_start(&w, &C.g, WRITERS, "ch", log, WRITE_TIMEOUT_MS) < 0)
		tap_bail("cannot start the writers");
	w.hint = a;
	ok(dw_wait_acks(&w, 100, 30000), "%d writers get acknowledgements", WRITERS);

	chaos_run();
	chaos_settle();
	a = chaos_active();
	ok(a > 0, "after the actions, host%d is ACTIVE", a);
	acks = dw_acks(&w);
	ok(dw_wait_acks(&w, acks + 100, 60000), "writes are acknowledged after the last action");
	dw_stop(&w);

	for (int t = 0; t < w.nthreads; t++) {
		lost += w.t[t].gave_up;
		errors += w.t[t].errors;
		retries += w.t[t].retries;
		if (w.t[t].max_ack_ms > max_ack)
			max_ack = w.t[t].max_ack_ms;
		if (w.t[t].errors)
			tap_diag("writer %d: %s", t, w.t[t].first_error);
	}
	a = chaos_active();
	if (a > 0) {
		struct dg_status st;
		if (dg_status(&C.g, a, &st, 5000) == 0)
			epoch1 = st.epoch;
	}
	for (int k = 0; k < CHAOS_NACTIONS; k++)
		chaos_say("%-14s %u", chaos_names[k], C.done[k]);
	chaos_say("%u actions; %" PRIu64 " failovers (lease acquisitions, epoch %" PRIu64 " to %" PRIu64
	    "), %u changes of the active host seen; %" PRIu64 " acknowledged writes, %" PRIu64
	    " retries, longest write %" PRIu64 " ms, longest takeover %" PRIu64 " ms",
	    C.actions, epoch1 > epoch0 ? epoch1 - epoch0 : 0, epoch0, epoch1, C.active_changes,
	    dw_acks(&w), retries, max_ack, C.longest_takeover_ms);
	/* A run shorter than the default cannot fit every action around a
	 * freeze's minute: there the coverage is only reported. */
	if (C.duration_s >= 120) {
		for (int k = 0; k < CHAOS_NACTIONS; k++)
			ok(C.done[k] > 0, "%s happened (%u times)", chaos_names[k], C.done[k]);
		ok(epoch1 >= epoch0 + 3, "three failovers or more happened (%" PRIu64 ")",
		    epoch1 > epoch0 ? epoch1 - epoch0 : 0);
	}
	is_int(C.takeovers_missed, 0, "every action that ended an active was followed by a takeover");
	is_int(lost, 0, "no write was left without an acknowledgement");
	is_int(errors, 0, "no write got an error other than a failover's");

	ok(a > 0 && dg_wait_caught_up(&C.g, a, 60000), "every host has applied what host%d committed", a);
	for (int i = 1; i <= HOSTS; i++) {
		uint64_t keys = 0;
		int p = dg_running(&C.g, i) ? dw_audit(&w, i, &keys) : -1;

		is_int(p, 0, "audit on host%d (%s): every acknowledged write with its value and version, nothing else (%" PRIu64 " keys)",
		    i, i == a ? "active" : "standby", keys);
	}
	{
		uint64_t keys = 0;
		int p = dw_audit(&w, 0, &keys);

		is_int(p, 0, "audit of the store on disk (%" PRIu64 " keys)", keys);
	}
	ok(dg_same_state(&C.g, &missing) && missing == 0,
	    "every host and the store on disk have the same applied_seq and state digest");
	{
		struct store_verify_report rep;
		struct store_error err;
		int rc;

		memset(&rep, 0, sizeof(rep));
		rc = store_verify(C.g.hs.store, &rep, verify_line, NULL, &err);
		ok(rc >= 0, "store_verify runs%s%s", rc < 0 ? ": " : "", rc < 0 ? err.msg : "");
		tap_diag("store_verify: %" PRIu64 " batches, %u stale, %u quarantined, %u damaged, %u gaps",
		    rep.batches, rep.stale, rep.quarantined, rep.damaged, rep.gaps);
		is_int(rep.damaged, 0, "no damaged batch");
		is_int(rep.gaps, 0, "no gap in the journal");
	}
	if (tap_failed())
		chaos_say("FAILED: replay with t_chaos --seed %" PRIu64 " --duration %u", C.seed, C.duration_s);
	dw_free(&w);
	dg_stop(&C.g);
	if (C.log != NULL)
		fclose(C.log);
	return tap_done();
}
