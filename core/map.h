/*
 * A string-keyed hash map (open addressing, linear probing). Keys are borrowed: each key must
 * stay valid while its entry exists, which holds when the key lives inside the value (a
 * session's id, a room's name). Keys may be chosen by clients: they are hashed with SipHash-1-3
 * under a random key drawn once per process, so colliding keys cannot be computed in advance.
 */
#ifndef PL_MAP_H
#define PL_MAP_H

#include <stddef.h>
#include <stdint.h>

struct pl_map_slot {
	const char *key; /* borrowed; NULL for an empty slot, pl_map_tomb for a deleted one */
	void *value;	 /* the entry */
};

struct pl_map {
	struct pl_map_slot *slots; /* cap slots, or NULL while empty */
	size_t cap;		   /* power of two */
	size_t count;		   /* live entries */
	size_t used;		   /* live plus deleted slots */
};

/* Returns the value for key, or NULL. */
void *pl_map_get(const struct pl_map *m, const char *key);
/* Inserts or replaces; returns 0 or -ENOMEM. */
int pl_map_put(struct pl_map *m, const char *key, void *value);
/* Removes key; returns the removed value or NULL. */
void *pl_map_del(struct pl_map *m, const char *key);
/* Frees the table (not the values). */
void pl_map_close(struct pl_map *m);

/*
 * Replaces the process's random hash key with key (16 bytes), for tests and benchmarks that
 * want the same table layout on every run. Call it before any map holds an entry: entries
 * placed under the old key would no longer be found.
 */
void pl_map_set_seed(const unsigned char key[16]);

/* Returns SipHash-1-3 of the len bytes at data under the 16-byte key (little-endian words). */
uint64_t pl_siphash13(const void *data, size_t len, const unsigned char key[16]);
/* SipHash-1-3 of data under the process's random key, the one every map uses. */
uint64_t pl_map_hash(const void *data, size_t len);

/* Iteration: for (size_t i = 0; pl_map_next(m, &i, &value);) { ... } — do not modify m inside. */
int pl_map_next(const struct pl_map *m, size_t *pos, void **value);

#endif
