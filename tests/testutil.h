/*
 * testutil.h: what every test needs besides TAP: its own temporary folder on
 * a disk-backed filesystem, child processes that are always reaped, and
 * waits on a condition with a deadline (never a fixed sleep).
 *
 * Everything a test starts through tu_spawn() is killed when the test exits,
 * however it exits (atexit, SIGINT/SIGTERM/SIGHUP, and PR_SET_PDEATHSIG for a
 * test that is itself SIGKILLed), so `make -j check` leaves nothing behind.
 */
#ifndef SSFM_TESTUTIL_H
#define SSFM_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Makes a fresh folder $SSFM_TEST_TMPDIR/ssfm-TAG.XXXXXX (default base
 * /var/tmp, which is disk-backed where /tmp may be tmpfs) and removes it at
 * exit unless a check failed and SSFM_TEST_KEEP is set.  The path is kept
 * short because Unix socket paths are limited to 108 bytes.  Bails out on
 * failure.
 */
const char *tu_tmpdir(const char *tag);
int tu_rmtree(const char *path);

uint64_t tu_now_ms(void);	/* CLOCK_MONOTONIC */
void tu_sleep_ms(unsigned ms);

/* The build tree's top folder (from $top_builddir, else ".."), for binaries. */
const char *tu_builddir(void);
const char *tu_srcdir(void);

/*
 * Starts argv[0] (a path, no shell) with extra "NAME=value" environment
 * strings added to ours (may be NULL), stdout and stderr appended to log_path
 * (or inherited when NULL).  Returns the pid or -1.  The child is registered
 * for cleanup.
 */
pid_t tu_spawn(char *const argv[], char *const env_extra[], const char *log_path);
/* Sends sig (0: none) and waits up to timeout_ms for the child to exit;
 * returns its wait status, or -1 if it is still running. */
int tu_kill_wait(pid_t pid, int sig, int timeout_ms);
/* Runs a command to completion (timeout_ms, then SIGKILL); returns its wait
 * status or -1.  Output to log_path or inherited. */
int tu_run(char *const argv[], char *const env_extra[], const char *log_path, int timeout_ms);
/* Runs a command and captures its stdout (malloc'd, NUL-terminated) into *out;
 * stderr goes to *err if err is not NULL.  Returns the wait status or -1. */
int tu_capture(char *const argv[], char *const env_extra[], int timeout_ms,
    char **out, char **err);
/* Forgets a child that was reaped elsewhere. */
void tu_forget_pid(pid_t pid);
/* Registers a pid that is not our child (a daemon that double-forked) for
 * SIGKILL at exit. */
void tu_track_pid(pid_t pid);

/* Polls cond(arg) every interval_ms until it returns non-zero or timeout_ms
 * passes; returns the last value of cond. */
int tu_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms, int interval_ms);

/* Whole-file helpers; read returns a malloc'd NUL-terminated buffer or NULL. */
char *tu_read_file(const char *path, size_t *len);
int tu_write_file(const char *path, const void *data, size_t len);
int tu_file_exists(const char *path);

#endif
