/*
 * Signed tokens (see token.h): base64url without padding, read strictly (base64.h: one token
 * has one spelling), the header checked before anything else, the HMAC-SHA256 of "header.payload"
 * compared with CRYPTO_memcmp before the payload is parsed, then the claims' types and times.
 */
#include "token.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base64.h"
#include "error.h"

#define MAC_LEN 32 /* HMAC-SHA256 */
/* the header every Parley token carries: {"alg":"HS256","typ":"JWT"} */
#define HEADER_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

/* The HMAC-SHA256 of n bytes under key into mac. Returns false if libcrypto failed. */
static bool hmac(const void *key, size_t key_len, const char *data, size_t n,
		 unsigned char mac[MAC_LEN])
{
	unsigned int len = 0;
	if (key_len > (size_t)INT32_MAX)
		return false;
	return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, n, mac, &len) &&
	       len == MAC_LEN;
}

/* Parses a decoded part as a JSON object, duplicate keys refused. NULL otherwise. */
static json_t *parse_object(const unsigned char *text, size_t n)
{
	json_t *v = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, NULL);
	if (v && !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	return v;
}

/* True if v is a string of 1 to PL_TOKEN_MAX_FIELD bytes without NUL. */
static bool field(const json_t *v)
{
	size_t n = json_string_length(v);
	return json_is_string(v) && n > 0 && n <= PL_TOKEN_MAX_FIELD &&
	       strlen(json_string_value(v)) == n;
}

/* A time claim: absent (true, *t untouched) or a finite number (true, *t set); false else. */
static bool time_claim(const json_t *claims, const char *key, double *t, bool *present)
{
	const json_t *v = json_object_get(claims, key);
	*present = v != NULL;
	if (!v)
		return true;
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return false;
	*t = json_number_value(v);
	return true;
}

/* Checks the claims' types and times (see pl_token_verify). Returns 0 or an error. */
static int check_claims(const json_t *claims, long long now, long long skew)
{
	double exp = 0, iat = 0, nbf = 0;
	bool has_exp, has_iat, has_nbf;
	if (!time_claim(claims, "exp", &exp, &has_exp) ||
	    !time_claim(claims, "iat", &iat, &has_iat) ||
	    !time_claim(claims, "nbf", &nbf, &has_nbf) || !has_exp)
		return PL_TOKEN_ECLAIMS;
	if (!field(json_object_get(claims, "sub")))
		return PL_TOKEN_ECLAIMS;
	const json_t *name = json_object_get(claims, "name");
	if (name && !field(name))
		return PL_TOKEN_ECLAIMS;
	const json_t *rooms = json_object_get(claims, "rooms");
	if (rooms) {
		if (!json_is_array(rooms) || json_array_size(rooms) > PL_TOKEN_MAX_ROOMS)
			return PL_TOKEN_ECLAIMS;
		for (size_t i = 0; i < json_array_size(rooms); i++)
			if (!field(json_array_get(rooms, i)))
				return PL_TOKEN_ECLAIMS;
	}
	if ((double)now >= exp)
		return PL_TOKEN_EEXPIRED;
	if ((has_iat && iat > (double)(now + skew)) || (has_nbf && nbf > (double)(now + skew)))
		return PL_TOKEN_ENOTYET;
	return 0;
}

/* Checks the header: an object whose alg is HS256, whose typ (if any) is JWT, without crit. */
static int check_header(const char *b64, size_t n)
{
	unsigned char text[PL_TOKEN_MAX];
	long len = pl_base64_decode(text, b64, n, PL_BASE64URL);
	if (len < 0)
		return PL_TOKEN_EMALFORMED;
	json_t *h = parse_object(text, (size_t)len);
	if (!h)
		return PL_TOKEN_EMALFORMED;
	const char *alg = json_string_value(json_object_get(h, "alg"));
	const json_t *typ = json_object_get(h, "typ");
	int rc = 0;
	/* "none", RS256 and the rest are refused: the key is a shared secret, nothing else */
	if (!alg || strcmp(alg, "HS256") != 0 || json_object_get(h, "crit"))
		rc = PL_TOKEN_EALG;
	else if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
		rc = PL_TOKEN_EMALFORMED;
	json_decref(h);
	return rc;
}

char *pl_token_sign(const json_t *claims, const void *key, size_t key_len)
{
	if (!json_is_object(claims) || key_len < PL_TOKEN_MIN_KEY)
		return NULL;
	char *payload = json_dumps(claims, JSON_COMPACT);
	if (!payload)
		return NULL;
	size_t plen = strlen(payload), hlen = sizeof HEADER_B64 - 1;
	size_t body_b64 = pl_base64_len(plen, PL_BASE64URL),
	       mac_b64 = pl_base64_len(MAC_LEN, PL_BASE64URL);
	char *out = NULL;
	if (hlen + 1 + body_b64 + 1 + mac_b64 > PL_TOKEN_MAX)
		goto free_payload;
	out = malloc(hlen + 1 + body_b64 + 1 + mac_b64 + 1);
	if (!out)
		goto free_payload;
	memcpy(out, HEADER_B64 ".", hlen + 1);
	size_t n = hlen + 1;
	n += pl_base64_encode(out + n, (const unsigned char *)payload, plen, PL_BASE64URL);
	unsigned char mac[MAC_LEN];
	if (!hmac(key, key_len, out, n, mac)) {
		free(out);
		out = NULL;
		goto free_payload;
	}
	out[n++] = '.';
	pl_base64_encode(out + n, mac, MAC_LEN, PL_BASE64URL);
free_payload:
	free(payload);
	return out;
}

int pl_token_verify(const char *token, size_t len, const void *key, size_t key_len, long long now,
		    long long skew, json_t **claims)
{
	*claims = NULL;
	if (key_len < PL_TOKEN_MIN_KEY)
		return -EINVAL;
	if (!token || len == 0 || len > PL_TOKEN_MAX)
		return PL_TOKEN_EMALFORMED;
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return PL_TOKEN_EMALFORMED;
	size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1);
	size_t slen = len - (size_t)(dot2 + 1 - token);
	int rc = check_header(token, hlen);
	if (rc)
		return rc;
	unsigned char sig[PL_TOKEN_MAX], mac[MAC_LEN];
	if (pl_base64_decode(sig, dot2 + 1, slen, PL_BASE64URL) != MAC_LEN)
		return PL_TOKEN_ESIG;
	if (!hmac(key, key_len, token, (size_t)(dot2 - token), mac))
		return -ENOMEM;
	if (CRYPTO_memcmp(sig, mac, MAC_LEN) != 0)
		return PL_TOKEN_ESIG;
	/* from here on the bytes are the issuer's */
	unsigned char text[PL_TOKEN_MAX];
	long n = pl_base64_decode(text, dot1 + 1, plen, PL_BASE64URL);
	json_t *c = n >= 0 ? parse_object(text, (size_t)n) : NULL;
	if (!c)
		return PL_TOKEN_EMALFORMED;
	rc = check_claims(c, now, skew);
	if (rc) {
		json_decref(c);
		return rc;
	}
	*claims = c;
	return 0;
}
