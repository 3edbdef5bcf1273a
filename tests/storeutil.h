/*
 * storeutil.h: what the store's acceptance tests share.  Everything here is
 * written from store.h and the format in format.h alone, independently of
 * store/: its own CRC-32C and digest (so a test also checks that the spec is
 * complete), readers and writers of batch files for crafting damage, a
 * key/value generator, and states (sorted key lists) to compare a store with
 * what the test expects.
 */
#ifndef SSFM_TESTS_STOREUTIL_H
#define SSFM_TESTS_STOREUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---- checksums, digest and little-endian fields (format.h) --------------- */

/* CRC-32C, bitwise, the whole computation (initial and final XOR) in one. */
uint32_t su_crc32c(const void *data, size_t len);
uint64_t su_hash64(const void *data, size_t len, uint64_t seed);
uint64_t su_digest_entry(const char *key, size_t key_len, uint64_t version,
    const char *value, size_t value_len);

uint32_t su_get_le32(const unsigned char *p);
uint64_t su_get_le64(const unsigned char *p);
uint16_t su_get_le16(const unsigned char *p);
void su_put_le16(unsigned char *p, uint16_t v);
void su_put_le32(unsigned char *p, uint32_t v);
void su_put_le64(unsigned char *p, uint64_t v);
/* Rewrites the trailing CRC-32C of a whole file held in buf. */
void su_fix_crc(unsigned char *buf, size_t len);
/* 1 if the trailing CRC-32C of buf matches. */
int su_crc_ok(const unsigned char *buf, size_t len);

/* ---- paths ---------------------------------------------------------------- */

/* DIR/journal/SEQ20 and the like; out must hold PATH_MAX bytes. */
void su_journal_path(char *out, size_t out_len, const char *dir, uint64_t seq);
void su_snapshot_path(char *out, size_t out_len, const char *dir, uint64_t seq);
void su_epoch_path(char *out, size_t out_len, const char *dir, uint64_t epoch);
/* The 20-digit name of a sequence number or epoch. */
void su_seq_name(char *out, size_t out_len, uint64_t seq);
/* snprintf for paths: bails out when the path does not fit. */
void su_path(char *out, size_t out_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Returns the last path component of path (no copy). */
const char *su_basename(const char *path);

/* ---- batch files -------------------------------------------------------- */

struct su_record {
	unsigned op;              /* 1 put, 2 delete, 3 seal */
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	const char *reqid;
	size_t reqid_len;
};

struct su_batch {
	unsigned version, kind;
	uint64_t epoch, first_seq, last_seq;
	uint32_t count;
	uint64_t commit_time_ms, digest, payload_len;
	size_t nrec;
	struct su_record *rec;    /* point into the buffer parsed */
};

/*
 * Parses a batch file held in buf: 0 when it is a well-formed batch with a
 * correct CRC, else a negative errno-style code with a reason in why.  The
 * records point into buf.  su_batch_free frees b->rec only.
 */
int su_batch_parse(const unsigned char *buf, size_t len, struct su_batch *b,
    char *why, size_t why_len);
void su_batch_free(struct su_batch *b);
/* Builds a batch (header from b, records b->rec[0..nrec)), with a correct
 * CRC: malloc'd, length in *len.  b->last_seq, count, payload_len are
 * computed from nrec unless keep_header_fields is set. */
unsigned char *su_batch_build(const struct su_batch *b, int keep_header_fields,
    size_t *len);
/* Reads and parses DIR/journal/SEQ20; buffer in *buf (caller frees). */
int su_batch_read(const char *dir, uint64_t seq, unsigned char **buf,
    size_t *len, struct su_batch *b, char *why, size_t why_len);

/* ---- states ------------------------------------------------------------- */

struct su_kv {
	char *key;
	size_t key_len;
	char *value;              /* NUL-terminated; NULL when deleted */
	size_t value_len;
	uint64_t version;
};

struct su_state {
	struct su_kv *kv;         /* sorted by key, bytewise, once finished */
	size_t n, cap;
};

void su_state_init(struct su_state *s);
void su_state_free(struct su_state *s);
/* Appends a copy (value NULL: a delete). */
void su_state_add(struct su_state *s, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version);
/* Sorts by (key, version) and keeps, per key, the entry with the highest
 * version; drops keys whose last entry is a delete.  This turns a list of
 * acknowledged writes into the state they must produce. */
void su_state_reduce(struct su_state *s);
/* Finds key in a reduced state; NULL if absent. */
const struct su_kv *su_state_find(const struct su_state *s, const char *key,
    size_t key_len);
/* Loads the whole state of a store through store_list (already sorted). */
long su_state_load(struct store *st, struct su_state *s);
uint64_t su_state_digest(const struct su_state *s);
/* Digest of a store computed from store_list with our own hash. */
uint64_t su_store_digest(struct store *st);
/* Number of differences; the first few are printed as TAP diagnostics
 * prefixed with what. */
size_t su_state_diff(const struct su_state *got, const struct su_state *want,
    const char *what);
/*
 * Replays DIR/journal from seq 1 with our own parser until the first missing
 * file (no snapshot), as a reader following format.h would: puts and
 * deletes applied, seals counted.  Returns the last seq applied, or -1 with
 * why filled when a file fails its checks.
 */
int64_t su_replay_journal(const char *dir, struct su_state *s, char *why,
    size_t why_len);

/* ---- stores and values ---------------------------------------------------- */

/* store_create with group "test", io_timeout 1; bails out on failure. */
void su_create(const char *dir);
/* store_open; bails out on failure. */
struct store *su_open(const char *dir, const struct store_options *opt);
/* A JSON object value naming key and n, padded with pad bytes: {"k":"KEY","n":N,"p":"xxx"} */
char *su_value(const char *key, uint64_t n, size_t pad);
/* Puts key PREFIX%04u for i in [first, first + count), one write each; the
 * versions go to versions[i - first] when not NULL.  Returns 0 or the
 * first error. */
int su_put_keys(struct store *st, const char *prefix, unsigned first,
    unsigned count, uint64_t *versions);

/* ---- folders -------------------------------------------------------------- */

/* Calls fn for every entry (not . and ..) of dir; returns count or -errno. */
long su_list_dir(const char *dir, void (*fn)(void *arg, const char *name),
    void *arg);
/* Number of names beginning with '.' (a writer's temporaries) in DIR's
 * journal/, epochs/ and snapshots/. */
long su_count_temporaries(const char *dir);
/* 1 if some file under DIR/quarantine (any depth) holds exactly data. */
int su_quarantine_holds(const char *dir, const void *data, size_t len);

/* ---- collecting store_verify lines ---------------------------------------- */

struct su_lines {
	char **line;
	size_t n;
};
/* The store_verify line callback: arg is a struct su_lines. */
void su_lines_add(void *arg, const char *text);
/* 1 if some line contains needle. */
int su_lines_have(const struct su_lines *l, const char *needle);
void su_lines_print(const struct su_lines *l);
void su_lines_free(struct su_lines *l);

#endif
