/*
 * storage_probe.c: what a filesystem does when the store and sanlock use
 * it (storage_probe.h).
 *
 * Each probe does the real thing rather than guessing from the type: the
 * same kernel can give O_DIRECT to one tmpfs and not to an older one, and
 * a FUSE filesystem answers renameat2 flags as its server decides.
 */
#include "storage_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define PROBE_BLOCK 4096

static const struct { uint64_t magic; const char *name; } probe_magics[] = {
	{ 0xEF53, "ext4" }, { 0x58465342, "xfs" }, { 0x9123683E, "btrfs" },
	{ 0x01021994, "tmpfs" }, { 0x858458F6, "ramfs" }, { 0x6969, "nfs" },
	{ 0x00C36400, "ceph" }, { 0x65735546, "fuse" }, { 0x794C7630, "overlay" },
	{ 0x2FC12FC1, "zfs" }, { 0x01161970, "gfs2" }, { 0x7461636F, "ocfs2" },
	{ 0xFF534D42, "cifs" }, { 0xFE534D42, "smb2" }, { 0x0BD00BD0, "lustre" },
	{ 0x47504653, "gpfs" },
};

int probe_option(const char *options, const char *name, char *value, size_t len)
{
	size_t nlen = strlen(name);
	const char *p = options;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t flen = end ? (size_t)(end - p) : strlen(p);
		if (flen >= nlen && strncmp(p, name, nlen) == 0 &&
		    (flen == nlen || p[nlen] == '=')) {
			if (value != NULL && len > 0) {
				size_t vlen = flen > nlen ? flen - nlen - 1 : 0;
				if (vlen >= len)
					vlen = len - 1;
				memcpy(value, p + (flen > nlen ? nlen + 1 : nlen), vlen);
				value[vlen] = '\0';
			}
			return 1;
		}
		p += flen;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Copies a mountinfo field, decoding \ooo escapes. */
static void probe_unescape(char *out, size_t size, const char *in, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < size; i++) {
		if (in[i] == '\\' && i + 3 < len &&
		    in[i + 1] >= '0' && in[i + 1] <= '3' && in[i + 2] >= '0' && in[i + 2] <= '7' &&
		    in[i + 3] >= '0' && in[i + 3] <= '7') {
			out[o++] = (char)((in[i + 1] - '0') * 64 + (in[i + 2] - '0') * 8 + (in[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

/* Splits a line into space-separated fields (at most max); returns the count. */
static int probe_fields(const char *line, size_t len, const char **f, size_t *flen, int max)
{
	int n = 0;
	size_t i = 0;

	while (i < len && n < max) {
		while (i < len && line[i] == ' ')
			i++;
		if (i >= len)
			break;
		f[n] = line + i;
		while (i < len && line[i] != ' ')
			i++;
		flen[n] = (size_t)(line + i - f[n]);
		n++;
	}
	return n;
}

static int probe_under(const char *path, const char *mount_point)
{
	size_t n = strlen(mount_point);

	if (strcmp(mount_point, "/") == 0)
		return path[0] == '/';
	return strncmp(path, mount_point, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * mountinfo(5): ID PARENT MAJ:MIN ROOT MOUNT_POINT MOUNT_OPTIONS [OPTIONAL...]
 * - FSTYPE SOURCE SUPER_OPTIONS.  The last matching line wins among equals:
 * a later mount on the same point hides the earlier one.
 */
int probe_mountinfo_find(const char *text, const char *real_path, struct probe_mount *m)
{
	const char *line = text;
	size_t best = 0;
	int found = 0;

	while (*line != '\0') {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *f[64];
		size_t fl[64];
		int n = probe_fields(line, len, f, fl, 64), dash = -1;
		char point[1024];

		for (int i = 6; i < n; i++)
			if (fl[i] == 1 && f[i][0] == '-') {
				dash = i;
				break;
			}
		if (n >= 6 && dash > 0 && dash + 2 < n) {
			probe_unescape(point, sizeof(point), f[4], fl[4]);
			size_t plen = strlen(point);
			if (probe_under(real_path, point) && plen >= best) {
				best = plen;
				found = 1;
				snprintf(m->mount_point, sizeof(m->mount_point), "%s", point);
				snprintf(m->fstype, sizeof(m->fstype), "%.*s", (int)fl[dash + 1], f[dash + 1]);
				probe_unescape(m->source, sizeof(m->source), f[dash + 2], fl[dash + 2]);
				snprintf(m->options, sizeof(m->options), "%.*s", (int)fl[5], f[5]);
				if (dash + 3 < n) {
					size_t used = strlen(m->options);
					snprintf(m->options + used, sizeof(m->options) - used, ",%.*s",
					    (int)fl[dash + 3], f[dash + 3]);
				}
			}
		}
		line += len;
		if (*line == '\n')
			line++;
	}
	return found;
}

int probe_mount(const char *path, struct probe_mount *m)
{
	char real[PATH_MAX];
	struct statfs sf;
	char *text = NULL;
	size_t cap = 0, len = 0;
	FILE *f;

	memset(m, 0, sizeof(*m));
	if (statfs(path, &sf) < 0)
		return -errno;
	m->magic = (uint64_t)(unsigned long)sf.f_type & 0xFFFFFFFFu;
	m->magic_name = "unknown";
	for (size_t i = 0; i < sizeof(probe_magics) / sizeof(probe_magics[0]); i++)
		if (probe_magics[i].magic == m->magic)
			m->magic_name = probe_magics[i].name;
	if (realpath(path, real) == NULL)
		return -errno;
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return 0;
	for (;;) {
		if (len + 4097 > cap) {
			char *more = realloc(text, cap + 65536);
			if (more == NULL)
				break;
			text = more;
			cap += 65536;
		}
		size_t n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	if (text != NULL) {
		text[len] = '\0';
		probe_mountinfo_find(text, real, m);
	}
	free(text);
	return 0;
}

static int probe_scratch_path(char *out, size_t size, const char *scratch, const char *name)
{
	if ((size_t)snprintf(out, size, "%s/%s", scratch, name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int probe_direct_io(const char *scratch, const char **step)
{
	char path[PATH_MAX];
	void *wbuf = NULL, *rbuf = NULL;
	int fd = -1, rc;

	*step = "open";
	rc = probe_scratch_path(path, sizeof(path), scratch, "direct");
	if (rc < 0)
		return rc;
	if (posix_memalign(&wbuf, PROBE_BLOCK, PROBE_BLOCK) != 0 ||
	    posix_memalign(&rbuf, PROBE_BLOCK, PROBE_BLOCK) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	memset(wbuf, 0x5a, PROBE_BLOCK);
	memset(rbuf, 0, PROBE_BLOCK);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	*step = "write";
	ssize_t n = pwrite(fd, wbuf, PROBE_BLOCK, 0);
	if (n != PROBE_BLOCK) {
		rc = n < 0 ? -errno : -EIO;
		goto out;
	}
	*step = "read";
	n = pread(fd, rbuf, PROBE_BLOCK, 0);
	if (n != PROBE_BLOCK) {
		rc = n < 0 ? -errno : -EIO;
		goto out;
	}
	*step = "compare";
	rc = memcmp(wbuf, rbuf, PROBE_BLOCK) == 0 ? 0 : -EIO;
out:
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(wbuf);
	free(rbuf);
	return rc;
}

static int probe_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		rc = -EIO;
	close(fd);
	return rc;
}

static int probe_holds(const char *path, const char *text)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, text) == 0;
}

static int probe_rename_noreplace(const char *from, const char *to)
{
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0 ? -errno : 0;
}

int probe_noclobber(const char *scratch, struct probe_noclobber *r)
{
	char a[PATH_MAX], b[PATH_MAX], taken[PATH_MAX], la[PATH_MAX], lb[PATH_MAX];
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = probe_scratch_path(a, sizeof(a), scratch, "nr-a")) < 0 ||
	    (rc = probe_scratch_path(b, sizeof(b), scratch, "nr-b")) < 0 ||
	    (rc = probe_scratch_path(taken, sizeof(taken), scratch, "nr-taken")) < 0 ||
	    (rc = probe_scratch_path(la, sizeof(la), scratch, "ln-a")) < 0 ||
	    (rc = probe_scratch_path(lb, sizeof(lb), scratch, "ln-b")) < 0)
		return rc;
	if ((rc = probe_write_file(taken, "taken")) < 0 || (rc = probe_write_file(a, "a")) < 0 ||
	    (rc = probe_write_file(la, "la")) < 0)
		goto out;
	r->rename_free = probe_rename_noreplace(a, b);
	/* Onto a taken name: from whichever name the first rename left. */
	r->rename_taken = probe_rename_noreplace(r->rename_free == 0 ? b : a, taken);
	r->link_free = link(la, lb) < 0 ? -errno : 0;
	r->link_taken = link(la, taken) < 0 ? -errno : 0;
	r->taken_intact = probe_holds(taken, "taken");
out:
	unlink(a);
	unlink(b);
	unlink(taken);
	unlink(la);
	unlink(lb);
	return rc;
}

static int probe_cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static uint64_t probe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int probe_fsync(const char *scratch, unsigned samples, uint64_t *us)
{
	char path[PATH_MAX], block[PROBE_BLOCK];
	int rc = 0;

	memset(block, 0xa5, sizeof(block));
	for (unsigned i = 0; i < samples; i++) {
		char name[32];
		snprintf(name, sizeof(name), "fsync-%u", i);
		rc = probe_scratch_path(path, sizeof(path), scratch, name);
		if (rc < 0)
			return rc;
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		uint64_t t0 = probe_now_us();
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
			rc = -EIO;
		else if (fdatasync(fd) < 0)
			rc = -errno;
		us[i] = probe_now_us() - t0;
		close(fd);
		unlink(path);
		if (rc < 0)
			return rc;
	}
	qsort(us, samples, sizeof(*us), probe_cmp_u64);
	return 0;
}

uint64_t probe_percentile(const uint64_t *sorted, unsigned n, double q)
{
	if (n == 0)
		return 0;
	unsigned rank = (unsigned)(q * n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

int probe_inotify(const char *scratch, int timeout_ms)
{
	char path[PATH_MAX];
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int fd, rc = 0;

	rc = probe_scratch_path(path, sizeof(path), scratch, "inotify-seen");
	if (rc < 0)
		return rc;
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (inotify_add_watch(fd, scratch, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		rc = -errno;
		goto out;
	}
	rc = probe_write_file(path, "x");
	if (rc < 0)
		goto out;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	rc = poll(&pfd, 1, timeout_ms) > 0 && read(fd, buf, sizeof(buf)) > 0;
out:
	unlink(path);
	close(fd);
	return rc;
}
