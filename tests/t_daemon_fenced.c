/*
 * t_daemon_fenced: a write that the store fences, end to end.  While a host
 * is ACTIVE, the seal of a newer epoch lands in the journal at the next
 * sequence number, as a new active's would after taking over (this test
 * writes it with the store's own store_begin_epoch: the storage-level
 * fence holds whatever the lease says).  The active's next batch collides
 * with that seal: the write is not applied, libssfm returns SSFM_EFENCED
 * with the daemon's message naming the seal, and the active steps down.
 * The group recovers (its next lease version is newer than the seal), and
 * the same through the CLI: `ssfm put` exits 8 and says "fenced".
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static struct dgroup g;

/* Seals epoch on the shared store, as a new active would; 0 or -1. */
static int seal_newer_epoch(uint64_t epoch, uint64_t *seq)
{
	struct store_options opt;
	struct store_error err;
	struct store_seal_info seal;
	struct store *st = NULL;
	int rc;

	memset(&opt, 0, sizeof(opt));
	rc = store_open(g.hs.store, &opt, &st, &err);
	if (rc == 0)
		rc = store_begin_epoch(st, epoch, "intruder", 99, &seal, &err);
	if (rc < 0)
		tap_diag("sealing epoch %" PRIu64 " on %s: %s", epoch, g.hs.store, err.msg);
	else
		*seq = seal.start_seq;
	if (st != NULL) {
		store_end_epoch(st);
		store_close(st);
	}
	return rc < 0 ? -1 : 0;
}

struct newer_active {
	uint64_t above;
	int host;
	uint64_t epoch;
};

/* A host ACTIVE with an epoch above na->above. */
static int newer_active_there(void *arg)
{
	struct newer_active *na = arg;

	for (int i = 1; i <= g.n; i++) {
		struct dg_status st;

		if (dg_status(&g, i, &st, 2000) == 0 && strcmp(st.role, "ACTIVE") == 0 &&
		    st.epoch > na->above) {
			na->host = i;
			na->epoch = st.epoch;
			return 1;
		}
	}
	return 0;
}

static int active_with_epoch(int *host, uint64_t *epoch)
{
	struct dg_status st;
	int a = dg_wait_active(&g, 0, 60000);

	if (a <= 0 || dg_status(&g, a, &st, 5000) != 0)
		return -1;
	*host = a;
	*epoch = st.epoch;
	return 0;
}

int main(void)
{
	struct newer_active na;
	ssfm_client *c = NULL;
	char ssfm_bin[PATH_MAX], log_path[PATH_MAX], *value = NULL, *out;
	uint64_t epoch, seal_seq = 0, v = 0;
	int a, rc, status;

	dg_setup(&g, 2, "dfenced");
	dg_start_all(&g);
	if (active_with_epoch(&a, &epoch) < 0)
		tap_bail("no active host");
	ok(dg_put(&g, a, "fence/before", "1", NULL, &v) == SSFM_OK, "host%d takes a write", a);

	/* libssfm */
	rc = seal_newer_epoch(epoch + 1, &seal_seq);
	ok(rc == 0, "epoch %" PRIu64 " is sealed at seq %" PRIu64 " behind host%d's back",
	    epoch + 1, seal_seq, a);
	rc = ssfm_connect(g.d[a].sock, &c);
	if (rc == SSFM_OK) {
		ssfm_set_timeout(c, 10000);
		rc = ssfm_put(c, "fence/lib", "2", SSFM_ANY_VERSION, NULL, &v);
	}
	is_int(rc, SSFM_EFENCED, "libssfm: the next write on host%d fails with SSFM_EFENCED", a);
	ok(strcmp(ssfm_strerror(SSFM_EFENCED), "fenced by a newer active") == 0,
	    "ssfm_strerror names it (\"%s\")", ssfm_strerror(SSFM_EFENCED));
	ok(ssfm_errmsg(c) != NULL && strstr(ssfm_errmsg(c), "fenced") != NULL &&
	    strstr(ssfm_errmsg(c), "seal") != NULL,
	    "the message names the fence: %s", ssfm_errmsg(c) ? ssfm_errmsg(c) : "(none)");
	ssfm_close(c);
	c = NULL;

	na.above = epoch + 1;
	rc = tu_wait_until(newer_active_there, &na, 60000, 100);
	ok(rc, "a host becomes ACTIVE again with an epoch above the seal (host%d, epoch %" PRIu64 ")",
	    na.host, na.epoch);
	is_int(dg_get(&g, na.host, "fence/lib", &value, &v), SSFM_ENOTFOUND,
	    "the fenced write was not applied");
	free(value);
	value = NULL;
	is_int(dg_get(&g, na.host, "fence/before", &value, &v), SSFM_OK,
	    "the write acknowledged before the fence is there");
	free(value);
	value = NULL;

	/* the CLI */
	if (active_with_epoch(&a, &epoch) < 0)
		tap_bail("no active host after the first fence");
	rc = seal_newer_epoch(epoch + 1, &seal_seq);
	ok(rc == 0, "epoch %" PRIu64 " is sealed at seq %" PRIu64 " behind host%d's back",
	    epoch + 1, seal_seq, a);
	snprintf(ssfm_bin, sizeof(ssfm_bin), "%s/src/ssfm", tu_builddir());
	snprintf(log_path, sizeof(log_path), "%s/cli.log", g.hs.tmp);
	{
		char *argv[] = { ssfm_bin, "-s", g.d[a].sock, "put", "fence/cli", "3", NULL };
		status = tu_run(argv, NULL, log_path, 30000);
	}
	ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 8,
	    "ssfm put on host%d exits 8 (fenced) (wait status %#x)", a, (unsigned)status);
	out = tu_read_file(log_path, NULL);
	ok(out != NULL && strstr(out, "fenced") != NULL, "... and says the write was fenced");
	tap_diag("ssfm put said: %s", out != NULL ? out : "(nothing)");
	free(out);
	dg_stop(&g);
	return tap_done();
}
