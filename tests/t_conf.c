/*
 * t_conf.c: ssfm.conf parsing (src/conf.c): defaults, every type, all
 * errors reported at once with FILE:LINE, overrides, required keys.
 */
#include "conf.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void show(const struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		tap_diag("%s", errs->msg[i] ? errs->msg[i] : "(null)");
}

static int load(struct conf *cfg, const char *text, struct conf_errors *errs)
{
	return conf_load_text(cfg, "t.conf", text, strlen(text), errs);
}

static bool has_error(const struct conf_errors *errs, const char *text)
{
	for (size_t i = 0; i < errs->count; i++)
		if (errs->msg[i] && strstr(errs->msg[i], text))
			return true;
	return false;
}

static void test_defaults(void)
{
	struct conf cfg;
	size_t bad = 0;

	is_int(conf_init(&cfg), 0, "conf_init: every default parses");
	is_int(cfg.io_timeout, 10, "io_timeout defaults to 10");
	ok(cfg.auto_promote, "auto_promote defaults to yes");
	is_int(cfg.watch, CONF_WATCH_AUTO, "watch defaults to auto");
	is_int(cfg.poll_interval, 250, "poll_interval defaults to 250 ms");
	is_int(cfg.log_level, CONF_LOG_INFO, "log_level defaults to info");
	for (size_t i = 0; i < conf_key_count(); i++) {
		const struct conf_key *k = conf_key_at(i);
		if (k->help == NULL || k->help[0] == '\0' || conf_key_find(k->name) != k)
			bad++;
	}
	is_int(bad, 0, "every key has a help line and a unique name");
	conf_free(&cfg);
}

static void test_good_file(void)
{
	struct conf cfg;
	struct conf_errors errs = { 0 };
	const char *text =
	    "# a comment\n"
	    "\n"
	    "group = g1\n"
	    "  host=hosta  \n"
	    "host_id = 2\n"
	    "store = /mnt/shared/ssfm/g1\n"
	    "auto_promote = no\n"
	    "watch = poll\n"
	    "poll_interval = 2s\n"
	    "snapshot_interval = 10m\n"
	    "hook_start = /usr/bin/svc start --fast\n"
	    "log_level = debug\n";

	conf_init(&cfg);
	is_int(load(&cfg, text, &errs), 0, "a good file has no errors");
	show(&errs);
	is_int(conf_finish(&cfg, &errs), 0, "and passes the final checks");
	is_str(cfg.group, "g1", "group");
	is_str(cfg.host, "hosta", "host trimmed");
	is_int(cfg.host_id, 2, "host_id");
	ok(!cfg.auto_promote, "auto_promote no");
	is_int(cfg.watch, CONF_WATCH_POLL, "watch poll");
	is_int(cfg.poll_interval, 2000, "2s is 2000 ms");
	is_int(cfg.snapshot_interval, 600000, "10m is 600000 ms");
	is_str(cfg.socket, "/run/ssfm/g1.sock", "default socket from the group");
	is_str(cfg.pid_file, "/run/ssfm/g1.pid", "default pid file from the group");
	is_int(cfg.log_level, CONF_LOG_DEBUG, "log_level debug");

	char **argv = NULL;
	is_int(conf_split_command(cfg.hook_start, &argv), 0, "hook_start splits");
	ok(argv && strcmp(argv[0], "/usr/bin/svc") == 0 && strcmp(argv[1], "start") == 0 &&
	    strcmp(argv[2], "--fast") == 0 && argv[3] == NULL, "into program and arguments");
	conf_argv_free(argv);
	is_int(conf_split_command("  ", &argv), -22, "an empty command is refused");

	/* Overrides after the file. */
	is_int(conf_override(&cfg, "--io_timeout=20", &errs), 0, "override io_timeout");
	is_int(cfg.io_timeout, 20, "override applied");
	is_int(conf_override(&cfg, "--io_timeout=61", &errs), 1, "override out of range refused");
	ok(has_error(&errs, "command line: io_timeout: 61 is out of range 1..60"), "message says why");
	is_int(conf_override(&cfg, "--nope=1", &errs), 1, "unknown override refused");
	ok(has_error(&errs, "command line: unknown key \"nope\""), "message names the key");
	is_int(conf_override(&cfg, "--group", &errs), 1, "override without value refused");

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	conf_print(&cfg, f, true);
	fclose(f);
	ok(strstr(buf, "set on the command line)\nio_timeout = 20\n") != NULL, "print shows an override");
	ok(strstr(buf, "set at t.conf:3)\ngroup = g1\n") != NULL, "print shows where a key was set");
	ok(strstr(buf, "default)\nmax_connections = 1024\n") != NULL, "print shows defaults");
	/* What conf_print writes is a valid configuration file. */
	struct conf again;
	struct conf_errors errs2 = { 0 };
	conf_init(&again);
	is_int(conf_load_text(&again, "printed", buf, len, &errs2), 0, "printed configuration parses back");
	show(&errs2);
	is_int(again.io_timeout, 20, "with the same values");
	conf_errors_free(&errs2);
	conf_free(&again);
	free(buf);
	conf_errors_free(&errs);
	conf_free(&cfg);
}

static void test_errors(void)
{
	struct conf cfg;
	struct conf_errors errs = { 0 };
	const char *text =
	    "group = bad/name\n"                 /* 1 */
	    "host_id = 12x\n"                    /* 2 */
	    "host_id = 3\n"                      /* 3 */
	    "host_id = 4\n"                      /* 4: duplicate */
	    "io_timeout = 0\n"                   /* 5 */
	    "auto_promote = maybe\n"             /* 6 */
	    "watch = fanotify\n"                 /* 7 */
	    "poll_interval = 5fortnights\n"      /* 8 */
	    "store = relative/path\n"            /* 9 */
	    "frobnicate = 1\n"                   /* 10 */
	    "just some words\n"                  /* 11 */
	    "hook_stop = stop-it\n"              /* 12 */
	    "max_connections = 99999999999999999999\n" /* 13 */
	    "io_timeout =\n";                    /* 14 */

	conf_init(&cfg);
	int n = load(&cfg, text, &errs);
	is_int(n, 13, "13 errors, all reported");
	show(&errs);
	ok(has_error(&errs, "t.conf:1: group: \"bad/name\" has a character outside"), "bad group name");
	ok(has_error(&errs, "t.conf:2: host_id: \"12x\" is not a decimal integer"), "trailing garbage");
	ok(has_error(&errs, "t.conf:4: host_id is already set at line 3"), "duplicate key");
	ok(has_error(&errs, "t.conf:5: io_timeout: 0 is out of range 1..60"), "out of range");
	ok(has_error(&errs, "t.conf:6: auto_promote: \"maybe\" is not yes or no"), "bad bool");
	ok(has_error(&errs, "t.conf:7: watch: \"fanotify\" is not one of auto, inotify, poll"), "bad enum");
	ok(has_error(&errs, "t.conf:8: poll_interval: \"5fortnights\" is not a duration"), "bad duration");
	ok(has_error(&errs, "t.conf:9: store: \"relative/path\" is not an absolute path"), "relative path");
	ok(has_error(&errs, "t.conf:10: unknown key \"frobnicate\""), "unknown key");
	ok(has_error(&errs, "t.conf:11: expected \"key = value\""), "line without =");
	ok(has_error(&errs, "t.conf:12: hook_stop: \"stop-it\" must start with an absolute program path"), "relative hook");
	ok(has_error(&errs, "t.conf:13: max_connections: 99999999999999999999 is out of range"), "overflow");
	ok(has_error(&errs, "t.conf:14: io_timeout: \"\" is not a decimal integer"), "empty number");
	conf_errors_free(&errs);

	is_int(conf_finish(&cfg, &errs), 3, "missing required keys are errors");
	ok(has_error(&errs, "required key group is not set"), "group required");
	ok(has_error(&errs, "required key host is not set"), "host required");
	ok(has_error(&errs, "required key store is not set"), "store required");
	conf_errors_free(&errs);
	conf_free(&cfg);

	conf_init(&cfg);
	is_int(conf_load_file(&cfg, "/nonexistent/ssfm.conf", &errs), 1, "missing file is one error");
	ok(has_error(&errs, "/nonexistent/ssfm.conf: cannot open"), "naming the file");
	conf_errors_free(&errs);
	conf_free(&cfg);

	conf_init(&cfg);
	load(&cfg, "group=g\nhost=h\nhost_id=1\nstore=/s\nhook_stop=/bin/true\nhook_timeout=40s\ndemote_timeout=30s\n", &errs);
	is_int(conf_finish(&cfg, &errs), 0,
	    "hook_stop longer than demote_timeout is allowed (a graceful demote ends it there)");
	conf_errors_free(&errs);
	conf_free(&cfg);

	conf_init(&cfg);
	load(&cfg, "group=g\nhost=h\nhost_id=1\nstore=/s\nhook_stop=/bin/true\nhook_timeout=48s\nhook_kill_grace=5s\ndemote_timeout=2m\n", &errs);
	is_int(conf_finish(&cfg, &errs), 1, "a stop hook that could outlive a lease loss is refused");
	ok(has_error(&errs, "could outlive the 60 s"), "saying why");
	conf_errors_free(&errs);
	conf_free(&cfg);

	conf_init(&cfg);
	load(&cfg, "group=g\nhost=h\nhost_id=1\nstore=/s\nhook_timeout=48s\nhook_kill_grace=5s\n", &errs);
	is_int(conf_finish(&cfg, &errs), 0, "without hook_stop the budget does not apply");
	conf_errors_free(&errs);
	conf_free(&cfg);
}

int main(void)
{
	test_defaults();
	test_good_file();
	test_errors();
	return tap_done();
}
