/*
 * The cluster adapter: Parley as one node of a Socket.IO cluster on Redis pub/sub, speaking the
 * classic protocol of the Node.js @socket.io/redis-adapter (8.x) and @socket.io/redis-emitter
 * (5.x). Each namespace's adapter wraps the local one: rooms and delivery stay local, every
 * broadcast is also published once to the namespace's channel, and the other nodes' broadcasts
 * and requests (fetch sockets, remote join, leave and disconnect, server-side emits, broadcasts
 * with acks) are delivered and answered here as a Node.js node answers them. Two hiredis
 * connections on the loop (RESP2: a subscribed connection cannot publish), reconnected with
 * backoff; while Redis is away the node serves its own clients and cross-node messages are lost.
 */
#ifndef PL_REDIS_ADAPTER_H
#define PL_REDIS_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>

#include "adapter.h"

struct pl_server;
struct pl_cluster;
struct pl_redis;

/*
 * Starts the cluster link of srv to the Redis at url (a redis:// URL checked by the
 * configuration) with channel prefix prefix (both copied): connections are made on the loop,
 * and retried until they succeed. NULL without memory.
 */
struct pl_cluster *pl_cluster_new(struct pl_server *srv, const char *url, const char *prefix);
/* Closes the connections and timers (shutdown; the adapters then deliver locally only). */
void pl_cluster_stop(struct pl_cluster *c);
/* Frees the cluster, after pl_cluster_stop, once the loop has closed its handles and the
 * namespaces' adapters are gone. NULL is a no-op. */
void pl_cluster_free(struct pl_cluster *c);

/* The adapter factory for pl_sio_set_adapter (ud is the struct pl_cluster). */
struct pl_adapter *pl_cluster_adapter_new(struct pl_nsp *nsp, void *ud);

/*
 * The health of the link: false when both connections are up; true when degraded, with a
 * one-line description in buf (n bytes) such as "degraded: redis unreachable for 12 s".
 */
bool pl_cluster_degraded(void *c, char *buf, size_t n);

/* The cluster's link to Redis, for the history stream (valid until pl_cluster_free). */
struct pl_redis *pl_cluster_link(struct pl_cluster *c);

/* This node's uid on the channels (6 characters). */
const char *pl_cluster_uid(const struct pl_cluster *c);

#endif
