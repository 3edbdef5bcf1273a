/*
 * log.h: the daemon's logging vocabulary.
 *
 * Levels (log_level in ssfm.conf(5)):
 *   warn   something failed or needs an operator: a lost lease, a damaged
 *          file, a hook that failed, a refused configuration.  Always logged.
 *   info   what an operator follows in normal operation: role changes, the
 *          failover timeline, hooks started and ended, snapshots.
 *   debug  detail for developers: requests, batches, polls.
 *
 * log_warn and fatal add ": " and the text of errno; log_warnx and fatalx do
 * not.  Only fatal and fatalx end the process (exit status 1); nothing else
 * in the daemon calls exit().
 *
 * Where messages go: in the foreground (log_init(..., true, ...)) to stderr,
 * one line each with a local timestamp, written at once (stderr is the
 * operator's terminal or a supervisor's pipe).  Otherwise to syslog, but
 * never from the caller's thread: a message is copied into a bounded
 * in-memory queue and a logger thread hands it to syslog(3).  When the queue
 * is full the message is dropped and counted, and the logger reports the
 * count ("N messages dropped") as soon as there is room again.  So a thread
 * on the commit or lease path only ever takes a short mutex, never waits on
 * syslogd.
 *
 * Thread safety: every function may be called from any thread once
 * log_init has run; before log_init, messages go to stderr.  The logger
 * thread does not survive fork(): a daemon that goes to the background
 * calls log_init (again) in the child.
 */
#ifndef SSFM_LOG_H
#define SSFM_LOG_H

#include <stdbool.h>
#include <stdint.h>

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum log_level { LOG_LEVEL_WARN = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_DEBUG = 2 };

/* Messages queued for syslog at most; beyond this they are dropped. */
#define LOG_QUEUE_LEN 512
/* Longest message kept; longer ones are cut (and end with "..."). */
#define LOG_LINE_MAX 1024

/* ident: the program name for syslog and stderr.  Starts the logger thread
 * when not in the foreground.  Returns 0 or a negative errno. */
int log_init(const char *ident, bool foreground, int level);
void log_set_level(int level);
int log_get_level(void);
/* Writes what is queued and stops the logger thread. */
void log_shutdown(void);
/* Messages dropped because the syslog queue was full, since log_init. */
uint64_t log_dropped(void);

void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

#endif
