/*
 * proto.c: parsing and encoding of control protocol lines (proto.h).
 *
 * Requests are checked in two passes: a field table per op gives messages
 * that name the field ("put: field \"expect\" must be an integer, got
 * string"), then json_unpack_ex(JSON_STRICT) extracts the values and would
 * catch anything the table missed.
 */
#include "proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const proto_code_names[PROTO_CODE_COUNT] = {
	"ok", "not_active", "conflict", "not_found", "invalid", "too_large",
	"fenced", "unavailable", "denied", "timeout", "internal",
};

const char *proto_code_name(enum proto_code code)
{
	return (unsigned)code < PROTO_CODE_COUNT ? proto_code_names[code] : "internal";
}

int proto_code_from_name(const char *name)
{
	for (int i = 0; i < PROTO_CODE_COUNT; i++)
		if (strcmp(proto_code_names[i], name) == 0)
			return i;
	return -1;
}

enum field_type { F_STR, F_INT, F_BOOL, F_ANY };

struct proto_field {
	const char *name;
	enum field_type type;
	bool required;
};

struct proto_op_spec {
	enum proto_op op;
	const char *name;
	struct proto_field fields[6];  /* besides "op" and "v" */
};

static const struct proto_op_spec proto_ops[] = {
	{ PROTO_OP_PUT, "put", { { "key", F_STR, true }, { "value", F_ANY, true },
	    { "expect", F_INT, false }, { "id", F_STR, false } } },
	{ PROTO_OP_DEL, "del", { { "key", F_STR, true }, { "expect", F_INT, false },
	    { "id", F_STR, false } } },
	{ PROTO_OP_GET, "get", { { "key", F_STR, true } } },
	{ PROTO_OP_LIST, "list", { { "prefix", F_STR, false }, { "start", F_STR, false },
	    { "limit", F_INT, false } } },
	{ PROTO_OP_WATCH, "watch", { { "from", F_INT, false }, { "prefix", F_STR, false } } },
	{ PROTO_OP_STATUS, "status", { { NULL, F_ANY, false } } },
	{ PROTO_OP_PROMOTE, "promote", { { "wait", F_BOOL, false }, { "timeout", F_INT, false } } },
	{ PROTO_OP_DEMOTE, "demote", { { NULL, F_ANY, false } } },
	{ PROTO_OP_SNAPSHOT, "snapshot", { { NULL, F_ANY, false } } },
	{ PROTO_OP_DUMP, "dump", { { "cut", F_INT, false }, { "from", F_INT, false },
	    { "limit", F_INT, false } } },
};
#define PROTO_NOPS (sizeof(proto_ops) / sizeof(proto_ops[0]))

const char *proto_op_name(enum proto_op op)
{
	for (size_t i = 0; i < PROTO_NOPS; i++)
		if (proto_ops[i].op == op)
			return proto_ops[i].name;
	return "?";
}

static const char *proto_json_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "real";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

static bool proto_type_ok(enum field_type t, const json_t *v)
{
	switch (t) {
	case F_STR: return json_is_string(v);
	case F_INT: return json_is_integer(v);
	case F_BOOL: return json_is_boolean(v);
	case F_ANY: return true;
	}
	return false;
}

static const char *proto_type_word(enum field_type t)
{
	switch (t) {
	case F_STR: return "a string";
	case F_INT: return "an integer";
	case F_BOOL: return "a boolean";
	case F_ANY: return "any JSON value";
	}
	return "?";
}

static __attribute__((format(printf, 3, 4)))
enum proto_code proto_fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return PROTO_E_INVALID;
}

void proto_request_init(struct proto_request *req, enum proto_op op)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	req->expect = -1;
	req->from = -1;
	req->cut = -1;
	req->limit = PROTO_LIST_DEFAULT;
	req->timeout_ms = -1;
}

void proto_request_free(struct proto_request *req)
{
	free(req->value);
	json_decref(req->root);
	memset(req, 0, sizeof(*req));
}

/* Field names and types against the op's table. */
static enum proto_code proto_check_fields(const struct proto_op_spec *spec,
    json_t *root, char *why, size_t why_len)
{
	const char *name;
	json_t *v;

	json_object_foreach(root, name, v) {
		if (strcmp(name, "op") == 0)
			continue;
		if (strcmp(name, "v") == 0) {
			if (!json_is_integer(v))
				return proto_fail(why, why_len, "%s: field \"v\" must be an integer, got %s",
				    spec->name, proto_json_type(v));
			if (json_integer_value(v) != PROTO_VERSION)
				return proto_fail(why, why_len, "%s: protocol version %lld is not supported (this daemon speaks %d)",
				    spec->name, (long long)json_integer_value(v), PROTO_VERSION);
			continue;
		}
		const struct proto_field *f = NULL;
		for (size_t i = 0; i < 6 && spec->fields[i].name; i++)
			if (strcmp(spec->fields[i].name, name) == 0)
				f = &spec->fields[i];
		if (f == NULL)
			return proto_fail(why, why_len, "%s: unknown field \"%s\"", spec->name, name);
		if (!proto_type_ok(f->type, v))
			return proto_fail(why, why_len, "%s: field \"%s\" must be %s, got %s",
			    spec->name, name, proto_type_word(f->type), proto_json_type(v));
	}
	for (size_t i = 0; i < 6 && spec->fields[i].name; i++)
		if (spec->fields[i].required && !json_object_get(root, spec->fields[i].name))
			return proto_fail(why, why_len, "%s: missing field \"%s\"",
			    spec->name, spec->fields[i].name);
	return PROTO_OK;
}

static enum proto_code proto_unpack(struct proto_request *req, json_t *root,
    char *why, size_t why_len)
{
	json_error_t jerr;
	const char *op;
	json_t *value = NULL;
	json_int_t version = PROTO_VERSION, expect = -1, limit = PROTO_LIST_DEFAULT;
	json_int_t from = -1, timeout = -1, cut = -1;
	int wait = 0, rc = -1;
	const size_t flags = JSON_STRICT;

	switch (req->op) {
	case PROTO_OP_PUT:
		rc = json_unpack_ex(root, &jerr, flags, "{s:s, s:s%, s:o, s?:I, s?:s, s?:I}",
		    "op", &op, "key", &req->key, &req->key_len, "value", &value,
		    "expect", &expect, "id", &req->id, "v", &version);
		break;
	case PROTO_OP_DEL:
		rc = json_unpack_ex(root, &jerr, flags, "{s:s, s:s%, s?:I, s?:s, s?:I}",
		    "op", &op, "key", &req->key, &req->key_len, "expect", &expect,
		    "id", &req->id, "v", &version);
		break;
	case PROTO_OP_GET:
		rc = json_unpack_ex(root, &jerr, flags, "{s:s, s:s%, s?:I}",
		    "op", &op, "key", &req->key, &req->key_len, "v", &version);
		break;
	case PROTO_OP_LIST:
		rc = json_unpack_ex(root, &jerr, flags, "{s:s, s?:s, s?:s, s?:I, s?:I}",
		    "op", &op, "prefix", &req->prefix, "start", &req->start,
		    "limit", &limit, "v", &version);
		break;
	case PROTO_OP_WATCH:
		rc = json_unpack_ex(root, &jerr, flags, "{s:s, s?:I, s?:s, s?:I}",
		    "op", &op, "from", &from, "prefix", &req->prefix, "v", &version);
		break;
	case PROTO_OP_PROMOTE:
		rc = json_unpack_ex(root, &jerr, flags, "{s:s, s?:b, s?:I, s?:I}",
		    "op", &op, "wait", &wait, "timeout", &timeout, "v", &version);
		break;
	case PROTO_OP_DUMP:
		rc = json_unpack_ex(root, &jerr, flags, "{s:s, s?:I, s?:I, s?:I, s?:I}",
		    "op", &op, "cut", &cut, "from", &from, "limit", &limit, "v", &version);
		break;
	case PROTO_OP_STATUS:
	case PROTO_OP_DEMOTE:
	case PROTO_OP_SNAPSHOT:
		rc = json_unpack_ex(root, &jerr, flags, "{s:s, s?:I}", "op", &op, "v", &version);
		break;
	}
	if (rc != 0)
		return proto_fail(why, why_len, "%s: %s", proto_op_name(req->op), jerr.text);

	const char *name = proto_op_name(req->op);
	if (req->key != NULL) {
		if (req->key_len == 0)
			return proto_fail(why, why_len, "%s: the key is empty", name);
		if (req->key_len > PROTO_KEY_MAX) {
			snprintf(why, why_len, "%s: key of %zu bytes is longer than %u",
			    name, req->key_len, PROTO_KEY_MAX);
			return PROTO_E_TOO_LARGE;
		}
	}
	if (req->id != NULL && (req->id[0] == '\0' || strlen(req->id) > PROTO_ID_MAX))
		return proto_fail(why, why_len, "%s: id must be 1..%u bytes", name, PROTO_ID_MAX);
	if (expect < -1 || (expect == -1 && json_object_get(root, "expect")))
		return proto_fail(why, why_len, "%s: expect must be 0 (absent) or a version > 0, got %lld",
		    name, (long long)expect);
	if (limit < 1 || limit > (json_int_t)PROTO_LIST_MAX)
		return proto_fail(why, why_len, "%s: limit must be 1..%u, got %lld",
		    name, PROTO_LIST_MAX, (long long)limit);
	if (from < -1 || (from == -1 && json_object_get(root, "from")))
		return proto_fail(why, why_len, "%s: from must be a sequence number >= 0, got %lld",
		    name, (long long)from);
	if (timeout < -1 || (timeout == -1 && json_object_get(root, "timeout")))
		return proto_fail(why, why_len, "%s: timeout must be >= 0 ms, got %lld",
		    name, (long long)timeout);
	if (cut < -1 || (cut == -1 && json_object_get(root, "cut")))
		return proto_fail(why, why_len, "%s: cut must be a cut id >= 0, got %lld",
		    name, (long long)cut);
	if (req->op == PROTO_OP_DUMP && (cut >= 0) != (from >= 0))
		return proto_fail(why, why_len, "%s: cut and from go together (the next page of a cut)",
		    name);
	req->cut = cut;
	req->expect = expect;
	req->limit = (uint64_t)limit;
	req->from = from;
	req->wait = wait != 0;
	req->timeout_ms = timeout;
	if (value != NULL) {
		req->value = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
		if (req->value == NULL) {
			snprintf(why, why_len, "%s: out of memory", name);
			return PROTO_E_INTERNAL;
		}
		req->value_len = strlen(req->value);
	}
	return PROTO_OK;
}

enum proto_code proto_parse_request(const char *line, size_t len,
    struct proto_request *req, char *why, size_t why_len)
{
	json_error_t jerr;
	const struct proto_op_spec *spec = NULL;
	enum proto_code code;

	memset(req, 0, sizeof(*req));
	if (len > PROTO_LINE_MAX) {
		snprintf(why, why_len, "request of %zu bytes is longer than %u", len, PROTO_LINE_MAX);
		return PROTO_E_TOO_LARGE;
	}
	if (len > 0 && line[len - 1] == '\n')
		len--;
	/* jansson skips a NUL byte after a number ("[1\0]" loads as [1]);
	 * a request is text, so no NUL byte is taken. */
	const char *nul = memchr(line, '\0', len);
	if (nul != NULL)
		return proto_fail(why, why_len, "NUL byte in the request (at byte %zu)",
		    (size_t)(nul - line));
	json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return proto_fail(why, why_len, "not valid JSON: %s (at byte %d)", jerr.text, jerr.position);
	if (!json_is_object(root)) {
		code = proto_fail(why, why_len, "a request is a JSON object, got %s", proto_json_type(root));
		goto fail;
	}
	json_t *op = json_object_get(root, "op");
	if (op == NULL) {
		code = proto_fail(why, why_len, "missing field \"op\"");
		goto fail;
	}
	if (!json_is_string(op)) {
		code = proto_fail(why, why_len, "field \"op\" must be a string, got %s", proto_json_type(op));
		goto fail;
	}
	for (size_t i = 0; i < PROTO_NOPS; i++)
		if (strcmp(proto_ops[i].name, json_string_value(op)) == 0)
			spec = &proto_ops[i];
	if (spec == NULL) {
		code = proto_fail(why, why_len, "unknown op \"%.64s\" (put, del, get, list, watch, status, promote, demote, snapshot, dump)",
		    json_string_value(op));
		goto fail;
	}
	code = proto_check_fields(spec, root, why, why_len);
	if (code != PROTO_OK)
		goto fail;
	proto_request_init(req, spec->op);
	req->root = root;
	code = proto_unpack(req, root, why, why_len);
	if (code != PROTO_OK) {
		proto_request_free(req);
		return code;
	}
	return PROTO_OK;
fail:
	json_decref(root);
	return code;
}

/* ---- encoding -------------------------------------------------------------- */

char *proto_line(json_t *obj)
{
	if (obj == NULL)
		return NULL;
	char *text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (text == NULL)
		return NULL;
	size_t n = strlen(text);
	char *line = realloc(text, n + 2);
	if (line == NULL) {
		free(text);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	return line;
}

/* Adds key:text-as-JSON; returns -1 if text is not JSON. */
static int proto_set_json_text(json_t *obj, const char *key, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

	if (v == NULL)
		return -1;
	return json_object_set_new(obj, key, v);
}

char *proto_encode_request(const struct proto_request *req)
{
	json_t *o = json_object();
	int rc = 0;

	if (o == NULL)
		return NULL;
	rc |= json_object_set_new(o, "op", json_string(proto_op_name(req->op)));
	if (req->key)
		rc |= json_object_set_new(o, "key", json_stringn(req->key,
		    req->key_len ? req->key_len : strlen(req->key)));
	if (req->op == PROTO_OP_PUT) {
		if (req->value == NULL)
			rc = -1;
		else
			rc |= proto_set_json_text(o, "value", req->value,
			    req->value_len ? req->value_len : strlen(req->value));
	}
	if (req->expect >= 0)
		rc |= json_object_set_new(o, "expect", json_integer(req->expect));
	if (req->id)
		rc |= json_object_set_new(o, "id", json_string(req->id));
	if (req->prefix)
		rc |= json_object_set_new(o, "prefix", json_string(req->prefix));
	if (req->start)
		rc |= json_object_set_new(o, "start", json_string(req->start));
	if (req->cut >= 0)
		rc |= json_object_set_new(o, "cut", json_integer(req->cut));
	if ((req->op == PROTO_OP_LIST || req->op == PROTO_OP_DUMP) &&
	    req->limit != PROTO_LIST_DEFAULT)
		rc |= json_object_set_new(o, "limit", json_integer((json_int_t)req->limit));
	if (req->from >= 0)
		rc |= json_object_set_new(o, "from", json_integer(req->from));
	if (req->wait)
		rc |= json_object_set_new(o, "wait", json_true());
	if (req->timeout_ms >= 0)
		rc |= json_object_set_new(o, "timeout", json_integer(req->timeout_ms));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return proto_line(o);
}

char *proto_reply_ok(json_t *fields)
{
	json_t *o = fields ? fields : json_object();

	if (o == NULL || json_object_set_new(o, "ok", json_true()) != 0) {
		json_decref(o);
		return NULL;
	}
	return proto_line(o);
}

char *proto_reply_error(enum proto_code code, const char *message,
    const char *active, int64_t version)
{
	json_t *err = json_pack("{s:s, s:s}", "code", proto_code_name(code),
	    "message", message ? message : proto_code_name(code));

	if (err == NULL)
		return NULL;
	if (active && json_object_set_new(err, "active", json_string(active)) != 0)
		goto fail;
	if (version >= 0 && json_object_set_new(err, "version", json_integer(version)) != 0)
		goto fail;
	return proto_line(json_pack("{s:b, s:o}", "ok", 0, "error", err));
fail:
	json_decref(err);
	return NULL;
}

char *proto_event_put(uint64_t seq, uint64_t epoch, const char *key,
    size_t key_len, const char *value, size_t value_len)
{
	json_t *o = json_pack("{s:s, s:I, s:s%, s:I}", "event", "put",
	    "seq", (json_int_t)seq, "key", key, key_len, "epoch", (json_int_t)epoch);

	if (o == NULL || proto_set_json_text(o, "value", value, value_len) != 0) {
		json_decref(o);
		return NULL;
	}
	return proto_line(o);
}

char *proto_event_del(uint64_t seq, uint64_t epoch, const char *key,
    size_t key_len)
{
	return proto_line(json_pack("{s:s, s:I, s:s%, s:I}", "event", "del",
	    "seq", (json_int_t)seq, "key", key, key_len, "epoch", (json_int_t)epoch));
}

char *proto_event_seal(uint64_t seq, uint64_t epoch, const char *host)
{
	return proto_line(json_pack("{s:s, s:I, s:I, s:s}", "event", "seal",
	    "seq", (json_int_t)seq, "epoch", (json_int_t)epoch, "host", host));
}

char *proto_event_end(const char *reason)
{
	return proto_line(json_pack("{s:b, s:s}", "end", 1, "reason", reason));
}

/* ---- replies, client side ---------------------------------------------------- */

void proto_reply_free(struct proto_reply *rep)
{
	json_decref(rep->root);
	memset(rep, 0, sizeof(*rep));
}

int proto_parse_reply(const char *line, size_t len, struct proto_reply *rep,
    char *why, size_t why_len)
{
	json_error_t jerr;

	memset(rep, 0, sizeof(*rep));
	rep->version = -1;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (memchr(line, '\0', len) != NULL) {
		snprintf(why, why_len, "reply holds a NUL byte");
		return -1;
	}
	json_t *root = json_loadb(line, len, 0, &jerr);
	if (root == NULL) {
		snprintf(why, why_len, "reply is not valid JSON: %s", jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(why, why_len, "reply is not a JSON object");
		goto fail;
	}
	rep->root = root;
	json_t *ok = json_object_get(root, "ok");
	if (ok == NULL) {
		if (json_object_get(root, "event") && json_is_string(json_object_get(root, "event"))) {
			rep->ok = true;
			rep->is_event = true;
			return 0;
		}
		if (json_is_true(json_object_get(root, "end"))) {
			rep->ok = true;
			rep->is_event = rep->is_end = true;
			return 0;
		}
		snprintf(why, why_len, "reply has neither \"ok\" nor \"event\"");
		goto fail;
	}
	if (!json_is_boolean(ok)) {
		snprintf(why, why_len, "reply field \"ok\" is not a boolean");
		goto fail;
	}
	rep->ok = json_is_true(ok);
	if (rep->ok)
		return 0;
	json_t *err = json_object_get(root, "error");
	const char *code = NULL;
	json_int_t version = -1;
	if (json_unpack_ex(err, &jerr, 0, "{s:s, s:s, s?:s, s?:I}", "code", &code,
	    "message", &rep->message, "active", &rep->active, "version", &version) != 0) {
		snprintf(why, why_len, "error reply is malformed: %s", jerr.text);
		goto fail;
	}
	int c = proto_code_from_name(code);
	/* A code from a newer daemon is still an error: report it as internal
	 * with its message. */
	rep->code = c > 0 ? (enum proto_code)c : PROTO_E_INTERNAL;
	rep->version = version;
	return 0;
fail:
	json_decref(root);
	rep->root = NULL;
	return -1;
}
