#!/bin/sh
# t_ssfmd_man.sh: ssfmd(8) passes mandoc's lint, holds man/fencing.mdoc as
# its FENCING AND TIMEOUTS section word for word (and so does ssfm(8)), and documents every
# option ssfmd's usage lists.
set -u
top_srcdir=${top_srcdir:-..}
top_builddir=${top_builddir:-..}
page="$top_srcdir/man/ssfmd.8"
frag="$top_srcdir/man/fencing.mdoc"
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/ssfm-ssfmdman.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tap.sh"

if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -W warning "$page" > "$tmp/lint" 2>&1
	sed 's/^/# /' "$tmp/lint"
	check_cmd "mandoc -Tlint -W warning is clean on ssfmd.8" test ! -s "$tmp/lint"
else
	echo "# mandoc not found: install the Debian package mandoc"
	check_cmd "mandoc is installed" false
fi
# The section runs from its .Sh to the next .Sh.
awk '/^\.Sh FENCING AND TIMEOUTS/{on=1; print; next} /^\.Sh /{on=0} on' "$page" > "$tmp/section"
check_cmd "ssfmd.8 holds fencing.mdoc as its FENCING AND TIMEOUTS section" cmp -s "$tmp/section" "$frag"
# ssfm(8) carries the same section: one text, kept in one file.
awk '/^\.Sh FENCING AND TIMEOUTS/{on=1; print; next} /^\.Sh /{on=0} on' "$top_srcdir/man/ssfm.8" > "$tmp/section8"
check_cmd "ssfm.8 holds fencing.mdoc as its FENCING AND TIMEOUTS section" cmp -s "$tmp/section8" "$frag"
"$top_builddir/src/ssfmd" -h > "$tmp/usage" 2>&1
check_cmd "ssfmd -h prints a usage" grep -q "usage: ssfmd" "$tmp/usage"
for opt in c f n v h; do
	check_cmd "ssfmd.8 documents -$opt" grep -q "^\.It Fl $opt" "$page"
done
check_cmd "ssfmd.8 documents --KEY=VALUE" grep -q "^\.It Fl - Ns Ar key" "$page"
done_testing
