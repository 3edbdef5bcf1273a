/*
 * resource.c: the resource "active": acquire (without waiting), release,
 * what this process holds, and who holds it according to the disk.
 *
 * The process that calls these registers with its sanlock daemon and holds
 * the lease itself (sock > -1, pid -1): when it dies sanlock frees the lease
 * at once.  The epoch is the lease version sanlock reports for the token
 * this process holds (sanlock_inquire), which grows with every acquisition.
 */
#include "fence_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanlock.h>
#include <sanlock_admin.h>
#include <sanlock_resource.h>
#include <sanlock_rv.h>

int resource_register(struct fence *f, struct fence_error *err)
{
	int sock;

	if (f->sock >= 0)
		return 0;
	sock = sanlock_register();
	if (sock < 0)
		return fence_fail_sanlock(err, sock, "host id %u (%s): registering with sanlock",
		    f->host_id, f->host_name);
	f->sock = sock;
	return 0;
}

/* Finds "GROUP:active:..." in sanlock's state string ("RES RES ...", each
 * "lockspace:resource:path:offset:lver") and returns its lver. */
static int resource_parse_state(const struct fence *f, const char *state, uint64_t *lver)
{
	char prefix[FENCE_GROUP_MAX + sizeof(FENCE_RESOURCE_NAME) + 3];
	const char *p = state;
	size_t plen;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s:%s:", f->group, FENCE_RESOURCE_NAME);
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ' ');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len > plen && strncmp(p, prefix, plen) == 0) {
			const char *colon = p + len;
			while (colon > p && colon[-1] != ':')
				colon--;
			char *stop;
			unsigned long long v = strtoull(colon, &stop, 10);
			if (stop == colon || (stop != p + len))
				return -EINVAL;
			*lver = v;
			return 1;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

int fence_inquire(struct fence *f, int *held, uint64_t *epoch, struct fence_error *err)
{
	char *state = NULL;
	int count = 0, rv;

	*held = 0;
	if (f->sock < 0)
		return 0;
	rv = sanlock_inquire(f->sock, -1, 0, &count, &state);
	if (rv < 0)
		return fence_fail_sanlock(err, rv, "lease %s: inquire for host id %u",
		    f->lease_path, f->host_id);
	rv = state != NULL ? resource_parse_state(f, state, epoch) : 0;
	if (rv < 0)
		rv = fence_fail(err, -FENCE_ESANLOCK, "lease %s: cannot read the lease version "
		    "in sanlock's answer \"%s\"", f->lease_path, state);
	else
		*held = rv;
	free(state);
	return rv < 0 ? rv : 0;
}

int fence_owner(struct fence *f, struct fence_holder *holder, int *held,
    uint64_t *lver, struct fence_error *err)
{
	struct lease_res lr;
	struct sanlk_host *hss = NULL;
	int count = 0, rv;

	lease_fill_resource(&lr, f->lease_path, f->group);
	rv = sanlock_read_resource_owners(&lr.res, 0, &hss, &count);
	if (rv < 0) {
		rv = fence_fail_sanlock(err, rv, "lease %s: reading resource %s", f->lease_path,
		    FENCE_RESOURCE_NAME);
		goto out;
	}
	if (lver != NULL)
		*lver = lr.res.lver;
	if (held != NULL)
		*held = count > 0 && hss != NULL && hss[0].timestamp != 0;
	hostrec_fill(f->store_dir, count > 0 && hss != NULL ? hss[0].host_id : 0, holder);
	rv = 0;
out:
	free(hss);
	return rv;
}

int fence_lease_busy(struct fence *f, struct fence_holder *holder, struct fence_error *err)
{
	struct lease_res lr;
	struct lease_leader leader;
	struct sanlk_host owner, *hss = NULL;
	uint32_t test = 0;
	int count = 0, rv;

	if (holder != NULL)
		memset(holder, 0, sizeof(*holder));
	rv = lease_read_leader(f->lease_path, f->group, &leader);
	if (rv < 0)
		return fence_fail(err, rv, "lease %s: reading the leader of %s: %s", f->lease_path,
		    FENCE_RESOURCE_NAME, rv == -FENCE_EUNINIT ? "not a sanlock paxos leader "
		    "of the expected format" : strerror(-rv));
	/* Free, released by its owner, or held by this very host id (sanlock
	 * lets a host's new process take over what its dead one held). */
	if (leader.timestamp == 0 || leader.owner_id == 0 || leader.released ||
	    leader.owner_id == f->host_id)
		return 0;
	rv = sanlock_get_hosts(f->group, leader.owner_id, &hss, &count, 0);
	if (rv < 0 && rv != -ENOENT) {
		free(hss);
		return fence_fail_sanlock(err, rv, "lease %s: state of host id %" PRIu64,
		    f->lease_path, leader.owner_id);
	}
	memset(&owner, 0, sizeof(owner));
	owner.host_id = leader.owner_id;
	owner.generation = leader.owner_generation;
	owner.timestamp = leader.timestamp;
	lease_fill_resource(&lr, f->lease_path, f->group);
	rv = sanlock_test_resource_owners(&lr.res, 0, &owner, 1, hss, rv < 0 ? 0 : count, &test);
	free(hss);
	if (rv < 0)
		return fence_fail_sanlock(err, rv, "lease %s: testing the owner host id %" PRIu64,
		    f->lease_path, leader.owner_id);
	if (!(test & SANLK_TRF_FAIL))
		return 0;
	hostrec_fill(f->store_dir, leader.owner_id, holder);
	return 1;
}

int fence_acquire(struct fence *f, uint64_t *epoch, struct fence_holder *holder,
    struct fence_error *err)
{
	struct lease_res lr;
	struct sanlk_resource *res = &lr.res;
	struct fence_holder who;
	struct lease_leader leader;
	int held = 0, rv;

	if (holder != NULL)
		memset(holder, 0, sizeof(*holder));
	rv = resource_register(f, err);
	if (rv < 0)
		return rv;
	lease_fill_resource(&lr, f->lease_path, f->group);
	rv = sanlock_acquire(f->sock, -1, SANLK_ACQUIRE_OWNER_NOWAIT, 1, &res, NULL);
	if (rv == 0 || rv == -EEXIST) {
		rv = fence_inquire(f, &held, epoch, err);
		if (rv == 0 && !held)
			rv = fence_fail(err, -FENCE_ESANLOCK, "lease %s: acquired, but sanlock does "
			    "not list it for host id %u", f->lease_path, f->host_id);
		return rv;
	}
	if (rv == -ENOSPC || rv == -ENOENT) {
		struct fence_error tmp;
		if (fence_join_poll(f, &tmp) != FENCE_JOINED)
			return fence_fail(err, -FENCE_ENOTJOINED, "lease %s: host id %u (%s) has "
			    "not joined lockspace %s", f->lease_path, f->host_id, f->host_name,
			    f->group);
	}
	if (fence_fail_sanlock(NULL, rv, "-") != -FENCE_EHELD)
		return fence_fail_sanlock(err, rv, "lease %s: acquiring %s for host id %u (%s)",
		    f->lease_path, FENCE_RESOURCE_NAME, f->host_id, f->host_name);

	/* Named from the leader sector alone: fence_owner would read the whole
	 * lease area again, after the ballot that just read it. */
	memset(&who, 0, sizeof(who));
	if (lease_read_leader(f->lease_path, f->group, &leader) == 0)
		hostrec_fill(f->store_dir, leader.owner_id, &who);
	if (who.host_id != 0) {
		if (holder != NULL)
			*holder = who;
		return fence_fail(err, -FENCE_EHELD, "lease %s: %s is held by host id %" PRIu64
		    " (%s)%s", f->lease_path, FENCE_RESOURCE_NAME, who.host_id,
		    who.name[0] ? who.name : "no name recorded",
		    rv == SANLK_ACQUIRE_OWNED_RETRY ? "; its lease has not expired yet" : "");
	}
	return fence_fail(err, -FENCE_EHELD, "lease %s: %s is held by another host (sanlock %d)",
	    f->lease_path, FENCE_RESOURCE_NAME, rv);
}

int fence_release(struct fence *f, struct fence_error *err)
{
	struct lease_res lr;
	struct sanlk_resource *res = &lr.res;
	int rv;

	uint64_t epoch;
	int held = 0;

	rv = fence_inquire(f, &held, &epoch, err);
	if (rv < 0)
		return rv;
	if (!held)
		return fence_fail(err, -FENCE_ENOTHELD, "lease %s: host id %u does not hold %s",
		    f->lease_path, f->host_id, FENCE_RESOURCE_NAME);
	lease_fill_resource(&lr, f->lease_path, f->group);
	rv = sanlock_release(f->sock, -1, 0, 1, &res);
	if (rv == -ENOENT)
		return fence_fail(err, -FENCE_ENOTHELD, "lease %s: host id %u does not hold %s",
		    f->lease_path, f->host_id, FENCE_RESOURCE_NAME);
	if (rv < 0)
		return fence_fail_sanlock(err, rv, "lease %s: releasing %s for host id %u",
		    f->lease_path, FENCE_RESOURCE_NAME, f->host_id);
	return 0;
}
