/*
 * The rate-limit plugin: token buckets on client events, per socket, per user id and per peer
 * address, counting messages and (approximately) their bytes, plus a bucket of connection
 * attempts per address. An event over any limit is rejected with the ack answer
 * [{"ok":false,"error":"rate limited: slow down"}]; a socket rejected disconnect_after times
 * within window seconds is disconnected. A refused connect gets CONNECT_ERROR
 * {"message":"rate limited"}.
 *
 * Each socket keeps its own buckets (socket data) and points at its address's and user's
 * entries in a table of this file (chained, keyed with the host's api->hash, whose random key
 * the clients cannot guess). An entry lives while a socket points at it or its buckets are not
 * full again; the tick drops the rest. The common path reads the monotonic clock once and
 * allocates nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parley/plugin.h"

/* A token bucket: tokens refill at rate per second up to burst. rate 0 means unlimited. */
struct bucket {
	double tokens; /* tokens available */
	uint64_t last; /* when tokens was last brought up to date, ns */
};

/* One limit's settings. */
struct limit {
	double rate;  /* tokens per second; 0: no limit */
	double burst; /* bucket size */
};

/* The limits of one level (socket, user, address): messages and bytes. */
struct level {
	struct limit msgs;  /* messages */
	struct limit bytes; /* bytes of the arguments' JSON, estimated */
};

/* An address's or a user's shared state. */
struct entry {
	struct entry *next;  /* the chain of its table slot */
	uint64_t hash;	     /* the key's hash */
	unsigned refs;	     /* sockets pointing here */
	struct bucket msgs;  /* shared message bucket */
	struct bucket bytes; /* shared byte bucket */
	struct bucket conns; /* connection attempts (address entries) */
	char key[];	     /* "a" + address text, or "u" + the userid's JSON text */
};

/* One socket's state (its socket data). */
struct sockstate {
	struct bucket msgs;	  /* the socket's message bucket */
	struct bucket bytes;	  /* the socket's byte bucket */
	struct entry *addr;	  /* its address's entry, or NULL */
	struct entry *user;	  /* its user's entry, or NULL without identity */
	json_t *uid;		  /* the userid user was looked up for (a reference), or NULL */
	uint64_t window_start;	  /* when the current rejection window opened, ns */
	unsigned rejects;	  /* rejections in that window */
	struct sockstate *next;	  /* all live states, so cleanup can detach them */
	struct sockstate **pprev; /* the link that points here */
};

static const struct parley_api *api;
static parley_owner *owner;

static struct level lv_socket = {{5, 10}, {65536, 262144}};
static struct level lv_user = {{10, 20}, {131072, 524288}};
static struct level lv_addr = {{20, 40}, {262144, 1048576}};
static struct limit lim_conn = {60.0 / 60.0, 20}; /* connect_per_minute 60, connect_burst 20 */
static unsigned disconnect_after = 20;
static double window_s = 10;
static bool count_bytes; /* any byte limit set: estimate sizes */
static char exempt[512]; /* address_exempt: ",addr,addr," (addresses without address limits) */

static json_t *reject_answer;	  /* the shared ack answer of a rejection */
static struct sockstate *states;  /* live socket states */
static struct entry **table;	  /* chained hash table of entries */
static size_t table_cap, table_n; /* slots (a power of two) and entries */

/* ---- time, buckets ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void bucket_init(struct bucket *b, const struct limit *l, uint64_t now)
{
	b->tokens = l->burst;
	b->last = now;
}

static void refill(struct bucket *b, const struct limit *l, uint64_t now)
{
	if (now > b->last) {
		b->tokens += (double)(now - b->last) * 1e-9 * l->rate;
		if (b->tokens > l->burst)
			b->tokens = l->burst;
	}
	b->last = now;
}

/* True if cost tokens are available (after refilling); does not take them. */
static bool bucket_has(struct bucket *b, const struct limit *l, uint64_t now, double cost)
{
	if (l->rate <= 0)
		return true;
	refill(b, l, now);
	/* a message larger than the burst passes a full bucket, leaving it in debt */
	return b->tokens >= cost || b->tokens >= l->burst;
}

static void bucket_take(struct bucket *b, const struct limit *l, double cost)
{
	if (l->rate > 0)
		b->tokens -= cost;
}

/* True if the bucket is full again at now: it holds nothing worth keeping. */
static bool bucket_full(struct bucket *b, const struct limit *l, uint64_t now)
{
	if (l->rate <= 0)
		return true;
	refill(b, l, now);
	return b->tokens >= l->burst;
}

/* ---- the entry table ---- */

static int table_grow(void)
{
	size_t cap = table_cap ? table_cap * 2 : 64;
	struct entry **t = calloc(cap, sizeof *t);
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < table_cap; i++)
		for (struct entry *e = table[i], *next; e; e = next) {
			next = e->next;
			e->next = t[e->hash & (cap - 1)];
			t[e->hash & (cap - 1)] = e;
		}
	free(table);
	table = t;
	table_cap = cap;
	return 0;
}

/*
 * The entry of key, created with full buckets when absent; it gains a reference when ref is
 * set. NULL without memory.
 */
static struct entry *entry_get(const char *key, uint64_t now, bool ref)
{
	size_t n = strlen(key);
	uint64_t h = api->hash(key, n);
	if (table_cap) {
		for (struct entry *e = table[h & (table_cap - 1)]; e; e = e->next)
			if (e->hash == h && strcmp(e->key, key) == 0) {
				e->refs += ref;
				return e;
			}
	}
	if (table_n >= table_cap && table_grow())
		return NULL;
	struct entry *e = malloc(sizeof *e + n + 1);
	if (!e)
		return NULL;
	memcpy(e->key, key, n + 1);
	e->hash = h;
	e->refs = ref;
	bool is_addr = key[0] == 'a';
	bucket_init(&e->msgs, is_addr ? &lv_addr.msgs : &lv_user.msgs, now);
	bucket_init(&e->bytes, is_addr ? &lv_addr.bytes : &lv_user.bytes, now);
	bucket_init(&e->conns, &lim_conn, now);
	e->next = table[h & (table_cap - 1)];
	table[h & (table_cap - 1)] = e;
	table_n++;
	return e;
}

static void entry_unref(struct entry *e)
{
	if (e && e->refs)
		e->refs--;
}

/* True if e holds no socket and its buckets are full: it can go. */
static bool entry_idle(struct entry *e, uint64_t now)
{
	const struct level *l = e->key[0] == 'a' ? &lv_addr : &lv_user;
	return e->refs == 0 && bucket_full(&e->msgs, &l->msgs, now) &&
	       bucket_full(&e->bytes, &l->bytes, now) &&
	       (e->key[0] != 'a' || bucket_full(&e->conns, &lim_conn, now));
}

static void table_free(void)
{
	for (size_t i = 0; i < table_cap; i++)
		for (struct entry *e = table[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(table);
	table = NULL;
	table_cap = table_n = 0;
}

/* The address entry of s with a reference (ref) or without, or NULL (a bot, no memory). */
static struct entry *address_entry(parley_socket *s, uint64_t now, bool ref)
{
	const char *a = api->socket_address(s);
	if (!a || !a[0])
		return NULL;
	char key[64];
	if (exempt[0]) {
		snprintf(key, sizeof key, ",%s,", a);
		if (strstr(exempt, key))
			return NULL;
	}
	snprintf(key, sizeof key, "a%s", a);
	return entry_get(key, now, ref);
}

/* ---- socket state ---- */

static void state_free(void *p)
{
	struct sockstate *st = p;
	if (st->pprev) {
		*st->pprev = st->next;
		if (st->next)
			st->next->pprev = st->pprev;
		entry_unref(st->addr);
		entry_unref(st->user);
	}
	json_decref(st->uid);
	free(st);
}

static struct sockstate *state_new(parley_socket *s, uint64_t now)
{
	struct sockstate *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	bucket_init(&st->msgs, &lv_socket.msgs, now);
	bucket_init(&st->bytes, &lv_socket.bytes, now);
	st->addr = address_entry(s, now, true);
	st->next = states;
	if (states)
		states->pprev = &st->next;
	st->pprev = &states;
	states = st;
	if (api->socket_set_data(s, owner, st, state_free)) {
		state_free(st); /* not adopted: still ours */
		return NULL;
	}
	return st;
}

/* Brings st->user up to date with the socket's identity (a new lookup only when it changed). */
static void follow_identity(struct sockstate *st, parley_socket *s, uint64_t now)
{
	json_t *uid = api->socket_userid(s);
	if (uid == st->uid)
		return;
	entry_unref(st->user);
	st->user = NULL;
	json_decref(st->uid);
	st->uid = json_incref(uid); /* held, so the pointer cannot be reused while we compare */
	if (!uid)
		return;
	char *text = json_dumps(uid, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!text)
		return;
	size_t n = strlen(text);
	char small[128], *key = n + 2 <= sizeof small ? small : malloc(n + 2);
	if (key) {
		key[0] = 'u';
		memcpy(key + 1, text, n + 1);
		st->user = entry_get(key, now, true);
		if (key != small)
			free(key);
	}
	free(text);
}

/* ---- size estimate ---- */

/*
 * Roughly the length of v's compact JSON text: exact for plain strings, keys and structure,
 * a fixed guess for numbers. Walks the value; allocates nothing.
 */
static size_t json_size(const json_t *v, int depth)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return json_string_length(v) + 2;
	case JSON_INTEGER:
	case JSON_REAL: return 8;
	case JSON_TRUE:
	case JSON_NULL: return 4;
	case JSON_FALSE: return 5;
	case JSON_ARRAY: {
		size_t n = json_array_size(v), sum = 2 + n;
		if (depth > 64)
			return sum;
		for (size_t i = 0; i < n; i++)
			sum += json_size(json_array_get(v, i), depth + 1);
		return sum;
	}
	case JSON_OBJECT: {
		size_t sum = 2;
		if (depth > 64)
			return sum + 4 * json_object_size(v);
		for (void *it = json_object_iter((json_t *)v); it;
		     it = json_object_iter_next((json_t *)v, it))
			sum += strlen(json_object_iter_key(it)) + 4 +
			       json_size(json_object_iter_value(it), depth + 1);
		return sum;
	}
	}
	return 0;
}

/* ---- hooks ---- */

static enum parley_verdict on_event(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *m = evt;
	parley_socket *s = m->socket;
	if (api->socket_is_bot && api->socket_is_bot(s))
		return PARLEY_PASS;
	uint64_t now = now_ns();
	struct sockstate *st = api->socket_get_data(s, owner);
	if (!st && !(st = state_new(s, now)))
		return PARLEY_PASS; /* out of memory: do not punish the client for it */
	follow_identity(st, s, now);
	double size = count_bytes ? (double)json_size(m->args, 0) : 0;
	bool ok = bucket_has(&st->msgs, &lv_socket.msgs, now, 1) &&
		  bucket_has(&st->bytes, &lv_socket.bytes, now, size);
	if (ok && st->user)
		ok = bucket_has(&st->user->msgs, &lv_user.msgs, now, 1) &&
		     bucket_has(&st->user->bytes, &lv_user.bytes, now, size);
	if (ok && st->addr)
		ok = bucket_has(&st->addr->msgs, &lv_addr.msgs, now, 1) &&
		     bucket_has(&st->addr->bytes, &lv_addr.bytes, now, size);
	if (ok) {
		bucket_take(&st->msgs, &lv_socket.msgs, 1);
		bucket_take(&st->bytes, &lv_socket.bytes, size);
		if (st->user) {
			bucket_take(&st->user->msgs, &lv_user.msgs, 1);
			bucket_take(&st->user->bytes, &lv_user.bytes, size);
		}
		if (st->addr) {
			bucket_take(&st->addr->msgs, &lv_addr.msgs, 1);
			bucket_take(&st->addr->bytes, &lv_addr.bytes, size);
		}
		return PARLEY_PASS;
	}
	if (!st->rejects || now - st->window_start > (uint64_t)(window_s * 1e9)) {
		st->window_start = now;
		st->rejects = 0;
		api->log(owner, PARLEY_LOG_INFO, "ratelimit: socket %s (%s) is over its limit",
			 api->socket_id(s), st->addr ? st->addr->key + 1 : "-");
	}
	st->rejects++;
	m->reject = json_incref(reject_answer);
	if (disconnect_after && st->rejects >= disconnect_after) {
		api->log(owner, PARLEY_LOG_WARN,
			 "ratelimit: disconnecting socket %s (%s): %u rejections in %g s",
			 api->socket_id(s), st->addr ? st->addr->key + 1 : "-", st->rejects,
			 window_s);
		return PARLEY_DISCONNECT;
	}
	return PARLEY_REJECT;
}

static enum parley_verdict on_connect(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_connect *c = evt;
	if (lim_conn.rate <= 0)
		return PARLEY_PASS;
	uint64_t now = now_ns();
	struct entry *e = address_entry(c->socket, now, false);
	if (!e)
		return PARLEY_PASS;
	if (bucket_has(&e->conns, &lim_conn, now, 1)) {
		bucket_take(&e->conns, &lim_conn, 1);
		return PARLEY_PASS;
	}
	api->log(owner, PARLEY_LOG_INFO, "ratelimit: connect from %s refused", e->key + 1);
	c->error = json_pack("{ss}", "message", "rate limited");
	return PARLEY_REJECT;
}

static enum parley_verdict on_connected(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_socket *e = evt;
	if (!api->socket_get_data(e->socket, owner))
		state_new(e->socket, now_ns());
	return PARLEY_PASS;
}

static enum parley_verdict on_tick(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)evt;
	(void)ud;
	uint64_t now = now_ns();
	for (size_t i = 0; i < table_cap; i++)
		for (struct entry **p = &table[i], *e; (e = *p);) {
			if (entry_idle(e, now)) {
				*p = e->next;
				free(e);
				table_n--;
			} else {
				p = &e->next;
			}
		}
	return PARLEY_PASS;
}

/* ---- options ---- */

/* Parses a non-negative number into *out. Returns 0 or -EINVAL. */
static int number(const char *key, const char *value, double *out)
{
	char *end;
	double d = strtod(value, &end);
	if (end == value || *end || !(d >= 0) || d > 1e15) {
		api->log(owner, PARLEY_LOG_ERROR, "ratelimit: option %s: bad number \"%s\"", key,
			 value);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

static int set_option(const char *key, const char *value)
{
	static const struct {
		const char *name;
		double *field;
	} numbers[] = {
	    {"socket_rate", &lv_socket.msgs.rate},
	    {"socket_burst", &lv_socket.msgs.burst},
	    {"socket_bytes_rate", &lv_socket.bytes.rate},
	    {"socket_bytes_burst", &lv_socket.bytes.burst},
	    {"user_rate", &lv_user.msgs.rate},
	    {"user_burst", &lv_user.msgs.burst},
	    {"user_bytes_rate", &lv_user.bytes.rate},
	    {"user_bytes_burst", &lv_user.bytes.burst},
	    {"address_rate", &lv_addr.msgs.rate},
	    {"address_burst", &lv_addr.msgs.burst},
	    {"address_bytes_rate", &lv_addr.bytes.rate},
	    {"address_bytes_burst", &lv_addr.bytes.burst},
	    {"connect_burst", &lim_conn.burst},
	    {"window", &window_s},
	};
	for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
		if (strcmp(key, numbers[i].name) == 0)
			return number(key, value, numbers[i].field);
	double d;
	if (strcmp(key, "connect_per_minute") == 0) {
		int rc = number(key, value, &d);
		lim_conn.rate = d / 60;
		return rc;
	}
	if (strcmp(key, "disconnect_after") == 0) {
		int rc = number(key, value, &d);
		disconnect_after = d > 1e9 ? 1000000000u : (unsigned)d;
		return rc;
	}
	if (strcmp(key, "events") == 0)
		return 0; /* read by register_events */
	if (strcmp(key, "address_exempt") == 0) {
		/* kept as ",a,b," with the spaces gone, so one strstr finds ",addr," */
		size_t n = 0;
		exempt[n++] = ',';
		for (const char *p = value; *p && n + 2 < sizeof exempt; p++)
			if (*p != ' ')
				exempt[n++] = *p;
		exempt[n++] = ',';
		exempt[n] = '\0';
		if (strlen(value) + 3 <= sizeof exempt)
			return 0;
		api->log(owner, PARLEY_LOG_ERROR, "ratelimit: address_exempt is too long");
		return -EINVAL;
	}
	api->log(owner, PARLEY_LOG_ERROR, "ratelimit: unknown option %s", key);
	return -EINVAL;
}

/* Registers the event hook for each name of a comma-separated list ("*" or "": all events). */
static int register_events(const char *list)
{
	if (!list || !*list || strcmp(list, "*") == 0)
		return api->hook_add(owner, PARLEY_HOOK_EVENT, NULL, NULL, PARLEY_PRIO_GUARD,
				     on_event, NULL);
	while (*list) {
		size_t n = strcspn(list, ",");
		char name[256];
		const char *p = list;
		while (n && *p == ' ')
			p++, n--;
		while (n && p[n - 1] == ' ')
			n--;
		if (n >= sizeof name)
			return -EINVAL;
		if (n) {
			memcpy(name, p, n);
			name[n] = '\0';
			int rc = api->hook_add(owner, PARLEY_HOOK_EVENT, NULL, name,
					       PARLEY_PRIO_GUARD, on_event, NULL);
			if (rc)
				return rc;
		}
		list += strcspn(list, ",");
		if (*list)
			list++;
	}
	return 0;
}

/* Back to the defaults, so that a plugin loaded again starts from them. */
static void reset_options(void)
{
	lv_socket = (struct level){{5, 10}, {65536, 262144}};
	lv_user = (struct level){{10, 20}, {131072, 524288}};
	lv_addr = (struct level){{20, 40}, {262144, 1048576}};
	lim_conn = (struct limit){1, 20};
	disconnect_after = 20;
	window_s = 10;
	exempt[0] = '\0';
}

/* ---- entry points ---- */

PARLEY_EXPORT int parley_plugin_version(int n_versions, const int *versions)
{
	for (int i = 0; i < n_versions; i++)
		if (versions[i] == PARLEY_API_VERSION)
			return PARLEY_API_VERSION;
	return -1;
}

PARLEY_EXPORT int parley_plugin_init(const struct parley_api *a, parley_owner *o,
				     const char *const *options)
{
	if (a->size < offsetof(struct parley_api, hash) + sizeof a->hash || !a->socket_address ||
	    !a->hash)
		return PARLEY_EVERSION;
	api = a;
	owner = o;
	reset_options();
	const char *events = NULL;
	int rc = 0;
	for (size_t i = 0; options && options[i] && options[i + 1]; i += 2) {
		if (strcmp(options[i], "events") == 0)
			events = options[i + 1];
		if ((rc = set_option(options[i], options[i + 1])))
			return rc;
	}
	count_bytes = lv_socket.bytes.rate > 0 || lv_user.bytes.rate > 0 || lv_addr.bytes.rate > 0;
	reject_answer = json_pack("[{sbss}]", "ok", 0, "error", "rate limited: slow down");
	if (!reject_answer)
		return -ENOMEM;
	if ((rc = register_events(events)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_CONNECT, NULL, NULL, PARLEY_PRIO_GUARD,
				on_connect, NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_CONNECTED, NULL, NULL, PARLEY_PRIO_GUARD,
				on_connected, NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_TICK, NULL, NULL, PARLEY_PRIO_GUARD, on_tick,
				NULL))) {
		/* the host removes the hooks that were added */
		json_decref(reject_answer);
		reject_answer = NULL;
		return rc;
	}
	api->log(owner, PARLEY_LOG_INFO,
		 "ratelimit: socket %g/s (burst %g), user %g/s (%g), address %g/s (%g), "
		 "connects %g/min (%g) per address",
		 lv_socket.msgs.rate, lv_socket.msgs.burst, lv_user.msgs.rate, lv_user.msgs.burst,
		 lv_addr.msgs.rate, lv_addr.msgs.burst, lim_conn.rate * 60, lim_conn.burst);
	return 0;
}

PARLEY_EXPORT void parley_plugin_cleanup(const struct parley_api *a, parley_owner *o)
{
	(void)a;
	(void)o;
	/* states that outlive the table (the host drops socket data later) forget their entries */
	for (struct sockstate *st = states; st; st = st->next) {
		st->addr = st->user = NULL;
		st->pprev = NULL;
	}
	states = NULL;
	table_free();
	json_decref(reject_answer);
	reject_answer = NULL;
}
