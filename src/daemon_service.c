/*
 * daemon_service.c: the managed service's hooks (hooks.h), one at a time.
 *
 * A stop wins over everything: a start or check still running when the
 * service must stop is killed (with its process group), then hook_stop
 * runs.  Without hook_stop the service counts as stopped at once.  The
 * escalation to SIGTERM after hook_timeout and SIGKILL after
 * hook_kill_grace is hooks.c's, driven by daemon_service_tick.
 *
 * hook_check runs every check_interval while ACTIVE; check_failures
 * failures in a row raise check_failed_limit (the active demotes itself).
 *
 * The fence hook runs before catch-up and is waited for here, on the loop:
 * nothing else may happen until it is done (DESIGN.md "Fencing").
 */
#include "daemon.h"

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"

static const char *daemon_service_kind_name(enum daemon_hook_kind k)
{
	switch (k) {
	case DAEMON_HOOK_START: return "hook_start";
	case DAEMON_HOOK_STOP: return "hook_stop";
	case DAEMON_HOOK_CHECK: return "hook_check";
	case DAEMON_HOOK_NONE: break;
	}
	return "hook";
}

int daemon_service_init(struct daemon *d)
{
	struct { const char *value; char ***argv; } cmds[] = {
		{ d->cfg->hook_start, &d->argv_start },
		{ d->cfg->hook_stop, &d->argv_stop },
		{ d->cfg->hook_check, &d->argv_check },
		{ d->cfg->fence_hook, &d->argv_fence },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		*cmds[i].argv = NULL;
		if (cmds[i].value[0] == '\0')
			continue;
		int rc = conf_split_command(cmds[i].value, cmds[i].argv);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void daemon_service_free(struct daemon *d)
{
	if (d->hook != NULL) {
		daemon_unwatch_fd(d, hooks_output_fd(d->hook));
		daemon_unwatch_fd(d, hooks_pidfd(d->hook));
		hooks_free(d->hook);
		d->hook = NULL;
	}
	conf_argv_free(d->argv_start);
	conf_argv_free(d->argv_stop);
	conf_argv_free(d->argv_check);
	conf_argv_free(d->argv_fence);
	d->argv_start = d->argv_stop = d->argv_check = d->argv_fence = NULL;
}

static void daemon_service_env(struct daemon *d, struct hooks_env *env)
{
	env->group = d->cfg->group;
	env->host = d->cfg->host;
	env->socket = d->cfg->socket;
	env->store = d->cfg->store;
	env->epoch = d->epoch;
	env->extra = NULL;
}

static void daemon_service_drop(struct daemon *d)
{
	if (d->hook == NULL)
		return;
	daemon_unwatch_fd(d, hooks_output_fd(d->hook));
	daemon_unwatch_fd(d, hooks_pidfd(d->hook));
	hooks_free(d->hook);
	d->hook = NULL;
	d->hook_kind = DAEMON_HOOK_NONE;
}

static void daemon_service_started(struct daemon *d)
{
	d->service_up = true;
	d->failover.service_started_ms = daemon_wall_ms();
	daemon_status_log_failover(d);
	if (d->argv_check != NULL)
		d->check_at = daemon_now_ms() + (uint64_t)d->cfg->check_interval;
}

static int daemon_service_spawn(struct daemon *d, enum daemon_hook_kind kind)
{
	char **argv = kind == DAEMON_HOOK_START ? d->argv_start :
	    kind == DAEMON_HOOK_STOP ? d->argv_stop : d->argv_check;
	struct hooks_env env;
	char why[512];
	int rc;

	daemon_service_env(d, &env);
	rc = hooks_start(daemon_service_kind_name(kind), argv, &env, (int)d->cfg->hook_timeout,
	    (int)d->cfg->hook_kill_grace, &d->hook, why, sizeof(why));
	if (rc < 0) {
		log_warnx("%s", why);
		d->hook = NULL;
		if (kind != DAEMON_HOOK_CHECK)   /* the check's caller counts it as ended */
			d->hook_failures[kind == DAEMON_HOOK_START ? DAEMON_FAIL_START : DAEMON_FAIL_STOP]++;
		return rc;
	}
	d->hook_kind = kind;
	if (hooks_output_fd(d->hook) >= 0)
		daemon_watch_fd(d, hooks_output_fd(d->hook), DAEMON_TAG_HOOK_OUT);
	daemon_watch_fd(d, hooks_pidfd(d->hook), DAEMON_TAG_HOOK_PID);
	log_info("%s started (pid %d, epoch %" PRIu64 ")", daemon_service_kind_name(kind),
	    (int)hooks_pid(d->hook), d->epoch);
	return 0;
}

/* Starts what is due when no hook runs. */
static void daemon_service_kick(struct daemon *d)
{
	if (d->hook != NULL)
		return;
	if (d->want_stop) {
		d->want_stop = false;
		if (daemon_service_spawn(d, DAEMON_HOOK_STOP) < 0) {
			d->service_up = false;
			daemon_event(d, ROLE_EV_SERVICE_STOPPED);
		}
		return;
	}
	if (d->want_start) {
		d->want_start = false;
		if (daemon_service_spawn(d, DAEMON_HOOK_START) < 0)
			daemon_event(d, ROLE_EV_SERVICE_START_FAILED);
	}
}

void daemon_service_start(struct daemon *d)
{
	d->checks_failed = 0;
	if (d->argv_start == NULL) {
		daemon_service_started(d);
		return;
	}
	d->want_start = true;
	daemon_service_kick(d);
}

void daemon_service_stop(struct daemon *d)
{
	d->want_start = false;
	d->check_at = 0;
	if (d->hook != NULL && d->hook_kind != DAEMON_HOOK_STOP) {
		log_info("%s still running: killed, the service is being stopped",
		    daemon_service_kind_name(d->hook_kind));
		daemon_service_drop(d);
	}
	if (d->argv_stop == NULL) {
		d->service_up = false;
		daemon_event(d, ROLE_EV_SERVICE_STOPPED);
		return;
	}
	if (d->hook != NULL)
		return;	/* a stop is already running; its end reports */
	d->want_stop = true;
	daemon_service_kick(d);
}

void daemon_service_output(struct daemon *d)
{
	if (d->hook == NULL)
		return;
	int fd = hooks_output_fd(d->hook);
	if (hooks_read_output(d->hook, NULL, NULL) == 1 && fd >= 0)
		daemon_unwatch_fd(d, fd);
}

static void daemon_service_ended(struct daemon *d, enum daemon_hook_kind kind, int status,
    const char *how)
{
	bool good = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	if (!good && kind != DAEMON_HOOK_NONE)
		d->hook_failures[kind == DAEMON_HOOK_START ? DAEMON_FAIL_START :
		    kind == DAEMON_HOOK_STOP ? DAEMON_FAIL_STOP : DAEMON_FAIL_CHECK]++;
	if (good)
		log_info("%s: %s", daemon_service_kind_name(kind), how);
	else
		log_warnx("%s: %s", daemon_service_kind_name(kind), how);
	switch (kind) {
	case DAEMON_HOOK_START:
		if (good)
			daemon_service_started(d);
		else
			daemon_event(d, ROLE_EV_SERVICE_START_FAILED);
		break;
	case DAEMON_HOOK_STOP:
		d->service_up = false;
		daemon_event(d, ROLE_EV_SERVICE_STOPPED);
		break;
	case DAEMON_HOOK_CHECK:
		if (good) {
			d->checks_failed = 0;
		} else if (++d->checks_failed >= (unsigned)d->cfg->check_failures) {
			log_warnx("hook_check failed %u times in a row: handing over", d->checks_failed);
			d->checks_failed = 0;
			daemon_event(d, ROLE_EV_CHECK_FAILED_LIMIT);
		}
		if (d->role.role == ROLE_ACTIVE)
			d->check_at = daemon_now_ms() + (uint64_t)d->cfg->check_interval;
		break;
	case DAEMON_HOOK_NONE:
		break;
	}
}

void daemon_service_reaped(struct daemon *d)
{
	enum daemon_hook_kind kind = d->hook_kind;
	char how[256];
	int status = 0, rc;

	if (d->hook == NULL)
		return;
	rc = hooks_reap(d->hook, NULL, NULL, &status);
	if (rc == 0)
		return;
	if (rc < 0)
		snprintf(how, sizeof(how), "could not be reaped");
	else
		hooks_describe(d->hook, status, how, sizeof(how));
	if (rc < 0)
		status = 1 << 8;
	daemon_service_drop(d);
	daemon_service_ended(d, kind, status, how);
	daemon_service_kick(d);
}

uint64_t daemon_service_deadline(struct daemon *d)
{
	return d->hook != NULL ? hooks_next_deadline(d->hook) : 0;
}

/*
 * demote_timeout bounds a graceful demote: the batches in flight (which
 * cannot be abandoned: their writers wait for an answer, so they are waited
 * for in full) and then hook_stop.  A demote that is not done by then
 * releases the lease anyway, so that the group gets an active host:
 * hook_stop (and its process group) gets SIGKILL and the service counts as
 * stopped.  A demote after a lease loss has no lease to release; there
 * hook_stop's own escalation (hook_timeout, hook_kill_grace) bounds it.
 */
static void daemon_service_demote_deadline(struct daemon *d, uint64_t now)
{
	if (d->demote_deadline == 0 || now < d->demote_deadline)
		return;
	d->demote_deadline = 0;
	if (d->role.role != ROLE_DEMOTING || !d->role.lease_held)
		return;
	if (d->hook != NULL && d->hook_kind == DAEMON_HOOK_STOP) {
		log_warnx("demote: hook_stop (pid %d) still running after demote_timeout "
		    "(%lld ms): SIGKILL to its process group; releasing the lease of epoch %"
		    PRIu64 " anyway", (int)hooks_pid(d->hook), d->cfg->demote_timeout, d->epoch);
		kill(-hooks_pid(d->hook), SIGKILL);
		daemon_service_drop(d);
	} else {
		log_warnx("demote: not done after demote_timeout (%lld ms): releasing the lease "
		    "of epoch %" PRIu64 " anyway", d->cfg->demote_timeout, d->epoch);
	}
	d->want_stop = false;
	d->service_up = false;
	daemon_event(d, ROLE_EV_SERVICE_STOPPED);
}

void daemon_service_tick(struct daemon *d, uint64_t now)
{
	daemon_service_demote_deadline(d, now);
	if (d->hook != NULL) {
		uint64_t at = hooks_next_deadline(d->hook);
		if (at != 0 && now >= at)
			hooks_tick(d->hook, now);
		return;
	}
	if (d->check_at != 0 && now >= d->check_at) {
		d->check_at = 0;
		if (d->role.role == ROLE_ACTIVE && d->service_up && d->argv_check != NULL &&
		    daemon_service_spawn(d, DAEMON_HOOK_CHECK) < 0)
			daemon_service_ended(d, DAEMON_HOOK_CHECK, 127 << 8, "could not start");
	}
}

/*
 * The previous active, for the hook to fence: the host that sealed the
 * newest epoch this host has applied.  A standby follows the journal, so
 * that is the active it followed, unless that one sealed an epoch in the
 * last poll_interval before losing the lease (then its predecessor: the
 * store's own fencing, invariant 4, still stops the newer one).  Empty
 * name, id 0 and epoch 0 when the store was never sealed.
 */
int daemon_service_fence(struct daemon *d, const struct store_seal_info *previous)
{
	struct hooks_env env;
	struct hook *h = NULL;
	char why[512], how[256];
	char prev_host[32 + STORE_HOST_MAX], prev_id[48], prev_epoch[48];
	char *extra[] = { prev_host, prev_id, prev_epoch, NULL };
	int status = 0, rc;

	snprintf(prev_host, sizeof(prev_host), "SSFM_PREVIOUS_HOST=%s", previous->host);
	snprintf(prev_id, sizeof(prev_id), "SSFM_PREVIOUS_HOST_ID=%" PRIu32, previous->host_id);
	snprintf(prev_epoch, sizeof(prev_epoch), "SSFM_PREVIOUS_EPOCH=%" PRIu64, previous->epoch);
	daemon_service_env(d, &env);
	env.extra = extra;
	rc = hooks_start("fence_hook", d->argv_fence, &env, (int)d->cfg->hook_timeout,
	    (int)d->cfg->hook_kill_grace, &h, why, sizeof(why));
	if (rc < 0) {
		log_warnx("%s", why);
		d->hook_failures[DAEMON_FAIL_FENCE]++;
		return rc;
	}
	log_info("fence_hook started (pid %d, epoch %" PRIu64 ") to fence %s (host id %" PRIu32
	    ", epoch %" PRIu64 ")", (int)hooks_pid(h), d->epoch,
	    previous->host[0] != '\0' ? previous->host : "no previous active", previous->host_id,
	    previous->epoch);
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = hooks_pidfd(h), .events = POLLIN },
			{ .fd = hooks_output_fd(h), .events = POLLIN },
		};
		uint64_t now = hooks_now_ms(), at = hooks_next_deadline(h);
		int wait = at == 0 ? 1000 : at > now ? (int)(at - now) : 0;
		if (wait > 1000)
			wait = 1000;
		poll(pfd, pfd[1].fd >= 0 ? 2 : 1, wait);
		if (pfd[1].fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP)))
			hooks_read_output(h, NULL, NULL);
		rc = hooks_reap(h, NULL, NULL, &status);
		if (rc != 0)
			break;
		if (at != 0 && hooks_now_ms() >= at)
			hooks_tick(h, hooks_now_ms());
	}
	if (rc > 0)
		hooks_describe(h, status, how, sizeof(how));
	else
		snprintf(how, sizeof(how), "could not be reaped");
	hooks_free(h);
	log_info("fence_hook: %s", how);
	if (rc > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	d->hook_failures[DAEMON_FAIL_FENCE]++;
	return -1;
}
