/*
 * cli_common.c: messages, exit statuses, number parsing and opening a store
 * for the ssfm subcommands.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void cli_vmessage(const char *prefix, const char *fmt, va_list ap)
{
	fputs("ssfm: ", stderr);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_errx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmessage("", fmt, ap);
	va_end(ap);
}

void cli_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmessage("warning: ", fmt, ap);
	va_end(ap);
}

int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmessage("", fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: ssfm %s\n", cmd->synopsis);
	return CLI_EXIT_USAGE;
}

int cli_command_help(const struct cli_command *cmd)
{
	printf("usage: ssfm %s\n%s\n%s", cmd->synopsis, cmd->summary,
	    cmd->options);
	return cli_flush_stdout();
}

int cli_json_option(const struct cli_command *cmd, int argc, char **argv, int *json)
{
	enum { OPT_JSON = 256 };
	static const struct option with_json[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct option *longopts = json != NULL ? with_json : with_json + 1;
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == OPT_JSON)
			*json = 1;
		else if (c == 'h')
			return cli_command_help(cmd);
		else
			return cli_usage_error(cmd, "unknown option: %s", argv[optind - 1]);
	}
	return CLI_GO_ON;
}

int cli_exit_for(int rc)
{
	if (rc >= 0)
		return CLI_EXIT_OK;
	switch (-rc) {
	case STORE_ENOTFOUND:
		return CLI_EXIT_NO;
	case STORE_EKEY:
	case STORE_EVALUE:
	case STORE_ETOOLARGE:
		return CLI_EXIT_USAGE;
	default:
		return -rc >= STORE_ECONFLICT ? CLI_EXIT_STORE : CLI_EXIT_SYSTEM;
	}
}

int cli_fail(int rc, const struct store_error *err, const char *what)
{
	if (err != NULL && err->msg[0] != '\0')
		cli_errx("%s", err->msg);
	else
		cli_errx("%s: %s", what, store_strerror(rc));
	return cli_exit_for(rc);
}

void cli_getopt_reset(void)
{
	/* glibc: 0 re-initialises getopt completely (1 would keep state). */
	optind = 0;
	opterr = 0;
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cli_check_key_arg(const char *what, const char *key)
{
	struct store_error err = { 0 };
	int rc = store_check_key(key, strlen(key), &err);

	if (rc == 0)
		return CLI_EXIT_OK;
	char *q = cli_quote(key, strlen(key));
	cli_errx("%s %s: %s", what, q,
	    err.msg[0] != '\0' ? err.msg : store_strerror(rc));
	cli_quote_free(q);
	return CLI_EXIT_USAGE;
}

int cli_open(const char *dir, struct store **st)
{
	struct store_options opt = { .read_only = 1 };
	struct store_error err = { 0 };
	int rc = store_open(dir, &opt, st, &err);

	if (rc < 0) {
		*st = NULL;
		return cli_fail(rc, &err, dir);
	}
	return CLI_EXIT_OK;
}

int cli_flush_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_errx("standard output: %s", strerror(errno));
		return CLI_EXIT_SYSTEM;
	}
	return CLI_EXIT_OK;
}

int cli_finish(struct store *st, const char *dir, int exit_so_far)
{
	struct store_info info;
	int status = exit_so_far;

	store_info(st, &info);
	if (info.snapshot_msg[0] != '\0')
		cli_warnx("%s: %s", dir, info.snapshot_msg);
	if (info.blocked != 0) {
		if (info.blocked_msg[0] != '\0')
			cli_warnx("%s: reading stopped after seq %llu: %s", dir,
			    (unsigned long long)info.applied_seq,
			    info.blocked_msg);
		else
			cli_warnx("%s: reading stopped after seq %llu: %s: %s",
			    dir, (unsigned long long)info.applied_seq,
			    info.blocked_file, store_strerror(info.blocked));
		if (status == CLI_EXIT_OK)
			status = CLI_EXIT_STORE;
	}
	int out = cli_flush_stdout();
	if (status == CLI_EXIT_OK)
		status = out;
	store_close(st);
	return status;
}
