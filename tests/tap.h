/*
 * tap.h: a small TAP producer for the tests run by automake's tap-driver.sh.
 *
 * A test never stops at its first failure: every check prints its own
 * "ok"/"not ok" line, and tap_done() prints the plan and returns the exit
 * status.  Checks report the caller's file and line on failure.
 */
#ifndef SSFM_TAP_H
#define SSFM_TAP_H

#include <stdint.h>

#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))

int tap_ok_at(const char *file, int line, int pass, const char *fmt, ...) TAP_PRINTF(4, 5);
int tap_is_int_at(const char *file, int line, long long got, long long want,
    const char *fmt, ...) TAP_PRINTF(5, 6);
int tap_is_str_at(const char *file, int line, const char *got, const char *want,
    const char *fmt, ...) TAP_PRINTF(5, 6);
void tap_diag(const char *fmt, ...) TAP_PRINTF(1, 2);
/* Ends the whole test at once (setup that cannot go on); prints "Bail out!". */
_Noreturn void tap_bail(const char *fmt, ...) TAP_PRINTF(1, 2);
/* Prints the plan ("1..N"); returns 0 when every check passed, else 1. */
int tap_done(void);
int tap_failed(void);

#define ok(pass, ...) tap_ok_at(__FILE__, __LINE__, (pass), __VA_ARGS__)
#define is_int(got, want, ...) tap_is_int_at(__FILE__, __LINE__, (long long)(got), (long long)(want), __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str_at(__FILE__, __LINE__, (got), (want), __VA_ARGS__)

#endif
