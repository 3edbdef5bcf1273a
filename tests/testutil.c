#include "testutil.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TU_MAX_PIDS 4096
#define TU_MAX_DIRS 16

static pthread_mutex_t tu_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile pid_t tu_pids[TU_MAX_PIDS];
static char *tu_dirs[TU_MAX_DIRS];
static int tu_ndirs;
static int tu_installed;

static void tu_kill_all(void)
{
	for (int i = 0; i < TU_MAX_PIDS; i++) {
		pid_t p = tu_pids[i];
		if (p > 0) {
			kill(p, SIGCONT);
			kill(p, SIGKILL);
		}
	}
}

static void tu_on_signal(int sig)
{
	tu_kill_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void tu_at_exit(void)
{
	tu_kill_all();
	for (int i = 0; i < TU_MAX_PIDS; i++)
		if (tu_pids[i] > 0)
			waitpid(tu_pids[i], NULL, WNOHANG);
	int keep = getenv("SSFM_TEST_KEEP") != NULL && tap_failed();
	for (int i = 0; i < tu_ndirs; i++) {
		if (keep)
			fprintf(stderr, "# kept %s\n", tu_dirs[i]);
		else
			tu_rmtree(tu_dirs[i]);
		free(tu_dirs[i]);
	}
	tu_ndirs = 0;
}

static void tu_install(void)
{
	if (tu_installed)
		return;
	tu_installed = 1;
	atexit(tu_at_exit);
	signal(SIGINT, tu_on_signal);
	signal(SIGTERM, tu_on_signal);
	signal(SIGHUP, tu_on_signal);
	signal(SIGPIPE, SIG_IGN);
}

void tu_track_pid(pid_t pid)
{
	pthread_mutex_lock(&tu_lock);
	tu_install();
	for (int i = 0; i < TU_MAX_PIDS; i++) {
		if (tu_pids[i] == 0) {
			tu_pids[i] = pid;
			break;
		}
	}
	pthread_mutex_unlock(&tu_lock);
}

void tu_forget_pid(pid_t pid)
{
	pthread_mutex_lock(&tu_lock);
	for (int i = 0; i < TU_MAX_PIDS; i++)
		if (tu_pids[i] == pid)
			tu_pids[i] = 0;
	pthread_mutex_unlock(&tu_lock);
}

const char *tu_tmpdir(const char *tag)
{
	const char *base = getenv("SSFM_TEST_TMPDIR");
	char path[PATH_MAX];

	if (base == NULL || *base == '\0')
		base = "/var/tmp";
	snprintf(path, sizeof(path), "%s/ssfm-%s.XXXXXX", base, tag);
	if (mkdtemp(path) == NULL)
		tap_bail("mkdtemp %s: %s", path, strerror(errno));
	pthread_mutex_lock(&tu_lock);
	tu_install();
	if (tu_ndirs == TU_MAX_DIRS)
		tap_bail("too many temporary folders");
	tu_dirs[tu_ndirs] = strdup(path);
	const char *ret = tu_dirs[tu_ndirs++];
	pthread_mutex_unlock(&tu_lock);
	return ret;
}

static int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

int tu_rmtree(const char *path)
{
	return nftw(path, tu_rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

uint64_t tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tu_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

const char *tu_builddir(void)
{
	const char *d = getenv("top_builddir");

	return d && *d ? d : "..";
}

const char *tu_srcdir(void)
{
	const char *d = getenv("top_srcdir");

	return d && *d ? d : "..";
}

static pid_t tu_fork_exec(char *const argv[], char *const env_extra[],
    const char *log_path, int out_fd, int err_fd)
{
	pid_t parent = getpid();
	pid_t pid;

	tu_install();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Never outlive the test, even if it is SIGKILLed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		if (log_path != NULL) {
			int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
		}
		if (out_fd >= 0)
			dup2(out_fd, 1);
		if (err_fd >= 0)
			dup2(err_fd, 2);
		for (int i = 0; env_extra != NULL && env_extra[i] != NULL; i++)
			putenv(env_extra[i]);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	tu_track_pid(pid);
	return pid;
}

pid_t tu_spawn(char *const argv[], char *const env_extra[], const char *log_path)
{
	return tu_fork_exec(argv, env_extra, log_path, -1, -1);
}

int tu_kill_wait(pid_t pid, int sig, int timeout_ms)
{
	uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
	int status;

	if (sig != 0)
		kill(pid, sig);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			tu_forget_pid(pid);
			return status;
		}
		if (r < 0 && errno != EINTR) {
			tu_forget_pid(pid);
			return -1;
		}
		if (tu_now_ms() >= deadline)
			return -1;
		tu_sleep_ms(5);
	}
}

int tu_run(char *const argv[], char *const env_extra[], const char *log_path, int timeout_ms)
{
	pid_t pid = tu_spawn(argv, env_extra, log_path);
	int status;

	if (pid < 0)
		return -1;
	status = tu_kill_wait(pid, 0, timeout_ms);
	if (status == -1) {
		tu_kill_wait(pid, SIGKILL, 5000);
		return -1;
	}
	return status;
}

static char *tu_slurp_fd(int fd)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
	for (;;) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

struct tu_reader {
	int fd;
	char *text;
};

static void *tu_reader_main(void *arg)
{
	struct tu_reader *r = arg;

	r->text = tu_slurp_fd(r->fd);
	return NULL;
}

int tu_capture(char *const argv[], char *const env_extra[], int timeout_ms,
    char **out, char **err)
{
	int op[2], ep[2] = { -1, -1 };
	struct tu_reader ro, re = { -1, NULL };
	pthread_t to, te;
	int status;
	pid_t pid;

	if (pipe2(op, O_CLOEXEC) < 0)
		return -1;
	if (err != NULL && pipe2(ep, O_CLOEXEC) < 0) {
		close(op[0]);
		close(op[1]);
		return -1;
	}
	pid = tu_fork_exec(argv, env_extra, NULL, op[1], ep[1]);
	close(op[1]);
	if (ep[1] >= 0)
		close(ep[1]);
	ro.fd = op[0];
	ro.text = NULL;
	pthread_create(&to, NULL, tu_reader_main, &ro);
	if (err != NULL) {
		re.fd = ep[0];
		pthread_create(&te, NULL, tu_reader_main, &re);
	}
	status = pid < 0 ? -1 : tu_kill_wait(pid, 0, timeout_ms);
	if (pid >= 0 && status == -1)
		tu_kill_wait(pid, SIGKILL, 5000);
	pthread_join(to, NULL);
	close(op[0]);
	if (err != NULL) {
		pthread_join(te, NULL);
		close(ep[0]);
		*err = re.text;
	}
	*out = ro.text;
	return status;
}

int tu_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms, int interval_ms)
{
	uint64_t deadline = tu_now_ms() + (uint64_t)timeout_ms;
	int v;

	while (!(v = cond(arg)) && tu_now_ms() < deadline)
		tu_sleep_ms((unsigned)interval_ms);
	return v;
}

char *tu_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf != NULL && got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		return NULL;
	buf[got] = '\0';
	if (len != NULL)
		*len = got;
	return buf;
}

int tu_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, (const char *)data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		done += (size_t)n;
	}
	return close(fd) < 0 ? -errno : 0;
}

int tu_file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}
