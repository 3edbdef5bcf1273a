/*
 * cli_dump.c: `ssfm dump`: the whole state as one JSON document, written
 * key by key as it is read (never built in memory), one key per line:
 *
 *   {"group":"G","seq":N,"digest":"16 hex digits","keys":[
 *   {"key":"a","version":3,"value":{...}},
 *   ...
 *   ]}
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

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
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h')
			return cli_command_help(cmd);
		return cli_usage_error(cmd, "unknown option: %s",
		    argv[optind - 1]);
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "dump takes one directory");
	const char *dir = argv[optind];

	struct store *st;
	int status = cli_open(dir, &st);
	if (status != CLI_EXIT_OK)
		return status;

	struct store_info info;
	store_info(st, &info);
	fputs("{\"group\":", stdout);
	cli_json_string(stdout, info.group, strnlen(info.group,
	    sizeof(info.group)));
	printf(",\"seq\":%" PRIu64 ",\"digest\":", info.applied_seq);
	cli_json_digest(stdout, info.digest);
	fputs(",\"keys\":[\n", stdout);

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
		fputs(d.count > 0 ? "\n]}\n" : "]}\n", stdout);
	}
	return cli_finish(st, dir, status);
}

const struct cli_command cli_dump_command = {
	.name = "dump",
	.synopsis = "dump DIR",
	.summary = "Write the store's whole state as JSON, keys in order.",
	.options = "",
	.run = cli_dump_run,
};
