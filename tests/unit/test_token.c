/*
 * Tests for core/token.c: a token minted elsewhere (Python's hmac and base64 modules) verifies
 * and pl_token_sign writes the same bytes; every refusal has its code: expiry, issued-at beyond
 * the skew, a wrong key or a tampered part, an algorithm other than HS256, claims of the wrong
 * type or size, and spellings that are not canonical base64url even when properly signed.
 */
#include "token.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "error.h"
#include "test.h"

#define KEY	 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" /* 32 bytes */
#define KEY_LEN	 (sizeof KEY - 1)
#define HEADER	 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define IAT	 1700000000LL
#define EXP	 1700003600LL
#define SKEW	 60
/* {"sub":"alice","name":"Alice","iat":1700000000,"exp":1700003600,"rooms":["staff"]}, signed
 * with KEY by Python's hmac.new(key, msg, hashlib.sha256) */
#define VECTOR                                                                                     \
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                    \
	"eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJy" \
	"b29tcyI6WyJzdGFmZiJdfQ."                                                                  \
	"DWOG163ucPycZPeSrhQPrbMyXXLd1pTNTp1pHLBG7UE"

/* base64url of n bytes (libcrypto's base64 with the URL alphabet, padding cut); caller frees */
static char *b64url(const void *data, size_t n)
{
	char *out = malloc(n / 3 * 4 + 8);
	int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (char *c = out; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	return out;
}

/* "h.p" given as base64url texts, signed with key; caller frees. */
static char *sign_parts(const char *h, const char *p, const char *key)
{
	size_t hn = strlen(h), pn = strlen(p);
	char *input = malloc(hn + pn + 2);
	memcpy(input, h, hn);
	input[hn] = '.';
	memcpy(input + hn + 1, p, pn + 1);
	unsigned char mac[32];
	unsigned int len = 0;
	HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)input, hn + pn + 1, mac, &len);
	char *sig = b64url(mac, len);
	char *out = malloc(hn + pn + strlen(sig) + 3);
	sprintf(out, "%s.%s", input, sig);
	free(input);
	free(sig);
	return out;
}

/* A token of header and payload (JSON texts) signed with key; caller frees. */
static char *make(const char *header, const char *payload, const char *key)
{
	char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
	char *t = sign_parts(h, p, key);
	free(h);
	free(p);
	return t;
}

/* Verifies a token at now; returns the code and drops the claims. */
static int verify_at(const char *token, long long now)
{
	json_t *claims = NULL;
	int rc = pl_token_verify(token, strlen(token), KEY, KEY_LEN, now, SKEW, &claims);
	if ((rc == 0) != (claims != NULL))
		return -12345; /* claims exactly on success */
	json_decref(claims);
	return rc;
}

/* The code for a token of that payload, properly signed with KEY, at IAT. */
static int payload_rc(const char *payload)
{
	char *t = make(HEADER, payload, KEY);
	int rc = verify_at(t, IAT);
	free(t);
	return rc;
}

static void test_vector_verifies(void)
{
	json_t *claims = NULL;
	ASSERT_EQ(pl_token_verify(VECTOR, strlen(VECTOR), KEY, KEY_LEN, IAT + 100, SKEW, &claims), 0);
	ASSERT_STR_EQ(json_string_value(json_object_get(claims, "sub")), "alice");
	ASSERT_STR_EQ(json_string_value(json_object_get(claims, "name")), "Alice");
	ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(claims, "rooms"), 0)),
		      "staff");
	json_decref(claims);
}

static void test_sign_writes_the_vector(void)
{
	json_t *claims = json_pack("{sssssIsIs[s]}", "sub", "alice", "name", "Alice", "iat",
				   (json_int_t)IAT, "exp", (json_int_t)EXP, "rooms", "staff");
	char *t = pl_token_sign(claims, KEY, KEY_LEN);
	ASSERT_STR_EQ(t, VECTOR);
	free(t);
	/* and what it signs verifies */
	json_object_set_new(claims, "name", json_string("A \"quoted\" name \xc3\xa9"));
	t = pl_token_sign(claims, KEY, KEY_LEN);
	json_t *back = NULL;
	ASSERT_EQ(pl_token_verify(t, strlen(t), KEY, KEY_LEN, IAT, SKEW, &back), 0);
	ASSERT(json_equal(back, claims));
	json_decref(back);
	free(t);
	json_decref(claims);
}

static void test_times(void)
{
	ASSERT_EQ(verify_at(VECTOR, EXP - 1), 0);
	ASSERT_EQ(verify_at(VECTOR, EXP), PL_TOKEN_EEXPIRED);
	ASSERT_EQ(verify_at(VECTOR, EXP + 100000), PL_TOKEN_EEXPIRED);
	/* issued a little in the future (the issuer's clock runs ahead): within the skew only */
	ASSERT_EQ(verify_at(VECTOR, IAT - SKEW), 0);
	ASSERT_EQ(verify_at(VECTOR, IAT - SKEW - 1), PL_TOKEN_ENOTYET);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"exp\":1700003600,\"nbf\":1700000061}"),
		  PL_TOKEN_ENOTYET);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"exp\":1700003600,\"nbf\":1700000060}"), 0);
	/* exp is required; iat is not */
	ASSERT_EQ(payload_rc("{\"sub\":\"a\"}"), PL_TOKEN_ECLAIMS);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"exp\":1700003600}"), 0);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"exp\":1700003600.5}"), 0);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"exp\":\"1700003600\"}"), PL_TOKEN_ECLAIMS);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"exp\":1700003600,\"iat\":null}"), PL_TOKEN_ECLAIMS);
}

static void test_signature(void)
{
	/* another key */
	char *t = make(HEADER, "{\"sub\":\"a\",\"exp\":1700003600}", "another key of thirty-two bytes!");
	ASSERT_EQ(verify_at(t, IAT), PL_TOKEN_ESIG);
	free(t);
	/* a payload changed after signing: mallory for alice */
	char *p = b64url("{\"sub\":\"mallory\",\"exp\":1700003600}", 34);
	char buf[512];
	const char *dot1 = strchr(VECTOR, '.'), *dot2 = strrchr(VECTOR, '.');
	snprintf(buf, sizeof buf, "%.*s.%s%s", (int)(dot1 - VECTOR), VECTOR, p, dot2);
	free(p);
	ASSERT_EQ(verify_at(buf, IAT), PL_TOKEN_ESIG);
	/* one character of the signature changed; the signature cut short; none at all */
	snprintf(buf, sizeof buf, "%s", VECTOR);
	buf[strlen(buf) - 5] ^= 1;
	ASSERT_EQ(verify_at(buf, IAT), PL_TOKEN_ESIG);
	snprintf(buf, sizeof buf, "%.*s", (int)strlen(VECTOR) - 4, VECTOR);
	ASSERT_EQ(verify_at(buf, IAT), PL_TOKEN_ESIG);
	snprintf(buf, sizeof buf, "%.*s", (int)(dot2 + 1 - VECTOR), VECTOR);
	ASSERT_EQ(verify_at(buf, IAT), PL_TOKEN_ESIG);
	/* padding is not base64url */
	snprintf(buf, sizeof buf, "%s=", VECTOR);
	ASSERT_EQ(verify_at(buf, IAT), PL_TOKEN_ESIG);
}

static void test_algorithms(void)
{
	static const char *const refused[] = {
	    "{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"HS512\"}", "{\"alg\":\"RS256\"}",
	    "{\"alg\":\"hs256\"}", "{\"typ\":\"JWT\"}", "{\"alg\":\"HS256\",\"crit\":[\"x\"]}",
	    "{\"alg\":256}"};
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		char *t = make(refused[i], "{\"sub\":\"a\",\"exp\":1700003600}", KEY);
		int rc = verify_at(t, IAT);
		free(t);
		ASSERT_EQ(rc, PL_TOKEN_EALG);
	}
	/* "none" with an empty signature, the classic forgery */
	char *h = b64url("{\"alg\":\"none\"}", 14), *p = b64url("{\"sub\":\"a\",\"exp\":1700003600}", 28);
	char buf[256];
	snprintf(buf, sizeof buf, "%s.%s.", h, p);
	free(h);
	free(p);
	ASSERT_EQ(verify_at(buf, IAT), PL_TOKEN_EALG);
	/* the header without typ is fine, another typ is not */
	char *t = make("{\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"exp\":1700003600}", KEY);
	ASSERT_EQ(verify_at(t, IAT), 0);
	free(t);
	t = make("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", "{\"sub\":\"a\",\"exp\":1700003600}", KEY);
	ASSERT_EQ(verify_at(t, IAT), PL_TOKEN_EMALFORMED);
	free(t);
}

static void test_claims(void)
{
	ASSERT_EQ(payload_rc("{\"exp\":1700003600}"), PL_TOKEN_ECLAIMS);
	ASSERT_EQ(payload_rc("{\"sub\":\"\",\"exp\":1700003600}"), PL_TOKEN_ECLAIMS);
	ASSERT_EQ(payload_rc("{\"sub\":42,\"exp\":1700003600}"), PL_TOKEN_ECLAIMS);
	/* jansson refuses \u0000 in strings, so a NUL never reaches the claims */
	ASSERT_EQ(payload_rc("{\"sub\":\"a\\u0000b\",\"exp\":1700003600}"), PL_TOKEN_EMALFORMED);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"name\":{},\"exp\":1700003600}"), PL_TOKEN_ECLAIMS);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"rooms\":\"staff\",\"exp\":1700003600}"),
		  PL_TOKEN_ECLAIMS);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"rooms\":[\"x\",1],\"exp\":1700003600}"),
		  PL_TOKEN_ECLAIMS);
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"rooms\":[],\"exp\":1700003600}"), 0);
	/* bounded: a field of PL_TOKEN_MAX_FIELD bytes, not one more; PL_TOKEN_MAX_ROOMS rooms */
	char payload[2048], field[PL_TOKEN_MAX_FIELD + 2];
	memset(field, 'x', sizeof field - 1);
	field[PL_TOKEN_MAX_FIELD] = '\0';
	snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"exp\":1700003600}", field);
	ASSERT_EQ(payload_rc(payload), 0);
	field[PL_TOKEN_MAX_FIELD] = 'x';
	field[PL_TOKEN_MAX_FIELD + 1] = '\0';
	snprintf(payload, sizeof payload, "{\"sub\":\"%s\",\"exp\":1700003600}", field);
	ASSERT_EQ(payload_rc(payload), PL_TOKEN_ECLAIMS);
	size_t n = (size_t)snprintf(payload, sizeof payload, "{\"sub\":\"a\",\"exp\":1700003600,\"rooms\":[");
	for (int i = 0; i <= PL_TOKEN_MAX_ROOMS; i++)
		n += (size_t)snprintf(payload + n, sizeof payload - n, "%s\"r%d\"", i ? "," : "", i);
	snprintf(payload + n, sizeof payload - n, "]}");
	ASSERT_EQ(payload_rc(payload), PL_TOKEN_ECLAIMS);
	/* unknown claims are the issuer's business */
	ASSERT_EQ(payload_rc("{\"sub\":\"a\",\"exp\":1700003600,\"aud\":[\"x\"],\"x\":{}}"), 0);
}

static void test_malformed(void)
{
	static const char *const bad[] = {"", ".", "..", "a.b.c", "a.b.c.d", "...",
					  "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9.e30"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ASSERT_EQ(verify_at(bad[i], IAT), PL_TOKEN_EMALFORMED);
	/* four parts, each signed alright otherwise */
	char buf[512];
	snprintf(buf, sizeof buf, "%s.x", VECTOR);
	ASSERT_EQ(verify_at(buf, IAT), PL_TOKEN_EMALFORMED);
	/* properly signed, yet not canonical base64url or not one JSON object */
	char *h = b64url(HEADER, strlen(HEADER));
	static const char *const payloads[] = {
	    "e30=",			  /* "{}" padded */
	    "e31",			  /* "{}" with unused bits set */
	    "e3+",			  /* the standard alphabet */
	    "e",			  /* one lone character */
	    "W10",			  /* [] */
	    "eyJzdWIiOiJhIiwic3ViIjoiYiIsImV4cCI6MTcwMDAwMzYwMH0", /* sub twice */
	    "",				  /* nothing */
	};
	for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
		char *t = sign_parts(h, payloads[i], KEY);
		int rc = verify_at(t, IAT);
		free(t);
		ASSERT_EQ(rc, PL_TOKEN_EMALFORMED);
	}
	free(h);
	/* too long: PL_TOKEN_MAX bytes at most, whatever they are */
	char *big = malloc(PL_TOKEN_MAX + 2);
	memset(big, 'A', PL_TOKEN_MAX + 1);
	big[PL_TOKEN_MAX + 1] = '\0';
	ASSERT_EQ(verify_at(big, IAT), PL_TOKEN_EMALFORMED);
	free(big);
	/* a NUL inside ends nothing: the length is what counts */
	json_t *claims = NULL;
	ASSERT_EQ(pl_token_verify(VECTOR, strlen(VECTOR) + 1, KEY, KEY_LEN, IAT, SKEW, &claims),
		  PL_TOKEN_ESIG);
	ASSERT_NULL(claims);
}

static void test_keys(void)
{
	json_t *claims = json_pack("{sssI}", "sub", "a", "exp", (json_int_t)EXP), *out = NULL;
	ASSERT_NULL(pl_token_sign(claims, KEY, KEY_LEN - 1));
	ASSERT_EQ(pl_token_verify(VECTOR, strlen(VECTOR), KEY, KEY_LEN - 1, IAT, SKEW, &out), -EINVAL);
	json_t *list = json_array();
	ASSERT_NULL(pl_token_sign(list, KEY, KEY_LEN));
	json_decref(list);
	/* too large to fit PL_TOKEN_MAX once encoded */
	char big[PL_TOKEN_MAX];
	memset(big, 'n', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	json_object_set_new(claims, "name", json_string(big));
	ASSERT_NULL(pl_token_sign(claims, KEY, KEY_LEN));
	json_decref(claims);
	ASSERT_STR_EQ(pl_strerror(PL_TOKEN_EEXPIRED), "token expired");
	ASSERT_STR_EQ(pl_strerror(PL_TOKEN_ESIG), "bad token signature");
}

TEST_MAIN(TEST(test_vector_verifies), TEST(test_sign_writes_the_vector), TEST(test_times),
	  TEST(test_signature), TEST(test_algorithms), TEST(test_claims), TEST(test_malformed),
	  TEST(test_keys))
