/*
 * checksum.h: CRC-32C for file integrity and hash64 for the state digest
 * (both specified in format.h and ssfm-store(5); private to store/).
 */
#ifndef SSFM_STORE_CHECKSUM_H
#define SSFM_STORE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * libsanlock exports a crc32c of its own and calls it through the PLT: in a
 * program that links both, ours (a different chaining convention) would
 * take its place, and every leader sanlock_direct_* writes from that
 * program (fence_lease_init: `ssfm init`) would carry a checksum the
 * sanlock daemon refuses ("Lease checksum error in leader").  So the
 * symbols are store_-prefixed; the short names stay in the source.
 */
#define crc32c store_crc32c
#define crc32c_table store_crc32c_table
#define crc32c_hw store_crc32c_hw
#define crc32c_hw_available store_crc32c_hw_available

/*
 * CRC-32C (Castagnoli).  Chainable like zlib's crc32: start with crc = 0,
 * then crc = crc32c(crc, next, len) for each piece;
 * crc32c(0, "123456789", 9) == 0xE3069283.  Uses the SSE4.2 instruction
 * when the CPU has it, else slicing-by-8 tables.  Thread-safe.
 */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* hash64 as specified in format.h.  Thread-safe. */
uint64_t hash64(const void *data, size_t len, uint64_t seed);

/* One key's contribution to the state digest (format.h). */
uint64_t digest_entry(const char *key, size_t key_len, uint64_t version,
    const char *value, size_t value_len);

#endif
