/*
 * String-keyed hash map (see map.h). Keys are hashed with SipHash-1-3 under a per-process random
 * key: the keys are client-chosen (room names), and with an unkeyed hash a client could compute
 * offline names that all land in one probe run and make every lookup walk it, as Redis notes for
 * its dict.c. SipHash is written here from the reference description (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF", 2012): 1 compression round per 8-byte word, 3 finalization
 * rounds, as Python and Rust use for their hash tables.
 */
#include "map.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char tomb_key[] = "";
#define TOMB tomb_key

static uint64_t seed_k0, seed_k1; /* the SipHash key of every map in the process */
static pthread_once_t seed_once = PTHREAD_ONCE_INIT; /* guards the random draw */

/* Reads 8 bytes as a little-endian word (compilers turn this into one load on x86 and ARM). */
static uint64_t load64(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = ROTL(v1, 13); \
		v1 ^= v0;          \
		v0 = ROTL(v0, 32); \
		v2 += v3;          \
		v3 = ROTL(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = ROTL(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = ROTL(v1, 17); \
		v1 ^= v2;          \
		v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t siphash13(const unsigned char *p, size_t len, uint64_t k0, uint64_t k1)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	const unsigned char *end = p + (len & ~(size_t)7);
	for (; p != end; p += 8) {
		uint64_t m = load64(p);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	/* the last word: the 0 to 7 remaining bytes, and the length's low byte on top */
	unsigned char tail[8] = {0};
	memcpy(tail, p, len & 7);
	uint64_t b = (uint64_t)len << 56 | load64(tail);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t pl_siphash13(const void *data, size_t len, const unsigned char key[16])
{
	return siphash13(data, len, load64(key), load64(key + 8));
}

/*
 * Draws the key from getrandom(), or /dev/urandom where that system call is missing. Should both
 * fail, the clock, the process id and the stack's address (ASLR) make a weak key rather than
 * stopping the server.
 */
static void seed_random(void)
{
	unsigned char key[16];
	ssize_t got = getrandom(key, sizeof key, 0);
	if (got != (ssize_t)sizeof key) {
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		got = fd >= 0 ? read(fd, key, sizeof key) : -1;
		if (fd >= 0)
			close(fd);
	}
	if (got != (ssize_t)sizeof key) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t a = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		uint64_t b = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)&ts;
		memcpy(key, &a, 8);
		memcpy(key + 8, &b, 8);
	}
	seed_k0 = load64(key);
	seed_k1 = load64(key + 8);
}

void pl_map_set_seed(const unsigned char key[16])
{
	pthread_once(&seed_once, seed_random); /* so that no later draw overwrites key */
	seed_k0 = load64(key);
	seed_k1 = load64(key + 8);
}

uint64_t pl_map_hash(const void *data, size_t len)
{
	pthread_once(&seed_once, seed_random);
	return siphash13(data, len, seed_k0, seed_k1);
}

static uint64_t hash(const char *s)
{
	return siphash13((const unsigned char *)s, strlen(s), seed_k0, seed_k1);
}

/* Returns key's slot, h being hash(key), or NULL. */
static struct pl_map_slot *find(const struct pl_map *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct pl_map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMB && strcmp(s->key, key) == 0)
			return s;
	}
}

void *pl_map_get(const struct pl_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	struct pl_map_slot *s = find(m, key, hash(key));
	return s ? s->value : NULL;
}

static int grow(struct pl_map *m)
{
	/* every table comes from here, so the key is drawn before any hash is taken */
	pthread_once(&seed_once, seed_random);
	size_t cap = m->cap ? m->cap : 8;
	if (m->count * 2 >= cap)
		cap *= 2;
	struct pl_map_slot *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct pl_map_slot *s = &m->slots[i];
		if (!s->key || s->key == TOMB)
			continue;
		size_t j = hash(s->key) & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->count;
	return 0;
}

int pl_map_put(struct pl_map *m, const char *key, void *value)
{
	if (!m->cap && grow(m)) /* first, so that the seed is drawn before the first hash */
		return -ENOMEM;
	uint64_t h = hash(key);
	struct pl_map_slot *s = find(m, key, h);
	if (s) {
		s->key = key;
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m))
		return -ENOMEM;
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->slots[i].key && m->slots[i].key != TOMB)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->count++;
	return 0;
}

void *pl_map_del(struct pl_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	struct pl_map_slot *s = find(m, key, hash(key));
	if (!s)
		return NULL;
	void *v = s->value;
	s->key = TOMB;
	s->value = NULL;
	m->count--;
	return v;
}

void pl_map_close(struct pl_map *m)
{
	free(m->slots);
	memset(m, 0, sizeof *m);
}

int pl_map_next(const struct pl_map *m, size_t *pos, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		struct pl_map_slot *s = &m->slots[*pos];
		if (s->key && s->key != TOMB) {
			*value = s->value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
