/*
 * fence.h: the sanlock lease of a failover group, and the only interface to
 * sanlock in ssfm.
 *
 * The store directory holds the lease file DIR/lease (store/format.h's
 * FMT_LEASE_NAME), written once by fence_lease_init():
 *
 *     offset 0        the lockspace named after the group (delta leases of
 *                     host ids 1..2000, 512-byte sectors), with io_timeout
 *     offset 1 MiB    the resource "active" (a paxos lease)
 *     size 2 MiB      (FENCE_LEASE_SIZE)
 *
 * and DIR/hosts/HOSTID, one small text file per host id holding the host
 * name given at join ("NAME\n"), written once the host has joined.  sanlock
 * knows hosts by id only (its own "owner name" is a per-daemon uuid), so this
 * record is how a failed acquire names the holder.  It is informational:
 * written with a plain durable write, never trusted for safety.
 *
 * One struct fence per process and group.  The process that calls
 * fence_acquire() registers with its host's sanlock daemon and holds the
 * lease itself: when it dies, sanlock frees the lease at once.
 *
 * Blocking: every call talks to the local sanlock daemon over its Unix
 * socket ($SANLOCK_RUN_DIR/sanlock.sock, default /run/sanlock).  Calls that
 * only ask the daemon about its memory (join poll, inquire, health) answer in
 * well under a millisecond.  Calls that make the daemon do disk I/O wait for
 * that I/O: fence_acquire() (a paxos ballot: about 6 sector reads and writes
 * on the lease file; each is bounded by io_timeout, so at most a few
 * io_timeouts when storage stalls, milliseconds when it is healthy),
 * fence_release() (one write), fence_owner() (one 1 MiB read), fence_lease_busy()
 * (one sector read) and fence_leave()
 * (one write, then up to 1 s for sanlock's lockspace thread to stop).  Joining
 * takes seconds (2 * io_timeout at least; longer when the host id was used by
 * a host that did not leave): fence_join_start() runs it on a thread of its
 * own and the caller polls with fence_join_poll() or waits for
 * fence_join_fd() to become readable.
 *
 * Thread safety: a struct fence is used by one thread at a time (the join
 * thread only touches its own fields).  The fence_lease_* functions are
 * independent of any struct fence and may run anywhere.
 *
 * Errors: functions return 0 (or a documented non-negative value) or a
 * negative code: -errno, or -FENCE_E* below.  When err is not NULL it is
 * filled on failure: err->code equals the return value and err->msg names
 * the lease file, host or host id involved.
 */
#ifndef SSFM_FENCE_H
#define SSFM_FENCE_H

#include <stddef.h>
#include <stdint.h>

/* ---- timeouts -------------------------------------------------------------
 * sanlock derives every timeout from the lockspace's io_timeout (written in
 * the lease by fence_lease_init; ssfm's default 10 s, allowed 1..60 s):
 *
 *   renewal interval          2 * io_timeout   (FENCE_RENEW_INTERVAL)
 *   renewal warning           6 * io_timeout   (sanlock logs "renewal warn")
 *   renewal fail, kill starts 8 * io_timeout   (FENCE_KILL_AFTER)
 *   kill grace (killpath, then SIGKILL)   40 s  (sanlock -g, FENCE_KILL_GRACE)
 *   watchdog fire             60 s after the kill starts if pids remain
 *                                              (FENCE_WATCHDOG_FIRE)
 *   host dead for others      8 * io_timeout + 60   (FENCE_HOST_DEAD)
 *
 * Timeline, io_timeout 10 (the default).  Host A holds "active"; at t = 0 it
 * makes its last successful renewal, then its storage stops answering (or
 * its sanlock stops writing).  B renews every 20 s and reads A's delta lease
 * each time it renews.
 *   t =   0  A's last successful renewal (timestamp T0 on disk).
 *   t =  20  A's renewal is due; its I/O fails or times out (10 s each).
 *            fence_lease_health() on A: age 20..62 s (it is an upper bound
 *            that runs up to two renewals late), 18..60 s left.  ssfmd
 *            stops acknowledging writes once less than FENCE_SAFE_LEFT_MS
 *            (10 s) is left: by t = 70 s at the latest.
 *   t =  60  sanlock on A logs "renewal warn".
 *   t =  80  renewal fail: sanlock on A starts recovery for every process
 *            holding a lease in the lockspace: it runs the kill path
 *            (ssfm-lease-lost PID: SIGTERM to ssfmd, which stops the managed
 *            service, then exits and so frees its leases in sanlock's
 *            memory), once a second.
 *   t = 120  kill grace over: sanlock SIGKILLs what is left.
 *   t = 140  A's watchdog (wdmd) fires if anything still holds a lease: A
 *            resets.  From now on A is certainly not writing.
 *   t = 140..160  B has seen A's timestamp unchanged for 8*10+60 = 140 s
 *            (B first noticed the lack of change at its first read after
 *            t = 0, up to 20 s late) and acquires: the lease is free
 *            elsewhere, with a greater epoch.
 * The same at io_timeout 1: renewals every 2 s; kill path at t = 8; SIGKILL
 * at t = 48; watchdog at t = 68; B acquires at t = 68..70 (70.8 s measured
 * from A's sanlock daemon dying, which also loses up to 2 s of the last
 * renewal interval).
 * A holder that releases, or whose process dies while its sanlock lives,
 * frees the lease at once: B's next try succeeds.
 */
#define FENCE_IO_TIMEOUT_DEFAULT 10u
#define FENCE_IO_TIMEOUT_MIN 1u
#define FENCE_IO_TIMEOUT_MAX 60u
#define FENCE_RENEW_INTERVAL(io) (2u * (io))
#define FENCE_KILL_AFTER(io) (8u * (io))
#define FENCE_KILL_GRACE 40u
#define FENCE_WATCHDOG_FIRE 60u
#define FENCE_HOST_DEAD(io) (8u * (io) + FENCE_WATCHDOG_FIRE)
/* The default threshold of fence_lease_current(): at least one io_timeout
 * must be left before sanlock acts.  fence_lease_health()'s age is an upper
 * bound that runs up to two renewals late (see there): a healthy host shows
 * at least 4 * io_timeout - 2 s left (measured 1.3 s at io_timeout 1 on a
 * loaded machine, where renewals slip), and a host that missed two renewals
 * drops below this threshold. */
#define FENCE_SAFE_LEFT_MS(io) (1000u * (io))

/* ---- errors ----------------------------------------------------------------
 * Negative errno values keep their meaning (-EACCES: permission denied on the
 * lease file or the sanlock socket; -ENOMEM; -EINVAL: bad argument).  The
 * codes below are returned negated. */
enum {
	FENCE_ENODAEMON = 1001,   /* the sanlock daemon is not running */
	FENCE_ENOLEASE,           /* the lease file does not exist */
	FENCE_EUNINIT,            /* the lease file is not initialised (or for another group) */
	FENCE_ETOOSMALL,          /* the lease file is smaller than FENCE_LEASE_SIZE */
	FENCE_ENODIRECT,          /* the filesystem refuses O_DIRECT */
	FENCE_EHOSTID_BUSY,       /* the host id is used by another live host */
	FENCE_EHELD,              /* the resource is held by another host */
	FENCE_ENOTJOINED,         /* the call needs a joined lockspace */
	FENCE_ENOTHELD,           /* release or health of a lease not held */
	FENCE_ESANLOCK,           /* any other sanlock failure; the message has its code */
};

struct fence_error {
	int code;                 /* the negative value the call returned */
	char msg[1024];
};

/* The text of a code (negative errno or -FENCE_E*); never NULL. */
const char *fence_strerror(int code);

/* ---- lease file ------------------------------------------------------------ */
#define FENCE_LEASE_SIZE (2u * 1024 * 1024)
#define FENCE_RESOURCE_OFFSET (1024u * 1024)
#define FENCE_RESOURCE_NAME "active"
#define FENCE_GROUP_MAX 48       /* sanlock's name length, without the NUL */
#define FENCE_HOST_ID_MAX 2000u
#define FENCE_HOST_NAME_MAX 64

struct fence_lease_info {
	char group[FENCE_GROUP_MAX + 1];
	unsigned io_timeout;      /* seconds, from the lockspace */
	uint64_t lver;            /* the resource's lease version (last epoch) */
	uint64_t owner_id;        /* last host id to acquire (0: never) */
	int owner_held;           /* 1 when the leader record says held */
};

/* Fills buf with DIR/lease; -ENAMETOOLONG if it does not fit. */
int fence_lease_path(const char *store_dir, char *buf, size_t len);
/* Creates lease_path (which must not exist: -EEXIST) of FENCE_LEASE_SIZE,
 * writes the lockspace `group` with io_timeout (1..60) and the resource
 * "active" without a sanlock daemon (direct I/O), and fsyncs it and its
 * directory.  On failure the partial file is removed. */
int fence_lease_init(const char *lease_path, const char *group, unsigned io_timeout,
    struct fence_error *err);
/* Reads the lease file with O_DIRECT as sanlock will and checks it: exists,
 * readable, large enough, O_DIRECT works, both leader records present (and
 * the lockspace is `group` unless group is NULL).  Fills info if not NULL.
 * Needs no daemon. */
int fence_lease_check(const char *lease_path, const char *group,
    struct fence_lease_info *info, struct fence_error *err);

/* ---- hosts ----------------------------------------------------------------- */
struct fence_holder {
	uint64_t host_id;         /* 0 when unknown */
	char name[FENCE_HOST_NAME_MAX + 1];   /* "" when no record */
};

/* Reads DIR/hosts/HOSTID into name; -ENOENT when there is none. */
int fence_host_name(const char *store_dir, uint64_t host_id, char *name, size_t len);

/* ---- a host's handle --------------------------------------------------------- */
struct fence;

/* Checks the lease file (fence_lease_check with group) and makes a handle for
 * host_id (1..2000) named host_name (1..64 bytes, no '/', no newline).  Does
 * not talk to the daemon. */
int fence_open(const char *store_dir, const char *group, unsigned host_id,
    const char *host_name, struct fence **out, struct fence_error *err);
/* Ends the join thread if it is running (waiting for it), closes the sanlock
 * registration (which releases any lease held: prefer fence_release first)
 * and frees f.  Does not leave the lockspace.  NULL is allowed. */
void fence_close(struct fence *f);
unsigned fence_io_timeout(const struct fence *f);

enum fence_join_state {
	FENCE_JOIN_IDLE = 0,      /* not started, or left */
	FENCE_JOINING,
	FENCE_JOINED,
	FENCE_JOIN_FAILED,        /* err filled by fence_join_poll */
};

/* Starts joining the lockspace with this host id; returns at once.  0 when
 * started (or already joined: then the poll says JOINED at once). */
int fence_join_start(struct fence *f, struct fence_error *err);
/* Never blocks.  Returns the state; FENCE_JOIN_FAILED fills err with the
 * reason (daemon not running, host id used by a live host NAME, ...).  Once
 * joined, also asks the daemon whether the lockspace is still there (sanlock
 * removes it when renewals fail) and answers FAILED if not. */
int fence_join_poll(struct fence *f, struct fence_error *err);
/* An fd that becomes readable when the join thread has finished (success or
 * failure), for the caller's poll(2); -1 before fence_join_start. */
int fence_join_fd(const struct fence *f);
/* Leaves the lockspace (sanlock first kills what still holds leases in it:
 * release first).  Blocks up to about a second. */
int fence_leave(struct fence *f, struct fence_error *err);

/* Registers the calling process with sanlock (once) and sets the kill path
 * sanlock runs when this host cannot renew: `program arg PID` where PID is
 * this process (SANLK_KILLPATH_PID).  program + arg fit in 127 bytes each.
 * Call before fence_acquire. */
int fence_set_killpath(struct fence *f, const char *program, const char *arg,
    struct fence_error *err);

/* Tries once to acquire "active" for the calling process without waiting
 * for the lease (SANLK_ACQUIRE_OWNER_NOWAIT).  On success *epoch is the
 * lease version now held (strictly greater than every earlier epoch).  When
 * another host holds it (or its holder has not been dead long enough):
 * -FENCE_EHELD, and *holder (if not NULL) names it when sanlock can tell.
 * Blocks for the daemon's disk I/O (see the top). */
int fence_acquire(struct fence *f, uint64_t *epoch, struct fence_holder *holder,
    struct fence_error *err);
/* Whether an acquire would fail now, found without a ballot: one sector
 * read of the lease's leader record (O_DIRECT, as sanlock reads it) and
 * sanlock's host table (no I/O).  1 when the leader names a holder that the
 * table shows alive (or failing, or not yet known: sanlock's own test,
 * sanlock_test_resource_owners), with *holder (if not NULL) naming it; 0
 * when an acquire may succeed (free, or the holder is dead or restarted).
 * An acquire reads the whole 1 MiB lease area twice over, so a standby that
 * asks this first does not load the shared storage while a live host holds
 * the lease; the answer is advice only, fence_acquire decides. */
int fence_lease_busy(struct fence *f, struct fence_holder *holder, struct fence_error *err);
/* Releases "active"; -FENCE_ENOTHELD if not held by this process. */
int fence_release(struct fence *f, struct fence_error *err);
/* Asks the daemon what this process holds: *held 1 and *epoch, or *held 0. */
int fence_inquire(struct fence *f, int *held, uint64_t *epoch, struct fence_error *err);
/* Reads the resource from disk (through the daemon): the current or last
 * holder, and whether it is held.  *lver (if not NULL) gets the lease
 * version. */
int fence_owner(struct fence *f, struct fence_holder *holder, int *held,
    uint64_t *lver, struct fence_error *err);

struct fence_health {
	unsigned io_timeout;      /* seconds */
	int64_t age_ms;           /* since this host's last successful renewal */
	int64_t left_ms;          /* until sanlock acts: 8*io_timeout*1000 - age_ms */
};
/* This host's delta-lease health from its sanlock daemon (sanlock_get_hosts:
 * no disk I/O).  The renewal time sanlock reports for its own host is the one
 * it read back from disk before writing its latest renewal, i.e. the renewal
 * before the last, in whole seconds.  So age_ms is an upper bound (measured
 * up to two renewal intervals + 2 s high: 6.7 s at io_timeout 1) and left_ms
 * a lower bound: never optimistic. */
int fence_lease_health(struct fence *f, struct fence_health *h, struct fence_error *err);
/* 1 when this host's lease has at least min_left_ms before sanlock acts
 * (0: use FENCE_SAFE_LEFT_MS(io_timeout)), 0 when not, negative on error
 * (which the caller must treat as "not current"). */
int fence_lease_current(struct fence *f, int64_t min_left_ms, struct fence_error *err);

#endif
