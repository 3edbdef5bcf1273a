/*
 * hosts.h: simulated hosts for tests: N sanlock daemons on this machine,
 * each with its own run directory (its own socket), all sharing one store
 * directory with an initialised lease file, and programs run "on" a host
 * (with that host's SANLOCK_RUN_DIR).
 *
 * Layout under the test's own tu_tmpdir (so tests run in parallel):
 *     T/store               the shared store directory (lease: FMT_LEASE_NAME)
 *     T/hostN/run           SANLOCK_RUN_DIR of host N (sanlock.sock)
 *     T/hostN/sanlock.log   its daemon's output
 * Host N has host id N and the name "hostN".
 *
 * Every daemon runs unprivileged-style, never touching /run/sanlock:
 *     SANLOCK_PRIVILEGED=0 SANLOCK_RUN_DIR=T/hostN/run
 *     sanlock daemon -D -w 0 -l 0 -h 0 -U root -G root
 * With -D sanlock does not daemonise; it forks one helper (which runs kill
 * paths).  Both pids are registered with testutil and killed at exit, also
 * when the test fails or is killed (see testutil.h).
 *
 * A process acting for host N must talk to host N's daemon: libsanlock finds
 * the daemon through SANLOCK_RUN_DIR in its environment, so such processes
 * are children started with host_env(): host_spawn(), or an agent
 * (tests/fence_agent, driven one line at a time over pipes).
 *
 * No network or mount namespaces: all hosts share this machine's.
 */
#ifndef SSFM_TESTS_HOSTS_H
#define SSFM_TESTS_HOSTS_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#define HOSTS_MAX 8

struct host {
	int id;                          /* 1..n, also the sanlock host id */
	char name[16];                   /* "hostN" */
	char dir[PATH_MAX - 64];         /* T/hostN */
	char run_dir[PATH_MAX];          /* T/hostN/run */
	char env_run[PATH_MAX + 32];     /* "SANLOCK_RUN_DIR=..." */
	char *env[3];                    /* env_run, "SANLOCK_PRIVILEGED=0", NULL */
	pid_t sanlock_pid;               /* 0 when not running */
	pid_t helper_pid;                /* sanlock's helper child, 0 if none seen */
};

struct hosts {
	const char *tmp;                 /* T */
	char store[PATH_MAX - 64];       /* T/store */
	char lease[PATH_MAX + 16];       /* T/store/lease */
	char group[32];
	unsigned io_timeout;
	int n;
	struct host host[HOSTS_MAX + 1]; /* host[1..n] */
};

/* Makes T (tu_tmpdir(tag)), the store with a lease for group "g-TAG" at
 * io_timeout, and starts n (1..HOSTS_MAX) sanlock daemons, waiting for each
 * socket.  Bails out (TAP) on failure, naming the Debian package when
 * sanlock is missing. */
void hosts_start(struct hosts *hs, int n, const char *tag, unsigned io_timeout);
/* (Re)starts host h's sanlock daemon; 0 or -1. */
int host_sanlock_start(struct hosts *hs, struct host *h);
/* Sends sig to host h's sanlock daemon (and, for SIGKILL, its helper) and
 * for SIGKILL/SIGTERM waits for it to exit.  sanlock ignores SIGTERM while it
 * has lockspaces: then after 5 s it is SIGKILLed.  SIGKILL is "host death"
 * as far as the other hosts can tell (nothing renews or releases); SIGSTOP
 * and SIGCONT freeze and thaw it. */
void host_sanlock_kill(struct host *h, int sig);
/* Environment strings for programs acting as host h (tu_spawn's env_extra). */
char *const *host_env(struct host *h);
/* tu_spawn / tu_run with host h's environment. */
pid_t host_spawn(struct host *h, char *const argv[], const char *log_path);
int host_run(struct host *h, char *const argv[], const char *log_path, int timeout_ms);
/* Stops every daemon started (by pid). Also done at exit. */
void hosts_stop(struct hosts *hs);

/* A tests/fence_agent process acting as one host id on host h. */
struct agent {
	pid_t pid;
	int to_fd, from_fd;
	char line[4096];                 /* the last answer, without newline */
	char buf[8192];
	size_t buf_len;
};
/* Starts the agent for hs's store and group with host id `host_id` named
 * `name` (NULL: h->name), extra agent options in extra (NULL-terminated, may
 * be NULL).  Returns the first line ("READY" or "ERR ..."), NULL when it
 * could not start. */
const char *agent_start(struct agent *a, struct hosts *hs, struct host *h,
    unsigned host_id, const char *name, const char *const extra[]);
/* Sends one command line and returns the answer line (a->line), or NULL on
 * timeout or when the agent died. */
const char *agent_cmd(struct agent *a, const char *cmd, int timeout_ms);
/* Closes its stdin, waits up to 5 s, then kills it. Returns the wait status. */
int agent_stop(struct agent *a);

/* Pulls "key VALUE" out of an answer: the integer after the word key. */
long long answer_num(const char *line, const char *key, long long dflt);

#endif
