/*
 * fault.h: fault points (libfiu) on the I/O and allocation paths of the
 * store and the daemon, so tests can make each call fail on purpose
 * (STYLE.md habit 11).
 *
 * Built with --enable-fault-injection (the default; configure needs
 * libfiu-dev) each point is a fiu_fail() check: a name formatted and looked
 * up under libfiu's lock, noise next to the system call it guards (points
 * sit on file I/O and on allocations of the commit path, never on reads of
 * the in-memory table).  Built with --disable-fault-injection
 * (production packages) every point compiles to nothing, as with libfiu's
 * own fiu-local.h, and nothing links libfiu.
 *
 * Point names are "part/path/call": the path says which writer or reader,
 * the call is the system call or "alloc":
 *
 *   store/commit/{open,write,fdatasync,close,rename,link,fsync,alloc}
 *                                journal batches (fsync: of the directory)
 *   store/submit/alloc           queueing a write (store_submit)
 *   store/seal/{open,write,fdatasync,close,rename,link,fsync}
 *                                the seal batch and epochs/ file
 *   store/snapshot/{open,write,fdatasync,close,rename,link,fsync,alloc}
 *   store/init/{open,write,fdatasync,close,rename,link,fsync}   store_create
 *   store/restore/{open,write,fdatasync,close,rename,link,fsync}
 *                                the snapshot of store_restore (ssfm restore)
 *   store/apply/{open,read,opendir,readdir,alloc}
 *                                reading journal files (follow, recovery)
 *   store/load/{open,read,opendir,readdir,alloc}   reading snapshots
 *   store/recover/{opendir,readdir,open,fsync}     removing temporaries
 *   store/quarantine/{open,fsync}                  moving a file aside
 *   store/compact/{opendir,readdir,read,open,fsync}
 *   store/history/{opendir,readdir}                watch from the past
 *   store/verify/{opendir,readdir}                 store_verify (ssfm verify)
 *   store/table/alloc            a record of the in-memory table
 *   store/table/index            the table's hash index (lookups then
 *                                walk the tree; it never fails a put)
 *   store/reqid/alloc            a remembered request id
 *   ssfmd/watch/event            making an applied operation's event line
 *   ssfmd/watch/alloc            queueing an event for a watcher
 *
 * rename is renameat2(RENAME_NOREPLACE); link is the link()+unlink()
 * fallback (store_options.force_link).  t_fault_store and t_fault_daemon
 * turn them on.
 *
 * What a point does when it fires: the call is not made, and the caller
 * sees -1 with errno set to the point's failinfo (0 or absent: EIO).  A
 * write point whose failinfo is FAULT_SHORT writes only the first half of
 * what it was given (at least one byte) and reports that count: a short
 * write, which the write loop must complete.
 */
#ifndef SSFM_FAULT_H
#define SSFM_FAULT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* failinfo for write points: a short write instead of an error. */
#define FAULT_SHORT 0x5348

#ifdef FIU_ENABLE
#include <fiu.h>

/* fiu_fail with the name built from a path and a call. */
static inline int fault_fires(const char *path, const char *call)
{
	char name[96];

	snprintf(name, sizeof(name), "%s/%s", path, call);
	return fiu_fail(name);
}

/* The errno a point that fired asks for. */
static inline int fault_errno(void)
{
	intptr_t e = (intptr_t)fiu_failinfo();

	return e > 0 && e != FAULT_SHORT ? (int)e : EIO;
}

static inline int fault_is_short(void)
{
	return (intptr_t)fiu_failinfo() == FAULT_SHORT;
}
#else
static inline int fault_fires(const char *path, const char *call)
{
	(void)path;
	(void)call;
	return 0;
}

static inline int fault_errno(void)
{
	return EIO;
}

static inline int fault_is_short(void)
{
	return 0;
}
#define fiu_fail(name) 0
#endif

/*
 * FAULT(path, call): 0, or -1 with errno set when the point fires.  Use as
 *     if (FAULT("store/commit", "fdatasync") < 0 || fdatasync(fd) < 0)
 */
#define FAULT(path, call) \
	(fault_fires((path), (call)) ? (errno = fault_errno(), -1) : 0)

/* FAULT_ALLOC(name, expr): expr, or NULL with ENOMEM when the point fires. */
#define FAULT_ALLOC(name, expr) \
	(fiu_fail(name) ? (errno = ENOMEM, (void *)NULL) : (expr))

#endif
