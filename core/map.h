/*
 * A string-keyed hash map (open addressing, linear probing). Keys are borrowed: each key must
 * stay valid while its entry exists, which holds when the key lives inside the value (a
 * session's id, a room's name).
 */
#ifndef PL_MAP_H
#define PL_MAP_H

#include <stddef.h>

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

/* Iteration: for (size_t i = 0; pl_map_next(m, &i, &value);) { ... } — do not modify m inside. */
int pl_map_next(const struct pl_map *m, size_t *pos, void **value);

#endif
