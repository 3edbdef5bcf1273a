/*
 * hooks.c: running hook programs (hooks.h).
 *
 * posix_spawn (glibc: clone(CLONE_VFORK) + exec) reports a failed exec as
 * its return value, so a missing program is an error at start, naming it,
 * rather than an exit status 127 later.  The hook gets its own session
 * (POSIX_SPAWN_SETSID) so that a timeout can signal the hook and every
 * child it made, and default signal dispositions and an empty mask whatever
 * the daemon blocks.
 */
#include "hooks.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct hook {
	char name[64];
	pid_t pid;
	int pidfd;
	int out_fd;
	bool reaped;
	bool term_sent, kill_sent, timed_out;
	uint64_t term_at, kill_at;   /* CLOCK_MONOTONIC ms */
	int kill_grace_ms;
	char line[HOOKS_LINE_MAX + 1];
	size_t line_len;
};

uint64_t hooks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool hooks_same_name(const char *entry, const char *name_eq)
{
	const char *eq = strchr(name_eq, '=');
	size_t len = eq != NULL ? (size_t)(eq - name_eq) + 1 : strlen(name_eq);

	return strncmp(entry, name_eq, len) == 0;
}

static bool hooks_is_ours(const char *entry, char *const *extra)
{
	static const char *const names[] = { "SSFM_EPOCH=", "SSFM_HOST=", "SSFM_GROUP=",
	    "SSFM_SOCKET=", "SSFM_STORE=" };
	for (size_t i = 0; i < 5; i++)
		if (hooks_same_name(entry, names[i]))
			return true;
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
		if (hooks_same_name(entry, extra[i]))
			return true;
	return false;
}

/* environ without our names, then ours; strings 0..4 of *mine are ours
 * (freed by the caller), env->extra's are borrowed. */
static char **hooks_environ(const struct hooks_env *env, char *mine[5])
{
	size_t n = 0, k = 0, nextra = 0;

	for (char **e = environ; e && *e; e++)
		n++;
	while (env->extra != NULL && env->extra[nextra] != NULL)
		nextra++;
	char **envp = calloc(n + nextra + 6, sizeof(*envp));
	if (envp == NULL)
		return NULL;
	for (char **e = environ; e && *e; e++)
		if (!hooks_is_ours(*e, env->extra))
			envp[k++] = *e;
	if (asprintf(&mine[0], "SSFM_EPOCH=%llu", (unsigned long long)env->epoch) < 0)
		mine[0] = NULL;
	if (asprintf(&mine[1], "SSFM_HOST=%s", env->host ? env->host : "") < 0)
		mine[1] = NULL;
	if (asprintf(&mine[2], "SSFM_GROUP=%s", env->group ? env->group : "") < 0)
		mine[2] = NULL;
	if (asprintf(&mine[3], "SSFM_SOCKET=%s", env->socket ? env->socket : "") < 0)
		mine[3] = NULL;
	if (asprintf(&mine[4], "SSFM_STORE=%s", env->store ? env->store : "") < 0)
		mine[4] = NULL;
	for (size_t i = 0; i < 5; i++) {
		if (mine[i] == NULL) {
			free(envp);
			return NULL;
		}
		envp[k++] = mine[i];
	}
	for (size_t i = 0; i < nextra; i++)
		envp[k++] = env->extra[i];
	envp[k] = NULL;
	return envp;
}

int hooks_start(const char *name, char *const argv[], const struct hooks_env *env,
    int timeout_ms, int kill_grace_ms, struct hook **out, char *why, size_t why_len)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *mine[5] = { NULL };
	char **envp = NULL;
	int pipefd[2] = { -1, -1 };
	struct stat st;
	int rc;

	*out = NULL;
	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/') {
		snprintf(why, why_len, "%s: \"%s\" is not an absolute program path", name,
		    argv && argv[0] ? argv[0] : "");
		return -EINVAL;
	}
	if (stat(argv[0], &st) < 0) {
		rc = -errno;
		snprintf(why, why_len, "%s: program %s: %s", name, argv[0], strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode) || access(argv[0], X_OK) < 0) {
		snprintf(why, why_len, "%s: program %s is not an executable file", name, argv[0]);
		return -EACCES;
	}
	struct hook *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->pidfd = h->out_fd = -1;
	h->kill_grace_ms = kill_grace_ms;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(why, why_len, "%s: pipe: %s", name, strerror(errno));
		goto fail;
	}
	envp = hooks_environ(env, mine);
	if (envp == NULL) {
		rc = -ENOMEM;
		snprintf(why, why_len, "%s: out of memory", name);
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawnattr_init(&attr);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&h->pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		snprintf(why, why_len, "%s: cannot run %s: %s", name, argv[0], strerror(rc));
		rc = -rc;
		goto fail;
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	h->out_fd = pipefd[0];
	pipefd[0] = -1;
	fcntl(h->out_fd, F_SETFL, fcntl(h->out_fd, F_GETFL) | O_NONBLOCK);
	h->pidfd = (int)syscall(SYS_pidfd_open, h->pid, 0);
	if (h->pidfd < 0) {
		rc = -errno;
		snprintf(why, why_len, "%s: pidfd_open (Linux 5.3 or later is needed): %s",
		    name, strerror(errno));
		kill(-h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
		h->reaped = true;
		goto fail;
	}
	uint64_t now = hooks_now_ms();
	h->term_at = timeout_ms > 0 ? now + (uint64_t)timeout_ms : 0;
	for (size_t i = 0; i < 5; i++)
		free(mine[i]);
	free(envp);
	*out = h;
	return 0;
fail:
	for (size_t i = 0; i < 5; i++)
		free(mine[i]);
	free(envp);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	hooks_free(h);
	return rc;
}

pid_t hooks_pid(const struct hook *h)
{
	return h->pid;
}

const char *hooks_name(const struct hook *h)
{
	return h->name;
}

int hooks_pidfd(const struct hook *h)
{
	return h->pidfd;
}

int hooks_output_fd(const struct hook *h)
{
	return h->out_fd;
}

bool hooks_timed_out(const struct hook *h)
{
	return h->timed_out;
}

static void hooks_emit(struct hook *h, hooks_line_fn fn, void *arg)
{
	h->line[h->line_len] = '\0';
	if (fn)
		fn(arg, h->name, h->line);
	else
		log_info("%s: %s", h->name, h->line);
	h->line_len = 0;
}

int hooks_read_output(struct hook *h, hooks_line_fn fn, void *arg)
{
	char buf[4096];

	if (h->out_fd < 0)
		return 1;
	for (;;) {
		ssize_t n = read(h->out_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (h->line_len > 0)
				hooks_emit(h, fn, arg);
			close(h->out_fd);
			h->out_fd = -1;
			return 1;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				hooks_emit(h, fn, arg);
				continue;
			}
			h->line[h->line_len++] = buf[i];
			if (h->line_len == HOOKS_LINE_MAX)
				hooks_emit(h, fn, arg);
		}
	}
}

int hooks_reap(struct hook *h, hooks_line_fn fn, void *arg, int *status)
{
	if (h->reaped)
		return 1;
	pid_t got;
	do
		got = waitpid(h->pid, status, WNOHANG);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	if (got == 0)
		return 0;
	h->reaped = true;
	/* What the hook wrote before it ended; children that keep the pipe
	 * open (a daemon the start hook launched) are not waited for. */
	if (hooks_read_output(h, fn, arg) == 0) {
		if (h->line_len > 0)
			hooks_emit(h, fn, arg);
		close(h->out_fd);
		h->out_fd = -1;
	}
	if (h->pidfd >= 0) {
		close(h->pidfd);
		h->pidfd = -1;
	}
	return 1;
}

uint64_t hooks_next_deadline(const struct hook *h)
{
	if (h->reaped || h->kill_sent)
		return 0;
	return h->term_sent ? h->kill_at : h->term_at;
}

void hooks_tick(struct hook *h, uint64_t now_ms)
{
	if (h->reaped || h->kill_sent)
		return;
	if (!h->term_sent && h->term_at && now_ms >= h->term_at) {
		h->timed_out = true;
		h->term_sent = true;
		h->kill_at = now_ms + (uint64_t)(h->kill_grace_ms > 0 ? h->kill_grace_ms : 0);
		log_warnx("%s: still running after its timeout: SIGTERM to process group %d",
		    h->name, (int)h->pid);
		kill(-h->pid, SIGTERM);
	}
	if (h->term_sent && now_ms >= h->kill_at) {
		h->kill_sent = true;
		log_warnx("%s: still running %d ms after SIGTERM: SIGKILL to process group %d",
		    h->name, h->kill_grace_ms, (int)h->pid);
		kill(-h->pid, SIGKILL);
	}
}

void hooks_describe(const struct hook *h, int status, char *buf, size_t len)
{
	const char *after = h->timed_out ? " after the timeout" : "";

	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d%s", WEXITSTATUS(status), after);
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (SIG%s)%s", WTERMSIG(status),
		    sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?", after);
	else
		snprintf(buf, len, "ended with wait status %#x%s", status, after);
}

void hooks_free(struct hook *h)
{
	if (h == NULL)
		return;
	if (h->pid > 0 && !h->reaped) {
		kill(-h->pid, SIGKILL);
		while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (h->pidfd >= 0)
		close(h->pidfd);
	if (h->out_fd >= 0)
		close(h->out_fd);
	free(h);
}
