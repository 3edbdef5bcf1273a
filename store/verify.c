/*
 * verify.c: checking a whole store directory without modifying it
 * (`ssfm verify`).  Every journal file is checked on its own (checksum,
 * structure, continuity); the journal is replayed from the empty state or
 * from the oldest snapshot it continues, checking the epoch rules and each
 * batch's recorded digest; snapshots are compared with the replay at their
 * seq, and epochs/ files with the seal batches.
 */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct verify {
	struct store *st;
	struct store_verify_report *rep;
	void (*line)(void *arg, const char *text);
	void *arg;
	unsigned problems;
};

static void say(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(struct verify *v, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	if (!v->line)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	v->line(v->arg, text);
}

static int cmp_asc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Numbered files of dir in ascending order; reports the others. */
static int verify_list(struct verify *v, const char *dir, const char *label,
    uint64_t **out, size_t *count, struct store_error *err)
{
	DIR *d = durable_opendir(dir, "store/verify");
	struct dirent *de;
	uint64_t *seqs = NULL, *ns, seq;
	size_t n = 0, cap = 0;
	int rc;

	*out = NULL;
	*count = 0;
	if (!d) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	while ((rc = durable_readdir(d, &de, "store/verify")) > 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (format_parse_name(de->d_name, &seq)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				ns = realloc(seqs, cap * sizeof(*ns));
				if (!ns) {
					closedir(d);
					free(seqs);
					store_seterr(err, -ENOMEM, "%s: out of memory", dir);
					return -ENOMEM;
				}
				seqs = ns;
			}
			seqs[n++] = seq;
		} else if (!strncmp(de->d_name, ".tmp-", 5)) {
			v->rep->temporaries++;
			say(v, "%s/%s: leftover temporary file of a writer (ignored by readers, removed by the next writer)",
			    dir, de->d_name);
		} else {
			say(v, "%s/%s: unexpected file in %s/ (ignored)", dir, de->d_name, label);
		}
	}
	closedir(d);
	if (rc < 0) {
		/* A verification that saw half the files must not say clean. */
		free(seqs);
		store_seterr(err, rc, "%s: listing: %s", dir, strerror(-rc));
		return rc;
	}
	if (n)
		qsort(seqs, n, sizeof(*seqs), cmp_asc);
	*out = seqs;
	*count = n;
	return 0;
}

struct seen_seal {
	uint64_t epoch, seq;
	uint32_t host_id;
	char host[STORE_HOST_MAX + 1];
};

struct snap_info {
	uint64_t seq;
	int valid;
	struct snapshot_summary sum;
};

static void verify_problem(struct verify *v)
{
	v->problems++;
}

int store_verify(const char *dir, struct store_verify_report *rep,
    void (*line)(void *arg, const char *text), void *arg,
    struct store_error *err)
{
	struct verify v = { .rep = rep, .line = line, .arg = arg };
	struct store *st;
	struct store_state state;
	struct snap_info *snaps = NULL;
	struct seen_seal *seals = NULL;
	uint64_t *jseqs = NULL, *sseqs = NULL, *eseqs = NULL;
	size_t jn = 0, sn = 0, en = 0, nseals = 0, qn = 0;
	uint64_t expected = 0, epoch_now = 0;
	int rc, replaying = 0, have_epoch = 0;
	DIR *d;
	struct dirent *de;

	memset(rep, 0, sizeof(*rep));
	st = calloc(1, sizeof(*st));
	if (!st || journal_state_init(&state) < 0) {
		free(st);
		store_seterr(err, -ENOMEM, "%s: out of memory", dir);
		return -ENOMEM;
	}
	v.st = st;
	st->opt.read_only = 1;
	rc = store_prepare(st, dir, err);
	if (rc < 0)
		goto out;
	rep->files_checked = 1;

	if ((rc = verify_list(&v, st->journal_dir, FMT_JOURNAL_DIR, &jseqs, &jn, err)) < 0 ||
	    (rc = verify_list(&v, st->snapshots_dir, FMT_SNAPSHOTS_DIR, &sseqs, &sn, err)) < 0 ||
	    (rc = verify_list(&v, st->epochs_dir, FMT_EPOCHS_DIR, &eseqs, &en, err)) < 0)
		goto out;
	d = opendir(st->quarantine_dir);
	if (d) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				qn++;
		closedir(d);
	} else {
		say(&v, "%s: %s", st->quarantine_dir, strerror(errno));
		verify_problem(&v);
	}
	rep->quarantined = (unsigned)qn;
	if (qn)
		say(&v, "%s: %zu quarantined file(s), never applied (inspect and remove by hand)",
		    st->quarantine_dir, qn);

	/* Snapshots, each on its own. */
	snaps = calloc(sn ? sn : 1, sizeof(*snaps));
	if (!snaps) {
		rc = -ENOMEM;
		store_seterr(err, rc, "%s: out of memory", dir);
		goto out;
	}
	for (size_t i = 0; i < sn; i++) {
		char path[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1], why[256];

		format_name(name, sseqs[i]);
		store_fmt(path, sizeof(path), "%s/%s", st->snapshots_dir, name);
		snaps[i].seq = sseqs[i];
		rep->files_checked++;
		rc = snapshot_read(path, NULL, 1, &snaps[i].sum, why, sizeof(why));
		if (rc == 0 && snaps[i].sum.seq != sseqs[i]) {
			store_fmt(why, sizeof(why), "holds seq %" PRIu64 ", not the one in its name", snaps[i].sum.seq);
			rc = -STORE_EDAMAGED;
		}
		if (rc == 0) {
			snaps[i].valid = 1;
			rep->snapshots++;
		} else {
			rep->damaged++;
			verify_problem(&v);
			say(&v, "%s: damaged snapshot: %s", path, why);
		}
	}
	rc = 0;

	/* Where replay starts: the empty state, or the oldest valid snapshot
	 * that the journal continues. */
	if (jn > 0) {
		rep->first_seq = jseqs[0];
		if (jseqs[0] == 1) {
			replaying = 1;
			have_epoch = 1;
		} else {
			for (size_t i = 0; i < sn; i++) {
				char path[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1], why[256];
				struct snapshot_summary sum;

				if (!snaps[i].valid || snaps[i].seq + 1 < jseqs[0])
					continue;
				format_name(name, snaps[i].seq);
				store_fmt(path, sizeof(path), "%s/%s", st->snapshots_dir, name);
				journal_state_free(&state);
				if (journal_state_init(&state) < 0) {
					rc = -ENOMEM;
					store_seterr(err, rc, "%s: out of memory", dir);
					goto out;
				}
				if (snapshot_read(path, &state, 1, &sum, why, sizeof(why)) == 0) {
					replaying = 1;
					break;
				}
			}
			if (!replaying) {
				char path[STORE_PATH_MAX];
				journal_path(st, jseqs[0], path, sizeof(path));
				rep->gaps++;
				verify_problem(&v);
				say(&v, "%s: the journal starts here but no valid snapshot holds the state before it: earlier files are missing",
				    path);
			}
		}
	}

	for (size_t i = 0; i < jn; i++) {
		char path[STORE_PATH_MAX], why[384];
		unsigned char *buf = NULL;
		size_t len, off;
		struct batch_header h;
		struct batch_rec r;
		uint64_t seq = jseqs[i];

		journal_path(st, seq, path, sizeof(path));
		rep->files_checked++;
		if (expected && seq != expected) {
			char epath[STORE_PATH_MAX];
			journal_path(st, expected, epath, sizeof(epath));
			if (seq > expected) {
				rep->gaps++;
				say(&v, "%s: missing (the journal continues at %s): a gap", epath, path);
			} else {
				rep->damaged++;
				say(&v, "%s: overlaps the batch before it (which ends at seq %" PRIu64 ")", path, expected - 1);
			}
			verify_problem(&v);
			replaying = 0;
		}
		rc = journal_read_file(path, &buf, &len);
		if (rc < 0) {
			store_seterr(err, rc, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (format_batch_check(buf, len, seq, &h, why, sizeof(why)) < 0) {
			free(buf);
			rep->damaged++;
			verify_problem(&v);
			say(&v, "%s: damaged: %s", path, why);
			replaying = 0;
			expected = 0;
			continue;
		}
		expected = h.last_seq + 1;
		rep->last_seq = h.last_seq;
		if (replaying && seq == state.applied_seq + 1 && state.applied_seq > 0) {
			/* Replay from a snapshot begins here: its epoch rules. */
			have_epoch = 1;
			epoch_now = state.epoch;
		}
		if (!have_epoch) {
			have_epoch = 1;
			epoch_now = h.kind == FMT_KIND_SEAL ? 0 : h.epoch;
		}
		if (h.kind == FMT_KIND_SEAL) {
			rep->seals++;
			off = FMT_BATCH_HEADER;
			format_batch_next(buf, &off, &r);
			if (nseals % 16 == 0) {
				struct seen_seal *ns = realloc(seals, (nseals + 16) * sizeof(*ns));
				if (!ns) {
					free(buf);
					rc = -ENOMEM;
					store_seterr(err, rc, "%s: out of memory", dir);
					goto out;
				}
				seals = ns;
			}
			seals[nseals].epoch = h.epoch;
			seals[nseals].seq = seq;
			seals[nseals].host_id = (uint32_t)format_seal_host_id(&r);
			memcpy(seals[nseals].host, r.key, r.key_len);
			seals[nseals].host[r.key_len] = '\0';
			nseals++;
			if (h.epoch <= epoch_now) {
				rep->damaged++;
				verify_problem(&v);
				say(&v, "%s: seal of epoch %" PRIu64 " does not exceed the epoch before it (%" PRIu64 ")",
				    path, h.epoch, epoch_now);
				replaying = 0;
			}
		} else {
			rep->batches++;
			rep->ops += h.count;
			if (h.epoch < epoch_now) {
				rep->stale++;
				verify_problem(&v);
				say(&v, "%s: stale: written by epoch %" PRIu64 " after the seal of epoch %" PRIu64 " (never applied; the next writer quarantines it)",
				    path, h.epoch, epoch_now);
				replaying = 0;
			} else if (h.epoch > epoch_now) {
				rep->unsealed++;
				verify_problem(&v);
				say(&v, "%s: batch of epoch %" PRIu64 " with no seal before it (current epoch %" PRIu64 ")",
				    path, h.epoch, epoch_now);
				replaying = 0;
			}
		}
		if (h.kind == FMT_KIND_SEAL && h.epoch > epoch_now)
			epoch_now = h.epoch;
		if (replaying && h.last_seq > state.applied_seq) {
			int digest_ok;

			if (seq != state.applied_seq + 1) {
				replaying = 0;
			} else if (journal_apply_batch(st, &state, NULL, buf, &h, &digest_ok) < 0) {
				free(buf);
				rc = -ENOMEM;
				store_seterr(err, rc, "%s: out of memory", path);
				goto out;
			} else if (!digest_ok) {
				rep->damaged++;
				verify_problem(&v);
				say(&v, "%s: the state digest after it differs from the one the writer recorded", path);
				replaying = 0;
			} else {
				for (size_t k = 0; k < sn; k++) {
					char spath[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1];

					if (!snaps[k].valid || snaps[k].seq != h.last_seq)
						continue;
					format_name(name, snaps[k].seq);
					store_fmt(spath, sizeof(spath), "%s/%s", st->snapshots_dir, name);
					if (snaps[k].sum.digest != table_digest(state.table) ||
					    snaps[k].sum.epoch != state.epoch) {
						rep->damaged++;
						verify_problem(&v);
						say(&v, "%s: differs from the journal replayed to seq %" PRIu64 " (digest or epoch)",
						    spath, h.last_seq);
					}
				}
			}
		}
		free(buf);
	}
	rc = 0;
	rep->digest = table_digest(state.table);
	for (size_t k = 0; k < sn; k++) {
		char spath[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1];

		if (!snaps[k].valid || jn == 0 || snaps[k].seq <= rep->last_seq)
			continue;
		format_name(name, snaps[k].seq);
		store_fmt(spath, sizeof(spath), "%s/%s", st->snapshots_dir, name);
		rep->gaps++;
		verify_problem(&v);
		say(&v, "%s: snapshot beyond the journal's end (seq %" PRIu64 "): journal files are missing",
		    spath, rep->last_seq);
	}

	/* epochs/ against the seal batches. */
	for (size_t i = 0; i < en; i++) {
		char path[STORE_PATH_MAX], name[STORE_NAME_DIGITS + 1], why[256];
		unsigned char *buf;
		size_t len;
		struct format_seal fs;
		int found = 0;

		format_name(name, eseqs[i]);
		store_fmt(path, sizeof(path), "%s/%s", st->epochs_dir, name);
		rep->files_checked++;
		if (journal_read_file(path, &buf, &len) < 0) {
			rep->damaged++;
			verify_problem(&v);
			say(&v, "%s: unreadable", path);
			continue;
		}
		rc = format_seal_parse(buf, len, &fs, why, sizeof(why));
		free(buf);
		if (rc == 0 && fs.epoch != eseqs[i]) {
			store_fmt(why, sizeof(why), "holds epoch %" PRIu64 ", not the one in its name", fs.epoch);
			rc = -1;
		}
		if (rc < 0) {
			rep->damaged++;
			verify_problem(&v);
			say(&v, "%s: damaged seal record: %s", path, why);
			continue;
		}
		for (size_t k = 0; k < nseals; k++) {
			if (seals[k].epoch != fs.epoch)
				continue;
			found = 1;
			if (seals[k].seq != fs.start_seq || seals[k].host_id != fs.host_id ||
			    strcmp(seals[k].host, fs.host) != 0) {
				rep->damaged++;
				verify_problem(&v);
				say(&v, "%s: disagrees with the seal batch of epoch %" PRIu64 " in the journal (seq %" PRIu64 ", host %s)",
				    path, fs.epoch, seals[k].seq, seals[k].host);
			}
		}
		if (!found && jn > 0 && fs.start_seq >= jseqs[0] && fs.start_seq <= rep->last_seq) {
			rep->damaged++;
			verify_problem(&v);
			say(&v, "%s: no seal batch of epoch %" PRIu64 " at seq %" PRIu64 " in the journal",
			    path, fs.epoch, fs.start_seq);
		}
	}
	rc = 0;
	for (size_t k = 0; k < nseals; k++) {
		uint64_t *hit = en ? bsearch(&seals[k].epoch, eseqs, en, sizeof(*eseqs), cmp_asc) : NULL;
		if (!hit)
			say(&v, "%s/%020" PRIu64 ": missing (the seal batch at seq %" PRIu64 " is the authority; a writer that stopped right after sealing leaves this)",
			    st->epochs_dir, seals[k].epoch, seals[k].seq);
	}
	say(&v, "%s: %" PRIu64 " files checked; journal %" PRIu64 "..%" PRIu64 ": %" PRIu64 " batches, %" PRIu64 " seals, %" PRIu64 " operations; %" PRIu64 " snapshots; "
	    "%u damaged, %u gaps, %u stale, %u unsealed, %u temporaries, %u quarantined; digest %016" PRIx64 " at seq %" PRIu64 "%s",
	    dir, rep->files_checked, rep->first_seq, rep->last_seq, rep->batches, rep->seals, rep->ops,
	    rep->snapshots, rep->damaged, rep->gaps, rep->stale, rep->unsealed, rep->temporaries,
	    rep->quarantined, rep->digest, state.applied_seq, v.problems ? "" : "; clean");
	rc = v.problems ? 1 : 0;
out:
	journal_state_free(&state);
	free(snaps);
	free(seals);
	free(jseqs);
	free(sseqs);
	free(eseqs);
	free(st);
	return rc;
}
