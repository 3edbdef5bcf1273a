/*
 * t_daemon_demote: demote_timeout bounds a graceful demote.  Two hosts
 * whose hook_stop ignores SIGTERM and never ends, with its own escalation
 * far away (hook_timeout 30 s + hook_kill_grace 5 s) and demote_timeout
 * 2 s: `ssfm demote` on the active must still release the lease once
 * demote_timeout has passed, so the other host takes over long before
 * hook_stop's escalation would have ended it.  The old active logs it,
 * hook_stop's processes are gone, and it goes back to STANDBY.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define DEMOTE_TIMEOUT_MS 2000
#define HOOK_TIMEOUT_MS 30000
#define HOOK_KILL_GRACE_MS 5000

static struct dgroup g;

static pid_t read_pid(const char *path)
{
	char *text = tu_read_file(path, NULL);
	long pid = text != NULL ? strtol(text, NULL, 10) : 0;

	free(text);
	return (pid_t)pid;
}

int main(void)
{
	const char script_text[] = "# hook_stop for t_daemon_demote: ignores SIGTERM, never ends\n"
	    "trap '' TERM\n"
	    "echo $$ > \"$1/stop.pid\"\n"
	    "while :; do sleep 1; done\n";
	char script[PATH_MAX], pid_file[PATH_MAX + 16];
	ssfm_client *c = NULL;
	uint64_t t0, took;
	char *log;
	pid_t hook_pid;
	int a, b, rc;

	dg_setup(&g, 2, "ddemote");
	snprintf(script, sizeof(script), "%s/stop.sh", g.hs.tmp);
	if (tu_write_file(script, script_text, strlen(script_text)) < 0)
		tap_bail("cannot write %s", script);
	for (int i = 1; i <= g.n; i++)
		dg_conf(&g, i, "hook_stop = /bin/sh %s %s", script, g.hs.host[i].dir);
	dg_conf(&g, 0, "hook_timeout = %d", HOOK_TIMEOUT_MS);
	dg_conf(&g, 0, "hook_kill_grace = %d", HOOK_KILL_GRACE_MS);
	dg_conf(&g, 0, "demote_timeout = %d", DEMOTE_TIMEOUT_MS);
	dg_start_all(&g);

	a = dg_wait_active(&g, 0, 60000);
	ok(a > 0, "host%d becomes ACTIVE", a);
	if (a <= 0)
		goto out;
	b = 3 - a;
	ok(dg_wait_role(&g, b, "STANDBY", 30000), "host%d is STANDBY", b);

	t0 = tu_now_ms();
	rc = ssfm_connect(g.d[a].sock, &c);
	if (rc == SSFM_OK)
		rc = ssfm_demote(c);
	ssfm_close(c);
	is_int(rc, SSFM_OK, "ssfm demote on host%d is accepted", a);
	ok(dg_wait_active(&g, a, 20000) == b, "host%d takes over although host%d's hook_stop "
	    "never ends", b, a);
	took = tu_now_ms() - t0;
	ok(took >= DEMOTE_TIMEOUT_MS - 200,
	    "the demote waited for hook_stop up to demote_timeout (%llu ms, demote_timeout %d ms)",
	    (unsigned long long)took, DEMOTE_TIMEOUT_MS);
	ok(took < HOOK_TIMEOUT_MS,
	    "... and released the lease long before hook_stop's own escalation (%d + %d ms)",
	    HOOK_TIMEOUT_MS, HOOK_KILL_GRACE_MS);

	log = tu_read_file(g.d[a].log, NULL);
	ok(log != NULL && strstr(log, "still running after demote_timeout") != NULL &&
	    strstr(log, "releasing the lease") != NULL,
	    "host%d logs that hook_stop outlived demote_timeout and the lease is released anyway", a);
	if (log == NULL || strstr(log, "still running after demote_timeout") == NULL)
		dg_file_tail(g.d[a].log, 3000);
	free(log);

	snprintf(pid_file, sizeof(pid_file), "%s/stop.pid", g.hs.host[a].dir);
	hook_pid = read_pid(pid_file);
	ok(hook_pid > 0, "hook_stop ran on host%d (pid %d)", a, (int)hook_pid);
	ok(hook_pid > 0 && kill(hook_pid, 0) < 0 && errno == ESRCH,
	    "hook_stop's process is gone (SIGKILL to its process group)");
	ok(dg_wait_role(&g, a, "STANDBY", 10000), "host%d is STANDBY again", a);
	ok(dg_running(&g, a), "host%d's ssfmd still runs", a);
out:
	dg_stop(&g);
	return tap_done();
}
