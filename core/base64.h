/*
 * Base64 (RFC 4648) in its two spellings: the standard alphabet with padding, as Engine.IO's
 * polling carries binary, and base64url without padding, as JSON Web Tokens are written.
 */
#ifndef PL_BASE64_H
#define PL_BASE64_H

#include <stddef.h>

enum pl_base64_alphabet {
	PL_BASE64,    /* A-Z a-z 0-9 + /, padded with '=' */
	PL_BASE64URL, /* A-Z a-z 0-9 - _, unpadded */
};

/* The length of n bytes once encoded. */
size_t pl_base64_len(size_t n, enum pl_base64_alphabet a);
/* Encodes n bytes into out (pl_base64_len(n) + 1 bytes); returns the length, a NUL after it. */
size_t pl_base64_encode(char *out, const unsigned char *in, size_t n, enum pl_base64_alphabet a);
/*
 * Decodes n characters into out, which may be in itself (it never writes ahead of what it has
 * read). PL_BASE64 reads what Engine.IO clients write: either alphabet, padded or not.
 * PL_BASE64URL reads only the canonical spelling: the URL-safe alphabet, no padding, no length
 * that leaves a lone character, zero unused bits, so that one value has one spelling. Returns
 * the number of bytes, or -1.
 */
long pl_base64_decode(unsigned char *out, const char *in, size_t n, enum pl_base64_alphabet a);

#endif
