/*
 * Random identifiers (see rand.h).
 */
#include "rand.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <uv.h>

void pl_random_id(char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[PL_RANDOM_ID_LEN];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		/* getrandom on Linux only fails before the pool is seeded; fall back to time */
		uint64_t t = uv_hrtime();
		for (size_t i = 0; i < sizeof r; i++)
			r[i] = (unsigned char)(t >> (i % 8 * 8)) ^ (unsigned char)rand();
	}
	for (size_t i = 0; i < sizeof r; i++)
		out[i] = alphabet[r[i] & 63];
	out[sizeof r] = '\0';
}
