/*
 * conf.h: ssfm.conf(5), the daemon's configuration.
 *
 * One table (conf.c) lists every key with its type, bounds, default and a
 * help line; the parser, the override options, the printer and the man page
 * test all read that table, so a key exists in one place only.
 *
 * File syntax: `key = value` lines; `#` starts a comment line; blank lines
 * are ignored; spaces around key and value are trimmed.  Unknown keys, bad
 * values and keys given twice are errors.  Every error is collected as
 * "FILE:LINE: message" (or "command line: message" for overrides) so that
 * all of them are reported at once.
 *
 * Types:
 *   string    free text (a validator may restrict it: group and host names)
 *   int       decimal integer, strictly parsed, within [min, max]
 *   bool      yes|no|true|false|on|off|1|0
 *   enum      one of the listed words
 *   duration  milliseconds; a bare number is milliseconds, or a number with
 *             a unit: ms, s, m, h (e.g. 250, 250ms, 5s, 10m)
 *   path      an absolute path (empty: unset, where the key is optional)
 *   command   a program run without a shell: the value is split on blanks
 *             into argv (no quoting, no expansion); the first word must be
 *             an absolute path.  Empty: no program.
 *
 * Use: conf_init, then conf_load_file and conf_override as needed,
 * then conf_finish (required keys, derived defaults, cross-key checks).
 * Each returns the number of errors it added (0: fine).  The caller prints
 * the collected errors (conf_errors) and decides to exit.
 */
#ifndef SSFM_CONF_H
#define SSFM_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONF_DEFAULT_FILE "/etc/ssfm/ssfm.conf"
#define CONF_RUN_DIR "/run/ssfm"

enum conf_type {
	CONF_STRING,
	CONF_INT,
	CONF_BOOL,
	CONF_ENUM,
	CONF_DURATION,
	CONF_PATH,
	CONF_COMMAND,
};

enum conf_watch { CONF_WATCH_AUTO, CONF_WATCH_INOTIFY, CONF_WATCH_POLL };
enum conf_log_level { CONF_LOG_WARN, CONF_LOG_INFO, CONF_LOG_DEBUG };

/* The effective configuration.  Strings are malloc'd (conf_free); an
 * unset optional string or path is "" (never NULL after conf_init).
 * Durations are in milliseconds. */
struct conf {
	char *group;
	char *host;
	long long host_id;
	char *store;
	char *socket;
	char *socket_group;
	char *pid_file;
	long long io_timeout;           /* seconds */
	bool auto_promote;
	int watch;                      /* enum conf_watch */
	long long poll_interval;        /* ms */
	long long follow_delay;         /* ms */
	long long snapshot_ops;
	long long snapshot_interval;    /* ms; 0: never by time */
	long long snapshot_keep;
	long long journal_retention;    /* ms */
	long long reqid_retention;      /* ms */
	long long max_value_bytes;
	long long max_batch_ops;
	bool force_link;
	long long max_connections;
	long long request_timeout;      /* ms */
	char *hook_start;
	char *hook_stop;
	char *hook_check;
	long long hook_timeout;         /* ms */
	long long hook_kill_grace;      /* ms */
	long long check_interval;       /* ms */
	long long check_failures;
	long long demote_timeout;       /* ms */
	char *fence_hook;
	char *lease_lost_program;
	char *metrics_file;
	long long metrics_interval;     /* ms */
	int log_level;                  /* enum conf_log_level */

	/* Where each key was last set: 0 default, > 0 file line, -1 command
	 * line.  Indexed like the key table. */
	int set_line[64];
	char *file;                     /* the file loaded, for messages */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	long long min, max;             /* int and duration bounds */
	const char *def;                /* default, as text ("" for none) */
	const char *const *choices;     /* enum words, NULL-terminated */
	bool required;
	const char *help;               /* one line */
	size_t offset;                  /* into struct conf */
};

struct conf_errors {
	char **msg;
	size_t count, cap;
};

/* Number of keys, and key i (0 <= i < conf_key_count()). */
size_t conf_key_count(void);
const struct conf_key *conf_key_at(size_t i);
const struct conf_key *conf_key_find(const char *name);
/* "string", "int", ... as used in ssfm.conf(5). */
const char *conf_type_name(enum conf_type type);

/* Sets every key to its default.  Returns 0 or -ENOMEM. */
int conf_init(struct conf *cfg);
void conf_free(struct conf *cfg);

/* Reads path; returns the number of errors added to errs (a file that
 * cannot be read is one error naming it). */
int conf_load_file(struct conf *cfg, const char *path,
    struct conf_errors *errs);
/* Reads config text from memory (name is used in messages). */
int conf_load_text(struct conf *cfg, const char *name, const char *text,
    size_t len, struct conf_errors *errs);

/* Applies one "--KEY=VALUE" (or "KEY=VALUE") override, with the same checks
 * as the file.  An override may set a key the file also set.  Returns the
 * number of errors added (0 or 1). */
int conf_override(struct conf *cfg, const char *arg,
    struct conf_errors *errs);

/* Checks required keys and relations between keys; fills derived defaults
 * (socket, pid_file from group).  Returns the number of errors added. */
int conf_finish(struct conf *cfg, struct conf_errors *errs);

/* Prints the effective configuration as ssfm.conf text that parses back:
 * every key; when verbose, a comment line before each with its help, type
 * and where it was set ("default", "set at FILE:LINE", "set on the command
 * line"). */
void conf_print(const struct conf *cfg, FILE *out, bool verbose);

/* Splits a command value into a NULL-terminated argv (malloc'd array and
 * strings, free with conf_argv_free).  Returns 0, -EINVAL (empty), or
 * -ENOMEM. */
int conf_split_command(const char *value, char ***argv);
void conf_argv_free(char **argv);

void conf_errors_free(struct conf_errors *errs);
void conf_errors_print(const struct conf_errors *errs, FILE *out);

#endif
