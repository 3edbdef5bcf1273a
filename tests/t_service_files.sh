#!/bin/sh
# t_service_files.sh: the service files as their consumers read them: the
# agent's meta-data validates against the OCF DTD (ra-api-1.dtd), declares
# every action the agent implements, and every parameter is documented in
# ssfm.ocf(7) (and the page names no other); `systemd-analyze verify`
# accepts the unit and finds no warning; the init script has a complete LSB
# header and answers an unknown action with 2.  TAP on stdout.
# Needs xmllint (libxml2-utils), the DTD (resource-agents), systemd-analyze
# (systemd), mandoc.

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/ocfutil.sh"

dtd=/usr/share/resource-agents/ra-api-1.dtd
page="$top_srcdir/man/ssfm.ocf.7"
ou_setup svcfiles

# ---- the agent's meta-data -------------------------------------------------
"$OU_AGENT" meta-data >"$OU/meta.xml" 2>"$OU/meta.err"
check $? "meta-data exits 0"
head -n 2 "$OU/meta.xml" | grep -q '^<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">$'
check $? "meta-data has the ra-api-1.dtd DOCTYPE"
grep -q '<version>1.0</version>' "$OU/meta.xml"
check $? "meta-data declares OCF 1.0"
if ou_need xmllint libxml2-utils; then
	if [ -r "$dtd" ]; then
		xmllint --noout --dtdvalid "$dtd" "$OU/meta.xml" >"$OU/xmllint.out" 2>&1
		check $? "meta-data validates with xmllint --dtdvalid $dtd"
		grep -v 'failed to load external entity "ra-api-1.dtd"\|^<!DOCTYPE\|^ *^$' \
		    "$OU/xmllint.out" | diag
	else
		check 1 "$dtd not found: install the Debian package resource-agents"
	fi
fi

for action in start stop monitor promote demote notify validate-all meta-data; do
	grep -q "<action name=\"$action\"" "$OU/meta.xml"
	check $? "meta-data declares the $action action"
done
grep -q '<action name="monitor"[^>]*role="Promoted"' "$OU/meta.xml" &&
    grep -q '<action name="monitor"[^>]*role="Unpromoted"' "$OU/meta.xml"
check $? "meta-data has a monitor for each role"

# Parameters: the meta-data's and the page's (".It Cm NAME" under
# ".Ss Parameters") are the same set.
sed -n 's/^<parameter name="\([a-z_]*\)".*/\1/p' "$OU/meta.xml" | sort >"$OU/params.meta"
sed -n '/^\.Ss Parameters/,/^\.S[sh] /s/^\.It Cm \([a-z_]*\)$/\1/p' "$page" | sort >"$OU/params.page"
check_cmd "meta-data has parameters" test -s "$OU/params.meta"
cmp -s "$OU/params.meta" "$OU/params.page"
check $? "every agent parameter is in ssfm.ocf(7), and no other"
diff "$OU/params.meta" "$OU/params.page" | diag
for p in $(cat "$OU/params.meta"); do
	grep -q "OCF_RESKEY_$p" "$OU_AGENT"
	check $? "the agent reads parameter $p"
done

# ---- the systemd unit --------------------------------------------------------
if ou_need systemd-analyze systemd; then
	# verify needs the programs the unit runs: the build tree's, here; and
	# finds man pages with man(1), which knows only installed ones.
	sbindir=$(sed -n 's|^ExecStart=\(.*\)/ssfmd -f.*|\1|p' "$OU_UNIT")
	sed "s|$sbindir/ssfmd|$(cd "$top_builddir/src" && pwd)/ssfmd|g" "$OU_UNIT" \
	    >"$OU/ssfmd.service"
	systemd-analyze verify --man=no "$OU/ssfmd.service" >"$OU/verify.out" 2>&1
	check $? "systemd-analyze verify accepts ssfmd.service"
	check_cmd "systemd-analyze verify has no warning" test ! -s "$OU/verify.out"
	diag <"$OU/verify.out"
	# A broken unit must fail, or the check above proves nothing.
	sed 's/^Type=notify/Type=notify\nExecStart=/; s/^Restart=on-failure/Restart=sometimes/' \
	    "$OU/ssfmd.service" >"$OU/broken.service"
	systemd-analyze verify --man=no "$OU/broken.service" >"$OU/broken.out" 2>&1
	test -s "$OU/broken.out"
	check $? "systemd-analyze verify complains about a broken copy"
fi
grep -q '^Type=notify$' "$OU_UNIT" && grep -q '^After=.*sanlock.service' "$OU_UNIT" &&
    grep -q '^Restart=on-failure$' "$OU_UNIT"
check $? "the unit: Type=notify, after sanlock, restart on failure"

# ---- the init script's LSB header --------------------------------------------
sed -n '/^### BEGIN INIT INFO$/,/^### END INIT INFO$/p' "$OU_INIT" >"$OU/lsb"
for field in Provides Required-Start Required-Stop Default-Start Default-Stop \
    Short-Description Description; do
	grep -q "^# $field:" "$OU/lsb"
	check $? "the init script's LSB header has $field"
done
grep -q '^# Required-Start:.*sanlock' "$OU/lsb"
check $? "the init script starts after sanlock"
sh -n "$OU_INIT"
check $? "the init script parses (sh -n)"
"$OU_INIT" frobnicate >/dev/null 2>&1
is "$?" 2 "the init script: an unknown action exits 2"
sh -n "$OU_AGENT"
check $? "the agent parses (sh -n)"

done_testing
