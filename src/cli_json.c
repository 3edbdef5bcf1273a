/*
 * cli_json.c: JSON output of the ssfm subcommands.  Strings (keys, group
 * names) are escaped by jansson; stored values are JSON text that the store
 * validated on write and again on read, so they are copied as they are
 * (re-encoding them could change them: jansson refuses integers beyond 64
 * bits, which are valid JSON).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_json_string(FILE *f, const char *s, size_t len)
{
	/* Printable ASCII without quote or backslash needs no escape: the
	 * common key, written without a jansson string per key (a dump of a
	 * million keys spends its time here otherwise). */
	size_t i = 0;
	while (i < len && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
		i++;
	if (i == len) {
		putc('"', f);
		fwrite(s, 1, len, f);
		putc('"', f);
		return ferror(f) ? -1 : 0;
	}
	json_t *js = json_stringn(s, len);

	if (js == NULL)
		return -1;  /* not UTF-8 or out of memory */
	int rc = json_dumpf(js, f, JSON_ENCODE_ANY);
	json_decref(js);
	return rc;
}

void cli_json_digest(FILE *f, uint64_t digest)
{
	fprintf(f, "\"%016" PRIx64 "\"", digest);
}

int cli_json_entry(FILE *f, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	fputs("{\"key\":", f);
	if (cli_json_string(f, key, key_len) < 0)
		return -1;
	fprintf(f, ",\"version\":%" PRIu64 ",\"value\":", version);
	if (value_len > 0 && fwrite(value, 1, value_len, f) != value_len)
		return -1;
	fputc('}', f);
	return ferror(f) ? -1 : 0;
}

static char cli_quote_fallback[] = "(key)";

char *cli_quote(const char *s, size_t len)
{
	json_t *js = json_stringn(s, len);
	char *q = NULL;

	if (js != NULL) {
		q = json_dumps(js, JSON_ENCODE_ANY);
		json_decref(js);
	}
	if (q == NULL) {
		/* Not UTF-8: show the bytes as they are, quoted. */
		q = malloc(len + 3);
		if (q == NULL)
			return cli_quote_fallback;
		q[0] = '"';
		memcpy(q + 1, s, len);
		q[len + 1] = '"';
		q[len + 2] = '\0';
	}
	return q;
}

void cli_quote_free(char *q)
{
	if (q != cli_quote_fallback)
		free(q);
}
