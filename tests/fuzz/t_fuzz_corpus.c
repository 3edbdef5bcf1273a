/*
 * t_fuzz_corpus: replays the seed corpus of every fuzzing harness
 * (tests/fuzz/corpus/NAME/) through the harness, in the ordinary build, so
 * that make check (and its sanitizer pass) covers the seeds and every
 * input a fuzzer once found a bug with.
 *
 *   t_fuzz_corpus                 every harness, every file of its corpus
 *   t_fuzz_corpus NAME FILE...    those files through harness NAME (to
 *                                 replay a crash file from make fuzz-run)
 *
 * A broken promise aborts with the harness's message and the file's name.
 * Besides, each harness must accept some of its seeds (so the promises
 * checked on acceptance ran) and refuse every seed named "bad-*".
 */
#include "fuzz.h"
#include "tap.h"
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(const uint8_t *data, size_t size);
} harnesses[] = {
	{ "proto", fuzz_proto },
	{ "conf", fuzz_conf },
	{ "jsonv", fuzz_jsonv },
	{ "batch", fuzz_batch },
	{ "seal", fuzz_seal },
	{ "snapshot", fuzz_snapshot },
	{ "identity", fuzz_identity },
};
#define NHARNESSES (sizeof(harnesses) / sizeof(harnesses[0]))

/* Feeds one file to fn in a buffer of its exact size (as libFuzzer does,
 * so AddressSanitizer sees a read past the end).  fn's result (1: the
 * input was accepted), or -1 if unreadable. */
static int replay_file(int (*fn)(const uint8_t *, size_t), const char *path)
{
	size_t len;
	char *text = tu_read_file(path, &len);
	uint8_t *exact;

	if (text == NULL)
		return -1;
	exact = malloc(len ? len : 1);
	if (exact == NULL) {
		free(text);
		return -1;
	}
	memcpy(exact, text, len);
	free(text);
	fuzz_input_name = path;
	int accepted = fn(exact, len);
	fuzz_input_name = NULL;
	free(exact);
	return accepted;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct replay_counts {
	int files, accepted, unreadable, bad_accepted;
};

/* Every file of dir (sorted, dot files skipped) through fn. */
static void replay_dir(int (*fn)(const uint8_t *, size_t), const char *dir,
    struct replay_counts *c)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;

	memset(c, 0, sizeof(*c));
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **grown = realloc(names, cap * sizeof(*names));
			if (grown == NULL)
				tap_bail("out of memory listing %s", dir);
			names = grown;
		}
		if ((names[n++] = strdup(de->d_name)) == NULL)
			tap_bail("out of memory listing %s", dir);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		int n_path = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int accepted = n_path < 0 || (size_t)n_path >= sizeof(path) ? -1
		    : replay_file(fn, path);

		c->files++;
		if (accepted < 0) {
			tap_diag("%s: cannot read", path);
			c->unreadable++;
		} else if (accepted) {
			c->accepted++;
			if (strncmp(names[i], "bad-", 4) == 0) {
				tap_diag("%s: accepted, but a bad- seed must be refused", path);
				c->bad_accepted++;
			}
		}
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	char dir[4096];

	if (argc >= 2) {
		for (size_t h = 0; h < NHARNESSES; h++) {
			if (strcmp(argv[1], harnesses[h].name) != 0)
				continue;
			for (int i = 2; i < argc; i++) {
				int accepted = replay_file(harnesses[h].fn, argv[i]);
				ok(accepted >= 0, "%s: %s replayed (%s)", harnesses[h].name,
				    argv[i], accepted > 0 ? "accepted" : "refused");
			}
			return tap_done();
		}
		fprintf(stderr, "t_fuzz_corpus: no harness %s\n", argv[1]);
		return 2;
	}
	for (size_t h = 0; h < NHARNESSES; h++) {
		struct replay_counts c;

		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", tu_srcdir(), harnesses[h].name);
		replay_dir(harnesses[h].fn, dir, &c);
		ok(c.files > 0 && c.unreadable == 0, "%s: %d inputs of %s replayed, every promise kept",
		    harnesses[h].name, c.files, dir);
		ok(c.accepted > 0, "%s: %d of them accepted", harnesses[h].name, c.accepted);
		is_int(c.bad_accepted, 0, "%s: every bad-* input refused", harnesses[h].name);
	}
	return tap_done();
}
