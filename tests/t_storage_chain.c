/*
 * t_storage_chain: the judgements of ssfm check-storage that need no real
 * filesystem (storage_chain.h), and the mountinfo reader they rely on: NFS
 * mount lines this machine cannot mount (no NFS client here), with the
 * defaults and with the recommended options; the hang time of a hung NFS
 * operation (linear backoff over TCP, doubling over UDP) against the lease
 * timeline; the kinds of filesystem.
 */
#include "storage_chain.h"
#include "storage_probe.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char mountinfo[] =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 0:40 / /mnt rw,relatime shared:5 - tmpfs tmpfs rw,size=1024k\n"
    "31 30 0:41 / /mnt/ssfm rw,relatime shared:6 - nfs4 srv:/export rw,vers=4.2,"
    "rsize=1048576,hard,proto=tcp,timeo=600,retrans=2,sec=sys,clientaddr=10.0.0.2\n"
    "32 30 0:42 / /mnt/with\\040space rw master:3 - ceph 10.0.0.1:/ rw,name=admin\n"
    "33 22 0:43 / /tuned rw,relatime - nfs srv:/e rw,vers=3,hard,proto=tcp,timeo=100,"
    "retrans=2,lookupcache=positive,actimeo=1\n";

static struct probe_mount find(const char *path)
{
	struct probe_mount m;

	memset(&m, 0, sizeof(m));
	m.magic_name = "unknown";
	if (!probe_mountinfo_find(mountinfo, path, &m))
		tap_diag("no mount found for %s", path);
	return m;
}

static enum chain_verdict verdict_with(const struct chain_report *r, const char *text)
{
	for (size_t i = 0; i < r->n; i++)
		if (strstr(r->f[i].text, text) != NULL)
			return r->f[i].verdict;
	tap_diag("no finding with \"%s\"", text);
	return (enum chain_verdict)-1;
}

static void test_mountinfo(void)
{
	struct probe_mount m = find("/mnt/ssfm/group");
	char v[64];

	is_str(m.fstype, "nfs4", "the longest mount point that holds the path wins");
	is_str(m.source, "srv:/export", "its source");
	is_str(m.mount_point, "/mnt/ssfm", "its mount point");
	ok(probe_option(m.options, "hard", NULL, 0), "per-mount and superblock options joined");
	m = find("/mnt/ssfmx");
	is_str(m.fstype, "tmpfs", "/mnt/ssfmx is not under /mnt/ssfm");
	m = find("/mnt/with space/g");
	is_str(m.fstype, "ceph", "\\040 in a mount point is a space");
	m = find("/var/tmp");
	is_str(m.fstype, "ext4", "anything else is under /");

	ok(probe_option("rw,lookupcache=pos,hard", "lookupcache", v, sizeof(v)) &&
	    strcmp(v, "pos") == 0, "an option's value");
	ok(!probe_option("rw,acdirmax=5", "ac", NULL, 0), "ac is not acdirmax");
	ok(probe_option("rw,noac", "noac", v, sizeof(v)) && v[0] == '\0', "a flag has no value");
}

static void test_nfs(void)
{
	struct chain_report r = { .n = 0 };
	struct probe_mount m = find("/mnt/ssfm");
	double hang = 0;

	chain_nfs_options(&m, &r, &hang);
	is_int(verdict_with(&r, "hard"), CHAIN_OK, "defaults: hard is ok");
	is_int(verdict_with(&r, "lookupcache=all"), CHAIN_WARN, "defaults: lookupcache=all warns");
	is_int(verdict_with(&r, "attribute cache up to 60 s"), CHAIN_WARN,
	    "defaults: a 60 s attribute cache warns");
	ok(fabs(hang - 360) < 0.01, "timeo=600 retrans=2 over TCP: 60 + 120 + 180 = 360 s (%g)",
	    hang);

	struct chain_config c = { .io_timeout = 10, .nfs_hang_s = hang, .hard = true,
		.hook_timeout_ms = 30000, .hook_kill_grace_ms = 5000, .demote_timeout_ms = 60000 };
	struct chain_report t = { .n = 0 };
	chain_timeouts(&c, &t);
	is_int(verdict_with(&t, "a hung NFS operation"), CHAIN_FAIL,
	    "360 s of hang outlasts the 140 s before another host takes the lease: fail");
	is_int(chain_worst(&t), CHAIN_FAIL, "the chain fails");
	ok(strstr(t.f[t.n - 1].advice, "timeo=116") != NULL, "advice names a timeo that fits: %s",
	    t.f[t.n - 1].advice);

	memset(&r, 0, sizeof(r));
	m = find("/tuned");
	chain_nfs_options(&m, &r, &hang);
	is_int(chain_worst(&r), CHAIN_OK, "hard,lookupcache=positive,actimeo=1: all ok");
	ok(fabs(hang - 60) < 0.01, "timeo=100 retrans=2: 10 + 20 + 30 = 60 s (%g)", hang);
	c.nfs_hang_s = hang;
	memset(&t, 0, sizeof(t));
	chain_timeouts(&c, &t);
	is_int(chain_worst(&t), CHAIN_OK, "60 s within 140 s: the chain is ok");

	snprintf(m.options, sizeof(m.options), "rw,soft,proto=udp,timeo=11,retrans=3,noac");
	memset(&r, 0, sizeof(r));
	chain_nfs_options(&m, &r, &hang);
	is_int(verdict_with(&r, "soft"), CHAIN_WARN, "soft warns");
	is_int(verdict_with(&r, "attribute cache at most 0 s"), CHAIN_OK, "noac: no attribute cache");
	ok(fabs(hang - 16.5) < 0.01, "UDP timeo=11 retrans=3: 1.1 + 2.2 + 4.4 + 8.8 = 16.5 s (%g)",
	    hang);
}

static void test_chain(void)
{
	struct chain_config c = { .io_timeout = 1, .hook_stop = true, .hook_timeout_ms = 30000,
		.hook_kill_grace_ms = 5000, .demote_timeout_ms = 60000 };
	struct chain_report t = { .n = 0 };

	chain_timeouts(&c, &t);
	is_int(chain_worst(&t), CHAIN_OK, "io_timeout 1, hook_stop up to 35 s: ok");
	is_int(verdict_with(&t, "t = 68 s: the watchdog"), CHAIN_OK, "lease free at 8 + 60 = 68 s");
	c.store_io_timeout = 2;
	memset(&t, 0, sizeof(t));
	chain_timeouts(&c, &t);
	is_int(verdict_with(&t, "lease was made with 2 s"), CHAIN_FAIL,
	    "io_timeout 1 on a store made with 2: fail");
}

static void test_kinds(void)
{
	static const struct { const char *type; enum chain_fs_kind kind; bool remote; } k[] = {
		{ "nfs4", CHAIN_FS_NFS, true }, { "ceph", CHAIN_FS_CEPH, true },
		{ "fuse.ceph-fuse", CHAIN_FS_CEPH, true }, { "fuse.sshfs", CHAIN_FS_SSHFS, true },
		{ "tmpfs", CHAIN_FS_MEMORY, false }, { "xfs", CHAIN_FS_LOCAL, false },
		{ "fuse.glusterfs", CHAIN_FS_CLUSTER, true }, { "weirdfs", CHAIN_FS_UNKNOWN, false },
	};
	struct probe_mount m;

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		memset(&m, 0, sizeof(m));
		snprintf(m.fstype, sizeof(m.fstype), "%s", k[i].type);
		is_int(chain_fs_kind(&m), k[i].kind, "%s: its kind", k[i].type);
		is_int(chain_fs_remote(chain_fs_kind(&m)), k[i].remote, "%s: %s", k[i].type,
		    k[i].remote ? "other clients' changes unseen by inotify" : "not a network filesystem");
	}
}

int main(void)
{
	test_mountinfo();
	test_nfs();
	test_chain();
	test_kinds();
	return tap_done();
}
