/*
 * cli_watch.c: `ssfm watch`: the daemon's stream of applied operations, one
 * JSON line per event, flushed as it comes (for pipes):
 *   {"event":"put","seq":N,"epoch":E,"key":K,"value":V}
 *   {"event":"del","seq":N,"epoch":E,"key":K}
 *   {"event":"seal","seq":N,"epoch":E,"host":H}
 * It runs until --count events were printed (exit 0), or until the daemon
 * ends the stream (exit 5, with the daemon's reason: role, shutdown,
 * overflow, compacted), or a signal ends it.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli_online.h"

struct cli_watch_state {
	uint64_t count;         /* stop after this many events (0: never) */
	uint64_t seen;
	int output_failed;
};

static int cli_watch_event(void *arg, const struct ssfm_event *ev)
{
	struct cli_watch_state *w = arg;
	const char *kind = ev->kind == SSFM_EVENT_PUT ? "put" :
	    ev->kind == SSFM_EVENT_DEL ? "del" : "seal";

	printf("{\"event\":\"%s\",\"seq\":%" PRIu64 ",\"epoch\":%" PRIu64,
	    kind, ev->seq, ev->epoch);
	if (ev->key != NULL) {
		fputs(",\"key\":", stdout);
		cli_json_string(stdout, ev->key, strlen(ev->key));
	}
	if (ev->kind == SSFM_EVENT_PUT && ev->value != NULL)
		printf(",\"value\":%s", ev->value);
	if (ev->host != NULL) {
		fputs(",\"host\":", stdout);
		cli_json_string(stdout, ev->host, strlen(ev->host));
	}
	fputs("}\n", stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		w->output_failed = 1;
		return 1;
	}
	w->seen++;
	return w->count > 0 && w->seen >= w->count;
}

static int cli_watch_run(const struct cli_command *cmd, int argc, char **argv)
{
	enum { OPT_FROM = 256, OPT_COUNT };
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, OPT_FROM },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_watch_state w = { 0 };
	int64_t from = -1;
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FROM:
			if (cli_parse_u64(optarg, 0, INT64_MAX, &v) < 0)
				return cli_usage_error(cmd, "--from %s: expected a "
				    "sequence number", optarg);
			from = (int64_t)v;
			break;
		case OPT_COUNT:
			if (cli_parse_u64(optarg, 1, UINT64_MAX, &w.count) < 0)
				return cli_usage_error(cmd, "--count %s: expected "
				    "a number of events, at least 1", optarg);
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error(cmd, "watch takes at most a key prefix");
	const char *prefix = argc - optind == 1 ? argv[optind] : NULL;
	int status;
	if (prefix != NULL && prefix[0] != '\0' &&
	    (status = cli_check_key_arg("prefix", prefix)) != CLI_EXIT_OK)
		return status;

	ssfm_client *client;
	status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	int rc = ssfm_watch(client, from, prefix, cli_watch_event, &w);
	if (w.output_failed) {
		cli_errx("standard output: write failed while watching");
		status = CLI_EXIT_SYSTEM;
	} else if (rc != SSFM_OK) {
		status = cli_online_fail(client, rc, "watch");
	}
	ssfm_close(client);
	return status;
}

const struct cli_command cli_watch_command = {
	.name = "watch",
	.synopsis = "watch [--from SEQ] [--count N] [PREFIX]",
	.summary = "Print each operation applied (one JSON line per event) as it comes.",
	.options =
	    "      --from SEQ            start after sequence number SEQ (default: now)\n"
	    "      --count N             stop after N events (exit 0)\n",
	.run = cli_watch_run,
};
