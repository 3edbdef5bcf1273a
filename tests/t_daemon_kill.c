/*
 * t_daemon_kill: SIGKILL of the active ssfmd (its sanlock daemon lives on,
 * so sanlock releases the dead process's lease).  First once: a new active
 * within 3 s holding every acknowledged write.  Then the zero-loss run: 8
 * client threads write unique values with request ids, retrying across
 * failovers and logging every acknowledgement, while the active is
 * SIGKILLed 20 times (each killed ssfmd restarted as a standby); at the end
 * every acknowledged write is present with its value and version on the
 * active, on every standby and in the store on disk, nothing else is, and
 * every host has the same state.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KILLS 20
#define THREADS 8
#define TAKEOVER_BOUND_MS 3000

static struct dgroup g;

static void check_one_kill(void)
{
	char key[64], val[64];
	uint64_t versions[50], t0, took;
	int a, b, acked = 0, held = 0;

	a = dg_wait_active(&g, 0, 60000);
	ok(a > 0, "host%d is ACTIVE", a);
	if (a <= 0)
		return;
	for (int i = 1; i <= g.n; i++)
		if (i != a)
			ok(dg_wait_role(&g, i, "STANDBY", 30000), "host%d is STANDBY", i);
	for (int k = 0; k < 50; k++) {
		snprintf(key, sizeof(key), "one/%02d", k);
		snprintf(val, sizeof(val), "{\"k\":%d}", k);
		acked += dg_put(&g, a, key, val, NULL, &versions[k]) == SSFM_OK;
	}
	is_int(acked, 50, "50 writes acknowledged by host%d", a);
	t0 = tu_now_ms();
	dg_signal(&g, a, SIGKILL);
	b = dg_wait_active(&g, a, 30000);
	took = tu_now_ms() - t0;
	ok(b > 0 && took <= TAKEOVER_BOUND_MS,
	    "after SIGKILL of host%d, host%d is ACTIVE in %" PRIu64 " ms (bound %d ms)",
	    a, b, took, TAKEOVER_BOUND_MS);
	if (b <= 0)
		return;
	for (int k = 0; k < 50; k++) {
		char *v = NULL;
		uint64_t ver = 0;

		snprintf(key, sizeof(key), "one/%02d", k);
		snprintf(val, sizeof(val), "{\"k\":%d}", k);
		if (dg_get(&g, b, key, &v, &ver) == SSFM_OK && strcmp(v, val) == 0 && ver == versions[k])
			held++;
		else
			tap_diag("%s on host%d: %s version %" PRIu64 ", acknowledged %s version %" PRIu64,
			    key, b, v ? v : "(none)", ver, val, versions[k]);
		free(v);
	}
	is_int(held, 50, "host%d holds every acknowledged write with its version", b);
	ok(dg_start(&g, a) == 0 && dg_wait_role(&g, a, "STANDBY", 30000),
	    "host%d restarts as a STANDBY", a);
}

/* The audit itself: it must see a wrong acknowledged version and a value
 * nobody wrote, or its passing above means nothing. */
static void check_audit_catches(struct dwriters *w, int a)
{
	struct dw_thread *th = &w->t[0];
	uint64_t n = 0, saved;
	char key[64];

	while (n < th->attempted && (th->version[n] == 0 || n % 10 == 9))
		n++;
	if (a <= 0 || n >= th->attempted)
		return;
	saved = th->version[n];
	th->version[n] = saved + 1;
	ok(dw_audit(w, a, NULL) > 0, "the audit reports an acknowledged version the host does not hold");
	th->version[n] = saved;
	snprintf(key, sizeof(key), "%s/t00/n99999999", w->prefix);
	if (dg_put(&g, a, key, "{\"p\":\"zl\",\"t\":0,\"n\":99999999}", NULL, NULL) == SSFM_OK)
		ok(dw_audit(w, a, NULL) > 0, "the audit reports a value that was never written");
	else
		ok(0, "put %s on host%d", key, a);
}

static void check_zero_loss(void)
{
	struct dwriters w;
	char log[PATH_MAX];
	int kills = 0, slow = 0, a;
	uint64_t longest = 0, acks_before, keys = 0, writes_lost = 0, errors = 0;
	uint64_t retries = 0, max_ack = 0;

	snprintf(log, sizeof(log), "%s/acks.log", g.hs.tmp);
	a = dg_wait_active(&g, 0, 30000);
	if (dw_start(&w, &g, THREADS, "zl", log, 120000) < 0)
		tap_bail("cannot start writers");
	w.hint = a;
	ok(dw_wait_acks(&w, 200, 30000), "8 writers get acknowledgements from host%d", a);
	for (int k = 0; k < KILLS; k++) {
		uint64_t t0, took;
		int b;

		a = dg_wait_active(&g, 0, 30000);
		if (a <= 0) {
			tap_diag("kill %d: no active host", k);
			break;
		}
		if (!dw_wait_acks(&w, dw_acks(&w) + 100, 30000))
			tap_diag("kill %d: host%d acknowledges fewer than 100 writes in 30 s", k, a);
		t0 = tu_now_ms();
		dg_signal(&g, a, SIGKILL);
		kills++;
		b = dg_wait_active(&g, a, 30000);
		took = tu_now_ms() - t0;
		if (took > longest)
			longest = took;
		if (b <= 0 || took > TAKEOVER_BOUND_MS)
			slow++;
		if (b <= 0)
			tap_diag("kill %d: no new active within 30 s of killing host%d", k, a);
		if (dg_start(&g, a) < 0 || !dg_wait_role(&g, a, "STANDBY", 30000))
			tap_diag("kill %d: host%d did not come back as a STANDBY", k, a);
	}
	is_int(kills, KILLS, "the active was SIGKILLed %d times", KILLS);
	is_int(slow, 0, "every takeover within %d ms (longest %" PRIu64 " ms)", TAKEOVER_BOUND_MS, longest);
	acks_before = dw_acks(&w);
	ok(dw_wait_acks(&w, acks_before + 100, 30000), "writes are acknowledged after the last failover");
	dw_stop(&w);
	for (int t = 0; t < w.nthreads; t++) {
		writes_lost += w.t[t].gave_up;
		errors += w.t[t].errors;
		retries += w.t[t].retries;
		if (w.t[t].max_ack_ms > max_ack)
			max_ack = w.t[t].max_ack_ms;
		if (w.t[t].errors)
			tap_diag("thread %d: %s", t, w.t[t].first_error);
	}
	tap_diag("%" PRIu64 " acknowledged writes over %d failovers (%" PRIu64
	    " retries, longest write %" PRIu64 " ms)", dw_acks(&w), kills, retries, max_ack);
	is_int(writes_lost, 0, "no write was left without an acknowledgement");
	is_int(errors, 0, "no write got an error other than a failover's");

	a = dg_wait_active(&g, 0, 30000);
	ok(a > 0, "host%d is ACTIVE at the end", a);
	if (a > 0)
		ok(dg_wait_caught_up(&g, a, 30000), "every standby has applied what host%d committed", a);
	for (int i = 1; i <= g.n; i++) {
		int p = dw_audit(&w, i, &keys);
		is_int(p, 0, "audit on host%d (%s): every acknowledged write, nothing else (%" PRIu64 " keys)",
		    i, i == a ? "active" : "standby", keys);
	}
	is_int(dw_audit(&w, 0, &keys), 0, "audit of the store on disk (%" PRIu64 " keys)", keys);
	{
		struct dg_status st[HOSTS_MAX + 1];
		uint64_t digest = 0, seq = 0;
		int same = 1, have = 0;

		dg_store_digest(&g, &digest, &seq);
		for (int i = 1; i <= g.n; i++) {
			if (dg_status(&g, i, &st[i], 2000) != 0) {
				same = 0;
				continue;
			}
			if (st[i].applied_seq != st[1].applied_seq)
				same = 0;
			if (st[i].has_digest) {
				have++;
				if (st[i].digest != st[1].digest)
					same = 0;
				if (st[i].applied_seq == seq && st[i].digest != digest)
					same = 0;
			}
			tap_diag("host%d: %s applied_seq %" PRIu64 " digest %016" PRIx64 "%s", i,
			    st[i].role, st[i].applied_seq, st[i].digest, st[i].has_digest ? "" : " (not reported)");
		}
		tap_diag("store on disk: applied_seq %" PRIu64 " digest %016" PRIx64, seq, digest);
		ok(same, "every host has the same applied_seq%s", have ? " and state digest" : "");
		is_int(seq, st[1].applied_seq, "the store on disk ends where the hosts do");
	}
	check_audit_catches(&w, a);
	dw_free(&w);
}

int main(void)
{
	dg_setup(&g, 3, "dkill");
	dg_start_all(&g);
	check_one_kill();
	check_zero_loss();
	dg_stop(&g);
	return tap_done();
}
