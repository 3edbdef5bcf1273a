/*
 * cli_verify.c: `ssfm verify`: checks every file of a store without
 * modifying it (store_verify) and reports what it found: the store's lines
 * (one per finding, naming the file, then a summary) as they come, or with
 * --json one object with the counts and those lines.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "fence.h"

/*
 * The sanlock lease area is part of a store (ssfm init writes both): check
 * it as sanlock will read it (O_DIRECT), and say what it holds.  Fills line
 * and returns 1 when it is sound, 0 when not.
 */
static int cli_verify_lease(const char *dir, char *line, size_t len)
{
	char path[4096];
	struct fence_lease_info info;
	struct fence_error ferr = { 0 };

	if (fence_lease_path(dir, path, sizeof(path)) < 0) {
		snprintf(line, len, "%s: path too long for the lease file", dir);
		return 0;
	}
	int rc = fence_lease_check(path, NULL, &info, &ferr);
	if (rc < 0) {
		snprintf(line, len, "%s", ferr.msg[0] ? ferr.msg : fence_strerror(rc));
		return 0;
	}
	snprintf(line, len, "%s: sanlock lockspace %s, io_timeout %u s, "
	    "lease version %" PRIu64 "%s", path, info.group, info.io_timeout,
	    info.lver, info.owner_held ? " (held)" : "");
	return 1;
}

struct cli_findings {
	json_t *lines;          /* --json: collected; else printed at once */
	int oom;
};

static void cli_verify_line(void *arg, const char *text)
{
	struct cli_findings *f = arg;

	if (f->lines == NULL) {
		printf("%s\n", text);
		return;
	}
	json_t *s = json_string(text);
	if (s == NULL || json_array_append_new(f->lines, s) < 0)
		f->oom = 1;
}

static int cli_verify_json(const char *dir, const struct store_verify_report *r,
    int clean, json_t *findings, int lease_ok, const char *lease_line)
{
	char digest[17];

	snprintf(digest, sizeof(digest), "%016" PRIx64, r->digest);
	json_t *o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
	    " s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:O}",
	    "dir", dir, "clean", clean,
	    "files_checked", (json_int_t)r->files_checked,
	    "batches", (json_int_t)r->batches,
	    "seals", (json_int_t)r->seals,
	    "snapshots", (json_int_t)r->snapshots,
	    "ops", (json_int_t)r->ops,
	    "first_seq", (json_int_t)r->first_seq,
	    "last_seq", (json_int_t)r->last_seq,
	    "digest", digest,
	    "damaged", (int)r->damaged, "gaps", (int)r->gaps,
	    "stale", (int)r->stale, "unsealed", (int)r->unsealed,
	    "temporaries", (int)r->temporaries,
	    "quarantined", (int)r->quarantined,
	    "findings", findings);
	if (o != NULL && json_object_set_new(o, "lease", json_pack("{s:b, s:s}",
	    "ok", lease_ok, "message", lease_line)) < 0) {
		json_decref(o);
		o = NULL;
	}
	if (o == NULL) {
		cli_errx("%s: cannot build the JSON report (out of memory, or "
		    "a path that is not UTF-8)", dir);
		return CLI_EXIT_SYSTEM;
	}
	int rc = json_dumpf(o, stdout, JSON_INDENT(2));
	json_decref(o);
	if (rc < 0) {
		cli_errx("standard output: cannot write the JSON report");
		return CLI_EXIT_SYSTEM;
	}
	putchar('\n');
	return CLI_EXIT_OK;
}

static int cli_verify_run(const struct cli_command *cmd, int argc, char **argv)
{
	int json = 0;
	int go = cli_json_option(cmd, argc, argv, &json);

	if (go != CLI_GO_ON)
		return go;
	if (argc - optind != 1)
		return cli_usage_error(cmd, "verify takes one directory");
	const char *dir = argv[optind];

	struct cli_findings findings = { 0 };
	struct store_verify_report rep = { 0 };
	struct store_error err = { 0 };
	int status;

	if (json && (findings.lines = json_array()) == NULL) {
		cli_errx("out of memory");
		return CLI_EXIT_SYSTEM;
	}
	int rc = store_verify(dir, &rep, cli_verify_line, &findings, &err);
	if (rc < 0) {
		status = cli_fail(rc, &err, dir);
		goto out;
	}
	if (findings.oom) {
		cli_errx("%s: out of memory collecting the findings", dir);
		status = CLI_EXIT_SYSTEM;
		goto out;
	}
	char lease_line[6000];
	int lease_ok = cli_verify_lease(dir, lease_line, sizeof(lease_line));
	/* Plain output is the store's own lines, the last a summary, then the
	 * lease area's. */
	if (!json)
		printf("%s\n", lease_line);
	status = json ? cli_verify_json(dir, &rep, rc == 0 && lease_ok,
	    findings.lines, lease_ok, lease_line) : CLI_EXIT_OK;
	if (status == CLI_EXIT_OK)
		status = cli_flush_stdout();
	if (status == CLI_EXIT_OK && rc > 0) {
		cli_errx("%s: verify found problems (%u damaged, %u gaps, "
		    "%u stale, %u unsealed, %u temporaries, %u quarantined)",
		    dir, rep.damaged, rep.gaps, rep.stale, rep.unsealed,
		    rep.temporaries, rep.quarantined);
		status = CLI_EXIT_NO;
	}
	if (status == CLI_EXIT_OK && !lease_ok) {
		cli_errx("%s: the sanlock lease area is not sound: %s", dir, lease_line);
		status = CLI_EXIT_NO;
	}
out:
	json_decref(findings.lines);
	return status;
}

const struct cli_command cli_verify_command = {
	.name = "verify",
	.synopsis = "verify [--json] DIR",
	.summary = "Check every file of the store at DIR, and its sanlock lease\n"
	    "area; report each problem.",
	.options =
	    "      --json                one JSON object: counts and findings\n",
	.run = cli_verify_run,
};
