/*
 * Descriptions of error codes (see error.h). The errno texts are a fixed table of Parley's own
 * wording (libuv's, mostly) rather than strerror(): static strings, safe from any thread, and the
 * same on every C library.
 */
#include "error.h"

#include <errno.h>
#include <stddef.h>

static const char *const errno_text[] = {
    [E2BIG] = "argument list too long",
    [EACCES] = "permission denied",
    [EADDRINUSE] = "address already in use",
    [EADDRNOTAVAIL] = "address not available",
    [EAFNOSUPPORT] = "address family not supported",
    [EAGAIN] = "resource temporarily unavailable",
    [EALREADY] = "connection already in progress",
    [EBADF] = "bad file descriptor",
    [EBUSY] = "resource busy or locked",
    [ECANCELED] = "operation canceled",
    [ECONNABORTED] = "software caused connection abort",
    [ECONNREFUSED] = "connection refused",
    [ECONNRESET] = "connection reset by peer",
    [EDOM] = "argument out of domain",
    [EEXIST] = "already exists",
    [EFAULT] = "bad address",
    [EFBIG] = "file too large",
    [EHOSTUNREACH] = "host is unreachable",
    [EILSEQ] = "illegal byte sequence",
    [EINTR] = "interrupted system call",
    [EINVAL] = "invalid argument",
    [EIO] = "i/o error",
    [EISCONN] = "socket is already connected",
    [EISDIR] = "illegal operation on a directory",
    [ELOOP] = "too many symbolic links encountered",
    [EMFILE] = "too many open files",
    [EMSGSIZE] = "message too long",
    [ENAMETOOLONG] = "name too long",
    [ENETDOWN] = "network is down",
    [ENETUNREACH] = "network is unreachable",
    [ENFILE] = "file table overflow",
    [ENOBUFS] = "no buffer space available",
    [ENODEV] = "no such device",
    [ENOENT] = "no such file or directory",
    [ENOMEM] = "out of memory",
    [ENOSPC] = "no space left on device",
    [ENOSYS] = "function not implemented",
    [ENOTCONN] = "socket is not connected",
    [ENOTDIR] = "not a directory",
    [ENOTEMPTY] = "directory not empty",
    [ENOTSOCK] = "socket operation on non-socket",
    [ENOTSUP] = "operation not supported",
    [ENXIO] = "no such device or address",
    [EOVERFLOW] = "value too large for defined data type",
    [EPERM] = "operation not permitted",
    [EPIPE] = "broken pipe",
    [EPROTO] = "protocol error",
    [ERANGE] = "result too large",
    [EROFS] = "read-only file system",
    [ESHUTDOWN] = "cannot send after transport endpoint shutdown",
    [ESPIPE] = "invalid seek",
    [ESRCH] = "no such process",
    [ETIMEDOUT] = "connection timed out",
    [ETXTBSY] = "text file is busy",
    [EXDEV] = "cross-device link not permitted",
};

_Static_assert(sizeof errno_text / sizeof *errno_text < PL_ERROR_BASE,
	       "errno values must stay below Parley's codes");

const char *pl_strerror(int err)
{
	if (err == 0)
		return "success";
	/* no default: -Wswitch then names any code added to enum pl_error without a text */
	switch ((enum pl_error)err) {
	case PL_EBADPACKET: return "malformed packet";
	case PL_ETOOMANYROOMS: return "too many rooms";
	case PL_EROOMNAME: return "invalid room name";
	case PL_ERESERVED: return "that name is reserved";
	case PL_EREFUSED: return "refused by a hook";
	case PL_EVERSION: return "unsupported API version";
	case PL_EIDENTITY: return "userid or name too large";
	/* pl_sio_strerror() repeats these, for the codec to link alone; test_error compares */
	case PL_SIO_EBADTYPE: return "unknown packet type";
	case PL_SIO_EBADATTACH: return "illegal attachments";
	case PL_SIO_EBADNSP: return "namespace too long";
	case PL_SIO_EBADID: return "invalid ack id";
	case PL_SIO_EBADJSON: return "invalid JSON payload";
	case PL_SIO_EBADPAYLOAD: return "invalid payload";
	case PL_SIO_ECOMPLEX: return "payload too deep or of too many values";
	case PL_SIO_EAUTHSIZE: return "auth payload too large";
	case PL_TOKEN_EMALFORMED: return "malformed token";
	case PL_TOKEN_EALG: return "unsupported token algorithm";
	case PL_TOKEN_ESIG: return "bad token signature";
	case PL_TOKEN_EEXPIRED: return "token expired";
	case PL_TOKEN_ENOTYET: return "token not valid yet";
	case PL_TOKEN_ECLAIMS: return "invalid token claims";
	}
	if (err < 0 && err > -PL_ERROR_BASE) {
		size_t e = (size_t)-err;
		if (e < sizeof errno_text / sizeof *errno_text && errno_text[e])
			return errno_text[e];
		return "unknown system error";
	}
	return "unknown error";
}
