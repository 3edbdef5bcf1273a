# tests/ocfutil.sh: helpers for the tests of the service scripts (the OCF
# agent, the init script, the systemd unit), sourced after tests/tap.sh.
#
#   ou_setup TAG        makes $OU (mktemp -d under /var/tmp) and sets the
#                       build tree's programs: $OU_SSFM $OU_SSFMD
#                       $OU_LEASE_LOST $OU_AGENT $OU_INIT $OU_UNIT; the
#                       folder and every pid given to ou_track are cleaned
#                       up at exit, however the test ends
#   ou_sanitizer_check  one check: no sanitizer report from any program the
#                       test ran (ou_setup points ASAN_OPTIONS and
#                       UBSAN_OPTIONS log_path at $OU/sanitizer: the daemons
#                       go to the background, where stderr is /dev/null)
#   ou_track PID...     kill these (SIGKILL) at exit
#   ou_need PROGRAM PACKAGE   a failed check naming the Debian package when
#                       PROGRAM is missing (never a skip); returns 1 then
#   ou_wait SECONDS COMMAND...  runs COMMAND every 0.1 s until it succeeds
#                       or SECONDS pass; its status
#   ou_sanlock DIR      starts a sanlock daemon with its own run folder
#                       DIR/run (SANLOCK_RUN_DIR, exported), unprivileged
#                       style as tests/hosts.c does; tracked
#   ou_store DIR GROUP  makes a store for GROUP at io_timeout 1 (ssfm init)
#   ou_conf FILE GROUP HOST ID STORE DIR   writes an ssfmd configuration
#                       with its socket and pid file under DIR

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
ou_pids=

ou_cleanup() {
	for p in $ou_pids; do
		kill -KILL "$p" 2>/dev/null
	done
	# ssfmd daemonises: kill the ones whose pid files are in our folder.
	if [ -n "${OU:-}" ] && [ -d "$OU" ]; then
		for f in $(find "$OU" -name '*.pid' 2>/dev/null); do
			p=$(tr -dc '0-9' <"$f")
			[ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = ssfmd ] &&
			    kill -KILL "$p" 2>/dev/null
		done
		[ -n "${OU_KEEP:-}" ] || rm -rf "$OU"
	fi
}

ou_track() {
	ou_pids="$ou_pids $*"
}

ou_setup() {
	OU=$(mktemp -d "${SSFM_TEST_TMPDIR:-/var/tmp}/ssfm-$1.XXXXXX") || {
		echo "Bail out! mktemp failed"
		exit 1
	}
	trap 'ou_cleanup' EXIT
	trap 'exit 1' INT TERM HUP
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$OU/sanitizer"
	UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$OU/sanitizer"
	export ASAN_OPTIONS UBSAN_OPTIONS
	OU_SSFM="$top_builddir/src/ssfm"
	OU_SSFMD="$top_builddir/src/ssfmd"
	OU_LEASE_LOST="$top_builddir/fence/ssfm-lease-lost"
	OU_AGENT="$top_builddir/scripts/ssfm.ocf"
	OU_INIT="$top_builddir/scripts/ssfmd.init"
	OU_UNIT="$top_builddir/scripts/ssfmd.service"
	case $OU_LEASE_LOST in
	/*) ;;
	*) OU_LEASE_LOST="$(pwd)/$OU_LEASE_LOST" ;;
	esac
}

ou_sanitizer_check() {
	reports=$(ls "$OU"/sanitizer.* 2>/dev/null)
	test -z "$reports"
	check $? "no sanitizer report from the programs run"
	for f in $reports; do
		head -n 30 "$f" | diag
	done
}

ou_need() {
	if command -v "$1" >/dev/null 2>&1; then
		return 0
	fi
	check 1 "$1 not found: install the Debian package $2"
	return 1
}

ou_wait() {
	ou_until=$(($(cut -d. -f1 /proc/uptime) + $1))
	shift
	while :; do
		"$@" && return 0
		[ "$(cut -d. -f1 /proc/uptime)" -ge "$ou_until" ] && return 1
		sleep 0.1
	done
}

ou_sanlock() {
	mkdir -p "$1/run"
	SANLOCK_RUN_DIR="$1/run"
	SANLOCK_PRIVILEGED=0
	export SANLOCK_RUN_DIR SANLOCK_PRIVILEGED
	/usr/sbin/sanlock daemon -D -w 0 -l 0 -h 0 -U root -G root >"$1/sanlock.log" 2>&1 &
	ou_track $!
	ou_wait 10 test -S "$1/run/sanlock.sock"
}

ou_store() {
	"$OU_SSFM" init --group "$2" --io-timeout 1 "$1" >/dev/null
}

ou_conf() {
	cat >"$1" <<EOF
group = $2
host = $3
host_id = $4
store = $5
io_timeout = 1
poll_interval = 50ms
socket = $6/s.sock
pid_file = $6/ssfmd.pid
lease_lost_program = $OU_LEASE_LOST
EOF
}
