/*
 * cli_dumpfile.c: reading a dump document (the output of `ssfm dump`,
 * offline or online: the same document) as a stream, one key at a time, in
 * memory bounded by the largest entry rather than by the dump.
 *
 * Values are handed on as the exact bytes of the document (the dump's digest
 * covers them, and re-encoding could change them); keys are decoded from
 * their JSON strings.  The reader checks the document's shape strictly: a
 * header object whose "group", "seq" and "digest" come before "keys", an
 * array of {"key","version","value"} objects, nothing after the closing
 * brace.  What the values and keys hold is checked by the store
 * (store_restore_add), the same way a write is.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CLI_DUMPFILE_CHUNK (1u << 20)
/* An entry larger than this is refused (a value is at most 1 MiB of JSON,
 * escaped in a key at most 6 KiB). */
#define CLI_DUMPFILE_ENTRY_MAX (64u << 20)

static int cli_dumpfile_fail(struct cli_dumpfile *df, const char *fmt, ...)
    CLI_PRINTF(2, 3);
static int cli_dumpfile_fail(struct cli_dumpfile *df, const char *fmt, ...)
{
	char msg[sizeof(df->why) - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(df->why, sizeof(df->why), "%s: byte %" PRIu64 ": %s", df->name,
	    df->offset + df->pos, msg);
	return -1;
}

int cli_dumpfile_open(struct cli_dumpfile *df, const char *path)
{
	struct stat sb;

	memset(df, 0, sizeof(*df));
	df->name = strcmp(path, "-") == 0 ? "standard input" : path;
	df->f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (df->f == NULL) {
		df->sys_errno = errno;
		snprintf(df->why, sizeof(df->why), "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(df->f), &sb) == 0 && S_ISREG(sb.st_mode))
		df->size = (uint64_t)sb.st_size;
	df->cap = CLI_DUMPFILE_CHUNK;
	df->buf = malloc(df->cap + 1);
	if (df->buf == NULL) {
		df->sys_errno = ENOMEM;
		snprintf(df->why, sizeof(df->why), "%s: out of memory", df->name);
		cli_dumpfile_close(df);
		return -1;
	}
	return 0;
}

void cli_dumpfile_close(struct cli_dumpfile *df)
{
	if (df->f != NULL && df->f != stdin)
		fclose(df->f);
	df->f = NULL;
	free(df->buf);
	df->buf = NULL;
	free(df->key);
	df->key = NULL;
}

/* Reads more after what is buffered.  1 if bytes came, 0 at the end of the
 * file, -1 on an error (why set). */
static int cli_dumpfile_fill(struct cli_dumpfile *df)
{
	if (df->eof)
		return 0;
	if (df->pos > 0) {
		memmove(df->buf, df->buf + df->pos, df->len - df->pos);
		df->offset += df->pos;
		df->len -= df->pos;
		df->pos = 0;
	}
	if (df->len == df->cap) {
		if (df->cap >= CLI_DUMPFILE_ENTRY_MAX)
			return cli_dumpfile_fail(df, "an entry longer than %u bytes",
			    CLI_DUMPFILE_ENTRY_MAX);
		char *grown = realloc(df->buf, df->cap * 2 + 1);
		if (grown == NULL) {
			df->sys_errno = ENOMEM;
			return cli_dumpfile_fail(df, "out of memory");
		}
		df->buf = grown;
		df->cap *= 2;
	}
	/* read(2), not fread: what a pipe has now is enough to go on with,
	 * and a signal (EINTR) ends the read instead of being slept through. */
	ssize_t n = read(fileno(df->f), df->buf + df->len, df->cap - df->len);
	if (n < 0) {
		df->sys_errno = errno;
		return cli_dumpfile_fail(df, "read: %s", strerror(df->sys_errno));
	}
	if (n == 0) {
		df->eof = 1;
		return 0;
	}
	df->len += (size_t)n;
	return 1;
}

static int cli_dumpfile_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skips whitespace; the next byte (or -1 at the end of the file, -2 on a
 * read error), not consumed. */
static int cli_dumpfile_peek(struct cli_dumpfile *df)
{
	for (;;) {
		while (df->pos < df->len && cli_dumpfile_ws(df->buf[df->pos]))
			df->pos++;
		if (df->pos < df->len)
			return (unsigned char)df->buf[df->pos];
		int r = cli_dumpfile_fill(df);
		if (r <= 0)
			return r == 0 ? -1 : -2;
	}
}

/*
 * The length of the JSON value starting at s[0] (not whitespace): 0 when
 * s[0..len) ends before it does (more is needed, or the file is cut short
 * when at_eof), -1 when it cannot be one.  Containers are matched by depth
 * and strings by their quotes; the rest of the syntax is checked where the
 * value is used.
 */
static long cli_dumpfile_span(const char *s, size_t len, int at_eof)
{
	size_t i = 0;
	int depth = 0;

	if (len == 0)
		return 0;
	if (s[0] != '{' && s[0] != '[' && s[0] != '"') {
		/* number, true, false, null: up to a delimiter */
		while (i < len && !cli_dumpfile_ws(s[i]) && s[i] != ',' && s[i] != ']' &&
		    s[i] != '}' && s[i] != '{' && s[i] != '[' && s[i] != '"')
			i++;
		if (i == len && !at_eof)
			return 0;
		return i > 0 ? (long)i : -1;
	}
	for (; i < len; i++) {
		char c = s[i];
		if (c == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			if (i >= len)
				return 0;
			if (depth == 0)
				return (long)i + 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				return (long)i + 1;
			if (depth < 0)
				return -1;
		}
	}
	return 0;
}

/* The next value, whole, at buf + pos: its length, or -1 (why set). */
static long cli_dumpfile_value(struct cli_dumpfile *df, const char *what)
{
	int c = cli_dumpfile_peek(df);

	if (c == -2)
		return -1;
	for (;;) {
		long n = cli_dumpfile_span(df->buf + df->pos, df->len - df->pos, df->eof);
		if (n < 0)
			return cli_dumpfile_fail(df, "%s is not JSON", what);
		if (n > 0)
			return n;
		int r = cli_dumpfile_fill(df);
		if (r < 0)
			return -1;
		if (r == 0)
			return cli_dumpfile_fail(df, "the file ends inside %s: truncated", what);
	}
}

/* Consumes the byte want (after whitespace), or fails naming what. */
static int cli_dumpfile_expect(struct cli_dumpfile *df, char want, const char *what)
{
	int c = cli_dumpfile_peek(df);

	if (c == -2)
		return -1;
	if (c == -1)
		return cli_dumpfile_fail(df, "the file ends where %s should be: truncated", what);
	if (c != (unsigned char)want)
		return cli_dumpfile_fail(df, "expected %s", what);
	df->pos++;
	return 0;
}

/* A JSON string span decoded (malloc'd, NUL-terminated; *out_len without
 * the NUL, which the string may also hold inside: the caller checks). */
static char *cli_dumpfile_string(const char *s, size_t len, size_t *out_len)
{
	bool plain = len >= 2 && s[0] == '"' && s[len - 1] == '"';

	for (size_t i = 1; plain && i + 1 < len; i++)
		if (s[i] == '\\' || (unsigned char)s[i] < 0x20)
			plain = false;
	if (plain) {
		/* No escapes: the bytes themselves (UTF-8 checked by the store). */
		char *out = malloc(len - 1);
		if (out == NULL)
			return NULL;
		memcpy(out, s + 1, len - 2);
		out[len - 2] = '\0';
		*out_len = len - 2;
		return out;
	}
	json_error_t jerr;
	json_t *v = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (v == NULL || !json_is_string(v)) {
		json_decref(v);
		return NULL;
	}
	*out_len = json_string_length(v);
	char *out = malloc(*out_len + 1);
	if (out != NULL) {
		memcpy(out, json_string_value(v), *out_len);
		out[*out_len] = '\0';
	}
	json_decref(v);
	return out;
}

/* A decimal number without sign, fraction or exponent, into *out. */
static int cli_dumpfile_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* A member name ("name":), decoded into name (size bytes). */
static int cli_dumpfile_member(struct cli_dumpfile *df, char *name, size_t size,
    const char *where)
{
	long n = cli_dumpfile_value(df, where);
	size_t len;

	if (n < 0)
		return -1;
	if (df->buf[df->pos] != '"')
		return cli_dumpfile_fail(df, "expected a member name in %s", where);
	char *s = cli_dumpfile_string(df->buf + df->pos, (size_t)n, &len);
	if (s == NULL)
		return cli_dumpfile_fail(df, "a member name in %s is not a JSON string", where);
	snprintf(name, size, "%s", len < size ? s : "(long name)");
	free(s);
	df->pos += (size_t)n;
	return cli_dumpfile_expect(df, ':', "':' after a member name");
}

int cli_dumpfile_header(struct cli_dumpfile *df)
{
	bool have_group = false, have_seq = false, have_digest = false;
	char name[64];

	if (cli_dumpfile_expect(df, '{', "'{' (a dump is one JSON object)") < 0)
		return -1;
	for (;;) {
		if (cli_dumpfile_member(df, name, sizeof(name), "the dump's header") < 0)
			return -1;
		if (strcmp(name, "keys") == 0)
			break;
		long n = cli_dumpfile_value(df, name);
		if (n < 0)
			return -1;
		const char *v = df->buf + df->pos;
		if (strcmp(name, "group") == 0 && v[0] == '"') {
			size_t len;
			char *s = cli_dumpfile_string(v, (size_t)n, &len);
			if (s == NULL || len == 0 || len >= sizeof(df->group) || strlen(s) != len) {
				free(s);
				return cli_dumpfile_fail(df, "\"group\" is not a group name");
			}
			memcpy(df->group, s, len + 1);
			free(s);
			have_group = true;
		} else if (strcmp(name, "seq") == 0) {
			if (cli_dumpfile_u64(v, (size_t)n, &df->seq) < 0)
				return cli_dumpfile_fail(df, "\"seq\" is not a sequence number");
			have_seq = true;
		} else if (strcmp(name, "digest") == 0) {
			char *end;
			if (n != 18 || v[0] != '"' || v[17] != '"')
				return cli_dumpfile_fail(df, "\"digest\" is not 16 hex digits");
			char hex[17];
			memcpy(hex, v + 1, 16);
			hex[16] = '\0';
			df->digest = strtoull(hex, &end, 16);
			if (*end != '\0' || hex[0] == '-' || hex[0] == '+' || hex[0] == ' ')
				return cli_dumpfile_fail(df, "\"digest\" is not 16 hex digits");
			have_digest = true;
		} else {
			return cli_dumpfile_fail(df, "unknown member \"%s\" in the dump's header", name);
		}
		df->pos += (size_t)n;
		if (cli_dumpfile_expect(df, ',', "',' and the next member of the header") < 0)
			return -1;
	}
	if (!have_group || !have_seq || !have_digest)
		return cli_dumpfile_fail(df, "the header lacks \"%s\" before \"keys\"",
		    !have_group ? "group" : !have_seq ? "seq" : "digest");
	if (cli_dumpfile_expect(df, '[', "'[' opening \"keys\"") < 0)
		return -1;
	df->in_keys = 1;
	return 0;
}

/* The end of the document: "]}" and nothing after. */
static int cli_dumpfile_end(struct cli_dumpfile *df)
{
	df->pos++;     /* ']' */
	if (cli_dumpfile_expect(df, '}', "'}' closing the dump") < 0)
		return -1;
	int c = cli_dumpfile_peek(df);
	if (c == -2)
		return -1;
	if (c != -1)
		return cli_dumpfile_fail(df, "more after the end of the dump");
	df->in_keys = 0;
	return 0;
}

int cli_dumpfile_next(struct cli_dumpfile *df)
{
	int c;

	if (!df->in_keys)
		return 0;
	c = cli_dumpfile_peek(df);
	if (c == -2)
		return -1;
	if (c == -1)
		return cli_dumpfile_fail(df, "the file ends after %" PRIu64 " keys, without \"]}\": truncated",
		    df->count);
	if (c == ']')
		return cli_dumpfile_end(df) < 0 ? -1 : 0;
	if (df->count > 0) {
		if (c != ',')
			return cli_dumpfile_fail(df, "expected ',' or ']' after key %" PRIu64, df->count);
		df->pos++;
		c = cli_dumpfile_peek(df);
		if (c == -2)
			return -1;
	}
	if (c != '{')
		return cli_dumpfile_fail(df, "expected an entry {\"key\",\"version\",\"value\"}");
	long n = cli_dumpfile_value(df, "an entry");
	if (n < 0)
		return -1;

	/* The entry is whole in the buffer: its members, in any order. */
	const char *p = df->buf + df->pos + 1, *end = df->buf + df->pos + n - 1;
	const char *value = NULL, *key = NULL;
	size_t value_len = 0, key_len = 0;
	bool have_version = false, after_comma = false;
	for (;;) {
		while (p < end && cli_dumpfile_ws(*p))
			p++;
		if (p == end) {
			if (after_comma)
				goto bad;
			break;
		}
		long m = cli_dumpfile_span(p, (size_t)(end - p), 1);
		if (m <= 0 || *p != '"')
			goto bad;
		const char *name = p;
		size_t name_len = (size_t)m;
		for (p += m; p < end && cli_dumpfile_ws(*p); p++)
			;
		if (p == end || *p++ != ':')
			goto bad;
		while (p < end && cli_dumpfile_ws(*p))
			p++;
		m = cli_dumpfile_span(p, (size_t)(end - p), 1);
		if (m <= 0)
			goto bad;
		if (name_len == 5 && memcmp(name, "\"key\"", 5) == 0 && *p == '"' && key == NULL) {
			key = p;
			key_len = (size_t)m;
		} else if (name_len == 9 && memcmp(name, "\"version\"", 9) == 0 && !have_version) {
			if (cli_dumpfile_u64(p, (size_t)m, &df->version) < 0)
				return cli_dumpfile_fail(df, "entry %" PRIu64 ": \"version\" is not a number",
				    df->count + 1);
			have_version = true;
		} else if (name_len == 7 && memcmp(name, "\"value\"", 7) == 0 && value == NULL) {
			value = p;
			value_len = (size_t)m;
		} else {
			return cli_dumpfile_fail(df, "entry %" PRIu64 ": unexpected member %.*s",
			    df->count + 1, (int)(name_len > 64 ? 64 : name_len), name);
		}
		for (p += m; p < end && cli_dumpfile_ws(*p); p++)
			;
		after_comma = p < end;
		if (p < end && *p++ != ',')
			goto bad;
	}
	if (key == NULL || !have_version || value == NULL)
		return cli_dumpfile_fail(df, "entry %" PRIu64 " lacks \"%s\"", df->count + 1,
		    key == NULL ? "key" : !have_version ? "version" : "value");
	free(df->key);
	df->key = cli_dumpfile_string(key, key_len, &df->key_len);
	if (df->key == NULL)
		return cli_dumpfile_fail(df, "entry %" PRIu64 ": \"key\" is not a JSON string",
		    df->count + 1);
	df->value = value;
	df->value_len = value_len;
	df->entry_offset = df->offset + df->pos;
	df->pos += (size_t)n;
	df->count++;
	return 1;
bad:
	return cli_dumpfile_fail(df, "entry %" PRIu64 " is not a JSON object", df->count + 1);
}
