/*
 * fence_int.h: what the files of fence/ share (private; fence.h is the
 * public interface).
 */
#ifndef SSFM_FENCE_INT_H
#define SSFM_FENCE_INT_H

#include "fence.h"

#include <pthread.h>
#include <stdarg.h>

#define FENCE_PRINTF(f, a) __attribute__((format(printf, f, a)))

struct fence {
	char store_dir[4096];
	char lease_path[4096];
	char group[FENCE_GROUP_MAX + 1];
	char host_name[FENCE_HOST_NAME_MAX + 1];
	unsigned host_id;
	unsigned io_timeout;
	int sock;                 /* sanlock registration, -1 before */

	/* join thread: state and result are written by the thread under lock */
	pthread_mutex_t lock;
	pthread_t join_thread;
	int join_thread_live;     /* started and not yet joined */
	int join_state;           /* enum fence_join_state */
	int join_rc;              /* sanlock's return of add_lockspace */
	int join_fd;              /* eventfd, -1 before */
	struct fence_error join_err;
};

/* Fills err (if not NULL) and returns code. */
int fence_fail(struct fence_error *err, int code, const char *fmt, ...) FENCE_PRINTF(3, 4);
/* Maps a sanlock or errno return (negative) to a fence code and fills err
 * with "what: reason" where the reason explains the usual cause. */
int fence_fail_sanlock(struct fence_error *err, int rv, const char *fmt, ...) FENCE_PRINTF(3, 4);
/* $SANLOCK_RUN_DIR or sanlock's default. */
const char *fence_run_dir(void);

/* resource.c: registers this process with sanlock once (f->sock). */
int resource_register(struct fence *f, struct fence_error *err);

/* hosts/HOSTID records (hostrec.c) */
int hostrec_write(const char *store_dir, unsigned host_id, const char *name);
void hostrec_fill(const char *store_dir, uint64_t host_id, struct fence_holder *holder);

/* lease.c: the sanlock structures naming the lease areas */
#include <sanlock.h>

/* A resource with its one disk, as sanlock's calls take it. */
struct lease_res {
	struct sanlk_resource res;
	struct sanlk_disk disk;
};

void lease_fill_lockspace(struct sanlk_lockspace *ls, const char *lease_path,
    const char *group, unsigned host_id);
void lease_fill_resource(struct lease_res *lr, const char *lease_path, const char *group);
/* The renewal timestamp in host_id's delta lease on disk (0: free). */
int lease_read_delta_timestamp(const char *lease_path, unsigned host_id, uint64_t *timestamp);
/* The resource's leader record as on disk (O_DIRECT sector reads, no
 * daemon): who holds it, with which host generation and lease version, its
 * timestamp (0: free), and whether the owner's dblock says it released
 * that lease version.  -FENCE_EUNINIT when the sector is not a leader of
 * sanlock's paxos format 6 for group's resource. */
struct lease_leader {
	uint64_t owner_id;
	uint64_t owner_generation;
	uint64_t lver;
	uint64_t timestamp;
	int released;
};
int lease_read_leader(const char *lease_path, const char *group, struct lease_leader *out);
/* 1 when group is a valid group name (1..48 of [A-Za-z0-9._-]). */
int lease_group_valid(const char *group);

#endif
