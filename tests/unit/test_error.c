/*
 * Tests for core/error.c: pl_strerror() over the whole code space, and the codecs' codes living in
 * Parley's range, apart from every errno value.
 */
#include "error.h"

#include <errno.h>
#include <limits.h>

#include "eio_codec.h"
#include "sio_codec.h"
#include "test.h"

/* Every Parley code, in enum order. */
static const int codes[] = {
    PL_EBADPACKET,	 PL_ETOOMANYROOMS,    PL_EROOMNAME,	 PL_ERESERVED,
    PL_EREFUSED,	 PL_EVERSION,	      PL_EIDENTITY,	 PL_SIO_EBADTYPE,
    PL_SIO_EBADATTACH,	 PL_SIO_EBADNSP,      PL_SIO_EBADID,	 PL_SIO_EBADJSON,
    PL_SIO_EBADPAYLOAD,	 PL_SIO_ECOMPLEX,     PL_SIO_EAUTHSIZE,	 PL_TOKEN_EMALFORMED,
    PL_TOKEN_EALG,	 PL_TOKEN_ESIG,	      PL_TOKEN_EEXPIRED, PL_TOKEN_ENOTYET,
    PL_TOKEN_ECLAIMS,
};
#define NCODES (sizeof codes / sizeof *codes)

static void test_errno_values(void)
{
	ASSERT_STR_EQ(pl_strerror(0), "success");
	ASSERT_STR_EQ(pl_strerror(-ENOMEM), "out of memory");
	ASSERT_STR_EQ(pl_strerror(-EPIPE), "broken pipe");
	ASSERT_STR_EQ(pl_strerror(-EINVAL), "invalid argument");
	ASSERT_STR_EQ(pl_strerror(-EAGAIN), "resource temporarily unavailable");
	ASSERT_STR_EQ(pl_strerror(-EADDRINUSE), "address already in use");
	ASSERT_STR_EQ(pl_strerror(-ECANCELED), "operation canceled");
	/* an errno value without a text, and the gap between errno and Parley's codes */
	ASSERT_STR_EQ(pl_strerror(-(PL_ERROR_BASE - 1)), "unknown system error");
	ASSERT_STR_EQ(pl_strerror(-PL_ERROR_BASE), "unknown error");
	/* errors are never positive */
	ASSERT_STR_EQ(pl_strerror(ENOMEM), "unknown error");
	ASSERT_STR_EQ(pl_strerror(1), "unknown error");
	ASSERT_STR_EQ(pl_strerror(INT_MAX), "unknown error");
	ASSERT_STR_EQ(pl_strerror(INT_MIN), "unknown error");
	/* static strings: the same pointer every time */
	ASSERT(pl_strerror(-ENOMEM) == pl_strerror(-ENOMEM));
	/* every errno value from 1 to 200 has some text */
	for (int e = 1; e <= 200; e++)
		ASSERT_NOT_NULL(pl_strerror(-e));
}

static void test_parley_codes(void)
{
	ASSERT_STR_EQ(pl_strerror(PL_ETOOMANYROOMS), "too many rooms");
	ASSERT_STR_EQ(pl_strerror(PL_EROOMNAME), "invalid room name");
	ASSERT_STR_EQ(pl_strerror(PL_ERESERVED), "that name is reserved");
	ASSERT_STR_EQ(pl_strerror(PL_EREFUSED), "refused by a hook");
	ASSERT_STR_EQ(pl_strerror(PL_EVERSION), "unsupported API version");
	ASSERT_STR_EQ(pl_strerror(PL_EBADPACKET), "malformed packet");
	ASSERT_STR_EQ(pl_strerror(PL_EIDENTITY - 1), "unknown error");
	for (size_t i = 0; i < NCODES; i++) {
		/* below every errno value, each with its own text */
		ASSERT(codes[i] < -PL_ERROR_BASE);
		ASSERT(strcmp(pl_strerror(codes[i]), "unknown error") != 0);
		ASSERT(strcmp(pl_strerror(codes[i]), "unknown system error") != 0);
		for (size_t j = 0; j < i; j++) {
			ASSERT(codes[i] != codes[j]);
			ASSERT(strcmp(pl_strerror(codes[i]), pl_strerror(codes[j])) != 0);
		}
	}
}

/* The codecs' codes are in the one space, and their errors come out of the real decoders. */
static void test_codec_codes(void)
{
	ASSERT_EQ(PL_EIO_EBADPACKET, PL_EBADPACKET);
	struct pl_eio_packet ep;
	ASSERT_EQ(pl_eio_decode_text("9", 1, &ep), PL_EIO_EBADPACKET);
	ASSERT_STR_EQ(pl_strerror(PL_EIO_EBADPACKET), "malformed packet");

	/* contiguous, so that a range check recognises a decoder error */
	ASSERT_EQ(PL_SIO_EBADTYPE - PL_SIO_EAUTHSIZE, 7);
	for (int e = PL_SIO_EAUTHSIZE; e <= PL_SIO_EBADTYPE; e++) {
		ASSERT(e < -PL_ERROR_BASE);
		ASSERT_STR_EQ(pl_sio_strerror(e), pl_strerror(e));
	}
	ASSERT_STR_EQ(pl_sio_strerror(-ENOMEM), "unknown error");
	ASSERT_STR_EQ(pl_sio_strerror(PL_EBADPACKET), "unknown error");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EBADTYPE + 1), "unknown error");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EAUTHSIZE - 1), "unknown error");

	struct pl_sio_packet sp;
	ASSERT_EQ(pl_sio_decode("7", 1, &sp), PL_SIO_EBADTYPE);
	ASSERT_STR_EQ(pl_strerror(PL_SIO_EBADTYPE), "unknown packet type");
	ASSERT_EQ(pl_sio_decode("2[1,", 4, &sp), PL_SIO_EBADJSON);
	ASSERT_STR_EQ(pl_strerror(PL_SIO_EBADJSON), "invalid JSON payload");
}

TEST_MAIN(TEST(test_errno_values), TEST(test_parley_codes), TEST(test_codec_codes))
