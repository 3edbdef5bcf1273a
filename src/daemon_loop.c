/*
 * daemon_loop.c: the event loop.  One epoll descriptor holds the signalfd
 * (SIGTERM, SIGINT, SIGHUP, SIGCHLD blocked and read here), a timerfd on
 * CLOCK_MONOTONIC armed at the nearest deadline, an eventfd that other
 * threads write to wake the loop, the control server's own epoll fd, the
 * lockspace join fd and the running hook's output and pidfd.
 *
 * The loop never waits without a timeout: the timer is armed at the next
 * deadline and at most DAEMON_LOOP_MAX_SLEEP_MS ahead.
 */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define DAEMON_LOOP_MAX_SLEEP_MS 1000

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t daemon_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void daemon_wake(struct daemon *d)
{
	uint64_t one = 1;

	if (write(d->wakefd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the loop will wake */
	}
}

int daemon_watch_fd(struct daemon *d, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void daemon_unwatch_fd(struct daemon *d, int fd)
{
	if (fd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static void daemon_loop_sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
}

int daemon_loop_block_signals(void)
{
	sigset_t set;

	daemon_loop_sigset(&set);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int daemon_loop_init(struct daemon *d)
{
	sigset_t set;
	int rc;

	d->epfd = d->sigfd = d->timerfd = d->wakefd = -1;
	daemon_loop_sigset(&set);
	if ((rc = daemon_loop_block_signals()) < 0)
		return rc;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->epfd < 0 || d->sigfd < 0 || d->timerfd < 0 || d->wakefd < 0) {
		rc = -errno;
		log_warn("event loop descriptors");
		return rc;
	}
	if ((rc = daemon_watch_fd(d, d->sigfd, DAEMON_TAG_SIGNAL)) < 0 ||
	    (rc = daemon_watch_fd(d, d->timerfd, DAEMON_TAG_TIMER)) < 0 ||
	    (rc = daemon_watch_fd(d, d->wakefd, DAEMON_TAG_WAKE)) < 0)
		return rc;
	return 0;
}

void daemon_loop_close(struct daemon *d)
{
	int *fds[] = { &d->sigfd, &d->timerfd, &d->wakefd, &d->epfd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static void daemon_loop_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("%s from pid %u: stopping in order",
			    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", si.ssi_pid);
			daemon_event(d, ROLE_EV_SHUTDOWN);
			break;
		case SIGHUP:
			log_info("SIGHUP: the configuration is read at start only; restart to change it");
			break;
		case SIGCHLD:
			/* hooks are reaped through their pidfd */
			break;
		}
	}
}

static void daemon_loop_min(uint64_t *next, uint64_t at)
{
	if (at != 0 && at < *next)
		*next = at;
}

static void daemon_loop_arm(struct daemon *d, uint64_t now)
{
	uint64_t next = now + DAEMON_LOOP_MAX_SLEEP_MS;
	struct itimerspec its;

	daemon_loop_min(&next, d->acquire_at);
	daemon_loop_min(&next, d->lease_check_at);
	daemon_loop_min(&next, d->join_check_at);
	if (d->following)
		daemon_loop_min(&next, d->poll_at);
	daemon_loop_min(&next, d->check_at);
	daemon_loop_min(&next, daemon_service_deadline(d));
	daemon_loop_min(&next, d->demote_deadline);
	daemon_loop_min(&next, d->snap_at);
	if (d->cfg->metrics_file[0] != '\0')
		daemon_loop_min(&next, d->metrics_at);
	for (struct daemon_waiter *w = d->waiters; w != NULL; w = w->next)
		daemon_loop_min(&next, w->deadline_ms);
	if (next <= now)
		next = now + 1;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(next / 1000);
	its.it_value.tv_nsec = (long)(next % 1000) * 1000000L;
	timerfd_settime(d->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void daemon_loop_ticks(struct daemon *d)
{
	uint64_t now = daemon_now_ms();

	daemon_lease_tick(d, now);
	daemon_run_events(d);
	daemon_follow_tick(d, now);
	daemon_service_tick(d, now);
	daemon_run_events(d);
	daemon_snapshot_tick(d, now);
	daemon_dump_tick(d, now);
	daemon_requests_promote_check(d, now);
	daemon_status_metrics_tick(d, now);
}

int daemon_loop_run(struct daemon *d)
{
	struct epoll_event evs[16];
	uint64_t count;

	daemon_run_events(d);
	while (!d->quit) {
		daemon_loop_arm(d, daemon_now_ms());
		int n = epoll_wait(d->epfd, evs, 16, DAEMON_LOOP_MAX_SLEEP_MS);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case DAEMON_TAG_SIGNAL:
				daemon_loop_signals(d);
				break;
			case DAEMON_TAG_TIMER:
				while (read(d->timerfd, &count, sizeof(count)) > 0)
					;
				break;
			case DAEMON_TAG_WAKE:
				while (read(d->wakefd, &count, sizeof(count)) > 0)
					;
				daemon_follow_woken(d);
				if (atomic_load(&d->commit_failed) && d->role.role == ROLE_ACTIVE) {
					atomic_store(&d->commit_failed, false);
					daemon_event(d, ROLE_EV_COMMIT_FAILED);
				}
				daemon_snapshot_reap(d);
				break;
			case DAEMON_TAG_CONTROL:
				if (d->ctl != NULL && control_handle_events(d->ctl) < 0)
					log_warnx("control socket: the server failed; requests are not served");
				break;
			case DAEMON_TAG_JOIN:
				daemon_lease_joined_fd(d);
				break;
			case DAEMON_TAG_HOOK_OUT:
				daemon_service_output(d);
				break;
			case DAEMON_TAG_HOOK_PID:
				daemon_service_reaped(d);
				break;
			}
			daemon_run_events(d);
			if (d->quit)
				break;
		}
		if (!d->quit)
			daemon_loop_ticks(d);
	}
	return 0;
}

void daemon_lock_init(pthread_mutex_t *lock, pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(lock, NULL);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

void daemon_deadline(struct timespec *ts, long long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}
