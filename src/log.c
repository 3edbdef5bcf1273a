/*
 * log.c: stderr in the foreground, a queue and a logger thread for syslog.
 *
 * syslog(3) writes to /dev/log and blocks when syslogd (or journald) is slow
 * or stuck; the lease and commit paths must not.  Producers copy the message
 * into a fixed ring under a mutex and signal the logger; the logger copies
 * one out and calls syslog() with the mutex released.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

struct log_entry {
	int priority;
	char text[LOG_LINE_MAX];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	char ident[64];
	bool foreground;
	bool running;           /* logger thread started */
	bool stopping;
	int level;
	pthread_t thread;
	struct log_entry ring[LOG_QUEUE_LEN];
	size_t head, count;     /* oldest entry, entries queued */
	uint64_t dropped;       /* total */
	uint64_t dropped_unreported;
} log_state = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.ident = "ssfmd",
	.foreground = true,
	.level = LOG_LEVEL_INFO,
};

static void log_stderr(int priority, const char *text)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	/* One fprintf per line: stdio locks the stream, so lines from several
	 * threads never interleave. */
	fprintf(stderr, "%s.%03ld %s: %s%s\n", stamp, ts.tv_nsec / 1000000L,
	    log_state.ident, priority == LOG_WARNING ? "warning: " : priority == LOG_CRIT ? "fatal: " :
	    priority == LOG_DEBUG ? "debug: " : "", text);
}

static void *log_thread(void *arg)
{
	struct log_entry entry;

	pthread_mutex_lock(&log_state.lock);
	for (;;) {
		while (log_state.count == 0 && log_state.dropped_unreported == 0 &&
		    !log_state.stopping)
			pthread_cond_wait(&log_state.wake, &log_state.lock);
		if (log_state.count > 0) {
			entry = log_state.ring[log_state.head];
			log_state.head = (log_state.head + 1) % LOG_QUEUE_LEN;
			log_state.count--;
		} else if (log_state.dropped_unreported > 0) {
			entry.priority = LOG_WARNING;
			snprintf(entry.text, sizeof(entry.text),
			    "%llu log messages dropped: the syslog queue was full",
			    (unsigned long long)log_state.dropped_unreported);
			log_state.dropped_unreported = 0;
		} else {
			break;
		}
		pthread_mutex_unlock(&log_state.lock);
		syslog(entry.priority, "%s", entry.text);
		pthread_mutex_lock(&log_state.lock);
	}
	pthread_mutex_unlock(&log_state.lock);
	return NULL;
}

int log_init(const char *ident, bool foreground, int level)
{
	log_shutdown();
	pthread_mutex_lock(&log_state.lock);
	snprintf(log_state.ident, sizeof(log_state.ident), "%s", ident);
	log_state.foreground = foreground;
	log_state.level = level;
	log_state.stopping = false;
	log_state.dropped = log_state.dropped_unreported = 0;
	pthread_mutex_unlock(&log_state.lock);
	if (foreground)
		return 0;
	openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	int rc = pthread_create(&log_state.thread, NULL, log_thread, NULL);
	if (rc != 0) {
		log_state.foreground = true;
		return -rc;
	}
	log_state.running = true;
	return 0;
}

void log_shutdown(void)
{
	if (!log_state.running)
		return;
	pthread_mutex_lock(&log_state.lock);
	log_state.stopping = true;
	pthread_cond_signal(&log_state.wake);
	pthread_mutex_unlock(&log_state.lock);
	pthread_join(log_state.thread, NULL);
	log_state.running = false;
	log_state.foreground = true;
	closelog();
}

void log_set_level(int level)
{
	pthread_mutex_lock(&log_state.lock);
	log_state.level = level;
	pthread_mutex_unlock(&log_state.lock);
}

int log_get_level(void)
{
	pthread_mutex_lock(&log_state.lock);
	int level = log_state.level;
	pthread_mutex_unlock(&log_state.lock);
	return level;
}

uint64_t log_dropped(void)
{
	pthread_mutex_lock(&log_state.lock);
	uint64_t n = log_state.dropped;
	pthread_mutex_unlock(&log_state.lock);
	return n;
}

static void log_emit(int priority, int level, int errnum, const char *fmt, va_list ap)
{
	char text[LOG_LINE_MAX];
	int n;

	pthread_mutex_lock(&log_state.lock);
	bool wanted = level <= log_state.level;
	bool queued = log_state.running;
	pthread_mutex_unlock(&log_state.lock);
	if (!wanted)
		return;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n >= 0 && errnum != 0 && (size_t)n < sizeof(text))
		snprintf(text + n, sizeof(text) - (size_t)n, ": %s", strerror(errnum));
	if (n >= (int)sizeof(text))
		memcpy(text + sizeof(text) - 4, "...", 4);
	if (!queued) {
		log_stderr(priority, text);
		return;
	}
	pthread_mutex_lock(&log_state.lock);
	if (log_state.count == LOG_QUEUE_LEN) {
		log_state.dropped++;
		log_state.dropped_unreported++;
	} else {
		struct log_entry *e = &log_state.ring[(log_state.head + log_state.count) % LOG_QUEUE_LEN];
		e->priority = priority;
		memcpy(e->text, text, sizeof(text));
		log_state.count++;
		pthread_cond_signal(&log_state.wake);
	}
	pthread_mutex_unlock(&log_state.lock);
}

void log_warn(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, LOG_LEVEL_WARN, errnum, fmt, ap);
	va_end(ap);
	errno = errnum;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_DEBUG, LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, LOG_LEVEL_WARN, errnum, fmt, ap);
	va_end(ap);
	log_shutdown();
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
	log_shutdown();
	exit(1);
}
