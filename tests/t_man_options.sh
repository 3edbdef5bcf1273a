#!/bin/sh
# t_man_options.sh: every option and every configuration key is documented
# where a user looks for it, and nothing is documented that does not exist.
#
#  - ssfm(8): for each command of `ssfm --help`, every option its block in
#    `ssfm --help` and its own `ssfm CMD --help` show appears in the
#    command's own entry in COMMANDS (from its ".It Cm CMD" to the next
#    command), not merely somewhere in the page; the global options appear
#    in the page; and every option listed in COMMANDS (".It Fl ...") is one
#    that `ssfm --help` shows;
#  - ssfmd(8): every option of `ssfmd --help` is listed (".It Fl ..."), and
#    every option listed is one that `ssfmd --help` shows;
#  - ssfm.conf(5): every key of the daemon's configuration table (printed
#    by tests/conf_keys) has its entry in KEYS (".It Cm KEY"), every entry
#    is a key of the table, and ssfmd(8) says how to set any key on the
#    command line (--KEY=VALUE).
# TAP on stdout.

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
man="$top_srcdir/man"
ssfm="$top_builddir/src/ssfm"
ssfmd="$top_builddir/src/ssfmd"
conf_keys="$top_builddir/tests/conf_keys"

. "$top_srcdir/tests/tap.sh"

need_built "$ssfm" "$ssfmd" "$conf_keys"
test_tmpdir manopt

# options FILE: the long options (--name) and short ones (-x) in FILE, one
# per line.  A short option is a dash and one letter standing alone.
options() {
	{
		grep -o -- '--[a-z][a-z0-9-]*' "$1"
		grep -o -- '\(^\|[][ ,|(]\)-[a-zA-Z]\($\|[] ,|)=]\)' "$1" | grep -o -- '-[a-zA-Z]'
	} | sort -u
}

# entry PAGE CMD: the lines of every ".It Cm CMD" entry of PAGE, each up to
# the next ".It Cm" of another command or the end of its section.
entry() {
	awk -v cmd="$2" '
		/^\.Sh / || /^\.Ss / { inside = 0 }
		/^\.It Cm / { inside = ($3 == cmd) }
		inside { print }
	' "$1"
}

# documented OPT FILE: OPT has an item of its own in a list of FILE
# (".It Fl -name ..." or ".It Fl x ...", also ".It Fl h , Fl -help"): a
# mention in a synopsis does not say what it does.
documented() {
	name=${1#-}
	case "$1" in
	--*)
		grep '^\.It Fl ' "$2" |
		    grep -q -- "Fl \\\\\\{0,1\\}$name\\([^a-z0-9-]\\|\$\\)" ;;
	*)
		grep '^\.It Fl ' "$2" | grep -q -- "Fl $name\\([^a-zA-Z]\\|\$\\)" ;;
	esac
}

# ---- ssfm(8) ------------------------------------------------------------------
"$ssfm" --help > "$t/help"
check $? "ssfm --help exits 0"
# One file per command block of the global help: "  ssfm CMD ..." up to the
# next block, a blank line or the global options.
awk -v dir="$t" '
	/^  ssfm [a-z]/ { n++; file = dir "/block." n; print $2 > (dir "/block." n ".name") }
	/^$/ || /^Global options:/ { file = "" }
	file != "" { print > file }
' "$t/help"
blocks=$(ls "$t"/block.*.name 2>/dev/null | wc -l)
[ "$blocks" -ge 15 ]
check $? "ssfm --help lists the commands ($blocks blocks)"

for namefile in "$t"/block.*.name; do
	block=${namefile%.name}
	cmd=$(cat "$namefile")
	entry "$man/ssfm.8" "$cmd" > "$t/entry.$cmd"
	[ -s "$t/entry.$cmd" ]
	check $? "ssfm.8 has an entry for the command $cmd"
	"$ssfm" "$cmd" --help > "$t/cmdhelp.$cmd" 2>&1
	check $? "ssfm $cmd --help exits 0"
	cat "$block" "$t/cmdhelp.$cmd" > "$t/both"
	for o in $(options "$t/both"); do
		case "$o" in -h|--help) continue ;; esac
		documented "$o" "$t/entry.$cmd"
		check $? "ssfm.8 documents $o in the entry of $cmd"
	done
done

sed -n '/^Global options:/,/^$/p' "$t/help" > "$t/global"
for o in $(options "$t/global"); do
	documented "$o" "$man/ssfm.8"
	check $? "ssfm.8 documents the global option $o"
done

options "$t/help" > "$t/help.options"
sed -n '/^\.Sh COMMANDS/,/^\.Sh /p' "$man/ssfm.8" | sed -n 's/^\.It Fl \(\\\{0,1\}-\{0,1\}[a-z][a-z0-9-]*\).*/\1/p' |
    sed 's/^\\//; s/^\([a-z]\)$/-\1/; s/^-\([a-z][a-z0-9-][a-z0-9-]*\)$/--\1/' | sort -u > "$t/page.options"
[ -s "$t/page.options" ]
check $? "ssfm.8 lists options in COMMANDS"
for o in $(cat "$t/page.options"); do
	grep -qx -- "$o" "$t/help.options"
	check $? "ssfm.8 lists $o, which ssfm --help shows"
done

# ---- ssfmd(8) -------------------------------------------------------------------
"$ssfmd" --help > "$t/dhelp" 2>&1
check $? "ssfmd --help exits 0"
for o in $(options "$t/dhelp"); do
	case "$o" in --KEY) continue ;; esac
	documented "$o" "$man/ssfmd.8"
	check $? "ssfmd.8 documents $o"
done
grep -q -- '--KEY=VALUE' "$t/dhelp" && grep -q '^\.It Fl - Ns Ar key Ns = Ns Ar value' "$man/ssfmd.8"
check $? "ssfmd --help and ssfmd.8 both give --KEY=VALUE for any key of ssfm.conf(5)"
sed -n 's/^\.It Fl \(.*\)/\1/p' "$man/ssfmd.8" | tr ',' '\n' |
    sed -n 's/^ *\(Fl \)\{0,1\}\(\\\{0,1\}-\{0,1\}[a-zA-Z][a-z0-9-]*\).*/\2/p' |
    sed 's/^\\//; s/^\([a-zA-Z]\)$/-\1/; s/^-\([a-z][a-z0-9-][a-z0-9-]*\)$/--\1/' | sort -u > "$t/dpage.options"
[ -s "$t/dpage.options" ]
check $? "ssfmd.8 lists options"
options "$t/dhelp" > "$t/dhelp.options"
for o in $(cat "$t/dpage.options"); do
	grep -qx -- "$o" "$t/dhelp.options"
	check $? "ssfmd.8 lists $o, which ssfmd --help shows"
done

# ---- ssfm.conf(5) ------------------------------------------------------------------
"$conf_keys" > "$t/keys"
check $? "conf_keys prints the configuration table"
cut -d' ' -f1 "$t/keys" | sort -u > "$t/keys.names"
[ "$(wc -l < "$t/keys.names")" -ge 10 ]
check $? "the table has keys"
sed -n '/^\.Sh KEYS/,/^\.Sh /p' "$man/ssfm.conf.5" | sed -n 's/^\.It Cm \([a-z_][a-z0-9_]*\).*/\1/p' |
    sort -u > "$t/page.keys"
for k in $(cat "$t/keys.names"); do
	grep -qx "$k" "$t/page.keys"
	check $? "ssfm.conf.5 documents the key $k"
done
for k in $(cat "$t/page.keys"); do
	grep -qx "$k" "$t/keys.names"
	check $? "ssfm.conf.5 documents $k, a key of the table"
done

done_testing
