#include "tap.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static int tap_count;
static int tap_failures;

static void tap_vline(int pass, const char *fmt, va_list ap)
{
	tap_count++;
	if (!pass)
		tap_failures++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
}

int tap_ok_at(const char *file, int line, int pass, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	return pass;
}

int tap_is_int_at(const char *file, int line, long long got, long long want,
    const char *fmt, ...)
{
	va_list ap;
	int pass = got == want;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   failed at %s:%d\n#   got:  %lld\n#   want: %lld\n",
		    file, line, got, want);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	return pass;
}

int tap_is_str_at(const char *file, int line, const char *got, const char *want,
    const char *fmt, ...)
{
	va_list ap;
	int pass = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   failed at %s:%d\n#   got:  %s\n#   want: %s\n", file,
		    line, got ? got : "(null)", want ? want : "(null)");
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	return pass;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

void tap_bail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	exit(1);
}

int tap_failed(void)
{
	return tap_failures;
}

int tap_done(void)
{
	pthread_mutex_lock(&tap_lock);
	if (tap_count == 0) {
		/* A test that checked nothing has proven nothing. */
		printf("not ok 1 - the test made no checks\n");
		tap_count = 1;
		tap_failures = 1;
	}
	printf("1..%d\n", tap_count);
	if (tap_failures)
		printf("# %d of %d checks failed\n", tap_failures, tap_count);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
	return tap_failures ? 1 : 0;
}
