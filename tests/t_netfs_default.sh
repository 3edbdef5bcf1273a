#!/bin/sh
# t_netfs_default.sh (slow): ssfmd on an NFS-like filesystem mounted with
# NFS's default caching (lookupcache=all, negative lookups cached 30 s: the
# nfs-default profile of tests/netfs.sh), one mount per host: election,
# standby lag, switchover, SIGKILL takeover, zero loss, and the active's
# mount cut off (tests/netfs_scenario.c).  The other mount sees a new file
# only once its 30 s negative cache expires: lag and takeovers take about
# 30 s each here, so there are fewer of them than on the other storages.
# Needs openssh-server and sshfs.
. "$top_srcdir/tests/netfs.sh"
. "$top_srcdir/tests/netfs_scenario.sh"

W=$(mktemp -d "${SSFM_TEST_TMPDIR:-/var/tmp}/ssfm-netfs.XXXXXX") || scenario_fail "mktemp"
trap 'netfs_down "$W"; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM HUP
netfs_up "$W" nfs-default > "$W/up.log" 2>&1
rc=$?
sed 's/^/# /' "$W/up.log"
[ $rc = 0 ] || scenario_fail "the nfs-default mounts come up (install openssh-server sshfs)"
scenario_run "$W" netfs_cut false --storage nfs-default --mnt-a "$NETFS_A" --mnt-b "$NETFS_B" \
	--lag-samples 1 --kills 1
exit $?
