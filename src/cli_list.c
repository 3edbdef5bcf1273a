/*
 * cli_list.c: `ssfm list`: keys with a prefix, in bytewise order, with
 * paging (--limit, --start).
 *
 * Output: one key per line.  With --json: one object, one key per line,
 *   {"keys":[
 *   {"key":"a","version":3,"value":{...}},
 *   ...
 *   ],"next":"b"}
 * where "next" is the first key not listed (pass it to --start for the next
 * page), or null when the listing reached the last key.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_listing_key(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	struct cli_listing *l = arg;

	if (l->limit > 0 && l->count == l->limit) {
		l->next = malloc(key_len + 1);
		if (l->next == NULL) {
			l->error = -ENOMEM;
			return 1;
		}
		memcpy(l->next, key, key_len);
		l->next[key_len] = '\0';
		l->next_len = key_len;
		return 1;
	}
	if (l->json) {
		if (l->count > 0)
			fputs(",\n", stdout);
		if (cli_json_entry(stdout, key, key_len, value, value_len,
		    version) < 0) {
			l->error = 1;
			return 1;
		}
	} else {
		fwrite(key, 1, key_len, stdout);
		putchar('\n');
	}
	l->count++;
	return 0;
}

void cli_listing_begin(const struct cli_listing *l)
{
	if (l->json)
		fputs("{\"keys\":[\n", stdout);
}

void cli_listing_end(struct cli_listing *l, int ok)
{
	if (ok && l->json) {
		fputs(l->count > 0 ? "\n],\"next\":" : "],\"next\":", stdout);
		if (l->next != NULL)
			cli_json_string(stdout, l->next, l->next_len);
		else
			fputs("null", stdout);
		fputs("}\n", stdout);
	}
	free(l->next);
	l->next = NULL;
}

int cli_list_options(const struct cli_command *cmd, int argc, char **argv,
    struct cli_listing *l, const char **start)
{
	enum { OPT_LIMIT = 256, OPT_START, OPT_JSON };
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "start", required_argument, NULL, OPT_START },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*start = NULL;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LIMIT:
			if (cli_parse_u64(optarg, 1, SIZE_MAX - 1, &l->limit) < 0)
				return cli_usage_error(cmd, "--limit %s: expected "
				    "a whole number of keys, at least 1", optarg);
			break;
		case OPT_START:
			*start = optarg;
			break;
		case OPT_JSON:
			l->json = 1;
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		}
	}
	if (*start != NULL) {
		int status = cli_check_key_arg("--start", *start);
		if (status != CLI_EXIT_OK)
			return status;
	}
	return CLI_GO_ON;
}

static int cli_list_run(const struct cli_command *cmd, int argc, char **argv)
{
	struct cli_listing l = { 0 };
	const char *start;
	int status = cli_list_options(cmd, argc, argv, &l, &start);

	if (status != CLI_GO_ON)
		return status;
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_error(cmd, "list takes a directory and "
		    "optionally a key prefix");
	const char *dir = argv[optind];
	const char *prefix = argc - optind == 2 ? argv[optind + 1] : "";

	if (prefix[0] != '\0' &&
	    (status = cli_check_key_arg("prefix", prefix)) != CLI_EXIT_OK)
		return status;

	struct store *st;
	status = cli_open(dir, &st);
	if (status != CLI_EXIT_OK)
		return status;

	cli_listing_begin(&l);
	int rc = cli_scan(st, prefix, start, cli_listing_key, &l);
	if (rc == 0 && l.error < 0)
		rc = l.error;
	if (rc < 0) {
		struct store_error none = { 0 };
		status = cli_fail(rc, &none, dir);
	} else if (l.error > 0) {
		cli_errx("standard output: write failed while listing %s", dir);
		status = CLI_EXIT_SYSTEM;
	}
	cli_listing_end(&l, status == CLI_EXIT_OK);
	return cli_finish(st, dir, status);
}

const struct cli_command cli_list_command = {
	.name = "list",
	.synopsis = "list [--limit N] [--start KEY] [--json] DIR [PREFIX]",
	.summary = "List the keys that begin with PREFIX, in bytewise order.",
	.options =
	    "      --limit N             at most N keys\n"
	    "      --start KEY           begin at the first key >= KEY\n"
	    "      --json                {\"keys\":[{\"key\",\"version\",\"value\"}...],"
	    "\"next\":K|null}\n",
	.run = cli_list_run,
};
