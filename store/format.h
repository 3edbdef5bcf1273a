/*
 * format.h: the on-disk format of a store, format version 1 (private to
 * store/; ssfm-store(5) is the public description of the same layout).
 *
 * All integers are little-endian.  Every file ends with a 4-byte CRC-32C
 * (Castagnoli: reflected polynomial 0x82F63B78, initial value 0xFFFFFFFF,
 * final XOR 0xFFFFFFFF; crc32c("123456789") = 0xE3069283) of every byte
 * before it, so a truncated file fails its check.  A reader opens files only
 * by their final names; names that begin with '.' are temporaries of a
 * writer, never read (and removed by the next writer's recovery).
 *
 * DIR/ssfm-store           identity (text, below)
 * DIR/lease                sanlock lease area (fence/; not described here)
 * DIR/journal/SEQ20        batch whose first sequence number is SEQ
 * DIR/epochs/EPOCH20       seal record of EPOCH
 * DIR/snapshots/SEQ20      full state as of SEQ
 * DIR/quarantine/...       files that failed verification, never applied
 * (SEQ20, EPOCH20: the number in decimal, zero-padded to 20 digits)
 *
 * ---- identity: DIR/ssfm-store ----------------------------------------------
 * Text, "key = value" lines in this order, then a last line
 * "crc32c = XXXXXXXX" (8 lowercase hex digits) holding the CRC-32C of all
 * the bytes before that line:
 *     ssfm-store = 1            (the format version; readers refuse others)
 *     group = NAME
 *     io_timeout = SECONDS
 *     created = UNIX_MS
 *
 * ---- batch: DIR/journal/SEQ20 -----------------------------------------------
 * offset size  field
 *      0    8  magic "SSFMBAT1"
 *      8    4  format version (1)
 *     12    4  kind: 1 = operations, 2 = seal
 *     16    8  epoch of the writer
 *     24    8  first_seq (equals the number in the file name)
 *     32    8  last_seq = first_seq + count - 1
 *     40    4  count of records (>= 1; a seal batch has exactly 1)
 *     44    4  reserved, 0
 *     48    8  commit_time_ms (writer's CLOCK_REALTIME, milliseconds)
 *     56    8  digest: the state digest after applying this batch
 *     64    8  payload_len: bytes of records that follow
 *     72       records, count of them, back to back
 *  72+payload_len  4  CRC-32C of bytes [0, 72 + payload_len)
 * A file whose size is not 76 + payload_len is damaged.
 *
 * record:
 *      0    1  op: 1 = put, 2 = delete, 3 = seal
 *      1    1  reserved, 0
 *      2    2  reqid_len (0..128)
 *      4    4  key_len
 *      8    4  value_len (0 for delete)
 *     12       key bytes, value bytes (JSON text), reqid bytes
 * The record at index i has sequence number first_seq + i; a put's version
 * is its sequence number.  A seal record's key is the sealing host's name
 * and its value the host id as a JSON number (e.g. "3").
 *
 * ---- seal: DIR/epochs/EPOCH20 ----------------------------------------------
 *      0    8  magic "SSFMSEAL"
 *      8    4  format version (1)
 *     12    4  host_id
 *     16    8  epoch
 *     24    8  start_seq: the sequence number of the epoch's seal batch
 *     32    8  time_ms
 *     40    8  digest of the state at start_seq
 *     48    2  host_len (1..64)
 *     50    2  reserved, 0
 *     52       host name bytes
 *  52+host_len 4  CRC-32C
 * The seal batch in the journal is the authority (it takes a sequence
 * number, so a stale writer's next write collides with it); the epochs/
 * file is an index written after it.
 *
 * ---- snapshot: DIR/snapshots/SEQ20 -----------------------------------------
 *      0    8  magic "SSFMSNP1"
 *      8    4  format version (1)
 *     12    4  reserved, 0
 *     16    8  seq: state after applying every operation up to seq
 *     24    8  epoch of the last seal at or below seq
 *     32    8  time_ms
 *     40    8  digest of the state
 *     48    8  key_count
 *     56    8  reqid_count
 *     64       key_count entries in ascending bytewise key order:
 *                4 key_len, 4 value_len, 8 version, key, value
 *              then reqid_count entries:
 *                2 reqid_len, 2 reserved, 4 reserved, 8 version,
 *                8 commit_time_ms, reqid bytes
 *    end    4  CRC-32C
 *
 * ---- rules a reader applies -------------------------------------------------
 * - Sequence numbers are consecutive across batch files: after a batch
 *   ending at T the next file is journal/(T+1).
 * - The current epoch is the epoch of the last seal batch applied (0 before
 *   any).  A seal batch must carry an epoch greater than the current one.
 *   An operations batch whose epoch is lower than the current epoch is
 *   stale; one whose epoch is higher is unsealed; neither is applied.
 * - Keys: 1..1024 bytes, valid UTF-8, no NUL.  Values: valid JSON text
 *   (RFC 8259, any top-level value).
 *
 * ---- the state digest ------------------------------------------------------
 * hash64(data, len, seed):
 *     h = seed ^ (len * 0x9E3779B97F4A7C15)
 *     for each 8-byte little-endian word w of data (the last, partial word
 *     zero-padded; no word when len = 0):
 *         h = rotl64(h ^ (w * 0xBF58476D1CE4E5B9), 31) * 0x94D049BB133111EB
 *     h ^= h >> 30; h *= 0xBF58476D1CE4E5B9; h ^= h >> 27;
 *     h *= 0x94D049BB133111EB; h ^= h >> 31; return h
 * entry(key, version, value) = hash64(value, value_len, hash64(key, key_len, version))
 * digest = sum of entry() over every key, modulo 2^64 (0 when empty).
 */
#ifndef SSFM_STORE_FORMAT_H
#define SSFM_STORE_FORMAT_H

#define FMT_VERSION 1u
#define FMT_IDENTITY_NAME "ssfm-store"
#define FMT_LEASE_NAME "lease"
#define FMT_JOURNAL_DIR "journal"
#define FMT_EPOCHS_DIR "epochs"
#define FMT_SNAPSHOTS_DIR "snapshots"
#define FMT_QUARANTINE_DIR "quarantine"

#define FMT_BATCH_MAGIC "SSFMBAT1"
#define FMT_SEAL_MAGIC "SSFMSEAL"
#define FMT_SNAPSHOT_MAGIC "SSFMSNP1"

#define FMT_BATCH_HEADER 72u
#define FMT_RECORD_HEADER 12u
#define FMT_SEAL_HEADER 52u
#define FMT_SNAPSHOT_HEADER 64u
#define FMT_SNAPSHOT_ENTRY 16u
#define FMT_SNAPSHOT_REQID 24u
#define FMT_TRAILER 4u

#define FMT_KIND_OPS 1u
#define FMT_KIND_SEAL 2u

#endif
