/*
 * t_log.c: the logging vocabulary (src/log.c): levels filter, log_warn
 * adds the errno text and log_warnx does not, foreground lines carry a
 * timestamp and the program name, and the syslog path never blocks its
 * callers (messages beyond the queue are counted, not waited for).
 */
#include "log.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *capture_stderr(void (*fn)(void))
{
	char path[256];
	const char *dir = tu_tmpdir("log");

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fflush(stderr);
	int saved = dup(2);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return tu_read_file(path, NULL);
}

static void emit_all(void)
{
	log_init("t_log", true, LOG_LEVEL_INFO);
	errno = ENOENT;
	log_warn("opening %s", "/x/y");
	log_warnx("plain %d", 7);
	log_info("role %s", "ACTIVE");
	log_debug("hidden at info");
	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("shown at debug");
	log_set_level(LOG_LEVEL_WARN);
	log_info("hidden at warn");
}

int main(void)
{
	char *out = capture_stderr(emit_all);

	ok(out != NULL, "stderr captured");
	if (out == NULL)
		return tap_done();
	ok(strstr(out, "t_log: warning: opening /x/y: No such file or directory\n") != NULL,
	    "log_warn adds the errno text");
	ok(strstr(out, "t_log: warning: plain 7\n") != NULL, "log_warnx does not");
	ok(strstr(out, "t_log: role ACTIVE\n") != NULL, "log_info at level info");
	ok(strstr(out, "hidden at info") == NULL, "log_debug filtered at level info");
	ok(strstr(out, "t_log: debug: shown at debug\n") != NULL, "log_debug at level debug");
	ok(strstr(out, "hidden at warn") == NULL, "log_info filtered at level warn");
	int y, mo, d, h, mi, s, ms;
	ok(sscanf(out, "%4d-%2d-%2d %2d:%2d:%2d.%3d ", &y, &mo, &d, &h, &mi, &s, &ms) == 7,
	    "lines start with a timestamp: %.30s", out);
	free(out);

	/* Syslog mode: 2000 messages (more than the queue holds) return at once whatever syslogd does. */
	is_int(log_init("t_log", false, LOG_LEVEL_INFO), 0, "syslog mode starts its logger thread");
	uint64_t t0 = tu_now_ms();
	for (int i = 0; i < 2000; i++)
		log_info("burst %d", i);
	uint64_t spent = tu_now_ms() - t0;
	ok(spent < 5000, "2000 messages queued without waiting on syslog (%llu ms, %llu dropped)",
	    (unsigned long long)spent, (unsigned long long)log_dropped());
	log_shutdown();
	return tap_done();
}
