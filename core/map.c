/*
 * String-keyed hash map with FNV-1a hashing (see map.h).
 */
#include "map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char tomb_key[] = "";
#define TOMB tomb_key

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct pl_map_slot *find(const struct pl_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = hash(key) & mask;; i = (i + 1) & mask) {
		struct pl_map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMB && strcmp(s->key, key) == 0)
			return s;
	}
}

void *pl_map_get(const struct pl_map *m, const char *key)
{
	struct pl_map_slot *s = find(m, key);
	return s ? s->value : NULL;
}

static int grow(struct pl_map *m)
{
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
	struct pl_map_slot *s = find(m, key);
	if (s) {
		s->key = key;
		s->value = value;
		return 0;
	}
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m))
		return -ENOMEM;
	size_t mask = m->cap - 1;
	size_t i = hash(key) & mask;
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
	struct pl_map_slot *s = find(m, key);
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
