/*
 * daemon_status.c: the status object of proto.h, and the last failover's
 * timeline.
 *
 * The timeline is this host's last takeover: "detected" is when the
 * acquire that won started (a standby tries every DAEMON_ACQUIRE_RETRY_MS,
 * so the lease became free at most that long before), or when a promote
 * asked for it; then lease acquired, caught up (every batch that existed
 * applied), sealed (our seal durable), service started (hook_start ended
 * well, or none configured).  Times are CLOCK_REALTIME ms; each step also
 * has its duration from "detected" (*_after_ms).
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static void daemon_status_step(json_t *o, const char *name, uint64_t at, uint64_t since)
{
	char key[64];

	if (at == 0)
		return;
	json_object_set_new(o, name, json_integer((json_int_t)at));
	snprintf(key, sizeof(key), "%s_after_ms", name);
	json_object_set_new(o, key, json_integer((json_int_t)(at >= since ? at - since : 0)));
}

static json_t *daemon_status_failover(const struct daemon *d)
{
	const struct daemon_failover *f = &d->failover;
	json_t *o = json_object();

	if (f->detected_ms == 0)
		return o;
	json_object_set_new(o, "reason", json_string(f->reason));
	json_object_set_new(o, "epoch", json_integer((json_int_t)f->epoch));
	json_object_set_new(o, "seal_seq", json_integer((json_int_t)f->seq));
	json_object_set_new(o, "previous_active", json_string(f->previous));
	json_object_set_new(o, "detected", json_integer((json_int_t)f->detected_ms));
	daemon_status_step(o, "lease_acquired", f->lease_acquired_ms, f->detected_ms);
	daemon_status_step(o, "caught_up", f->caught_up_ms, f->detected_ms);
	daemon_status_step(o, "sealed", f->sealed_ms, f->detected_ms);
	daemon_status_step(o, "service_started", f->service_started_ms, f->detected_ms);
	return o;
}

json_t *daemon_status_json(struct daemon *d)
{
	struct store_info info;
	struct fence_health h;
	const char *active = daemon_active_host(d);
	json_t *o = json_object();

	store_info(d->st, &info);
	json_object_set_new(o, "group", json_string(d->cfg->group));
	json_object_set_new(o, "host", json_string(d->cfg->host));
	json_object_set_new(o, "host_id", json_integer(d->cfg->host_id));
	json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
	json_object_set_new(o, "role", json_string(role_name(d->role.role)));
	json_object_set_new(o, "role_since", json_integer((json_int_t)d->role_since_ms));
	json_object_set_new(o, "auto_promote", json_boolean(d->cfg->auto_promote));
	json_object_set_new(o, "accepting_writes", json_boolean(d->accepting));
	json_object_set_new(o, "epoch", json_integer((json_int_t)(d->epoch ? d->epoch : info.epoch)));
	json_object_set_new(o, "committed_seq", json_integer((json_int_t)info.committed_seq));
	json_object_set_new(o, "applied_seq", json_integer((json_int_t)info.applied_seq));
	json_object_set_new(o, "lag_seq", json_integer((json_int_t)(d->role.role == ROLE_ACTIVE ?
	    0 : d->lag_seq)));
	json_object_set_new(o, "lag_ms", json_integer((json_int_t)(d->role.role == ROLE_ACTIVE ?
	    0 : d->lag_ms)));
	json_object_set_new(o, "keys", json_integer((json_int_t)info.keys));
	json_object_set_new(o, "digest", json_integer((json_int_t)info.digest));
	json_object_set_new(o, "snapshot_seq", json_integer((json_int_t)info.snapshot_seq));
	json_object_set_new(o, "snapshots_written", json_integer((json_int_t)d->snapshots_written));
	json_object_set_new(o, "digest_mismatches", json_integer((json_int_t)d->digest_mismatches));
	json_object_set_new(o, "lease_holder", d->lease_holder[0] ? json_string(d->lease_holder) :
	    json_null());
	json_object_set_new(o, "active_host", active ? json_string(active) : json_null());
	if (d->role.lease_held && fence_lease_health(d->fence, &h, NULL) == 0)
		json_object_set_new(o, "lease_left_ms", json_integer((json_int_t)h.left_ms));
	json_object_set_new(o, "service", json_string(d->service_up ? "started" : "stopped"));
	if (info.blocked)
		json_object_set_new(o, "blocked", json_string(info.blocked_msg[0] ?
		    info.blocked_msg : info.blocked_file));
	json_object_set_new(o, "writes_in_flight",
	    json_integer((json_int_t)atomic_load(&d->writes_in_flight)));
	json_object_set_new(o, "connections", json_integer(d->ctl ? control_connections(d->ctl) : 0));
	json_object_set_new(o, "failover", daemon_status_failover(d));
	return o;
}

void daemon_status_log_failover(struct daemon *d)
{
	const struct daemon_failover *f = &d->failover;

	if (f->detected_ms == 0)
		return;
	log_info("failover to %s (%s, epoch %" PRIu64 ", previous active %s): lease acquired "
	    "+%" PRIu64 " ms, caught up +%" PRIu64 " ms, sealed +%" PRIu64 " ms, service started +%"
	    PRIu64 " ms", d->cfg->host, f->reason, f->epoch, f->previous[0] ? f->previous : "none",
	    f->lease_acquired_ms - f->detected_ms,
	    f->caught_up_ms ? f->caught_up_ms - f->detected_ms : 0,
	    f->sealed_ms ? f->sealed_ms - f->detected_ms : 0,
	    f->service_started_ms - f->detected_ms);
}

/*
 * metrics_file: the status object, one line of JSON, rewritten every
 * metrics_interval through a temporary name and rename(2), so a reader
 * never sees half a file.  Not fsync'd: it is rewritten soon anyway.
 */
static int daemon_status_write_metrics(struct daemon *d)
{
	char tmp[4200];
	json_t *o = daemon_status_json(d);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t len, off = 0;
	int fd, rc = 0;

	json_decref(o);
	if (text == NULL)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg->metrics_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	len = strlen(text);
	text[len++] = '\n';
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	if (rc == 0 && rename(tmp, d->cfg->metrics_file) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
out:
	free(text);
	return rc;
}

void daemon_status_metrics_tick(struct daemon *d, uint64_t now)
{
	int rc;

	if (d->cfg->metrics_file[0] == '\0' || now < d->metrics_at)
		return;
	d->metrics_at = now + (uint64_t)d->cfg->metrics_interval;
	rc = daemon_status_write_metrics(d);
	if (rc < 0 && !d->metrics_failed)
		log_warnx("metrics_file %s: %s", d->cfg->metrics_file, strerror(-rc));
	d->metrics_failed = rc < 0;
}
