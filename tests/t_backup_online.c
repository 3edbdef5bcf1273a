/*
 * t_backup_online: backups of a running group (two hosts: real sanlock
 * daemons and the real ssfmd), as an operator makes them.
 *
 *  - the group's store is itself a restore: 25000 keys dumped offline from
 *    another store and restored with `ssfm restore` into the group's
 *    (empty) folder; both daemons load it, and one becomes active, sealing
 *    after the restored sequence number;
 *  - `ssfm dump` against the active and against the standby while writers
 *    run (request ids, every acknowledgement logged with its version): each
 *    dump states a seq S, and holds exactly the acknowledged writes up to S
 *    (every key at its newest version <= S, with that write's value) and
 *    none after, and every restored key untouched; writes were acknowledged
 *    after S too, so the cut was taken while writing went on;
 *  - the online dump restores (`ssfm restore`) into a store that verifies
 *    clean and dumps offline byte for byte as the online dump;
 *  - the dump request itself (proto.h): pages with "next" from one cut
 *    whose seq stays put while writes go on, an unknown cut (not_found),
 *    "from" without "cut" (invalid), at most PROTO_DUMP_CUTS cuts at once
 *    (unavailable), and a cut read to its end is released.
 */
#include "daemonutil.h"
#include "proto.h"
#include "ssfm.h"
#include "tap.h"
#include "testutil.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEED_KEYS 25000
#define CLI_TIMEOUT_MS 120000

static struct dgroup g;
static char ssfm_bin[PATH_MAX], fill_bin[PATH_MAX];

/* Runs ssfm (or argv[0] when given) with its stdout into out_path (may be
 * NULL); returns the exit status or -1.  stderr goes to the TAP log. */
static int run_to(const char *out_path, char *const argv[])
{
	char *out = NULL, *err = NULL;
	int st = tu_capture(argv, NULL, CLI_TIMEOUT_MS, &out, &err);

	if (err != NULL && err[0] != '\0')
		tap_diag("%s %s: stderr: %s", argv[0], argv[1] ? argv[1] : "", err);
	if (out_path != NULL && out != NULL &&
	    tu_write_file(out_path, out, strlen(out)) < 0)
		tap_diag("%s: %s", out_path, strerror(errno));
	free(out);
	free(err);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* ---- the acknowledgement log against a dump -------------------------------- */

struct ack {
	char key[96];
	uint64_t version;
	uint64_t t, n;
};

static struct ack *read_acks(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	struct ack *acks = NULL;
	size_t n = 0, cap = 0;
	char line[512];

	*count = 0;
	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct ack a;
		if (sscanf(line, "ack %95s %" SCNu64 " t%" SCNu64 " n%" SCNu64, a.key, &a.version,
		    &a.t, &a.n) != 4)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			struct ack *grown = realloc(acks, cap * sizeof(*acks));
			if (grown == NULL)
				break;
			acks = grown;
		}
		acks[n++] = a;
	}
	fclose(f);
	*count = n;
	return acks;
}

/*
 * The dump at path against the acknowledgements and the seed: returns the
 * number of problems (each a TAP diagnostic); *seq receives the dump's seq,
 * *after the number of acknowledged writes above it.
 */
static int check_dump(const char *path, const json_t *seed, const struct ack *acks,
    size_t nacks, const char *prefix, uint64_t *seq, size_t *after)
{
	json_error_t jerr;
	json_t *d = json_load_file(path, 0, &jerr);
	json_t *keys = json_object_get(d, "keys"), *item;
	json_t *want = json_object();
	int problems = 0;
	size_t i, plen = strlen(prefix), writer_keys = 0, seed_keys = 0;

	*seq = 0;
	*after = 0;
	if (d == NULL || !json_is_array(keys) || !json_is_integer(json_object_get(d, "seq"))) {
		tap_diag("%s: not a dump: %s", path, d == NULL ? jerr.text : "no keys or seq");
		json_decref(d);
		json_decref(want);
		return 1;
	}
	*seq = (uint64_t)json_integer_value(json_object_get(d, "seq"));
	/* The expected state of the writers' keys at seq: each key's newest
	 * acknowledged version <= seq (every write was acknowledged: no
	 * failover, no write given up). */
	for (size_t k = 0; k < nacks; k++) {
		if (acks[k].version > *seq) {
			(*after)++;
			continue;
		}
		json_t *w = json_object_get(want, acks[k].key);
		if (w == NULL || (uint64_t)json_integer_value(json_array_get(w, 0)) < acks[k].version)
			json_object_set_new(want, acks[k].key, json_pack("[I, I, I]",
			    (json_int_t)acks[k].version, (json_int_t)acks[k].t, (json_int_t)acks[k].n));
	}
	json_array_foreach(keys, i, item) {
		const char *key;
		json_int_t version;
		json_t *value;
		if (json_unpack(item, "{s:s, s:I, s:o}", "key", &key, "version", &version,
		    "value", &value) != 0) {
			tap_diag("%s: entry %zu is malformed", path, i);
			problems++;
			continue;
		}
		if ((uint64_t)version > *seq) {
			tap_diag("%s: %s at version %lld, after the dump's seq %" PRIu64, path, key,
			    (long long)version, *seq);
			problems++;
		}
		if (strncmp(key, prefix, plen) == 0) {
			json_t *w = json_object_get(want, key);
			writer_keys++;
			if (w == NULL) {
				tap_diag("%s: %s (version %lld) was never acknowledged at or before seq %"
				    PRIu64, path, key, (long long)version, *seq);
				problems++;
				continue;
			}
			json_int_t wv = json_integer_value(json_array_get(w, 0));
			json_int_t wt = json_integer_value(json_array_get(w, 1));
			json_int_t wn = json_integer_value(json_array_get(w, 2));
			if (version != wv || json_integer_value(json_object_get(value, "t")) != wt ||
			    json_integer_value(json_object_get(value, "n")) != wn) {
				tap_diag("%s: %s at version %lld, but the newest write acknowledged by seq %"
				    PRIu64 " is version %lld (t%lld n%lld)", path, key, (long long)version,
				    *seq, (long long)wv, (long long)wt, (long long)wn);
				problems++;
			}
			json_object_del(want, key);
		} else {
			json_t *s = json_object_get(seed, key);
			seed_keys++;
			if (s == NULL || !json_equal(s, item)) {
				tap_diag("%s: %s differs from the restored seed", path, key);
				problems++;
			}
		}
	}
	const char *missing;
	json_t *w;
	json_object_foreach(want, missing, w) {
		tap_diag("%s: %s acknowledged at version %lld <= seq %" PRIu64 " is missing", path,
		    missing, (long long)json_integer_value(json_array_get(w, 0)), *seq);
		problems++;
	}
	if (seed_keys != json_object_size(seed)) {
		tap_diag("%s: %zu seed keys, not %zu", path, seed_keys, json_object_size(seed));
		problems++;
	}
	tap_diag("%s: seq %" PRIu64 ", %zu writer keys, %zu seed keys, %zu acknowledgements after seq",
	    path, *seq, writer_keys, seed_keys, *after);
	json_decref(want);
	json_decref(d);
	return problems;
}

/* The seed dump's entries by key. */
static json_t *load_seed(const char *path)
{
	json_t *d = json_load_file(path, 0, NULL), *by_key = json_object(), *item;
	size_t i;

	json_array_foreach(json_object_get(d, "keys"), i, item)
		json_object_set(by_key, json_string_value(json_object_get(item, "key")), item);
	json_decref(d);
	return by_key;
}

/* ---- the dump request on the wire ----------------------------------------- */

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Sends one request line and reads one reply line, parsed (NULL on error). */
static json_t *raw_call(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *raw_call(int fd, const char *fmt, ...)
{
	char req[512], *buf = NULL;
	size_t len = 0, cap = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	strcat(req, "\n");
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return NULL;
	for (;;) {
		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 1 << 20;
			char *grown = realloc(buf, cap);
			if (grown == NULL)
				break;
			buf = grown;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (buf[len - 1] == '\n') {
			json_t *o = json_loadb(buf, len, 0, NULL);
			free(buf);
			return o;
		}
	}
	free(buf);
	return NULL;
}

static const char *error_code(const json_t *reply)
{
	const char *code = json_string_value(json_object_get(json_object_get(reply, "error"),
	    "code"));
	return code ? code : "(none)";
}

static void check_protocol(int active, struct dwriters *w)
{
	int fd = raw_connect(g.d[active].sock);
	json_t *r, *r2;

	ok(fd >= 0, "a raw connection to host%d's socket", active);
	if (fd < 0)
		return;
	uint64_t acks = dw_acks(w);
	r = raw_call(fd, "{\"op\":\"dump\",\"limit\":2}");
	json_int_t cut = json_integer_value(json_object_get(r, "cut"));
	json_int_t seq = json_integer_value(json_object_get(r, "seq"));
	json_int_t count = json_integer_value(json_object_get(r, "count"));
	json_t *items = json_object_get(r, "items");
	ok(json_is_true(json_object_get(r, "ok")) && json_array_size(items) == 2 &&
	    json_integer_value(json_object_get(r, "next")) == 2 && count > SEED_KEYS &&
	    json_is_string(json_object_get(r, "digest")),
	    "dump limit 2: the first page holds 2 items and next 2, with seq, count, digest");
	ok(json_is_string(json_array_get(json_array_get(items, 0), 2)) &&
	    json_integer_value(json_array_get(json_array_get(items, 0), 1)) > 0,
	    "an item is [key, version, value text]");
	ok(dw_wait_acks(w, acks + 50, 30000), "writes go on while the cut is held");
	r2 = raw_call(fd, "{\"op\":\"dump\",\"cut\":%lld,\"from\":2,\"limit\":3}", (long long)cut);
	ok(json_array_size(json_object_get(r2, "items")) == 3 &&
	    json_integer_value(json_object_get(r2, "next")) == 5 &&
	    json_object_get(r2, "seq") == NULL,
	    "the next page of the same cut: 3 items from 2, next 5");
	json_decref(r2);
	r2 = raw_call(fd, "{\"op\":\"dump\",\"cut\":%lld,\"from\":%lld}", (long long)cut,
	    (long long)(count - 1));
	ok(json_array_size(json_object_get(r2, "items")) == 1 &&
	    json_object_get(r2, "next") == NULL,
	    "the last page of the cut: the last key, no next");
	json_decref(r2);
	r2 = raw_call(fd, "{\"op\":\"dump\",\"cut\":%lld,\"from\":0}", (long long)cut);
	is_str(error_code(r2), "not_found", "a cut read to its end is released: not_found");
	json_decref(r2);
	r2 = raw_call(fd, "{\"op\":\"dump\",\"limit\":1}");
	ok(json_integer_value(json_object_get(r2, "seq")) > seq,
	    "a new cut after the writes has a later seq (%lld > %lld)",
	    (long long)json_integer_value(json_object_get(r2, "seq")), (long long)seq);
	json_decref(r2);
	json_decref(r);

	r = raw_call(fd, "{\"op\":\"dump\",\"from\":3}");
	is_str(error_code(r), "invalid", "from without cut: invalid");
	json_decref(r);
	r = raw_call(fd, "{\"op\":\"dump\",\"cut\":999999,\"from\":0}");
	is_str(error_code(r), "not_found", "an unknown cut: not_found");
	json_decref(r);
	r = raw_call(fd, "{\"op\":\"dump\",\"cut\":1,\"from\":0,\"key\":\"x\"}");
	is_str(error_code(r), "invalid", "an unknown field: invalid");
	json_decref(r);

	/* One cut is still held (the limit 1 above); fill up to the bound. */
	int unavailable = 0, taken = 0;
	for (unsigned i = 0; i < PROTO_DUMP_CUTS + 1; i++) {
		r = raw_call(fd, "{\"op\":\"dump\",\"limit\":1}");
		if (json_is_true(json_object_get(r, "ok")))
			taken++;
		else if (strcmp(error_code(r), "unavailable") == 0)
			unavailable++;
		json_decref(r);
	}
	is_int(taken, PROTO_DUMP_CUTS - 1, "cuts are taken up to PROTO_DUMP_CUTS at once");
	is_int(unavailable, 2, "... and beyond that refused as unavailable");
	close(fd);
}

int main(void)
{
	char seed_dir[PATH_MAX], seed_json[PATH_MAX], acks_log[PATH_MAX];
	char dump_a[PATH_MAX], dump_s[PATH_MAX], restored[PATH_MAX], offline[PATH_MAX];
	char io[8];
	struct dwriters w;

	unsetenv("SSFM_SOCKET");
	unsetenv("SSFM_GROUP");
	snprintf(ssfm_bin, sizeof(ssfm_bin), "%s/src/ssfm", tu_builddir());
	snprintf(fill_bin, sizeof(fill_bin), "%s/tests/store_fill", tu_builddir());
	dg_setup(&g, 2, "bkup");
	snprintf(seed_dir, sizeof(seed_dir), "%s/seed", g.hs.tmp);
	snprintf(seed_json, sizeof(seed_json), "%s/seed.json", g.hs.tmp);
	snprintf(acks_log, sizeof(acks_log), "%s/acks.log", g.hs.tmp);
	snprintf(dump_a, sizeof(dump_a), "%s/dump-active.json", g.hs.tmp);
	snprintf(dump_s, sizeof(dump_s), "%s/dump-standby.json", g.hs.tmp);
	snprintf(restored, sizeof(restored), "%s/restored", g.hs.tmp);
	snprintf(offline, sizeof(offline), "%s/offline.json", g.hs.tmp);
	snprintf(io, sizeof(io), "%d", DG_IO_TIMEOUT);

	/* ---- the group's store is a restore ---- */
	is_int(run_to(NULL, (char *[]){ ssfm_bin, "init", "--group", g.hs.group, seed_dir, NULL }),
	    0, "ssfm init a seed store");
	is_int(run_to(NULL, (char *[]){ fill_bin, "--prefix", "seed/", seed_dir, "25000", NULL }),
	    0, "25000 keys written into it");
	is_int(run_to(seed_json, (char *[]){ ssfm_bin, "dump", seed_dir, NULL }), 0,
	    "ssfm dump of the seed (offline)");
	ok(tu_rmtree(g.hs.store) == 0, "the group's new store emptied (lease too)");
	is_int(run_to(NULL, (char *[]){ ssfm_bin, "restore", "--io-timeout", io, seed_json,
	    g.hs.store, NULL }), 0, "ssfm restore of the seed into the group's folder");
	json_t *seed = load_seed(seed_json);
	ok(json_object_size(seed) == SEED_KEYS, "the seed dump holds %d keys", SEED_KEYS);

	dg_start_all(&g);
	int active = dg_wait_active(&g, 0, 30000);
	ok(active > 0, "one of two hosts on the restored store becomes active");
	if (active <= 0) {
		dg_stop(&g);
		json_decref(seed);
		return tap_done();
	}
	int standby = active == 1 ? 2 : 1;
	ok(dg_wait_role(&g, standby, "STANDBY", 30000), "the other is STANDBY");
	struct dg_status st;
	ok(dg_status(&g, active, &st, 5000) == 0 && st.committed_seq > SEED_KEYS,
	    "the active sealed after the restored seq (committed seq %" PRIu64 ")",
	    st.committed_seq);

	/* ---- dumps while writing ---- */
	if (dw_start(&w, &g, 4, "bk", acks_log, 60000) < 0)
		tap_bail("cannot start writers");
	w.hint = active;
	ok(dw_wait_acks(&w, 300, 60000), "4 writers get acknowledgements");
	uint64_t before = dw_acks(&w);
	is_int(run_to(dump_a, (char *[]){ ssfm_bin, "-s", g.d[active].sock, "dump", NULL }), 0,
	    "ssfm -s ACTIVE dump while writing: exit 0");
	is_int(run_to(dump_s, (char *[]){ ssfm_bin, "-s", g.d[standby].sock, "dump", NULL }), 0,
	    "ssfm -s STANDBY dump while writing: exit 0");
	uint64_t during = dw_acks(&w);
	ok(dw_wait_acks(&w, during + 200, 60000), "writes go on after the dumps");
	check_protocol(active, &w);
	dw_stop(&w);
	uint64_t gave_up = 0, errors = 0;
	for (int t = 0; t < w.nthreads; t++) {
		gave_up += w.t[t].gave_up;
		errors += w.t[t].errors;
	}
	ok(gave_up == 0 && errors == 0, "every write acknowledged (%" PRIu64 " given up, %" PRIu64
	    " errors)", gave_up, errors);
	tap_diag("acknowledgements: %" PRIu64 " before the dumps, %" PRIu64 " after them, %" PRIu64
	    " in all", before, during, dw_acks(&w));

	size_t nacks, after;
	uint64_t seq_a, seq_s;
	struct ack *acks = read_acks(acks_log, &nacks);
	ok(nacks == dw_acks(&w), "the log holds every acknowledgement (%zu)", nacks);
	is_int(check_dump(dump_a, seed, acks, nacks, "bk/", &seq_a, &after), 0,
	    "the active's dump is exact at its seq: every write acknowledged up to it, none after");
	ok(after > 0, "writes were acknowledged after the active's cut (%zu)", after);
	is_int(check_dump(dump_s, seed, acks, nacks, "bk/", &seq_s, &after), 0,
	    "the standby's dump is exact at its seq");
	ok(seq_a > SEED_KEYS && seq_s > SEED_KEYS, "both cuts hold writes (seq %" PRIu64
	    " and %" PRIu64 ")", seq_a, seq_s);
	free(acks);

	/* ---- online and offline agree byte for byte, awkward keys too ---- */
	/* The daemon stores what jansson makes of a value: write it in that
	 * form, so that the text compared below is the text sent. */
	static const char k1[] = "odd/\"q\\b\t\001\303\251";
	static const char v1[] = "{\"s\":\"a\\\"b\\\\c\\u0001\303\251\360\237\230\200\",\"n\":1.5e300}";
	static const char k2[] = "odd/\360\237\230\200";
	static const char v2[] = "[\"\\ud83d\\ude00\",null,-0.0]";
	ok(dg_put(&g, active, k1, v1, NULL, NULL) == 0 && dg_put(&g, active, k2, v2, NULL, NULL) == 0,
	    "two keys with quotes, backslashes, control characters, escapes and UTF-8");
	ok(dg_wait_caught_up(&g, active, 30000), "the standby has applied them");
	is_int(run_to(dump_s, (char *[]){ ssfm_bin, "-s", g.d[standby].sock, "dump", NULL }), 0,
	    "ssfm -s STANDBY dump with no writes going on");
	is_int(run_to(offline, (char *[]){ ssfm_bin, "dump", g.hs.store, NULL }), 0,
	    "ssfm dump of the shared store (offline, beside the daemons)");
	char *on = tu_read_file(dump_s, NULL), *off = tu_read_file(offline, NULL);
	ok(on != NULL && off != NULL && strcmp(on, off) == 0 && strstr(on, "\"odd/") != NULL,
	    "the online dump equals the offline one byte for byte");
	free(on);
	free(off);

	/* ---- the online dump restores ---- */
	is_int(run_to(NULL, (char *[]){ ssfm_bin, "restore", dump_a, restored, NULL }), 0,
	    "ssfm restore of the active's dump: exit 0");
	is_int(run_to(NULL, (char *[]){ ssfm_bin, "verify", restored, NULL }), 0,
	    "the restored store verifies clean");
	is_int(run_to(offline, (char *[]){ ssfm_bin, "dump", restored, NULL }), 0,
	    "offline dump of the restored store");
	char *x = tu_read_file(dump_a, NULL), *y = tu_read_file(offline, NULL);
	ok(x != NULL && y != NULL && strcmp(x, y) == 0,
	    "it equals the online dump byte for byte");
	free(x);
	free(y);

	json_decref(seed);
	dw_free(&w);
	dg_stop(&g);
	return tap_done();
}
