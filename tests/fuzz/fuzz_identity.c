/*
 * fuzz_identity.c: the identity file DIR/ssfm-store (store/format.c
 * format_identity_parse), the first file every host reads from shared
 * storage.
 *
 * Promises checked: a refused file says why, as damaged or as another
 * format version; an accepted one holds a valid group name and an
 * io_timeout of 1..60, and encodes back to exactly the bytes it was read
 * from (what the parser accepts is what the writer writes, nothing else).
 */
#include "fuzz.h"
#include "store_int.h"

#include <string.h>

int fuzz_identity(const uint8_t *data, size_t size)
{
	struct format_identity id;
	char why[512] = "", again[512];
	int rc, n;

	rc = format_identity_parse((const char *)data, size, &id, why, sizeof(why));
	if (rc < 0) {
		fuzz_require(rc == -STORE_EDAMAGED || rc == -STORE_EFORMAT);
		fuzz_require(why[0] != '\0');
		return 0;
	}
	fuzz_require(format_check_group(id.group) == 0);
	fuzz_require(id.version == FMT_VERSION);
	fuzz_require(id.io_timeout >= 1 && id.io_timeout <= 60);
	n = format_identity_encode(&id, again, sizeof(again));
	fuzz_require(n > 0 && (size_t)n == size && memcmp(again, data, size) == 0);
	return 1;
}

FUZZ_ENTRY(fuzz_identity)
