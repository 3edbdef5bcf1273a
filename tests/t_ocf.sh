#!/bin/sh
# t_ocf.sh: the Pacemaker resource agent (scripts/ssfm.ocf) driven without
# a cluster, against a real ssfmd and sanlock daemon: ocf-tester passes;
# every action returns its OCF code (monitor 7 stopped, 0 standby, 8
# active, 9 after the active's ssfmd was SIGKILLed); the promotion score
# follows how far the host is behind the most advanced host and is removed
# when the host cannot read the store; a missing configuration gives the
# OCF codes for it.  crm_attribute and attrd_updater are replaced by stubs
# that keep the attributes in files, so no cluster is needed (the real
# ones are exercised by t_ocf_pacemaker.sh).  TAP on stdout.
# Needs ocf-tester (Debian package resource-agents) and sanlock.

: "${top_srcdir:=..}"
: "${top_builddir:=..}"
. "$top_srcdir/tests/tap.sh"
. "$top_srcdir/tests/ocfutil.sh"

ou_need ocf-tester resource-agents || done_testing
ou_need /usr/sbin/sanlock sanlock || done_testing
ou_setup ocf

# ---- stubs: attributes as files under $OU/attrs -----------------------------
mkdir -p "$OU/bin" "$OU/attrs" "$OU/rsctmp"
cat >"$OU/bin/crm_attribute" <<'EOF'
#!/bin/sh
# crm_attribute --promotion {-v N | -D | -G -q}: the score in $STUB_ATTRS/promotion
f="$STUB_ATTRS/promotion"
echo "crm_attribute $*" >>"$STUB_ATTRS/calls"
case " $* " in *" --promotion "*) ;; *) exit 1 ;; esac
while [ $# -gt 0 ]; do
	case $1 in
	-v) echo "$2" >"$f"; exit 0 ;;
	-D) rm -f "$f"; exit 0 ;;
	-G) [ -f "$f" ] || exit 6; cat "$f"; exit 0 ;;
	esac
	shift
done
exit 1
EOF
cat >"$OU/bin/attrd_updater" <<'EOF'
#!/bin/sh
# attrd_updater -n NAME {-U V | -D | -Q -A}: this node is "local"; other
# nodes' values are files NAME.NODE the test writes.
echo "attrd_updater $*" >>"$STUB_ATTRS/calls"
name= op= value=
while [ $# -gt 0 ]; do
	case $1 in
	-n) name=$2; shift ;;
	-U) op=U; value=$2; shift ;;
	-D) op=D ;;
	-Q) op=Q ;;
	esac
	shift
done
case $op in
U) echo "$value" >"$STUB_ATTRS/$name.local" ;;
D) rm -f "$STUB_ATTRS/$name.local" ;;
Q) for f in "$STUB_ATTRS/$name".*; do
	[ -f "$f" ] || continue
	echo "name=\"$name\" host=\"${f##*.}\" value=\"$(cat "$f")\""
   done ;;
*) exit 1 ;;
esac
EOF
chmod 755 "$OU/bin/crm_attribute" "$OU/bin/attrd_updater"
PATH="$OU/bin:$PATH"
STUB_ATTRS="$OU/attrs"
export PATH STUB_ATTRS

# ---- one host --------------------------------------------------------------
ou_sanlock "$OU/h1"
check $? "a sanlock daemon runs for the host"
ou_store "$OU/store" g-ocf
check $? "ssfm init makes the store"
ln -s "$OU/store" "$OU/storelink"
ou_conf "$OU/h1/ssfm.conf" g-ocf h1 1 "$OU/storelink" "$OU/h1"

OCF_ROOT=${OCF_ROOT:-/usr/lib/ocf}
OCF_RESOURCE_INSTANCE=ssfm-t
OCF_RESKEY_config="$OU/h1/ssfm.conf"
OCF_RESKEY_ssfmd="$OU_SSFMD"
OCF_RESKEY_ssfm="$OU_SSFM"
OCF_RESKEY_CRM_meta_timeout=60000
HA_RSCTMP="$OU/rsctmp"
export OCF_ROOT OCF_RESOURCE_INSTANCE OCF_RESKEY_config OCF_RESKEY_ssfmd \
    OCF_RESKEY_ssfm OCF_RESKEY_CRM_meta_timeout HA_RSCTMP

agent() {	# ACTION: its exit code in $rc, its output in $OU/agent.log
	"$OU_AGENT" "$1" >>"$OU/agent.log" 2>&1
	rc=$?
}

score() {
	cat "$OU/attrs/promotion" 2>/dev/null || echo none
}

# ---- ocf-tester ------------------------------------------------------------
ocf-tester -n ssfm-t -o config="$OU/h1/ssfm.conf" -o ssfmd="$OU_SSFMD" \
    -o ssfm="$OU_SSFM" "$OU_AGENT" >"$OU/ocf-tester.log" 2>&1
rc=$?
check $rc "ocf-tester passes on the agent"
[ $rc -eq 0 ] || diag <"$OU/ocf-tester.log"

# ---- every action, with its code -------------------------------------------
agent monitor
is "$rc" 7 "monitor of a stopped daemon: 7 (not running)"
agent start
is "$rc" 0 "start: 0"
"$OU_SSFM" -s "$OU/h1/s.sock" status --json >"$OU/status.json" 2>&1
grep -q '"auto_promote":false' "$OU/status.json"
check $? "start runs ssfmd with auto_promote off"
grep -q '"role":"STANDBY"' "$OU/status.json"
check $? "start returns once the daemon is a standby (joined)"
agent monitor
is "$rc" 0 "monitor of a standby: 0"
is "$(score)" 1000 "a standby as far as every host gets the top score"
agent start
is "$rc" 0 "start of a started daemon: 0"

agent promote
is "$rc" 0 "promote: 0"
agent monitor
is "$rc" 8 "monitor of the active: 8 (running promoted)"
"$OU_SSFM" -s "$OU/h1/s.sock" put k '"v1"' >/dev/null 2>&1
check $? "the promoted host takes writes"
agent promote
is "$rc" 0 "promote of the active: 0"

agent demote
is "$rc" 0 "demote: 0"
agent monitor
is "$rc" 0 "monitor after demote: 0 (standby)"
"$OU_SSFM" -s "$OU/h1/s.sock" put k '"v2"' >/dev/null 2>&1
is "$?" 6 "the demoted host refuses writes (ssfm exit 6: not active)"
agent demote
is "$rc" 0 "demote of a standby: 0"

# Behind the most advanced host by 300 operations: score 1000 - 300.
applied=$(sed -n 's/.*"applied_seq":\([0-9]*\).*/\1/p' "$OU/status.json")
"$OU_SSFM" -s "$OU/h1/s.sock" status --json >"$OU/status.json" 2>&1
applied=$(sed -n 's/.*"applied_seq":\([0-9]*\).*/\1/p' "$OU/status.json")
echo $((applied + 300)) >"$OU/attrs/ssfm-applied-ssfm-t.h2"
agent monitor
is "$(score)" 700 "300 operations behind another host: score 700"
echo $((applied + 5000)) >"$OU/attrs/ssfm-applied-ssfm-t.h2"
agent monitor
is "$(score)" 100 "far behind: the floor score 100, still a candidate"
rm -f "$OU/attrs/ssfm-applied-ssfm-t.h2"
is "$(cat "$OU/attrs/ssfm-applied-ssfm-t.local" 2>/dev/null)" "$applied" \
    "the host publishes its applied sequence number"

# A host that cannot read the store: no score (and monitor still 0).
rm "$OU/storelink"
agent monitor
is "$rc" 0 "monitor of a standby that cannot read the store: 0"
is "$(score)" none "a host that cannot read the store has no promotion score"
ln -s "$OU/store" "$OU/storelink"
agent monitor
is "$(score)" 1000 "the score comes back with the store"

# The active's ssfmd SIGKILLed: failed promoted, then recovery.
agent promote
is "$rc" 0 "promote again: 0"
pid=$(cat "$OU/h1/ssfmd.pid")
kill -KILL "$pid"
ou_wait 10 sh -c "! test -d /proc/$pid"
agent monitor
is "$rc" 9 "monitor after SIGKILL of the active's ssfmd: 9 (failed promoted)"
agent demote
is "$rc" 0 "demote of the failed active: 0"
agent stop
is "$rc" 0 "stop of the dead daemon: 0"
agent monitor
is "$rc" 7 "monitor after stop: 7"
agent start
is "$rc" 0 "start after the kill: 0"
agent promote
is "$rc" 0 "promote after the kill: 0 (sanlock freed the dead process's lease)"
"$OU_SSFM" -s "$OU/h1/s.sock" get k >"$OU/get.out" 2>&1
is "$(cat "$OU/get.out")" '"v1"' "the acknowledged write survived the kill"
agent stop
is "$rc" 0 "stop of the active: 0"
is "$(score)" none "stop removes the promotion score"
agent monitor
is "$rc" 7 "monitor after stop: 7"
agent stop
is "$rc" 0 "stop of a stopped daemon: 0"
agent notify
is "$rc" 0 "notify: 0"

# A configuration made invalid while the daemon runs: stop still stops it.
agent start
pid=$(cat "$OU/h1/ssfmd.pid")
cp "$OU/h1/ssfm.conf" "$OU/h1/ssfm.conf.good"
echo "bogus_key = 1" >>"$OU/h1/ssfm.conf"
agent stop
is "$rc" 0 "stop with a configuration made invalid meanwhile: 0"
! test -d "/proc/$pid"
check $? "... and the daemon is gone"
mv "$OU/h1/ssfm.conf.good" "$OU/h1/ssfm.conf"

# ---- configuration problems ------------------------------------------------
agent validate-all
is "$rc" 0 "validate-all of a good configuration: 0"
OCF_RESKEY_config="$OU/none.conf" "$OU_AGENT" validate-all >/dev/null 2>&1
is "$?" 5 "validate-all with a missing configuration file: 5 (not installed)"
OCF_RESKEY_config="$OU/none.conf" "$OU_AGENT" start >/dev/null 2>&1
is "$?" 5 "start with a missing configuration file: 5"
OCF_RESKEY_config="$OU/none.conf" OCF_RESKEY_CRM_meta_interval=0 "$OU_AGENT" monitor >/dev/null 2>&1
is "$?" 7 "a probe on a host without the configuration: 7 (not running)"
OCF_RESKEY_config="$OU/none.conf" "$OU_AGENT" stop >/dev/null 2>&1
is "$?" 0 "stop on a host without the configuration: 0"
echo "bogus_key = 1" >"$OU/bad.conf"
OCF_RESKEY_config="$OU/bad.conf" "$OU_AGENT" validate-all >/dev/null 2>&1
is "$?" 6 "validate-all with an invalid configuration: 6 (not configured)"
OCF_RESKEY_options="--auto_promote=yes" "$OU_AGENT" validate-all >/dev/null 2>&1
is "$?" 6 "validate-all refuses auto_promote in options: 6"
OCF_RESKEY_ssfmd="$OU/none" "$OU_AGENT" validate-all >/dev/null 2>&1
is "$?" 5 "validate-all without the ssfmd program: 5"
"$OU_AGENT" frobnicate >/dev/null 2>&1
is "$?" 3 "an unknown action: 3 (unimplemented)"

ou_sanitizer_check
if [ "$tap_failures" -ne 0 ]; then
	echo "# agent log:"
	tail -n 40 "$OU/agent.log" | diag
	echo "# ssfmd log (syslog is not kept here); sanlock log:"
	tail -n 20 "$OU/h1/sanlock.log" | diag
fi
done_testing
