/*
 * cli_scan.c: walking a store's keys in order, a page at a time.
 *
 * store_list() runs its callback under the store's shared lock and asks it
 * to be quick, while dump and list write to stdout, which may be a pipe
 * that blocks.  So each page is copied out under the lock and written after
 * it; the next page starts at the page's last key (store_list's start is
 * inclusive, so that key comes back first and is skipped).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* A page ends after this many keys or once its copies reach this size. */
#define CLI_PAGE_KEYS 256u
#define CLI_PAGE_BYTES (1024u * 1024u)

struct cli_page_entry {
	char *key;              /* key, NUL, value, NUL in one allocation */
	size_t key_len;
	size_t value_len;
	uint64_t version;
};

struct cli_page {
	struct cli_page_entry entries[CLI_PAGE_KEYS];
	size_t count;
	size_t bytes;
	const char *skip;       /* the previous page's last key, or NULL */
	size_t skip_len;
	int error;              /* < 0 when a copy failed */
};

static int cli_page_add(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version)
{
	struct cli_page *pg = arg;

	if (pg->skip != NULL && key_len == pg->skip_len &&
	    memcmp(key, pg->skip, key_len) == 0) {
		pg->skip = NULL;
		return 0;
	}
	pg->skip = NULL;
	char *copy = malloc(key_len + value_len + 2);
	if (copy == NULL) {
		pg->error = -ENOMEM;
		return 1;
	}
	memcpy(copy, key, key_len);
	copy[key_len] = '\0';
	memcpy(copy + key_len + 1, value, value_len);
	copy[key_len + 1 + value_len] = '\0';
	pg->entries[pg->count++] = (struct cli_page_entry){
		.key = copy, .key_len = key_len, .value_len = value_len,
		.version = version,
	};
	pg->bytes += key_len + value_len;
	return pg->count == CLI_PAGE_KEYS || pg->bytes >= CLI_PAGE_BYTES;
}

static void cli_page_clear(struct cli_page *pg)
{
	for (size_t i = 0; i < pg->count; i++)
		free(pg->entries[i].key);
	pg->count = 0;
	pg->bytes = 0;
}

int cli_scan(struct store *st, const char *prefix, const char *start,
    cli_scan_fn fn, void *arg)
{
	struct cli_page *pg = calloc(1, sizeof(*pg));
	char *resume = NULL;        /* last key of the previous page */
	size_t resume_len = 0;
	size_t prefix_len = prefix != NULL ? strlen(prefix) : 0;
	int rc = 0;

	if (pg == NULL)
		return -ENOMEM;
	for (;;) {
		const char *from = resume != NULL ? resume : start;
		size_t from_len = resume != NULL ? resume_len :
		    (start != NULL ? strlen(start) : 0);

		pg->skip = resume;
		pg->skip_len = resume_len;
		long n = store_list(st, prefix, prefix_len, from, from_len,
		    CLI_PAGE_KEYS + 1, cli_page_add, pg);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (pg->error < 0) {
			rc = pg->error;
			goto out;
		}
		if (pg->count == 0)
			goto out;
		for (size_t i = 0; i < pg->count; i++) {
			struct cli_page_entry *e = &pg->entries[i];
			if (fn(arg, e->key, e->key_len, e->key + e->key_len + 1,
			    e->value_len, e->version) != 0)
				goto out;
		}
		/* Keep the last key: the next page starts there. */
		struct cli_page_entry *last = &pg->entries[pg->count - 1];
		free(resume);
		resume = last->key;
		resume_len = last->key_len;
		last->key = NULL;
		cli_page_clear(pg);
	}
out:
	cli_page_clear(pg);
	free(resume);
	free(pg);
	return rc;
}
