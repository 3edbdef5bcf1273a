/*
 * t_daemon_digest: a standby whose state differs from the writer's reloads
 * from the snapshot, end to end.  The standby is stopped (SIGSTOP) before a
 * batch it has not applied yet; that batch file is then edited in place
 * with a correct checksum (a different value of the same length: a file
 * that passes every check but whose content is not what the writer
 * applied), and the active writes a snapshot after it.  On SIGCONT the
 * standby applies the edited batch, finds that its state digest differs
 * from the writer's, logs it, counts it in status (digest_mismatches),
 * and reloads: it ends with the writer's value and the writer's digest.
 * No test-only hook in the daemon: only files on the shared storage.
 */
#include "daemonutil.h"
#include "ssfm.h"
#include "storeutil.h"
#include "tap.h"
#include "testutil.h"

#include <jansson.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ORIGINAL "\"written-by-the-active\""
#define EDITED   "\"edited-on-the-storage\""

static struct dgroup g;

struct mismatch_wait {
	int host;
	json_int_t count;
};

static int mismatch_counted(void *arg)
{
	struct mismatch_wait *mw = arg;
	ssfm_client *c = NULL;
	char *text = NULL;
	json_t *o = NULL;
	int rc = ssfm_connect(g.d[mw->host].sock, &c);

	if (rc == SSFM_OK) {
		ssfm_set_timeout(c, 2000);
		rc = ssfm_status(c, &text);
	}
	ssfm_close(c);
	if (rc == SSFM_OK)
		o = json_loads(text, 0, NULL);
	free(text);
	mw->count = json_integer_value(json_object_get(o, "digest_mismatches"));
	json_decref(o);
	return mw->count >= 1;
}

/* Rewrites journal batch seq with `to` in place of the value `from` (same
 * length), keeping its header (and so the writer's digest), with a correct
 * checksum: atomically, through a temporary name. */
static int edit_batch(uint64_t seq, const char *from, const char *to)
{
	struct su_batch b;
	unsigned char *buf = NULL, *out = NULL;
	char why[256], path[PATH_MAX], tmp[PATH_MAX + 16];
	size_t len = 0, out_len = 0;
	int found = 0, rc = -1;

	if (su_batch_read(g.hs.store, seq, &buf, &len, &b, why, sizeof(why)) < 0) {
		tap_diag("reading batch %" PRIu64 ": %s", seq, why);
		return -1;
	}
	for (size_t i = 0; i < b.nrec; i++) {
		if (b.rec[i].value != NULL && b.rec[i].value_len == strlen(from) &&
		    memcmp(b.rec[i].value, from, b.rec[i].value_len) == 0) {
			b.rec[i].value = to;
			found = 1;
		}
	}
	if (!found) {
		tap_diag("batch %" PRIu64 " has no value %s", seq, from);
		goto out;
	}
	out = su_batch_build(&b, 1, &out_len);
	su_journal_path(path, sizeof(path), g.hs.store, seq);
	snprintf(tmp, sizeof(tmp), "%s.edit", path);
	if (out != NULL && tu_write_file(tmp, out, out_len) == 0 && rename(tmp, path) == 0)
		rc = 0;
out:
	su_batch_free(&b);
	free(buf);
	free(out);
	return rc;
}

int main(void)
{
	struct mismatch_wait mw;
	struct dg_status sa, sb;
	ssfm_client *c = NULL;
	char *value = NULL, *log;
	uint64_t v = 0, snap = 0;
	int a, b, rc;

	dg_setup(&g, 2, "ddigest");
	dg_start_all(&g);
	a = dg_wait_active(&g, 0, 60000);
	if (a <= 0)
		tap_bail("no active host");
	b = 3 - a;
	ok(dg_wait_role(&g, b, "STANDBY", 30000), "host%d is STANDBY", b);
	ok(dg_put(&g, a, "digest/warm", "1", NULL, &v) == SSFM_OK && dg_wait_caught_up(&g, a, 10000),
	    "host%d follows host%d", b, a);

	is_int(dg_signal(&g, b, SIGSTOP), 0, "host%d is stopped", b);
	rc = dg_put(&g, a, "digest/edit", ORIGINAL, NULL, &v);
	is_int(rc, SSFM_OK, "host%d writes digest/edit at seq %" PRIu64, a, v);
	rc = ssfm_connect(g.d[a].sock, &c);
	if (rc == SSFM_OK) {
		ssfm_set_timeout(c, 30000);
		rc = ssfm_snapshot(c, &snap);
	}
	ssfm_close(c);
	ok(rc == SSFM_OK && snap >= v, "host%d writes a snapshot at seq %" PRIu64, a, snap);
	rc = edit_batch(v, ORIGINAL, EDITED);
	ok(rc == 0, "batch %" PRIu64 " is edited on the storage, with a correct checksum", v);
	is_int(dg_signal(&g, b, SIGCONT), 0, "host%d continues", b);

	mw.host = b;
	mw.count = 0;
	rc = tu_wait_until(mismatch_counted, &mw, 20000, 50);
	ok(rc, "host%d counts the digest mismatch in status (digest_mismatches %lld)", b,
	    (long long)mw.count);
	is_int(mw.count, 1, "... once");
	log = tu_read_file(g.d[b].log, NULL);
	ok(log != NULL && strstr(log, "reloading from the newest snapshot") != NULL,
	    "host%d logs the mismatch and the reload", b);
	if (log == NULL || strstr(log, "reloading from the newest snapshot") == NULL)
		dg_file_tail(g.d[b].log, 3000);
	free(log);

	ok(dg_put(&g, a, "digest/after", "2", NULL, &v) == SSFM_OK && dg_wait_caught_up(&g, a, 10000),
	    "host%d follows again", b);
	is_int(dg_get(&g, b, "digest/edit", &value, &v), SSFM_OK, "host%d has digest/edit", b);
	ok(value != NULL && strcmp(value, ORIGINAL) == 0,
	    "... with the writer's value (%s), not the edited one", value ? value : "none");
	free(value);
	ok(dg_status(&g, a, &sa, 5000) == 0 && dg_status(&g, b, &sb, 5000) == 0 &&
	    sa.has_digest && sb.has_digest && sa.digest == sb.digest,
	    "host%d's state digest equals the active's", b);
	dg_stop(&g);
	return tap_done();
}
