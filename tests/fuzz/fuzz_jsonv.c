/*
 * fuzz_jsonv.c: the store's JSON validator (store/jsonv.c), which checks
 * every value written and every value read back from a file another host
 * wrote.
 *
 * Promises checked: a refusal says where and why; an accepted text is
 * UTF-8 throughout (jsonv_utf8 agrees); and the validator agrees
 * with jansson, the parser that turns stored values into replies and watch
 * events, on what is JSON.  The differences allowed are the documented
 * limits of each: jsonv refuses nesting deeper than JSONV_MAX_DEPTH;
 * jansson refuses numbers outside a 64-bit integer or a double and a
 * member name holding "\u0000", and skips a NUL byte that follows a number
 * ("[1\0]" is [1] to jansson 2.14), where jsonv refuses any NUL byte
 * outside an escape.  (Values reach the store through jansson, so no value
 * ssfm wrote is one jansson refuses; the daemon answers "internal" for a
 * stored value it cannot load.)
 */
#include "fuzz.h"
#include "jsonv.h"

#include <jansson.h>
#include <string.h>

int fuzz_jsonv(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t err_offset = (size_t)-1;
	const char *why = NULL;
	json_error_t jerr;
	json_t *j;
	int valid;

	valid = jsonv_validate(text, size, &err_offset, &why) == 0;
	if (!valid) {
		fuzz_require(why != NULL && why[0] != '\0');
		fuzz_require(err_offset <= size);
	}

	j = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (j != NULL && !valid)
		fuzz_require(strcmp(why, "nested deeper than 512") == 0 ||
		    memchr(text, '\0', size) != NULL);
	if (j == NULL && valid)
		fuzz_require(strstr(jerr.text, "too big") != NULL ||
		    strstr(jerr.text, "overflow") != NULL ||
		    strstr(jerr.text, "NUL byte in object key") != NULL);
	json_decref(j);

	/* A JSON text is UTF-8 as a whole: only strings hold non-ASCII. */
	err_offset = (size_t)-1;
	if (jsonv_utf8(text, size, &err_offset) < 0) {
		fuzz_require(err_offset < size);
		fuzz_require(!valid);
	}
	return valid;
}

FUZZ_ENTRY(fuzz_jsonv)
