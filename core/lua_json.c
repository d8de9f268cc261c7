/*
 * JSON <-> Lua (see lua_json.h).
 */
#include "lua_json.h"

#include <lauxlib.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

/*
 * Objects keep their key order through Lua: a weak-keyed registry table maps each table made
 * from a JSON object to the list of its keys in order (an empty list marks an empty object, so
 * that {} does not come back as []). Keys a script adds follow the known ones.
 */
#define ORDER_KEY "parley.json.order"

/* Pushes the order table, creating it. */
static void push_order(lua_State *L)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, ORDER_KEY) == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	lua_newtable(L);
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, ORDER_KEY);
}

/* Records the list on top (popped) as the key order of the table at idx. */
static void set_order(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	push_order(L);
	lua_pushvalue(L, idx);
	lua_pushvalue(L, -3);
	lua_rawset(L, -3);
	lua_pop(L, 2);
}

static void push(lua_State *L, const json_t *v, size_t max, int depth)
{
	luaL_checkstack(L, 4, "JSON too deep");
	if (depth > PL_LUA_JSON_DEPTH) {
		lua_pushnil(L);
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v);
		lua_createtable(L, 0, (int)n);
		if (n != 1)
			lua_createtable(L, (int)n, 0); /* the key order */
		const char *k;
		json_t *e;
		lua_Integer i = 0;
		json_object_foreach((json_t *)v, k, e)
		{
			push(L, e, max, depth + 1);
			lua_setfield(L, n != 1 ? -3 : -2, k);
			if (n != 1) {
				lua_pushstring(L, k);
				lua_rawseti(L, -2, ++i);
			}
		}
		if (n != 1)
			set_order(L, -2);
		break;
	}
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		lua_createtable(L, (int)n, 0);
		for (size_t i = 0; i < n; i++) {
			push(L, json_array_get(v, i), max, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	}
	case JSON_STRING: {
		size_t len = json_string_length(v);
		lua_pushlstring(L, json_string_value(v), len < max ? len : max);
		break;
	}
	case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
	case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
	case JSON_TRUE: lua_pushboolean(L, 1); break;
	case JSON_FALSE: lua_pushboolean(L, 0); break;
	default: lua_pushnil(L); break;
	}
}

void pl_lua_push_object(lua_State *L)
{
	lua_newtable(L);
	lua_newtable(L);
	set_order(L, -2);
}

void pl_lua_push_json(lua_State *L, const json_t *v, size_t max_string)
{
	if (!v)
		lua_pushnil(L);
	else
		push(L, v, max_string, 0);
}

/* True if the table at idx has exactly the keys 1..n (n >= 0). */
static int is_sequence(lua_State *L, int idx, lua_Integer *n)
{
	lua_Integer count = 0, max = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (!lua_isinteger(L, -1)) {
			lua_pop(L, 1);
			return 0;
		}
		lua_Integer k = lua_tointeger(L, -1);
		if (k < 1) {
			lua_pop(L, 1);
			return 0;
		}
		if (k > max)
			max = k;
		count++;
	}
	*n = max;
	return count == max;
}

static json_t *to_json(lua_State *L, int idx, int depth, const char **err)
{
	if (depth > PL_LUA_JSON_DEPTH) {
		*err = "nested too deep (or a cycle)";
		return NULL;
	}
	if (!lua_checkstack(L, 4)) {
		*err = "nested too deep";
		return NULL;
	}
	idx = lua_absindex(L, idx);
	json_t *r = NULL;
	switch (lua_type(L, idx)) {
	case LUA_TNIL: return json_null();
	case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		if (!isfinite(lua_tonumber(L, idx)))
			return json_null();
		return json_real(lua_tonumber(L, idx));
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		r = json_stringn(s, len);
		if (!r)
			*err = "a string that is not UTF-8";
		return r;
	}
	case LUA_TTABLE: break;
	default: *err = "a value JSON cannot hold (function, userdata, thread)"; return NULL;
	}
	push_order(L);
	lua_pushvalue(L, idx);
	bool object = lua_rawget(L, -2) == LUA_TTABLE; /* the key order, or nil */
	lua_remove(L, -2);
	int order = lua_gettop(L);
	lua_Integer n;
	if (!object && is_sequence(L, idx, &n)) {
		lua_pop(L, 1);
		r = json_array();
		for (lua_Integer i = 1; r && i <= n; i++) {
			lua_rawgeti(L, idx, i);
			json_t *e = to_json(L, -1, depth + 1, err);
			lua_pop(L, 1);
			if (!e || json_array_append_new(r, e)) {
				json_decref(r);
				return NULL;
			}
		}
		return r;
	}
	r = json_object();
	/* the keys it came with first, in their order */
	lua_Integer nk = object ? (lua_Integer)lua_rawlen(L, order) : 0;
	for (lua_Integer i = 1; r && i <= nk; i++) {
		lua_rawgeti(L, order, i);
		const char *k = lua_tostring(L, -1);
		if (k && lua_getfield(L, idx, k) != LUA_TNIL) {
			json_t *e = to_json(L, -1, depth + 1, err);
			if (!e || json_object_set_new(r, k, e)) {
				lua_pop(L, 3);
				json_decref(r);
				if (!*err)
					*err = "out of memory";
				return NULL;
			}
		}
		lua_pop(L, 2);
	}
	lua_pop(L, 1); /* the order */
	lua_pushnil(L);
	while (r && lua_next(L, idx)) {
		char num[64];
		const char *k;
		if (lua_type(L, -2) == LUA_TSTRING) {
			k = lua_tostring(L, -2);
		} else if (lua_type(L, -2) == LUA_TNUMBER) {
			if (lua_isinteger(L, -2))
				snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, -2));
			else
				snprintf(num, sizeof num, "%.17g", lua_tonumber(L, -2));
			k = num;
		} else {
			*err = "a table key that is neither a string nor a number";
			lua_pop(L, 2);
			json_decref(r);
			return NULL;
		}
		if (nk && json_object_get(r, k)) {
			lua_pop(L, 1); /* written already, in its place */
			continue;
		}
		json_t *e = to_json(L, -1, depth + 1, err);
		lua_pop(L, 1);
		if (!e || json_object_set_new(r, k, e)) {
			if (e == NULL || !*err)
				*err = *err ? *err : "out of memory";
			lua_pop(L, 1);
			json_decref(r);
			return NULL;
		}
	}
	if (!r)
		*err = "out of memory";
	return r;
}

json_t *pl_lua_to_json(lua_State *L, int idx, const char **err)
{
	*err = NULL;
	json_t *r = to_json(L, idx, 0, err);
	if (!r && !*err)
		*err = "out of memory";
	return r;
}
