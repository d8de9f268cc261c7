/*
 * Namespaces as tables of connected sockets, and the identity index (see nsp.h). Sockets are
 * filed here by the socket lifecycle (socket.c) once connected; identities are filed under
 * their userid written as JSON text, so "1" and 1 stay different users, as they are for
 * json_equal.
 */
#include "nsp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "json.h"

struct pl_nsp *pl_nsp_find(struct pl_sio *sio, const char *name)
{
	return pl_map_get(&sio->nsps, name);
}

struct pl_socket *pl_nsp_socket(struct pl_nsp *nsp, const char *id)
{
	return pl_map_get(&nsp->sockets, id);
}

struct pl_socket *pl_nsp_socket_at(struct pl_nsp *nsp, size_t i)
{
	return i < nsp->n ? nsp->list[i] : NULL;
}

int pl_nsp_add(struct pl_nsp *nsp, struct pl_socket *s)
{
	if (nsp->n == nsp->cap) {
		struct pl_socket **l = pl_array_grow(nsp->list, &nsp->cap, sizeof *l, 16);
		if (!l)
			return -ENOMEM;
		nsp->list = l;
	}
	if (pl_map_put(&nsp->sockets, s->id, s))
		return -ENOMEM;
	s->nsp_index = nsp->n;
	nsp->list[nsp->n++] = s;
	return 0;
}

void pl_nsp_del(struct pl_nsp *nsp, struct pl_socket *s)
{
	if (pl_map_get(&nsp->sockets, s->id) != s)
		return;
	pl_map_del(&nsp->sockets, s->id);
	nsp->n--;
	if (s->nsp_index != nsp->n) {
		nsp->list[s->nsp_index] = nsp->list[nsp->n];
		nsp->list[s->nsp_index]->nsp_index = s->nsp_index;
	}
}

/* Takes s out of the users index (its identity stays). */
static void unindex(struct pl_socket *s)
{
	struct pl_user *u = s->user;
	if (!u)
		return;
	if (s->prev_user)
		s->prev_user->next_user = s->next_user;
	else
		u->first = s->next_user;
	if (s->next_user)
		s->next_user->prev_user = s->prev_user;
	s->next_user = s->prev_user = NULL;
	s->user = NULL;
	if (!u->first) {
		pl_map_del(&s->nsp->users, u->key);
		free(u->key);
		free(u);
	}
}

/* The users entry for key (adopted), created when missing; NULL (key freed) without memory. */
static struct pl_user *user_entry(struct pl_nsp *nsp, char *key)
{
	struct pl_user *u = pl_map_get(&nsp->users, key);
	if (u) {
		free(key);
		return u;
	}
	u = calloc(1, sizeof *u);
	if (!u || pl_map_put(&nsp->users, key, u)) {
		free(u);
		free(key);
		return NULL;
	}
	u->key = key;
	return u;
}

int pl_nsp_set_identity(struct pl_socket *s, const json_t *userid, const json_t *name)
{
	char *key = userid ? pl_json_text(userid) : NULL;
	if (userid && !key)
		return -ENOMEM;
	if ((key && strlen(key) > PL_MAX_USERID_BYTES) ||
	    (name && json_dumpb(name, NULL, 0, JSON_ENCODE_ANY) > PL_MAX_NAME_BYTES)) {
		free(key);
		return PL_EIDENTITY;
	}
	json_t *uid = userid ? json_deep_copy(userid) : NULL, *nm = name ? json_deep_copy(name) : NULL;
	if ((userid && !uid) || (name && !nm)) {
		free(key);
		goto nomem;
	}
	if (!key) {
		unindex(s);
	} else if (!s->user || strcmp(s->user->key, key) != 0) {
		/* the new entry first, so that running out of memory changes nothing */
		struct pl_user *u = user_entry(s->nsp, key);
		if (!u)
			goto nomem;
		unindex(s);
		s->user = u;
		s->next_user = u->first;
		if (u->first)
			u->first->prev_user = s;
		u->first = s;
	} else {
		free(key); /* the same user: filed already */
	}
	bool same_user = (!s->userid && !uid) || (s->userid && uid && json_equal(s->userid, uid));
	json_decref(s->userid);
	json_decref(s->name);
	s->userid = uid;
	s->name = nm;
	const struct pl_recovery_ops *rec = s->nsp->sio->recovery;
	if (rec && s->pid[0]) {
		/* private messages to a user id before it was this socket's are not its own */
		if (!same_user)
			s->identity_at = rec->offset(s->nsp->sio->recovery_ud);
		if (s->state == PL_SOCKET_CONNECTED)
			rec->save(s->nsp->sio->recovery_ud, s);
	}
	return 0;
nomem:
	json_decref(uid);
	json_decref(nm);
	return -ENOMEM;
}

void pl_nsp_user_forget(struct pl_socket *s)
{
	unindex(s);
}

struct pl_socket *pl_nsp_user_first(struct pl_nsp *nsp, const json_t *userid)
{
	if (!userid || !nsp->users.count)
		return NULL;
	char *key = pl_json_text(userid);
	struct pl_user *u = key ? pl_map_get(&nsp->users, key) : NULL;
	free(key);
	return u ? u->first : NULL;
}
