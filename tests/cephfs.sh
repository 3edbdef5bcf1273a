# tests/cephfs.sh: a real CephFS for shell tests, sourced.
#
# One monitor, one OSD (memstore: the objects live in the OSD's memory), one
# MDS with mds_tick_interval 0.2, all on 127.0.0.1 with cephx off, and two
# ceph-fuse clients mounting the root at WORKDIR/mntA and WORKDIR/mntB, as
# two hosts would.  Up in about 15 s, under 0.5 GiB of memory.
#
#   cephfs_up WORKDIR       Sets CEPHFS_A, CEPHFS_B and CEPH_CONF (exported:
#                           `ceph` talks to this cluster); 0 or 1 (message on
#                           stderr).  The clients are named client.$CEPHFS_ID_A
#                           and client.$CEPHFS_ID_B (default A and B; set them
#                           before cephfs_up to name clients after hosts).
#   cephfs_kill A|B         A dead host's client: SIGKILL its ceph-fuse, then
#                           evict its MDS session (which also blocklists it),
#                           so other clients do not wait on its capabilities
#                           for the session timeout.  The mount point is left
#                           dead (ENOTCONN) until cephfs_mount.
#   cephfs_mount A|B        Mounts that mount point again with a new client
#                           (same name), after cephfs_kill or an eviction.
#   cephfs_session A|B      Prints that client's MDS session id.
#   cephfs_down WORKDIR     Unmounts both, stops every daemon by its saved pid;
#                           idempotent.
#
# State lives under WORKDIR/ceph: configuration, data, logs, and one
# "NAME PID" line per process started (WORKDIR/ceph/pids); nothing else is
# ever signalled.  The monitor takes a free port.  Debian packages:
# ceph-mon ceph-osd ceph-mds ceph-fuse ceph-common (and python3).

cephfs_log() { echo "cephfs: $*" >&2; }

cephfs_alive() {  # PID: 0 when PID runs a ceph program
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] &&
		tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | head -n 1 | grep -q '^\(.*/\)\{0,1\}ceph-\(mon\|osd\|mds\|fuse\)$'
}

cephfs_start() {  # NAME PROGRAM ARGS...: a daemon in the foreground, pid saved
	cephfs_name=$1
	shift
	"$@" >> "$CEPHFS_S/log/$cephfs_name.out" 2>&1 &
	echo "$cephfs_name $!" >> "$CEPHFS_S/pids"
}

cephfs_wait() {  # WHAT TENTHS COMMAND...: runs COMMAND until it succeeds
	cephfs_what=$1
	cephfs_left=$2
	shift 2
	until "$@" > /dev/null 2>&1; do
		cephfs_left=$((cephfs_left - 1))
		if [ $cephfs_left -le 0 ]; then
			cephfs_log "timed out waiting for $cephfs_what (logs in $CEPHFS_S/log)"
			return 1
		fi
		sleep 0.1
	done
}

cephfs_mounted() {  # DIR
	awk -v d="$1" '$2 == d { found = 1 } END { exit !found }' /proc/mounts &&
		ls "$1" > /dev/null 2>&1
}

cephfs_c() { ceph --connect-timeout 15 "$@"; }

cephfs_osd_up() { cephfs_c osd dump | grep -q "^osd\.0 up"; }

cephfs_mds_active() { cephfs_c mds stat | grep -q 'up:active'; }

cephfs_up() {  # WORKDIR
	CEPHFS_DIR=$1
	CEPHFS_S=$1/ceph
	CEPHFS_A=$1/mntA
	CEPHFS_B=$1/mntB
	CEPHFS_ID_A=${CEPHFS_ID_A:-A}
	CEPHFS_ID_B=${CEPHFS_ID_B:-B}
	CEPH_CONF=$CEPHFS_S/ceph.conf
	export CEPHFS_DIR CEPHFS_A CEPHFS_B CEPHFS_ID_A CEPHFS_ID_B CEPH_CONF
	for cephfs_p in ceph-mon ceph-osd ceph-mds ceph-fuse ceph monmaptool ceph-authtool python3; do
		if ! command -v $cephfs_p > /dev/null 2>&1; then
			cephfs_log "$cephfs_p not found: install ceph-mon ceph-osd ceph-mds ceph-fuse ceph-common python3"
			return 1
		fi
	done
	mkdir -p "$CEPHFS_S/run" "$CEPHFS_S/log" "$CEPHFS_S/data" "$CEPHFS_A" "$CEPHFS_B" || return 1
	: > "$CEPHFS_S/pids"
	cephfs_fsid=$(cat /proc/sys/kernel/random/uuid)
	# The monitor's port: another test may take the same one; the monitor
	# then fails to bind and the next one is tried.
	cephfs_started=0
	for cephfs_try in 1 2 3 4 5; do
		cephfs_port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		cat > "$CEPH_CONF" <<EOF
[global]
fsid = $cephfs_fsid
mon_host = v2:127.0.0.1:$cephfs_port
public_addr = 127.0.0.1
public_network = 127.0.0.0/8
ms_bind_ipv6 = false
ms_bind_msgr1 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
run_dir = $CEPHFS_S/run
log_file = $CEPHFS_S/log/\$name.log
keyring = $CEPHFS_S/keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_autoscale_mode = off
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
mon_data_avail_warn = 2
mon_data_avail_crit = 1

[mon]
mon_data = $CEPHFS_S/data/\$name
[mds]
mds_data = $CEPHFS_S/data/\$name
mds_cache_memory_limit = 134217728
mds_tick_interval = 0.2
[osd]
osd_data = $CEPHFS_S/data/\$name
osd_objectstore = memstore
memstore_device_bytes = 1073741824
osd_memory_target = 536870912
osd_crush_update_on_start = true
EOF
		rm -rf "$CEPHFS_S/data/mon.a"
		monmaptool --create --fsid "$cephfs_fsid" --addv a "[v2:127.0.0.1:$cephfs_port]" \
			"$CEPHFS_S/monmap" > /dev/null || return 1
		[ -f "$CEPHFS_S/keyring" ] || ceph-authtool --create-keyring "$CEPHFS_S/keyring" \
			--gen-key -n mon. --cap mon 'allow *' > /dev/null || return 1
		ceph-mon --mkfs -i a --monmap "$CEPHFS_S/monmap" --keyring "$CEPHFS_S/keyring" \
			> "$CEPHFS_S/log/mon.mkfs.out" 2>&1 || return 1
		cephfs_start mon.a ceph-mon -f -i a
		cephfs_mon=$!
		if cephfs_wait "the monitor" 300 cephfs_c mon stat; then
			cephfs_started=1
			break
		fi
		kill -KILL $cephfs_mon 2>/dev/null
	done
	[ $cephfs_started = 1 ] || return 1
	cephfs_uuid=$(cat /proc/sys/kernel/random/uuid)
	cephfs_id=$(cephfs_c osd new "$cephfs_uuid") || return 1
	mkdir -p "$CEPHFS_S/data/osd.$cephfs_id"
	ceph-osd -i "$cephfs_id" --mkfs --osd-uuid "$cephfs_uuid" > "$CEPHFS_S/log/osd.mkfs.out" 2>&1 || {
		cephfs_log "ceph-osd --mkfs failed (see $CEPHFS_S/log/osd.mkfs.out)"
		return 1
	}
	cephfs_start "osd.$cephfs_id" ceph-osd -f -i "$cephfs_id"
	cephfs_wait "osd.0 up" 600 cephfs_osd_up || return 1
	cephfs_c osd pool create cephfs_metadata 8 8 > /dev/null 2>&1 || return 1
	cephfs_c osd pool create cephfs_data 8 8 > /dev/null 2>&1 || return 1
	cephfs_c fs new cephfs cephfs_metadata cephfs_data > /dev/null 2>&1 || return 1
	# 30 s is the least Ceph accepts (stock: 60 s).
	cephfs_c fs set cephfs session_timeout 30 > /dev/null 2>&1
	mkdir -p "$CEPHFS_S/data/mds.a"
	cephfs_start mds.a ceph-mds -f -i a
	cephfs_wait "the MDS active" 600 cephfs_mds_active || return 1
	cephfs_mount A || return 1
	cephfs_mount B || return 1
	return 0
}

cephfs_id_of() {  # A|B: the client name (without "client.")
	if [ "$1" = A ]; then echo "$CEPHFS_ID_A"; else echo "$CEPHFS_ID_B"; fi
}

cephfs_mount() {  # A|B
	cephfs_m=$CEPHFS_DIR/mnt$1
	if awk -v d="$cephfs_m" '$2 == d { found = 1 } END { exit !found }' /proc/mounts; then
		umount "$cephfs_m" 2>/dev/null || umount -l "$cephfs_m" 2>/dev/null
	fi
	cephfs_start "client.$1" ceph-fuse -f --id "$(cephfs_id_of "$1")" --client_mountpoint=/ "$cephfs_m"
	cephfs_wait "mount $cephfs_m" 600 cephfs_mounted "$cephfs_m"
}

cephfs_pid_of() {  # NAME: the newest pid saved for NAME
	awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$CEPHFS_S/pids"
}

cephfs_session() {  # A|B
	cephfs_c tell mds.a session ls 2>/dev/null | python3 -c '
import json, sys
want = sys.argv[1]
for s in json.load(sys.stdin):
    if s.get("client_metadata", {}).get("entity_id") == want:
        print(s["id"])
        break
' "$(cephfs_id_of "$1")"
}

cephfs_kill() {  # A|B
	cephfs_pid=$(cephfs_pid_of "client.$1")
	if ! cephfs_alive "$cephfs_pid"; then
		cephfs_log "cephfs_kill: no ceph-fuse running for mount $1"
		return 1
	fi
	cephfs_sid=$(cephfs_session "$1")
	kill -KILL "$cephfs_pid"
	if [ -z "$cephfs_sid" ]; then
		cephfs_log "cephfs_kill: no MDS session for client.$(cephfs_id_of "$1")"
		return 1
	fi
	cephfs_c tell mds.a client evict id="$cephfs_sid" > /dev/null 2>&1
}

cephfs_down() {  # WORKDIR
	cephfs_s=$1/ceph
	for cephfs_m in "$1/mntA" "$1/mntB"; do
		if awk -v d="$cephfs_m" '$2 == d { found = 1 } END { exit !found }' /proc/mounts; then
			umount "$cephfs_m" 2>/dev/null || umount -l "$cephfs_m" 2>/dev/null
		fi
	done
	[ -f "$cephfs_s/pids" ] || return 0
	# The state is thrown away: no clean daemon shutdown is needed.
	cephfs_left=""
	for cephfs_pid in $(awk '{ print $2 }' "$cephfs_s/pids"); do
		if cephfs_alive "$cephfs_pid"; then
			kill -TERM "$cephfs_pid" 2>/dev/null
			cephfs_left="$cephfs_left $cephfs_pid"
		fi
	done
	cephfs_i=0
	while [ $cephfs_i -lt 50 ]; do
		cephfs_any=0
		for cephfs_pid in $cephfs_left; do
			cephfs_alive "$cephfs_pid" && cephfs_any=1
		done
		[ $cephfs_any = 0 ] && break
		sleep 0.1
		cephfs_i=$((cephfs_i + 1))
	done
	for cephfs_pid in $cephfs_left; do
		cephfs_alive "$cephfs_pid" && kill -KILL "$cephfs_pid" 2>/dev/null
	done
	: > "$cephfs_s/pids"
	return 0
}
