/*
 * fuzz_snapshot.c: the snapshot files of snapshots/ (store/snapshot.c
 * snapshot_parse, the decoder snapshot_read uses on a file), which another
 * host wrote to shared storage.
 *
 * The checksum and the state digest are checked after every entry has been
 * decoded; an input that fails only one of them is tried again with them
 * made right, so that mutations reach the loading of the table.
 *
 * Promises checked: a refused file says why, as damaged; decoding for a
 * summary (verify, compaction) and loading into a state (start-up) agree;
 * a loaded state holds the header's key count and digest at its seq.
 */
#include "fuzz.h"
#include "store_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_WHY "digest of the entries "

static int fuzz_snapshot_try(const unsigned char *buf, size_t len, char *why,
    size_t why_len)
{
	struct store_state s;
	struct snapshot_summary sum, loaded;
	char why2[512];
	int rc, rc2;

	why[0] = '\0';
	rc = snapshot_parse(buf, len, NULL, 600, &sum, why, why_len);
	fuzz_require(rc == 0 || rc == -STORE_EDAMAGED);
	fuzz_require(rc == 0 || why[0] != '\0');
	if (journal_state_init(&s) < 0)
		return rc;
	rc2 = snapshot_parse(buf, len, &s, 600, &loaded, why2, sizeof(why2));
	fuzz_require(rc2 == rc || rc2 == -ENOMEM);
	if (rc2 == 0) {
		fuzz_require(memcmp(&sum, &loaded, sizeof(sum)) == 0);
		fuzz_require(table_count(s.table) == sum.keys);
		fuzz_require(table_digest(s.table) == sum.digest);
		fuzz_require(s.applied_seq == sum.seq && s.snapshot_seq == sum.seq);
		fuzz_require(s.epoch == sum.epoch);
	}
	journal_state_free(&s);
	return rc;
}

int fuzz_snapshot(const uint8_t *data, size_t size)
{
	char why[512];
	uint64_t digest;
	uint8_t *fixed, *refixed;

	if (fuzz_snapshot_try(data, size, why, sizeof(why)) == 0)
		return 1;
	if (strcmp(why, "checksum mismatch") != 0 &&
	    strncmp(why, DIGEST_WHY, strlen(DIGEST_WHY)) != 0)
		return 0;
	fixed = fuzz_fix_crc(data, size);
	if (fixed == NULL)
		return 0;
	if (fuzz_snapshot_try(fixed, size, why, sizeof(why)) < 0 &&
	    sscanf(why, DIGEST_WHY "%" SCNx64, &digest) == 1) {
		format_put64(fixed + 40, digest);
		refixed = fuzz_fix_crc(fixed, size);
		if (refixed != NULL)
			fuzz_require(fuzz_snapshot_try(refixed, size, why, sizeof(why)) == 0);
		free(refixed);
	}
	free(fixed);
	return 0;
}

FUZZ_ENTRY(fuzz_snapshot)
