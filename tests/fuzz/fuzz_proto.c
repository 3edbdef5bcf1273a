/*
 * fuzz_proto.c: the control protocol's line parsers (src/proto.c), which
 * read whatever a local client writes to the daemon's socket.
 *
 * Promises checked: a refused request says why, with "invalid" or
 * "too_large"; an accepted request encodes (as libssfm would send it) to a
 * line that parses back to the same request.
 */
#include "fuzz.h"
#include "proto.h"

#include <stdlib.h>
#include <string.h>

static int fuzz_proto_same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void fuzz_proto_round_trip(const struct proto_request *req)
{
	struct proto_request again;
	char why[512];
	char *line = proto_encode_request(req);

	fuzz_require(line != NULL);
	fuzz_require(line[strlen(line) - 1] == '\n');
	fuzz_require(proto_parse_request(line, strlen(line), &again, why, sizeof(why)) == PROTO_OK);
	fuzz_require(again.op == req->op);
	fuzz_require(again.key_len == req->key_len);
	fuzz_require(req->key == NULL || memcmp(again.key, req->key, req->key_len) == 0);
	fuzz_require(fuzz_proto_same_str(again.value, req->value));
	fuzz_require(again.value_len == req->value_len);
	fuzz_require(again.expect == req->expect);
	fuzz_require(fuzz_proto_same_str(again.id, req->id));
	fuzz_require(fuzz_proto_same_str(again.prefix, req->prefix));
	fuzz_require(fuzz_proto_same_str(again.start, req->start));
	fuzz_require(again.limit == req->limit);
	fuzz_require(again.from == req->from);
	fuzz_require(again.wait == req->wait);
	fuzz_require(again.timeout_ms == req->timeout_ms);
	proto_request_free(&again);
	free(line);
}

int fuzz_proto(const uint8_t *data, size_t size)
{
	struct proto_request req;
	struct proto_reply rep;
	char why[512] = "";
	enum proto_code code;
	int accepted = 0;

	code = proto_parse_request((const char *)data, size, &req, why, sizeof(why));
	if (code == PROTO_OK) {
		fuzz_require(req.root != NULL);
		fuzz_require(memchr(data, '\0', size) == NULL);
		fuzz_require(req.key == NULL || (req.key_len >= 1 && req.key_len <= PROTO_KEY_MAX));
		fuzz_require(req.limit >= 1 && req.limit <= PROTO_LIST_MAX);
		fuzz_require((req.op == PROTO_OP_PUT) == (req.value != NULL));
		fuzz_proto_round_trip(&req);
		proto_request_free(&req);
		accepted = 1;
	} else {
		fuzz_require(code == PROTO_E_INVALID || code == PROTO_E_TOO_LARGE);
		fuzz_require(why[0] != '\0');
		fuzz_require(req.root == NULL && req.value == NULL);
	}

	/* The same bytes as a line from the daemon (libssfm's side). */
	why[0] = '\0';
	if (proto_parse_reply((const char *)data, size, &rep, why, sizeof(why)) == 0) {
		fuzz_require(rep.root != NULL);
		fuzz_require(rep.ok || (rep.code > PROTO_OK && rep.code < PROTO_CODE_COUNT));
		fuzz_require(rep.ok || rep.message != NULL);
		proto_reply_free(&rep);
		accepted = 1;
	} else {
		fuzz_require(why[0] != '\0');
		fuzz_require(rep.root == NULL);
	}
	return accepted;
}

FUZZ_ENTRY(fuzz_proto)
