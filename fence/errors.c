/*
 * errors.c: fence codes, their texts, and the translation of sanlock's
 * return values into them with a message that says what to do.
 */
#include "fence_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sanlock.h>
#include <sanlock_rv.h>

#define FENCE_SANLOCK_DEFAULT_RUN_DIR "/run/sanlock"

const char *fence_run_dir(void)
{
	const char *d = getenv("SANLOCK_RUN_DIR");

	return d != NULL && *d != '\0' ? d : FENCE_SANLOCK_DEFAULT_RUN_DIR;
}

const char *fence_strerror(int code)
{
	switch (-code) {
	case 0: return "success";
	case FENCE_ENODAEMON: return "the sanlock daemon is not running";
	case FENCE_ENOLEASE: return "the lease file does not exist";
	case FENCE_EUNINIT: return "the lease file is not initialised";
	case FENCE_ETOOSMALL: return "the lease file is too small";
	case FENCE_ENODIRECT: return "the filesystem does not support O_DIRECT";
	case FENCE_EHOSTID_BUSY: return "the host id is used by another live host";
	case FENCE_EHELD: return "the lease is held by another host";
	case FENCE_ENOTJOINED: return "the lockspace is not joined";
	case FENCE_ENOTHELD: return "the lease is not held";
	case FENCE_ESANLOCK: return "sanlock failed";
	default: break;
	}
	if (code < 0 && code > -1000)
		return strerror(-code);
	return "unknown fence error";
}

static int fence_vfail(struct fence_error *err, int code, const char *fmt, va_list ap)
{
	if (err != NULL) {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return code;
}

int fence_fail(struct fence_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fence_vfail(err, code, fmt, ap);
	va_end(ap);
	return code;
}

static int fence_daemon_socket_present(void)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/sanlock.sock", fence_run_dir());
	return access(path, F_OK) == 0;
}

int fence_fail_sanlock(struct fence_error *err, int rv, const char *fmt, ...)
{
	char what[640];
	const char *why;
	int code;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	switch (rv) {
	case -ECONNREFUSED:
		code = -FENCE_ENODAEMON;
		break;
	case -ENOENT:
		code = fence_daemon_socket_present() ? -ENOENT : -FENCE_ENODAEMON;
		break;
	case -EACCES:
	case -EPERM:
		code = -EACCES;
		break;
	case SANLK_HOSTID_BUSY:
		code = -FENCE_EHOSTID_BUSY;
		break;
	case SANLK_ACQUIRE_IDLIVE:
	case SANLK_ACQUIRE_OWNED:
	case SANLK_ACQUIRE_OTHER:
	case SANLK_ACQUIRE_OWNED_RETRY:
	case -EAGAIN:
		code = -FENCE_EHELD;
		break;
	case -ENOSPC:
		code = -FENCE_ENOTJOINED;
		break;
	case SANLK_LEADER_MAGIC:
	case SANLK_LEADER_VERSION:
	case SANLK_LEADER_LOCKSPACE:
	case SANLK_LEADER_RESOURCE:
	case SANLK_LEADER_NUMHOSTS:
	case SANLK_LEADER_CHECKSUM:
	case SANLK_ADDLS_SIZES:
		code = -FENCE_EUNINIT;
		break;
	default:
		code = -FENCE_ESANLOCK;
		break;
	}

	switch (-code) {
	case FENCE_ENODAEMON:
		return fence_fail(err, code, "%s: the sanlock daemon is not running "
		    "(no answer on %s/sanlock.sock): start it with `systemctl start sanlock` "
		    "(or `sanlock daemon`)", what, fence_run_dir());
	case EACCES:
		return fence_fail(err, code, "%s: permission denied (sanlock %d): the sanlock "
		    "daemon cannot open the lease file, or this user may not use %s/sanlock.sock",
		    what, rv, fence_run_dir());
	case FENCE_EUNINIT:
		return fence_fail(err, code, "%s: the lease file is not initialised for this "
		    "group (sanlock %d: %s): run `ssfm init`", what, rv, sanlock_strerror(rv));
	default:
		break;
	}
	why = rv > -1000 && rv < 0 && rv > -200 ? strerror(-rv) : sanlock_strerror(rv);
	return fence_fail(err, code, "%s: %s (sanlock %d: %s)", what, fence_strerror(code), rv,
	    why != NULL ? why : "?");
}
