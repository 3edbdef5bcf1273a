#!/bin/sh
# t_install.sh: `make install DESTDIR=...` puts every file in its place: the
# programs, the library with its header and pkg-config file (a program
# builds and links against them), every man page, the agent under the OCF
# root as resource.d/ssfm/ssfm, the init script and the systemd unit, each
# pointing at the installed daemon; `make uninstall` takes them all away.
# Folders come from the build tree's own Makefiles, so the test holds for
# any configure options (distcheck's too).  TAP on stdout.

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/ocfutil.sh"

ou_setup install
D="$OU/root"
# A make of its own: not a part of the make check that runs this test.
MAKE="env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ${MAKE:-make}"
# Subfolders that install something (tests/ installs nothing, and this test
# runs inside its make check).
parts="store fence src man scripts"

makevar() {	# SUBDIR VARIABLE: the variable's value, fully expanded
	printf 'ssfm-print-var:\n\t@echo $(%s)\n' "$2" |
	    $MAKE -s --no-print-directory -C "$top_builddir/$1" -f Makefile -f - ssfm-print-var
}

prefix=$(makevar scripts prefix)
bindir=$(makevar src bindir)
sbindir=$(makevar src sbindir)
libdir=$(makevar src libdir)
libexecdir=$(makevar fence libexecdir)
includedir=$(makevar src includedir)
mandir=$(makevar man mandir)
sysconfdir=$(makevar scripts sysconfdir)
ocfdir=$(makevar scripts ocfdir)
unitdir=$(makevar scripts systemdunitdir)
check_cmd "the build tree names its folders (prefix $prefix)" test -n "$prefix" -a -n "$ocfdir"
relative=
for dir in "$prefix" "$bindir" "$sbindir" "$libdir" "$libexecdir" "$includedir" "$mandir" \
    "$sysconfdir" "$ocfdir" "$unitdir"; do
	case $dir in
	/*) ;;
	*) relative="$relative $dir" ;;
	esac
done
is "$relative" "" "every installation folder is an absolute path"

rc=0
for p in $parts; do
	$MAKE -s -C "$top_builddir/$p" install DESTDIR="$D" >>"$OU/install.log" 2>&1 || rc=1
done
check $rc "make install DESTDIR=... succeeds"
[ $rc -eq 0 ] || tail -n 30 "$OU/install.log" | diag

expect() {	# PATH [test flag]
	test "${2:--f}" "$D$1"
	check $? "installed: $1"
}
expect "$bindir/ssfm" -x
expect "$sbindir/ssfmd" -x
expect "$libexecdir/ssfm-lease-lost" -x
expect "$libdir/libssfm.so"
expect "$includedir/ssfm.h"
expect "$libdir/pkgconfig/ssfm.pc"
for page in "$top_srcdir"/man/*.[1-8]; do
	name=${page##*/}
	expect "$mandir/man${name##*.}/$name"
done
expect "$ocfdir/ssfm" -x
case $ocfdir in
*/resource.d/ssfm) check 0 "the agent is ocf:ssfm:ssfm (resource.d/ssfm/ssfm)" ;;
*) check 1 "the agent is ocf:ssfm:ssfm: installed in $ocfdir" ;;
esac
expect "$sysconfdir/init.d/ssfmd" -x
expect "$unitdir/ssfmd.service"
(cd "$D" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort) >"$OU/installed"
echo "# installed files:"
diag <"$OU/installed"

# The installed files point at the installed programs.
grep -q "OCF_RESKEY_ssfmd:=$sbindir/ssfmd}" "$D$ocfdir/ssfm" &&
    grep -q "OCF_RESKEY_ssfm:=$bindir/ssfm}" "$D$ocfdir/ssfm"
check $? "the agent's defaults are the installed ssfmd and ssfm"
grep -q "^SSFMD=$sbindir/ssfmd\$" "$D$sysconfdir/init.d/ssfmd"
check $? "the init script runs the installed ssfmd"
grep -q "^ExecStart=$sbindir/ssfmd -f " "$D$unitdir/ssfmd.service"
check $? "the unit runs the installed ssfmd"
if ou_need xmllint libxml2-utils; then
	"$D$ocfdir/ssfm" meta-data >"$OU/meta.xml"
	xmllint --noout --dtdvalid /usr/share/resource-agents/ra-api-1.dtd "$OU/meta.xml" \
	    >/dev/null 2>&1
	check $? "the installed agent's meta-data validates against ra-api-1.dtd"
fi
if ou_need systemd-analyze systemd; then
	sed "s|^ExecStart\(Pre\)*=$sbindir|ExecStart\1=$D$sbindir|" "$D$unitdir/ssfmd.service" \
	    >"$OU/ssfmd.service"
	MANPATH="$D$mandir" systemd-analyze verify "$OU/ssfmd.service" >"$OU/verify.out" 2>&1
	check $? "systemd-analyze verify accepts the installed unit (its man pages found)"
	diag <"$OU/verify.out"
fi

# A client of the installed library, through pkg-config.
if ou_need pkg-config pkg-config && ou_need cc build-essential; then
	cat >"$OU/client.c" <<'EOF'
#include <ssfm.h>
#include <stdio.h>
int main(void)
{
	ssfm_client *c = NULL;
	int rc = ssfm_connect("/nonexistent/ssfm.sock", &c);
	printf("%s\n", ssfm_strerror(rc));
	ssfm_close(c);
	return rc == SSFM_ECONNECT ? 0 : 1;
}
EOF
	pc="PKG_CONFIG_PATH=$D$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D"
	cflags=$(env $pc pkg-config --cflags ssfm)
	libs=$(env $pc pkg-config --libs ssfm)
	check $? "pkg-config reads the installed ssfm.pc ($libs)"
	# shellcheck disable=SC2086
	# The build's own compiler and flags: a sanitizer build's library needs
	# a client linked with the sanitizer runtime.
	${SSFM_TEST_CC:-cc} ${SSFM_TEST_CFLAGS:-} -o "$OU/client" "$OU/client.c" $cflags $libs \
	    ${SSFM_TEST_LDFLAGS:-} >"$OU/cc.out" 2>&1
	check $? "a program builds against the installed header and library"
	diag <"$OU/cc.out"
	LD_LIBRARY_PATH="$D$libdir" "$OU/client" >/dev/null
	check $? "... and runs with the installed libssfm"
fi

rc=0
for p in $parts; do
	$MAKE -s -C "$top_builddir/$p" uninstall DESTDIR="$D" >>"$OU/install.log" 2>&1 || rc=1
done
check $rc "make uninstall DESTDIR=... succeeds"
left=$(cd "$D" && find . \( -type f -o -type l \) | sed 's|^\.||')
is "$left" "" "make uninstall leaves no file behind"

done_testing
