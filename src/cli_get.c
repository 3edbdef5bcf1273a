/*
 * cli_get.c: `ssfm get`: one key's value (and with --version, its version).
 *
 * Output: the value's JSON text as stored, then a newline.  With --version:
 * one JSON object {"key":K,"version":N,"value":V}, the same shape as an
 * entry of `ssfm dump`, so one parser reads both.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_get_options(const struct cli_command *cmd, int argc, char **argv,
    int *with_version)
{
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*with_version = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_VERSION:
			*with_version = 1;
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option: %s",
			    argv[optind - 1]);
		}
	}
	return CLI_GO_ON;
}

void cli_get_print(const char *key, size_t key_len, const char *value,
    size_t value_len, uint64_t version, int with_version)
{
	if (with_version)
		cli_json_entry(stdout, key, key_len, value, value_len, version);
	else
		fwrite(value, 1, value_len, stdout);
	putchar('\n');
}

static int cli_get_run(const struct cli_command *cmd, int argc, char **argv)
{
	int with_version;
	int status = cli_get_options(cmd, argc, argv, &with_version);

	if (status != CLI_GO_ON)
		return status;
	if (argc - optind != 2)
		return cli_usage_error(cmd, "get takes a directory and a key");
	const char *dir = argv[optind];
	const char *key = argv[optind + 1];
	size_t key_len = strlen(key);
	status = cli_check_key_arg("key", key);
	if (status != CLI_EXIT_OK)
		return status;

	struct store *st;
	status = cli_open(dir, &st);
	if (status != CLI_EXIT_OK)
		return status;

	char *value = NULL;
	size_t value_len = 0;
	uint64_t version = 0;
	int rc = store_get(st, key, key_len, &value, &value_len, &version);
	if (rc == -STORE_ENOTFOUND) {
		char *q = cli_quote(key, key_len);
		cli_errx("%s: key %s not found", dir, q);
		cli_quote_free(q);
		status = CLI_EXIT_NO;
	} else if (rc < 0) {
		struct store_error none = { 0 };
		status = cli_fail(rc, &none, dir);
	} else {
		cli_get_print(key, key_len, value, value_len, version,
		    with_version);
	}
	free(value);
	return cli_finish(st, dir, status);
}

const struct cli_command cli_get_command = {
	.name = "get",
	.synopsis = "get [--version] DIR KEY",
	.summary = "Print KEY's value (JSON) as stored.",
	.options =
	    "      --version             print {\"key\":K,\"version\":N,\"value\":V}"
	    " instead\n",
	.run = cli_get_run,
};
