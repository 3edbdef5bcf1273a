#!/bin/sh
# t_netfs_tuned.sh (slow): ssfmd on an NFS-like filesystem mounted with
# recommended options (lookupcache=positive, actimeo=1: the nfs-tuned
# profile of tests/netfs.sh), one mount per host: election, standby
# lag, switchover, SIGKILL takeover, zero loss, and the active's mount cut
# off (tests/netfs_scenario.c).  Needs openssh-server and sshfs.
. "$top_srcdir/tests/netfs.sh"
. "$top_srcdir/tests/netfs_scenario.sh"

W=$(mktemp -d "${SSFM_TEST_TMPDIR:-/var/tmp}/ssfm-netfs.XXXXXX") || scenario_fail "mktemp"
trap 'netfs_down "$W"; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM HUP
netfs_up "$W" nfs-tuned > "$W/up.log" 2>&1
rc=$?
sed 's/^/# /' "$W/up.log"
[ $rc = 0 ] || scenario_fail "the nfs-tuned mounts come up (install openssh-server sshfs)"
scenario_run "$W" netfs_cut false --storage nfs-tuned --mnt-a "$NETFS_A" --mnt-b "$NETFS_B" \
	--lag-samples 20
exit $?
