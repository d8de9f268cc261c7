/*
 * The cluster's history: one Redis stream ("<prefix>-history") that every Parley node appends
 * its stored packets and recovery sessions to, and tails into its own SQLite store. A stream
 * entry's id "ms-seq" is the packet's id everywhere, as the integer ms * 1000 + seq (the append
 * script keeps seq below 1000), so history pages, acks and recovery offsets are the same on
 * every node, and a session written on one node can be recovered on another, after that node
 * died too. See the README's "Clustering" section for the failure cases.
 */
#ifndef PL_HISTORY_STREAM_H
#define PL_HISTORY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct pl_history;
struct pl_recovery;
struct pl_redis;
struct pl_history_stream;

/*
 * Makes h's ids come from the stream at key "<prefix>-history" on redis (a cluster link, whose
 * third connection it starts for the tail), and rec's sessions (rec may be NULL) go to it too.
 * node is this node's uid (copied): the node's own sessions are not read back. Each append
 * trims the stream to about length entries. Each time the tail starts (again), it checks that
 * the stream was not trimmed past what this node has read. Returns NULL without memory.
 */
struct pl_history_stream *pl_history_stream_new(uv_loop_t *loop, struct pl_redis *redis,
						struct pl_history *h, struct pl_recovery *rec,
						const char *prefix, const char *node,
						size_t length);

/*
 * The stream's part of /healthz (a pl_http_health_fn; s may be NULL): false while every entry
 * was read; true once entries were trimmed before this node read them (its copy lacks them
 * until it is rebuilt), with a line in buf (n bytes) naming the last gap.
 */
bool pl_history_stream_health(void *s, char *buf, size_t n);
/* A short line for the status log: where the tail is and the gaps found, in buf (n bytes). */
void pl_history_stream_status(const struct pl_history_stream *s, char *buf, size_t n);

/*
 * Stops using the stream before the link stops: appends still waiting for Redis, and those
 * made from now on, are told -ESHUTDOWN (at the history's next commit); no id is made locally.
 */
void pl_history_stream_stop(struct pl_history_stream *s);

/* Frees it, after pl_history_stream_stop, once the history and recovery are freed and the
 * link's connections are closed (their last replies come to it). NULL is a no-op. */
void pl_history_stream_free(struct pl_history_stream *s);

#endif
