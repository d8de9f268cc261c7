/*
 * Tests for core/peers.c: address keys (IPv4-mapped, IPv6 by /64), the handshake bucket, the
 * sweep, address lists with CIDR ranges, and the client address behind trusted proxies.
 */
#include "peers.h"

#include <string.h>

#include "test.h"

static const char *key(const char *address)
{
	static char k[PL_PEER_KEY_MAX];
	pl_peer_key(address, k);
	return k;
}

static void test_keys(void)
{
	ASSERT_STR_EQ(key("127.0.0.1"), "127.0.0.1");
	ASSERT_STR_EQ(key("::ffff:127.0.0.1"), "127.0.0.1");
	ASSERT_STR_EQ(key("::FFFF:10.1.2.3"), "10.1.2.3");
	ASSERT_STR_EQ(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
	ASSERT_STR_EQ(key("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
	ASSERT_STR_EQ(key("::1"), "::/64");
	ASSERT_STR_EQ(key("::ffff:1:2.3.4.5"), "::/64"); /* IPv6 with a dotted tail, not mapped */
	char k[PL_PEER_KEY_MAX];
	ASSERT(!pl_peer_key("not an address", k));
	ASSERT_STR_EQ(k, "not an address");
}

static void test_bucket(void)
{
	struct pl_peers set = {.per_second = 5};
	struct pl_peer *p = pl_peer_get(&set, "10.0.0.1", 1000);
	ASSERT(p != NULL);
	ASSERT(pl_peer_get(&set, "::ffff:10.0.0.1", 1000) == p); /* one address, one entry */
	/* two seconds' worth at once, then one per 200 ms */
	for (int i = 0; i < 10; i++)
		ASSERT(pl_peer_handshake(&set, p, 1000));
	ASSERT(!pl_peer_handshake(&set, p, 1000));
	ASSERT(!pl_peer_handshake(&set, p, 1199));
	ASSERT(pl_peer_handshake(&set, p, 1200));
	ASSERT(!pl_peer_handshake(&set, p, 1200));
	/* held or refilling: kept by the sweep; idle and full: forgotten */
	p->sessions = 1;
	pl_peers_sweep(&set, 100000);
	ASSERT_EQ(set.map.count, 1u);
	p->sessions = 0;
	ASSERT(pl_peer_handshake(&set, p, 100000));
	pl_peers_sweep(&set, 100000);
	ASSERT_EQ(set.map.count, 1u);
	pl_peers_sweep(&set, 100200);
	ASSERT_EQ(set.map.count, 0u);
	/* without a rate there is no limit */
	struct pl_peers open = {.per_second = 0};
	p = pl_peer_get(&open, "10.0.0.2", 0);
	for (int i = 0; i < 1000; i++)
		ASSERT(pl_peer_handshake(&open, p, 0));
	pl_peers_close(&open);
	pl_peers_close(&set);
}

static void test_lists(void)
{
	const char *list = "10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1";
	ASSERT(pl_address_listed(list, "10.200.3.4"));
	ASSERT(pl_address_listed(list, "::ffff:10.0.0.1"));
	ASSERT(pl_address_listed(list, "192.168.1.7"));
	ASSERT(!pl_address_listed(list, "192.168.1.8"));
	ASSERT(!pl_address_listed(list, "11.0.0.1"));
	ASSERT(pl_address_listed(list, "fd12:3456::1"));
	ASSERT(!pl_address_listed(list, "fe80::1"));
	ASSERT(pl_address_listed(list, "::1"));
	ASSERT(!pl_address_listed(list, "::2"));
	ASSERT(pl_address_listed("172.16.0.0/12", "172.31.255.255"));
	ASSERT(!pl_address_listed("172.16.0.0/12", "172.32.0.0"));
	ASSERT(!pl_address_listed("10.0.0.0/x,10.0.0.0/-1,garbage", "10.0.0.1"));
	ASSERT(pl_address_listed("0.0.0.0/0", "8.8.8.8"));
	ASSERT(!pl_address_listed(NULL, "10.0.0.1"));
	ASSERT(!pl_address_listed(list, "not an address"));
	char bad[64];
	ASSERT(pl_address_list_valid(list, bad));
	ASSERT(!pl_address_list_valid("10.0.0.1, 10.0.0.0/33", bad));
	ASSERT_STR_EQ(bad, "10.0.0.0/33");
	ASSERT(!pl_address_list_valid("::1,proxy.example", bad));
	ASSERT_STR_EQ(bad, "proxy.example");
}

static const char *client(const char *xff, const char *fwd, const char *trusted)
{
	static char out[64];
	if (!pl_forwarded_client(xff, fwd, trusted, out, sizeof out))
		return "(none)";
	return out;
}

static void test_forwarded(void)
{
	const char *t = "10.0.0.0/8";
	ASSERT_STR_EQ(client("203.0.113.9", NULL, t), "203.0.113.9");
	/* the nearest untrusted hop: what a client claims farther back is not believed */
	ASSERT_STR_EQ(client("1.1.1.1, 203.0.113.9, 10.0.0.2", NULL, t), "203.0.113.9");
	ASSERT_STR_EQ(client("evil, 203.0.113.9", NULL, t), "203.0.113.9");
	ASSERT_STR_EQ(client("10.0.0.3, 10.0.0.2", NULL, t), "10.0.0.3"); /* all trusted */
	ASSERT_STR_EQ(client("203.0.113.9:4711", NULL, t), "203.0.113.9");
	ASSERT_STR_EQ(client("[2001:db8::1]:4711", NULL, t), "2001:db8::1");
	ASSERT_STR_EQ(client("2001:db8::1", NULL, t), "2001:db8::1");
	ASSERT_STR_EQ(client("garbage", NULL, t), "(none)");
	ASSERT_STR_EQ(client("", NULL, t), "(none)");
	ASSERT_STR_EQ(client(",,,", NULL, t), "(none)");
	/* Forwarded, when there is no X-Forwarded-For */
	ASSERT_STR_EQ(client(NULL, "for=192.0.2.60;proto=http;by=203.0.113.43", t), "192.0.2.60");
	ASSERT_STR_EQ(client("", "for=\"[2001:db8:cafe::17]:4711\", for=10.0.0.9", t),
		      "2001:db8:cafe::17");
	ASSERT_STR_EQ(client(NULL, "proto=https;For=198.51.100.1", t), "198.51.100.1");
	ASSERT_STR_EQ(client(NULL, "for=unknown", t), "(none)");
	ASSERT_STR_EQ(client(NULL, "by=10.0.0.1", t), "(none)");
	ASSERT_STR_EQ(client(NULL, NULL, t), "(none)");
	ASSERT_STR_EQ(client("203.0.113.9", NULL, NULL), "203.0.113.9");
}

TEST_MAIN(TEST(test_keys), TEST(test_bucket), TEST(test_lists), TEST(test_forwarded))
