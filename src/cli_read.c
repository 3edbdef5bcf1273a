/*
 * cli_read.c: `ssfm get KEY` and `ssfm list [PREFIX]` through the daemon
 * (any host: a standby answers from its hot copy).  Their output has the
 * same shape as the offline get and list (cli_get.c, cli_list.c), so a
 * script reads either.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_online.h"

static int cli_read_get_run(const struct cli_command *cmd, int argc, char **argv)
{
	int with_version;
	int status = cli_get_options(cmd, argc, argv, &with_version);

	if (status != CLI_GO_ON)
		return status;
	if (argc - optind == 2)
		return cli_usage_error(cmd, "%s is not a store directory (it "
		    "has no ssfm-store file): online get takes only a key",
		    argv[optind]);
	if (argc - optind != 1)
		return cli_usage_error(cmd, "get takes a key");
	const char *key = argv[optind];
	status = cli_check_key_arg("key", key);
	if (status != CLI_EXIT_OK)
		return status;

	ssfm_client *client;
	status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	char *value = NULL;
	uint64_t version = 0;
	int rc = ssfm_get(client, key, &value, &version);
	if (rc == SSFM_OK) {
		cli_get_print(key, strlen(key), value, strlen(value), version,
		    with_version);
		status = cli_flush_stdout();
	} else if (rc == SSFM_ENOTFOUND) {
		char *q = cli_quote(key, strlen(key));
		cli_errx("key %s not found", q);
		cli_quote_free(q);
		status = CLI_EXIT_NO;
	} else {
		status = cli_online_fail(client, rc, "get");
	}
	free(value);
	ssfm_close(client);
	return status;
}

/* libssfm hands NUL-terminated keys and values. */
static int cli_read_list_key(void *arg, const char *key, const char *value,
    uint64_t version)
{
	return cli_listing_key(arg, key, strlen(key), value, strlen(value),
	    version);
}

static int cli_read_list_run(const struct cli_command *cmd, int argc, char **argv)
{
	struct cli_listing l = { 0 };
	const char *start;
	int status = cli_list_options(cmd, argc, argv, &l, &start);

	if (status != CLI_GO_ON)
		return status;
	if (argc - optind > 1)
		return cli_usage_error(cmd, "list takes at most a key prefix");
	const char *prefix = argc - optind == 1 ? argv[optind] : NULL;
	if (prefix != NULL && prefix[0] != '\0' &&
	    (status = cli_check_key_arg("prefix", prefix)) != CLI_EXIT_OK)
		return status;

	ssfm_client *client;
	status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	cli_listing_begin(&l);
	/* One key more than the limit: it is the next page's start. */
	long n = ssfm_list(client, prefix, start, l.limit ? (size_t)l.limit + 1 : 0,
	    cli_read_list_key, &l);
	if (n < 0) {
		status = cli_online_fail(client, (int)n, "list");
	} else if (l.error < 0) {
		cli_errx("list: out of memory");
		status = CLI_EXIT_SYSTEM;
	} else if (l.error > 0) {
		cli_errx("standard output: write failed while listing");
		status = CLI_EXIT_SYSTEM;
	}
	cli_listing_end(&l, status == CLI_EXIT_OK);
	if (status == CLI_EXIT_OK)
		status = cli_flush_stdout();
	ssfm_close(client);
	return status;
}

const struct cli_command cli_get_online_command = {
	.name = "get",
	.synopsis = "get [--version] KEY",
	.summary = "Print KEY's value (JSON) from the daemon.",
	.options =
	    "      --version             print {\"key\":K,\"version\":N,\"value\":V}"
	    " instead\n",
	.run = cli_read_get_run,
};

const struct cli_command cli_list_online_command = {
	.name = "list",
	.synopsis = "list [--limit N] [--start KEY] [--json] [PREFIX]",
	.summary = "List the daemon's keys that begin with PREFIX, in bytewise order.",
	.options =
	    "      --limit N             at most N keys\n"
	    "      --start KEY           begin at the first key >= KEY\n"
	    "      --json                {\"keys\":[{\"key\",\"version\",\"value\"}...],"
	    "\"next\":K|null}\n",
	.run = cli_read_list_run,
};
