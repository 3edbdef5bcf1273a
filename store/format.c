/*
 * format.c: encoding and validation of the on-disk formats (format.h).
 * Everything read from a file is untrusted: every length is checked
 * against what remains before it is used.
 */
#include "store_int.h"
#include "checksum.h"
#include "jsonv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void format_name(char out[STORE_NAME_DIGITS + 1], uint64_t n)
{
	store_fmt(out, STORE_NAME_DIGITS + 1, "%020" PRIu64, n);
}

int format_parse_name(const char *name, uint64_t *n)
{
	uint64_t v = 0;

	for (int i = 0; i < STORE_NAME_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (name[STORE_NAME_DIGITS] != '\0')
		return 0;
	*n = v;
	return 1;
}

void format_put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

void format_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

void format_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint16_t format_get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t format_get32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t format_get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* ---- identity ---- */

int format_check_group(const char *group)
{
	size_t len = strlen(group);

	if (len == 0 || len > STORE_GROUP_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = group[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -1;
	}
	return 0;
}

int format_identity_encode(const struct format_identity *id, char *buf,
    size_t size)
{
	int n, m;

	n = store_fmt(buf, size, "ssfm-store = %u\ngroup = %s\nio_timeout = %u\ncreated = %" PRIu64 "\n",
	    id->version, id->group, id->io_timeout, id->created_ms);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	m = store_fmt(buf + n, size - (size_t)n, "crc32c = %08x\n",
	    (unsigned)crc32c(0, buf, (size_t)n));
	if (m < 0 || (size_t)(n + m) >= size)
		return -ENAMETOOLONG;
	return n + m;
}

/* Reads "KEY = VALUE\n" at *pos; value into out.  A NUL byte in the
 * value is refused: out would end there and hide what follows. */
static int identity_line(const char *text, size_t len, size_t *pos,
    const char *key, char *out, size_t out_size)
{
	size_t klen = strlen(key), i = *pos, start;

	if (len - i < klen + 3 || memcmp(text + i, key, klen) != 0 ||
	    memcmp(text + i + klen, " = ", 3) != 0)
		return -1;
	i += klen + 3;
	start = i;
	while (i < len && text[i] != '\n' && text[i] != '\0')
		i++;
	if (i == len || text[i] != '\n' || i - start == 0 || i - start >= out_size)
		return -1;
	memcpy(out, text + start, i - start);
	out[i - start] = '\0';
	*pos = i + 1;
	return 0;
}

/* Decimal as the writer prints it: no sign, no leading zero. */
static int parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;

	if (!*s || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return 0;
}

int format_identity_parse(const char *text, size_t len,
    struct format_identity *id, char *why, size_t why_len)
{
	char val[128];
	size_t pos = 0, crc_at;
	uint64_t n;
	unsigned crc;
	char *end;

	memset(id, 0, sizeof(*id));
	if (identity_line(text, len, &pos, "ssfm-store", val, sizeof(val)) < 0 ||
	    parse_u64(val, &n) < 0) {
		store_fmt(why, why_len, "first line is not \"ssfm-store = VERSION\"");
		return -STORE_EDAMAGED;
	}
	if (n != FMT_VERSION) {
		store_fmt(why, why_len, "format version %" PRIu64 " found; this ssfm supports version %u",
		    n, FMT_VERSION);
		id->version = n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
		return -STORE_EFORMAT;
	}
	id->version = (unsigned)n;
	if (identity_line(text, len, &pos, "group", id->group, sizeof(id->group)) < 0 ||
	    format_check_group(id->group) < 0) {
		store_fmt(why, why_len, "bad or missing \"group = NAME\" line");
		return -STORE_EDAMAGED;
	}
	if (identity_line(text, len, &pos, "io_timeout", val, sizeof(val)) < 0 ||
	    parse_u64(val, &n) < 0 || n < 1 || n > 60) {
		store_fmt(why, why_len, "bad or missing \"io_timeout = SECONDS\" line");
		return -STORE_EDAMAGED;
	}
	id->io_timeout = (unsigned)n;
	if (identity_line(text, len, &pos, "created", val, sizeof(val)) < 0 ||
	    parse_u64(val, &id->created_ms) < 0) {
		store_fmt(why, why_len, "bad or missing \"created = UNIX_MS\" line");
		return -STORE_EDAMAGED;
	}
	crc_at = pos;
	if (identity_line(text, len, &pos, "crc32c", val, sizeof(val)) < 0 ||
	    strlen(val) != 8 || pos != len) {
		store_fmt(why, why_len, "bad or missing last line \"crc32c = XXXXXXXX\"");
		return -STORE_EDAMAGED;
	}
	/* Exactly the writer's "%08x": strtoul would also take a sign,
	 * blanks, "0x" and capitals. */
	crc = (unsigned)strtoul(val, &end, 16);
	if (*end != '\0' || strspn(val, "0123456789abcdef") != 8 ||
	    crc != crc32c(0, text, crc_at)) {
		store_fmt(why, why_len, "checksum mismatch");
		return -STORE_EDAMAGED;
	}
	return 0;
}

/* ---- batches ---- */

void format_batch_header_put(unsigned char *p, const struct batch_header *h)
{
	memcpy(p, FMT_BATCH_MAGIC, 8);
	format_put32(p + 8, FMT_VERSION);
	format_put32(p + 12, h->kind);
	format_put64(p + 16, h->epoch);
	format_put64(p + 24, h->first_seq);
	format_put64(p + 32, h->last_seq);
	format_put32(p + 40, h->count);
	format_put32(p + 44, 0);
	format_put64(p + 48, h->commit_time_ms);
	format_put64(p + 56, h->digest);
	format_put64(p + 64, h->payload_len);
}

int format_batch_header_check(const unsigned char *p, uint64_t name_seq,
    struct batch_header *h, char *why, size_t why_len)
{
	uint32_t version;

	if (memcmp(p, FMT_BATCH_MAGIC, 8) != 0) {
		store_fmt(why, why_len, "bad magic (not a batch file)");
		return -1;
	}
	version = format_get32(p + 8);
	if (version != FMT_VERSION) {
		store_fmt(why, why_len, "format version %u, expected %u", version, FMT_VERSION);
		return -1;
	}
	h->kind = format_get32(p + 12);
	h->epoch = format_get64(p + 16);
	h->first_seq = format_get64(p + 24);
	h->last_seq = format_get64(p + 32);
	h->count = format_get32(p + 40);
	h->commit_time_ms = format_get64(p + 48);
	h->digest = format_get64(p + 56);
	h->payload_len = format_get64(p + 64);
	if (h->kind != FMT_KIND_OPS && h->kind != FMT_KIND_SEAL) {
		store_fmt(why, why_len, "unknown batch kind %u", h->kind);
		return -1;
	}
	if (h->first_seq != name_seq) {
		store_fmt(why, why_len, "first_seq %" PRIu64 " differs from the file name", h->first_seq);
		return -1;
	}
	if (h->count == 0 || h->last_seq != h->first_seq + h->count - 1 ||
	    h->last_seq < h->first_seq) {
		store_fmt(why, why_len, "last_seq %" PRIu64 " does not match first_seq %" PRIu64 " and count %u",
		    h->last_seq, h->first_seq, h->count);
		return -1;
	}
	if (h->kind == FMT_KIND_SEAL && h->count != 1) {
		store_fmt(why, why_len, "seal batch with %u records", h->count);
		return -1;
	}
	if (format_get32(p + 44) != 0) {
		store_fmt(why, why_len, "reserved header field is not 0");
		return -1;
	}
	return 0;
}

static int check_key(const char *key, size_t len)
{
	size_t off;

	if (len == 0 || len > STORE_KEY_MAX || memchr(key, '\0', len))
		return -1;
	return jsonv_utf8(key, len, &off);
}

long long format_seal_host_id(const struct batch_rec *r)
{
	long long v = 0;

	if (r->value_len == 0 || r->value_len > 10)
		return -1;
	for (uint32_t i = 0; i < r->value_len; i++) {
		if (r->value[i] < '0' || r->value[i] > '9')
			return -1;
		v = v * 10 + (r->value[i] - '0');
	}
	if (v > UINT32_MAX || (r->value_len > 1 && r->value[0] == '0'))
		return -1;
	return v;
}

int format_batch_check(const unsigned char *buf, size_t len, uint64_t name_seq,
    struct batch_header *h, char *why, size_t why_len)
{
	size_t off, end;
	uint32_t crc;

	if (len < FMT_BATCH_HEADER + FMT_TRAILER) {
		store_fmt(why, why_len, "truncated: %zu bytes", len);
		return -1;
	}
	if (format_batch_header_check(buf, name_seq, h, why, why_len) < 0)
		return -1;
	if (h->payload_len != len - FMT_BATCH_HEADER - FMT_TRAILER) {
		store_fmt(why, why_len, "size %zu does not match payload_len %" PRIu64 " (truncated or padded)",
		    len, h->payload_len);
		return -1;
	}
	crc = format_get32(buf + len - FMT_TRAILER);
	if (crc != crc32c(0, buf, len - FMT_TRAILER)) {
		store_fmt(why, why_len, "checksum mismatch");
		return -1;
	}
	off = FMT_BATCH_HEADER;
	end = len - FMT_TRAILER;
	for (uint32_t i = 0; i < h->count; i++) {
		struct batch_rec r;
		size_t need, joff;
		const char *jwhy;

		if (end - off < FMT_RECORD_HEADER) {
			store_fmt(why, why_len, "record %u runs past the end", i);
			return -1;
		}
		r.op = buf[off];
		r.reqid_len = format_get16(buf + off + 2);
		r.key_len = format_get32(buf + off + 4);
		r.value_len = format_get32(buf + off + 8);
		need = (size_t)r.key_len + r.value_len + r.reqid_len;
		if (buf[off + 1] != 0 || r.reqid_len > STORE_REQID_MAX ||
		    r.key_len > STORE_KEY_MAX ||
		    end - off - FMT_RECORD_HEADER < need) {
			store_fmt(why, why_len, "record %u (seq %" PRIu64 ") has bad lengths", i, h->first_seq + i);
			return -1;
		}
		r.key = (const char *)buf + off + FMT_RECORD_HEADER;
		r.value = r.key + r.key_len;
		if (h->kind == FMT_KIND_SEAL) {
			if (r.op != 3 || r.key_len == 0 || r.key_len > STORE_HOST_MAX ||
			    r.reqid_len != 0 || format_seal_host_id(&r) < 0 ||
			    memchr(r.key, '\0', r.key_len)) {
				store_fmt(why, why_len, "bad seal record");
				return -1;
			}
		} else if (r.op == 1 || r.op == 2) {
			if (check_key(r.key, r.key_len) < 0) {
				store_fmt(why, why_len, "record %u (seq %" PRIu64 ") has an invalid key", i, h->first_seq + i);
				return -1;
			}
			if (r.op == 2 && r.value_len != 0) {
				store_fmt(why, why_len, "delete record %u carries a value", i);
				return -1;
			}
			if (r.op == 1 && jsonv_validate(r.value, r.value_len, &joff, &jwhy) < 0) {
				store_fmt(why, why_len, "record %u (seq %" PRIu64 ") value is not JSON: %s at byte %zu",
				    i, h->first_seq + i, jwhy, joff);
				return -1;
			}
		} else {
			store_fmt(why, why_len, "record %u has unknown op %u", i, r.op);
			return -1;
		}
		off += FMT_RECORD_HEADER + need;
	}
	if (off != end) {
		store_fmt(why, why_len, "%zu bytes after the last record", end - off);
		return -1;
	}
	return 0;
}

void format_batch_next(const unsigned char *buf, size_t *off,
    struct batch_rec *r)
{
	const unsigned char *p = buf + *off;

	r->op = p[0];
	r->reqid_len = format_get16(p + 2);
	r->key_len = format_get32(p + 4);
	r->value_len = format_get32(p + 8);
	r->key = (const char *)p + FMT_RECORD_HEADER;
	r->value = r->key + r->key_len;
	r->reqid = r->value + r->value_len;
	*off += FMT_RECORD_HEADER + r->key_len + r->value_len + r->reqid_len;
}

size_t format_record_size(size_t key_len, size_t value_len, size_t reqid_len)
{
	return FMT_RECORD_HEADER + key_len + value_len + reqid_len;
}

unsigned char *format_record_put(unsigned char *p, const struct batch_rec *r)
{
	p[0] = (unsigned char)r->op;
	p[1] = 0;
	format_put16(p + 2, r->reqid_len);
	format_put32(p + 4, r->key_len);
	format_put32(p + 8, r->value_len);
	p += FMT_RECORD_HEADER;
	memcpy(p, r->key, r->key_len);
	p += r->key_len;
	if (r->value_len)
		memcpy(p, r->value, r->value_len);
	p += r->value_len;
	if (r->reqid_len)
		memcpy(p, r->reqid, r->reqid_len);
	return p + r->reqid_len;
}

/* ---- seal files (epochs/) ---- */

size_t format_seal_encode(const struct format_seal *s, unsigned char *buf)
{
	size_t host_len = strlen(s->host);

	memcpy(buf, FMT_SEAL_MAGIC, 8);
	format_put32(buf + 8, FMT_VERSION);
	format_put32(buf + 12, s->host_id);
	format_put64(buf + 16, s->epoch);
	format_put64(buf + 24, s->start_seq);
	format_put64(buf + 32, s->time_ms);
	format_put64(buf + 40, s->digest);
	format_put16(buf + 48, (uint16_t)host_len);
	format_put16(buf + 50, 0);
	memcpy(buf + FMT_SEAL_HEADER, s->host, host_len);
	format_put32(buf + FMT_SEAL_HEADER + host_len,
	    crc32c(0, buf, FMT_SEAL_HEADER + host_len));
	return FMT_SEAL_HEADER + host_len + FMT_TRAILER;
}

int format_seal_parse(const unsigned char *buf, size_t len,
    struct format_seal *s, char *why, size_t why_len)
{
	size_t host_len;

	if (len < FMT_SEAL_HEADER + FMT_TRAILER || memcmp(buf, FMT_SEAL_MAGIC, 8) != 0) {
		store_fmt(why, why_len, "not a seal file (bad magic or truncated)");
		return -1;
	}
	host_len = format_get16(buf + 48);
	if (host_len == 0 || host_len > STORE_HOST_MAX ||
	    len != FMT_SEAL_HEADER + host_len + FMT_TRAILER) {
		store_fmt(why, why_len, "size %zu does not match host_len %zu", len, host_len);
		return -1;
	}
	/* Checked as the seal batch's record is (format_batch_check): a NUL
	 * would cut the host name short. */
	if (format_get16(buf + 50) != 0 || memchr(buf + FMT_SEAL_HEADER, '\0', host_len)) {
		store_fmt(why, why_len, "reserved field not 0 or NUL byte in the host name");
		return -1;
	}
	if (format_get32(buf + len - FMT_TRAILER) != crc32c(0, buf, len - FMT_TRAILER)) {
		store_fmt(why, why_len, "checksum mismatch");
		return -1;
	}
	if (format_get32(buf + 8) != FMT_VERSION) {
		store_fmt(why, why_len, "format version %u, expected %u", format_get32(buf + 8), FMT_VERSION);
		return -1;
	}
	s->host_id = format_get32(buf + 12);
	s->epoch = format_get64(buf + 16);
	s->start_seq = format_get64(buf + 24);
	s->time_ms = format_get64(buf + 32);
	s->digest = format_get64(buf + 40);
	memcpy(s->host, buf + FMT_SEAL_HEADER, host_len);
	s->host[host_len] = '\0';
	return 0;
}
