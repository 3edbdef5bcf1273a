/*
 * t_cli_online: the online commands of ssfm(8) against two real hosts
 * (hosts.h: real sanlock daemons; daemonutil.h: the real ssfmd), run as a
 * user would run them: the ssfm binary, its output and its exit status.
 *
 * status (human and --json) on the active and the standby; put prints the
 * version; get, get --version; del; --expect conflicts (exit 7, current
 * version named); writes on the standby (exit 6, active host named); list
 * paging with --limit/--start/--json; watch sees puts made meanwhile, stops
 * after --count, and ends (exit 5) when its daemon changes role; demote
 * --wait moves the active role and the new active shows the failover
 * timeline; promote on a host with auto_promote = no, and promote --wait
 * timing out (exit 9) while the other host holds the lease; snapshot;
 * bench prints its figures; an unreachable socket (exit 5, path named);
 * the offline/online rule for get and list (-s, $SSFM_SOCKET, store dir).
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define CLI_TIMEOUT_MS 60000

static struct dgroup g;
static char ssfm_bin[4096];
static char *out, *err;

/* Runs ssfm with the arguments given (NULL-terminated) and env (may be
 * NULL); keeps its stdout and stderr in out and err.  Returns the exit
 * status, or -1 if it did not exit normally. */
static int cli_env(char *const env[], ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;

	free(out);
	free(err);
	out = err = NULL;
	argv[n++] = ssfm_bin;
	va_start(ap, env);
	while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	int st = tu_capture(argv, env, CLI_TIMEOUT_MS, &out, &err);
	if (out == NULL)
		out = strdup("");
	if (err == NULL)
		err = strdup("");
	if (st == -1 || !WIFEXITED(st)) {
		tap_diag("ssfm %s %s: did not exit normally (status %d)", argv[1],
		    argv[2] ? argv[2] : "", st);
		return -1;
	}
	if (WEXITSTATUS(st) != 0 && err[0] != '\0')
		tap_diag("stderr: %s", err);
	return WEXITSTATUS(st);
}
#define cli(...) cli_env(NULL, __VA_ARGS__, (char *)NULL)

static int has(const char *text, const char *needle)
{
	int found = text != NULL && strstr(text, needle) != NULL;

	if (!found)
		tap_diag("expected \"%s\" in: %s", needle, text ? text : "(null)");
	return found;
}

static char *sock(int i)
{
	return g.d[i].sock;
}

/* The value of field in the JSON object text (a string field), or "". */
static const char *json_field(const char *text, const char *field, char *buf, size_t len)
{
	json_t *o = json_loads(text, 0, NULL);
	json_t *v = json_object_get(o, field);

	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_null(v))
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, "%s", "");
	json_decref(o);
	return buf;
}

static void check_status(int active, int standby)
{
	char buf[128], line[160];

	is_int(cli("-s", sock(active), "status"), 0, "status on the active: exit 0");
	snprintf(line, sizeof(line), "host:           host%d\n", active);
	ok(has(out, line), "status names the host");
	ok(has(out, "role:           ACTIVE\n"), "status on the active says ACTIVE");
	ok(has(out, "epoch:") && has(out, "committed seq:") && has(out, "applied seq:") &&
	    has(out, "lag:") && has(out, "lease holder:") && has(out, "active host:") &&
	    has(out, "group:"), "status shows group, epoch, seqs, lag, lease holder, active host");
	snprintf(line, sizeof(line), "active host:    host%d\n", active);
	ok(has(out, line), "status on the active names itself as active host");
	ok(has(out, "last failover:"), "status has a last failover line");

	is_int(cli("-s", sock(active), "status", "--json"), 0, "status --json: exit 0");
	is_str(json_field(out, "role", buf, sizeof(buf)), "ACTIVE", "status --json: role");
	snprintf(line, sizeof(line), "host%d", active);
	is_str(json_field(out, "host", buf, sizeof(buf)), line, "status --json: host");
	ok(strchr(out, '\n') == out + strlen(out) - 1, "status --json is one line");

	is_int(cli("-s", sock(standby), "status"), 0, "status on the standby: exit 0");
	ok(has(out, "role:           STANDBY\n"), "status on the standby says STANDBY");
	ok(has(out, line), "status on the standby names the active host");
	is_int(cli("-s", sock(standby), "status", "--json"), 0, "status --json on the standby");
	is_str(json_field(out, "role", buf, sizeof(buf)), "STANDBY", "status --json: STANDBY");
	is_str(json_field(out, "active_host", buf, sizeof(buf)), line,
	    "status --json on the standby: active_host");
}

static void check_writes(int active, int standby)
{
	char v1[32], v2[32], want[256], line[64];

	is_int(cli("-s", sock(active), "put", "cli/a", "{\"n\":1}"), 0, "put: exit 0");
	snprintf(v1, sizeof(v1), "%s", out);
	ok(v1[0] >= '1' && v1[0] <= '9' && strchr(v1, '\n') == v1 + strlen(v1) - 1,
	    "put prints the new version (%s)", v1);
	v1[strcspn(v1, "\n")] = '\0';

	is_int(cli("-s", sock(active), "get", "cli/a"), 0, "get: exit 0");
	is_str(out, "{\"n\":1}\n", "get prints the value as JSON");
	is_int(cli("-s", sock(active), "get", "--version", "cli/a"), 0, "get --version: exit 0");
	snprintf(want, sizeof(want), "{\"key\":\"cli/a\",\"version\":%s,\"value\":{\"n\":1}}\n", v1);
	is_str(out, want, "get --version prints key, version and value");

	is_int(cli("-s", sock(active), "put", "--expect", "0", "cli/a", "2"), 7,
	    "put --expect 0 on an existing key: exit 7 (conflict)");
	snprintf(line, sizeof(line), "current version %s", v1);
	ok(has(err, line), "the conflict names the current version");
	is_int(cli("-s", sock(active), "put", "--expect", v1, "--id", "req-1", "cli/a", "[2]"), 0,
	    "put --expect with the current version: exit 0");
	snprintf(v2, sizeof(v2), "%s", out);
	v2[strcspn(v2, "\n")] = '\0';
	ok(strtoull(v2, NULL, 10) > strtoull(v1, NULL, 10), "the version rose (%s > %s)", v2, v1);
	is_int(cli("-s", sock(active), "put", "--expect", v1, "--id", "req-1", "cli/a", "[2]"), 0,
	    "the same request id again: answered, exit 0");
	snprintf(want, sizeof(want), "%s\n", v2);
	is_str(out, want, "a repeated request id gets the original version");

	/* The standby: reads its hot copy, refuses writes naming the active. */
	snprintf(line, sizeof(line), "host%d", active);
	is_int(cli("-s", sock(standby), "put", "cli/b", "1"), 6, "put on the standby: exit 6");
	ok(has(err, line), "not active names the active host");
	is_int(cli("-s", sock(standby), "del", "cli/a"), 6, "del on the standby: exit 6");
	int caught = 0;
	for (int tries = 0; tries < 100 && !caught; tries++) {
		caught = cli("-s", sock(standby), "get", "cli/a") == 0 && strcmp(out, "[2]\n") == 0;
		if (!caught)
			tu_sleep_ms(50);
	}
	ok(caught, "get on the standby returns the value written on the active");

	is_int(cli("-s", sock(active), "del", "--expect", "1", "cli/a"), 7,
	    "del --expect with a wrong version: exit 7");
	is_int(cli("-s", sock(active), "del", "cli/a"), 0, "del: exit 0");
	ok(out[0] >= '1' && out[0] <= '9', "del prints a sequence number (%s)", out);
	is_int(cli("-s", sock(active), "get", "cli/a"), 1, "get after del: exit 1");
	ok(has(err, "cli/a"), "not found names the key");
	is_int(cli("-s", sock(active), "del", "cli/a"), 1, "del of a missing key: exit 1");
	is_int(cli("-s", sock(active), "put", "cli/x", "{not json"), 2,
	    "put of a value that is not JSON: exit 2");
}

static void check_list(int active)
{
	char key[32], next[64] = "";
	int pages = 0, keys = 0;

	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "page/%02d", i);
		if (dg_put(&g, active, key, "true", NULL, NULL) != SSFM_OK)
			tap_diag("put %s failed", key);
	}
	is_int(cli("-s", sock(active), "list", "page/"), 0, "list PREFIX: exit 0");
	int lines = 0;
	for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	is_int(lines, 25, "list shows the 25 keys, one per line");
	ok(strncmp(out, "page/00\npage/01\n", 16) == 0, "list is in order");
	is_int(cli("-s", sock(active), "list", "--limit", "3", "--start", "page/10", "page/"), 0,
	    "list --limit --start: exit 0");
	is_str(out, "page/10\npage/11\npage/12\n", "list --start is inclusive, --limit bounds");

	for (;;) {
		int rc = next[0] ? cli("-s", sock(active), "list", "--json", "--limit", "10",
		    "--start", next, "page/") :
		    cli("-s", sock(active), "list", "--json", "--limit", "10", "page/");
		json_t *o = json_loads(out, 0, NULL);
		json_t *items = json_object_get(o, "keys"), *nx = json_object_get(o, "next");
		if (rc != 0 || !json_is_array(items)) {
			tap_diag("list --json page %d: exit %d, %s", pages, rc, out);
			json_decref(o);
			break;
		}
		pages++;
		keys += (int)json_array_size(items);
		if (!json_is_string(nx)) {
			json_decref(o);
			break;
		}
		snprintf(next, sizeof(next), "%s", json_string_value(nx));
		json_decref(o);
		if (pages > 10)
			break;
	}
	is_int(pages, 3, "list --json --limit 10 pages 25 keys in 3 pages");
	is_int(keys, 25, "the pages hold every key once");
}

static uint64_t committed_seq(int i)
{
	struct dg_status st;

	return dg_status(&g, i, &st, 5000) == 0 ? st.committed_seq : 0;
}

static void check_watch(int active)
{
	char from[32], log[4096];

	snprintf(from, sizeof(from), "%llu", (unsigned long long)committed_seq(active));
	snprintf(log, sizeof(log), "%s/watch.out", g.hs.tmp);
	char *argv[] = { ssfm_bin, "-s", sock(active), "watch", "--from", from, "--count", "2",
		"w/", NULL };
	pid_t pid = tu_spawn(argv, NULL, log);
	ok(pid > 0, "watch started");
	dg_put(&g, active, "other/x", "1", NULL, NULL);
	dg_put(&g, active, "w/1", "{\"a\":1}", NULL, NULL);
	dg_put(&g, active, "w/2", "2", NULL, NULL);
	int st = pid > 0 ? tu_kill_wait(pid, 0, 20000) : -1;
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "watch --count 2 ends by itself with exit 0 (status %d)", st);
	if (st == -1)
		tu_kill_wait(pid, SIGKILL, 5000);
	char *text = tu_read_file(log, NULL);
	ok(text != NULL && has(text, "{\"event\":\"put\",\"seq\":") &&
	    has(text, "\"key\":\"w/1\",\"value\":{\"a\":1}}\n") &&
	    has(text, "\"key\":\"w/2\",\"value\":2}\n"),
	    "watch printed the two puts under its prefix, one JSON line each");
	ok(text != NULL && strstr(text, "other/x") == NULL, "watch left out other prefixes");
	free(text);
}

static pid_t start_long_watch(int i, const char *log)
{
	char *argv[] = { ssfm_bin, "-s", sock(i), "watch", NULL };

	return tu_spawn(argv, NULL, log);
}

static void check_demote(int *active, int *standby)
{
	char log[4096], line[64];
	int a = *active, s = *standby;

	snprintf(log, sizeof(log), "%s/watch-demote.out", g.hs.tmp);
	pid_t w = start_long_watch(a, log);
	tu_sleep_ms(200);       /* a head start for the watch; it is checked below */
	is_int(cli("-s", sock(a), "demote", "--wait", "--timeout", "30"), 0,
	    "demote --wait on the active: exit 0");
	snprintf(line, sizeof(line), "host%d ", a);
	ok(has(out, line), "demote prints the host and its new role (%s)", out);
	int now = dg_wait_active(&g, a, 30000);
	is_int(now, s, "after demote --wait the other host is active");
	int st = tu_kill_wait(w, 0, 20000);
	ok(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 5,
	    "a watch on the demoted host ends with exit 5 (status %d)", st);
	if (st == -1)
		tu_kill_wait(w, SIGKILL, 5000);
	char *text = tu_read_file(log, NULL);
	ok(text != NULL && has(text, "watch ended"), "the watch says why it ended");
	free(text);

	is_int(cli("-s", sock(s), "status"), 0, "status on the new active");
	ok(has(out, "role:           ACTIVE\n"), "the new active says ACTIVE");
	ok(has(out, "detected") && has(out, "lease acquired  +") && has(out, "caught up       +") &&
	    has(out, "sealed          +") && has(out, "service started +"),
	    "status shows the failover timeline");
	*active = s;
	*standby = a;
}

static void check_manual(int *active, int *standby)
{
	int a, b;

	dg_conf(&g, 0, "auto_promote = no");
	for (int i = 1; i <= g.n; i++)
		dg_signal(&g, i, SIGTERM);
	for (int i = 1; i <= g.n; i++)
		if (dg_start(&g, i) < 0)
			tap_diag("cannot restart host%d", i);
	for (int i = 1; i <= g.n; i++)
		ok(dg_wait_role(&g, i, "STANDBY", 30000), "auto_promote = no: host%d STANDBY", i);
	a = 2;
	b = 1;
	is_int(cli("-s", sock(a), "promote", "--wait", "--timeout", "30"), 0,
	    "promote --wait on host2 (auto_promote = no): exit 0");
	is_str(out, "host2 ACTIVE\n", "promote prints the host and ACTIVE");
	is_int(dg_find_active(&g), a, "host2 is the one ACTIVE host");
	is_int(cli("-s", sock(b), "promote", "--wait", "--timeout", "2"), 9,
	    "promote --wait --timeout 2 while the other host holds the lease: exit 9");
	*active = a;
	*standby = b;
}

static void check_rule(int active)
{
	char env_bad[4200], env_good[4200];
	char *bad[] = { env_bad, NULL }, *good[] = { env_good, NULL };

	snprintf(env_bad, sizeof(env_bad), "SSFM_SOCKET=%s/nosuch.sock", g.hs.tmp);
	snprintf(env_good, sizeof(env_good), "SSFM_SOCKET=%s", sock(active));
	dg_put(&g, active, "rule/k", "\"v\"", NULL, NULL);

	is_int(cli_env(good, "get", "rule/k", (char *)NULL), 0,
	    "get KEY with $SSFM_SOCKET: online, exit 0");
	is_str(out, "\"v\"\n", "... prints the value");
	is_int(cli_env(bad, "get", g.hs.store, "rule/k", (char *)NULL), 0,
	    "get STOREDIR KEY: offline, the socket is not used");
	is_str(out, "\"v\"\n", "... prints the same value from the store");
	is_int(cli_env(bad, "list", g.hs.store, "rule/", (char *)NULL), 0,
	    "list STOREDIR PREFIX: offline");
	is_str(out, "rule/k\n", "... lists the key");
	is_int(cli("-s", sock(active), "get", g.hs.store, "rule/k"), 2,
	    "with -s, get is online even on a store directory: two operands are a usage error");
	is_int(cli_env(bad, "get", "rule/k", (char *)NULL), 5,
	    "get KEY with $SSFM_SOCKET naming no socket: exit 5");
	ok(has(err, "nosuch.sock"), "the message names the socket path");
	is_int(cli_env(bad, "list", (char *)NULL), 5, "list without operand is online: exit 5");
	is_int(cli_env(bad, "get", g.hs.tmp, "rule/k", (char *)NULL), 2,
	    "get DIR KEY on a folder that is no store: online, usage error");
	ok(has(err, "not a store directory"), "... saying the folder is not a store");
}

static void check_misc(int active)
{
	char path[4096];

	is_int(cli("-s", sock(active), "snapshot"), 0, "snapshot: exit 0");
	ok(out[0] >= '0' && out[0] <= '9', "snapshot prints its sequence number (%s)", out);

	is_int(cli("-s", sock(active), "bench", "--clients", "2", "--seconds", "1",
	    "--value-bytes", "64", "--prefix", "b/"), 0, "bench: exit 0");
	ok(has(out, "ops/s") && has(out, "p50") && has(out, "p99 ") && has(out, "p99.9"),
	    "bench prints ops/s and p50/p99/p99.9");
	is_int(cli("-s", sock(active), "list", "b/"), 0, "list after bench");
	is_str(out, "", "bench deleted its keys");

	snprintf(path, sizeof(path), "%s/nosuch.sock", g.hs.tmp);
	is_int(cli("-s", path, "status"), 5, "status on a socket nobody serves: exit 5");
	ok(has(err, path), "the message names the socket path");
	is_int(cli("-s", path, "put", "k", "1"), 5, "put on a socket nobody serves: exit 5");
	is_int(cli("-s", sock(active), "put", "k"), 2, "put without a value: exit 2");
	is_int(cli("-s", sock(active), "bench", "--clients", "0"), 2, "bench --clients 0: exit 2");
	is_int(cli("-s", sock(active), "watch", "--count", "x"), 2, "watch --count x: exit 2");
}

int main(void)
{
	int active, standby;

	unsetenv("SSFM_SOCKET");
	unsetenv("SSFM_GROUP");
	snprintf(ssfm_bin, sizeof(ssfm_bin), "%s/src/ssfm", tu_builddir());
	dg_setup(&g, 2, "clion");
	dg_start_all(&g);
	active = dg_wait_active(&g, 0, 30000);
	ok(active > 0, "one of two hosts becomes active");
	if (active <= 0) {
		dg_stop(&g);
		return tap_done();
	}
	standby = active == 1 ? 2 : 1;
	ok(dg_wait_role(&g, standby, "STANDBY", 30000), "the other is STANDBY");

	check_status(active, standby);
	check_writes(active, standby);
	check_list(active);
	check_watch(active);
	check_rule(active);
	check_misc(active);
	check_demote(&active, &standby);
	check_manual(&active, &standby);

	dg_stop(&g);
	free(out);
	free(err);
	return tap_done();
}
