/*
 * Parley's one error-code space, after libuv's: an action returns 0 or a negative code, and
 * pl_strerror() describes any code. Negative errno values (-ENOMEM, -EPIPE, ...) keep their
 * meaning; Parley's own codes lie below PL_ERROR_BASE, far from every errno value, in blocks
 * of 100 per area so that a code names its origin.
 */
#ifndef PL_ERROR_H
#define PL_ERROR_H

/* errno values are all smaller than this; -PL_ERROR_BASE and below are Parley's. */
#define PL_ERROR_BASE 1000

enum pl_error {
	/* general (-1001..-1099) */
	PL_EBADPACKET = -1001,	  /* a malformed packet */
	PL_ETOOMANYROOMS = -1002, /* the socket is in as many rooms as allowed */
	PL_EROOMNAME = -1003,	  /* a room name empty or longer than allowed */
	PL_ERESERVED = -1004,	  /* a name reserved by the protocol or the server */
	PL_EREFUSED = -1005,	  /* a hook refused the action */
	PL_EVERSION = -1006,	  /* a plugin asked for an API version the server lacks */
	PL_EIDENTITY = -1007,	  /* a userid or name larger than allowed */

	/* Socket.IO packet decoder (-1101..-1199), see sio_codec.h; keep them contiguous */
	PL_SIO_EBADTYPE = -1101,    /* unknown packet type */
	PL_SIO_EBADATTACH = -1102,  /* attachment count malformed or over the cap */
	PL_SIO_EBADNSP = -1103,	    /* namespace too long */
	PL_SIO_EBADID = -1104,	    /* ack id malformed or missing where required */
	PL_SIO_EBADJSON = -1105,    /* payload is not JSON */
	PL_SIO_EBADPAYLOAD = -1106, /* payload JSON of the wrong shape for the type */
	PL_SIO_ECOMPLEX = -1107,    /* payload nested too deep or of too many values */
	PL_SIO_EAUTHSIZE = -1108,   /* CONNECT payload (the auth) larger than allowed */

	/* signed tokens (-1201..-1299), see token.h; the texts are reasons a client may be told */
	PL_TOKEN_EMALFORMED = -1201, /* not three base64url parts of JSON, or too long */
	PL_TOKEN_EALG = -1202,	     /* a header algorithm other than HS256, or crit */
	PL_TOKEN_ESIG = -1203,	     /* the signature does not match */
	PL_TOKEN_EEXPIRED = -1204,   /* exp has passed */
	PL_TOKEN_ENOTYET = -1205,    /* iat or nbf lies in the future (beyond the skew) */
	PL_TOKEN_ECLAIMS = -1206,    /* exp missing, or a claim of the wrong type or size */
};

/*
 * Returns a short static description of err: "success" for 0, the system's meaning for a
 * negative errno value, Parley's text for its own codes, and "unknown error" for anything else
 * (including positive values). Thread-safe; the string is never freed.
 */
const char *pl_strerror(int err);

#endif
