#!/bin/sh
# t_restore.sh: `ssfm restore FILE DIR` from offline dumps: an exact round
# trip (keys with quotes, backslashes, control characters and UTF-8; the
# dump of the restored store equals the dump restored, byte for byte, and
# the reader written from ssfm-store(5) agrees), from standard input, of an
# empty store, with --group; the new store verifies clean and has a lease.
# Every refusal has its exit status and a message naming the file, byte or
# key, and leaves the directory as it was: an existing store, a directory
# that is not empty, a file that is not JSON, a bad value, a bad key, a
# version above the dump's seq, keys out of order, a truncated file, a dump
# changed after it was written (digest), a missing file, a usage error,
# a restore interrupted by SIGTERM.
# The progress bar (--progress, and by itself on a terminal: script(1)).
# Needs python3 and script (Debian packages: python3, bsdutils).

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
ssfm="$top_builddir/src/ssfm"
fill="$top_builddir/tests/store_fill"

. "$top_srcdir/tests/tap.sh"

need_tools python3:python3
need_built "$ssfm" "$fill"
test_tmpdir restore

# run CMD...: status in $rc, stdout in $t/out, stderr in $t/err.
run() {
	timeout -k 5 120 "$@" >"$t/out" 2>"$t/err"
	rc=$?
	[ "$rc" -ne 124 ] || echo "# timed out after 120 s: $*"
	if [ -s "$t/err" ]; then
		sed 's/^/# stderr: /' "$t/err"
	fi
}
err_has() { grep -q -F -- "$1" "$t/err"; }
# gone DIR: the refused restore left no store behind (DIR missing).
gone() { [ ! -e "$1" ]; }

# ---- a store with awkward keys, dumped ------------------------------------
s="$t/src"
run "$ssfm" init --group bk "$s"
is "$rc" 0 "init the source store"
run "$fill" "$s" 300
is "$rc" 0 "300 keys written"
weird=$(printf 'we"ird\\\t\001\302\251/')
run "$fill" --prefix "$weird" "$s" 5
is "$rc" 0 "5 keys with a quote, a backslash, a tab, a control character and UTF-8"
run "$fill" --prefix "key/" "$s" 40
is "$rc" 0 "40 keys written again (new versions)"
run "$ssfm" dump "$s"
is "$rc" 0 "dump: exit 0"
cp "$t/out" "$t/d.json"
seq=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seq"])' "$t/d.json")

# ---- the round trip ---------------------------------------------------------
run "$ssfm" restore "$t/d.json" "$t/r"
is "$rc" 0 "restore into a missing directory: exit 0"
grep -q "^restored 305 keys at seq $seq " "$t/out"
check $? "restore says how many keys, at which seq"
[ ! -s "$t/err" ]
check $? "... and, stderr not being a terminal, draws no progress bar"
run "$ssfm" verify "$t/r"
is "$rc" 0 "the restored store verifies clean"
check_cmd "the restored store has its sanlock lease" test -s "$t/r/lease"
grep -q "sanlock lockspace bk, io_timeout 10 s" "$t/out"
check $? "verify reads the lease: lockspace bk, io_timeout 10 s (the default)"
run "$ssfm" dump "$t/r"
is "$rc" 0 "dump of the restored store: exit 0"
check_cmd "the restored store dumps byte for byte as the dump restored" cmp "$t/out" "$t/d.json"
run python3 "$top_srcdir/tests/format_reader.py" "$t/r"
is "$rc" 0 "format_reader.py (written from ssfm-store(5)) reads the restored store"
python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])) else 1)' \
    "$t/out" "$t/d.json"
check $? "... and finds the same group, seq, digest, keys, versions and values"

run sh -c "\"\$0\" restore --io-timeout 3 - \"\$1\" < \"\$2\"" "$ssfm" "$t/r-stdin" "$t/d.json"
is "$rc" 0 "restore from standard input (-) with --io-timeout 3: exit 0"
run "$ssfm" dump "$t/r-stdin"
check_cmd "... the same state" cmp "$t/out" "$t/d.json"
run "$ssfm" verify "$t/r-stdin"
grep -q "io_timeout 3 s" "$t/out"
check $? "... and its lease has io_timeout 3 s"

run "$ssfm" restore --group other "$t/d.json" "$t/r-group"
is "$rc" 0 "restore --group other: exit 0"
run "$ssfm" dump "$t/r-group"
python3 -c 'import json,sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
sys.exit(0 if a["group"] == "other" and a["keys"] == b["keys"] and a["seq"] == b["seq"] else 1)' \
    "$t/out" "$t/d.json"
check $? "... group other, the same keys at the same seq"

run "$ssfm" init --group empty "$t/e"
run "$ssfm" dump "$t/e"
cp "$t/out" "$t/e.json"
run "$ssfm" restore "$t/e.json" "$t/re"
is "$rc" 0 "restore of an empty store's dump: exit 0"
run "$ssfm" dump "$t/re"
check_cmd "... dumps the same (seq 0, no keys)" cmp "$t/out" "$t/e.json"

run "$ssfm" restore --progress "$t/d.json" "$t/r-progress"
is "$rc" 0 "restore --progress: exit 0"
grep -q 'restore: \[#*\] 100% 305 keys' "$t/err"
check $? "--progress draws a bar on stderr that ends at 100% and the key count"

# On a terminal (script(1) gives it one), a restore from a pipe (size
# unknown) draws its progress by itself.
if command -v script >/dev/null 2>&1; then
	run script -qec "cat '$t/d.json' | '$ssfm' restore - '$t/r-tty'" /dev/null
	is "$rc" 0 "restore from a pipe on a terminal: exit 0"
	grep -q 'restore: 305 keys' "$t/out"
	check $? "... draws its progress (keys read) on the terminal"
else
	check 1 "script not found: install bsdutils (apt-get install bsdutils)"
fi

# ---- refusals ---------------------------------------------------------------
run "$ssfm" restore "$t/d.json" "$t/r"
is "$rc" 3 "restore into an existing store: exit 3"
err_has "already a store"
check $? "... says it is already a store"
run "$ssfm" dump "$t/r"
check_cmd "... and leaves it as it was" cmp "$t/out" "$t/d.json"

mkdir "$t/full" && : > "$t/full/notes"
run "$ssfm" restore "$t/d.json" "$t/full"
is "$rc" 3 "restore into a directory that is not empty: exit 3"
err_has "$t/full is not empty (it holds notes)"
check $? "... names the directory and what it holds"
[ "$(ls -A "$t/full")" = "notes" ]
check $? "... and creates nothing there"

mkdir "$t/emptydir"
run "$ssfm" restore "$t/e.json" "$t/emptydir"
is "$rc" 0 "restore into an empty directory: exit 0"

# refused FILE WHAT TEXT: restore of FILE fails with exit 3, TEXT in the
# message, and the target left missing.
refused() {
	run "$ssfm" restore "$1" "$t/bad"
	is "$rc" 3 "$2: exit 3"
	err_has "$3"
	check $? "$2: the message says \"$3\""
	gone "$t/bad"
	check $? "$2: nothing left behind"
}

printf 'hello\n' > "$t/hello.json"
refused "$t/hello.json" "a file that is not a dump" "hello.json: byte 0: expected '{'"

cat > "$t/badvalue.json" <<'EOF'
{"group":"bk","seq":5,"digest":"0000000000000000","keys":[
{"key":"a","version":1,"value":{"x":oops}}
]}
EOF
refused "$t/badvalue.json" "a value that is not JSON" 'entry 1 (byte 59): key "a": value is not valid JSON'

printf '{"group":"bk","seq":5,"digest":"0000000000000000","keys":[\n{"key":"ok","version":1,"value":1},\n{"key":"b\377","version":2,"value":2}\n]}\n' > "$t/badkey.json"
refused "$t/badkey.json" "a key that is not UTF-8" "entry 2"
err_has "UTF-8"
check $? "a key that is not UTF-8: the store's reason"

cat > "$t/emptykey.json" <<'EOF'
{"group":"bk","seq":5,"digest":"0000000000000000","keys":[
{"key":"","version":1,"value":1}
]}
EOF
refused "$t/emptykey.json" "an empty key" "entry 1"

cat > "$t/future.json" <<'EOF'
{"group":"bk","seq":5,"digest":"0000000000000000","keys":[
{"key":"a","version":6,"value":1}
]}
EOF
refused "$t/future.json" "a version above the dump's seq" 'key "a": version 6 is not in 1..5'

cat > "$t/order.json" <<'EOF'
{"group":"bk","seq":5,"digest":"0000000000000000","keys":[
{"key":"b","version":1,"value":1},
{"key":"a","version":2,"value":2}
]}
EOF
refused "$t/order.json" "keys out of order" 'key "a": not after the key before it'

cat > "$t/member.json" <<'EOF'
{"group":"bk","seq":5,"digest":"0000000000000000","keys":[
{"key":"a","version":1,"value":1,"extra":2}
]}
EOF
refused "$t/member.json" "an entry with an unknown member" 'entry 1: unexpected member "extra"'

size=$(wc -c < "$t/d.json")
head -c $((size / 2)) "$t/d.json" > "$t/half.json"
refused "$t/half.json" "a dump cut in half" "truncated"
head -c $((size - 3)) "$t/d.json" > "$t/short.json"
refused "$t/short.json" "a dump without its last bytes" "truncated"
cp "$t/d.json" "$t/trail.json" && echo '{}' >> "$t/trail.json"
refused "$t/trail.json" "a dump with more after its end" "more after the end of the dump"

sed 's/"n":7,/"n":8,/' "$t/d.json" > "$t/edited.json"
cmp -s "$t/edited.json" "$t/d.json"
is $? 1 "(a value edited in a copy of the dump)"
refused "$t/edited.json" "a dump changed after it was written" "the dump was changed or damaged"

# Interrupted: the restore reads from a FIFO that stops half-way; SIGTERM
# once the new store exists must leave nothing behind.
mkfifo "$t/fifo"
"$ssfm" restore --no-progress "$t/fifo" "$t/intr" > "$t/out" 2> "$t/err" &
pid=$!
exec 3> "$t/fifo"
head -c 4000 "$t/d.json" >&3
n=0
while [ ! -e "$t/intr/ssfm-store" ] && [ "$n" -lt 300 ]; do
	sleep 0.1
	n=$((n + 1))
done
check_cmd "the restore made the store before the FIFO ran dry" test -e "$t/intr/ssfm-store"
kill -TERM "$pid"
wait "$pid"
rc=$?
exec 3>&-
sed 's/^/# stderr: /' "$t/err"
[ "$rc" -ne 0 ]
check $? "SIGTERM during a restore: a non-zero exit ($rc)"
gone "$t/intr"
check $? "... and nothing left behind"

run "$ssfm" restore "$t/no-such.json" "$t/bad"
is "$rc" 4 "restore of a missing file: exit 4"
err_has "$t/no-such.json: No such file or directory"
check $? "... names the file"
run "$ssfm" restore "$t/d.json"
is "$rc" 2 "restore with one operand: exit 2 (usage)"
run "$ssfm" restore --io-timeout 0 "$t/d.json" "$t/bad"
is "$rc" 2 "restore --io-timeout 0: exit 2"
run "$ssfm" restore --group 'a b' "$t/d.json" "$t/bad"
is "$rc" 2 "restore --group with a space: exit 2"
gone "$t/bad"
check $? "usage errors create nothing"

done_testing
