#!/bin/sh
# t_libssfm_symbols.sh: libssfm.so exports exactly the symbols listed in
# tests/libssfm.symbols, all with the ssfm_ prefix; and libssfm(3) passes
# mandoc's lint and documents every one of them.
set -u
top_srcdir=${top_srcdir:-..}
top_builddir=${top_builddir:-..}
lib="$top_builddir/src/.libs/libssfm.so"
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/ssfm-symbols.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tap.sh"

if ! command -v nm >/dev/null 2>&1; then
	echo "# nm not found: install the Debian package binutils"
	check_cmd "nm is installed" false
	done_testing
fi
check_cmd "the shared library is built ($lib)" test -f "$lib"
# Defined, exported code and data symbols (T, D, B, R; weak V/W too).
nm -D --defined-only "$lib" 2>/dev/null | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sort -u > "$tmp/got"
sort -u "$top_srcdir/tests/libssfm.symbols" > "$tmp/want"
if ! cmp -s "$tmp/got" "$tmp/want"; then
	echo "# exported (<) and expected (>) differ:"
	diff "$tmp/got" "$tmp/want" | sed 's/^/# /'
fi
check_cmd "exported symbols are exactly tests/libssfm.symbols" cmp -s "$tmp/got" "$tmp/want"
check_cmd "every exported symbol starts with ssfm_" test -z "$(grep -v '^ssfm_' "$tmp/got")"

page="$top_srcdir/man/libssfm.3"
missing=""
for sym in $(cat "$tmp/want"); do
	grep -q "^\.Fn $sym\b\|^\.Fo $sym\b\|^\.Nm $sym\b" "$page" || missing="$missing $sym"
done
[ -z "$missing" ] || echo "# not documented in libssfm(3):$missing"
check_cmd "libssfm(3) documents every exported function" test -z "$missing"
if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -W warning "$page" > "$tmp/lint" 2>&1
	sed 's/^/# /' "$tmp/lint"
	check_cmd "mandoc -Tlint -W warning is clean on libssfm.3" test ! -s "$tmp/lint"
else
	echo "# mandoc not found: install the Debian package mandoc"
	check_cmd "mandoc is installed" false
fi
done_testing
