/*
 * fuzz_seal.c: the seal files of epochs/ (store/format.c
 * format_seal_parse), which another host wrote to shared storage.  An
 * input that fails only its checksum is tried again with it made right.
 *
 * Promises checked: a refused file says why; an accepted one holds a
 * host name of 1..STORE_HOST_MAX bytes, and encodes back to exactly the
 * bytes it was read from (nothing in the file is ignored).
 */
#include "fuzz.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

static int fuzz_seal_try(const unsigned char *buf, size_t len, char *why,
    size_t why_len)
{
	struct format_seal s;
	unsigned char again[FMT_SEAL_HEADER + STORE_HOST_MAX + FMT_TRAILER];
	size_t host_len;

	why[0] = '\0';
	if (format_seal_parse(buf, len, &s, why, why_len) < 0) {
		fuzz_require(why[0] != '\0');
		return -1;
	}
	host_len = strlen(s.host);
	fuzz_require(host_len >= 1 && host_len <= STORE_HOST_MAX);
	fuzz_require(format_seal_encode(&s, again) == len);
	fuzz_require(memcmp(again, buf, len) == 0);
	return 0;
}

int fuzz_seal(const uint8_t *data, size_t size)
{
	char why[512];
	uint8_t *fixed;

	if (fuzz_seal_try(data, size, why, sizeof(why)) == 0)
		return 1;
	if (strcmp(why, "checksum mismatch") != 0)
		return 0;
	fixed = fuzz_fix_crc(data, size);
	if (fixed != NULL)
		fuzz_seal_try(fixed, size, why, sizeof(why));
	free(fixed);
	return 0;
}

FUZZ_ENTRY(fuzz_seal)
