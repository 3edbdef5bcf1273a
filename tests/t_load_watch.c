/*
 * t_load_watch: watch consumers that never read.  Eight of them (with small
 * receive buffers) watch while 600 writes of 64 KiB values go through:
 * 37 MiB of events each, 300 MiB in all had the daemon queued everything.
 * Each stream is ended with reason "overflow" (found when the consumer
 * finally reads), the daemon's resident memory stays bounded (its peak,
 * read from /proc/PID/status during the writes, grows by well under the
 * 300 MiB), and meanwhile a consumer that reads gets every event and the
 * writers and status requests are served.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STUCK 8
#define WRITERS 4
#define WRITES_EACH 150
#define VALUE_BYTES 65536
#define RSS_BOUND_KB (200 * 1024)

static struct dgroup g;
static char *big_value;

struct writer {
	pthread_t tid;
	int id;
	int acked;
	int failed;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	ssfm_client *c = NULL;

	if (ssfm_connect(g.d[1].sock, &c) != SSFM_OK) {
		w->failed = WRITES_EACH;
		ssfm_close(c);
		return NULL;
	}
	ssfm_set_timeout(c, 30000);
	for (int n = 0; n < WRITES_EACH; n++) {
		char key[32];

		snprintf(key, sizeof(key), "w/k%d", (w->id * WRITES_EACH + n) % 10);
		if (ssfm_put(c, key, big_value, SSFM_ANY_VERSION, NULL, NULL) == SSFM_OK)
			w->acked++;
		else
			w->failed++;
	}
	ssfm_close(c);
	return NULL;
}

struct reader {
	pthread_t tid;
	ssfm_client *c;
	int want;
	int events;
	int rc;
	char why[256];
};

static int reader_event(void *arg, const struct ssfm_event *ev)
{
	struct reader *r = arg;

	if (ev->kind == SSFM_EVENT_PUT && strncmp(ev->key, "w/", 2) == 0)
		r->events++;
	return r->events >= r->want;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->rc = ssfm_watch(r->c, -1, "w/", reader_event, r);
	snprintf(r->why, sizeof(r->why), "%s", ssfm_errmsg(r->c));
	return NULL;
}

/* Reads what a stuck consumer was sent, up to the end line; 1 if that
 * line says overflow. */
static int drain_finds_overflow(int fd, size_t *bytes)
{
	static const char needle[] = "\"reason\":\"overflow\"";
	char buf[65536 + sizeof(needle)];
	size_t keep = 0;
	uint64_t end = tu_now_ms() + 20000;

	*bytes = 0;
	while (tu_now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			return 0;
		n = recv(fd, buf + keep, sizeof(buf) - keep - 1, 0);
		if (n <= 0)
			return 0;
		*bytes += (size_t)n;
		buf[keep + (size_t)n] = '\0';
		if (memmem(buf, keep + (size_t)n, needle, sizeof(needle) - 1) != NULL)
			return 1;
		/* The needle may straddle two reads: keep its length's tail. */
		size_t total = keep + (size_t)n;
		keep = total < sizeof(needle) - 1 ? total : sizeof(needle) - 1;
		memmove(buf, buf + total - keep, keep);
	}
	return 0;
}

int main(void)
{
	struct writer wr[WRITERS];
	struct reader rd;
	int stuck[STUCK], watching = 0, overflowed = 0, acked = 0, failed = 0;
	long rss0, peak = 0;
	uint64_t status_slowest = 0;

	big_value = malloc(VALUE_BYTES + 3);
	if (big_value == NULL)
		tap_bail("out of memory");
	big_value[0] = '"';
	memset(big_value + 1, 'v', VALUE_BYTES);
	big_value[VALUE_BYTES + 1] = '"';
	big_value[VALUE_BYTES + 2] = '\0';

	/* Under AddressSanitizer freed memory waits in a quarantine (256 MiB
	 * by default) and would count as resident: keep it small, so that
	 * the bound means the same in both builds (other builds ignore it). */
	{
		const char *was = getenv("ASAN_OPTIONS");
		char opts[1024];

		snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=16", was ? was : "",
		    was && *was ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
	}
	dg_setup(&g, 1, "lwatch");
	dg_start_all(&g);
	ok(dg_wait_role(&g, 1, "ACTIVE", 60000), "host1 is ACTIVE");
	/* Warm up: the table's ten values and the allocator's first arenas. */
	for (int k = 0; k < 10; k++) {
		char key[32];
		snprintf(key, sizeof(key), "w/k%d", k);
		dg_put(&g, 1, key, big_value, NULL, NULL);
	}
	rss0 = dg_proc_rss_kb(g.d[1].pid);

	for (int k = 0; k < STUCK; k++) {
		int small = 4096;
		char line[256];

		stuck[k] = dg_raw_connect(&g, 1);
		if (stuck[k] < 0)
			continue;
		setsockopt(stuck[k], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		dg_raw_send(stuck[k], "{\"op\":\"watch\",\"prefix\":\"w/\"}\n", 29);
		if (dg_raw_line(stuck[k], line, sizeof(line), 5000) > 0 && strstr(line, "\"ok\":true"))
			watching++;
	}
	is_int(watching, STUCK, "%d watchers that will not read are watching", STUCK);

	memset(&rd, 0, sizeof(rd));
	rd.want = WRITERS * WRITES_EACH;
	if (ssfm_connect(g.d[1].sock, &rd.c) != SSFM_OK || pthread_create(&rd.tid, NULL, reader_main, &rd) != 0)
		tap_bail("cannot start the reading watcher");
	tu_sleep_ms(200);

	for (int k = 0; k < WRITERS; k++) {
		wr[k].id = k;
		wr[k].acked = wr[k].failed = 0;
		if (pthread_create(&wr[k].tid, NULL, writer_main, &wr[k]) != 0)
			tap_bail("pthread_create failed");
	}
	/* While they write: the daemon's memory, and status answered. */
	for (;;) {
		struct dg_status st;
		uint64_t t0 = tu_now_ms();
		long rss = dg_proc_rss_kb(g.d[1].pid);
		int done = 1;

		if (rss > peak)
			peak = rss;
		if (dg_status(&g, 1, &st, 5000) != 0)
			status_slowest = 99999;
		else if (tu_now_ms() - t0 > status_slowest)
			status_slowest = tu_now_ms() - t0;
		for (int k = 0; k < WRITERS; k++)
			if (wr[k].acked + wr[k].failed < WRITES_EACH)
				done = 0;
		if (done)
			break;
		tu_sleep_ms(100);
	}
	for (int k = 0; k < WRITERS; k++) {
		pthread_join(wr[k].tid, NULL);
		acked += wr[k].acked;
		failed += wr[k].failed;
	}
	is_int(acked, WRITERS * WRITES_EACH, "%d writes of %d KiB acknowledged (%d failed)",
	    WRITERS * WRITES_EACH, VALUE_BYTES / 1024, failed);
	ok(status_slowest < 3000, "status answered throughout (slowest %" PRIu64 " ms, bound 3000 ms)",
	    status_slowest);
	tap_diag("daemon VmRSS: %ld KiB before, peak %ld KiB during (%d watchers x %d MiB unread)",
	    rss0, peak, STUCK, WRITERS * WRITES_EACH * (VALUE_BYTES / 1024) / 1024);
	ok(rss0 > 0 && peak - rss0 < RSS_BOUND_KB,
	    "the daemon's memory grew by %ld KiB (bound %d MiB, against %d MiB of events unread)",
	    peak - rss0, RSS_BOUND_KB / 1024, STUCK * WRITERS * WRITES_EACH * (VALUE_BYTES / 1024) / 1024);

	{
		uint64_t end = tu_now_ms() + 30000;

		while (rd.events < rd.want && tu_now_ms() < end)
			tu_sleep_ms(50);
		pthread_join(rd.tid, NULL);
		is_int(rd.events, rd.want, "the reading watcher got every event (%s)",
		    rd.rc == SSFM_OK ? "still watching" : rd.why);
		ssfm_close(rd.c);
	}
	for (int k = 0; k < STUCK; k++) {
		size_t bytes = 0;

		if (stuck[k] >= 0 && drain_finds_overflow(stuck[k], &bytes))
			overflowed++;
		else
			tap_diag("stuck watcher %d: no overflow end line in %zu bytes", k, bytes);
		if (stuck[k] >= 0)
			close(stuck[k]);
	}
	is_int(overflowed, STUCK, "every watcher that did not read was ended with reason overflow");
	ok(dg_log_count(&g, 1, "ended with overflow") >= 1, "the daemon's log says so");
	ok(dg_has_role(&g, 1, "ACTIVE"), "host1 is still ACTIVE");
	dg_stop(&g);
	free(big_value);
	return tap_done();
}
