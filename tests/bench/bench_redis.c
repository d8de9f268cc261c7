/*
 * Samples the Redis of a cluster for parley-bench's --redis-port: one short blocking connection
 * to 127.0.0.1:PORT that sends INFO cpu and INFO commandstats in RESP and reads the two bulk
 * replies. The scenario takes a sample at each end of the measured interval, next to the
 * servers' /proc samples, and reports the difference per message: Redis's CPU, the commands it
 * ran and the PUBLISHes among them. A sample takes well under a millisecond on loopback, outside
 * the interval's timestamps, so blocking the loop for it costs the measurement nothing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"

#define INFO_MAX (1u << 20) /* bytes of INFO replies read at most */

static const char request[] = "*2\r\n$4\r\nINFO\r\n$3\r\ncpu\r\n"
			      "*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n";

/* Counts the complete bulk replies ("$<len>\r\n<len bytes>\r\n") at the start of buf. */
static int bulk_replies(const char *buf, size_t len)
{
	size_t off = 0;
	int n = 0;

	while (off < len && buf[off] == '$') {
		char *end;
		unsigned long blen = strtoul(buf + off + 1, &end, 10);
		const char *nl = memchr(buf + off, '\n', len - off);

		if (!nl || end > nl)
			break;
		off = (size_t)(nl - buf) + 1 + blen + 2;
		if (off > len)
			break;
		n++;
	}
	return n;
}

/* Reads "name:<value>" from the INFO text, as a double; 0 when it is missing. */
static double info_field(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p = text;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ':')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return 0;
}

/* Sums the calls of the commandstats lines ("cmdstat_<name>:calls=N,..."), INFO left out. */
static void count_commands(const char *text, struct bench_redis *r)
{
	const char *p = text;

	while ((p = strstr(p, "cmdstat_")) != NULL) {
		const char *name = p + 8, *colon = strchr(name, ':');
		unsigned long long calls;

		p = name;
		if (!colon || strncmp(colon + 1, "calls=", 6) != 0)
			continue;
		calls = strtoull(colon + 7, NULL, 10);
		if ((size_t)(colon - name) == 4 && strncmp(name, "info", 4) == 0)
			continue;
		if ((size_t)(colon - name) == 7 && strncmp(name, "publish", 7) == 0)
			r->publish += calls;
		r->commands += calls;
	}
}

/*
 * Samples the Redis listening on 127.0.0.1:port: its CPU time (used_cpu_sys + used_cpu_user)
 * and the calls of its commands. Returns a sample with ok false when it cannot be read (after
 * 2 s at most).
 */
struct bench_redis bench_redis_sample(int port)
{
	struct bench_redis r = {0};
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 2};
	size_t len = 0;
	char *buf = NULL;
	int fd;

	if (port <= 0)
		return r;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return r;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (const struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, request, sizeof(request) - 1) != (ssize_t)(sizeof(request) - 1))
		goto close_fd;
	buf = malloc(INFO_MAX + 1);
	if (!buf)
		goto close_fd;
	while (bulk_replies(buf, len) < 2 && len < INFO_MAX) {
		ssize_t n = read(fd, buf + len, INFO_MAX - len);

		if (n <= 0)
			goto free_buf;
		len += (size_t)n;
	}
	buf[len] = '\0';
	r.cpu_us =
	    (uint64_t)((info_field(buf, "used_cpu_sys") + info_field(buf, "used_cpu_user")) * 1e6);
	count_commands(buf, &r);
	r.ok = bulk_replies(buf, len) == 2;
free_buf:
	free(buf);
close_fd:
	close(fd);
	return r;
}
