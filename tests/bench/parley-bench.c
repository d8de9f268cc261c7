/*
 * parley-bench: a load generator for Socket.IO servers (Engine.IO v4 + Socket.IO v5), in the
 * spirit of redis-benchmark. It drives Parley and the reference Node.js server alike, over
 * WebSocket (and long-polling for one scenario), and prints one JSON line per run on stdout and
 * a short summary on stderr. This file holds the command line, the loopback guard, the latency
 * histogram and the /proc sampling of the servers (several nodes of a cluster are given as
 * lists); bench_conn.c speaks the protocol, bench_scenarios.c runs the scenarios, bench_history.c
 * holds the two that measure Parley's chat history (store, replay), and bench_redis.c samples a
 * cluster's Redis. See README.md beside it.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

struct bench bench;

static const char *const scenario_names[] = {"idle",  "fanout",	 "rooms", "echo",
					     "churn", "polling", "store", "replay"};

/* Writes one line to stderr, prefixed with the tool's name. */
void bench_log(const char *fmt, ...)
{
	va_list ap;

	fputs("parley-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static unsigned hist_index(uint64_t v)
{
	unsigned b, shift, i;

	if (v < 64)
		return (unsigned)v;
	b = 63u - (unsigned)__builtin_clzll(v);
	shift = b - 5;
	i = shift * 32 + (unsigned)(v >> shift);
	return i < BENCH_HIST_BUCKETS ? i : BENCH_HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned i)
{
	unsigned shift;

	if (i < 64)
		return i;
	shift = i / 32 - 1;
	/* Middle of the bucket. */
	return ((uint64_t)(i - shift * 32) << shift) + (((uint64_t)1 << shift) >> 1);
}

/* Records one latency sample in nanoseconds. */
void bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->bucket[hist_index(ns)]++;
	h->count++;
	h->sum += ns;
	if (ns > h->max)
		h->max = ns;
}

/* Returns the pct-th percentile (0..100) in nanoseconds, within about 3 %; 0 when empty. */
uint64_t bench_hist_pct(const struct bench_hist *h, double pct)
{
	uint64_t want, seen = 0;
	unsigned i;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(pct / 100.0 * (double)h->count + 0.5);
	if (want < 1)
		want = 1;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/*
 * Samples a process's CPU time (utime + stime of /proc/PID/stat, all threads) and resident set
 * (VmRSS of /proc/PID/status). Returns a sample with ok false when pid is 0 or unreadable.
 */
struct bench_proc bench_proc_sample(int pid)
{
	struct bench_proc p = {0};
	char path[64], buf[4096], *s;
	unsigned long long ut = 0, st = 0;
	long tck = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	if (pid <= 0)
		return p;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return p;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	s = strrchr(buf, ')');
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (!s ||
	    sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return p;
	if (tck <= 0)
		tck = 100;
	p.cpu_us = (uint64_t)(ut + st) * 1000000ull / (uint64_t)tck;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return p;
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "VmRSS:", 6) == 0) {
			p.rss_kb = strtoull(buf + 6, NULL, 10);
			p.ok = true;
			break;
		}
	}
	fclose(f);
	return p;
}

/*
 * Samples every --server-pid and sums their CPU time and resident sets: the servers of a cluster
 * count as one. Returns a sample with ok false when there is none or one was unreadable.
 */
struct bench_proc bench_servers_sample(void)
{
	struct bench_proc sum = {.ok = bench.o.npids > 0};
	uint32_t i;

	for (i = 0; i < bench.o.npids; i++) {
		struct bench_proc p = bench_proc_sample(bench.o.pids[i]);

		sum.ok = sum.ok && p.ok;
		sum.cpu_us += p.cpu_us;
		sum.rss_kb += p.rss_kb;
	}
	return sum;
}

/* Returns this process's own CPU time (user + system) in microseconds. */
uint64_t bench_self_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void usage(FILE *f)
{
	fputs("usage: parley-bench SCENARIO [options]\n"
	      "scenarios: idle fanout rooms echo churn polling store replay\n"
	      "  --host ADDR        server address, loopback only (127.0.0.1)\n"
	      "  --port N[,N...]    server port (3000); several: clients go to each in turn\n"
	      "  --clients N        connections; churn: concurrent slots\n"
	      "  --senders N        fanout/polling: sending clients; rooms: senders per room\n"
	      "  --rate R           messages (churn: connections) per second in total; 0 = max\n"
	      "  --window N         messages in flight at most (echo, store: per client)\n"
	      "  --duration S       seconds of measured traffic\n"
	      "  --room-size N      rooms: members per room (10); store: (1)\n"
	      "  --rooms N          replay: rooms r0..r<N-1> in the server's database (1000)\n"
	      "  --msg-size N       bytes of padding in each message (0)\n"
	      "  --concurrency N    connection handshakes in flight at most (200)\n"
	      "  --ramp-step N      report the ramp's connections/s per N connections\n"
	      "  --sources N        connect from N source addresses 127.0.0.2.. (at most 250)\n"
	      "  --server-pid PID[,PID...]  sample the servers' CPU and RSS in /proc (summed)\n"
	      "  --redis-port N     sample the cluster's Redis on 127.0.0.1:N with INFO\n"
	      "  --no-login         fanout/polling: skip the login phase\n"
	      "  --no-history       store: the server stores nothing (acks say stored:false)\n"
	      "  --label NAME       name printed as \"scenario\" in the JSON line\n",
	      f);
}

static int parse_scenario(const char *s)
{
	int i;

	for (i = 0; i < (int)(sizeof(scenario_names) / sizeof(scenario_names[0])); i++)
		if (strcmp(s, scenario_names[i]) == 0)
			return i;
	return -1;
}

static void set_defaults(struct bench_opts *o)
{
	static const uint32_t clients[] = {1000, 1000, 1000, 100, 50, 100, 64, 50};
	static const uint32_t windows[] = {1, 16, 256, 1, 1, 16, 16, 1};

	if (o->clients == 0)
		o->clients = clients[o->scenario];
	if (o->window == 0)
		o->window = windows[o->scenario];
	if (o->senders == 0)
		o->senders = 1;
	if (o->duration <= 0)
		o->duration = 5;
	if (o->room_size == 0)
		o->room_size = o->scenario == BENCH_STORE ? 1 : 10;
	if (o->rooms == 0)
		o->rooms = 1000;
	if (o->concurrency == 0)
		o->concurrency = 200;
	if (!o->label)
		o->label = scenario_names[o->scenario];
	if (o->window > BENCH_RING / 2)
		o->window = BENCH_RING / 2;
	if (o->senders > o->clients)
		o->senders = o->clients;
}

/*
 * Parses a comma-separated list of at most BENCH_NODES numbers, each 1..max, into out;
 * returns how many. Exits with status 2 if it is bad.
 */
static uint32_t list_arg(const char *name, const char *v, long max, int *out)
{
	uint32_t n = 0;
	char *end;

	for (;;) {
		long x = strtol(v, &end, 10);

		if (end == v || x <= 0 || x > max || n == BENCH_NODES ||
		    (*end != ',' && *end != '\0')) {
			bench_log(
			    "bad value for --%s (at most %d numbers of 1..%ld, comma-separated): "
			    "%s",
			    name, BENCH_NODES, max, v);
			exit(2);
		}
		out[n++] = (int)x;
		if (*end == '\0')
			return n;
		v = end + 1;
	}
}

static int raise_nofile(uint32_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return -1;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		bench_log("need %u file descriptors, the limit is %llu", need,
			  (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

static double num_arg(const char *name, const char *v)
{
	char *end;
	double d = strtod(v, &end);

	if (*v == '\0' || *end != '\0' || d < 0) {
		bench_log("bad value for --%s: %s", name, v);
		exit(2);
	}
	return d;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"host", required_argument, NULL, 'h'},
						 {"port", required_argument, NULL, 'p'},
						 {"clients", required_argument, NULL, 'c'},
						 {"senders", required_argument, NULL, 's'},
						 {"rate", required_argument, NULL, 'r'},
						 {"window", required_argument, NULL, 'w'},
						 {"duration", required_argument, NULL, 'd'},
						 {"room-size", required_argument, NULL, 'R'},
						 {"msg-size", required_argument, NULL, 'm'},
						 {"concurrency", required_argument, NULL, 'C'},
						 {"ramp-step", required_argument, NULL, 'S'},
						 {"sources", required_argument, NULL, 'A'},
						 {"server-pid", required_argument, NULL, 'P'},
						 {"redis-port", required_argument, NULL, 'D'},
						 {"rooms", required_argument, NULL, 'O'},
						 {"no-login", no_argument, NULL, 'L'},
						 {"no-history", no_argument, NULL, 'N'},
						 {"label", required_argument, NULL, 'l'},
						 {"help", no_argument, NULL, 'H'},
						 {NULL, 0, NULL, 0}};
	struct bench_opts *o = &bench.o;
	const char *host = "127.0.0.1";
	uint32_t i, per_client;
	int opt, rc;

	o->ports[0] = 3000;
	o->nports = 1;
	o->login = true;
	o->history = true;
	o->rate = 0;
	o->scenario = -1;
	while ((opt = getopt_long(argc, argv, "c:d:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': o->nports = list_arg("port", optarg, 65535, o->ports); break;
		case 'c': o->clients = (uint32_t)num_arg("clients", optarg); break;
		case 's': o->senders = (uint32_t)num_arg("senders", optarg); break;
		case 'r': o->rate = num_arg("rate", optarg); break;
		case 'w': o->window = (uint32_t)num_arg("window", optarg); break;
		case 'd': o->duration = num_arg("duration", optarg); break;
		case 'R': o->room_size = (uint32_t)num_arg("room-size", optarg); break;
		case 'm': o->msg_size = (uint32_t)num_arg("msg-size", optarg); break;
		case 'C': o->concurrency = (uint32_t)num_arg("concurrency", optarg); break;
		case 'S': o->ramp_step = (uint32_t)num_arg("ramp-step", optarg); break;
		case 'A': o->sources = (uint32_t)num_arg("sources", optarg); break;
		case 'P': o->npids = list_arg("server-pid", optarg, INT32_MAX, o->pids); break;
		case 'D': o->redis_port = (int)num_arg("redis-port", optarg); break;
		case 'O': o->rooms = (uint32_t)num_arg("rooms", optarg); break;
		case 'L': o->login = false; break;
		case 'N': o->history = false; break;
		case 'l': o->label = optarg; break;
		case 'H': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || (o->scenario = parse_scenario(argv[optind])) < 0) {
		usage(stderr);
		return 2;
	}
	set_defaults(o);
	if (o->sources > 250) {
		bench_log("--sources must be at most 250");
		return 2;
	}
	if (o->msg_size > 60000 || o->redis_port > 65535) {
		bench_log("--msg-size must be at most 60000 and --redis-port 1..65535");
		return 2;
	}
	/* a chat's ack id picks its slot in a ring of BENCH_RING: in flight, none may share one */
	if (o->scenario == BENCH_STORE && (uint64_t)o->clients * o->window > BENCH_RING / 2) {
		bench_log("store: --clients x --window must be at most %u", BENCH_RING / 2);
		return 2;
	}
	if (o->scenario == BENCH_REPLAY && o->clients > o->rooms) {
		bench_log("replay: each client needs rooms of its own: --clients at most --rooms");
		return 2;
	}
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	bench.addrs[0].sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &bench.addrs[0].sin_addr) != 1 ||
	    (ntohl(bench.addrs[0].sin_addr.s_addr) >> 24) != 127) {
		bench_log("refusing %s: parley-bench only targets IPv4 loopback (127.0.0.0/8)",
			  host);
		return 2;
	}
	o->host = host;
	for (i = 0; i < o->nports; i++) {
		bench.addrs[i] = bench.addrs[0];
		bench.addrs[i].sin_port = htons((uint16_t)o->ports[i]);
		snprintf(bench.hostports[i], sizeof(bench.hostports[i]), "%s:%d", host,
			 o->ports[i]);
	}
	per_client = o->scenario == BENCH_POLLING ? 2 : 1;
	if (raise_nofile(o->clients * per_client + 64) < 0)
		return 2;
	bench.clients = calloc(o->clients, sizeof(*bench.clients));
	if (!bench.clients) {
		bench_log("out of memory");
		return 1;
	}
	for (i = 0; i < o->clients; i++) {
		bench.clients[i].id = i;
		bench.clients[i].node = i % o->nports;
		bench.clients[i].polling = o->scenario == BENCH_POLLING;
	}
	bench.loop = uv_default_loop();
	rc = bench_scenario_run();
	for (i = o->clients; i-- > 0;)
		bench_conn_free_buffers(&bench.clients[i]);
	free(bench.clients);
	if (uv_loop_close(bench.loop) != 0)
		bench_log("loop still had handles at exit");
	return rc;
}
