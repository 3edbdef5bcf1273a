/*
 * cli_init.c: `ssfm init`: makes a directory a store.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fence.h"

/* sanlock's default io_timeout; DESIGN.md "Fencing with sanlock". */
#define CLI_IO_TIMEOUT_DEFAULT 10u
#define CLI_IO_TIMEOUT_MAX 60u

/* store.h: [A-Za-z0-9._-], 1..STORE_GROUP_MAX bytes. */
int cli_group_valid(const char *name, size_t len)
{
	if (len == 0 || len > STORE_GROUP_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * The default group name: the directory's last path component, or, for
 * "." and "..", the last component of the directory's real path.  Fills
 * name (STORE_GROUP_MAX + 1 bytes) and returns 0, or returns -1 when that
 * is not a valid group name.
 */
static int cli_default_group(const char *dir, char *name)
{
	char *resolved = NULL;
	const char *path = dir;
	size_t end = strlen(path);
	int rc = -1;

	while (end > 1 && path[end - 1] == '/')
		end--;
	size_t begin = end;
	while (begin > 0 && path[begin - 1] != '/')
		begin--;
	size_t len = end - begin;
	if ((len == 1 && path[begin] == '.') ||
	    (len == 2 && path[begin] == '.' && path[begin + 1] == '.')) {
		resolved = realpath(dir, NULL);
		if (resolved == NULL)
			goto out;
		path = resolved;
		end = strlen(path);
		begin = end;
		while (begin > 0 && path[begin - 1] != '/')
			begin--;
		len = end - begin;
	}
	if (!cli_group_valid(path + begin, len))
		goto out;
	memcpy(name, path + begin, len);
	name[len] = '\0';
	rc = 0;
out:
	free(resolved);
	return rc;
}

static int cli_init_run(const struct cli_command *cmd, int argc, char **argv)
{
	enum { OPT_GROUP = 256, OPT_IO_TIMEOUT };
	static const struct option longopts[] = {
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *group_arg = NULL;
	uint64_t io_timeout = CLI_IO_TIMEOUT_DEFAULT;
	char group[STORE_GROUP_MAX + 1];
	int c;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_GROUP:
			group_arg = optarg;
			break;
		case OPT_IO_TIMEOUT:
			if (cli_parse_u64(optarg, 1, CLI_IO_TIMEOUT_MAX,
			    &io_timeout) < 0)
				return cli_usage_error(cmd, "--io-timeout %s: "
				    "expected whole seconds from 1 to %u",
				    optarg, CLI_IO_TIMEOUT_MAX);
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "init takes one directory");
	const char *dir = argv[optind];

	if (group_arg != NULL) {
		if (!cli_group_valid(group_arg, strlen(group_arg)))
			return cli_usage_error(cmd, "--group \"%s\": a group "
			    "name is 1 to %u characters from A-Z a-z 0-9 . _ -",
			    group_arg, STORE_GROUP_MAX);
		memcpy(group, group_arg, strlen(group_arg) + 1);
	} else if (cli_default_group(dir, group) < 0) {
		return cli_usage_error(cmd, "%s: the directory's name is not a "
		    "valid group name (1 to %u characters from A-Z a-z 0-9 . _ -): "
		    "give one with --group", dir, STORE_GROUP_MAX);
	}

	/*
	 * The lease area first, then the store: store_create accepts a
	 * directory holding only the lease, and a store never exists without
	 * its lease.  If the store cannot be made, the lease we wrote goes.
	 */
	char identity[PATH_MAX], lease[PATH_MAX];
	if (snprintf(identity, sizeof(identity), "%s/ssfm-store", dir) >= (int)sizeof(identity) ||
	    fence_lease_path(dir, lease, sizeof(lease)) < 0) {
		cli_errx("%s: path too long", dir);
		return CLI_EXIT_SYSTEM;
	}
	if (access(identity, F_OK) == 0) {
		cli_errx("%s: already a store (%s exists)", dir, identity);
		return CLI_EXIT_STORE;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		cli_errx("%s: cannot create the directory: %s", dir, strerror(e));
		return CLI_EXIT_SYSTEM;
	}
	struct fence_error ferr = { 0 };
	int rc = fence_lease_init(lease, group, (unsigned)io_timeout, &ferr);
	if (rc < 0) {
		if (rc == -EEXIST)
			cli_errx("%s: a lease file is already there but no store: "
			    "remove it, or init an empty directory", lease);
		else
			cli_errx("%s", ferr.msg[0] ? ferr.msg : fence_strerror(rc));
		return CLI_EXIT_SYSTEM;
	}

	struct store_create_params params = {
		.group = group,
		.io_timeout = (unsigned)io_timeout,
	};
	struct store_error err = { 0 };
	rc = store_create(dir, &params, &err);
	if (rc < 0)
		unlink(lease);
	if (rc == -EEXIST) {
		/* Already a store: a store error, not a system one. */
		if (err.msg[0] != '\0')
			cli_errx("%s", err.msg);
		else
			cli_errx("%s: already a store", dir);
		return CLI_EXIT_STORE;
	}
	if (rc < 0)
		return cli_fail(rc, &err, dir);
	printf("initialized store %s (group %s, io_timeout %u s, sanlock lease %s)\n",
	    dir, group, params.io_timeout, lease);
	return cli_flush_stdout();
}

const struct cli_command cli_init_command = {
	.name = "init",
	.synopsis = "init [--group NAME] [--io-timeout SECONDS] DIR",
	.summary = "Make DIR (missing or empty) a store for one failover group,\n"
	    "with its sanlock lease area DIR/lease.",
	.options =
	    "      --group NAME          group name, 1-48 of A-Z a-z 0-9 . _ -\n"
	    "                            (default: DIR's last path component)\n"
	    "      --io-timeout SECONDS  sanlock io_timeout recorded for the group,\n"
	    "                            1-60 (default 10)\n",
	.run = cli_init_run,
};
