/*
 * daemon.h: the private header shared by the parts of ssfmd.
 *
 * One struct daemon per process, owned by the event loop's thread
 * (daemon_loop.c).  Other threads touch only what is marked below:
 *  - the store's committer thread runs the write completions
 *    (daemon_requests.c), batch_start and ack_check (daemon_lease.c,
 *    which also runs a lease-watch thread of its own) and on_apply
 *    (daemon_requests.c: watchers), and sets commit_failed;
 *  - the inotify thread (daemon_follow.c) only writes to the wake eventfd;
 *  - the snapshot thread (daemon_snapshot.c) runs store_snapshot and
 *    store_compact, and reports through the wake eventfd.
 * Anything they share with the loop is atomic or under a mutex named next
 * to it.
 *
 * Files, one concern each:
 *   ssfmd.c            options, configuration, pid file, daemonizing, main
 *   daemon_loop.c      epoll loop: signalfd, timerfd, eventfd, dispatch
 *   daemon_roles.c     role_next's actions, in their order
 *   daemon_lease.c     join, acquire, release, lease checks, kill path
 *   daemon_follow.c    a standby following the journal (inotify + poll)
 *   daemon_requests.c  control requests to the store; watch streams
 *   daemon_service.c   start/stop/check hooks
 *   daemon_status.c    the status object and the failover timeline
 *   daemon_snapshot.c  background snapshots and compaction
 *   daemon_dump.c      the dump request: pages of consistent cuts
 */
#ifndef SSFM_DAEMON_H
#define SSFM_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "control.h"
#include "fence.h"
#include "hooks.h"
#include "role.h"
#include "store.h"

/* A standby retries the lease this often (the lease is free at once when
 * its holder releases it or dies), capped by poll_interval. */
#define DAEMON_ACQUIRE_RETRY_MS 150
/* Between two retries, a standby first looks whether a live host holds the
 * lease (fence_lease_busy: one sector read) and tries only when none does;
 * but it tries for real at least this often, whatever the look says. */
#define DAEMON_ACQUIRE_BALLOT_MS 10000
/* A standby that keeps failing to read the journal warns at most this often
 * (the first failure at once). */
#define DAEMON_FOLLOW_WARN_MS 60000
/* After a demote or a failed catch-up, this host waits this long before
 * trying again, so that another host takes over first. */
#define DAEMON_ACQUIRE_HOLDOFF_MS 3000
/* The active checks its delta lease this often (fence_lease_current). */
#define DAEMON_LEASE_CHECK_MS 500
/* ... and whether the lockspace is still there. */
#define DAEMON_JOIN_CHECK_MS 2000
/* ack_check waits this long for the lease confirmation its batch asked
 * for (a sanlock round trip) before refusing the batch. */
#define DAEMON_LEASE_CONFIRM_WAIT_MS 1000
/* Watch events kept in memory for "from" in the recent past. */
#define DAEMON_HISTORY_OPS 8192
#define DAEMON_HISTORY_BYTES (32u * 1024u * 1024u)
/* Default wait of promote --wait without a timeout. */
#define DAEMON_PROMOTE_WAIT_MS 30000

enum daemon_tag {
	DAEMON_TAG_SIGNAL = 1,
	DAEMON_TAG_TIMER,
	DAEMON_TAG_WAKE,
	DAEMON_TAG_CONTROL,
	DAEMON_TAG_JOIN,
	DAEMON_TAG_HOOK_OUT,
	DAEMON_TAG_HOOK_PID,
};

enum daemon_hook_kind { DAEMON_HOOK_NONE, DAEMON_HOOK_START, DAEMON_HOOK_STOP,
	DAEMON_HOOK_CHECK };

/* One past operation, for watchers that start in the recent past.  Kept
 * as the operation, not as its stream line: the line costs a JSON parse of
 * the value and an encode, which only a watcher should pay for. */
struct daemon_event {
	uint64_t seq, epoch;
	enum store_op_kind kind;
	char *key;            /* key, NUL, value, NUL in one allocation; the host for seals */
	size_t key_len;
	const char *value;    /* inside key's allocation; NULL unless a put */
	size_t value_len;
	size_t bytes;
};

struct daemon_watcher {
	uint64_t id;
	uint64_t from;        /* operations after this seq only */
	char *prefix;         /* NULL: every key */
	size_t prefix_len;
	struct daemon_watcher *next;
};

struct daemon_waiter {        /* a promote --wait */
	uint64_t id;
	uint64_t deadline_ms;
	struct daemon_waiter *next;
};

/* Times are CLOCK_REALTIME ms (0: not reached). */
struct daemon_failover {
	uint64_t detected_ms;         /* the acquire that won started (or promote asked) */
	uint64_t lease_acquired_ms;
	uint64_t fence_started_ms;    /* fence_hook started (0: none configured) */
	uint64_t fenced_ms;           /* fence_hook ended well */
	uint64_t caught_up_ms;        /* every batch that existed applied */
	uint64_t sealed_ms;           /* our seal durable */
	uint64_t service_started_ms;  /* hook_start ended well (or none configured) */
	uint64_t epoch;
	uint64_t seq;                 /* seal's sequence number */
	char previous[STORE_HOST_MAX + 1];   /* the active before us, from the last seal */
	char reason[32];              /* "auto", "promote" */
};

#define DAEMON_EVQ 32

/* A Prometheus histogram filled by the committer thread (on_commit) and read
 * by the loop: per-bucket counts (not cumulative), the last one +Inf.  The
 * count is the buckets' total, so a reader's figures always agree. */
#define DAEMON_HIST_MAX 16
struct daemon_histogram {
	atomic_uint_fast64_t bucket[DAEMON_HIST_MAX];
	atomic_uint_fast64_t sum;     /* in the unit of DAEMON_*_BOUNDS' scale */
};

enum daemon_hook_failure { DAEMON_FAIL_START, DAEMON_FAIL_STOP, DAEMON_FAIL_CHECK,
	DAEMON_FAIL_FENCE, DAEMON_FAIL_COUNT };

struct daemon {
	struct conf *cfg;
	struct store *st;
	struct fence *fence;
	struct control *ctl;

	int epfd, sigfd, timerfd, wakefd;
	bool quit;
	int exit_code;

	struct role_state role;
	enum role_event evq[DAEMON_EVQ];   /* events waiting for role_next */
	unsigned evq_head, evq_len;

	/* lease */
	bool joined;
	uint64_t epoch;                    /* lease version held (0: none) */
	atomic_uint_fast64_t ack_epoch;    /* what ack_check accepts (0: nothing) */
	char lease_holder[FENCE_HOST_NAME_MAX + 1];
	uint64_t acquire_at, lease_check_at, join_check_at;
	uint64_t ballot_at;                /* CLOCK_MONOTONIC ms of the last real acquire */
	uint64_t lease_error_since;
	/* lease confirmations for ack_check (daemon_lease.c), under lw_lock */
	pthread_mutex_t lw_lock;
	pthread_cond_t lw_cond;            /* CLOCK_MONOTONIC */
	pthread_t lw_thread;
	bool lw_running, lw_stop;
	uint64_t lw_asked;                 /* confirmations asked for ... */
	uint64_t lw_done;                  /* ... and the newest one answered */
	uint64_t lw_batch;                 /* the one the committer's batch waits for */
	uint64_t lw_safe_until;            /* CLOCK_MONOTONIC ms; 0: not known safe */
	char lw_why[1024];                 /* why not, when the last one failed (fence_error.msg) */
	uint64_t join_error_since;         /* first of consecutive join checks sanlock could not answer */
	uint64_t health_wait_since;        /* joined, waiting for sanlock's first health answer */
	bool promote_asked;                /* the acquire was a promote's */

	/* writes */
	bool accepting;
	atomic_bool commit_failed;         /* set by the committer */
	atomic_uint_fast64_t writes_in_flight;

	/* following */
	bool following;
	uint64_t poll_at, gap_check_at;
	atomic_bool inotify_woke;          /* set by the inotify thread, cleared by the loop */
	pthread_mutex_t inotify_lock;      /* with inotify_cond: the thread waits for the loop */
	pthread_cond_t inotify_cond;
	bool inotify_waiting;              /* under inotify_lock: the thread waits for a signal */
	pthread_t inotify_thread;
	bool inotify_running;
	atomic_bool inotify_stop;
	uint64_t lag_ms, lag_seq;
	uint64_t journal_looks;            /* store_follow calls: looks at the journal */
	uint64_t follow_failures;          /* failed looks in a row */
	uint64_t follow_failures_logged;   /* ... of which the last warning told */
	uint64_t follow_warn_at;           /* CLOCK_MONOTONIC ms: next warning allowed */
	uint64_t digest_mismatches;
	char blocked_file[512];

	/* watchers and history: mutex, as on_apply runs on the committer */
	pthread_mutex_t watch_lock;
	struct daemon_watcher *watchers;
	struct daemon_event *history;      /* ring of DAEMON_HISTORY_OPS */
	unsigned hist_head, hist_len;
	size_t hist_bytes;
	uint64_t hist_floor;               /* a watch from below this seq cannot be served */
	uint64_t last_seq;                 /* the last operation passed to on_apply */
	uint64_t ops_since_snapshot;       /* under watch_lock */

	/* promote --wait */
	struct daemon_waiter *waiters;
	uint64_t promote_retry_at;

	/* service hooks: one at a time */
	struct hook *hook;
	enum daemon_hook_kind hook_kind;
	bool want_stop, want_start;
	bool stop_reports;                 /* report service_stopped when the stop ends */
	uint64_t check_at;
	unsigned checks_failed;
	bool service_up;
	uint64_t demote_deadline;          /* a graceful demote releases by then (0: none under way) */
	uint64_t demote_started;
	char **argv_start, **argv_stop, **argv_check, **argv_fence;

	/* snapshots */
	pthread_t snap_thread;
	bool snap_running;                 /* the loop's view */
	atomic_bool snap_done;
	int snap_rc;
	uint64_t snap_seq;
	char snap_msg[1100];
	uint64_t snap_at;                  /* next snapshot by time */
	uint64_t *snap_reqs;               /* requests waiting for it */
	size_t snap_nreqs, snap_cap;
	uint64_t snapshots_written;

	uint64_t metrics_at;
	bool metrics_failed;
	int metrics_role;                  /* 1 + the role in the last metrics_file written (0: none) */
	struct daemon_histogram batch_size, commit_latency;
	uint64_t failovers;                /* takeovers by this host that reached their seal */
	uint64_t hook_failures[DAEMON_FAIL_COUNT];

	/* dumps being read (daemon_dump.c; the loop's thread only) */
	struct daemon_dump_cut *dump_cuts;
	uint64_t dump_next_id;

	struct daemon_failover failover;
	uint64_t started_ms;
	uint64_t role_since_ms;
};

/* daemon_loop.c */
int daemon_loop_block_signals(void);      /* before any thread starts */
int daemon_loop_init(struct daemon *d);
int daemon_loop_run(struct daemon *d);
void daemon_loop_close(struct daemon *d);
void daemon_wake(struct daemon *d);          /* any thread */
int daemon_watch_fd(struct daemon *d, int fd, uint32_t tag);
void daemon_unwatch_fd(struct daemon *d, int fd);
uint64_t daemon_now_ms(void);                /* CLOCK_MONOTONIC */
uint64_t daemon_wall_ms(void);               /* CLOCK_REALTIME */

/* daemon_roles.c */
void daemon_event(struct daemon *d, enum role_event ev);
void daemon_run_events(struct daemon *d);

/* daemon_lease.c */
int daemon_lease_open(struct daemon *d);
void daemon_lease_joined_fd(struct daemon *d);
void daemon_lease_try_acquire(struct daemon *d);
void daemon_lease_release(struct daemon *d);
void daemon_lease_tick(struct daemon *d, uint64_t now);
void daemon_lease_close(struct daemon *d);
int daemon_lease_ack_check(void *arg, uint64_t epoch, char *why, size_t why_len);
void daemon_lease_batch_start(void *arg, uint64_t epoch);

/* daemon_follow.c */
int daemon_follow_start(struct daemon *d);
/* A mutex and a condition whose timed waits count CLOCK_MONOTONIC. */
void daemon_lock_init(pthread_mutex_t *lock, pthread_cond_t *cond);
/* ms from now on CLOCK_MONOTONIC: a deadline for a daemon_lock_init cond. */
void daemon_deadline(struct timespec *ts, long long ms);
/* The follower's lock and condition, for the daemon's lifetime. */
void daemon_follow_init(struct daemon *d);
void daemon_follow_free(struct daemon *d);
void daemon_follow_tick(struct daemon *d, uint64_t now);
void daemon_follow_now(struct daemon *d);
/* The loop's answer to the inotify thread's wake: follow, and let the
 * thread watch again. */
void daemon_follow_woken(struct daemon *d);
void daemon_follow_stop(struct daemon *d);

/* daemon_requests.c */
void daemon_requests_dispatch(void *arg, uint64_t id, const struct control_peer *peer,
    struct proto_request *req);
void daemon_requests_ended(void *arg, uint64_t id);
void daemon_requests_on_apply(void *arg, const struct store_applied *op);
void daemon_requests_end_watches(struct daemon *d, const char *reason);
void daemon_requests_promote_check(struct daemon *d, uint64_t now);
void daemon_requests_free(struct daemon *d);
const char *daemon_active_host(struct daemon *d);

/* daemon_service.c */
int daemon_service_init(struct daemon *d);
void daemon_service_start(struct daemon *d);
void daemon_service_stop(struct daemon *d);
void daemon_service_tick(struct daemon *d, uint64_t now);
void daemon_service_output(struct daemon *d);
void daemon_service_reaped(struct daemon *d);
uint64_t daemon_service_deadline(struct daemon *d);
int daemon_service_fence(struct daemon *d, const struct store_seal_info *previous);
void daemon_service_free(struct daemon *d);

/* daemon_status.c */
json_t *daemon_status_json(struct daemon *d);
void daemon_status_log_failover(struct daemon *d);
void daemon_status_metrics_tick(struct daemon *d, uint64_t now);
void daemon_status_on_commit(void *arg, const struct store_commit_stats *cs);  /* committer */

/* daemon_snapshot.c */
void daemon_snapshot_tick(struct daemon *d, uint64_t now);
int daemon_snapshot_request(struct daemon *d, uint64_t id);
void daemon_snapshot_reap(struct daemon *d);
void daemon_snapshot_wait(struct daemon *d);

/* daemon_dump.c */
void daemon_dump_request(struct daemon *d, uint64_t id, const struct proto_request *req);
void daemon_dump_tick(struct daemon *d, uint64_t now);   /* releases idle cuts */
void daemon_dump_free(struct daemon *d);

#endif
