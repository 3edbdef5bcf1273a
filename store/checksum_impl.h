/*
 * checksum_impl.h: the two CRC-32C implementations behind crc32c(), exposed
 * so that tests can check that they agree (private to store/ and its tests).
 * Both are chainable exactly like crc32c().
 */
#ifndef SSFM_STORE_CHECKSUM_IMPL_H
#define SSFM_STORE_CHECKSUM_IMPL_H

#include <stddef.h>
#include <stdint.h>

/* Slicing-by-8 tables; works on every CPU. */
uint32_t crc32c_table(uint32_t crc, const void *data, size_t len);

/* 1 if this CPU has the SSE4.2 crc32 instruction (crc32c() then uses it). */
int crc32c_hw_available(void);

/* The SSE4.2 instruction; call only when crc32c_hw_available() is 1. */
uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len);

#endif
