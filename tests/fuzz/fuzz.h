/*
 * Shared by the libFuzzer targets: the entry point's prototype, a check that aborts (so
 * libFuzzer saves the input) with the failed condition and its line, and copies of the input
 * sized exactly, so that reading one byte past it is caught.
 */
#ifndef PL_FUZZ_H
#define PL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			dprintf(2, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);        \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A heap copy of the size bytes at data (caller frees). */
static inline char *fuzz_copy(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	CHECK(copy);
	if (size)
		memcpy(copy, data, size);
	return copy;
}

/*
 * Splits the size bytes at data at each sep into at most n fields, each a heap string of
 * exactly its length plus the NUL (so that reading past it is caught); the last field keeps
 * the rest, separators included, and missing fields are "". Returns how many fields the input
 * had. The caller frees them with fuzz_fields_free.
 */
static inline size_t fuzz_fields(const uint8_t *data, size_t size, char sep, char **field,
				 size_t n)
{
	const uint8_t *p = data, *end = data + size;
	size_t found = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *start = p, *next = NULL;
		size_t len = 0;
		if (p) {
			next = i + 1 < n ? memchr(p, sep, (size_t)(end - p)) : NULL;
			len = (size_t)((next ? next : end) - p);
			found++;
		}
		field[i] = malloc(len + 1);
		CHECK(field[i]);
		if (len)
			memcpy(field[i], start, len);
		field[i][len] = '\0';
		p = next ? next + 1 : NULL;
	}
	return found;
}

static inline void fuzz_fields_free(char **field, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(field[i]);
}

#endif
