/*
 * cli.h: what the subcommands of ssfm(8) share: the table of commands, the
 * exit statuses, error messages, strict number parsing, opening a store
 * read-only, and walking its keys in order.
 *
 * The exit statuses are an interface (scripts test them): they are listed
 * in ssfm(8) EXIT STATUS and must not change meaning.
 */
#ifndef SSFM_CLI_H
#define SSFM_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_NO = 1,        /* get: no such key; verify: problems found */
	CLI_EXIT_USAGE = 2,     /* bad command line, invalid key or group name */
	CLI_EXIT_STORE = 3,     /* not a store, unknown format, damaged, gap, already a store */
	CLI_EXIT_SYSTEM = 4,    /* I/O or system error (errno) */
};

struct cli_command {
	const char *name;
	const char *synopsis;   /* "init [--group NAME] ... DIR" */
	const char *summary;    /* one line */
	const char *options;    /* option lines for --help, or "" */
	int (*run)(const struct cli_command *cmd, int argc, char **argv);
};

extern const struct cli_command cli_init_command;
extern const struct cli_command cli_verify_command;
extern const struct cli_command cli_dump_command;
extern const struct cli_command cli_get_command;
extern const struct cli_command cli_list_command;
extern const struct cli_command cli_check_storage_command;
extern const struct cli_command cli_restore_command;

/* Prints the whole usage (every command and option) to f. */
void cli_usage(FILE *f);

#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* "ssfm: message" on stderr. */
void cli_errx(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "ssfm: warning: message" on stderr. */
void cli_warnx(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "ssfm: message" and the command's usage line on stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_command *cmd, const char *fmt, ...)
    CLI_PRINTF(2, 3);

/* The exit status for a negative return code of the store or of libc. */
int cli_exit_for(int rc);
/*
 * Reports a failed store call: err->msg when the store filled it, else
 * "what: <description of rc>".  Returns cli_exit_for(rc).
 */
int cli_fail(int rc, const struct store_error *err, const char *what);

/*
 * Starts getopt_long() afresh for a subcommand's argv (argv[0] is the
 * command name), after main() parsed the global options.
 */
void cli_getopt_reset(void);
/* -h/--help after a command: the command's own usage on stdout. */
int cli_command_help(const struct cli_command *cmd);

/* Parses a decimal number in [min, max]; no sign, no spaces, no suffix.
 * 0 or -EINVAL (not a number) / -ERANGE (out of bounds). */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Checks a key (or a key prefix) given on the command line with
 * store_check_key; reports an invalid one naming what it was for.  Returns
 * CLI_EXIT_OK or CLI_EXIT_USAGE.
 */
int cli_check_key_arg(const char *what, const char *key);

/*
 * Opens dir read-only (the offline commands never modify a store).  On
 * failure reports it and returns the exit status (non-zero).
 */
int cli_open(const char *dir, struct store **st);
/*
 * Ends a read command: warns when loading stopped short of the journal's
 * end (the output then shows the state at an earlier sequence number),
 * flushes stdout, closes the store.  Returns exit_so_far if it is not OK,
 * else CLI_EXIT_STORE when loading was blocked, CLI_EXIT_SYSTEM when stdout
 * failed, else CLI_EXIT_OK.
 */
int cli_finish(struct store *st, const char *dir, int exit_so_far);
/* Flushes stdout; reports a write error.  Returns CLI_EXIT_OK or
 * CLI_EXIT_SYSTEM. */
int cli_flush_stdout(void);

/* ---- JSON output (cli_json.c) ------------------------------------------ */

/* Writes s[0..len) to f as a JSON string (jansson escapes it).  0 or < 0. */
int cli_json_string(FILE *f, const char *s, size_t len);
/* Writes the digest as a JSON string of 16 lowercase hex digits. */
void cli_json_digest(FILE *f, uint64_t digest);
/*
 * Writes {"key":K,"version":N,"value":V}: V is the stored JSON text, copied
 * as it is (the store validated it when it was written and again when it
 * was read back).  0 or < 0.
 */
int cli_json_entry(FILE *f, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version);
/* A key quoted as a JSON string for messages (malloc'd; never NULL: falls
 * back to a static "(key)" when out of memory). */
char *cli_quote(const char *s, size_t len);
void cli_quote_free(char *q);

/* ---- get and list, offline and online (cli_get.c, cli_list.c) ----------
 * Both forms of a command share their options and their output; only where
 * the keys come from differs (a store directory, or the daemon).
 * The *_options functions return CLI_GO_ON when the command should go on,
 * else the exit status to return at once (usage error, --help). */
#define CLI_GO_ON (-1)

/* The options of a command that has at most --json (json NULL: only
 * --help): CLI_GO_ON, or the exit status to return at once. */
int cli_json_option(const struct cli_command *cmd, int argc, char **argv, int *json);
int cli_get_options(const struct cli_command *cmd, int argc, char **argv,
    int *with_version);
/* Prints a value as get does: the JSON text, or with_version the entry. */
void cli_get_print(const char *key, size_t key_len, const char *value,
    size_t value_len, uint64_t version, int with_version);

struct cli_listing {
	int json;
	uint64_t limit;         /* 0: no limit */
	uint64_t count;
	char *next;             /* the first key beyond the limit */
	size_t next_len;
	int error;              /* < 0: -ENOMEM; 1: output failed */
};
/* Parses --limit, --start (checked as a key) and --json into l and *start. */
int cli_list_options(const struct cli_command *cmd, int argc, char **argv,
    struct cli_listing *l, const char **start);
/* Prints one key (or, past the limit, remembers it as "next"); returns 1 to
 * stop the walk.  Fits store_list_fn with l as arg. */
int cli_listing_key(void *l, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version);
void cli_listing_begin(const struct cli_listing *l);
/* Ends the JSON form with "next" when the listing succeeded (ok), and frees
 * what the listing holds either way. */
void cli_listing_end(struct cli_listing *l, int ok);

/* ---- reading a dump (cli_dumpfile.c) ------------------------------------ */

struct cli_dumpfile {
	FILE *f;
	const char *name;       /* for messages: the path, or "standard input" */
	uint64_t size;          /* bytes, when a regular file (else 0) */
	char *buf;
	size_t len, pos, cap;
	uint64_t offset;        /* bytes of the file before buf */
	int eof;
	int in_keys;
	/* the header (cli_dumpfile_header) */
	char group[STORE_GROUP_MAX + 1];
	uint64_t seq, digest;
	/* the current entry (cli_dumpfile_next): value is the exact JSON text
	 * of the document, valid until the next call; key is decoded */
	char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	uint64_t version;
	uint64_t count;         /* entries read so far */
	uint64_t entry_offset;
	int sys_errno;          /* non-zero when a failure was the system's */
	char why[1024];         /* what went wrong: the file and the byte */
};

/* path "-": standard input.  0, or -1 with why (and sys_errno) set. */
int cli_dumpfile_open(struct cli_dumpfile *df, const char *path);
/* Reads up to the keys: group, seq and digest.  0 or -1 (why). */
int cli_dumpfile_header(struct cli_dumpfile *df);
/* 1: an entry is ready; 0: the document ended properly (nothing after
 * it); -1: why says what is wrong, naming the byte. */
int cli_dumpfile_next(struct cli_dumpfile *df);
void cli_dumpfile_close(struct cli_dumpfile *df);

/* A group name: [A-Za-z0-9._-], 1..STORE_GROUP_MAX bytes (cli_init.c). */
int cli_group_valid(const char *name, size_t len);

/* ---- walking keys (cli_scan.c) ----------------------------------------- */

/*
 * Calls fn for each key that starts with prefix, from the first key >= start
 * (start may be NULL), in bytewise order, until fn returns non-zero.  Keys
 * are copied out of the store a page at a time, so fn may take its time
 * (write to a slow pipe) without holding the store's lock, and memory stays
 * bounded by a page whatever the store's size.  Returns 0 or < 0.
 */
typedef int (*cli_scan_fn)(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version);
int cli_scan(struct store *st, const char *prefix, const char *start,
    cli_scan_fn fn, void *arg);

#endif
