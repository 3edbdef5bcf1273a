#include "daemonutil.h"

#include "ssfm.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* How long a started ssfmd may take to answer status. */
#define DG_START_BOUND_MS 30000

/* ---- the group ------------------------------------------------------------ */

void dg_setup(struct dgroup *g, int n, const char *tag)
{
	struct store_create_params p;
	struct store_error err;
	char path[PATH_MAX];

	memset(g, 0, sizeof(*g));
	/* $SSFMD: another daemon binary (a build elsewhere, or under valgrind's
	 * wrapper script) for the same tests. */
	if (getenv("SSFMD") != NULL && getenv("SSFMD")[0] != '\0')
		snprintf(g->ssfmd, sizeof(g->ssfmd), "%s", getenv("SSFMD"));
	else
		snprintf(g->ssfmd, sizeof(g->ssfmd), "%s/src/ssfmd", tu_builddir());
	if (access(g->ssfmd, X_OK) != 0)
		tap_bail("%s not found: build the daemon first (make)", g->ssfmd);
	snprintf(g->lease_lost, sizeof(g->lease_lost), "%s/fence/ssfm-lease-lost", tu_builddir());
	if (realpath(g->lease_lost, path) == NULL)
		tap_bail("%s: %s (build fence/ first)", g->lease_lost, strerror(errno));
	snprintf(g->lease_lost, sizeof(g->lease_lost), "%s", path);
	hosts_start(&g->hs, n, tag, DG_IO_TIMEOUT);
	g->n = n;
	memset(&p, 0, sizeof(p));
	p.group = g->hs.group;
	p.io_timeout = DG_IO_TIMEOUT;
	if (store_create(g->hs.store, &p, &err) < 0)
		tap_bail("store_create %s: %s", g->hs.store, err.msg);
	for (int i = 1; i <= n; i++) {
		struct dhost *d = &g->d[i];
		char dir[sizeof(g->hs.host[i].dir)];

		/* A copy: gcc -O1 cannot tell d's fields from host[i].dir, both in g. */
		memcpy(dir, g->hs.host[i].dir, sizeof(dir));
		d->h = &g->hs.host[i];
		snprintf(d->conf, sizeof(d->conf), "%s/ssfm.conf", dir);
		if (snprintf(d->sock, sizeof(d->sock), "%s/s.sock", dir) >= (int)sizeof(d->sock))
			tap_bail("socket path too long under %s", dir);
		snprintf(d->pid_file, sizeof(d->pid_file), "%s/ssfmd.pid", dir);
		snprintf(d->log, sizeof(d->log), "%s/ssfmd.log", dir);
	}
}

void dg_conf_clear(struct dgroup *g, int i)
{
	for (int k = (i == 0 ? 1 : i); k <= (i == 0 ? g->n : i); k++)
		g->d[k].nlines = 0;
}

void dg_conf(struct dgroup *g, int i, const char *fmt, ...)
{
	for (int k = (i == 0 ? 1 : i); k <= (i == 0 ? g->n : i); k++) {
		struct dhost *d = &g->d[k];
		va_list ap;

		if (d->nlines >= DG_CONF_LINES_MAX)
			tap_bail("dg_conf: too many lines for host%d", k);
		va_start(ap, fmt);
		vsnprintf(d->lines[d->nlines++], sizeof(d->lines[0]), fmt, ap);
		va_end(ap);
	}
}

/* 1 when host i's extra lines set key (then the default line is left out:
 * a key given twice is an error). */
static int dg_sets(const struct dhost *d, const char *key)
{
	size_t n = strlen(key);

	for (int k = 0; k < d->nlines; k++)
		if (strncmp(d->lines[k], key, n) == 0 && (d->lines[k][n] == ' ' || d->lines[k][n] == '='))
			return 1;
	return 0;
}

static int dg_write_conf(struct dgroup *g, int i)
{
	struct dhost *d = &g->d[i];
	FILE *f = fopen(d->conf, "w");
	int rc;

	if (f == NULL) {
		tap_diag("cannot write %s: %s", d->conf, strerror(errno));
		return -1;
	}
	fprintf(f, "# written by tests/daemonutil.c\n");
	fprintf(f, "group = %s\nhost = %s\nhost_id = %d\nstore = %s\n",
	    g->hs.group, d->h->name, d->h->id, g->hs.store);
	fprintf(f, "socket = %s\npid_file = %s\n", d->sock, d->pid_file);
	fprintf(f, "io_timeout = %d\n", DG_IO_TIMEOUT);
	if (!dg_sets(d, "poll_interval"))
		fprintf(f, "poll_interval = 50\n");
	if (!dg_sets(d, "log_level"))
		fprintf(f, "log_level = info\n");
	fprintf(f, "lease_lost_program = %s\n", g->lease_lost);
	for (int k = 0; k < d->nlines; k++)
		fprintf(f, "%s\n", d->lines[k]);
	rc = fclose(f);
	if (rc != 0) {
		tap_diag("cannot write %s: %s", d->conf, strerror(errno));
		return -1;
	}
	return 0;
}

static int dg_answers(void *arg)
{
	void **a = arg;
	struct dgroup *g = a[0];
	int i = *(int *)a[1];
	struct dg_status st;

	if (g->d[i].pid <= 0 || tu_kill_wait(g->d[i].pid, 0, 0) != -1) {
		g->d[i].pid = 0;
		return -1;      /* exited: stop waiting */
	}
	return dg_status(g, i, &st, 1000) == 0;
}

/* The end of a daemon's log as diagnostics: why it did not start. */
static void dg_log_tail(const char *path)
{
	dg_file_tail(path, 2000);
}

void dg_file_tail(const char *path, size_t bytes)
{
	size_t len = 0;
	char *text = tu_read_file(path, &len);
	char *p, *line;

	if (text == NULL)
		return;
	p = len > bytes ? text + len - bytes : text;
	for (line = strtok(p, "\n"); line != NULL; line = strtok(NULL, "\n"))
		tap_diag("  %s", line);
	free(text);
}

int dg_start(struct dgroup *g, int i)
{
	struct dhost *d = &g->d[i];
	char *argv[] = { g->ssfmd, "-f", "-c", d->conf, NULL };
	void *a[2] = { g, &i };
	int rc;

	if (dg_write_conf(g, i) < 0)
		return -1;
	d->pid = host_spawn(d->h, argv, d->log);
	if (d->pid < 0) {
		d->pid = 0;
		tap_diag("cannot start %s for %s", g->ssfmd, d->h->name);
		return -1;
	}
	/* Generous: a daemon under the sanitizers on a busy 2-core machine
	 * has been seen to need more than 10 s to answer its first status. */
	rc = tu_wait_until(dg_answers, a, DG_START_BOUND_MS, 20);
	if (rc != 1) {
		dg_log_tail(d->log);
		tap_diag("ssfmd of %s %s (log %s)", d->h->name,
		    rc < 0 ? "exited at start" : "does not answer status in time", d->log);
		return -1;
	}
	return 0;
}

void dg_start_all(struct dgroup *g)
{
	for (int i = 1; i <= g->n; i++)
		if (dg_start(g, i) < 0)
			tap_bail("cannot start ssfmd on host%d: see %s", i, g->d[i].log);
}

int dg_signal(struct dgroup *g, int i, int sig)
{
	struct dhost *d = &g->d[i];
	int status;

	if (d->pid <= 0)
		return -1;
	if (sig != SIGKILL && sig != SIGTERM) {
		kill(d->pid, sig);
		return 0;
	}
	status = tu_kill_wait(d->pid, sig, sig == SIGKILL ? 10000 : 30000);
	if (status == -1) {
		tap_diag("ssfmd of %s did not exit on signal %d: SIGKILL", d->h->name, sig);
		kill(d->pid, SIGCONT);
		tu_kill_wait(d->pid, SIGKILL, 10000);
	}
	d->pid = 0;
	return status;
}

/* A sanitizer build of ssfmd reports in its log (stderr): look there. */
static void dg_check_logs(struct dgroup *g)
{
	int reports = 0;

	for (int i = 1; i <= g->n; i++) {
		char *text = tu_read_file(g->d[i].log, NULL);

		if (text != NULL && (strstr(text, "Sanitizer") != NULL ||
		    strstr(text, "runtime error:") != NULL)) {
			tap_diag("sanitizer report in %s", g->d[i].log);
			dg_file_tail(g->d[i].log, 3000);
			reports++;
		}
		free(text);
	}
	ok(reports == 0, "no sanitizer report in any ssfmd log");
}

void dg_stop(struct dgroup *g)
{
	for (int i = 1; i <= g->n; i++)
		if (g->d[i].pid > 0) {
			kill(g->d[i].pid, SIGCONT);
			kill(g->d[i].pid, SIGTERM);
		}
	for (int i = 1; i <= g->n; i++)
		if (g->d[i].pid > 0) {
			if (tu_kill_wait(g->d[i].pid, 0, 15000) == -1)
				tu_kill_wait(g->d[i].pid, SIGKILL, 10000);
			g->d[i].pid = 0;
		}
	dg_check_logs(g);
	hosts_stop(&g->hs);
}

/* ---- status --------------------------------------------------------------- */

static void dg_copy_str(char *dst, size_t len, json_t *v)
{
	const char *s = json_string_value(v);

	snprintf(dst, len, "%s", s != NULL ? s : "");
}

static uint64_t dg_u64(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

int dg_status(struct dgroup *g, int i, struct dg_status *st, int timeout_ms)
{
	ssfm_client *c = NULL;
	char *text = NULL;
	json_t *root, *o, *dig;
	json_error_t jerr;
	int rc;

	memset(st, 0, sizeof(*st));
	st->lag_ms = -1;
	st->connections = -1;
	st->journal_looks = -1;
	rc = ssfm_connect(g->d[i].sock, &c);
	if (rc == 0) {
		ssfm_set_timeout(c, timeout_ms);
		rc = ssfm_status(c, &text);
	}
	ssfm_close(c);
	if (rc != 0)
		return rc;
	root = json_loads(text, 0, &jerr);
	free(text);
	if (root == NULL)
		return SSFM_EPROTO;
	o = json_object_get(root, "status");
	if (!json_is_object(o))
		o = root;
	dg_copy_str(st->role, sizeof(st->role), json_object_get(o, "role"));
	dg_copy_str(st->host, sizeof(st->host), json_object_get(o, "host"));
	dg_copy_str(st->active_host, sizeof(st->active_host), json_object_get(o, "active_host"));
	st->epoch = dg_u64(json_object_get(o, "epoch"));
	st->committed_seq = dg_u64(json_object_get(o, "committed_seq"));
	st->applied_seq = dg_u64(json_object_get(o, "applied_seq"));
	if (json_is_integer(json_object_get(o, "lag_ms")))
		st->lag_ms = json_integer_value(json_object_get(o, "lag_ms"));
	if (json_is_integer(json_object_get(o, "connections")))
		st->connections = json_integer_value(json_object_get(o, "connections"));
	if (json_is_integer(json_object_get(o, "journal_looks")))
		st->journal_looks = json_integer_value(json_object_get(o, "journal_looks"));
	dig = json_object_get(o, "digest");
	if (json_is_string(dig)) {
		st->has_digest = 1;
		st->digest = strtoull(json_string_value(dig), NULL, 16);
	} else if (json_is_integer(dig)) {
		st->has_digest = 1;
		st->digest = (uint64_t)json_integer_value(dig);
	}
	json_decref(root);
	return 0;
}

int dg_running(struct dgroup *g, int i)
{
	int status;

	if (g->d[i].pid <= 0)
		return 0;
	status = tu_kill_wait(g->d[i].pid, 0, 0);
	if (status == -1)
		return 1;
	tap_diag("host%d's ssfmd exited (status %#x; log %s)", i, (unsigned)status, g->d[i].log);
	g->d[i].pid = 0;
	return 0;
}

int dg_has_role(struct dgroup *g, int i, const char *role)
{
	struct dg_status st;

	if (!dg_running(g, i))
		return 0;
	return dg_status(g, i, &st, 1000) == 0 && strcasecmp(st.role, role) == 0;
}

struct dg_role_wait {
	struct dgroup *g;
	int i;
	const char *role;
	int not;
	int found;
};

static int dg_role_reached(void *arg)
{
	struct dg_role_wait *w = arg;

	return dg_has_role(w->g, w->i, w->role);
}

int dg_wait_role(struct dgroup *g, int i, const char *role, int timeout_ms)
{
	struct dg_role_wait w = { g, i, role, 0, 0 };

	return tu_wait_until(dg_role_reached, &w, timeout_ms, 20);
}

int dg_find_active(struct dgroup *g)
{
	int found = 0;

	for (int i = 1; i <= g->n; i++)
		if (dg_has_role(g, i, "ACTIVE")) {
			if (found != 0)
				return -1;
			found = i;
		}
	return found;
}

static int dg_one_active(void *arg)
{
	struct dg_role_wait *w = arg;
	int a = dg_find_active(w->g);

	w->found = a;
	return a > 0 && a != w->not;
}

int dg_wait_active(struct dgroup *g, int not, int timeout_ms)
{
	struct dg_role_wait w = { g, 0, "ACTIVE", not, 0 };

	return tu_wait_until(dg_one_active, &w, timeout_ms, 10) ? w.found : 0;
}

struct dg_catch {
	struct dgroup *g;
	uint64_t target;
};

static int dg_all_applied(void *arg)
{
	struct dg_catch *c = arg;

	for (int i = 1; i <= c->g->n; i++) {
		struct dg_status st;

		if (!dg_running(c->g, i))
			continue;
		if (dg_status(c->g, i, &st, 1000) != 0 || st.applied_seq < c->target)
			return 0;
	}
	return 1;
}

int dg_wait_caught_up(struct dgroup *g, int active, int timeout_ms)
{
	struct dg_status st;
	struct dg_catch c = { g, 0 };

	if (dg_status(g, active, &st, 2000) != 0)
		return 0;
	c.target = st.committed_seq > st.applied_seq ? st.committed_seq : st.applied_seq;
	return tu_wait_until(dg_all_applied, &c, timeout_ms, 20);
}

int dg_host_index(const struct dgroup *g, const char *name)
{
	for (int i = 1; name != NULL && i <= g->n; i++)
		if (strcmp(g->hs.host[i].name, name) == 0)
			return i;
	return 0;
}

int dg_put(struct dgroup *g, int i, const char *key, const char *json,
    const char *reqid, uint64_t *version)
{
	ssfm_client *c = NULL;
	int rc = ssfm_connect(g->d[i].sock, &c);

	if (rc == 0) {
		ssfm_set_timeout(c, 5000);
		rc = ssfm_put(c, key, json, SSFM_ANY_VERSION, reqid, version);
	}
	ssfm_close(c);
	return rc;
}

int dg_get(struct dgroup *g, int i, const char *key, char **value,
    uint64_t *version)
{
	ssfm_client *c = NULL;
	int rc = ssfm_connect(g->d[i].sock, &c);

	*value = NULL;
	if (rc == 0) {
		ssfm_set_timeout(c, 5000);
		rc = ssfm_get(c, key, value, version);
	}
	ssfm_close(c);
	return rc;
}

int dg_sanlock_renewal_errors(struct dgroup *g, int i)
{
	char path[PATH_MAX + 16];
	char *text, *p;
	int n = 0;

	snprintf(path, sizeof(path), "%s/sanlock.log", g->hs.host[i].dir);
	text = tu_read_file(path, NULL);
	for (p = text; p != NULL && (p = strstr(p, "renewal error")) != NULL; p++)
		n++;
	for (p = text; p != NULL && (p = strstr(p, "check_our_lease")) != NULL; p++)
		n++;
	free(text);
	return n;
}

int dg_store_digest(struct dgroup *g, uint64_t *digest, uint64_t *applied_seq)
{
	struct store_options opt;
	struct store_error err;
	struct store_info info;
	struct store *st;
	int rc;

	memset(&opt, 0, sizeof(opt));
	opt.read_only = 1;
	rc = store_open(g->hs.store, &opt, &st, &err);
	if (rc < 0) {
		tap_diag("store_open %s: %s", g->hs.store, err.msg);
		return rc;
	}
	store_info(st, &info);
	*digest = info.digest;
	*applied_seq = info.applied_seq;
	store_close(st);
	return 0;
}

/* ---- writers -------------------------------------------------------------- */

/* Write n of thread t: every tenth overwrites the thread's "last" key (so
 * versions must rise per key), the others each have a key of their own. */
static void dw_key(const struct dwriters *w, int t, uint64_t n, char *key, size_t len)
{
	if (n % 10 == 9)
		snprintf(key, len, "%s/t%02d/last", w->prefix, t);
	else
		snprintf(key, len, "%s/t%02d/n%08" PRIu64, w->prefix, t, n);
}

static void dw_value(const struct dwriters *w, int t, uint64_t n, char *val, size_t len)
{
	snprintf(val, len, "{\"p\":\"%s\",\"t\":%d,\"n\":%" PRIu64 "}", w->prefix, t, n);
}

static int dw_failover_code(int rc)
{
	return rc == SSFM_ENOTACTIVE || rc == SSFM_ECONNECT || rc == SSFM_EIO ||
	    rc == SSFM_ETIMEDOUT || rc == SSFM_EUNAVAILABLE || rc == SSFM_EFENCED ||
	    rc == SSFM_EINTERNAL;
}

static void dw_record(struct dw_thread *th, uint64_t n, uint64_t version, uint64_t took)
{
	struct dwriters *w = th->w;
	char key[96];

	th->version[n] = version;
	th->acked++;
	if (took > th->max_ack_ms)
		th->max_ack_ms = took;
	__atomic_add_fetch(&w->acks_total, 1, __ATOMIC_SEQ_CST);
	dw_key(w, th->id, n, key, sizeof(key));
	if (w->log != NULL) {
		pthread_mutex_lock(&w->log_lock);
		fprintf(w->log, "ack %s %" PRIu64 " t%d n%" PRIu64 " %" PRIu64 "ms\n",
		    key, version, th->id, n, took);
		pthread_mutex_unlock(&w->log_lock);
	}
}

static void *dw_main(void *arg)
{
	struct dw_thread *th = arg;
	struct dwriters *w = th->w;
	ssfm_client *c = NULL;
	int target = w->hint;

	while (!w->stop) {
		uint64_t n = th->attempted;
		char key[96], val[128], reqid[96];
		uint64_t t0 = tu_now_ms(), version = 0;
		int done = 0;

		if (n >= th->cap) {
			size_t cap = th->cap ? th->cap * 2 : 4096;
			uint64_t *v = realloc(th->version, cap * sizeof(*v));
			if (v == NULL)
				break;
			memset(v + th->cap, 0, (cap - th->cap) * sizeof(*v));
			th->version = v;
			th->cap = cap;
		}
		dw_key(w, th->id, n, key, sizeof(key));
		dw_value(w, th->id, n, val, sizeof(val));
		snprintf(reqid, sizeof(reqid), "%s-t%d-n%" PRIu64, w->prefix, th->id, n);
		th->attempted++;
		/* Once sent, a write is retried with its request id until it is
		 * acknowledged (even after stop), so its outcome is known. */
		while (!done) {
			int rc;

			if (tu_now_ms() - t0 > (uint64_t)w->write_timeout_ms) {
				th->gave_up++;
				break;
			}
			if (target < 1 || target > w->g->n)
				target = 1;
			if (c == NULL) {
				rc = ssfm_connect(w->g->d[target].sock, &c);
				if (rc != 0) {
					ssfm_close(c);
					c = NULL;
					target = target % w->g->n + 1;
					th->retries++;
					tu_sleep_ms(20);
					continue;
				}
				ssfm_set_timeout(c, 5000);
			}
			rc = ssfm_put(c, key, val, SSFM_ANY_VERSION, reqid, &version);
			if (rc == SSFM_OK) {
				dw_record(th, n, version, tu_now_ms() - t0);
				w->hint = target;
				done = 1;
			} else if (dw_failover_code(rc)) {
				int next = 0;

				if (rc == SSFM_ENOTACTIVE)
					next = dg_host_index(w->g, ssfm_error_active_host(c));
				if (next == 0 || next == target) {
					next = w->hint != target ? w->hint : target % w->g->n + 1;
					tu_sleep_ms(20);
				}
				ssfm_close(c);
				c = NULL;
				target = next;
				th->retries++;
			} else {
				if (th->errors++ == 0)
					snprintf(th->first_error, sizeof(th->first_error),
					    "put %s on host%d: %s: %s", key, target,
					    ssfm_strerror(rc), ssfm_errmsg(c));
				tu_sleep_ms(20);
			}
		}
	}
	ssfm_close(c);
	return NULL;
}

int dw_start(struct dwriters *w, struct dgroup *g, int nthreads,
    const char *prefix, const char *log_path, int write_timeout_ms)
{
	memset(w, 0, sizeof(*w));
	w->g = g;
	w->nthreads = nthreads > DW_THREADS_MAX ? DW_THREADS_MAX : nthreads;
	w->write_timeout_ms = write_timeout_ms > 0 ? write_timeout_ms : 60000;
	w->hint = 1;
	snprintf(w->prefix, sizeof(w->prefix), "%s", prefix);
	pthread_mutex_init(&w->log_lock, NULL);
	if (log_path != NULL) {
		w->log = fopen(log_path, "a");
		if (w->log == NULL)
			tap_diag("cannot open %s: %s", log_path, strerror(errno));
	}
	for (int t = 0; t < w->nthreads; t++) {
		w->t[t].w = w;
		w->t[t].id = t;
		if (pthread_create(&w->t[t].tid, NULL, dw_main, &w->t[t]) != 0) {
			tap_diag("pthread_create: %s", strerror(errno));
			w->stop = 1;
			dw_stop(w);
			return -1;
		}
		w->t[t].started = 1;
	}
	return 0;
}

uint64_t dw_acks(struct dwriters *w)
{
	return __atomic_load_n(&w->acks_total, __ATOMIC_SEQ_CST);
}

struct dw_acks_wait {
	struct dwriters *w;
	uint64_t n;
};

static int dw_acks_reached(void *arg)
{
	struct dw_acks_wait *a = arg;

	return dw_acks(a->w) >= a->n;
}

int dw_wait_acks(struct dwriters *w, uint64_t n, int timeout_ms)
{
	struct dw_acks_wait a = { w, n };

	return tu_wait_until(dw_acks_reached, &a, timeout_ms, 10);
}

void dw_stop(struct dwriters *w)
{
	w->stop = 1;
	for (int t = 0; t < w->nthreads; t++)
		if (w->t[t].started) {
			pthread_join(w->t[t].tid, NULL);
			w->t[t].started = 0;
		}
	if (w->log != NULL) {
		fclose(w->log);
		w->log = NULL;
	}
}

void dw_free(struct dwriters *w)
{
	for (int t = 0; t < w->nthreads; t++) {
		free(w->t[t].version);
		w->t[t].version = NULL;
	}
	pthread_mutex_destroy(&w->log_lock);
}

/* ---- the audit ------------------------------------------------------------ */

struct dw_audit_state {
	struct dwriters *w;
	const char *where;
	int problems;
	uint64_t keys;
	unsigned char *seen[DW_THREADS_MAX];  /* per thread: unique key n seen */
	int last_seen[DW_THREADS_MAX];
};

static int dw_problem(struct dw_audit_state *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int dw_problem(struct dw_audit_state *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (a->problems++ < 20)
		tap_diag("audit %s: %s", a->where, msg);
	return 0;
}

/* The newest acknowledged write of thread t's "last" key, or -1. */
static int64_t dw_last_acked(const struct dw_thread *th)
{
	for (uint64_t n = th->attempted; n-- > 0;)
		if (n % 10 == 9 && th->version[n] != 0)
			return (int64_t)n;
	return -1;
}

static int dw_audit_entry(void *arg, const char *key, const char *value, uint64_t version)
{
	struct dw_audit_state *a = arg;
	struct dwriters *w = a->w;
	json_t *v = json_loads(value, 0, NULL);
	json_int_t t = -1, n = -1;
	const char *p = NULL;
	char want_key[96], want_val[128];
	struct dw_thread *th;
	json_t *want;

	a->keys++;
	if (v == NULL || json_unpack(v, "{s:s,s:I,s:I}", "p", &p, "t", &t, "n", &n) != 0 ||
	    strcmp(p, w->prefix) != 0 || t < 0 || t >= w->nthreads || n < 0) {
		dw_problem(a, "%s holds %s: never written", key, value);
		json_decref(v);
		return 0;
	}
	th = &w->t[t];
	dw_key(w, (int)t, (uint64_t)n, want_key, sizeof(want_key));
	dw_value(w, (int)t, (uint64_t)n, want_val, sizeof(want_val));
	want = json_loads(want_val, 0, NULL);
	if (strcmp(key, want_key) != 0 || (uint64_t)n >= th->attempted || !json_equal(v, want)) {
		dw_problem(a, "%s holds %s: never written", key, value);
	} else if (n % 10 != 9) {
		if (th->version[n] != 0 && th->version[n] != version)
			dw_problem(a, "%s at version %" PRIu64 ", acknowledged as %" PRIu64
			    " (applied twice?)", key, version, th->version[n]);
		a->seen[t][n] = 1;
	} else {
		int64_t last = dw_last_acked(th);

		a->last_seen[t] = 1;
		if (n == last) {
			if (th->version[n] != version)
				dw_problem(a, "%s at version %" PRIu64 ", acknowledged as %" PRIu64,
				    key, version, th->version[n]);
		} else if (n < last) {
			dw_problem(a, "%s holds write %lld, but write %lld was acknowledged later",
			    key, (long long)n, (long long)last);
		} else if (th->version[n] != 0) {
			dw_problem(a, "%s: write %lld acknowledged but not the newest", key, (long long)n);
		} else if (last >= 0 && version <= th->version[last]) {
			dw_problem(a, "%s holds an unacknowledged write at version %" PRIu64
			    " below the acknowledged %" PRIu64, key, version, th->version[last]);
		}
	}
	json_decref(want);
	json_decref(v);
	return 0;
}

static int dw_audit_store_entry(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	char k[STORE_KEY_MAX + 1];
	char *val = strndup(value, value_len);

	snprintf(k, sizeof(k), "%.*s", (int)key_len, key);
	if (val == NULL)
		return 1;
	dw_audit_entry(arg, k, val, version);
	free(val);
	return 0;
}

int dw_audit(struct dwriters *w, int i, uint64_t *keys)
{
	struct dw_audit_state a;
	char where[64], prefix[40];
	long rc;

	memset(&a, 0, sizeof(a));
	a.w = w;
	if (i > 0)
		snprintf(where, sizeof(where), "host%d", i);
	else
		snprintf(where, sizeof(where), "store on disk");
	a.where = where;
	snprintf(prefix, sizeof(prefix), "%s/", w->prefix);
	for (int t = 0; t < w->nthreads; t++) {
		a.seen[t] = calloc(w->t[t].attempted + 1, 1);
		if (a.seen[t] == NULL)
			tap_bail("out of memory");
	}
	if (i > 0) {
		ssfm_client *c = NULL;

		rc = ssfm_connect(w->g->d[i].sock, &c);
		if (rc == 0) {
			ssfm_set_timeout(c, 30000);
			rc = ssfm_list(c, prefix, NULL, 0, dw_audit_entry, &a);
		}
		if (rc < 0)
			tap_diag("audit: list on host%d: %s: %s", i, ssfm_strerror((int)rc), ssfm_errmsg(c));
		ssfm_close(c);
	} else {
		struct store_options opt;
		struct store_error err;
		struct store *st;

		memset(&opt, 0, sizeof(opt));
		opt.read_only = 1;
		rc = store_open(w->g->hs.store, &opt, &st, &err);
		if (rc < 0) {
			tap_diag("audit: store_open %s: %s", w->g->hs.store, err.msg);
		} else {
			rc = store_list(st, prefix, strlen(prefix), NULL, 0, 0,
			    dw_audit_store_entry, &a);
			store_close(st);
		}
	}
	if (rc >= 0) {
		for (int t = 0; t < w->nthreads; t++) {
			struct dw_thread *th = &w->t[t];
			uint64_t prev = 0, prev_last = 0;

			for (uint64_t n = 0; n < th->attempted; n++) {
				if (th->version[n] == 0)
					continue;
				if (th->version[n] <= prev)
					dw_problem(&a, "thread %d: write %" PRIu64 " acknowledged at version %"
					    PRIu64 ", not above its previous %" PRIu64, t, n, th->version[n], prev);
				prev = th->version[n];
				if (n % 10 == 9) {
					if (th->version[n] <= prev_last)
						dw_problem(&a, "thread %d: last key's versions do not rise", t);
					prev_last = th->version[n];
				} else if (!a.seen[t][n]) {
					char key[96];
					dw_key(w, t, n, key, sizeof(key));
					dw_problem(&a, "%s acknowledged at version %" PRIu64 " is missing",
					    key, th->version[n]);
				}
			}
			if (dw_last_acked(th) >= 0 && !a.last_seen[t])
				dw_problem(&a, "thread %d: its last key is missing", t);
		}
	}
	for (int t = 0; t < w->nthreads; t++)
		free(a.seen[t]);
	if (keys != NULL)
		*keys = a.keys;
	if (a.problems > 20)
		tap_diag("audit %s: %d problems in all", where, a.problems);
	return rc < 0 ? -1 : a.problems;
}

int dg_same_state(struct dgroup *g, int *missing)
{
	struct dg_status st[HOSTS_MAX + 1], *first = NULL;
	uint64_t digest = 0, seq = 0;
	int same = 1;

	if (missing != NULL)
		*missing = 0;
	if (dg_store_digest(g, &digest, &seq) != 0)
		same = 0;
	for (int i = 1; i <= g->n; i++) {
		if (!dg_running(g, i) || dg_status(g, i, &st[i], 5000) != 0) {
			if (missing != NULL)
				(*missing)++;
			tap_diag("host%d: not running or not answering", i);
			continue;
		}
		tap_diag("host%d: %s applied_seq %" PRIu64 " digest %016" PRIx64 "%s", i, st[i].role,
		    st[i].applied_seq, st[i].digest, st[i].has_digest ? "" : " (not reported)");
		if (!st[i].has_digest || st[i].applied_seq != seq || st[i].digest != digest)
			same = 0;
		if (first == NULL)
			first = &st[i];
	}
	tap_diag("store on disk: applied_seq %" PRIu64 " digest %016" PRIx64, seq, digest);
	return same && first != NULL;
}

/* ---- load: raw connections and /proc ---------------------------------------- */

int dg_raw_connect(struct dgroup *g, int i)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g->d[i].sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int dg_raw_send(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

int dg_raw_line(int fd, char *buf, size_t len, int timeout_ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
	size_t got = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = tu_now_ms();
		char ch;
		ssize_t n;

		if (poll(&p, 1, now >= end ? 0 : (int)(end - now)) <= 0)
			break;
		n = recv(fd, &ch, 1, 0);
		if (n == 0) {
			if (len > 0)
				buf[got < len ? got : len - 1] = '\0';
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (ch == '\n') {
			buf[got < len ? got : len - 1] = '\0';
			return (int)got;
		}
		if (got + 1 < len)
			buf[got] = ch;
		got++;
	}
	if (len > 0)
		buf[got < len ? got : len - 1] = '\0';
	return -2;
}

/* /proc files say they are empty (st_size 0): read them in one go. */
static char *dg_proc_read(pid_t pid, const char *name)
{
	char path[64];
	static const size_t cap = 16384;
	char *text = malloc(cap);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	f = fopen(path, "re");
	if (f == NULL || text == NULL) {
		if (f != NULL)
			fclose(f);
		free(text);
		return NULL;
	}
	n = fread(text, 1, cap - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

long dg_proc_rss_kb(pid_t pid)
{
	char *text = dg_proc_read(pid, "status"), *p;
	long kb = -1;

	if (text != NULL && (p = strstr(text, "VmRSS:")) != NULL)
		kb = strtol(p + 6, NULL, 10);
	free(text);
	return kb;
}

long dg_proc_cpu_ms(pid_t pid)
{
	char *text = dg_proc_read(pid, "stat"), *p;
	unsigned long long utime, stime;
	long ticks = sysconf(_SC_CLK_TCK);
	long ms = -1;

	/* Fields 14 and 15, counted after the command name's closing paren
	 * (the name may hold spaces). */
	if (text != NULL && (p = strrchr(text, ')')) != NULL &&
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &utime, &stime) == 2 && ticks > 0)
		ms = (long)((utime + stime) * 1000ULL / (unsigned long long)ticks);
	free(text);
	return ms;
}

int dg_proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (dir == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int dg_log_count(struct dgroup *g, int i, const char *needle)
{
	char *text = tu_read_file(g->d[i].log, NULL);
	int n = 0;

	for (char *p = text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	return n;
}
