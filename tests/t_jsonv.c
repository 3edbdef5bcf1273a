/*
 * t_jsonv: the JSON and UTF-8 validator.  A table of texts that RFC 8259
 * accepts or refuses (with the offset where it goes wrong), the nesting
 * limit at its exact edge, inputs of about 100 MB that must neither crash
 * nor take long, and a cross-check against jansson on random mutations of
 * valid documents.
 */
#include "jsonv.h"
#include "tap.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct jcase {
	const char *text;
	size_t len;
	int valid;
	long err_offset;    /* -1: not checked */
	const char *what;
};

#define VALID(s, what) { s, sizeof(s) - 1, 1, -1, what }
#define INVALID(s, off, what) { s, sizeof(s) - 1, 0, off, what }

static const struct jcase cases[] = {
	VALID("0", "zero"),
	VALID("-0", "minus zero"),
	VALID("-0.0e+0", "minus zero with fraction and exponent"),
	VALID("1E-7", "capital exponent"),
	VALID("123.456e78", "fraction and exponent"),
	VALID("1e999", "exponent beyond double range (RFC 8259 sets no range)"),
	VALID("123456789012345678901234567890", "integer beyond 64 bits"),
	VALID("true", "true"),
	VALID("false", "false"),
	VALID("null", "null"),
	VALID("\"\"", "empty string"),
	VALID("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "every short escape"),
	VALID("\"\\u0041\\u00e9\\u20AC\\uFFFF\"", "\\u escapes, both cases of hex"),
	VALID("\"\\uD83D\\uDE00\"", "surrogate pair escape"),
	VALID("\"\\uDBFF\\uDFFF\"", "highest surrogate pair"),
	VALID("\"\\u0000\"", "escaped NUL (valid JSON; jansson refuses it by default)"),
	VALID(" \t\r\n[ ] \n", "whitespace everywhere allowed"),
	VALID("{}", "empty object"),
	VALID("[]", "empty array"),
	VALID("{ }", "empty object with space"),
	VALID("[ ]", "empty array with space"),
	VALID("{\"a\":[1,{\"b\":null}],\"c\":\"d\"}", "nested"),
	VALID("{\"a\":1,\"a\":2}", "duplicate names (RFC: SHOULD be unique, not MUST)"),
	VALID("[[[]],[{}],{\"x\":[]}]", "empty containers nested"),
	VALID("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"", "2-, 3- and 4-byte UTF-8"),
	VALID("\"\xEF\xBF\xBF\"", "U+FFFF raw"),
	VALID("\"\xF4\x8F\xBF\xBF\"", "U+10FFFF raw"),
	VALID("\"\xED\x9F\xBF\"", "U+D7FF raw, just below the surrogates"),
	VALID("\"\xEE\x80\x80\"", "U+E000 raw, just above the surrogates"),
	VALID("\"\x7F\"", "DEL is not a control character for JSON"),
	VALID("[-1.5e-3, 2, \"x\", true, false, null]", "array of scalars"),

	INVALID("", 0, "empty input"),
	INVALID("   ", 3, "only whitespace"),
	INVALID("01", 1, "leading zero"),
	INVALID("-01", 2, "leading zero after minus"),
	INVALID("-", 1, "lone minus"),
	INVALID("1.", 2, "no digit after the point"),
	INVALID("1.e5", 2, "no digit between point and exponent"),
	INVALID("1e", 2, "no exponent digits"),
	INVALID("1e+", 3, "no exponent digits after sign"),
	INVALID("+1", 0, "plus sign"),
	INVALID(".5", 0, "no integer part"),
	INVALID("0x10", 1, "hex number"),
	INVALID("Infinity", 0, "Infinity"),
	INVALID("NaN", 0, "NaN"),
	INVALID("tru", 3, "truncated literal"),
	INVALID("nul", 3, "truncated null"),
	INVALID("TRUE", 0, "literal in capitals"),
	INVALID("truex", 4, "literal with trailing letter"),
	INVALID("true false", 5, "two values"),
	INVALID("[1] x", 4, "trailing garbage"),
	INVALID("[1]]", 3, "extra bracket"),
	INVALID("[", 1, "unterminated array"),
	INVALID("[1", 2, "unterminated array after a value"),
	INVALID("{", 1, "unterminated object"),
	INVALID("[1 2]", 3, "missing comma"),
	INVALID("[1,]", 3, "trailing comma in array"),
	INVALID("[,1]", 1, "leading comma"),
	INVALID("[1,,2]", 3, "double comma"),
	INVALID("{\"a\":1,}", 7, "trailing comma in object"),
	INVALID("{,}", 1, "comma in empty object"),
	INVALID("{1:2}", 1, "number as member name"),
	INVALID("{\"a\"}", 4, "member without value"),
	INVALID("{\"a\" 1}", 5, "member without colon"),
	INVALID("{\"a\":}", 5, "member with colon but no value"),
	INVALID("[1}", 2, "array closed by brace"),
	INVALID("{\"a\":1]", 6, "object closed by bracket"),
	INVALID("'a'", 0, "single quotes"),
	INVALID("\"abc", 4, "unterminated string"),
	INVALID("\"\\", 2, "unterminated escape"),
	INVALID("\"\\x\"", 1, "unknown escape"),
	INVALID("\"\\U0041\"", 1, "capital U escape"),
	INVALID("\"\\u12G4\"", 1, "bad hex digit"),
	INVALID("\"\\u123\"", 1, "three hex digits"),
	INVALID("\"\\uD800\"", 1, "lone high surrogate escape"),
	INVALID("\"\\uDC00\"", 1, "lone low surrogate escape"),
	INVALID("\"\\uDE00\\uD83D\"", 1, "surrogate pair in the wrong order"),
	INVALID("\"\\uD800\\u0041\"", 1, "high surrogate then a non-surrogate"),
	INVALID("\"\\uD800x\"", 1, "high surrogate then a plain character"),
	INVALID("\"\\uD800\\uD800\"", 1, "two high surrogates"),
	INVALID("\"\x01\"", 1, "control character in string"),
	INVALID("\"\x1F\"", 1, "U+001F raw in string"),
	INVALID("\"\t\"", 1, "raw tab in string"),
	INVALID("\"a\nb\"", 2, "raw newline in string"),
	INVALID("\"\x00\"", 1, "NUL byte in string"),
	INVALID("\x00", 0, "NUL byte alone"),
	INVALID("1\x00", 1, "NUL byte after a value"),
	INVALID("[1,\x00]", 3, "NUL byte where a value should be"),
	INVALID("\v1", 0, "vertical tab is not whitespace"),
	INVALID("\f1", 0, "form feed is not whitespace"),
	INVALID("\xEF\xBB\xBF{}", 0, "byte order mark"),
	INVALID("\"\x80\"", 1, "lone continuation byte"),
	INVALID("\"\xC2\"", 1, "truncated 2-byte sequence"),
	INVALID("\"\xE2\x82\"", 1, "truncated 3-byte sequence"),
	INVALID("\"\xC0\xAF\"", 1, "overlong '/' (C0)"),
	INVALID("\"\xC1\xBF\"", 1, "overlong (C1)"),
	INVALID("\"\xE0\x80\xAF\"", 1, "overlong 3-byte"),
	INVALID("\"\xF0\x80\x80\xAF\"", 1, "overlong 4-byte"),
	INVALID("\"\xED\xA0\x80\"", 1, "UTF-16 high surrogate encoded in UTF-8"),
	INVALID("\"\xED\xBF\xBF\"", 1, "UTF-16 low surrogate encoded in UTF-8"),
	INVALID("\"\xED\xA0\xBD\xED\xB8\x80\"", 1, "CESU-8 surrogate pair"),
	INVALID("\"\xF4\x90\x80\x80\"", 1, "U+110000, above U+10FFFF"),
	INVALID("\"\xF5\x80\x80\x80\"", 1, "lead byte F5"),
	INVALID("\"\xFF\"", 1, "byte FF"),
	INVALID("\"a\xC3\x28\"", 2, "bad continuation byte"),
	INVALID("\xC3\xA9", 0, "UTF-8 outside a string"),
};

static void check_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct jcase *c = &cases[i];
		size_t off = (size_t)-1;
		const char *why = NULL;
		int rc = jsonv_validate(c->text, c->len, &off, &why);

		if (c->valid) {
			ok(rc == 0, "valid: %s%s%s", c->what, rc ? ": " : "", rc ? why : "");
			continue;
		}
		int good = rc == -1 && why != NULL && off <= c->len &&
		    (c->err_offset < 0 || off == (size_t)c->err_offset);
		ok(good, "invalid: %s (offset %zu: %s)", c->what, off, why ? why : "?");
		if (!good && c->err_offset >= 0)
			tap_diag("wanted offset %ld", c->err_offset);
	}
}

static void check_utf8(void)
{
	static const struct {
		const char *s;
		size_t len;
		long bad;
	} u[] = {
		{ "", 0, -1 },
		{ "plain ascii", 11, -1 },
		{ "\x00 NUL is UTF-8", 15, -1 },
		{ "\xC2\x80\xDF\xBF", 4, -1 },
		{ "\xE0\xA0\x80\xEF\xBF\xBF", 6, -1 },
		{ "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", 8, -1 },
		{ "ab\xC0\x80", 4, 2 },
		{ "ab\xE0\x9F\xBF", 5, 2 },
		{ "abc\xED\xA0\x80", 6, 3 },
		{ "\xF4\x90\x80\x80", 4, 0 },
		{ "x\xF0\x8F\xBF\xBF", 5, 1 },
		{ "xy\xE2\x82", 4, 2 },
		{ "\x80", 1, 0 },
		{ "\xFE\xFF", 2, 0 },
	};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		size_t off = (size_t)-1;
		int rc = jsonv_utf8(u[i].s, u[i].len, &off);
		if (u[i].bad < 0)
			is_int(rc, 0, "utf8 case %zu is valid", i);
		else
			ok(rc == -1 && off == (size_t)u[i].bad,
			    "utf8 case %zu invalid at %ld (got rc %d offset %zu)", i, u[i].bad, rc, off);
	}

	/* Every 1- and 2-byte input, against a decoder written from the
	 * definition of UTF-8 rather than from Table 3-7. */
	int bad = 0;
	for (unsigned a = 0; a < 256; a++)
		for (unsigned b = 0; b < 256; b++) {
			unsigned char s[2] = { (unsigned char)a, (unsigned char)b };
			int want;
			if (a < 0x80)
				want = b < 0x80;
			else if ((a & 0xE0) == 0xC0) {
				unsigned cp = ((a & 0x1Fu) << 6) | (b & 0x3Fu);
				want = (b & 0xC0) == 0x80 && cp >= 0x80;
			} else
				want = 0;
			size_t off;
			if ((jsonv_utf8((const char *)s, 2, &off) == 0) != want)
				bad++;
		}
	is_int(bad, 0, "every 2-byte input judged as the definition says");

	bad = 0;
	for (unsigned cp = 0; cp <= 0x10FFFF; cp++) {
		unsigned char s[4];
		size_t n, off;
		if (cp < 0x80) { s[0] = (unsigned char)cp; n = 1; }
		else if (cp < 0x800) { s[0] = (unsigned char)(0xC0 | (cp >> 6)); s[1] = (unsigned char)(0x80 | (cp & 0x3F)); n = 2; }
		else if (cp < 0x10000) { s[0] = (unsigned char)(0xE0 | (cp >> 12)); s[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); s[2] = (unsigned char)(0x80 | (cp & 0x3F)); n = 3; }
		else { s[0] = (unsigned char)(0xF0 | (cp >> 18)); s[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)); s[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); s[3] = (unsigned char)(0x80 | (cp & 0x3F)); n = 4; }
		int want = !(cp >= 0xD800 && cp <= 0xDFFF);
		if ((jsonv_utf8((const char *)s, n, &off) == 0) != want)
			bad++;
		/* The same code point, overlong by one byte, is always refused. */
		if (n < 4) {
			unsigned char o[4];
			size_t m = n + 1;
			if (m == 2) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); }
			else if (m == 3) { o[0] = (unsigned char)(0xE0 | (cp >> 12)); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (unsigned char)(0x80 | (cp & 0x3F)); }
			else { o[0] = (unsigned char)(0xF0 | (cp >> 18)); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)); o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (unsigned char)(0x80 | (cp & 0x3F)); }
			if (jsonv_utf8((const char *)o, m, &off) == 0)
				bad++;
		}
	}
	is_int(bad, 0, "every code point: accepted unless a surrogate; overlong forms refused");
}

/* n nested containers (alternating arrays and objects), closed. */
static char *nested(size_t n, size_t *len)
{
	char *buf = malloc(n * 6 + 8);
	size_t p = 0;

	for (size_t i = 0; i < n; i++) {
		if (i % 2 == 0)
			buf[p++] = '[';
		else {
			memcpy(buf + p, "{\"k\":", 5);
			p += 5;
		}
	}
	buf[p++] = '1';
	for (size_t i = n; i-- > 0;)
		buf[p++] = i % 2 == 0 ? ']' : '}';
	*len = p;
	return buf;
}

static void check_depth(void)
{
	size_t len, off = 0;
	const char *why = NULL;
	char *t;
	int rc;

	t = nested(JSONV_MAX_DEPTH, &len);
	is_int(jsonv_validate(t, len, &off, &why), 0, "depth exactly 512 is valid");
	free(t);
	t = nested(JSONV_MAX_DEPTH + 1, &len);
	rc = jsonv_validate(t, len, &off, &why);
	ok(rc == -1 && strstr(why, "512") != NULL && off == (JSONV_MAX_DEPTH / 2) * 6,
	    "depth 513 is refused (%s at %zu)", rc ? why : "accepted", off);
	free(t);

	char arr[2 * JSONV_MAX_DEPTH + 2];
	memset(arr, '[', JSONV_MAX_DEPTH);
	memset(arr + JSONV_MAX_DEPTH, ']', JSONV_MAX_DEPTH);
	is_int(jsonv_validate(arr, 2 * JSONV_MAX_DEPTH, &off, &why), 0, "512 empty arrays nested");
	memset(arr, '[', JSONV_MAX_DEPTH + 1);
	memset(arr + JSONV_MAX_DEPTH + 1, ']', JSONV_MAX_DEPTH + 1);
	rc = jsonv_validate(arr, 2 * JSONV_MAX_DEPTH + 2, &off, &why);
	ok(rc == -1 && off == JSONV_MAX_DEPTH,
	    "513 empty arrays: refused at the 513th bracket (offset %zu)", off);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Validates and reports how long it took, in one step so that the
 * arguments of the check are computed after the call. */
static int timed_validate(const char *buf, size_t len, size_t *off,
    const char **why, double *secs)
{
	double t0 = now_s();
	int rc = jsonv_validate(buf, len, off, why);
	*secs = now_s() - t0;
	return rc;
}

static void check_huge(void)
{
	const size_t n = 100u * 1000u * 1000u;
	char *buf = malloc(n);
	size_t off = 0;
	const char *why = NULL;
	double secs;
	int rc;

	if (buf == NULL)
		tap_bail("cannot allocate %zu bytes", n);

	memset(buf, '[', n);
	rc = timed_validate(buf, n, &off, &why, &secs);
	ok(rc == -1 && off == JSONV_MAX_DEPTH,
	    "100 MB of '[' refused at the depth limit (offset %zu) in %.2f s", off, secs);

	memset(buf, '{', n);
	rc = timed_validate(buf, n, &off, &why, &secs);
	ok(rc == -1 && off == 1, "100 MB of '{' refused at offset 1 (%s)", rc ? why : "accepted");

	/* [0,0,...,0 ] */
	buf[0] = '[';
	for (size_t i = 1; i + 1 < n; i += 2) {
		buf[i] = '0';
		buf[i + 1] = ',';
	}
	buf[n - 2] = ' ';
	buf[n - 1] = ']';
	rc = timed_validate(buf, n, &off, &why, &secs);
	ok(rc == 0, "100 MB array of 50M numbers valid (%.2f s)%s%s", secs,
	    rc ? ": " : "", rc ? why : "");
	buf[n - 1] = ',';
	rc = timed_validate(buf, n, &off, &why, &secs);
	ok(rc == -1 && off == n, "the same array unterminated: refused at its end (offset %zu)", off);

	/* One string of 100 MB of multibyte text. */
	buf[0] = '"';
	for (size_t i = 1; i + 3 < n; i += 3)
		memcpy(buf + i, "\xE2\x82\xAC", 3);
	size_t end = 1 + ((n - 2) / 3) * 3;
	buf[end] = '"';
	rc = timed_validate(buf, end + 1, &off, &why, &secs);
	ok(rc == 0, "a 100 MB string valid (%.2f s)", secs);
	rc = jsonv_utf8(buf + 1, end - 1, &off);
	is_int(rc, 0, "100 MB of U+20AC is UTF-8");
	buf[end - 1] = '\x80';
	buf[end - 2] = '\x80';
	buf[end - 3] = '\x80';
	rc = timed_validate(buf, end + 1, &off, &why, &secs);
	ok(rc == -1 && off == end - 3,
	    "a stray continuation byte at the end found at offset %zu", off);
	free(buf);
}

/* ---- cross-check with jansson ------------------------------------------ */

static uint64_t rng_state = 0x9d2c5680a1b2c3d4ull;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char *const seeds[] = {
	"{\"name\":\"db1\",\"port\":5432,\"tags\":[\"a\",\"b\"],\"up\":true,\"lag\":0.25}",
	"[1,-2.5e3,0,\"x\\ny\",null,false,{\"k\":[]}]",
	"\"plain string with \\u00e9 and \\uD83D\\uDE00 and \xC3\xA9\"",
	"{\"a\":{\"b\":{\"c\":{\"d\":[[[[1]]]]}}}}",
	"  {\"spaced\" : [ 1 , 2 , 3 ] , \"e\" : {} }  ",
	"-0.000123E+45",
	"{\"u\":\"\\u0000\\u001f\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"v\":\"\xE2\x82\xAC\xF0\x9F\x98\x80\"}",
	"[{\"id\":1,\"v\":\"one\"},{\"id\":2,\"v\":\"two\"},{\"id\":3,\"v\":[true,false,null]}]",
};

/* Bytes that tend to matter to a JSON parser. */
static const char interesting[] = "{}[]\",:\\ \t\n0123456789-+.eEtrufalsn\x00\x01\x1f\x7f\x80\xbf\xc0\xc3\xe2\xed\xf0\xf4\xf5\xffu";

static size_t mutate(const char *seed, char *out, size_t cap)
{
	size_t len = strlen(seed);
	memcpy(out, seed, len);
	int rounds = 1 + (int)(rng_next() % 3);

	for (int r = 0; r < rounds && len > 0; r++) {
		size_t at = rng_next() % len;
		char b = interesting[rng_next() % (sizeof(interesting) - 1)];
		switch (rng_next() % 5) {
		case 0:	/* replace */
			out[at] = b;
			break;
		case 1:	/* insert */
			if (len < cap) {
				memmove(out + at + 1, out + at, len - at);
				out[at] = b;
				len++;
			}
			break;
		case 2:	/* delete */
			memmove(out + at, out + at + 1, len - at - 1);
			len--;
			break;
		case 3:	/* truncate */
			len = at;
			break;
		default:	/* random byte */
			out[at] = (char)(rng_next() & 0xFF);
			break;
		}
	}
	return len;
}

/*
 * Where jansson and jsonv may rightly disagree.  jansson converts numbers
 * as it parses and refuses those it cannot hold ("too big integer", "real
 * number overflow"); RFC 8259 section 6 lets a parser limit the range, but
 * the store keeps the text, so jsonv accepts them.  \u0000 is valid JSON
 * that jansson refuses unless JSON_ALLOW_NUL, which is passed here.
 */
static int jansson_range_limit(const json_error_t *e)
{
	return strstr(e->text, "too big") != NULL || strstr(e->text, "overflow") != NULL;
}

static void check_against_jansson(void)
{
	char buf[512];
	int agree = 0, both_valid = 0, known = 0, unexplained = 0;
	const size_t nseeds = sizeof(seeds) / sizeof(seeds[0]);

	for (size_t i = 0; i < nseeds; i++) {
		json_error_t e;
		json_t *j = json_loadb(seeds[i], strlen(seeds[i]), JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
		size_t off;
		const char *why;
		ok(j != NULL && jsonv_validate(seeds[i], strlen(seeds[i]), &off, &why) == 0,
		    "seed %zu valid for both jansson and jsonv", i);
		json_decref(j);
	}

	for (int n = 0; n < 5000; n++) {
		size_t len = mutate(seeds[rng_next() % nseeds], buf, sizeof(buf));
		json_error_t e;
		json_t *j = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
		size_t off = 0;
		const char *why = NULL;
		int ours = jsonv_validate(buf, len, &off, &why) == 0;
		int theirs = j != NULL;
		json_decref(j);

		if (!ours && off > len)
			unexplained++;
		if (ours == theirs) {
			agree++;
			both_valid += ours;
			continue;
		}
		if (ours && !theirs && jansson_range_limit(&e)) {
			known++;
			continue;
		}
		unexplained++;
		if (unexplained <= 10) {
			char shown[2048];
			size_t p = 0;
			for (size_t k = 0; k < len && p + 5 < sizeof(shown); k++) {
				unsigned char c = (unsigned char)buf[k];
				if (c >= 0x20 && c < 0x7f && c != '\\')
					shown[p++] = (char)c;
				else
					p += (size_t)snprintf(shown + p, sizeof(shown) - p, "\\x%02x", c);
			}
			shown[p] = '\0';
			tap_diag("disagreement: jsonv %s (%s at %zu), jansson %s (%s): %s",
			    ours ? "accepts" : "refuses", why ? why : "-", off,
			    theirs ? "accepts" : "refuses", theirs ? "-" : e.text, shown);
		}
	}
	tap_diag("jansson cross-check: %d agree (%d of them valid), %d known range differences",
	    agree, both_valid, known);
	is_int(unexplained, 0, "jsonv and jansson agree on 5000 mutated documents (but for number range)");
}

static void check_prefixes(void)
{
	/* Every prefix and every one-byte corruption of the seeds: no crash,
	 * and the error offset always within the input. */
	int bad = 0;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		size_t len = strlen(seeds[i]);
		char *copy = malloc(len);
		for (size_t k = 0; k <= len; k++) {
			size_t off = 0;
			const char *why = NULL;
			memcpy(copy, seeds[i], k);
			if (jsonv_validate(copy, k, &off, &why) != 0 && (off > k || why == NULL))
				bad++;
		}
		free(copy);
	}
	is_int(bad, 0, "every prefix of every seed: error offsets within the input");
}

/*
 * Strings and keys are checked eight bytes at a time: one byte of every
 * value 0..255 at every offset of a long plain run (so in every lane of a
 * word, and in the tail the word loop leaves) must be judged exactly as
 * byte by byte, with the same error offset.
 */
static void check_every_byte_in_every_lane(void)
{
	enum { RUN = 40 };
	char text[RUN + 2];
	int wrong_string = 0, wrong_utf8 = 0;

	for (int pos = 0; pos < RUN; pos++) {
		for (int b = 0; b < 256; b++) {
			size_t off = (size_t)-1, want_off;
			const char *why = NULL;
			int want_valid = b >= 0x20 && b <= 0x7F && b != '"' && b != '\\';
			int rc;

			memset(text, 'a', sizeof(text));
			text[0] = '"';
			text[1 + pos] = (char)b;
			text[RUN + 1] = '"';
			/* A quote ends the string early: the run after it is a
			 * second value.  A backslash before the closing quote
			 * leaves the string unterminated. */
			want_off = b == '"' ? (size_t)pos + 2 : (size_t)pos + 1;
			if (b == '\\' && pos == RUN - 1)
				want_off = sizeof(text);
			rc = jsonv_validate(text, sizeof(text), &off, &why);
			if (want_valid ? rc != 0 : rc == 0 || off != want_off) {
				if (wrong_string++ == 0)
					tap_diag("byte 0x%02x at %d: rc %d offset %zu (%s)",
					    b, pos, rc, off, why ? why : "-");
			}
			off = (size_t)-1;
			rc = jsonv_utf8(text + 1, RUN, &off);
			if (b < 0x80 ? rc != 0 : rc == 0 || off != (size_t)pos) {
				if (wrong_utf8++ == 0)
					tap_diag("utf8: byte 0x%02x at %d: rc %d offset %zu", b, pos, rc, off);
			}
		}
	}
	is_int(wrong_string, 0, "every byte at every offset of a 40-byte string: judged as byte by byte");
	is_int(wrong_utf8, 0, "every byte at every offset of a 40-byte key: judged as byte by byte");
}

int main(void)
{
	check_table();
	check_every_byte_in_every_lane();
	check_utf8();
	check_depth();
	check_prefixes();
	check_against_jansson();
	check_huge();
	return tap_done();
}
