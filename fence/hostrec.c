/*
 * hostrec.c: DIR/hosts/HOSTID, the name of the host that joined with each
 * host id.  sanlock records only ids (and a per-daemon uuid), so these files
 * let a failed acquire say which host holds the lease.  Informational: a
 * missing or stale record only makes a message less helpful.
 */
#include "fence_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOSTREC_DIR "hosts"

static int hostrec_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes a temporary name, fsyncs, renames over the record and fsyncs the
 * folder: a reader sees the old name or the new one, never a torn one. */
int hostrec_write(const char *store_dir, unsigned host_id, const char *name)
{
	char dir[4200], path[4300], tmp[4300], line[FENCE_HOST_NAME_MAX + 2];
	int fd = -1, dfd = -1, rc;

	snprintf(dir, sizeof(dir), "%s/%s", store_dir, HOSTREC_DIR);
	snprintf(path, sizeof(path), "%s/%u", dir, host_id);
	snprintf(tmp, sizeof(tmp), "%s/.%u.%ld", dir, host_id, (long)getpid());
	snprintf(line, sizeof(line), "%s\n", name);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = hostrec_write_all(fd, line, strlen(line));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		rc = -errno;
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int fence_host_name(const char *store_dir, uint64_t host_id, char *name, size_t len)
{
	char path[4300], buf[FENCE_HOST_NAME_MAX + 2];
	ssize_t n;
	int fd;

	if (len == 0)
		return -EINVAL;
	name[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s/%llu", store_dir, HOSTREC_DIR,
	    (unsigned long long)host_id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(name, len, "%s", buf);
	return 0;
}

void hostrec_fill(const char *store_dir, uint64_t host_id, struct fence_holder *holder)
{
	if (holder == NULL)
		return;
	holder->host_id = host_id;
	holder->name[0] = '\0';
	if (host_id != 0)
		fence_host_name(store_dir, host_id, holder->name, sizeof(holder->name));
}
