/*
 * fuzz_common.c: what the harnesses share (fuzz.h).
 */
#include "fuzz.h"
#include "checksum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fuzz_input_name;

_Noreturn void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: broken promise: %s%s%s\n", file, line, what,
	    fuzz_input_name ? ", input " : "", fuzz_input_name ? fuzz_input_name : "");
	abort();
}

uint8_t *fuzz_fix_crc(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	uint32_t crc;

	if (size < 4 || (copy = malloc(size)) == NULL)
		return NULL;
	memcpy(copy, data, size);
	crc = crc32c(0, copy, size - 4);
	for (int i = 0; i < 4; i++)
		copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	return copy;
}
