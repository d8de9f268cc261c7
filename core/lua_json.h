/*
 * JSON (jansson) to Lua and back, for the script host. Objects become tables with string keys,
 * arrays sequences from 1, null nil; strings longer than max_string are cut. Back to JSON, a
 * table whose keys are exactly 1..n (or an empty table) is an array, any other an object
 * (number keys written as text); functions, userdata and cycles (past the depth limit) fail.
 * A table made from an object remembers its key order (in a weak registry table), so that it
 * goes back with the same order, and an empty object goes back as {}.
 */
#ifndef PL_LUA_JSON_H
#define PL_LUA_JSON_H

#include <jansson.h>
#include <lua.h>
#include <stddef.h>

/* Nesting depth followed either way. */
#define PL_LUA_JSON_DEPTH 32

/* Pushes v (NULL pushes nil). Raises a Lua error when the stack cannot grow. */
void pl_lua_push_json(lua_State *L, const json_t *v, size_t max_string);
/* Pushes an empty table that goes back to JSON as {} (an object, not an array). */
void pl_lua_push_object(lua_State *L);
/*
 * The value at idx as a new JSON reference, or NULL with *err set to a static reason (a value
 * JSON cannot hold, nesting too deep, invalid UTF-8, out of memory). Never raises.
 */
json_t *pl_lua_to_json(lua_State *L, int idx, const char **err);

#endif
