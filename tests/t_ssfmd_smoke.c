/*
 * t_ssfmd_smoke.c: ssfmd end to end, quickly.  Two simulated hosts
 * (hosts.h), two ssfmd at io_timeout 1 with a short poll_interval:
 *  - exactly one becomes ACTIVE; a put through libssfm is acknowledged and
 *    readable on the standby (its hot copy); the standby refuses writes
 *    naming the active host;
 *  - SIGTERM on the active: it exits 0 and the standby becomes ACTIVE with
 *    the key (the takeover time is reported, bounded only generously);
 *  - SIGKILL on the new active: the restarted host takes over, and the
 *    killed one, restarted while its sanlock still has the lockspace
 *    joined, comes back as a standby;
 *  - ssfmd -n reports every configuration error as FILE:LINE and exits 1;
 *  - a second ssfmd for the same group on the same host refuses to start
 *    and names the running pid.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "hosts.h"
#include "ssfm.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

struct node {
	struct host *h;
	char conf[4200];
	char sock[4200];
	char pidf[4200];
	char log[4200];
	pid_t pid;
};

static struct hosts hs;
static struct node nodes[3];
static char ssfmd_path[PATH_MAX + 64];
static char builddir[PATH_MAX];

static void node_conf(struct node *n, struct host *h)
{
	char text[24576];

	n->h = h;
	snprintf(n->conf, sizeof(n->conf), "%s/ssfm.conf", h->dir);
	snprintf(n->sock, sizeof(n->sock), "%s/s.sock", h->dir);
	snprintf(n->pidf, sizeof(n->pidf), "%s/ssfmd.pid", h->dir);
	snprintf(n->log, sizeof(n->log), "%s/ssfmd.log", h->dir);
	snprintf(text, sizeof(text),
	    "# smoke test, %s\n"
	    "group = %s\n"
	    "host = %s\n"
	    "host_id = %d\n"
	    "store = %s\n"
	    "socket = %s\n"
	    "pid_file = %s\n"
	    "io_timeout = %u\n"
	    "poll_interval = 50ms\n"
	    "journal_retention = 1s\n"
	    "lease_lost_program = %s/fence/ssfm-lease-lost\n"
	    "metrics_file = %s/metrics.prom\n"
	    "metrics_interval = 200ms\n"
	    "log_level = debug\n",
	    h->name, hs.group, h->name, h->id, hs.store, n->sock, n->pidf, hs.io_timeout,
	    builddir, h->dir);
	if (tu_write_file(n->conf, text, strlen(text)) < 0)
		tap_bail("cannot write %s", n->conf);
}

static pid_t node_start(struct node *n)
{
	char *argv[] = { ssfmd_path, "-f", "-c", n->conf, NULL };

	n->pid = host_spawn(n->h, argv, n->log);
	return n->pid;
}

/* The node's role from status, in buf ("" when it does not answer). */
static const char *node_role(struct node *n, char *buf, size_t len)
{
	ssfm_client *c = NULL;
	char *json = NULL;
	json_t *root;

	buf[0] = '\0';
	if (ssfm_connect(n->sock, &c) == 0 && ssfm_status(c, &json) == 0) {
		root = json_loads(json, 0, NULL);
		const char *role = json_string_value(json_object_get(root, "role"));
		if (role == NULL && root != NULL)
			role = json_string_value(json_object_get(json_object_get(root, "status"), "role"));
		snprintf(buf, len, "%s", role ? role : "");
		json_decref(root);
	}
	free(json);
	ssfm_close(c);
	return buf;
}

struct role_wait {
	struct node *n;
	const char *role;
};

static int role_is(void *arg)
{
	struct role_wait *w = arg;
	char buf[32];

	return strcmp(node_role(w->n, buf, sizeof(buf)), w->role) == 0;
}

static int wait_role(struct node *n, const char *role, int timeout_ms)
{
	struct role_wait w = { n, role };

	return tu_wait_until(role_is, &w, timeout_ms, 20);
}

struct one_active {
	int which;
};

static int one_active(void *arg)
{
	struct one_active *oa = arg;
	char a[32], b[32];

	node_role(&nodes[1], a, sizeof(a));
	node_role(&nodes[2], b, sizeof(b));
	if (strcmp(a, "ACTIVE") == 0 && strcmp(b, "STANDBY") == 0)
		oa->which = 1;
	else if (strcmp(b, "ACTIVE") == 0 && strcmp(a, "STANDBY") == 0)
		oa->which = 2;
	else
		oa->which = 0;
	return oa->which;
}

/* The value of key on node n (malloc'd) or NULL. */
static char *node_get(struct node *n, const char *key)
{
	ssfm_client *c = NULL;
	char *value = NULL;
	uint64_t version = 0;

	if (ssfm_connect(n->sock, &c) != 0 || ssfm_get(c, key, &value, &version) != 0) {
		free(value);
		value = NULL;
	}
	ssfm_close(c);
	return value;
}

struct key_wait {
	struct node *n;
	const char *key;
};

static int key_present(void *arg)
{
	struct key_wait *k = arg;
	char *v = node_get(k->n, k->key);
	int found = v != NULL;

	free(v);
	return found;
}

static int node_put(struct node *n, const char *key, const char *json, uint64_t *version,
    char *active, size_t active_len)
{
	ssfm_client *c = NULL;
	int rc;

	rc = ssfm_connect(n->sock, &c);
	if (rc == 0)
		rc = ssfm_put(c, key, json, -1, NULL, version);
	if (active != NULL) {
		const char *a = c ? ssfm_error_active_host(c) : NULL;
		snprintf(active, active_len, "%s", a ? a : "");
	}
	ssfm_close(c);
	return rc;
}

struct watch_seen {
	int k1, k3, in_order;
	uint64_t last_seq;
};

static int watch_event(void *arg, const struct ssfm_event *ev)
{
	struct watch_seen *ws = arg;

	if (ev->seq <= ws->last_seq)
		ws->in_order = 0;
	ws->last_seq = ev->seq;
	if (ev->kind == SSFM_EVENT_PUT && strcmp(ev->key, "k1") == 0)
		ws->k1 = 1;
	if (ev->kind == SSFM_EVENT_PUT && strcmp(ev->key, "k3") == 0)
		ws->k3 = 1;
	return ws->k3;
}

static int metrics_active(void *arg)
{
	char *m = tu_read_file(arg, NULL);
	int good = m != NULL && strstr(m, "\nssfm_role{role=\"ACTIVE\"} 1\n") != NULL &&
	    strstr(m, "\nssfm_last_failover_phase_seconds{phase=\"lease_acquire\"} ") != NULL;

	free(m);
	return good;
}

static int pid_gone(void *arg)
{
	pid_t pid = *(pid_t *)arg;

	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Without -f: the daemon goes to the background, writes its own pid to the
 * pid file, serves, and stops in order on SIGTERM. */
static void check_background(struct node *n)
{
	char *argv[] = { ssfmd_path, "-c", n->conf, NULL };
	char *text, *json = NULL;
	ssfm_client *c = NULL;
	pid_t pid = 0;
	int status;

	status = host_run(n->h, argv, n->log, 20000);
	ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "without -f, ssfmd returns at once (it went to the background)");
	text = tu_read_file(n->pidf, NULL);
	if (text != NULL)
		pid = (pid_t)strtol(text, NULL, 10);
	free(text);
	ok(pid > 0 && kill(pid, 0) == 0, "the pid file names the running daemon (%d)", (int)pid);
	if (pid <= 0)
		return;
	tu_track_pid(pid);
	ok(wait_role(n, "ACTIVE", 60000), "the background daemon serves and becomes ACTIVE alone");
	if (ssfm_connect(n->sock, &c) == 0 && ssfm_status(c, &json) == 0) {
		char want[32];
		snprintf(want, sizeof(want), "\"pid\":%d", (int)pid);
		ok(strstr(json, want) != NULL, "its status reports that pid");
	} else {
		ok(0, "its status reports that pid");
	}
	free(json);
	ssfm_close(c);
	kill(pid, SIGTERM);
	ok(tu_wait_until(pid_gone, &pid, 30000, 20), "SIGTERM stops the background daemon");
	ok(!tu_file_exists(n->pidf), "... and it removes its pid file");
}

static void check_config_errors(void)
{
	char bad[4200], *out = NULL, *err = NULL;
	const char *text =
	    "group = g-x\n"
	    "io_timeout = 1O\n"
	    "auto_promte = yes\n";
	char *argv[] = { ssfmd_path, "-n", "-c", bad, NULL };
	char want1[4300], want2[4300];
	int status;

	snprintf(bad, sizeof(bad), "%s/bad.conf", hs.tmp);
	tu_write_file(bad, text, strlen(text));
	status = tu_capture(argv, NULL, 10000, &out, &err);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1, "ssfmd -n on a bad file exits 1");
	snprintf(want1, sizeof(want1), "%s:2:", bad);
	snprintf(want2, sizeof(want2), "%s:3:", bad);
	ok(err != NULL && strstr(err, want1) != NULL && strstr(err, want2) != NULL &&
	    strstr(err, "host") != NULL,
	    "every error is reported at once, as FILE:LINE (bad number, unknown key, missing keys)");
	if (err != NULL && tap_failed())
		tap_diag("ssfmd -n said: %s", err);
	free(out);
	free(err);
	out = err = NULL;

	char *argv_good[] = { ssfmd_path, "-n", "-v", "-c", nodes[1].conf, NULL };
	status = tu_capture(argv_good, NULL, 10000, &out, &err);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ssfmd -n on a good file exits 0");
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && err != NULL)
		tap_diag("ssfmd -n said: %s", err);
	ok(out != NULL && strstr(out, "poll_interval") != NULL && strstr(out, "lease_lost_program"),
	    "ssfmd -n -v prints the effective configuration");
	free(out);
	free(err);
}

static void check_second_daemon(struct node *running)
{
	char *out = NULL, *err = NULL, want[64];
	char *argv[] = { ssfmd_path, "-f", "-c", running->conf, NULL };
	int status;

	status = tu_capture(argv, (char *const *)host_env(running->h), 20000, &out, &err);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "a second ssfmd for the same group on the same host refuses to start");
	snprintf(want, sizeof(want), "%d", (int)running->pid);
	ok(err != NULL && strstr(err, want) != NULL, "... naming the running daemon's pid %s", want);
	if (err != NULL && !(strstr(err, want) != NULL))
		tap_diag("it said: %s", err);
	free(out);
	free(err);
}

int main(void)
{
	struct store_create_params cp;
	struct store_error serr;
	struct one_active oa = { 0 };
	char role[32], active_name[128];
	uint64_t version = 0, t0;
	char *v;
	int status;

	if (realpath(tu_builddir(), builddir) == NULL)
		tap_bail("build folder %s: %s", tu_builddir(), strerror(errno));
	snprintf(ssfmd_path, sizeof(ssfmd_path), "%s/src/ssfmd", builddir);
	if (access(ssfmd_path, X_OK) != 0)
		tap_bail("%s not built", ssfmd_path);
	hosts_start(&hs, 2, "smoke", 1);
	cp.group = hs.group;
	cp.io_timeout = hs.io_timeout;
	if (store_create(hs.store, &cp, &serr) < 0)
		tap_bail("store_create %s: %s", hs.store, serr.msg);
	node_conf(&nodes[1], &hs.host[1]);
	node_conf(&nodes[2], &hs.host[2]);

	check_config_errors();

	node_start(&nodes[1]);
	node_start(&nodes[2]);
	ok(tu_wait_until(one_active, &oa, 60000, 50), "exactly one host becomes ACTIVE, the other STANDBY");
	if (oa.which == 0)
		tap_bail("no active host; see %s and %s", nodes[1].log, nodes[2].log);
	struct node *act = &nodes[oa.which], *sby = &nodes[3 - oa.which];
	tap_diag("active: %s", act->h->name);

	ok(node_put(act, "k1", "{\"n\":1}", &version, NULL, 0) == 0 && version > 0,
	    "a put on the active is acknowledged (version %llu)", (unsigned long long)version);
	struct key_wait kw = { sby, "k1" };
	ok(tu_wait_until(key_present, &kw, 10000, 10), "the standby's hot copy has the key");
	v = node_get(sby, "k1");
	is_str(v ? v : "(none)", "{\"n\":1}", "the standby reads the value");
	free(v);
	is_int(node_put(sby, "k2", "2", NULL, active_name, sizeof(active_name)), SSFM_ENOTACTIVE,
	    "the standby refuses a write");
	is_str(active_name, act->h->name, "... naming the active host");

	check_second_daemon(sby);

	char metrics[4300];
	snprintf(metrics, sizeof(metrics), "%s/metrics.prom", act->h->dir);
	ok(tu_wait_until(metrics_active, metrics, 5000, 20),
	    "metrics_file holds the role and the failover timeline (Prometheus text)");

	/* Graceful: SIGTERM on the active. */
	t0 = tu_now_ms();
	kill(act->pid, SIGTERM);
	ok(wait_role(sby, "ACTIVE", 20000), "SIGTERM on the active: the standby becomes ACTIVE");
	tap_diag("takeover after SIGTERM: %llu ms (SIGTERM to status ACTIVE)",
	    (unsigned long long)(tu_now_ms() - t0));
	status = tu_kill_wait(act->pid, 0, 30000);
	ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the old active stopped in order and exited 0");
	v = node_get(sby, "k1");
	is_str(v ? v : "(none)", "{\"n\":1}", "the new active has the key");
	free(v);
	ok(node_put(sby, "k3", "[3]", &version, NULL, 0) == 0, "the new active takes writes");

	/* A snapshot on the active, then the old active comes back as a
	 * standby: it loads the snapshot, so what came before it is not in its
	 * memory, and a watch from 0 replays it from the journal files. */
	ssfm_client *c = NULL;
	uint64_t snap = 0;
	ok(ssfm_connect(sby->sock, &c) == 0 && ssfm_snapshot(c, &snap) == 0 && snap > 0,
	    "a snapshot on the active (seq %llu)", (unsigned long long)snap);
	ssfm_close(c);
	node_start(act);
	ok(wait_role(act, "STANDBY", 60000), "the restarted host joins as STANDBY");
	kw.n = act;
	kw.key = "k3";
	ok(tu_wait_until(key_present, &kw, 10000, 10), "... and follows the journal");
	struct watch_seen ws = { 0, 0, 1, 0 };
	c = NULL;
	int wrc = ssfm_connect(act->sock, &c);
	if (wrc == 0)
		wrc = ssfm_watch(c, 0, "k", watch_event, &ws);
	ok(wrc == 0 && ws.k1 && ws.k3 && ws.in_order,
	    "a watch from 0 on that standby streams k1 (before its snapshot) and k3, in order");
	if (wrc != 0)
		tap_diag("watch: %d %s", wrc, c ? ssfm_errmsg(c) : "");
	ssfm_close(c);

	/* SIGKILL of the active: the lease frees at once (its sanlock lives). */
	t0 = tu_now_ms();
	kill(sby->pid, SIGKILL);
	ok(wait_role(act, "ACTIVE", 20000), "after SIGKILL of the active, the standby takes over");
	tap_diag("takeover after SIGKILL: %llu ms (SIGKILL to status ACTIVE)",
	    (unsigned long long)(tu_now_ms() - t0));
	tu_kill_wait(sby->pid, 0, 10000);
	v = node_get(act, "k3");
	is_str(v ? v : "(none)", "[3]", "... holding every acknowledged write");
	free(v);
	node_start(sby);
	ok(wait_role(sby, "STANDBY", 60000),
	    "an ssfmd restarted after SIGKILL (its sanlock still joined) comes back as STANDBY");
	node_role(sby, role, sizeof(role));

	status = tu_kill_wait(act->pid, SIGTERM, 30000);
	ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "SIGTERM on the active again: exit 0");
	status = tu_kill_wait(sby->pid, SIGTERM, 30000);
	ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "SIGTERM on the standby: exit 0");
	/* Under the sanitizers, the daemons' reports land in their logs. */
	for (int i = 1; i <= 2; i++) {
		char *logtext = tu_read_file(nodes[i].log, NULL);
		ok(logtext != NULL && strstr(logtext, "Sanitizer") == NULL &&
		    strstr(logtext, "runtime error") == NULL,
		    "%s's log holds no sanitizer report", nodes[i].h->name);
		free(logtext);
	}
	check_background(&nodes[1]);

	if (tap_failed())
		tap_diag("logs: %s %s", nodes[1].log, nodes[2].log);
	hosts_stop(&hs);
	return tap_done();
}
