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

# ---- the preamble most shell tests share

need_tools() {  # NAME:PACKAGE...: a missing tool fails the test, naming its package
	for tap_tool in "$@"; do
		if ! command -v "${tap_tool%%:*}" >/dev/null 2>&1; then
			check 1 "${tap_tool%%:*} not found: install ${tap_tool#*:} (apt-get install ${tap_tool#*:})"
			done_testing
		fi
	done
}

need_built() {  # PROGRAM...: a program make check should have built
	for tap_prog in "$@"; do
		if [ ! -x "$tap_prog" ]; then
			check 1 "$tap_prog not built (make check builds it)"
			done_testing
		fi
	done
}

# test_tmpdir NAME: sets t to a new folder under $SSFM_TEST_TMPDIR (default
# /var/tmp, a disk-backed filesystem), removed when the test exits, or kept
# after a failure when SSFM_TEST_KEEP is set.  A test that needs more
# cleaning defines test_cleanup, which runs first.
test_tmpdir() {
	t=$(mktemp -d "${SSFM_TEST_TMPDIR:-/var/tmp}/ssfm-$1.XXXXXX") || {
		check 1 "mktemp -d under ${SSFM_TEST_TMPDIR:-/var/tmp}"
		done_testing
	}
	trap tap_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

tap_cleanup() {
	command -v test_cleanup >/dev/null 2>&1 && test_cleanup
	if [ "$tap_failures" -ne 0 ] && [ -n "${SSFM_TEST_KEEP:-}" ]; then
		echo "# kept $t"
	else
		rm -rf "$t"
	fi
}
