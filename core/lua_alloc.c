/*
 * The budgeted Lua allocator (see lua_alloc.h).
 */
#include "lua_alloc.h"

#include <stdlib.h>

void *pl_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct pl_lua_budget *b = ud;
	if (!ptr)
		osize = 0; /* (then osize is the type of the new object) */
	if (nsize == 0) {
		free(ptr);
		b->used -= osize;
		return NULL;
	}
	if (nsize > osize && nsize - osize > b->limit - b->used)
		return NULL;
	void *p = realloc(ptr, nsize);
	if (p)
		b->used = b->used - osize + nsize;
	return p;
}
