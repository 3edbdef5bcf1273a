/*
 * fuzz_batch.c: the journal's batch files (store/format.c
 * format_batch_check, then journal_apply_batch as a follower applies one),
 * which another host wrote to shared storage.
 *
 * The file name's sequence number is taken from the header's first_seq, and
 * an input that fails only its checksum is tried again with the checksum
 * made right (fuzz_fix_crc), so that mutations reach the records.
 *
 * Promises checked: a refused file says why; an accepted file's records
 * tile its payload exactly (format_batch_next), each within the file, with
 * the kinds and lengths format.h allows; applying it to an empty state
 * ends at its last_seq with at most one key per record, and hands every
 * record to on_apply once, in order.
 */
#include "fuzz.h"
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

struct fuzz_batch_seen {
	uint64_t next_seq;
	uint64_t bytes;
	unsigned ops;
};

static void fuzz_batch_on_apply(void *arg, const struct store_applied *op)
{
	struct fuzz_batch_seen *seen = arg;

	fuzz_require(op->seq == seen->next_seq);
	seen->next_seq++;
	seen->ops++;
	/* Touch every byte handed out: AddressSanitizer checks the bounds. */
	for (size_t i = 0; i < op->key_len; i++)
		seen->bytes += (unsigned char)op->key[i];
	for (size_t i = 0; i < op->value_len; i++)
		seen->bytes += (unsigned char)op->value[i];
	fuzz_require((op->kind == STORE_OP_PUT) == (op->value != NULL));
}

static void fuzz_batch_records(const unsigned char *buf, size_t len,
    const struct batch_header *h)
{
	size_t off = FMT_BATCH_HEADER;

	for (uint32_t i = 0; i < h->count; i++) {
		struct batch_rec r;

		format_batch_next(buf, &off, &r);
		fuzz_require(off <= len - FMT_TRAILER);
		fuzz_require(r.key_len >= 1 && r.key_len <= STORE_KEY_MAX);
		fuzz_require(r.reqid_len <= STORE_REQID_MAX);
		if (h->kind == FMT_KIND_SEAL) {
			fuzz_require(r.op == 3 && r.key_len <= STORE_HOST_MAX);
			fuzz_require(format_seal_host_id(&r) >= 0);
		} else {
			fuzz_require(r.op == 1 || r.op == 2);
			fuzz_require(r.op == 1 || r.value_len == 0);
		}
	}
	fuzz_require(off == len - FMT_TRAILER);
}

static void fuzz_batch_apply(const unsigned char *buf, const struct batch_header *h)
{
	static struct store st;      /* zeroed: default options */
	struct store_state s;
	struct fuzz_batch_seen seen = { h->first_seq, 0, 0 };
	int digest_ok = -1;

	st.opt.on_apply = fuzz_batch_on_apply;
	st.opt.apply_arg = &seen;
	if (journal_state_init(&s) < 0)
		return;
	if (journal_apply_batch(&st, &s, NULL, buf, h, &digest_ok) == 0) {
		fuzz_require(s.applied_seq == h->last_seq);
		fuzz_require(table_count(s.table) <= h->count);
		fuzz_require(digest_ok == 0 || digest_ok == 1);
		fuzz_require(seen.ops == h->count);
		if (h->kind == FMT_KIND_SEAL)
			fuzz_require(s.epoch == h->epoch && s.last_seal.start_seq == h->first_seq);
	}
	journal_state_free(&s);
}

static int fuzz_batch_try(const unsigned char *buf, size_t len, char *why,
    size_t why_len)
{
	struct batch_header h;
	uint64_t name_seq = len >= 32 ? format_get64(buf + 24) : 0;

	why[0] = '\0';
	if (format_batch_check(buf, len, name_seq, &h, why, why_len) < 0) {
		fuzz_require(why[0] != '\0');
		return -1;
	}
	fuzz_require(h.first_seq == name_seq && h.count >= 1);
	fuzz_require(h.last_seq == h.first_seq + h.count - 1);
	fuzz_require(h.payload_len == len - FMT_BATCH_HEADER - FMT_TRAILER);
	fuzz_batch_records(buf, len, &h);
	fuzz_batch_apply(buf, &h);
	return 0;
}

int fuzz_batch(const uint8_t *data, size_t size)
{
	char why[512];
	uint8_t *fixed;

	if (fuzz_batch_try(data, size, why, sizeof(why)) == 0)
		return 1;
	if (strcmp(why, "checksum mismatch") != 0)
		return 0;
	fixed = fuzz_fix_crc(data, size);
	if (fixed != NULL)
		fuzz_batch_try(fixed, size, why, sizeof(why));
	free(fixed);
	return 0;
}

FUZZ_ENTRY(fuzz_batch)
