/*
 * t_proto.c: control protocol lines (src/proto.c): every request parses,
 * every malformed shape is refused with a message naming the problem, and
 * encoding round-trips.
 */
#include "proto.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum proto_code parse(const char *line, struct proto_request *req, char *why, size_t n)
{
	return proto_parse_request(line, strlen(line), req, why, n);
}

static void test_valid(void)
{
	struct proto_request req;
	char why[512];

	is_int(parse("{\"op\":\"put\",\"key\":\"a/b\",\"value\":{\"x\":[1,2]},\"expect\":3,\"id\":\"r1\"}\n",
	    &req, why, sizeof(why)), PROTO_OK, "put with every field parses");
	is_int(req.op, PROTO_OP_PUT, "op put");
	is_str(req.key, "a/b", "key");
	is_int(req.key_len, 3, "key_len");
	is_str(req.value, "{\"x\":[1,2]}", "value as compact JSON text");
	is_int(req.expect, 3, "expect");
	is_str(req.id, "r1", "id");
	proto_request_free(&req);

	is_int(parse("{\"op\":\"put\",\"key\":\"k\",\"value\":\"s\"}", &req, why, sizeof(why)), PROTO_OK,
	    "put without optional fields, without newline");
	is_int(req.expect, -1, "expect absent: -1");
	ok(req.id == NULL, "id absent: NULL");
	is_str(req.value, "\"s\"", "string value kept as JSON");
	proto_request_free(&req);

	is_int(parse("{\"op\":\"put\",\"key\":\"k\",\"value\":null,\"expect\":0,\"v\":1}", &req, why, sizeof(why)),
	    PROTO_OK, "put with expect 0 and v 1");
	is_int(req.expect, 0, "expect 0 (must not exist)");
	is_str(req.value, "null", "null value");
	proto_request_free(&req);

	is_int(parse("{\"op\":\"del\",\"key\":\"k\",\"expect\":7,\"id\":\"x\"}", &req, why, sizeof(why)), PROTO_OK, "del");
	ok(req.op == PROTO_OP_DEL && req.expect == 7 && strcmp(req.id, "x") == 0, "del fields");
	proto_request_free(&req);
	is_int(parse("{\"op\":\"get\",\"key\":\"k\"}", &req, why, sizeof(why)), PROTO_OK, "get");
	proto_request_free(&req);
	is_int(parse("{\"op\":\"list\"}", &req, why, sizeof(why)), PROTO_OK, "list without fields");
	is_int(req.limit, PROTO_LIST_DEFAULT, "list default limit");
	proto_request_free(&req);
	is_int(parse("{\"op\":\"list\",\"prefix\":\"a/\",\"start\":\"a/c\",\"limit\":5}", &req, why, sizeof(why)),
	    PROTO_OK, "list with every field");
	ok(strcmp(req.prefix, "a/") == 0 && strcmp(req.start, "a/c") == 0 && req.limit == 5, "list fields");
	proto_request_free(&req);
	is_int(parse("{\"op\":\"watch\",\"from\":0,\"prefix\":\"p\"}", &req, why, sizeof(why)), PROTO_OK, "watch");
	ok(req.from == 0 && strcmp(req.prefix, "p") == 0, "watch fields");
	proto_request_free(&req);
	is_int(parse("{\"op\":\"watch\"}", &req, why, sizeof(why)), PROTO_OK, "watch without from");
	is_int(req.from, -1, "from absent: -1");
	proto_request_free(&req);
	const char *simple[] = { "status", "demote", "snapshot", "promote" };
	for (size_t i = 0; i < 4; i++) {
		char line[64];
		snprintf(line, sizeof(line), "{\"op\":\"%s\"}", simple[i]);
		is_int(parse(line, &req, why, sizeof(why)), PROTO_OK, "%s", simple[i]);
		is_str(proto_op_name(req.op), simple[i], "op name %s", simple[i]);
		proto_request_free(&req);
	}
	is_int(parse("{\"op\":\"promote\",\"wait\":true,\"timeout\":5000}", &req, why, sizeof(why)), PROTO_OK,
	    "promote with wait and timeout");
	ok(req.wait && req.timeout_ms == 5000, "promote fields");
	proto_request_free(&req);
	is_int(parse("{\"op\":\"dump\"}", &req, why, sizeof(why)), PROTO_OK, "dump without fields");
	ok(req.op == PROTO_OP_DUMP && req.cut == -1 && req.from == -1 && req.limit == PROTO_LIST_DEFAULT,
	    "dump: a new cut, default limit");
	proto_request_free(&req);
	is_int(parse("{\"op\":\"dump\",\"cut\":3,\"from\":10,\"limit\":5}", &req, why, sizeof(why)),
	    PROTO_OK, "dump: the next page of a cut");
	ok(req.cut == 3 && req.from == 10 && req.limit == 5, "dump fields");
	proto_request_free(&req);
	struct proto_request enc;
	proto_request_init(&enc, PROTO_OP_DUMP);
	enc.cut = 4;
	enc.from = 7;
	enc.limit = 10000;
	char *line = proto_encode_request(&enc);
	is_str(line, "{\"op\":\"dump\",\"cut\":4,\"limit\":10000,\"from\":7}\n", "dump encodes cut, from, limit");
	is_int(parse(line, &req, why, sizeof(why)), PROTO_OK, "and parses back");
	ok(req.cut == 4 && req.from == 7 && req.limit == 10000, "to the same fields");
	proto_request_free(&req);
	free(line);
}

struct bad_case {
	const char *line;
	enum proto_code code;
	const char *must_say;
};

static void test_invalid(void)
{
	static const struct bad_case cases[] = {
		{ "", PROTO_E_INVALID, "not valid JSON" },
		{ "{", PROTO_E_INVALID, "not valid JSON" },
		{ "{\"op\":\"get\",\"key\":\"k\"} x", PROTO_E_INVALID, "not valid JSON" },
		{ "[1,2]", PROTO_E_INVALID, "JSON object, got array" },
		{ "\"put\"", PROTO_E_INVALID, "not valid JSON" },
		{ "{}", PROTO_E_INVALID, "missing field \"op\"" },
		{ "{\"op\":3}", PROTO_E_INVALID, "\"op\" must be a string, got integer" },
		{ "{\"op\":\"frob\"}", PROTO_E_INVALID, "unknown op \"frob\"" },
		{ "{\"op\":\"put\",\"key\":\"k\"}", PROTO_E_INVALID, "put: missing field \"value\"" },
		{ "{\"op\":\"put\",\"value\":1}", PROTO_E_INVALID, "put: missing field \"key\"" },
		{ "{\"op\":\"put\",\"key\":1,\"value\":1}", PROTO_E_INVALID, "field \"key\" must be a string, got integer" },
		{ "{\"op\":\"put\",\"key\":\"k\",\"value\":1,\"expect\":\"3\"}", PROTO_E_INVALID, "\"expect\" must be an integer, got string" },
		{ "{\"op\":\"put\",\"key\":\"k\",\"value\":1,\"expect\":-2}", PROTO_E_INVALID, "expect must be" },
		{ "{\"op\":\"put\",\"key\":\"k\",\"value\":1,\"expect\":-1}", PROTO_E_INVALID, "expect must be" },
		{ "{\"op\":\"put\",\"key\":\"k\",\"value\":1,\"extra\":1}", PROTO_E_INVALID, "put: unknown field \"extra\"" },
		{ "{\"op\":\"put\",\"key\":\"\",\"value\":1}", PROTO_E_INVALID, "key is empty" },
		{ "{\"op\":\"put\",\"key\":\"k\",\"value\":1,\"id\":\"\"}", PROTO_E_INVALID, "id must be" },
		{ "{\"op\":\"put\",\"key\":\"k\",\"key\":\"j\",\"value\":1}", PROTO_E_INVALID, "duplicate" },
		{ "{\"op\":\"put\",\"key\":\"a\\u0000b\",\"value\":1}", PROTO_E_INVALID, "not valid JSON" },
		{ "{\"op\":\"get\",\"key\":\"k\",\"value\":1}", PROTO_E_INVALID, "get: unknown field \"value\"" },
		{ "{\"op\":\"get\",\"key\":null}", PROTO_E_INVALID, "must be a string, got null" },
		{ "{\"op\":\"list\",\"limit\":0}", PROTO_E_INVALID, "limit must be 1..10000" },
		{ "{\"op\":\"list\",\"limit\":10001}", PROTO_E_INVALID, "limit must be" },
		{ "{\"op\":\"list\",\"limit\":1.5}", PROTO_E_INVALID, "must be an integer, got real" },
		{ "{\"op\":\"watch\",\"from\":-1}", PROTO_E_INVALID, "from must be" },
		{ "{\"op\":\"watch\",\"from\":\"1\"}", PROTO_E_INVALID, "\"from\" must be an integer" },
		{ "{\"op\":\"promote\",\"wait\":1}", PROTO_E_INVALID, "\"wait\" must be a boolean, got integer" },
		{ "{\"op\":\"promote\",\"timeout\":-5}", PROTO_E_INVALID, "timeout must be" },
		{ "{\"op\":\"status\",\"verbose\":true}", PROTO_E_INVALID, "status: unknown field \"verbose\"" },
		{ "{\"op\":\"status\",\"v\":2}", PROTO_E_INVALID, "protocol version 2 is not supported" },
		{ "{\"op\":\"status\",\"v\":\"1\"}", PROTO_E_INVALID, "\"v\" must be an integer" },
		{ "{\"op\":\"dump\",\"from\":3}", PROTO_E_INVALID, "cut and from go together" },
		{ "{\"op\":\"dump\",\"cut\":3}", PROTO_E_INVALID, "cut and from go together" },
		{ "{\"op\":\"dump\",\"cut\":-2,\"from\":0}", PROTO_E_INVALID, "cut must be" },
		{ "{\"op\":\"dump\",\"prefix\":\"a\"}", PROTO_E_INVALID, "dump: unknown field \"prefix\"" },
		{ "{\"op\":\"dump\",\"limit\":0}", PROTO_E_INVALID, "limit must be" },
	};
	char why[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proto_request req;
		why[0] = '\0';
		enum proto_code code = parse(cases[i].line, &req, why, sizeof(why));
		is_int(code, cases[i].code, "refused: %s", cases[i].line);
		ok(strstr(why, cases[i].must_say) != NULL, "message for %s says \"%s\" (got \"%s\")",
		    cases[i].line, cases[i].must_say, why);
		ok(req.root == NULL && req.value == NULL, "nothing to free after refusal");
	}

	/* Long key, oversized line. */
	size_t n = PROTO_KEY_MAX + 1;
	char *line = malloc(n + 64);
	int len = sprintf(line, "{\"op\":\"get\",\"key\":\"");
	memset(line + len, 'k', n);
	strcpy(line + len + n, "\"}");
	struct proto_request req;
	is_int(parse(line, &req, why, sizeof(why)), PROTO_E_TOO_LARGE, "key of 1025 bytes: too_large");
	ok(strstr(why, "1025") != NULL, "message gives the key size: %s", why);
	free(line);

	size_t big = PROTO_LINE_MAX + 1;
	line = malloc(big);
	memset(line, ' ', big);
	is_int(proto_parse_request(line, big, &req, why, sizeof(why)), PROTO_E_TOO_LARGE,
	    "line over 2 MiB: too_large");
	free(line);
}

static void test_round_trip(void)
{
	struct proto_request in, out;
	char why[256];

	proto_request_init(&in, PROTO_OP_PUT);
	in.key = "dir/ключ";
	in.value = "{\"a\": [1, 2.5, \"x\\n\"], \"b\": null}";
	in.expect = 12;
	in.id = "client-7:42";
	char *line = proto_encode_request(&in);
	ok(line != NULL && line[strlen(line) - 1] == '\n' && strchr(line, '\n') == line + strlen(line) - 1,
	    "encoded put is one line ending in a newline");
	is_int(proto_parse_request(line, strlen(line), &out, why, sizeof(why)), PROTO_OK, "encoded put parses");
	is_str(out.key, "dir/ключ", "key survives (UTF-8)");
	is_str(out.value, "{\"a\":[1,2.5,\"x\\n\"],\"b\":null}", "value survives (compacted)");
	is_int(out.expect, 12, "expect survives");
	is_str(out.id, "client-7:42", "id survives");
	proto_request_free(&out);
	free(line);

	in.value = "{not json";
	ok(proto_encode_request(&in) == NULL, "invalid value JSON is refused by the encoder");

	enum proto_op ops[] = { PROTO_OP_DEL, PROTO_OP_GET, PROTO_OP_LIST, PROTO_OP_WATCH,
	    PROTO_OP_STATUS, PROTO_OP_PROMOTE, PROTO_OP_DEMOTE, PROTO_OP_SNAPSHOT };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		proto_request_init(&in, ops[i]);
		if (ops[i] == PROTO_OP_DEL || ops[i] == PROTO_OP_GET)
			in.key = "k";
		if (ops[i] == PROTO_OP_DEL)
			in.expect = 0;
		if (ops[i] == PROTO_OP_LIST) {
			in.prefix = "p";
			in.start = "p5";
			in.limit = 3;
		}
		if (ops[i] == PROTO_OP_WATCH)
			in.from = 99;
		if (ops[i] == PROTO_OP_PROMOTE) {
			in.wait = true;
			in.timeout_ms = 0;
		}
		line = proto_encode_request(&in);
		int rc = line ? (int)proto_parse_request(line, strlen(line), &out, why, sizeof(why)) : -1;
		ok(rc == PROTO_OK && out.op == in.op && out.expect == in.expect &&
		    out.limit == in.limit && out.from == in.from && out.wait == in.wait &&
		    out.timeout_ms == in.timeout_ms &&
		    (in.key == NULL ? out.key == NULL : strcmp(in.key, out.key) == 0) &&
		    (in.prefix == NULL ? out.prefix == NULL : strcmp(in.prefix, out.prefix) == 0),
		    "%s round-trips (%s)", proto_op_name(ops[i]), rc == PROTO_OK ? "parsed" : why);
		if (rc == PROTO_OK)
			proto_request_free(&out);
		free(line);
	}
}

static void test_replies(void)
{
	struct proto_reply rep;
	char why[256];

	char *line = proto_reply_error(PROTO_E_NOT_ACTIVE, "this host is a standby", "hostb", -1);
	is_int(proto_parse_reply(line, strlen(line), &rep, why, sizeof(why)), 0, "error reply parses");
	ok(!rep.ok && rep.code == PROTO_E_NOT_ACTIVE, "code not_active");
	is_str(rep.active, "hostb", "active host named");
	is_str(rep.message, "this host is a standby", "message");
	proto_reply_free(&rep);
	free(line);

	line = proto_reply_error(PROTO_E_CONFLICT, "version differs", NULL, 0);
	is_int(proto_parse_reply(line, strlen(line), &rep, why, sizeof(why)), 0, "conflict reply parses");
	ok(rep.code == PROTO_E_CONFLICT && rep.version == 0 && rep.active == NULL, "conflict with version 0");
	proto_reply_free(&rep);
	free(line);

	line = proto_reply_ok(json_pack("{s:I}", "version", (json_int_t)42));
	is_str(line, "{\"version\":42,\"ok\":true}\n", "ok reply text");
	is_int(proto_parse_reply(line, strlen(line), &rep, why, sizeof(why)), 0, "ok reply parses");
	ok(rep.ok && json_integer_value(json_object_get(rep.root, "version")) == 42, "ok reply fields");
	proto_reply_free(&rep);
	free(line);

	line = proto_event_put(5, 2, "k", 1, "[1]", 3);
	is_str(line, "{\"event\":\"put\",\"seq\":5,\"key\":\"k\",\"epoch\":2,\"value\":[1]}\n", "put event text");
	is_int(proto_parse_reply(line, strlen(line), &rep, why, sizeof(why)), 0, "event parses");
	ok(rep.is_event && !rep.is_end, "is an event");
	proto_reply_free(&rep);
	free(line);
	line = proto_event_end("overflow");
	is_int(proto_parse_reply(line, strlen(line), &rep, why, sizeof(why)), 0, "end parses");
	ok(rep.is_event && rep.is_end, "is the end");
	proto_reply_free(&rep);
	free(line);
	line = proto_event_del(6, 2, "k", 1);
	ok(line && strstr(line, "\"event\":\"del\""), "del event");
	free(line);
	line = proto_event_seal(7, 3, "hosta");
	ok(line && strstr(line, "\"host\":\"hosta\""), "seal event");
	free(line);

	ok(proto_parse_reply("[]", 2, &rep, why, sizeof(why)) < 0, "array reply refused");
	ok(proto_parse_reply("{\"ok\":false}", 12, &rep, why, sizeof(why)) < 0, "error without error object refused");
	for (int c = 0; c < PROTO_CODE_COUNT; c++)
		is_int(proto_code_from_name(proto_code_name((enum proto_code)c)), c, "code %s round-trips",
		    proto_code_name((enum proto_code)c));
}

int main(void)
{
	test_valid();
	test_invalid();
	test_round_trip();
	test_replies();
	return tap_done();
}
