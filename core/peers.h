/*
 * What each client address holds and may do: its open TCP connections, its Engine.IO
 * sessions, and a token bucket of handshakes per second. An IPv6 client is counted by its /64
 * (one host's share of addresses), an IPv4-mapped one as the IPv4 address. Also the trusted
 * proxies: behind them, the client address is read from X-Forwarded-For or Forwarded.
 * Pure of any network library.
 */
#ifndef PL_PEERS_H
#define PL_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "map.h"

#define PL_PEER_KEY_MAX 48 /* an address's key, NUL included */

struct pl_peer {
	char key[PL_PEER_KEY_MAX]; /* the address, or "a:b:c:d::/64" */
	unsigned connections;	   /* open TCP connections */
	unsigned sessions;	   /* Engine.IO sessions */
	uint64_t tokens;	   /* handshakes left, in thousandths */
	uint64_t at;		   /* loop time (ms) the tokens were counted at */
};

struct pl_peers {
	struct pl_map map;   /* key -> struct pl_peer */
	unsigned per_second; /* handshakes an address may make per second, 0 for no limit */
	uint64_t next_sweep; /* loop time of the next sweep by pl_peers_sweep_due */
};

/* Writes the key of a textual address ("::ffff:1.2.3.4" is "1.2.3.4"). Returns false for text
 * that is no address (its key is then the text, cut to fit). */
bool pl_peer_key(const char *address, char key[PL_PEER_KEY_MAX]);

/* The entry of an address, created (with a full bucket at now) when missing. NULL: no memory. */
struct pl_peer *pl_peer_get(struct pl_peers *set, const char *address, uint64_t now);
/* Takes one handshake from the address's bucket at now. False when it is empty. */
bool pl_peer_handshake(struct pl_peers *set, struct pl_peer *p, uint64_t now);
/* Forgets entries that hold nothing and whose bucket has refilled by now. */
void pl_peers_sweep(struct pl_peers *set, uint64_t now);
/* Sweeps if the last sweep was 10 s or more before now. */
void pl_peers_sweep_due(struct pl_peers *set, uint64_t now);
/* Frees every entry. */
void pl_peers_close(struct pl_peers *set);

/*
 * True if address is in list: comma-separated addresses and CIDR ranges ("10.0.0.0/8",
 * "::1", "fd00::/8"). An IPv4-mapped address matches as its IPv4 address.
 */
bool pl_address_listed(const char *list, const char *address);
/* True if every item of list is an address or range; else writes the first other one to bad. */
bool pl_address_list_valid(const char *list, char bad[64]);

/*
 * The client address of a request that came through trusted proxies: walks X-Forwarded-For
 * (xff), or else Forwarded's "for=" values, from the nearest hop back, and writes to out the
 * first address not in trusted (the farthest one when all are). Returns false, writing
 * nothing, when neither header names an address.
 */
bool pl_forwarded_client(const char *xff, const char *forwarded, const char *trusted, char *out,
			 size_t size);

#endif
