/*
 * handle.c: a host's struct fence: made from the store directory after the
 * lease file has been checked, freed with everything it holds.
 */
#include "fence_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int handle_name_valid(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0 || n > FENCE_HOST_NAME_MAX)
		return 0;
	return strpbrk(name, "/\n\r") == NULL;
}

int fence_open(const char *store_dir, const char *group, unsigned host_id,
    const char *host_name, struct fence **out, struct fence_error *err)
{
	struct fence_lease_info info;
	struct fence *f = NULL;
	int rc;

	*out = NULL;
	if (host_id < 1 || host_id > FENCE_HOST_ID_MAX)
		return fence_fail(err, -EINVAL, "host id %u is not in 1..%u", host_id,
		    FENCE_HOST_ID_MAX);
	if (!handle_name_valid(host_name))
		return fence_fail(err, -EINVAL, "host name \"%s\" is not 1..%d bytes without "
		    "'/' or newlines", host_name ? host_name : "", FENCE_HOST_NAME_MAX);
	if (!lease_group_valid(group))
		return fence_fail(err, -EINVAL, "group name \"%s\" is not 1..%d of "
		    "A-Z a-z 0-9 . _ -", group ? group : "", FENCE_GROUP_MAX);
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return fence_fail(err, -ENOMEM, "host %u: out of memory", host_id);
	f->sock = -1;
	f->join_fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	if (snprintf(f->store_dir, sizeof(f->store_dir), "%s", store_dir) >=
	    (int)sizeof(f->store_dir) ||
	    fence_lease_path(store_dir, f->lease_path, sizeof(f->lease_path)) < 0) {
		rc = fence_fail(err, -ENAMETOOLONG, "store %s: path too long", store_dir);
		goto fail;
	}
	snprintf(f->group, sizeof(f->group), "%s", group);
	snprintf(f->host_name, sizeof(f->host_name), "%s", host_name);
	f->host_id = host_id;
	rc = fence_lease_check(f->lease_path, group, &info, err);
	if (rc < 0)
		goto fail;
	f->io_timeout = info.io_timeout;
	*out = f;
	return 0;
fail:
	pthread_mutex_destroy(&f->lock);
	free(f);
	return rc;
}

unsigned fence_io_timeout(const struct fence *f)
{
	return f->io_timeout;
}

void fence_close(struct fence *f)
{
	if (f == NULL)
		return;
	if (f->join_thread_live)
		pthread_join(f->join_thread, NULL);
	if (f->sock >= 0)
		close(f->sock);
	if (f->join_fd >= 0)
		close(f->join_fd);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
