# tests/netfs.sh: a loopback "network filesystem" for shell tests, sourced.
# Two independent sshfs clients (mntA, mntB) of one export folder, served by
# a private sshd on a free 127.0.0.1 port: each client caches like an NFS
# client would (PROFILE), inotify on one never sees the other's changes, and
# renameat2(RENAME_NOREPLACE) fails with EINVAL (shared/recipes/netfs).
#
#   netfs_up WORKDIR PROFILE   # PROFILE nfs-default|nfs-tuned|strict; exports
#                              # WORKDIR/export, mounts WORKDIR/mntA and mntB;
#                              # sets NETFS_EXPORT NETFS_A NETFS_B; 0 or 1
#   netfs_cut A|B              # SIGKILL that client's sshfs: its mount is cut off
#   netfs_down WORKDIR         # unmount, stop sshd by its saved pid; idempotent
#
# Needs root, /dev/fuse and the Debian packages openssh-server and sshfs: a
# missing one is reported naming the package, and netfs_up fails.  Call
# netfs_down from the test's EXIT trap.  Everything lives under WORKDIR (keys,
# configuration, pid files, logs in WORKDIR/ssh), so tests can run at once.

netfs_log() { echo "# netfs: $*" >&2; }

# Waits up to $2 tenths of a second for the command "$3..." to succeed.
netfs_wait() {
	_netfs_n=$1
	shift
	while [ "$_netfs_n" -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.1
		_netfs_n=$((_netfs_n - 1))
	done
	return 1
}

netfs_opts() {
	case $1 in
	# NFS defaults (ac, lookupcache=all): attributes 3 s, directories and
	# negative lookups 30 s; open+read is always fresh.
	nfs-default) echo "dcache_stat_timeout=3,dcache_dir_timeout=30,dcache_link_timeout=30,negative_timeout=30" ;;
	# NFS with lookupcache=positive,actimeo=1 (what ssfm recommends).
	nfs-tuned) echo "dcache_timeout=1,negative_timeout=0" ;;
	# NFS noac,lookupcache=none: everything asks the server.
	strict) echo "cache=no,entry_timeout=0,attr_timeout=0,negative_timeout=0" ;;
	*) return 1 ;;
	esac
}

netfs_up() {
	_netfs_w=$1
	_netfs_opts=$(netfs_opts "$2") || { netfs_log "unknown profile '$2'"; return 1; }
	for _netfs_tool in /usr/sbin/sshd:openssh-server /usr/bin/ssh-keygen:openssh-client \
	    /usr/bin/sshfs:sshfs /usr/bin/fusermount3:fuse3; do
		if [ ! -x "${_netfs_tool%%:*}" ]; then
			netfs_log "${_netfs_tool%%:*} is missing: install ${_netfs_tool#*:}"
			return 1
		fi
	done
	[ -c /dev/fuse ] || { netfs_log "/dev/fuse is missing: sshfs cannot mount"; return 1; }
	_netfs_s=$_netfs_w/ssh
	mkdir -p "$_netfs_w/export" "$_netfs_w/mntA" "$_netfs_w/mntB" "$_netfs_s" /run/sshd || return 1
	chmod 700 "$_netfs_s"
	[ -f "$_netfs_s/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$_netfs_s/host_ed25519" || return 1
	[ -f "$_netfs_s/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$_netfs_s/client_ed25519" || return 1
	cp "$_netfs_s/client_ed25519.pub" "$_netfs_s/authorized_keys" && chmod 600 "$_netfs_s/authorized_keys"

	# A free port: sshd binds before it daemonizes, so a port taken by
	# someone else makes it exit non-zero and the next one is tried.
	_netfs_port=
	for _netfs_try in 1 2 3 4 5 6 7 8 9 10; do
		_netfs_p=$((20000 + ($$ * 7 + _netfs_try * 7919 + $(date +%N | sed 's/^0*//;s/^$/0/')) % 40000))
		cat > "$_netfs_s/sshd_config" <<EOF
Port $_netfs_p
ListenAddress 127.0.0.1
HostKey $_netfs_s/host_ed25519
PidFile $_netfs_s/sshd.pid
AuthorizedKeysFile $_netfs_s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
		rm -f "$_netfs_s/sshd.pid"
		if /usr/sbin/sshd -f "$_netfs_s/sshd_config" -E "$_netfs_s/sshd.log" &&
		    netfs_wait 50 test -s "$_netfs_s/sshd.pid"; then
			_netfs_port=$_netfs_p
			break
		fi
	done
	[ -n "$_netfs_port" ] || { netfs_log "sshd did not start (see $_netfs_s/sshd.log)"; return 1; }
	cat > "$_netfs_s/ssh_config" <<EOF
Host netfs
  HostName 127.0.0.1
  Port $_netfs_port
  User root
  IdentityFile $_netfs_s/client_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  Ciphers aes128-gcm@openssh.com
  ServerAliveInterval 5
  ServerAliveCountMax 3
EOF
	for _netfs_c in A B; do
		_netfs_m=$_netfs_w/mnt$_netfs_c
		# Foreground (-f) in the background: its pid is ours to kill for
		# netfs_cut; its output goes to a log so no test pipe stays open.
		/usr/bin/sshfs -f -F "$_netfs_s/ssh_config" "netfs:$_netfs_w/export" "$_netfs_m" \
		    -o "$_netfs_opts" > "$_netfs_s/sshfs-$_netfs_c.log" 2>&1 < /dev/null &
		echo $! > "$_netfs_s/sshfs-$_netfs_c.pid"
		if ! netfs_wait 100 mountpoint -q "$_netfs_m"; then
			netfs_log "sshfs did not mount $_netfs_m: $(cat "$_netfs_s/sshfs-$_netfs_c.log")"
			return 1
		fi
	done
	echo "$_netfs_w" > "$_netfs_s/workdir"
	NETFS_DIR=$_netfs_w
	NETFS_EXPORT=$_netfs_w/export
	NETFS_A=$_netfs_w/mntA
	NETFS_B=$_netfs_w/mntB
	export NETFS_EXPORT NETFS_A NETFS_B
	return 0
}

netfs_cut() {
	case $1 in
	A | B) ;;
	*) netfs_log "netfs_cut A|B, not '$1'"; return 1 ;;
	esac
	_netfs_pidf=$NETFS_DIR/ssh/sshfs-$1.pid
	[ -s "$_netfs_pidf" ] || { netfs_log "no sshfs pid for client $1"; return 1; }
	kill -KILL "$(cat "$_netfs_pidf")" 2>/dev/null
	wait "$(cat "$_netfs_pidf")" 2>/dev/null
	rm -f "$_netfs_pidf"
	return 0
}

netfs_down() {
	_netfs_w=$1
	_netfs_s=$_netfs_w/ssh
	[ -d "$_netfs_w" ] || return 0
	for _netfs_c in A B; do
		_netfs_m=$_netfs_w/mnt$_netfs_c
		if mountpoint -q "$_netfs_m" 2>/dev/null || grep -q " $_netfs_m fuse" /proc/self/mounts; then
			fusermount3 -u "$_netfs_m" 2>/dev/null || fusermount3 -uz "$_netfs_m" 2>/dev/null
		fi
		if [ -s "$_netfs_s/sshfs-$_netfs_c.pid" ]; then
			_netfs_pid=$(cat "$_netfs_s/sshfs-$_netfs_c.pid")
			netfs_wait 30 sh -c "! kill -0 $_netfs_pid" || kill -KILL "$_netfs_pid" 2>/dev/null
			wait "$_netfs_pid" 2>/dev/null
			rm -f "$_netfs_s/sshfs-$_netfs_c.pid"
		fi
	done
	if [ -s "$_netfs_s/sshd.pid" ]; then
		_netfs_pid=$(cat "$_netfs_s/sshd.pid")
		kill "$_netfs_pid" 2>/dev/null
		netfs_wait 50 sh -c "! kill -0 $_netfs_pid" || kill -KILL "$_netfs_pid" 2>/dev/null
		rm -f "$_netfs_s/sshd.pid"
	fi
	return 0
}
