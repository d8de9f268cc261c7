/*
 * Parley's signed tokens: JSON Web Tokens with HMAC-SHA256 ("HS256"), so that any JWT library
 * can mint them. A token is base64url(header) "." base64url(payload) "." base64url(signature),
 * without padding; the header is {"alg":"HS256","typ":"JWT"}, the payload an object of claims:
 * sub (the userid, a string), exp (expiry, seconds since the epoch, required), iat and nbf
 * (issued at, not before: optional), name (a display name) and rooms (private rooms the holder
 * may join), both optional. The codec is pure (bytes in, claims out, no I/O) and reads client
 * bytes, so every length is bounded and the encoding is read strictly. The HMAC and the
 * constant-time comparison are OpenSSL's libcrypto.
 */
#ifndef PL_TOKEN_H
#define PL_TOKEN_H

#include <jansson.h>
#include <stddef.h>

#define PL_TOKEN_MAX	   4096 /* longest token read, bytes */
#define PL_TOKEN_MIN_KEY   32	/* shortest HMAC key, bytes (RFC 7518: the hash's size) */
#define PL_TOKEN_MAX_FIELD 256	/* longest sub, name or room name, bytes */
#define PL_TOKEN_MAX_ROOMS 64	/* entries in rooms at most */

/*
 * Signs claims (an object, borrowed) with key (key_len bytes, at least PL_TOKEN_MIN_KEY).
 * Returns the token as a NUL-terminated string (caller frees), or NULL when the key is too
 * short, claims is not an object, the token would exceed PL_TOKEN_MAX, or memory ran out.
 * The claims are written as they are: the caller checks them (pl_token_verify reads them back).
 */
char *pl_token_sign(const json_t *claims, const void *key, size_t key_len);

/*
 * Verifies a token of len bytes with key: the header (alg HS256, no "crit"), the signature
 * (compared in constant time, before the payload is parsed), then the claims at time now
 * (seconds since the epoch): exp a number with now < exp; iat and nbf, when present, numbers
 * no later than now + skew; sub a non-empty string; name, when present, a string; rooms, when
 * present, an array of non-empty strings; all within the PL_TOKEN_ limits. Returns 0 and sets
 * *claims to the payload (a new reference), or an error (pl_strerror gives a reason fit for the
 * client): PL_TOKEN_EMALFORMED, PL_TOKEN_EALG, PL_TOKEN_ESIG, PL_TOKEN_EEXPIRED,
 * PL_TOKEN_ENOTYET, PL_TOKEN_ECLAIMS, -EINVAL for a key shorter than PL_TOKEN_MIN_KEY, -ENOMEM.
 */
int pl_token_verify(const char *token, size_t len, const void *key, size_t key_len, long long now,
		    long long skew, json_t **claims);

#endif
