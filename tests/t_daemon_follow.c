/*
 * t_daemon_follow: a standby following by inotify spaces its looks at the
 * journal follow_delay apart while writes stream in, and still sees a write
 * after a quiet spell at once.
 *
 * Two hosts, watch = inotify, poll_interval 60 s (so that only inotify
 * wakes the standby during the test) and follow_delay 1 s, the largest
 * allowed, so that the spacing is far above any scheduling noise:
 *   - after a quiet spell, a write is readable on the standby well before
 *     follow_delay has passed;
 *   - while 4 writers stream for 3 s, the standby looks at the journal a
 *     handful of times (status journal_looks), each look applying many
 *     operations, and ends with every one of them;
 *   - the same standby restarted with follow_delay 0 looks about once per
 *     batch: the counter tells the two apart.
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
#include <unistd.h>

#define FOLLOW_DELAY_MS 1000
#define STREAM_MS 3000

static struct dgroup g;

/* Host i's looks at the journal and applied sequence number (-1: unknown). */
static void looks_and_seq(int i, long long *looks, long long *seq)
{
	struct dg_status st;

	*looks = *seq = -1;
	if (dg_status(&g, i, &st, 2000) == 0) {
		*looks = st.journal_looks;
		*seq = (long long)st.applied_seq;
	}
}

/* Milliseconds from a put on the active until the standby reads it, or -1. */
static long long put_until_readable(int a, int b, const char *key)
{
	uint64_t ver = 0, t0;
	char *v = NULL;

	if (dg_put(&g, a, key, "{\"follow\":1}", NULL, &ver) != 0)
		return -1;
	t0 = tu_now_ms();
	while (tu_now_ms() - t0 < 5000) {
		uint64_t got = 0;
		if (dg_get(&g, b, key, &v, &got) == 0 && got >= ver) {
			free(v);
			return (long long)(tu_now_ms() - t0);
		}
		free(v);
		v = NULL;
		tu_sleep_ms(2);
	}
	return -1;
}

/* Streams writes for STREAM_MS; the standby's looks and the operations it
 * applied meanwhile. */
static void stream(int a, int b, const char *prefix, long long *looks, long long *ops)
{
	struct dwriters w;
	char log[PATH_MAX];
	long long looks0, seq0, looks1, seq1;

	looks_and_seq(b, &looks0, &seq0);
	snprintf(log, sizeof(log), "%s/%s.acks", g.hs.tmp, prefix);
	if (dw_start(&w, &g, 4, prefix, log, 0) != 0) {
		*looks = *ops = -1;
		return;
	}
	tu_sleep_ms(STREAM_MS);
	dw_stop(&w);
	ok(dw_acks(&w) > 0, "%s: the writers were acknowledged %llu writes", prefix,
	    (unsigned long long)dw_acks(&w));
	dw_free(&w);
	ok(dg_wait_caught_up(&g, a, 30000), "%s: the standby caught up", prefix);
	looks_and_seq(b, &looks1, &seq1);
	*looks = looks0 >= 0 && looks1 >= 0 ? looks1 - looks0 : -1;
	*ops = seq0 >= 0 && seq1 >= 0 ? seq1 - seq0 : -1;
}

static int start_standby(int b, long long delay_ms)
{
	dg_conf_clear(&g, b);
	dg_conf(&g, b, "watch = inotify");
	dg_conf(&g, b, "poll_interval = 60000");
	dg_conf(&g, b, "follow_delay = %lld", delay_ms);
	if (dg_start(&g, b) != 0)
		return -1;
	return dg_wait_role(&g, b, "STANDBY", 30000) ? 0 : -1;
}

int main(void)
{
	long long ms, looks, ops;
	int a, b;

	dg_setup(&g, 2, "dfollow");
	/* Host 1 starts first and becomes active; host 2 follows. */
	dg_conf(&g, 1, "poll_interval = 60000");
	if (dg_start(&g, 1) != 0 || dg_wait_active(&g, 0, 60000) != 1)
		tap_bail("host1 did not become active");
	a = 1;
	b = 2;
	if (start_standby(b, FOLLOW_DELAY_MS) != 0)
		tap_bail("host2 did not become a standby");

	tu_sleep_ms(FOLLOW_DELAY_MS + 500);
	ms = put_until_readable(a, b, "follow/quiet");
	ok(ms >= 0 && ms < FOLLOW_DELAY_MS / 2,
	    "after a quiet spell a write is readable on the standby in %lld ms, not follow_delay "
	    "(%d ms) later", ms, FOLLOW_DELAY_MS);

	stream(a, b, "spaced", &looks, &ops);
	tap_diag("MEASURED follow_delay %d ms: %lld looks applied %lld operations in %d ms",
	    FOLLOW_DELAY_MS, looks, ops, STREAM_MS);
	ok(looks >= 1 && looks <= STREAM_MS / FOLLOW_DELAY_MS + 4,
	    "while writes stream in, the standby looked %lld times in %d ms (at most %d)", looks,
	    STREAM_MS, STREAM_MS / FOLLOW_DELAY_MS + 4);
	ok(looks >= 1 && ops / looks >= 50, "each look applied many operations (%lld per look)",
	    looks >= 1 ? ops / looks : 0);

	dg_signal(&g, b, SIGTERM);
	if (start_standby(b, 0) != 0)
		tap_bail("host2 did not come back as a standby");
	stream(a, b, "each", &looks, &ops);
	tap_diag("MEASURED follow_delay 0: %lld looks applied %lld operations in %d ms", looks,
	    ops, STREAM_MS);
	ok(looks > 3 * (STREAM_MS / FOLLOW_DELAY_MS + 4),
	    "with follow_delay 0 the same standby looks once per batch or so (%lld looks)", looks);

	ok(dg_same_state(&g, NULL) == 1, "both hosts hold the same state");
	dg_stop(&g);
	return tap_done();
}
