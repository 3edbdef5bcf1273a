/*
 * cli_write.c: `ssfm put` and `ssfm del`, writes through the active host's
 * daemon.
 *
 * put prints the key's new version, del the delete's sequence number, each
 * on a line of its own, once the daemon has acknowledged the write (it is
 * then durable in the shared store).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli_online.h"

struct cli_write_args {
	int64_t expect;
	const char *reqid;
	const char *key;
	const char *value;      /* put only */
	int help;               /* -h: the command's help was printed */
};

/* Parses --expect and --id and the operands (2 for put, 1 for del). */
static int cli_write_parse(const struct cli_command *cmd, int argc, char **argv,
    int operands, struct cli_write_args *a)
{
	enum { OPT_EXPECT = 256, OPT_ID };
	static const struct option longopts[] = {
		{ "expect", required_argument, NULL, OPT_EXPECT },
		{ "id", required_argument, NULL, OPT_ID },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	a->expect = SSFM_ANY_VERSION;
	a->reqid = NULL;
	a->help = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_EXPECT:
			if (cli_parse_u64(optarg, 0, INT64_MAX, &v) < 0)
				return cli_usage_error(cmd, "--expect %s: expected a "
				    "version (0: the key must not exist)", optarg);
			a->expect = (int64_t)v;
			break;
		case OPT_ID:
			if (optarg[0] == '\0' || strlen(optarg) > 128)
				return cli_usage_error(cmd, "--id: a request id has "
				    "1 to 128 bytes");
			a->reqid = optarg;
			break;
		case 'h':
			a->help = 1;
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		}
	}
	if (argc - optind != operands)
		return cli_usage_error(cmd, operands == 2 ? "put takes a key "
		    "and a JSON value" : "del takes a key");
	a->key = argv[optind];
	a->value = operands == 2 ? argv[optind + 1] : NULL;
	return cli_check_key_arg("key", a->key);
}

static int cli_write_run(const struct cli_command *cmd, int argc, char **argv,
    int is_put)
{
	struct cli_write_args a = { 0 };
	ssfm_client *client;
	uint64_t version = 0;
	char what[64];

	int status = cli_write_parse(cmd, argc, argv, is_put ? 2 : 1, &a);
	if (a.help || status != CLI_EXIT_OK)
		return status;
	status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	int rc = is_put ?
	    ssfm_put(client, a.key, a.value, a.expect, a.reqid, &version) :
	    ssfm_del(client, a.key, a.expect, a.reqid, &version);
	if (rc == SSFM_OK) {
		printf("%" PRIu64 "\n", version);
		status = cli_flush_stdout();
	} else {
		char *q = cli_quote(a.key, strlen(a.key));
		snprintf(what, sizeof(what), "%s %.40s%s", cmd->name, q,
		    strlen(q) > 40 ? "..." : "");
		cli_quote_free(q);
		status = cli_online_fail(client, rc, what);
	}
	ssfm_close(client);
	return status;
}

static int cli_put_run(const struct cli_command *cmd, int argc, char **argv)
{
	return cli_write_run(cmd, argc, argv, 1);
}

static int cli_del_run(const struct cli_command *cmd, int argc, char **argv)
{
	return cli_write_run(cmd, argc, argv, 0);
}

#define CLI_WRITE_OPTIONS \
	"      --expect VERSION      only if KEY has this version (0: if it does not exist)\n" \
	"      --id REQID            request id: a retry with the same id is answered,\n" \
	"                            not applied again (also after a failover)\n"

const struct cli_command cli_put_command = {
	.name = "put",
	.synopsis = "put [--expect VERSION] [--id REQID] KEY JSON",
	.summary = "Write KEY = JSON through the active daemon; print the new version.",
	.options = CLI_WRITE_OPTIONS,
	.run = cli_put_run,
};

const struct cli_command cli_del_command = {
	.name = "del",
	.synopsis = "del [--expect VERSION] [--id REQID] KEY",
	.summary = "Delete KEY through the active daemon; print the delete's sequence number.",
	.options = CLI_WRITE_OPTIONS,
	.run = cli_del_run,
};
