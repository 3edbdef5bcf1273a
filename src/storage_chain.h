/*
 * storage_chain.h: what a mount and a configuration mean for failover
 * safety (ssfm check-storage): the kind of filesystem, the NFS mount
 * options that matter, and the timeout chain from a lost lease to another
 * host's takeover.  Pure functions of their inputs, so they can be tested
 * with any mount line and any configuration.
 */
#ifndef SSFM_STORAGE_CHAIN_H
#define SSFM_STORAGE_CHAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "storage_probe.h"

enum chain_verdict { CHAIN_OK, CHAIN_WARN, CHAIN_FAIL };

const char *chain_verdict_name(enum chain_verdict v);   /* "ok", "warn", "fail" */

#define CHAIN_FINDINGS_MAX 24

struct chain_finding {
	enum chain_verdict verdict;
	char text[512];           /* what holds, naming the keys and figures */
	char advice[512];         /* what to do about it ("" when nothing) */
};

struct chain_report {
	struct chain_finding f[CHAIN_FINDINGS_MAX];
	size_t n;
};

/* The worst verdict in r (CHAIN_OK when empty). */
enum chain_verdict chain_worst(const struct chain_report *r);

enum chain_fs_kind {
	CHAIN_FS_LOCAL,           /* ext4, xfs, btrfs, ...: one host only */
	CHAIN_FS_MEMORY,          /* tmpfs, ramfs: nothing is durable */
	CHAIN_FS_NFS,
	CHAIN_FS_CEPH,            /* kernel ceph or fuse.ceph-fuse */
	CHAIN_FS_SSHFS,
	CHAIN_FS_CLUSTER,         /* gfs2, ocfs2, gpfs, lustre, cifs, other fuse */
	CHAIN_FS_UNKNOWN,
};

/* The kind of filesystem, from mountinfo's type, else the statfs magic. */
enum chain_fs_kind chain_fs_kind(const struct probe_mount *m);
/* Network filesystems whose other clients' changes inotify never reports. */
bool chain_fs_remote(enum chain_fs_kind k);

/* One finding on the filesystem's kind (shared? durable?). */
void chain_filesystem(const struct probe_mount *m, struct chain_report *r);

/*
 * The NFS options that matter (hard, lookupcache, actimeo and the ac*
 * options, cto, timeo, retrans, proto), as mountinfo shows them.  Appends
 * findings to r.  *hang_s receives how long one operation can hang before
 * the client gives up a round of retries (the "major timeout"): with TCP,
 * timeo, 2 x timeo, ... (linear backoff, at most 600 s each) for the first
 * try and each of retrans retries; with UDP, doubling from timeo, at most
 * 60 s each.  Defaults: timeo 600 (TCP) or 11 (UDP) deciseconds, retrans 2
 * (TCP) or 3 (UDP).
 */
void chain_nfs_options(const struct probe_mount *m, struct chain_report *r, double *hang_s);

struct chain_config {
	unsigned io_timeout;              /* s, the configuration's */
	unsigned store_io_timeout;        /* s, the store's lease file (0: not known) */
	bool hook_stop;                   /* hook_stop configured */
	long long hook_timeout_ms, hook_kill_grace_ms, demote_timeout_ms;
	double nfs_hang_s;                /* chain_nfs_options' figure (0: not NFS) */
	bool hard;                        /* NFS mounted hard */
};

/*
 * The timeline of a lost lease (fence.h timeouts, T = io_timeout), as lines
 * of r with verdict OK, and a finding for each unsafe combination:
 *   0         last renewal
 *   7T        ssfmd stops acknowledging (less than FENCE_SAFE_LEFT_MS left)
 *   8T        sanlock's kill path: ssfmd refuses writes, runs hook_stop
 *   8T+stop   hook_stop over, SIGKILL included (hook_timeout + hook_kill_grace)
 *   8T+40     sanlock SIGKILLs ssfmd if it is still there
 *   8T+60     the watchdog has reset a host still holding the lease; the
 *             lease is free elsewhere
 */
void chain_timeouts(const struct chain_config *c, struct chain_report *r);

#endif
