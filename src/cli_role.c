/*
 * cli_role.c: `ssfm promote` and `ssfm demote`, the manual role changes
 * (for auto_promote = no, e.g. under Pacemaker, and for switchovers).
 *
 * promote --wait lets the daemon wait until this host is ACTIVE.  demote
 * --wait polls this daemon's status until another host is active as this
 * host sees it (its active_host), so the role has really moved.  On
 * success both print this host's name and its role.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_online.h"

#define CLI_ROLE_WAIT_DEFAULT_MS 30000
#define CLI_ROLE_POLL_MS 100

struct cli_role_view {
	char host[128];
	char role[32];
	char active[128];       /* "" when none known */
};

static void cli_role_copy(char *dst, size_t len, const json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int cli_role_view(ssfm_client *client, struct cli_role_view *view)
{
	char *text = NULL;
	int rc = ssfm_status(client, &text);

	if (rc != SSFM_OK)
		return rc;
	json_t *st = json_loads(text, 0, NULL);
	free(text);
	if (!json_is_object(st)) {
		json_decref(st);
		return SSFM_EPROTO;
	}
	cli_role_copy(view->host, sizeof(view->host), json_object_get(st, "host"));
	cli_role_copy(view->role, sizeof(view->role), json_object_get(st, "role"));
	cli_role_copy(view->active, sizeof(view->active),
	    json_object_get(st, "active_host"));
	json_decref(st);
	return SSFM_OK;
}

static uint64_t cli_role_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Another host is active and this one is not, as this daemon sees it. */
static int cli_role_moved(const struct cli_role_view *v)
{
	return strcmp(v->role, "ACTIVE") != 0 && strcmp(v->role, "CATCHUP") != 0 &&
	    strcmp(v->role, "DEMOTING") != 0 && v->active[0] != '\0' &&
	    strcmp(v->active, v->host) != 0;
}

static int cli_role_demote_wait(ssfm_client *client, int timeout_ms)
{
	uint64_t deadline = cli_role_now_ms() + (uint64_t)timeout_ms;
	struct cli_role_view v = { .role = "" };

	for (;;) {
		int rc = cli_role_view(client, &v);
		if (rc != SSFM_OK)
			return cli_online_fail(client, rc, "demote --wait: status");
		if (cli_role_moved(&v))
			return CLI_EXIT_OK;
		if (cli_role_now_ms() >= deadline) {
			cli_errx("demote: no other host became active within "
			    "%d s (%s is %s, active host: %s)", timeout_ms / 1000,
			    v.host, v.role, v.active[0] ? v.active : "none");
			return CLI_EXIT_TIMEOUT;
		}
		struct timespec pause = { 0, CLI_ROLE_POLL_MS * 1000000L };
		nanosleep(&pause, NULL);
	}
}

static int cli_role_run(const struct cli_command *cmd, int argc, char **argv,
    int promote)
{
	enum { OPT_WAIT = 256, OPT_TIMEOUT };
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, OPT_WAIT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int wait = 0, timeout_ms = 0, c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_WAIT:
			wait = 1;
			break;
		case OPT_TIMEOUT:
			if (cli_online_parse_seconds(optarg, &timeout_ms) < 0)
				return cli_usage_error(cmd, "--timeout %s: "
				    "expected 1 to 86400 seconds", optarg);
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		}
	}
	if (argc != optind)
		return cli_usage_error(cmd, "%s takes no operand", cmd->name);

	ssfm_client *client;
	int status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	int rc = promote ? ssfm_promote(client, wait, timeout_ms) :
	    ssfm_demote(client);
	if (rc != SSFM_OK) {
		status = cli_online_fail(client, rc, cmd->name);
	} else if (!promote && wait) {
		status = cli_role_demote_wait(client, timeout_ms > 0 ?
		    timeout_ms : CLI_ROLE_WAIT_DEFAULT_MS);
	}
	if (status == CLI_EXIT_OK) {
		struct cli_role_view v;
		rc = cli_role_view(client, &v);
		if (rc == SSFM_OK) {
			printf("%s %s\n", v.host, v.role);
			status = cli_flush_stdout();
		} else {
			status = cli_online_fail(client, rc, "status");
		}
	}
	ssfm_close(client);
	return status;
}

static int cli_promote_run(const struct cli_command *cmd, int argc, char **argv)
{
	return cli_role_run(cmd, argc, argv, 1);
}

static int cli_demote_run(const struct cli_command *cmd, int argc, char **argv)
{
	return cli_role_run(cmd, argc, argv, 0);
}

const struct cli_command cli_promote_command = {
	.name = "promote",
	.synopsis = "promote [--wait] [--timeout SECONDS]",
	.summary = "Ask this host's daemon to become active; print the host and its role.",
	.options =
	    "      --wait                return once this host is ACTIVE\n"
	    "      --timeout SECONDS     give up waiting after this long (exit 9)\n",
	.run = cli_promote_run,
};

const struct cli_command cli_demote_command = {
	.name = "demote",
	.synopsis = "demote [--wait] [--timeout SECONDS]",
	.summary = "Hand the active role over gracefully; print the host and its role.",
	.options =
	    "      --wait                return once another host is active\n"
	    "      --timeout SECONDS     give up waiting after this long (exit 9;"
	    " default 30)\n",
	.run = cli_demote_run,
};
