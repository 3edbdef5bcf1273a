#!/bin/sh
# t_ocf_pacemaker.sh: a real two-node Pacemaker cluster (tests/pcmk.sh:
# network and mount namespaces, each node with its own corosync, Pacemaker
# and sanlock daemon, sharing the store folder) runs a promotable clone of
# ocf:ssfm:ssfm while a client writes through whichever host is active:
#   - Pacemaker promotes exactly one host, and it is the one ssfmd says is
#     ACTIVE; both hosts have a promotion score; monitor returns 8 there and
#     0 on the standby;
#   - crm_resource --ban --promoted moves the active role to the other host,
#     and a ban there (then --clear) moves it back;
#   - a SIGKILL of the active's ssfmd is recovered: a host is promoted and
#     ACTIVE again, and writes go on;
#   - no acknowledged write is lost: the audit reads the store offline
#     against the writer's acknowledgement log.
# TAP on stdout.  Root only; needs pacemaker, pacemaker-cli-utils, corosync,
# sanlock, iproute2 and util-linux (nsenter, unshare).

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/ocfutil.sh"
. "$top_srcdir/tests/pcmk.sh"

if [ "$(id -u)" -ne 0 ]; then
	check 1 "t_ocf_pacemaker.sh needs root (namespaces, Pacemaker)"
	done_testing
fi
ok_deps=1
ou_need pacemakerd pacemaker || ok_deps=0
ou_need crm_mon pacemaker-cli-utils || ok_deps=0
ou_need corosync corosync || ok_deps=0
ou_need /usr/sbin/sanlock sanlock || ok_deps=0
ou_need ip iproute2 || ok_deps=0
ou_need nsenter util-linux || ok_deps=0
[ $ok_deps = 1 ] || done_testing

ou_setup pcmk
trap 'pk_down; ou_cleanup' EXIT
T0=$(cut -d' ' -f1 /proc/uptime)
elapsed() {
	awk -v t0="$T0" -v t="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", t - t0 }'
}

# ---- the store and each node's configuration ---------------------------------
mkdir -p "$OU/pk/n1" "$OU/pk/n2"
ou_store "$OU/store" g-pcmk
check $? "ssfm init makes the shared store"
for n in 1 2; do
	# Sockets and pid files on the common filesystem, so that the writer
	# (outside the nodes) reaches both daemons.
	ou_conf "$OU/pk/n$n/ssfm.conf" g-pcmk "node$n" "$n" "$OU/store" "$OU/pk/n$n"
done
ssfmd_abs=$(cd "$top_builddir/src" && pwd)/ssfmd
ssfm_abs=$(cd "$top_builddir/src" && pwd)/ssfm
agent_abs=$(cd "$top_builddir/scripts" && pwd)/ssfm.ocf

pk_up "$agent_abs"
rc=$?
check $rc "two Pacemaker nodes are online with a DC ($(elapsed) s)"
if [ $rc -ne 0 ]; then
	for n in 1 2; do tail -n 20 "$OU/pk/n$n/node.out" "$OU/pk/n$n/pacemaker.log" 2>/dev/null | diag; done
	done_testing
fi

cat >"$OU/clone.xml" <<EOF
<clone id="ssfm-clone">
  <meta_attributes id="ssfm-clone-meta">
    <nvpair id="ssfm-clone-promotable" name="promotable" value="true"/>
    <nvpair id="ssfm-clone-promoted-max" name="promoted-max" value="1"/>
    <nvpair id="ssfm-clone-clone-max" name="clone-max" value="2"/>
    <nvpair id="ssfm-clone-clone-node-max" name="clone-node-max" value="1"/>
  </meta_attributes>
  <primitive id="ssfm" class="ocf" provider="ssfm" type="ssfm">
    <instance_attributes id="ssfm-params">
      <nvpair id="ssfm-config" name="config" value="/run/ssfm-test.conf"/>
      <nvpair id="ssfm-ssfmd" name="ssfmd" value="$ssfmd_abs"/>
      <nvpair id="ssfm-ssfm" name="ssfm" value="$ssfm_abs"/>
      <nvpair id="ssfm-grace" name="stop_grace" value="20"/>
    </instance_attributes>
    <operations>
      <op id="ssfm-start" name="start" interval="0" timeout="60s"/>
      <op id="ssfm-stop" name="stop" interval="0" timeout="60s"/>
      <op id="ssfm-promote" name="promote" interval="0" timeout="90s"/>
      <op id="ssfm-demote" name="demote" interval="0" timeout="60s"/>
      <op id="ssfm-mon-p" name="monitor" interval="1s" timeout="20s" role="Promoted"/>
      <op id="ssfm-mon-u" name="monitor" interval="2s" timeout="20s" role="Unpromoted"/>
    </operations>
  </primitive>
</clone>
EOF

# ---- helpers -----------------------------------------------------------------
ssfm_role() {	# N: the role node N's ssfmd reports
	"$ssfm_abs" -s "$OU/pk/n$1/s.sock" status --json 2>/dev/null |
	    sed -n 's/.*"role":"\([A-Z]*\)".*/\1/p'
}
# Exactly one promoted instance, on NODE (any: either), whose ssfmd is
# ACTIVE, and the other instance is Unpromoted with its ssfmd STANDBY.
settled_on() {
	p=$(pk_promoted)
	[ "$(echo "$p" | grep -c .)" = 1 ] || return 1
	[ "$1" = any ] || [ "$p" = "$1" ] || return 1
	k=${p#node}
	o=$((3 - k))
	[ "$(ssfm_role "$k")" = ACTIVE ] && [ "$(ssfm_role "$o")" = STANDBY ] &&
	    [ "$(pk_role "node$o")" = Unpromoted ]
}
agent_on() {	# N ACTION: the agent run by hand on node N, as Pacemaker runs it
	pk_on "$1" env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=ssfm \
	    OCF_RESKEY_config=/run/ssfm-test.conf OCF_RESKEY_ssfmd="$ssfmd_abs" \
	    OCF_RESKEY_ssfm="$ssfm_abs" OCF_RESKEY_CRM_meta_interval=1000 \
	    /usr/lib/ocf/resource.d/ssfm/ssfm "$2" >/dev/null 2>&1
}
acks() {
	grep -c . "$OU/acks.log" 2>/dev/null || echo 0
}
acks_past() {	# N: more than N writes acknowledged
	[ "$(acks)" -gt "$1" ]
}
dump_state() {
	pk_on 1 crm_mon -1 -r -A --include=failures 2>&1 | diag
	for n in 1 2; do
		echo "# node$n ssfmd: $(ssfm_role "$n")"
		grep -E 'ssfm\(' "$OU/pk/n$n/pacemaker.log" 2>/dev/null | tail -n 15 | diag
	done
}

# ---- one promoted host -----------------------------------------------------------
pk_on 1 cibadmin --create -o resources --xml-file "$OU/clone.xml"
check $? "the promotable clone of ocf:ssfm:ssfm is created"
ou_wait 90 settled_on any
check $? "exactly one host is promoted, its ssfmd is ACTIVE, the other STANDBY ($(elapsed) s)"
P=$(pk_promoted)
P=${P:-node1}
K=${P#node}
S=$((3 - K))
echo "# promoted: $P"
for n in 1 2; do
	pk_on 1 crm_attribute -N "node$n" -n master-ssfm -l reboot -G -q >"$OU/score$n" 2>/dev/null
	check $? "node$n has a promotion score ($(cat "$OU/score$n"))"
done
agent_on "$K" monitor
is "$?" 8 "monitor on the active host ($P): 8"
agent_on "$S" monitor
is "$?" 0 "monitor on the standby (node$S): 0"
# Pacemaker's own recurring monitor, from its operation history.
monitor_rcs() {	# NODE: the rc of each monitor Pacemaker ran there
	pk_on 1 crm_mon -1 -r --include=operations --output-as=xml 2>/dev/null |
	    awk -v n="$1" '/<node / && match($0, /name="[^"]*"/) {
			node = substr($0, RSTART + 6, RLENGTH - 7) }
		/<operation_history / && /task="monitor"/ && node == n && match($0, /rc="[0-9]+"/) {
			print substr($0, RSTART + 4, RLENGTH - 5) }'
}
promoted_monitor() {
	monitor_rcs "$P" | grep -qx 8
}
ou_wait 20 promoted_monitor
check $? "Pacemaker's monitor of the promoted instance returned 8 (rcs on $P: $(monitor_rcs "$P" | tr '\n' ' '))"

"$top_builddir/tests/ocf_writer" write "$OU/acks.log" "$OU/stop-writer" \
    "$OU/pk/n1/s.sock" "$OU/pk/n2/s.sock" >"$OU/writer.out" 2>&1 &
writer=$!
ou_track $writer
ou_wait 30 acks_past 50
check $? "the writer's writes are acknowledged"

# ---- move with --ban --promoted, and back ------------------------------------------
pk_on 1 crm_resource --ban --promoted -r ssfm-clone -N "$P" >/dev/null 2>&1
ou_wait 90 settled_on "node$S"
check $? "crm_resource --ban --promoted moves the active role to node$S ($(elapsed) s)"
n=$(acks)
ou_wait 30 acks_past "$n"
check $? "writes are acknowledged on node$S"
pk_on 1 crm_resource --clear -r ssfm-clone >/dev/null 2>&1
pk_on 1 crm_resource --ban --promoted -r ssfm-clone -N "node$S" >/dev/null 2>&1
ou_wait 90 settled_on "$P"
check $? "and a ban of node$S moves it back to $P ($(elapsed) s)"
pk_on 1 crm_resource --clear -r ssfm-clone >/dev/null 2>&1
n=$(acks)
ou_wait 30 acks_past "$n"
check $? "writes are acknowledged on $P again"
agent_on "$K" monitor
is "$?" 8 "monitor on the active host ($P) after the moves: 8"

# ---- SIGKILL of the active's ssfmd -------------------------------------------------
pid=$(tr -dc '0-9' <"$OU/pk/n$K/ssfmd.pid")
kill -KILL "$pid"
check $? "SIGKILL to $P's ssfmd (pid $pid)"
ou_wait 90 sh -c "! test -d /proc/$pid"
# Pacemaker's promoted monitor sees the daemon gone (9), recovers the
# instance, and promotes a host again.
ou_wait 120 settled_on any
check $? "after the kill one host is promoted and ACTIVE again ($(elapsed) s)"
pk_on 1 crm_mon -1 -r --include=failures 2>/dev/null | grep -q 'Failed Resource Actions'
check $? "Pacemaker recorded the failure of the killed instance"
n=$(acks)
ou_wait 60 acks_past "$n"
check $? "writes are acknowledged after the recovery"

# ---- the audit -----------------------------------------------------------------------
touch "$OU/stop-writer"
ou_wait 150 sh -c "! kill -0 $writer 2>/dev/null"
wait "$writer"
is "$?" 0 "the writer got every write acknowledged ($(cat "$OU/writer.out"))"
pk_on 1 crm_resource -r ssfm-clone --meta -p target-role -v Stopped >/dev/null 2>&1
stopped() {
	[ -z "$(pk_roles | awk '$2 != "Stopped"')" ] &&
	    [ -z "$(ssfm_role 1)$(ssfm_role 2)" ]
}
ou_wait 90 stopped
check $? "target-role Stopped stops both daemons ($(elapsed) s)"
"$top_builddir/tests/ocf_writer" audit "$OU/acks.log" "$OU/store" >"$OU/audit.out" 2>&1
check $? "no acknowledged write is lost: $(tail -n 1 "$OU/audit.out")"
grep '^#' "$OU/audit.out" | head -n 20

if [ "$tap_failures" -ne 0 ]; then
	dump_state
fi
pk_down
echo "# total $(elapsed) s"
done_testing
