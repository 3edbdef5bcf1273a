/*
 * t_hooks.c: hook programs (src/hooks.c) run without a shell: exit codes,
 * the SSFM_* environment, output captured line by line, SIGTERM at the
 * timeout and SIGKILL after the grace period for a hook that ignores
 * SIGTERM, and a clear error for a missing program.  The scripts run with
 * /bin/sh as the hook program itself (argv[0]) and the script as argument.
 */
#include "hooks.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct run {
	char lines[32][512];
	int nlines;
	int status;
	bool timed_out;
	uint64_t elapsed_ms;
	char described[600];
};

static void collect(void *arg, const char *name, const char *line)
{
	struct run *r = arg;

	if (r->nlines < 32)
		snprintf(r->lines[r->nlines++], sizeof(r->lines[0]), "%s|%s", name, line);
}

static const struct hooks_env env = {
	.group = "g1", .host = "hosta", .socket = "/run/ssfm/g1.sock",
	.store = "/mnt/shared/g1", .epoch = 42,
};

/* A minimal event loop: poll the output and the pidfd, tick the deadlines. */
static int run_hook(char *const argv[], int timeout_ms, int grace_ms, struct run *r)
{
	struct hook *h;
	char why[512];
	uint64_t start = hooks_now_ms();

	memset(r, 0, sizeof(*r));
	int rc = hooks_start("hook_test", argv, &env, timeout_ms, grace_ms, &h, why, sizeof(why));
	if (rc < 0) {
		snprintf(r->described, sizeof(r->described), "%s", why);
		return rc;
	}
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = hooks_output_fd(h), .events = POLLIN },
			{ .fd = hooks_pidfd(h), .events = POLLIN },
		};
		uint64_t deadline = hooks_next_deadline(h), now = hooks_now_ms();
		int wait = deadline == 0 ? 1000 : deadline > now ? (int)(deadline - now) : 0;
		poll(p, 2, wait);
		if (p[0].revents)
			hooks_read_output(h, collect, r);
		hooks_tick(h, hooks_now_ms());
		if (p[1].revents && hooks_reap(h, collect, r, &r->status) == 1)
			break;
		if (hooks_now_ms() - start > 30000) {
			tap_diag("hook did not end in 30 s");
			break;
		}
	}
	r->elapsed_ms = hooks_now_ms() - start;
	r->timed_out = hooks_timed_out(h);
	hooks_describe(h, r->status, r->described, sizeof(r->described));
	hooks_free(h);
	return 0;
}

static const char *write_script(const char *dir, const char *name, const char *text)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];

	snprintf(p, 256, "%s/%s", dir, name);
	if (tu_write_file(p, text, strlen(text)) < 0)
		tap_bail("cannot write %s", p);
	return p;
}

int main(void)
{
	const char *dir = tu_tmpdir("hooks");
	struct run r;
	char *argv_true[] = { "/bin/true", NULL };
	char *argv_false[] = { "/bin/false", NULL };

	is_int(run_hook(argv_true, 5000, 1000, &r), 0, "/bin/true starts");
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "and exits 0: %s", r.described);
	is_int(run_hook(argv_false, 5000, 1000, &r), 0, "/bin/false starts");
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1, "and exits 1: %s", r.described);
	is_str(r.described, "exited with status 1", "described");

	setenv("SSFM_HOST", "stale-value-from-the-daemon-env", 1);
	const char *env_script = write_script(dir, "env.sh",
	    "echo \"epoch=$SSFM_EPOCH host=$SSFM_HOST group=$SSFM_GROUP\"\n"
	    "echo \"socket=$SSFM_SOCKET store=$SSFM_STORE\" >&2\n"
	    "echo \"arg=$1\"\n"
	    "printf 'no newline at the end'\n"
	    "exit 3\n");
	char *argv_env[] = { "/bin/sh", (char *)env_script, "first-arg", NULL };
	is_int(run_hook(argv_env, 5000, 1000, &r), 0, "a script runs with /bin/sh as the program");
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3, "exit code 3 reported: %s", r.described);
	is_int(r.nlines, 4, "four output lines captured");
	is_str(r.lines[0], "hook_test|epoch=42 host=hosta group=g1", "SSFM_EPOCH, SSFM_HOST (replacing the daemon's), SSFM_GROUP");
	is_str(r.lines[1], "hook_test|socket=/run/ssfm/g1.sock store=/mnt/shared/g1", "SSFM_SOCKET, SSFM_STORE, from stderr");
	is_str(r.lines[2], "hook_test|arg=first-arg", "arguments are passed");
	is_str(r.lines[3], "hook_test|no newline at the end", "a last line without newline is kept");
	unsetenv("SSFM_HOST");

	const char *term_script = write_script(dir, "term.sh", "echo started\nexec sleep 30\n");
	char *argv_term[] = { "/bin/sh", (char *)term_script, NULL };
	is_int(run_hook(argv_term, 200, 5000, &r), 0, "a hook that overruns starts");
	ok(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGTERM, "gets SIGTERM at its timeout: %s", r.described);
	ok(r.timed_out, "and is marked timed out");
	ok(r.elapsed_ms >= 200 && r.elapsed_ms < 4000, "after about 200 ms (%llu ms)", (unsigned long long)r.elapsed_ms);

	const char *sigterm_ignorer = write_script(dir, "sigterm_ignorer.sh",
	    "trap '' TERM\necho ignoring TERM\nwhile :; do sleep 1; done\n");
	char *argv_sigterm_ignorer[] = { "/bin/sh", (char *)sigterm_ignorer, NULL };
	is_int(run_hook(argv_sigterm_ignorer, 200, 300, &r), 0, "a hook that ignores SIGTERM starts");
	ok(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL, "is SIGKILLed after the grace period: %s", r.described);
	ok(r.elapsed_ms >= 500 && r.elapsed_ms < 10000, "timeout + grace = 500 ms (%llu ms)", (unsigned long long)r.elapsed_ms);
	is_str(r.lines[0], "hook_test|ignoring TERM", "its output was logged before");

	/* A hook that leaves a child holding its output: the hook's end counts. */
	const char *bg = write_script(dir, "bg.sh", "sleep 3 &\necho parent done\n");
	char *argv_bg[] = { "/bin/sh", (char *)bg, NULL };
	is_int(run_hook(argv_bg, 5000, 1000, &r), 0, "a hook that leaves a background child");
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && r.elapsed_ms < 2500,
	    "ends when the hook exits, not when the child closes the pipe (%llu ms)", (unsigned long long)r.elapsed_ms);

	char *argv_missing[] = { "/nonexistent/ssfm-hook", NULL };
	is_int(run_hook(argv_missing, 5000, 1000, &r), -ENOENT, "a missing program: -ENOENT");
	ok(strstr(r.described, "/nonexistent/ssfm-hook") && strstr(r.described, "hook_test"),
	    "the error names the hook and the program: %s", r.described);
	char *argv_noexec[] = { (char *)env_script, NULL };
	chmod(env_script, 0644);
	is_int(run_hook(argv_noexec, 5000, 1000, &r), -EACCES, "a file that is not executable: -EACCES");
	ok(strstr(r.described, env_script) != NULL, "named: %s", r.described);
	char *argv_relative[] = { "true", NULL };
	is_int(run_hook(argv_relative, 5000, 1000, &r), -EINVAL, "a relative program path is refused");

	return tap_done();
}
