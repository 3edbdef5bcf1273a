/*
 * fuzz_conf.c: the configuration parser (src/conf.c).
 *
 * Input: the text of an ssfm.conf, except that a first line starting with
 * "--" is a command-line override (conf_override) applied before the file.
 *
 * Promises checked: every error is counted and names where it is; a
 * configuration that loads without error prints (plainly and verbosely)
 * as text that loads back without error to the same configuration; every
 * command value splits into an argv that starts with an absolute path.
 */
#include "fuzz.h"
#include "conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CONF_NAME "fuzz.conf"

/* conf_print's text (malloc'd), or NULL when out of memory. */
static char *fuzz_conf_printed(const struct conf *cfg, bool verbose, size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);

	if (out == NULL)
		return NULL;
	conf_print(cfg, out, verbose);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* text must load into a configuration that prints as want. */
static void fuzz_conf_reload(const char *text, size_t len, const char *want)
{
	struct conf cfg;
	struct conf_errors errs = { 0 };
	size_t again_len;
	char *again;

	if (conf_init(&cfg) < 0)
		return;
	fuzz_require(conf_load_text(&cfg, "printed", text, len, &errs) == 0);
	fuzz_require(conf_finish(&cfg, &errs) == 0);
	again = fuzz_conf_printed(&cfg, false, &again_len);
	fuzz_require(again == NULL || strcmp(again, want) == 0);
	free(again);
	conf_errors_free(&errs);
	conf_free(&cfg);
}

static void fuzz_conf_commands(const struct conf *cfg)
{
	for (size_t i = 0; i < conf_key_count(); i++) {
		const struct conf_key *k = conf_key_at(i);
		const char *value;
		char **argv;
		int rc;

		if (k->type != CONF_COMMAND)
			continue;
		value = *(char *const *)((const char *)cfg + k->offset);
		rc = conf_split_command(value, &argv);
		if (value[0] == '\0') {
			fuzz_require(rc == -EINVAL);
			continue;
		}
		if (rc < 0)
			continue;        /* out of memory */
		fuzz_require(argv[0] != NULL && argv[0][0] == '/');
		conf_argv_free(argv);
	}
}

int fuzz_conf(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct conf cfg;
	struct conf_errors errs = { 0 };
	int errors = 0;

	if (conf_init(&cfg) < 0)
		return 0;
	if (size >= 2 && memcmp(text, "--", 2) == 0) {
		const char *nl = memchr(text, '\n', size);
		size_t n = nl ? (size_t)(nl - text) : size;
		char *arg = strndup(text, n);

		if (arg == NULL) {
			errors++;        /* out of memory: not accepted */
			goto out;
		}
		errors += conf_override(&cfg, arg, &errs);
		free(arg);
		text += n;
		size -= n;
	}
	errors += conf_load_text(&cfg, FUZZ_CONF_NAME, text, size, &errs);
	errors += conf_finish(&cfg, &errs);
	fuzz_require(errors >= 0 && (size_t)errors == errs.count);
	for (size_t i = 0; i < errs.count; i++) {
		const char *m = errs.msg[i];
		if (m == NULL)
			continue;        /* out of memory */
		fuzz_require(strncmp(m, FUZZ_CONF_NAME ":", strlen(FUZZ_CONF_NAME ":")) == 0 ||
		    strncmp(m, "command line: ", 14) == 0);
	}
	if (errors == 0) {
		size_t plain_len, verbose_len;
		char *plain = fuzz_conf_printed(&cfg, false, &plain_len);
		char *verbose = fuzz_conf_printed(&cfg, true, &verbose_len);

		if (plain != NULL && verbose != NULL) {
			fuzz_conf_reload(plain, plain_len, plain);
			fuzz_conf_reload(verbose, verbose_len, plain);
		}
		free(plain);
		free(verbose);
		fuzz_conf_commands(&cfg);
	}
out:
	conf_errors_free(&errs);
	conf_free(&cfg);
	return errors == 0;
}

FUZZ_ENTRY(fuzz_conf)
