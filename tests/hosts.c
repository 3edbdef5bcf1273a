#include "hosts.h"
#include "fence.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOSTS_SANLOCK "/usr/sbin/sanlock"
#define HOSTS_SOCKET_WAIT_MS 10000

static int hosts_socket_ready(void *arg)
{
	struct host *h = arg;
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/sanlock.sock", h->run_dir);
	return tu_file_exists(path);
}

/* sanlock's helper is the daemon's only child. */
static pid_t hosts_find_helper(pid_t daemon)
{
	char path[64], *text;
	long pid = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)daemon, (long)daemon);
	text = tu_read_file(path, NULL);
	if (text != NULL)
		pid = strtol(text, NULL, 10);
	free(text);
	return (pid_t)pid;
}

static int hosts_helper_seen(void *arg)
{
	struct host *h = arg;

	h->helper_pid = hosts_find_helper(h->sanlock_pid);
	return h->helper_pid > 0;
}

int host_sanlock_start(struct hosts *hs, struct host *h)
{
	char log[PATH_MAX + 16], sock[PATH_MAX + 16];
	char *argv[] = { HOSTS_SANLOCK, "daemon", "-D", "-w", "0", "-l", "0", "-h", "0",
		"-U", "root", "-G", "root", NULL };

	(void)hs;
	snprintf(log, sizeof(log), "%s/sanlock.log", h->dir);
	snprintf(sock, sizeof(sock), "%s/sanlock.sock", h->run_dir);
	unlink(sock);
	h->sanlock_pid = tu_spawn(argv, h->env, log);
	if (h->sanlock_pid < 0) {
		h->sanlock_pid = 0;
		return -1;
	}
	if (!tu_wait_until(hosts_socket_ready, h, HOSTS_SOCKET_WAIT_MS, 20)) {
		tap_diag("%s: sanlock daemon gave no socket in %s (see %s)", h->name, h->run_dir, log);
		return -1;
	}
	if (tu_wait_until(hosts_helper_seen, h, 2000, 10))
		tu_track_pid(h->helper_pid);
	return 0;
}

void hosts_start(struct hosts *hs, int n, const char *tag, unsigned io_timeout)
{
	struct fence_error err;

	if (access(HOSTS_SANLOCK, X_OK) != 0)
		tap_bail("%s not found: install the Debian package sanlock", HOSTS_SANLOCK);
	if (n < 1 || n > HOSTS_MAX)
		tap_bail("hosts_start: %d hosts (1..%d)", n, HOSTS_MAX);
	memset(hs, 0, sizeof(*hs));
	hs->tmp = tu_tmpdir(tag);
	hs->n = n;
	hs->io_timeout = io_timeout;
	snprintf(hs->group, sizeof(hs->group), "g-%s", tag);
	snprintf(hs->store, sizeof(hs->store), "%s/store", hs->tmp);
	if (mkdir(hs->store, 0755) < 0)
		tap_bail("mkdir %s: %s", hs->store, strerror(errno));
	snprintf(hs->lease, sizeof(hs->lease), "%s/lease", hs->store);
	if (fence_lease_init(hs->lease, hs->group, io_timeout, &err) < 0)
		tap_bail("fence_lease_init: %s", err.msg);
	for (int i = 1; i <= n; i++) {
		struct host *h = &hs->host[i];
		h->id = i;
		snprintf(h->name, sizeof(h->name), "host%d", i);
		snprintf(h->dir, sizeof(h->dir), "%s/host%d", hs->tmp, i);
		snprintf(h->run_dir, sizeof(h->run_dir), "%s/host%d/run", hs->tmp, i);
		snprintf(h->env_run, sizeof(h->env_run), "SANLOCK_RUN_DIR=%s/host%d/run", hs->tmp, i);
		h->env[0] = h->env_run;
		h->env[1] = "SANLOCK_PRIVILEGED=0";
		h->env[2] = NULL;
		if (mkdir(h->dir, 0755) < 0 || mkdir(h->run_dir, 0755) < 0)
			tap_bail("mkdir %s: %s", h->run_dir, strerror(errno));
		if (host_sanlock_start(hs, h) < 0)
			tap_bail("cannot start sanlock for %s", h->name);
	}
}

void host_sanlock_kill(struct host *h, int sig)
{
	if (h->sanlock_pid <= 0)
		return;
	if (sig == SIGKILL || sig == SIGTERM) {
		if (tu_kill_wait(h->sanlock_pid, sig, sig == SIGKILL ? 20000 : 5000) == -1)
			tu_kill_wait(h->sanlock_pid, SIGKILL, 5000);
		h->sanlock_pid = 0;
		if (h->helper_pid > 0) {
			kill(h->helper_pid, SIGKILL);
			tu_forget_pid(h->helper_pid);
			h->helper_pid = 0;
		}
		return;
	}
	kill(h->sanlock_pid, sig);
}

char *const *host_env(struct host *h)
{
	return h->env;
}

pid_t host_spawn(struct host *h, char *const argv[], const char *log_path)
{
	return tu_spawn(argv, h->env, log_path);
}

int host_run(struct host *h, char *const argv[], const char *log_path, int timeout_ms)
{
	return tu_run(argv, h->env, log_path, timeout_ms);
}

void hosts_stop(struct hosts *hs)
{
	for (int i = 1; i <= hs->n; i++)
		host_sanlock_kill(&hs->host[i], SIGKILL);
}

const char *agent_start(struct agent *a, struct hosts *hs, struct host *h,
    unsigned host_id, const char *name, const char *const extra[])
{
	char prog[PATH_MAX], id[16], log[PATH_MAX + 32];
	const char *argv[32];
	int in[2], out[2], k = 0;
	pid_t parent = getpid();

	memset(a, 0, sizeof(*a));
	a->to_fd = a->from_fd = -1;
	snprintf(prog, sizeof(prog), "%s/tests/fence_agent", tu_builddir());
	snprintf(id, sizeof(id), "%u", host_id);
	snprintf(log, sizeof(log), "%s/agent-%u.log", h->dir, host_id);
	argv[k++] = prog;
	argv[k++] = "--store";
	argv[k++] = hs->store;
	argv[k++] = "--group";
	argv[k++] = hs->group;
	argv[k++] = "--id";
	argv[k++] = id;
	argv[k++] = "--name";
	argv[k++] = name != NULL ? name : h->name;
	for (int i = 0; extra != NULL && extra[i] != NULL && k < 30; i++)
		argv[k++] = extra[i];
	argv[k] = NULL;

	if (pipe2(in, O_CLOEXEC) < 0)
		return NULL;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return NULL;
	}
	a->pid = fork();
	if (a->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (lfd >= 0)
			dup2(lfd, 2);
		for (int i = 0; h->env[i] != NULL; i++)
			putenv(h->env[i]);
		execv(prog, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (a->pid < 0) {
		close(in[1]);
		close(out[0]);
		return NULL;
	}
	tu_track_pid(a->pid);
	a->to_fd = in[1];
	a->from_fd = out[0];
	return agent_cmd(a, NULL, 10000);
}

static const char *agent_read_line(struct agent *a, int timeout_ms)
{
	uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		char *nl = memchr(a->buf, '\n', a->buf_len);
		if (nl != NULL) {
			size_t len = (size_t)(nl - a->buf);
			if (len >= sizeof(a->line))
				len = sizeof(a->line) - 1;
			memcpy(a->line, a->buf, len);
			a->line[len] = '\0';
			size_t used = (size_t)(nl - a->buf) + 1;
			memmove(a->buf, a->buf + used, a->buf_len - used);
			a->buf_len -= used;
			return a->line;
		}
		uint64_t now = tu_now_ms();
		if (now >= deadline || a->buf_len == sizeof(a->buf))
			return NULL;
		struct pollfd p = { a->from_fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		ssize_t n = read(a->from_fd, a->buf + a->buf_len, sizeof(a->buf) - a->buf_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		a->buf_len += (size_t)n;
	}
}

const char *agent_cmd(struct agent *a, const char *cmd, int timeout_ms)
{
	if (a->to_fd < 0)
		return NULL;
	if (cmd != NULL) {
		char line[1024];
		int len = snprintf(line, sizeof(line), "%s\n", cmd);
		if (write(a->to_fd, line, (size_t)len) != len)
			return NULL;
	}
	return agent_read_line(a, timeout_ms);
}

int agent_stop(struct agent *a)
{
	int status;

	if (a->pid <= 0)
		return -1;
	if (a->to_fd >= 0)
		close(a->to_fd);
	status = tu_kill_wait(a->pid, 0, 5000);
	if (status == -1)
		status = tu_kill_wait(a->pid, SIGKILL, 5000);
	if (a->from_fd >= 0)
		close(a->from_fd);
	a->to_fd = a->from_fd = -1;
	a->pid = 0;
	return status;
}

long long answer_num(const char *line, const char *key, long long dflt)
{
	size_t klen = strlen(key);
	const char *p = line;

	while (p != NULL && (p = strstr(p, key)) != NULL) {
		if ((p == line || p[-1] == ' ') && p[klen] == ' ')
			return strtoll(p + klen + 1, NULL, 10);
		p += klen;
	}
	return dflt;
}
