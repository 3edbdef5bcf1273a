/*
 * cli_status.c: `ssfm status` and `ssfm snapshot`.
 *
 * status --json prints the daemon's status object as it sent it (one line);
 * without it, the fields a person looks at first, one per line, and the
 * last failover's timeline with each step's time since the failure was
 * detected.  The metrics of metrics_file (ssfmd(8) METRICS) are fields of
 * the same object.  Fields the daemon did not send are shown as "-".
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_online.h"

static void cli_status_field(const char *label, const json_t *v)
{
	printf("%-16s", label);
	if (json_is_string(v))
		fputs(json_string_value(v), stdout);
	else if (json_is_integer(v))
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_boolean(v))
		fputs(json_is_true(v) ? "yes" : "no", stdout);
	else
		fputs("-", stdout);
	putchar('\n');
}

/* A CLOCK_REALTIME millisecond time as local "YYYY-MM-DD HH:MM:SS.mmm". */
static void cli_status_time(const json_t *v)
{
	char text[64];
	struct tm tm;

	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		fputs("-", stdout);
		return;
	}
	json_int_t ms = json_integer_value(v);
	time_t sec = (time_t)(ms / 1000);
	if (localtime_r(&sec, &tm) == NULL ||
	    strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
		printf("%" JSON_INTEGER_FORMAT, ms);
		return;
	}
	printf("%s.%03d", text, (int)(ms % 1000));
}

static void cli_status_step(const json_t *f, const char *label, const char *name)
{
	char key[64];

	snprintf(key, sizeof(key), "%s_after_ms", name);
	const json_t *after = json_object_get(f, key);
	printf("  %-16s", label);
	if (json_is_integer(after))
		printf("+%" JSON_INTEGER_FORMAT " ms", json_integer_value(after));
	else
		fputs("-", stdout);
	putchar('\n');
}

static void cli_status_print(const json_t *st)
{
	const json_t *f = json_object_get(st, "failover");

	cli_status_field("group:", json_object_get(st, "group"));
	cli_status_field("host:", json_object_get(st, "host"));
	cli_status_field("role:", json_object_get(st, "role"));
	cli_status_field("epoch:", json_object_get(st, "epoch"));
	cli_status_field("committed seq:", json_object_get(st, "committed_seq"));
	cli_status_field("applied seq:", json_object_get(st, "applied_seq"));
	const json_t *lag_seq = json_object_get(st, "lag_seq");
	const json_t *lag_ms = json_object_get(st, "lag_ms");
	printf("%-16s", "lag:");
	if (json_is_integer(lag_seq) && json_is_integer(lag_ms))
		printf("%" JSON_INTEGER_FORMAT " seq, %" JSON_INTEGER_FORMAT
		    " ms\n", json_integer_value(lag_seq), json_integer_value(lag_ms));
	else
		puts("-");
	cli_status_field("lease holder:", json_object_get(st, "lease_holder"));
	cli_status_field("active host:", json_object_get(st, "active_host"));
	cli_status_field("keys:", json_object_get(st, "keys"));
	cli_status_field("service:", json_object_get(st, "service"));
	cli_status_field("quarantined:", json_object_get(st, "quarantined_files"));
	cli_status_field("failovers:", json_object_get(st, "failovers"));
	const json_t *hooks = json_object_get(st, "hook_failures");
	if (json_is_object(hooks)) {
		const char *name;
		const json_t *count;
		printf("%-16s", "hook failures:");
		json_object_foreach((json_t *)hooks, name, count)
			printf(" %s %" JSON_INTEGER_FORMAT, name, json_integer_value(count));
		putchar('\n');
	}
	const json_t *age = json_object_get(st, "lease_renewal_age_seconds");
	if (json_is_number(age))
		printf("%-16s%.1f s\n", "lease renewed:", json_number_value(age));
	const json_t *blocked = json_object_get(st, "blocked");
	if (blocked != NULL)
		cli_status_field("blocked:", blocked);

	if (!json_is_object(f) || json_object_get(f, "detected") == NULL) {
		puts("last failover:  none on this host");
		return;
	}
	const json_t *reason = json_object_get(f, "reason");
	const json_t *prev = json_object_get(f, "previous_active");
	const json_t *epoch = json_object_get(f, "epoch");
	printf("last failover:  ");
	if (json_is_integer(epoch))
		printf("epoch %" JSON_INTEGER_FORMAT, json_integer_value(epoch));
	if (json_is_string(reason))
		printf(" (%s)", json_string_value(reason));
	if (json_is_string(prev) && json_string_value(prev)[0] != '\0')
		printf(", previous active %s", json_string_value(prev));
	putchar('\n');
	printf("  %-16s", "detected");
	cli_status_time(json_object_get(f, "detected"));
	putchar('\n');
	cli_status_step(f, "lease acquired", "lease_acquired");
	if (json_object_get(f, "fence_started") != NULL) {
		cli_status_step(f, "fence started", "fence_started");
		cli_status_step(f, "fenced", "fenced");
	}
	cli_status_step(f, "caught up", "caught_up");
	cli_status_step(f, "sealed", "sealed");
	cli_status_step(f, "service started", "service_started");
}

static int cli_status_run(const struct cli_command *cmd, int argc, char **argv)
{
	int as_json = 0;
	int status = cli_json_option(cmd, argc, argv, &as_json);

	if (status != CLI_GO_ON)
		return status;
	if (argc != optind)
		return cli_usage_error(cmd, "status takes no operand");

	ssfm_client *client;
	status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	char *text = NULL;
	int rc = ssfm_status(client, &text);
	if (rc != SSFM_OK) {
		status = cli_online_fail(client, rc, "status");
	} else if (as_json) {
		puts(text);
		status = cli_flush_stdout();
	} else {
		json_error_t jerr;
		json_t *st = json_loads(text, 0, &jerr);
		if (json_is_object(st)) {
			cli_status_print(st);
			status = cli_flush_stdout();
		} else {
			cli_errx("status: the daemon's reply is not a JSON "
			    "object: %s", jerr.text);
			status = CLI_EXIT_UNREACHABLE;
		}
		json_decref(st);
	}
	free(text);
	ssfm_close(client);
	return status;
}

static int cli_snapshot_run(const struct cli_command *cmd, int argc, char **argv)
{
	int status = cli_json_option(cmd, argc, argv, NULL);

	if (status != CLI_GO_ON)
		return status;
	if (argc != optind)
		return cli_usage_error(cmd, "snapshot takes no operand");

	ssfm_client *client;
	status = cli_online_connect(&client);
	if (status != CLI_EXIT_OK)
		return status;
	uint64_t seq = 0;
	int rc = ssfm_snapshot(client, &seq);
	if (rc == SSFM_OK) {
		printf("%" PRIu64 "\n", seq);
		status = cli_flush_stdout();
	} else {
		status = cli_online_fail(client, rc, "snapshot");
	}
	ssfm_close(client);
	return status;
}

const struct cli_command cli_status_command = {
	.name = "status",
	.synopsis = "status [--json]",
	.summary = "Show the daemon's role, sequence numbers, lag, lease and last failover.",
	.options =
	    "      --json                the daemon's status object, as it sent it\n",
	.run = cli_status_run,
};

const struct cli_command cli_snapshot_command = {
	.name = "snapshot",
	.synopsis = "snapshot",
	.summary = "Ask the active daemon for a snapshot now; print its sequence number.",
	.options = "",
	.run = cli_snapshot_run,
};
