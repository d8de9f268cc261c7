/*
 * A Lua allocator that holds a state to a byte budget: an allocation that would pass it fails,
 * and Lua raises "not enough memory". Config files and scripts run on it.
 */
#ifndef PL_LUA_ALLOC_H
#define PL_LUA_ALLOC_H

#include <stddef.h>

struct pl_lua_budget {
	size_t used;  /* bytes the state holds */
	size_t limit; /* bytes it may hold */
};

/* The lua_Alloc of a state created with lua_newstate(pl_lua_alloc, budget). */
void *pl_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

#endif
