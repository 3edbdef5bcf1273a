/*
 * hooks.h: service hooks (start, stop, check) and the fence hook, run
 * without a shell and without blocking the event loop.
 *
 * A hook is a program and its arguments (config_split_command), started
 * with posix_spawn in a session of its own, stdin on /dev/null, stdout and
 * stderr into one pipe, and SSFM_EPOCH, SSFM_HOST, SSFM_GROUP, SSFM_SOCKET,
 * SSFM_STORE (and hooks_env.extra) added to (or replacing those in) the
 * daemon's environment.
 *
 * The loop watches two descriptors per hook: hooks_output_fd (read with
 * hooks_read_output, which passes each output line to a callback, by
 * default the log with the hook's name) and hooks_pidfd (readable when the
 * process ends: call hooks_reap).  It also calls hooks_tick at
 * hooks_next_deadline: a hook still running timeout_ms after its start gets
 * SIGTERM, and kill_grace_ms later SIGKILL, both sent to its whole process
 * group (the hook's own children too).
 *
 * When the hook exits, hooks_reap reads what output is left and closes the
 * pipe: a daemon started by a start hook that keeps the pipe open does not
 * keep the hook "running".  Functions return 0 or a negative errno.
 * Threads: a hook belongs to the thread that started it.
 */
#ifndef SSFM_HOOKS_H
#define SSFM_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HOOKS_LINE_MAX 4096   /* longer output lines are split */

struct hooks_env {
	const char *group;
	const char *host;
	const char *socket;
	const char *store;
	uint64_t epoch;
	/* More "NAME=value" strings (NULL-terminated; NULL: none), replacing
	 * those names in the daemon's environment too: the fence hook's
	 * SSFM_PREVIOUS_*.  Not copied: they must outlive hooks_start. */
	char *const *extra;
};

struct hook;

typedef void (*hooks_line_fn)(void *arg, const char *name, const char *line);

/* name: for messages ("hook_start").  argv[0] must be an absolute path.
 * Fails with -ENOENT / -EACCES / ... and why naming the program. */
int hooks_start(const char *name, char *const argv[], const struct hooks_env *env,
    int timeout_ms, int kill_grace_ms, struct hook **out, char *why, size_t why_len);

pid_t hooks_pid(const struct hook *h);
const char *hooks_name(const struct hook *h);
int hooks_pidfd(const struct hook *h);
/* -1 once the output is closed. */
int hooks_output_fd(const struct hook *h);

/* Reads the output available now; fn NULL: log_info("NAME: LINE").
 * Returns 1 once the output is at its end (the fd is closed), else 0. */
int hooks_read_output(struct hook *h, hooks_line_fn fn, void *arg);

/* Non-blocking.  Returns 1 when the hook has ended (*status: the wait
 * status; its output drained to fn and closed), 0 while it runs, < 0 on
 * error. */
int hooks_reap(struct hook *h, hooks_line_fn fn, void *arg, int *status);

/* CLOCK_MONOTONIC ms of the next escalation, or 0 when none is due (not
 * running, or already SIGKILLed). */
uint64_t hooks_next_deadline(const struct hook *h);
/* Sends what is due at now_ms (SIGTERM, then SIGKILL). */
void hooks_tick(struct hook *h, uint64_t now_ms);
bool hooks_timed_out(const struct hook *h);

/* "exited with status 1", "killed by signal 9 (SIGKILL) after the timeout". */
void hooks_describe(const struct hook *h, int status, char *buf, size_t len);

/* Frees the hook; one still running is SIGKILLed (with its group) and reaped. */
void hooks_free(struct hook *h);

uint64_t hooks_now_ms(void);

#endif
