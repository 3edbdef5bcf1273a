# tests/tap.sh: TAP for the shell tests, sourced by each of them.
# Every check prints its own line and the test goes on; done_testing prints
# the plan and exits non-zero when a check failed, or when none ran (a test
# that checked nothing has proven nothing).

tap_n=0
tap_failures=0

check() {  # STATUS DESCRIPTION: passes when STATUS is 0
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failures=$((tap_failures + 1))
	fi
}

check_cmd() {  # DESCRIPTION COMMAND [ARG...]: passes when the command succeeds
	tap_desc=$1
	shift
	"$@"
	check $? "$tap_desc"
}

is() {  # GOT WANT DESCRIPTION
	[ "$1" = "$2" ]
	check $? "$3"
	[ "$1" = "$2" ] || printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
}

diag() { sed 's/^/# /'; }

done_testing() {
	if [ "$tap_n" -eq 0 ]; then
		check 1 "the test made no checks"
	fi
	echo "1..$tap_n"
	[ "$tap_failures" -eq 0 ]
	exit $?
}
