#!/usr/bin/env python3
"""fs_observe.py: what a filesystem does, seen independently of ssfm (for
the check-storage tests): python's os module and ctypes calls into libc,
and findmnt for the type.

usage: fs_observe.py DIR [OTHER_DIR]

DIR and OTHER_DIR are the same folder seen through two mounts (two clients
of a network filesystem); with OTHER_DIR, the test also sees whether inotify
on DIR reports a file created through OTHER_DIR.  Prints one JSON object:
  fstype            findmnt's FSTYPE for DIR
  o_direct          O_DIRECT open + 4096-byte write and read back work
  rename_noreplace  renameat2(RENAME_NOREPLACE) renames to a free name and
                    gives EEXIST on a taken one
  link_noclobber    link() to a free name works and gives EEXIST on a taken one
  inotify_own       inotify on DIR reports a file created through DIR
  inotify_other     ... created through OTHER_DIR (null without it)
"""
import ctypes
import ctypes.util
import errno
import json
import mmap
import os
import select
import struct
import subprocess
import sys
import tempfile

libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE = 1
IN_CREATE, IN_MOVED_TO, IN_CLOSE_WRITE = 0x100, 0x80, 0x8


def o_direct(d):
    path = os.path.join(d, 'direct')
    buf = mmap.mmap(-1, 4096)   # page aligned, as O_DIRECT wants
    buf.write(b'\x5a' * 4096)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o600)
    except OSError:
        return False
    try:
        if os.pwritev(fd, [buf], 0) != 4096:
            return False
        back = mmap.mmap(-1, 4096)
        return os.preadv(fd, [back], 0) == 4096 and back[:] == buf[:]
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(path)


def renameat2(a, b):
    rc = libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_NOREPLACE)
    return 0 if rc == 0 else ctypes.get_errno()


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def rename_noreplace(d):
    a, b, taken = (os.path.join(d, n) for n in ('a', 'b', 'taken'))
    write(a, 'a')
    write(taken, 'taken')
    try:
        first = renameat2(a, b)
        second = renameat2(b if first == 0 else a, taken)
        return first == 0 and second == errno.EEXIST and read(taken) == 'taken'
    finally:
        for p in (a, b, taken):
            if os.path.exists(p):
                os.unlink(p)


def link_noclobber(d):
    a, b, taken = (os.path.join(d, n) for n in ('la', 'lb', 'ltaken'))
    write(a, 'a')
    write(taken, 'taken')
    try:
        try:
            os.link(a, b)
        except OSError:
            return False
        try:
            os.link(a, taken)
            return False
        except FileExistsError:
            return read(taken) == 'taken'
        except OSError:
            return False
    finally:
        for p in (a, b, taken):
            if os.path.exists(p):
                os.unlink(p)


def inotify_sees(watch_dir, create_dir, name, wait=2.0):
    fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
    if fd < 0:
        return None
    try:
        if libc.inotify_add_watch(fd, watch_dir.encode(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0:
            return None
        write(os.path.join(create_dir, name), 'x')
        seen = False
        ready, _, _ = select.select([fd], [], [], wait)
        if ready:
            data = os.read(fd, 65536)
            off = 0
            while off + 16 <= len(data):
                _, _, _, length = struct.unpack_from('iIII', data, off)
                if data[off + 16:off + 16 + length].rstrip(b'\0').decode() == name:
                    seen = True
                off += 16 + length
        return seen
    finally:
        os.close(fd)
        try:
            os.unlink(os.path.join(create_dir, name))
        except OSError:
            pass


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    top = sys.argv[1]
    fstype = subprocess.run(['findmnt', '-n', '-o', 'FSTYPE', '--target', top],
                            capture_output=True, text=True).stdout.strip().split('\n')[-1]
    d = tempfile.mkdtemp(prefix='.observe-', dir=top)
    try:
        out = {
            'fstype': fstype,
            'o_direct': o_direct(d),
            'rename_noreplace': rename_noreplace(d),
            'link_noclobber': link_noclobber(d),
            'inotify_own': inotify_sees(d, d, 'own'),
            'inotify_other': None,
        }
        if len(sys.argv) == 3:
            other = os.path.join(sys.argv[2], os.path.basename(d))
            out['inotify_other'] = inotify_sees(d, other, 'other', wait=3.0)
    finally:
        os.rmdir(d)
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
