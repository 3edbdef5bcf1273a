# tests/pcmk.sh: a real two-node Pacemaker cluster on this machine, for
# t_ocf_pacemaker.sh.  Sourced after tap.sh and ocfutil.sh (ou_setup
# first: everything lives under $OU).  Needs root.
#
# Each node is a network namespace (its own corosync ring address on a
# veth pair) and a private mount and UTS namespace with its own hostname,
# /run (so its own sanlock daemon at /run/sanlock, its own Pacemaker
# sockets and resource-agent state), /dev/shm and /var/lib/pacemaker.  The
# rest of the filesystem is common: the shared storage is a folder under
# $OU.  Pacemaker finds agents only under its compiled-in OCF root, so each
# node sees, in its namespace only, a resource.d folder holding the agent
# under test as resource.d/ssfm/ssfm (a bind mount over the real one).
#
#   pk_up AGENT         starts node1 and node2; returns once both are online
#                       and a DC is elected (non-zero: not up in 60 s)
#   pk_on N CMD...      runs CMD on node N (its namespaces)
#   pk_roles            prints "NODE ROLE" for each instance (crm_mon's view)
#   pk_promoted         prints the node(s) Pacemaker has promoted, by name
#   pk_role NODE        the instance's role on NODE: Promoted, Unpromoted...
#   pk_down             kills every process in both nodes' namespaces and
#                       deletes the namespaces (also run at exit)
#
# Namespace and link names carry the test's pid, so runs do not collide.

PK_NODES="1 2"
PK_NS_BASE="ssfmpk$$"

pk_ns() {
	echo "${PK_NS_BASE}n$1"
}

pk_pid() {	# a process that is in node N's namespaces: its sanlock's parent shell
	cat "$OU/pk/n$1/anchor.pid" 2>/dev/null
}

pk_on() {
	pk_node=$1
	shift
	nsenter -t "$(pk_pid "$pk_node")" -n -m -u -- "$@"
}

pk_down() {
	for pk_n in $PK_NODES; do
		ns=$(pk_ns "$pk_n")
		ip netns list 2>/dev/null | grep -q "^$ns\\b" || continue
		# Every process of the node (pacemaker, corosync, sanlock, ssfmd):
		# all were started by this test inside its namespace.
		for round in 1 2 3; do
			pids=$(ip netns pids "$ns" 2>/dev/null)
			[ -n "$pids" ] || break
			kill -KILL $pids 2>/dev/null
			sleep 0.2
		done
		ip netns del "$ns" 2>/dev/null
	done
	return 0
}

# The inside of a node: run by `ip netns exec NS unshare -m -u
# --propagation private sh pk-node.sh N DIR`.  Keeps running (its pid
# anchors the namespaces) until killed by pk_down.
pk_write_node_script() {
	cat >"$OU/pk/pk-node.sh" <<'EOF'
set -e
N=$1 D=$2
hostname "node$N"
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/crm /run/resource-agents /run/lock /run/sanlock
chown hacluster:haclient /run/crm
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount --bind "$D/pacemaker" /var/lib/pacemaker
mount --bind "$D/resource.d" /usr/lib/ocf/resource.d
cp "$D/ssfm.conf" /run/ssfm-test.conf
# sanlock at its default run folder, /run/sanlock: this node's own.
SANLOCK_PRIVILEGED=0 /usr/sbin/sanlock daemon -D -w 0 -l 0 -h 0 -U root -G root \
    >"$D/sanlock.log" 2>&1 &
corosync -f -c "$D/corosync.conf" >"$D/corosync.stdout" 2>&1 &
i=0
until corosync-cfgtool -s >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "corosync not up" >&2; exit 1; }
	sleep 0.1
done
PCMK_logfile="$D/pacemaker.log" PCMK_logfacility=none pacemakerd \
    >"$D/pacemakerd.stdout" 2>&1 &
echo $$ >"$D/anchor.pid"
wait
EOF
}

pk_corosync_conf() {	# N
	cat <<EOF
totem {
    version: 2
    cluster_name: ssfmpk
    crypto_cipher: none
    crypto_hash: none
    transport: knet
    token: 1000
}
system {
    state_dir: $OU/pk/n$1/corosync
}
logging {
    to_stderr: no
    to_logfile: yes
    logfile: $OU/pk/n$1/corosync.log
    to_syslog: no
    timestamp: hires
}
quorum {
    provider: corosync_votequorum
    two_node: 1
    wait_for_all: 0
}
nodelist {
    node {
        name: node1
        nodeid: 1
        ring0_addr: 10.99.0.1
    }
    node {
        name: node2
        nodeid: 2
        ring0_addr: 10.99.0.2
    }
}
EOF
}

# No fencing device here (the shared lease fences the store); no quorum
# policy for two nodes; dc-deadtime 1 s instead of 20 s.
pk_seed_cib() {
	cat <<'EOF'
<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
        <nvpair id="cib-bootstrap-options-no-quorum-policy" name="no-quorum-policy" value="ignore"/>
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="1s"/>
        <nvpair id="cib-bootstrap-options-cluster-recheck-interval" name="cluster-recheck-interval" value="60s"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
EOF
}

pk_up() {	# AGENT; each node's ssfm.conf must be in $OU/pk/nN/ssfm.conf
	agent=$1
	mkdir -p "$OU/pk"
	pk_write_node_script
	va="${PK_NS_BASE}a" vb="${PK_NS_BASE}b"
	ip netns add "$(pk_ns 1)" || return 1
	ip netns add "$(pk_ns 2)" || return 1
	ip link add "$va" type veth peer name "$vb" || return 1
	ip link set "$va" netns "$(pk_ns 1)"
	ip link set "$vb" netns "$(pk_ns 2)"
	ip -n "$(pk_ns 1)" addr add 10.99.0.1/24 dev "$va"
	ip -n "$(pk_ns 2)" addr add 10.99.0.2/24 dev "$vb"
	ip -n "$(pk_ns 1)" link set "$va" up
	ip -n "$(pk_ns 2)" link set "$vb" up
	for n in $PK_NODES; do
		d="$OU/pk/n$n"
		ip -n "$(pk_ns "$n")" link set lo up
		mkdir -p "$d/corosync" "$d/pacemaker/cib" "$d/pacemaker/pengine" \
		    "$d/pacemaker/blackbox" "$d/pacemaker/cores" "$d/pacemaker/bundles" \
		    "$d/resource.d/ssfm"
		chown -R hacluster:haclient "$d/pacemaker"
		chmod 750 "$d/pacemaker"/*
		pk_seed_cib >"$d/cib.xml"
		install -o hacluster -g haclient -m 0600 "$d/cib.xml" "$d/pacemaker/cib/cib.xml"
		pk_corosync_conf "$n" >"$d/corosync.conf"
		# Only ours, as ocf:ssfm:ssfm: the test needs no other.
		cp "$agent" "$d/resource.d/ssfm/ssfm"
		chmod 755 "$d/resource.d/ssfm/ssfm"
		ip netns exec "$(pk_ns "$n")" unshare -m -u --propagation private \
		    sh "$OU/pk/pk-node.sh" "$n" "$d" >"$d/node.out" 2>&1 &
	done
	ou_wait 20 test -s "$OU/pk/n1/anchor.pid" -a -s "$OU/pk/n2/anchor.pid" || return 1
	ou_wait 60 pk_online
}

pk_online() {
	out=$(pk_on 1 crm_mon -1 2>/dev/null) || return 1
	echo "$out" | grep -q 'Current DC: node' &&
	    echo "$out" | grep -qE 'Online: \[ node1 node2 \]'
}

# Roles from crm_mon's XML: each <resource> of the clone carries its role,
# and the <node> inside it the node it runs on.
pk_roles() {	# prints "NODE ROLE" per instance
	pk_on 1 crm_mon -1 -r --output-as=xml 2>/dev/null |
	    awk '/<resource / { role = ""; if (match($0, /role="[A-Za-z]+"/))
			role = substr($0, RSTART + 6, RLENGTH - 7) }
		/<node / && role != "" && match($0, /name="[^"]*"/) {
			print substr($0, RSTART + 6, RLENGTH - 7), role }
		/<\/resource>/ || /<\/clone>/ { role = "" }'
}

pk_promoted() {
	pk_roles | awk '$2 == "Promoted" { print $1 }'
}

pk_role() {	# NODE
	pk_roles | awk -v n="$1" '$1 == n { print $2; exit }'
}
