/*
 * t_store_crash: SIGKILL a writer under load, at random moments, at least
 * 100 times.  tests/store_writer begins a new epoch each run and logs every
 * acknowledged put after store_put returns; every other run commits with
 * link()+unlink() (force_link) instead of renameat2.  After each kill:
 *  - a read-only store_open shows every logged write (that value, or a
 *    newer version of the key), and nothing blocks the journal;
 *  - the state equals a replay of the journal's final names with our own
 *    parser, so no temporary file was ever applied;
 *  - store_verify finds no damaged file, gap, stale or unsealed batch;
 *  - when the next writer has begun its epoch, no temporary left by the
 *    killed one remains.
 */
#include "storeutil.h"
#include "format.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILLS 100
#define WRITER_THREADS 8
#define KEYS_PER_THREAD 64

struct acked {
	uint64_t version;
	char value[128];
};

static struct acked acked[WRITER_THREADS][KEYS_PER_THREAD];

struct leftover {
	char path[PATH_MAX];
	ino_t ino;
	struct timespec ctime;
};

struct leftovers {
	struct leftover *v;
	size_t n;
};

static const char *store_dir;

static void leftovers_scan(struct leftovers *l)
{
	static const char *const sub[] = { FMT_JOURNAL_DIR, FMT_EPOCHS_DIR, FMT_SNAPSHOTS_DIR };

	l->n = 0;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		char path[PATH_MAX];
		DIR *d;
		struct dirent *de;

		su_path(path, sizeof(path), "%s/%s", store_dir, sub[i]);
		d = opendir(path);
		if (d == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			struct leftover *nv;
			if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
			if (nv == NULL)
				tap_bail("out of memory");
			l->v = nv;
			if (snprintf(l->v[l->n].path, PATH_MAX, "%s/%s", path, de->d_name) >= PATH_MAX ||
			    lstat(l->v[l->n].path, &st) < 0)
				continue;
			l->v[l->n].ino = st.st_ino;
			l->v[l->n].ctime = st.st_ctim;
			l->n++;
		}
		closedir(d);
	}
}

/* The number of earlier temporaries still there (same inode, same ctime:
 * the same file, not a new one that reuses the name). */
static size_t leftovers_remaining(const struct leftovers *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct stat st;
		if (lstat(l->v[i].path, &st) == 0 && st.st_ino == l->v[i].ino &&
		    st.st_ctim.tv_sec == l->v[i].ctime.tv_sec &&
		    st.st_ctim.tv_nsec == l->v[i].ctime.tv_nsec) {
			if (n++ == 0)
				tap_diag("temporary %s survived the next writer's store_begin_epoch",
				    l->v[i].path);
		}
	}
	return n;
}

/* Reads the run's ack log into acked[]; returns the lines taken, or -1 for
 * a malformed complete line.  A last line without '\n' was torn by the
 * kill and is ignored. */
static long read_acks(const char *path, unsigned *torn)
{
	size_t len = 0;
	char *text = tu_read_file(path, &len);
	char *line, *nl;
	long taken = 0;

	if (text == NULL)
		return 0;
	for (line = text; (nl = memchr(line, '\n', len - (size_t)(line - text))) != NULL; line = nl + 1) {
		unsigned t, k;
		uint64_t version;
		char value[128];
		int used = 0;

		*nl = '\0';
		if (sscanf(line, "c/%u/%u %" SCNu64 " %127s%n", &t, &k, &version, value, &used) != 4 ||
		    line[used] != '\0' || t >= WRITER_THREADS || k >= KEYS_PER_THREAD || version == 0) {
			tap_diag("%s: malformed line '%s'", path, line);
			free(text);
			return -1;
		}
		if (version > acked[t][k].version) {
			acked[t][k].version = version;
			snprintf(acked[t][k].value, sizeof(acked[t][k].value), "%s", value);
		}
		taken++;
	}
	if ((size_t)(line - text) < len)
		(*torn)++;
	free(text);
	return taken;
}

/* Every acknowledged write is in st: that value at that version, or a newer
 * version.  Returns the number missing. */
static unsigned check_acks(struct store *st)
{
	unsigned missing = 0;

	for (unsigned t = 0; t < WRITER_THREADS; t++)
		for (unsigned k = 0; k < KEYS_PER_THREAD; k++) {
			char key[64], *value = NULL;
			size_t value_len = 0;
			uint64_t version = 0;
			int rc, good;

			if (acked[t][k].version == 0)
				continue;
			snprintf(key, sizeof(key), "c/%u/%u", t, k);
			rc = store_get(st, key, strlen(key), &value, &value_len, &version);
			good = rc == 0 && (version > acked[t][k].version ||
			    (version == acked[t][k].version && strcmp(value, acked[t][k].value) == 0));
			if (!good && missing++ < 3)
				tap_diag("%s: acknowledged at version %" PRIu64 " (%s), found %s version %" PRIu64
				    " %s", key, acked[t][k].version, acked[t][k].value,
				    rc == 0 ? "" : store_strerror(rc), version, value ? value : "");
			free(value);
		}
	return missing;
}

static int ready_exists(void *arg)
{
	return tu_file_exists(arg);
}

static void print_log(const char *path)
{
	char *text = tu_read_file(path, NULL);

	if (text != NULL) {
		tap_diag("writer log %s:\n%s", path, text);
		free(text);
	}
}

int main(void)
{
	const char *tmp = tu_tmpdir("crash");
	char dir[PATH_MAX], writer[PATH_MAX], log_path[PATH_MAX];
	struct leftovers before = { 0 }, now = { 0 };
	unsigned odd_temporaries = 0, temporaries_miscounted = 0;
	unsigned seed, torn = 0, killed = 0, exited = 0, not_ready = 0, malformed = 0;
	unsigned missing_runs = 0, blocked_runs = 0, replay_wrong = 0, verify_wrong = 0;
	unsigned epoch_wrong = 0, leftovers_survived = 0, runs_with_temporaries = 0;
	unsigned runs_with_acks = 0;
	uint64_t started = tu_now_ms(), t0;
	uint64_t ms_start = 0, ms_open = 0, ms_replay = 0, ms_verify = 0;
	long total_acks = 0;
	const char *seed_env = getenv("SSFM_TEST_SEED");

	seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL);
	tap_diag("random seed %u (set SSFM_TEST_SEED to repeat)", seed);
	su_path(dir, sizeof(dir), "%s/store", tmp);
	if (mkdir(dir, 0755) < 0)
		tap_bail("mkdir %s: %s", dir, strerror(errno));
	store_dir = dir;
	su_create(dir);
	su_path(writer, sizeof(writer), "%s/tests/store_writer", tu_builddir());
	su_path(log_path, sizeof(log_path), "%s/writer.log", tmp);
	if (access(writer, X_OK) < 0)
		tap_bail("%s: %s (built by make check)", writer, strerror(errno));

	for (unsigned run = 1; run <= KILLS + 1; run++) {
		char epoch[32], ack_path[PATH_MAX], ready_path[PATH_MAX];
		/* Every other run commits with link()+unlink(), the portable path. */
		char *argv[] = { writer, dir, epoch, ack_path, ready_path,
		    run % 2 ? NULL : (char *)"link", NULL };
		struct store_options ro = { .read_only = 1 };
		struct store_verify_report rep;
		struct store_error err = { 0 };
		struct store_info info;
		struct su_state mine, got;
		char why[256] = "";
		int64_t replayed;
		struct store *st;
		long acks;
		pid_t pid;
		int status, rc;

		snprintf(epoch, sizeof(epoch), "%u", run);
		su_path(ack_path, sizeof(ack_path), "%s/ack.%u", tmp, run);
		su_path(ready_path, sizeof(ready_path), "%s/ready.%u", tmp, run);
		t0 = tu_now_ms();
		leftovers_scan(&before);
		if (before.n)
			runs_with_temporaries++;

		pid = tu_spawn(argv, NULL, log_path);
		if (pid < 0)
			tap_bail("spawn %s: %s", writer, strerror(errno));
		if (!tu_wait_until(ready_exists, ready_path, 30000, 1)) {
			not_ready++;
			tap_diag("run %u: the writer did not begin its epoch", run);
			tu_kill_wait(pid, SIGKILL, 10000);
			print_log(log_path);
			break;
		}
		ms_start += tu_now_ms() - t0;
		leftovers_survived += (unsigned)leftovers_remaining(&before) ? 1 : 0;
		if (run == KILLS + 1) {
			tu_kill_wait(pid, SIGKILL, 10000);
			break;
		}
		tu_sleep_ms(5 + (unsigned)(rand_r(&seed) % 196));
		status = tu_kill_wait(pid, SIGKILL, 10000);
		if (status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
			killed++;
		} else {
			exited++;
			tap_diag("run %u: the writer ended by itself (status %d)", run, status);
			print_log(log_path);
		}

		acks = read_acks(ack_path, &torn);
		if (acks < 0)
			malformed++;
		else
			total_acks += acks;
		if (acks > 0)
			runs_with_acks++;

		t0 = tu_now_ms();
		st = NULL;
		rc = store_open(dir, &ro, &st, &err);
		if (rc < 0) {
			blocked_runs++;
			tap_diag("run %u: read-only store_open: %s (%s)", run, store_strerror(rc), err.msg);
			continue;
		}
		store_info(st, &info);
		if (info.blocked) {
			blocked_runs++;
			tap_diag("run %u: blocked %s at %s: %s", run, store_strerror(info.blocked),
			    info.blocked_file, info.blocked_msg);
		}
		if (info.epoch != run) {
			epoch_wrong++;
			tap_diag("run %u: the store is at epoch %" PRIu64, run, info.epoch);
		}
		if (check_acks(st) != 0)
			missing_runs++;

		ms_open += tu_now_ms() - t0;
		t0 = tu_now_ms();
		su_state_init(&mine);
		su_state_init(&got);
		replayed = su_replay_journal(dir, &mine, why, sizeof(why));
		su_state_load(st, &got);
		if (replayed < 0 || (uint64_t)replayed != info.applied_seq ||
		    su_state_diff(&got, &mine, "replay") != 0 || su_state_digest(&mine) != info.digest) {
			replay_wrong++;
			tap_diag("run %u: our replay of the journal (to %" PRId64 ", %s) differs from the store (to %" PRIu64 ")",
			    run, replayed, why, info.applied_seq);
		}
		su_state_free(&mine);
		su_state_free(&got);

		ms_replay += tu_now_ms() - t0;
		t0 = tu_now_ms();
		memset(&rep, 0, sizeof(rep));
		memset(&err, 0, sizeof(err));
		struct su_lines lines = { 0 };
		rc = store_verify(dir, &rep, su_lines_add, &lines, &err);
		leftovers_scan(&now);
		for (size_t i = 0; i < now.n; i++)
			if (strncmp(su_basename(now.v[i].path), ".tmp-", 5) != 0 && odd_temporaries++ == 0)
				tap_diag("run %u: %s: a temporary not named .tmp-*", run, now.v[i].path);
		if (rep.temporaries != now.n) {
			temporaries_miscounted++;
			tap_diag("run %u: store_verify counts %u temporaries, there are %zu", run,
			    rep.temporaries, now.n);
		}
		if (rc < 0 || (rc == 1 && rep.temporaries == 0) || rep.damaged || rep.gaps ||
		    rep.stale || rep.unsealed || rep.last_seq != info.applied_seq ||
		    rep.digest != info.digest) {
			verify_wrong++;
			tap_diag("run %u: store_verify %d (%s): damaged %u gaps %u stale %u unsealed %u "
			    "temporaries %u, last seq %" PRIu64 " digest %016" PRIx64, run, rc, err.msg,
			    rep.damaged, rep.gaps, rep.stale, rep.unsealed, rep.temporaries,
			    rep.last_seq, rep.digest);
			su_lines_print(&lines);
		}
		su_lines_free(&lines);
		store_close(st);
		ms_verify += tu_now_ms() - t0;
	}
	free(before.v);
	free(now.v);

	tap_diag("%u kills in %.1f s, %ld acknowledged writes logged, %u torn last lines, "
	    "%u runs began with temporaries left by the previous kill", killed,
	    (double)(tu_now_ms() - started) / 1000.0, total_acks, torn, runs_with_temporaries);
	tap_diag("time spent: writers beginning their epoch %.1f s, read-only opens and ack checks %.1f s, "
	    "our replays %.1f s, store_verify %.1f s", (double)ms_start / 1000.0,
	    (double)ms_open / 1000.0, (double)ms_replay / 1000.0, (double)ms_verify / 1000.0);
	is_int(not_ready, 0, "every writer began its epoch after the previous one was killed");
	is_int(exited, 0, "no writer ended by itself (a failed put ends it)");
	ok(killed >= KILLS, "the writer was SIGKILLed %u times", killed);
	ok(runs_with_acks >= killed / 2, "most runs acknowledged writes before the kill (%u)", runs_with_acks);
	is_int(malformed, 0, "every complete ack log line is well formed");
	is_int(blocked_runs, 0, "after each kill the store opens read-only and nothing blocks the journal");
	is_int(epoch_wrong, 0, "after each kill the store is at the killed writer's epoch");
	is_int(missing_runs, 0, "after each kill every acknowledged write is there (or a newer version)");
	is_int(replay_wrong, 0, "after each kill the state is our own replay of the journal's final names: no temporary was applied");
	is_int(verify_wrong, 0, "after each kill store_verify finds no damage, gap, stale or unsealed batch");
	is_int(odd_temporaries, 0, "every temporary left by a kill is named .tmp-*");
	is_int(temporaries_miscounted, 0, "store_verify counts exactly those temporaries (and not as batches)");
	is_int(leftovers_survived, 0, "the next writer's store_begin_epoch removed every temporary left by a kill");
	return tap_done();
}
