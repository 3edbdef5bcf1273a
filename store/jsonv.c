/*
 * jsonv.c: validates a JSON text (RFC 8259) and UTF-8 without building
 * anything.  Values come from clients and from files another host wrote, so
 * the validator must hold up against anything: nesting is tracked in a
 * fixed array instead of C recursion, every byte is looked at a bounded
 * number of times, and nothing is allocated.
 */
#include "jsonv.h"

#include <stdint.h>
#include <string.h>

#define JSONV_ONES 0x0101010101010101ull
#define JSONV_HIGHS 0x8080808080808080ull

/*
 * Nonzero when any of the 8 bytes in w needs a closer look inside a string:
 * a control character (< 0x20), a quote, a backslash or a non-ASCII byte.
 * Values are mostly long runs of plain ASCII; checking a word at a time
 * makes validating them several times cheaper, for the active and for
 * every standby that applies the same bytes again.
 */
static uint64_t jsonv_word_special(uint64_t w)
{
	uint64_t below_space = (w - JSONV_ONES * 0x20) & ~w;
	uint64_t quote = w ^ (JSONV_ONES * '"');
	uint64_t backslash = w ^ (JSONV_ONES * '\\');

	quote = (quote - JSONV_ONES) & ~quote;
	backslash = (backslash - JSONV_ONES) & ~backslash;
	/* The borrow tricks never miss a byte below 0x80; they may flag an
	 * innocent byte after a true one (or where w has a high bit, which
	 * is flagged anyway), and a false flag only sends the caller to its
	 * byte-at-a-time loop. */
	return (below_space | quote | backslash | w) & JSONV_HIGHS;
}

/*
 * Length of the well-formed UTF-8 sequence at p[0..len) (Unicode 15, table
 * 3-7), or 0 when it is not one: overlong forms, UTF-16 surrogates
 * (U+D800..U+DFFF) and anything above U+10FFFF are refused.
 */
static size_t jsonv_utf8_seq(const unsigned char *p, size_t len)
{
	unsigned char b = p[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (b < 0x80)
		return 1;
	if (b >= 0xC2 && b <= 0xDF)
		n = 2;
	else if (b >= 0xE0 && b <= 0xEF) {
		n = 3;
		if (b == 0xE0)
			lo = 0xA0;
		else if (b == 0xED)
			hi = 0x9F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		n = 4;
		if (b == 0xF0)
			lo = 0x90;
		else if (b == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (len < n)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

int jsonv_utf8(const char *data, size_t len, size_t *err_offset)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0;

	while (i < len) {
		if (len - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if ((w & JSONV_HIGHS) == 0) {
				i += 8;
				continue;
			}
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = jsonv_utf8_seq(p + i, len - i);
		if (n == 0) {
			if (err_offset != NULL)
				*err_offset = i;
			return -1;
		}
		i += n;
	}
	return 0;
}

static int jsonv_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int jsonv_hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

struct jsonv_state {
	const unsigned char *p;
	size_t len;
	size_t pos;
	size_t err_offset;
	const char *why;
};

static int jsonv_fail(struct jsonv_state *s, size_t at, const char *why)
{
	s->err_offset = at;
	s->why = why;
	return -1;
}

/* s->pos is at the opening quote; on success it is just past the closing one. */
static int jsonv_string(struct jsonv_state *s)
{
	const unsigned char *p = s->p;
	size_t i = s->pos + 1;

	for (;;) {
		while (s->len - i >= 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			if (jsonv_word_special(w) != 0)
				break;
			i += 8;
		}
		if (i >= s->len)
			return jsonv_fail(s, s->len, "unterminated string");
		unsigned char c = p[i];
		if (c == '"') {
			s->pos = i + 1;
			return 0;
		}
		if (c < 0x20)
			return jsonv_fail(s, i, "control character in string (must be escaped)");
		if (c >= 0x80) {
			size_t n = jsonv_utf8_seq(p + i, s->len - i);
			if (n == 0)
				return jsonv_fail(s, i, "invalid UTF-8 in string");
			i += n;
			continue;
		}
		if (c != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= s->len)
			return jsonv_fail(s, s->len, "unterminated escape");
		switch (p[i + 1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			i += 2;
			continue;
		case 'u':
			break;
		default:
			return jsonv_fail(s, i, "invalid escape");
		}
		unsigned cu;
		if (s->len - i < 6 || jsonv_hex4(p + i + 2, &cu) < 0)
			return jsonv_fail(s, i, "\\u needs four hex digits");
		if (cu >= 0xDC00 && cu <= 0xDFFF)
			return jsonv_fail(s, i, "lone low surrogate escape");
		if (cu >= 0xD800 && cu <= 0xDBFF) {
			unsigned low;
			if (s->len - i < 12 || p[i + 6] != '\\' || p[i + 7] != 'u' ||
			    jsonv_hex4(p + i + 8, &low) < 0 || low < 0xDC00 || low > 0xDFFF)
				return jsonv_fail(s, i, "high surrogate escape not followed by a low surrogate escape");
			i += 12;
			continue;
		}
		i += 6;
	}
}

static int jsonv_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ e [ + / - ] 1*DIGIT ] */
static int jsonv_number(struct jsonv_state *s)
{
	const unsigned char *p = s->p;
	size_t i = s->pos;
	size_t n = s->len;

	if (p[i] == '-')
		i++;
	if (i >= n || !jsonv_is_digit(p[i]))
		return jsonv_fail(s, i, "digit expected in number");
	if (p[i] == '0') {
		i++;
		if (i < n && jsonv_is_digit(p[i]))
			return jsonv_fail(s, i, "leading zero in number");
	} else
		while (i < n && jsonv_is_digit(p[i]))
			i++;
	if (i < n && p[i] == '.') {
		i++;
		if (i >= n || !jsonv_is_digit(p[i]))
			return jsonv_fail(s, i, "digit expected after decimal point");
		while (i < n && jsonv_is_digit(p[i]))
			i++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= n || !jsonv_is_digit(p[i]))
			return jsonv_fail(s, i, "digit expected in exponent");
		while (i < n && jsonv_is_digit(p[i]))
			i++;
	}
	s->pos = i;
	return 0;
}

static int jsonv_literal(struct jsonv_state *s, const char *word, size_t wlen)
{
	for (size_t k = 0; k < wlen; k++)
		if (s->pos + k >= s->len || s->p[s->pos + k] != (unsigned char)word[k])
			return jsonv_fail(s, s->pos + k, "invalid literal");
	s->pos += wlen;
	return 0;
}

static void jsonv_skip_ws(struct jsonv_state *s)
{
	while (s->pos < s->len && jsonv_is_ws(s->p[s->pos]))
		s->pos++;
}

/* After '{' or ',' in an object: a member name, its colon, and the
 * whitespace before the member's value. */
static int jsonv_member_name(struct jsonv_state *s)
{
	jsonv_skip_ws(s);
	if (s->pos >= s->len || s->p[s->pos] != '"')
		return jsonv_fail(s, s->pos, "member name (a string) expected");
	if (jsonv_string(s) < 0)
		return -1;
	jsonv_skip_ws(s);
	if (s->pos >= s->len || s->p[s->pos] != ':')
		return jsonv_fail(s, s->pos, "':' expected after member name");
	s->pos++;
	return 0;
}

enum { JSONV_ARRAY = 1, JSONV_OBJECT = 2 };

int jsonv_validate(const char *data, size_t len, size_t *err_offset,
    const char **why)
{
	unsigned char stack[JSONV_MAX_DEPTH];
	size_t depth = 0;
	struct jsonv_state s = { (const unsigned char *)data, len, 0, 0, NULL };

	jsonv_skip_ws(&s);
	if (s.pos >= len) {
		jsonv_fail(&s, s.pos, len == 0 ? "empty input" : "only whitespace");
		goto fail;
	}

	for (;;) {
		/* A value starts at s.pos (whitespace before it is skipped). */
		jsonv_skip_ws(&s);
		if (s.pos >= len) {
			jsonv_fail(&s, len, "value expected");
			goto fail;
		}
		unsigned char c = s.p[s.pos];
		int rc = 0;
		int opened = 0;
		switch (c) {
		case '{':
		case '[':
			if (depth == JSONV_MAX_DEPTH) {
				jsonv_fail(&s, s.pos, "nested deeper than 512");
				goto fail;
			}
			stack[depth++] = c == '{' ? JSONV_OBJECT : JSONV_ARRAY;
			s.pos++;
			jsonv_skip_ws(&s);
			if (s.pos < len && s.p[s.pos] == (c == '{' ? '}' : ']')) {
				depth--;
				s.pos++;
			} else {
				opened = 1;
				if (c == '{')
					rc = jsonv_member_name(&s);
			}
			break;
		case '"':
			rc = jsonv_string(&s);
			break;
		case 't':
			rc = jsonv_literal(&s, "true", 4);
			break;
		case 'f':
			rc = jsonv_literal(&s, "false", 5);
			break;
		case 'n':
			rc = jsonv_literal(&s, "null", 4);
			break;
		default:
			if (c == '-' || jsonv_is_digit(c))
				rc = jsonv_number(&s);
			else
				rc = jsonv_fail(&s, s.pos, c == 0 ? "NUL byte" : "value expected");
			break;
		}
		if (rc < 0)
			goto fail;
		if (opened)
			continue;

		/* A value ended: close containers until one wants another value. */
		for (;;) {
			jsonv_skip_ws(&s);
			if (depth == 0) {
				if (s.pos != len) {
					jsonv_fail(&s, s.pos, "trailing data after the JSON value");
					goto fail;
				}
				return 0;
			}
			if (s.pos >= len) {
				jsonv_fail(&s, len, stack[depth - 1] == JSONV_OBJECT ?
				    "unterminated object" : "unterminated array");
				goto fail;
			}
			c = s.p[s.pos];
			if (c == ',') {
				s.pos++;
				if (stack[depth - 1] == JSONV_OBJECT && jsonv_member_name(&s) < 0)
					goto fail;
				break;
			}
			if (c == (stack[depth - 1] == JSONV_OBJECT ? '}' : ']')) {
				depth--;
				s.pos++;
				continue;
			}
			jsonv_fail(&s, s.pos, stack[depth - 1] == JSONV_OBJECT ?
			    "',' or '}' expected" : "',' or ']' expected");
			goto fail;
		}
	}

fail:
	if (err_offset != NULL)
		*err_offset = s.err_offset;
	if (why != NULL)
		*why = s.why;
	return -1;
}
