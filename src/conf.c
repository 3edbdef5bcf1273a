/*
 * conf.c: the key table of ssfm.conf(5) and its parser.
 *
 * Why strict: a typo in a failover daemon's configuration (an io_timeout of
 * "1O", an unknown key "auto_promte") silently falls back to a default that
 * changes when a host takes over.  So every number is parsed in full, every
 * key must be known, and a key set twice is an error.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where fence/Makefile.am installs ssfm-lease-lost (src/Makefile.am). */
#ifndef SSFM_LIBEXECDIR
#define SSFM_LIBEXECDIR "/usr/local/libexec"
#endif

#define OFF(field) offsetof(struct conf, field)
/* See the timeline in conf_finish. */
#define CONF_STOP_BUDGET_MS 50000
#define DAY_MS (24LL * 3600 * 1000)

static const char *const watch_words[] = { "auto", "inotify", "poll", NULL };
static const char *const log_words[] = { "warn", "info", "debug", NULL };

/*
 * The table.  Bounds are inclusive.  A change here needs the same change in
 * man/ssfm.conf.5 (tests/t_conf_keys.sh compares the names).
 */
static const struct conf_key conf_table[] = {
	{ "group", CONF_STRING, 1, 48, "", NULL, true,
	  "failover group name: [A-Za-z0-9._-], 1..48 bytes, the same on every host", OFF(group) },
	{ "host", CONF_STRING, 1, 64, "", NULL, true,
	  "this host's name in the group: [A-Za-z0-9._-], 1..64 bytes, unique", OFF(host) },
	{ "host_id", CONF_INT, 1, 2000, "", NULL, true,
	  "this host's sanlock host id, unique in the group", OFF(host_id) },
	{ "store", CONF_PATH, 0, 0, "", NULL, true,
	  "the group's store directory on shared storage (made by ssfm init)", OFF(store) },
	{ "socket", CONF_PATH, 0, 0, "", NULL, false,
	  "control socket path (default /run/ssfm/GROUP.sock)", OFF(socket) },
	{ "socket_group", CONF_STRING, 0, 64, "", NULL, false,
	  "group owning the control socket; its members may write (empty: root only)", OFF(socket_group) },
	{ "pid_file", CONF_PATH, 0, 0, "", NULL, false,
	  "pid file, locked while the daemon runs (default /run/ssfm/GROUP.pid)", OFF(pid_file) },
	{ "io_timeout", CONF_INT, 1, 60, "10", NULL, false,
	  "sanlock io_timeout in seconds; must match the store's (ssfm init)", OFF(io_timeout) },
	{ "auto_promote", CONF_BOOL, 0, 1, "yes", NULL, false,
	  "try to become active on its own; no: only on ssfm promote", OFF(auto_promote) },
	{ "watch", CONF_ENUM, 0, 0, "auto", watch_words, false,
	  "how a standby notices new journal files: auto, inotify or poll", OFF(watch) },
	{ "poll_interval", CONF_DURATION, 10, 60000, "250", NULL, false,
	  "how often a standby looks for the next journal file", OFF(poll_interval) },
	{ "follow_delay", CONF_DURATION, 0, 1000, "5", NULL, false,
	  "while writes stream in, a standby looks at the journal at most this often", OFF(follow_delay) },
	{ "snapshot_ops", CONF_INT, 0, 1000000000, "100000", NULL, false,
	  "write a snapshot after this many operations (0: never by count)", OFF(snapshot_ops) },
	{ "snapshot_interval", CONF_DURATION, 0, 7 * DAY_MS, "300000", NULL, false,
	  "write a snapshot this often when there were writes (0: never by time)", OFF(snapshot_interval) },
	{ "snapshot_keep", CONF_INT, 2, 1000, "3", NULL, false,
	  "snapshots kept by compaction", OFF(snapshot_keep) },
	{ "journal_retention", CONF_DURATION, 1000, 30 * DAY_MS, "60000", NULL, false,
	  "journal files covered by a snapshot are kept this long", OFF(journal_retention) },
	{ "reqid_retention", CONF_DURATION, 1000, 7 * DAY_MS, "600000", NULL, false,
	  "a request id is remembered this long, so a retry is not applied twice", OFF(reqid_retention) },
	{ "max_value_bytes", CONF_INT, 2, 1048576, "1048576", NULL, false,
	  "largest value accepted, in bytes of JSON text", OFF(max_value_bytes) },
	{ "max_batch_ops", CONF_INT, 1, 65536, "4096", NULL, false,
	  "most operations in one journal batch (group commit)", OFF(max_batch_ops) },
	{ "force_link", CONF_BOOL, 0, 1, "no", NULL, false,
	  "commit with link()+unlink() even where renameat2 works", OFF(force_link) },
	{ "max_connections", CONF_INT, 1, 100000, "1024", NULL, false,
	  "most control socket connections at once", OFF(max_connections) },
	{ "request_timeout", CONF_DURATION, 100, 3600000, "10000", NULL, false,
	  "a control request must arrive whole within this; a slower client is disconnected", OFF(request_timeout) },
	{ "hook_start", CONF_COMMAND, 0, 0, "", NULL, false,
	  "program that starts the managed service once active", OFF(hook_start) },
	{ "hook_stop", CONF_COMMAND, 0, 0, "", NULL, false,
	  "program that stops the managed service", OFF(hook_stop) },
	{ "hook_check", CONF_COMMAND, 0, 0, "", NULL, false,
	  "program that checks the managed service; non-zero exit is a failure", OFF(hook_check) },
	{ "hook_timeout", CONF_DURATION, 100, 3600000, "30000", NULL, false,
	  "a hook still running after this gets SIGTERM", OFF(hook_timeout) },
	{ "hook_kill_grace", CONF_DURATION, 100, 600000, "5000", NULL, false,
	  "a hook still running this long after SIGTERM gets SIGKILL", OFF(hook_kill_grace) },
	{ "check_interval", CONF_DURATION, 100, 3600000, "10000", NULL, false,
	  "how often the active runs hook_check", OFF(check_interval) },
	{ "check_failures", CONF_INT, 1, 1000, "3", NULL, false,
	  "this many failed checks in a row make the active demote itself", OFF(check_failures) },
	{ "demote_timeout", CONF_DURATION, 1000, 3600000, "60000", NULL, false,
	  "graceful demote: longest wait for batches in flight and hook_stop", OFF(demote_timeout) },
	{ "fence_hook", CONF_COMMAND, 0, 0, "", NULL, false,
	  "program that fences the previous active at the storage before catch-up", OFF(fence_hook) },
	{ "lease_lost_program", CONF_PATH, 0, 0, SSFM_LIBEXECDIR "/ssfm-lease-lost", NULL, false,
	  "program sanlock runs when this host cannot renew its lease (kill path: SIGTERM to ssfmd)", OFF(lease_lost_program) },
	{ "metrics_file", CONF_PATH, 0, 0, "", NULL, false,
	  "file rewritten with metrics every metrics_interval (empty: none)", OFF(metrics_file) },
	{ "metrics_interval", CONF_DURATION, 100, 3600000, "10000", NULL, false,
	  "how often metrics_file is rewritten", OFF(metrics_interval) },
	{ "log_level", CONF_ENUM, 0, 0, "info", log_words, false,
	  "least important messages logged: warn, info or debug", OFF(log_level) },
};

#define CONF_NKEYS (sizeof(conf_table) / sizeof(conf_table[0]))
_Static_assert(CONF_NKEYS <= sizeof(((struct conf *)0)->set_line) /
    sizeof(int), "set_line too small for the key table");

size_t conf_key_count(void)
{
	return CONF_NKEYS;
}

const struct conf_key *conf_key_at(size_t i)
{
	return i < CONF_NKEYS ? &conf_table[i] : NULL;
}

const struct conf_key *conf_key_find(const char *name)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_table[i].name, name) == 0)
			return &conf_table[i];
	return NULL;
}

const char *conf_type_name(enum conf_type type)
{
	switch (type) {
	case CONF_STRING: return "string";
	case CONF_INT: return "int";
	case CONF_BOOL: return "bool";
	case CONF_ENUM: return "enum";
	case CONF_DURATION: return "duration";
	case CONF_PATH: return "path";
	case CONF_COMMAND: return "command";
	}
	return "?";
}

static __attribute__((format(printf, 2, 3)))
void conf_error(struct conf_errors *errs, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (errs->count == errs->cap) {
		size_t cap = errs->cap ? errs->cap * 2 : 8;
		char **grown = realloc(errs->msg, cap * sizeof(*grown));
		if (grown == NULL) {
			free(text);
			return;
		}
		errs->msg = grown;
		errs->cap = cap;
	}
	/* Out of memory leaves a NULL entry: still counted, printed as such. */
	errs->msg[errs->count++] = text;
}

void conf_errors_free(struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->count = errs->cap = 0;
}

void conf_errors_print(const struct conf_errors *errs, FILE *out)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(out, "%s\n", errs->msg[i] ? errs->msg[i] : "(out of memory)");
}

/* ---- values ------------------------------------------------------------- */

static char **conf_str_slot(struct conf *cfg, const struct conf_key *k)
{
	return (char **)((char *)cfg + k->offset);
}

static long long *conf_ll_slot(struct conf *cfg, const struct conf_key *k)
{
	return (long long *)((char *)cfg + k->offset);
}

static bool conf_is_text(enum conf_type t)
{
	return t == CONF_STRING || t == CONF_PATH || t == CONF_COMMAND;
}

static bool conf_name_ok(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

/* Strict decimal: optional sign, digits, nothing else; no overflow. */
static int conf_parse_ll(const char *s, long long *out)
{
	char *end;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int conf_parse_duration(const char *s, long long *out)
{
	static const struct { const char *unit; long long ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	size_t digits = 0;
	char num[32];

	while (isdigit((unsigned char)s[digits]))
		digits++;
	if (digits == 0 || digits >= sizeof(num))
		return digits == 0 ? -EINVAL : -ERANGE;
	memcpy(num, s, digits);
	num[digits] = '\0';
	long long v;
	int rc = conf_parse_ll(num, &v);
	if (rc < 0)
		return rc;
	const char *unit = s + digits;
	long long mult = 1;
	if (*unit != '\0') {
		size_t i;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(unit, units[i].unit) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		mult = units[i].ms;
	}
	if (v > LLONG_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

static int conf_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Parses value for key k into cfg.  On a bad value, writes the reason
 * (without location) to why and returns -EINVAL; -ENOMEM on allocation.
 */
static int conf_set_value(struct conf *cfg, const struct conf_key *k,
    const char *value, char *why, size_t why_len)
{
	long long v;
	int rc;

	switch (k->type) {
	case CONF_STRING:
		if ((long long)strlen(value) > k->max) {
			snprintf(why, why_len, "%s: \"%s\" is longer than %lld bytes",
			    k->name, value, k->max);
			return -EINVAL;
		}
		/* group and host become file and lockspace names. */
		if ((k->offset == OFF(group) || k->offset == OFF(host)) && !conf_name_ok(value)) {
			snprintf(why, why_len, "%s: \"%s\" has a character outside [A-Za-z0-9._-]",
			    k->name, value);
			return -EINVAL;
		}
		break;
	case CONF_PATH:
		if (value[0] != '\0' && value[0] != '/') {
			snprintf(why, why_len, "%s: \"%s\" is not an absolute path",
			    k->name, value);
			return -EINVAL;
		}
		if (strlen(value) >= PATH_MAX) {
			snprintf(why, why_len, "%s: path longer than %d bytes", k->name, PATH_MAX - 1);
			return -EINVAL;
		}
		break;
	case CONF_COMMAND:
		if (value[0] != '\0' && value[0] != '/') {
			snprintf(why, why_len,
			    "%s: \"%s\" must start with an absolute program path (no shell is used)",
			    k->name, value);
			return -EINVAL;
		}
		break;
	case CONF_INT:
	case CONF_DURATION:
		rc = k->type == CONF_INT ? conf_parse_ll(value, &v)
		    : conf_parse_duration(value, &v);
		if (rc == -EINVAL) {
			snprintf(why, why_len, "%s: \"%s\" is not %s", k->name, value,
			    k->type == CONF_INT ? "a decimal integer"
			    : "a duration (a number with an optional unit ms, s, m or h)");
			return -EINVAL;
		}
		if (rc < 0 || v < k->min || v > k->max) {
			snprintf(why, why_len, "%s: %s is out of range %lld..%lld%s",
			    k->name, value, k->min, k->max,
			    k->type == CONF_DURATION ? " ms" : "");
			return -EINVAL;
		}
		*conf_ll_slot(cfg, k) = v;
		return 0;
	case CONF_BOOL: {
		bool b;
		if (conf_parse_bool(value, &b) < 0) {
			snprintf(why, why_len, "%s: \"%s\" is not yes or no", k->name, value);
			return -EINVAL;
		}
		*(bool *)((char *)cfg + k->offset) = b;
		return 0;
	}
	case CONF_ENUM:
		for (int i = 0; k->choices[i]; i++) {
			if (strcmp(k->choices[i], value) == 0) {
				*(int *)((char *)cfg + k->offset) = i;
				return 0;
			}
		}
		{
			char list[128] = "";
			for (int i = 0; k->choices[i]; i++) {
				if (i)
					strncat(list, ", ", sizeof(list) - strlen(list) - 1);
				strncat(list, k->choices[i], sizeof(list) - strlen(list) - 1);
			}
			snprintf(why, why_len, "%s: \"%s\" is not one of %s", k->name, value, list);
		}
		return -EINVAL;
	}
	/* Text types reach here. */
	char *copy = strdup(value);
	if (copy == NULL)
		return -ENOMEM;
	char **slot = conf_str_slot(cfg, k);
	free(*slot);
	*slot = copy;
	return 0;
}

int conf_init(struct conf *cfg)
{
	char why[256];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_table[i];
		if (conf_is_text(k->type)) {
			char *copy = strdup(k->def);
			if (copy == NULL) {
				conf_free(cfg);
				return -ENOMEM;
			}
			*conf_str_slot(cfg, k) = copy;
		} else if (k->def[0] != '\0') {
			/* A bad default is a bug in the table: tests/t_conf.c
			 * parses every default. */
			if (conf_set_value(cfg, k, k->def, why, sizeof(why)) < 0) {
				conf_free(cfg);
				return -EINVAL;
			}
		}
	}
	return 0;
}

void conf_free(struct conf *cfg)
{
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		if (conf_is_text(conf_table[i].type)) {
			char **slot = conf_str_slot(cfg, &conf_table[i]);
			free(*slot);
			*slot = NULL;
		}
	}
	free(cfg->file);
	cfg->file = NULL;
}

/* ---- parsing -------------------------------------------------------------- */

static char *conf_trim(char *s, char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* One "key = value" line, NUL-terminated and without its newline. */
static void conf_line(struct conf *cfg, const char *where, int lineno,
    char *line, struct conf_errors *errs)
{
	char why[PATH_MAX + 256];
	char *end = line + strlen(line);
	char *text = conf_trim(line, end);

	if (*text == '\0' || *text == '#')
		return;
	char *eq = strchr(text, '=');
	if (eq == NULL) {
		conf_error(errs, "%s:%d: expected \"key = value\", got \"%s\"", where, lineno, text);
		return;
	}
	char *key = conf_trim(text, eq);
	char *value = conf_trim(eq + 1, eq + 1 + strlen(eq + 1));
	const struct conf_key *k = conf_key_find(key);
	if (k == NULL) {
		conf_error(errs, "%s:%d: unknown key \"%s\"", where, lineno, key);
		return;
	}
	size_t idx = (size_t)(k - conf_table);
	if (cfg->set_line[idx] > 0) {
		conf_error(errs, "%s:%d: %s is already set at line %d", where, lineno,
		    key, cfg->set_line[idx]);
		return;
	}
	int rc = conf_set_value(cfg, k, value, why, sizeof(why));
	if (rc == -ENOMEM)
		conf_error(errs, "%s:%d: %s: out of memory", where, lineno, key);
	else if (rc < 0)
		conf_error(errs, "%s:%d: %s", where, lineno, why);
	else
		cfg->set_line[idx] = lineno;
}

int conf_load_text(struct conf *cfg, const char *name, const char *text,
    size_t len, struct conf_errors *errs)
{
	size_t before = errs->count;
	int lineno = 0;
	size_t pos = 0;

	free(cfg->file);
	cfg->file = strdup(name);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		char *line = strndup(text + pos, n);
		if (line == NULL) {
			conf_error(errs, "%s:%d: out of memory", name, lineno);
			break;
		}
		if (strlen(line) != n)
			conf_error(errs, "%s:%d: NUL byte in line", name, lineno);
		else
			conf_line(cfg, name, lineno, line, errs);
		free(line);
		pos += n + (nl ? 1 : 0);
	}
	return (int)(errs->count - before);
}

int conf_load_file(struct conf *cfg, const char *path,
    struct conf_errors *errs)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0, cap = 0;
	int n = 0;

	if (f == NULL) {
		conf_error(errs, "%s: cannot open: %s", path, strerror(errno));
		return 1;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *grown = realloc(text, cap);
			if (grown == NULL) {
				conf_error(errs, "%s: out of memory", path);
				n = 1;
				goto out;
			}
			text = grown;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		conf_error(errs, "%s: read error", path);
		n = 1;
		goto out;
	}
	n = conf_load_text(cfg, path, text, len, errs);
out:
	free(text);
	fclose(f);
	return n;
}

int conf_override(struct conf *cfg, const char *arg,
    struct conf_errors *errs)
{
	char why[PATH_MAX + 256];
	const char *body = strncmp(arg, "--", 2) == 0 ? arg + 2 : arg;
	const char *eq = strchr(body, '=');

	if (eq == NULL) {
		conf_error(errs, "command line: \"%s\": expected --KEY=VALUE", arg);
		return 1;
	}
	char key[64];
	size_t klen = (size_t)(eq - body);
	if (klen >= sizeof(key)) {
		conf_error(errs, "command line: unknown key \"%.*s\"", (int)klen, body);
		return 1;
	}
	memcpy(key, body, klen);
	key[klen] = '\0';
	const struct conf_key *k = conf_key_find(key);
	if (k == NULL) {
		conf_error(errs, "command line: unknown key \"%s\"", key);
		return 1;
	}
	int rc = conf_set_value(cfg, k, eq + 1, why, sizeof(why));
	if (rc < 0) {
		conf_error(errs, "command line: %s", rc == -ENOMEM ? "out of memory" : why);
		return 1;
	}
	cfg->set_line[k - conf_table] = -1;
	return 0;
}

static int conf_default_path(char **slot, const char *group, const char *suffix)
{
	char *path;

	if ((*slot)[0] != '\0')
		return 0;
	if (asprintf(&path, "%s/%s.%s", CONF_RUN_DIR, group, suffix) < 0)
		return -ENOMEM;
	free(*slot);
	*slot = path;
	return 0;
}

int conf_finish(struct conf *cfg, struct conf_errors *errs)
{
	size_t before = errs->count;
	const char *where = cfg->file ? cfg->file : "configuration";

	for (size_t i = 0; i < CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_table[i];
		if (!k->required || cfg->set_line[i] != 0)
			continue;
		conf_error(errs, "%s: required key %s is not set (%s)", where, k->name, k->help);
	}
	if (cfg->group[0] != '\0') {
		if (conf_default_path(&cfg->socket, cfg->group, "sock") < 0 ||
		    conf_default_path(&cfg->pid_file, cfg->group, "pid") < 0)
			conf_error(errs, "%s: out of memory", where);
	}
	/* sun_path holds 108 bytes with its NUL. */
	if (strlen(cfg->socket) > 107)
		conf_error(errs, "%s: socket: \"%s\" is longer than 107 bytes (the limit of a Unix socket path)",
		    where, cfg->socket);
	/*
	 * Lease loss, second by second (T = io_timeout; DESIGN.md "Fencing"):
	 *   0        last successful renewal of our lease
	 *   8T       sanlock gives up renewing and kills through the kill
	 *            path: the daemon refuses writes and runs hook_stop
	 *   8T + 60  the watchdog has reset a host that did not stop, and the
	 *            lease is free for another host, which starts the service
	 * So hook_stop, SIGKILL included, must be over within 60 s of the
	 * kill, with room for the daemon to react: hook_timeout +
	 * hook_kill_grace <= CONF_STOP_BUDGET_MS.  Longer would let two hosts
	 * run the service at once.
	 */
	if (cfg->hook_stop[0] != '\0' &&
	    cfg->hook_timeout + cfg->hook_kill_grace > CONF_STOP_BUDGET_MS)
		conf_error(errs, "%s: hook_timeout (%lld ms) + hook_kill_grace (%lld ms) exceed %d ms: after a lease loss, hook_stop could outlive the 60 s before another host may take over",
		    where, cfg->hook_timeout, cfg->hook_kill_grace, CONF_STOP_BUDGET_MS);
	/* hook_timeout + hook_kill_grace may exceed demote_timeout: a graceful
	 * demote then ends hook_stop at demote_timeout (daemon_service.c). */
	return (int)(errs->count - before);
}

/* ---- printing ------------------------------------------------------------- */

void conf_print(const struct conf *cfg, FILE *out, bool verbose)
{
	for (size_t i = 0; i < CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_table[i];
		const char *base = (const char *)cfg + k->offset;

		/* Notes go on a comment line of their own: ssfm.conf has no
		 * trailing comments, and the output must parse back. */
		if (verbose) {
			fprintf(out, "# %s (%s; ", k->help, conf_type_name(k->type));
			if (cfg->set_line[i] > 0)
				fprintf(out, "set at %s:%d)\n", cfg->file ? cfg->file : "file", cfg->set_line[i]);
			else if (cfg->set_line[i] < 0)
				fprintf(out, "set on the command line)\n");
			else
				fprintf(out, "default)\n");
		}
		switch (k->type) {
		case CONF_STRING:
		case CONF_PATH:
		case CONF_COMMAND:
			fprintf(out, "%s = %s", k->name, *(char *const *)base);
			break;
		case CONF_INT:
		case CONF_DURATION:
			if (k->required && cfg->set_line[i] == 0)
				fprintf(out, "%s =", k->name);
			else
				fprintf(out, "%s = %lld%s", k->name, *(const long long *)base,
				    k->type == CONF_DURATION ? "ms" : "");
			break;
		case CONF_BOOL:
			fprintf(out, "%s = %s", k->name, *(const bool *)base ? "yes" : "no");
			break;
		case CONF_ENUM:
			fprintf(out, "%s = %s", k->name, k->choices[*(const int *)base]);
			break;
		}
		fputc('\n', out);
	}
}

/* ---- commands ------------------------------------------------------------- */

void conf_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int conf_split_command(const char *value, char ***argv)
{
	size_t n = 0, cap = 4;
	char **v = calloc(cap, sizeof(*v));
	const char *p = value;

	if (v == NULL)
		return -ENOMEM;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		const char *start = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (n + 2 > cap) {
			cap *= 2;
			char **grown = realloc(v, cap * sizeof(*v));
			if (grown == NULL)
				goto nomem;
			v = grown;
		}
		v[n] = strndup(start, (size_t)(p - start));
		if (v[n] == NULL)
			goto nomem;
		v[++n] = NULL;
	}
	if (n == 0) {
		free(v);
		return -EINVAL;
	}
	*argv = v;
	return 0;
nomem:
	conf_argv_free(v);
	return -ENOMEM;
}
