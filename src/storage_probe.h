/*
 * storage_probe.h: facts about the filesystem under a folder, found by
 * trying what the store and sanlock do there (ssfm check-storage).
 *
 * Every probe works in a scratch folder the caller made inside the folder
 * checked, and removes what it created.  Probes never judge: they report
 * what happened (errno values, timings); storage_chain.h and
 * cli_check_storage.c say what it means.
 */
#ifndef SSFM_STORAGE_PROBE_H
#define SSFM_STORAGE_PROBE_H

#include <stddef.h>
#include <stdint.h>

/* The mount a path is on, from statfs(2) and /proc/self/mountinfo. */
struct probe_mount {
	uint64_t magic;            /* statfs f_type */
	const char *magic_name;    /* "ext4", "nfs", ... or "unknown" */
	char fstype[64];           /* mountinfo's type: "nfs4", "fuse.sshfs", ... ("" if not found) */
	char mount_point[1024];
	char source[1024];
	char options[2048];        /* per-mount options, then the superblock's, comma-separated */
};

/* Fills m for path; 0 or -errno (statfs failed).  A mount not found in
 * mountinfo leaves fstype "" (the statfs magic still names the type). */
int probe_mount(const char *path, struct probe_mount *m);
/* Reads the mountinfo line for the longest mount point that holds
 * real_path out of text (the contents of /proc/self/mountinfo); 1 if found,
 * 0 if not.  Octal escapes (\040) in paths are decoded. */
int probe_mountinfo_find(const char *text, const char *real_path, struct probe_mount *m);
/* The value of option name in a comma-separated option list: 1 and value
 * copied (may be "") if present, 0 if not. */
int probe_option(const char *options, const char *name, char *value, size_t len);

/* O_DIRECT: open a new file with O_DIRECT, write and read back one
 * 4096-byte aligned block.  0, or -errno of the step that failed (*step
 * names it: "open", "write", "read", "compare"). */
int probe_direct_io(const char *scratch, const char **step);

/* No-clobber renames: renameat2(RENAME_NOREPLACE) onto a free name and onto
 * a taken one, and link(2) likewise.  Each result is 0 or -errno; a correct
 * filesystem gives 0 for the free name and -EEXIST for the taken one. */
struct probe_noclobber {
	int rename_free, rename_taken;
	int link_free, link_taken;
	int taken_intact;          /* 1 if the taken name still held its own contents */
};
int probe_noclobber(const char *scratch, struct probe_noclobber *r);

/* fdatasync latency: samples writes of 4096 bytes to a new file, each
 * followed by fdatasync; sorted durations in microseconds into us (caller
 * gives samples slots).  0 or -errno. */
int probe_fsync(const char *scratch, unsigned samples, uint64_t *us);
/* The value at fraction q (0..1) of n sorted values (nearest rank). */
uint64_t probe_percentile(const uint64_t *sorted, unsigned n, double q);

/* inotify: watch scratch, create a file in it through this mount; 1 if
 * the watch reported it within timeout_ms, 0 if not, -errno if inotify
 * could not be set up. */
int probe_inotify(const char *scratch, int timeout_ms);

#endif
