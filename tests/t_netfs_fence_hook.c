/*
 * t_netfs_fence_hook: the storage fencing hook (fence_hook in ssfm.conf(5)).
 * A host that acquired the lease runs it before catching up, with the
 * previous active's host name, host id and epoch in SSFM_PREVIOUS_HOST,
 * SSFM_PREVIOUS_HOST_ID and SSFM_PREVIOUS_EPOCH; while it fails, the host
 * does not promote: it releases the lease and tries again later (each try
 * a new epoch); once it succeeds, the host takes over with every write.
 *
 * The hook is a small script the test writes: it appends its SSFM_*
 * environment to a record file, and exits 0 only while an "allow" file
 * exists.  Local storage: the CephFS example (scripts/ssfm-fence-cephfs)
 * is tested on a real CephFS by t_cephfs.sh.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct dgroup g;
static char hook[PATH_MAX], record[PATH_MAX], allow[PATH_MAX];

static const char hook_text[] =
    "#!/bin/sh\n"
    "# fence hook of t_netfs_fence_hook: record, then succeed only if allowed\n"
    "{ env | grep '^SSFM_' | sort; echo end; } >> \"$1\"\n"
    "if [ -e \"$2\" ]; then\n"
    "\techo \"fenced $SSFM_PREVIOUS_HOST\"\n"
    "\texit 0\n"
    "fi\n"
    "echo \"cannot fence $SSFM_PREVIOUS_HOST\"\n"
    "exit 1\n";

/* How many runs the record file holds. */
static int runs(void)
{
	char *text = tu_read_file(record, NULL), *p;
	int n = 0;

	for (p = text; p != NULL && (p = strstr(p, "end\n")) != NULL; p += 4)
		n++;
	free(text);
	return n;
}

/* The value of NAME in run number `run` (1-based) of the record, or "". */
static void run_value(int run, const char *name, char *out, size_t len)
{
	char *text = tu_read_file(record, NULL), *p = text, *line;
	size_t nlen = strlen(name);
	int k = 1;

	snprintf(out, len, "%s", "");
	for (line = p != NULL ? strtok(p, "\n") : NULL; line != NULL; line = strtok(NULL, "\n")) {
		if (strcmp(line, "end") == 0) {
			if (++k > run)
				break;
		} else if (k == run && strncmp(line, name, nlen) == 0 && line[nlen] == '=') {
			snprintf(out, len, "%s", line + nlen + 1);
		}
	}
	free(text);
}

struct runs_wait {
	int want;
	int saw_active;                  /* host2 was ACTIVE while waiting */
};

static int runs_reached(void *arg)
{
	struct runs_wait *w = arg;

	if (dg_has_role(&g, 2, "ACTIVE"))
		w->saw_active = 1;
	return runs() >= w->want;
}

int main(void)
{
	char v[128], conf_line[PATH_MAX * 3 + 32];
	uint64_t version[10], e1;
	struct dg_status st;
	struct runs_wait w;
	int acked = 0, held = 0;

	dg_setup(&g, 2, "fhook");
	snprintf(hook, sizeof(hook), "%s/fence-hook", g.hs.tmp);
	snprintf(record, sizeof(record), "%s/fence-record", g.hs.tmp);
	snprintf(allow, sizeof(allow), "%s/fence-allow", g.hs.tmp);
	if (tu_write_file(hook, hook_text, strlen(hook_text)) < 0 || chmod(hook, 0755) < 0 ||
	    tu_write_file(allow, "", 0) < 0)
		tap_bail("cannot write %s", hook);
	snprintf(conf_line, sizeof(conf_line), "fence_hook = %s %s %s", hook, record, allow);
	dg_conf(&g, 0, "%s", conf_line);
	dg_conf(&g, 0, "hook_timeout = 10000");

	/* The first active of a store: no previous one. */
	ok(dg_start(&g, 1) == 0, "host1 starts with a fence hook");
	ok(dg_wait_role(&g, 1, "ACTIVE", 30000), "host1 becomes ACTIVE after its fence hook");
	is_int(runs(), 1, "the hook ran once");
	run_value(1, "SSFM_HOST", v, sizeof(v));
	is_str(v, "host1", "SSFM_HOST is the host that fences");
	run_value(1, "SSFM_PREVIOUS_HOST", v, sizeof(v));
	is_str(v, "", "SSFM_PREVIOUS_HOST is empty on a store never sealed");
	run_value(1, "SSFM_PREVIOUS_EPOCH", v, sizeof(v));
	is_str(v, "0", "SSFM_PREVIOUS_EPOCH is 0 then");
	dg_status(&g, 1, &st, 2000);
	e1 = st.epoch;
	for (int k = 0; k < 10; k++) {
		char key[32];
		snprintf(key, sizeof(key), "fh/%d", k);
		if (dg_put(&g, 1, key, "{\"fh\":1}", NULL, &version[k]) == SSFM_OK)
			acked++;
		else
			version[k] = 0;
	}
	is_int(acked, 10, "host1 acknowledges 10 writes in epoch %" PRIu64, e1);

	/* host2 cannot fence host1: it must not take over. */
	unlink(allow);
	ok(dg_start(&g, 2) == 0 && dg_wait_role(&g, 2, "STANDBY", 30000), "host2 is STANDBY");
	dg_signal(&g, 1, SIGKILL);
	memset(&w, 0, sizeof(w));
	w.want = 3;
	{
		int reached = tu_wait_until(runs_reached, &w, 30000, 20);
		ok(reached, "host2 tries again after its hook failed (%d runs after host1's death)",
		    runs() - 1);
	}
	ok(!w.saw_active, "host2 never became ACTIVE while its fence hook failed");
	ok(dg_has_role(&g, 2, "STANDBY"), "host2 is STANDBY between tries");
	run_value(2, "SSFM_HOST", v, sizeof(v));
	is_str(v, "host2", "SSFM_HOST is host2");
	run_value(2, "SSFM_PREVIOUS_HOST", v, sizeof(v));
	is_str(v, "host1", "SSFM_PREVIOUS_HOST names the previous active");
	run_value(2, "SSFM_PREVIOUS_HOST_ID", v, sizeof(v));
	is_str(v, "1", "SSFM_PREVIOUS_HOST_ID is its host id");
	run_value(2, "SSFM_PREVIOUS_EPOCH", v, sizeof(v));
	is_int(strtoull(v, NULL, 10), e1, "SSFM_PREVIOUS_EPOCH is its epoch");
	{
		char a[32], b[32];

		run_value(2, "SSFM_EPOCH", a, sizeof(a));
		run_value(3, "SSFM_EPOCH", b, sizeof(b));
		ok(strtoull(a, NULL, 10) > e1 && strtoull(b, NULL, 10) > strtoull(a, NULL, 10),
		    "each try holds a new lease (epochs %s, then %s): the lease was released", a, b);
		run_value(3, "SSFM_PREVIOUS_HOST", a, sizeof(a));
		is_str(a, "host1", "a failed try leaves host1 the previous active");
	}
	{
		char *log = tu_read_file(g.d[2].log, NULL);
		ok(log != NULL && strstr(log, "fence_hook failed to fence host1") != NULL,
		    "host2's log says the fence hook failed to fence host1");
		free(log);
	}

	/* Now the hook succeeds: host2 takes over with every write. */
	tu_write_file(allow, "", 0);
	ok(dg_wait_role(&g, 2, "ACTIVE", 30000), "host2 becomes ACTIVE once its fence hook succeeds");
	dg_status(&g, 2, &st, 2000);
	ok(st.epoch > e1, "in a new epoch (%" PRIu64 " > %" PRIu64 ")", st.epoch, e1);
	for (int k = 0; k < 10; k++) {
		char key[32], *val = NULL;
		uint64_t ver = 0;

		snprintf(key, sizeof(key), "fh/%d", k);
		if (version[k] != 0 && dg_get(&g, 2, key, &val, &ver) == SSFM_OK && ver == version[k])
			held++;
		free(val);
	}
	is_int(held, acked, "host2 holds every write host1 acknowledged");
	{
		char *log = tu_read_file(g.d[2].log, NULL);
		ok(log != NULL && strstr(log, "fence_hook: fenced host1") != NULL,
		    "the hook's output is in host2's log");
		free(log);
	}
	dg_stop(&g);
	return tap_done();
}
