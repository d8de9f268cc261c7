/*
 * Tests for core/base64.c: the RFC 4648 vectors in both spellings, round trips of every length,
 * decoding in place, the standard spelling read leniently (either alphabet, padded or not) and
 * base64url read strictly (one spelling per value).
 */
#include "base64.h"

#include <string.h>

#include "test.h"

static void test_vectors(void)
{
	/* RFC 4648 section 10; base64url is the same here, unpadded */
	static const char *const v[][2] = {
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		const unsigned char *in = (const unsigned char *)v[i][0];
		size_t n = strlen(v[i][0]);
		char out[16];
		unsigned char back[16];
		ASSERT_EQ(pl_base64_encode(out, in, n, PL_BASE64), strlen(v[i][1]));
		ASSERT_STR_EQ(out, v[i][1]);
		ASSERT_EQ(pl_base64_len(n, PL_BASE64), strlen(v[i][1]));
		ASSERT_EQ(pl_base64_decode(back, out, strlen(out), PL_BASE64), (long)n);
		ASSERT_MEM_EQ(back, n, in, n);
		size_t unpadded = strcspn(v[i][1], "=");
		ASSERT_EQ(pl_base64_encode(out, in, n, PL_BASE64URL), unpadded);
		ASSERT_MEM_EQ(out, unpadded, v[i][1], unpadded);
		ASSERT_EQ(pl_base64_len(n, PL_BASE64URL), unpadded);
		ASSERT_EQ(pl_base64_decode(back, out, unpadded, PL_BASE64URL), (long)n);
		ASSERT_MEM_EQ(back, n, in, n);
	}
	/* the last two digits are the alphabets' difference */
	char out[8];
	ASSERT_EQ(pl_base64_encode(out, (const unsigned char *)"\xfb\xff\xbf", 3, PL_BASE64), 4);
	ASSERT_STR_EQ(out, "+/+/");
	ASSERT_EQ(pl_base64_encode(out, (const unsigned char *)"\xfb\xff\xbf", 3, PL_BASE64URL), 4);
	ASSERT_STR_EQ(out, "-_-_");
}

static void test_round_trips_in_place(void)
{
	unsigned char data[64];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 37 + 255);
	for (size_t len = 0; len <= 64; len++) {
		for (int a = PL_BASE64; a <= PL_BASE64URL; a++) {
			char s[100];
			size_t n = pl_base64_encode(s, data, len, (enum pl_base64_alphabet)a);
			ASSERT_EQ(n, pl_base64_len(len, (enum pl_base64_alphabet)a));
			ASSERT_EQ(strlen(s), n);
			ASSERT_EQ(
			    pl_base64_decode((unsigned char *)s, s, n, (enum pl_base64_alphabet)a),
			    (long)len);
			ASSERT_MEM_EQ(s, len, data, len);
		}
		/* the standard spelling without its padding */
		char s[100];
		size_t n = pl_base64_encode(s, data, len, PL_BASE64);
		while (n && s[n - 1] == '=')
			n--;
		ASSERT_EQ(pl_base64_decode((unsigned char *)s, s, n, PL_BASE64), (long)len);
		ASSERT_MEM_EQ(s, len, data, len);
		if (test_failed) {
			fprintf(stderr, "  (length %zu)\n", len);
			return;
		}
	}
}

static void test_lenient_standard(void)
{
	unsigned char out[64];
	const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	ASSERT_EQ(pl_base64_decode(out, all, 64, PL_BASE64), 48);
	/* Engine.IO clients may use the URL-safe digits */
	ASSERT_EQ(pl_base64_decode(out, "-_-_", 4, PL_BASE64), 3);
	ASSERT_MEM_LIT(out, 3, "\xfb\xff\xbf");
	ASSERT_EQ(pl_base64_decode(out, "Zh==", 4, PL_BASE64), 1); /* unused bits are ignored */
}

/* True if every text of bad is refused in alphabet a. */
static bool refuses(const char *const *bad, size_t n, enum pl_base64_alphabet a)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char out[16];
		if (pl_base64_decode(out, bad[i], strlen(bad[i]), a) != -1) {
			test_fail_head(__FILE__, __LINE__, "bad base64 accepted");
			fputs(": ", stderr);
			test_print_bytes(bad[i], strlen(bad[i]));
			fputc('\n', stderr);
			return false;
		}
	}
	return true;
}

static void test_malformed(void)
{
	static const char *const both[] = {
	    "A",    "A===",    "AAAAA", "AA=A", "A=AA", "AA*A", "AA A", "AA\nA", "\xc3\xa9\xc3\xa9",
	    "AA.A", "QQ==QQ=="};
	if (!refuses(both, sizeof both / sizeof *both, PL_BASE64) ||
	    !refuses(both, sizeof both / sizeof *both, PL_BASE64URL))
		return;
	/* base64url: one spelling per value: no padding, no standard digits, no unused bits set */
	static const char *const url[] = {"Zg==", "Zm8=", "+/+/", "AA/A", "Zh", "Zm9"};
	if (!refuses(url, sizeof url / sizeof *url, PL_BASE64URL))
		return;
	unsigned char out[4];
	ASSERT_EQ(pl_base64_decode(out, "AA\0A", 4, PL_BASE64), -1);
	ASSERT_EQ(pl_base64_decode(out, "Zg", 2, PL_BASE64URL), 1);
}

TEST_MAIN(TEST(test_vectors), TEST(test_round_trips_in_place), TEST(test_lenient_standard),
	  TEST(test_malformed))
