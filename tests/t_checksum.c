/*
 * t_checksum: CRC-32C and hash64 against the spec in format.h.  Other
 * readers implement the same format, so the vectors here are fixed: the CRC
 * ones are published (RFC 3720 B.4, the "123456789" check value), the hash64
 * ones were computed with an independent Python transcription of format.h,
 * and a second byte-at-a-time transcription below checks everything else.
 */
#include "checksum.h"
#include "checksum_impl.h"
#include "tap.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bit at a time, straight from the definition: reflected 0x82F63B78. */
static uint32_t ref_crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
	uint32_t c = ~crc;
	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int bit = 0; bit < 8; bit++)
			c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

/* format.h's hash64, one byte at a time: word i gets byte j at bit 8*j. */
static uint64_t ref_hash64(const unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t h = seed ^ ((uint64_t)len * 0x9E3779B97F4A7C15ull);
	for (size_t start = 0; start < len; start += 8) {
		uint64_t w = 0;
		for (size_t j = 0; j < 8; j++)
			if (start + j < len)
				w |= (uint64_t)p[start + j] << (8 * j);
		uint64_t x = h ^ (w * 0xBF58476D1CE4E5B9ull);
		h = ((x << 31) | (x >> 33)) * 0x94D049BB133111EBull;
	}
	h ^= h >> 30;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 27;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 31;
	return h;
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

struct impl {
	const char *name;
	crc_fn fn;
};

static uint64_t rng_state = 0x5eed5eed12345678ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void check_known_vectors(const struct impl *im)
{
	unsigned char buf[32];

	is_int(im->fn(0, "123456789", 9), 0xE3069283u, "%s: crc32c(\"123456789\")", im->name);
	is_int(im->fn(0, "", 0), 0, "%s: crc32c of nothing is 0", im->name);
	is_int(im->fn(0x12345678u, "", 0), 0x12345678u, "%s: empty piece leaves the crc alone", im->name);
	memset(buf, 0, sizeof(buf));
	is_int(im->fn(0, buf, 32), 0x8A9136AAu, "%s: 32 zero bytes", im->name);
	memset(buf, 0xFF, sizeof(buf));
	is_int(im->fn(0, buf, 32), 0x62A8AB43u, "%s: 32 0xFF bytes", im->name);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	is_int(im->fn(0, buf, 32), 0x46DD794Eu, "%s: 32 ascending bytes", im->name);
	for (int i = 0; i < 32; i++)
		buf[i] = (unsigned char)(31 - i);
	is_int(im->fn(0, buf, 32), 0x113FDB5Cu, "%s: 32 descending bytes", im->name);
}

static void check_chaining(const struct impl *im, const unsigned char *data, size_t len)
{
	uint32_t whole = im->fn(0, data, len);
	int bad = 0;

	for (size_t split = 0; split <= len; split++) {
		uint32_t c = im->fn(0, data, split);
		c = im->fn(c, data + split, len - split);
		if (c != whole) {
			tap_diag("%s: split at %zu gives %08x, one-shot %08x", im->name, split, c, whole);
			bad++;
		}
	}
	/* Three pieces, at every pair of split points of a shorter prefix. */
	size_t short_len = len < 64 ? len : 64;
	uint32_t short_whole = im->fn(0, data, short_len);
	for (size_t a = 0; a <= short_len; a++)
		for (size_t b = a; b <= short_len; b++) {
			uint32_t c = im->fn(0, data, a);
			c = im->fn(c, data + a, b - a);
			c = im->fn(c, data + b, short_len - b);
			if (c != short_whole)
				bad++;
		}
	is_int(bad, 0, "%s: chained pieces equal one-shot at every split point", im->name);
}

static void check_agreement(const struct impl *a, const struct impl *b, unsigned char *buf)
{
	int bad = 0;

	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 300; len++) {
			uint32_t seed = (uint32_t)rng_next();
			uint32_t x = a->fn(seed, buf + off, len);
			uint32_t y = b->fn(seed, buf + off, len);
			if (x != y) {
				if (bad < 5)
					tap_diag("offset %zu length %zu: %s %08x, %s %08x",
					    off, len, a->name, x, b->name, y);
				bad++;
			}
		}
	is_int(bad, 0, "%s and %s agree on lengths 0..300 at offsets 0..7",
	    a->name, b->name);
}

static void check_hash64(const unsigned char *buf)
{
	static const struct {
		const char *data;
		size_t len;
		uint64_t seed;
		uint64_t want;
	} vec[] = {
		{ "", 0, 0, 0x0000000000000000ull },
		{ "", 0, 0x0123456789abcdefull, 0xb2c058e4ebb5112cull },
		{ "a", 1, 0, 0xf118835174c3d728ull },
		{ "12345678", 8, 1, 0x0a32b7236c40b27cull },
		{ "123456789", 9, 42, 0x65f6ec9ec9949433ull },
		{ "hello, world: a longer text of 40 bytes!", 40, 7, 0xe48e385aad08c7cdull },
		{ "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 15,
		  0xffffffffffffffffull, 0x2192c275b4a6d01aull },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		uint64_t got = hash64(vec[i].data, vec[i].len, vec[i].seed);
		uint64_t ref = ref_hash64((const unsigned char *)vec[i].data, vec[i].len, vec[i].seed);
		ok(got == vec[i].want && ref == vec[i].want,
		    "hash64 vector %zu (len %zu): %016llx, reference %016llx, want %016llx",
		    i, vec[i].len, (unsigned long long)got, (unsigned long long)ref,
		    (unsigned long long)vec[i].want);
	}

	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 300; len++) {
			uint64_t seed = rng_next();
			if (hash64(buf + off, len, seed) != ref_hash64(buf + off, len, seed))
				bad++;
		}
	is_int(bad, 0, "hash64 equals the byte-at-a-time reference for lengths 0..300, offsets 0..7");

	/* The padding is zeros and the length is mixed in: "ab" and "ab\0"
	 * have the same last word but differ. */
	ok(hash64("ab", 2, 5) != hash64("ab\0", 3, 5), "hash64 mixes the length in");
	/* No word at all for the empty input: only the finaliser runs. */
	uint64_t h = 99;
	h ^= h >> 30; h *= 0xBF58476D1CE4E5B9ull; h ^= h >> 27;
	h *= 0x94D049BB133111EBull; h ^= h >> 31;
	is_int(hash64("", 0, 99), h, "hash64 of nothing is the finaliser of the seed");
}

static void check_digest_entry(void)
{
	const char *key = "config/db";
	const char *value = "{\"host\":\"db1\",\"port\":5432}";

	uint64_t e = digest_entry(key, strlen(key), 17, value, strlen(value));
	is_int(e, 0xe1a3a20531972387ull, "digest_entry fixed vector");
	is_int(e, hash64(value, strlen(value), hash64(key, strlen(key), 17)),
	    "digest_entry = hash64(value, hash64(key, version))");
	is_int(digest_entry("k", 1, 1, "", 0), 0x03536d93b4d9d3faull,
	    "digest_entry with an empty value still hashes it");
	ok(digest_entry(key, strlen(key), 17, value, strlen(value)) !=
	    digest_entry(key, strlen(key), 18, value, strlen(value)),
	    "digest_entry depends on the version");
	ok(digest_entry("ab", 2, 1, "c", 1) != digest_entry("a", 1, 1, "bc", 2),
	    "digest_entry separates key from value");
}

int main(void)
{
	static unsigned char buf[4096];
	struct impl table = { "slicing-by-8", crc32c_table };
	struct impl hw = { "sse4.2", crc32c_hw };
	struct impl api = { "crc32c()", crc32c };

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rng_next();

	is_int(ref_crc32c(0, (const unsigned char *)"123456789", 9), 0xE3069283u,
	    "bitwise reference: crc32c(\"123456789\")");

	check_known_vectors(&api);
	check_known_vectors(&table);
	tap_diag("SSE4.2 crc32 instruction: %s", crc32c_hw_available() ? "present" : "absent");
	if (crc32c_hw_available()) {
		check_known_vectors(&hw);
		check_chaining(&hw, buf, 300);
		check_agreement(&hw, &table, buf);
	}
	check_chaining(&table, buf, 300);
	check_chaining(&api, buf + 3, 300);
	check_agreement(&api, &table, buf);

	int bad = 0;
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len <= 300; len += 7)
			if (crc32c_table(0, buf + off, len) != ref_crc32c(0, buf + off, len))
				bad++;
	is_int(bad, 0, "slicing-by-8 equals the bitwise reference");

	check_hash64(buf);
	check_digest_entry();
	return tap_done();
}
