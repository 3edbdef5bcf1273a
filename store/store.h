/*
 * store.h: the metadata store on shared storage (the only header other
 * folders may include from store/).
 *
 * A store is a directory on a filesystem shared by the hosts of one failover
 * group.  One host at a time is the writer (it holds the lease: see fence/);
 * every other host follows the journal the writer makes.  The on-disk format
 * is specified in ssfm-store(5) and in store/format.h.
 *
 * Promises (DESIGN.md, "Invariants"):
 *  - store_write() returns success only after the batch holding the write is
 *    fdatasync'ed under its final name and the directory is fsync'ed, and
 *    after the caller's ack_check (the lease check) has passed;
 *  - no partial, damaged or stale file is ever applied: every file is
 *    checksummed; damaged and stale files are reported, and moved to
 *    quarantine/ by the writer's recovery (store_begin_epoch), never by a
 *    follower;
 *  - operations apply in sequence order, exactly once.
 *
 * Errors: functions that can fail return 0 (or a count) on success and a
 * negative number on failure: either -errno, or one of the -STORE_E* codes
 * below.  Every failing call also fills the caller's struct store_error with
 * a message that names the file, key or host involved.  store_strerror()
 * names any code.
 *
 * Threads: a struct store may be used from any number of threads.  Writes
 * (store_write, store_put, store_del, store_submit) are batched by one
 * committer thread that the store starts in store_begin_epoch() and joins in
 * store_end_epoch() and store_close(); it is the only thread the store owns.
 * Reads (store_get, store_list, store_info) take a shared lock and may run
 * while writes commit.  store_follow, store_begin_epoch, store_end_epoch,
 * store_snapshot, store_compact and store_close must not be called
 * concurrently with each other on the same store (the daemon calls them from
 * its event loop).
 */
#ifndef SSFM_STORE_H
#define SSFM_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Store-specific error codes, returned negated.  Above any errno value. */
enum store_code {
	STORE_ECONFLICT = 10001,  /* compare-and-set: the key's version differs */
	STORE_ENOTFOUND,          /* get/delete of a key that does not exist */
	STORE_EFENCED,            /* a newer epoch has written: this writer must stop */
	STORE_EFAILED,            /* an earlier commit failed: writes refused until store_end_epoch + store_begin_epoch (or reopen) */
	STORE_ENOTWRITER,         /* a write on a store that is not in an epoch */
	STORE_ENOTSTORE,          /* the directory is not a store (no identity file) */
	STORE_EFORMAT,            /* unknown or unsupported format version */
	STORE_EDAMAGED,           /* a file failed verification (quarantined by the writer) */
	STORE_EGAP,               /* a sequence number is missing from the journal */
	STORE_ESTALE,             /* a batch older than the seal covering it */
	STORE_EDIGEST,            /* the state digest differs from the writer's */
	STORE_EKEY,               /* key empty, longer than 1024 bytes, not UTF-8, or has NUL */
	STORE_EVALUE,             /* value is not valid JSON */
	STORE_ETOOLARGE,          /* value longer than max_value_bytes */
	STORE_ECLOSING,           /* the writer is ending its epoch: write not taken */
	STORE_ELEASE,             /* ack_check refused: the batch is durable but not acknowledged */
};

#define STORE_KEY_MAX 1024u
#define STORE_VALUE_MAX_DEFAULT (1024u * 1024u)
#define STORE_REQID_MAX 128u
#define STORE_GROUP_MAX 48u      /* also sanlock's lockspace name limit */
#define STORE_HOST_MAX 64u

struct store_error {
	int code;                 /* the negative return value */
	char msg[1024];           /* one line, names the file, key or host */
};

const char *store_strerror(int code);   /* code may be negative or positive */

struct store;

/* ---- creating and opening ---------------------------------------------- */

struct store_create_params {
	const char *group;        /* [A-Za-z0-9._-], 1..STORE_GROUP_MAX bytes */
	unsigned io_timeout;      /* seconds, recorded for fence/ (1..60) */
};

/*
 * Makes dir (which may exist but must be empty) a store: identity file,
 * journal/, epochs/, snapshots/, quarantine/.  Fails with -EEXIST if dir is
 * already a store.  The lease file is fence/'s: `ssfm init` calls both.
 */
int store_create(const char *dir, const struct store_create_params *p,
    struct store_error *err);

/* One applied operation, for watchers (store_options.on_apply). */
enum store_op_kind { STORE_OP_PUT = 1, STORE_OP_DEL = 2, STORE_OP_SEAL = 3 };

struct store_applied {
	enum store_op_kind kind;
	uint64_t seq;             /* also the key's new version for put */
	uint64_t epoch;
	uint64_t commit_time_ms;  /* writer's CLOCK_REALTIME at commit */
	const char *key;          /* not NUL-terminated; host name for SEAL */
	size_t key_len;
	const char *value;        /* JSON text for PUT, else NULL */
	size_t value_len;
};

/* One committed batch, for store_options.on_commit. */
struct store_commit_stats {
	uint64_t ops;             /* operations in the batch */
	uint64_t bytes;           /* the batch file's size */
	uint64_t latency_ns;      /* CLOCK_MONOTONIC from forming the batch to ack_check passed */
};

struct store_options {
	size_t max_value_bytes;   /* 0: STORE_VALUE_MAX_DEFAULT */
	unsigned reqid_retention_s;  /* request ids remembered this long; 0: 600 */
	unsigned snapshot_keep;   /* snapshots kept by store_compact; 0: 3 */
	unsigned journal_retention_s; /* journal files kept this long after a covering snapshot; 0: 60 */
	int read_only;            /* never modify the directory (offline tools) */
	int force_link;           /* commit with link()+unlink() even where renameat2 works */
	unsigned max_batch_ops;   /* 0: 4096 */
	/*
	 * Called by the committer after a batch is durable and before any of
	 * its writes is acknowledged or applied.  Non-zero refuses: the
	 * batch's writers get -STORE_ELEASE, and the writer fails (as for an
	 * I/O error).  The daemon checks its lease here.  May be NULL.
	 */
	int (*ack_check)(void *arg, uint64_t epoch, char *why, size_t why_len);
	void *ack_arg;
	/* Called by the committer (with ack_arg) when it takes a batch from
	 * the queue, before forming and writing it, so that the caller can
	 * start what ack_check will ask for while the batch is made durable.
	 * Must not block.  May be NULL. */
	void (*batch_start)(void *arg, uint64_t epoch);
	/* Called for every operation applied to the in-memory table, by the
	 * committer thread or by the thread calling store_follow/open, while no
	 * store lock is held.  Must not call back into the store.  May be NULL. */
	void (*on_apply)(void *arg, const struct store_applied *op);
	void *apply_arg;
	/* Called by the committer once per batch that was made durable and
	 * passed ack_check, before its writers are answered: for metrics.
	 * Must be quick and must not call into the store.  May be NULL. */
	void (*on_commit)(void *arg, const struct store_commit_stats *cs);
	void *commit_arg;
};

/*
 * Opens a store: reads the identity, loads the newest valid snapshot
 * (falling back to older ones when damaged), and applies the journal that
 * follows it up to the first missing, damaged or stale file.  Never modifies
 * the directory.  Where loading stopped short of the journal's end (a damaged
 * or stale file, a gap) is reported in store_info's blocked fields.
 */
int store_open(const char *dir, const struct store_options *opt,
    struct store **out, struct store_error *err);
void store_close(struct store *st);

/* ---- following ---------------------------------------------------------- */

struct store_follow_result {
	unsigned batches;         /* batch files applied by this call */
	uint64_t ops;             /* operations applied by this call */
	uint64_t applied_seq;     /* last sequence number applied */
	uint64_t last_commit_time_ms; /* commit time of the last batch applied */
	int blocked;              /* 0, or -STORE_EDAMAGED/-STORE_ESTALE/-STORE_EGAP/-STORE_EDIGEST */
	char blocked_file[512];   /* the file that blocks, when blocked */
};

/*
 * Applies the batch files that exist after the last applied one, in order,
 * without waiting for new ones; returns the number of batches applied (>= 0)
 * or a negative code.  A damaged or stale next file stops it (reported in
 * res->blocked; the file is left in place for the writer to quarantine).
 * When the next file is missing but the journal was compacted past it (a
 * newer snapshot exists), the store reloads from that snapshot.  Every
 * applied batch's recorded state digest is compared with ours; on a
 * mismatch it returns -STORE_EDIGEST (caller: store_reload, and count it).
 */
int store_follow(struct store *st, struct store_follow_result *res,
    struct store_error *err);

/* Drops the in-memory state and loads again from the newest valid snapshot
 * and the journal (as store_open). */
int store_reload(struct store *st, struct store_error *err);

/* Lists journal/ and reports whether a file after the next expected one
 * exists (a gap or a compaction the follower has not seen).  Costs a
 * readdir: callers do it seldom.  Returns 1 if so, 0 if not, or < 0. */
int store_check_gap(struct store *st, struct store_error *err);

/*
 * Reads operations from + 1 .. to back from the journal files, in order,
 * passing each to fn (pointers valid during the call only), without
 * applying anything: for a watcher that starts further back than the
 * caller keeps in memory.  Stale batches (older than a seal read before
 * them) are passed over.  Returns the number of operations passed, or
 * -STORE_EGAP when the journal no longer holds from + 1 (compacted) or a
 * file is missing, -STORE_EDAMAGED, or -errno.  Reads a directory listing
 * and then one file per batch; safe beside the committer and store_follow.
 */
long long store_history_read(struct store *st, uint64_t from, uint64_t to,
    void (*fn)(void *arg, const struct store_applied *op), void *arg,
    struct store_error *err);

/* ---- writing (the active host only) ------------------------------------ */

struct store_seal_info {
	uint64_t epoch;
	uint64_t start_seq;       /* sequence number of the seal batch */
	uint32_t host_id;
	char host[STORE_HOST_MAX + 1];
	uint64_t time_ms;
};

/*
 * Makes this store the writer for epoch (the lease version, strictly
 * greater than any epoch in the journal): removes leftover temporary files,
 * applies every batch that exists (quarantining stale ones, and damaged ones
 * with an error, see ssfm-store(5) RECOVERY), writes the seal batch for the
 * epoch at the next sequence number (retrying after a batch that a previous
 * writer landed first), writes epochs/EPOCH, and starts the committer.
 * Fails with -STORE_EFENCED if a newer epoch is already sealed.
 */
int store_begin_epoch(struct store *st, uint64_t epoch, const char *host,
    uint32_t host_id, struct store_seal_info *seal, struct store_error *err);

/*
 * Stops taking writes (new ones get -STORE_ECLOSING), waits for batches in
 * flight to finish, joins the committer.  The store goes back to following.
 */
void store_end_epoch(struct store *st);

/* A write: put or delete, with an optional compare-and-set. */
#define STORE_ANY_VERSION (-1)    /* expected_version: no check */
/* expected_version 0: the key must not exist; > 0: its version must equal it */

struct store_write_req {
	enum store_op_kind kind;  /* STORE_OP_PUT or STORE_OP_DEL */
	const char *key;
	size_t key_len;
	const char *value;        /* JSON text (PUT) */
	size_t value_len;
	int64_t expected_version;
	const char *reqid;        /* optional request id, NULL or 1..STORE_REQID_MAX bytes */
	size_t reqid_len;
};

struct store_write_result {
	int rc;                   /* 0 or a negative code */
	uint64_t version;         /* the new version (put) or the seq of the delete */
	uint64_t current_version; /* on -STORE_ECONFLICT: the key's version (0: absent) */
	int duplicate;            /* 1 if answered from the request-id record */
	char msg[256];            /* on failure: what happened, naming key or file */
};

/*
 * Synchronous write: returns when the write is durable and acknowledged, or
 * failed.  Validates key and value first (-STORE_EKEY, -STORE_EVALUE,
 * -STORE_ETOOLARGE, without touching the journal).
 */
int store_write(struct store *st, const struct store_write_req *req,
    struct store_write_result *res);
/* Conveniences over store_write. */
int store_put(struct store *st, const char *key, const char *json,
    int64_t expected_version, uint64_t *version, struct store_error *err);
int store_del(struct store *st, const char *key, int64_t expected_version,
    uint64_t *seq, struct store_error *err);

/*
 * Asynchronous write for event loops: copies the request and returns at
 * once (0, or a negative code for a request refused before queueing);
 * done(arg, res) is called later from the committer thread.
 */
int store_submit(struct store *st, const struct store_write_req *req,
    void (*done)(void *arg, const struct store_write_result *res), void *arg);

/* ---- reading ------------------------------------------------------------ */

/* Copies the value (malloc'd, NUL-terminated, caller frees) and version.
 * -STORE_ENOTFOUND if absent. */
int store_get(struct store *st, const char *key, size_t key_len,
    char **value, size_t *value_len, uint64_t *version);

/*
 * Calls fn for up to limit keys (0: no limit) that start with prefix, in
 * bytewise key order, beginning at the first key >= start (start may be
 * NULL).  fn returns non-zero to stop early.  Returns the number of keys
 * passed to fn, or < 0.  The callback runs under the shared lock: it must be
 * quick and must not call into the store.
 */
typedef int (*store_list_fn)(void *arg, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version);
long store_list(struct store *st, const char *prefix, size_t prefix_len,
    const char *start, size_t start_len, size_t limit, store_list_fn fn,
    void *arg);

struct store_info {
	char group[STORE_GROUP_MAX + 1];
	unsigned format;
	unsigned io_timeout;
	uint64_t applied_seq;     /* last sequence number in the table */
	uint64_t committed_seq;   /* writer: last durable; follower: = applied */
	uint64_t epoch;           /* epoch of the last seal applied (0: none) */
	uint64_t digest;          /* state digest (ssfm-store(5)) */
	uint64_t keys;
	uint64_t key_bytes, value_bytes;
	uint64_t last_commit_time_ms;
	uint64_t snapshot_seq;    /* newest snapshot loaded or written */
	int writer;               /* 1 while in an epoch */
	int failed;               /* writer failed: the reason is in failed_msg */
	char failed_msg[512];
	struct store_seal_info last_seal;
	int blocked;              /* as store_follow_result.blocked */
	char blocked_file[512];
	char blocked_msg[512];
	char snapshot_msg[512];   /* a snapshot that failed to load (and was passed over for an older one); "" if none */
};
void store_info(struct store *st, struct store_info *info);

/* ---- snapshots and compaction ------------------------------------------ */

/*
 * Writes snapshots/SEQ for the current applied state.  Writers are held
 * only while the cut is taken (reference counts, no copy of values); the
 * file is written afterwards.  Any host may call it; an existing snapshot
 * of the same seq is left alone.  *seq receives the snapshot's seq.
 */
int store_snapshot(struct store *st, uint64_t *seq, struct store_error *err);

/*
 * Removes journal files wholly at or below the second-newest valid snapshot
 * (so a damaged newest one can still fall back) whose commit time is older
 * than journal_retention_s, and snapshots beyond snapshot_keep.  Writer only.
 * Returns the number of files removed.
 */
int store_compact(struct store *st, struct store_error *err);

/* ---- verification -------------------------------------------------------- */

struct store_verify_report {
	uint64_t files_checked;
	uint64_t batches, seals, snapshots, ops;
	uint64_t first_seq, last_seq;
	unsigned damaged, gaps, stale, unsealed, temporaries, quarantined;
	uint64_t digest;          /* of the state at last_seq */
};

/*
 * Checks a whole store directory without modifying it: every file's
 * checksum, sequence continuity, the epoch rules, snapshots against the
 * journal.  Each finding is passed to line(arg, text) as one readable line
 * naming the file (line may be NULL).  Returns 0 when clean, 1 when it found
 * problems, < 0 when it could not check (not a store, unreadable).
 */
int store_verify(const char *dir, struct store_verify_report *rep,
    void (*line)(void *arg, const char *text), void *arg,
    struct store_error *err);

/* ---- cuts and restores (backups: `ssfm dump`, `ssfm restore`) ---------- */

struct store_cut_info {
	char group[STORE_GROUP_MAX + 1];
	unsigned io_timeout;
	uint64_t seq;             /* the state after every operation up to seq */
	uint64_t epoch;
	uint64_t digest;          /* state digest at seq (ssfm-store(5)) */
	uint64_t keys;
};

/*
 * A consistent cut of the applied state, as a snapshot takes it: writers
 * are held only while references to every record are copied; the cut then
 * keeps the records alive and unchanged until store_cut_free, whatever
 * writers do meanwhile.  -STORE_EDIGEST while the state failed its digest
 * check.  Any thread; a cut may be read and freed from any thread.
 */
struct store_cut;
int store_cut_take(struct store *st, struct store_cut **cut,
    struct store_cut_info *info, struct store_error *err);
size_t store_cut_count(const struct store_cut *cut);
/* Entry i (< count), in bytewise key order; pointers valid until
 * store_cut_free (key and value are also NUL-terminated). */
void store_cut_entry(const struct store_cut *cut, size_t i, const char **key,
    size_t *key_len, const char **value, size_t *value_len, uint64_t *version);
void store_cut_free(struct store_cut *cut);

/*
 * Fills a store just made by store_create (journal/, epochs/ and
 * snapshots/ empty, else -EEXIST) with a backup's state at sequence number
 * seq: each key with its own version, in strictly ascending key order.
 * The state becomes snapshots/SEQ (epoch 0, no request ids), durable and
 * visible only when store_restore_finish succeeds; store_restore_abort (or
 * a failed finish) leaves nothing behind but the empty store.
 * store_restore_add checks the key and the value as a write would (any
 * length the format allows), the version (1..seq) and the order; it names
 * the key in err.  finish and abort free r.
 */
struct store_restore;
int store_restore_begin(const char *dir, uint64_t seq,
    struct store_restore **r, struct store_error *err);
int store_restore_add(struct store_restore *r, const char *key, size_t key_len,
    const char *value, size_t value_len, uint64_t version,
    struct store_error *err);
/* The digest and count of what was added so far. */
uint64_t store_restore_digest(const struct store_restore *r);
uint64_t store_restore_count(const struct store_restore *r);
int store_restore_finish(struct store_restore *r, struct store_error *err);
void store_restore_abort(struct store_restore *r);

/* ---- limits ----------------------------------------------------------- */

/* 0 or -STORE_EKEY / -STORE_EVALUE / -STORE_ETOOLARGE, with a message. */
int store_check_key(const char *key, size_t len, struct store_error *err);
int store_check_value(const char *json, size_t len, size_t max_bytes,
    struct store_error *err);

#endif
