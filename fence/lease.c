/*
 * lease.c: the lease file: its layout, its creation by `ssfm init` (without
 * a sanlock daemon, so that init works on a fresh host), and its check.
 */
#include "fence_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sanlock.h>
#include <sanlock_admin.h>
#include <sanlock_direct.h>
#include <sanlock_rv.h>

/* The leader records sanlock writes at the start of each area (sanlock's
 * on-disk format, little-endian; read here only to explain a bad file
 * before sanlock is asked to use it). */
#define LEASE_SECTOR 512u
#define LEASE_DELTA_MAGIC 0x12212010u
#define LEASE_PAXOS_MAGIC 0x06152010u
#define LEASE_OFF_MAGIC 0
#define LEASE_OFF_VERSION 4
/* A paxos lease: the leader (sector 0), a request record (1), then one
 * dblock per host id (sector 1 + host id): mbal, bal, inp (host id),
 * inp2, inp3, lver, checksum, flags. */
#define LEASE_DBLOCK_FIRST 2
#define LEASE_DBLOCK_OFF_INP 16
#define LEASE_DBLOCK_OFF_LVER 40
#define LEASE_DBLOCK_OFF_FLAGS 52
#define LEASE_DBLOCK_RELEASED 0x1u
#define LEASE_PAXOS_VERSION_MAJOR 0x00060000u
#define LEASE_OFF_OWNER_ID 32
#define LEASE_OFF_OWNER_GENERATION 40
#define LEASE_OFF_LVER 48
#define LEASE_OFF_SPACE_NAME 56
#define LEASE_OFF_RESOURCE_NAME 104
#define LEASE_OFF_TIMESTAMP 152
#define LEASE_OFF_IO_TIMEOUT 174

#define LEASE_FLAGS (SANLK_LSF_ALIGN1M | SANLK_LSF_SECTOR512)

int lease_group_valid(const char *group)
{
	size_t n = group != NULL ? strlen(group) : 0;

	if (n == 0 || n > FENCE_GROUP_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = group[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

void lease_fill_lockspace(struct sanlk_lockspace *ls, const char *lease_path,
    const char *group, unsigned host_id)
{
	memset(ls, 0, sizeof(*ls));
	memcpy(ls->name, group, strnlen(group, SANLK_NAME_LEN));
	ls->host_id = host_id;
	ls->flags = LEASE_FLAGS;
	snprintf(ls->host_id_disk.path, sizeof(ls->host_id_disk.path), "%s", lease_path);
	ls->host_id_disk.offset = 0;
}

void lease_fill_resource(struct lease_res *lr, const char *lease_path, const char *group)
{
	memset(lr, 0, sizeof(*lr));
	memcpy(lr->res.lockspace_name, group, strnlen(group, SANLK_NAME_LEN));
	memcpy(lr->res.name, FENCE_RESOURCE_NAME, sizeof(FENCE_RESOURCE_NAME) - 1);
	lr->res.flags = SANLK_RES_ALIGN1M | SANLK_RES_SECTOR512;
	lr->res.num_disks = 1;
	snprintf(lr->disk.path, sizeof(lr->disk.path), "%s", lease_path);
	lr->disk.offset = FENCE_RESOURCE_OFFSET;
}

int fence_lease_path(const char *store_dir, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", store_dir, "lease");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int lease_fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

static int lease_write_zeros(int fd)
{
	static const char zeros[65536];
	off_t done = 0;

	while (done < (off_t)FENCE_LEASE_SIZE) {
		ssize_t n = pwrite(fd, zeros, sizeof(zeros), done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

int fence_lease_init(const char *lease_path, const char *group, unsigned io_timeout,
    struct fence_error *err)
{
	struct sanlk_lockspace ls;
	struct lease_res lr;
	int fd = -1, created = 0, rc;

	if (!lease_group_valid(group)) {
		rc = fence_fail(err, -EINVAL, "lease %s: group name \"%s\" is not 1..%d of "
		    "A-Z a-z 0-9 . _ -", lease_path, group ? group : "", FENCE_GROUP_MAX);
		goto out;
	}
	if (io_timeout < FENCE_IO_TIMEOUT_MIN || io_timeout > FENCE_IO_TIMEOUT_MAX) {
		rc = fence_fail(err, -EINVAL, "lease %s: io_timeout %u is not in %u..%u seconds",
		    lease_path, io_timeout, FENCE_IO_TIMEOUT_MIN, FENCE_IO_TIMEOUT_MAX);
		goto out;
	}
	fd = open(lease_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EEXIST)
			fence_fail(err, rc, "lease %s: already exists (refusing to reset a lease "
			    "that hosts may hold)", lease_path);
		else
			fence_fail(err, rc, "lease %s: cannot create: %s", lease_path, strerror(-rc));
		goto out;
	}
	created = 1;
	rc = lease_write_zeros(fd);
	if (rc < 0) {
		fence_fail(err, rc, "lease %s: cannot write: %s", lease_path, strerror(-rc));
		goto out;
	}
	close(fd);
	fd = open(lease_path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EINVAL)
			rc = fence_fail(err, -FENCE_ENODIRECT, "lease %s: the filesystem does not "
			    "support O_DIRECT, which sanlock needs: put the store on a filesystem "
			    "that does (CephFS, NFS, ext4, xfs)", lease_path);
		else
			fence_fail(err, rc, "lease %s: cannot open: %s", lease_path, strerror(-rc));
		goto out;
	}

	lease_fill_lockspace(&ls, lease_path, group, 0);
	rc = sanlock_direct_write_lockspace(&ls, 0, 0, io_timeout);
	if (rc < 0) {
		rc = fence_fail_sanlock(err, rc, "lease %s: writing lockspace %s", lease_path, group);
		goto out;
	}
	lease_fill_resource(&lr, lease_path, group);
	rc = sanlock_direct_write_resource(&lr.res, 0, 0, 0);
	if (rc < 0) {
		rc = fence_fail_sanlock(err, rc, "lease %s: writing resource %s", lease_path,
		    FENCE_RESOURCE_NAME);
		goto out;
	}
	if (fsync(fd) < 0 || (rc = lease_fsync_dir(lease_path)) < 0) {
		rc = rc < 0 ? rc : -errno;
		fence_fail(err, rc, "lease %s: fsync: %s", lease_path, strerror(-rc));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && created)
		unlink(lease_path);
	return rc;
}

static uint64_t lease_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int lease_read_sector(int fd, unsigned char *buf, off_t off, const char *path,
    struct fence_error *err)
{
	for (;;) {
		ssize_t n = pread(fd, buf, LEASE_SECTOR, off);
		if (n == (ssize_t)LEASE_SECTOR)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL)
			return fence_fail(err, -FENCE_ENODIRECT, "lease %s: the filesystem does "
			    "not support O_DIRECT reads, which sanlock needs", path);
		if (n < 0)
			return fence_fail(err, -errno, "lease %s: read at %lld: %s", path,
			    (long long)off, strerror(errno));
		return fence_fail(err, -FENCE_ETOOSMALL, "lease %s: short read at %lld", path,
		    (long long)off);
	}
}

/* The lease file opened O_DIRECT for reading, with a sector buffer aligned
 * for it (*buf, the caller frees it); the fd or -errno. */
static int lease_open_direct(const char *lease_path, unsigned char **buf)
{
	int fd = open(lease_path, O_RDONLY | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (posix_memalign((void **)buf, 4096, LEASE_SECTOR) != 0) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

int lease_read_delta_timestamp(const char *lease_path, unsigned host_id, uint64_t *timestamp)
{
	unsigned char *buf = NULL;
	int fd, rc;

	fd = lease_open_direct(lease_path, &buf);
	if (fd < 0)
		return fd;
	rc = lease_read_sector(fd, buf, (off_t)(host_id - 1) * LEASE_SECTOR, lease_path, NULL);
	if (rc == 0 && lease_le(buf + LEASE_OFF_MAGIC, 4) != LEASE_DELTA_MAGIC)
		rc = -FENCE_EUNINIT;
	if (rc == 0)
		*timestamp = lease_le(buf + LEASE_OFF_TIMESTAMP, 8);
	free(buf);
	close(fd);
	return rc;
}

int fence_lease_check(const char *lease_path, const char *group,
    struct fence_lease_info *info, struct fence_error *err)
{
	unsigned char *buf = NULL;
	struct stat st;
	char name[FENCE_GROUP_MAX + 1];
	int fd = -1, rc;

	if (stat(lease_path, &st) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			rc = fence_fail(err, -FENCE_ENOLEASE, "lease %s: no such file: run "
			    "`ssfm init` for this store, or check the store directory", lease_path);
		else if (rc == -EACCES)
			fence_fail(err, rc, "lease %s: permission denied (this user cannot reach "
			    "the store directory)", lease_path);
		else
			fence_fail(err, rc, "lease %s: %s", lease_path, strerror(-rc));
		goto out;
	}
	fd = open(lease_path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EINVAL)
			rc = fence_fail(err, -FENCE_ENODIRECT, "lease %s: the filesystem does not "
			    "support O_DIRECT, which sanlock needs: put the store on a filesystem "
			    "that does (CephFS, NFS, ext4, xfs)", lease_path);
		else if (rc == -EACCES)
			fence_fail(err, rc, "lease %s: permission denied: it must be readable and "
			    "writable by ssfmd and the sanlock daemon", lease_path);
		else
			fence_fail(err, rc, "lease %s: cannot open: %s", lease_path, strerror(-rc));
		goto out;
	}
	if (st.st_size < (off_t)FENCE_LEASE_SIZE) {
		rc = fence_fail(err, -FENCE_ETOOSMALL, "lease %s: %lld bytes, too small: a lease "
		    "file holds %u bytes (lockspace and resource); was it truncated?",
		    lease_path, (long long)st.st_size, FENCE_LEASE_SIZE);
		goto out;
	}
	if (posix_memalign((void **)&buf, 4096, LEASE_SECTOR) != 0) {
		buf = NULL;
		rc = fence_fail(err, -ENOMEM, "lease %s: out of memory", lease_path);
		goto out;
	}

	rc = lease_read_sector(fd, buf, 0, lease_path, err);
	if (rc < 0)
		goto out;
	if (lease_le(buf + LEASE_OFF_MAGIC, 4) != LEASE_DELTA_MAGIC) {
		rc = fence_fail(err, -FENCE_EUNINIT, "lease %s: no lockspace at offset 0: the "
		    "lease file is not initialised (run `ssfm init`)", lease_path);
		goto out;
	}
	memcpy(name, buf + LEASE_OFF_SPACE_NAME, FENCE_GROUP_MAX);
	name[FENCE_GROUP_MAX] = '\0';
	if (group != NULL && strcmp(name, group) != 0) {
		rc = fence_fail(err, -FENCE_EUNINIT, "lease %s: the lockspace is for group \"%s\", "
		    "not \"%s\"", lease_path, name, group);
		goto out;
	}
	if (info != NULL) {
		memset(info, 0, sizeof(*info));
		memcpy(info->group, name, sizeof(name));
		info->io_timeout = (unsigned)lease_le(buf + LEASE_OFF_IO_TIMEOUT, 2);
	}

	rc = lease_read_sector(fd, buf, FENCE_RESOURCE_OFFSET, lease_path, err);
	if (rc < 0)
		goto out;
	if (lease_le(buf + LEASE_OFF_MAGIC, 4) != LEASE_PAXOS_MAGIC ||
	    strncmp((char *)buf + LEASE_OFF_RESOURCE_NAME, FENCE_RESOURCE_NAME,
	    SANLK_NAME_LEN) != 0) {
		rc = fence_fail(err, -FENCE_EUNINIT, "lease %s: no resource \"%s\" at offset %u: "
		    "the lease file is not initialised (run `ssfm init`)", lease_path,
		    FENCE_RESOURCE_NAME, FENCE_RESOURCE_OFFSET);
		goto out;
	}
	if (info != NULL) {
		info->lver = lease_le(buf + LEASE_OFF_LVER, 8);
		info->owner_id = lease_le(buf + LEASE_OFF_OWNER_ID, 8);
		info->owner_held = lease_le(buf + LEASE_OFF_TIMESTAMP, 8) != 0;
		if (info->io_timeout < FENCE_IO_TIMEOUT_MIN || info->io_timeout > FENCE_IO_TIMEOUT_MAX) {
			rc = fence_fail(err, -FENCE_EUNINIT, "lease %s: the lockspace's io_timeout "
			    "%u is outside %u..%u", lease_path, info->io_timeout,
			    FENCE_IO_TIMEOUT_MIN, FENCE_IO_TIMEOUT_MAX);
			goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
}

int lease_read_leader(const char *lease_path, const char *group, struct lease_leader *out)
{
	unsigned char *buf = NULL;
	int fd, rc;

	fd = lease_open_direct(lease_path, &buf);
	if (fd < 0)
		return fd;
	rc = lease_read_sector(fd, buf, FENCE_RESOURCE_OFFSET, lease_path, NULL);
	/* Only a leader of the on-disk version this was written against, for
	 * this group's resource, is read; anything else is "cannot tell". */
	if (rc == 0 && (lease_le(buf + LEASE_OFF_MAGIC, 4) != LEASE_PAXOS_MAGIC ||
	    (lease_le(buf + LEASE_OFF_VERSION, 4) & 0xffff0000u) != LEASE_PAXOS_VERSION_MAJOR ||
	    strncmp((char *)buf + LEASE_OFF_SPACE_NAME, group, SANLK_NAME_LEN) != 0 ||
	    strncmp((char *)buf + LEASE_OFF_RESOURCE_NAME, FENCE_RESOURCE_NAME, SANLK_NAME_LEN) != 0))
		rc = -FENCE_EUNINIT;
	if (rc == 0) {
		out->owner_id = lease_le(buf + LEASE_OFF_OWNER_ID, 8);
		out->owner_generation = lease_le(buf + LEASE_OFF_OWNER_GENERATION, 8);
		out->lver = lease_le(buf + LEASE_OFF_LVER, 8);
		out->timestamp = lease_le(buf + LEASE_OFF_TIMESTAMP, 8);
		out->released = 0;
	}
	/* sanlock may release without writing the leader: when another host
	 * wrote the leader last (it committed our ballot), the release is
	 * only the RELEASED flag in the owner's own dblock for that lease
	 * version, and an acquire reads it there.  So must we. */
	if (rc == 0 && out->timestamp != 0 && out->owner_id >= 1 && out->owner_id <= FENCE_HOST_ID_MAX) {
		off_t at = FENCE_RESOURCE_OFFSET + (off_t)(LEASE_DBLOCK_FIRST + out->owner_id - 1) * LEASE_SECTOR;
		rc = lease_read_sector(fd, buf, at, lease_path, NULL);
		if (rc == 0 && lease_le(buf + LEASE_DBLOCK_OFF_INP, 8) == out->owner_id &&
		    lease_le(buf + LEASE_DBLOCK_OFF_LVER, 8) == out->lver &&
		    (lease_le(buf + LEASE_DBLOCK_OFF_FLAGS, 4) & LEASE_DBLOCK_RELEASED) != 0)
			out->released = 1;
	}
	free(buf);
	close(fd);
	return rc;
}
