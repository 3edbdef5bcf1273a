/*
 * durable.c: the one recipe by which every file of a store is written
 * (DESIGN.md, invariant 1).
 *
 *  1. write to ".tmp-<final>-<pid>-<random>" in the same directory, opened
 *     O_CREAT|O_EXCL, with a loop that survives short writes and EINTR;
 *  2. fdatasync the temporary;
 *  3. give it its final name without ever replacing an existing file:
 *     renameat2(RENAME_NOREPLACE), or link() + unlink() where the filesystem
 *     refuses renameat2 (ceph-fuse and sshfs answer EINVAL): that fallback is
 *     remembered per store and may be forced (store_options.force_link);
 *  4. fsync the directory so the name itself is durable.
 *
 * Every system call here sits behind a fault point "SITE/CALL" (fault.h),
 * SITE naming the writer (store/commit, store/seal, store/snapshot...), and
 * is retried on EINTR: a signal interrupts a wait, it loses no data.
 *
 * EEXIST at step 3 is not an I/O error: the name is taken (another writer,
 * or a newer epoch's seal), and the caller decides what that means.
 *
 * If fdatasync fails, the file is never trusted again, and neither is a
 * retry: after a failed fsync Linux may have dropped the dirty pages and
 * cleared the error, so a second fsync can "succeed" with data that never
 * reached the disk.  The temporary is removed and the caller fails the
 * writer; the next epoch starts again from what is really on the storage.
 *
 * If the final name became visible but the directory fsync failed, the file
 * is left in place (a reader may already have applied it: removing it would
 * undo a write others saw), and the caller does not acknowledge it.
 */
#include "store_int.h"
#include "fault.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

int durable_write_all(int fd, const void *buf, size_t len, const char *site)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = !fault_fires(site, "write") ? write(fd, p, len) :
		    fault_is_short() ? write(fd, p, (len + 1) / 2) : (errno = fault_errno(), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes; -ENODATA if the file ends first (a short file
 * is damage, not an I/O error). */
int durable_read_all(int fd, void *buf, size_t len, const char *site)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = FAULT(site, "read") < 0 ? -1 : read(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

DIR *durable_opendir(const char *path, const char *site)
{
	DIR *d;

	do
		d = FAULT(site, "opendir") < 0 ? NULL : opendir(path);
	while (!d && errno == EINTR);
	return d;
}

int durable_readdir(DIR *d, struct dirent **de, const char *site)
{
	do {
		errno = 0;
		*de = FAULT(site, "readdir") < 0 ? NULL : readdir(d);
	} while (!*de && errno == EINTR);
	if (*de)
		return 1;
	return errno ? -errno : 0;
}

int durable_open(const char *path, int flags, mode_t mode, const char *site)
{
	int fd;

	do
		fd = FAULT(site, "open") < 0 ? -1 : open(path, flags, mode);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/*
 * Readers open with O_NOATIME.  Under the default relatime, the first read
 * of a file written since its last read (every new batch, for every
 * follower) updates its access time: an inode made dirty for nothing, which
 * the filesystem journal then has to write beside the writer's fsyncs, so
 * each following standby slowed the active it follows.  The kernel refuses
 * O_NOATIME (EPERM) to a process that neither owns the file nor has
 * CAP_FOWNER; such a reader opens as before, and stops asking once refused.
 */
static atomic_int noatime_refused;

int durable_open_read(const char *path, const char *site)
{
	int fd;

	if (!atomic_load_explicit(&noatime_refused, memory_order_relaxed)) {
		fd = durable_open(path, O_RDONLY | O_CLOEXEC | O_NOATIME, 0, site);
		if (fd >= 0 || errno != EPERM)
			return fd;
		atomic_store_explicit(&noatime_refused, 1, memory_order_relaxed);
	}
	return durable_open(path, O_RDONLY | O_CLOEXEC, 0, site);
}

/* fsync (data_only: fdatasync), retried when a signal interrupts it: EINTR
 * says the wait was cut short, not that the data is lost. */
int durable_sync(int fd, int data_only, const char *site)
{
	int rc;

	do
		rc = FAULT(site, data_only ? "fdatasync" : "fsync") < 0 ? -1 :
		    data_only ? fdatasync(fd) : fsync(fd);
	while (rc < 0 && errno == EINTR);
	return rc;
}

int durable_fsync_dir(const char *dir, const char *site, struct store_error *err)
{
	int fd, rc = 0;

	fd = durable_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, site);
	if (fd < 0) {
		rc = -errno;
		store_seterr(err, rc, "%s: open directory: %s", dir, strerror(-rc));
		return rc;
	}
	if (durable_sync(fd, 0, site) < 0) {
		rc = -errno;
		store_seterr(err, rc, "%s: fsync directory: %s", dir, strerror(-rc));
	}
	close(fd);
	return rc;
}

int durable_begin(struct durable *d, const char *dir, const char *name,
    const char *site, struct store_error *err)
{
	uint64_t rnd = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		rnd = store_monotonic_ms() ^ ((uint64_t)(uintptr_t)d << 16);
	d->site = site;
	store_fmt(d->dir, sizeof(d->dir), "%s", dir);
	if ((size_t)store_fmt(d->final, sizeof(d->final), "%s/%s", dir, name) >= sizeof(d->final) ||
	    (size_t)store_fmt(d->tmp, sizeof(d->tmp), "%s/.tmp-%s-%ld-%016llx", dir, name,
		(long)getpid(), (unsigned long long)rnd) >= sizeof(d->tmp)) {
		store_seterr(err, -ENAMETOOLONG, "%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	d->fd = durable_open(d->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644, site);
	if (d->fd < 0) {
		rc = -errno;
		store_seterr(err, rc, "%s: create: %s", d->tmp, strerror(-rc));
		return rc;
	}
	return 0;
}

int durable_append(struct durable *d, const void *buf, size_t len,
    struct store_error *err)
{
	int rc = durable_write_all(d->fd, buf, len, d->site);

	if (rc < 0)
		store_seterr(err, rc, "%s: write: %s", d->tmp, strerror(-rc));
	return rc;
}

void durable_abort(struct durable *d)
{
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
	if (d->tmp[0])
		unlink(d->tmp);
	d->tmp[0] = '\0';
}

static int durable_link_name(struct durable *d, atomic_int *link_mode)
{
	int rc;

	if (atomic_load(link_mode) == 0) {
		do
			rc = FAULT(d->site, "rename") < 0 ? -1 :
			    renameat2(AT_FDCWD, d->tmp, AT_FDCWD, d->final, RENAME_NOREPLACE);
		while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			d->tmp[0] = '\0';
			return 0;
		}
		if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		atomic_store(link_mode, 1);
	}
	do
		rc = FAULT(d->site, "link") < 0 ? -1 : link(d->tmp, d->final);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	/* The final name is in place; a temporary left over by a failing
	 * unlink is harmless (readers ignore it, recovery removes it). */
	unlink(d->tmp);
	d->tmp[0] = '\0';
	return 0;
}

int durable_commit(struct durable *d, atomic_int *link_mode,
    struct store_error *err)
{
	int rc;

	if (durable_sync(d->fd, 1, d->site) < 0) {
		rc = -errno;
		store_seterr(err, rc, "%s: fdatasync: %s", d->final, strerror(-rc));
		goto fail;
	}
	/* Linux releases the descriptor even when close reports EINTR, and
	 * fdatasync has already told the data's fate: EINTR is no error. */
	rc = close(d->fd) < 0 || FAULT(d->site, "close") < 0 ? -errno : 0;
	d->fd = -1;
	if (rc < 0 && rc != -EINTR) {
		store_seterr(err, rc, "%s: close: %s", d->final, strerror(-rc));
		goto fail;
	}
	rc = durable_link_name(d, link_mode);
	if (rc == -EEXIST) {
		store_seterr(err, rc, "%s: the name is already taken", d->final);
		goto fail;
	}
	if (rc == -ENOENT && access(d->tmp, F_OK) < 0 && errno == ENOENT) {
		/* Only a new writer's recovery removes temporaries. */
		d->tmp_gone = 1;
		store_seterr(err, rc, "%s: our temporary %s was removed before it was named (by another writer's recovery)",
		    d->final, d->tmp);
		goto fail;
	}
	if (rc < 0) {
		store_seterr(err, rc, "%s: naming the file: %s", d->final, strerror(-rc));
		goto fail;
	}
	d->visible = 1;
	return durable_fsync_dir(d->dir, d->site, err);
fail:
	durable_abort(d);
	return rc;
}

int durable_write(const char *dir, const char *name, const char *site,
    const void *buf, size_t len, atomic_int *link_mode, int *flags,
    struct store_error *err)
{
	struct durable d;
	int rc;

	if (flags)
		*flags = 0;
	rc = durable_begin(&d, dir, name, site, err);
	if (rc < 0)
		return rc;
	rc = durable_append(&d, buf, len, err);
	if (rc < 0) {
		durable_abort(&d);
		return rc;
	}
	rc = durable_commit(&d, link_mode, err);
	if (flags)
		*flags = (d.visible ? DURABLE_VISIBLE : 0) | (d.tmp_gone ? DURABLE_TMP_GONE : 0);
	return rc;
}
