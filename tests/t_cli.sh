#!/bin/sh
# t_cli.sh: the offline commands of ssfm(8) on real store directories:
# init, verify (clean and damaged), dump, get, list with paging, the exit
# statuses of ssfm(8) EXIT STATUS, and messages that name the folder, file
# or key.  Keys are written with tests/store_fill (the store API, as a
# writer).  TAP on stdout.  Needs python3 (Debian package: python3) to check
# JSON output.

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
ssfm="$top_builddir/src/ssfm"
fill="$top_builddir/tests/store_fill"

. "$top_srcdir/tests/tap.sh"

need_tools python3:python3
need_built "$ssfm" "$fill"
test_tmpdir cli

# run CMD...: status in $rc, stdout in $t/out, stderr in $t/err.  Each
# command has a deadline (a hang is a failure with status 124, not a stuck
# test run).
run() {
	timeout -k 5 120 "$@" >"$t/out" 2>"$t/err"
	rc=$?
	[ "$rc" -ne 124 ] || echo "# timed out after 120 s: $*"
	if [ -s "$t/err" ]; then
		sed 's/^/# stderr: /' "$t/err"
	fi
}
# json EXPR: evaluates the Python expression EXPR on the JSON in $t/out (as
# d); passes when it is true.
json() {
	jout=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$t/out" "$1" 2>&1)
	jrc=$?
	[ -z "$jout" ] || printf '%s\n' "$jout" | sed 's/^/# /'
	[ "$jrc" -eq 0 ] || sed 's/^/# stdout: /' "$t/out" | head -n 20
	return "$jrc"
}
err_has() { grep -q -F -- "$1" "$t/err"; }

s="$t/s1"

# ---- global options and usage -------------------------------------------
run "$ssfm" --help
is "$rc" 0 "ssfm --help exits 0"
for c in init verify dump get list; do
	grep -q "^  ssfm $c " "$t/out"
	check $? "--help lists the command $c"
done
for o in --group --io-timeout --json --version --limit --start --help; do
	grep -q -- "$o" "$t/out"
	check $? "--help lists the option $o"
done
run "$ssfm" --version
is "$rc" 0 "ssfm --version exits 0"
grep -q '^ssfm [0-9]' "$t/out"
check $? "ssfm --version prints the version"

run "$ssfm"
is "$rc" 2 "no command: exit 2"
err_has "ssfm: no command"
check $? "no command: message"
run "$ssfm" frobnicate
is "$rc" 2 "unknown command: exit 2"
err_has 'ssfm: unknown command "frobnicate"'
check $? "unknown command: message names it"
run "$ssfm" get   # no operand (with only a non-store DIR, get is online)
is "$rc" 2 "get without a key: exit 2"
err_has "usage: ssfm get"
check $? "get without a key: usage line on stderr"
run "$ssfm" list --limit 0 "$s"
is "$rc" 2 "list --limit 0: exit 2"
err_has "--limit 0"
check $? "list --limit 0: message names the option"
run "$ssfm" list --bogus "$s"
is "$rc" 2 "unknown option: exit 2"
run "$ssfm" init --io-timeout 61 "$s"
is "$rc" 2 "init --io-timeout 61: exit 2"
run "$ssfm" init --io-timeout 5x "$s"
is "$rc" 2 "init --io-timeout 5x: exit 2"
run "$ssfm" init --group 'no spaces' "$s"
is "$rc" 2 "init --group with a space: exit 2"
[ ! -e "$s" ]
check $? "a refused init leaves nothing behind"

# ---- init, and an empty store -------------------------------------------
run "$ssfm" init --io-timeout 3 "$s"
is "$rc" 0 "init exits 0"
grep -q '^group = s1$' "$s/ssfm-store" && grep -q '^io_timeout = 3$' "$s/ssfm-store"
check $? "init: default group is the folder's name; io_timeout recorded"
for d in journal epochs snapshots quarantine; do
	[ -d "$s/$d" ]
	check $? "init made $d/"
done
[ -f "$s/lease" ] && [ "$(stat -c %s "$s/lease")" -ge 2097152 ]
check $? "init wrote the sanlock lease area (2 MiB)"
run "$ssfm" verify "$s"
grep -q "lease: sanlock lockspace s1, io_timeout 3 s, lease version 0" "$t/out"
check $? "verify reads the lease area as sanlock would: lockspace, io_timeout, version"
run "$ssfm" init "$s"
is "$rc" 3 "init on an existing store: exit 3"
err_has "$s"
check $? "init on an existing store: message names the folder"

mkdir "$t/bad name"
run "$ssfm" init "$t/bad name"
is "$rc" 2 "init where the folder's name is not a group name: exit 2"
err_has "--group"
check $? "... and the message asks for --group"
run "$ssfm" init --group good "$t/bad name"
is "$rc" 0 "init with --group in that folder: exit 0"
grep -q '^group = good$' "$t/bad name/ssfm-store"
check $? "init --group recorded the group"

run "$ssfm" verify "$s"
is "$rc" 0 "verify on a new store: exit 0 (clean)"
grep -q clean "$t/out"
check $? "verify says clean"
run "$ssfm" verify --json "$s"
is "$rc" 0 "verify --json on a new store: exit 0"
json 'd["clean"] is True and d["damaged"] == 0 and d["gaps"] == 0 and d["findings"][-1].endswith("clean")'
check $? "verify --json: clean, no problems counted"

run "$ssfm" dump "$s"
is "$rc" 0 "dump of an empty store: exit 0"
json 'd["group"] == "s1" and d["keys"] == [] and d["seq"] == 0 and len(d["digest"]) == 16'
check $? "dump of an empty store: group, no keys, seq 0"

run "$ssfm" get "$s" no/such/key
is "$rc" 1 "get of a missing key: exit 1"
err_has '"no/such/key"'
check $? "get of a missing key: message names the key"
[ ! -s "$t/out" ]
check $? "get of a missing key: nothing on stdout"
run "$ssfm" get "$s" ''
is "$rc" 2 "get of an empty key: exit 2 (invalid key)"
run "$ssfm" list "$s"
is "$rc" 0 "list of an empty store: exit 0"
[ ! -s "$t/out" ]
check $? "list of an empty store prints nothing"

mkdir "$t/plain"
run "$ssfm" verify "$t/plain"
is "$rc" 3 "verify on a folder that is not a store: exit 3"
err_has "$t/plain"
check $? "... and the message names the folder"
run "$ssfm" dump "$t/plain"
is "$rc" 3 "dump on a folder that is not a store: exit 3"

# ---- a store with keys --------------------------------------------------
run "$fill" --prefix app/ "$s" 50
is "$rc" 0 "store_fill wrote 50 app/ keys"
run "$fill" --prefix cfg/ --snapshot "$s" 7
is "$rc" 0 "store_fill wrote 7 cfg/ keys (a second epoch) and a snapshot"
ls "$s/snapshots" | grep -q '^[0-9]\{20\}$'
check $? "a snapshot file exists"
run "$fill" --prefix app/ "$s" 10
is "$rc" 0 "store_fill wrote app/00000000..09 again (a third epoch, after the snapshot)"

run "$ssfm" list "$s"
is "$rc" 0 "list: exit 0"
is "$(wc -l <"$t/out" | tr -d ' ')" 57 "list shows all 57 keys"
LC_ALL=C sort -c "$t/out"
check $? "list is in bytewise order"
run "$ssfm" list "$s" cfg/
is "$(cat "$t/out" | tr '\n' ' ')" "cfg/00000000 cfg/00000001 cfg/00000002 cfg/00000003 cfg/00000004 cfg/00000005 cfg/00000006 " "list with a prefix"
run "$ssfm" list --limit 3 "$s" app/
is "$(cat "$t/out" | tr '\n' ' ')" "app/00000000 app/00000001 app/00000002 " "list --limit 3"
run "$ssfm" list --start app/00000045 "$s" app/
is "$(cat "$t/out" | tr '\n' ' ')" "app/00000045 app/00000046 app/00000047 app/00000048 app/00000049 " "list --start is inclusive"
run "$ssfm" list --start app/00000048 --limit 5 "$s"
is "$(cat "$t/out" | tr '\n' ' ')" "app/00000048 app/00000049 cfg/00000000 cfg/00000001 cfg/00000002 " "list --start without a prefix crosses prefixes"

# Paging with --json: "next" names the first key not listed.
start=""
pages=0
: >"$t/paged"
while :; do
	if [ -n "$start" ]; then
		run "$ssfm" list --json --limit 20 --start "$start" "$s" app/
	else
		run "$ssfm" list --json --limit 20 "$s" app/
	fi
	[ "$rc" -eq 0 ] || break
	pages=$((pages + 1))
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for e in d["keys"]: print(e["key"])
print("NEXT", d["next"] if d["next"] is not None else "")' "$t/out" >"$t/page" || break
	grep -v '^NEXT' "$t/page" >>"$t/paged"
	start=$(sed -n 's/^NEXT \{0,1\}//p' "$t/page")
	[ -n "$start" ] && [ "$pages" -lt 10 ] || break
done
is "$pages" 3 "list --json --limit 20 pages 50 keys in 3 pages"
timeout -k 5 120 "$ssfm" list "$s" app/ >"$t/all"
cmp -s "$t/paged" "$t/all"
check $? "the pages together are the whole listing, each key once"
run "$ssfm" list --json --limit 20 --start app/00000040 "$s" app/
json 'len(d["keys"]) == 10 and d["next"] is None and d["keys"][0]["value"]["n"] == 40'
check $? "the last page has next null; entries carry values"

run "$ssfm" get "$s" app/00000007
is "$rc" 0 "get: exit 0"
json 'd == {"n": 7, "by": "store_fill"}'
check $? "get prints the value as JSON"
run "$ssfm" get --version "$s" app/00000007
is "$rc" 0 "get --version: exit 0"
json 'd["key"] == "app/00000007" and d["version"] > 0 and d["value"]["n"] == 7'
check $? "get --version prints key, version and value"
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$t/out")

run "$ssfm" dump "$s"
is "$rc" 0 "dump: exit 0"
json 'd["group"] == "s1" and len(d["keys"]) == 57 and d["seq"] >= 67'
check $? "dump parses as JSON and holds 57 keys"
json '[e["key"] for e in d["keys"]] == sorted(e["key"] for e in d["keys"])'
check $? "dump is in key order"
json "[e['version'] for e in d['keys'] if e['key'] == 'app/00000007'] == [$version]"
check $? "dump and get --version agree on the version"
json 'all(e["version"] <= d["seq"] for e in d["keys"]) and all(c in "0123456789abcdef" for c in d["digest"])'
check $? "dump: versions at most seq; digest in hex"

json 'd["keys"][0]["key"] == "app/00000000" and d["keys"][10]["version"] < d["keys"][9]["version"]'
check $? "dump: rewritten keys carry their new versions"
cp "$t/out" "$t/dump.json"

# An independent reader written from ssfm-store(5) alone agrees with dump.
run python3 "$top_srcdir/tests/format_reader.py" "$s"
is "$rc" 0 "format_reader.py (written from ssfm-store(5)) reads the store"
json "d == json.load(open('$t/dump.json'))"
check $? "format_reader.py and ssfm dump give the same group, seq, digest and keys"

run "$ssfm" verify "$s"
is "$rc" 0 "verify after writes: exit 0 (clean)"

# ---- more keys than one page of cli_scan (256) ---------------------------
s2="$t/s2"
run "$ssfm" init "$s2"
run "$fill" --prefix big/ "$s2" 700
is "$rc" 0 "store_fill wrote 700 keys to a second store"
run "$ssfm" list "$s2"
is "$(wc -l <"$t/out" | tr -d ' ')" 700 "list shows 700 keys across pages"
is "$(LC_ALL=C sort -u "$t/out" | wc -l | tr -d ' ')" 700 "... each once"
LC_ALL=C sort -c "$t/out"
check $? "... in order"
run "$ssfm" list --start big/00000254 --limit 4 "$s2"
is "$(cat "$t/out" | tr '\n' ' ')" "big/00000254 big/00000255 big/00000256 big/00000257 " "list across a page boundary"
run "$ssfm" dump "$s2"
json 'len(d["keys"]) == 700 and [e["value"]["n"] for e in d["keys"]] == list(range(700))'
check $? "dump of 700 keys: every key once, in order"

# ---- damage: flip one byte in the last journal file ---------------------
last=$(ls "$s/journal" | LC_ALL=C sort | tail -n 1)
f="$s/journal/$last"
size=$(wc -c <"$f" | tr -d ' ')
off=$((size / 2))
byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
flipped=$(( (byte ^ 255) & 255 ))
printf "$(printf '\\%03o' "$flipped")" | dd of="$f" bs=1 seek="$off" conv=notrunc 2>/dev/null
now=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
is "$now" "$flipped" "flipped byte $off of journal/$last"

run "$ssfm" verify "$s"
is "$rc" 1 "verify of a damaged store: exit 1"
grep -q -F "$last" "$t/out" "$t/err"
check $? "verify names the damaged file"
err_has "verify found problems"
check $? "verify says on stderr that it found problems"
run "$ssfm" verify --json "$s"
is "$rc" 1 "verify --json of a damaged store: exit 1"
json "d['clean'] is False and d['damaged'] >= 1 and any('$last' in x for x in d['findings'])"
check $? "verify --json: not clean, damaged counted, file named"
run "$ssfm" dump "$s"
is "$rc" 3 "dump of a store whose journal stops at a damaged file: exit 3"
err_has "$last"
check $? "... with a warning naming the file"
json 'len(d["keys"]) >= 50'
check $? "... after a dump of the state before that file"
[ -e "$f" ]
check $? "offline commands leave the damaged file in place"


# ---- the lease area is part of the store ---------------------------------
run "$ssfm" init "$t/nolease"
is "$rc" 0 "init of a second store"
rm -f "$t/nolease/lease"
run "$ssfm" verify "$t/nolease"
is "$rc" 1 "verify without the lease file: exit 1"
err_has "$t/nolease/lease"
check $? "verify without the lease file: the message names it"
run "$ssfm" init "$t/nolease"
is "$rc" 3 "init on a store whose lease is gone: still a store (exit 3)"
mkdir "$t/leaseonly" && : > "$t/leaseonly/lease"
run "$ssfm" init "$t/leaseonly"
is "$rc" 4 "init where a stray lease file exists: exit 4"
err_has "lease file is already there"
check $? "... and the message says what is in the way"
[ ! -e "$t/leaseonly/ssfm-store" ]
check $? "... and no store was made"

done_testing
