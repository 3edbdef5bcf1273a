/*
 * history.c: past operations read back from the journal files, for a
 * watcher that starts further back than the daemon keeps in memory.
 *
 * It reads only: it never applies, quarantines or waits.  Journal files are
 * immutable under their final names, so reading beside the committer is
 * safe; a file that compaction removes meanwhile ends the read with
 * -STORE_EGAP, like a "from" older than the journal kept.  A batch whose
 * epoch is older than a seal read before it is a stale write that was never
 * applied: it is passed over, as the followers passed over it.
 */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The batch file holding seq: the greatest name <= seq (0: none). */
static int history_file_for(struct store *st, uint64_t seq, uint64_t *found,
    struct store_error *err)
{
	DIR *d;
	struct dirent *de;
	uint64_t best = 0, n;
	int rc;

	d = durable_opendir(st->journal_dir, "store/history");
	if (!d) {
		rc = -errno;
		store_seterr(err, rc, "%s: %s", st->journal_dir, strerror(-rc));
		return rc;
	}
	while ((rc = durable_readdir(d, &de, "store/history")) > 0) {
		if (format_parse_name(de->d_name, &n) && n <= seq && n > best)
			best = n;
	}
	closedir(d);
	if (rc < 0) {
		store_seterr(err, rc, "%s: listing: %s", st->journal_dir, strerror(-rc));
		return rc;
	}
	*found = best;
	return 0;
}

long long store_history_read(struct store *st, uint64_t from, uint64_t to,
    void (*fn)(void *arg, const struct store_applied *op), void *arg,
    struct store_error *err)
{
	char path[STORE_PATH_MAX], why[256];
	unsigned char *buf = NULL;
	uint64_t file = 0, seal_epoch = 0;
	long long passed = 0;
	bool first = true;
	size_t len = 0;
	int rc;

	if (to <= from)
		return 0;
	rc = history_file_for(st, from + 1, &file, err);
	if (rc < 0)
		return rc;
	if (file == 0) {
		store_seterr(err, -STORE_EGAP, "%s: no journal file holds seq %" PRIu64
		    " (compacted)", st->journal_dir, from + 1);
		return -STORE_EGAP;
	}
	while (file <= to) {
		struct batch_header h;
		struct batch_rec r;
		size_t off = FMT_BATCH_HEADER;

		journal_path(st, file, path, sizeof(path));
		rc = journal_read_file(path, &buf, &len);
		if (rc == -ENOENT) {
			store_seterr(err, -STORE_EGAP, "%s: missing (compacted, or not written yet)",
			    path);
			return -STORE_EGAP;
		}
		if (rc < 0) {
			store_seterr(err, rc, "%s: %s", path, strerror(-rc));
			return rc;
		}
		if (format_batch_check(buf, len, file, &h, why, sizeof(why)) < 0) {
			store_seterr(err, -STORE_EDAMAGED, "%s: %s", path, why);
			free(buf);
			return -STORE_EDAMAGED;
		}
		if (first && h.last_seq <= from) {
			store_seterr(err, -STORE_EGAP, "%s ends at seq %" PRIu64 " before seq %" PRIu64,
			    path, h.last_seq, from + 1);
			free(buf);
			return -STORE_EGAP;
		}
		if (h.kind == FMT_KIND_SEAL && h.epoch > seal_epoch)
			seal_epoch = h.epoch;
		if (h.epoch >= seal_epoch) {
			for (uint32_t i = 0; i < h.count; i++) {
				struct store_applied a;
				uint64_t seq = h.first_seq + i;

				format_batch_next(buf, &off, &r);
				if (seq <= from || seq > to)
					continue;
				memset(&a, 0, sizeof(a));
				a.kind = r.op == 1 ? STORE_OP_PUT : r.op == 2 ? STORE_OP_DEL : STORE_OP_SEAL;
				a.seq = seq;
				a.epoch = h.epoch;
				a.commit_time_ms = h.commit_time_ms;
				a.key = r.key;
				a.key_len = r.key_len;
				if (r.op == 1) {
					a.value = r.value;
					a.value_len = r.value_len;
				}
				fn(arg, &a);
				passed++;
			}
		}
		free(buf);
		buf = NULL;
		first = false;
		file = h.last_seq + 1;
	}
	return passed;
}
