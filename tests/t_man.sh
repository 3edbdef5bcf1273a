#!/bin/sh
# t_man.sh: every man page is clean under `mandoc -Tlint -W warning`, have
# the sections they promise, ssfm(8) documents every command and option
# that `ssfm --help` lists, and ssfm-store(5) carries every magic string and
# constant of store/format.h (so the page cannot silently fall behind).
# TAP on stdout.  Needs mandoc (Debian package: mandoc).

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
man="$top_srcdir/man"
ssfm="$top_builddir/src/ssfm"

. "$top_srcdir/tests/tap.sh"

if ! command -v mandoc >/dev/null 2>&1; then
	check 1 "mandoc not found: install mandoc (apt-get install mandoc)"
	done_testing
fi

# Every page, including any added later.
for path in "$man"/*.[1-8]; do
	page=${path##*/}
	out=$(mandoc -Tlint -W warning "$path" 2>&1)
	rc=$?
	[ "$rc" -eq 0 ] && [ -z "$out" ]
	check $? "mandoc -Tlint -W warning $page is clean"
	[ -n "$out" ] && printf '%s\n' "$out" | diag
done

for sec in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" ENVIRONMENT \
    FILES EXAMPLES "SEE ALSO"; do
	grep -q "^\.Sh $sec\$" "$man/ssfm.8"
	check $? "ssfm.8 has the $sec section"
done
for sec in NAME DESCRIPTION LAYOUT CHECKSUMS DIGEST RECOVERY "SEE ALSO"; do
	grep -q "^\.Sh $sec\$" "$man/ssfm-store.5"
	check $? "ssfm-store.5 has the $sec section"
done

# Every command and long option of `ssfm --help` is documented.
help=$("$ssfm" --help)
check $? "ssfm --help exits 0"
cmds=$(printf '%s\n' "$help" | sed -n 's/^  ssfm \([a-z][a-z-]*\).*/\1/p')
[ -n "$cmds" ]
check $? "ssfm --help lists commands"
for c in $cmds; do
	grep -q "^\.It Cm $c\( \|\$\)" "$man/ssfm.8"
	check $? "ssfm.8 documents the command $c"
done
opts=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u)
for o in $opts; do
	name=${o#--}
	grep -q "Fl \\\\-$name\\b\|Fl -$name\\b" "$man/ssfm.8"
	check $? "ssfm.8 documents the option $o"
done

# Every magic and constant of format.h appears in ssfm-store(5).
fmt="$top_srcdir/store/format.h"
for s in $(sed -n 's/^#define FMT_[A-Z_]* "\([^"]*\)".*/\1/p' "$fmt"); do
	grep -q -- "$s" "$man/ssfm-store.5"
	check $? "ssfm-store.5 mentions \"$s\" from format.h"
done
for k in $(grep -o '0x[0-9A-Fa-f]\{6,\}' "$fmt" | sort -u); do
	grep -qi -- "$k" "$man/ssfm-store.5"
	check $? "ssfm-store.5 mentions the constant $k from format.h"
done
for k in FMT_BATCH_HEADER FMT_RECORD_HEADER FMT_SEAL_HEADER \
    FMT_SNAPSHOT_HEADER; do
	v=$(sed -n "s/^#define $k \\([0-9]*\\)u.*/\\1/p" "$fmt")
	[ -n "$v" ] && grep -q "\\b$v\\b" "$man/ssfm-store.5"
	check $? "ssfm-store.5 gives $k ($v bytes)"
done

done_testing
