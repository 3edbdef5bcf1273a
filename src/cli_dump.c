/*
 * cli_dump.c: `ssfm dump`: the whole state as one JSON document, written
 * key by key as it is read (never built in memory), one key per line:
 *
 *   {"group":"G","seq":N,"digest":"16 hex digits","keys":[
 *   {"key":"a","version":3,"value":{...}},
 *   ...
 *   ]}
 *
 * seq: the document holds every operation up to seq and none after; the
 * digest is the store's state digest at seq, over the keys, versions and
 * value bytes shown, so `ssfm restore` can tell an exact copy.  Offline
 * (`dump DIR`) it reads the directory; online (`dump`) it reads the
 * daemon's consistent cut (ssfm_dump).  Both write the same document.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli_online.h"

static void cli_dump_header(const char *group, uint64_t seq, uint64_t digest)
{
	fputs("{\"group\":", stdout);
	cli_json_string(stdout, group, strlen(group));
	printf(",\"seq\":%" PRIu64 ",\"digest\":", seq);
	cli_json_digest(stdout, digest);
	fputs(",\"keys\":[\n", stdout);
}

static void cli_dump_footer(uint64_t count)
{
	fputs(count > 0 ? "\n]}\n" : "]}\n", stdout);
}

struct cli_dump {
	uint64_t count;
	int error;
};

static int cli_dump_key(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	struct cli_dump *d = arg;

	if (d->count++ > 0)
		fputs(",\n", stdout);
	if (cli_json_entry(stdout, key, key_len, value, value_len, version) < 0) {
		d->error = 1;
		return 1;
	}
	return 0;
}

static int cli_dump_run(const struct cli_command *cmd, int argc, char **argv)
{
	int status = cli_json_option(cmd, argc, argv, NULL);

	if (status != CLI_GO_ON)
		return status;
	if (argc - optind != 1)
		return cli_usage_error(cmd, "dump takes one directory");
	const char *dir = argv[optind];

	struct store *st;
	status = cli_open(dir, &st);
	if (status != CLI_EXIT_OK)
		return status;

	struct store_info info;
	store_info(st, &info);
	cli_dump_header(info.group, info.applied_seq, info.digest);

	struct cli_dump d = { 0 };
	int rc = cli_scan(st, NULL, NULL, cli_dump_key, &d);
	if (rc < 0) {
		struct store_error none = { 0 };
		status = cli_fail(rc, &none, dir);
	} else if (d.error) {
		cli_errx("standard output: write failed during the dump of %s",
		    dir);
		status = CLI_EXIT_SYSTEM;
	} else {
		cli_dump_footer(d.count);
	}
	return cli_finish(st, dir, status);
}

const struct cli_command cli_dump_command = {
	.name = "dump",
	.synopsis = "dump DIR",
	.summary = "Write the store's whole state as JSON, keys in order, with\n"
	    "its sequence number and digest (a backup for ssfm restore).",
	.options = "",
	.run = cli_dump_run,
};

static int cli_dump_online_key(void *arg, const struct ssfm_dump_info *info,
    const char *key, const char *value, uint64_t version)
{
	struct cli_dump *d = arg;

	if (key == NULL) {
		cli_dump_header(info->group, info->seq, info->digest);
		return ferror(stdout) ? (d->error = 1) : 0;
	}
	return cli_dump_key(d, key, strlen(key), value, strlen(value), version);
}

static int cli_dump_online_run(const struct cli_command *cmd, int argc,
    char **argv)
{
	int status = cli_json_option(cmd, argc, argv, NULL);

	if (status != CLI_GO_ON)
		return status;
	if (argc - optind == 1 && cli_socket != NULL)
		return cli_usage_error(cmd, "online dump (-s) takes no operand");
	if (argc - optind == 1) {
		/* Here DIR is not a store: the offline dump says so (a
		 * mistyped path must not dump the daemon's state instead). */
		cli_getopt_reset();
		return cli_dump_run(&cli_dump_command, argc, argv);
	}
	if (argc - optind != 0)
		return cli_usage_error(cmd, "online dump takes no operand");

	ssfm_client *client;
	status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	struct cli_dump d = { 0 };
	struct ssfm_dump_info info;
	long long n = ssfm_dump(client, &info, cli_dump_online_key, &d);
	if (d.error) {
		cli_errx("standard output: write failed during the dump");
		status = CLI_EXIT_SYSTEM;
	} else if (n == SSFM_ENOTFOUND) {
		/* Not a missing key: the daemon dropped the cut (this client
		 * paused too long between pages).  Nothing complete was written. */
		cli_errx("dump: %s", ssfm_errmsg(client));
		status = CLI_EXIT_UNREACHABLE;
	} else if (n < 0) {
		status = cli_online_fail(client, (int)n, "dump");
	} else {
		cli_dump_footer(d.count);
		status = cli_flush_stdout();
	}
	ssfm_close(client);
	return status;
}

const struct cli_command cli_dump_online_command = {
	.name = "dump",
	.synopsis = "dump",
	.summary = "The daemon's whole state as JSON, as dump DIR writes it, from\n"
	    "a consistent cut at one sequence number; writers pause only\n"
	    "while the cut is taken.",
	.options = "",
	.run = cli_dump_online_run,
};
