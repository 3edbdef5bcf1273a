/*
 * cli_restore.c: `ssfm restore FILE DIR`: a new store from a dump.
 *
 * The steps, and why in this order:
 *  1. the dump's header is read before anything is created, so a file that
 *     is not a dump leaves DIR alone;
 *  2. DIR must be missing or empty (a restore never merges into a store);
 *  3. the lease area and the store are made as `ssfm init` makes them;
 *  4. every key goes into the store's one snapshot at the dump's sequence
 *     number, with its own version, checked as a write would be
 *     (store_restore_add); the digest of what was read must equal the
 *     dump's, so the copy is exact or refused;
 *  5. the new store is verified as `ssfm verify` does it: the snapshot
 *     read back whole and checked against its own header, which holds the
 *     digest that was compared with the dump's in step 4.
 * If any step fails, what steps 3 and 4 made is removed again: DIR is left
 * as it was found (missing or empty), never as an empty store that could be
 * taken for the restored one.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fence.h"
#include "format.h"

#define CLI_RESTORE_IO_TIMEOUT_DEFAULT 10u
#define CLI_RESTORE_IO_TIMEOUT_MAX 60u
/* The progress bar: shown on a terminal for dumps of at least this size
 * (or of unknown size), redrawn at most this often. */
#define CLI_RESTORE_PROGRESS_BYTES (16u << 20)
#define CLI_RESTORE_PROGRESS_MS 200u

/* Set by SIGINT, SIGTERM, SIGHUP: the restore stops at the next key and
 * removes what it made, instead of leaving a store that looks restored. */
static volatile sig_atomic_t cli_restore_interrupted;

static void cli_restore_on_signal(int sig)
{
	cli_restore_interrupted = sig;
}

static void cli_restore_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_restore_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

struct cli_restore_progress {
	int on;
	uint64_t last_ms;
	int drawn;
};

static uint64_t cli_restore_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void cli_restore_progress(struct cli_restore_progress *pr,
    const struct cli_dumpfile *df, int last)
{
	enum { WIDTH = 40 };
	uint64_t now;

	if (!pr->on || (!last && (df->count & 4095) != 0))
		return;
	now = cli_restore_now_ms();
	if (!last && now - pr->last_ms < CLI_RESTORE_PROGRESS_MS)
		return;
	pr->last_ms = now;
	if (df->size > 0) {
		uint64_t done = df->offset + df->pos;
		unsigned pct = (unsigned)(done >= df->size ? 100 : done * 100 / df->size);
		char bar[WIDTH + 1];
		memset(bar, '#', pct * WIDTH / 100);
		memset(bar + pct * WIDTH / 100, '.', WIDTH - pct * WIDTH / 100);
		bar[WIDTH] = '\0';
		fprintf(stderr, "\rrestore: [%s] %3u%% %" PRIu64 " keys", bar, pct, df->count);
	} else {
		fprintf(stderr, "\rrestore: %" PRIu64 " keys", df->count);
	}
	pr->drawn = 1;
	if (last)
		fputc('\n', stderr);
	fflush(stderr);
}

/*
 * Removes what this restore made in dir (made_dir: dir itself too).  dir was
 * missing or empty, so whatever its store folders hold is this restore's.
 */
static void cli_restore_undo(const char *dir, int made_dir)
{
	static const char *const subdirs[] = { FMT_JOURNAL_DIR, FMT_EPOCHS_DIR,
		FMT_SNAPSHOTS_DIR, FMT_QUARANTINE_DIR };
	char path[PATH_MAX], file[PATH_MAX + 256];

	snprintf(path, sizeof(path), "%s/%s", dir, FMT_IDENTITY_NAME);
	unlink(path);
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		DIR *d = opendir(path);
		struct dirent *de;
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
			unlink(file);
		}
		if (d != NULL)
			closedir(d);
		rmdir(path);
	}
	if (fence_lease_path(dir, path, sizeof(path)) == 0)
		unlink(path);
	if (made_dir)
		rmdir(dir);
}

/*
 * DIR missing (made here: *made = 1) or an empty directory.  Returns
 * CLI_EXIT_OK or the exit status after saying why not.
 */
static int cli_restore_target(const char *dir, int *made)
{
	struct dirent *de;
	char id[PATH_MAX];
	DIR *d;

	*made = 0;
	if (snprintf(id, sizeof(id), "%s/%s", dir, FMT_IDENTITY_NAME) >= (int)sizeof(id)) {
		cli_errx("%s: path too long", dir);
		return CLI_EXIT_SYSTEM;
	}
	if (access(id, F_OK) == 0) {
		cli_errx("%s: already a store (%s exists): restore makes a new store only",
		    dir, id);
		return CLI_EXIT_STORE;
	}
	if (mkdir(dir, 0755) == 0) {
		*made = 1;
		return CLI_EXIT_OK;
	}
	if (errno != EEXIST) {
		cli_errx("%s: cannot create the directory: %s", dir, strerror(errno));
		return CLI_EXIT_SYSTEM;
	}
	d = opendir(dir);
	if (d == NULL) {
		cli_errx("%s: %s", dir, strerror(errno));
		return CLI_EXIT_SYSTEM;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "lost+found") == 0)
			continue;
		cli_errx("%s is not empty (it holds %s): restore makes a new store in a missing or empty directory",
		    dir, de->d_name);
		closedir(d);
		return CLI_EXIT_STORE;
	}
	closedir(d);
	return CLI_EXIT_OK;
}

/*
 * Step 5: the new store checked as `ssfm verify` checks it: the snapshot
 * read back whole (checksum, every key and value, the order, the digest of
 * the entries against the header's), without building the table, so a
 * restore of any size needs little memory.
 */
static void cli_restore_finding(void *arg, const char *text)
{
	(void)arg;
	cli_warnx("%s", text);
}

static int cli_restore_check(const char *dir, const struct cli_dumpfile *df)
{
	struct store_verify_report rep;
	struct store_error err = { 0 };
	int rc;

	memset(&rep, 0, sizeof(rep));
	rc = store_verify(dir, &rep, NULL, NULL, &err);
	if (rc < 0)
		return cli_fail(rc, &err, dir);
	if (rc > 0 || rep.snapshots != (df->seq > 0 ? 1u : 0u) || rep.damaged != 0) {
		/* Say what verify found, then fail. */
		store_verify(dir, &rep, cli_restore_finding, NULL, &err);
		cli_errx("%s: the restored store does not verify clean", dir);
		return CLI_EXIT_STORE;
	}
	return CLI_EXIT_OK;
}

/* Steps 3 to 5 into dir, from the dump whose header was read. */
static int cli_restore_into(const char *dir, struct cli_dumpfile *df,
    const char *group, unsigned io_timeout, struct cli_restore_progress *pr)
{
	struct store_error err = { 0 };
	struct fence_error ferr = { 0 };
	struct store_restore *r = NULL;
	char lease[PATH_MAX];
	int rc, status;

	if (fence_lease_path(dir, lease, sizeof(lease)) < 0) {
		cli_errx("%s: path too long", dir);
		return CLI_EXIT_SYSTEM;
	}
	rc = fence_lease_init(lease, group, io_timeout, &ferr);
	if (rc < 0) {
		cli_errx("%s", ferr.msg[0] ? ferr.msg : fence_strerror(rc));
		return CLI_EXIT_SYSTEM;
	}
	struct store_create_params params = { .group = group, .io_timeout = io_timeout };
	rc = store_create(dir, &params, &err);
	if (rc == 0)
		rc = store_restore_begin(dir, df->seq, &r, &err);
	if (rc < 0)
		return cli_fail(rc, &err, dir);

	while ((rc = cli_dumpfile_next(df)) > 0) {
		if (cli_restore_interrupted) {
			cli_errx("interrupted by signal %d after %" PRIu64 " keys",
			    (int)cli_restore_interrupted, df->count - 1);
			store_restore_abort(r);
			return CLI_EXIT_SYSTEM;
		}
		rc = store_restore_add(r, df->key, df->key_len, df->value, df->value_len,
		    df->version, &err);
		if (rc < 0) {
			cli_errx("%s: entry %" PRIu64 " (byte %" PRIu64 "): %s", df->name, df->count,
			    df->entry_offset, err.msg);
			store_restore_abort(r);
			return rc == -ENOMEM || rc == -EIO || rc == -ENOSPC || rc == -EDQUOT ?
			    CLI_EXIT_SYSTEM : CLI_EXIT_STORE;
		}
		cli_restore_progress(pr, df, 0);
	}
	if (rc < 0) {
		if (cli_restore_interrupted)
			cli_errx("interrupted by signal %d after %" PRIu64 " keys",
			    (int)cli_restore_interrupted, df->count);
		else
			cli_errx("%s", df->why);
		store_restore_abort(r);
		return df->sys_errno ? CLI_EXIT_SYSTEM : CLI_EXIT_STORE;
	}
	cli_restore_progress(pr, df, 1);
	if (store_restore_digest(r) != df->digest) {
		cli_errx("%s: the %" PRIu64 " keys read have digest %016" PRIx64 ", the dump says %016"
		    PRIx64 ": the dump was changed or damaged since it was written", df->name,
		    df->count, store_restore_digest(r), df->digest);
		store_restore_abort(r);
		return CLI_EXIT_STORE;
	}
	if (cli_restore_interrupted) {
		cli_errx("interrupted by signal %d", (int)cli_restore_interrupted);
		store_restore_abort(r);
		return CLI_EXIT_SYSTEM;
	}
	rc = store_restore_finish(r, &err);
	if (rc < 0)
		return cli_fail(rc, &err, dir);
	status = cli_restore_check(dir, df);
	if (status == CLI_EXIT_OK)
		printf("restored %" PRIu64 " keys at seq %" PRIu64 " (digest %016" PRIx64
		    ") into store %s (group %s, io_timeout %u s, sanlock lease %s)\n",
		    df->count, df->seq, df->digest, dir, group, io_timeout, lease);
	return status;
}

static int cli_restore_run(const struct cli_command *cmd, int argc, char **argv)
{
	enum { OPT_GROUP = 256, OPT_IO_TIMEOUT, OPT_PROGRESS, OPT_NO_PROGRESS };
	static const struct option longopts[] = {
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "progress", no_argument, NULL, OPT_PROGRESS },
		{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *group_arg = NULL;
	uint64_t io_timeout = CLI_RESTORE_IO_TIMEOUT_DEFAULT;
	int progress = -1;      /* -1: on a terminal, for a large dump */
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_GROUP:
			if (!cli_group_valid(optarg, strlen(optarg)))
				return cli_usage_error(cmd, "--group \"%s\": a group name is 1 to %u "
				    "characters from A-Z a-z 0-9 . _ -", optarg, STORE_GROUP_MAX);
			group_arg = optarg;
			break;
		case OPT_IO_TIMEOUT:
			if (cli_parse_u64(optarg, 1, CLI_RESTORE_IO_TIMEOUT_MAX, &io_timeout) < 0)
				return cli_usage_error(cmd, "--io-timeout %s: expected whole seconds "
				    "from 1 to %u", optarg, CLI_RESTORE_IO_TIMEOUT_MAX);
			break;
		case OPT_PROGRESS:
			progress = 1;
			break;
		case OPT_NO_PROGRESS:
			progress = 0;
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing argument: %s",
			    argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(cmd, "restore takes a dump file (or -) and a directory");
	const char *file = argv[optind], *dir = argv[optind + 1];

	struct cli_dumpfile df;
	if (cli_dumpfile_open(&df, file) < 0) {
		cli_errx("%s", df.why);
		return CLI_EXIT_SYSTEM;
	}
	int status = CLI_EXIT_OK, made = 0;
	if (cli_dumpfile_header(&df) < 0) {
		cli_errx("%s", df.why);
		status = df.sys_errno ? CLI_EXIT_SYSTEM : CLI_EXIT_STORE;
		goto out;
	}
	const char *group = group_arg != NULL ? group_arg : df.group;
	if (!cli_group_valid(group, strlen(group))) {
		cli_errx("%s: the dump's group \"%s\" is not a group name: give one with --group",
		    df.name, group);
		status = CLI_EXIT_STORE;
		goto out;
	}
	cli_restore_catch_signals();
	status = cli_restore_target(dir, &made);
	if (status != CLI_EXIT_OK)
		goto out;

	struct cli_restore_progress pr = { 0, 0, 0 };
	pr.on = progress == 1 || (progress == -1 && isatty(STDERR_FILENO) &&
	    (df.size == 0 || df.size >= CLI_RESTORE_PROGRESS_BYTES));
	pr.last_ms = cli_restore_now_ms();
	status = cli_restore_into(dir, &df, group, (unsigned)io_timeout, &pr);
	if (pr.drawn && status != CLI_EXIT_OK)
		fputc('\n', stderr);
	if (status != CLI_EXIT_OK) {
		cli_restore_undo(dir, made);
		cli_errx("%s: nothing restored (the directory is left as it was)", dir);
	} else {
		status = cli_flush_stdout();
	}
out:
	cli_dumpfile_close(&df);
	return status;
}

const struct cli_command cli_restore_command = {
	.name = "restore",
	.synopsis = "restore [--group NAME] [--io-timeout SECONDS] [--progress |\n"
	    "      --no-progress] FILE DIR",
	.summary = "Make DIR (missing or empty) a new store holding the state of\n"
	    "the dump FILE (- for standard input), every key at its version and\n"
	    "the dump's sequence number; refused unless the copy is exact.",
	.options =
	    "      --group NAME          group name (default: the dump's)\n"
	    "      --io-timeout SECONDS  sanlock io_timeout of the new store's lease,\n"
	    "                            1-60 (default 10)\n"
	    "      --progress            a progress bar on stderr even when it is not\n"
	    "                            a terminal\n"
	    "      --no-progress         no progress bar (default: one on a terminal\n"
	    "                            for dumps of 16 MiB or more)\n",
	.run = cli_restore_run,
};
