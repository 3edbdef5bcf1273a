/*
 * jsonv.h: validation of untrusted bytes without building anything: one
 * JSON text (RFC 8259) and strict UTF-8.  Used on every value written and on
 * every value read back from a file (private to store/).
 */
#ifndef SSFM_STORE_JSONV_H
#define SSFM_STORE_JSONV_H

#include <stddef.h>

#define JSONV_MAX_DEPTH 512

/*
 * 0 if data[0..len) is exactly one JSON value (any type at the top level,
 * surrounding whitespace allowed, strings strict UTF-8 with valid escapes,
 * nesting at most JSONV_MAX_DEPTH), else -1 with *err_offset set to the byte
 * where it went wrong and *why to a static description.  Never recurses on
 * the C stack; runs in O(len).  Thread-safe.
 */
int jsonv_validate(const char *data, size_t len, size_t *err_offset,
    const char **why);

/* 0 if data[0..len) is strict UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF), else -1 with *err_offset at the first bad byte. */
int jsonv_utf8(const char *data, size_t len, size_t *err_offset);

#endif
