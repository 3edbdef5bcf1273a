# tests/netfs.sh: an NFS-like network filesystem for shell tests, sourced.
#
# This machine has FUSE but no NFS client: a private sshd on a free port of
# 127.0.0.1 serves WORKDIR/export over SFTP, and two independent sshfs
# processes mount it at WORKDIR/mntA and WORKDIR/mntB, as two hosts would.
# Their cache options stand for NFS mount options (the profiles below).
#
#   netfs_up WORKDIR PROFILE   PROFILE: nfs-default | nfs-tuned | strict.
#                              Sets NETFS_EXPORT, NETFS_A, NETFS_B; 0 or 1
#                              (with a message on stderr).
#   netfs_cut A|B              SIGKILL that client's sshfs: its mount is cut
#                              off (every access fails with ENOTCONN).
#   netfs_down WORKDIR         Unmounts both, stops the sshfs processes and
#                              sshd by their saved pids; idempotent.
#
# Everything lives under WORKDIR (a mktemp -d folder of the test): keys,
# configuration, pid files (WORKDIR/netfs/*.pid) and logs.  Nothing is
# stopped but the pids saved here.  Debian packages: openssh-server sshfs.
#
# Profiles (what the other mount sees of a change; measured):
#   nfs-default  NFS defaults (ac, lookupcache=all): attributes cached 3 s,
#                directories and negative lookups 30 s; open+read is fresh.
#   nfs-tuned    NFS with lookupcache=positive,actimeo=1 (what ssfm
#                recommends): directories about 1 s, no negative cache.
#   strict       NFS noac,lookupcache=none: nothing cached.

netfs_opts() {  # PROFILE
	case $1 in
	nfs-default) echo "dcache_stat_timeout=3,dcache_dir_timeout=30,dcache_link_timeout=30,negative_timeout=30" ;;
	nfs-tuned) echo "dcache_timeout=1,negative_timeout=0" ;;
	strict) echo "cache=no,entry_timeout=0,attr_timeout=0,negative_timeout=0" ;;
	*) return 1 ;;
	esac
}

netfs_port() {  # a port to try, 20000..59999
	echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
}

netfs_mounted() {  # DIR: 0 when DIR is a mount point in /proc/mounts
	awk -v d="$1" '$2 == d { found = 1 } END { exit !found }' /proc/mounts
}

netfs_alive() {  # PID NAME: 0 when PID runs the program NAME
	# (sshd rewrites its command line to "sshd: /usr/sbin/sshd ...")
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] &&
		tr '\0' '\n' < "/proc/$1/cmdline" 2>/dev/null | head -n 1 | grep -q "^\(.*/\)\{0,1\}$2\(:.*\| .*\)\{0,1\}\$"
}

netfs_up() {  # WORKDIR PROFILE
	NETFS_DIR=$1
	netfs_profile=$2
	netfs_s=$NETFS_DIR/netfs
	if ! netfs_o=$(netfs_opts "$netfs_profile"); then
		echo "netfs_up: unknown profile $netfs_profile" >&2
		return 1
	fi
	for netfs_prog in /usr/sbin/sshd /usr/bin/sshfs /usr/bin/ssh-keygen /usr/bin/fusermount3; do
		if [ ! -x "$netfs_prog" ]; then
			echo "netfs_up: $netfs_prog not found: install openssh-server sshfs" >&2
			return 1
		fi
	done
	NETFS_EXPORT=$NETFS_DIR/export
	NETFS_A=$NETFS_DIR/mntA
	NETFS_B=$NETFS_DIR/mntB
	mkdir -p "$NETFS_EXPORT" "$NETFS_A" "$NETFS_B" "$netfs_s" /run/sshd || return 1
	chmod 700 "$netfs_s"
	ssh-keygen -q -t ed25519 -N '' -f "$netfs_s/host_key" < /dev/null > /dev/null || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$netfs_s/client_key" < /dev/null > /dev/null || return 1
	cp "$netfs_s/client_key.pub" "$netfs_s/authorized_keys"
	chmod 600 "$netfs_s/authorized_keys"
	# sshd binds before it daemonises: its exit status says whether the
	# port was free.  Another test may take the same port at once: retry.
	netfs_started=0
	for netfs_try in 1 2 3 4 5 6 7 8 9 10; do
		NETFS_PORT=$(netfs_port)
		cat > "$netfs_s/sshd_config" <<EOF
Port $NETFS_PORT
ListenAddress 127.0.0.1
HostKey $netfs_s/host_key
PidFile $netfs_s/sshd.pid
AuthorizedKeysFile $netfs_s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
		rm -f "$netfs_s/sshd.pid"
		if /usr/sbin/sshd -f "$netfs_s/sshd_config" -E "$netfs_s/sshd.log"; then
			netfs_started=1
			break
		fi
	done
	if [ $netfs_started = 0 ]; then
		echo "netfs_up: sshd did not start (see $netfs_s/sshd.log)" >&2
		return 1
	fi
	netfs_i=0
	while [ ! -s "$netfs_s/sshd.pid" ] && [ $netfs_i -lt 100 ]; do
		sleep 0.05
		netfs_i=$((netfs_i + 1))
	done
	cat > "$netfs_s/ssh_config" <<EOF
Host netfs
  HostName 127.0.0.1
  Port $NETFS_PORT
  User root
  IdentityFile $netfs_s/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  Ciphers aes128-gcm@openssh.com
  ServerAliveInterval 5
  ServerAliveCountMax 3
EOF
	for netfs_c in A B; do
		netfs_m=$NETFS_DIR/mnt$netfs_c
		# -f: sshfs stays in the foreground, so $! is its pid for netfs_cut.
		/usr/bin/sshfs -f -F "$netfs_s/ssh_config" "netfs:$NETFS_EXPORT" "$netfs_m" \
			-o "$netfs_o" > "$netfs_s/sshfs$netfs_c.log" 2>&1 &
		echo $! > "$netfs_s/sshfs$netfs_c.pid"
	done
	for netfs_c in A B; do
		netfs_m=$NETFS_DIR/mnt$netfs_c
		netfs_i=0
		until netfs_mounted "$netfs_m" && ls "$netfs_m" > /dev/null 2>&1; do
			if [ $netfs_i -ge 200 ]; then
				echo "netfs_up: $netfs_m not mounted after 10 s (see $netfs_s/sshfs$netfs_c.log)" >&2
				return 1
			fi
			sleep 0.05
			netfs_i=$((netfs_i + 1))
		done
	done
	export NETFS_DIR NETFS_EXPORT NETFS_A NETFS_B
	return 0
}

netfs_cut() {  # A|B
	netfs_pid=$(cat "$NETFS_DIR/netfs/sshfs$1.pid" 2>/dev/null)
	if ! netfs_alive "$netfs_pid" sshfs; then
		echo "netfs_cut: no sshfs running for mount $1" >&2
		return 1
	fi
	kill -KILL "$netfs_pid"
}

netfs_stop_pid() {  # PIDFILE NAME: TERM, then KILL after 2.5 s
	netfs_pid=$(cat "$1" 2>/dev/null)
	if netfs_alive "$netfs_pid" "$2"; then
		kill -TERM "$netfs_pid" 2>/dev/null
		netfs_i=0
		while netfs_alive "$netfs_pid" "$2" && [ $netfs_i -lt 50 ]; do
			sleep 0.05
			netfs_i=$((netfs_i + 1))
		done
		netfs_alive "$netfs_pid" "$2" && kill -KILL "$netfs_pid" 2>/dev/null
	fi
	rm -f "$1"
}

netfs_down() {  # WORKDIR
	for netfs_c in A B; do
		netfs_m=$1/mnt$netfs_c
		if netfs_mounted "$netfs_m"; then
			fusermount3 -u "$netfs_m" 2>/dev/null || fusermount3 -uz "$netfs_m" 2>/dev/null
		fi
		netfs_stop_pid "$1/netfs/sshfs$netfs_c.pid" sshfs
	done
	netfs_stop_pid "$1/netfs/sshd.pid" sshd
	return 0
}
