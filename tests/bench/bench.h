/*
 * Shared declarations of parley-bench, the Socket.IO load generator. The tool is four parts:
 * parley-bench.c (options, /proc sampling, latency histogram, the JSON report), bench_conn.c
 * (the client side of Engine.IO v4 over WebSocket and HTTP long-polling, parsing frames in place
 * from one shared 64 KiB read buffer), bench_scenarios.c (the phases of a run, what each
 * scenario sends, counts and measures) and bench_history.c (the scenarios of Parley's chat
 * history, run through bench_scenarios.c's phases); bench_redis.c samples a cluster's Redis.
 * Everything runs on one libuv loop in one thread, so the global state below is reached without
 * locks.
 */
#ifndef PARLEY_BENCH_H
#define PARLEY_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define BENCH_READ_SIZE	   65536      /* bytes asked of the kernel per read */
#define BENCH_MAX_FRAME	   (4u << 20) /* larger server frames or bodies close the connection */
#define BENCH_RING	   65536      /* in-flight message slots, a power of two */
#define BENCH_HIST_BUCKETS 1280	      /* log-linear latency buckets, about 3 % wide */
#define BENCH_NODES	   16	      /* --port and --server-pid list this many at most */

enum bench_scenario {
	BENCH_IDLE,    /* hold N connections with heartbeats, measure RSS per connection */
	BENCH_FANOUT,  /* login, then chat broadcast from senders to everyone else on "/" */
	BENCH_ROOMS,   /* "/chat" namespace, many small rooms with traffic in each */
	BENCH_ECHO,    /* request/response: an "echo" event answered by an ack */
	BENCH_CHURN,   /* connect, log in, close, again */
	BENCH_POLLING, /* fanout traffic with every client on HTTP long-polling */
	BENCH_STORE,   /* Parley: acknowledged chat, each message committed to the history */
	BENCH_REPLAY   /* Parley: join/leave cycles, each join replaying stored messages */
};

enum bench_conn_kind {
	BENCH_CONN_WS,	/* a WebSocket connection */
	BENCH_CONN_GET, /* polling: the connection carrying long GETs */
	BENCH_CONN_POST /* polling: the connection carrying POSTs */
};

enum bench_client_state {
	BENCH_CL_IDLE,	   /* not started, or closed and waiting for a restart */
	BENCH_CL_OPENING,  /* TCP connect, HTTP upgrade or handshake, Engine.IO open */
	BENCH_CL_NSP_WAIT, /* Socket.IO CONNECT sent, waiting for its answer */
	BENCH_CL_READY,	   /* connected to the namespace */
	BENCH_CL_CLOSING,  /* we are closing it */
	BENCH_CL_DEAD	   /* failed or closed by the server; not restarted */
};

/* Growable byte buffer; kept for the life of its owner so steady state does not allocate. */
struct bench_buf {
	char *data; /* heap bytes, or NULL while empty */
	size_t len; /* bytes in use */
	size_t cap; /* bytes allocated */
};

struct bench_client;

/* One TCP connection with its partial-input and output buffers. */
struct bench_conn {
	uv_tcp_t tcp;		    /* the socket handle; data points back to this struct */
	uv_connect_t connect_req;   /* the pending connect */
	uv_write_t write_req;	    /* the one write in flight, if writing */
	uv_shutdown_t shutdown_req; /* used when closing politely */
	struct bench_client *cl;    /* owner */
	uint8_t kind;		    /* enum bench_conn_kind */
	bool open;		    /* handle initialised and not yet closed */
	bool connected;		    /* TCP connect completed */
	bool headers_done;	    /* WebSocket: 101 answer read */
	bool writing;		    /* write_req is in flight with wbuf */
	bool busy;		    /* polling: a request is waiting for its response */
	struct bench_buf pend;	    /* unparsed input kept between reads (partial frame) */
	struct bench_buf out;	    /* output waiting for the write in flight to finish */
	struct bench_buf wbuf;	    /* output handed to libuv, valid until the write callback */
	struct bench_buf frag;	    /* WebSocket continuation frames being reassembled (rare) */
};

/* One Socket.IO client: a WebSocket, or a pair of polling connections. */
struct bench_client {
	struct bench_conn ws;	/* WebSocket, or the polling GET connection */
	struct bench_conn post; /* polling only: the POST connection */
	uint32_t id;		/* index in bench.clients */
	uint32_t gen;		/* churn: how many times this slot has connected */
	uint32_t room;		/* rooms: the room index */
	uint32_t node;		/* the server it talks to: index in bench.addrs (id % ports) */
	uint8_t state;		/* enum bench_client_state */
	bool polling;		/* long-polling instead of WebSocket */
	bool sender;		/* emits the measured traffic */
	bool joined;		/* logged in (fanout) or joined its room (rooms) */
	uint8_t handles;	/* TCP handles not yet closed */
	uint8_t sid_len;	/* bytes in sid */
	char sid[40];		/* polling: Engine.IO session id */
	uint32_t acks_out;	/* echo, store: acks awaited; replay: 1 in a cycle */
	uint32_t next_ack;	/* echo: next ack id; replay: cycles started */
	uint32_t replayed;	/* replay: history events received since the last join */
	uint64_t t_start;	/* uv_hrtime() when this connection attempt began */
	uint64_t t_sent;	/* replay: uv_hrtime() when the cycle in flight was sent */
	struct bench_buf pq;	/* polling: packets queued for the next POST */
};

/* Command-line options. */
struct bench_opts {
	int scenario;		/* enum bench_scenario */
	const char *host;	/* server address, loopback only */
	int ports[BENCH_NODES]; /* server ports: clients go to them in turn (id % nports) */
	uint32_t nports;	/* entries in ports, at least 1 */
	uint32_t clients;	/* connections (or concurrent churn slots) */
	uint32_t senders;	/* clients sending measured traffic */
	double rate;		/* messages (or churn cycles) per second in total; 0 = max */
	uint32_t window;	/* messages in flight at most (per client for echo) */
	double duration;	/* seconds of measured traffic */
	uint32_t room_size;	/* rooms: members per room */
	uint32_t msg_size;	/* bytes of padding appended to each message text */
	uint32_t concurrency;	/* connection attempts in flight at most */
	uint32_t ramp_step;	/* report the accept rate per this many connections (0: off) */
	uint32_t sources;	/* loopback source addresses to spread connections over (0: one) */
	int pids[BENCH_NODES];	/* the servers sampled in /proc, their figures summed */
	uint32_t npids;		/* entries in pids; 0: no server figures */
	int redis_port;		/* 0, or a Redis on 127.0.0.1 to sample with INFO */
	uint32_t rooms;		/* replay: rooms r0..r<rooms-1> the database holds */
	bool login;		/* fanout/polling: log every client in first */
	bool history;		/* store: the server stores chat (false: it runs --no-history) */
	const char *label;	/* name printed in the JSON "scenario" field */
};

/* Latency histogram in nanoseconds with log-linear buckets: fixed size, no allocation. */
struct bench_hist {
	uint64_t count;			     /* samples recorded */
	uint64_t max;			     /* largest sample, exact */
	uint64_t sum;			     /* sum of samples, for the mean */
	uint64_t bucket[BENCH_HIST_BUCKETS]; /* sample counts per bucket */
};

/* A JSON line being built: {"key":value,...}. */
struct bench_json {
	char b[4096]; /* the line */
	size_t n;     /* bytes used */
};

/* Redis sample from INFO: its CPU and the commands it ran. */
struct bench_redis {
	bool ok;	   /* the INFO answers were read */
	uint64_t cpu_us;   /* used_cpu_sys + used_cpu_user, in microseconds */
	uint64_t commands; /* calls of every command but INFO (commandstats), scripts' included */
	uint64_t publish;  /* calls of PUBLISH */
};

/* Server resource sample from /proc. */
struct bench_proc {
	bool ok;	 /* the read worked */
	uint64_t cpu_us; /* utime + stime in microseconds */
	uint64_t rss_kb; /* VmRSS in KiB */
};

/* The whole load generator's state. */
struct bench {
	uv_loop_t *loop;		       /* the one loop */
	struct bench_opts o;		       /* options */
	struct sockaddr_in addrs[BENCH_NODES]; /* server addresses, one per --port */
	char hostports[BENCH_NODES][64];       /* "HOST:PORT" for Host headers, the same */
	struct bench_client *clients;	       /* o.clients entries */
	uint32_t opening;	/* connection attempts between connect and namespace answer */
	uint32_t next_start;	/* next client index the ramp starts */
	uint32_t ready;		/* clients currently connected to their namespace */
	uint32_t ever_ready;	/* namespace connections completed in total */
	uint32_t failed;	/* connection attempts that failed */
	uint32_t server_closed; /* ready clients the server dropped */
	bool stopping;		/* shutting down: do not restart anything */
	uint64_t pings;		/* Engine.IO pings answered */
	uint64_t frames;	/* Engine.IO packets received */
	uint64_t bytes_in;	/* bytes read */
	struct bench_hist hist; /* measured latencies */
};

extern struct bench bench;

/* parley-bench.c */
void bench_hist_add(struct bench_hist *h, uint64_t ns);
uint64_t bench_hist_pct(const struct bench_hist *h, double pct);
struct bench_proc bench_proc_sample(int pid);
struct bench_proc bench_servers_sample(void);
uint64_t bench_self_cpu_us(void);
void bench_log(const char *fmt, ...);

/* bench_redis.c */
struct bench_redis bench_redis_sample(int port);

/* bench_conn.c */
int bench_client_start(struct bench_client *cl);
int bench_client_send(struct bench_client *cl, const char *pkt, size_t len);
void bench_client_close(struct bench_client *cl, bool polite);
void bench_conn_free_buffers(struct bench_client *cl);

/* bench_scenarios.c: called by bench_conn.c */
void bench_on_ready(struct bench_client *cl, uint64_t now);
void bench_on_packet(struct bench_client *cl, const char *p, size_t len, uint64_t now);
void bench_on_closed(struct bench_client *cl, bool failed);
void bench_on_read_done(void);

/* bench_scenarios.c: called by bench_history.c */
int bench_emitf(struct bench_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *bench_padding(void);
bool bench_measuring(uint64_t now);
void bench_measured(uint64_t sent, uint64_t now);
void bench_prep_progress(uint64_t now);
void bench_json_add(struct bench_json *j, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* bench_history.c: the store and replay scenarios, called by bench_scenarios.c */
uint64_t bench_history_prep(void);
void bench_history_start(uint64_t now);
void bench_history_packet(struct bench_client *cl, const char *p, size_t len, uint64_t now);
bool bench_history_waiting(void);
bool bench_history_report(struct bench_json *j, double secs, double *count, const char **unit);

/* bench_scenarios.c: called by main */
int bench_scenario_run(void);

#endif
