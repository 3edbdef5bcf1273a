# tests/netfs_scenario.sh: runs tests/netfs_scenario (the C program) on
# storage that a harness (tests/netfs.sh, tests/cephfs.sh) brought up, and
# serves its requests to cut or remount a host's mount, which only the
# harness knows how to do.  Sourced by t_netfs_*.sh and t_cephfs.sh.
#
#   scenario_run WORKDIR CUTFN MOUNTFN ARGS...
#       Runs netfs_scenario ARGS... with its TAP on our stdout; each line
#       "cut X" / "mount X" it writes on its fd 3 runs `CUTFN X` / `MOUNTFN
#       X` here and answers "ok" or "fail" on its fd 4.  Returns the
#       program's exit status.
#   scenario_fail MESSAGE
#       The TAP of a run that could not start: one failed check, the plan.

scenario_run() {
	scenario_w=$1
	scenario_cut=$2
	scenario_mount=$3
	shift 3
	rm -f "$scenario_w/ctl.req" "$scenario_w/ctl.rep"
	mkfifo "$scenario_w/ctl.req" "$scenario_w/ctl.rep" || return 1
	# Opened in the same order on both sides: req, then rep.
	"$top_builddir/tests/netfs_scenario" "$@" 3> "$scenario_w/ctl.req" 4< "$scenario_w/ctl.rep" &
	scenario_pid=$!
	exec 5< "$scenario_w/ctl.req" 6> "$scenario_w/ctl.rep"
	while read -r scenario_op scenario_arg <&5; do
		case $scenario_op in
		cut) scenario_fn=$scenario_cut ;;
		mount) scenario_fn=$scenario_mount ;;
		*) scenario_fn=false ;;
		esac
		$scenario_fn "$scenario_arg" 5<&- 6>&- > "$scenario_w/ctl.out" 2>&1
		scenario_rc=$?
		sed 's/^/# /' "$scenario_w/ctl.out"
		if [ $scenario_rc = 0 ]; then
			echo ok >&6
		else
			echo fail >&6
		fi
	done
	exec 5<&- 6>&-
	wait $scenario_pid
}

scenario_fail() {
	echo "not ok 1 - $1"
	echo "1..1"
	exit 1
}
