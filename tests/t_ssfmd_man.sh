#!/bin/sh
# t_ssfmd_man.sh: ssfmd(8) passes mandoc's lint, holds man/fencing.mdoc as
# its FENCING AND TIMEOUTS section word for word, and documents every
# option ssfmd's usage lists.
set -u
top_srcdir=${top_srcdir:-..}
top_builddir=${top_builddir:-..}
page="$top_srcdir/man/ssfmd.8"
frag="$top_srcdir/man/fencing.mdoc"
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/ssfm-ssfmdman.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0; failed=0
check() {  # description, command...
	n=$((n + 1)); desc=$1; shift
	if "$@"; then echo "ok $n - $desc"; else echo "not ok $n - $desc"; failed=1; fi
}

if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -W warning "$page" > "$tmp/lint" 2>&1
	sed 's/^/# /' "$tmp/lint"
	check "mandoc -Tlint -W warning is clean on ssfmd.8" test ! -s "$tmp/lint"
else
	echo "# mandoc not found: install the Debian package mandoc"
	check "mandoc is installed" false
fi
# The section runs from its .Sh to the next .Sh.
awk '/^\.Sh FENCING AND TIMEOUTS/{on=1; print; next} /^\.Sh /{on=0} on' "$page" > "$tmp/section"
check "ssfmd.8 holds fencing.mdoc as its FENCING AND TIMEOUTS section" cmp -s "$tmp/section" "$frag"
"$top_builddir/src/ssfmd" -h > "$tmp/usage" 2>&1
check "ssfmd -h prints a usage" grep -q "usage: ssfmd" "$tmp/usage"
for opt in c f n v h; do
	check "ssfmd.8 documents -$opt" grep -q "^\.It Fl $opt" "$page"
done
check "ssfmd.8 documents --KEY=VALUE" grep -q "^\.It Fl - Ns Ar key" "$page"
echo "1..$n"
exit $failed
