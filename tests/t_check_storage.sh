#!/bin/sh
# t_check_storage.sh: `ssfm check-storage` on a local disk (/var/tmp) and a
# tmpfs (/dev/shm): each item's verdict is what the test itself observes of
# that filesystem (fs_observe.py: O_DIRECT, renameat2(RENAME_NOREPLACE),
# link(), inotify, findmnt's type), the exit status is the worst verdict's;
# then the timeout chain from configurations: safe, a hook_stop that may
# outlive sanlock's SIGKILL (warn), one that may outlive the lease (fail),
# an io_timeout that disagrees with the store's lease (fail), a broken file
# (fail); usage errors; no scratch file left behind.  The sshfs case is
# t_check_storage_netfs.sh.  Needs python3 and findmnt (util-linux).

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
ssfm="$top_builddir/src/ssfm"
observe="$top_srcdir/tests/fs_observe.py"
agree="$top_srcdir/tests/check_storage_agree.py"

. "$top_srcdir/tests/tap.sh"

need_tools python3:python3 findmnt:util-linux
need_built "$ssfm"

shm=
test_cleanup() { [ -z "$shm" ] || rm -rf "$shm"; }
test_tmpdir cs
shm=$(mktemp -d /dev/shm/ssfm-cs.XXXXXX) || { check 1 "mktemp -d under /dev/shm"; done_testing; }

# Runs check-storage --json; sets st (exit status) and leaves the JSON in $t/out.json.
run_json() {
	"$ssfm" check-storage --json --samples 20 "$@" > "$t/out.json" 2> "$t/err"
	st=$?
}
# The verdict of item $1 in $t/out.json.
verdict_of() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]));
print(next((i["verdict"] for i in r["items"] if i["item"] == sys.argv[2]), "none"))' "$t/out.json" "$1"
}
# Whether a finding of item $1 contains text $2: prints yes or no.
finding_has() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1]));
it=[i for i in r["items"] if i["item"] == sys.argv[2]];
print("yes" if it and any(sys.argv[3] in f["text"] for f in it[0]["findings"]) else "no")' "$t/out.json" "$1" "$2"
}
# Turns check_storage_agree.py's lines into checks.
agree() {
	python3 "$agree" "$t/out.json" "$t/seen.json" "$st" > "$t/agree" 2> "$t/agree.err"
	[ -s "$t/agree" ] || { check 1 "check_storage_agree.py ran"; diag < "$t/agree.err"; return; }
	while read -r result desc; do
		[ "$result" = PASS ]
		check $? "$desc"
	done < "$t/agree"
	[ -s "$t/agree.err" ] && diag < "$t/agree.err"
}

# ---- a local disk and a tmpfs, with the defaults (-c with an empty file,
# whatever /etc/ssfm/ssfm.conf holds on this machine).
: > "$t/empty.conf"
mkdir "$t/local"
for dir in "$t/local" "$shm"; do
	python3 "$observe" "$dir" > "$t/seen.json" || check 1 "fs_observe.py $dir"
	run_json -c "$t/empty.conf" "$dir"
	agree
	is "$(ls -A "$dir")" "" "$dir: no scratch file left behind"
done
# tmpfs: memory only, so never ok as a whole; a non-zero exit.
run_json -c "$t/empty.conf" "$shm"
is "$(verdict_of filesystem)" warn "tmpfs: filesystem warns (memory only, not shared)"
[ "$st" -ne 0 ]
check $? "tmpfs: non-zero exit ($st)"

# Text output: one line per item with its verdict, then the verdict line.
"$ssfm" check-storage --samples 5 -c "$t/empty.conf" "$t/local" > "$t/out.txt"
st=$?
for item in configuration filesystem o_direct no_clobber fsync inotify timeout_chain; do
	grep -Eq "^(ok|warn|fail) +$item " "$t/out.txt"
	check $? "text output has the $item line"
done
grep -q "^verdict: .*exit $st)" "$t/out.txt"
check $? "text output ends with the verdict and the exit status ($st)"
grep -q "t = 140 s: the watchdog" "$t/out.txt"
check $? "text output walks the timeline (lease free at 8 x 10 + 60 = 140 s)"

# ---- the timeout chain from configurations
printf 'hook_stop = /bin/true\nhook_timeout = 38s\nhook_kill_grace = 5s\n' > "$t/warn.conf"
run_json -c "$t/warn.conf" "$t/local"
is "$(verdict_of timeout_chain)" warn "hook_stop up to 43 s (> sanlock's 40 s kill grace): timeout_chain warns"
is "$(finding_has timeout_chain 't = 123.0 s: hook_stop over')" yes "the timeline places hook_stop's end at 80 + 43 s"

printf 'hook_stop = /bin/true\nhook_timeout = 45s\nhook_kill_grace = 10s\ndemote_timeout = 2m\n' > "$t/fail.conf"
run_json -c "$t/fail.conf" "$t/local"
is "$(verdict_of timeout_chain)" fail "hook_stop up to 55 s (past the lease's 60 s less margin): timeout_chain fails"
is "$st" 3 "a failed item: exit 3"

printf 'hook_stop = /bin/true\nhook_timeout = 20s\nhook_kill_grace = 5s\ndemote_timeout = 10s\n' > "$t/demote.conf"
run_json -c "$t/demote.conf" "$t/local"
is "$(finding_has timeout_chain 'exceed demote_timeout')" yes "hook_stop longer than demote_timeout is named"
is "$(verdict_of timeout_chain)" fail "... and fails"

"$ssfm" init --io-timeout 5 "$t/store" > /dev/null 2>&1 || check 1 "ssfm init --io-timeout 5"
printf 'io_timeout = 10\n' > "$t/io10.conf"
run_json -c "$t/io10.conf" "$t/store"
is "$(finding_has timeout_chain "lease was made with 5 s")" yes "io_timeout 10 against a store made with 5: named"
is "$(verdict_of timeout_chain)" fail "... and fails"
printf 'io_timeout = 5\n' > "$t/io5.conf"
run_json -c "$t/io5.conf" "$t/store"
is "$(verdict_of timeout_chain)" ok "io_timeout 5 on that store: ok"
is "$(finding_has timeout_chain 't = 100 s: the watchdog')" yes "... lease free at 8 x 5 + 60 = 100 s"

printf 'io_timeout = ten\n' > "$t/bad.conf"
run_json -c "$t/bad.conf" "$t/local"
is "$(verdict_of configuration)" fail "a configuration that does not parse: fail"
is "$(finding_has configuration "$t/bad.conf:1")" yes "... naming the file and line"
run_json -c "$t/missing.conf" "$t/local"
is "$(verdict_of configuration)" fail "a configuration that cannot be read: fail"

printf 'watch = inotify\n' > "$t/inotify.conf"
run_json -c "$t/inotify.conf" "$t/local"
is "$(verdict_of inotify)" ok "watch = inotify on a local disk: ok (inotify sees this mount)"

# ---- usage and system errors
"$ssfm" check-storage > /dev/null 2>&1
is "$?" 2 "no folder: usage error (2)"
"$ssfm" check-storage --samples 0 "$t/local" > /dev/null 2>&1
is "$?" 2 "--samples 0: usage error (2)"
"$ssfm" check-storage "$t/nowhere" > /dev/null 2> "$t/err"
is "$?" 4 "a missing folder: exit 4"
grep -q "$t/nowhere" "$t/err"
check $? "... the message names it"

done_testing
