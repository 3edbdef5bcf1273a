/*
 * ssfm.c: the ssfm(8) command: global options and dispatch to the
 * subcommands (one file each, cli_*.c).
 *
 * The offline commands here read a store directory directly, without a
 * daemon.  Writes go only through the daemon, so there is no offline put.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_command *const commands[] = {
	&cli_init_command,
	&cli_verify_command,
	&cli_dump_command,
	&cli_get_command,
	&cli_list_command,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void cli_usage(FILE *f)
{
	fprintf(f,
	    "usage: ssfm [-h | --help] [--version]\n"
	    "       ssfm COMMAND [OPTIONS] ARGUMENTS\n"
	    "\n"
	    "Offline commands: they read the store directory DIR directly, without\n"
	    "a daemon (writes go only through the daemon of the active host).\n"
	    "\n"
	    "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		fprintf(f, "  ssfm %s\n      %s\n", commands[i]->synopsis,
		    commands[i]->summary);
		fputs(commands[i]->options, f);
	}
	fprintf(f,
	    "\n"
	    "Global options:\n"
	    "  -h, --help     this help (also after a command: that command's help)\n"
	    "  --version      the program's version\n"
	    "\n"
	    "Exit status: 0 success; 1 key not found (get) or problems found (verify);\n"
	    "2 usage error; 3 store error (not a store, unsupported format, damaged,\n"
	    "stale or missing file); 4 I/O or system error.  See ssfm(8).\n");
}

int main(int argc, char **argv)
{
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	/* '+': stop at the command name; its options are its own. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			cli_usage(stdout);
			return cli_flush_stdout();
		case OPT_VERSION:
			printf("ssfm %s\n", PACKAGE_VERSION);
			return cli_flush_stdout();
		default:
			cli_errx("unknown option %s", argv[optind - 1]);
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
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i]->name, cmd_argv[0]) == 0) {
			cli_getopt_reset();
			return commands[i]->run(commands[i], cmd_argc, cmd_argv);
		}
	}
	cli_errx("unknown command \"%s\" (ssfm --help lists them)",
	    cmd_argv[0]);
	return CLI_EXIT_USAGE;
}
