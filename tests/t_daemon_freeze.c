/*
 * t_daemon_freeze: a frozen active host.  SIGSTOP of the active's ssfmd
 * alone changes nothing (its sanlock daemon keeps the lease alive: nobody
 * else may take over); SIGSTOP of its sanlock daemon too lets the lease
 * expire, and another host becomes ACTIVE.  Then SIGCONT both: the old
 * active acknowledges nothing more (requests queued on its socket while it
 * was frozen, and sent after, fail or time out), it does not stay ACTIVE,
 * and nothing it writes after the new seal is ever applied: every host and
 * the store on disk hold exactly the acknowledged writes, and store_verify
 * finds no damage or gap (stale batches, if any, are reported, never
 * applied).
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STALE_CLIENTS 4

static struct dgroup g;

struct stale_client {
	pthread_t tid;
	int host;
	int id;
	ssfm_client *c;
	int connected;
	int acked;
	int answered;
	int last_rc;
};

/* Sends puts to the old active (connected while it was frozen) for 15 s. */
static void *stale_main(void *arg)
{
	struct stale_client *s = arg;
	uint64_t end = tu_now_ms() + 15000;

	for (int n = 0; tu_now_ms() < end; n++) {
		char key[64];
		uint64_t v;
		int rc;

		snprintf(key, sizeof(key), "stale/c%d/%d", s->id, n);
		if (s->c == NULL && ssfm_connect(g.d[s->host].sock, &s->c) != 0) {
			ssfm_close(s->c);
			s->c = NULL;
			tu_sleep_ms(100);
			continue;
		}
		ssfm_set_timeout(s->c, 3000);
		rc = ssfm_put(s->c, key, "{\"stale\":true}", SSFM_ANY_VERSION, NULL, &v);
		s->last_rc = rc;
		s->answered++;
		if (rc == SSFM_OK) {
			s->acked++;
			tap_diag("the old active acknowledged %s at version %" PRIu64, key, v);
		}
		if (rc == SSFM_ECONNECT || rc == SSFM_EIO) {
			ssfm_close(s->c);
			s->c = NULL;
			tu_sleep_ms(100);
		}
	}
	ssfm_close(s->c);
	s->c = NULL;
	return NULL;
}

static int count_stale(void *arg, const char *key, const char *value, uint64_t version)
{
	(void)key;
	(void)value;
	(void)version;
	(*(int *)arg)++;
	return 0;
}

static int count_stale_store(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	(void)key;
	(void)key_len;
	(void)value;
	(void)value_len;
	(void)version;
	(*(int *)arg)++;
	return 0;
}

static void verify_line(void *arg, const char *text)
{
	(void)arg;
	tap_diag("store_verify: %s", text);
}

int main(void)
{
	struct dwriters w;
	struct stale_client sc[STALE_CLIENTS];
	char log[PATH_MAX];
	uint64_t end, t0, acks;
	int a, b, still = 1, acked = 0;

	dg_setup(&g, 3, "dfreeze");
	dg_start_all(&g);
	a = dg_wait_active(&g, 0, 60000);
	ok(a > 0, "host%d is ACTIVE", a);
	if (a <= 0)
		return tap_done();
	for (int i = 1; i <= g.n; i++)
		if (i != a)
			ok(dg_wait_role(&g, i, "STANDBY", 30000), "host%d is STANDBY", i);

	snprintf(log, sizeof(log), "%s/acks.log", g.hs.tmp);
	if (dw_start(&w, &g, 4, "fz", log, 240000) < 0)
		tap_bail("cannot start writers");
	w.hint = a;
	ok(dw_wait_acks(&w, 200, 30000), "writers get acknowledgements from host%d", a);

	/* ssfmd alone stopped: its sanlock daemon renews the lease. */
	dg_signal(&g, a, SIGSTOP);
	end = tu_now_ms() + 5000;
	while (tu_now_ms() < end && still) {
		for (int i = 1; i <= g.n; i++)
			if (i != a && dg_has_role(&g, i, "ACTIVE")) {
				tap_diag("host%d became ACTIVE while host%d's sanlock held the lease", i, a);
				still = 0;
			}
		tu_sleep_ms(200);
	}
	ok(still, "with only host%d's ssfmd stopped, no other host takes over for 5 s", a);

	/* The whole host frozen: the lease expires. */
	host_sanlock_kill(g.d[a].h, SIGSTOP);
	t0 = tu_now_ms();
	b = dg_wait_active(&g, a, 150000);
	ok(b > 0, "with host%d frozen, host%d becomes ACTIVE after %" PRIu64 " ms (bound 150 s)",
	    a, b, tu_now_ms() - t0);
	acks = dw_acks(&w);
	ok(dw_wait_acks(&w, acks + 100, 30000), "writers go on through host%d", b);

	/* Clients queue requests on the frozen host's socket, then it thaws. */
	memset(sc, 0, sizeof(sc));
	for (int k = 0; k < STALE_CLIENTS; k++) {
		sc[k].host = a;
		sc[k].id = k;
		sc[k].connected = ssfm_connect(g.d[a].sock, &sc[k].c) == SSFM_OK;
		if (!sc[k].connected) {
			ssfm_close(sc[k].c);
			sc[k].c = NULL;
		}
		if (pthread_create(&sc[k].tid, NULL, stale_main, &sc[k]) != 0)
			tap_bail("pthread_create failed");
	}
	tu_sleep_ms(200);       /* let the first puts reach the frozen socket */
	host_sanlock_kill(g.d[a].h, SIGCONT);
	dg_signal(&g, a, SIGCONT);
	for (int k = 0; k < STALE_CLIENTS; k++) {
		pthread_join(sc[k].tid, NULL);
		acked += sc[k].acked;
		tap_diag("stale client %d: %d answers, last %s", k, sc[k].answered,
		    ssfm_strerror(sc[k].last_rc));
	}
	is_int(acked, 0, "after SIGCONT, the old active host%d acknowledges no write", a);
	ok(!dg_has_role(&g, a, "ACTIVE"), "host%d does not stay ACTIVE", a);
	is_int(dg_find_active(&g), b, "host%d is the only ACTIVE host", b);

	if (!dg_running(&g, a))
		ok(dg_start(&g, a) == 0 && dg_wait_role(&g, a, "STANDBY", 60000),
		    "host%d's ssfmd ended after its lease was lost; restarted, it is a STANDBY", a);
	else
		ok(dg_wait_role(&g, a, "STANDBY", 60000), "host%d goes back to STANDBY", a);
	acks = dw_acks(&w);
	ok(dw_wait_acks(&w, acks + 100, 30000), "writers still go on through host%d", b);
	dw_stop(&w);
	{
		uint64_t lost = 0, errors = 0;
		for (int t = 0; t < w.nthreads; t++) {
			lost += w.t[t].gave_up;
			errors += w.t[t].errors;
			if (w.t[t].errors)
				tap_diag("thread %d: %s", t, w.t[t].first_error);
		}
		tap_diag("%" PRIu64 " acknowledged writes", dw_acks(&w));
		is_int(lost, 0, "no write was left without an acknowledgement");
		is_int(errors, 0, "no write got an error other than a failover's");
	}

	ok(dg_wait_caught_up(&g, b, 60000), "every running host has applied what host%d committed", b);
	for (int i = 1; i <= g.n; i++) {
		ssfm_client *c = NULL;
		int stale = 0;
		long rc;

		if (!dg_running(&g, i)) {
			tap_diag("host%d's ssfmd is not running (log %s)", i, g.d[i].log);
			continue;
		}
		is_int(dw_audit(&w, i, NULL), 0, "audit on host%d", i);
		rc = ssfm_connect(g.d[i].sock, &c);
		if (rc == 0)
			rc = ssfm_list(c, "stale/", NULL, 0, count_stale, &stale);
		ssfm_close(c);
		ok(rc >= 0 && stale == 0, "host%d holds no write sent to the old active (%d)", i, stale);
	}
	is_int(dw_audit(&w, 0, NULL), 0, "audit of the store on disk");
	{
		struct store_options opt;
		struct store_error err;
		struct store *st;
		int stale = 0;

		memset(&opt, 0, sizeof(opt));
		opt.read_only = 1;
		if (store_open(g.hs.store, &opt, &st, &err) == 0) {
			store_list(st, "stale/", 6, NULL, 0, 0, count_stale_store, &stale);
			store_close(st);
			is_int(stale, 0, "the store on disk holds no write sent to the old active");
		} else {
			ok(0, "store_open %s: %s", g.hs.store, err.msg);
		}
	}
	{
		struct store_verify_report rep;
		struct store_error err;
		int rc = store_verify(g.hs.store, &rep, verify_line, NULL, &err);

		ok(rc >= 0, "store_verify runs: %s", rc < 0 ? err.msg : "");
		tap_diag("store_verify: %d, %" PRIu64 " batches, %u stale, %u quarantined, %u damaged, %u gaps",
		    rc, rep.batches, rep.stale, rep.quarantined, rep.damaged, rep.gaps);
		is_int(rep.damaged, 0, "no damaged batch");
		is_int(rep.gaps, 0, "no gap in the journal");
		is_int(rep.unsealed, 0, "no batch of an unsealed epoch");
	}
	dw_free(&w);
	dg_stop(&g);
	return tap_done();
}
