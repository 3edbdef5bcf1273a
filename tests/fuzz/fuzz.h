/*
 * fuzz.h: the fuzzing harnesses (one file each, fuzz_NAME.c).
 *
 * A harness takes any bytes and feeds them to one parser the way the
 * program does, then checks what the parser promises (a round trip, or the
 * agreement of two parsers).  A broken promise is a crash (fuzz_require),
 * which libFuzzer reports with the input that caused it.  A harness
 * returns 1 when the parser accepted the input as given, else 0 (the
 * replay checks that seeds named "bad-*" are refused and that some seeds
 * are accepted, so that the promises behind acceptance are exercised).
 *
 * Two builds use the same harness functions:
 *   - libFuzzer (tests/fuzz/fuzz.mk, clang, FUZZ_LIBFUZZER defined): each
 *     harness file becomes one fuzzer through FUZZ_ENTRY;
 *   - t_fuzz_corpus (make check, gcc): replays every file of the seed
 *     corpus tests/fuzz/corpus/NAME/ through every harness.
 */
#ifndef SSFM_FUZZ_H
#define SSFM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int fuzz_proto(const uint8_t *data, size_t size);
int fuzz_conf(const uint8_t *data, size_t size);
int fuzz_jsonv(const uint8_t *data, size_t size);
int fuzz_batch(const uint8_t *data, size_t size);
int fuzz_seal(const uint8_t *data, size_t size);
int fuzz_snapshot(const uint8_t *data, size_t size);
int fuzz_identity(const uint8_t *data, size_t size);

/* Set by the replay driver: the file being replayed, named on a failure. */
extern const char *fuzz_input_name;

/* Ends the process with the broken promise on stderr: a finding. */
_Noreturn void fuzz_fail(const char *file, int line, const char *what);
#define fuzz_require(cond) \
	((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))

/*
 * Stored files end with a CRC-32C of the bytes before it (format.h), which
 * random mutations almost never keep right: a harness retries an input that
 * failed only its checksum with the trailer recomputed, so that the
 * fuzzer reaches the structure behind the check.  Returns a malloc'd copy
 * (NULL when size < 4 or out of memory).
 */
uint8_t *fuzz_fix_crc(const uint8_t *data, size_t size);

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#define FUZZ_ENTRY(fn) \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) \
	{ \
		(void)fn(data, size); \
		return 0; \
	}
#else
#define FUZZ_ENTRY(fn)
#endif

#endif
