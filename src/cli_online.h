/*
 * cli_online.h: what the online subcommands of ssfm(8) share.  They talk to
 * the daemon through libssfm only (ssfm.h) and know nothing else of it.
 *
 * The exit statuses below extend enum cli_exit (cli.h); like those, they
 * are an interface listed in ssfm(8) EXIT STATUS.
 */
#ifndef SSFM_CLI_ONLINE_H
#define SSFM_CLI_ONLINE_H

#include "cli.h"
#include "ssfm.h"

enum cli_online_exit {
	CLI_EXIT_UNREACHABLE = 5, /* no daemon on the socket, or it failed or is unavailable */
	CLI_EXIT_NOT_ACTIVE = 6,  /* a write (or promote's peer) on a host that is not active */
	CLI_EXIT_CONFLICT = 7,    /* --expect did not match the key's version */
	CLI_EXIT_FENCED = 8,      /* a newer active took over during the write: not applied */
	CLI_EXIT_TIMEOUT = 9,     /* no reply, or promote/demote --wait not done, in time */
};

/* The socket given with the global option -s (NULL: libssfm's rule). */
extern const char *cli_socket;

extern const struct cli_command cli_status_command;
extern const struct cli_command cli_put_command;
extern const struct cli_command cli_get_online_command;
extern const struct cli_command cli_del_command;
extern const struct cli_command cli_list_online_command;
extern const struct cli_command cli_watch_command;
extern const struct cli_command cli_promote_command;
extern const struct cli_command cli_demote_command;
extern const struct cli_command cli_snapshot_command;
extern const struct cli_command cli_bench_command;
extern const struct cli_command cli_dump_online_command;

/*
 * Connects to the daemon (cli_socket, else $SSFM_SOCKET, else libssfm's
 * default).  On failure reports it naming the socket and returns the exit
 * status; on success returns CLI_EXIT_OK with *client to ssfm_close.
 */
int cli_online_connect(ssfm_client **client);
/* The exit status for a libssfm code. */
int cli_online_exit_for(int rc);
/*
 * Reports a failed libssfm call as "ssfm: what: message" (with the active
 * host for not active, the current version for a conflict) and returns
 * cli_online_exit_for(rc).
 */
int cli_online_fail(ssfm_client *client, int rc, const char *what);
/* Parses --timeout SECONDS (1..86400) into milliseconds; 0 or -1. */
int cli_online_parse_seconds(const char *s, int *ms);

#endif
