/*
 * t_load_slow: clients that trickle their requests, one byte a second.
 * With request_timeout 3 s, each is cut off: it gets a "timeout" error line
 * and the connection is closed, within a few seconds of the bound, and the
 * daemon's log says so.  Meanwhile other clients' puts and gets are served
 * without delay, and a client that sends a request in pieces but within
 * the bound is answered.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SLOW 10
#define TIMEOUT_MS 3000
#define REQUEST "{\"op\":\"status\"}\n"

static struct dgroup g;

struct slow {
	int fd;
	size_t sent;
	uint64_t first_ms;
	uint64_t cut_ms;          /* when its timeout line came (0: not yet) */
	int timeout_line;
	int answered;             /* it got a reply it should not have */
};

/* What the daemon sent a slow client, without waiting. */
static void slow_poll(struct slow *s)
{
	char line[512];
	int n;

	if (s->fd < 0 || s->cut_ms != 0)
		return;
	n = dg_raw_line(s->fd, line, sizeof(line), 0);
	if (n > 0 && strstr(line, "\"timeout\"") && strstr(line, "request_timeout")) {
		s->timeout_line = 1;
		s->cut_ms = tu_now_ms();
	} else if (n > 0) {
		s->answered = 1;
		s->cut_ms = tu_now_ms();
		tap_diag("a slow client got: %s", line);
	} else if (n == -1) {
		s->cut_ms = tu_now_ms();
	}
}

int main(void)
{
	struct slow sl[SLOW];
	uint64_t start, next_byte, longest = 0, version;
	int puts = 0, failed = 0, cut = 0, lines = 0, early = 0, late = 0, answered = 0;
	int closed = 0;

	dg_setup(&g, 1, "lslow");
	dg_conf(&g, 1, "request_timeout = %d", TIMEOUT_MS);
	dg_start_all(&g);
	ok(dg_wait_role(&g, 1, "ACTIVE", 60000), "host1 is ACTIVE");

	memset(sl, 0, sizeof(sl));
	for (int k = 0; k < SLOW; k++)
		sl[k].fd = dg_raw_connect(&g, 1);
	start = tu_now_ms();
	next_byte = start;
	/* One byte a second to each slow client, for three times the bound,
	 * while a put and a get go through another client every 100 ms. */
	while (tu_now_ms() - start < 3 * TIMEOUT_MS) {
		uint64_t now = tu_now_ms(), t0;
		char key[32], *value = NULL;

		if (now >= next_byte) {
			for (int k = 0; k < SLOW; k++) {
				struct slow *s = &sl[k];
				if (s->fd < 0 || s->cut_ms != 0 || s->sent >= strlen(REQUEST) - 1)
					continue;
				if (s->first_ms == 0)
					s->first_ms = now;
				if (send(s->fd, REQUEST + s->sent, 1, MSG_NOSIGNAL) == 1)
					s->sent++;
			}
			next_byte += 1000;
		}
		snprintf(key, sizeof(key), "slow/%d", puts);
		t0 = tu_now_ms();
		if (dg_put(&g, 1, key, "{\"v\":1}", NULL, &version) != SSFM_OK ||
		    dg_get(&g, 1, key, &value, &version) != SSFM_OK)
			failed++;
		free(value);
		if (tu_now_ms() - t0 > longest)
			longest = tu_now_ms() - t0;
		puts++;
		for (int k = 0; k < SLOW; k++)
			slow_poll(&sl[k]);
		tu_sleep_ms(100);
	}
	for (int k = 0; k < SLOW; k++) {
		struct slow *s = &sl[k];
		char line[512];

		if (s->cut_ms == 0)
			slow_poll(s);
		if (s->cut_ms != 0)
			cut++;
		lines += s->timeout_line;
		answered += s->answered;
		if (s->cut_ms != 0 && s->cut_ms - s->first_ms < TIMEOUT_MS - 100)
			early++;
		if (s->cut_ms != 0 && s->cut_ms - s->first_ms > TIMEOUT_MS + 3000)
			late++;
		/* After the timeout line the daemon has closed its end. */
		if (s->fd >= 0 && dg_raw_line(s->fd, line, sizeof(line), 2000) == -1)
			closed++;
	}
	is_int(cut, SLOW, "every client sending a byte a second was cut off");
	is_int(lines, SLOW, "each with a \"timeout\" error naming request_timeout");
	is_int(closed, SLOW, "and its connection closed");
	is_int(answered, 0, "none of their requests was served");
	is_int(early, 0, "none before request_timeout (%d ms)", TIMEOUT_MS);
	is_int(late, 0, "none later than 3 s past it");
	ok(dg_log_count(&g, 1, "request_timeout") >= 1, "the daemon's log names the disconnected client");
	is_int(failed, 0, "meanwhile %d puts and gets through another client all succeeded", puts);
	ok(longest < 2000, "the slowest put + get took %" PRIu64 " ms (bound 2000 ms)", longest);

	/* A request in pieces, whole within the bound, is served. */
	{
		int fd = dg_raw_connect(&g, 1);
		char line[4096];
		int n = -2;

		for (size_t i = 0; fd >= 0 && i < strlen(REQUEST); i++) {
			send(fd, REQUEST + i, 1, MSG_NOSIGNAL);
			tu_sleep_ms(100);
		}
		if (fd >= 0)
			n = dg_raw_line(fd, line, sizeof(line), 5000);
		ok(n > 0 && strstr(line, "\"ok\":true") != NULL,
		    "a request sent a byte every 100 ms (1.6 s in all) is answered");
		if (fd >= 0)
			close(fd);
	}
	for (int k = 0; k < SLOW; k++)
		if (sl[k].fd >= 0)
			close(sl[k].fd);
	dg_stop(&g);
	return tap_done();
}
