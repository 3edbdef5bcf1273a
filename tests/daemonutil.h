/*
 * daemonutil.h: a failover group of simulated hosts (hosts.h), each running
 * the real ssfmd, for end-to-end tests and the failover benchmark.
 *
 * Layout under the test's tu_tmpdir T (see hosts.h for the rest):
 *     T/store                  the shared store (store_create + lease)
 *     T/hostN/ssfm.conf        host N's configuration (rewritten at each start)
 *     T/hostN/s.sock           its control socket (short: sockets <= 108 bytes)
 *     T/hostN/ssfmd.pid        its pid file
 *     T/hostN/ssfmd.log        its stderr (-f), appended across restarts
 *
 * Every ssfmd runs `ssfmd -f -c T/hostN/ssfm.conf` (the build tree's
 * src/ssfmd, or $SSFMD) in host N's sanlock
 * environment, at io_timeout 1 and a 50 ms poll_interval.  Processes are
 * registered with testutil: they are killed when the test exits, however it
 * exits; dg_stop() stops them gracefully first.
 *
 * Writers (dw_*): client threads writing unique values through libssfm
 * with request ids, retrying across failovers, logging every
 * acknowledgement; dw_audit_* then checks what every host (or the store on
 * disk) holds against that log.
 */
#ifndef SSFM_TESTS_DAEMONUTIL_H
#define SSFM_TESTS_DAEMONUTIL_H

#include "hosts.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define DG_IO_TIMEOUT 1
#define DG_CONF_LINES_MAX 24

struct dhost {
	struct host *h;
	char conf[PATH_MAX];
	char sock[108];
	char pid_file[PATH_MAX];
	char log[PATH_MAX];
	pid_t pid;                       /* ssfmd, 0 when not running */
	char lines[DG_CONF_LINES_MAX][512]; /* extra "key = value" lines */
	int nlines;
};

struct dgroup {
	struct hosts hs;
	int n;
	char ssfmd[PATH_MAX];            /* the build tree's src/ssfmd */
	char lease_lost[PATH_MAX];       /* its fence/ssfm-lease-lost, absolute */
	struct dhost d[HOSTS_MAX + 1];   /* d[1..n] */
};

/* What a status reply says; strings are cut to fit. */
struct dg_status {
	char role[16];
	char host[65];
	char active_host[65];
	uint64_t epoch;
	uint64_t committed_seq;
	uint64_t applied_seq;
	int64_t lag_ms;
	int has_digest;
	uint64_t digest;
	int64_t connections;             /* control connections open (-1: not said) */
	int64_t journal_looks;           /* a standby's looks at the journal (-1: not said) */
};

/*
 * Starts n sanlock hosts (hosts_start) and makes the shared store for their
 * group.  No ssfmd runs yet: add configuration with dg_conf, then dg_start.
 * Bails out (TAP) when setup fails, naming the package or file missing.
 */
void dg_setup(struct dgroup *g, int n, const char *tag);
/* Forgets the lines added to host i (i = 0: every host). */
void dg_conf_clear(struct dgroup *g, int i);
/* Adds a "key = value" line to host i's configuration (i = 0: every host). */
void dg_conf(struct dgroup *g, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes host i's configuration and starts its ssfmd; waits up to 10 s for
 * its socket to answer status.  0, or -1 (with a TAP diagnostic). */
int dg_start(struct dgroup *g, int i);
/* dg_start for every host; bails out when one cannot start. */
void dg_start_all(struct dgroup *g);
/*
 * Sends sig to host i's ssfmd.  SIGKILL and SIGTERM wait for it to exit
 * (SIGTERM up to 30 s) and return its wait status (-1: did not exit, then
 * it was SIGKILLed); SIGSTOP/SIGCONT return 0.
 */
int dg_signal(struct dgroup *g, int i, int sig);
/* Stops every ssfmd (SIGTERM, then SIGKILL after 15 s) and the hosts; one
 * TAP check: no sanitizer report in any ssfmd log. */
void dg_stop(struct dgroup *g);

/* ssfm_status on host i; 0 or a negative ssfm code.  Never blocks longer
 * than timeout_ms (a stopped daemon). */
int dg_status(struct dgroup *g, int i, struct dg_status *st, int timeout_ms);
/* 1 while host i's ssfmd runs (an exit is noted, reaped and reported). */
int dg_running(struct dgroup *g, int i);
/* 1 if host i answers status with this role. */
int dg_has_role(struct dgroup *g, int i, const char *role);
/* Waits until host i reports role; 1 if it did in time. */
int dg_wait_role(struct dgroup *g, int i, const char *role, int timeout_ms);
/* Among running ssfmds: the one ACTIVE host, 0 if none, -1 if several. */
int dg_find_active(struct dgroup *g);
/* Waits until exactly one host other than `not` (0: any) is ACTIVE;
 * returns it, or 0 on timeout. */
int dg_wait_active(struct dgroup *g, int not, int timeout_ms);
/* Waits until every running ssfmd has applied what the active committed
 * (applied_seq >= the active's committed_seq, read once at the start). */
int dg_wait_caught_up(struct dgroup *g, int active, int timeout_ms);
/* Host index for a host name ("hostN"), 0 if none. */
int dg_host_index(const struct dgroup *g, const char *name);

/* One put through host i (a fresh client, 5 s timeout): ssfm code. */
int dg_put(struct dgroup *g, int i, const char *key, const char *json,
    const char *reqid, uint64_t *version);
/* One get through host i: ssfm code; *value malloc'd. */
int dg_get(struct dgroup *g, int i, const char *key, char **value,
    uint64_t *version);

/* ---- writers ------------------------------------------------------------ */

#define DW_THREADS_MAX 64

struct dw_thread {
	struct dwriters *w;
	int id;
	pthread_t tid;
	int started;
	uint64_t *version;               /* per write n: acked version, 0: none */
	size_t cap;
	uint64_t attempted;              /* writes 0..attempted-1 were sent */
	uint64_t acked;
	uint64_t retries;
	uint64_t gave_up;                /* writes left without an ack */
	uint64_t errors;                 /* answers that are not a failover */
	uint64_t max_ack_ms;             /* longest time a write took to be acked */
	char first_error[256];
};

struct dwriters {
	struct dgroup *g;
	char prefix[32];                 /* keys are PREFIX/tTT/... */
	int nthreads;
	int write_timeout_ms;            /* give a write up after this (default 60 s) */
	volatile int stop;
	volatile int hint;               /* host believed active */
	pthread_mutex_t log_lock;
	FILE *log;
	uint64_t acks_total;             /* atomically updated */
	struct dw_thread t[DW_THREADS_MAX];
};

/* Starts nthreads writers; log_path gets one line per acknowledgement.  A
 * write not acknowledged within write_timeout_ms (0: 60 s) is given up. */
int dw_start(struct dwriters *w, struct dgroup *g, int nthreads,
    const char *prefix, const char *log_path, int write_timeout_ms);
uint64_t dw_acks(struct dwriters *w);
/* Waits until dw_acks() reaches n; 1 if it did in time. */
int dw_wait_acks(struct dwriters *w, uint64_t n, int timeout_ms);
/* Stops the writers (each finishes, or gives up, its write in flight). */
void dw_stop(struct dwriters *w);
void dw_free(struct dwriters *w);
/*
 * The audit against the acknowledgement log, through host i's ssfm_list
 * (i > 0) or offline on the shared store (i == 0, store_open read-only):
 * every acknowledged write present with its value and acknowledged version
 * (or a later write of the same key), no key or value that was never
 * written, acknowledged versions rising per key and per thread.  Each
 * problem is a TAP diagnostic; returns the number of problems, or -1 when
 * the host could not be read.  *keys (may be NULL) receives the number of
 * keys seen under the prefix.
 */
int dw_audit(struct dwriters *w, int i, uint64_t *keys);

/* The last bytes of a file (a daemon's log) as TAP diagnostics. */
void dg_file_tail(const char *path, size_t bytes);
/* Lines in host i's sanlock.log saying it failed, or was late, to renew its
 * delta lease (an I/O slower than io_timeout on a busy disk): after these a
 * takeover by another host is legitimate. */
int dg_sanlock_renewal_errors(struct dgroup *g, int i);

/* Offline digest and applied_seq of the shared store (store_info). */
int dg_store_digest(struct dgroup *g, uint64_t *digest, uint64_t *applied_seq);

/*
 * Whether every running host (i = 1..n; hosts not running are skipped and
 * counted in *missing when not NULL) reports the same applied_seq and
 * state digest, and the store on disk, read offline, ends there with the
 * same digest.  Each host's figures are TAP diagnostics.  1 or 0.
 */
int dg_same_state(struct dgroup *g, int *missing);

/* ---- load: raw connections and what /proc says of a daemon ---------------- */

/* A plain Unix stream connection to host i's control socket (no libssfm:
 * the tests decide byte by byte what is sent).  The fd, or -1. */
int dg_raw_connect(struct dgroup *g, int i);
/* Sends all of text (MSG_NOSIGNAL).  0, or -errno. */
int dg_raw_send(int fd, const char *text, size_t len);
/* Reads one line (without its newline, NUL-terminated, cut to fit) within
 * timeout_ms.  Its length; -1: EOF before a line; -2: timeout or error. */
int dg_raw_line(int fd, char *buf, size_t len, int timeout_ms);
/* From /proc/PID: resident memory in KiB, CPU time (user + system) in ms,
 * open descriptors.  -1 when it cannot be read. */
long dg_proc_rss_kb(pid_t pid);
long dg_proc_cpu_ms(pid_t pid);
int dg_proc_fds(pid_t pid);
/* How many times needle occurs in host i's ssfmd log. */
int dg_log_count(struct dgroup *g, int i, const char *needle);

#endif
