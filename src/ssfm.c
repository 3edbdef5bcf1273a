/*
 * ssfm.c: the ssfm(8) command: global options and dispatch to the
 * subcommands (cli_*.c).
 *
 * The offline commands read a store directory directly, without a daemon;
 * the online ones talk to a daemon through libssfm.  Writes go only through
 * the daemon, so there is no offline put.  get and list exist both ways:
 * with -s they are online; else they are offline when their first operand
 * is a directory holding a store identity file (DIR/ssfm-store), online
 * otherwise.  dump follows the same rule.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_online.h"
#include "format.h"

static const struct cli_command *const offline_commands[] = {
	&cli_init_command,
	&cli_verify_command,
	&cli_dump_command,
	&cli_get_command,
	&cli_list_command,
	&cli_check_storage_command,
	&cli_restore_command,
};
#define NOFFLINE (sizeof(offline_commands) / sizeof(offline_commands[0]))

static const struct cli_command *const online_commands[] = {
	&cli_status_command,
	&cli_put_command,
	&cli_get_online_command,
	&cli_del_command,
	&cli_list_online_command,
	&cli_watch_command,
	&cli_promote_command,
	&cli_demote_command,
	&cli_snapshot_command,
	&cli_bench_command,
	&cli_dump_online_command,
};
#define NONLINE (sizeof(online_commands) / sizeof(online_commands[0]))

static void usage_commands(FILE *f, const struct cli_command *const *cmds,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  ssfm %s\n      %s\n", cmds[i]->synopsis,
		    cmds[i]->summary);
		fputs(cmds[i]->options, f);
	}
}

void cli_usage(FILE *f)
{
	fprintf(f,
	    "usage: ssfm [-h | --help] [--version] [-s SOCKET]\n"
	    "       ssfm [-s SOCKET] COMMAND [OPTIONS] ARGUMENTS\n"
	    "\n"
	    "Offline commands: they read the store directory DIR directly, without\n"
	    "a daemon (writes go only through the daemon of the active host).\n"
	    "\n");
	usage_commands(f, offline_commands, NOFFLINE);
	fprintf(f,
	    "\n"
	    "Online commands: they talk to the daemon on SOCKET (-s, else\n"
	    "$SSFM_SOCKET, else /run/ssfm/$SSFM_GROUP.sock, else the only socket in\n"
	    "/run/ssfm).  get, list and dump are offline when their first operand\n"
	    "is a store directory (it holds DIR/ssfm-store) and -s is not given.\n"
	    "\n");
	usage_commands(f, online_commands, NONLINE);
	fprintf(f,
	    "\n"
	    "Global options:\n"
	    "  -h, --help     this help (also after a command: that command's help)\n"
	    "  --version      the program's version\n"
	    "  -s, --socket SOCKET\n"
	    "                 the daemon's control socket (online commands)\n"
	    "\n"
	    "Exit status: 0 success; 1 key not found (get, del), problems found\n"
	    "(verify) or a warning (check-storage); 2 usage error or request refused\n"
	    "as invalid; 3 store error (not a store, unsupported format, damaged,\n"
	    "stale or missing file) or a failed check (check-storage); 4 I/O or\n"
	    "system error, or permission denied; 5 daemon unreachable, unavailable\n"
	    "or failed, or watch ended by the daemon; 6 not active (the active host is\n"
	    "named); 7 version conflict (the current version is named); 8 fenced: a\n"
	    "newer active took over, the write was not applied; 9 timed out.\n"
	    "See ssfm(8).\n");
}

/*
 * The first operand of a command line (argv[0] is the command), skipping
 * options; opts_with_arg lists the long options that take a separate
 * argument.  NULL if there is none.
 */
static const char *first_operand(int argc, char **argv,
    const char *const *opts_with_arg)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || a[1] == '\0')
			return a;
		for (const char *const *o = opts_with_arg; *o != NULL; o++)
			if (strcmp(a, *o) == 0)
				i++;
	}
	return NULL;
}

/* A directory with a store identity file: the offline commands' DIR. */
static int is_store_dir(const char *path)
{
	char id[4096];
	struct stat sb;

	if (path == NULL || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
		return 0;
	if ((size_t)snprintf(id, sizeof(id), "%s/%s", path, FMT_IDENTITY_NAME) >=
	    sizeof(id))
		return 0;
	return stat(id, &sb) == 0;
}

static const struct cli_command *find_command(const struct cli_command *const *cmds,
    size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cmds[i]->name, name) == 0)
			return cmds[i];
	return NULL;
}

/* The command to run for argv, by the offline/online rule above. */
static const struct cli_command *choose_command(int argc, char **argv)
{
	static const char *const list_opts[] = { "--limit", "--start", NULL };
	const struct cli_command *offline = find_command(offline_commands,
	    NOFFLINE, argv[0]);
	const struct cli_command *online = find_command(online_commands,
	    NONLINE, argv[0]);

	if (offline == NULL || online == NULL)
		return offline != NULL ? offline : online;
	if (cli_socket != NULL)
		return online;
	return is_store_dir(first_operand(argc, argv, list_opts)) ? offline : online;
}

int main(int argc, char **argv)
{
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* '+': stop at the command name; its options are its own. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hs:", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			cli_usage(stdout);
			return cli_flush_stdout();
		case OPT_VERSION:
			printf("ssfm %s\n", PACKAGE_VERSION);
			return cli_flush_stdout();
		case 's':
			if (optarg[0] == '\0') {
				cli_errx("-s: the socket path is empty");
				return CLI_EXIT_USAGE;
			}
			cli_socket = optarg;
			break;
		default:
			cli_errx("unknown option or missing argument: %s",
			    argv[optind - 1]);
			cli_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_errx("no command given");
		cli_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	int cmd_argc = argc - optind;
	char **cmd_argv = argv + optind;
	const struct cli_command *cmd = choose_command(cmd_argc, cmd_argv);
	if (cmd != NULL) {
		cli_getopt_reset();
		return cmd->run(cmd, cmd_argc, cmd_argv);
	}
	cli_errx("unknown command \"%s\" (ssfm --help lists them)",
	    cmd_argv[0]);
	return CLI_EXIT_USAGE;
}
