/*
 * checksum.c: CRC-32C and hash64, as format.h specifies them.  Both are part
 * of the on-disk format that other readers implement, so every detail here
 * (bit order, padding of the last word, the empty case) is the spec's.
 */
#include "checksum.h"
#include "checksum_impl.h"

#include <endian.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY_REFLECTED 0x82F63B78u

/* crc32c_slices[k][b]: the CRC of byte b followed by k zero bytes. */
static uint32_t crc32c_slices[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static int crc32c_use_hw;

static void crc32c_init(void)
{
	for (unsigned b = 0; b < 256; b++) {
		uint32_t c = b;
		for (int bit = 0; bit < 8; bit++)
			c = (c >> 1) ^ ((c & 1u) ? CRC32C_POLY_REFLECTED : 0u);
		crc32c_slices[0][b] = c;
	}
	for (unsigned b = 0; b < 256; b++) {
		uint32_t c = crc32c_slices[0][b];
		for (int k = 1; k < 8; k++) {
			c = (c >> 8) ^ crc32c_slices[0][c & 0xFFu];
			crc32c_slices[k][b] = c;
		}
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_use_hw = __builtin_cpu_supports("sse4.2") != 0;
#endif
}

uint32_t crc32c_table(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = ~crc;

	pthread_once(&crc32c_once, crc32c_init);
	while (len > 0 && ((uintptr_t)p & 7u) != 0) {
		c = (c >> 8) ^ crc32c_slices[0][(c ^ *p++) & 0xFFu];
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w = le64toh(w) ^ c;
		c = crc32c_slices[7][w & 0xFFu] ^
		    crc32c_slices[6][(w >> 8) & 0xFFu] ^
		    crc32c_slices[5][(w >> 16) & 0xFFu] ^
		    crc32c_slices[4][(w >> 24) & 0xFFu] ^
		    crc32c_slices[3][(w >> 32) & 0xFFu] ^
		    crc32c_slices[2][(w >> 40) & 0xFFu] ^
		    crc32c_slices[1][(w >> 48) & 0xFFu] ^
		    crc32c_slices[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		c = (c >> 8) ^ crc32c_slices[0][(c ^ *p++) & 0xFFu];
		len--;
	}
	return ~c;
}

int crc32c_hw_available(void)
{
	pthread_once(&crc32c_once, crc32c_init);
	return crc32c_use_hw;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t c = ~crc;

	while (len > 0 && ((uintptr_t)p & 7u) != 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	return ~(uint32_t)c;
}
#else
/* No such instruction here: crc32c_hw_available() is 0 and this agrees. */
uint32_t crc32c_hw(uint32_t crc, const void *data, size_t len)
{
	return crc32c_table(crc, data, len);
}
#endif

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
	if (crc32c_use_hw)
		return crc32c_hw(crc, data, len);
	return crc32c_table(crc, data, len);
}

#define HASH64_LEN_MUL 0x9E3779B97F4A7C15ull
#define HASH64_MUL1 0xBF58476D1CE4E5B9ull
#define HASH64_MUL2 0x94D049BB133111EBull

static inline uint64_t hash64_rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64u - r));
}

uint64_t hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ ((uint64_t)len * HASH64_LEN_MUL);
	size_t left = len;

	while (left >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w = le64toh(w);
		h = hash64_rotl(h ^ (w * HASH64_MUL1), 31) * HASH64_MUL2;
		p += 8;
		left -= 8;
	}
	if (left > 0) {
		unsigned char tail[8] = {0};
		uint64_t w;
		memcpy(tail, p, left);
		memcpy(&w, tail, 8);
		w = le64toh(w);
		h = hash64_rotl(h ^ (w * HASH64_MUL1), 31) * HASH64_MUL2;
	}
	h ^= h >> 30;
	h *= HASH64_MUL1;
	h ^= h >> 27;
	h *= HASH64_MUL2;
	h ^= h >> 31;
	return h;
}

uint64_t digest_entry(const char *key, size_t key_len, uint64_t version,
    const char *value, size_t value_len)
{
	return hash64(value, value_len, hash64(key, key_len, version));
}
