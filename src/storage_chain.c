/*
 * storage_chain.c: the judgements of ssfm check-storage that need no
 * filesystem access (storage_chain.h).
 *
 * The timeout chain is DESIGN.md's "Fencing with sanlock" with the figures
 * of fence.h: a host whose storage stops answering is killed by its own
 * sanlock 8 x io_timeout after its last renewal, and another host may take
 * the lease 60 s later (the watchdog's fire time).  Everything the old
 * active does to stop (its hook_stop, its hung I/O) must be over by then.
 */
#include "storage_chain.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence.h"

/* hook_stop must be over this long before the lease is free elsewhere:
 * the daemon's reaction to the kill path, and clock slack (conf.c refuses
 * the same configurations). */
#define CHAIN_STOP_MARGIN_S 10u

const char *chain_verdict_name(enum chain_verdict v)
{
	return v == CHAIN_OK ? "ok" : v == CHAIN_WARN ? "warn" : "fail";
}

enum chain_verdict chain_worst(const struct chain_report *r)
{
	enum chain_verdict worst = CHAIN_OK;

	for (size_t i = 0; i < r->n; i++)
		if (r->f[i].verdict > worst)
			worst = r->f[i].verdict;
	return worst;
}

__attribute__((format(printf, 4, 5)))
static void chain_add(struct chain_report *r, enum chain_verdict v, const char *advice,
    const char *fmt, ...)
{
	struct chain_finding *f;
	va_list ap;

	if (r->n == CHAIN_FINDINGS_MAX)
		return;
	f = &r->f[r->n++];
	f->verdict = v;
	snprintf(f->advice, sizeof(f->advice), "%s", advice ? advice : "");
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
}

static const char *chain_type(const struct probe_mount *m)
{
	return m->fstype[0] != '\0' ? m->fstype : m->magic_name ? m->magic_name : "unknown";
}

enum chain_fs_kind chain_fs_kind(const struct probe_mount *m)
{
	static const struct { const char *type; enum chain_fs_kind kind; } types[] = {
		{ "nfs", CHAIN_FS_NFS }, { "nfs4", CHAIN_FS_NFS }, { "ceph", CHAIN_FS_CEPH },
		{ "fuse.ceph-fuse", CHAIN_FS_CEPH }, { "fuse.ceph", CHAIN_FS_CEPH },
		{ "fuse.sshfs", CHAIN_FS_SSHFS }, { "tmpfs", CHAIN_FS_MEMORY },
		{ "ramfs", CHAIN_FS_MEMORY }, { "ext4", CHAIN_FS_LOCAL }, { "ext3", CHAIN_FS_LOCAL },
		{ "ext2", CHAIN_FS_LOCAL }, { "xfs", CHAIN_FS_LOCAL }, { "btrfs", CHAIN_FS_LOCAL },
		{ "zfs", CHAIN_FS_LOCAL }, { "overlay", CHAIN_FS_LOCAL }, { "gfs2", CHAIN_FS_CLUSTER },
		{ "ocfs2", CHAIN_FS_CLUSTER }, { "gpfs", CHAIN_FS_CLUSTER },
		{ "lustre", CHAIN_FS_CLUSTER }, { "cifs", CHAIN_FS_CLUSTER },
		{ "smb3", CHAIN_FS_CLUSTER }, { "smb2", CHAIN_FS_CLUSTER }, { "fuse", CHAIN_FS_CLUSTER },
	};
	const char *t = chain_type(m);

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i].type) == 0)
			return types[i].kind;
	if (strncmp(t, "fuse.", 5) == 0)
		return CHAIN_FS_CLUSTER;
	return CHAIN_FS_UNKNOWN;
}

bool chain_fs_remote(enum chain_fs_kind k)
{
	return k == CHAIN_FS_NFS || k == CHAIN_FS_CEPH || k == CHAIN_FS_SSHFS ||
	    k == CHAIN_FS_CLUSTER;
}

void chain_filesystem(const struct probe_mount *m, struct chain_report *r)
{
	const char *t = chain_type(m);

	switch (chain_fs_kind(m)) {
	case CHAIN_FS_NFS:
		chain_add(r, CHAIN_OK, NULL, "%s: shared storage the design was measured on", t);
		break;
	case CHAIN_FS_CEPH:
		chain_add(r, CHAIN_OK, "standby lag on CephFS is set by the MDS journal flush "
		    "(mds_tick_interval, 5 s stock): lower it for a hotter standby",
		    "%s: shared storage the design was measured on; another client's first lookup "
		    "of a new file waits for the MDS journal flush", t);
		break;
	case CHAIN_FS_SSHFS:
		chain_add(r, CHAIN_WARN, "use sshfs for tests only; deploy on NFS or CephFS",
		    "%s: a FUSE filesystem over SFTP, good for tests: it stands in for NFS on a "
		    "machine without an NFS client", t);
		break;
	case CHAIN_FS_MEMORY:
		chain_add(r, CHAIN_WARN, "put the store on shared, durable storage (NFS, CephFS)",
		    "%s: memory only: fsync makes nothing durable, a reboot loses the store, and "
		    "no other host can see it", t);
		break;
	case CHAIN_FS_LOCAL:
		chain_add(r, CHAIN_OK, "a failover group needs a folder every host mounts (NFS, "
		    "CephFS); a local filesystem suits one host or tests",
		    "%s: a local filesystem: durable, but only this host sees it", t);
		break;
	case CHAIN_FS_CLUSTER:
		chain_add(r, CHAIN_WARN, "check it with the hosts of the group: the design was "
		    "measured on NFS, CephFS and sshfs only",
		    "%s: shared storage ssfm was not measured on", t);
		break;
	case CHAIN_FS_UNKNOWN:
		chain_add(r, CHAIN_WARN, "check it with the hosts of the group",
		    "%s (statfs magic 0x%llx): not a filesystem ssfm knows", t,
		    (unsigned long long)m->magic);
		break;
	}
}

static long chain_option_long(const char *options, const char *name, long def)
{
	char value[64];
	char *end;

	if (!probe_option(options, name, value, sizeof(value)) || value[0] == '\0')
		return def;
	long v = strtol(value, &end, 10);
	return *end == '\0' && v >= 0 ? v : def;
}

void chain_nfs_options(const struct probe_mount *m, struct chain_report *r, double *hang_s)
{
	const char *o = m->options;
	char value[64];
	bool udp = probe_option(o, "proto", value, sizeof(value)) &&
	    strncmp(value, "udp", 3) == 0;
	long timeo = chain_option_long(o, "timeo", udp ? 11 : 600);
	long retrans = chain_option_long(o, "retrans", udp ? 3 : 2);
	double hang = 0, step = (double)timeo / 10.0;

	if (probe_option(o, "soft", NULL, 0) || probe_option(o, "softerr", NULL, 0))
		chain_add(r, CHAIN_WARN, "mount with hard (the default)",
		    "soft: an operation that times out fails with EIO; a commit that fails so is "
		    "not acknowledged, but the service's own files may be left half written");
	else
		chain_add(r, CHAIN_OK, NULL, "hard: operations are retried until the server answers");

	if (!probe_option(o, "lookupcache", value, sizeof(value)) || strcmp(value, "all") == 0)
		chain_add(r, CHAIN_WARN, "mount with lookupcache=positive (or none)",
		    "lookupcache=all (the default): a standby's look for the next journal file can "
		    "be answered \"no such file\" from the cache, for as long as the directory's "
		    "attributes are cached");
	else
		chain_add(r, CHAIN_OK, NULL, "lookupcache=%s: a missing name is asked of the server "
		    "each time", value);

	long acdirmax = chain_option_long(o, "acdirmax", 60), acregmax = chain_option_long(o,
	    "acregmax", 60);
	if (probe_option(o, "actimeo", NULL, 0)) {
		acdirmax = chain_option_long(o, "actimeo", 60);
		acregmax = acdirmax;
	}
	if (probe_option(o, "noac", NULL, 0))
		acdirmax = acregmax = 0;
	if (acdirmax > 1 || acregmax > 1)
		chain_add(r, CHAIN_WARN, "mount with actimeo=1",
		    "attribute cache up to %ld s (acdirmax) / %ld s (acregmax): a standby may see "
		    "new files that much later", acdirmax, acregmax);
	else
		chain_add(r, CHAIN_OK, NULL, "attribute cache at most %ld s", acdirmax > acregmax ?
		    acdirmax : acregmax);

	if (probe_option(o, "nocto", NULL, 0))
		chain_add(r, CHAIN_WARN, "remove nocto",
		    "nocto: opening a file does not revalidate it, so a reader may read stale data");

	for (long i = 0; i <= retrans; i++) {
		if (udp) {
			hang += step > 60 ? 60 : step;
			step *= 2;
		} else {
			double t = step * (double)(i + 1);
			hang += t > 600 ? 600 : t;
		}
	}
	chain_add(r, CHAIN_OK, NULL, "timeo=%ld retrans=%ld (%s): one operation hangs up to "
	    "%.0f s before the client reports the server not responding", timeo, retrans,
	    udp ? "udp" : "tcp", hang);
	*hang_s = hang;
}

void chain_timeouts(const struct chain_config *c, struct chain_report *r)
{
	unsigned t = c->io_timeout;
	unsigned kill = FENCE_KILL_AFTER(t), dead = FENCE_HOST_DEAD(t);
	double stop_s = (double)(c->hook_timeout_ms + c->hook_kill_grace_ms) / 1000.0;
	char advice[512];

	if (c->store_io_timeout != 0 && c->store_io_timeout != t)
		chain_add(r, CHAIN_FAIL, "set io_timeout in ssfm.conf to the store's (ssfm init "
		    "--io-timeout wrote it into the lease)",
		    "io_timeout %u s in the configuration, but the store's lease was made with %u s: "
		    "hosts that disagree on it misjudge when a lease is free", t, c->store_io_timeout);

	chain_add(r, CHAIN_OK, NULL, "t = 0: the active's last lease renewal (io_timeout %u s; "
	    "renewals every %u s)", t, FENCE_RENEW_INTERVAL(t));
	chain_add(r, CHAIN_OK, NULL, "t = %u s: it stops acknowledging writes (less than "
	    "io_timeout left on its lease)", kill - t);
	chain_add(r, CHAIN_OK, NULL, "t = %u s: sanlock's kill path: ssfmd refuses writes and "
	    "stops the service", kill);
	if (c->hook_stop)
		chain_add(r, CHAIN_OK, NULL, "t = %.1f s: hook_stop over at the latest "
		    "(hook_timeout %.1f s + hook_kill_grace %.1f s)", kill + stop_s,
		    (double)c->hook_timeout_ms / 1000.0, (double)c->hook_kill_grace_ms / 1000.0);
	chain_add(r, CHAIN_OK, NULL, "t = %u s: sanlock SIGKILLs ssfmd if it is still there",
	    kill + FENCE_KILL_GRACE);
	chain_add(r, CHAIN_OK, NULL, "t = %u s: the watchdog has reset a host still holding "
	    "the lease; another host may acquire it", dead);

	if (c->hook_stop && stop_s + CHAIN_STOP_MARGIN_S > FENCE_WATCHDOG_FIRE) {
		snprintf(advice, sizeof(advice), "lower hook_timeout + hook_kill_grace to %u s or "
		    "less (ssfmd refuses to start with this)",
		    FENCE_WATCHDOG_FIRE - CHAIN_STOP_MARGIN_S);
		chain_add(r, CHAIN_FAIL, advice, "hook_stop may run until t = %.1f s, past t = %u s "
		    "less a %u s margin: two hosts could run the service at once", kill + stop_s,
		    dead, CHAIN_STOP_MARGIN_S);
	} else if (c->hook_stop && stop_s > FENCE_KILL_GRACE) {
		snprintf(advice, sizeof(advice), "lower hook_timeout + hook_kill_grace to %u s or "
		    "less", FENCE_KILL_GRACE);
		chain_add(r, CHAIN_WARN, advice, "hook_stop may outlive ssfmd (SIGKILLed by sanlock "
		    "at t = %u s): nothing would then kill a hook_stop that hangs",
		    kill + FENCE_KILL_GRACE);
	}
	if (c->hook_stop && c->hook_timeout_ms + c->hook_kill_grace_ms > c->demote_timeout_ms)
		chain_add(r, CHAIN_FAIL, "raise demote_timeout or lower hook_timeout + "
		    "hook_kill_grace (ssfmd refuses to start with this)",
		    "hook_timeout + hook_kill_grace (%.1f s) exceed demote_timeout (%.1f s): a "
		    "graceful demote could not wait for hook_stop", stop_s,
		    (double)c->demote_timeout_ms / 1000.0);
	if (c->nfs_hang_s > 0) {
		if (c->nfs_hang_s > (double)dead) {
			/* TCP, retrans 2: timeo x (1 + 2 + 3); aim at half the window. */
			unsigned timeo = dead * 10 / 12 < 10 ? 10 : dead * 10 / 12;
			snprintf(advice, sizeof(advice), "lower timeo and retrans (e.g. timeo=%u,"
			    "retrans=2 hangs up to %.0f s over TCP) or raise io_timeout", timeo,
			    (double)timeo * 6 / 10);
			chain_add(r, CHAIN_FAIL, advice, "a hung NFS operation (timeo x retrans, %.0f s) "
			    "outlasts the %u s before another host can take the lease: a write of the "
			    "old active could land after the new one started", c->nfs_hang_s, dead);
		} else {
			chain_add(r, CHAIN_OK, NULL, "a hung NFS operation gives up a round of retries "
			    "after %.0f s, within the %u s before another host can take the lease%s",
			    c->nfs_hang_s, dead, c->hard ? " (hard: it is then retried; the "
			    "watchdog's reset ends it)" : "");
		}
	}
}
