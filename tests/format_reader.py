#!/usr/bin/env python3
"""format_reader.py: an independent reader of an ssfm store, written from
ssfm-store(5) alone (not from the C code), used by t_cli.sh to show that the
page is complete enough to write a reader: its output must equal `ssfm dump`.

    format_reader.py DIR

Prints {"group","seq","digest","keys":[{"key","version","value"}]} (values
parsed) and exits 0, or prints "format_reader: FILE: why" and exits 1 at the
first file it cannot apply, as a reader does (it never modifies DIR).
"""
import json
import os
import struct
import sys

MASK = (1 << 64) - 1


def crc32c_table():
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


CRC_TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ CRC_TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def rotl64(x, r):
    return ((x << r) | (x >> (64 - r))) & MASK


def hash64(data, seed):
    h = (seed ^ (len(data) * 0x9E3779B97F4A7C15)) & MASK
    for i in range(0, len(data), 8):
        w = int.from_bytes(data[i:i + 8].ljust(8, b"\0"), "little")
        h = (rotl64(h ^ ((w * 0xBF58476D1CE4E5B9) & MASK), 31)
             * 0x94D049BB133111EB) & MASK
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK
    h ^= h >> 31
    return h


def entry(key, version, value):
    return hash64(value, hash64(key, version))


class Damaged(Exception):
    pass


def check_crc(data, path):
    if len(data) < 4 or crc32c(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise Damaged("%s: CRC-32C mismatch" % path)


def read_identity(d):
    path = os.path.join(d, "ssfm-store")
    text = open(path, "rb").read()
    last = text.rstrip(b"\n").rsplit(b"\n", 1)
    body, crcline = last[0] + b"\n", last[1].decode()
    if not crcline.startswith("crc32c = ") or int(crcline[9:], 16) != crc32c(body):
        raise Damaged("%s: identity CRC mismatch" % path)
    fields = dict(line.split(" = ", 1) for line in body.decode().splitlines())
    if fields.get("ssfm-store") != "1":
        raise Damaged("%s: unsupported format version" % path)
    return fields


def load_snapshot(path):
    data = open(path, "rb").read()
    check_crc(data, path)
    if data[:8] != b"SSFMSNP1":
        raise Damaged("%s: bad magic" % path)
    (version, _, seq, epoch, _time, digest, nkeys, nreqids) = struct.unpack_from(
        "<IIQQQQQQ", data, 8)
    state, off, prev = {}, 64, None
    for _ in range(nkeys):
        klen, vlen, ver = struct.unpack_from("<IIQ", data, off)
        off += 16
        key, value = data[off:off + klen], data[off + klen:off + klen + vlen]
        off += klen + vlen
        if prev is not None and not prev < key:
            raise Damaged("%s: keys out of order" % path)
        prev = key
        state[key] = (ver, value)
    for _ in range(nreqids):
        (rlen,) = struct.unpack_from("<H", data, off)
        off += 24 + rlen
    if off != len(data) - 4 or version != 1:
        raise Damaged("%s: entries do not end at the CRC" % path)
    if sum(entry(k, v, val) for k, (v, val) in state.items()) & MASK != digest:
        raise Damaged("%s: digest mismatch" % path)
    return seq, epoch, state


def main():
    d = sys.argv[1]
    ident = read_identity(d)
    state, applied, current = {}, 0, 0
    snapdir = os.path.join(d, "snapshots")
    for name in sorted((n for n in os.listdir(snapdir) if not n.startswith(".")),
                       reverse=True):
        try:
            applied, current, state = load_snapshot(os.path.join(snapdir, name))
            break
        except (Damaged, struct.error):
            continue
    while True:
        path = os.path.join(d, "journal", "%020d" % (applied + 1))
        try:
            data = open(path, "rb").read()
        except FileNotFoundError:
            break
        check_crc(data, path)
        (magic, version, kind, epoch, first, last, count, _r, _t, digest,
         plen) = struct.unpack_from("<8sIIQQQIIQQQ", data, 0)
        if (magic != b"SSFMBAT1" or version != 1 or first != applied + 1
                or len(data) != 76 + plen or last != first + count - 1):
            raise Damaged("%s: bad header" % path)
        if kind == 2 and epoch <= current:
            raise Damaged("%s: seal does not raise the epoch" % path)
        if kind == 1 and epoch != current:
            raise Damaged("%s: %s batch" % (path, "stale" if epoch < current else "unsealed"))
        off = 72
        for i in range(count):
            op, _, rlen, klen, vlen = struct.unpack_from("<BBHII", data, off)
            off += 12
            key, value = data[off:off + klen], data[off + klen:off + klen + vlen]
            off += klen + vlen + rlen
            if op == 1:
                state[key] = (first + i, value)
            elif op == 2:
                state.pop(key, None)
            elif op == 3:
                current = epoch
        if off != 72 + plen:
            raise Damaged("%s: records do not fill the payload" % path)
        applied = last
        if sum(entry(k, v, val) for k, (v, val) in state.items()) & MASK != digest:
            raise Damaged("%s: digest differs from the writer's" % path)
    out = {
        "group": ident["group"], "seq": applied,
        "digest": "%016x" % (sum(entry(k, v, val) for k, (v, val) in state.items()) & MASK),
        "keys": [{"key": k.decode(), "version": v, "value": json.loads(val)}
                 for k, (v, val) in sorted(state.items())],
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    try:
        main()
    except (Damaged, struct.error) as e:
        print("format_reader: %s" % e, file=sys.stderr)
        sys.exit(1)
