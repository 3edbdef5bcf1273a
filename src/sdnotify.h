/*
 * sdnotify.h: systemd's readiness protocol (sd_notify(3)) without
 * libsystemd: one datagram to the socket named by $NOTIFY_SOCKET.
 */
#ifndef SSFM_SDNOTIFY_H
#define SSFM_SDNOTIFY_H

/*
 * Sends state (e.g. "READY=1\nSTATUS=standby") to $NOTIFY_SOCKET.  Returns
 * 0 when sent or when the variable is unset or empty (not run by systemd),
 * else a negative errno.
 */
int sdnotify_send(const char *state);

/*
 * Tells systemd about a role change (role names as role_name()): READY=1
 * the first time the daemon leaves JOINING for a working role, STOPPING=1
 * when it heads for STOPPED, and STATUS=<role> always.  Failures are
 * logged once.
 */
void sdnotify_role(const char *before, const char *after);

#endif
