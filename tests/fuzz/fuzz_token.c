/*
 * Fuzzes pl_token_verify (core/token.c), the parser of the tokens clients send in their CONNECT
 * auth. An input whose first byte is even is a token as a client would send it; an odd first
 * byte makes the rest "header.payload", which is signed with the fuzzer's key first, so that
 * the header and claim checks behind the signature are reached too. A token that verifies must
 * carry a string sub, and its claims signed again must verify to the same claims.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"
#include "token.h"

#define KEY "fuzz-key-fuzz-key-fuzz-key-fuzz!"
#define NOW 1700000000LL

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Appends "." and the base64url HMAC of the n bytes at text, which has room for 44 more. */
static size_t append_signature(char *text, size_t n)
{
	unsigned char mac[32];
	unsigned int len = 0;
	CHECK(HMAC(EVP_sha256(), KEY, (int)strlen(KEY), (const unsigned char *)text, n, mac, &len));
	text[n++] = '.';
	unsigned long acc = 0;
	int bits = 0;
	for (unsigned i = 0; i < len; i++) {
		acc = acc << 8 | mac[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			text[n++] = alphabet[acc >> bits & 63];
		}
	}
	if (bits)
		text[n++] = alphabet[acc << (6 - bits) & 63];
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > PL_TOKEN_MAX)
		return 0;
	char *text = malloc(size + 64);
	CHECK(text);
	memcpy(text, data + 1, size - 1);
	size_t n = data[0] & 1 ? append_signature(text, size - 1) : size - 1;
	json_t *claims = NULL;
	int rc = pl_token_verify(text, n, KEY, strlen(KEY), NOW, 60, &claims);
	free(text);
	CHECK((rc == 0) == (claims != NULL));
	if (rc)
		return 0;
	CHECK(json_is_string(json_object_get(claims, "sub")));
	char *again = pl_token_sign(claims, KEY, strlen(KEY));
	if (again) {
		json_t *back = NULL;
		CHECK(pl_token_verify(again, strlen(again), KEY, strlen(KEY), NOW, 60, &back) == 0);
		CHECK(json_equal(back, claims));
		json_decref(back);
		free(again);
	}
	json_decref(claims);
	return 0;
}
