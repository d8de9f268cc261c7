/*
 * The client side of Engine.IO v4 for parley-bench: TCP connections on libuv, the HTTP upgrade
 * and RFC 6455 framing (client frames masked), and HTTP/1.1 long-polling with one connection for
 * GETs and one for POSTs, as browsers do. Input is read 64 KiB at a time into one shared buffer
 * and parsed in place; only the unfinished tail of a frame is copied into the connection's own
 * buffer, which is kept, so receiving a message allocates nothing. Engine.IO pings are answered
 * here; Socket.IO packets of a connected client go to bench_on_packet() in bench_scenarios.c.
 */
#define _GNU_SOURCE /* memmem() */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"

static char *rbuf;		 /* shared read buffer: pending tail + one read */
static size_t rbuf_cap;		 /* bytes allocated in rbuf */
static struct bench_buf scratch; /* frame and request assembly */
static uint64_t rng_state;	 /* xorshift64 state for masking keys and WebSocket keys */

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	if (x == 0)
		x = uv_hrtime() | 1;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static int buf_reserve(struct bench_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->cap >= need)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return UV_ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int buf_append(struct bench_buf *b, const char *p, size_t len)
{
	if (buf_reserve(b, b->len + len) < 0)
		return UV_ENOMEM;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

static void buf_free(struct bench_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void client_closed_handle(uv_handle_t *h);
static void client_fail(struct bench_client *cl);
static void client_gone(struct bench_client *cl);
static int conn_open(struct bench_conn *c);
static int post_flush(struct bench_client *cl);

static void conn_close(struct bench_conn *c)
{
	if (!c->open || uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	uv_close((uv_handle_t *)&c->tcp, client_closed_handle);
}

static void write_cb(uv_write_t *req, int status);

static int flush_out(struct bench_conn *c)
{
	struct bench_buf tmp;
	uv_buf_t b;
	int rc;

	if (c->writing || c->out.len == 0 || !c->connected)
		return 0;
	tmp = c->wbuf;
	c->wbuf = c->out;
	c->out = tmp;
	c->out.len = 0;
	b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
	rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (rc < 0)
		return rc;
	c->writing = true;
	return 0;
}

static void write_cb(uv_write_t *req, int status)
{
	struct bench_conn *c = req->handle->data;

	c->writing = false;
	c->wbuf.len = 0;
	if (status < 0) {
		if (status != UV_ECANCELED)
			client_fail(c->cl);
		return;
	}
	if (flush_out(c) < 0)
		client_fail(c->cl);
}

/* Writes at once when nothing is queued, else appends to the connection's output buffer. */
static int conn_write(struct bench_conn *c, const char *p, size_t len)
{
	if (c->connected && !c->writing && c->out.len == 0) {
		uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
		int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);

		if (n == (int)len)
			return 0;
		if (n < 0 && n != UV_EAGAIN)
			return n;
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	if (buf_append(&c->out, p, len) < 0)
		return UV_ENOMEM;
	return flush_out(c);
}

static int ws_send(struct bench_conn *c, int opcode, const char *p, size_t len)
{
	unsigned char *f;
	size_t hdr = 2, i;
	uint32_t key = (uint32_t)rng_next();
	unsigned char k[4];

	if (buf_reserve(&scratch, len + 14) < 0)
		return UV_ENOMEM;
	f = (unsigned char *)scratch.data;
	f[0] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		f[1] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		f[1] = 0x80 | 126;
		f[2] = (unsigned char)(len >> 8);
		f[3] = (unsigned char)len;
		hdr = 4;
	} else {
		f[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			f[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hdr = 10;
	}
	memcpy(k, &key, 4);
	memcpy(f + hdr, k, 4);
	hdr += 4;
	for (i = 0; i < len; i++)
		f[hdr + i] = (unsigned char)p[i] ^ k[i & 3];
	return conn_write(c, scratch.data, hdr + len);
}

static const char *nsp_connect(size_t *len)
{
	if (bench.o.scenario == BENCH_ROOMS) {
		*len = 8;
		return "40/chat,";
	}
	*len = 2;
	return "40";
}

static void parse_sid(struct bench_client *cl, const char *p, size_t len)
{
	const char *s = memmem(p, len, "\"sid\":\"", 7);
	const char *e;

	cl->sid_len = 0;
	if (!s)
		return;
	s += 7;
	e = memchr(s, '"', len - (size_t)(s - p));
	if (!e || (size_t)(e - s) >= sizeof(cl->sid))
		return;
	memcpy(cl->sid, s, (size_t)(e - s));
	cl->sid_len = (uint8_t)(e - s);
}

static void become_ready(struct bench_client *cl, uint64_t now)
{
	cl->state = BENCH_CL_READY;
	bench.opening--;
	bench.ready++;
	bench.ever_ready++;
	bench_on_ready(cl, now);
}

/* Handles one Engine.IO packet from the server, whatever the transport. */
static void eio_packet(struct bench_client *cl, const char *p, size_t len, uint64_t now)
{
	const char *req;
	size_t rlen;

	if (len == 0 || cl->state == BENCH_CL_DEAD || cl->state == BENCH_CL_CLOSING)
		return;
	bench.frames++;
	switch (p[0]) {
	case '0':
		if (cl->state != BENCH_CL_OPENING)
			return;
		if (cl->polling) {
			parse_sid(cl, p, len);
			if (cl->sid_len == 0) {
				client_fail(cl);
				return;
			}
		}
		cl->state = BENCH_CL_NSP_WAIT;
		req = nsp_connect(&rlen);
		if (bench_client_send(cl, req, rlen) < 0)
			client_fail(cl);
		return;
	case '2':
		bench.pings++;
		if (bench_client_send(cl, "3", 1) < 0)
			client_fail(cl);
		return;
	case '1': client_gone(cl); return;
	case '4':
		if (cl->state == BENCH_CL_NSP_WAIT) {
			if (len >= 2 && p[1] == '0')
				become_ready(cl, now);
			else if (len >= 2 && p[1] == '4')
				client_fail(cl);
			return;
		}
		if (cl->state != BENCH_CL_READY)
			return;
		if (len >= 2 && p[1] == '1') {
			client_gone(cl);
			return;
		}
		bench_on_packet(cl, p + 1, len - 1, now);
		return;
	default: return;
	}
}

/* Parses WebSocket input: the 101 answer first, then whole frames in place. */
static int ws_parse(struct bench_conn *c, char *buf, size_t total, size_t *used, uint64_t now)
{
	struct bench_client *cl = c->cl;
	size_t off = 0;

	*used = 0;
	if (!c->headers_done) {
		char *end = memmem(buf, total, "\r\n\r\n", 4);

		if (!end)
			return total > 16384 ? UV_EPROTO : 0;
		if (total < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0)
			return UV_EPROTO;
		c->headers_done = true;
		off = (size_t)(end + 4 - buf);
	}
	while (c->open && !uv_is_closing((uv_handle_t *)&c->tcp)) {
		unsigned char *f = (unsigned char *)buf + off;
		size_t avail = total - off, hdr = 2, i;
		uint64_t plen;
		int opcode;
		bool fin;
		char *payload;

		if (avail < 2)
			break;
		plen = f[1] & 0x7f;
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = ((uint64_t)f[2] << 8) | f[3];
			hdr = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (i = 0; i < 8; i++)
				plen = (plen << 8) | f[2 + i];
			hdr = 10;
		}
		if (f[1] & 0x80)
			hdr += 4;
		if (plen > BENCH_MAX_FRAME)
			return UV_E2BIG;
		if (avail < hdr + plen)
			break;
		payload = (char *)f + hdr;
		if (f[1] & 0x80) {
			/* Servers must not mask; unmask anyway rather than misread. */
			for (i = 0; i < plen; i++)
				payload[i] ^= (char)f[hdr - 4 + (i & 3)];
		}
		off += hdr + (size_t)plen;
		opcode = f[0] & 0x0f;
		fin = (f[0] & 0x80) != 0;
		switch (opcode) {
		case 0x0:
		case 0x1:
		case 0x2:
			if (!fin || c->frag.len > 0 || opcode == 0) {
				if (buf_append(&c->frag, payload, (size_t)plen) < 0)
					return UV_ENOMEM;
				if (c->frag.len > BENCH_MAX_FRAME)
					return UV_E2BIG;
				if (fin) {
					eio_packet(cl, c->frag.data, c->frag.len, now);
					c->frag.len = 0;
				}
			} else if (opcode == 0x1) {
				eio_packet(cl, payload, (size_t)plen, now);
			} else {
				bench.frames++; /* binary Socket.IO attachment: counted, not used */
			}
			break;
		case 0x8:
			if (cl->state == BENCH_CL_CLOSING) {
				conn_close(c);
			} else {
				ws_send(c, 0x8, payload, plen >= 2 ? 2 : 0);
				client_gone(cl);
			}
			break;
		case 0x9:
			if (ws_send(c, 0xA, payload, (size_t)plen) < 0)
				return UV_EPROTO;
			break;
		default: break;
		}
	}
	*used = off;
	return 0;
}

static int http_request(struct bench_conn *c, const char *method, const char *body, size_t blen)
{
	struct bench_client *cl = c->cl;
	char head[512];
	int n;

	if (cl->sid_len)
		n = snprintf(
		    head, sizeof(head),
		    "%s /socket.io/?EIO=4&transport=polling&sid=%.*s HTTP/1.1\r\nHost: %s\r\n",
		    method, (int)cl->sid_len, cl->sid, bench.hostports[cl->node]);
	else
		n = snprintf(head, sizeof(head),
			     "%s /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: %s\r\n",
			     method, bench.hostports[cl->node]);
	if (body)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n",
			      blen);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	c->busy = true;
	if (conn_write(c, head, (size_t)n) < 0)
		return UV_EIO;
	if (body && conn_write(c, body, blen) < 0)
		return UV_EIO;
	return 0;
}

static int get_next(struct bench_client *cl)
{
	if (cl->state == BENCH_CL_DEAD || cl->state == BENCH_CL_CLOSING || bench.stopping)
		return 0;
	return http_request(&cl->ws, "GET", NULL, 0);
}

static int post_flush(struct bench_client *cl)
{
	struct bench_conn *c = &cl->post;
	int rc;

	if (cl->pq.len == 0 || c->busy)
		return 0;
	if (!c->open)
		return conn_open(c);
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return 0; /* reopened from the close callback */
	rc = http_request(c, "POST", cl->pq.data, cl->pq.len);
	cl->pq.len = 0;
	return rc;
}

static void http_response(struct bench_conn *c, int status, char *body, size_t blen, uint64_t now)
{
	struct bench_client *cl = c->cl;
	size_t start = 0;

	c->busy = false;
	if (status != 200) {
		client_fail(cl);
		return;
	}
	if (c->kind == BENCH_CONN_POST) {
		if (post_flush(cl) < 0)
			client_fail(cl);
		return;
	}
	for (;;) {
		const char *sep = memchr(body + start, '\x1e', blen - start);
		size_t end = sep ? (size_t)(sep - body) : blen;

		eio_packet(cl, body + start, end - start, now);
		if (!sep)
			break;
		start = end + 1;
	}
	if (cl->sid_len && !cl->post.open && cl->state != BENCH_CL_DEAD) {
		if (conn_open(&cl->post) < 0) {
			client_fail(cl);
			return;
		}
	}
	if (get_next(cl) < 0)
		client_fail(cl);
}

/* Decodes a chunked body in place; returns bytes consumed, 0 if incomplete, -1 if bad. */
static long dechunk(char *p, size_t len, size_t *blen)
{
	size_t in = 0, outp = 0;

	for (;;) {
		char *nl = memmem(p + in, len - in, "\r\n", 2);
		size_t sz;

		if (!nl)
			return 0;
		sz = strtoul(p + in, NULL, 16);
		in = (size_t)(nl - p) + 2;
		if (sz == 0) {
			if (len - in < 2)
				return 0;
			if (memcmp(p + in, "\r\n", 2) != 0) {
				char *end = memmem(p + in, len - in, "\r\n\r\n", 4);

				if (!end)
					return 0;
				in = (size_t)(end - p) + 2;
			}
			*blen = outp;
			return (long)(in + 2);
		}
		if (len - in < sz + 2)
			return 0;
		memmove(p + outp, p + in, sz);
		outp += sz;
		in += sz + 2;
	}
}

/* Parses HTTP/1.1 responses on a polling connection. */
static int http_parse(struct bench_conn *c, char *buf, size_t total, size_t *used, uint64_t now)
{
	size_t off = 0;

	*used = 0;
	while (c->open && !uv_is_closing((uv_handle_t *)&c->tcp) && off < total) {
		char *h = buf + off, *end, *line, *body;
		size_t hlen, blen = 0, have;
		long clen = -1;
		bool chunked = false;
		int status;

		end = memmem(h, total - off, "\r\n\r\n", 4);
		if (!end)
			return total - off > 16384 ? UV_EPROTO : 0;
		hlen = (size_t)(end - h) + 4;
		if (hlen < 12 || memcmp(h, "HTTP/1.", 7) != 0)
			return UV_EPROTO;
		status = atoi(h + 9);
		for (line = memchr(h, '\n', hlen); line && line < end;
		     line = memchr(line, '\n', (size_t)(end - line))) {
			line++;
			if (strncasecmp(line, "content-length:", 15) == 0)
				clen = strtol(line + 15, NULL, 10);
			else if (strncasecmp(line, "transfer-encoding:", 18) == 0 &&
				 memmem(line, (size_t)(end - line), "chunked", 7))
				chunked = true;
		}
		body = h + hlen;
		have = total - off - hlen;
		if (chunked) {
			long used_body = dechunk(body, have, &blen);

			if (used_body < 0)
				return UV_EPROTO;
			if (used_body == 0) {
				if (have > BENCH_MAX_FRAME)
					return UV_E2BIG;
				break;
			}
			off += hlen + (size_t)used_body;
		} else {
			if (clen < 0 || clen > (long)BENCH_MAX_FRAME)
				return UV_EPROTO;
			if (have < (size_t)clen)
				break;
			blen = (size_t)clen;
			off += hlen + blen;
		}
		*used = off;
		http_response(c, status, body, blen, now);
	}
	*used = off;
	return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct bench_conn *c = h->data;
	size_t need = c->pend.len + BENCH_READ_SIZE;

	(void)suggested;
	if (rbuf_cap < need) {
		char *p = realloc(rbuf, need);

		if (!p) {
			*b = uv_buf_init(NULL, 0);
			return;
		}
		rbuf = p;
		rbuf_cap = need;
	}
	if (c->pend.len)
		memcpy(rbuf, c->pend.data, c->pend.len);
	*b = uv_buf_init(rbuf + c->pend.len, BENCH_READ_SIZE);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct bench_conn *c = s->data;
	struct bench_client *cl = c->cl;
	size_t total, used = 0, keep;
	int rc;

	(void)b;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (cl->state == BENCH_CL_CLOSING)
			conn_close(c);
		else if (c->kind == BENCH_CONN_POST && !c->busy)
			conn_close(c); /* keep-alive timeout; post_flush() reopens it */
		else if (cl->state == BENCH_CL_READY)
			client_gone(cl);
		else
			client_fail(cl);
		return;
	}
	bench.bytes_in += (uint64_t)nread;
	total = c->pend.len + (size_t)nread;
	if (c->kind == BENCH_CONN_WS)
		rc = ws_parse(c, rbuf, total, &used, uv_hrtime());
	else
		rc = http_parse(c, rbuf, total, &used, uv_hrtime());
	if (rc < 0) {
		client_fail(cl);
		return;
	}
	keep = total - used;
	c->pend.len = 0;
	if (keep && c->open && buf_append(&c->pend, rbuf + used, keep) < 0)
		client_fail(cl);
	bench_on_read_done();
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct bench_conn *c = req->handle->data;
	struct bench_client *cl = c->cl;
	char head[512];
	unsigned char key[16];
	char key64[32];
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t r0 = rng_next(), r1 = rng_next();
	int i, n;

	if (status < 0) {
		if (status != UV_ECANCELED)
			client_fail(cl);
		return;
	}
	c->connected = true;
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0) {
		client_fail(cl);
		return;
	}
	if (c->kind == BENCH_CONN_POST) {
		if (flush_out(c) < 0 || post_flush(cl) < 0)
			client_fail(cl);
		return;
	}
	if (c->kind == BENCH_CONN_GET) {
		if (http_request(c, "GET", NULL, 0) < 0)
			client_fail(cl);
		return;
	}
	memcpy(key, &r0, 8);
	memcpy(key + 8, &r1, 8);
	for (i = 0, n = 0; i < 15; i += 3) {
		uint32_t v = ((uint32_t)key[i] << 16) | ((uint32_t)key[i + 1] << 8) | key[i + 2];

		key64[n++] = b64[(v >> 18) & 63];
		key64[n++] = b64[(v >> 12) & 63];
		key64[n++] = b64[(v >> 6) & 63];
		key64[n++] = b64[v & 63];
	}
	key64[n++] = b64[key[15] >> 2];
	key64[n++] = b64[(key[15] & 3) << 4];
	key64[n++] = '=';
	key64[n++] = '=';
	key64[n] = '\0';
	n = snprintf(head, sizeof(head),
		     "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\n"
		     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n\r\n",
		     bench.hostports[cl->node], key64);
	if (conn_write(c, head, (size_t)n) < 0)
		client_fail(cl);
}

/*
 * --sources: binds the socket to one of 127.0.0.2.. before it connects. The kernel picks an
 * ephemeral port by searching the range for a free (source, destination) pair: from one source
 * address, that search grows with the connections already open (past 10,000 it was most of the
 * load generator's CPU), and the ramp would measure the client's kernel, not the server.
 * IP_BIND_ADDRESS_NO_PORT leaves the port to connect(), which then only avoids that address's
 * own connections.
 */
static int bind_source(struct bench_conn *c)
{
	struct sockaddr_in src = {.sin_family = AF_INET};
	uv_os_fd_t fd;
	int one = 1, rc;

	rc = uv_fileno((uv_handle_t *)&c->tcp, &fd);
	if (rc < 0)
		return rc;
	if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) != 0)
		return -errno;
	src.sin_addr.s_addr = htonl(0x7f000002u + c->cl->id % bench.o.sources);
	return uv_tcp_bind(&c->tcp, (const struct sockaddr *)&src, 0);
}

static int conn_open(struct bench_conn *c)
{
	int rc;

	c->pend.len = 0;
	c->out.len = 0;
	c->wbuf.len = 0;
	c->frag.len = 0;
	c->writing = false;
	c->busy = false;
	c->connected = false;
	c->headers_done = false;
	rc = uv_tcp_init_ex(bench.loop, &c->tcp, AF_INET);
	if (rc < 0)
		return rc;
	c->tcp.data = c;
	c->open = true;
	c->cl->handles++;
	if (bench.o.sources && (rc = bind_source(c)) < 0) {
		conn_close(c);
		return rc;
	}
	rc = uv_tcp_connect(&c->connect_req, &c->tcp,
			    (const struct sockaddr *)&bench.addrs[c->cl->node], connect_cb);
	if (rc < 0) {
		conn_close(c);
		return rc;
	}
	return 0;
}

static void client_closed_handle(uv_handle_t *h)
{
	struct bench_conn *c = h->data;
	struct bench_client *cl = c->cl;

	c->open = false;
	c->connected = false;
	cl->handles--;
	if (cl->state == BENCH_CL_CLOSING || cl->state == BENCH_CL_DEAD) {
		if (cl->handles == 0)
			bench_on_closed(cl, cl->state == BENCH_CL_DEAD);
		return;
	}
	/* Only the POST connection closes while its client lives (keep-alive timeout). */
	if (c->kind == BENCH_CONN_POST && cl->pq.len > 0 && post_flush(cl) < 0)
		client_fail(cl);
}

static void client_kill(struct bench_client *cl, bool failed)
{
	if (cl->state == BENCH_CL_DEAD || cl->state == BENCH_CL_CLOSING)
		return;
	if (cl->state == BENCH_CL_OPENING || cl->state == BENCH_CL_NSP_WAIT) {
		bench.opening--;
		if (failed)
			bench.failed++;
	} else if (cl->state == BENCH_CL_READY) {
		bench.ready--;
		if (!bench.stopping)
			bench.server_closed++;
	}
	cl->state = BENCH_CL_DEAD;
	if (cl->handles == 0) {
		bench_on_closed(cl, true);
		return;
	}
	conn_close(&cl->ws);
	conn_close(&cl->post);
}

static void client_fail(struct bench_client *cl)
{
	client_kill(cl, true);
}

static void client_gone(struct bench_client *cl)
{
	client_kill(cl, false);
}

/*
 * Starts a new Socket.IO connection on an idle client slot: TCP connect, then the WebSocket
 * upgrade (or the polling handshake), Engine.IO open and the namespace CONNECT. Returns 0 or a
 * negative libuv error; bench_on_ready() or bench_on_closed() follows.
 */
int bench_client_start(struct bench_client *cl)
{
	int rc;

	cl->state = BENCH_CL_OPENING;
	cl->t_start = uv_hrtime();
	cl->sid_len = 0;
	cl->pq.len = 0;
	cl->acks_out = 0;
	cl->joined = false;
	cl->ws.cl = cl;
	cl->post.cl = cl;
	cl->ws.kind = cl->polling ? BENCH_CONN_GET : BENCH_CONN_WS;
	cl->post.kind = BENCH_CONN_POST;
	bench.opening++;
	rc = conn_open(&cl->ws);
	if (rc < 0)
		client_fail(cl);
	return rc;
}

/*
 * Sends one Engine.IO packet (type character included, e.g. "42[...]"): one masked text frame
 * on a WebSocket, or queued for the next POST on polling. The bytes are copied. Returns 0 or a
 * negative libuv error.
 */
int bench_client_send(struct bench_client *cl, const char *pkt, size_t len)
{
	if (!cl->polling)
		return ws_send(&cl->ws, 0x1, pkt, len);
	if (cl->pq.len && buf_append(&cl->pq, "\x1e", 1) < 0)
		return UV_ENOMEM;
	if (buf_append(&cl->pq, pkt, len) < 0)
		return UV_ENOMEM;
	return post_flush(cl);
}

/*
 * Closes a client. A polite close sends the Socket.IO DISCONNECT and a WebSocket close frame,
 * shuts the write side and waits for the server to close; otherwise the sockets close at once.
 * bench_on_closed() is called once every handle is closed.
 */
void bench_client_close(struct bench_client *cl, bool polite)
{
	if (cl->state == BENCH_CL_DEAD || cl->state == BENCH_CL_CLOSING) {
		if (!polite) {
			conn_close(&cl->ws);
			conn_close(&cl->post);
		}
		return;
	}
	if (cl->state == BENCH_CL_READY)
		bench.ready--;
	else if (cl->state != BENCH_CL_IDLE)
		bench.opening--;
	cl->state = BENCH_CL_CLOSING;
	if (cl->handles == 0) {
		bench_on_closed(cl, false);
		return;
	}
	if (polite && !cl->polling && cl->ws.connected && cl->ws.headers_done) {
		static const char bye[] = {0x03, (char)0xE8};
		size_t nlen;
		const char *nsp = nsp_connect(&nlen);
		char dis[16];

		memcpy(dis, nsp, nlen);
		dis[1] = '1';
		if (ws_send(&cl->ws, 0x1, dis, nlen) == 0 && ws_send(&cl->ws, 0x8, bye, 2) == 0 &&
		    uv_shutdown(&cl->ws.shutdown_req, (uv_stream_t *)&cl->ws.tcp, NULL) == 0)
			return;
	}
	conn_close(&cl->ws);
	conn_close(&cl->post);
}

/* Frees the buffers a client slot keeps between connections; its handles must be closed. */
void bench_conn_free_buffers(struct bench_client *cl)
{
	struct bench_conn *cs[2] = {&cl->ws, &cl->post};
	int i;

	for (i = 0; i < 2; i++) {
		buf_free(&cs[i]->pend);
		buf_free(&cs[i]->out);
		buf_free(&cs[i]->wbuf);
		buf_free(&cs[i]->frag);
	}
	buf_free(&cl->pq);
	if (cl->id == 0) {
		buf_free(&scratch);
		free(rbuf);
		rbuf = NULL;
		rbuf_cap = 0;
	}
}
