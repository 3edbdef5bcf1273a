#!/bin/sh
# t_init.sh: the LSB init script run for real against ssfmd and a sanlock
# daemon: start, status 0, stop, status 3, restart (a new pid), the other
# actions and their LSB codes, a daemon killed (status 1), and a missing or
# invalid configuration or program (5, 6; status 4).  Then the readiness
# the systemd unit relies on: ssfmd -f with NOTIFY_SOCKET sends READY=1
# only once it is past JOINING, and STOPPING=1 on SIGTERM.  TAP on stdout.
# Needs sanlock and python3 (the notify listener).

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/ocfutil.sh"

ou_need /usr/sbin/sanlock sanlock || done_testing
ou_need python3 python3 || done_testing
ou_setup init

ou_sanlock "$OU/h1"
check $? "a sanlock daemon runs for the host"
ou_store "$OU/store" g-init
check $? "ssfm init makes the store"
ou_conf "$OU/h1/ssfm.conf" g-init h1 1 "$OU/store" "$OU/h1"
cat >"$OU/defaults" <<EOF
SSFMD=$(cd "$top_builddir/src" && pwd)/ssfmd
SSFMD_CONFIG=$OU/h1/ssfm.conf
EOF
SSFMD_DEFAULTS="$OU/defaults"
export SSFMD_DEFAULTS

init() {	# ACTION: exit code in $rc, output appended to init.log
	echo "== $1" >>"$OU/init.log"
	"$OU_INIT" "$1" >>"$OU/init.log" 2>&1
	rc=$?
}
daemon_pid() {
	tr -dc '0-9' <"$OU/h1/ssfmd.pid" 2>/dev/null
}
answers() {
	"$OU_SSFM" -s "$OU/h1/s.sock" status --json >/dev/null 2>&1
}

init status
is "$rc" 3 "status before start: 3 (not running)"
init stop
is "$rc" 0 "stop of a stopped daemon: 0"
init start
is "$rc" 0 "start: 0"
answers
check $? "after start the daemon answers on its socket"
init status
is "$rc" 0 "status of the running daemon: 0"
pid1=$(daemon_pid)
init start
is "$rc" 0 "start of a running daemon: 0"
is "$(daemon_pid)" "$pid1" "start of a running daemon starts no other"

init restart
is "$rc" 0 "restart: 0"
pid2=$(daemon_pid)
test -n "$pid2" && test "$pid2" != "$pid1" && ! test -d "/proc/$pid1"
check $? "restart replaced the daemon (pid $pid1 -> $pid2)"
answers
check $? "the restarted daemon answers"
init try-restart
is "$rc" 0 "try-restart of a running daemon: 0"
init reload
is "$rc" 3 "reload: 3 (ssfmd reads its configuration at start only)"
init force-reload
is "$rc" 0 "force-reload of a running daemon (a restart): 0"
pid3=$(daemon_pid)
test -n "$pid3" && test "$pid3" != "$pid2"
check $? "force-reload restarted the daemon"

init stop
is "$rc" 0 "stop: 0"
! test -d "/proc/$pid3"
check $? "stop waited for the daemon to exit"
init status
is "$rc" 3 "status after stop: 3"
init try-restart
is "$rc" 0 "try-restart of a stopped daemon: 0"
init status
is "$rc" 3 "try-restart did not start it"
init force-reload
is "$rc" 7 "force-reload of a stopped daemon: 7 (not running)"

init start
pid=$(daemon_pid)
kill -KILL "$pid"
ou_wait 10 sh -c "! test -d /proc/$pid"
init status
is "$rc" 1 "status of a killed daemon with its pid file left: 1"
init start
is "$rc" 0 "start after the kill: 0 (the stale pid file is taken over)"
init stop
is "$rc" 0 "stop: 0"

# A restart with a broken configuration leaves the daemon running.
init start
pid=$(daemon_pid)
cp "$OU/h1/ssfm.conf" "$OU/h1/ssfm.conf.good"
echo "no_such_key = 1" >>"$OU/h1/ssfm.conf"
init restart
is "$rc" 6 "restart with an invalid configuration: 6"
test -d "/proc/$pid"
check $? "... and the running daemon was left alone"
mv "$OU/h1/ssfm.conf.good" "$OU/h1/ssfm.conf"
init stop

# Missing pieces.
echo "SSFMD_CONFIG=$OU/none.conf" >>"$OU/defaults"
init start
is "$rc" 6 "start with a missing configuration: 6 (not configured)"
init status
is "$rc" 4 "status with a missing configuration: 4 (unknown)"
echo "SSFMD_CONFIG=$OU/h1/ssfm.conf" >>"$OU/defaults"
echo "no_such_key = 1" >"$OU/bad.conf"
echo "SSFMD_CONFIG=$OU/bad.conf" >>"$OU/defaults"
init start
is "$rc" 6 "start with an invalid configuration: 6"
echo "SSFMD_CONFIG=$OU/h1/ssfm.conf" >>"$OU/defaults"
echo "SSFMD=$OU/none" >>"$OU/defaults"
init start
is "$rc" 5 "start without the program: 5 (not installed)"

# ---- readiness for systemd (Type=notify) ---------------------------------------
cat >"$OU/listen.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    print("listening", file=out, flush=True)
    while True:
        msg = s.recv(4096).decode()
        print(msg.replace("\n", " "), file=out, flush=True)
EOF
python3 "$OU/listen.py" "$OU/notify" "$OU/notify.log" &
ou_track $!
ou_wait 10 test -S "$OU/notify"
check $? "a notify listener runs"
NOTIFY_SOCKET="$OU/notify" "$OU_SSFMD" -f -c "$OU/h1/ssfm.conf" --auto_promote=no \
    >"$OU/ssfmd-f.log" 2>&1 &
fpid=$!
ou_track $fpid
seen_joining=0 early=0 ready=0
until_t=$(($(cut -d. -f1 /proc/uptime) + 30))
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$until_t" ]; do
	# The notification first, then the role: READY=1 seen means the
	# daemon has left JOINING for good.
	grep -q 'READY=1' "$OU/notify.log" && ready=1
	role=$("$OU_SSFM" -s "$OU/h1/s.sock" status --json 2>/dev/null |
	    sed -n 's/.*"role":"\([A-Z]*\)".*/\1/p')
	[ "$role" = JOINING ] && seen_joining=1
	[ "$role" = JOINING ] && [ $ready = 1 ] && early=1
	[ $ready = 1 ] && [ -n "$role" ] && break
	sleep 0.05
done
is "$ready" 1 "ssfmd -f with NOTIFY_SOCKET sends READY=1"
is "$early" 0 "READY=1 never comes while the daemon is JOINING"
is "$role" STANDBY "when READY=1 has come the daemon is a standby"
[ $seen_joining = 1 ] || echo "# (the join was too quick to see JOINING)"
grep -q 'READY=1 STATUS=STANDBY' "$OU/notify.log"
check $? "the READY=1 message carries STATUS=STANDBY"
kill -TERM "$fpid"
ou_wait 30 sh -c "! kill -0 $fpid 2>/dev/null"
check $? "ssfmd -f exits on SIGTERM"
wait "$fpid"
is "$?" 0 "... with status 0"
grep -q 'STOPPING=1' "$OU/notify.log"
check $? "it sent STOPPING=1"

ou_sanitizer_check
if [ "$tap_failures" -ne 0 ]; then
	tail -n 40 "$OU/init.log" | diag
	diag <"$OU/notify.log"
	tail -n 20 "$OU/ssfmd-f.log" | diag
fi
done_testing
