#!/bin/sh
# t_check_storage_netfs.sh: `ssfm check-storage` on an sshfs mount, the
# stand-in for NFS (tests/netfs.sh: two clients of one export).  The test
# observes the filesystem itself (fs_observe.py): renameat2(RENAME_NOREPLACE)
# fails there while link() gives EEXIST, and inotify on one client never
# sees a file the other created.  check-storage must say the same: the
# missing RENAME_NOREPLACE as a warning with its fallback, a non-zero exit,
# other clients' changes never seen by inotify and poll required, and
# watch = inotify in the configuration a failure (exit 3).  Also proves the
# harness: a cut client's mount stops answering, netfs_down is idempotent.
# Needs openssh-server, sshfs, python3, util-linux (findmnt), root and
# /dev/fuse.

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
ssfm="$top_builddir/src/ssfm"
observe="$top_srcdir/tests/fs_observe.py"
agree="$top_srcdir/tests/check_storage_agree.py"

. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/netfs.sh"

need_tools python3:python3 findmnt:util-linux
need_built "$ssfm"

test_cleanup() { netfs_down "$t/net"; }
test_tmpdir csn

netfs_up "$t/net" nfs-tuned 2> "$t/netfs.err"
check $? "netfs_up: sshd and two sshfs clients"
if [ -z "${NETFS_A:-}" ] || ! mountpoint -q "$NETFS_A"; then
	diag < "$t/netfs.err"
	done_testing
fi

verdict_of() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]));
print(next((i["verdict"] for i in r["items"] if i["item"] == sys.argv[2]), "none"))' "$t/out.json" "$1"
}

mkdir "$NETFS_A/store"
python3 "$observe" "$NETFS_A/store" "$NETFS_B/store" > "$t/seen.json"
check $? "fs_observe.py through client A, with client B as the other"
: > "$t/empty.conf"
"$ssfm" check-storage --json --samples 20 -c "$t/empty.conf" "$NETFS_A/store" > "$t/out.json" 2> "$t/err"
st=$?
python3 "$agree" "$t/out.json" "$t/seen.json" "$st" > "$t/agree" 2> "$t/agree.err"
[ -s "$t/agree" ] || check 1 "check_storage_agree.py ran"
while read -r result desc; do
	[ "$result" = PASS ]
	check $? "$desc"
done < "$t/agree"
[ -s "$t/agree.err" ] && diag < "$t/agree.err"

seen() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$t/seen.json" "$1"; }
is "$(seen rename_noreplace)" False "the test sees renameat2(RENAME_NOREPLACE) fail on sshfs"
is "$(seen inotify_other)" False "the test sees no inotify event for the other client's file"
is "$(verdict_of no_clobber)" warn "check-storage warns about the missing RENAME_NOREPLACE"
[ "$st" -ne 0 ]
check $? "a missing capability: non-zero exit ($st)"
is "$(verdict_of filesystem)" warn "fuse.sshfs: filesystem warns (tests only)"

printf 'watch = inotify\n' > "$t/inotify.conf"
"$ssfm" check-storage --samples 5 -c "$t/inotify.conf" "$NETFS_A/store" > "$t/out.txt" 2>&1
is "$?" 3 "watch = inotify on sshfs: exit 3"
grep -Eq "^fail +inotify " "$t/out.txt"
check $? "... the inotify item fails"
grep -q "watch = poll or auto is required" "$t/out.txt"
check $? "... and says watch = poll or auto is required"
is "$(ls -A "$NETFS_A/store")" "" "no scratch file left behind"

netfs_cut B
ls "$NETFS_B" > /dev/null 2>&1
is "$?" 2 "netfs_cut B: client B's mount stops answering"
ls "$NETFS_A/store" > /dev/null 2>&1
check $? "... client A still answers"
netfs_down "$t/net"
netfs_down "$t/net"
check $? "netfs_down twice"
grep -q "$t/net" /proc/self/mounts
is "$?" 1 "no mount left"

done_testing
