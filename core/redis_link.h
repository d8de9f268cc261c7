/*
 * A node's link to Redis for the cluster adapter: two hiredis connections on the loop, one to
 * publish and one subscribed (RESP2: a subscribed connection cannot publish), and a third for
 * blocking reads when the history stream asks for it. Each is made
 * again with backoff when it fails or is lost; the subscriber's owner is told when it is up, to
 * subscribe again. The outage is logged once, and its end once, with the messages lost
 * meanwhile (pub/sub keeps nothing for a node that is away).
 */
#ifndef PL_REDIS_LINK_H
#define PL_REDIS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct pl_redis;

/* The link's callbacks, with the ud given to pl_redis_new. */
struct pl_redis_handler {
	/* The subscriber is (again) connected: subscribe to everything. */
	void (*ready)(void *ud);
	/* A published message: pattern is the subscription's pattern for a pmessage, NULL for a
	 * message of a channel subscribed by name. Bytes are valid during the call. */
	void (*message)(void *ud, const char *pattern, const char *channel, const char *p,
			size_t n);
};

/*
 * Connects to the Redis at url (a redis:// URL, checked by the configuration) on loop, now and
 * again until it succeeds. h is copied, ud borrowed. NULL without memory or with a bad URL.
 */
struct pl_redis *pl_redis_new(uv_loop_t *loop, const char *url, const struct pl_redis_handler *h,
			      void *ud);
/* A command's reply: hiredis's redisReply, NULL when the connection was lost first (the
 * command may or may not have run). Valid during the call. */
typedef void (*pl_redis_reply_fn)(void *ud, void *reply);

/*
 * Adds a third connection, the reader, for blocking commands (XREAD BLOCK) that would hold up
 * the publisher; ready (with ud) is called each time it is (again) connected. It counts in
 * pl_redis_up and the outage from then on. Returns 0, or -EALREADY.
 */
int pl_redis_reader_start(struct pl_redis *r, void (*ready)(void *ud), void *ud);
/*
 * Drops the reader's connection (or the publisher's) and makes it again, with backoff: a
 * command not answered in time says the connection is dead, which hiredis's libuv adapter does
 * not always notice (it drops poll errors). Commands under way are told NULL.
 */
void pl_redis_reset(struct pl_redis *r, bool reader);
/*
 * Sends a command (argc arguments, bytes borrowed: hiredis copies them) on the publisher, or on
 * the reader for pl_redis_read; cb is called once with its reply. Returns 0, or -ENOTCONN while
 * that connection is down, -ENOMEM (cb is then not called).
 */
int pl_redis_command(struct pl_redis *r, pl_redis_reply_fn cb, void *ud, int argc,
		     const char **argv, const size_t *lens);
int pl_redis_read(struct pl_redis *r, pl_redis_reply_fn cb, void *ud, int argc,
		  const char **argv, const size_t *lens);

/* Closes the connections and timers; nothing is tried again. NULL is a no-op. */
void pl_redis_stop(struct pl_redis *r);
/* Frees the link, after pl_redis_stop once the loop closed its handles. NULL is a no-op. */
void pl_redis_free(struct pl_redis *r);

/* True when both connections are up. */
bool pl_redis_up(const struct pl_redis *r);
/* Publishes n bytes on channel. Returns 0, or -ENOTCONN while Redis is away (counted lost). */
int pl_redis_publish(struct pl_redis *r, const char *channel, const void *p, size_t n);
/* Counts a message that could not be published (it could not be encoded, say). */
void pl_redis_lost(struct pl_redis *r);
/* Subscribes to a pattern (PSUBSCRIBE) or a channel (SUBSCRIBE), when the subscriber is up. */
void pl_redis_subscribe(struct pl_redis *r, const char *name, bool pattern);

/*
 * The health of the link for /healthz: false when both connections are up; true when degraded,
 * with a line in buf (n bytes) such as "degraded: redis unreachable for 12 s, ...".
 */
bool pl_redis_degraded(void *r, char *buf, size_t n);

#endif
