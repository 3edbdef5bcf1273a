/*
 * cli_check_storage.c: `ssfm check-storage [-c FILE] [--json] [--samples N]
 * DIR`: does the filesystem under DIR give what the design needs, and is
 * the configuration's timeout chain safe on it?
 *
 * Every item is tried for real in a scratch folder DIR/.ssfm-check-XXXXXX
 * (removed afterwards): O_DIRECT (sanlock's lease I/O), the no-clobber
 * commit (renameat2(RENAME_NOREPLACE), else link()+unlink()), fdatasync
 * latency, inotify; the filesystem's type (statfs and mountinfo) and, on
 * NFS, its mount options; the timeout chain from the configuration
 * (storage_chain.h).  Each item gets a verdict (ok, warn, fail) with
 * advice.  Exit: 0 all ok, 1 a warning, 3 a failure, 2 usage, 4 could not
 * check (DIR missing or not writable).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "fence.h"
#include "storage_chain.h"
#include "storage_probe.h"

#define CHECK_SAMPLES_DEFAULT 100u
#define CHECK_SAMPLES_MAX 100000u
#define CHECK_INOTIFY_WAIT_MS 2000

struct cli_check_item {
	const char *name;
	char summary[512];
	struct chain_report r;
	json_t *figures;          /* measured values, for --json */
};

#define CHECK_ITEMS_MAX 12     /* the items below, mount_options included */

struct cli_check {
	const char *dir;
	const char *config;       /* the file read, or NULL */
	struct conf cfg;
	struct probe_mount mount;
	struct cli_check_item items[CHECK_ITEMS_MAX];
	size_t nitems;
	double nfs_hang_s;
	bool nfs_hard;
};

__attribute__((format(printf, 3, 4)))
static struct cli_check_item *cli_check_new_item(struct cli_check *c, const char *name,
    const char *fmt, ...)
{
	struct cli_check_item *it = &c->items[c->nitems++];
	va_list ap;

	it->name = name;
	it->figures = json_object();
	va_start(ap, fmt);
	vsnprintf(it->summary, sizeof(it->summary), fmt, ap);
	va_end(ap);
	return it;
}

__attribute__((format(printf, 4, 5)))
static void cli_check_add(struct cli_check_item *it, enum chain_verdict v, const char *advice,
    const char *fmt, ...)
{
	struct chain_finding *f;
	va_list ap;

	if (it->r.n == CHAIN_FINDINGS_MAX)
		return;
	f = &it->r.f[it->r.n++];
	f->verdict = v;
	snprintf(f->advice, sizeof(f->advice), "%s", advice ? advice : "");
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
}

/* The configuration: -c FILE, else the default file if it exists, else
 * the defaults.  Errors in it are a failed item; the checks go on with the
 * values that parsed. */
static void cli_check_config(struct cli_check *c, const char *file)
{
	struct conf_errors errs = { 0 };
	struct cli_check_item *it;

	if (file == NULL && access(CONF_DEFAULT_FILE, F_OK) == 0)
		file = CONF_DEFAULT_FILE;
	c->config = file;
	if (file == NULL) {
		it = cli_check_new_item(c, "configuration", "no %s: the defaults", CONF_DEFAULT_FILE);
		cli_check_add(it, CHAIN_OK, "give the daemon's file with -c FILE to check its timeouts",
		    "io_timeout %lld s, hook_timeout %lld ms, hook_kill_grace %lld ms, "
		    "demote_timeout %lld ms, watch auto", c->cfg.io_timeout, c->cfg.hook_timeout,
		    c->cfg.hook_kill_grace, c->cfg.demote_timeout);
		return;
	}
	conf_load_file(&c->cfg, file, &errs);
	it = cli_check_new_item(c, "configuration", "%s", file);
	if (errs.count == 0)
		cli_check_add(it, CHAIN_OK, NULL, "%s parses", file);
	for (size_t i = 0; i < errs.count; i++)
		cli_check_add(it, CHAIN_FAIL, "fix the file: ssfmd refuses to start with it", "%s",
		    errs.msg[i]);
	conf_errors_free(&errs);
}

static void cli_check_filesystem(struct cli_check *c)
{
	const struct probe_mount *m = &c->mount;
	struct cli_check_item *it = cli_check_new_item(c, "filesystem",
	    "%s at %s (%s), statfs magic 0x%llx", m->fstype[0] ? m->fstype : m->magic_name, m->mount_point[0] ? m->mount_point : "?",
	    m->source[0] ? m->source : "?", (unsigned long long)m->magic);

	chain_filesystem(m, &it->r);
	json_object_set_new(it->figures, "type", json_string(m->fstype));
	json_object_set_new(it->figures, "statfs_type", json_string(m->magic_name));
	json_object_set_new(it->figures, "statfs_magic", json_integer((json_int_t)m->magic));
	json_object_set_new(it->figures, "mount_point", json_string(m->mount_point));
	json_object_set_new(it->figures, "source", json_string(m->source));
	json_object_set_new(it->figures, "options", json_string(m->options));
	if (chain_fs_kind(m) == CHAIN_FS_NFS) {
		it = cli_check_new_item(c, "mount_options", "%s", m->options);
		chain_nfs_options(m, &it->r, &c->nfs_hang_s);
		c->nfs_hard = !probe_option(m->options, "soft", NULL, 0) &&
		    !probe_option(m->options, "softerr", NULL, 0);
		json_object_set_new(it->figures, "hang_seconds", json_real(c->nfs_hang_s));
	}
}

static void cli_check_direct_io(struct cli_check *c, const char *scratch)
{
	const char *step = "open";
	int rc = probe_direct_io(scratch, &step);
	struct cli_check_item *it = cli_check_new_item(c, "o_direct", "O_DIRECT open, write and read of "
	    "one 4096-byte block");

	json_object_set_new(it->figures, "works", json_boolean(rc == 0));
	if (rc == 0)
		cli_check_add(it, CHAIN_OK, NULL, "O_DIRECT works: sanlock can keep its lease here");
	else
		cli_check_add(it, CHAIN_FAIL, "put the store (and its lease file) on a filesystem that "
		    "supports O_DIRECT", "O_DIRECT %s failed: %s: sanlock opens its lease file with "
		    "O_DIRECT and cannot use this filesystem", step, strerror(-rc));
}

static void cli_check_noclobber(struct cli_check *c, const char *scratch)
{
	struct probe_noclobber nc;
	int rc = probe_noclobber(scratch, &nc);
	struct cli_check_item *it = cli_check_new_item(c, "no_clobber", "renameat2(RENAME_NOREPLACE), "
	    "and link() then unlink()");
	bool rename_ok = nc.rename_free == 0 && nc.rename_taken == -EEXIST;
	bool link_ok = nc.link_free == 0 && nc.link_taken == -EEXIST;

	json_object_set_new(it->figures, "rename_noreplace", json_boolean(rc == 0 && rename_ok));
	json_object_set_new(it->figures, "link", json_boolean(rc == 0 && link_ok));
	if (rc < 0) {
		cli_check_add(it, CHAIN_FAIL, "check the folder's permissions and free space",
		    "could not make the test files: %s", strerror(-rc));
		return;
	}
	if (!nc.taken_intact) {
		cli_check_add(it, CHAIN_FAIL, "do not use this filesystem: a stale writer could replace "
		    "a committed batch", "a no-clobber operation replaced a file that existed");
		return;
	}
	if (rename_ok) {
		cli_check_add(it, CHAIN_OK, NULL, "renameat2(RENAME_NOREPLACE) works: EEXIST on a taken "
		    "name");
		return;
	}
	if (link_ok) {
		cli_check_add(it, CHAIN_WARN, "nothing to set: commits fall back to link()+unlink() by "
		    "themselves (force_link = yes skips the first try)",
		    "renameat2(RENAME_NOREPLACE) fails (%s); link() works and gives EEXIST on a "
		    "taken name", nc.rename_free < 0 ? strerror(-nc.rename_free) :
		    strerror(-nc.rename_taken));
		return;
	}
	cli_check_add(it, CHAIN_FAIL, "use a filesystem with hard links or renameat2 flags",
	    "neither renameat2(RENAME_NOREPLACE) (%s) nor link() (%s) gives a no-clobber "
	    "commit: two writers could both believe they committed",
	    strerror(nc.rename_free < 0 ? -nc.rename_free : -nc.rename_taken),
	    strerror(nc.link_free < 0 ? -nc.link_free : -nc.link_taken));
}

static void cli_check_fsync(struct cli_check *c, const char *scratch, unsigned samples)
{
	uint64_t *us = calloc(samples, sizeof(*us));
	struct cli_check_item *it;
	int rc = us ? probe_fsync(scratch, samples, us) : -ENOMEM;
	double p50, p99, max, limit_ms = (double)c->cfg.io_timeout * 1000.0;

	if (rc < 0) {
		it = cli_check_new_item(c, "fsync", "write and fdatasync of 4096 bytes");
		cli_check_add(it, CHAIN_FAIL, "check the storage: commits need fdatasync",
		    "fdatasync failed: %s", strerror(-rc));
		free(us);
		return;
	}
	p50 = (double)probe_percentile(us, samples, 0.50) / 1000.0;
	p99 = (double)probe_percentile(us, samples, 0.99) / 1000.0;
	max = (double)us[samples - 1] / 1000.0;
	free(us);
	it = cli_check_new_item(c, "fsync", "write and fdatasync of 4096 bytes, %u times: p50 %.2f ms, "
	    "p99 %.2f ms, max %.2f ms", samples, p50, p99, max);
	json_object_set_new(it->figures, "samples", json_integer(samples));
	json_object_set_new(it->figures, "p50_ms", json_real(p50));
	json_object_set_new(it->figures, "p99_ms", json_real(p99));
	json_object_set_new(it->figures, "max_ms", json_real(max));
	if (p99 >= limit_ms)
		cli_check_add(it, CHAIN_FAIL, "use faster storage or raise io_timeout (ssfm init "
		    "--io-timeout, and io_timeout in ssfm.conf)",
		    "p99 %.0f ms is at least io_timeout (%lld s): sanlock's lease renewals, on the "
		    "same storage, would time out", p99, c->cfg.io_timeout);
	else if (p99 >= limit_ms / 4)
		cli_check_add(it, CHAIN_WARN, "use faster storage or raise io_timeout",
		    "p99 %.0f ms is a quarter of io_timeout (%lld s) or more: lease renewals are "
		    "at risk under load", p99, c->cfg.io_timeout);
	else
		cli_check_add(it, CHAIN_OK, NULL, "a write is acknowledged after about two of these "
		    "(the batch file, then its folder), shared by every write of its batch");
}

static void cli_check_inotify(struct cli_check *c, const char *scratch)
{
	int seen = probe_inotify(scratch, CHECK_INOTIFY_WAIT_MS);
	enum chain_fs_kind kind = chain_fs_kind(&c->mount);
	bool wants_inotify = c->cfg.watch == CONF_WATCH_INOTIFY;
	const char *type = c->mount.fstype[0] ? c->mount.fstype : c->mount.magic_name;
	struct cli_check_item *it = cli_check_new_item(c, "inotify", "a file created through this mount, "
	    "watched through this mount");

	json_object_set_new(it->figures, "sees_own_changes", json_boolean(seen == 1));
	json_object_set_new(it->figures, "sees_other_clients", chain_fs_remote(kind) ?
	    json_false() : json_null());
	if (seen < 0)
		cli_check_add(it, wants_inotify ? CHAIN_FAIL : CHAIN_WARN, "set watch = poll (or "
		    "auto): standbys then look for the next journal file every poll_interval",
		    "inotify could not watch %s: %s", scratch, strerror(-seen));
	else if (seen == 0)
		cli_check_add(it, wants_inotify ? CHAIN_FAIL : CHAIN_WARN, "set watch = poll (or "
		    "auto): standbys then look for the next journal file every poll_interval",
		    "inotify did not report a file created through this very mount within %d ms",
		    CHECK_INOTIFY_WAIT_MS);
	else
		cli_check_add(it, CHAIN_OK, NULL, "inotify reports changes made through this mount");
	if (chain_fs_remote(kind)) {
		cli_check_add(it, wants_inotify ? CHAIN_FAIL : CHAIN_OK, "watch = poll or auto is "
		    "required here (auto: inotify as a speed-up, the poll always)",
		    "changes made by other clients are never seen by inotify on NFS, CephFS or "
		    "sshfs (%s here): a standby must poll for the next journal file%s", type,
		    wants_inotify ? ", but the configuration says watch = inotify" : "");
	}
}

static void cli_check_timeouts(struct cli_check *c)
{
	struct chain_config cc = {
		.io_timeout = (unsigned)c->cfg.io_timeout,
		.hook_stop = c->cfg.hook_stop[0] != '\0',
		.hook_timeout_ms = c->cfg.hook_timeout,
		.hook_kill_grace_ms = c->cfg.hook_kill_grace,
		.demote_timeout_ms = c->cfg.demote_timeout,
		.nfs_hang_s = c->nfs_hang_s,
		.hard = c->nfs_hard,
	};
	char lease[PATH_MAX];
	struct fence_lease_info info;
	struct fence_error ferr = { 0 };
	struct cli_check_item *it;

	if (fence_lease_path(c->dir, lease, sizeof(lease)) == 0 && access(lease, F_OK) == 0 &&
	    fence_lease_check(lease, NULL, &info, &ferr) == 0)
		cc.store_io_timeout = info.io_timeout;
	it = cli_check_new_item(c, "timeout_chain", "a host that loses its lease must stop writing and "
	    "stop its service before another host can take it: %u s after its last renewal",
	    FENCE_HOST_DEAD(cc.io_timeout));
	chain_timeouts(&cc, &it->r);
	json_object_set_new(it->figures, "io_timeout", json_integer(cc.io_timeout));
	if (cc.store_io_timeout)
		json_object_set_new(it->figures, "store_io_timeout",
		    json_integer(cc.store_io_timeout));
	json_object_set_new(it->figures, "lease_free_after_s",
	    json_integer(FENCE_HOST_DEAD(cc.io_timeout)));
	json_object_set_new(it->figures, "stop_budget_s", json_real(cc.hook_stop ?
	    (double)(cc.hook_timeout_ms + cc.hook_kill_grace_ms) / 1000.0 : 0.0));
}

static void cli_check_print_text(const struct cli_check *c, enum chain_verdict worst, int exit_code)
{
	unsigned warns = 0, fails = 0;

	printf("ssfm check-storage %s (configuration: %s)\n", c->dir,
	    c->config ? c->config : "defaults");
	for (size_t i = 0; i < c->nitems; i++) {
		const struct cli_check_item *it = &c->items[i];
		enum chain_verdict v = chain_worst(&it->r);

		warns += v == CHAIN_WARN;
		fails += v == CHAIN_FAIL;
		printf("%-5s %-14s %s\n", chain_verdict_name(v), it->name, it->summary);
		for (size_t j = 0; j < it->r.n; j++) {
			const struct chain_finding *f = &it->r.f[j];
			if (f->verdict == CHAIN_OK)
				printf("      %s\n", f->text);
			else
				printf("      %s: %s\n", chain_verdict_name(f->verdict), f->text);
			if (f->advice[0] != '\0')
				printf("        advice: %s\n", f->advice);
		}
	}
	printf("verdict: %s (%u warning%s, %u failure%s; exit %d)\n", chain_verdict_name(worst),
	    warns, warns == 1 ? "" : "s", fails, fails == 1 ? "" : "s", exit_code);
}

static int cli_check_print_json(const struct cli_check *c, enum chain_verdict worst, int exit_code)
{
	json_t *o = json_object(), *items = json_array();
	int rc;

	json_object_set_new(o, "dir", json_string(c->dir));
	json_object_set_new(o, "config", c->config ? json_string(c->config) : json_null());
	for (size_t i = 0; i < c->nitems; i++) {
		const struct cli_check_item *it = &c->items[i];
		json_t *item = json_object(), *findings = json_array();

		json_object_set_new(item, "item", json_string(it->name));
		json_object_set_new(item, "verdict", json_string(chain_verdict_name(chain_worst(&it->r))));
		json_object_set_new(item, "summary", json_string(it->summary));
		for (size_t j = 0; j < it->r.n; j++)
			json_array_append_new(findings, json_pack("{s:s, s:s, s:s}", "verdict",
			    chain_verdict_name(it->r.f[j].verdict), "text", it->r.f[j].text,
			    "advice", it->r.f[j].advice));
		json_object_set_new(item, "findings", findings);
		json_object_set(item, "figures", it->figures);
		json_array_append_new(items, item);
	}
	json_object_set_new(o, "items", items);
	json_object_set_new(o, "verdict", json_string(chain_verdict_name(worst)));
	json_object_set_new(o, "exit", json_integer(exit_code));
	rc = json_dumpf(o, stdout, JSON_COMPACT);
	json_decref(o);
	putchar('\n');
	return rc;
}

static int cli_check_storage_run(const struct cli_command *cmd, int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_SAMPLES };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "samples", required_argument, NULL, OPT_SAMPLES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_check c;
	const char *config = NULL;
	char scratch[PATH_MAX];
	uint64_t samples = CHECK_SAMPLES_DEFAULT;
	int as_json = 0, ch, status;
	struct stat sb = { 0 };

	memset(&c, 0, sizeof(c));
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case OPT_JSON:
			as_json = 1;
			break;
		case OPT_SAMPLES:
			if (cli_parse_u64(optarg, 1, CHECK_SAMPLES_MAX, &samples) < 0)
				return cli_usage_error(cmd, "--samples: \"%s\" is not a number "
				    "from 1 to %u", optarg, CHECK_SAMPLES_MAX);
			break;
		case 'h':
			return cli_command_help(cmd);
		default:
			return cli_usage_error(cmd, "unknown option or missing argument: %s",
			    argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "check-storage takes one folder");
	c.dir = argv[optind];
	if (stat(c.dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		cli_errx("check-storage: %s: %s", c.dir, S_ISDIR(sb.st_mode) ? strerror(errno) :
		    "not a folder");
		return CLI_EXIT_SYSTEM;
	}
	if (conf_init(&c.cfg) < 0) {
		cli_errx("check-storage: out of memory");
		return CLI_EXIT_SYSTEM;
	}
	if ((size_t)snprintf(scratch, sizeof(scratch), "%s/.ssfm-check-XXXXXX", c.dir) >=
	    sizeof(scratch) || mkdtemp(scratch) == NULL) {
		cli_errx("check-storage: cannot make a scratch folder in %s: %s", c.dir,
		    strerror(errno));
		conf_free(&c.cfg);
		return CLI_EXIT_SYSTEM;
	}
	int rc = probe_mount(scratch, &c.mount);
	if (rc < 0) {
		cli_errx("check-storage: statfs %s: %s", scratch, strerror(-rc));
		rmdir(scratch);
		conf_free(&c.cfg);
		return CLI_EXIT_SYSTEM;
	}

	cli_check_config(&c, config);
	cli_check_filesystem(&c);
	cli_check_direct_io(&c, scratch);
	cli_check_noclobber(&c, scratch);
	cli_check_fsync(&c, scratch, (unsigned)samples);
	cli_check_inotify(&c, scratch);
	cli_check_timeouts(&c);
	if (rmdir(scratch) < 0)
		cli_warnx("check-storage: could not remove %s: %s", scratch, strerror(errno));

	enum chain_verdict worst = CHAIN_OK;
	for (size_t i = 0; i < c.nitems; i++)
		if (chain_worst(&c.items[i].r) > worst)
			worst = chain_worst(&c.items[i].r);
	status = worst == CHAIN_OK ? CLI_EXIT_OK : worst == CHAIN_WARN ? CLI_EXIT_NO :
	    CLI_EXIT_STORE;
	if (as_json)
		cli_check_print_json(&c, worst, status);
	else
		cli_check_print_text(&c, worst, status);
	for (size_t i = 0; i < c.nitems; i++)
		json_decref(c.items[i].figures);
	conf_free(&c.cfg);
	if (cli_flush_stdout() != CLI_EXIT_OK)
		return CLI_EXIT_SYSTEM;
	return status;
}

const struct cli_command cli_check_storage_command = {
	.name = "check-storage",
	.synopsis = "check-storage [-c FILE] [--json] [--samples N] DIR",
	.summary = "Check that the filesystem under DIR gives what ssfm needs (O_DIRECT,\n"
	    "no-clobber rename, fsync latency, inotify, NFS options) and that the\n"
	    "configuration's timeout chain is safe on it; a verdict and advice per item.",
	.options =
	    "      -c, --config FILE     the daemon's configuration (default\n"
	    "                            " CONF_DEFAULT_FILE ", else the defaults)\n"
	    "      --json                one JSON object: items, findings, figures\n"
	    "      --samples N           fdatasync samples for the latency (default 100)\n",
	.run = cli_check_storage_run,
};
