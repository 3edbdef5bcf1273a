#!/bin/sh
# t_cephfs.sh (slow): ssfmd on a real CephFS (tests/cephfs.sh: one mon, osd
# and mds, mds_tick_interval 0.2), each host through its own ceph-fuse
# client: election, standby lag, switchover, SIGKILL takeover, zero loss,
# the fence hook scripts/ssfm-fence-cephfs evicting the previous active's
# client (whose writes then fail), and the active's client killed
# (tests/netfs_scenario.c).  Needs ceph-mon ceph-osd ceph-mds ceph-fuse
# ceph-common.
. "$top_srcdir/tests/cephfs.sh"
. "$top_srcdir/tests/netfs_scenario.sh"

W=$(mktemp -d "${SSFM_TEST_TMPDIR:-/var/tmp}/ssfm-cephfs.XXXXXX") || scenario_fail "mktemp"
trap 'cephfs_down "$W"; rm -rf "$W"' EXIT
trap 'exit 1' INT TERM HUP
# Each client is named after the ssfm host that uses it, so that the fence
# hook finds the previous active's client by entity_id.
CEPHFS_ID_A=host1
CEPHFS_ID_B=host2
cephfs_up "$W" > "$W/up.log" 2>&1
rc=$?
sed 's/^/# /' "$W/up.log"
[ $rc = 0 ] || scenario_fail "CephFS comes up (install ceph-mon ceph-osd ceph-mds ceph-fuse ceph-common)"
scenario_run "$W" cephfs_kill cephfs_mount --storage cephfs --mnt-a "$CEPHFS_A" \
	--mnt-b "$CEPHFS_B" --fence-hook "$top_srcdir/scripts/ssfm-fence-cephfs -k entity_id"
exit $?
