/*
 * daemon_status.c: the status object of proto.h, the last failover's
 * timeline, and metrics_file.
 *
 * The timeline is this host's last takeover: "detected" is when the
 * acquire that won started (a standby tries every DAEMON_ACQUIRE_RETRY_MS,
 * so the lease became free at most that long before), or when a promote
 * asked for it; then lease acquired, fence hook (started, ended), caught up
 * (every batch that existed applied), sealed (our seal durable), service
 * started (hook_start ended well, or none configured).  Times are
 * CLOCK_REALTIME ms; each step also has its duration from "detected"
 * (*_after_ms), and "phase_seconds" holds each phase's own length.
 *
 * metrics_file is rendered from the status object itself, through one table
 * that names each metric's field: `ssfm status --json` and the metrics can
 * only disagree by the time between the two reads.
 */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Upper bounds of the histograms' buckets (+Inf follows). */
static const double daemon_status_batch_bounds[] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096,
};
static const double daemon_status_latency_bounds[] = {   /* seconds */
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
};
#define DAEMON_STATUS_NBOUNDS(b) (sizeof(b) / sizeof((b)[0]))

static const char *const daemon_status_hook_names[DAEMON_FAIL_COUNT] = {
	"hook_start", "hook_stop", "hook_check", "fence_hook",
};

static void daemon_status_observe(struct daemon_histogram *h, const double *bounds,
    size_t nbounds, double value, uint64_t sum_units)
{
	size_t i = 0;

	while (i < nbounds && value > bounds[i])
		i++;
	atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->sum, sum_units);
}

void daemon_status_on_commit(void *arg, const struct store_commit_stats *cs)
{
	struct daemon *d = arg;

	daemon_status_observe(&d->batch_size, daemon_status_batch_bounds,
	    DAEMON_STATUS_NBOUNDS(daemon_status_batch_bounds), (double)cs->ops, cs->ops);
	daemon_status_observe(&d->commit_latency, daemon_status_latency_bounds,
	    DAEMON_STATUS_NBOUNDS(daemon_status_latency_bounds), (double)cs->latency_ns / 1e9,
	    cs->latency_ns);
}

/* A bucket bound as Prometheus' "le" label and the JSON key: the shortest
 * text that reads back as the same double. */
static void daemon_status_number(char *out, size_t size, double v)
{
	if (isinf(v)) {
		snprintf(out, size, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, size, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* {"buckets": {"LE": cumulative count, ..., "+Inf": n}, "sum": s, "count": n} */
static json_t *daemon_status_histogram(const struct daemon_histogram *h, const double *bounds,
    size_t nbounds, double sum_scale)
{
	json_t *o = json_object(), *buckets = json_object();
	uint64_t cumulative = 0;
	char le[32];

	for (size_t i = 0; i <= nbounds; i++) {
		cumulative += atomic_load(&h->bucket[i]);
		daemon_status_number(le, sizeof(le), i < nbounds ? bounds[i] : INFINITY);
		json_object_set_new(buckets, le, json_integer((json_int_t)cumulative));
	}
	json_object_set_new(o, "buckets", buckets);
	json_object_set_new(o, "sum", json_real((double)atomic_load(&h->sum) * sum_scale));
	json_object_set_new(o, "count", json_integer((json_int_t)cumulative));
	return o;
}

static void daemon_status_step(json_t *o, const char *name, uint64_t at, uint64_t since)
{
	char key[64];

	if (at == 0)
		return;
	json_object_set_new(o, name, json_integer((json_int_t)at));
	snprintf(key, sizeof(key), "%s_after_ms", name);
	json_object_set_new(o, key, json_integer((json_int_t)(at >= since ? at - since : 0)));
}

static void daemon_status_phase(json_t *o, const char *name, uint64_t from, uint64_t to)
{
	if (from == 0 || to == 0)
		return;
	json_object_set_new(o, name, json_real(to >= from ? (double)(to - from) / 1000.0 : 0.0));
}

/* Phases that add up to the total (detected to service started):
 * lease_acquire from detected; fence_hook, the hook's own run (when
 * configured); catch_up, the rest of the time from the lease to every batch
 * applied; seal; service_start. */
static json_t *daemon_status_phases(const struct daemon_failover *f)
{
	json_t *o = json_object();
	uint64_t fence_ms = f->fence_started_ms && f->fenced_ms > f->fence_started_ms ?
	    f->fenced_ms - f->fence_started_ms : 0;

	daemon_status_phase(o, "lease_acquire", f->detected_ms, f->lease_acquired_ms);
	daemon_status_phase(o, "fence_hook", f->fence_started_ms, f->fenced_ms);
	if (f->lease_acquired_ms != 0 && f->caught_up_ms != 0)
		daemon_status_phase(o, "catch_up", f->lease_acquired_ms + fence_ms,
		    f->caught_up_ms);
	daemon_status_phase(o, "seal", f->caught_up_ms, f->sealed_ms);
	daemon_status_phase(o, "service_start", f->sealed_ms, f->service_started_ms);
	daemon_status_phase(o, "total", f->detected_ms, f->service_started_ms);
	return o;
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
	daemon_status_step(o, "fence_started", f->fence_started_ms, f->detected_ms);
	daemon_status_step(o, "fenced", f->fenced_ms, f->detected_ms);
	daemon_status_step(o, "caught_up", f->caught_up_ms, f->detected_ms);
	daemon_status_step(o, "sealed", f->sealed_ms, f->detected_ms);
	daemon_status_step(o, "service_started", f->service_started_ms, f->detected_ms);
	json_object_set_new(o, "phase_seconds", daemon_status_phases(f));
	return o;
}

/* Files in quarantine/ (never removed automatically: an operator looks). */
static json_t *daemon_status_quarantined(const struct daemon *d)
{
	char path[4200];
	struct dirent *de;
	DIR *dir;
	long long n = 0;

	snprintf(path, sizeof(path), "%s/quarantine", d->cfg->store);
	dir = opendir(path);
	if (dir == NULL)
		return json_null();
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return json_integer(n);
}

json_t *daemon_status_json(struct daemon *d)
{
	struct store_info info;
	struct fence_health h;
	const char *active = daemon_active_host(d);
	json_t *o = json_object(), *hooks = json_object();
	bool lagging = d->role.role != ROLE_ACTIVE;

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
	json_object_set_new(o, "lag_seq", json_integer((json_int_t)(lagging ? d->lag_seq : 0)));
	json_object_set_new(o, "lag_ms", json_integer((json_int_t)(lagging ? d->lag_ms : 0)));
	json_object_set_new(o, "lag_seconds", json_real(lagging ? (double)d->lag_ms / 1000.0 : 0.0));
	json_object_set_new(o, "keys", json_integer((json_int_t)info.keys));
	json_object_set_new(o, "digest", json_integer((json_int_t)info.digest));
	json_object_set_new(o, "snapshot_seq", json_integer((json_int_t)info.snapshot_seq));
	json_object_set_new(o, "snapshots_written", json_integer((json_int_t)d->snapshots_written));
	json_object_set_new(o, "digest_mismatches", json_integer((json_int_t)d->digest_mismatches));
	json_object_set_new(o, "journal_looks", json_integer((json_int_t)d->journal_looks));
	json_object_set_new(o, "lease_holder", d->lease_holder[0] ? json_string(d->lease_holder) :
	    json_null());
	json_object_set_new(o, "active_host", active ? json_string(active) : json_null());
	/* The delta lease is renewed whether or not this host holds "active":
	 * its age says how close sanlock is to acting on this host. */
	if (d->joined && fence_lease_health(d->fence, &h, NULL) == 0) {
		json_object_set_new(o, "lease_renewal_age_seconds",
		    json_real((double)h.age_ms / 1000.0));
		if (d->role.lease_held)
			json_object_set_new(o, "lease_left_ms", json_integer((json_int_t)h.left_ms));
	}
	json_object_set_new(o, "service", json_string(d->service_up ? "started" : "stopped"));
	if (info.blocked)
		json_object_set_new(o, "blocked", json_string(info.blocked_msg[0] ?
		    info.blocked_msg : info.blocked_file));
	json_object_set_new(o, "writes_in_flight",
	    json_integer((json_int_t)atomic_load(&d->writes_in_flight)));
	json_object_set_new(o, "connections", json_integer(d->ctl ? control_connections(d->ctl) : 0));
	json_object_set_new(o, "quarantined_files", daemon_status_quarantined(d));
	json_object_set_new(o, "failovers", json_integer((json_int_t)d->failovers));
	for (size_t i = 0; i < DAEMON_FAIL_COUNT; i++)
		json_object_set_new(hooks, daemon_status_hook_names[i],
		    json_integer((json_int_t)d->hook_failures[i]));
	json_object_set_new(o, "hook_failures", hooks);
	json_object_set_new(o, "batch_size", daemon_status_histogram(&d->batch_size,
	    daemon_status_batch_bounds, DAEMON_STATUS_NBOUNDS(daemon_status_batch_bounds), 1.0));
	json_object_set_new(o, "commit_latency_seconds", daemon_status_histogram(&d->commit_latency,
	    daemon_status_latency_bounds, DAEMON_STATUS_NBOUNDS(daemon_status_latency_bounds), 1e-9));
	json_object_set_new(o, "failover", daemon_status_failover(d));
	return o;
}

void daemon_status_log_failover(struct daemon *d)
{
	const struct daemon_failover *f = &d->failover;

	if (f->detected_ms == 0)
		return;
	log_info("failover to %s (%s, epoch %" PRIu64 ", previous active %s): lease acquired "
	    "+%" PRIu64 " ms, fenced +%" PRIu64 " ms, caught up +%" PRIu64 " ms, sealed +%"
	    PRIu64 " ms, service started +%" PRIu64 " ms", d->cfg->host, f->reason, f->epoch,
	    f->previous[0] ? f->previous : "none",
	    f->lease_acquired_ms - f->detected_ms,
	    f->fenced_ms ? f->fenced_ms - f->detected_ms : 0,
	    f->caught_up_ms ? f->caught_up_ms - f->detected_ms : 0,
	    f->sealed_ms ? f->sealed_ms - f->detected_ms : 0,
	    f->service_started_ms - f->detected_ms);
}

/* ---- metrics_file: the Prometheus text exposition format ------------------ */

enum daemon_metric_kind { METRIC_NUMBER, METRIC_BOOL, METRIC_HISTOGRAM, METRIC_LABELLED,
	METRIC_ROLE, METRIC_INFO };

/*
 * One metric: "ssfm_" + name, from the status object's field (a dotted
 * path one level deep at most), times scale.  A field the status object
 * does not have leaves the metric out (its HELP and TYPE stay).
 * METRIC_LABELLED: one sample per member of the field's object, labelled
 * label="member".
 */
struct daemon_metric {
	const char *name;
	const char *type;
	enum daemon_metric_kind kind;
	const char *field;
	double scale;
	const char *label;
	const char *help;
};

static const struct daemon_metric daemon_metrics[] = {
	{ "info", "gauge", METRIC_INFO, "", 1, NULL,
	  "Always 1; labels name the group and the host." },
	{ "role", "gauge", METRIC_ROLE, "role", 1, "role",
	  "1 for the daemon's current role, 0 for the others." },
	{ "role_since_timestamp_seconds", "gauge", METRIC_NUMBER, "role_since", 0.001, NULL,
	  "When the daemon entered its current role (Unix time)." },
	{ "accepting_writes", "gauge", METRIC_BOOL, "accepting_writes", 1, NULL,
	  "1 while the daemon acknowledges writes (active)." },
	{ "service_up", "gauge", METRIC_BOOL, "service", 1, NULL,
	  "1 while the managed service runs (hook_start ended well)." },
	{ "epoch", "gauge", METRIC_NUMBER, "epoch", 1, NULL,
	  "The lease epoch held, or the last one sealed in the journal." },
	{ "committed_seq", "gauge", METRIC_NUMBER, "committed_seq", 1, NULL,
	  "Last sequence number durable in the journal (as far as this host knows)." },
	{ "applied_seq", "gauge", METRIC_NUMBER, "applied_seq", 1, NULL,
	  "Last sequence number applied to this host's copy." },
	{ "lag_seq", "gauge", METRIC_NUMBER, "lag_seq", 1, NULL,
	  "Operations a standby has yet to apply (0 on the active)." },
	{ "lag_seconds", "gauge", METRIC_NUMBER, "lag_seconds", 1, NULL,
	  "Age of the oldest committed operation a standby has not applied (0 on the active)." },
	{ "keys", "gauge", METRIC_NUMBER, "keys", 1, NULL,
	  "Keys in the store." },
	{ "snapshot_seq", "gauge", METRIC_NUMBER, "snapshot_seq", 1, NULL,
	  "Sequence number of the newest snapshot loaded or written." },
	{ "lease_renewal_age_seconds", "gauge", METRIC_NUMBER, "lease_renewal_age_seconds", 1,
	  NULL, "Time since this host's last delta lease renewal (an upper bound)." },
	{ "lease_left_seconds", "gauge", METRIC_NUMBER, "lease_left_ms", 0.001, NULL,
	  "Time left before sanlock acts on this host's lease (active only; a lower bound)." },
	{ "writes_in_flight", "gauge", METRIC_NUMBER, "writes_in_flight", 1, NULL,
	  "Writes submitted and not yet answered." },
	{ "connections", "gauge", METRIC_NUMBER, "connections", 1, NULL,
	  "Open control socket connections." },
	{ "quarantined_files", "gauge", METRIC_NUMBER, "quarantined_files", 1, NULL,
	  "Files in the store's quarantine/ folder (never removed automatically)." },
	{ "failovers_total", "counter", METRIC_NUMBER, "failovers", 1, NULL,
	  "Takeovers by this host that reached their seal since the daemon started." },
	{ "hook_failures_total", "counter", METRIC_LABELLED, "hook_failures", 1, "hook",
	  "Hook runs that failed (non-zero exit, signal, timeout, or could not start)." },
	{ "digest_mismatches_total", "counter", METRIC_NUMBER, "digest_mismatches", 1, NULL,
	  "Batches whose recorded state digest differed from this host's copy." },
	{ "snapshots_written_total", "counter", METRIC_NUMBER, "snapshots_written", 1, NULL,
	  "Snapshots this daemon wrote." },
	{ "batch_size", "histogram", METRIC_HISTOGRAM, "batch_size", 1, NULL,
	  "Operations per committed batch (group commit)." },
	{ "commit_latency_seconds", "histogram", METRIC_HISTOGRAM, "commit_latency_seconds", 1,
	  NULL, "Time to make a batch durable and pass the lease check." },
	{ "last_failover_timestamp_seconds", "gauge", METRIC_NUMBER, "failover.detected", 0.001,
	  NULL, "When this host's last takeover was detected (Unix time)." },
	{ "last_failover_epoch", "gauge", METRIC_NUMBER, "failover.epoch", 1, NULL,
	  "The epoch this host's last takeover sealed." },
	{ "last_failover_phase_seconds", "gauge", METRIC_LABELLED, "failover.phase_seconds", 1,
	  "phase", "Length of each phase of this host's last takeover." },
};

static const json_t *daemon_status_field(const json_t *st, const char *path)
{
	const char *dot = strchr(path, '.');
	char first[64];

	if (dot == NULL)
		return json_object_get(st, path);
	snprintf(first, sizeof(first), "%.*s", (int)(dot - path), path);
	return json_object_get(json_object_get(st, first), dot + 1);
}

static void prom_value(FILE *out, double v)
{
	char text[40];

	daemon_status_number(text, sizeof(text), v);
	fputs(text, out);
}

/* A label value: backslash, double quote and newline escaped. */
static void prom_label_value(FILE *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			fputs("\\\\", out);
		else if (*v == '"')
			fputs("\\\"", out);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static bool daemon_status_numeric(const json_t *v, double scale, double *out)
{
	if (!json_is_number(v))
		return false;
	*out = json_number_value(v) * scale;
	return true;
}

static void daemon_status_render(FILE *out, const struct daemon_metric *m, const json_t *st)
{
	const json_t *v = daemon_status_field(st, m->field);
	const char *key;
	const json_t *member;
	double x;

	fprintf(out, "# HELP ssfm_%s %s\n# TYPE ssfm_%s %s\n", m->name, m->help, m->name, m->type);
	switch (m->kind) {
	case METRIC_INFO:
		fprintf(out, "ssfm_%s{group=\"", m->name);
		prom_label_value(out, json_string_value(json_object_get(st, "group")));
		fputs("\",host=\"", out);
		prom_label_value(out, json_string_value(json_object_get(st, "host")));
		fputs("\"} 1\n", out);
		break;
	case METRIC_ROLE:
		for (int r = 0; r < ROLE_COUNT; r++) {
			const char *name = role_name((enum role)r);
			fprintf(out, "ssfm_%s{%s=\"", m->name, m->label);
			prom_label_value(out, name);
			fprintf(out, "\"} %d\n", json_is_string(v) &&
			    strcmp(json_string_value(v), name) == 0);
		}
		break;
	case METRIC_BOOL:
		if (json_is_boolean(v))
			fprintf(out, "ssfm_%s %d\n", m->name, json_is_true(v));
		else if (json_is_string(v))
			fprintf(out, "ssfm_%s %d\n", m->name, strcmp(json_string_value(v), "started") == 0);
		break;
	case METRIC_NUMBER:
		if (daemon_status_numeric(v, m->scale, &x)) {
			fprintf(out, "ssfm_%s ", m->name);
			prom_value(out, x);
			fputc('\n', out);
		}
		break;
	case METRIC_LABELLED:
		json_object_foreach((json_t *)v, key, member) {
			if (!daemon_status_numeric(member, m->scale, &x))
				continue;
			fprintf(out, "ssfm_%s{%s=\"", m->name, m->label);
			prom_label_value(out, key);
			fputs("\"} ", out);
			prom_value(out, x);
			fputc('\n', out);
		}
		break;
	case METRIC_HISTOGRAM:
		json_object_foreach(json_object_get(v, "buckets"), key, member) {
			fprintf(out, "ssfm_%s_bucket{le=\"", m->name);
			prom_label_value(out, key);
			fprintf(out, "\"} %" JSON_INTEGER_FORMAT "\n", json_integer_value(member));
		}
		if (daemon_status_numeric(json_object_get(v, "sum"), 1, &x)) {
			fprintf(out, "ssfm_%s_sum ", m->name);
			prom_value(out, x);
			fputc('\n', out);
		}
		fprintf(out, "ssfm_%s_count %" JSON_INTEGER_FORMAT "\n", m->name,
		    json_integer_value(json_object_get(v, "count")));
		break;
	}
}

/* The whole exposition, malloc'd (caller frees), or NULL. */
static char *daemon_status_prometheus(const json_t *st, size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(daemon_metrics) / sizeof(daemon_metrics[0]); i++)
		daemon_status_render(out, &daemon_metrics[i], st);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * Written for node_exporter's textfile collector, which may read at any
 * moment: a temporary name in the same folder, fsync, rename(2).  A
 * collector sees the old file or the new one, never half of one.
 */
static int daemon_status_write_metrics(struct daemon *d)
{
	char tmp[4200];
	json_t *st = daemon_status_json(d);
	size_t len = 0, off = 0;
	char *text = st ? daemon_status_prometheus(st, &len) : NULL;
	int fd, rc = 0;

	json_decref(st);
	if (text == NULL)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg->metrics_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
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
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, d->cfg->metrics_file) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
out:
	free(text);
	return rc;
}

/* Every metrics_interval, and at once when the role changed since the last
 * file (this runs after every pass of the loop's events). */
void daemon_status_metrics_tick(struct daemon *d, uint64_t now)
{
	int rc;

	if (d->cfg->metrics_file[0] == '\0')
		return;
	if (now < d->metrics_at && d->metrics_role == (int)d->role.role + 1)
		return;
	d->metrics_at = now + (uint64_t)d->cfg->metrics_interval;
	d->metrics_role = (int)d->role.role + 1;
	rc = daemon_status_write_metrics(d);
	if (rc < 0 && !d->metrics_failed)
		log_warnx("metrics_file %s: %s", d->cfg->metrics_file, strerror(-rc));
	d->metrics_failed = rc < 0;
}
