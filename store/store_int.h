/*
 * store_int.h: what the files of store/ share (private to store/).
 *
 * store.c     open, close, create, info, reads, the lock
 * durable.c   the one durable-write recipe every writer calls
 * format.c    encode, decode and validate batches, seals, identity
 * reqid.c     the request-id map (deduplication of retried writes)
 * journal.c   reading, applying, following, catch-up, gap check, quarantine
 * commit.c    epochs, the committer thread, group commit, compare-and-set
 * snapshot.c  snapshots, loading with fallback, compaction
 * verify.c    whole-directory verification
 */
#ifndef SSFM_STORE_INT_H
#define SSFM_STORE_INT_H

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "format.h"
#include "store.h"
#include "table.h"

#define STORE_PATH_MAX 4096
#define STORE_NAME_DIGITS 20

/* ---- errors (store.c) ---- */
void store_seterr(struct store_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf that may truncate on purpose (messages, names in messages). */
int store_fmt(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

uint64_t store_realtime_ms(void);
uint64_t store_monotonic_ms(void);

/* ---- durable.c ---- */
struct durable {
	char dir[STORE_PATH_MAX];
	char final[STORE_PATH_MAX];
	char tmp[STORE_PATH_MAX];
	int fd;
	int visible;              /* the final name exists (even if not durable) */
	int tmp_gone;             /* the temporary vanished before naming */
	const char *site;         /* fault point path (fault.h): "store/commit"... */
};

/* durable_write's *flags */
#define DURABLE_VISIBLE 1         /* the final name exists (even if not durable) */
#define DURABLE_TMP_GONE 2        /* someone removed our temporary: another
				     writer's recovery, so a newer epoch */

/*
 * link_mode: per store, 0 = try renameat2 first, 1 = link()+unlink() for
 * good (remembered after the first EINVAL/ENOSYS/EOPNOTSUPP, or forced).
 */
int durable_begin(struct durable *d, const char *dir, const char *name,
    const char *site, struct store_error *err);
int durable_append(struct durable *d, const void *buf, size_t len,
    struct store_error *err);
int durable_commit(struct durable *d, atomic_int *link_mode,
    struct store_error *err);
void durable_abort(struct durable *d);
int durable_write(const char *dir, const char *name, const char *site,
    const void *buf, size_t len, atomic_int *link_mode, int *flags,
    struct store_error *err);
int durable_fsync_dir(const char *dir, const char *site, struct store_error *err);
/*
 * The system calls of the recipe, each behind the fault point site/CALL
 * (fault.h) and retried on EINTR: a signal is never an I/O error.
 */
int durable_open(const char *path, int flags, mode_t mode, const char *site);
/* durable_open for reading, without updating the file's access time where
 * the kernel allows it (O_NOATIME). */
int durable_open_read(const char *path, const char *site);
/* 1 and the next entry in *de, 0 at the end, or -errno: a listing that
 * failed part way must not pass for a shorter one. */
int durable_readdir(DIR *d, struct dirent **de, const char *site);
DIR *durable_opendir(const char *path, const char *site);
int durable_sync(int fd, int data_only, const char *site);
int durable_write_all(int fd, const void *buf, size_t len, const char *site);
int durable_read_all(int fd, void *buf, size_t len, const char *site);

/* ---- format.c ---- */
void format_name(char out[STORE_NAME_DIGITS + 1], uint64_t n);
/* 1 if name is exactly 20 digits (then *n is set), else 0. */
int format_parse_name(const char *name, uint64_t *n);
void format_put16(unsigned char *p, uint16_t v);
void format_put32(unsigned char *p, uint32_t v);
void format_put64(unsigned char *p, uint64_t v);
uint16_t format_get16(const unsigned char *p);
uint32_t format_get32(const unsigned char *p);
uint64_t format_get64(const unsigned char *p);

struct format_identity {
	unsigned version;
	char group[STORE_GROUP_MAX + 1];
	unsigned io_timeout;
	uint64_t created_ms;
};
int format_identity_encode(const struct format_identity *id, char *buf,
    size_t size);
/* 0, -STORE_EFORMAT (why: the version), or -STORE_EDAMAGED (why). */
int format_identity_parse(const char *text, size_t len,
    struct format_identity *id, char *why, size_t why_len);
int format_check_group(const char *group);

struct batch_header {
	uint32_t kind;
	uint64_t epoch;
	uint64_t first_seq, last_seq;
	uint32_t count;
	uint64_t commit_time_ms;
	uint64_t digest;
	uint64_t payload_len;
};

struct batch_rec {
	unsigned op;
	const char *key;
	uint32_t key_len;
	const char *value;
	uint32_t value_len;
	const char *reqid;
	uint16_t reqid_len;
};

void format_batch_header_put(unsigned char *p, const struct batch_header *h);
/* Validates a header read from journal/SEQ (name_seq); 0 or -1 with why. */
int format_batch_header_check(const unsigned char *p, uint64_t name_seq,
    struct batch_header *h, char *why, size_t why_len);
/* Validates a whole batch file: 0 or -1 with why. */
int format_batch_check(const unsigned char *buf, size_t len, uint64_t name_seq,
    struct batch_header *h, char *why, size_t why_len);
/* Record at *off (already validated by format_batch_check). */
void format_batch_next(const unsigned char *buf, size_t *off,
    struct batch_rec *r);
size_t format_record_size(size_t key_len, size_t value_len, size_t reqid_len);
unsigned char *format_record_put(unsigned char *p, const struct batch_rec *r);
/* Host id from a seal record's value, or -1. */
long long format_seal_host_id(const struct batch_rec *r);

struct format_seal {
	uint32_t host_id;
	uint64_t epoch, start_seq, time_ms, digest;
	char host[STORE_HOST_MAX + 1];
};
size_t format_seal_encode(const struct format_seal *s, unsigned char *buf);
int format_seal_parse(const unsigned char *buf, size_t len,
    struct format_seal *s, char *why, size_t why_len);

/* ---- reqid.c ---- */
struct reqid_entry;
struct reqid_map {
	struct reqid_entry **buckets;
	size_t nbuckets, count;
	struct reqid_entry *head, *tail;    /* in insertion (commit) order */
};
void reqid_init(struct reqid_map *m);
void reqid_clear(struct reqid_map *m);
/* 1 and the original version if id is remembered, else 0. */
int reqid_find(const struct reqid_map *m, const char *id, size_t len,
    uint64_t *version);
int reqid_add(struct reqid_map *m, const char *id, size_t len,
    uint64_t version, uint64_t time_ms);
/*
 * For writers that must not fail once a batch is durable: allocate first
 * (reqid_reserve: the map has buckets; reqid_entry_new, freed with free()),
 * then reqid_insert, which cannot fail.  A write acknowledged with an id
 * the map then forgot would be applied twice when its client retries.
 */
int reqid_reserve(struct reqid_map *m);
struct reqid_entry *reqid_entry_new(const char *id, size_t len,
    uint64_t version, uint64_t time_ms);
void reqid_insert(struct reqid_map *m, struct reqid_entry *e);
void reqid_expire(struct reqid_map *m, uint64_t older_than_ms);
/* Serialises every entry in the snapshot layout (format.h) into a
 * malloc'd buffer. */
int reqid_serialize(const struct reqid_map *m, unsigned char **out,
    size_t *len, uint64_t *count);

/* ---- the applied state (journal.c) ---- */
struct store_state {
	struct table *table;
	struct reqid_map reqids;
	uint64_t applied_seq;
	uint64_t epoch;              /* of the last seal applied */
	uint64_t last_commit_time_ms;
	uint64_t snapshot_seq;
	struct store_seal_info last_seal;
	/* Snapshots found damaged while loading this state, for the writer's
	 * recovery to quarantine. */
	uint64_t bad_snapshots[8];
	unsigned nbad_snapshots;
};

int journal_state_init(struct store_state *s);
void journal_state_free(struct store_state *s);

/* ---- the store ---- */
struct pending;

struct store {
	char dir[STORE_PATH_MAX];
	char journal_dir[STORE_PATH_MAX];
	char epochs_dir[STORE_PATH_MAX];
	char snapshots_dir[STORE_PATH_MAX];
	char quarantine_dir[STORE_PATH_MAX];
	struct store_options opt;
	struct format_identity id;
	atomic_int link_mode;

	/* The lock guards state, the blocked fields, the writer fields below
	 * that readers see (writer, failed, committed_seq). */
	pthread_rwlock_t lock;
	struct store_state state;
	int blocked;
	char blocked_file[512];
	char blocked_msg[512];
	char snapshot_msg[512];
	uint64_t last_snapshot_check_ms;

	/* writer */
	int writer;
	uint64_t writer_epoch;
	char writer_host[STORE_HOST_MAX + 1];
	uint32_t writer_host_id;
	int failed;
	char failed_msg[512];
	uint64_t committed_seq;

	/* committer queue, guarded by qlock */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct pending *qhead, *qtail;
	size_t qlen;
	size_t gather_want;        /* committer gathering until qlen reaches it */
	int closing;
	int accepting;
	pthread_t committer;
	int committer_running;
	unsigned char *encbuf;
	size_t encbuf_size;
	/* journal_catch_up's buffer for the batch files it reads (journal.c) */
	unsigned char *read_buf;
	size_t read_cap;
};

/* ---- journal.c ---- */
enum journal_mode {
	JOURNAL_FOLLOW,        /* never modify the directory */
	JOURNAL_RECOVER,       /* the writer's recovery: quarantine */
};

struct journal_progress {
	unsigned batches;
	uint64_t ops;
	int blocked;
	char blocked_file[512];
	char blocked_msg[512];
};

/* Reads dir/name entirely; -ENOENT when missing; retries once on ESTALE. */
int journal_read_file(const char *path, unsigned char **buf, size_t *len);
void journal_path(const struct store *st, uint64_t seq, char *out, size_t size);

/*
 * Applies files after s->applied_seq until the next one is missing or
 * unusable.  lock: taken exclusively around each apply (NULL for a state
 * nobody else sees).  In JOURNAL_RECOVER mode (writer_epoch set), stale
 * and damaged files are quarantined and a seal of writer_epoch or newer
 * fences.  Returns 0 (check prog->blocked) or a negative code.
 */
int journal_catch_up(struct store *st, struct store_state *s,
    pthread_rwlock_t *lock, enum journal_mode mode, uint64_t writer_epoch,
    struct journal_progress *prog, struct store_error *err);
int journal_apply_batch(struct store *st, struct store_state *s,
    pthread_rwlock_t *lock, const unsigned char *buf,
    const struct batch_header *h, int *digest_ok);
int journal_quarantine(struct store *st, const char *subdir, const char *name,
    const char *reason, struct store_error *err);
/* First journal file with seq > after (0 if none); -errno on error. */
int journal_next_present(struct store *st, uint64_t after, uint64_t *found,
    struct store_error *err);
int journal_remove_temporaries(struct store *st, struct store_error *err);

/* ---- snapshot.c ---- */
/* Loads the newest valid snapshot into s (empty state if none);
 * failures of newer ones are described in msg. */
int snapshot_load_newest(struct store *st, struct store_state *s,
    uint64_t min_seq, char *msg, size_t msg_len, struct store_error *err);
/* The writer's recovery: moves the snapshots found damaged when loading
 * (and still damaged) to quarantine/. */
int snapshot_quarantine_damaged(struct store *st, struct store_error *err);
/* Seq of the newest snapshot by name (rank 0), the second newest (rank 1)...
 * or 0 if there are not that many. */
int snapshot_newest_name(struct store *st, unsigned rank, uint64_t *seq,
    struct store_error *err);

struct snapshot_summary {
	uint64_t seq, epoch, time_ms, digest, keys, reqids;
};
/* Reads a whole snapshot file checking everything; into s when s != NULL. */
int snapshot_read(const char *path, struct store_state *s,
    unsigned reqid_retention_s, struct snapshot_summary *sum, char *why,
    size_t why_len);
/* The same checks on a whole snapshot file already in memory (the fuzzing
 * harness, tests/fuzz/); snapshot_read shares its decoder. */
int snapshot_parse(const unsigned char *buf, size_t len, struct store_state *s,
    unsigned reqid_retention_s, struct snapshot_summary *sum, char *why,
    size_t why_len);

/* ---- store.c ---- */
/* Fills st's paths and identity (the rest of st untouched). */
int store_prepare(struct store *st, const char *dir, struct store_error *err);
int store_load(struct store *st, struct store_state *s, char *snapmsg,
    size_t snapmsg_len, struct journal_progress *prog,
    struct store_error *err);
void store_set_blocked(struct store *st, const struct journal_progress *p);
unsigned store_reqid_retention(const struct store *st);

/* ---- commit.c ---- */
void commit_stop(struct store *st);

#endif
