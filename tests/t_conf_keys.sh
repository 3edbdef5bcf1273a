#!/bin/sh
# t_conf_keys.sh: the keys in ssfm.conf(5) are exactly the keys of the
# table in src/config.c (printed by tests/conf_keys), each with the same
# type, and the page passes mandoc's lint.
set -u
top_srcdir=${top_srcdir:-..}
top_builddir=${top_builddir:-..}
page="$top_srcdir/man/ssfm.conf.5"
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/ssfm-confkeys.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$top_srcdir/tests/tap.sh"

"$top_builddir/tests/conf_keys" > "$tmp/table" 2>&1
check_cmd "conf_keys prints the table" test -s "$tmp/table"
# The page lists each key as ".It Cm NAME Ar TYPE" in the KEYS section.
sed -n 's/^\.It Cm \([a-z_]*\) Ar \([a-z]*\).*/\1 \2/p' "$page" > "$tmp/page"
check_cmd "the page lists keys" test -s "$tmp/page"
sort "$tmp/table" > "$tmp/table.sorted"
sort "$tmp/page" > "$tmp/page.sorted"
if ! cmp -s "$tmp/table.sorted" "$tmp/page.sorted"; then
	echo "# keys (and types) differ between src/config.c (<) and man/ssfm.conf.5 (>):"
	diff "$tmp/table.sorted" "$tmp/page.sorted" | sed 's/^/# /'
fi
check_cmd "every key of the table is in ssfm.conf(5) with its type, and no other" cmp -s "$tmp/table.sorted" "$tmp/page.sorted"
if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -W warning "$page" > "$tmp/lint" 2>&1
	sed 's/^/# /' "$tmp/lint"
	check_cmd "mandoc -Tlint -W warning is clean on ssfm.conf.5" test ! -s "$tmp/lint"
else
	echo "# mandoc not found: install the Debian package mandoc"
	check_cmd "mandoc is installed" false
fi
done_testing
