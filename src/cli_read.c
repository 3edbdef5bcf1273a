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
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int with_version = 0, c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_VERSION:
			with_version = 1;
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option: %s",
			    argv[optind - 1]);
		}
	}
	if (argc - optind == 2)
		return cli_usage_error(cmd, "%s is not a store directory (it "
		    "has no ssfm-store file): online get takes only a key",
		    argv[optind]);
	if (argc - optind != 1)
		return cli_usage_error(cmd, "get takes a key");
	const char *key = argv[optind];
	int status = cli_check_key_arg("key", key);
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
		if (with_version)
			cli_json_entry(stdout, key, strlen(key), value,
			    strlen(value), version);
		else
			fputs(value, stdout);
		putchar('\n');
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

struct cli_read_listing {
	int json;
	size_t limit;           /* 0: no limit */
	size_t count;
	char *next;             /* the first key beyond the limit */
	int error;              /* -ENOMEM, or 1: output failed */
};

static int cli_read_list_key(void *arg, const char *key, const char *value,
    uint64_t version)
{
	struct cli_read_listing *l = arg;

	if (l->limit > 0 && l->count == l->limit) {
		l->next = strdup(key);
		if (l->next == NULL)
			l->error = -ENOMEM;
		return 1;
	}
	if (l->json) {
		if (l->count > 0)
			fputs(",\n", stdout);
		if (cli_json_entry(stdout, key, strlen(key), value,
		    strlen(value), version) < 0) {
			l->error = 1;
			return 1;
		}
	} else {
		fputs(key, stdout);
		putchar('\n');
	}
	l->count++;
	return 0;
}

static int cli_read_list_run(const struct cli_command *cmd, int argc, char **argv)
{
	enum { OPT_LIMIT = 256, OPT_START, OPT_JSON };
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "start", required_argument, NULL, OPT_START },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_read_listing l = { 0 };
	const char *start = NULL;
	uint64_t limit;
	int c, status;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LIMIT:
			if (cli_parse_u64(optarg, 1, SIZE_MAX - 1, &limit) < 0)
				return cli_usage_error(cmd, "--limit %s: expected "
				    "a whole number of keys, at least 1", optarg);
			l.limit = (size_t)limit;
			break;
		case OPT_START:
			start = optarg;
			break;
		case OPT_JSON:
			l.json = 1;
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(cmd, "list takes at most a key prefix");
	const char *prefix = argc - optind == 1 ? argv[optind] : NULL;
	if (prefix != NULL && prefix[0] != '\0' &&
	    (status = cli_check_key_arg("prefix", prefix)) != CLI_EXIT_OK)
		return status;
	if (start != NULL &&
	    (status = cli_check_key_arg("--start", start)) != CLI_EXIT_OK)
		return status;

	ssfm_client *client;
	status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	if (l.json)
		fputs("{\"keys\":[\n", stdout);
	/* One key more than the limit: it is the next page's start. */
	long n = ssfm_list(client, prefix, start, l.limit ? l.limit + 1 : 0,
	    cli_read_list_key, &l);
	if (n < 0) {
		status = cli_online_fail(client, (int)n, "list");
	} else if (l.error < 0) {
		cli_errx("list: out of memory");
		status = CLI_EXIT_SYSTEM;
	} else if (l.error > 0) {
		cli_errx("standard output: write failed while listing");
		status = CLI_EXIT_SYSTEM;
	} else {
		if (l.json) {
			fputs(l.count > 0 ? "\n],\"next\":" : "],\"next\":",
			    stdout);
			if (l.next != NULL)
				cli_json_string(stdout, l.next, strlen(l.next));
			else
				fputs("null", stdout);
			fputs("}\n", stdout);
		}
		status = cli_flush_stdout();
	}
	free(l.next);
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
