/*
 * killpath.c: the program sanlock runs when this host cannot renew its
 * lease, before it resorts to SIGKILL (see the timeline in fence.h).  The
 * program is ssfm-lease-lost (installed in libexecdir): it tells the daemon
 * to stop its service and exit in order.
 */
#include "fence_int.h"

#include <errno.h>
#include <string.h>

#include <sanlock.h>
#include <sanlock_resource.h>

int fence_set_killpath(struct fence *f, const char *program, const char *arg,
    struct fence_error *err)
{
	char args[SANLK_HELPER_ARGS_LEN];
	int rv;

	if (program == NULL || program[0] != '/' || strlen(program) >= SANLK_HELPER_PATH_LEN)
		return fence_fail(err, -EINVAL, "kill path \"%s\": must be an absolute path "
		    "shorter than %d bytes", program ? program : "", SANLK_HELPER_PATH_LEN);
	/* sanlock splits the arguments at spaces and appends the pid. */
	if (arg == NULL)
		arg = "";
	if (strlen(arg) >= SANLK_HELPER_ARGS_LEN - 12 || strpbrk(arg, " \\\t\n") != NULL)
		return fence_fail(err, -EINVAL, "kill path argument \"%s\": must be shorter "
		    "than %d bytes, without spaces or backslashes", arg,
		    SANLK_HELPER_ARGS_LEN - 12);
	memset(args, 0, sizeof(args));
	memcpy(args, arg, strlen(arg));
	rv = resource_register(f, err);
	if (rv < 0)
		return rv;
	rv = sanlock_killpath(f->sock, SANLK_KILLPATH_PID, program, args);
	if (rv < 0)
		return fence_fail_sanlock(err, rv, "host id %u: setting kill path %s", f->host_id,
		    program);
	return 0;
}
