/*
 * cli_online.c: connecting to the daemon and turning libssfm's error codes
 * into ssfm(8)'s exit statuses and messages.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli_online.h"

const char *cli_socket;

int cli_online_exit_for(int rc)
{
	switch (rc) {
	case SSFM_OK:
		return CLI_EXIT_OK;
	case SSFM_ENOTFOUND:
		return CLI_EXIT_NO;
	case SSFM_EINVAL:
	case SSFM_ETOOLARGE:
		return CLI_EXIT_USAGE;
	case SSFM_ENOTACTIVE:
		return CLI_EXIT_NOT_ACTIVE;
	case SSFM_ECONFLICT:
		return CLI_EXIT_CONFLICT;
	case SSFM_EFENCED:
		return CLI_EXIT_FENCED;
	case SSFM_ETIMEDOUT:
		return CLI_EXIT_TIMEOUT;
	case SSFM_EDENIED:
	case SSFM_ENOMEM:
		return CLI_EXIT_SYSTEM;
	default:
		/* connect, I/O, protocol, unavailable, internal */
		return CLI_EXIT_UNREACHABLE;
	}
}

int cli_online_fail(ssfm_client *client, int rc, const char *what)
{
	const char *msg = ssfm_errmsg(client);

	if (msg == NULL || msg[0] == '\0')
		msg = ssfm_strerror(rc);
	if (rc == SSFM_ENOTACTIVE) {
		const char *active = ssfm_error_active_host(client);
		if (active == NULL || active[0] == '\0')
			cli_errx("%s: %s (no active host known)", what, msg);
		else if (strstr(msg, active) != NULL)
			cli_errx("%s: %s", what, msg);
		else
			cli_errx("%s: %s (active host: %s)", what, msg, active);
	} else if (rc == SSFM_ECONFLICT) {
		int64_t v = ssfm_error_version(client);
		if (v == 0)
			cli_errx("%s: %s (the key does not exist)", what, msg);
		else if (v > 0)
			cli_errx("%s: %s (current version %" PRId64 ")", what, msg, v);
		else
			cli_errx("%s: %s", what, msg);
	} else if (rc == SSFM_EDENIED) {
		cli_errx("%s: %s (writes need root or the daemon's socket_group)",
		    what, msg);
	} else {
		cli_errx("%s: %s", what, msg);
	}
	return cli_online_exit_for(rc);
}

int cli_online_connect(ssfm_client **client)
{
	int rc = ssfm_connect(cli_socket, client);

	if (rc == SSFM_OK)
		return CLI_EXIT_OK;
	if (*client == NULL) {
		cli_errx("connecting to the daemon: %s", ssfm_strerror(rc));
		return CLI_EXIT_SYSTEM;
	}
	int status = cli_online_fail(*client, rc, "connecting to the daemon");
	ssfm_close(*client);
	*client = NULL;
	return status;
}

int cli_online_parse_seconds(const char *s, int *ms)
{
	uint64_t seconds;

	if (cli_parse_u64(s, 1, 86400, &seconds) < 0)
		return -1;
	*ms = (int)(seconds * 1000);
	return 0;
}
